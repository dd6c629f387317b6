"""The control API: token, JSON errors, live configuration, faults, clock, log, events."""
import json
import socket
import unittest
import urllib.parse

from labtest import LabTestCase
from wsclient import WebSocket


class Auth(LabTestCase):
    def test_every_api_path_needs_the_token(self):
        lab = self.lab
        for path in ("/lab", "/hosts", "/faults", "/clock", "/log", "/zones"):
            status, body = lab.api("GET", path, token=False)
            self.assertEqual(status, 401, path)
            self.assertIn("error", body)
            self.assertIn("detail", body)
        self.assertEqual(lab.api("GET", "/lab")[0], 200)

    def test_a_wrong_token_is_refused(self):
        lab = self.lab
        real = lab.info["token"]
        lab.info["token"] = "0" * len(real)
        try:
            self.assertEqual(lab.api("GET", "/lab")[0], 401)
        finally:
            lab.info["token"] = real


class Errors(LabTestCase):
    def test_errors_are_json_with_a_reason(self):
        lab = self.lab
        status, body = lab.api("GET", "/nowhere")
        self.assertEqual(status, 404)
        self.assertIn("nowhere", body["error"])
        status, body = lab.api("DELETE", "/hosts")
        self.assertEqual(status, 405)
        status, body = lab.api("GET", "/hosts/NOPE")
        self.assertEqual(status, 404)

    def test_fault_injection_errors_say_why(self):
        lab = self.lab
        status, body = lab.api("POST", "/faults", {"kind": "dns.bad_a_recrod", "name": "x"})
        self.assertEqual(status, 400)
        self.assertIn("did you mean `dns.bad_a_record`", body["error"])
        status, body = lab.api("POST", "/faults", {"kind": "net.wrong_gateway", "host": "MAILHOST"})
        self.assertEqual(status, 400)
        self.assertIn("gateway", body["error"])
        status, body = lab.api("POST", "/faults", {"kind": "net.wrong_gateway", "host": "MAILHOST",
                                                   "gateway": "10.0.0.1"})
        self.assertEqual(status, 400)
        self.assertIn("outside", body["error"])
        status, body = lab.api("POST", "/faults", {"kind": "net.wrong_gateway", "host": "NOBODY",
                                                   "gateway": lab.addr("127.25.200.9")})
        self.assertEqual(status, 400)
        status, body = lab.api("POST", "/faults", {"kind": "net.link_down", "routers": ["RTR1", "RTR2"], "first": 2})
        self.assertEqual(status, 400)
        self.assertIn("first", body["error"])
        self.assertEqual(lab.api("DELETE", "/faults/zz9")[0], 404)

    def test_bad_bodies_are_400(self):
        lab = self.lab
        url = lab.info["api"] + "/api/v1/hosts/MAILHOST"
        import urllib.request
        req = urllib.request.Request(url, data=b"{not json", method="PATCH")
        req.add_header("Authorization", "Bearer " + lab.info["token"])
        try:
            urllib.request.urlopen(req, timeout=5)
            self.fail("accepted garbage")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 400)
            self.assertIn("not JSON", json.loads(e.read())["error"])
        status, body = lab.api("PATCH", "/hosts/MAILHOST", {"gatway": "x"})
        self.assertEqual(status, 400)
        self.assertIn("did you mean `gateway`", body["error"])
        status, body = lab.api("PATCH", "/hosts/MAILHOST", {"gateway": "10.1.1.1"})
        self.assertEqual(status, 400)
        self.assertIn("outside the lab prefix", body["error"])

    def test_garbage_on_the_api_port_leaves_it_serving(self):
        lab = self.lab
        host, port = lab.info["api"].rsplit("//", 1)[1].split(":")
        for junk in (b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 20000 + b"\r\n\r\n",
                     b"POST /api/v1/faults HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"):
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(junk)
            try:
                s.recv(4096)
            except OSError:
                pass
            s.close()
        self.assertEqual(lab.api("GET", "/lab")[0], 200)


class LiveConfiguration(LabTestCase):
    def test_lab_hosts_and_ready_json(self):
        lab = self.lab
        info = lab.api("GET", "/lab")[1]
        self.assertEqual(info["scenario"], "default")
        self.assertEqual(info["prefix"], lab.prefix)
        self.assertEqual(info["vantage"], "MAILHOST")
        ns1 = [h for h in info["hosts"] if h["name"] == "NS1"][0]
        self.assertEqual(ns1["services"], {"dns": lab.dns_port})
        exch = [h for h in info["hosts"] if h["name"] == "EXCH1"][0]
        self.assertEqual(exch["roles"], ["exchange"])
        self.assertIn("clock", info)
        host = lab.api("GET", "/hosts/exch1.corp.example")[1]  # by FQDN too
        self.assertEqual(host["name"], "EXCH1")
        self.assertEqual(host["gateway"], lab.addr("127.25.8.1"))
        self.assertEqual(host["segment"], "corp")
        self.assertEqual(host["exchange"]["imc"]["transfer_mode"], "inbound_outbound")

    def test_services_follow_the_live_configuration(self):
        lab = self.lab
        lab.api("PATCH", "/hosts/NS1", {"dns": {"truncated": True}}, expect=200)
        ns1 = [h for h in lab.api("GET", "/lab")[1]["hosts"] if h["name"] == "NS1"][0]
        self.assertEqual(ns1["services"], {"dns": lab.dns_port})  # UDP still answers
        self.assertEqual(lab.connect("CLIENT1", "NS1", lab.dns_port), "refused")  # TCP gone
        lab.api("PATCH", "/hosts/NS1", {"dns": {"truncated": False, "service": "stopped"}}, expect=200)
        ns1 = [h for h in lab.api("GET", "/lab")[1]["hosts"] if h["name"] == "NS1"][0]
        self.assertEqual(ns1["services"], {})  # down: nothing answers

    def test_zone_record_edits_change_what_dig_sees(self):
        lab = self.lab
        new = lab.addr("127.25.10.191")
        lab.api("POST", "/zones/corp.example/records", {"record": "exch2 300 IN A " + new}, expect=201)
        self.assertEqual(lab.dig("NS1", "exch2.corp.example").data(), [new])
        lab.api("POST", "/zones/corp.example/records",
                {"name": "www", "type": "CNAME", "data": "exch2"}, expect=201)
        self.assertIn(new, lab.dig("NS1", "www.corp.example").data())
        status, zone = lab.api("GET", "/zones/corp.example")
        names = [r["name"] for r in zone["records"]]
        self.assertIn("exch2.corp.example", names)
        q = urllib.parse.urlencode({"name": "exch2", "type": "A"})
        lab.api("DELETE", "/zones/corp.example/records?" + q, expect=200)
        self.assertEqual(lab.dig("NS1", "exch2.corp.example").status, "NXDOMAIN")
        status, body = lab.api("POST", "/zones/corp.example/records", {"record": "bad IN A 999.1.1.1"})
        self.assertEqual(status, 400)
        self.assertIn("IPv4", body["error"])
        status, body = lab.api("POST", "/zones/corp.example/records", {"record": "far IN A 10.0.0.1"})
        self.assertEqual(status, 400)
        self.assertIn("outside the lab prefix", body["error"])
        zones = lab.api("GET", "/zones")[1]["zones"]
        self.assertIn(("corp.example", "NS1"), [(z["origin"], z["server"]) for z in zones])

    def test_put_replaces_all_records(self):
        lab = self.lab
        text = ("@ IN SOA ns1 hostmaster 2 3600 600 86400 300\n@ IN NS ns1\nns1 IN A %s\nexch1 IN A %s\n"
                % (lab.addr("NS1"), lab.addr("127.25.10.200")))
        lab.api("PUT", "/zones/corp.example/records?server=NS1", {"records": text}, expect=200)
        self.assertEqual(lab.dig("NS1", "exch1.corp.example").data(), [lab.addr("127.25.10.200")])
        self.assertEqual(lab.dig("NS1", "corp.example", "MX").status, "NOERROR")
        self.assertEqual(lab.dig("NS1", "corp.example", "MX").data(), [])


class ClockAndLog(LabTestCase):
    def test_clock_advances(self):
        lab = self.lab
        before = lab.api("GET", "/clock")[1]["now"]
        after = lab.advance(3600)["now"]
        self.assertGreaterEqual(after - before, 3600)
        self.assertEqual(lab.api("POST", "/clock/advance", {"seconds": -5})[0], 400)

    def test_log_has_queries_faults_and_changes(self):
        lab = self.lab
        lab.dig("NS1", "exch1.corp.example", source="CLIENT1")
        lab.inject("dns.missing_a_record", name="exch1.corp.example")
        lab.api("PATCH", "/hosts/CLIENT1", {"dns_servers": [lab.addr("NS1")]}, expect=200)
        entries = lab.api("GET", "/log")[1]["entries"]
        kinds = {e["kind"] for e in entries}
        self.assertTrue({"dns", "fault", "config"} <= kinds, kinds)
        dns = [e for e in entries if e["kind"] == "dns"]
        self.assertIn(lab.addr("CLIENT1") + " asked exch1.corp.example A", dns[0]["text"])
        last = entries[-1]["seq"]
        self.assertEqual(lab.api("GET", "/log?since=%d" % last)[1]["entries"], [])

    def test_events_websocket_streams_entries_live(self):
        lab = self.lab
        host, port = lab.info["api"].rsplit("//", 1)[1].split(":")
        denied = WebSocket(host, int(port), "/api/v1/events")
        self.assertEqual(denied.status, 401)
        denied.close()
        ws = WebSocket(host, int(port), "/api/v1/events?token=" + lab.info["token"])
        self.assertEqual(ws.status, 101)
        lab.dig("NS1", "mail.corp.example", source="CLIENT1")
        seen = []
        while True:
            entry = json.loads(ws.recv())
            seen.append(entry)
            if entry["kind"] == "dns" and "mail.corp.example" in entry["text"]:
                break
        self.assertTrue(all("seq" in e and "time" in e for e in seen))
        ws.close()
        self.assertEqual(lab.api("GET", "/lab")[0], 200)


if __name__ == "__main__":
    unittest.main()
