"""mailsim's DNS against NSD's: the same zones, the same queries, the same answers.

One lab serves tests/data/scenarios/differential.toml; its zones are read back
through the API (each record's `text` is master-file form) and written out as
NSD zone files, and NSD serves them on an unused address of the same prefix.
Each query of the matrix goes to both, through dig (or as a raw packet where dig
cannot say it), and the answers must agree: RCODE, the flags that matter, the
question, every section as a set of records, and the EDNS version, DO bit and
UDP size. The differences mailsim means to have are in KNOWN_DIFFERENCES, with
the reason for each, and only those exact cases are skipped (mailsim's side of
them is still checked). docs/dns-differences.md carries the same table.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from labtest import Lab, Message, dns_query, udp_exchange, tcp_exchange, WireError

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(HERE, "..", "data", "scenarios", "differential.toml")
NSD_HOST = "127.25.250.53"  # inside the lab's prefix, in no segment, never used by the lab
FLAGS = {"qr", "aa", "tc", "rd", "ra", "cd", "ad"}

# The differences mailsim means to have: case id -> (the reason, what mailsim must answer instead).
# The check gets mailsim's normalised answer (see normalise_dig / normalise_raw). Only these
# exact cases skip the comparison; docs/dns-differences.md has the same table for users.
ECHO = "mailsim echoes the question in FORMERR and NOTIMP replies, so that dig and the lab log " \
       "show what was refused; NSD sends a bare header"


def echoed(rcode):
    return lambda a: a["rcode"] == rcode and len(a["question"]) == 1


KNOWN_DIFFERENCES = {
    # header bits
    "cd-flag": ("mailsim copies the CD bit into the reply, as RFC 4035 3.1.6 asks; NSD clears it",
                lambda a: "cd" in a["flags"] and a["rcode"] == "NOERROR" and a["answer"]),
    "cd-flag-tcp": ("mailsim copies the CD bit into the reply, as RFC 4035 3.1.6 asks; NSD clears it",
                    lambda a: "cd" in a["flags"] and a["rcode"] == "NOERROR" and a["answer"]),
    # opcodes other than QUERY
    "opcode-iquery": ("IQUERY (opcode 1) is NOTIMP in both; " + ECHO, echoed("NOTIMP")),
    "opcode-status": ("STATUS (opcode 2) is NOTIMP in both; " + ECHO, echoed("NOTIMP")),
    "opcode 3 (unassigned)": ("an unassigned opcode is NOTIMP in both; " + ECHO, echoed("NOTIMP")),
    "opcode 15": ("an unassigned opcode is NOTIMP in both; " + ECHO, echoed("NOTIMP")),
    "opcode-notify": ("mailsim has no secondaries and takes no zone updates: NOTIFY (opcode 4) is NOTIMP, "
                      "with the question; NSD handles NOTIFY and REFUSES one for a zone it is not secondary for",
                      echoed("NOTIMP")),
    "opcode-update": ("UPDATE (opcode 5) is NOTIMP in both; " + ECHO, echoed("NOTIMP")),
    # malformed queries
    "qdcount0-opt": ("a query without a question is FORMERR, with or without an OPT record; NSD answers "
                     "NOERROR to the OPT-only form (a DNS-cookie probe, RFC 7873 5.4), which mailsim "
                     "does not support", lambda a: a["rcode"] == "FORMERR" and not a["question"]),
    "qdcount2": ("more than one question is FORMERR in both; " + ECHO.replace("the question", "the first question"), echoed("FORMERR")),
    "query-with-rcode": ("a query with an RCODE set is FORMERR in both; " + ECHO, echoed("FORMERR")),
    "query-with-answer": ("a query with an answer record is FORMERR in both; " + ECHO, echoed("FORMERR")),
    "two OPT records": ("two OPT records are FORMERR in both (RFC 6891 6.1.1); " + ECHO, echoed("FORMERR")),
    "OPT with a non-root owner": ("an OPT not owned by the root is FORMERR in both; " + ECHO, echoed("FORMERR")),
    "OPT option runs past rdata": ("a malformed EDNS option is FORMERR in both; " + ECHO, echoed("FORMERR")),
    # the CHAOS class
    "chaos-version": ("mailsim does not identify itself: any CH-class query is REFUSED; NSD answers "
                      "version.bind", lambda a: a["rcode"] == "REFUSED" and not a["answer"]),
    "chaos-version-tcp": ("mailsim does not identify itself: any CH-class query is REFUSED; NSD answers "
                          "version.bind", lambda a: a["rcode"] == "REFUSED" and not a["answer"]),
    "chaos-id-server": ("mailsim does not identify itself: any CH-class query is REFUSED; NSD answers "
                        "id.server", lambda a: a["rcode"] == "REFUSED" and not a["answer"]),
}


def nsd_skip_reason():
    if not shutil.which("nsd"):
        return "nsd is not installed (Debian: apt-get install nsd); the differential test needs it"
    return None


def normalise_dig(text):
    """The parts of dig's output that must agree between two servers."""
    out = {"timed_out": False, "rcode": None, "flags": set(), "question": [], "answer": [], "authority": [],
           "additional": [], "edns": None, "opcode": None, "failed": None}
    if "Transfer failed" in text or "connection refused" in text.lower():
        out["failed"] = "transfer failed" if "Transfer failed" in text else "refused"
    m = re.search(r"opcode: (\w+), status: (\w+)", text)
    if not m:
        out["timed_out"] = out["failed"] is None
        return out
    out["opcode"], out["rcode"] = m.group(1), m.group(2)
    m = re.search(r";; flags: ([\w ]*);", text)
    out["flags"] = set(m.group(1).split()) & FLAGS if m else set()
    m = re.search(r"; EDNS: version: (\d+), flags: ?([\w ]*); udp: (\d+)", text)
    if m:
        out["edns"] = (int(m.group(1)), "do" in m.group(2).split(), int(m.group(3)))
    section = None
    for line in text.splitlines():
        h = re.match(r";; (\w+) SECTION:", line)
        if h:
            section = h.group(1).lower()
            continue
        if not line.strip():
            section = None
            continue
        if section == "question" and line.startswith(";"):
            out["question"].append(tuple(line[1:].split()))  # case kept: the 0x20 check needs it
        elif section in ("answer", "authority", "additional") and not line.startswith(";"):
            f = line.split(None, 4)
            out[section].append((f[0].lower(), int(f[1]), f[2], f[3], f[4] if len(f) > 4 else ""))
    for s in ("answer", "authority", "additional"):
        out[s] = sorted(out[s])
    return out


def normalise_raw(reply):
    """The same parts, from a raw reply (bytes or None)."""
    out = {"timed_out": reply is None, "rcode": None, "flags": set(), "question": [], "answer": [],
           "authority": [], "additional": [], "edns": None, "opcode": None, "failed": None}
    if reply is None:
        return out
    try:
        m = Message(reply)
    except WireError as e:
        out["failed"] = "unparsable reply: %s" % e
        return out
    out["rcode"] = m.rcode
    out["opcode"] = m.opcode
    out["flags"] = m.flags & FLAGS
    out["question"] = [(n, t, c) for n, t, c in m.question]
    for s in ("answer", "authority", "additional"):
        out[s] = sorted((r[0].lower(), r[3], r[2], r[1], str(r[4])) for r in m.records(s))
    if m.opt:
        out["edns"] = (m.opt["version"], m.opt["do"], m.opt["udp"])
    return out


# --- the matrix ------------------------------------------------------------
# ("dig", id, name, type, [dig options]) or ("raw", id, "udp"|"tcp", packet).

def dig_cases(rev):
    d = "diff.example"
    cases = []

    def add(cid, name, rtype, *opts):
        cases.append(("dig", cid, name, rtype, list(opts)))

    for n in [d, "www." + d, "ns1." + d, "ns2." + d, "deep.a.b." + d, "a.b." + d, "b." + d, "nope." + d,
              "x.y.nope." + d, "many." + d]:
        add("A " + n, n, "A")
    for n in ["www." + d, "mx1." + d, d, "nope." + d, "ns2." + d]:
        add("AAAA " + n, n, "AAAA")
    for n in [d, "mail." + d, "www." + d, "nope." + d]:
        add("MX " + n, n, "MX")
    for n in [d, "www." + d, "sub." + d]:
        add("NS " + n, n, "NS")
    for n in [d, "www." + d, "sub." + d, rev]:
        add("SOA " + n, n, "SOA")
    for n in ["alias." + d, "chain1." + d, "www." + d, "loop1." + d]:
        add("CNAME " + n, n, "CNAME")
    # CNAME chasing
    for n, t in [("alias", "A"), ("alias", "AAAA"), ("alias", "TXT"), ("chain1", "A"), ("chain1", "AAAA"),
                 ("chain1", "MX"), ("outside", "A"), ("dangling", "A"), ("loop1", "A"), ("chain2", "ANY")]:
        add("%s %s." % (t, n) + d, n + "." + d, t)
    # referrals below the delegation
    for n, t in [("sub", "A"), ("host.sub", "A"), ("ns.sub", "A"), ("x.host.sub", "MX"), ("sub", "DS"),
                 ("sub", "ANY")]:
        add("%s %s (referral)" % (t, n), n + "." + d, t)
    add("DS apex", d, "DS")
    # across zones of the same server
    add("MX target in another zone", "xmx." + d, "MX")
    add("delegation to a server in another zone", "xzone." + d, "NS")
    add("CNAME into another zone", "xcname." + d, "A")
    add("CNAME into another zone and back", "xcname2." + d, "A")
    add("CNAME into another zone and back tcp", "xcname2." + d, "A", "+tcp")
    add("A other zone", "www.other.example", "A")
    add("DNSKEY apex", d, "DNSKEY")
    add("RRSIG www", "www." + d, "RRSIG")
    add("NSEC www", "www." + d, "NSEC")
    # names and data that are easy to get wrong on the way through the zone text
    for n, t in [("MixedCase", "A"), ("mixedcase", "A"), ("mxsub", "MX"), ("mxcname", "MX"), ("_sip._tcp", "TXT"),
                 ("zero", "A"), ("long", "A"), ("utf8", "TXT"), ("esc\\.dot", "A"), ("x.wild", "A"),
                 ("*.wild", "A"), ("wild", "A"), ("deep.x.wild", "A"), ("x.wild", "MX")]:
        add("%s %s." % (t, n) + d, n + "." + d, t)
    for n in ["www." + d, "txt." + d, d, "empty." + d, "bigtxt." + d]:
        add("TXT " + n, n, "TXT", "+ignore")
    for n in ["53.10." + rev, "25.10." + rev, "99.10." + rev, "10." + rev, rev, "1.2.3." + rev]:
        add("PTR " + n, n, "PTR")
    add("NS " + rev, rev, "NS")
    for n in [d, "www." + d, "mail." + d, "nope." + d, "alias." + d, "a.b." + d]:
        add("ANY " + n, n, "ANY")
        add("ANY %s tcp" % n, n, "ANY", "+tcp")
    # TCP
    for n, t in [(d, "MX"), ("www." + d, "A"), ("nope." + d, "A"), ("bigtxt." + d, "TXT"), ("many." + d, "A"),
                 ("alias." + d, "A"), ("sub." + d, "A")]:
        add("%s %s tcp" % (t, n), n, t, "+tcp")
    # EDNS
    add("no EDNS", "www." + d, "A", "+noedns")
    add("no EDNS MX", d, "MX", "+noedns")
    add("DO bit", "www." + d, "A", "+dnssec")
    add("DO bit NXDOMAIN", "nope." + d, "A", "+dnssec")
    add("DO bit tcp", d, "MX", "+dnssec", "+tcp")
    add("EDNS version 1", "www." + d, "A", "+edns=1", "+noednsnegotiation")
    add("EDNS version 1 DO", "www." + d, "A", "+edns=1", "+noednsnegotiation", "+dnssec")
    add("EDNS version 1 out of zone", "www.example.org", "A", "+edns=1", "+noednsnegotiation")
    add("bufsize 512", d, "MX", "+bufsize=512")
    add("bufsize 0", d, "MX", "+bufsize=0")
    add("EDNS option (NSID)", "www." + d, "A", "+nsid")
    # truncation
    add("many no EDNS", "many." + d, "A", "+noedns", "+ignore")
    add("many bufsize 600", "many." + d, "A", "+bufsize=600", "+ignore")
    add("many EDNS", "many." + d, "A", "+ignore")
    add("bigtxt no EDNS", "bigtxt." + d, "TXT", "+noedns", "+ignore")
    add("bigtxt bufsize 4096", "bigtxt." + d, "TXT", "+bufsize=4096", "+ignore")
    add("bigtxt retry over TCP", "bigtxt." + d, "TXT", "+noedns")
    add("MX no EDNS fits", d, "MX", "+noedns", "+ignore")
    add("MX additional too big", "bigmx." + d, "MX", "+noedns", "+ignore")
    add("MX additional too big, EDNS", "bigmx." + d, "MX", "+ignore")
    add("MX additional too big, tcp", "bigmx." + d, "MX", "+tcp")
    add("referral glue too big", "x.bigsub." + d, "A", "+noedns", "+ignore")
    add("referral glue too big, EDNS", "x.bigsub." + d, "A", "+ignore")
    add("referral glue too big, bufsize 700", "x.bigsub." + d, "A", "+bufsize=700", "+ignore")
    add("referral glue too big, tcp", "x.bigsub." + d, "A", "+tcp")
    add("NS bigsub", "bigsub." + d, "NS", "+noedns", "+ignore")
    # header bits
    add("cd-flag", "www." + d, "A", "+cd")
    add("cd-flag-tcp", "www." + d, "A", "+cd", "+tcp")
    add("ad flag", "www." + d, "A", "+adflag")
    add("rd flag", "www." + d, "A", "+rec")
    add("rd flag out of zone", "www.example.org", "A", "+rec")
    add("opcode-iquery", "www." + d, "A", "+opcode=1", "+noedns")
    add("opcode-status", "www." + d, "A", "+opcode=2", "+noedns")
    # classes
    add("chaos-version", "version.bind", "TXT", "-c", "CH")
    add("chaos-version-tcp", "version.bind", "TXT", "-c", "CH", "+tcp")
    add("chaos-id-server", "id.server", "TXT", "-c", "CH")
    add("CH A in zone", "www." + d, "A", "-c", "CH")
    add("HS A", "www." + d, "A", "-c", "HS")
    add("class ANY A", "www." + d, "A", "-c", "ANY")
    add("class ANY nxdomain", "nope." + d, "A", "-c", "ANY")
    add("class ANY MX", d, "MX", "-c", "ANY")
    # outside the zones
    for n in ["www.example.org", "example", ".", "diff.example.org", "in-addr.arpa"]:
        add("out of zone " + n, n, "A")
    # case (0x20): the question comes back as sent, and the data is the same
    add("0x20 A", "WwW.DiFf.ExAmPlE", "A")
    add("0x20 MX", "DIFF.example", "MX")
    add("0x20 nxdomain", "NoPe.DiFf.ExAmPlE", "A")
    add("0x20 cname", "AlIaS.dIfF.eXaMpLe", "A")
    add("0x20 PTR", ("53.10." + rev).upper(), "PTR")
    # zone transfers
    add("AXFR tcp", d, "AXFR")
    add("IXFR tcp", d, "IXFR=2026112600", "+tcp")
    # unknown types
    add("type 99 (SPF)", "www." + d, "TYPE99")
    add("type 65535", "www." + d, "TYPE65535")
    add("type 0", "www." + d, "TYPE0")
    return cases


def raw_cases():
    d = "diff.example"

    def with_header(packet, flags=None, qd=None, an=None, ar=None):
        b = bytearray(packet)
        if flags is not None:
            b[2:4] = flags.to_bytes(2, "big")
        if qd is not None:
            b[4:6] = qd.to_bytes(2, "big")
        if an is not None:
            b[6:8] = an.to_bytes(2, "big")
        if ar is not None:
            b[10:12] = ar.to_bytes(2, "big")
        return bytes(b)

    q = dns_query("www." + d, "A")
    opt = b"\0\0\x29\x04\xd0\0\0\0\0\0\0"  # root owner, udp 1232, no options
    rr = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01"
    return [
        ("raw", "opcode-notify", "udp", dns_query(d, "SOA", opcode=4)),
        ("raw", "opcode-update", "udp", dns_query(d, "SOA", opcode=5)),
        ("raw", "opcode 3 (unassigned)", "udp", dns_query(d, "SOA", opcode=3)),
        ("raw", "opcode 15", "udp", dns_query(d, "SOA", opcode=15)),
        ("raw", "qdcount0", "udp", q[:4] + b"\0\0\0\0\0\0\0\0"),
        ("raw", "qdcount0-opt", "udp", q[:4] + b"\0\0\0\0\0\0\0\x01" + b"\0\0\x29\x04\xd0\0\0\0\0\0\0"),
        ("raw", "qdcount2", "udp", with_header(q + q[12:], qd=2)),
        ("raw", "qr set (a response)", "udp", with_header(q, flags=0x8000)),
        ("raw", "query-with-rcode", "udp", with_header(q, flags=0x0003)),
        ("raw", "query-with-answer", "udp", with_header(q + rr, an=1)),
        ("raw", "AXFR udp", "udp", dns_query(d, "AXFR")),
        ("raw", "IXFR udp", "udp", dns_query(d, "IXFR")),
        ("raw", "AXFR tcp raw", "tcp", dns_query(d, "AXFR")),
        ("raw", "two OPT records", "udp", with_header(dns_query("www." + d, "A", edns=1232) + opt, ar=2)),
        ("raw", "OPT with a non-root owner", "udp", with_header(q + b"\x01x" + opt[1:], ar=1)),
        ("raw", "OPT option runs past rdata", "udp",
         with_header(q + b"\0\0\x29\x04\xd0\0\0\0\0\0\x04\0\x03\0\x08", ar=1)),
        ("raw", "EDNS udp 100", "udp", dns_query(d, "MX", edns=100)),
        ("raw", "compressed question name", "udp", with_header(q[:12] + b"\xc0\x02" + q[-4:])),
        ("raw", "class NONE", "udp", dns_query("www." + d, "A", rclass="NONE")),
        ("raw", "class 0", "udp", dns_query("www." + d, "A", rclass=0)),
    ]


class DifferentialTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        reason = nsd_skip_reason()
        if reason:
            raise unittest.SkipTest(reason)
        cls.lab = Lab(SCENARIO)
        cls.lab.start()
        try:
            cls._start_nsd()
        except Exception:
            cls.lab.stop()
            raise

    @classmethod
    def _start_nsd(cls):
        lab = cls.lab
        cls.dir = tempfile.mkdtemp(prefix="mailsim-nsd-")
        cls.nsd_addr = lab.addr(NSD_HOST)
        conf = ["server:",
                "  ip-address: %s@%d" % (cls.nsd_addr, lab.dns_port),
                "  do-ip6: no",
                '  username: ""',
                '  chroot: ""',
                "  zonesdir: %s" % cls.dir,
                "  pidfile: %s/nsd.pid" % cls.dir,
                "  xfrdfile: %s/xfrd.state" % cls.dir,
                "  zonelistfile: %s/zone.list" % cls.dir,
                '  database: ""',
                "  verbosity: 0",
                "  rrl-ratelimit: 0",
                "  server-count: 1",
                "",
                "remote-control:",
                "  control-enable: no",
                ""]
        zones = lab.api("GET", "/zones", expect=200)[1]["zones"]
        cls.origins = [z["origin"] for z in zones]
        for origin in cls.origins:
            records = lab.api("GET", "/zones/" + origin, expect=200)[1]["records"]
            with open(os.path.join(cls.dir, origin + ".zone"), "w") as f:
                for r in records:
                    f.write(r["text"] + "\n")
            conf += ["zone:", "  name: %s" % origin, "  zonefile: %s.zone" % origin, ""]
        with open(os.path.join(cls.dir, "nsd.conf"), "w") as f:
            f.write("\n".join(conf))
        cls.nsd_log = open(os.path.join(cls.dir, "nsd.log"), "w+")
        cls.nsd = subprocess.Popen(["nsd", "-d", "-c", os.path.join(cls.dir, "nsd.conf")],
                                   stdout=cls.nsd_log, stderr=subprocess.STDOUT)
        probe = dns_query("diff.example", "SOA")
        for _ in range(50):  # bounded: about 10 s at most
            if cls.nsd.poll() is not None:
                break
            if udp_exchange(cls.nsd_addr, lab.dns_port, probe, timeout=0.2):
                return
        cls._stop_nsd()
        cls.nsd_log.seek(0)
        raise AssertionError("nsd did not start: " + cls.nsd_log.read())

    @classmethod
    def _stop_nsd(cls):
        if cls.nsd.poll() is None:
            cls.nsd.terminate()
            try:
                cls.nsd.wait(10)
            except subprocess.TimeoutExpired:
                cls.nsd.kill()
                cls.nsd.wait()
        cls.nsd_log.close()

    @classmethod
    def tearDownClass(cls):
        cls._stop_nsd()
        shutil.rmtree(cls.dir, ignore_errors=True)
        cls.lab.stop()

    # --- helpers -----------------------------------------------------------
    def reverse_origin(self):
        rev = [o for o in self.origins if o.endswith("in-addr.arpa")]
        self.assertEqual(rev, ["%d.127.in-addr.arpa" % self.lab.octet], "the reverse zone moves with the prefix")
        return rev[0]

    def ask_dig(self, server, name, rtype, opts):
        cmd = ["dig", "@" + server, "-p", str(self.lab.dns_port), "-b", self.lab.addr("CLIENT"), name, rtype,
               "+time=1", "+tries=1", "+norecurse"] + opts
        # +norecurse comes first so that +rec in opts wins
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout

    def ask_raw(self, server, transport, packet):
        src = self.lab.addr("CLIENT")
        if transport == "tcp":
            return tcp_exchange(server, self.lab.dns_port, packet, src, timeout=2.0)
        return udp_exchange(server, self.lab.dns_port, packet, src, timeout=0.5)

    def compare(self, case):
        kind, cid = case[0], case[1]
        mailsim_addr = self.lab.addr("NS")
        if kind == "dig":
            _, _, name, rtype, opts = case
            texts = [self.ask_dig(s, name, rtype, opts) for s in (mailsim_addr, self.nsd_addr)]
            ours, theirs = [normalise_dig(t) for t in texts]
        else:
            _, _, transport, packet = case
            replies = [self.ask_raw(s, transport, packet) for s in (mailsim_addr, self.nsd_addr)]
            texts = [repr(r) for r in replies]
            ours, theirs = [normalise_raw(r) for r in replies]
        return cid, ours, theirs, texts

    def check_cases(self, cases):
        for case in cases:
            cid, ours, theirs, texts = self.compare(case)
            with self.subTest(case=cid):
                if cid in KNOWN_DIFFERENCES:
                    reason, expect = KNOWN_DIFFERENCES[cid]
                    self.assertTrue(expect(ours), "%s: mailsim should answer as documented (%s):\n%s"
                                    % (cid, reason, texts[0]))
                    self.skipTest("intended difference: " + reason)
                self.assertFalse(ours["timed_out"] and theirs["timed_out"] and case[0] == "dig",
                                 "%s: neither server answered" % cid)
                self.assertEqual(ours, theirs, "%s differs.\n--- mailsim:\n%s\n--- NSD:\n%s" % (cid, texts[0], texts[1]))
        self.assertTrue(self.lab.alive(), "mailsim died")
        self.assertEqual(self.lab.sanitizer_reports(), [])

    # --- tests -------------------------------------------------------------
    def test_known_differences_are_all_exercised(self):
        ids = {c[1] for c in dig_cases(self.reverse_origin()) + raw_cases()}
        self.assertEqual(set(KNOWN_DIFFERENCES) - ids, set(), "table entries with no case")
        doc = os.path.join(HERE, "..", "..", "docs", "dns-differences.md")
        with open(doc) as f:
            text = f.read()
        for cid in KNOWN_DIFFERENCES:
            self.assertIn("`%s`" % cid, text, "docs/dns-differences.md does not list %s" % cid)

    def test_zone_files_round_trip(self):
        """NSD loaded every record mailsim serves (a SOA query for each zone, same serial)."""
        for origin in self.origins:
            cid, ours, theirs, texts = self.compare(("dig", "SOA " + origin, origin, "SOA", []))
            self.assertEqual(ours["rcode"], "NOERROR", texts[0])
            self.assertEqual(ours["answer"], theirs["answer"])

    def test_matrix_lookups(self):
        self.check_cases([c for c in dig_cases(self.reverse_origin())
                          if "+tcp" not in c[4] and c[3] != "AXFR" and "wild" not in c[1]
                          and not c[1].startswith(("0x20", "chaos", "CH ", "HS ", "class ", "opcode", "cd-"))])

    def test_matrix_wildcards(self):
        """`*.wild IN A` covers x.wild and deep.x.wild (RFC 1034 4.3.3, RFC 4592), as NSD answers."""
        self.check_cases([c for c in dig_cases(self.reverse_origin()) if "wild" in c[1]])

    def test_matrix_tcp(self):
        self.check_cases([c for c in dig_cases(self.reverse_origin()) if "+tcp" in c[4] or c[3] == "AXFR"])

    def test_matrix_header_bits_and_classes(self):
        self.check_cases([c for c in dig_cases(self.reverse_origin())
                          if c[1].startswith(("chaos", "CH ", "HS ", "class ", "opcode", "cd-")) and "+tcp" not in c[4]])

    def test_matrix_case_variation(self):
        cases = [c for c in dig_cases(self.reverse_origin()) if c[1].startswith("0x20")]
        self.check_cases(cases)
        # And the question comes back with the case it was sent in.
        for case in cases:
            _, _, name, rtype, opts = case
            out = normalise_dig(self.ask_dig(self.lab.addr("NS"), name, rtype, opts))
            self.assertEqual(out["question"][0][0], name.rstrip(".") + ".", case[1])

    def test_matrix_raw_packets(self):
        self.check_cases(raw_cases())


if __name__ == "__main__":
    unittest.main()
