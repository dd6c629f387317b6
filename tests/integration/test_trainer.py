"""A whole exercise through the API and the console, as a trainee plays it:
read the briefing, guess wrong, take a hint, name the fault, fix it from the
console, verify, and read the score and its report.

Scenario scenarios/bad-a-record.toml: exch1.corp.example points at the wrong
address; its check resolves the name from MAILHOST within 5 lab minutes.
"""
import shutil
import tempfile
import unittest

from labtest import Lab, LabTestCase


class Exercise(LabTestCase):
    scenario = "bad-a-record.toml"

    def console(self, host, line):
        status, value = self.lab.api("POST", "/console", {"host": host, "line": line}, expect=200)
        return value["output"]

    def fault(self):
        status, value = self.lab.api("GET", "/faults", expect=200)
        self.assertEqual(len(value["faults"]), 1)
        return value["faults"][0]

    def test_a_whole_exercise(self):
        status, s = self.lab.api("POST", "/trainer/sessions", {"trainee": "ann"}, expect=201)
        sid = s["id"]
        self.assertEqual(s["scenario"], "bad-a-record")
        self.assertIn("DNS change", s["briefing"])
        self.assertEqual(s["points"], 100)
        self.assertEqual(s["report"]["state"], "running")

        # Investigate with the console and with a real tool.
        self.assertIn("Reply from", self.console("MAILHOST", "ping " + self.lab.addr("EXCH1")))
        wrong_address = self.fault()["address"]
        self.assertIn(wrong_address, self.console("MAILHOST", "nslookup exch1.corp.example"))
        self.lab.dig("NS1", "exch1.corp.example")  # from 127.0.0.1: the trainee's own machine

        # A wrong guess costs; a hint costs; the right diagnosis is free.
        _, d = self.lab.api("POST", "/trainer/sessions/%s/diagnose" % sid,
                            {"kind": "net.wrong_gateway", "target": "MAILHOST"}, expect=200)
        self.assertEqual((d["correct"], d["cost"]), (False, 15))
        _, h = self.lab.api("POST", "/trainer/sessions/%s/hint" % sid, expect=200)
        self.assertEqual(h["cost"], 10)
        self.assertTrue(h["text"])
        _, d = self.lab.api("POST", "/trainer/sessions/%s/diagnose" % sid,
                            {"kind": "DNS.Bad_A_Record", "target": "EXCH1.corp.example"}, expect=200)
        self.assertEqual((d["correct"], d["cost"], d["score"]), (True, 0, 75))
        status, err = self.lab.api("POST", "/trainer/sessions/%s/diagnose" % sid,
                                   {"kind": "dns.bad_a_recrd", "target": "x"})
        self.assertEqual(status, 400)
        self.assertIn("dns.bad_a_record", err["detail"])

        # Verify before the fix: one fault left, not named.
        _, v = self.lab.api("POST", "/trainer/sessions/%s/verify" % sid, expect=200)
        self.assertFalse(v["passed"])
        self.assertEqual(v["reasons"], ["1 fault is still present in the lab"])

        # The fix, from NS1's console.
        out = self.console("NS1", "dnsadmin set corp.example exch1 A " + self.lab.addr("EXCH1"))
        self.assertIn("is in zone corp.example", out)
        self.assertEqual(self.lab.api("GET", "/faults", expect=200)[1]["faults"], [])

        _, v = self.lab.api("POST", "/trainer/sessions/%s/verify" % sid, expect=200)
        self.assertTrue(v["passed"], v["reasons"])
        self.assertEqual(v["score"], 75)
        report = v["report"]
        self.assertEqual(report["state"], "passed")
        self.assertEqual((report["hints_used"], report["wrong_diagnoses"]), (1, 1))
        self.assertEqual([(f["kind"], f["diagnosed"], f["fixed"]) for f in report["faults"]],
                         [("dns.bad_a_record", True, True)])
        self.assertEqual(len(report["checks"]), 1)
        self.assertTrue(report["checks"][0]["passed"])
        self.assertEqual(report["checks"][0]["got"], self.lab.addr("EXCH1"))
        # The evidence: the console lines typed and the trainee's own dig.
        sources = {e["source"] for e in report["evidence"]}
        texts = " ".join(e["text"] for e in report["evidence"])
        self.assertIn("console", sources)
        self.assertIn("dnsadmin set corp.example exch1 A", texts)
        self.assertIn("dns", sources)

        # The session keeps its result.
        _, again = self.lab.api("GET", "/trainer/sessions/" + sid, expect=200)
        self.assertEqual(again["report"]["score"], 75)
        _, listing = self.lab.api("GET", "/trainer/sessions", expect=200)
        self.assertEqual(listing["sessions"], [{"id": sid, "trainee": "ann", "state": "passed", "score": 75}])

    def test_the_console_plays_the_trainer_too(self):
        self.assertIn("DNS change", self.console("MAILHOST", "briefing"))
        self.assertIn("dns.bad_a_record", self.console("MAILHOST", "catalogue"))
        self.assertIn("Hint 1:", self.console("MAILHOST", "hint"))
        self.assertIn("Not this one (-15 points)", self.console("MAILHOST", "diagnose net.link_down RTR1"))
        self.assertIn("Right:", self.console("MAILHOST", "diagnose dns.bad_a_record exch1.corp.example"))
        self.assertIn("still present", self.console("MAILHOST", "verify"))
        self.console("NS1", "dnsadmin set corp.example exch1 A " + self.lab.addr("EXCH1"))
        self.assertIn("Score: 75 of 100", self.console("MAILHOST", "verify"))
        self.assertIn("passed", self.console("MAILHOST", "score"))
        self.assertIn("no fault kind", self.console("MAILHOST", "diagnose nope x"))
        _, listing = self.lab.api("GET", "/trainer/sessions", expect=200)
        self.assertEqual([s["trainee"] for s in listing["sessions"]], ["console"])

    def test_unknown_sessions_and_bad_bodies(self):
        self.assertEqual(self.lab.api("GET", "/trainer/sessions/s99")[0], 404)
        self.assertEqual(self.lab.api("POST", "/trainer/sessions/s99/hint")[0], 404)
        self.assertEqual(self.lab.api("POST", "/trainer/sessions", {"trainee": ""})[0], 400)
        self.assertEqual(self.lab.api("POST", "/trainer/sessions", {"name": "x"})[0], 400)
        _, s = self.lab.api("POST", "/trainer/sessions", {}, expect=201)
        self.assertEqual(self.lab.api("POST", "/trainer/sessions/%s/diagnose" % s["id"], {"kind": "x"})[0], 400)
        # Every hint, then 409.
        while self.lab.api("POST", "/trainer/sessions/%s/hint" % s["id"])[0] == 200:
            pass
        self.assertEqual(self.lab.api("POST", "/trainer/sessions/%s/hint" % s["id"])[0], 409)


class DeliverChecks(LabTestCase):
    """A scenario without [[trainer.check]]: verify sends real mail both ways."""

    scenario = "default.toml"
    lab_args = ("--speed", "0.001")

    def test_default_checks_deliver_mail_in_and_out(self):
        _, s = self.lab.api("POST", "/trainer/sessions", {"trainee": "bo"}, expect=201)
        _, v = self.lab.api("POST", "/trainer/sessions/%s/verify" % s["id"], expect=200)
        self.assertTrue(v["passed"], v["reasons"])
        kinds = {(c["kind"], c["got"]) for c in v["report"]["checks"]}
        self.assertEqual(kinds, {("deliver", "delivered")})
        self.assertGreaterEqual(len(v["report"]["checks"]), 2)
        # The time verify let pass does not count against the trainee.
        self.assertEqual(v["report"]["elapsed_seconds"], 0)


class ConnectAndMxChecks(LabTestCase):
    """clean-dmz's checks: a connect from RELAY1 (`from`), an MX lookup compared
    by host name, and a delivery. A healthy lab passes all three."""

    scenario = "clean-dmz.toml"

    def test_a_healthy_lab_passes_its_connect_and_mx_checks(self):
        _, s = self.lab.api("POST", "/trainer/sessions", {"trainee": "cy"}, expect=201)
        _, v = self.lab.api("POST", "/trainer/sessions/%s/verify" % s["id"], expect=200)
        self.assertTrue(v["passed"], v["reasons"])
        got = {c["kind"]: c["got"] for c in v["report"]["checks"]}
        self.assertEqual(got["connect"], "open")
        self.assertEqual(got["resolve"], "10 relay1.works.example.")
        self.assertEqual(got["deliver"], "delivered")


class DefaultChecksFromAWorkstation(LabTestCase):
    """dns-servfail has a workstation as its vantage host and no checks: the
    default checks send the outside mail through the relay instead."""

    scenario = "dns-servfail.toml"

    def test_verify_passes_once_the_fault_is_cleared(self):
        fault = self.lab.api("GET", "/faults", expect=200)[1]["faults"][0]
        self.lab.clear(fault["id"])
        _, s = self.lab.api("POST", "/trainer/sessions", {"trainee": "di"}, expect=201)
        _, v = self.lab.api("POST", "/trainer/sessions/%s/verify" % s["id"], expect=200)
        self.assertTrue(v["passed"], v["reasons"])
        self.assertEqual({c["got"] for c in v["report"]["checks"]}, {"delivered"})


class Persistence(unittest.TestCase):
    """With --state-dir, a restart keeps the sessions, their hints, diagnoses and scores."""

    def test_sessions_survive_kill_9(self):
        state = tempfile.mkdtemp(prefix="mailsim-trainer-state-")
        self.addCleanup(shutil.rmtree, state, True)
        lab = Lab("bad-a-record.toml", args=["--state-dir", state])
        lab.start()
        try:
            _, s = lab.api("POST", "/trainer/sessions", {"trainee": "cy"}, expect=201)
            lab.api("POST", "/trainer/sessions/%s/hint" % s["id"], expect=200)
            lab.api("POST", "/trainer/sessions/%s/diagnose" % s["id"], {"kind": "net.link_down", "target": "RTR1"},
                    expect=200)
            lab.api("POST", "/console", {"host": "MAILHOST", "line": "ipconfig"}, expect=200)
        finally:
            lab.proc.kill()  # no chance to save anything on the way out
            lab.proc.wait()
            lab.proc.stdout.close()
            lab.stderr.close()
            lab.proc = None
        again = Lab("bad-a-record.toml", prefix=lab.prefix, args=["--state-dir", state])
        again.start()
        self.addCleanup(again.stop)
        _, got = again.api("GET", "/trainer/sessions/" + s["id"], expect=200)
        self.assertEqual(got["trainee"], "cy")
        self.assertEqual(got["score"], 75)
        self.assertEqual((got["report"]["hints_used"], got["report"]["wrong_diagnoses"]), (1, 1))
        self.assertIn("MAILHOST> ipconfig", " ".join(e["text"] for e in got["report"]["evidence"]))
        # New sessions do not reuse an id.
        _, t = again.api("POST", "/trainer/sessions", {"trainee": "di"}, expect=201)
        self.assertNotEqual(t["id"], s["id"])

    def test_live_configuration_survives_kill_9(self):
        """A fix, an injected fault and the lab clock: all there after kill -9 and a restart."""
        state = tempfile.mkdtemp(prefix="mailsim-live-state-")
        self.addCleanup(shutil.rmtree, state, True)
        lab = Lab("bad-a-record.toml", args=["--state-dir", state])
        lab.start()
        right = lab.addr("EXCH1")
        try:
            lab.api("POST", "/console", {"host": "NS1", "line": "dnsadmin set corp.example exch1 A " + right},
                    expect=200)
            lab.inject("smtp.port_closed", host="EXCH1", id="late")
            lab.advance(7200)
            self.assertEqual(lab.dig("NS1", "exch1.corp.example").data(), [right])
        finally:
            lab.proc.kill()
            lab.proc.wait()
            lab.proc.stdout.close()
            lab.stderr.close()
            lab.proc = None
        again = Lab("bad-a-record.toml", prefix=lab.prefix, args=["--state-dir", state])
        again.start()
        self.addCleanup(again.stop)
        self.assertEqual(again.dig("NS1", "exch1.corp.example").data(), [right])
        _, faults = again.api("GET", "/faults?all=1", expect=200)
        states = {f["id"]: (f["state"], f["source"]) for f in faults["faults"]}
        self.assertEqual(states, {"f1": ("cleared", "scenario"), "late": ("active", "api")})
        self.assertEqual(again.connect(None, "EXCH1", again.smtp_port), "refused")
        self.assertGreaterEqual(again.api("GET", "/clock", expect=200)[1]["now"], 7200)
        # The fault injected before the restart clears by its id after it.
        again.clear("late")
        self.assertEqual(again.connect(None, "EXCH1", again.smtp_port), "open")


if __name__ == "__main__":
    unittest.main()
