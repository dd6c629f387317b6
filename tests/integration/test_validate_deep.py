"""mailsim validate --deep: every scenario of the library is proved solvable in
throw-away labs, a fault that changes nothing is an error at its position, and
a check the healthy lab fails is an error at the check.

The labs of --deep run on 127.100-149 (the default) and 127.220-255 here, away
from check-tool's 127.150-199.
"""
import os
import re
import subprocess
import unittest

from labtest import MAILSIM, SOURCE_DIR

DATA = os.path.join(SOURCE_DIR, "tests", "data", "deep")


def mailsim(*args, cwd=SOURCE_DIR, timeout=600):
    return subprocess.run([MAILSIM] + list(args), capture_output=True, text=True, cwd=cwd, timeout=timeout)


def pinned(name):
    with open(os.path.join(DATA, name)) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def errors(stderr):
    return [line for line in stderr.splitlines() if ": error: " in line]


# What kind of evidence a real client gives for each family of faults: the
# probe that showed it, as --deep prints it.
REAL_CLIENT = {
    "net.": ("connect from", "lookup of"),
    "dns.": ("lookup of", "connect from"),
    "smtp.": ("SMTP from", "connect from", "connections in a row"),  # the burst: "4 connections in a row..."
    "imc.": ("connect from", "mail from", "`net start"),
    "mailbox.": ("SMTP from",),
    "mta.": ("mail from", "check "),
    "gwart.": ("mail from", "check "),
    "mail.": ("mail from", "SMTP from"),
}


class Library(unittest.TestCase):
    def test_every_scenario_of_the_library_is_solvable(self):
        out = mailsim("validate", "--deep", "scenarios")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertRegex(out.stdout, r"ok: \d+ file\(s\) valid; \d+ scenario\(s\) proved solvable with \d+ labs")
        self.assertNotIn("NOTHING SHOWS", out.stdout)
        scenario_lines = [l for l in out.stdout.splitlines() if l.startswith("deep: ")]
        library = [f for f in os.listdir(os.path.join(SOURCE_DIR, "scenarios")) if f.endswith(".toml")]
        self.assertEqual(len(scenario_lines), len(library))
        for line in scenario_lines:
            self.assertIn(": solvable — ", line)

        # Every kind of the catalogue is proved by some scenario, with evidence
        # from a real client (a connect, an SMTP dialogue, a lookup, mail sent
        # through the lab, the console's net start) or a failing check.
        catalogue = set(re.findall(r"^(\S+\.\S+)  \(", mailsim("faults").stdout, re.M))
        self.assertGreaterEqual(len(catalogue), 35)
        proved = {}
        evidence_re = re.compile(r": ((?:connect from|lookup of|SMTP from|mail from|`net start|check |default check |"
                              r"\d+ connections in a row).*)$")
        for line in out.stdout.splitlines():
            m = re.match(r"    fault \d+ \((\S+) ", line)
            if m:
                e = evidence_re.search(line)
                self.assertTrue(e, line)
                proved.setdefault(m.group(1), []).append(e.group(1))
        self.assertEqual(sorted(catalogue - set(proved)), [])
        for kind, evidence in proved.items():
            family = [v for k, v in REAL_CLIENT.items() if kind.startswith(k)][0]
            for e in evidence:
                self.assertTrue(any(f in e.split(":")[0] for f in family) or e.startswith("check ")
                                or e.startswith("default check "), "%s: %s" % (kind, e))


class Failures(unittest.TestCase):
    def test_a_fault_that_changes_nothing_is_an_error_at_its_position(self):
        out = mailsim("validate", "--deep", "--prefix-base", "220", "nothing_shows.toml", cwd=DATA)
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertEqual(errors(out.stderr), pinned("nothing_shows.expected"))
        self.assertIn("fault 1 (net.link_down R2,R3): NOTHING SHOWS", out.stdout)
        # The third fault does show, by a lookup a client could make.
        self.assertIn("fault 3 (dns.missing_a_record www.corp.example): lookup of www.corp.example A at NS", out.stdout)
        self.assertIn("1 of 1 file(s) have errors", out.stderr)
        # Without --deep the same file is valid: only a lab can tell.
        self.assertEqual(mailsim("validate", "nothing_shows.toml", cwd=DATA).returncode, 0)

    def test_a_check_the_answer_fails_is_an_error_at_the_check(self):
        out = mailsim("validate", "--deep", "--prefix-base", "230", "answer_fails.toml", cwd=DATA)
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertEqual(errors(out.stderr), pinned("answer_fails.expected"))

    def test_static_errors_are_reported_and_their_files_get_no_lab(self):
        out = mailsim("validate", "--deep", "--prefix-base", "240", "--jobs", "2",
                      "tests/data/bad_scenarios/unknown_keys.toml", "scenarios/default.toml", "scenarios/base")
        self.assertEqual(out.returncode, 1)
        self.assertIn("tests/data/bad_scenarios/unknown_keys.toml:6:1: error: unknown key `gatway`", out.stderr)
        self.assertIn("1 of 6 file(s) have errors", out.stderr)
        deep_lines = [l for l in out.stdout.splitlines() if l.startswith("deep: ")]
        self.assertEqual(deep_lines, [l for l in deep_lines if "scenarios/default.toml: solvable" in l])
        self.assertEqual(len(deep_lines), 1)

    def test_usage_errors_exit_2(self):
        self.assertEqual(mailsim("validate", "--deep", "--prefix-base", "0").returncode, 2)
        self.assertEqual(mailsim("validate", "--deep", "--jobs", "0").returncode, 2)
        bad = mailsim("validate", "--deep", "--timeout", "soon", "scenarios/default.toml")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--timeout", bad.stderr)


if __name__ == "__main__":
    unittest.main()
