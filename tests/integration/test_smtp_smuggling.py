"""SMTP smuggling (SPEC 5): none of the ten non-standard endings ends a message
at RELAY or reaches the next hop as an ending.

Each ending is sent raw to RELAY as the DATA of a message for
someone@sink.example, followed by text that would be a second, smuggled
transaction if the ending were taken as the end, then the real <CRLF>.<CRLF>,
then a second, clean transaction and QUIT, all pipelined in one write. RELAY
must answer each transaction once, in order: 250 when the message only holds
bare LFs (they are normalised to CRLF), 554 5.6.0 when it holds a bare CR or a
NUL. RELAY routes sink.example to 127.N.9.9, where no simulated host is; the
test runs its own minimal SMTP sink there (on the lab's SMTP port) and checks
the exact bytes RELAY sends downstream: one <CRLF>.<CRLF> per transaction and
never earlier, only CRLF line ends, every dot line stuffed, the smuggled text
delivered as content, and as many messages as RELAY accepted.

swaks --no-data-fixup sends a few of the endings the same way.
"""
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from labtest import Lab
import smtplab  # noqa: F401  (keeps these labs off the prefixes other suites use)

SCENARIO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "scenarios", "mailflow.toml")

# SPEC 5, in its order.
ENDINGS = [
    ("lf_dot_lf", b"\n.\n"),
    ("cr_dot_cr", b"\r.\r"),
    ("cr_dot_lf", b"\r.\n"),
    ("lf_dot_cr", b"\n.\r"),
    ("lf_dot_crlf", b"\n.\r\n"),
    ("crlf_dot_lf", b"\r\n.\n"),
    ("cr_dot_crlf", b"\r.\r\n"),
    ("crlf_dot_cr", b"\r\n.\r"),
    ("crlf_nul_dot_crlf", b"\r\n\x00.\r\n"),
    ("crlf_dot_nul_crlf", b"\r\n.\x00\r\n"),
]

SENDER = b"sender@example.net"
RCPT = b"someone@sink.example"
SMUGGLER = b"smuggler@example.net"
VICTIM = b"victim@sink.example"
# What follows the ending: a whole transaction, should the ending end the message.
SMUGGLED = (b"MAIL FROM:<" + SMUGGLER + b">\r\nRCPT TO:<" + VICTIM + b">\r\nDATA\r\n"
            b"Subject: smuggled\r\n\r\nsmuggled body")
GUARD = 20.0  # seconds: a client-side guard on every socket and wait, never an assertion on time


# --- a model of what RELAY must do with a message (SPEC 5) -------------------

def content_is_bad(body):
    """A bare CR (not before LF) or a NUL anywhere in the content: 554 5.6.0."""
    return b"\x00" in body or re.search(b"\r(?!\n)", body) is not None


def relayed_form(body):
    """The content as the next hop must get it: every line ending CRLF, one
    leading dot dropped on input and one added on output (so a lone "." that did
    not end the message goes out as ".."). `body` ends with CRLF."""
    assert body.endswith(b"\r\n")
    out = []
    for line in body[:-1].split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > 1 and line.startswith(b"."):
            line = line[1:]
        if line.startswith(b"."):
            line = b"." + line
        out.append(line + b"\r\n")
    return b"".join(out)


def message(tag, ending=None):
    """A message's content (without the final dot line): headers, a line,
    and, with an ending, the ending and a smuggled transaction after it."""
    body = (b"From: <" + SENDER + b">\r\nTo: <" + RCPT + b">\r\nSubject: smuggling " + tag + b"\r\n"
            b"Message-ID: <" + tag + b"@test.example>\r\n\r\nbefore the ending")
    if ending is not None:
        body += ending + SMUGGLED
    return body + b"\r\nend of message " + tag + b"\r\n"


def transaction(content, rcpt=RCPT):
    return (b"MAIL FROM:<" + SENDER + b">\r\nRCPT TO:<" + rcpt + b">\r\nDATA\r\n" + content + b".\r\n")


# --- a raw SMTP sink ------------------------------------------------------

class SinkConnection:
    def __init__(self):
        self.raw = bytearray()      # every byte the client sent
        self.transactions = []      # (mail from, [rcpt], payload up to and with the CRLF before the dot)
        self.unexpected = []        # command lines the sink did not expect
        self.closed_by_quit = False


class RawSmtpSink:
    """A minimal SMTP server (220/250/354/250/221) on one address that keeps
    the raw bytes of every connection. Only <CRLF>.<CRLF> ends its DATA."""

    def __init__(self, address, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.cond = threading.Condition()
        self.connections = []
        self.errors = []
        self.stopping = False
        self.threads = []
        self.acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self.acceptor.start()

    def _accept_loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn):
        rec = SinkConnection()
        with self.cond:
            self.connections.append(rec)
        conn.settimeout(GUARD)
        buf = b""
        data = None        # bytes of DATA so far, None in command mode
        txn = None
        try:
            conn.sendall(b"220 sink.example ESMTP test sink\r\n")
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                with self.cond:
                    rec.raw += chunk
                buf += chunk
                while True:
                    if data is not None:
                        data += buf
                        buf = b""
                        s = b"\r\n" + data
                        p = s.find(b"\r\n.\r\n")
                        if p < 0:
                            break
                        payload, buf, data = s[2:p + 2], s[p + 5:], None
                        with self.cond:
                            rec.transactions.append((txn[0], txn[1], payload))
                            n = sum(len(c.transactions) for c in self.connections)
                            self.cond.notify_all()
                        conn.sendall(b"250 2.0.0 Ok: queued as SINK%d\r\n" % n)
                        txn = None
                        continue
                    i = buf.find(b"\n")
                    if i < 0:
                        break
                    line, buf = buf[:i + 1], buf[i + 1:]
                    word = line.rstrip(b"\r\n").split(b" ", 1)[0].split(b":", 1)[0].upper()
                    if not line.endswith(b"\r\n"):
                        rec.unexpected.append(line)
                    if word in (b"EHLO", b"HELO"):
                        conn.sendall(b"250-sink.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
                                     if word == b"EHLO" else b"250 sink.example\r\n")
                    elif word == b"MAIL":
                        txn = (line.rstrip(b"\r\n"), [])
                        conn.sendall(b"250 2.1.0 Ok\r\n")
                    elif word == b"RCPT" and txn is not None:
                        txn[1].append(line.rstrip(b"\r\n"))
                        conn.sendall(b"250 2.1.5 Ok\r\n")
                    elif word == b"DATA" and txn is not None and txn[1]:
                        data = b""
                        conn.sendall(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    elif word in (b"RSET", b"NOOP"):
                        txn = None if word == b"RSET" else txn
                        conn.sendall(b"250 2.0.0 Ok\r\n")
                    elif word == b"QUIT":
                        rec.closed_by_quit = True
                        conn.sendall(b"221 2.0.0 Bye\r\n")
                        return
                    else:
                        rec.unexpected.append(line)
                        conn.sendall(b"500 5.5.2 Error: command not recognized\r\n")
        except OSError as e:
            if not self.stopping:
                self.errors.append(repr(e))
        finally:
            conn.close()
            with self.cond:
                self.cond.notify_all()

    def messages(self):
        with self.cond:
            return [t for c in self.connections for t in c.transactions]

    def wait_for(self, count, timeout=GUARD):
        with self.cond:
            self.cond.wait_for(lambda: sum(len(c.transactions) for c in self.connections) >= count, timeout)
            return sum(len(c.transactions) for c in self.connections)

    def stop(self):
        self.stopping = True
        self.sock.close()
        self.acceptor.join(5)
        for t in self.threads:
            t.join(GUARD + 5)


# --- a raw SMTP client ----------------------------------------------------

def read_replies(sock, count, buf=b""):
    """Reads `count` replies (multi-line ones whole); fewer when the server
    closes. Returns ([(code, [lines])], leftover bytes)."""
    replies, lines = [], []
    while len(replies) < count:
        i = buf.find(b"\n")
        if i < 0:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
            continue
        line, buf = buf[:i].rstrip(b"\r"), buf[i + 1:]
        if not re.match(rb"^[2-5]\d\d([ -]|$)", line):
            raise AssertionError("malformed reply line %r" % line)
        lines.append(line.decode("latin-1"))
        if len(line) > 3 and line[3:4] == b"-":
            continue
        replies.append((int(line[:3]), lines))
        lines = []
    return replies, buf


def read_to_eof(sock, buf=b""):
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        buf += chunk
    return buf


class Smuggling(unittest.TestCase):
    def setUp(self):
        self.lab = Lab(SCENARIO)
        self.lab.start()
        self.addCleanup(self.check_lab)
        self.relay = self.lab.addr("RELAY")
        self.port = self.lab.smtp_port
        # sink.example is routed to 127.25.9.9, moved to this lab's prefix.
        self.sink = RawSmtpSink(self.lab.addr("127.25.9.9"), self.port)

    def tearDown(self):
        self.sink.stop()

    def check_lab(self):
        alive = self.lab.alive()
        self.lab.stop()
        self.assertTrue(alive, "mailsim died")
        self.assertEqual(self.lab.sanitizer_reports(), [])

    # --- helpers -----------------------------------------------------------
    def session(self, payload, expected_replies, chunks=None):
        """Banner, EHLO, then `payload` in one write (or in `chunks`, one send
        each); returns the replies after EHLO and what came after them."""
        s = socket.create_connection((self.relay, self.port), timeout=GUARD)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            banner, rest = read_replies(s, 1)
            self.assertEqual(banner[0][0], 220, banner)
            s.sendall(b"EHLO client.example.net\r\n")
            ehlo, rest = read_replies(s, 1, rest)
            self.assertEqual(ehlo[0][0], 250, ehlo)
            self.assertIn("250-PIPELINING", ehlo[0][1])
            if chunks is None:
                s.sendall(payload)
            else:
                for c in chunks:
                    s.sendall(c)
            replies, rest = read_replies(s, expected_replies, rest)
            rest = read_to_eof(s, rest)
        finally:
            s.close()
        return replies, rest

    def expected_codes(self, contents):
        codes = []
        for c in contents:
            codes += [250, 250, 354, 554 if content_is_bad(c) else 250]
        return codes + [221]

    def check_replies(self, replies, contents, rest):
        got = [code for code, _ in replies]
        self.assertEqual(got, self.expected_codes(contents),
                         "replies: %r, then %r" % ([l for _, ls in replies for l in ls], rest))
        self.assertEqual(rest, b"", "bytes after the 221: %r" % rest)
        for i, c in enumerate(contents):
            code, lines = replies[4 * i + 3]
            if content_is_bad(c):
                self.assertTrue(lines[0].startswith("554 5.6.0"), lines)
            else:
                self.assertTrue(lines[0].startswith("250 2.0.0 Ok: queued as "), lines)

    def accepted_ids(self, replies):
        return [lines[0].rsplit(" ", 1)[1] for code, lines in replies
                if code == 250 and "queued as" in lines[0]]

    def relay_queue(self):
        queues = self.lab.api("GET", "/queues", expect=200)[1]["queues"]
        return [m for q in queues if q["host"] == "RELAY" for m in q["messages"]]

    def wait_downstream(self, count):
        """Waits (bounded) until the sink holds `count` messages and RELAY's
        queue is empty: after that nothing more can reach the sink."""
        deadline = time.monotonic() + GUARD
        got = self.sink.wait_for(count)
        queue = self.relay_queue()
        while queue and time.monotonic() < deadline:
            self.sink.wait_for(count + 1, timeout=0.1)
            queue = self.relay_queue()
        self.assertEqual(queue, [], "RELAY did not deliver everything to the sink")
        return got

    def check_downstream(self, contents, accepted):
        """The sink's view: as many messages as RELAY accepted, each whole."""
        self.wait_downstream(len(accepted))
        msgs = self.sink.messages()
        self.assertEqual(self.sink.errors, [])
        self.assertEqual(len(msgs), len(accepted),
                         "RELAY accepted %d message(s), the sink got %d" % (len(accepted), len(msgs)))
        with self.sink.cond:
            conns = list(self.sink.connections)
        for c in conns:
            raw = bytes(c.raw)
            self.assertEqual(c.unexpected, [], "unexpected lines at the sink: %r" % c.unexpected)
            # One end of data per transaction, and the sink's parse found each one
            # at the real end (checked below by the content).
            self.assertEqual(raw.count(b"\r\n.\r\n"), len(c.transactions), raw)
            self.assertNotIn(b"\x00", raw)
            self.assertIsNone(re.search(b"\r(?!\n)", raw), "bare CR downstream: %r" % raw)
            self.assertIsNone(re.search(b"(?<!\r)\n", raw), "bare LF downstream: %r" % raw)
        by_tag = {}
        for mail_from, rcpts, payload in msgs:
            self.assertEqual(mail_from, b"MAIL FROM:<" + SENDER + b">")
            self.assertEqual(rcpts, [b"RCPT TO:<" + RCPT + b">"])
            m = re.search(rb"Subject: smuggling (\S+)\r\n", payload)
            self.assertIsNotNone(m, payload)
            by_tag.setdefault(m.group(1), []).append(payload)
            # Dot-stuffed: a line that starts with a dot starts with two.
            for line in payload.split(b"\r\n"):
                self.assertFalse(line.startswith(b".") and not line.startswith(b".."), payload)
            self.assertTrue(payload.startswith(b"Received: "), payload[:200])
        want = sorted(re.search(rb"Subject: smuggling (\S+)\r\n", c).group(1) for c in contents
                      if not content_is_bad(c))
        self.assertEqual(sorted(by_tag), want)
        for c in contents:
            if content_is_bad(c):
                continue
            tag = re.search(rb"Subject: smuggling (\S+)\r\n", c).group(1)
            self.assertEqual(len(by_tag[tag]), 1, "message %s arrived %d times" % (tag, len(by_tag[tag])))
            payload = by_tag[tag][0]
            # Exactly what was sent, normalised and restuffed, after RELAY's Received line:
            # the smuggled transaction is content.
            self.assertTrue(payload.endswith(relayed_form(c)),
                            "downstream %r\nexpected to end with %r" % (payload, relayed_form(c)))

    def run_ending(self, tag, ending, split=False):
        first = message(tag.encode(), ending)
        second = message(tag.encode() + b"-next")
        payload = transaction(first) + transaction(second) + b"QUIT\r\n"
        chunks = None
        if split:
            # Every byte of the ending (and its neighbours) in a send of its own.
            at = payload.index(ending)
            chunks = [payload[:at - 1]] + [payload[i:i + 1] for i in range(at - 1, at + len(ending) + 1)]
            chunks.append(payload[at + len(ending) + 1:])
            self.assertEqual(b"".join(chunks), payload)
        replies, rest = self.session(payload, 9, chunks)
        self.check_replies(replies, [first, second], rest)
        self.check_downstream([first, second], self.accepted_ids(replies))

    # --- tests ---------------------------------------------------------------
    def test_model(self):
        """Which endings the spec rejects (bare CR or NUL) and which it takes as content."""
        bad = {tag for tag, e in ENDINGS if content_is_bad(message(b"x", e))}
        self.assertEqual(bad, {"cr_dot_cr", "cr_dot_lf", "lf_dot_cr", "cr_dot_crlf", "crlf_dot_cr",
                               "crlf_nul_dot_crlf", "crlf_dot_nul_crlf"})
        self.assertEqual(relayed_form(b"a\n.\nb\r\n..c\r\n"), b"a\r\n..\r\nb\r\n..c\r\n")

    def test_all_endings_in_one_write(self):
        """The ten endings, each followed by a clean message, in one session and one write."""
        contents = []
        for tag, ending in ENDINGS:
            contents.append(message(b"all-" + tag.encode(), ending))
            contents.append(message(b"all-" + tag.encode() + b"-next"))
        payload = b"".join(transaction(c) for c in contents) + b"QUIT\r\n"
        replies, rest = self.session(payload, 4 * len(contents) + 1)
        self.check_replies(replies, contents, rest)
        self.check_downstream(contents, self.accepted_ids(replies))

    def test_swaks_no_data_fixup(self):
        """swaks --no-data-fixup sends the content as it is (plus CRLF): the same verdicts."""
        contents = []
        for tag, ending in [ENDINGS[0], ENDINGS[1], ENDINGS[4], ENDINGS[5], ENDINGS[8]]:
            content = message(b"swaks-" + tag.encode(), ending)
            contents.append(content)
            with tempfile.NamedTemporaryFile(suffix=".eml", delete=False) as f:
                # swaks adds CRLF after the data, so the file ends with the dot.
                f.write(content + b".")
            self.addCleanup(os.unlink, f.name)
            out = subprocess.run(
                ["swaks", "--server", self.relay, "--port", str(self.port), "--from", SENDER.decode(),
                 "--to", RCPT.decode(), "--helo", "client.example.net", "--no-data-fixup",
                 "--data", "@" + f.name, "--timeout", "20"],
                capture_output=True, text=True, errors="replace", timeout=60).stdout
            dot_reply = [l for l in out.splitlines() if re.match(r"^<[-~*]+ +\d{3} ", l)][-2]  # before QUIT's 221
            if content_is_bad(content):
                self.assertRegex(dot_reply, r"^<\*\* +554 5\.6\.0 ", out)
            else:
                self.assertRegex(dot_reply, r"^<- +250 2\.0\.0 Ok: queued as ", out)
            self.assertRegex(out.splitlines()[-2], r"^<- +221 ", out)
        accepted = [c for c in contents if not content_is_bad(c)]
        self.check_downstream(contents, accepted)


def _ending_test(tag, ending, split):
    def test(self):
        self.run_ending(tag, ending, split)
    test.__doc__ = "%r ending at RELAY%s: one reply per transaction, one message per 250 downstream" % (
        ending, ", sent a byte at a time" if split else "")
    return test


for _tag, _ending in ENDINGS:
    setattr(Smuggling, "test_ending_" + _tag, _ending_test(_tag, _ending, False))
    setattr(Smuggling, "test_ending_split_" + _tag, _ending_test(_tag, _ending, True))


if __name__ == "__main__":
    unittest.main()
