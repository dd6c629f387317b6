"""Every scenario of the library starts, and each of its faults shows the
symptom the catalogue promises to a real client: dig and TCP connects for
the network and DNS, smtplib and raw SMTP dialogues for the SMTP services,
the IMC and mailboxes, and, for what only happens inside Exchange (the MTA,
the GWART, the IMC's queue and its start failures), the API's queues,
mailboxes, services and event log after real messages were sent. Every kind
of the catalogue must be checked by some scenario. A fault that only starts
later (`after`) is not active when the lab starts and is left to the timing
tests.
"""
import glob
import os
import re
import smtplib
import subprocess
import unittest

from labtest import MAILSIM, SCENARIOS, Lab, tcp_connect

# How long a stalled server is given before its silence counts (real seconds).
SILENCE = 1.0
# What `net start msexchangeimc` writes to the event log for each cause (mail.md 10.4).
START_EVENT = {"1075": 7003, "7003": 7003, "2140": 2140, "4026": 4026, "4092": 4092, "drwatson": 4097}


def library():
    for path in sorted(glob.glob(os.path.join(SCENARIOS, "*.toml"))):
        yield path


def host(lab, name):
    return [h for h in lab.api("GET", "/hosts")[1]["hosts"] if h["name"].lower() == name.lower()
            or h["fqdn"].lower() == name.lower()][0]


def servers_of(lab, name):
    """The DNS hosts that serve a zone holding `name`."""
    zones = lab.api("GET", "/zones")[1]["zones"]
    name = name.rstrip(".").lower()
    hits = [z for z in zones if name == z["origin"] or name.endswith("." + z["origin"])]
    return sorted({z["server"] for z in hits})


def dns_hosts(lab):
    return [h for h in lab.api("GET", "/hosts")[1]["hosts"] if "dns" in h["roles"]]


class SymptomChecks:
    """One method per fault kind: asserts what a client sees while the fault is active."""

    def __init__(self, test, lab):
        self.t = test
        self.lab = lab

    def vantage(self):
        return self.lab.info["vantage"]

    def dns_bad_a_record(self, f):
        # Every server that publishes the name publishes the wrong address.
        answers = [self.lab.dig(s, f["name"], source=self.first_client_of(s)).data(rtype="A")
                   for s in servers_of(self.lab, f["name"])]
        published = [a for a in answers if a]
        self.t.assertTrue(published)
        for a in published:
            self.t.assertEqual(a, [f["address"]])

    def dns_missing_a_record(self, f):
        for server in servers_of(self.lab, f["name"]):
            d = self.lab.dig(server, f["name"], source=self.first_client_of(server))
            self.t.assertIn(d.status, ("NXDOMAIN", "NOERROR"))
            self.t.assertEqual(d.data(rtype="A"), [])

    def dns_bad_mx(self, f):
        for server in servers_of(self.lab, f["domain"]):
            d = self.lab.dig(server, f["domain"], "MX", source=self.first_client_of(server))
            exchanges = [x.split()[1].rstrip(".") for x in d.data(rtype="MX")]
            if exchanges:
                self.t.assertEqual(exchanges, [f["exchange"]])

    def dns_missing_mx(self, f):
        for server in servers_of(self.lab, f["domain"]):
            d = self.lab.dig(server, f["domain"], "MX", source=self.first_client_of(server))
            self.t.assertEqual(d.status, "NOERROR")
            self.t.assertEqual(d.data(rtype="MX"), [])

    def dns_server_down(self, f):
        d = self.lab.dig(f["server"], "anything.example", source=self.first_client_of(f["server"]))
        self.t.assertTrue(d.timed_out, d.text)
        self.t.assertEqual(self.lab.connect(self.first_client_of(f["server"]), f["server"], self.lab.dns_port), "timeout")

    def dns_servfail(self, f):
        names = f.get("names") or []
        name = ("www." + names[0]) if names else "anything.example"
        d = self.lab.dig(f["server"], name, source=self.first_client_of(f["server"]))
        self.t.assertEqual(d.status, "SERVFAIL")

    def dns_slow(self, f):
        # With `odds`, some queries are late and some are not; the seed decides which.
        outcomes = set()
        for _ in range(8):
            d = self.lab.dig(f["server"], "anything.example", source=self.first_client_of(f["server"]))
            outcomes.add(d.timed_out)
        expected = {True, False} if "odds" in f else {True}
        self.t.assertEqual(outcomes, expected)

    def dns_truncated(self, f):
        client = self.first_client_of(f["server"])
        d = self.lab.dig(f["server"], "anything.example", source=client, options=["+ignore", "+noedns"])
        self.t.assertIn("tc", d.flags)
        self.t.assertEqual(self.lab.connect(client, f["server"], self.lab.dns_port), "refused")

    def net_wrong_gateway(self, f):
        h = host(self.lab, f["host"])
        self.t.assertEqual(h["gateway"], f["gateway"])
        across = [s for s in dns_hosts(self.lab) if self.segment(s["name"]) != h["segment"]]
        self.t.assertTrue(across, "no DNS server on another segment to test with")
        for s in across:
            self.t.assertEqual(self.lab.connect(h["name"], s["name"], self.lab.dns_port), "timeout")
        same = [s for s in dns_hosts(self.lab) if self.segment(s["name"]) == h["segment"]]
        for s in same:
            self.t.assertEqual(self.lab.connect(h["name"], s["name"], self.lab.dns_port), "open")

    def net_ip_routing_disabled(self, f):
        self.crossing_fails()

    def net_link_down(self, f):
        self.crossing_fails()

    def net_wrong_dns_server(self, f):
        h = host(self.lab, f["host"])
        self.t.assertEqual(h["dns_servers"], [f["address"]])
        self.t.assertTrue(self.lab.dig(f["address"], "exch1.corp.example", source=h["name"]).timed_out)

    def net_wrong_address(self, f):
        h = host(self.lab, f["host"])
        self.t.assertEqual(h["address"], f["address"])
        # Peers still use the published address: nothing answers there.
        published = self.lab.dig(servers_of(self.lab, h["fqdn"])[0], h["fqdn"], source=self.vantage()).data(rtype="A")
        self.t.assertEqual(len(published), 1)
        self.t.assertNotEqual(published[0], f["address"])
        self.t.assertEqual(tcp_connect(self.lab.addr(self.vantage()), published[0], self.lab.smtp_port), "timeout")

    # --- the IMC and Exchange: SMTP port, services, event log, queues --------
    def imc_not_installed(self, f):
        self.t.assertEqual(self.lab.connect(None, f["host"], self.lab.smtp_port), "refused")
        self.t.assertNotIn("msexchangeimc", [s["name"] for s in self.services(f["host"])])

    def imc_stopped(self, f):
        self.t.assertEqual(self.lab.connect(None, f["host"], self.lab.smtp_port), "refused")
        self.t.assertEqual([s["running"] for s in self.services(f["host"]) if s["name"] == "msexchangeimc"], [False])

    def imc_start_fails(self, f):
        event = str(f["event_id"]).lower()
        # Without TCP/IP the host answers nothing at all: a time-out, not a refusal.
        expected = "timeout" if event in ("1075", "7003") else "refused"
        self.t.assertEqual(self.lab.connect(None, f["host"], self.lab.smtp_port), expected)
        status, r = self.lab.api("POST", "/hosts/%s/services/msexchangeimc" % f["host"], {"state": "running"})
        self.t.assertEqual(status, 409, r)
        self.t.assertIn(START_EVENT[event], [e["id"] for e in r["events"]])
        events = self.lab.api("GET", "/hosts/%s/events" % f["host"], expect=200)[1]["events"]
        self.t.assertIn(START_EVENT[event], [e["id"] for e in events])

    def imc_transfer_mode(self, f):
        if f["mode"] in ("none", "outbound"):  # inbound not allowed
            self.t.assertEqual(self.lab.connect(None, f["host"], self.lab.smtp_port), "refused")
        if f["mode"] in ("none", "inbound"):  # outbound not allowed: mail waits in the IMC queue
            sent = self.send_out(f["host"])
            queue = self.exchange_queue(f["host"])
            self.t.assertTrue(queue["held"])
            self.t.assertIn(sent["id"], [m["id"] for m in queue["messages"]])

    def imc_address_space(self, f):
        self.bounces_at_once(f["host"])

    def imc_resolver_search_list(self, f):
        self.bounces_at_once(f["host"])

    def imc_email_domain(self, f):
        to = self.mailbox_in(f["domain"]) or "postmaster@" + f["domain"]
        sent = self.send_out(f["host"], to=to)
        waiting = self.lab.wait(lambda: [m for m in self.lab.queue(f["host"]) if m["id"] == sent["id"]
                                         and m["last_error"]], "a delivery attempt", advance=30)
        self.t.assertEqual(waiting[0]["last_error"], "Host unreachable")

    def mta_stopped(self, f):
        sender, sent = self.exchange_user(f["host"]), self.send_out(f["host"])
        self.lab.advance(300)
        self.t.assertIn(sent["id"], [m["id"] for m in self.lab.mailbox(sender, "outbox")])

    def gwart_other_connector(self, f):
        sent = self.send_out(f["host"])
        taken = self.lab.wait(lambda: self.exchange_queue(f["host"])["connectors"].get(f["connector"]),
                              "the connector to take the message", advance=5)
        self.t.assertIn(sent["id"], [m["id"] for m in taken])

    def mailbox_missing_address(self, f):
        owner = self.owner(f["address"])
        with self.lab.smtp(owner, source=self.near(owner)) as s:
            s.ehlo("client.example.net")
            self.t.assertEqual(s.mail("someone@example.net")[0], 250)
            code, text = s.rcpt(f["address"])
        self.t.assertEqual(code, 550)
        self.t.assertIn(b"5.1.1", text)

    # --- SMTP services ---------------------------------------------------
    def smtp_port_closed(self, f):
        self.t.assertEqual(self.lab.connect(None, f["host"], self.lab.smtp_port), "refused")

    def smtp_filtered(self, f):
        self.t.assertEqual(self.lab.connect(None, f["host"], self.lab.smtp_port), "timeout")

    def smtp_stall(self, f):
        w, r = self.walk(f["host"], f["phase"], silent=True)
        self.t.assertEqual(r.code, "timeout", r)
        self.t.assertFalse(w.closed_by_peer(), "a stalled server keeps the connection open")
        w.close()

    def smtp_reject(self, f):
        w, r = self.walk(f["host"], f["phase"])
        w.close()
        self.t.assertEqual(r.code, int(f["code"]), r)

    def smtp_tempfail(self, f):
        self.smtp_reject(f)

    def smtp_disconnect(self, f):
        w, r = self.walk(f["host"], f["phase"])
        w.close()
        self.t.assertEqual(r.code, "closed", r)

    def smtp_size_limit(self, f):
        with self.lab.smtp(f["host"]) as s:
            s.ehlo("client.example.net")
            limit = int(s.esmtp_features["size"])
            self.t.assertEqual(self.size_bytes(f["size"]), limit)
            code, text = s.mail("someone@example.net", ["SIZE=%d" % (limit + 1)])
        self.t.assertEqual(code, 552)
        self.t.assertIn(b"5.3.4", text)

    def smtp_recipient_limit(self, f):
        rcpt = self.local_recipient(f["host"])
        with self.lab.smtp(f["host"]) as s:
            s.ehlo("client.example.net")
            s.mail("someone@example.net")
            codes = [s.rcpt(rcpt)[0] for _ in range(int(f["max"]) + 1)]
        self.t.assertEqual(codes, [250] * int(f["max"]) + [452])

    def smtp_relay_denied(self, f):
        with self.lab.smtp(f["host"]) as s:
            s.ehlo("client.example.net")
            s.mail("someone@example.net")
            code, text = s.rcpt(self.mailbox_in(f["domain"]) or "postmaster@" + f["domain"])
        self.t.assertEqual(code, 554)
        self.t.assertIn(b"5.7.1", text)

    def smtp_rate_limit(self, f):
        codes = []
        for _ in range(int(f["per_minute"]) + 1):
            w = self.lab.wire(f["host"], None, timeout=5)
            codes.append(w.reply().code)
            w.close()
        self.t.assertEqual(codes[-1], 421, codes)

    # --- mail loops --------------------------------------------------------
    def mail_routing_loop(self, f):
        first = f["hosts"][0]
        sender = self.local_recipient(first)
        to = self.mailbox_in(f["domain"]) or "postmaster@" + f["domain"]
        self.lab.submit(**{"from": sender, "to": [to], "via": first, "subject": "round and round"})
        reports = self.lab.wait(lambda: [m for m in self.lab.mailbox(sender, "inbox") if m["from"] == ""],
                                "the delivery report", advance=10)
        self.t.assertIn("5.4.6", self.lab.message(sender, reports[0]["id"]))

    def mail_ndr_loop(self, f):
        host = f["hosts"][0]
        domain = self.host(host)["smtp"]["local_domains"][0]
        with self.lab.smtp(host) as s:
            s.ehlo("client.example.net")
            s.mail("someone@example.net")
            code, _ = s.rcpt("nobody-at-all@" + domain)
        self.t.assertEqual(code, 250)  # accepted now, bounced later

    # --- helpers ---------------------------------------------------------
    def host(self, name):
        return self.lab.api("GET", "/hosts/" + name, expect=200)[1]

    def services(self, name):
        return self.lab.api("GET", "/hosts/%s/services" % name, expect=200)[1]["services"]

    def mailboxes(self):
        return self.lab.api("GET", "/mailboxes", expect=200)[1]["mailboxes"]

    def near(self, name):
        """A host on the same segment as `name` (it reaches it whatever else is
        broken in a combination), else None: the vantage host."""
        segment = host(self.lab, name)["segment"]
        for h in self.lab.api("GET", "/hosts", expect=200)[1]["hosts"]:
            if h["segment"] == segment and h["name"] != host(self.lab, name)["name"]:
                return h["name"]
        return None

    def owner(self, address):
        """The Exchange server that keeps mail for the address's domain (the
        fault took the address itself away from its mailbox)."""
        domain = address.split("@")[1].lower()
        hosts = {h["name"]: h for h in self.lab.api("GET", "/hosts", expect=200)[1]["hosts"]}
        return [m["host"] for m in self.mailboxes() if m["address"].lower().endswith("@" + domain)
                and "exchange" in hosts[m["host"]]["roles"]][0]

    def local_recipient(self, host):
        boxes = [m["address"] for m in self.mailboxes() if m["host"].lower() == host.lower()]
        plain = [b for b in boxes if not b.startswith("postmaster@")]
        return (plain or boxes)[0]

    def mailbox_in(self, domain):
        for m in self.mailboxes():
            if m["address"].lower().endswith("@" + domain.lower()):
                return m["address"]
        return None

    def exchange_user(self, host):
        return self.local_recipient(host)

    def internet_mailbox(self, exchange):
        hosts = self.lab.api("GET", "/hosts", expect=200)[1]["hosts"]
        for roles in (("mailstore",), ("relay",), ("exchange",)):
            for h in hosts:
                if h["name"] != exchange and any(r in h["roles"] for r in roles):
                    boxes = [m["address"] for m in self.mailboxes() if m["host"] == h["name"]
                             and not m["address"].startswith("postmaster@")]
                    if boxes:
                        return boxes[0]
        raise AssertionError("no mailbox outside " + exchange)

    def send_out(self, exchange, to=None):
        """A message from an Exchange user of `exchange` to the outside world."""
        return self.lab.submit(**{"from": self.exchange_user(exchange), "to": [to or self.internet_mailbox(exchange)],
                                  "subject": "out of the building"})

    def exchange_queue(self, host):
        return [q for q in self.lab.api("GET", "/queues", expect=200)[1]["queues"] if q["host"] == host][0]

    def bounces_at_once(self, exchange):
        sender = self.exchange_user(exchange)
        self.send_out(exchange)
        ndrs = self.lab.wait(lambda: [m for m in self.lab.mailbox(sender, "inbox") if m["from"] == ""],
                             "the NDR", advance=1)
        self.t.assertTrue(ndrs)
        self.t.assertLessEqual(ndrs[0]["received"], 120, "an NDR at once, not after retries")

    def size_bytes(self, text):
        m = re.match(r"^(\d+)\s*([KMG]?B?)$", str(text).upper())
        return int(m.group(1)) * {"": 1, "B": 1, "KB": 1024, "K": 1024, "MB": 1 << 20, "M": 1 << 20,
                                  "GB": 1 << 30, "G": 1 << 30}[m.group(2)]

    def walk(self, host, upto, silent=False):
        """An SMTP dialogue from the vantage host, phase by phase, up to `upto`;
        returns (wire, the reply there). With `silent`, that reply is awaited
        only SILENCE seconds, so a stall shows as "timeout"."""
        w = self.lab.wire(host, self.near(host), timeout=5)
        steps = (("banner", None), ("ehlo", "EHLO client.example.net"), ("mail", "MAIL FROM:<someone@example.net>"),
                 ("rcpt", "RCPT TO:<%s>" % self.local_recipient(host)), ("data", "DATA"),
                 ("dot", b"From: <someone@example.net>\r\nSubject: walk\r\n\r\nA message.\r\n.\r\n"))
        for phase, command in steps:
            if phase == upto and silent:
                w.sock.settimeout(SILENCE)
            r = w.reply() if command is None else w.cmd(command)
            if phase == upto:
                return w, r
            if r.code not in (220, 250, 354):
                w.close()
                raise AssertionError("before %s: %s answered %r" % (upto, phase, r))
        raise ValueError(upto)

    def segment(self, name):
        return host(self.lab, name)["segment"]

    def first_client_of(self, server):
        """A host on the server's own segment (the server itself will do)."""
        return server

    def crossing_fails(self):
        """Some pair of hosts that reached each other before cannot now."""
        hosts = self.lab.api("GET", "/hosts")[1]["hosts"]
        servers = dns_hosts(self.lab)
        failures = 0
        for h in hosts:
            for s in servers:
                if h["segment"] != s["segment"]:
                    failures += self.lab.connect(h["name"], s["name"], self.lab.dns_port) == "timeout"
        self.t.assertGreater(failures, 0)


class Library(unittest.TestCase):
    def test_every_scenario_starts_and_shows_its_symptoms(self):
        checked = 0
        kinds = set()
        for path in library():
            with self.subTest(scenario=os.path.basename(path)):
                with Lab(path) as lab:
                    checks = SymptomChecks(self, lab)
                    for f in lab.api("GET", "/faults")[1]["faults"]:
                        method = getattr(checks, f["kind"].replace(".", "_"))
                        with self.subTest(fault=f["kind"]):
                            method(f)
                            checked += 1
                            kinds.add(f["kind"])
        catalogue = set(re.findall(r"^(\S+\.\S+)  \(", subprocess.run([MAILSIM, "faults"], capture_output=True,
                                                                      text=True).stdout, re.M))
        self.assertEqual(sorted(catalogue - kinds), [], "kinds no scenario showed to a client")
        self.assertGreaterEqual(checked, 50)


if __name__ == "__main__":
    unittest.main()
