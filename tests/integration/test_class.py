"""Class mode: `mailsim serve --class FILE` with many trainees in one process.

Every trainee gets a lab of their own (own prefix, own picks from their seed)
and a token that reaches only that lab; the instructor's token reaches the
class endpoints: every trainee's progress (also live over a WebSocket), faults
injected and cleared in one lab or in all, results as CSV and JSON. With
--state-dir a restart keeps tokens, sessions, scores and each lab's live
configuration and faults.

Real sockets throughout: dig against each lab's DNS server, TCP connects to
each lab's SMTP port, the API over HTTP. Nothing waits for lab time.
"""
import csv
import io
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from labtest import MAILSIM, SOURCE_DIR, Dig, tcp_connect
import wsclient

FIRST_FREE = 60  # class labs take second octets from here up; retried elsewhere when busy


def explain(scenario, prefix, seed):
    out = subprocess.run([MAILSIM, "explain", scenario, "--json", "--prefix", prefix, "--seed", str(seed)],
                         capture_output=True, text=True, timeout=60, cwd=SOURCE_DIR)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


class Class:
    """A `mailsim serve` process and its ready JSON."""

    def __init__(self, trainees, scenario="bad-a-record", extra="", state_dir=None):
        self.trainees = trainees
        self.scenario = scenario
        self.extra = extra
        self.dir = tempfile.mkdtemp(prefix="mailsim-class-")
        self.state_dir = state_dir
        self.proc = None
        self.info = None
        self.prefix = None

    def write(self, prefix):
        path = os.path.join(self.dir, "class.toml")
        with open(path, "w") as f:
            f.write('[class]\ntitle = "Test class"\nscenario = "%s"\nprefix = %d\nseed = 11\n%s'
                    % (self.scenario, prefix, self.extra))
            f.write("trainees = [%s]\n" % ", ".join('"%s"' % t for t in self.trainees))
        return path

    def start(self, prefix=None, attempts=6):
        # Labs of other tests may hold some prefix of the range: move the class elsewhere then.
        for attempt in range(attempts):
            base = prefix if prefix is not None else random.randrange(FIRST_FREE, 250 - len(self.trainees))
            try:
                return self._start_once(base)
            except PermissionError:
                if prefix is not None or attempt + 1 == attempts:
                    raise AssertionError("no free prefix range for the class")

    def _start_once(self, base):
        path = self.write(base)
        cmd = [MAILSIM, "serve", "--class", path, "--api", "127.0.0.1:0", "--json",
               "--ready-file", os.path.join(self.dir, "ready.json")]
        if self.state_dir:
            cmd += ["--state-dir", self.state_dir]
        self.stderr = open(os.path.join(self.dir, "stderr.txt"), "w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr, text=True, cwd=SOURCE_DIR)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(30)
            self.stderr.seek(0)
            err = self.stderr.read()
            code = self.proc.returncode
            self.proc.stdout.close()
            self.proc = None
            if code == 3 and "cannot bind" in err:
                raise PermissionError(err)
            raise AssertionError("mailsim serve exited %s before it was ready: %s" % (code, err))
        self.info = json.loads(line)
        self.prefix = base
        return self

    def stop(self, sig=signal.SIGTERM):
        if not self.proc:
            return
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("mailsim serve did not stop")
        self.proc.stdout.close()
        self.proc = None
        if sig == signal.SIGTERM and code != 0:
            raise AssertionError("mailsim serve exited with %s" % code)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def trainee(self, name):
        return [t for t in self.info["trainees"] if t["name"] == name][0]

    def call(self, token, method, path, body=None, raw=False):
        req = urllib.request.Request(self.info["api"] + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                status, text, ctype = resp.status, resp.read().decode(), resp.headers["Content-Type"]
        except urllib.error.HTTPError as e:
            status, text, ctype = e.code, e.read().decode(), e.headers["Content-Type"]
        if raw:
            return status, text, ctype
        return status, (json.loads(text) if text else None)

    def as_trainee(self, name, method, path, body=None):
        return self.call(self.trainee(name)["token"], method, "/api/v1" + path, body)

    def as_instructor(self, method, path, body=None):
        return self.call(self.info["instructor"]["token"], method, "/api/v1/class" + path, body)

    def address(self, name, host):
        status, lab = self.as_trainee(name, "GET", "/lab")
        assert status == 200, lab
        return [h for h in lab["hosts"] if h["name"] == host][0]["address"]

    def dig(self, name, server, qname, source=None):
        t = self.trainee(name)
        cmd = ["dig", "@" + self.address(name, server), "-p", str(t["ports"]["dns"]), qname, "A",
               "+time=1", "+tries=1", "+norecurse"]
        if source:
            cmd += ["-b", self.address(name, source)]
        return Dig(subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout)

    def fix_from_console(self, name):
        """Types the answer key's fix commands into the trainee's own console."""
        t = self.trainee(name)
        key = explain(t["scenario"], t["prefix"], t["seed"])
        for f in key["faults"]:
            for step in f["fix"]:
                status, out = self.as_trainee(name, "POST", "/console", {"host": step["host"], "line": step["command"]})
                assert status == 200, out
        return key


class ThirtyTrainees(unittest.TestCase):
    """Thirty labs in one process, each independent of the others."""

    N = 30

    @classmethod
    def setUpClass(cls):
        cls.names = ["t%02d" % i for i in range(1, cls.N + 1)]
        cls.room = Class(cls.names).start()

    @classmethod
    def tearDownClass(cls):
        cls.room.cleanup()

    def test_every_trainee_has_a_lab_of_their_own(self):
        info = self.room.info
        self.assertEqual([t["name"] for t in info["trainees"]], self.names)
        prefixes = [t["prefix"] for t in info["trainees"]]
        self.assertEqual(prefixes, ["127.%d" % (self.room.prefix + i) for i in range(self.N)])
        tokens = {t["token"] for t in info["trainees"]} | {info["instructor"]["token"]}
        self.assertEqual(len(tokens), self.N + 1)
        # Seeds differ, so do the picks: not every lab publishes the same wrong address.
        self.assertEqual(len({t["seed"] for t in info["trainees"]}), self.N)
        wrong = set()
        for t in info["trainees"][:8]:
            d = self.room.dig(t["name"], "NS1", "exch1.corp.example")
            self.assertEqual(d.status, "NOERROR")
            wrong.add(d.data()[0].split(".", 2)[2])  # the address without the prefix's octets
        self.assertGreater(len(wrong), 1, "eight trainees all got the same pick")
        self.assertTrue(info["trainees"][0]["page"].startswith(info["api"] + "/?token="))

    def test_a_trainee_token_reaches_only_that_lab(self):
        room = self.room
        for t in room.info["trainees"][:5]:
            status, lab = room.call(t["token"], "GET", "/api/v1/lab")
            self.assertEqual(status, 200)
            self.assertEqual(lab["prefix"], t["prefix"])
            self.assertEqual(lab["token"], t["token"])
        t = room.info["trainees"][3]
        # A trainee's token opens no class endpoint: their lab has none.
        self.assertEqual(room.call(t["token"], "GET", "/api/v1/class")[0], 404)
        self.assertEqual(room.call(t["token"], "GET", "/api/v1/class/results.csv", raw=True)[0], 404)
        self.assertEqual(room.call(room.info["instructor"]["token"], "GET", "/api/v1/lab")[0], 404)
        self.assertEqual(room.call("not-a-token", "GET", "/api/v1/lab")[0], 401)
        self.assertEqual(room.call(None, "GET", "/api/v1/lab")[0], 401)
        # The answer stays with the instructor.
        status, body = room.as_trainee("t04", "GET", "/faults")
        self.assertEqual(status, 403)
        self.assertIn("instructor", body["error"])
        self.assertEqual(room.as_trainee("t04", "DELETE", "/faults/f1")[0], 403)
        self.assertEqual(room.as_trainee("t04", "POST", "/faults", {"kind": "dns.server_down", "server": "NS1"})[0], 403)
        # The trainee's WebSocket opens with their token only.
        api = room.info["api"].split("//")[1]
        host, port = api.split(":")
        ok = wsclient.WebSocket(host, int(port), "/api/v1/events?token=" + t["token"])
        self.assertEqual(ok.status, 101)
        ok.close()
        bad = wsclient.WebSocket(host, int(port), "/api/v1/class/events?token=" + t["token"])
        self.assertEqual(bad.status, 404)
        nobody = wsclient.WebSocket(host, int(port), "/api/v1/events?token=wrong-token")
        self.assertEqual(nobody.status, 401)

    def test_a_fault_fixed_by_one_trainee_stays_for_the_others(self):
        room = self.room
        key = room.fix_from_console("t07")
        right = room.address("t07", "EXCH1")
        self.assertEqual(room.dig("t07", "NS1", "exch1.corp.example").data(), [right])
        for t in room.info["trainees"]:
            if t["name"] == "t07":
                continue
            d = room.dig(t["name"], "NS1", "exch1.corp.example")
            self.assertNotEqual(d.data(), [room.address(t["name"], "EXCH1")], "%s's lab was fixed too" % t["name"])
        status, overview = room.as_instructor("GET", "")
        self.assertEqual(status, 200)
        by = {t["name"]: t for t in overview["trainees"]}
        self.assertEqual(by["t07"]["faults_fixed"], 1)
        self.assertEqual(by["t07"]["faults_present"], 0)
        self.assertEqual(sum(t["faults_fixed"] for t in overview["trainees"]), 1)
        self.assertTrue(all(t["faults_present"] == 1 for n, t in by.items() if n != "t07"))
        self.assertEqual(len(key["faults"]), 1)

    def test_the_instructor_injects_and_clears_in_one_lab_or_in_all(self):
        room = self.room
        port = room.trainee("t10")["ports"]["smtp"]

        def smtp(name):
            return tcp_connect("127.0.0.1", room.address(name, "EXCH1"), port)

        self.assertEqual(smtp("t10"), "open")
        status, body = room.as_instructor("POST", "/faults", {"kind": "smtp.port_closed", "host": "EXCH1",
                                                              "trainees": "t10", "id": "closed"})
        self.assertEqual(status, 201, body)
        self.assertEqual(body["results"], [{"trainee": "t10", "id": "closed"}])
        self.assertEqual(smtp("t10"), "refused")
        self.assertEqual(smtp("t11"), "open")

        status, body = room.as_instructor("POST", "/faults", {"kind": "smtp.port_closed", "host": "EXCH1",
                                                              "trainees": "all", "id": "everyone"})
        self.assertEqual(status, 201, body)
        self.assertEqual(body["injected"], self.N)
        self.assertEqual(smtp("t11"), "refused")
        self.assertEqual(smtp("t29"), "refused")

        status, body = room.as_instructor("DELETE", "/faults/everyone?trainees=all")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["cleared"], self.N)
        self.assertEqual(smtp("t11"), "open")
        self.assertEqual(smtp("t10"), "refused", "t10's own fault must stay")
        self.assertEqual(room.as_instructor("DELETE", "/faults/closed?trainees=t10")[0], 200)
        self.assertEqual(smtp("t10"), "open")

        # Mistakes are JSON errors that say what is wrong.
        status, body = room.as_instructor("POST", "/faults", {"kind": "smtp.port_closed", "host": "EXCH1", "trainees": "t99"})
        self.assertEqual(status, 400)
        self.assertIn("no trainee `t99`", body["error"])
        status, body = room.as_instructor("POST", "/faults", {"kind": "smtp.port_closed", "host": "EXCH1"})
        self.assertEqual(status, 400)
        self.assertIn("trainees", body["error"])
        status, body = room.as_instructor("POST", "/faults", {"kind": "dns.nonsense", "trainees": "all"})
        self.assertEqual(status, 400)
        status, body = room.as_instructor("DELETE", "/faults/nothing?trainees=all")
        self.assertEqual(status, 404)

    def test_progress_sessions_and_exports(self):
        room = self.room
        status, s1 = room.as_trainee("t02", "POST", "/trainer/sessions", {"trainee": "someone else"})
        self.assertEqual(status, 201, s1)
        self.assertEqual(s1["trainee"], "t02", "a class lab's session belongs to its trainee")
        status, s2 = room.as_trainee("t02", "POST", "/trainer/sessions", {"trainee": "t02"})
        self.assertEqual(s2["id"], s1["id"], "reopening the page must resume the session")
        room.as_trainee("t02", "POST", "/trainer/sessions/%s/hint" % s1["id"])
        room.as_trainee("t02", "POST", "/trainer/sessions/%s/diagnose" % s1["id"], {"kind": "dns.servfail", "target": "NS1"})

        status, overview = room.as_instructor("GET", "")
        by = {t["name"]: t for t in overview["trainees"]}
        self.assertEqual(by["t02"]["state"], "running")
        self.assertEqual(by["t02"]["hints_used"], 1)
        self.assertEqual(by["t02"]["wrong_diagnoses"], 1)
        self.assertEqual(by["t03"]["state"], "not started")

        status, detail = room.as_instructor("GET", "/trainees/t02")
        self.assertEqual(status, 200)
        self.assertEqual(detail["report"]["hints_used"], 1)
        self.assertEqual(room.as_instructor("GET", "/trainees/nobody")[0], 404)

        status, text, ctype = room.call(room.info["instructor"]["token"], "GET", "/api/v1/class/results.csv", raw=True)
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/csv"))
        rows = list(csv.DictReader(io.StringIO(text)))
        self.assertEqual([r["trainee"] for r in rows], self.names)
        t02 = [r for r in rows if r["trainee"] == "t02"][0]
        self.assertEqual((t02["state"], t02["hints_used"], t02["wrong_diagnoses"]), ("running", "1", "1"))
        self.assertEqual(t02["scenario"], "bad-a-record")
        # The browser's download link carries the token in the query.
        url = room.info["api"] + "/api/v1/class/results.json?token=" + room.info["instructor"]["token"]
        with urllib.request.urlopen(url, timeout=20) as resp:
            results = json.loads(resp.read())
        self.assertEqual(len(results["trainees"]), self.N)
        self.assertIn("evidence", [t for t in results["trainees"] if t["name"] == "t02"][0]["report"])

    def test_the_instructor_sees_progress_live(self):
        room = self.room
        host, port = room.info["api"].split("//")[1].split(":")
        ws = wsclient.WebSocket(host, int(port), "/api/v1/class/events?token=" + room.info["instructor"]["token"])
        self.assertEqual(ws.status, 101)
        first = json.loads(ws.recv())
        self.assertEqual(len(first["trainees"]), self.N)
        status, s = room.as_trainee("t20", "POST", "/trainer/sessions", {"trainee": "t20"})
        room.as_trainee("t20", "POST", "/trainer/sessions/%s/hint" % s["id"])
        for _ in range(50):  # bounded: each message is a change or the two-second heartbeat
            o = json.loads(ws.recv())
            t20 = [t for t in o["trainees"] if t["name"] == "t20"][0]
            if t20.get("hints_used") == 1:
                break
        else:
            self.fail("the live view never showed t20's hint")
        ws.close()

    def test_pages_are_served(self):
        api = self.room.info["api"]
        with urllib.request.urlopen(api + "/instructor", timeout=20) as resp:
            html = resp.read().decode()
        self.assertIn('id="trainees"', html)
        self.assertIn('"kind":"smtp.port_closed"', html)
        self.assertNotIn("@@MAILSIM_CATALOGUE@@", html)
        with urllib.request.urlopen(api + "/", timeout=20) as resp:
            self.assertIn('id="console-output"', resp.read().decode())


class StateDirectory(unittest.TestCase):
    """A restart with the same --state-dir takes up tokens, sessions, scores, live configuration and faults."""

    def run_restart(self, sig):
        state = tempfile.mkdtemp(prefix="mailsim-class-state-")
        self.addCleanup(shutil.rmtree, state, True)
        room = Class(["ana", "ben"], state_dir=state, extra='speed = 60\n')
        self.addCleanup(room.cleanup)
        room.start()
        before = room.info
        # ana fixes her fault and takes a hint; the instructor breaks ben's SMTP.
        status, s = room.as_trainee("ana", "POST", "/trainer/sessions", {"trainee": "ana"})
        room.as_trainee("ana", "POST", "/trainer/sessions/%s/hint" % s["id"])
        room.fix_from_console("ana")
        status, body = room.as_instructor("POST", "/faults", {"kind": "smtp.port_closed", "host": "EXCH1",
                                                              "trainees": "ben", "id": "x1"})
        self.assertEqual(status, 201, body)
        room.as_trainee("ben", "POST", "/clock/advance", {"seconds": 3600})
        ana_right = room.address("ana", "EXCH1")
        ben_clock = room.as_trainee("ben", "GET", "/clock")[1]
        room.stop(sig)

        room.start(prefix=room.prefix)
        self.assertEqual([t["token"] for t in room.info["trainees"]], [t["token"] for t in before["trainees"]])
        self.assertEqual(room.info["instructor"]["token"], before["instructor"]["token"])
        self.assertEqual(room.dig("ana", "NS1", "exch1.corp.example").data(), [ana_right])
        self.assertNotEqual(room.dig("ben", "NS1", "exch1.corp.example").data(), [room.address("ben", "EXCH1")])
        port = room.trainee("ben")["ports"]["smtp"]
        self.assertEqual(tcp_connect("127.0.0.1", room.address("ben", "EXCH1"), port), "refused")
        self.assertEqual(tcp_connect("127.0.0.1", room.address("ana", "EXCH1"), port), "open")
        status, overview = room.as_instructor("GET", "")
        by = {t["name"]: t for t in overview["trainees"]}
        self.assertEqual(by["ana"]["session"], s["id"])
        self.assertEqual(by["ana"]["hints_used"], 1)
        self.assertEqual(by["ana"]["faults_fixed"], 1)
        self.assertEqual(by["ben"]["faults_present"], 2)
        self.assertIn("x1", [f["id"] for f in by["ben"]["faults"]])
        # The lab clock went on from where it was, not from zero.
        self.assertGreaterEqual(room.as_trainee("ben", "GET", "/clock")[1]["now"], 3600)
        self.assertGreaterEqual(room.as_trainee("ben", "GET", "/clock")[1]["now"], ben_clock["now"] - 1)
        # The instructor clears the injected fault after the restart, by the same id.
        self.assertEqual(room.as_instructor("DELETE", "/faults/x1?trainees=ben")[0], 200)
        self.assertEqual(tcp_connect("127.0.0.1", room.address("ben", "EXCH1"), port), "open")

    def test_restart_after_sigterm(self):
        self.run_restart(signal.SIGTERM)

    def test_restart_after_kill_9(self):
        self.run_restart(signal.SIGKILL)


class BadClassFiles(unittest.TestCase):
    def serve(self, text):
        d = tempfile.mkdtemp(prefix="mailsim-class-bad-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "class.toml")
        with open(path, "w") as f:
            f.write(text)
        return subprocess.run([MAILSIM, "serve", "--class", path, "--api", "127.0.0.1:0"], capture_output=True,
                              text=True, timeout=60, cwd=SOURCE_DIR), path

    def test_an_unknown_scenario_is_named_with_its_line(self):
        out, path = self.serve('[class]\ntrainees = ["a"]\nscenario = "no-such-scenario"\n')
        self.assertEqual(out.returncode, 1)
        self.assertIn("%s:3:12: error: there is no scenario `no-such-scenario`" % path, out.stderr)

    def test_a_typo_gets_a_suggestion(self):
        out, path = self.serve('[class]\ntrainee = ["a"]\nscenario = "bad-a-record"\n')
        self.assertEqual(out.returncode, 1)
        self.assertIn("%s:2:1: error: unknown key `trainee` in [class] — did you mean `trainees`?" % path, out.stderr)

    def test_a_scenario_path_is_relative_to_the_class_file(self):
        d = tempfile.mkdtemp(prefix="mailsim-class-rel-")
        self.addCleanup(shutil.rmtree, d, True)
        rel = os.path.relpath(os.path.join(SOURCE_DIR, "scenarios", "clean-lan.toml"), d)
        path = os.path.join(d, "class.toml")
        with open(path, "w") as f:
            f.write('[class]\nscenario = "%s"\nprefix = %d\ntrainees = ["solo"]\n'
                    % (rel, random.randrange(FIRST_FREE, 250)))
        # From another working directory, where the relative path means nothing.
        p = subprocess.Popen([MAILSIM, "serve", "--class", path, "--api", "127.0.0.1:0", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
        try:
            line = p.stdout.readline()
            self.assertTrue(line, p.stderr.read() if not line else "")
            self.assertEqual(json.loads(line)["trainees"][0]["scenario"], "clean-lan")
        finally:
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(20), 0)
            p.stdout.close()
            p.stderr.close()

    def test_serve_without_a_class_is_a_usage_error(self):
        out = subprocess.run([MAILSIM, "serve"], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--class", out.stderr)


if __name__ == "__main__":
    unittest.main()
