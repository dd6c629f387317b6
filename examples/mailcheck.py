#!/usr/bin/env python3
"""mailcheck: a small, honest mail-path diagnostic tool (Python 3.11 standard library only).

It looks at a mail network the way an administrator's script would: it asks
the DNS server for the records that should be there, connects to every SMTP
host and walks the dialogue (banner, EHLO, MAIL, RCPT, DATA), and probes which
hosts can reach which (binding each host's address, as `dig -b` and
`swaks --local-interface` do). It compares what it sees with what the network
should look like and prints its findings as JSON for `mailsim check-tool`:

    {"findings": [{"kind": "dns.bad_a_record", "target": "exch1.corp.example"}, ...]}

What the network should look like comes from an inventory. A real team keeps
one (hosts, addresses, zones, mailboxes); in the lab, mailcheck reads it from
the scenario's design tables ([[segment]], [[router]], [[link]], [[host]],
[[zone]]). It never reads [[fault]], [expect] or [trainer], and never calls the
lab's control API: everything it reports, it observed over the network.

What it can find (see docs/check-tool.md for why the others are out of reach):
  dns.server_down dns.servfail dns.slow dns.truncated dns.bad_a_record
  dns.missing_a_record dns.bad_mx dns.missing_mx
  smtp.port_closed smtp.filtered smtp.stall smtp.disconnect smtp.reject
  smtp.tempfail smtp.rate_limit smtp.size_limit smtp.recipient_limit
  smtp.relay_denied mailbox.missing_address imc.stopped
  net.wrong_gateway net.wrong_address net.ip_routing_disabled net.link_down

Usage (placeholders filled by mailsim check-tool):
    mailcheck.py --dns {dns} --smtp-port {smtp_port} --vantage-addr {vantage_addr} --inventory {scenario}
"""
import argparse
import concurrent.futures
import ipaddress
import json
import os
import random
import re
import socket
import struct
import sys
import time
import tomllib

# Loopback answers in well under a millisecond; these leave room for a loaded machine.
CONNECT_TIMEOUT = 0.4     # the kernel completes a TCP handshake; a dropped SYN never does
REPLY_TIMEOUT = 1.0       # an SMTP reply (the server's own code must run)
DNS_TIMEOUT = 0.5
FAST, LATE = 0.15, 0.6    # a DNS server is slow when some answers come within FAST and others after LATE

# --- the inventory ---------------------------------------------------------


def _merge(base, later):
    """Merges TOML documents the way scenario includes do: tables merge, arrays of tables append."""
    for key, value in later.items():
        if key in base and isinstance(base[key], dict) and isinstance(value, dict):
            _merge(base[key], value)
        elif key in base and isinstance(base[key], list) and isinstance(value, list) and value and isinstance(value[0], dict):
            base[key] = base[key] + value
        else:
            base[key] = value
    return base


def load_design(path, seen=()):
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    merged = {}
    for inc in doc.get("include", []):
        sub = os.path.normpath(os.path.join(os.path.dirname(path), inc))
        if sub not in seen:
            _merge(merged, load_design(sub, seen + (path,)))
    return _merge(merged, doc)


def parse_zone(text, origin):
    """The A and MX records of master-file text: [(owner, type, data)]. Enough of RFC 1035 for inventories."""
    origin = origin.rstrip(".").lower()
    lines, depth, current = [], 0, ""
    for raw in text.splitlines():
        line, quoted = "", False
        for ch in raw:
            if ch == '"':
                quoted = not quoted
            if ch == ";" and not quoted:
                break
            line += ch
        depth += line.count("(") - line.count(")")
        current += " " + line.replace("(", " ").replace(")", " ") if current else line.replace("(", " ").replace(")", " ")
        if depth <= 0:
            lines.append(current)
            current, depth = "", 0
    records, owner = [], origin

    def absolute(name):
        if name == "@":
            return origin
        if name.endswith("."):
            return name.rstrip(".").lower()
        return (name + "." + origin).lower() if origin else name.lower()

    for line in lines:
        if not line.strip():
            continue
        fields = line.split()
        if fields[0] == "$ORIGIN":
            origin = fields[1].rstrip(".").lower()
            continue
        if fields[0].startswith("$"):
            continue
        if not line[0].isspace():
            owner = absolute(fields[0])
            fields = fields[1:]
        while fields and (fields[0].isdigit() or fields[0].upper() in ("IN", "CH", "HS")):
            fields = fields[1:]
        if len(fields) < 2:
            continue
        rtype = fields[0].upper()
        if rtype == "A":
            records.append((owner, "A", fields[1]))
        elif rtype == "MX" and len(fields) >= 3:
            records.append((owner, "MX", absolute(fields[2])))
        elif rtype == "CNAME":
            records.append((owner, "CNAME", absolute(fields[1])))
    return records


class Inventory:
    """The design of the network, moved to the lab's prefix."""

    def __init__(self, path, lab_prefix):
        d = load_design(path)
        design_prefix = d.get("lab", {}).get("prefix", "127.25")
        self.move = lambda a: lab_prefix + a[len(design_prefix):] if a.startswith(design_prefix + ".") else a
        self.segments = [(s["name"], ipaddress.ip_network(self.move(s["cidr"].split("/")[0]) + "/" + s["cidr"].split("/")[1]))
                         for s in d.get("segment", [])]
        self.routers = [{"name": r["name"], "addresses": [self.move(a) for a in r.get("addresses", [])],
                         "ip_routing": r.get("ip_routing", True)} for r in d.get("router", [])]
        self.links = [{"between": l["between"], "up": l.get("up", True)} for l in d.get("link", [])]
        self.hosts = []
        for h in d.get("host", []):
            host = {"name": h["name"], "fqdn": h.get("fqdn", "").lower(), "address": self.move(h["address"]),
                    "gateway": self.move(h["gateway"]) if h.get("gateway") else None,
                    "dns_servers": [self.move(a) for a in h.get("dns_servers", [])],
                    "roles": h.get("roles", []), "smtp": h.get("smtp"), "exchange": h.get("exchange")}
            self.hosts.append(host)
        self.zones = []
        for z in d.get("zone", []):
            origin = z["origin"].rstrip(".").lower()
            recs = [(o, t, self.move(v) if t == "A" else v) for o, t, v in parse_zone(z.get("records", ""), origin)]
            self.zones.append({"origin": origin, "server": z["server"], "clients": z.get("clients", []), "records": recs})

    def host(self, name_or_address):
        for h in self.hosts:
            if name_or_address in (h["name"], h["address"]) or (h["fqdn"] and h["fqdn"] == name_or_address.lower()):
                return h
        return None

    def segment_of(self, address):
        a = ipaddress.ip_address(address)
        for name, net in self.segments:
            if a in net:
                return name
        return None

    def smtp_hosts(self):
        return [h for h in self.hosts if set(h["roles"]) & {"relay", "mailstore", "exchange"}]

    def dns_hosts(self):
        return [h for h in self.hosts if "dns" in h["roles"]]

    # Reachability as the design (or a variant of it) says: SPEC 2's model.
    def routes(self, variant, src, dst):
        hosts = variant["hosts"]
        if src == dst:
            return True
        s_seg, d_seg = self.segment_of(hosts[src]["address"]), self.segment_of(hosts[dst]["address"])
        if not s_seg or not d_seg:
            return False
        if s_seg == d_seg:
            return True
        gw = hosts[src]["gateway"]
        if not gw or self.segment_of(gw) != s_seg:
            return False
        routers = variant["routers"]
        first = next((i for i, r in enumerate(routers) if gw in r["addresses"]), None)
        if first is None:
            return False
        seen, todo = {first}, [first]
        while todo:
            i = todo.pop(0)
            r = routers[i]
            if not r["ip_routing"]:
                continue
            if any(self.segment_of(a) == d_seg for a in r["addresses"]):
                return True
            for j, other in enumerate(routers):
                if j in seen:
                    continue
                linked = any(set(l["between"]) == {r["name"], other["name"]} and l["up"] for l in variant["links"])
                shared = any(self.segment_of(a) and self.segment_of(a) == self.segment_of(b)
                             for a in r["addresses"] for b in other["addresses"])
                if linked or shared:
                    seen.add(j)
                    todo.append(j)
        return False

    def reachable(self, variant, src, dst):
        return self.routes(variant, src, dst) and self.routes(variant, dst, src)

    def variant(self):
        return {"hosts": {h["name"]: dict(h) for h in self.hosts},
                "routers": [dict(r) for r in self.routers],
                "links": [dict(l) for l in self.links],
                "moved": set(), "dns_down": set(), "smtp_filtered": set()}


# --- DNS -------------------------------------------------------------------


def _name(data, pos):
    labels, jumped, end = [], False, pos
    for _ in range(128):
        n = data[pos]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = pos + 2
            pos, jumped = (n & 0x3F) << 8 | data[pos + 1], True
            continue
        if n == 0:
            return ".".join(labels).lower(), (end if jumped else pos + 1)
        labels.append(data[pos + 1:pos + 1 + n].decode("latin-1"))
        pos += 1 + n
    raise ValueError("name loop")


def dns_query(server, port, name, qtype, source="127.0.0.1", tcp=False, timeout=DNS_TIMEOUT, copies=1):
    """One query (over UDP, `copies` sent at once; the first answer wins). Returns
    {'rcode', 'tc', 'answers': [(type, data)], 'time'} or None on a time-out;
    {'refused': True} when a TCP connection is refused."""
    types = {"A": 1, "MX": 15, "SOA": 6}
    qids = random.sample(range(65536), copies)
    qid = qids[0]
    question = b""
    for label in name.rstrip(".").split("."):
        question += bytes([len(label)]) + label.encode()
    question += b"\0" + struct.pack(">HH", types[qtype], 1)
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + question
    started = time.monotonic()
    try:
        if tcp:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((source, 0))
            s.settimeout(timeout)
            s.connect((server, port))
            s.sendall(struct.pack(">H", len(q)) + q)
            data = b""
            while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
                chunk = s.recv(65535)
                if not chunk:
                    break
                data += chunk
            s.close()
            data = data[2:]
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((source, 0))
            for i in qids:
                s.sendto(struct.pack(">HHHHHH", i, 0, 1, 0, 0, 0) + question, (server, port))
            deadline = started + timeout
            while True:
                s.settimeout(max(0.001, deadline - time.monotonic()))
                data, _ = s.recvfrom(65535)
                if len(data) >= 2 and struct.unpack(">H", data[:2])[0] in qids:
                    break
            s.close()
    except ConnectionRefusedError:
        return {"refused": True}
    except (socket.timeout, TimeoutError, OSError):
        return None
    elapsed = time.monotonic() - started
    try:
        _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", data[:12])
        pos = 12
        for _ in range(qd):
            _, pos = _name(data, pos)
            pos += 4
        answers = []
        for _ in range(an):
            _, pos = _name(data, pos)
            rtype, _, _, rdlen = struct.unpack(">HHIH", data[pos:pos + 10])
            pos += 10
            if rtype == 1 and rdlen == 4:
                answers.append(("A", socket.inet_ntoa(data[pos:pos + 4])))
            elif rtype == 15:
                answers.append(("MX", _name(data, pos + 2)[0]))
            elif rtype == 5:
                answers.append(("CNAME", _name(data, pos)[0]))
            pos += rdlen
    except (ValueError, IndexError, struct.error):
        return {"rcode": "FORMERR", "tc": False, "answers": [], "time": elapsed}
    rcodes = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}
    return {"rcode": rcodes.get(flags & 0xF, str(flags & 0xF)), "tc": bool(flags & 0x0200), "answers": answers,
            "time": elapsed}


def dns_burst(server, port, name, count):
    """Sends `count` SOA queries at once from one socket; the answer time of each query answered.
    Waits until every query is answered, or LATE + 0.2 s, or DNS_TIMEOUT if nothing answers at all."""
    question = b""
    for label in name.rstrip(".").split("."):
        question += bytes([len(label)]) + label.encode()
    question += b"\0" + struct.pack(">HH", 6, 1)
    ids = random.sample(range(65536), count)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    times = {}
    try:
        s.bind(("127.0.0.1", 0))
        started = time.monotonic()
        for i in ids:
            s.sendto(struct.pack(">HHHHHH", i, 0, 1, 0, 0, 0) + question, (server, port))
        while len(times) < count:
            now = time.monotonic() - started
            limit = (LATE + 0.2) if times else DNS_TIMEOUT
            if now >= limit:
                break
            s.settimeout(limit - now)
            try:
                data = s.recv(65535)
            except (socket.timeout, TimeoutError):
                break
            if len(data) >= 12:
                qid = struct.unpack(">H", data[:2])[0]
                if qid in ids and qid not in times:
                    times[qid] = time.monotonic() - started
    except OSError:
        pass
    finally:
        s.close()
    return list(times.values())


def check_dns(inv, server, port, vantage, findings, notes):
    """Asks the vantage's DNS server for every A and MX record the inventory says it serves."""
    host = inv.host(server)
    if not host:
        notes.append("the DNS server %s is not in the inventory" % server)
        return
    zones = [z for z in inv.zones if z["server"] == host["name"] and
             (not z["clients"] or (vantage and inv.segment_of(vantage["address"]) in z["clients"]))]
    if not zones:
        return
    probe = zones[0]["origin"]
    # Health: a dozen queries at once. A server that answers some at once and
    # others late (or never, within our patience) is slow; a loaded machine
    # delays them all alike. A second round must agree, so one hiccup of a
    # busy machine is no finding.
    def health():
        times = dns_burst(server, port, probe, 12)
        fast = [t for t in times if t < FAST]
        late = 12 - len(times) + len([t for t in times if t > LATE])
        return times, bool(fast) and late > 0

    answered, bimodal = health()
    if not answered:
        notes.append("DNS server %s (%s) does not answer from the vantage point" % (host["name"], server))
        return  # down or unreachable: the reachability probes decide which
    if bimodal and health()[1]:
        findings.add(("dns.slow", host["name"]))
    slow = ("dns.slow", host["name"]) in findings
    first = dns_query(server, port, probe, "SOA", timeout=LATE if slow else DNS_TIMEOUT, copies=4 if slow else 1)
    if first and first.get("tc") and not first.get("answers"):
        tcp = dns_query(server, port, probe, "SOA", tcp=True)
        if tcp is None or tcp.get("refused"):
            findings.add(("dns.truncated", host["name"]))
            return  # nothing else can be read from this server

    def ask(name, qtype):
        for _ in range(3 if slow else 1):
            r = dns_query(server, port, name, qtype, timeout=LATE if slow else DNS_TIMEOUT, copies=4 if slow else 1)
            if r and not r.get("refused"):
                if r["tc"] and not r["answers"]:
                    r = dns_query(server, port, name, qtype, tcp=True) or r
                return r
        return None

    checks = []
    for z in zones:
        owners = {}
        for owner, rtype, data in z["records"]:
            owners.setdefault((owner, rtype), set()).add(data)
        cnames = {o for (o, t) in owners if t == "CNAME"}
        for (owner, rtype), want in owners.items():
            if rtype == "A" and owner not in cnames and not owner.endswith(".in-addr.arpa"):
                checks.append((owner, "A", want, z["origin"]))
            elif rtype == "MX":
                checks.append((owner, "MX", want, z["origin"]))
        if not any(o == z["origin"] and t == "MX" for (o, t) in owners):
            pass  # no MX by design: nothing to check
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda c: (c, ask(c[0], c[1])), checks))
    for (owner, rtype, want, origin), r in results:
        if r is None:
            continue
        if r.get("rcode") == "SERVFAIL":
            findings.add(("dns.servfail", host["name"]))
            continue
        got = {d for t, d in r.get("answers", []) if t == rtype}
        if rtype == "A":
            if not got:
                findings.add(("dns.missing_a_record", owner))
            elif got != want:
                findings.add(("dns.bad_a_record", owner))
        else:
            if not got:
                findings.add(("dns.missing_mx", owner))
            elif {g.rstrip(".") for g in got} != {w.rstrip(".") for w in want}:
                findings.add(("dns.bad_mx", owner))


# --- SMTP ------------------------------------------------------------------


class Smtp:
    def __init__(self, address, port, source="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((source, 0))
        self.sock.settimeout(CONNECT_TIMEOUT)
        self.sock.connect((address, port))
        self.sock.settimeout(REPLY_TIMEOUT)
        self.buf = b""

    def reply(self):
        """(code, text) of the next reply; ('timeout', '') or ('closed', '')."""
        lines = []
        while True:
            while b"\n" not in self.buf:
                try:
                    chunk = self.sock.recv(4096)
                except (socket.timeout, TimeoutError):
                    return "timeout", ""
                except OSError:
                    return "closed", ""
                if not chunk:
                    return "closed", ""
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.decode("latin-1").rstrip("\r")
            lines.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                code = line[:3]
                return (int(code) if code.isdigit() else "garbage"), "\n".join(lines)

    def command(self, line):
        try:
            self.sock.sendall(line.encode() + b"\r\n")
        except OSError:
            return "closed", ""
        return self.reply()

    def close(self):
        try:
            self.sock.sendall(b"QUIT\r\n")
        except OSError:
            pass
        self.sock.close()


def classify(host, phase, code, text, findings):
    """What a reply that breaks the dialogue says about the host. True when it broke it."""
    name = host["name"]
    if code == "timeout":
        findings.add(("smtp.stall", name))
    elif code in ("closed", "garbage"):
        findings.add(("smtp.disconnect", name))
    elif code == 421 and "4.7.0" in text and phase == "banner":
        findings.add(("smtp.rate_limit", name))
    elif 400 <= code < 500:
        findings.add(("smtp.tempfail", name))
    elif code >= 500:
        findings.add(("smtp.reject", name))
    else:
        return False
    return True


def smtp_dialogue(inv, host, port, findings, notes):
    """Walks one SMTP session with the host and compares it with the inventory. True when it connected."""
    try:
        s = Smtp(host["address"], port)
    except ConnectionRefusedError:
        findings.add(("imc.stopped" if host["exchange"] else "smtp.port_closed", host["name"]))
        return False
    except (socket.timeout, TimeoutError, OSError):
        return False  # a time-out is for the reachability probes to explain
    try:
        walk(s, host, findings)
    finally:
        s.close()
    return True


def walk(s, host, findings):
    """One session: banner, EHLO, MAIL, RCPT (every address the host should take), DATA."""
    code, text = s.reply()
    if code != 220:
        classify(host, "banner", code, text, findings)
        return
    code, text = s.command("EHLO mailcheck.invalid")
    if code != 250:
        classify(host, "ehlo", code, text, findings)
        return
    m = re.search(r"^SIZE[ \t]+(\d+)[ \t]*$", text, re.M | re.I)
    limit = (host["smtp"] or {}).get("max_message_size") if host["smtp"] else \
        ((host["exchange"] or {}).get("imc", {}).get("max_message_size", "0"))
    want = parse_size(limit if limit is not None else "10MB")
    if m and int(m.group(1)) > 0 and (want == 0 or int(m.group(1)) < want):
        findings.add(("smtp.size_limit", host["name"]))
    code, text = s.command("MAIL FROM:<mailcheck@mailcheck.invalid>")
    if code != 250:
        classify(host, "mail", code, text, findings)
        return
    accepted, refused = [], []
    for rcpt in recipients(host):
        code, text = s.command("RCPT TO:<%s>" % rcpt)
        if code == 250 or code == 251:
            accepted.append(rcpt)
        elif code == 550 and "5.1.1" in text:
            refused.append(rcpt)
        elif code == 554 and "5.7.1" in text:
            findings.add(("smtp.relay_denied", host["name"]))
        elif code in ("timeout", "closed", "garbage"):
            classify(host, "rcpt", code, text, findings)
            return
        else:
            refused.append((code, text))
    if accepted:
        for rcpt in refused:
            if isinstance(rcpt, str) and host["exchange"]:
                findings.add(("mailbox.missing_address", rcpt))
    elif refused:
        codes = [r for r in refused if isinstance(r, tuple)]
        if codes:
            classify(host, "rcpt", codes[0][0], codes[0][1], findings)
        return
    if not accepted:
        return
    # Recipient limit: as many recipients as the inventory allows, up to 12.
    cap = (host["smtp"] or {}).get("max_recipients", 100) if host["smtp"] else \
        ((host["exchange"] or {}).get("imc", {}).get("max_recipients", 0))
    target = min(cap or 12, 12)
    for _ in range(target - len(accepted)):
        code, text = s.command("RCPT TO:<%s>" % accepted[0])
        if code == 452 and "4.5.3" in text:
            findings.add(("smtp.recipient_limit", host["name"]))
            break
        if code != 250:
            break
    code, text = s.command("DATA")
    if code != 354:
        classify(host, "data", code, text, findings)
        return
    code, text = s.command("Subject: mailcheck probe\r\nFrom: <mailcheck@mailcheck.invalid>\r\n\r\nprobe\r\n.")
    if code != 250:
        classify(host, "dot", code, text, findings)


def recipients(host):
    out = []
    if host["exchange"]:
        for mb in host["exchange"].get("mailbox", []):
            smtp = mb.get("smtp", [])
            out += [smtp] if isinstance(smtp, str) else list(smtp)
    if host["smtp"]:
        out += host["smtp"].get("mailboxes", [])[:1]
        out += ["postmaster@" + d for d in host["smtp"].get("relay_domains", [])]
    return out


def rate_burst(host, port, findings):
    """Six quick connections: a rate limit answers 421 4.7.0 to the later ones."""
    for _ in range(6):
        try:
            s = Smtp(host["address"], port)
        except OSError:
            return
        code, text = s.reply()
        s.close()
        if code == 421 and "4.7.0" in text:
            findings.add(("smtp.rate_limit", host["name"]))
            return


def parse_size(text):
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?B?)\s*", str(text), re.I)
    if not m:
        return 0
    return int(m.group(1)) * {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1 << 20, "MB": 1 << 20,
                              "G": 1 << 30, "GB": 1 << 30}[m.group(2).upper()]


# --- reachability ----------------------------------------------------------


def tcp_probe(source, address, port):
    """'open', 'refused' or 'timeout'."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((source, 0))
        s.settimeout(CONNECT_TIMEOUT)
        s.connect((address, port))
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except (socket.timeout, TimeoutError, OSError):
        return "timeout"
    finally:
        s.close()


def probe_matrix(inv, smtp_port, dns_port):
    """Observed reachability: {(source, destination, service): True/False} and liveness {host: True/False}."""
    jobs = []
    for src in inv.hosts:
        for dst in inv.hosts:
            if src is dst:
                continue
            if "dns" in dst["roles"]:
                jobs.append((src["name"], dst["name"], "dns"))
            if dst in inv.smtp_hosts():
                jobs.append((src["name"], dst["name"], "smtp"))

    def run(job):
        src, dst, service = job
        s, d = inv.host(src), inv.host(dst)
        if service == "dns":
            r = dns_query(d["address"], dns_port, "probe.invalid", "A", source=s["address"], timeout=DNS_TIMEOUT, copies=3)
            return job, bool(r and not r.get("refused"))
        r = tcp_probe(s["address"], d["address"], smtp_port)
        return job, {"open": True, "timeout": False}.get(r)  # refused tells nothing (see docs)

    def alive(h):
        # A port the host does not serve: a real host refuses, an empty address stays silent.
        if "dns" not in h["roles"]:
            return h["name"], {"refused": True, "open": True}.get(tcp_probe("127.0.0.1", h["address"], smtp_port if h not in inv.smtp_hosts() else dns_port), False)
        if h not in inv.smtp_hosts():
            return h["name"], {"refused": True, "open": True}.get(tcp_probe("127.0.0.1", h["address"], smtp_port), False)
        return h["name"], None

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        reach = dict(pool.map(run, jobs))
        live = dict(pool.map(alive, inv.hosts))
    return reach, live


def explain_network(inv, reach, live, vantage):
    """The single network fault whose predicted reachability matches every observation, if any."""

    def predict(v):
        mismatches = 0
        for (src, dst, service), seen in reach.items():
            if seen is None:
                continue
            s = vantage["name"] if src in v["moved"] and vantage else src
            ok = dst not in v["moved"] and inv.reachable(v, s, dst)
            if service == "dns" and dst in v["dns_down"]:
                ok = False
            if service == "smtp" and dst in v["smtp_filtered"]:
                ok = False
            mismatches += ok != seen
        for h, seen in live.items():
            if seen is not None:
                mismatches += (h not in v["moved"]) != seen
        return mismatches

    if predict(inv.variant()) == 0:
        return []
    candidates = []
    for h in inv.smtp_hosts():
        v = inv.variant()
        v["smtp_filtered"].add(h["name"])
        candidates.append((("smtp.filtered", h["name"]), v))
    for h in inv.dns_hosts():
        v = inv.variant()
        v["dns_down"].add(h["name"])
        candidates.append((("dns.server_down", h["name"]), v))
    for h in inv.hosts:
        v = inv.variant()
        v["moved"].add(h["name"])
        candidates.append((("net.wrong_address", h["name"]), v))
        v = inv.variant()
        v["hosts"][h["name"]]["gateway"] = None
        candidates.append((("net.wrong_gateway", h["name"]), v))
    for i, l in enumerate(inv.links):
        v = inv.variant()
        v["links"][i]["up"] = False
        candidates.append((("net.link_down", ",".join(l["between"])), v))
    for i, r in enumerate(inv.routers):
        v = inv.variant()
        v["routers"][i]["ip_routing"] = False
        candidates.append((("net.ip_routing_disabled", r["name"]), v))
    # The first that explains everything; a link before a router that only
    # looks onto it, since both cut the same paths.
    for finding, v in candidates:
        if predict(v) == 0:
            return [finding]
    return []


# --- main ------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dns", required=True, help="ADDRESS:PORT of the DNS server the vantage host uses ({dns})")
    ap.add_argument("--smtp-port", type=int, required=True, help="the SMTP port ({smtp_port})")
    ap.add_argument("--vantage-addr", required=True, help="the vantage host's address ({vantage_addr})")
    ap.add_argument("--inventory", required=True, help="what the network should look like (a scenario file: {scenario})")
    ap.add_argument("--verbose", action="store_true", help="notes on stderr")
    a = ap.parse_args()

    dns_addr, dns_port = a.dns.rsplit(":", 1)
    dns_port = int(dns_port)
    prefix = ".".join(a.vantage_addr.split(".")[:2])
    inv = Inventory(a.inventory, prefix)
    vantage = inv.host(a.vantage_addr)
    findings, notes = set(), []

    # Everything at once: the probes, the DNS checks and one SMTP dialogue per host.
    smtp = inv.smtp_hosts()
    with concurrent.futures.ThreadPoolExecutor(4 + len(smtp)) as pool:
        matrix = pool.submit(probe_matrix, inv, a.smtp_port, dns_port)
        dns = pool.submit(check_dns, inv, dns_addr, dns_port, vantage, findings, notes)
        dialogues = [pool.submit(smtp_dialogue, inv, h, a.smtp_port, findings, notes) for h in smtp]
        reach, live = matrix.result()
        dns.result()
        talked = [h for h, d in zip(smtp, dialogues) if d.result()]
        # A burst of connections last: a rate limit answers the later ones with 421.
        list(pool.map(lambda h: rate_burst(h, a.smtp_port, findings), talked))
    # A slow server's time-outs say nothing about the network.
    slow = {t for k, t in findings if k == "dns.slow"}
    for key in reach:
        if key[2] == "dns" and key[1] in slow and reach[key] is False:
            reach[key] = None
    for f in explain_network(inv, reach, live, vantage):
        findings.add(f)
    if a.verbose:
        for n in notes:
            print("mailcheck: " + n, file=sys.stderr)
    print(json.dumps({"findings": [{"kind": k, "target": t} for k, t in sorted(findings)]}))


if __name__ == "__main__":
    main()
