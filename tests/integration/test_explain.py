"""`mailsim explain`: the answer key of every scenario, and fixes a real lab accepts."""
import glob
import json
import os
import subprocess
import tomllib
import unittest

from labtest import MAILSIM, SCENARIOS, SOURCE_DIR, Lab


def mailsim(*args, timeout=120):
    return subprocess.run([MAILSIM] + list(args), capture_output=True, text=True, cwd=SOURCE_DIR, timeout=timeout)


def library():
    """Every scenario of the library (fragments under base/ are not scenarios)."""
    return sorted(p for p in glob.glob(os.path.join(SCENARIOS, "**", "*.toml"), recursive=True)
                  if os.sep + "base" + os.sep not in p)


def written_faults(path):
    """The [[fault]] tables of a scenario file and its includes, as written."""
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    out = []
    for inc in doc.get("include", []):
        out += written_faults(os.path.join(os.path.dirname(path), inc))
    return out + doc.get("fault", [])


def explain(path, *args):
    out = mailsim("explain", path, "--json", *args)
    if out.returncode != 0:
        raise AssertionError("explain %s: exit %s: %s" % (path, out.returncode, out.stderr))
    return json.loads(out.stdout)


class EveryScenario(unittest.TestCase):
    def test_every_fault_of_every_scenario_has_a_fix(self):
        paths = library()
        self.assertGreater(len(paths), 20)
        for path in paths:
            with self.subTest(scenario=os.path.basename(path)):
                key = explain(path)
                written = written_faults(path)
                self.assertEqual([f["kind"] for f in key["faults"]], [f["kind"] for f in written])
                self.assertEqual(key["clean"], not written)
                for f in key["faults"]:
                    self.assertTrue(f["target"], f)
                    self.assertTrue(f["fix"], "no fix command for %s in %s" % (f["kind"], path))
                    for step in f["fix"]:
                        self.assertTrue(step["host"] and step["command"], step)
                    self.assertTrue(f["summary"] and f["symptom"] and f["tools"] and f["step"], f)
                    # Parameters as decided: every written key, picks resolved to one of the choices.
                    for k, v in next(w for w in written if w["kind"] == f["kind"]).items():
                        if k in ("kind", "id", "after", "until", "flap", "first", "odds"):
                            continue
                        if isinstance(v, dict) and "pick" in v:
                            self.assertIn(f["params"][k], v["pick"])
                            self.assertIn(k, f["picked"])
                        else:
                            self.assertEqual(f["params"][k], v)
                # Without [expect], a tool must report the faults active from the start; it may report the others.
                starts_later = {w["kind"] for w in written if "after" in w}
                self.assertEqual(key["expect"], [{"kind": f["kind"], "target": f["target"]} for f in key["faults"]
                                                 if f["kind"] not in starts_later])
                self.assertEqual(key["expect_later"], [{"kind": f["kind"], "target": f["target"]}
                                                       for f in key["faults"] if f["kind"] in starts_later])

    def test_text_form(self):
        out = mailsim("explain", "scenarios/bad-a-record.toml")
        self.assertEqual(out.returncode, 0, out.stderr)
        text = out.stdout
        for part in ("dns.bad_a_record", "target exch1.corp.example", "guide step 5", "what is wrong:", "symptom:",
                     "what tools show:", "dig", "on NS1: dnsadmin set corp.example exch1.corp.example. A 127.25.10.190",
                     "picked from", "diagnose dns.bad_a_record exch1.corp.example"):
            self.assertIn(part, text)
        timing = mailsim("explain", "scenarios/smtp-intermittent.toml").stdout
        self.assertIn("starts 5m", timing)
        self.assertIn("comes and goes", timing)
        self.assertIn("50%", timing)
        self.assertIn("optional: starts later", timing)
        net = mailsim("explain", "scenarios/link-down.toml").stdout
        self.assertIn("answers `connection refused` instead of timing out", net)

    def test_a_clean_scenario_says_it_has_no_fault(self):
        out = mailsim("explain", "scenarios/clean-lan.toml")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("no fault", out.stdout)
        key = explain("scenarios/clean-lan.toml")
        self.assertTrue(key["clean"])
        self.assertEqual(key["faults"], [])
        self.assertEqual(key["expect"], [])

    def test_by_id_and_with_another_seed(self):
        by_id = mailsim("explain", "bad-a-record")
        self.assertEqual(by_id.returncode, 0, by_id.stderr)
        seen = {explain("scenarios/bad-a-record.toml", "--seed", str(n))["faults"][0]["params"]["address"]
                for n in range(12)}
        self.assertGreater(len(seen), 1, "the seed never changes the pick")
        self.assertEqual(explain("scenarios/bad-a-record.toml", "--seed", "3"),
                         explain("scenarios/bad-a-record.toml", "--seed", "3"))

    def test_prefix_moves_the_key(self):
        key = explain("scenarios/wrong-address.toml", "--prefix", "127.77")
        self.assertEqual(key["prefix"], "127.77")
        self.assertTrue(key["faults"][0]["params"]["address"].startswith("127.77."))
        self.assertIn("netcfg set address 127.77.10.190", [s["command"] for s in key["faults"][0]["fix"]])
        bad = mailsim("explain", "scenarios/wrong-address.toml", "--prefix", "127.0")
        self.assertEqual(bad.returncode, 2)

    def test_a_bad_file_gives_file_line_col(self):
        out = mailsim("explain", "tests/data/bad_scenarios/unknown_keys.toml")
        self.assertEqual(out.returncode, 1)
        self.assertIn("tests/data/bad_scenarios/unknown_keys.toml:6:1: error: unknown key `gatway`", out.stderr)
        self.assertEqual(out.stdout, "")
        missing = mailsim("explain", "no/such/file.toml")
        self.assertEqual(missing.returncode, 1)
        self.assertIn("no/such/file.toml", missing.stderr)
        fragment = mailsim("explain", "scenarios/base/guide.toml")
        self.assertEqual(fragment.returncode, 1)
        self.assertIn("fragment", fragment.stderr)


class FixesOnARealLab(unittest.TestCase):
    """The answer key's fix commands, typed into a real lab's console, clear every fault."""

    SCENARIOS = ["bad-a-record.toml", "guided-step3.toml", "combo-two-sites.toml", "wrong-address.toml",
                 "imc-email-domain.toml", "routing-loop.toml", "smtp-reject.toml", "gwart-other-connector.toml",
                 "dns-truncated.toml", "mailbox-missing-address.toml"]

    def test_fixes_clear_the_faults(self):
        for name in self.SCENARIOS:
            with self.subTest(scenario=name), Lab(name) as lab:
                key = explain(lab.scenario, "--prefix", lab.prefix)
                status, faults = lab.api("GET", "/faults", expect=200)
                live = sorted((f["kind"], f["target"]) for f in faults["faults"])
                self.assertEqual(live, sorted((f["kind"], f["target"]) for f in key["faults"]),
                                 "explain and the running lab disagree on the faults")
                for f in key["faults"]:
                    for step in f["fix"]:
                        status, out = lab.api("POST", "/console", {"host": step["host"], "line": step["command"]})
                        self.assertEqual(status, 200, "%s on %s: %s" % (step["command"], step["host"], out))
                status, faults = lab.api("GET", "/faults", expect=200)
                self.assertEqual(faults["faults"], [], "still active after the fixes: %s" % faults["faults"])


if __name__ == "__main__":
    unittest.main()
