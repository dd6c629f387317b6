"""The trainee web page (GET /, trainer/web/trainee.html) in a real browser.

A lab of scenarios/bad-a-record.toml runs with its API on loopback; Debian's
headless Chromium opens http://API/?token=T&trainee=NAME and a trainee's whole
session is played through the page with real key presses and clicks (cdp.py,
over the Chrome DevTools Protocol): the briefing and the SVG topology appear,
`ipconfig /all` is typed into the console, a hint is taken, a wrong and then a
right diagnosis are submitted, verify says "not yet", the DNS record is fixed
from the console on NS1 (picked by clicking it in the topology), verify passes
and shows the report, mailboxes and queues are listed, and a screenshot is
saved. What the page shows is compared with what the API says.

The browser reaches nothing but the lab: every URL the page requests is
checked to be on the lab's API address. Every wait is a bounded poll; nothing
measures time. The screenshot is kept (its path is printed) in
$MAILSIM_WEB_SHOTS, by default $TMPDIR/mailsim-web/trainee-page.png.
"""
import json
import os
import re
import sys
import tempfile
import tomllib
import unittest
import urllib.parse
import urllib.request

import cdp
from labtest import LabTestCase, scenario_path

SCENARIO = "bad-a-record.toml"


def js(value):
    """A Python string as a JavaScript string literal."""
    return json.dumps(value)


class PageServedTest(LabTestCase):
    """GET / without a browser: one self-contained HTML document."""

    scenario = SCENARIO

    def test_page_is_self_contained_and_lists_the_catalogue(self):
        with urllib.request.urlopen(self.lab.info["api"] + "/", timeout=10) as resp:
            self.assertEqual(resp.status, 200)
            self.assertTrue(resp.headers["Content-Type"].startswith("text/html"))
            html = resp.read().decode()
        self.assertIn('id="console-output"', html)
        # Nothing is fetched from elsewhere: the only absolute URL is the SVG namespace.
        self.assertEqual(set(re.findall(r"(?:https?:)?//[\w.-]+\.\w+[^\s\"')]*", html)), {"http://www.w3.org/2000/svg"})
        self.assertNotRegex(html, r"<(?:link|script|img|iframe)[^>]+(?:src|href)=\"(?!data:)")
        # The server filled in the fault catalogue for the diagnosis form.
        self.assertNotIn("@@MAILSIM_CATALOGUE@@", html)
        self.assertIn('"kind":"dns.bad_a_record"', html)
        self.assertIn('"kind":"mail.ndr_loop"', html)


@unittest.skipUnless(cdp.chromium_binary(), "chromium is not installed (scripts/install-deps.sh test installs it)")
class TraineePageTest(LabTestCase):
    scenario = SCENARIO

    def setUp(self):
        super().setUp()
        self.browser = cdp.Browser()
        self.addCleanup(self.browser.close)
        self.page = self.browser.new_page()
        self.origin = self.lab.info["api"]  # http://127.0.0.1:PORT

    def api(self, method, path, body=None):
        return self.lab.api(method, path, body, expect=200 if method == "GET" else None)[1]

    def console_lines(self):
        return self.page.text("#console-output")

    def type_command(self, line):
        """Types a line at the console prompt and waits for the next prompt; returns what it printed."""
        page = self.page
        prompt = page.wait_for("document.querySelector('#console-prompt').textContent", "the console prompt")
        before = len(self.console_lines())
        page.type("#console-input", line)
        page.press("Enter")
        # The page echoes the line after the prompt; the command is done when a prompt shows again.
        page.wait_for("document.querySelector('#console-output').textContent.length > %d && "
                      "document.querySelector('#console-prompt').textContent !== ''" % before,
                      "the console to answer %r" % line)
        out = self.console_lines()[before:]
        self.assertTrue(out.startswith(prompt + line + "\n"), out[:200])
        return out[len(prompt + line + "\n"):]

    def wait_output(self, start, pattern, what):
        """Waits until the console output after `start` matches `pattern` (a JavaScript regex, multi-line)."""
        try:
            self.page.wait_for("new RegExp(%s, 'm').test(document.querySelector('#console-output').textContent.slice(%d))"
                               % (js(pattern), start), what)
        except AssertionError as e:
            listening = {h["name"]: h.get("services") for h in self.lab.api("GET", "/lab")[1]["hosts"]}
            raise AssertionError("%s; the console shows: %r; listening now: %s"
                                 % (e, self.console_lines()[start:], listening)) from None

    def test_a_trainee_session_through_the_page(self):
        lab, page = self.lab, self.page
        with open(scenario_path(SCENARIO), "rb") as f:
            scenario = tomllib.load(f)
        url = self.origin + "/?" + urllib.parse.urlencode({"token": lab.info["token"], "trainee": "Web Trainee"})
        page.navigate(url)

        # The briefing: the page started a session and shows what the API says of it.
        session_id = page.wait_for(
            "document.querySelector('#briefing-title').textContent && sessionStorage.length === 1 && "
            "sessionStorage.getItem(sessionStorage.key(0))", "the briefing")
        session = self.api("GET", "/trainer/sessions/" + session_id)
        self.assertEqual(session["trainee"], "Web Trainee")
        self.assertEqual(page.text("#briefing-title"), session["title"])
        self.assertEqual(page.text("#briefing-title"), scenario["scenario"]["title"])
        self.assertEqual(page.text("#briefing-text").split(), session["briefing"].split())
        self.assertEqual(page.text("#score"), "%d / %d" % (session["score"], session["points"]))

        # The topology: every segment, router, link and host of GET /topology, faults not shown.
        topo = self.api("GET", "/topology")
        page.wait_for("document.querySelectorAll('#topology svg .host').length === %d" % len(topo["hosts"]),
                      "the topology picture")
        drawn = page.evaluate("""({
            hosts: [...document.querySelectorAll('#topology svg .host')].map(g => g.getAttribute('data-host')),
            segments: [...document.querySelectorAll('#topology svg .segment')].map(g => g.getAttribute('data-segment')),
            routers: [...document.querySelectorAll('#topology svg .router')].map(g => g.getAttribute('data-router')),
            links: document.querySelectorAll('#topology svg .link').length,
            text: [...document.querySelectorAll('#topology svg text, #topology svg title')].map(t => t.textContent).join('\\n'),
            vantage: [...document.querySelectorAll('#topology svg .host.vantage')].map(g => g.getAttribute('data-host')),
        })""")
        self.assertEqual(sorted(drawn["hosts"]), sorted(h["name"] for h in topo["hosts"]))
        self.assertEqual(drawn["segments"], [s["name"] for s in topo["segments"]])
        self.assertEqual(sorted(drawn["routers"]), sorted(r["name"] for r in topo["routers"]))
        self.assertEqual(drawn["links"], len(topo["links"]))
        self.assertEqual(drawn["vantage"], [topo["vantage"]])
        for h in topo["hosts"]:
            self.assertIn(h["address"], drawn["text"])
        for s in topo["segments"]:
            self.assertIn(s["cidr"], drawn["text"])
        bad = [f["address"] for f in self.api("GET", "/faults")["faults"]]
        for address in bad:  # the wrong A record is the fault: the picture shows the design
            self.assertNotRegex(drawn["text"], r"(?<![\d.])%s(?![\d.])" % re.escape(address))

        # The console, on the vantage host: a command typed at the prompt, and its history.
        self.assertEqual(page.evaluate("document.querySelector('#console-host').value"), topo["vantage"])
        out = self.type_command("ipconfig /all")
        self.assertIn("Windows NT IP Configuration", out)
        self.assertIn(lab.addr(topo["vantage"]), out)
        page.focus("#console-input")
        page.press("ArrowUp")
        self.assertEqual(page.evaluate("document.querySelector('#console-input').value"), "ipconfig /all")
        page.press("ArrowDown")
        self.assertEqual(page.evaluate("document.querySelector('#console-input').value"), "")

        # A hint costs points.
        page.click("#hint-button")
        hint = page.wait_for("document.querySelector('#hints li') && document.querySelector('#hints li').textContent",
                             "the hint")
        self.assertTrue(hint.startswith(scenario["trainer"]["hint"][0]["text"]), hint)
        after_hint = self.api("GET", "/trainer/sessions/" + session_id)
        self.assertEqual(after_hint["hints_left"], session["hints_left"] - 1)
        page.wait_for("document.querySelector('#hints-left').textContent === %s" % js(str(after_hint["hints_left"])),
                      "the hints left")

        # Diagnosis: a wrong one, then the right one.
        kinds = page.evaluate("[...document.querySelectorAll('#diagnose-kind option')].map(o => o.value).filter(v => v)")
        self.assertIn("dns.bad_a_record", kinds)
        self.assertIn("net.wrong_gateway", kinds)
        page.select("#diagnose-kind", "net.wrong_gateway")
        page.type("#diagnose-target", "MAILHOST")
        page.click("#diagnose-submit")
        wrong = page.wait_for("document.querySelector('#diagnose-result b') && "
                              "document.querySelector('#diagnose-result').textContent", "the wrong diagnosis")
        self.assertIn("Not this one", wrong)
        page.select("#diagnose-kind", "dns.bad_a_record")
        page.type("#diagnose-target", "exch1.corp.example")
        page.click("#diagnose-submit")
        right = page.wait_for("/Right/.test(document.querySelector('#diagnose-result').textContent) && "
                              "document.querySelector('#diagnose-result').textContent", "the right diagnosis")
        self.assertIn("dns.bad_a_record on exch1.corp.example", right)
        report = self.api("GET", "/trainer/sessions/" + session_id)["report"]
        self.assertEqual([(d["kind"], d["correct"]) for d in report["diagnoses"]],
                         [("net.wrong_gateway", False), ("dns.bad_a_record", True)])
        score = self.api("GET", "/trainer/sessions/" + session_id)["score"]
        page.wait_for("document.querySelector('#score').textContent.startsWith(%s)" % js("%d /" % score), "the score")

        # Verify before the fix: not yet, with the reasons.
        page.click("#verify-button")
        reasons = page.wait_for("document.querySelectorAll('#verify-reasons li').length && "
                                "[...document.querySelectorAll('#verify-reasons li')].map(l => l.textContent)",
                                "verify's reasons", timeout=120)
        self.assertTrue(any(r.strip() for r in reasons), reasons)
        self.assertIn("Not yet", page.text("#verify-result"))

        # The fix, from the console of NS1, chosen by clicking it in the picture.
        page.click("#topology svg .host[data-host='NS1'] rect")
        page.wait_for("document.querySelector('#console-host').value === 'NS1' && "
                      "document.querySelector('#console-prompt').textContent.startsWith('NS1')", "the console on NS1")
        out = self.type_command("dnsadmin set corp.example exch1 A %s" % lab.addr("EXCH1"))
        self.assertIn("is in zone corp.example", out)

        # An interactive telnet inside the console: the server's replies stream in, ^] leaves.
        start = len(self.console_lines())
        page.type("#console-input", "telnet %s 25" % lab.addr("EXCH1"))
        page.press("Enter")
        self.wait_output(start, r"^220 ", "the SMTP banner")
        self.assertEqual(page.text("#console-prompt"), "")  # no prompt while telnet runs
        page.type("#console-input", "EHLO web.test")
        page.press("Enter")
        self.wait_output(start, r"^EHLO web\.test\n(250-.*\n)*250 ", "the EHLO reply")
        page.type("#console-input", "^]")
        page.press("Enter")
        page.wait_for("document.querySelector('#console-prompt').textContent.startsWith('NS1')", "the prompt after telnet")

        # Verify after the fix: passed, with the report.
        page.click("#verify-button")
        page.wait_for("/Passed/.test(document.querySelector('#verify-result').textContent)", "verify to pass",
                      timeout=120)
        final = self.api("GET", "/trainer/sessions/" + session_id)
        self.assertTrue(final["report"]["passed"], final["report"])
        summary = page.text("#report-summary")
        self.assertIn("Hints1 (-%d)" % final["report"]["hint_cost"], summary)
        self.assertIn("Wrong diagnoses1 (-%d)" % final["report"]["wrong_cost"], summary)
        self.assertIn("Score%d" % final["report"]["score"], summary)
        self.assertIn("dns.bad_a_record", page.text("#report-faults"))
        self.assertEqual(page.evaluate("document.querySelectorAll('#report-checks tbody tr').length"),
                         len(final["report"]["checks"]))

        # Mailboxes and queues, on demand.
        boxes = self.api("GET", "/mailboxes")["mailboxes"]
        page.click("#mail-refresh")
        page.wait_for("document.querySelectorAll('#mailbox-table tbody tr').length === %d" % len(boxes), "the mailboxes")
        first = boxes[0]["address"]
        page.click("#mailbox-table tbody tr[data-address=%s]" % js(first))
        page.wait_for("document.querySelector('#messages h3') && "
                      "document.querySelector('#messages h3').textContent.startsWith(%s)" % js(first), "a mailbox")
        queues = self.api("GET", "/queues")["queues"]
        page.click("#tab-queues")
        page.wait_for("document.querySelectorAll('#queues h3').length === %d" % len(queues), "the queues")
        page.click("#tab-mailboxes")

        # A picture of it all.
        shots = os.environ.get("MAILSIM_WEB_SHOTS") or os.path.join(tempfile.gettempdir(), "mailsim-web")
        os.makedirs(shots, exist_ok=True)
        path = os.path.join(shots, "trainee-page.png")
        png = page.screenshot(path)
        self.assertTrue(png.startswith(b"\x89PNG\r\n\x1a\n"))
        self.assertGreater(os.path.getsize(path), 10000)
        print("\nscreenshot: %s" % path, file=sys.stderr)

        # A reload keeps the session (sessionStorage) instead of starting another.
        page.reload()
        page.wait_for("document.querySelector('#briefing-title').textContent && "
                      "document.querySelector('#trainee-label').textContent === 'Web Trainee'", "the page again")
        self.assertEqual(page.evaluate("sessionStorage.getItem(sessionStorage.key(0))"), session_id)
        self.assertEqual([s["id"] for s in self.api("GET", "/trainer/sessions")["sessions"]], [session_id])

        # Nothing went wrong in the page, and it asked nothing of anyone but the lab.
        self.assertEqual(page.errors(), [])
        ws_origin = "ws://" + self.origin.split("//", 1)[1]
        urls = page.requested_urls()
        self.assertTrue(urls)
        for u in urls:
            self.assertTrue(u.startswith(self.origin + "/") or u.startswith(ws_origin + "/") or u.startswith("data:"), u)


if __name__ == "__main__":
    unittest.main()
