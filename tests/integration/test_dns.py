"""The lab's DNS servers, as dig and raw sockets see them.

Healthy answers (SPEC 5), every dns.* fault of the catalogue (SPEC 4: its
symptom, clearing it through the API, and clearing it by fixing the live
configuration), `first` and `odds` gating, split views, relocation, `pick`,
reachability from the client's source address, and the query log.

Each test starts its own lab (or shares one per class when it only reads), and
never sleeps for simulated time: it advances the lab clock.
"""
import os
import shutil
import socket
import struct
import tempfile
import unittest

from labtest import Lab, LabTestCase, Message, dns_query, recv_exact

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "scenarios")
SPLIT_VIEW = os.path.join(DATA, "split_view.toml")
PICK = os.path.join(DATA, "pick.toml")
DIFFERENTIAL = os.path.join(DATA, "differential.toml")

# Short: a dig that must time out waits one second, once.
QUICK = dict(timeout=1, tries=1)


def zone_text(lab, origin="corp.example", server="NS1"):
    """A zone of the live configuration as master-file text (one record a line)."""
    records = lab.api("GET", "/zones/%s?server=%s" % (origin, server), expect=200)[1]["records"]
    return "".join(r["text"] + "\n" for r in records)


def sanitizer_lines(lab):
    """What ASan/UBSan said on the lab's stderr (readable after the lab stopped too)."""
    path = os.path.join(lab.dir, "stderr.txt")
    if not os.path.exists(path):
        return []
    with open(path, errors="replace") as f:
        return [l for l in f if "runtime error:" in l or "Sanitizer" in l]


class DnsLabCase(LabTestCase):
    """A fresh lab per test; after it stops, its stderr must hold no sanitizer report."""

    def setUp(self):
        self.lab = Lab(self.scenario, args=self.lab_args)
        self.addCleanup(lambda: self.assertEqual(sanitizer_lines(self.lab), []))  # runs after stop
        self.lab.start()
        self.addCleanup(self.lab.stop)


class HealthyAnswers(unittest.TestCase):
    """What the guide's NS1 and NS2 answer when nothing is wrong. One lab, read only."""

    @classmethod
    def setUpClass(cls):
        cls.lab = Lab("default.toml")
        cls.lab.start()

    @classmethod
    def tearDownClass(cls):
        cls.lab.stop()
        assert sanitizer_lines(cls.lab) == [], sanitizer_lines(cls.lab)

    def setUp(self):
        self.assertTrue(self.lab.alive(), "mailsim is not running")

    def a(self, address):
        return self.lab.addr(address)

    def test_authoritative_a_has_aa_and_no_ra(self):
        d = self.lab.dig("NS1", "exch1.corp.example", "A")
        self.assertEqual(d.status, "NOERROR")
        self.assertIn("aa", d.flags)
        self.assertIn("qr", d.flags)
        self.assertNotIn("ra", d.flags)
        self.assertEqual(d.records(), [("exch1.corp.example.", 3600, "A", self.a("127.25.10.190"))])
        self.assertEqual(d.records("authority"), [("corp.example.", 3600, "NS", "ns1.corp.example.")])
        self.assertEqual(d.records("additional"), [("ns1.corp.example.", 3600, "A", self.a("127.25.10.53"))])

    def test_recursion_desired_is_echoed_but_not_offered(self):
        d = self.lab.dig("NS1", "exch1.corp.example", "A", options=["+recurse"])
        self.assertEqual(d.status, "NOERROR")
        self.assertIn("rd", d.flags)
        self.assertNotIn("ra", d.flags)
        out = self.lab.dig("NS1", "www.example.org", "A", options=["+recurse"])
        self.assertEqual(out.status, "REFUSED", "an authoritative-only server does not recurse")

    def test_mx_brings_the_exchange_address_along(self):
        d = self.lab.dig("NS1", "corp.example", "MX")
        self.assertEqual(d.status, "NOERROR")
        self.assertIn("aa", d.flags)
        self.assertEqual(d.records(), [("corp.example.", 3600, "MX", "10 mailhost.corp.example.")])
        self.assertEqual(sorted(d.records("additional")),
                         [("mailhost.corp.example.", 3600, "A", self.a("127.25.200.25")),
                          ("ns1.corp.example.", 3600, "A", self.a("127.25.10.53"))])

    def test_ns2_mx_brings_its_address(self):
        # NS2's example.net MX points at mail.example.net, in the same zone: added.
        d = self.lab.dig("NS2", "example.net", "MX")
        self.assertEqual(d.data(), ["10 mail.example.net."])
        self.assertIn(("mail.example.net.", 3600, "A", self.a("127.25.100.25")), d.records("additional"))

    def test_ns_query_brings_glue(self):
        d = self.lab.dig("NS1", "corp.example", "NS")
        self.assertEqual(d.records(), [("corp.example.", 3600, "NS", "ns1.corp.example.")])
        self.assertEqual(d.records("authority"), [])
        self.assertEqual(d.records("additional"), [("ns1.corp.example.", 3600, "A", self.a("127.25.10.53"))])

    def test_soa(self):
        d = self.lab.dig("NS1", "corp.example", "SOA")
        self.assertEqual(d.records(), [("corp.example.", 3600, "SOA",
                                        "ns1.corp.example. hostmaster.corp.example. 2026112601 3600 600 86400 300")])

    def test_nxdomain_has_the_soa_with_the_negative_ttl(self):
        d = self.lab.dig("NS1", "nothere.corp.example", "A")
        self.assertEqual(d.status, "NXDOMAIN")
        self.assertIn("aa", d.flags)
        self.assertEqual(d.records(), [])
        # RFC 2308 3: the SOA's TTL is min(SOA TTL 3600, minimum 300).
        self.assertEqual(d.records("authority"), [("corp.example.", 300, "SOA",
                                                   "ns1.corp.example. hostmaster.corp.example. 2026112601 3600 600 86400 300")])
        below = self.lab.dig("NS1", "a.b.nothere.corp.example", "MX")
        self.assertEqual(below.status, "NXDOMAIN")

    def test_nodata_has_the_soa(self):
        d = self.lab.dig("NS1", "exch1.corp.example", "MX")
        self.assertEqual(d.status, "NOERROR")
        self.assertIn("aa", d.flags)
        self.assertEqual(d.records(), [])
        self.assertEqual([r[2] for r in d.records("authority")], ["SOA"])
        self.assertEqual(d.records("authority")[0][1], 300)
        aaaa = self.lab.dig("NS1", "exch1.corp.example", "AAAA")
        self.assertEqual((aaaa.status, aaaa.records()), ("NOERROR", []))

    def test_refused_outside_its_zones(self):
        for server, name in [("NS1", "www.example.org"), ("NS1", "example"), ("NS2", "other.example"),
                             ("NS1", "."), ("NS1", "corp.example.org")]:
            d = self.lab.dig(server, name, "A")
            self.assertEqual(d.status, "REFUSED", (server, name, d.text))
            self.assertNotIn("aa", d.flags)
            self.assertEqual(d.records(), [])

    def test_each_server_serves_its_own_copy(self):
        # NS2's corp.example is smaller: no exch1 there.
        self.assertEqual(self.lab.dig("NS1", "exch1.corp.example").status, "NOERROR")
        self.assertEqual(self.lab.dig("NS2", "exch1.corp.example").status, "NXDOMAIN")
        self.assertEqual(self.lab.dig("NS2", "mail.example.net").data(), [self.a("127.25.100.25")])

    def test_cname_is_chased(self):
        d = self.lab.dig("NS1", "mail.corp.example", "A")
        self.assertEqual(d.status, "NOERROR")
        self.assertIn("aa", d.flags)
        self.assertEqual(d.records(), [("mail.corp.example.", 3600, "CNAME", "mailhost.corp.example."),
                                       ("mailhost.corp.example.", 3600, "A", self.a("127.25.200.25"))])
        # Asking for the CNAME itself stops there.
        c = self.lab.dig("NS1", "mail.corp.example", "CNAME")
        self.assertEqual(c.records(), [("mail.corp.example.", 3600, "CNAME", "mailhost.corp.example.")])
        # A type the target lacks: the CNAME, then NODATA's SOA.
        mx = self.lab.dig("NS1", "mail.corp.example", "MX")
        self.assertEqual(mx.status, "NOERROR")
        self.assertEqual(mx.data(), ["mailhost.corp.example."])
        self.assertEqual([r[2] for r in mx.records("authority")], ["SOA"])

    def test_tcp_gives_the_same_answer(self):
        for name, rtype in [("corp.example", "MX"), ("mail.corp.example", "A"), ("nothere.corp.example", "A"),
                            ("www.example.org", "A")]:
            udp = self.lab.dig("NS1", name, rtype)
            tcp = self.lab.dig("NS1", name, rtype, tcp=True)
            self.assertEqual(tcp.transport, "TCP")
            self.assertEqual(udp.transport, "UDP")
            self.assertEqual((tcp.status, tcp.flags, sorted(tcp.records()), sorted(tcp.records("authority")),
                              sorted(tcp.records("additional"))),
                             (udp.status, udp.flags, sorted(udp.records()), sorted(udp.records("authority")),
                              sorted(udp.records("additional"))), (name, rtype))

    def test_several_queries_on_one_tcp_connection(self):
        # RFC 7766 6.2.1: a client may send more queries on the same connection, pipelined.
        s = socket.create_connection((self.lab.addr("NS1"), self.lab.dns_port), timeout=5)
        try:
            names = ["exch1.corp.example", "client1.corp.example", "nothere.corp.example"]
            s.sendall(b"".join(struct.pack(">H", len(p)) + p
                               for p in (dns_query(n, "A", qid=100 + i) for i, n in enumerate(names))))
            replies = []
            for _ in names:
                n = struct.unpack(">H", recv_exact(s, 2))[0]
                replies.append(Message(recv_exact(s, n)))
        finally:
            s.close()
        self.assertEqual([r.id for r in replies], [100, 101, 102])
        self.assertEqual([r.rcode for r in replies], ["NOERROR", "NOERROR", "NXDOMAIN"])
        self.assertEqual(replies[1].data(), [self.a("127.25.10.20")])

    def test_edns_opt_is_answered(self):
        d = self.lab.dig("NS1", "exch1.corp.example", "A")
        self.assertEqual(d.edns, (0, set(), 1232))
        plain = self.lab.dig("NS1", "exch1.corp.example", "A", options=["+noedns"])
        self.assertIsNone(plain.edns, "no OPT in the query, none in the reply")
        self.assertEqual(plain.data(), [self.a("127.25.10.190")])

    def test_do_bit_is_echoed(self):
        d = self.lab.dig("NS1", "exch1.corp.example", "A", options=["+dnssec"])
        self.assertEqual(d.status, "NOERROR")
        self.assertEqual(d.edns, (0, {"do"}, 1232))
        self.assertEqual(d.data(), [self.a("127.25.10.190")], "no DNSSEC records, the same data")

    def test_edns_version_1_is_badvers(self):
        d = self.lab.dig("NS1", "exch1.corp.example", "A", options=["+edns=1", "+noednsnegotiation"])
        self.assertEqual(d.status, "BADVERS")
        self.assertEqual(d.edns[0], 0, "the reply's OPT says the version the server speaks")
        self.assertEqual(d.records(), [])
        raw = self.lab.query_udp("NS1", dns_query("exch1.corp.example", "A", edns=1232, edns_version=1))
        self.assertEqual(raw.rcode, "BADVERS")
        self.assertEqual((raw.opt["ext_rcode"], raw.flag_bits & 0xF), (1, 0))

    def test_any_gets_one_rrset(self):
        # RFC 8482: one RRset, not everything.
        d = self.lab.dig("NS1", "corp.example", "ANY")
        self.assertEqual(d.status, "NOERROR")
        self.assertEqual(len({r[2] for r in d.records()}), 1, d.text)
        self.assertGreaterEqual(len(d.records()), 1)

    def test_case_of_the_question_is_kept(self):
        d = self.lab.dig("NS1", "ExCh1.CoRp.ExAmPlE", "A")
        self.assertEqual(d.status, "NOERROR")
        self.assertIn(";ExCh1.CoRp.ExAmPlE.", d.text)
        self.assertEqual(d.data(), [self.a("127.25.10.190")])

    def test_chaos_class_is_refused(self):
        d = self.lab.dig("NS1", "version.bind", "TXT", options=["-c", "CH"])
        self.assertEqual(d.status, "REFUSED")
        self.assertEqual(d.records(), [])

    def test_no_zone_transfers(self):
        tcp = self.lab.query_tcp("NS1", dns_query("corp.example", "AXFR"))
        self.assertEqual(tcp.rcode, "REFUSED")
        self.assertEqual(tcp.records(), [])
        udp = self.lab.query_udp("NS1", dns_query("corp.example", "AXFR"))
        self.assertEqual(udp.rcode, "NOTIMP")
        d = self.lab.dig("NS1", "corp.example", "AXFR")
        self.assertIn("Transfer failed", d.text)

    def test_unknown_opcode_is_notimp(self):
        for opcode in (1, 2, 4, 5):
            r = self.lab.query_udp("NS1", dns_query("corp.example", "SOA", opcode=opcode))
            self.assertEqual((r.rcode, r.opcode, r.records()), ("NOTIMP", opcode, []), opcode)

    def test_a_client_that_is_no_lab_host_counts_as_the_vantage_host(self):
        # 127.0.0.1 acts as MAILHOST, which reaches NS1 through RTR1.
        d = self.lab.dig("NS1", "exch1.corp.example")
        self.assertEqual(d.data(), [self.a("127.25.10.190")])
        d = self.lab.dig("NS1", "exch1.corp.example", source="MAILHOST")
        self.assertEqual(d.data(), [self.a("127.25.10.190")])
        d = self.lab.dig("NS1", "exch1.corp.example", source="REMOTE")
        self.assertEqual(d.data(), [self.a("127.25.10.190")], "REMOTE reaches NS1 over the WAN link")


class Truncation(DnsLabCase):
    """Answers over 512 bytes (or the EDNS size, at most 1232): TC over UDP, everything over TCP."""

    def add_records(self, name, rtype, datas):
        text = "".join("%s 3600 IN %s %s\n" % (name, rtype, d) for d in datas)
        self.lab.api("POST", "/zones/corp.example/records?server=NS1", {"record": text}, expect=201)

    def setUp(self):
        super().setUp()
        # 40 addresses outside every segment (so no phantom listeners): about 700 bytes.
        self.addresses = ["127.%d.50.%d" % (self.lab.octet, i) for i in range(1, 41)]
        self.add_records("big", "A", self.addresses)
        # 40 long strings: about 2 KB, over what the server ever sends over UDP.
        self.texts = ['"text record %02d, long enough to need TCP when there are forty"' % i for i in range(40)]
        self.add_records("bigtxt", "TXT", self.texts)

    def test_over_512_without_edns_sets_tc_and_sends_no_records(self):
        d = self.lab.dig("NS1", "big.corp.example", "A", options=["+noedns", "+ignore"])
        self.assertEqual(d.status, "NOERROR")
        self.assertIn("tc", d.flags)
        self.assertIn("aa", d.flags)
        self.assertEqual(d.records(), [], "never a partial RRset (RFC 2181 9)")
        self.assertIn(";big.corp.example.", d.text, "the question is still there")

    def test_dig_falls_back_to_tcp_and_gets_them_all(self):
        d = self.lab.dig("NS1", "big.corp.example", "A", options=["+noedns"])
        self.assertTrue(d.retried_tcp, d.text)
        self.assertEqual(d.transport, "TCP")
        self.assertNotIn("tc", d.flags)
        self.assertEqual(sorted(d.data()), sorted(self.addresses))

    def test_edns_size_lets_a_larger_answer_through_udp(self):
        for size in ("1232", "4096"):
            d = self.lab.dig("NS1", "big.corp.example", "A", options=["+bufsize=" + size, "+ignore"])
            self.assertNotIn("tc", d.flags, size)
            self.assertEqual(d.transport, "UDP")
            self.assertEqual(sorted(d.data()), sorted(self.addresses), size)
            self.assertEqual(d.edns[2], 1232, "the server says what it sends")

    def test_a_small_edns_size_is_respected(self):
        d = self.lab.dig("NS1", "big.corp.example", "A", options=["+bufsize=600", "+ignore"])
        self.assertIn("tc", d.flags)
        self.assertEqual(d.records(), [])
        # Below 512 counts as 512 (RFC 6891 6.2.5): a small answer still comes back whole.
        r = self.lab.query_udp("NS1", dns_query("corp.example", "MX", edns=100))
        self.assertNotIn("tc", r.flags)
        self.assertEqual(r.data(), ["10 mailhost.corp.example."])

    def test_the_server_sends_at_most_1232_bytes_over_udp(self):
        d = self.lab.dig("NS1", "bigtxt.corp.example", "TXT", options=["+bufsize=4096", "+ignore"])
        self.assertIn("tc", d.flags, "a 4096-byte buffer does not raise the server's own 1232")
        self.assertEqual(d.records(), [])
        raw = self.lab.query_udp("NS1", dns_query("bigtxt.corp.example", "TXT", edns=65535))
        self.assertIn("tc", raw.flags)
        self.assertLessEqual(len(raw.raw), 1232)
        full = self.lab.dig("NS1", "bigtxt.corp.example", "TXT", options=["+bufsize=4096"])
        self.assertTrue(full.retried_tcp)
        self.assertEqual(len(full.records()), 40)
        tcp = self.lab.query_tcp("NS1", dns_query("bigtxt.corp.example", "TXT"))
        self.assertEqual(len(tcp.records()), 40)
        self.assertEqual(sorted(b"".join(t).decode() for t in tcp.data()), sorted(t.strip('"') for t in self.texts))


class NegativeTtl(DnsLabCase):
    def test_soa_ttl_below_minimum_wins(self):
        text = zone_text(self.lab).replace("corp.example. 3600 IN SOA", "corp.example. 60 IN SOA")
        self.assertIn(" 60 IN SOA", text)
        self.lab.api("PUT", "/zones/corp.example/records?server=NS1", {"records": text}, expect=200)
        d = self.lab.dig("NS1", "nothere.corp.example", "A")
        self.assertEqual(d.status, "NXDOMAIN")
        self.assertEqual(d.records("authority")[0][1], 60, "min(SOA TTL 60, minimum 300)")
        self.assertEqual(self.lab.dig("NS1", "corp.example", "SOA").records()[0][1], 60)


class FaultCase(DnsLabCase):
    """Helpers for the dns.* fault tests: each test has a fresh default lab."""

    def setUp(self):
        super().setUp()
        self.healthy_corp = zone_text(self.lab)  # NS1's corp.example before any fault

    def assert_active(self, fid):
        self.assertIn(fid, self.lab.faults(), "the fault should be listed as active")
        self.assertEqual(self.lab.faults(all=True)[fid]["state"], "active")

    def assert_cleared(self, fid, state="cleared"):
        self.assertNotIn(fid, self.lab.faults(), "GET /faults still lists the fault")
        self.assertEqual(self.lab.faults(all=True)[fid]["state"], state)

    def exch1(self, **kw):
        return self.lab.dig("NS1", "exch1.corp.example", "A", **kw)

    def healthy_exch1(self):
        d = self.exch1()
        self.assertEqual((d.status, d.data()), ("NOERROR", [self.lab.addr("127.25.10.190")]), d.text)

    def healthy_mx(self, server="NS1"):
        d = self.lab.dig(server, "corp.example", "MX")
        self.assertEqual((d.status, d.data()), ("NOERROR", ["10 mailhost.corp.example."]), d.text)


class BadARecord(FaultCase):
    def inject(self):
        bad = self.lab.addr("127.25.10.19")
        fid = self.lab.inject("dns.bad_a_record", name="exch1.corp.example", address=bad)
        d = self.exch1()
        self.assertEqual((d.status, d.data()), ("NOERROR", [bad]))
        self.assertIn("aa", d.flags)
        self.assert_active(fid)
        return fid

    def test_symptom_and_delete(self):
        fid = self.inject()
        self.assertEqual(self.lab.dig("NS1", "exch1.corp.example", "A", tcp=True).data(), [self.lab.addr("127.25.10.19")])
        self.lab.clear(fid)
        self.healthy_exch1()
        self.assert_cleared(fid)

    def test_put_the_right_record_clears_it(self):
        fid = self.inject()
        self.lab.api("PUT", "/zones/corp.example/records?server=NS1", {"records": self.healthy_corp}, expect=200)
        self.healthy_exch1()
        self.assert_cleared(fid)

    def test_name_is_matched_whatever_its_case(self):
        bad = self.lab.addr("127.25.10.109")
        fid = self.lab.inject("dns.bad_a_record", name="EXCH1.Corp.Example.", address=bad)
        self.assertEqual(self.exch1().data(), [bad])
        self.lab.clear(fid)
        self.healthy_exch1()


class MissingARecord(FaultCase):
    def inject(self):
        fid = self.lab.inject("dns.missing_a_record", name="exch1.corp.example")
        d = self.exch1()
        self.assertEqual(d.status, "NXDOMAIN")
        self.assertEqual([r[2] for r in d.records("authority")], ["SOA"])
        self.assert_active(fid)
        return fid

    def test_symptom_and_delete(self):
        fid = self.inject()
        self.lab.clear(fid)
        self.healthy_exch1()
        self.assert_cleared(fid)

    def test_adding_the_record_clears_it(self):
        fid = self.inject()
        self.lab.api("POST", "/zones/corp.example/records?server=NS1",
                     {"name": "exch1", "type": "A", "data": self.lab.addr("127.25.10.190")}, expect=201)
        self.healthy_exch1()
        self.assert_cleared(fid)


class BadMx(FaultCase):
    def inject(self):
        fid = self.lab.inject("dns.bad_mx", domain="corp.example", exchange="exch1.corp.example")
        for server in ("NS1", "NS2"):  # every copy of the zone holds the changed MX
            d = self.lab.dig(server, "corp.example", "MX")
            self.assertEqual(d.data(), ["10 exch1.corp.example."], server)
        self.assertIn(("exch1.corp.example.", 3600, "A", self.lab.addr("127.25.10.190")),
                      self.lab.dig("NS1", "corp.example", "MX").records("additional"))
        self.assert_active(fid)
        return fid

    def test_symptom_and_delete(self):
        fid = self.inject()
        self.lab.clear(fid)
        self.healthy_mx("NS1")
        self.healthy_mx("NS2")
        self.assert_cleared(fid)

    def test_an_exchange_in_another_zone_brings_no_address(self):
        # Like NSD, only addresses from the MX record's own zone go in the additional section,
        # even when the server also serves the exchange's zone (NS1 serves example.net).
        fid = self.lab.inject("dns.bad_mx", domain="corp.example", exchange="mail.example.net")
        d = self.lab.dig("NS1", "corp.example", "MX")
        self.assertEqual(d.data(), ["10 mail.example.net."])
        self.assertNotIn("mail.example.net.", [r[0] for r in d.records("additional")])
        self.lab.clear(fid)
        self.healthy_mx()

    def test_setting_the_record_back_clears_it(self):
        fid = self.inject()
        self.lab.api("DELETE", "/zones/corp.example/records?name=@&type=MX", expect=200)
        self.assert_active(fid)  # no MX at all is not the answer either
        self.lab.api("POST", "/zones/corp.example/records", {"record": "@ 3600 IN MX 10 mailhost"}, expect=201)
        self.healthy_mx("NS1")
        self.healthy_mx("NS2")
        self.assert_cleared(fid)


class MissingMx(FaultCase):
    def inject(self):
        fid = self.lab.inject("dns.missing_mx", domain="corp.example")
        d = self.lab.dig("NS1", "corp.example", "MX")
        self.assertEqual((d.status, d.records()), ("NOERROR", []), "NODATA: the domain exists, the MX does not")
        self.assertEqual([r[2] for r in d.records("authority")], ["SOA"])
        self.assertEqual(self.exch1().status, "NOERROR", "the A records are still there for the fallback")
        self.assert_active(fid)
        return fid

    def test_symptom_and_delete(self):
        fid = self.inject()
        self.lab.clear(fid)
        self.healthy_mx()
        self.assert_cleared(fid)

    def test_adding_the_record_clears_it(self):
        fid = self.inject()
        self.lab.api("POST", "/zones/corp.example/records", {"record": "@ IN MX 10 mailhost.corp.example."},
                     expect=201)
        self.healthy_mx("NS1")
        self.healthy_mx("NS2")
        self.assert_cleared(fid)


class ServerDown(FaultCase):
    def inject(self):
        fid = self.lab.inject("dns.server_down", server="NS1")
        self.assertTrue(self.exch1(**QUICK).timed_out)
        self.assertTrue(self.lab.dig("NS1", "exch1.corp.example", tcp=True, **QUICK).timed_out)
        self.assertEqual(self.lab.connect("CLIENT1", "NS1", self.lab.dns_port), "timeout",
                         "a down server's TCP port times out, it does not refuse")
        self.assertIsNone(self.lab.query_udp("NS1", dns_query("exch1.corp.example"), source="CLIENT1", timeout=0.5))
        host = self.lab.api("GET", "/hosts/NS1", expect=200)[1]
        self.assertEqual(host["dns"]["service"], "stopped")
        self.assertNotIn("dns", host["services"])
        # NS2 is not affected.
        self.assertEqual(self.lab.dig("NS2", "mail.example.net").status, "NOERROR")
        self.assert_active(fid)
        return fid

    def test_symptom_and_delete(self):
        fid = self.inject()
        self.lab.clear(fid)
        self.healthy_exch1()
        self.assertEqual(self.lab.connect("CLIENT1", "NS1", self.lab.dns_port), "open")
        self.assert_cleared(fid)

    def test_starting_the_service_clears_it(self):
        fid = self.inject()
        self.lab.api("PATCH", "/hosts/NS1", {"services": {"dns": "running"}}, expect=200)
        self.healthy_exch1()
        self.assert_cleared(fid)
        self.assertEqual(self.lab.api("GET", "/hosts/NS1", expect=200)[1]["services"].get("dns"), self.lab.dns_port)


class Servfail(FaultCase):
    def test_symptom_and_delete(self):
        fid = self.lab.inject("dns.servfail", server="NS1", names=["corp.example"])
        d = self.exch1()
        self.assertEqual(d.status, "SERVFAIL")
        self.assertEqual(d.records(), [])
        self.assertEqual(self.lab.dig("NS1", "exch1.corp.example", tcp=True).status, "SERVFAIL")
        self.assertEqual(self.lab.dig("NS1", "corp.example", "MX").status, "SERVFAIL", "the name and below")
        self.assertEqual(self.lab.dig("NS1", "mail.example.net").status, "NOERROR", "other zones answer")
        self.assertEqual(self.lab.dig("NS2", "corp.example", "MX").status, "NOERROR", "other servers answer")
        self.assert_active(fid)
        self.lab.clear(fid)
        self.healthy_exch1()
        self.assert_cleared(fid)

    def test_without_names_everything_fails(self):
        fid = self.lab.inject("dns.servfail", server="NS1")
        self.assertEqual(self.exch1().status, "SERVFAIL")
        self.assertEqual(self.lab.dig("NS1", "mail.example.net").status, "SERVFAIL")
        self.lab.clear(fid)
        self.assertEqual(self.lab.dig("NS1", "mail.example.net").status, "NOERROR")

    def test_fixing_the_server_clears_it(self):
        fid = self.lab.inject("dns.servfail", server="NS1", names=["corp.example"])
        self.assertEqual(self.exch1().status, "SERVFAIL")
        self.lab.api("PATCH", "/hosts/NS1", {"dns": {"servfail": None}}, expect=200)
        self.healthy_exch1()
        self.assert_cleared(fid)


class Slow(FaultCase):
    """dns.slow holds each answer for `delay` of lab time; advancing the clock releases it."""

    def test_answer_waits_for_lab_time(self):
        fid = self.lab.inject("dns.slow", server="NS1", delay="1h")  # an hour of lab time: a minute real
        self.assertTrue(self.exch1(**QUICK).timed_out, "no answer within a second")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((self.lab.addr("CLIENT1"), 0))
            s.sendto(dns_query("exch1.corp.example", qid=0x5151), (self.lab.addr("NS1"), self.lab.dns_port))
            s.settimeout(0.3)
            with self.assertRaises(socket.timeout):
                s.recv(4096)
            self.lab.advance(3600)
            s.settimeout(10)
            reply = Message(s.recv(4096))
        finally:
            s.close()
        self.assertEqual(reply.id, 0x5151)
        self.assertEqual((reply.rcode, reply.data()), ("NOERROR", [self.lab.addr("127.25.10.190")]))
        self.assertEqual(self.lab.dig("NS2", "mail.example.net").status, "NOERROR", "NS2 is not slow")
        self.assert_active(fid)
        self.lab.clear(fid)
        self.healthy_exch1()
        self.assert_cleared(fid)

    def test_tcp_answer_waits_too(self):
        self.lab.inject("dns.slow", server="NS1", delay="30m")
        s = socket.create_connection((self.lab.addr("NS1"), self.lab.dns_port), timeout=10)
        try:
            q = dns_query("exch1.corp.example", qid=0x7777)
            s.sendall(struct.pack(">H", len(q)) + q)
            s.settimeout(0.3)
            with self.assertRaises(socket.timeout):
                s.recv(2)
            self.lab.advance(1800)
            s.settimeout(10)
            n = struct.unpack(">H", recv_exact(s, 2))[0]
            reply = Message(recv_exact(s, n))
        finally:
            s.close()
        self.assertEqual((reply.id, reply.data()), (0x7777, [self.lab.addr("127.25.10.190")]))

    def test_fixing_the_server_clears_it(self):
        fid = self.lab.inject("dns.slow", server="NS1", delay="1h")
        self.assertTrue(self.exch1(**QUICK).timed_out)
        self.lab.api("PATCH", "/hosts/NS1", {"dns": {"delay": "0s"}}, expect=200)
        self.healthy_exch1()
        self.assert_cleared(fid)


class Truncated(FaultCase):
    def inject(self):
        fid = self.lab.inject("dns.truncated", server="NS1")
        d = self.exch1(options=["+ignore"])
        self.assertEqual(d.status, "NOERROR")
        self.assertIn("tc", d.flags)
        self.assertEqual(d.records(), [])
        self.assertEqual(self.lab.connect("CLIENT1", "NS1", self.lab.dns_port), "refused")
        fallback = self.exch1(**QUICK)
        self.assertTrue(fallback.retried_tcp, fallback.text)
        self.assertTrue(fallback.refused, fallback.text)
        self.assertEqual(fallback.records(), [])
        self.assertEqual(self.lab.dig("NS2", "mail.example.net").status, "NOERROR")
        self.assert_active(fid)
        return fid

    def test_symptom_and_delete(self):
        fid = self.inject()
        self.lab.clear(fid)
        self.healthy_exch1()
        self.assertEqual(self.lab.connect("CLIENT1", "NS1", self.lab.dns_port), "open")
        self.assertEqual(self.lab.dig("NS1", "exch1.corp.example", tcp=True).status, "NOERROR")
        self.assert_cleared(fid)

    def test_fixing_the_server_clears_it(self):
        fid = self.inject()
        self.lab.api("PATCH", "/hosts/NS1", {"dns": {"truncated": False}}, expect=200)
        self.healthy_exch1()
        self.assertEqual(self.lab.dig("NS1", "exch1.corp.example", tcp=True).status, "NOERROR")
        self.assert_cleared(fid)


class FaultApi(FaultCase):
    """What POST /faults says about dns.* faults, and what it refuses."""

    def test_post_answers_with_the_fault(self):
        status, f = self.lab.api("POST", "/faults", {"kind": "dns.servfail", "server": "NS1", "names": ["corp.example"]})
        self.assertEqual(status, 201)
        self.assertEqual((f["kind"], f["target"], f["state"], f["server"], f["names"]),
                         ("dns.servfail", "NS1", "active", "NS1", ["corp.example"]))
        self.assertEqual(self.lab.api("DELETE", "/faults/" + f["id"], expect=200)[1]["state"], "cleared")
        self.assertEqual(self.lab.api("DELETE", "/faults/nosuchfault")[0], 404)

    def test_bad_parameters_are_refused(self):
        outside = "127.%d.10.19" % (self.lab.octet % 200 + 1)
        for body in [{"kind": "dns.server_down", "server": "EXCH1"},                     # not a DNS server
                     {"kind": "dns.server_down", "server": "NOSUCHHOST"},
                     {"kind": "dns.server_down"},                                         # no target
                     {"kind": "dns.bad_a_record", "name": "nothere.corp.example",
                      "address": self.lab.addr("127.25.10.19")},                          # no such record
                     {"kind": "dns.bad_a_record", "name": "exch1.corp.example", "address": outside},
                     {"kind": "dns.bad_a_record", "name": "exch1.corp.example", "address": "not-an-address"},
                     {"kind": "dns.missing_mx", "domain": "exch1.corp.example"},          # has no MX
                     {"kind": "dns.slow", "server": "NS1", "delay": "soon"},
                     {"kind": "dns.slow", "server": "NS1", "delay": "1m", "colour": "red"},
                     {"kind": "dns.servfail", "server": "NS1", "first": 0},
                     {"kind": "dns.sevrfail", "server": "NS1"}]:
            status, err = self.lab.api("POST", "/faults", body)
            self.assertEqual(status, 400, body)
            self.assertIn("error", err, body)
        self.assertEqual(self.lab.faults(all=True), {}, "nothing was injected")
        self.healthy_exch1()

    def test_a_server_may_be_named_by_its_fqdn(self):
        fid = self.lab.inject("dns.server_down", server="ns1.corp.example")
        self.assertTrue(self.exch1(**QUICK).timed_out)
        self.lab.clear(fid)
        self.healthy_exch1()
        fid = self.lab.inject("dns.servfail", server="ns1.corp.example", first=1)
        self.assertEqual([self.exch1().status for _ in range(2)], ["SERVFAIL", "NOERROR"])

    def test_a_bad_address_goes_nowhere(self):
        # The wrong address lies in the corp segment but no host has it: connecting there
        # times out, as it would on a real network.
        bad = self.lab.addr("127.25.10.19")
        self.lab.inject("dns.bad_a_record", name="exch1.corp.example", address=bad)
        self.assertEqual(self.exch1().data(), [bad])
        self.assertEqual(self.lab.connect("CLIENT1", bad, self.lab.smtp_port), "timeout")


class FaultBookkeeping(FaultCase):
    """GET /faults must agree with what the servers do."""

    def test_clearing_one_of_two_faults_on_one_aspect(self):
        # Two faults change the same aspect (NS1's SERVFAIL list). Clearing the later one
        # reverts the aspect to the answer configuration: the earlier one then has no effect
        # left, so it must not stay listed as active (SPEC 1: a fault is cleared when its
        # aspect equals the answer again) -- or it must still show its symptom.
        a1 = self.lab.inject("dns.servfail", server="NS1", names=["corp.example"])
        a2 = self.lab.inject("dns.servfail", server="NS1", names=["example.net"])
        self.lab.clear(a2)
        failing = self.exch1().status == "SERVFAIL"
        listed = a1 in self.lab.faults()
        self.assertEqual(listed, failing, "a1 is %s in GET /faults but exch1.corp.example answers %s"
                         % ("active" if listed else "not active", "SERVFAIL" if failing else "NOERROR"))

    def test_clearing_one_of_two_record_faults(self):
        b1 = self.lab.inject("dns.bad_a_record", name="exch1.corp.example", address=self.lab.addr("127.25.10.19"))
        b2 = self.lab.inject("dns.missing_a_record", name="exch1.corp.example")
        self.assertEqual(self.exch1().status, "NXDOMAIN")
        self.lab.clear(b2)
        bad = self.exch1().data() == [self.lab.addr("127.25.10.19")]
        listed = b1 in self.lab.faults()
        self.assertEqual(listed, bad, "b1 is %s in GET /faults but exch1 answers %s"
                         % ("active" if listed else "not active", self.exch1().data()))

    def test_first_counts_only_queries_that_can_see_the_fault(self):
        # NS2 holds no exch1 record, so a bad A record for exch1 changes nothing there; its
        # queries must not use up the `first = 2` that NS1's clients should see.
        bad = self.lab.addr("127.25.10.19")
        self.lab.inject("dns.bad_a_record", name="exch1.corp.example", address=bad, first=2)
        self.assertEqual([self.lab.dig("NS2", "exch1.corp.example").status for _ in range(2)],
                         ["NXDOMAIN", "NXDOMAIN"])
        self.assertEqual(self.exch1().data(), [bad], "NS1's first query should still see the bad address")


class Timing(FaultCase):
    """`after`, `until` and `flap` run on the lab clock: the tests advance it."""

    # Only advance() moves this lab's clock, however slow the machine is.
    lab_args = ("--speed", "0.001")

    def test_after(self):
        fid = self.lab.inject("dns.servfail", server="NS1", after="10m")
        self.assertEqual(self.lab.faults(all=True)[fid]["state"], "pending")
        self.healthy_exch1()
        self.lab.advance(600)
        self.assertEqual(self.exch1().status, "SERVFAIL")
        self.assert_active(fid)

    def test_until(self):
        fid = self.lab.inject("dns.server_down", server="NS1", until="20m")
        self.assertTrue(self.exch1(**QUICK).timed_out)
        self.lab.advance(1200)
        self.healthy_exch1()
        self.assert_cleared(fid, state="ended")

    def test_flap(self):
        fid = self.lab.inject("dns.truncated", server="NS1", flap={"on": "1m", "off": "30s"})
        states = []
        for step in (0, 60, 30, 60):
            self.lab.advance(step)
            states.append("tc" in self.exch1(options=["+ignore"]).flags)
        self.assertEqual(states, [True, False, True, False])
        self.assertEqual(self.lab.faults(all=True)[fid]["state"], "off")

    def test_slow_answer_needs_the_whole_delay(self):
        self.lab.inject("dns.slow", server="NS1", delay="1h")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((self.lab.addr("CLIENT1"), 0))
            s.sendto(dns_query("exch1.corp.example", qid=0x4242), (self.lab.addr("NS1"), self.lab.dns_port))
            self.lab.advance(1800)  # half of it
            s.settimeout(0.3)
            with self.assertRaises(socket.timeout):
                s.recv(4096)
            self.lab.advance(1800)
            s.settimeout(10)
            self.assertEqual(Message(s.recv(4096)).id, 0x4242)
        finally:
            s.close()

    def test_slow_first_one(self):
        fid = self.lab.inject("dns.slow", server="NS1", delay="1h", first=1)
        self.assertTrue(self.exch1(**QUICK).timed_out)
        self.healthy_exch1()
        self.assert_cleared(fid, state="ended")


class Gating(FaultCase):
    """`first = N`: the first N matching queries see the fault, then it ends. `odds`: seeded draws."""

    def test_first_two_bad_a_answers(self):
        bad = self.lab.addr("127.25.10.19")
        fid = self.lab.inject("dns.bad_a_record", name="exch1.corp.example", address=bad, first=2)
        # Queries that do not match (another name, another type) do not count.
        self.assertEqual(self.lab.dig("NS1", "client1.corp.example").status, "NOERROR")
        self.assertEqual(self.lab.dig("NS1", "exch1.corp.example", "MX").status, "NOERROR")
        seen = [self.exch1().data() for _ in range(3)]
        self.assertEqual(seen, [[bad], [bad], [self.lab.addr("127.25.10.190")]])
        self.assert_cleared(fid, state="ended")
        self.healthy_exch1()

    def test_first_two_servfails(self):
        fid = self.lab.inject("dns.servfail", server="NS1", names=["exch1.corp.example"], first=2)
        self.assertEqual(self.lab.dig("NS1", "client1.corp.example").status, "NOERROR", "not a matching name")
        self.assertEqual([self.exch1().status for _ in range(3)], ["SERVFAIL", "SERVFAIL", "NOERROR"])
        self.assert_cleared(fid, state="ended")

    def test_first_two_time_out(self):
        fid = self.lab.inject("dns.server_down", server="NS1", first=2)
        seen = [self.exch1(**QUICK).timed_out for _ in range(3)]
        self.assertEqual(seen, [True, True, False])
        self.assert_cleared(fid, state="ended")

    def test_first_two_truncated(self):
        fid = self.lab.inject("dns.truncated", server="NS1", first=2)
        flags = ["tc" in self.exch1(options=["+ignore"]).flags for _ in range(3)]
        self.assertEqual(flags, [True, True, False])
        self.assert_cleared(fid, state="ended")

    def test_odds_are_drawn_from_the_seed(self):
        def outcomes(lab):
            lab.inject("dns.servfail", server="NS1", names=["corp.example"], odds=0.5)
            return [lab.dig("NS1", "exch1.corp.example").status for _ in range(16)]
        first = outcomes(self.lab)
        self.assertEqual(set(first), {"SERVFAIL", "NOERROR"}, first)
        with Lab("default.toml") as other:
            self.assertEqual(outcomes(other), first, "the same seed and fault id draw the same sequence")


class SplitView(DnsLabCase):
    scenario = SPLIT_VIEW

    def www(self, source):
        return self.lab.dig("NS1", "www.corp.example", "A", source=source)

    def test_each_segment_sees_its_view(self):
        inside, outside = self.lab.addr("127.25.10.80"), self.lab.addr("127.25.200.80")
        self.assertEqual(self.www("CLIENT1").data(), [inside])
        self.assertEqual(self.www("MAILHOST").data(), [outside])
        self.assertEqual(self.www("LABPC").data(), [outside], "a segment with no view of its own gets the default")
        self.assertEqual(self.www(None).data(), [outside], "127.0.0.1 acts as the vantage host MAILHOST")
        self.assertEqual(self.lab.dig("NS1", "www.corp.example", "A", source="CLIENT1", tcp=True).data(), [inside])
        # Names that exist in one view only.
        self.assertEqual(self.lab.dig("NS1", "intranet.corp.example", source="CLIENT1").status, "NOERROR")
        self.assertEqual(self.lab.dig("NS1", "intranet.corp.example", source="MAILHOST").status, "NXDOMAIN")
        self.assertEqual(self.lab.dig("NS1", "corp.example", "MX", source="CLIENT1").data(), ["10 exch1.corp.example."])
        self.assertEqual(self.lab.dig("NS1", "corp.example", "MX", source="MAILHOST").data(),
                         ["10 mailhost.corp.example."])
        serials = [self.lab.dig("NS1", "corp.example", "SOA", source=s).data()[0].split()[2] for s in ("CLIENT1", "MAILHOST")]
        self.assertEqual(serials, ["2026112602", "2026112601"])

    def test_zones_of_other_origins_are_seen_from_every_view(self):
        for source in ("CLIENT1", "MAILHOST", "LABPC"):
            self.assertEqual(self.lab.dig("NS1", "www.example.net", source=source).data(),
                             [self.lab.addr("127.25.200.90")], source)

    def test_the_api_shows_both_views(self):
        zone = self.lab.api("GET", "/zones/corp.example", expect=200)[1]
        self.assertEqual(sorted(tuple(v["clients"]) for v in zone["views"]), [(), ("corp",)])

    def test_a_record_fault_changes_every_view(self):
        bad = self.lab.addr("127.25.10.19")
        fid = self.lab.inject("dns.bad_a_record", name="www.corp.example", address=bad)
        self.assertEqual(self.www("CLIENT1").data(), [bad])
        self.assertEqual(self.www("MAILHOST").data(), [bad])
        self.lab.clear(fid)
        self.assertEqual(self.www("CLIENT1").data(), [self.lab.addr("127.25.10.80")])
        self.assertEqual(self.www("MAILHOST").data(), [self.lab.addr("127.25.200.80")])


class Relocation(unittest.TestCase):
    def test_two_prefixes_serve_their_own_addresses(self):
        with Lab("default.toml") as one, Lab("default.toml") as two:
            self.assertNotEqual(one.prefix, two.prefix)
            for lab in (one, two):
                self.assertEqual(lab.info["prefix"], lab.prefix)
                ns1 = lab.addr("NS1")
                self.assertTrue(ns1.startswith(lab.prefix + "."), ns1)
                d = lab.dig("NS1", "exch1.corp.example")
                self.assertEqual(d.data(), ["%s.10.190" % lab.prefix])
                mx = lab.dig("NS1", "corp.example", "MX")
                self.assertIn(("mailhost.corp.example.", 3600, "A", "%s.200.25" % lab.prefix), mx.records("additional"))
                self.assertEqual(lab.dig("NS2", "mail.example.net").data(), ["%s.100.25" % lab.prefix])
                texts = [r["text"] for r in lab.api("GET", "/zones/corp.example?server=NS1", expect=200)[1]["records"]]
                self.assertFalse([t for t in texts if "127.25." in t], texts)

    def test_reverse_zones_move_too(self):
        with Lab(DIFFERENTIAL) as one, Lab(DIFFERENTIAL) as two:
            for lab in (one, two):
                rev = "%d.127.in-addr.arpa" % lab.octet
                d = lab.dig("NS", "53.10." + rev, "PTR")
                self.assertEqual((d.status, d.data()), ("NOERROR", ["ns1.diff.example."]), d.text)
                self.assertEqual(lab.dig("NS", "53.10.25.127.in-addr.arpa", "PTR").status, "REFUSED")
                origins = [z["origin"] for z in lab.api("GET", "/zones", expect=200)[1]["zones"]]
                self.assertIn(rev, origins)


class Pick(unittest.TestCase):
    def chosen(self, scenario):
        with Lab(scenario) as lab:
            fault = lab.faults()["bad-a"]
            address = fault["address"]
            self.assertTrue(address.startswith(lab.prefix + "."), address)
            self.assertEqual(lab.dig("NS1", "exch1.corp.example", source="CLIENT1").data(), [address])
            return ".".join(address.split(".")[2:])

    def test_the_same_seed_picks_the_same_value(self):
        first = self.chosen(PICK)
        self.assertIn(first, ["10.19", "10.109", "11.190", "10.77", "12.5"])
        self.assertEqual(self.chosen(PICK), first)

    def test_other_seeds_pick_among_the_choices(self):
        with open(PICK) as f:
            text = f.read()
        tmp = tempfile.mkdtemp(prefix="mailsim-pick-")
        try:
            seen = {}
            for seed in range(1, 7):
                path = os.path.join(tmp, "pick-%d.toml" % seed)
                with open(path, "w") as f:
                    f.write(text.replace("seed = 7", "seed = %d" % seed))
                seen[seed] = self.chosen(path)
            self.assertLessEqual(set(seen.values()), {"10.19", "10.109", "11.190", "10.77", "12.5"})
            self.assertGreater(len(set(seen.values())), 1, "six seeds all picked the same: %s" % seen)
            # And each again gives the same.
            self.assertEqual(self.chosen(os.path.join(tmp, "pick-3.toml")), seen[3])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class Reachability(DnsLabCase):
    def test_wrong_gateway_makes_mailhost_time_out(self):
        fid = self.lab.inject("net.wrong_gateway", host="MAILHOST", gateway=self.lab.addr("127.25.200.254"))
        self.assertTrue(self.lab.dig("NS1", "exch1.corp.example", source="MAILHOST", **QUICK).timed_out)
        self.assertTrue(self.lab.dig("NS1", "exch1.corp.example", **QUICK).timed_out,
                        "127.0.0.1 counts as MAILHOST, the vantage host")
        self.assertTrue(self.lab.dig("NS1", "exch1.corp.example", source="MAILHOST", tcp=True, **QUICK).timed_out)
        self.assertEqual(self.lab.connect("MAILHOST", "NS1", self.lab.dns_port), "timeout")
        d = self.lab.dig("NS1", "exch1.corp.example", source="CLIENT1")
        self.assertEqual(d.data(), [self.lab.addr("127.25.10.190")], "CLIENT1 is on NS1's own segment")
        self.lab.clear(fid)
        d = self.lab.dig("NS1", "exch1.corp.example", source="MAILHOST")
        self.assertEqual(d.data(), [self.lab.addr("127.25.10.190")])

    def test_link_down_cuts_remote_off_from_ns1(self):
        self.lab.api("PATCH", "/links", {"between": ["RTR1", "RTR2"], "up": False}, expect=200)
        self.assertTrue(self.lab.dig("NS1", "exch1.corp.example", source="REMOTE", **QUICK).timed_out)
        self.assertEqual(self.lab.dig("NS2", "mail.example.net", source="REMOTE").status, "NOERROR")
        self.lab.api("PATCH", "/links", {"between": ["RTR1", "RTR2"], "up": True}, expect=200)
        self.assertEqual(self.lab.dig("NS1", "exch1.corp.example", source="REMOTE").status, "NOERROR")


class OpenConnections(DnsLabCase):
    def test_an_open_tcp_connection_stops_when_the_route_goes(self):
        # SPEC 2: an unreachable pair looks as it would on a real network. A TCP connection
        # opened while MAILHOST could reach NS1 must stop getting answers once its gateway is
        # wrong, as new connections do.
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.bind((self.lab.addr("MAILHOST"), 0))
        s.settimeout(2)
        s.connect((self.lab.addr("NS1"), self.lab.dns_port))

        def ask(qid):
            q = dns_query("exch1.corp.example", qid=qid)
            s.sendall(struct.pack(">H", len(q)) + q)
            try:
                head = recv_exact(s, 2)
                return Message(recv_exact(s, struct.unpack(">H", head)[0])) if len(head) == 2 else None
            except (socket.timeout, TimeoutError, ConnectionError):
                return None

        self.assertEqual(ask(1).data(), [self.lab.addr("127.25.10.190")])
        self.lab.inject("net.wrong_gateway", host="MAILHOST", gateway=self.lab.addr("127.25.200.254"))
        self.assertTrue(self.lab.dig("NS1", "exch1.corp.example", source="MAILHOST", tcp=True, **QUICK).timed_out)
        reply = ask(2)
        self.assertIsNone(reply, "an open connection from an unreachable host still got %s"
                          % (reply and reply.data()))


class ZoneEdits(DnsLabCase):
    """Changing zones through the API changes the answers at once; bad edits are refused."""

    def test_post_and_delete_a_record(self):
        addr = self.lab.addr("127.25.10.77")
        self.lab.api("POST", "/zones/corp.example/records?server=NS1", {"record": "new IN A %s" % addr}, expect=201)
        self.assertEqual(self.lab.dig("NS1", "new.corp.example").data(), [addr])
        self.assertEqual(self.lab.dig("NS2", "new.corp.example").status, "NXDOMAIN", "only NS1's copy changed")
        # An address in a segment that no host has: connections there time out.
        self.assertEqual(self.lab.connect("CLIENT1", addr, self.lab.smtp_port), "timeout")
        self.lab.api("DELETE", "/zones/corp.example/records?server=NS1&name=new&type=A", expect=200)
        self.assertEqual(self.lab.dig("NS1", "new.corp.example").status, "NXDOMAIN")
        self.assertEqual(self.lab.connect("CLIENT1", addr, self.lab.smtp_port), "refused",
                         "no longer mentioned: no phantom listener")
        self.assertEqual(self.lab.api("DELETE", "/zones/corp.example/records?name=new&type=A")[0], 404)

    def test_bad_edits_are_refused_and_change_nothing(self):
        before = self.lab.api("GET", "/zones/corp.example?server=NS1", expect=200)[1]["records"]
        outside = "127.%d.10.77" % (self.lab.octet % 200 + 1)
        for method, body in [("PUT", {"records": "@ IN SOA ns1 hostmaster 1 2 3 4 5\nwww IN A 10.0.0.1\n"}),
                             ("PUT", {"records": "www IN A %s\n" % outside}),
                             ("PUT", {"records": "@ IN SOA ns1 hostmaster 1 2 3 4\n"}),
                             ("PUT", {"records": "www IN A 127.1\n"}),
                             ("PUT", {"records": "www IN BOGUS data\n"}),
                             ("PUT", {"recrods": ""}),
                             ("POST", {"record": "www IN A 8.8.8.8"}),
                             ("POST", {"record": "www IN MX ten mail"}),
                             ("POST", {"name": "www", "type": "A"}),
                             ("POST", {"record": "x" * 64 + " IN A %s" % self.lab.addr("127.25.10.1")})]:
            status, err = self.lab.api(method, "/zones/corp.example/records?server=NS1", body)
            self.assertEqual(status, 400, (method, body, err))
            self.assertIn("error", err)
        self.assertEqual(self.lab.api("GET", "/zones/corp.example?server=NS1", expect=200)[1]["records"], before)
        self.assertEqual(self.lab.api("PUT", "/zones/nothere.example/records", {"records": ""})[0], 404)
        self.assertEqual(self.lab.dig("NS1", "www.corp.example").status, "NXDOMAIN")
        self.assertEqual(self.lab.dig("NS1", "exch1.corp.example").data(), [self.lab.addr("127.25.10.190")])

    def test_a_zone_never_loses_its_soa(self):
        # The scenario validator refuses a zone without an SOA at its apex, and SPEC 5 wants
        # the SOA in every NXDOMAIN and NODATA. An edit that removes it must be refused, or
        # the server must stop answering for the zone as NSD does with a zone it cannot load.
        healthy = zone_text(self.lab)
        www = self.lab.addr("127.25.10.5")
        for method, path, body in [
                ("PUT", "/zones/corp.example/records?server=NS1", {"records": "www IN A %s\n" % www}),
                ("DELETE", "/zones/corp.example/records?server=NS1&name=@&type=SOA", None)]:
            status, _ = self.lab.api(method, path, body)
            if status == 200:
                d = self.lab.dig("NS1", "nothere.corp.example")
                self.assertIn(d.status, ("SERVFAIL", "REFUSED"),
                              "%s %s was accepted, and now NXDOMAIN comes without an SOA: %s %s"
                              % (method, path, d.status, d.records("authority")))
            else:
                self.assertEqual(status, 400, (method, path))
            self.lab.api("PUT", "/zones/corp.example/records?server=NS1", {"records": healthy}, expect=200)

    def test_a_syntax_error_names_its_line(self):
        text = zone_text(self.lab)
        line = text.count("\n") + 1
        status, err = self.lab.api("PUT", "/zones/corp.example/records?server=NS1",
                                   {"records": text + "broken IN A not-an-address\n"})
        self.assertEqual(status, 400)
        self.assertIn("line %d" % line, err["error"] + str(err.get("detail", "")))


class QueryLog(DnsLabCase):
    def test_queries_are_logged(self):
        since = self.lab.api("GET", "/log", expect=200)[1]["last"]
        self.lab.dig("NS1", "exch1.corp.example", "A", source="CLIENT1")
        self.lab.dig("NS1", "corp.example", "MX", tcp=True)
        self.lab.dig("NS1", "nothere.corp.example", "A", source="CLIENT1")
        self.lab.dig("NS2", "www.example.org", "A")
        entries = self.lab.api("GET", "/log?since=%d" % since, expect=200)[1]["entries"]
        dns = [(e["host"], e["text"]) for e in entries if e["kind"] == "dns"]
        client1 = self.lab.addr("CLIENT1")
        self.assertIn(("NS1", "%s asked exch1.corp.example A: NOERROR, 1 answer" % client1), dns)
        self.assertTrue(any(h == "NS1" and "corp.example MX over TCP: NOERROR" in t for h, t in dns), dns)
        self.assertIn(("NS1", "%s asked nothere.corp.example A: NXDOMAIN, 0 answers" % client1), dns)
        self.assertTrue(any(h == "NS2" and "www.example.org A: REFUSED" in t for h, t in dns), dns)
        self.assertTrue(all(e["seq"] > since for e in entries))

    def test_a_down_server_logs_the_unanswered_query(self):
        # Gated (first = 1), so the query reaches the server and is dropped there, not in the kernel.
        self.lab.inject("dns.server_down", server="NS1", first=1)
        since = self.lab.api("GET", "/log", expect=200)[1]["last"]
        self.assertTrue(self.lab.dig("NS1", "exch1.corp.example", source="CLIENT1", **QUICK).timed_out)
        entries = self.lab.api("GET", "/log?since=%d" % since, expect=200)[1]["entries"]
        texts = [e["text"] for e in entries if e["kind"] == "dns"]
        self.assertTrue(any("exch1.corp.example A: no answer" in t for t in texts), texts)


if __name__ == "__main__":
    unittest.main()
