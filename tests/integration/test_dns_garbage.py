"""Garbage on the DNS ports: the server answers FORMERR (or the like) or stays
silent, never sends a malformed reply, and keeps serving (SPEC 5, 11).

One lab for the whole file; after every batch a normal query must still be
answered over UDP and TCP, the mailsim process must still run, and its stderr
must hold no sanitizer report. Everything is bounded in count and time, and
sent only to the lab's loopback addresses.
"""
import os
import random
import socket
import struct
import time
import unittest

from labtest import Lab, Message, WireError, dns_query, encode_name, recv_exact, udp_exchange

SEED = 20261127


def header(qid=0x4d53, flags=0, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


QTAIL = b"\x00\x01\x00\x01"  # type A, class IN


def sanitizer_lines(lab):
    return [l for l in lab.log_text().splitlines() if "runtime error:" in l or "Sanitizer" in l]


class Garbage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lab = Lab("default.toml")
        cls.lab.start()
        cls.server = cls.lab.addr("NS1")
        cls.port = cls.lab.dns_port
        cls.source = cls.lab.addr("CLIENT1")

    @classmethod
    def tearDownClass(cls):
        cls.lab.stop()  # raises when mailsim exits with anything but 0
        reports = sanitizer_lines(cls.lab)
        assert reports == [], reports

    def tearDown(self):
        self.assert_healthy()

    # --- helpers -----------------------------------------------------------
    def assert_healthy(self):
        self.assertTrue(self.lab.alive(), "mailsim died: %s" % self.lab.log_text()[-3000:])
        self.assertEqual(sanitizer_lines(self.lab), [])
        good = dns_query("exch1.corp.example", qid=0x600d)
        want = self.lab.addr("127.25.10.190")
        # The server may still be working through a backlog: a few tries, bounded.
        reply = None
        for _ in range(5):
            reply = self.lab.query_udp("NS1", good, source="CLIENT1", timeout=1.0)
            if reply:
                break
        self.assertIsNotNone(reply, "no answer over UDP after the garbage")
        self.assertEqual((reply.id, reply.rcode, reply.data()), (0x600d, "NOERROR", [want]))
        reply = self.lab.query_tcp("NS1", good, source="CLIENT1", timeout=5.0)
        self.assertIsNotNone(reply, "no answer over TCP after the garbage")
        self.assertEqual((reply.id, reply.data()), (0x600d, [want]))
        d = self.lab.dig("NS2", "mail.example.net")
        self.assertEqual(d.status, "NOERROR", d.text)

    def udp_socket(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((self.source, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.addCleanup(s.close)
        return s

    def check_reply(self, packet, reply, allowed=("FORMERR",), where=""):
        """A reply (if any) to `packet` is a well-formed response with its ID and an allowed RCODE."""
        if reply is None:
            return None
        self.assertGreaterEqual(len(reply), 12, where)
        try:
            m = Message(reply)
        except WireError as e:
            self.fail("%s: the reply does not parse (%s): %r" % (where, e, reply))
        self.assertIn("qr", m.flags, where)
        if len(packet) >= 2:
            self.assertEqual(m.id, struct.unpack(">H", packet[:2])[0], where)
        self.assertIn(m.rcode, allowed, "%s: %r -> %r" % (where, packet[:60], reply[:60]))
        return m

    def ask(self, packet, allowed=("FORMERR",), where="", timeout=0.5):
        reply = udp_exchange(self.server, self.port, packet, self.source, timeout)
        return self.check_reply(packet, reply, allowed, where or repr(packet[:40]))

    def blast(self, packets):
        """Sends datagrams as fast as the socket takes them; returns the replies that came back."""
        s = self.udp_socket()
        s.setblocking(False)
        replies = []

        def drain():
            while True:
                try:
                    replies.append(s.recv(65535))
                except BlockingIOError:
                    return

        for i, p in enumerate(packets):
            for _ in range(100):  # bounded: a full send buffer waits a little
                try:
                    s.sendto(p, (self.server, self.port))
                    break
                except BlockingIOError:
                    drain()
                    time.sleep(0.001)
            if i % 64 == 0:
                drain()
        s.settimeout(0.5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                replies.append(s.recv(65535))
            except (socket.timeout, TimeoutError):
                break
        return replies

    def check_blast_replies(self, replies, allowed):
        for r in replies:
            self.assertGreaterEqual(len(r), 12)
            try:
                m = Message(r)
            except WireError as e:
                self.fail("a reply does not parse (%s): %r" % (e, r[:80]))
            self.assertIn("qr", m.flags)
            self.assertIn(m.rcode, allowed, r[:60])

    def tcp(self, timeout=3.0):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((self.source, 0))
        s.settimeout(timeout)
        s.connect((self.server, self.port))
        self.addCleanup(s.close)
        return s

    def read_frame(self, s):
        """One length-prefixed reply; None when the server closed or stayed silent."""
        try:
            head = recv_exact(s, 2)
            if len(head) < 2:
                return None
            body = recv_exact(s, struct.unpack(">H", head)[0])
            return body
        except (socket.timeout, TimeoutError, ConnectionError):
            return None

    # --- UDP -----------------------------------------------------------------
    def test_short_headers_get_silence(self):
        q = dns_query("exch1.corp.example")
        for n in range(12):
            self.assertIsNone(udp_exchange(self.server, self.port, q[:n], self.source, 0.2),
                              "a %d-byte datagram has no header to answer" % n)

    def test_truncated_questions(self):
        q = dns_query("exch1.corp.example", edns=1232)
        question_end = 12 + len(encode_name("exch1.corp.example")) + 4
        for n in range(12, len(q)):
            m = self.ask(q[:n], allowed=("FORMERR", "NOERROR"), where="cut at %d" % n)
            if m is not None and n < question_end:
                self.assertEqual(m.rcode, "FORMERR", "cut at %d, inside the question" % n)

    def test_compression_loops_and_bad_pointers(self):
        cases = {
            "pointer to itself": header() + b"\xc0\x0c" + QTAIL,
            "two-step loop": header() + b"\x01a\xc0\x0c" + QTAIL,
            "label then self pointer": header() + b"\x01a\xc0\x0e" + QTAIL,
            "forward pointer": header() + b"\xc0\x10" + QTAIL + b"\x01b\x00",
            "pointer past the end": header() + b"\xc0\xff" + QTAIL,
            "far pointer": header() + b"\xff\xff" + QTAIL,
            "label past the end": header() + b"\x3fabc",
            "label past the end with type": header() + b"\x20abc" + QTAIL,
            "extended label type 0x40": header() + b"\x41" + b"a" * 1 + b"\x00" + QTAIL,
            "reserved label type 0x80": header() + b"\x81a\x00" + QTAIL,
            "name over 255 bytes": header() + (b"\x3f" + b"a" * 63) * 5 + b"\x00" + QTAIL,
            "128 one-letter labels": header() + b"\x01a" * 128 + b"\x00" + QTAIL,
            "no root label": header() + b"\x01a\x01b",
            "name then half a type": header() + encode_name("corp.example") + b"\x00",
            "pointer loop in an OPT owner": header(ar=1) + encode_name("corp.example") + QTAIL
            + b"\xc0\x1e\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00",
            "pointer loop in the answer section": header(an=1) + encode_name("corp.example") + QTAIL
            + b"\xc0\x1e\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00",
        }
        for what, packet in cases.items():
            self.ask(packet, where=what)
        # A pointer back into the header is legal: there it finds the flags' zero byte, the
        # root name, which this server does not serve.
        m = self.ask(header() + b"\xc0\x02" + QTAIL, allowed=("FORMERR", "REFUSED"), where="pointer into the header")
        self.assertIsNotNone(m)

    def test_odd_counts(self):
        q = encode_name("exch1.corp.example") + QTAIL
        opt = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
        cases = {
            "QDCOUNT=0": header(qd=0),
            "QDCOUNT=0 with a question anyway": header(qd=0) + q,
            "QDCOUNT=2, one question": header(qd=2) + q,
            "QDCOUNT=2, two questions": header(qd=2) + q + q,
            "QDCOUNT=65535": header(qd=0xFFFF) + q,
            "ANCOUNT=65535": header(an=0xFFFF) + q,
            "NSCOUNT=65535": header(ns=0xFFFF) + q,
            "ARCOUNT=65535": header(ar=0xFFFF) + q,
            "ARCOUNT=65535 with one OPT": header(ar=0xFFFF) + q + opt,
            "ARCOUNT=2, one OPT": header(ar=2) + q + opt,
            "all counts 65535": header(qd=0xFFFF, an=0xFFFF, ns=0xFFFF, ar=0xFFFF) + q,
        }
        for what, packet in cases.items():
            self.ask(packet, where=what)

    def test_bad_opt_records(self):
        q = header(ar=1) + encode_name("exch1.corp.example") + QTAIL
        cases = {
            "rdlength past the end": q + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x10",
            "option past rdlength": q + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x04\x00\x0a\x00\x08",
            "half an option header": q + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x02\x00\x0a",
            "OPT cut in its fixed part": q + b"\x00\x00\x29\x04",
        }
        for what, packet in cases.items():
            self.ask(packet, where=what)
        # Odd but well-formed OPTs are answered.
        for what, packet in {
            "udp size 0": q + b"\x00\x00\x29\x00\x00\x00\x00\x00\x00\x00\x00",
            "udp size 65535": q + b"\x00\x00\x29\xff\xff\x00\x00\x00\x00\x00\x00",
            "unknown option": q + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x06\xfd\xe9\x00\x02\xab\xcd",
            "cookie option": q + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x0c\x00\x0a\x00\x08" + b"\x01" * 8,
        }.items():
            m = self.ask(packet, allowed=("NOERROR",), where=what)
            self.assertIsNotNone(m, what)
            self.assertEqual(m.data(), [self.lab.addr("127.25.10.190")], what)
        m = self.ask(q + b"\x00\x00\x29\x04\xd0\x00\xff\x00\x00\x00\x00", allowed=("BADVERS",), where="version 255")
        self.assertIsNotNone(m)

    def test_responses_are_never_answered(self):
        # A datagram with QR set gets nothing back, so two servers cannot ping-pong.
        q = dns_query("exch1.corp.example")
        for flags in (0x8000, 0x8400, 0x8180, 0xFFFF):
            packet = q[:2] + struct.pack(">H", flags) + q[4:]
            self.assertIsNone(udp_exchange(self.server, self.port, packet, self.source, 0.2), hex(flags))

    def test_odd_header_bits(self):
        q = dns_query("exch1.corp.example")
        for flags in (0x7FFF, 0x0F00, 0x0040, 0x0080, 0x000F, 0x7800):
            packet = q[:2] + struct.pack(">H", flags) + q[4:]
            self.ask(packet, allowed=("FORMERR", "NOTIMP", "NOERROR"), where=hex(flags))
        # The Z bit (0x0040) is ignored, RA in a query is ignored: a normal answer.
        m = self.ask(q[:2] + b"\x00\x40" + q[4:], allowed=("NOERROR",), where="Z bit")
        self.assertEqual(m.data(), [self.lab.addr("127.25.10.190")])

    def test_trailing_bytes_and_odd_sizes(self):
        q = dns_query("exch1.corp.example")
        self.ask(q + os.urandom(0) + b"\x00" * 100, allowed=("FORMERR", "NOERROR"), where="trailing zeros")
        self.ask(q + bytes(range(256)), allowed=("FORMERR", "NOERROR"), where="trailing bytes")
        rng = random.Random(SEED)
        big = header() + bytes(rng.getrandbits(8) for _ in range(65000))
        self.ask(big, allowed=("FORMERR", "NOERROR", "NOTIMP", "REFUSED", "NXDOMAIN"), where="64 KB datagram")
        self.assertIsNone(udp_exchange(self.server, self.port, b"", self.source, 0.2), "empty datagram")

    def test_random_datagrams(self):
        rng = random.Random(SEED)
        good = [dns_query(n, t, qid=rng.getrandbits(16), edns=rng.choice([None, 512, 1232, 4096]))
                for n, t in [("exch1.corp.example", "A"), ("corp.example", "MX"), ("mail.corp.example", "A"),
                             ("nothere.corp.example", "TXT"), ("example.net", "NS")]]
        packets = []
        for _ in range(1500):  # pure noise
            packets.append(bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 300))))
        for _ in range(1500):  # a plausible header, then noise
            packets.append(header(qid=rng.getrandbits(16), flags=rng.getrandbits(16) & 0x7FFF,
                                  qd=rng.choice([0, 1, 1, 1, 2]), an=rng.choice([0, 0, 1]),
                                  ar=rng.choice([0, 1, 1, 3]))
                           + bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 120))))
        for _ in range(2000):  # real queries with a few bytes changed, cut or repeated
            p = bytearray(rng.choice(good))
            for _ in range(rng.randrange(1, 6)):
                p[rng.randrange(2, len(p))] = rng.getrandbits(8)
            if rng.random() < 0.3:
                p = p[:rng.randrange(12, len(p) + 1)]
            if rng.random() < 0.1:
                p += p[12:]
            packets.append(bytes(p))
        replies = self.blast(packets)
        self.check_blast_replies(replies, ("NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                           "BADVERS"))
        self.assertGreater(len(replies), 0)

    def test_flood_of_small_queries(self):
        rng = random.Random(SEED + 1)
        names = ["exch1.corp.example", "client1.corp.example", "nothere.corp.example", "corp.example",
                 "www.example.org"]
        packets = [dns_query(rng.choice(names), rng.choice(["A", "MX", "AAAA"]), qid=i & 0xFFFF)
                   for i in range(5000)]
        replies = self.blast(packets)
        self.check_blast_replies(replies, ("NOERROR", "NXDOMAIN", "REFUSED"))
        self.assertGreater(len(replies), 0)

    # --- big answers ---------------------------------------------------------
    def test_huge_answers(self):
        # 900 MX records whose targets each have an address: a TCP answer past the 16 KB that
        # a compression pointer can reach; then a TXT set past the 64 KB a TCP message can hold.
        o = self.lab.octet
        def addr(i):
            return "127.%d.%d.%d" % (o, 50 + i // 250, i % 250 + 1)
        mx = "".join("hugemx IN MX %d mx%04d.hugemx\nmx%04d.hugemx IN A %s\n" % (i, i, i, addr(i)) for i in range(900))
        self.lab.api("POST", "/zones/corp.example/records?server=NS1", {"record": mx}, expect=201)
        r = self.lab.query_tcp("NS1", dns_query("hugemx.corp.example", "MX"), source="CLIENT1", timeout=10)
        self.assertIsNotNone(r)
        self.assertEqual((r.rcode, len(r.records())), ("NOERROR", 900))
        self.assertGreater(len(r.raw), 0x4000)
        self.assertEqual(sorted(r.data()), sorted("%d mx%04d.hugemx.corp.example." % (i, i) for i in range(900)))
        for name, _, _, _, data in r.records("additional"):
            if name.startswith("mx"):
                self.assertEqual(data, addr(int(name[2:6])), name)
        udp = self.lab.query_udp("NS1", dns_query("hugemx.corp.example", "MX", edns=1232), source="CLIENT1")
        self.assertIn("tc", udp.flags)
        txt = "".join('hugetxt IN TXT "%s %04d"\n' % ("x" * 60, i) for i in range(1200))
        self.lab.api("POST", "/zones/corp.example/records?server=NS1", {"record": txt}, expect=201)
        r = self.lab.query_tcp("NS1", dns_query("hugetxt.corp.example", "TXT"), source="CLIENT1", timeout=10)
        self.assertIsNotNone(r)
        self.assertIn("tc", r.flags, "over 64 KB even for TCP: TC, no partial RRset")
        self.assertEqual(r.records(), [])

    # --- TCP -----------------------------------------------------------------
    def test_tcp_oversized_length_then_close(self):
        s = self.tcp()
        s.sendall(b"\xff\xff" + b"\x12\x34" + b"\x00" * 8)
        s.close()
        s = self.tcp()
        s.sendall(b"\xff\xff")
        s.shutdown(socket.SHUT_WR)
        self.assertIsNone(self.read_frame(s))

    def test_tcp_full_64k_of_noise(self):
        rng = random.Random(SEED + 2)
        s = self.tcp()
        body = header(qid=0x7a7a) + bytes(rng.getrandbits(8) for _ in range(0xFFFF - 12))
        s.sendall(b"\xff\xff" + body)
        reply = self.read_frame(s)
        self.check_reply(body, reply, allowed=("FORMERR", "NOERROR", "NOTIMP", "REFUSED", "NXDOMAIN"),
                         where="64 KB frame")

    def test_tcp_length_zero(self):
        s = self.tcp()
        s.sendall(b"\x00\x00")
        self.assertIsNone(self.read_frame(s), "nothing to answer in an empty frame")

    def test_tcp_half_a_length_then_close(self):
        for _ in range(20):
            s = self.tcp()
            s.sendall(b"\x00")
            s.close()

    def test_tcp_short_body_then_close(self):
        q = dns_query("exch1.corp.example")
        for cut in (1, 5, 12, len(q) - 1):
            s = self.tcp()
            s.sendall(struct.pack(">H", len(q)) + q[:cut])
            s.close()

    def test_tcp_query_one_byte_at_a_time(self):
        s = self.tcp()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        q = dns_query("exch1.corp.example", qid=0x0b0b)
        for b in struct.pack(">H", len(q)) + q:
            s.sendall(bytes([b]))
        m = Message(self.read_frame(s))
        self.assertEqual((m.id, m.data()), (0x0b0b, [self.lab.addr("127.25.10.190")]))

    def test_tcp_garbage_between_good_queries(self):
        s = self.tcp()
        good1 = dns_query("exch1.corp.example", qid=1)
        bad = header(qid=2) + b"\xc0\x0c" + QTAIL
        response = dns_query("exch1.corp.example", qid=3)
        response = response[:2] + b"\x84\x00" + response[4:]
        good2 = dns_query("client1.corp.example", qid=4)
        s.sendall(b"".join(struct.pack(">H", len(p)) + p for p in (good1, bad, response, good2)))
        first = Message(self.read_frame(s))
        self.assertEqual(first.id, 1)
        second = self.read_frame(s)
        if second is not None:  # the server may also just close
            m = self.check_reply(bad, second, where="compression loop over TCP")
            self.assertEqual(m.id, 2)
            third = self.read_frame(s)  # the response gets nothing; the next query its answer
            if third is not None:
                self.assertEqual(Message(third).id, 4)

    def test_tcp_half_close_still_gets_the_answer(self):
        s = self.tcp()
        q = dns_query("exch1.corp.example", qid=0x0c0c)
        s.sendall(struct.pack(">H", len(q)) + q)
        s.shutdown(socket.SHUT_WR)
        m = Message(self.read_frame(s))
        self.assertEqual(m.id, 0x0c0c)

    def test_many_idle_connections(self):
        idle = []
        try:
            for _ in range(100):
                idle.append(self.tcp(timeout=5.0))
            # Below the connection limit: a new connection is still served.
            self.assert_healthy()
        finally:
            for s in idle:
                s.close()

    def test_more_idle_connections_than_the_limit(self):
        idle = []
        try:
            for _ in range(300):
                try:
                    idle.append(self.tcp(timeout=2.0))
                except OSError:
                    break
            self.assertTrue(self.lab.alive())
            d = self.lab.dig("NS1", "exch1.corp.example")
            self.assertEqual(d.status, "NOERROR", "UDP keeps working while TCP is full")
        finally:
            for s in idle:
                s.close()
        # Once the clients have gone, TCP is served again (the server notices the closes).
        q = dns_query("exch1.corp.example", qid=0x0d0d)
        reply = None
        for _ in range(20):  # bounded
            reply = self.lab.query_tcp("NS1", q, source="CLIENT1", timeout=1.0)
            if reply:
                break
            time.sleep(0.1)
        self.assertIsNotNone(reply, "TCP is not served after the idle connections closed")

    def test_random_tcp_frames(self):
        rng = random.Random(SEED + 3)
        good = dns_query("corp.example", "MX")
        for conn in range(20):
            s = self.tcp(timeout=1.0)
            frames = []
            for _ in range(10):
                if rng.random() < 0.5:
                    p = bytearray(good)
                    p[rng.randrange(2, len(p))] = rng.getrandbits(8)
                    frames.append(bytes(p))
                else:
                    frames.append(bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 200))))
            data = b"".join(struct.pack(">H", len(f)) + f for f in frames)
            if conn % 4 == 3:
                data = data[:rng.randrange(1, len(data))]  # and stop in the middle
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            for _ in frames:
                reply = self.read_frame(s)
                if reply is None:
                    break
                self.assertGreaterEqual(len(reply), 12)
                Message(reply)


if __name__ == "__main__":
    unittest.main()
