"""The network model, enforced in the kernel: real connects from lab addresses.

The DNS servers are the listeners of this layer: TCP port `dns_port` on NS1
(corp), NS2 (internet). A connect from a host that cannot reach the server
times out (its SYNs are dropped by the socket filter); a host with no listener
refuses; an address that only DNS mentions (a phantom) times out.
"""
import unittest

from labtest import Lab, LabTestCase, tcp_connect


class Reachability(LabTestCase):
    def test_healthy_network_reaches_everywhere(self):
        lab = self.lab
        for src in ("MAILHOST", "CLIENT1", "EXCH1", "REMOTE"):
            for dst in ("NS1", "NS2"):
                self.assertEqual(lab.connect(src, dst, lab.dns_port), "open", "%s -> %s" % (src, dst))

    def test_closed_port_is_refused(self):
        lab = self.lab
        # EXCH1 runs no DNS service: the kernel refuses at once.
        self.assertEqual(lab.connect("CLIENT1", "EXCH1", lab.dns_port), "refused")

    def test_wrong_gateway_times_out_across_segments_only(self):
        lab = self.lab
        lab.inject("net.wrong_gateway", host="MAILHOST", gateway=lab.addr("127.25.200.9"))
        self.assertEqual(lab.connect("MAILHOST", "NS1", lab.dns_port), "timeout")
        self.assertEqual(lab.connect("MAILHOST", "NS2", lab.dns_port), "timeout")
        # Same segment as NS1: unaffected.
        self.assertEqual(lab.connect("CLIENT1", "NS1", lab.dns_port), "open")
        self.assertTrue(lab.dig("NS1", "exch1.corp.example", source="MAILHOST").timed_out)
        self.assertEqual(lab.dig("NS1", "exch1.corp.example", source="CLIENT1").status, "NOERROR")

    def test_clients_outside_the_scenario_count_as_the_vantage_host(self):
        lab = self.lab
        self.assertEqual(lab.info["vantage"], "MAILHOST")
        self.assertEqual(tcp_connect("127.0.0.1", lab.addr("NS1"), lab.dns_port), "open")
        lab.inject("net.wrong_gateway", host="MAILHOST", gateway=lab.addr("127.25.200.9"))
        self.assertEqual(tcp_connect("127.0.0.1", lab.addr("NS1"), lab.dns_port), "timeout")

    def test_ip_routing_disabled(self):
        lab = self.lab
        lab.inject("net.ip_routing_disabled", router="RTR1")
        self.assertEqual(lab.connect("MAILHOST", "NS1", lab.dns_port), "timeout")
        self.assertEqual(lab.connect("EXCH1", "NS2", lab.dns_port), "timeout")
        self.assertEqual(lab.connect("CLIENT1", "NS1", lab.dns_port), "open")
        self.assertEqual(lab.connect("REMOTE", "NS2", lab.dns_port), "open")

    def test_link_down(self):
        lab = self.lab
        fid = lab.inject("net.link_down", routers=["RTR1", "RTR2"])
        self.assertEqual(lab.connect("EXCH1", "NS2", lab.dns_port), "timeout")
        self.assertEqual(lab.connect("REMOTE", "NS1", lab.dns_port), "timeout")
        # corp <-> dmz does not cross the link.
        self.assertEqual(lab.connect("MAILHOST", "NS1", lab.dns_port), "open")
        lab.clear(fid)
        self.assertEqual(lab.connect("EXCH1", "NS2", lab.dns_port), "open")

    def test_fixing_the_live_configuration_clears_the_fault(self):
        lab = self.lab
        fid = lab.inject("net.wrong_gateway", host="MAILHOST", gateway=lab.addr("127.25.200.9"))
        self.assertEqual(lab.connect("MAILHOST", "NS1", lab.dns_port), "timeout")
        lab.api("PATCH", "/hosts/MAILHOST", {"gateway": lab.addr("127.25.200.1")}, expect=200)
        self.assertEqual(lab.connect("MAILHOST", "NS1", lab.dns_port), "open")
        self.assertEqual(lab.api("GET", "/faults")[1]["faults"], [])
        states = {f["id"]: f["state"] for f in lab.api("GET", "/faults?all=1")[1]["faults"]}
        self.assertEqual(states[fid], "cleared")

    def test_router_and_link_fixes_through_the_api(self):
        lab = self.lab
        lab.inject("net.ip_routing_disabled", router="RTR1")
        lab.inject("net.link_down", routers=["RTR1", "RTR2"])
        lab.api("PATCH", "/routers/RTR1", {"ip_routing": True}, expect=200)
        self.assertEqual(lab.connect("MAILHOST", "NS1", lab.dns_port), "open")
        self.assertEqual(lab.connect("EXCH1", "NS2", lab.dns_port), "timeout")
        lab.api("PATCH", "/links", {"between": ["RTR2", "RTR1"], "up": True}, expect=200)
        self.assertEqual(lab.connect("EXCH1", "NS2", lab.dns_port), "open")
        self.assertEqual(lab.api("GET", "/faults")[1]["faults"], [])


class Addresses(LabTestCase):
    def test_wrong_address_moves_the_listener_and_the_old_address_times_out(self):
        lab = self.lab
        old, new = lab.addr("NS1"), lab.addr("127.25.10.54")
        lab.inject("net.wrong_address", host="NS1", address=new)
        # DNS still publishes the old address; nothing answers there now.
        self.assertEqual(tcp_connect(lab.addr("CLIENT1"), old, lab.dns_port), "timeout")
        self.assertEqual(tcp_connect(lab.addr("CLIENT1"), new, lab.dns_port), "open")
        host = lab.api("GET", "/hosts/NS1")[1]
        self.assertEqual(host["address"], new)
        lab.api("PATCH", "/hosts/NS1", {"address": old}, expect=200)
        self.assertEqual(tcp_connect(lab.addr("CLIENT1"), old, lab.dns_port), "open")
        self.assertEqual(tcp_connect(lab.addr("CLIENT1"), new, lab.dns_port), "refused")

    def test_phantom_addresses_time_out_and_follow_the_configuration(self):
        lab = self.lab
        phantom = lab.addr("127.25.10.19")
        unmentioned = lab.addr("127.25.10.77")
        # Not mentioned anywhere: the kernel refuses (no listener).
        self.assertEqual(tcp_connect(lab.addr("CLIENT1"), phantom, lab.dns_port), "refused")
        fid = lab.inject("dns.bad_a_record", name="exch1.corp.example", address=phantom)
        self.assertEqual(lab.dig("NS1", "exch1.corp.example", source="CLIENT1").data(), [phantom])
        # Now DNS sends clients there, and there is "no host" there: time-outs, on every port.
        self.assertEqual(tcp_connect(lab.addr("CLIENT1"), phantom, lab.dns_port), "timeout")
        self.assertEqual(tcp_connect(lab.addr("CLIENT1"), phantom, lab.smtp_port), "timeout")
        self.assertEqual(tcp_connect(lab.addr("CLIENT1"), unmentioned, lab.smtp_port), "refused")
        lab.clear(fid)
        self.assertEqual(tcp_connect(lab.addr("CLIENT1"), phantom, lab.dns_port), "refused")

    def test_wrong_dns_server_points_a_host_at_a_phantom(self):
        lab = self.lab
        phantom = lab.addr("127.25.10.54")
        lab.inject("net.wrong_dns_server", host="MAILHOST", address=phantom)
        host = lab.api("GET", "/hosts/MAILHOST")[1]
        self.assertEqual(host["dns_servers"], [phantom])
        # What MAILHOST's resolver would do: ask its configured server, get no answer.
        d = lab.dig(phantom, "exch1.corp.example", source="MAILHOST")
        self.assertTrue(d.timed_out)


class Timing(LabTestCase):
    # The lab clock barely moves on its own, so only advance() moves it: the
    # test sees the states it expects however slowly the machine runs.
    lab_args = ("--speed", "0.001")

    def test_after_until_on_the_lab_clock(self):
        lab = self.lab
        fid = lab.inject("net.link_down", routers=["RTR1", "RTR2"], after="5m", until="20m")
        faults = {f["id"]: f for f in lab.api("GET", "/faults?all=1")[1]["faults"]}
        self.assertEqual(faults[fid]["state"], "pending")
        self.assertEqual(lab.connect("EXCH1", "NS2", lab.dns_port), "open")
        lab.advance(300)
        self.assertEqual(lab.api("GET", "/faults")[1]["faults"][0]["id"], fid)
        self.assertEqual(lab.connect("EXCH1", "NS2", lab.dns_port), "timeout")
        lab.advance(15 * 60)
        faults = {f["id"]: f for f in lab.api("GET", "/faults?all=1")[1]["faults"]}
        self.assertEqual(faults[fid]["state"], "ended")
        self.assertEqual(lab.connect("EXCH1", "NS2", lab.dns_port), "open")

    def test_flap_comes_and_goes(self):
        lab = self.lab
        fid = lab.inject("net.ip_routing_disabled", router="RTR1", flap={"on": "1m", "off": "30s"})
        seen = []
        for step in (0, 61, 30, 30, 30, 31):
            if step:
                lab.advance(step)
            states = {f["id"]: f["state"] for f in lab.api("GET", "/faults?all=1")[1]["faults"]}
            seen.append(states[fid])
        self.assertEqual(seen, ["active", "off", "active", "active", "off", "active"])
        self.assertEqual(lab.connect("MAILHOST", "NS1", lab.dns_port), "timeout")


class Relocation(unittest.TestCase):
    def test_two_labs_side_by_side_on_their_own_prefixes(self):
        with Lab(prefix="127.231") as a, Lab(prefix="127.232") as b:
            self.assertEqual(a.addr("NS1"), "127.231.10.53")
            self.assertEqual(b.addr("NS1"), "127.232.10.53")
            self.assertEqual(a.dig("NS1", "exch1.corp.example").data(), ["127.231.10.190"])
            self.assertEqual(b.dig("NS1", "exch1.corp.example").data(), ["127.232.10.190"])
            # A fault in one lab stays in that lab.
            a.inject("net.wrong_gateway", host="MAILHOST", gateway="127.231.200.9")
            self.assertEqual(a.connect("MAILHOST", "NS1", a.dns_port), "timeout")
            self.assertEqual(b.connect("MAILHOST", "NS1", b.dns_port), "open")


if __name__ == "__main__":
    unittest.main()
