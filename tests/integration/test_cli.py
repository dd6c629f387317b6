"""The mailsim command line: exit codes, messages, the endpoint table, shutdown."""
import json
import os
import signal
import subprocess
import tempfile
import unittest

from labtest import MAILSIM, SOURCE_DIR, Lab


def mailsim(*args, cwd=SOURCE_DIR, timeout=60):
    return subprocess.run([MAILSIM] + list(args), capture_output=True, text=True, cwd=cwd, timeout=timeout)


class Commands(unittest.TestCase):
    def test_validate_the_library_and_a_bad_file(self):
        ok = mailsim("validate", "scenarios")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn("valid", ok.stdout)
        bad = mailsim("validate", "tests/data/bad_scenarios/unknown_keys.toml", "scenarios/default.toml")
        self.assertEqual(bad.returncode, 1)
        self.assertIn("tests/data/bad_scenarios/unknown_keys.toml:6:1: error: unknown key `gatway`", bad.stderr)
        self.assertIn("1 of 2 file(s) have errors", bad.stderr)
        missing = mailsim("validate", "no/such/file.toml")
        self.assertEqual(missing.returncode, 1)
        self.assertIn("cannot read", missing.stderr)

    def test_faults_prints_the_whole_catalogue(self):
        out = mailsim("faults")
        self.assertEqual(out.returncode, 0)
        for kind in ("imc.not_installed", "net.wrong_gateway", "dns.bad_a_record", "smtp.rate_limit",
                     "gwart.other_connector", "mail.ndr_loop"):
            self.assertIn(kind, out.stdout)
        self.assertIn("cleared by:", out.stdout)

    def test_list_prints_the_library(self):
        out = mailsim("list")
        self.assertEqual(out.returncode, 0)
        self.assertIn("default", out.stdout)
        self.assertIn("ID", out.stdout.splitlines()[0])

    def test_usage_errors_exit_2(self):
        self.assertEqual(mailsim().returncode, 2)
        self.assertEqual(mailsim("frobnicate").returncode, 2)
        self.assertEqual(mailsim("run", "--ports", "weird").returncode, 2)
        out = mailsim("run", "--prefix", "127.0")
        self.assertEqual(out.returncode, 2)
        self.assertIn("127.0 is never used", out.stderr)

    def test_run_refuses_an_invalid_scenario_with_exit_1(self):
        out = mailsim("run", "tests/data/bad_scenarios/references.toml")
        self.assertEqual(out.returncode, 1)
        self.assertIn("error: vantage: no host called `NOBODY`", out.stderr)


class Run(unittest.TestCase):
    def test_an_address_that_cannot_be_bound_exits_3_and_says_why(self):
        with Lab(ports="high") as first:
            # The same prefix and ports as a running lab: nothing can be bound.
            out = mailsim("run", "--prefix", first.prefix, "--ports", "high", "--api", "127.0.0.1:0", timeout=60)
            self.assertEqual(out.returncode, 3, out.stderr)
            self.assertIn("cannot bind", out.stderr)
            self.assertIn(first.addr("NS1"), out.stderr)

    def test_api_outside_loopback_is_refused(self):
        out = mailsim("run", "--prefix", "127.233", "--api", "0.0.0.0:0", timeout=60)
        self.assertEqual(out.returncode, 3)
        self.assertIn("outside 127.0.0.0/8", out.stderr)

    def test_sigint_shuts_down_cleanly_and_removes_the_ready_file(self):
        lab = Lab(prefix="127.234", args=["--log-level", "info"])
        lab.start()
        self.assertTrue(os.path.exists(lab.ready_file))
        lab.proc.send_signal(signal.SIGINT)
        self.assertEqual(lab.proc.wait(10), 0)
        self.assertFalse(os.path.exists(lab.ready_file))
        self.assertIn("stopping on SIGINT", lab.log_text())
        lab.proc.stdout.close()
        lab.stderr.close()
        lab.proc = None

    def test_endpoint_table_and_run_by_id(self):
        proc = subprocess.Popen([MAILSIM, "run", "default", "--prefix", "127.235", "--api", "127.0.0.1:0",
                                 "--token", "sesame"], cwd=SOURCE_DIR, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Stop with"):
                break
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(10), 0)
        proc.stdout.close()
        proc.stderr.close()
        table = "".join(lines)
        self.assertIn("mailsim lab `default`", table)
        self.assertIn("NS1         127.235.10.53", table)
        self.assertIn("dns 127.235.10.53:", table)
        self.assertIn("You are MAILHOST (127.235.200.25)", table)
        self.assertIn("Bearer sesame", table)

    def test_ports_high(self):
        with Lab(prefix="127.236", ports="high") as lab:
            self.assertEqual(lab.info["ports"], {"dns": 5353, "smtp": 2525})
            self.assertEqual(lab.dig("NS1", "exch1.corp.example").status, "NOERROR")

    def test_speed_flag(self):
        with Lab(prefix="127.237", args=["--speed", "600"]) as lab:
            self.assertEqual(lab.api("GET", "/clock")[1]["speed"], 600)


if __name__ == "__main__":
    unittest.main()
