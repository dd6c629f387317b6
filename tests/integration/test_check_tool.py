"""`mailsim check-tool`: the diagnostic-tool harness against fake tools that know the truth."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

from labtest import MAILSIM, SCENARIOS, SOURCE_DIR

# A tool that knows the answer: it asks the lab's API for the active faults and
# reports them, minus --drop KIND, plus --add KIND TARGET.
ORACLE = r'''
import json, sys, urllib.request
api, token = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
req = urllib.request.Request(api + "/api/v1/faults", headers={"Authorization": "Bearer " + token})
faults = json.load(urllib.request.urlopen(req, timeout=10))["faults"]
found = [{"kind": f["kind"], "target": f["target"]} for f in faults]
while args:
    if args[0] == "--drop":
        found = [f for f in found if f["kind"] != args[1]]
        args = args[2:]
    elif args[0] == "--add":
        found.append({"kind": args[1], "target": args[2]})
        args = args[3:]
    elif args[0] == "--upper":
        found = [{"kind": f["kind"].upper(), "target": f["target"].upper()} for f in found]
        args = args[1:]
print(json.dumps({"findings": found}))
'''

# Prints what the placeholders became, and what the lab itself says.
ECHO = r'''
import json, os, sys, urllib.request
names = ["dns", "dns_addr", "dns_port", "smtp", "addr", "fqdn", "smtp_port", "api", "token", "scenario", "vantage_addr"]
values = dict(zip(names, sys.argv[1:]))
req = urllib.request.Request(values["api"] + "/api/v1/lab", headers={"Authorization": "Bearer " + values["token"]})
lab = json.load(urllib.request.urlopen(req, timeout=10))
env = {k: v for k, v in os.environ.items() if k.startswith("MAILSIM_")}
print(json.dumps({"findings": [], "values": values, "lab": lab, "env": env}))
'''

# Prints text for an adapter.
TEXTY = r'''
import json, sys, urllib.request
api, token = sys.argv[1], sys.argv[2]
req = urllib.request.Request(api + "/api/v1/faults", headers={"Authorization": "Bearer " + token})
print("mailprobe 1.0 starting")
for f in json.load(urllib.request.urlopen(req, timeout=10))["faults"]:
    print("PROBLEM [%s] at %s (confidence high)" % (f["kind"], f["target"]))
print("mailprobe done")
'''

PY = sys.executable or "python3"


def processes_mentioning(marker):
    """PIDs of processes whose command line contains `marker`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd:
            found.append((int(pid), cmd))
    return found


class CheckTool(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="mailsim-check-test-")
        for name, text in (("oracle.py", ORACLE), ("echo.py", ECHO), ("texty.py", TEXTY)):
            with open(os.path.join(cls.dir, name), "w") as f:
                f.write(text)
        # Our own TMPDIR: every work directory (and so every lab's ready file)
        # lies under it, which lets the tests look for leftover processes.
        cls.tmp = os.path.join(cls.dir, "tmp")
        os.mkdir(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def check(self, tool, *scenarios, args=(), timeout=300):
        """Runs check-tool; returns (process, JSON report, JUnit root)."""
        json_file = os.path.join(self.dir, "report.json")
        junit_file = os.path.join(self.dir, "report.xml")
        for f in (json_file, junit_file):
            if os.path.exists(f):
                os.remove(f)
        cmd = [MAILSIM, "check-tool", "--tool", tool, "--json", json_file, "--junit", junit_file] + list(args) + \
              [s if os.path.isabs(s) or s.startswith("scenarios") else os.path.join("scenarios", s) for s in scenarios]
        env = dict(os.environ, TMPDIR=self.tmp)
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=SOURCE_DIR, timeout=timeout, env=env)
        report = junit = None
        if os.path.exists(json_file):
            with open(json_file) as f:
                report = json.load(f)
        if os.path.exists(junit_file):
            junit = ET.parse(junit_file).getroot()  # raises on XML that is not well formed
        self.assertEqual(processes_mentioning(self.tmp), [], "labs or tools left running")
        return proc, report, junit

    def oracle(self, *extra):
        return "%s %s/oracle.py {api} {token} %s" % (PY, self.dir, " ".join(extra))

    def by_id(self, report):
        return {s["id"]: s for s in report["scenarios"]}

    def case_named(self, junit, name):
        for case in junit.iter("testcase"):
            if case.get("name") == name:
                return case
        raise AssertionError("no testcase %s" % name)

    def test_a_tool_that_finds_exactly_the_faults_passes(self):
        scenarios = ["bad-a-record.toml", "combo-two-sites.toml", "clean-lan.toml", "guided-step4.toml",
                     "ndr-loop.toml", "gwart-other-connector.toml"]
        proc, report, junit = self.check(self.oracle(), *scenarios, args=["--jobs", "3"])
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertTrue(report["passed"])
        self.assertEqual(report["summary"]["passed"], len(scenarios))
        results = self.by_id(report)
        self.assertEqual(results["combo-two-sites"]["expected"][0]["kind"], "net.link_down")
        self.assertEqual(len(results["combo-two-sites"]["found"]), 2)
        self.assertEqual(results["clean-lan"]["expected"], [])
        prefixes = {s["prefix"] for s in report["scenarios"]}
        self.assertEqual(len(prefixes), len(scenarios), "two labs shared a prefix")
        for p in prefixes:
            self.assertTrue(150 <= int(p.split(".")[1]) <= 199, p)
        self.assertEqual(junit.get("tests"), str(len(scenarios)))
        self.assertEqual(junit.get("failures"), "0")
        self.assertEqual(len(list(junit.iter("failure"))) + len(list(junit.iter("error"))), 0)
        self.assertEqual({c.get("name") for c in junit.iter("testcase")},
                         {"bad-a-record", "combo-two-sites", "clean-lan", "guided-step4", "ndr-loop",
                          "gwart-other-connector"})
        self.assertIn("6 of 6 scenario(s) passed", proc.stdout)
        self.assertRegex(proc.stdout, r"dns\.bad_a_record\s+1\s+1\s+0\s+0\s+100%\s+100%")

    def test_names_compare_like_a_diagnosis(self):
        # Upper case, and a host named by its FQDN instead of its name.
        proc, report, _ = self.check(self.oracle("--upper"), "guided-step2.toml", "combo-two-sites.toml")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        fqdn = self.oracle("--drop", "imc.stopped", "--add", "imc.stopped", "exch1.corp.example.")
        proc, report, _ = self.check(fqdn, "guided-step2.toml")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        # One end of a link names the link; saying a finding twice counts once.
        one_end = self.oracle("--drop", "net.link_down", "--add", "net.link_down", "br-rtr",
                              "--add", "net.link_down", "HQ-RTR")
        proc, report, _ = self.check(one_end, "combo-two-sites.toml")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_a_fault_that_starts_later_is_optional(self):
        # smtp-intermittent's fault starts after 5 minutes of lab time: not required...
        silent = "echo '{\"findings\": []}'"
        proc, report, _ = self.check(silent, "smtp-intermittent.toml")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(report["scenarios"][0]["expected"], [])
        # ... and no false alarm when a tool reports it.
        late = "echo '{\"findings\": [{\"kind\": \"smtp.tempfail\", \"target\": \"MAILHOST\"}]}'"
        proc, report, _ = self.check(late, "smtp-intermittent.toml")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(report["scenarios"][0]["late"], [{"kind": "smtp.tempfail", "target": "MAILHOST"}])
        self.assertEqual(report["scenarios"][0]["extra"], [])

    def test_a_missed_fault_fails_that_scenario(self):
        proc, report, junit = self.check(self.oracle("--drop", "dns.bad_a_record"), "bad-a-record.toml",
                                         "guided-step4.toml", args=["--jobs", "2"])
        self.assertEqual(proc.returncode, 1)
        results = self.by_id(report)
        self.assertEqual(results["bad-a-record"]["result"], "fail")
        self.assertEqual(results["bad-a-record"]["missed"], [{"kind": "dns.bad_a_record", "target": "exch1.corp.example"}])
        self.assertEqual(results["guided-step4"]["result"], "pass")
        self.assertFalse(report["passed"])
        failure = self.case_named(junit, "bad-a-record").find("failure")
        self.assertIsNotNone(failure)
        self.assertIn("missed dns.bad_a_record exch1.corp.example", failure.get("message"))
        self.assertIsNone(self.case_named(junit, "guided-step4").find("failure"))
        self.assertEqual(junit.get("failures"), "1")
        self.assertRegex(proc.stdout, r"bad-a-record\s+FAIL")
        self.assertIn("missed: dns.bad_a_record exch1.corp.example", proc.stdout)
        kinds = {k["kind"]: k for k in report["kinds"]}
        self.assertEqual(kinds["dns.bad_a_record"]["recall"], 0)

    def test_a_false_alarm_on_a_clean_scenario_fails_it(self):
        proc, report, junit = self.check(self.oracle("--add", "dns.server_down", "NS1"), "default.toml")
        self.assertEqual(proc.returncode, 1)
        result = report["scenarios"][0]
        self.assertEqual(result["result"], "fail")
        self.assertEqual(result["extra"], [{"kind": "dns.server_down", "target": "NS1"}])
        self.assertIn("extra dns.server_down NS1", self.case_named(junit, "default").find("failure").get("message"))
        kinds = {k["kind"]: k for k in report["kinds"]}
        self.assertEqual(kinds["dns.server_down"]["precision"], 0)
        self.assertIsNone(kinds["dns.server_down"]["recall"])

    def test_a_hanging_tool_is_killed_and_the_labs_stopped(self):
        marker = "hang-marker-%d" % os.getpid()
        # The tool also leaves a background child: the whole process group goes.
        tool = "sleep 300 & %s -c 'import time; time.sleep(300)' %s; wait" % (PY, marker)
        started = time.monotonic()
        proc, report, junit = self.check(tool, "default.toml", "clean-lan.toml",
                                         args=["--timeout", "2s", "--jobs", "2"])
        self.assertLess(time.monotonic() - started, 120)
        self.assertEqual(proc.returncode, 1)
        for s in report["scenarios"]:
            self.assertEqual(s["result"], "error")
            self.assertTrue(s["timed_out"])
            self.assertIn("timed out after 2s", s["error"])
        self.assertEqual(processes_mentioning(marker), [])
        error = self.case_named(junit, "default").find("error")
        self.assertEqual(error.get("type"), "timeout")
        self.assertEqual(junit.get("errors"), "2")
        self.assertIn("ERROR", proc.stdout)

    def test_garbage_on_stdout_is_an_error_for_that_scenario(self):
        proc, report, junit = self.check("echo 'All good! <no problems> & \x01'", "default.toml")
        self.assertEqual(proc.returncode, 1)
        s = report["scenarios"][0]
        self.assertEqual(s["result"], "error")
        self.assertIn("stdout is not JSON", s["error"])
        self.assertIn("All good!", s["error"])
        self.assertIn("not JSON", self.case_named(junit, "default").find("error").get("message"))
        for tool, message in (("echo '{\"findings\": 3}'", "not {\"findings\""),
                              ("echo '{\"findings\": [{\"target\": \"x\"}]}'", "finding 1 must be"),
                              ("true", "printed nothing"),
                              ("exit 3", "printed nothing")):
            proc, report, _ = self.check(tool, "default.toml")
            self.assertEqual(proc.returncode, 1, tool)
            self.assertIn(message, report["scenarios"][0]["error"], tool)

    def test_placeholders_are_filled(self):
        tool = ("%s %s/echo.py {dns} {dns_addr} {dns_port} {smtp:mailhost} {addr:EXCH1} {fqdn:exch1} {smtp_port} "
                "{api} {token} {scenario} {vantage_addr}" % (PY, self.dir))
        proc, report, _ = self.check(tool, "bad-a-record.toml", "link-down.toml", args=["--jobs", "2"])
        self.assertEqual(proc.returncode, 1)  # the echo tool finds nothing
        for s in report["scenarios"]:
            out = json.loads(s["stdout"])
            v, lab = out["values"], out["lab"]
            octet = s["prefix"].split(".")[1]
            self.assertEqual(lab["prefix"], s["prefix"])
            dns_port, smtp_port = lab["ports"]["dns"], lab["ports"]["smtp"]
            # Every vantage of these scenarios uses NS1 first (MAILHOST) or NS2 (REMOTE).
            ns = "127.%s.10.53" % octet if s["id"] == "bad-a-record" else "127.%s.100.53" % octet
            self.assertEqual(v["dns"], "%s:%d" % (ns, dns_port))
            self.assertEqual(v["dns_addr"], ns)
            self.assertEqual(v["dns_port"], str(dns_port))
            self.assertEqual(v["smtp"], "127.%s.200.25:%d" % (octet, smtp_port))
            self.assertEqual(v["addr"], "127.%s.10.190" % octet)
            self.assertEqual(v["fqdn"], "exch1.corp.example")
            self.assertEqual(v["smtp_port"], str(smtp_port))
            self.assertEqual(v["api"], lab["api"])
            self.assertEqual(v["token"], lab["token"])
            self.assertRegex(v["token"], r"^[0-9a-f]{32}$")
            self.assertEqual(v["scenario"], s["path"])
            vantage = next(h for h in lab["hosts"] if h["name"] == lab["vantage"])
            self.assertEqual(v["vantage_addr"], vantage["address"])
            self.assertEqual(out["env"]["MAILSIM_DNS"], v["dns"])
            self.assertEqual(out["env"]["MAILSIM_TOKEN"], v["token"])
        # Braces that are no placeholder stay; an unknown host is an error for the scenario.
        proc, report, _ = self.check("echo '{\"findings\": []}' | awk '{print}'", "default.toml")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        proc, report, _ = self.check("echo {smtp:NOBODY}", "default.toml")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("no host `NOBODY`", report["scenarios"][0]["error"])

    def test_an_adapter_reads_text(self):
        adapter = os.path.join(self.dir, "texty.toml")
        with open(adapter, "w") as f:
            f.write('[[rule]]\nregex = \'^PROBLEM \\[([a-z_.]+)\\] at (\\S+)\'\nkind = "$1"\ntarget = "$2"\n')
        tool = "%s %s/texty.py {api} {token}" % (PY, self.dir)
        proc, report, _ = self.check(tool, "bad-a-record.toml", "clean-lan.toml", args=["--adapter", adapter])
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(self.by_id(report)["bad-a-record"]["found"],
                         [{"kind": "dns.bad_a_record", "target": "exch1.corp.example"}])

    def test_the_swaks_adapter(self):
        if not shutil.which("swaks"):
            self.skipTest("swaks is not installed")
        tool = ("swaks --server {smtp:MAILHOST} --from probe@example.net --to postmaster@corp.example "
                "--timeout 3 --quit-after RCPT 2>&1 | sed 's/^/MAILHOST /'")
        proc, report, _ = self.check(tool, "smtp-port-closed.toml", "smtp-relay-denied.toml", "default.toml",
                                     args=["--adapter", "examples/swaks-adapter.toml", "--jobs", "3"])
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        results = self.by_id(report)
        self.assertEqual(results["smtp-port-closed"]["found"], [{"kind": "smtp.port_closed", "target": "MAILHOST"}])
        self.assertEqual(results["smtp-relay-denied"]["found"], [{"kind": "smtp.relay_denied", "target": "MAILHOST"}])

    def test_a_bad_adapter_is_a_usage_error_with_its_position(self):
        adapter = os.path.join(self.dir, "bad.toml")
        with open(adapter, "w") as f:
            f.write('[[rule]]\nregex = "("\nkind = "x"\n\n[[rule]]\nregx = "a"\nkind = "y"\n')
        proc, _, _ = self.check("true", "default.toml", args=["--adapter", adapter])
        self.assertEqual(proc.returncode, 2)
        self.assertIn(adapter + ":2:", proc.stderr)
        self.assertIn("bad regular expression", proc.stderr)
        self.assertIn("unknown key `regx`", proc.stderr)
        self.assertIn("did you mean `regex`", proc.stderr)

    def test_expect_overrides_the_faults_and_fragments_are_skipped(self):
        lib = os.path.join(self.dir, "lib", "scenarios")
        os.makedirs(os.path.join(lib, "base"))
        shutil.copy(os.path.join(SCENARIOS, "base", "guide.toml"), os.path.join(lib, "base", "guide.toml"))
        with open(os.path.join(lib, "expect.toml"), "w") as f:
            f.write('schema = 1\ninclude = ["base/guide.toml"]\n[scenario]\nid = "expect-test"\ntitle = "Expect"\nvantage = "MAILHOST"\n'
                    '[[fault]]\nkind = "imc.stopped"\nhost = "EXCH1"\n'
                    '[expect]\nfindings = [{ kind = "smtp.port_closed", target = "exch1.corp.example" }]\n')
        tool = "echo '{\"findings\":[{\"kind\":\"smtp.port_closed\",\"target\":\"EXCH1\"}]}'"
        proc, report, _ = self.check(tool, lib)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual([s["id"] for s in report["scenarios"]], ["expect-test"])
        self.assertEqual(report["scenarios"][0]["expect_source"], "expect")

    def test_an_invalid_scenario_is_an_error_not_a_crash(self):
        proc, report, junit = self.check("true", os.path.join(SOURCE_DIR, "tests/data/bad_scenarios/unknown_keys.toml"),
                                         "default.toml")
        self.assertEqual(proc.returncode, 1)
        bad = report["scenarios"][0]
        self.assertEqual(bad["result"], "error")
        self.assertIn("unknown_keys.toml:6:1: error: unknown key `gatway`", bad["error"])

    def test_usage_errors(self):
        for args in (["--tool", "true", "--timeout", "soon", "scenarios/default.toml"],
                     ["--tool", "true", "--jobs", "0", "scenarios/default.toml"],
                     ["scenarios/default.toml"]):
            out = subprocess.run([MAILSIM, "check-tool"] + args, capture_output=True, text=True, cwd=SOURCE_DIR,
                                 timeout=60)
            self.assertEqual(out.returncode, 2, args)

    def test_the_example_tool_is_honest_on_clean_scenarios(self):
        tool = ("%s examples/mailcheck.py --dns {dns} --smtp-port {smtp_port} --vantage-addr {vantage_addr} "
                "--inventory {scenario}" % PY)
        proc, report, _ = self.check(tool, "clean-lan.toml", "clean-dmz.toml", "clean-two-sites.toml", "default.toml",
                                     "bad-a-record.toml", "smtp-port-closed.toml", args=["--jobs", "3"])
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main()
