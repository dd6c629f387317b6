"""Abuse of the SMTP service (SPEC 5, 11): garbage, over-long lines, NULs,
thousands of recipients, a client that never reads, more connections than the
limit, a message over the size limit. Through all of it the service answers
every reply well-formed, keeps serving other clients, and does not grow
without bound; after each test mailsim still runs, a normal delivery works
and stderr holds no sanitizer report.

Each test has its own lab (mailflow.toml); the abuse goes to STORE (1 MB size
limit, 100 recipients, 256 connections) and, for the garbage, RELAY too.
Everything is bounded in count and bytes, and goes to the lab's loopback
addresses only. Socket time-outs are client-side guards, never assertions.
"""
import os
import random
import re
import selectors
import smtplib
import socket
import threading
import time
import unittest

from labtest import Lab
import smtplab  # noqa: F401  (keeps these labs off the prefixes other suites use)

SCENARIO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "scenarios", "mailflow.toml")
SEED = 20261127
GUARD = 30.0  # seconds: client-side guard on every exchange
REPLY_LINE = re.compile(rb"^[2-5]\d\d([ -][^\r\n]*)?$")


def parse_replies(data):
    """Splits server output into replies [(code, [lines])]; raises on anything
    that is not a well-formed reply line ending CRLF."""
    replies, lines = [], []
    if data and not data.endswith(b"\r\n"):
        raise AssertionError("output does not end in CRLF: %r" % data[-200:])
    for line in data.split(b"\r\n")[:-1]:
        if not REPLY_LINE.match(line):
            raise AssertionError("malformed reply line %r" % line[:200])
        if lines and line[:3] != lines[0][:3]:
            raise AssertionError("code changes inside a multi-line reply: %r" % (lines + [line]))
        lines.append(line)
        if line[3:4] == b"-":
            continue
        replies.append((int(line[:3]), [l.decode("latin-1") for l in lines]))
        lines = []
    if lines:
        raise AssertionError("unfinished multi-line reply %r" % lines)
    return replies


def converse(address, port, chunks, guard=GUARD, close_write=True, source=None):
    """Connects, sends `chunks` (one send each) while reading whatever comes
    back, then (with close_write) shuts the write side and reads to EOF.
    Returns (bytes received, bytes sent, how it ended). Never blocks on a full
    window: reading and writing are interleaved."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if source:
        s.bind((source, 0))
    s.settimeout(guard)
    s.connect((address, port))
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    received = bytearray()
    sent = 0
    pending = [memoryview(c) for c in chunks if c]
    ended = "eof"
    deadline = time.monotonic() + guard
    write_open = True
    try:
        sel.register(s, selectors.EVENT_READ | (selectors.EVENT_WRITE if pending else 0))
        while True:
            if write_open and not pending:
                write_open = False
                if close_write:
                    try:
                        s.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                sel.modify(s, selectors.EVENT_READ)
                if not close_write:
                    ended = "sent"
                    break
            left = deadline - time.monotonic()
            if left <= 0:
                ended = "guard"
                break
            events = sel.select(min(left, 1.0))
            for _, mask in events:
                if mask & selectors.EVENT_READ:
                    try:
                        chunk = s.recv(65536)
                    except BlockingIOError:
                        chunk = None
                    except ConnectionResetError:
                        return bytes(received), sent, "reset"
                    if chunk == b"":
                        return bytes(received), sent, "closed" if pending else "eof"
                    if chunk:
                        received += chunk
                if mask & selectors.EVENT_WRITE and pending:
                    try:
                        n = s.send(pending[0])
                    except BlockingIOError:
                        n = 0
                    except (BrokenPipeError, ConnectionResetError):
                        pending = []
                        write_open = False
                        sel.modify(s, selectors.EVENT_READ)
                        continue
                    sent += n
                    pending[0] = pending[0][n:]
                    if not len(pending[0]):
                        pending.pop(0)
        return bytes(received), sent, ended
    finally:
        sel.close()
        s.close()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Abuse(unittest.TestCase):
    # Tests whose lab runs with ASan's quarantine off: with it, every freed block
    # stays allocated (up to 256 MB), so RSS would grow with the churn of
    # ordinary work and say nothing about what the server keeps.
    NO_QUARANTINE = ("test_client_that_never_reads",)

    def setUp(self):
        self.lab = Lab(SCENARIO)
        saved = os.environ.get("ASAN_OPTIONS")
        if self._testMethodName in self.NO_QUARANTINE:
            os.environ["ASAN_OPTIONS"] = ":".join(o for o in (saved, "quarantine_size_mb=0") if o)
        try:
            self.lab.start()
        finally:
            if saved is None:
                os.environ.pop("ASAN_OPTIONS", None)
            else:
                os.environ["ASAN_OPTIONS"] = saved
        # Cleanups run last first: stop, then look at everything it wrote (LeakSanitizer reports at exit).
        self.addCleanup(lambda: self.assertEqual(self.lab.sanitizer_reports(), []))
        self.addCleanup(self.lab.stop)
        self.store = self.lab.addr("STORE")
        self.relay = self.lab.addr("RELAY")
        self.port = self.lab.smtp_port
        self.rng = random.Random(SEED)
        self.serial = 0

    def tearDown(self):
        self.assert_healthy()

    # --- health --------------------------------------------------------------
    def deliver(self, host="STORE", rcpt="alice@corp.example", timeout=GUARD):
        """A normal message with smtplib; returns the queue id from the 250."""
        self.serial += 1
        tag = "normal-%d-%d" % (os.getpid(), self.serial)
        msg = ("From: <carol@example.net>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@test.example>\r\n\r\n"
               "a normal message\r\n" % (rcpt, tag, tag))
        with smtplib.SMTP(self.lab.addr(host), self.port, timeout=timeout) as s:
            code, _ = s.ehlo("client.example.net")
            self.assertEqual(code, 250)
            self.assertEqual(s.mail("carol@example.net")[0], 250)
            self.assertEqual(s.rcpt(rcpt)[0], 250)
            code, text = s.data(msg.encode())
            self.assertEqual(code, 250, text)
            m = re.search(rb"queued as (\S+)", text)
            self.assertIsNotNone(m, text)
            return m.group(1).decode()

    def mailbox_ids(self, address="alice@corp.example"):
        return {m["id"] for m in self.lab.api("GET", "/mailboxes/%s/messages" % address, expect=200)[1]["messages"]}

    def assert_healthy(self):
        self.assertTrue(self.lab.alive(), "mailsim died: %s" % self.lab.log_text()[-3000:])
        self.assertEqual(self.lab.sanitizer_reports(), [])
        qid = self.deliver("STORE")
        self.assertIn(qid, self.mailbox_ids())
        self.deliver("RELAY", "bob@corp.example")
        self.assertEqual(self.lab.sanitizer_reports(), [])

    def bystander(self, stop, results, host="STORE"):
        """Normal deliveries, one after another, until `stop` is set (at most 200)."""
        for _ in range(200):
            if stop.is_set():
                return
            try:
                results.append(self.deliver(host, timeout=10))
            except Exception as e:  # reported by the test
                results.append(e)

    def session(self, host, payload, expect, **kw):
        """Banner, then `payload` (bytes or a list of chunks); returns the replies after the banner."""
        chunks = payload if isinstance(payload, list) else [payload]
        out, _, how = converse(self.lab.addr(host), self.port, chunks, **kw)
        replies = parse_replies(out)
        self.assertGreaterEqual(len(replies), 1, out)
        self.assertEqual(replies[0][0], 220, replies[0])
        if expect is not None:
            self.assertEqual([r[0] for r in replies[1:]], expect,
                             "\n".join(l for r in replies[1:] for l in r[1])[-3000:])
        return replies[1:], how

    # --- tests ---------------------------------------------------------------
    def test_random_bytes_on_many_connections(self):
        """Seeded garbage on 48 connections (8 at a time, STORE and RELAY):
        only well-formed replies, and other clients are served meanwhile."""
        stop, bystanding = threading.Event(), []
        helper = threading.Thread(target=self.bystander, args=(stop, bystanding))
        helper.start()
        words = [b"EHLO", b"HELO", b"MAIL FROM:", b"RCPT TO:", b"DATA", b"RSET", b"NOOP", b"QUIT", b"VRFY",
                 b"HELP", b"BDAT", b"AUTH", b"STARTTLS", b".", b"", b"\x00", b"\xff\xfe"]
        ends = [b"\r\n", b"\n", b"\r", b"\r\r\n", b"\n\r", b""]
        cases = []
        for i in range(48):
            rng = random.Random(SEED + i)
            kind = i % 3
            if kind == 0:        # raw random bytes
                data = rng.randbytes(rng.randint(1, 16384))
            elif kind == 1:      # random bytes, with lots of line ends
                data = b"".join(rng.randbytes(rng.randint(0, 80)) + rng.choice(ends) for _ in range(rng.randint(1, 200)))
            else:                # command soup after a greeting
                parts = [b"EHLO soup.example\r\n"]
                for _ in range(rng.randint(1, 300)):
                    arg = rng.choice([b"", b" <alice@corp.example>", b"<a@b>", b" " + rng.randbytes(rng.randint(0, 40)),
                                      b" <" + b"x" * rng.randint(0, 600) + b"@corp.example>", b" SIZE=99999999999999999999"])
                    parts.append(rng.choice(words) + arg + rng.choice(ends))
                data = b"".join(parts)
            # Random splits, so lines and CRLFs straddle the server's reads.
            chunks, at = [], 0
            while at < len(data):
                n = rng.choice([1, 2, 7, 100, 1500, 8192, 20000])
                chunks.append(data[at:at + n])
                at += n
            cases.append(("STORE" if i % 2 == 0 else "RELAY", chunks))

        failures = []

        def run(batch):
            for host, chunks in batch:
                try:
                    out, _, how = converse(self.lab.addr(host), self.port, chunks)
                    replies = parse_replies(out)
                    if not replies or replies[0][0] != 220:
                        failures.append((host, "no banner", out[:200]))
                    if how == "guard":
                        failures.append((host, "the server neither answered nor closed in %ss" % GUARD, out[-200:]))
                except AssertionError as e:
                    failures.append((host, str(e)))
                except OSError as e:
                    failures.append((host, repr(e)))

        threads = [threading.Thread(target=run, args=(cases[k::8],)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        helper.join()
        self.assertEqual(failures, [])
        errors = [r for r in bystanding if isinstance(r, Exception)]
        self.assertEqual(errors, [], "a normal client failed during the garbage")
        self.assertTrue(bystanding)
        self.assertLessEqual(set(bystanding), self.mailbox_ids())

    def test_ten_kilobyte_command_lines(self):
        """10 kB command lines get 500 5.5.6 (once each, however they arrive) and the session goes on."""
        long_arg = b"a" * 10000
        payload = [
            b"EHLO " + long_arg + b"\r\n",
            b"EHLO client.example.net\r\n",
            b"MAIL FROM:<" + long_arg + b"@example.net>\r\n",
            b"MAIL FROM:<carol@example.net>\r\n",
            b"RCPT TO:<" + long_arg + b"@corp.example>\n",              # bare LF
            b"NOOP " + long_arg[:5000], long_arg[:5000] + b"\r\n",        # one line in two sends
        ]
        payload += [b"RCPT TO:<alice@corp.example>\r\n"]
        payload += [b"VRFY "] + [b"b"] * 600 + [b"\r\n"]                  # 605 bytes, a byte per send
        payload += [b"X" * 100000 + b"\r\n"]                               # 100 kB
        payload += [b"DATA\r\n", b"Subject: after long lines\r\n\r\nstill usable\r\n.\r\n", b"QUIT\r\n"]
        replies, _ = self.session("STORE", payload, [500, 250, 500, 250, 500, 500, 250, 500, 500, 354, 250, 221])
        for code, lines in replies:
            if code == 500:
                self.assertEqual(lines, ["500 5.5.6 Error: line too long"])
        qid = re.search(r"queued as (\S+)", replies[-2][1][0]).group(1)
        self.assertIn(qid, self.mailbox_ids())
        # A text line over 1000 bytes in DATA: read to the end, then 500 5.5.6; the next transaction works.
        replies, _ = self.session("STORE", [
            b"EHLO client.example.net\r\nMAIL FROM:<carol@example.net>\r\nRCPT TO:<alice@corp.example>\r\nDATA\r\n",
            b"Subject: long text line\r\n\r\n" + b"y" * 100000 + b"\r\n.\r\n",
            b"MAIL FROM:<carol@example.net>\r\nRCPT TO:<alice@corp.example>\r\nDATA\r\nSubject: ok\r\n\r\nok\r\n.\r\nQUIT\r\n",
        ], [250, 250, 250, 354, 500, 250, 250, 354, 250, 221])
        self.assertTrue(replies[4][1][0].startswith("500 5.5.6"), replies[4])

    def test_nul_bytes_in_commands(self):
        """A NUL anywhere in a command line: 500 5.5.2, and the session goes on."""
        payload = (b"EHLO cli\x00ent.example.net\r\n"
                   b"\x00\r\n"
                   b"\x00\x00\x00\x00\n"
                   b"EHLO client.example.net\r\n"
                   b"MAIL FROM:<carol\x00@example.net>\r\n"
                   b"MAIL\x00 FROM:<carol@example.net>\r\n"
                   b"MAIL FROM:<carol@example.net>\r\n"
                   b"RCPT TO:<alice@corp.example>\x00\r\n"
                   b"NOOP\x00\r\n"
                   b"RCPT TO:<alice@corp.example>\r\n"
                   b"DATA\x00\r\n"
                   b"DATA\r\nSubject: after NULs\r\n\r\nok\r\n.\r\n"
                   b"QUIT\r\n")
        replies, _ = self.session("STORE", payload, [500, 500, 500, 250, 500, 500, 250, 500, 500, 250, 500, 354, 250, 221])
        for code, lines in replies:
            if code == 500:
                self.assertEqual(lines, ["500 5.5.2 Error: bad syntax"])

    def test_thousands_of_recipients_pipelined(self):
        """3000 RCPTs in one write: 100 accepted, then 452 4.5.3 for each of the rest,
        in order; the message goes to the 100, and the session goes on."""
        names = ["alice", "bob", "postmaster"]
        rcpts = b"".join(b"RCPT TO:<%s@corp.example>\r\n" % names[i % 3].encode() for i in range(3000))
        payload = (b"EHLO client.example.net\r\nMAIL FROM:<carol@example.net>\r\n" + rcpts +
                   b"DATA\r\nSubject: three thousand\r\n\r\nmany recipients\r\n.\r\nQUIT\r\n")
        replies, _ = self.session("STORE", payload, [250, 250] + [250] * 100 + [452] * 2900 + [354, 250, 221])
        for code, lines in replies[2:102]:
            self.assertEqual(lines, ["250 2.1.5 Ok"])
        for code, lines in replies[102:3002]:
            self.assertEqual(lines, ["452 4.5.3 Error: too many recipients"])
        qid = re.search(r"queued as (\S+)", replies[-2][1][0]).group(1)
        for name in names:
            self.assertIn(qid, self.mailbox_ids(name + "@corp.example"))
        # Refused recipients count as errors: the 20th ends the session with 421, and nothing after is read.
        unknown = b"".join(b"RCPT TO:<nobody%d@corp.example>\r\n" % i for i in range(3000))
        replies, _ = self.session("STORE", b"EHLO client.example.net\r\nMAIL FROM:<carol@example.net>\r\n" + unknown +
                                  b"DATA\r\n", [250, 250] + [550] * 20 + [421])
        self.assertTrue(replies[-1][1][0].startswith("421 4.7.0"), replies[-1])

    def test_client_that_never_reads(self):
        """Three clients in turn push up to 64 MB of pipelined NOOPs each and
        never read: the server stops reading (TCP pushes back), other clients
        are served meanwhile, and its memory does not grow from one client to
        the next (the first may fill allocator caches; the lab runs with ASan's
        quarantine off, see NO_QUARANTINE)."""
        pid = self.lab.proc.pid
        burst = b"NOOP\r\n" * (1 << 16)  # 384 kB
        limit = 64 << 20
        rss, pushes = [], []
        for round in range(3):
            s = socket.create_connection((self.store, self.port), timeout=GUARD)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
            pushed = 0
            try:
                s.settimeout(2.0)  # a send that makes no progress for 2 s: the server pushes back
                try:
                    while pushed < limit:
                        s.sendall(burst)
                        pushed += len(burst)
                except (socket.timeout, TimeoutError):
                    pass
                # Other clients while the stuck session holds its replies.
                ids = [self.deliver() for _ in range(3)]
                self.assertLessEqual(set(ids), self.mailbox_ids())
                rss.append(rss_kb(pid))
            finally:
                s.close()
            pushes.append(pushed)
            # Had it read everything, it would hold the replies (14 bytes per 6-byte NOOP) in memory.
            self.assertLess(pushed, limit, "the server read %d MB of NOOPs without its replies being read" % (pushed >> 20))
        grown_mb = (rss[2] - rss[0]) / 1024
        self.assertLess(grown_mb, 24, "RSS went %s MB over three clients that pushed %s MB each" % (
            [r >> 10 for r in rss], [p >> 20 for p in pushes]))

    def test_more_connections_than_the_limit(self):
        """300 idle connections: 256 get the banner, the rest 421 4.7.0 and are
        closed; other hosts and the API answer meanwhile; once the 256 close,
        new clients are served again."""
        held, banners = [], []
        try:
            for i in range(300):
                s = socket.create_connection((self.store, self.port), timeout=GUARD)
                held.append(s)
                line = b""
                while not line.endswith(b"\n"):
                    chunk = s.recv(1024)
                    if not chunk:
                        break
                    line += chunk
                banners.append(line)
            codes = [b[:3] for b in banners]
            self.assertEqual(codes, [b"220"] * 256 + [b"421"] * 44, codes)
            for b in banners[256:]:
                self.assertEqual(b, b"421 4.7.0 Error: too many connections\r\n")
            # Turned away means closed.
            for s in held[256:]:
                self.assertEqual(s.recv(1024), b"")
            # The 256 stay usable while the others are turned away.
            s = held[0]
            s.sendall(b"NOOP\r\n")
            self.assertEqual(s.recv(1024), b"250 2.0.0 Ok\r\n")
            # The other hosts of the lab, and its API, answer meanwhile.
            self.deliver("RELAY", "bob@corp.example")
            self.assertEqual(self.lab.api("GET", "/lab")[0], 200)
        finally:
            for s in held:
                s.close()
        # The server notices the closes on its own time: a bounded number of tries.
        banner = b""
        for _ in range(100):
            with socket.create_connection((self.store, self.port), timeout=GUARD) as s:
                banner = s.recv(1024)
            if banner.startswith(b"220"):
                break
            time.sleep(0.05)
        self.assertTrue(banner.startswith(b"220"), banner)

    def test_message_over_the_size_limit(self):
        """2 MB of DATA to STORE (1 MB limit): read to the end, 552 5.3.4, and the next transaction works."""
        line = b"z" * 98 + b"\r\n"
        big = b"Subject: too big\r\n\r\n" + line * 20000  # 2 MB
        replies, _ = self.session("STORE", [
            b"EHLO client.example.net\r\nMAIL FROM:<carol@example.net>\r\nRCPT TO:<alice@corp.example>\r\nDATA\r\n",
            big, b".\r\n",
            b"MAIL FROM:<carol@example.net> SIZE=2000000\r\n",
            b"MAIL FROM:<carol@example.net> SIZE=1000\r\nRCPT TO:<alice@corp.example>\r\nDATA\r\n"
            b"Subject: small\r\n\r\nsmall\r\n.\r\nQUIT\r\n",
        ], [250, 250, 250, 354, 552, 552, 250, 250, 354, 250, 221])
        self.assertTrue(replies[4][1][0].startswith("552 5.3.4"), replies[4])
        self.assertTrue(replies[5][1][0].startswith("552 5.3.4"), replies[5])
        qid = re.search(r"queued as (\S+)", replies[-2][1][0]).group(1)
        self.assertIn(qid, self.mailbox_ids())
        subjects = [m["subject"] for m in
                    self.lab.api("GET", "/mailboxes/alice@corp.example/messages", expect=200)[1]["messages"]]
        self.assertNotIn("too big", subjects)


if __name__ == "__main__":
    unittest.main()
