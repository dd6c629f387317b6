"""The instructor page of class mode (GET /instructor) in a real browser.

`mailsim serve` runs a class of two trainees (ana and ben, scenario
bad-a-record). Headless Chromium opens the instructor page over the Chrome
DevTools Protocol (cdp.py) and the test checks, with real clicks and typing:
both trainees are listed as not started; ana opens her own page in another
tab and the instructor page shows her running without a reload (the live
WebSocket); a fault is injected into ben's lab only from the page's form and
ben's SMTP port really refuses while ana's answers; the fault is cleared with
the button in ben's row and the port answers again; the CSV link downloads the
results; a screenshot is saved. The page asks nothing of anyone but the class.

Every wait is a bounded poll; nothing measures time. The screenshot is kept in
$MAILSIM_WEB_SHOTS, by default $TMPDIR/mailsim-web/instructor-page.png.
"""
import json
import os
import sys
import tempfile
import unittest

import cdp
from labtest import tcp_connect
from test_class import Class


def js(value):
    return json.dumps(value)


@unittest.skipUnless(cdp.chromium_binary(), "chromium is not installed (scripts/install-deps.sh test installs it)")
class InstructorPageTest(unittest.TestCase):
    def setUp(self):
        self.room = Class(["ana", "ben"])
        self.addCleanup(self.room.cleanup)
        self.room.start()
        self.browser = cdp.Browser()
        self.addCleanup(self.browser.close)
        self.origin = self.room.info["api"]

    def row(self, name):
        return "#trainees tr[data-trainee=%s]" % js(name)

    def row_text(self, page, name):
        return page.text(self.row(name)) or ""

    def smtp(self, name):
        room = self.room
        return tcp_connect("127.0.0.1", room.address(name, "EXCH1"), room.trainee(name)["ports"]["smtp"])

    def test_two_trainees_on_the_instructor_page(self):
        room, origin = self.room, self.origin
        page = self.browser.new_page()
        page.navigate(room.info["instructor"]["page"])

        # Both trainees, not started yet, with a link to their own page.
        page.wait_for("document.querySelectorAll('#trainees tr').length === 2", "the two trainees")
        page.wait_for("document.querySelector('#live').textContent === 'live'", "the live connection")
        for t in room.info["trainees"]:
            self.assertIn("not started", self.row_text(page, t["name"]))
            self.assertIn(t["prefix"], self.row_text(page, t["name"]))
            href = page.evaluate("document.querySelector(%s + ' a').href" % js(self.row(t["name"])))
            self.assertEqual(href, t["page"])

        # ana opens her page: her session starts and the instructor sees it live.
        trainee = self.browser.new_page()
        trainee.navigate(room.trainee("ana")["page"])
        trainee.wait_for("document.querySelector('#briefing-title').textContent", "ana's briefing")
        page.wait_for("document.querySelector(%s).textContent.includes('running')" % js(self.row("ana")),
                      "ana running on the instructor page")
        self.assertIn("not started", self.row_text(page, "ben"))

        # Inject smtp.port_closed into ben's lab from the form.
        self.assertEqual(self.smtp("ben"), "open")
        page.select("#inject-kind", "smtp.port_closed")
        page.wait_for("!!document.querySelector('#inject-params input[data-param=host]')", "the host field")
        page.type("#inject-params input[data-param=host]", "EXCH1")
        page.select("#inject-where", "ben")
        page.click("#inject-button")
        page.wait_for("document.querySelector('#inject-result').textContent.includes('injected in 1 lab')",
                      "the inject result")
        page.wait_for("document.querySelector(%s).textContent.includes('smtp.port_closed')" % js(self.row("ben")),
                      "ben's new fault in his row")
        self.assertNotIn("smtp.port_closed", self.row_text(page, "ana"))
        self.assertEqual(self.smtp("ben"), "refused")
        self.assertEqual(self.smtp("ana"), "open")

        # A picture of the page with both rows and the injected fault.
        shots = os.environ.get("MAILSIM_WEB_SHOTS") or os.path.join(tempfile.gettempdir(), "mailsim-web")
        os.makedirs(shots, exist_ok=True)
        path = os.path.join(shots, "instructor-page.png")
        png = page.screenshot(path)
        self.assertTrue(png.startswith(b"\x89PNG\r\n\x1a\n"))
        print("\nscreenshot: %s" % path, file=sys.stderr)

        # Clear it with the button beside it in ben's row.
        injected = page.evaluate("document.querySelector('#inject-result .mono').textContent")
        fault = self.row("ben") + " li[data-fault=%s]" % js(injected)
        page.click(fault + " button")
        page.wait_for("!document.querySelector(%s)" % js(fault + " button"), "the fault cleared")
        self.assertIn("cleared", page.text(fault))
        self.assertEqual(self.smtp("ben"), "open")

        # The CSV link downloads the results (fetched as the link would).
        href = page.evaluate("document.querySelector('#export-csv').href")
        self.assertTrue(href.startswith(origin + "/api/v1/class/results.csv?token="), href)
        csv_text = page.evaluate("fetch(%s).then(r => r.text())" % js(href))
        lines = csv_text.strip().splitlines()
        self.assertTrue(lines[0].startswith("trainee,scenario,"))
        self.assertEqual([l.split(",")[0] for l in lines[1:]], ["ana", "ben"])
        self.assertIn("running", lines[1])

        # Nothing went wrong, and nothing was asked of anyone but the class.
        self.assertEqual(page.errors(), [])
        ws_origin = "ws://" + origin.split("//", 1)[1]
        for u in page.requested_urls():
            self.assertTrue(u.startswith(origin + "/") or u.startswith(ws_origin + "/") or u.startswith("data:"), u)


if __name__ == "__main__":
    unittest.main()
