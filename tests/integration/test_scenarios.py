"""Every scenario of the library starts, and each of its network and DNS faults
shows the symptom the catalogue promises to a real client (dig, a TCP connect).

Kinds whose services come in later layers (SMTP, the Exchange model) are
checked in their own tests.
"""
import glob
import os
import unittest

from labtest import SCENARIOS, Lab, tcp_connect


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

    # --- helpers ---------------------------------------------------------
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
        for path in library():
            with self.subTest(scenario=os.path.basename(path)):
                with Lab(path) as lab:
                    checks = SymptomChecks(self, lab)
                    for f in lab.api("GET", "/faults")[1]["faults"]:
                        method = getattr(checks, f["kind"].replace(".", "_"), None)
                        if method is None:
                            continue  # checked by the SMTP and Exchange tests
                        with self.subTest(fault=f["kind"]):
                            method(f)
                            checked += 1
        self.assertGreaterEqual(checked, 10)


if __name__ == "__main__":
    unittest.main()
