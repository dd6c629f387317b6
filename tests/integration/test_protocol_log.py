"""The IMC's SMTP protocol log follows its Diagnostics Logging level (guide
step 4): nothing at `none` (Exchange's default), the dialogue at `medium`;
netmon and the trainer's evidence see the wire either way. A relay always logs.
"""
import socket
import unittest

from labtest import LabTestCase


class ProtocolLog(LabTestCase):
    scenario = "default.toml"
    lab_args = ("--speed", "0.001")

    def banner_and_quit(self, host):
        with socket.create_connection((self.lab.addr(host), self.lab.smtp_port), timeout=5) as s:
            f = s.makefile("rb")
            self.assertTrue(f.readline().startswith(b"220"))
            s.sendall(b"QUIT\r\n")
            self.assertTrue(f.readline().startswith(b"221"))

    def smtp_lines(self, host, since):
        _, log = self.lab.api("GET", "/log?since=%d" % since, expect=200)
        return [e for e in log["entries"] if e["kind"] == "smtp" and e.get("host") == host]

    def last_seq(self):
        _, log = self.lab.api("GET", "/log?since=0", expect=200)
        return log["last"]

    def test_levels(self):
        start = self.last_seq()
        self.banner_and_quit("EXCH1")
        self.banner_and_quit("MAILHOST")
        self.assertEqual(self.smtp_lines("EXCH1", start), [])
        self.assertNotEqual(self.smtp_lines("MAILHOST", start), [])
        # netmon on the server still shows the dialogue.
        _, out = self.lab.api("POST", "/console", {"host": "EXCH1", "line": "netmon"}, expect=200)
        self.assertIn("QUIT", out["output"])

        _, out = self.lab.api("POST", "/console", {"host": "EXCH1", "line": "admin imc set protocol_log medium"},
                              expect=200)
        self.assertIn("SMTP protocol logging: medium", out["output"])
        start = self.last_seq()
        self.banner_and_quit("EXCH1")
        texts = " ".join(e["text"] for e in self.smtp_lines("EXCH1", start))
        self.assertIn(">>> QUIT", texts)
        self.assertIn("<<< 220", texts)


if __name__ == "__main__":
    unittest.main()
