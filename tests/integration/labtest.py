"""Starts real mailsim labs on loopback and talks to them with real clients.

Every test gets its own lab on its own prefix, so tests can run side by side.
Nothing here waits for simulated time: tests advance the lab clock through the
API instead.
"""
import json
import os
import re
import shutil
import signal
import struct
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MAILSIM = os.environ.get("MAILSIM", os.path.join(SOURCE_DIR, "build", "dev", "simulator", "mailsim"))
SCENARIOS = os.path.join(SOURCE_DIR, "scenarios")

_next_prefix = [0]


def fresh_prefix():
    """A lab prefix (127.60 .. 127.249) that this process has not used yet."""
    _next_prefix[0] += 1
    return "127.%d" % (60 + (os.getpid() * 37 + _next_prefix[0] * 11) % 190)


class PrefixBusy(Exception):
    pass


def scenario_path(name):
    return name if os.path.isabs(name) or os.path.exists(name) else os.path.join(SCENARIOS, name)


class Lab:
    """A `mailsim run` process and what its ready JSON says."""

    def __init__(self, scenario="default.toml", prefix=None, args=(), ports="auto"):
        self.fixed_prefix = prefix is not None
        self.prefix = prefix or fresh_prefix()
        self.octet = int(self.prefix.split(".")[1])
        self.scenario = scenario_path(scenario)
        self.dir = tempfile.mkdtemp(prefix="mailsim-test-")
        self.ready_file = os.path.join(self.dir, "ready.json")
        self.args = list(args)
        self.ports = ports
        self.proc = None
        self.info = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=20.0, attempts=5):
        # Another lab (a test running beside this one) may hold the prefix:
        # mailsim then exits 3 saying it cannot bind, and we move elsewhere.
        for attempt in range(attempts):
            try:
                return self._start_once(timeout)
            except PrefixBusy:
                if self.fixed_prefix or attempt + 1 == attempts:
                    raise
                self.prefix = fresh_prefix()
                self.octet = int(self.prefix.split(".")[1])

    def _start_once(self, timeout):
        cmd = [MAILSIM, "run", self.scenario, "--prefix", self.prefix, "--ports", self.ports,
               "--api", "127.0.0.1:0", "--ready-file", self.ready_file, "--json",
               ] + (["--log-level", "warn"] if "--log-level" not in self.args else []) + self.args
        self.stderr = open(os.path.join(self.dir, "stderr.txt"), "w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        # The ready line is printed once every endpoint listens.
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout)
            self.stderr.seek(0)
            err = self.stderr.read()
            code = self.proc.returncode
            self.proc.stdout.close()
            self.stderr.close()
            self.proc = None
            if code == 3 and "cannot bind" in err:
                raise PrefixBusy(err)
            raise AssertionError("mailsim exited %s before it was ready: %s" % (code, err))
        self.info = json.loads(line)
        with open(self.ready_file) as f:
            assert json.load(f) == self.info, "the ready file differs from the ready line"
        return self

    def stop(self):
        if not self.proc:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("mailsim did not stop on SIGTERM")
        code = self.proc.returncode
        self.proc.stdout.close()
        self.stderr.close()
        self.proc = None
        with open(self.stderr.name, errors="replace") as f:
            self.final_log = f.read()
        if code == 0:
            shutil.rmtree(self.dir, ignore_errors=True)  # kept when something went wrong
        if code != 0:
            raise AssertionError("mailsim exited with %s" % code)

    def log_text(self):
        """What mailsim wrote to stderr (kept after stop())."""
        if self.proc is None and hasattr(self, "final_log"):
            return self.final_log
        self.stderr.flush()
        with open(self.stderr.name, errors="replace") as f:
            return f.read()

    # --- addresses -------------------------------------------------------
    def addr(self, host_or_address):
        """The address of a host (by name or FQDN), or a 127.25.x.y address moved to this prefix."""
        if re.match(r"^\d+\.\d+\.\d+\.\d+$", host_or_address):
            parts = host_or_address.split(".")
            return "127.%d.%s.%s" % (self.octet, parts[2], parts[3])
        for h in self.info["hosts"]:
            if h["name"].lower() == host_or_address.lower() or h.get("fqdn", "").lower() == host_or_address.lower():
                return h["address"]
        raise KeyError(host_or_address)

    @property
    def dns_port(self):
        return self.info["ports"]["dns"]

    @property
    def smtp_port(self):
        return self.info["ports"]["smtp"]

    # --- API -------------------------------------------------------------
    def api(self, method, path, body=None, token=True, expect=None):
        """Calls the control API; returns (status, decoded JSON)."""
        url = self.info["api"] + "/api/v1" + path
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + self.info["token"])
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        value = json.loads(text) if text else None
        if expect is not None and status != expect:
            raise AssertionError("%s %s: expected %s, got %s: %s" % (method, path, expect, status, text))
        return status, value

    def inject(self, kind, **params):
        status, value = self.api("POST", "/faults", dict(kind=kind, **params), expect=201)
        return value["id"]

    def clear(self, fault_id):
        self.api("DELETE", "/faults/" + fault_id, expect=200)

    def advance(self, seconds):
        return self.api("POST", "/clock/advance", {"seconds": seconds}, expect=200)[1]

    # --- clients ---------------------------------------------------------
    def dig(self, server, name, rtype="A", source=None, tcp=False, options=(), timeout=1, tries=1):
        """Runs dig against a lab DNS server; returns a Dig result."""
        cmd = ["dig", "@" + self.addr(server), "-p", str(self.dns_port), name, rtype,
               "+time=%d" % timeout, "+tries=%d" % tries, "+norecurse"]
        if source:
            cmd += ["-b", self.addr(source)]
        if tcp:
            cmd.append("+tcp")
        cmd += list(options)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
        return Dig(out)

    def connect(self, source, target, port, timeout=1.0):
        """A TCP connect from one lab address to another: 'open', 'refused' or 'timeout'."""
        return tcp_connect(self.addr(source) if source else "127.0.0.1", self.addr(target), port, timeout)


def tcp_connect(source, target, port, timeout=1.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.connect((target, port))
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except (socket.timeout, TimeoutError):
        return "timeout"
    finally:
        s.close()


class Dig:
    """What dig printed, picked apart."""

    def __init__(self, text):
        self.text = text
        m = re.search(r"status: (\w+)", text)
        self.status = m.group(1) if m else None
        m = re.search(r";; flags: ([\w ]*);", text)
        self.flags = set(m.group(1).split()) if m else set()
        self.timed_out = self.status is None
        # ; EDNS: version: 0, flags: do; udp: 1232  ->  (0, {"do"}, 1232); None without an OPT record
        m = re.search(r"; EDNS: version: (\d+), flags: ?([\w ]*); udp: (\d+)", text)
        self.edns = (int(m.group(1)), set(m.group(2).split()), int(m.group(3))) if m else None
        # The transport of the answer shown: "UDP" or "TCP" (dig's SERVER line).
        m = re.search(r";; SERVER: \S+ \((\w+)\)", text)
        self.transport = m.group(1) if m else None
        self.retried_tcp = "Truncated, retrying in TCP mode" in text
        self.refused = "connection refused" in text
        self.sections = {}
        current = None
        for line in text.splitlines():
            m = re.match(r";; (\w+) SECTION:", line)
            if m:
                current = m.group(1).lower()
                self.sections[current] = []
                continue
            if not line.strip():
                current = None
                continue
            if current and not line.startswith(";"):
                self.sections[current].append(line.split())

    def records(self, section="answer"):
        """[(name, ttl, type, data)] of a section."""
        return [(r[0], int(r[1]), r[3], " ".join(r[4:])) for r in self.sections.get(section, [])]

    def data(self, section="answer", rtype=None):
        return [r[3] for r in self.records(section) if rtype is None or r[2] == rtype]


class LabTestCase(unittest.TestCase):
    """Starts the scenario named by `scenario` once per test."""

    scenario = "default.toml"
    lab_args = ()

    def setUp(self):
        self.lab = Lab(self.scenario, args=self.lab_args)
        self.lab.start()
        self.addCleanup(self.lab.stop)


# --- raw DNS messages ----------------------------------------------------
# For what dig cannot send (odd opcodes, bad counts, garbage) and for reading
# replies byte by byte. Only what the tests need: no compression on output.

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "OPT": 41,
         "DS": 43, "DNSKEY": 48, "IXFR": 251, "AXFR": 252, "ANY": 255}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
CLASSES = {"IN": 1, "CH": 3, "HS": 4, "NONE": 254, "ANY": 255}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 16: "BADVERS"}


def encode_name(name):
    """A domain name in wire form, uncompressed (case kept)."""
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns_query(name, rtype="A", rclass="IN", qid=0x1234, rd=False, cd=False, ad=False, opcode=0,
              edns=None, do=False, edns_version=0, qdcount=None, options=b""):
    """A query packet. `edns` is the advertised UDP size (None: no OPT record)."""
    qtype = TYPES[rtype] if isinstance(rtype, str) else rtype
    qclass = CLASSES[rclass] if isinstance(rclass, str) else rclass
    flags = (opcode & 0xF) << 11 | (0x0100 if rd else 0) | (0x0020 if ad else 0) | (0x0010 if cd else 0)
    question = encode_name(name) + struct.pack(">HH", qtype, qclass)
    additional = b""
    if edns is not None:
        ttl = edns_version << 16 | (0x8000 if do else 0)
        additional = b"\0" + struct.pack(">HHIH", 41, edns, ttl, len(options)) + options
    header = struct.pack(">HHHHHH", qid, flags, 1 if qdcount is None else qdcount, 0, 0, 1 if additional else 0)
    return header + question + additional


class WireError(Exception):
    pass


def _read_name(data, pos, depth=0):
    labels = []
    jumped = False
    end = pos
    for _ in range(128):
        if pos >= len(data):
            raise WireError("name runs past the end")
        n = data[pos]
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(data):
                raise WireError("pointer runs past the end")
            target = (n & 0x3F) << 8 | data[pos + 1]
            if not jumped:
                end = pos + 2
            jumped = True
            if target >= pos:
                raise WireError("forward pointer")
            pos = target
            continue
        if n & 0xC0:
            raise WireError("bad label type")
        if n == 0:
            if not jumped:
                end = pos + 1
            return ".".join(labels) + ".", end
        labels.append(data[pos + 1:pos + 1 + n].decode("latin-1"))
        pos += 1 + n
    raise WireError("too many labels")


class Message:
    """A parsed DNS reply: header fields, question, and records as (name, type, class, ttl, rdata text)."""

    def __init__(self, data):
        if len(data) < 12:
            raise WireError("short header")
        self.raw = data
        self.id, self.flag_bits, qd, an, ns, ar = struct.unpack(">HHHHHH", data[:12])
        self.counts = (qd, an, ns, ar)
        self.opcode = self.flag_bits >> 11 & 0xF
        names = [("qr", 0x8000), ("aa", 0x0400), ("tc", 0x0200), ("rd", 0x0100), ("ra", 0x0080),
                 ("ad", 0x0020), ("cd", 0x0010)]
        self.flags = {n for n, bit in names if self.flag_bits & bit}
        pos = 12
        self.question = []
        for _ in range(qd):
            name, pos = _read_name(data, pos)
            qtype, qclass = struct.unpack(">HH", data[pos:pos + 4])
            pos += 4
            self.question.append((name, qtype, qclass))
        self.sections = {}
        self.opt = None
        for section, count in (("answer", an), ("authority", ns), ("additional", ar)):
            rrs = []
            for _ in range(count):
                name, pos = _read_name(data, pos)
                if pos + 10 > len(data):
                    raise WireError("record runs past the end")
                rtype, rclass, ttl, rdlen = struct.unpack(">HHIH", data[pos:pos + 10])
                pos += 10
                rdata = data[pos:pos + rdlen]
                if len(rdata) != rdlen:
                    raise WireError("rdata runs past the end")
                if rtype == 41:
                    self.opt = {"udp": rclass, "ext_rcode": ttl >> 24, "version": ttl >> 16 & 0xFF,
                                "do": bool(ttl & 0x8000), "options": rdata}
                else:
                    rrs.append((name, rtype, rclass, ttl, self._rdata_text(data, pos, rtype, rdata)))
                pos += rdlen
            self.sections[section] = rrs
        ext = self.opt["ext_rcode"] if self.opt else 0
        self.rcode_value = ext << 4 | (self.flag_bits & 0xF)
        self.rcode = RCODES.get(self.rcode_value, "RCODE%d" % self.rcode_value)

    @staticmethod
    def _rdata_text(data, pos, rtype, rdata):
        if rtype == 1 and len(rdata) == 4:
            return socket.inet_ntoa(rdata)
        if rtype == 28 and len(rdata) == 16:
            return socket.inet_ntop(socket.AF_INET6, rdata)
        if rtype in (2, 5, 12):
            return _read_name(data, pos)[0]
        if rtype == 15:
            return "%d %s" % (struct.unpack(">H", rdata[:2])[0], _read_name(data, pos + 2)[0])
        if rtype == 6:
            mname, p = _read_name(data, pos)
            rname, p = _read_name(data, p)
            return "%s %s %d %d %d %d %d" % ((mname, rname) + struct.unpack(">IIIII", data[p:p + 20]))
        if rtype == 16:
            parts, i = [], 0
            while i < len(rdata):
                parts.append(rdata[i + 1:i + 1 + rdata[i]])
                i += 1 + rdata[i]
            return tuple(parts)
        return rdata

    def records(self, section="answer"):
        return self.sections.get(section, [])

    def data(self, section="answer", rtype=None):
        t = TYPES.get(rtype, rtype)
        return [r[4] for r in self.records(section) if t is None or r[1] == t]


def udp_exchange(server, port, packet, source="127.0.0.1", timeout=1.0):
    """Sends one datagram and returns the first reply (bytes), or None on time-out."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.sendto(packet, (server, port))
        try:
            return s.recv(65535)
        except (socket.timeout, TimeoutError):
            return None
    finally:
        s.close()


def recv_exact(s, n):
    """Reads exactly n bytes from a stream socket; fewer when the peer closes."""
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def tcp_exchange(server, port, packet, source="127.0.0.1", timeout=2.0):
    """One query over TCP with its length prefix; returns the reply (bytes), or None when the
    connection closes or times out without one."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.connect((server, port))
        s.sendall(struct.pack(">H", len(packet)) + packet)
        head = recv_exact(s, 2)
        if len(head) < 2:
            return None
        body = recv_exact(s, struct.unpack(">H", head)[0])
        return body
    except (socket.timeout, TimeoutError, ConnectionError):
        return None
    finally:
        s.close()


def _lab_udp(self, server, packet, source=None, timeout=1.0):
    """A raw UDP query to a lab DNS server; the parsed reply, or None on time-out."""
    reply = udp_exchange(self.addr(server), self.dns_port, packet,
                         self.addr(source) if source else "127.0.0.1", timeout)
    return None if reply is None else Message(reply)


def _lab_tcp(self, server, packet, source=None, timeout=2.0):
    """A raw TCP query to a lab DNS server; the parsed reply, or None."""
    reply = tcp_exchange(self.addr(server), self.dns_port, packet,
                         self.addr(source) if source else "127.0.0.1", timeout)
    return None if reply is None else Message(reply)


def _lab_faults(self, all=False):
    """The faults the API lists: {id: fault}."""
    return {f["id"]: f for f in self.api("GET", "/faults" + ("?all=1" if all else ""), expect=200)[1]["faults"]}


def _lab_alive(self):
    return self.proc is not None and self.proc.poll() is None


def _lab_sanitizer_reports(self):
    """Lines of stderr where ASan or UBSan reported something."""
    return [l for l in self.log_text().splitlines()
            if "runtime error:" in l or "AddressSanitizer" in l or "LeakSanitizer" in l]


Lab.query_udp = _lab_udp
Lab.query_tcp = _lab_tcp
Lab.faults = _lab_faults
Lab.alive = _lab_alive
Lab.sanitizer_reports = _lab_sanitizer_reports


# --- SMTP ----------------------------------------------------------------
# Real clients from lab addresses: smtplib, swaks, and a raw socket for what
# smtplib hides (a stall, a silent close, a reply to the banner).

import smtplib  # noqa: E402  (kept with the SMTP helpers)
import urllib.parse  # noqa: E402


class Reply(tuple):
    """An SMTP reply: (code, text); code is "timeout" when nothing came within the
    socket time-out and "closed" when the server closed the connection instead."""

    def __new__(cls, code, text=""):
        return super().__new__(cls, (code, text))

    code = property(lambda self: self[0])
    text = property(lambda self: self[1])

    @property
    def enhanced(self):
        """The RFC 3463 code that starts the last line's text, or ""."""
        m = re.match(r"^(\d\.\d{1,3}\.\d{1,3})\b", self.text.splitlines()[-1] if self.text else "")
        return m.group(1) if m else ""


class SmtpWire:
    """A raw SMTP client connection from one lab address to another."""

    def __init__(self, source, target, port, timeout=1.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.buf = b""
        try:
            self.sock.bind((source, 0))
            self.sock.settimeout(timeout)
            self.sock.connect((target, port))
        except BaseException:
            self.sock.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def reply(self):
        """The next (possibly multi-line) reply."""
        lines = []
        while True:
            while b"\n" not in self.buf:
                try:
                    chunk = self.sock.recv(65536)
                except (socket.timeout, TimeoutError):
                    return Reply("timeout", "\n".join(lines))
                except ConnectionError:
                    chunk = b""
                if not chunk:
                    return Reply("closed", "\n".join(lines))
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\n", 1)
            line = raw.rstrip(b"\r").decode("latin-1")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                break
        code = int(lines[-1][:3]) if lines[-1][:3].isdigit() else lines[-1]
        return Reply(code, "\n".join(l[4:] for l in lines))

    def send(self, data):
        """Sends bytes or a command line (CRLF added)."""
        if isinstance(data, str):
            data = data.encode() + b"\r\n"
        self.sock.sendall(data)

    def cmd(self, line):
        try:
            self.send(line)
        except (BrokenPipeError, ConnectionError):
            return Reply("closed")
        return self.reply()

    def closed_by_peer(self):
        """True when the server has closed the connection (a read gets end of file)."""
        try:
            return self.sock.recv(1) == b""
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionError:
            return True

    def close(self):
        self.sock.close()


def _lab_smtp(self, target, source=None, timeout=5.0):
    """An smtplib.SMTP connected to a lab host's SMTP port from a lab host's address
    (default: 127.0.0.1, which counts as the vantage host)."""
    src = self.addr(source) if source else "127.0.0.1"
    return smtplib.SMTP(self.addr(target), self.smtp_port, source_address=(src, 0), timeout=timeout)


def _lab_wire(self, target, source=None, timeout=1.0):
    """A raw SmtpWire to a lab host's SMTP port (see SmtpWire)."""
    src = self.addr(source) if source else "127.0.0.1"
    return SmtpWire(src, self.addr(target), self.smtp_port, timeout)


def _lab_swaks(self, target, *args, source=None, timeout=5):
    """Runs swaks against a lab host's SMTP port, bound to a lab host's address
    (--local-interface); returns the CompletedProcess (stdout has the transcript)."""
    cmd = ["swaks", "--server", self.addr(target), "--port", str(self.smtp_port),
           "--timeout", str(timeout), "--hide-informational"]
    if source:
        cmd += ["--local-interface", self.addr(source)]
    cmd += list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60 + timeout)


def _lab_api_raw(self, method, path, body=None):
    """Calls the control API; returns (status, content type, bytes) without decoding."""
    url = self.info["api"] + "/api/v1" + path
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", "Bearer " + self.info["token"])
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def _quote(address):
    return urllib.parse.quote(address, safe="@")


def _lab_mailbox(self, address, folder=None):
    """The messages the API lists for a mailbox (summaries)."""
    path = "/mailboxes/%s/messages" % _quote(address) + ("?folder=" + folder if folder else "")
    return self.api("GET", path, expect=200)[1]["messages"]


def _lab_message(self, address, message_id):
    """The RFC 5322 source of a stored message (`?raw=1`), as text."""
    status, ctype, data = self.api_raw("GET", "/mailboxes/%s/messages/%s?raw=1" % (_quote(address), message_id))
    if status != 200:
        raise AssertionError("raw message %s of %s: %s %s" % (message_id, address, status, data[:200]))
    return data.decode("utf-8", "replace")


def _lab_queue(self, host):
    """The messages in one host's outbound queue (as GET /queues lists them)."""
    for q in self.api("GET", "/queues", expect=200)[1]["queues"]:
        if q["host"].lower() == host.lower():
            return q["messages"]
    raise KeyError(host)


def _lab_submit(self, expect=201, **message):
    """POST /messages; returns the decoded answer."""
    return self.api("POST", "/messages", message, expect=expect)[1]


def _lab_log_entries(self, since=0):
    """Every entry of GET /log after `since` (paging through)."""
    out = []
    while True:
        page = self.api("GET", "/log?since=%d" % since, expect=200)[1]
        out += page["entries"]
        if not page["entries"] or page["entries"][-1]["seq"] >= page["last"]:
            return out
        since = page["entries"][-1]["seq"]


def _lab_wait(self, predicate, what="the condition", timeout=20.0, advance=0, interval=0.05):
    """Polls `predicate` (usually an API read) until it returns something true and
    returns that. With `advance`, moves the lab clock on by that many seconds
    between polls, for waits that lab-time time-outs end. Real time only bounds
    the loop; nothing is asserted about it."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting for %s" % what)
        if advance:
            self.advance(advance)
        time.sleep(interval)


Lab.smtp = _lab_smtp
Lab.wire = _lab_wire
Lab.swaks = _lab_swaks
Lab.api_raw = _lab_api_raw
Lab.mailbox = _lab_mailbox
Lab.message = _lab_message
Lab.queue = _lab_queue
Lab.submit = _lab_submit
Lab.log_entries = _lab_log_entries
Lab.wait = _lab_wait


class SmtpSink:
    """A scripted SMTP server of the test's own, on an address that belongs to no
    lab host (e.g. 127.N.9.9, where mailflow.toml routes sink.example): it keeps
    what a lab relay sends, byte for byte. `replies` overrides the answer to a
    verb ("MAIL", "RCPT", "DATA", "DOT" for the end of data), e.g.
    {"RCPT": "550 5.1.1 no such user"}. Sessions are served one at a time."""

    def __init__(self, address, port, replies=None, ehlo=("PIPELINING", "SIZE 10485760", "8BITMIME")):
        import threading
        self.address = address
        self.replies = dict(replies or {})
        self.ehlo = ehlo
        self.sessions = []  # {"peer", "commands": [str], "data": bytes or None}
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((address, port))
        self.listener.listen(16)
        self.listener.settimeout(0.1)
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self.stopped = True
        self.thread.join(10)
        self.listener.close()

    def _run(self):
        while not self.stopped:
            try:
                conn, peer = self.listener.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            with conn:
                try:
                    self._session(conn, peer)
                except (OSError, ValueError):
                    pass

    def _session(self, conn, peer):
        conn.settimeout(10)
        s = {"peer": peer[0], "commands": [], "data": None}
        self.sessions.append(s)
        f = conn.makefile("rb")
        say = lambda text: conn.sendall(text.encode() + b"\r\n")
        say("220 sink.example ESMTP test sink")
        accepted = 0
        while not self.stopped:
            line = f.readline(4096)
            if not line:
                return
            cmd = line.rstrip(b"\r\n").decode("latin-1")
            s["commands"].append(cmd)
            verb = re.split(r"[ :]", cmd, 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                lines = ["sink.example"] + list(self.ehlo if verb == "EHLO" else ())
                conn.sendall("".join("250%s%s\r\n" % ("-" if i + 1 < len(lines) else " ", l)
                                     for i, l in enumerate(lines)).encode())
            elif verb == "MAIL":
                say(self.replies.get("MAIL", "250 2.1.0 Ok"))
            elif verb == "RCPT":
                r = self.replies.get("RCPT", "250 2.1.5 Ok")
                accepted += r.startswith("2")
                say(r)
            elif verb == "DATA":
                if not accepted:
                    say("554 5.5.1 Error: no valid recipients")
                    continue
                r = self.replies.get("DATA", "354 End data with <CR><LF>.<CR><LF>")
                say(r)
                if not r.startswith("3"):
                    continue
                data = b""
                while True:
                    chunk = f.readline(65536)
                    if not chunk:
                        s["data"] = data
                        return
                    if chunk == b".\r\n":
                        break
                    data += chunk
                s["data"] = data
                say(self.replies.get("DOT", "250 2.0.0 Ok: queued as SINK%d" % len(self.sessions)))
            elif verb == "RSET" or verb == "NOOP":
                say("250 2.0.0 Ok")
            elif verb == "QUIT":
                say("221 2.0.0 Bye")
                return
            else:
                say("502 5.5.2 Error: command not recognized")


def _lab_sink(self, address="127.25.9.9", **kw):
    """An SmtpSink on `address` (moved into this lab's prefix) at the lab's SMTP port."""
    return SmtpSink(self.addr(address), self.smtp_port, **kw)


Lab.sink = _lab_sink
