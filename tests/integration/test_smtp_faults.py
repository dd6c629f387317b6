"""Every smtp.* fault as real SMTP clients see it, cleared again through the API.

Scenario tests/data/scenarios/mailflow.toml: REMOTE (internet) -> RELAY (dmz)
-> STORE (lan, mailboxes alice, bob, postmaster @corp.example). Clients are
raw sockets (SmtpWire, for stalls and silent closes), smtplib and swaks, each
bound to a lab host's address.

The labs run with the clock almost stopped (--speed 0.001): lab time moves
only when a test advances it, so a rate limit's minute or a retry is exactly
where the test puts it. A reply that must come is awaited with a generous
client-side guard (GUARD); a stall is "no reply within the client's own
time-out" (SILENCE), which only a silent server can produce: nothing here
measures time.
"""
import email
import os
import smtplib
import unittest

from labtest import LabTestCase, SmtpWire
import smtplab  # noqa: F401  (keeps these labs off the prefixes other suites use)

MAILFLOW = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "scenarios", "mailflow.toml")

PHASES = ("banner", "ehlo", "mail", "rcpt", "data", "dot")
# What a healthy server answers at each phase of walk().
HEALTHY = {"banner": 220, "ehlo": 250, "mail": 250, "rcpt": 250, "data": 354, "dot": 250}
GUARD = 10.0    # seconds: client-side guard on a reply that must come (never reached by a healthy server)
SILENCE = 0.5   # seconds: the client's own time-out where a stalled server must say nothing


def walk(lab, upto, target="STORE", source="REMOTE", rcpt="alice@corp.example", silent=False):
    """Runs an SMTP dialogue phase by phase up to `upto` (every earlier phase must
    get its healthy reply); returns (wire, reply at `upto`). With `silent`, the
    reply at `upto` is awaited only SILENCE seconds (a stall shows as "timeout"),
    and the wire keeps that time-out. The caller closes the wire."""
    w = lab.wire(target, source, timeout=GUARD)
    steps = (("banner", None), ("ehlo", "EHLO client.example.net"), ("mail", "MAIL FROM:<carol@example.net>"),
             ("rcpt", "RCPT TO:<%s>" % rcpt), ("data", "DATA"),
             ("dot", b"From: <carol@example.net>\r\nSubject: walk\r\n\r\nA message.\r\n.\r\n"))
    for phase, command in steps:
        if phase == upto and silent:
            w.sock.settimeout(SILENCE)
        r = w.reply() if command is None else w.cmd(command)
        if phase == upto:
            return w, r
        if r.code != HEALTHY[phase]:
            w.close()
            raise AssertionError("before %s: %s answered %r" % (upto, phase, r))
    raise ValueError(upto)


class SmtpFaultCase(LabTestCase):
    scenario = MAILFLOW
    lab_args = ("--speed", "0.001")

    def setUp(self):
        self.addCleanup(self.assertNoSanitizerReports)  # runs last, after the lab has stopped
        super().setUp()

    def assertNoSanitizerReports(self):
        if getattr(self, "lab", None) is not None and self.lab.info:
            self.assertEqual(self.lab.sanitizer_reports(), [])

    def assertHealthy(self, target="STORE", source="REMOTE"):
        """A whole dialogue goes through, and the message is accepted."""
        w, r = walk(self.lab, "dot", target, source)
        w.close()
        self.assertEqual(r.code, 250, r)
        self.assertIn("queued as", r.text)

    def assertCleared(self, fid):
        self.lab.clear(fid)
        self.assertNotIn(fid, self.lab.faults())
        self.assertEqual(self.lab.faults(all=True)[fid]["state"], "cleared")


class Connect(SmtpFaultCase):
    def test_port_closed_refuses_from_everywhere_until_cleared(self):
        lab = self.lab
        fid = lab.inject("smtp.port_closed", host="STORE")
        for src in ("REMOTE", "RELAY", "NS", None):
            self.assertEqual(lab.connect(src, "STORE", lab.smtp_port), "refused", src)
        with self.assertRaises(ConnectionRefusedError):
            lab.smtp("STORE", source="REMOTE")
        r = lab.swaks("STORE", "--from", "carol@example.net", "--to", "alice@corp.example", source="REMOTE")
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("Connection refused", r.stdout + r.stderr)
        # Other hosts keep their service.
        self.assertEqual(lab.connect("REMOTE", "RELAY", lab.smtp_port), "open")
        self.assertCleared(fid)
        self.assertEqual(lab.connect("REMOTE", "STORE", lab.smtp_port), "open")
        self.assertHealthy()

    def test_filtered_times_out_from_everywhere_until_cleared(self):
        lab = self.lab
        fid = lab.inject("smtp.filtered", host="STORE")
        # A firewall on the host: the same segment (NS) times out too.
        for src in ("REMOTE", "RELAY", "NS", None):
            self.assertEqual(lab.connect(src, "STORE", lab.smtp_port, timeout=SILENCE), "timeout", src)
        r = lab.swaks("STORE", "--from", "carol@example.net", "--to", "alice@corp.example", source="NS", timeout=1)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("timeout", (r.stdout + r.stderr).lower())
        self.assertEqual(lab.connect("REMOTE", "RELAY", lab.smtp_port), "open")
        self.assertCleared(fid)
        for src in ("REMOTE", "NS"):
            self.assertEqual(lab.connect(src, "STORE", lab.smtp_port), "open", src)
        self.assertHealthy()

    def test_filtered_relay(self):
        lab = self.lab
        fid = lab.inject("smtp.filtered", host="RELAY")
        self.assertEqual(lab.connect("REMOTE", "RELAY", lab.smtp_port, timeout=SILENCE), "timeout")
        self.assertEqual(lab.connect("RELAY2", "RELAY", lab.smtp_port, timeout=SILENCE), "timeout")
        self.assertEqual(lab.connect("REMOTE", "STORE", lab.smtp_port), "open")
        self.assertCleared(fid)
        self.assertHealthy(target="RELAY")


class Injection(SmtpFaultCase):
    def test_bad_smtp_fault_parameters_say_why(self):
        lab = self.lab
        cases = [
            ({"kind": "smtp.stall", "host": "STORE"}, "phase"),
            ({"kind": "smtp.stall", "host": "STORE", "phase": "helo"}, "ehlo"),
            ({"kind": "smtp.tempfail", "host": "STORE", "phase": "rcpt", "code": 550}, "code"),
            ({"kind": "smtp.reject", "host": "STORE", "phase": "rcpt", "code": 250}, "code"),
            ({"kind": "smtp.rate_limit", "host": "STORE", "per_minute": 0}, "per_minute"),
            ({"kind": "smtp.recipient_limit", "host": "STORE", "max": -1}, "max"),
            ({"kind": "smtp.size_limit", "host": "STORE", "size": "huge"}, "size"),
            ({"kind": "smtp.port_closed", "host": "NS"}, "NS"),
            ({"kind": "smtp.port_closed", "host": "NOSUCHHOST"}, "NOSUCHHOST"),
            ({"kind": "smtp.port_closed", "hots": "STORE"}, "host"),
            ({"kind": "mail.routing_loop", "hosts": ["RELAY"], "domain": "corp.example"}, "hosts"),
            ({"kind": "mail.ndr_loop", "hosts": ["RELAY", "NS"]}, "NS"),
        ]
        for body, word in cases:
            with self.subTest(body=body):
                status, answer = lab.api("POST", "/faults", body)
                self.assertEqual(status, 400, answer)
                self.assertIn(word, answer["error"])
        self.assertEqual(lab.faults(), {})
        self.assertHealthy()

    def test_fixing_the_configuration_clears_smtp_faults(self):
        lab = self.lab
        answer = lab.api("GET", "/hosts/STORE")[1]
        fixes = [
            ({"kind": "smtp.port_closed", "host": "STORE"}, {"services": {"smtp": "running"}}),
            ({"kind": "smtp.filtered", "host": "STORE"}, {"firewall": {"smtp": "open"}}),
            ({"kind": "smtp.stall", "host": "STORE", "phase": "mail"}, {"smtp_service": {"rules": {}}}),
            ({"kind": "smtp.rate_limit", "host": "STORE", "per_minute": 1}, {"smtp_service": {"rate_limit_per_minute": 0}}),
            ({"kind": "smtp.size_limit", "host": "STORE", "size": "1KB"},
             {"smtp": {"max_message_size": answer["smtp"]["max_message_size"]}}),
            ({"kind": "smtp.recipient_limit", "host": "STORE", "max": 1},
             {"smtp": {"max_recipients": answer["smtp"]["max_recipients"]}}),
        ]
        for fault, patch in fixes:
            with self.subTest(fault=fault["kind"]):
                fid = lab.inject(**fault)
                self.assertEqual(lab.faults()[fid]["state"], "active")
                lab.api("PATCH", "/hosts/STORE", patch, expect=200)
                self.assertEqual(lab.faults(all=True)[fid]["state"], "cleared")
                self.assertHealthy()
        fid = lab.inject("smtp.relay_denied", host="RELAY", domain="corp.example")
        relays = lab.api("GET", "/hosts/RELAY")[1]["smtp"]["relay_domains"]
        self.assertNotIn("corp.example", relays)
        lab.api("PATCH", "/hosts/RELAY", {"smtp": {"relay_domains": relays + ["corp.example"]}}, expect=200)
        self.assertEqual(lab.faults(all=True)[fid]["state"], "cleared")
        self.assertHealthy(target="RELAY")


class Phases(SmtpFaultCase):
    """stall, reject, tempfail and disconnect at each of the six phases."""

    def test_stall_at_each_phase_gives_no_reply(self):
        lab = self.lab
        for phase in PHASES:
            with self.subTest(phase=phase):
                fid = lab.inject("smtp.stall", host="STORE", phase=phase)
                w, r = walk(lab, phase, silent=True)
                # The connection stays open and nothing comes: the client's own time-out.
                self.assertEqual(r.code, "timeout", r)
                self.assertEqual(r.text, "")
                self.assertFalse(w.closed_by_peer(), "a stalled server does not close")
                w.close()
                self.assertCleared(fid)
                self.assertHealthy()
        # A stall after the final dot stored nothing; the healthy runs stored six.
        self.assertEqual(len(lab.mailbox("alice@corp.example")), len(PHASES))

    def test_stall_with_smtplib_and_swaks(self):
        lab = self.lab
        fid = lab.inject("smtp.stall", host="STORE", phase="rcpt")
        s = lab.smtp("STORE", source="REMOTE", timeout=GUARD)
        s.ehlo("client.example.net")
        s.mail("carol@example.net")
        s.sock.settimeout(SILENCE)  # smtplib's own time-out, for the stalled RCPT only
        with self.assertRaises(smtplib.SMTPServerDisconnected) as cm:
            s.rcpt("alice@corp.example")
        self.assertIn("timed out", str(cm.exception))
        s.close()
        lab.clear(fid)
        fid = lab.inject("smtp.stall", host="STORE", phase="banner")
        r = lab.swaks("STORE", "--from", "carol@example.net", "--to", "alice@corp.example", source="REMOTE", timeout=1)
        self.assertEqual(r.returncode, 21, r.stdout)
        self.assertIn("Timeout", r.stdout)
        self.assertCleared(fid)
        self.assertHealthy()

    def test_reject_at_each_phase(self):
        lab = self.lab
        for phase in PHASES:
            with self.subTest(phase=phase):
                code = 554 if phase == "banner" else 550
                fid = lab.inject("smtp.reject", host="STORE", phase=phase, code=code, text="5.7.1 Not from you")
                w, r = walk(lab, phase)
                self.assertEqual(r.code, code, r)
                self.assertEqual(r.enhanced, "5.7.1", r)
                self.assertIn("Not from you", r.text)
                if phase == "banner":
                    # RFC 5321 3.1: after a 554 greeting, commands get 503 and QUIT 221.
                    self.assertIn("store.corp.example", r.text)
                    self.assertEqual(w.cmd("EHLO client.example.net").code, 503)
                    self.assertEqual(w.cmd("QUIT").code, 221)
                else:
                    # A permanent refusal leaves the session usable.
                    self.assertEqual(w.cmd("RSET").code, 250)
                w.close()
                self.assertCleared(fid)
                self.assertHealthy()

    def test_reject_without_text_says_access_denied(self):
        lab = self.lab
        lab.inject("smtp.reject", host="STORE", phase="rcpt", code=550)
        w, r = walk(lab, "rcpt")
        w.close()
        self.assertEqual((r.code, r.enhanced), (550, "5.7.1"))
        self.assertIn("<alice@corp.example>", r.text)
        self.assertIn("Access denied", r.text)
        s = lab.smtp("STORE", source="REMOTE")
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
            s.sendmail("carol@example.net", ["alice@corp.example"], "Subject: x\r\n\r\nx\r\n")
        self.assertEqual(cm.exception.recipients["alice@corp.example"][0], 550)
        s.close()

    def test_tempfail_at_each_phase(self):
        lab = self.lab
        for phase in PHASES:
            with self.subTest(phase=phase):
                code = 421 if phase == "banner" else 451
                fid = lab.inject("smtp.tempfail", host="STORE", phase=phase, code=code)
                w, r = walk(lab, phase)
                self.assertEqual(r.code, code, r)
                self.assertTrue(r.enhanced == "" or r.enhanced.startswith("4."), r)
                if phase == "banner":
                    # RFC 5321 3.1: a 421 greeting closes the channel.
                    self.assertIn("store.corp.example", r.text)
                    self.assertTrue(w.closed_by_peer())
                else:
                    self.assertEqual(r.enhanced, "4.7.1", r)
                    self.assertIn("Try again later", r.text)
                    self.assertEqual(w.cmd("RSET").code, 250)
                w.close()
                self.assertCleared(fid)
                self.assertHealthy()
        self.assertEqual(len(lab.mailbox("alice@corp.example")), len(PHASES))

    def test_tempfail_421_mid_session_closes(self):
        lab = self.lab
        lab.inject("smtp.tempfail", host="STORE", phase="mail", code=421)
        w, r = walk(lab, "mail")
        self.assertEqual(r.code, 421, r)
        self.assertIn("store.corp.example", r.text)
        self.assertTrue(w.closed_by_peer())
        w.close()

    def test_disconnect_at_each_phase(self):
        lab = self.lab
        for phase in PHASES:
            with self.subTest(phase=phase):
                fid = lab.inject("smtp.disconnect", host="STORE", phase=phase)
                w, r = walk(lab, phase)
                self.assertEqual(r, ("closed", ""))
                w.close()
                self.assertCleared(fid)
                self.assertHealthy()
        # Closed at the final dot: that message was not taken.
        self.assertEqual(len(lab.mailbox("alice@corp.example")), len(PHASES))

    def test_disconnect_with_swaks(self):
        lab = self.lab
        fid = lab.inject("smtp.disconnect", host="RELAY", phase="mail")
        r = lab.swaks("RELAY", "--from", "carol@example.net", "--to", "alice@corp.example", source="REMOTE", timeout=2)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn(r.returncode, (6, 23), r.stdout)
        self.assertCleared(fid)
        r = lab.swaks("RELAY", "--from", "carol@example.net", "--to", "alice@corp.example", source="REMOTE")
        self.assertEqual(r.returncode, 0, r.stdout)


class Limits(SmtpFaultCase):
    def test_size_limit(self):
        lab = self.lab
        s = lab.smtp("STORE", source="REMOTE")
        s.ehlo("client.example.net")
        self.assertEqual(s.esmtp_features["size"], "1048576")  # the scenario's 1MB
        s.quit()
        fid = lab.inject("smtp.size_limit", host="STORE", size="10KB")
        s = lab.smtp("STORE", source="REMOTE")
        s.ehlo("client.example.net")
        self.assertEqual(s.esmtp_features["size"], "10240")
        big = "Subject: big\r\n\r\n" + ("0123456789" * 7 + "\r\n") * 300  # about 21 KB
        # smtplib declares SIZE=, so the refusal comes at MAIL (RFC 1870 6.1).
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            s.sendmail("carol@example.net", ["alice@corp.example"], big)
        self.assertEqual(cm.exception.smtp_code, 552)
        self.assertTrue(cm.exception.smtp_error.startswith(b"5.3.4"), cm.exception.smtp_error)
        s.rset()
        # A message under the limit still goes through.
        self.assertEqual(s.sendmail("carol@example.net", ["alice@corp.example"], "Subject: small\r\n\r\nsmall\r\n"), {})
        s.quit()
        # Without SIZE= the message is read to its end and refused then.
        w, r = walk(lab, "data")
        self.assertEqual(r.code, 354)
        w.send(big.encode() + b".\r\n")
        r = w.reply()
        w.close()
        self.assertEqual((r.code, r.enhanced), (552, "5.3.4"), r)
        body = "\n".join(["0123456789" * 7] * 300)
        r = lab.swaks("STORE", "--from", "carol@example.net", "--to", "alice@corp.example", "--body", body,
                      source="REMOTE")
        self.assertEqual(r.returncode, 26, r.stdout[-500:])
        self.assertIn("552 5.3.4", r.stdout)
        self.assertEqual([m["subject"] for m in lab.mailbox("alice@corp.example")], ["small"])
        self.assertCleared(fid)
        s = lab.smtp("STORE", source="REMOTE")
        s.ehlo("client.example.net")
        self.assertEqual(s.esmtp_features["size"], "1048576")
        self.assertEqual(s.sendmail("carol@example.net", ["alice@corp.example"], big), {})
        s.quit()

    def test_recipient_limit(self):
        lab = self.lab
        rcpts = ["alice@corp.example", "bob@corp.example", "postmaster@corp.example"]
        fid = lab.inject("smtp.recipient_limit", host="STORE", max=2)
        w, r = walk(lab, "mail")
        self.assertEqual(w.cmd("RCPT TO:<alice@corp.example>").code, 250)
        self.assertEqual(w.cmd("RCPT TO:<bob@corp.example>").code, 250)
        r = w.cmd("RCPT TO:<postmaster@corp.example>")
        self.assertEqual((r.code, r.enhanced), (452, "4.5.3"), r)
        self.assertEqual(w.cmd("DATA").code, 354)
        self.assertEqual(w.cmd(b"Subject: two\r\n\r\nx\r\n.\r\n").code, 250)
        w.close()
        s = lab.smtp("STORE", source="REMOTE")
        refused = s.sendmail("carol@example.net", rcpts, "Subject: three\r\n\r\nx\r\n")
        s.quit()
        self.assertEqual(list(refused), ["postmaster@corp.example"])
        self.assertEqual(refused["postmaster@corp.example"][0], 452)
        self.assertEqual(len(lab.mailbox("postmaster@corp.example")), 0)
        self.assertCleared(fid)
        s = lab.smtp("STORE", source="REMOTE")
        self.assertEqual(s.sendmail("carol@example.net", rcpts, "Subject: three\r\n\r\nx\r\n"), {})
        s.quit()
        self.assertEqual(len(lab.mailbox("postmaster@corp.example")), 1)

    def test_relay_denied(self):
        lab = self.lab
        fid = lab.inject("smtp.relay_denied", host="RELAY", domain="corp.example")
        w, r = walk(lab, "rcpt", target="RELAY")
        self.assertEqual((r.code, r.enhanced), (554, "5.7.1"), r)
        self.assertIn("Relay access denied", r.text)
        # The other relayed domains still relay.
        self.assertEqual(w.cmd("RCPT TO:<someone@sink.example>").code, 250)
        w.close()
        r = lab.swaks("RELAY", "--from", "carol@example.net", "--to", "alice@corp.example", source="REMOTE")
        self.assertEqual(r.returncode, 24, r.stdout)
        self.assertIn("554 5.7.1", r.stdout)
        self.assertCleared(fid)
        r = lab.swaks("RELAY", "--from", "carol@example.net", "--to", "alice@corp.example", source="REMOTE")
        self.assertEqual(r.returncode, 0, r.stdout)
        lab.wait(lambda: lab.mailbox("alice@corp.example"), "the relayed message at STORE")

    def test_rate_limit_per_lab_minute(self):
        lab = self.lab
        fid = lab.inject("smtp.rate_limit", host="STORE", per_minute=2)
        for i in range(2):
            w = lab.wire("STORE", "REMOTE", timeout=GUARD)
            self.assertEqual(w.reply().code, 220, i)
            w.close()
        w = lab.wire("STORE", "REMOTE", timeout=GUARD)
        r = w.reply()
        self.assertEqual((r.code, r.enhanced), (421, "4.7.0"), r)
        self.assertIn(lab.addr("REMOTE"), r.text)
        self.assertTrue(w.closed_by_peer())
        w.close()
        r = lab.swaks("STORE", "--from", "carol@example.net", "--to", "alice@corp.example", source="REMOTE")
        self.assertEqual(r.returncode, 21, r.stdout)
        self.assertIn("421 4.7.0", r.stdout)
        # The limit is per client host: another host still gets in.
        w = lab.wire("STORE", "RELAY", timeout=GUARD)
        self.assertEqual(w.reply().code, 220)
        w.close()
        # A lab minute later the window has moved on.
        lab.advance(60)
        w = lab.wire("STORE", "REMOTE", timeout=GUARD)
        self.assertEqual(w.reply().code, 220)
        w.close()
        w = lab.wire("STORE", "REMOTE", timeout=GUARD)
        self.assertEqual(w.reply().code, 220)
        w.close()
        w = lab.wire("STORE", "REMOTE", timeout=GUARD)
        self.assertEqual(w.reply().code, 421)
        w.close()
        self.assertCleared(fid)
        for i in range(4):
            w = lab.wire("STORE", "REMOTE", timeout=GUARD)
            self.assertEqual(w.reply().code, 220, i)
            w.close()


    def test_rate_limit_counts_a_host_not_an_address(self):
        # SPEC 2: a client on 127.0.0.1 (or any address that is no scenario host)
        # acts as the vantage host, REMOTE here; the limit is per host.
        lab = self.lab
        lab.inject("smtp.rate_limit", host="STORE", per_minute=2)
        for i in range(2):
            w = lab.wire("STORE", "REMOTE", timeout=GUARD)
            self.assertEqual(w.reply().code, 220, i)
            w.close()
        for src in ("127.0.0.1", "127.0.0.2"):
            with self.subTest(source=src):
                w = SmtpWire(src, lab.addr("STORE"), lab.smtp_port, GUARD)
                r = w.reply()
                w.close()
                self.assertEqual(r.code, 421, "a third connection from the vantage host REMOTE, from %s: %r" % (src, r))

class Gating(SmtpFaultCase):
    """`first = 2`: only the first two matching connections see the fault."""

    def test_reject_first_two_connections(self):
        lab = self.lab
        fid = lab.inject("smtp.reject", host="STORE", phase="rcpt", code=550, first=2)
        self.assertEqual(lab.faults()[fid]["first"], 2)
        for i in range(2):
            w, r = walk(lab, "rcpt")
            w.close()
            self.assertEqual(r.code, 550, (i, r))
        self.assertHealthy()
        self.assertHealthy()
        state = lab.wait(lambda: lab.faults(all=True)[fid]["state"] != "active" and lab.faults(all=True)[fid]["state"],
                         "the gated fault to end")
        self.assertEqual(state, "ended")

    def test_stall_first_two_connections(self):
        lab = self.lab
        lab.inject("smtp.stall", host="STORE", phase="ehlo", first=2)
        for i in range(2):
            w, r = walk(lab, "ehlo", silent=True)
            w.close()
            self.assertEqual(r.code, "timeout", (i, r))
        self.assertHealthy()

    def test_port_closed_first_two_connections(self):
        lab = self.lab
        fid = lab.inject("smtp.port_closed", host="STORE", first=2)
        # Per connection the listener must stay: those two are closed without a word.
        for i in range(2):
            w = lab.wire("STORE", "REMOTE", timeout=GUARD)
            self.assertEqual(w.reply(), ("closed", ""), i)
            w.close()
        self.assertHealthy()
        lab.wait(lambda: lab.faults(all=True)[fid]["state"] == "ended", "the gated fault to end")
        self.assertHealthy()

    def test_after_and_until_on_the_lab_clock(self):
        lab = self.lab
        fid = lab.inject("smtp.port_closed", host="STORE", after="1m", until="5m")
        self.assertEqual(lab.connect("REMOTE", "STORE", lab.smtp_port), "open")
        self.assertEqual(lab.faults(all=True)[fid]["state"], "pending")
        lab.advance(60)
        self.assertEqual(lab.connect("REMOTE", "STORE", lab.smtp_port), "refused")
        lab.advance(240)
        self.assertEqual(lab.connect("REMOTE", "STORE", lab.smtp_port), "open")
        self.assertEqual(lab.faults(all=True)[fid]["state"], "ended")
        self.assertHealthy()

    def test_tempfail_first_connection_is_retried_by_the_relay(self):
        lab = self.lab
        lab.inject("smtp.tempfail", host="STORE", phase="rcpt", code=451, first=1)
        s = lab.smtp("RELAY", source="REMOTE")
        s.sendmail("carol@example.net", ["alice@corp.example"], "Subject: gated\r\n\r\nx\r\n")
        s.quit()
        q = lab.wait(lambda: [m for m in lab.queue("RELAY") if m["attempts"] == 1 and m["state"] == "waiting"],
                     "RELAY's first attempt")
        self.assertTrue(q[0]["last_error"].startswith("451"), q)
        lab.advance(60)
        lab.wait(lambda: lab.mailbox("alice@corp.example"), "the retried message at STORE")
        lab.wait(lambda: lab.queue("RELAY") == [], "RELAY's queue to empty")


class RelaySeesFaults(SmtpFaultCase):
    """The same faults on STORE, met by RELAY's own client: a 5xx ends in a DSN
    to the sender, a 4xx, a close or a stall leaves the message queued."""

    def submit_via_relay(self, subject):
        self.lab.submit(**{"from": "carol@example.net", "to": ["alice@corp.example"], "via": "RELAY",
                           "subject": subject})

    def outcome(self, dsns_before):
        """("deferred", queue entry) or ("failed", DSN text) for the one message in RELAY's queue."""
        lab = self.lab

        def look():
            q = [m for m in lab.queue("RELAY") if m["attempts"] >= 1 and m["state"] == "waiting"]
            if q:
                return ("deferred", q[0])
            box = lab.mailbox("carol@example.net")
            if len(box) > dsns_before and lab.queue("RELAY") == []:
                return ("failed", lab.message("carol@example.net", box[-1]["id"]))
            return None
        return lab.wait(look, "RELAY's first attempt")

    def settle(self, fid, delivered):
        """Clears the fault, lets RELAY retry, and checks the queue empties."""
        lab = self.lab
        self.assertCleared(fid)
        lab.advance(3600)
        lab.wait(lambda: lab.queue("RELAY") == [], "RELAY's queue to empty")
        self.assertEqual(len(lab.mailbox("alice@corp.example")), delivered)

    def test_phases_from_the_relay(self):
        lab = self.lab
        closed_after = {"banner": "connection closed before the banner", "ehlo": "connection closed after EHLO",
                        "mail": "connection closed after MAIL", "rcpt": "connection closed after RCPT",
                        "data": "connection closed after DATA", "dot": "connection closed after end of data"}
        for phase in PHASES:
            for kind, params in (("smtp.disconnect", {}), ("smtp.tempfail", {"code": 421 if phase == "banner" else 451}),
                                 ("smtp.reject", {"code": 554})):
                with self.subTest(kind=kind, phase=phase):
                    dsns = len(lab.mailbox("carol@example.net"))
                    delivered = len(lab.mailbox("alice@corp.example"))
                    fid = lab.inject(kind, host="STORE", phase=phase, **params)
                    try:
                        self.submit_via_relay("%s %s" % (kind, phase))
                        what, got = self.outcome(dsns)
                    finally:
                        self.assertCleared(fid)
                        lab.advance(3600)
                        lab.wait(lambda: lab.queue("RELAY") == [], "RELAY's queue to empty")
                    if kind == "smtp.reject":
                        self.assertEqual(what, "failed", got)
                        self.assertEqual(len(lab.mailbox("alice@corp.example")), delivered)
                        report = email.message_from_string(got).get_payload()[1].get_payload()[1]
                        self.assertEqual(report["Action"], "failed")
                        self.assertIn("554", report["Diagnostic-Code"])
                        # RFC 3463: a permanent failure has a 5.x.x status, whether or not
                        # the server's reply carried an enhanced code.
                        self.assertRegex(report["Status"], r"^5\.\d+\.\d+$", report["Diagnostic-Code"])
                    else:
                        self.assertEqual(what, "deferred", got)
                        # Delivered on the retry once the fault is gone.
                        self.assertEqual(len(lab.mailbox("alice@corp.example")), delivered + 1)
                        self.assertEqual(len(lab.mailbox("carol@example.net")), dsns)
                        if kind == "smtp.disconnect":
                            self.assertTrue(got["last_error"].startswith(closed_after[phase]), got)
                            self.assertEqual(got["recipients"][0]["status"], "4.4.2")
                        else:
                            self.assertTrue(got["last_error"].startswith(str(params["code"])), got)
                            self.assertRegex(got["recipients"][0]["status"], r"^4\.")

    def test_stall_from_the_relay(self):
        lab = self.lab
        for phase in ("banner", "dot"):
            with self.subTest(phase=phase):
                fid = lab.inject("smtp.stall", host="STORE", phase=phase)
                self.submit_via_relay("stall " + phase)
                # The client's reply time-out runs on the lab clock.
                entry = lab.wait(lambda: [m for m in lab.queue("RELAY") if m["attempts"] >= 1], "the time-out",
                                 advance=30)[0]
                self.assertIn("timed out", entry["last_error"])
                self.assertEqual(entry["recipients"][0]["status"], "4.4.2")
                self.settle(fid, 1 if phase == "banner" else 2)

    def test_rate_limit_from_the_relay(self):
        lab = self.lab
        fid = lab.inject("smtp.rate_limit", host="STORE", per_minute=1)
        self.submit_via_relay("first")
        lab.wait(lambda: lab.mailbox("alice@corp.example"), "the first message")
        self.submit_via_relay("second")
        entry = lab.wait(lambda: [m for m in lab.queue("RELAY") if m["attempts"] >= 1], "the second attempt")[0]
        self.assertTrue(entry["last_error"].startswith("421 4.7.0"), entry)
        # A lab minute later, still under the fault, the retry gets in.
        lab.advance(60)
        lab.wait(lambda: len(lab.mailbox("alice@corp.example")) == 2, "the retried message")
        self.assertCleared(fid)

    def test_recipient_limit_from_the_relay(self):
        lab = self.lab
        fid = lab.inject("smtp.recipient_limit", host="STORE", max=1)
        lab.submit(**{"from": "carol@example.net", "to": ["alice@corp.example", "bob@corp.example"], "via": "RELAY"})
        entry = lab.wait(lambda: [m for m in lab.queue("RELAY") if m["attempts"] >= 1], "the first attempt")[0]
        states = {r["address"]: (r["state"], r["last_error"][:9]) for r in entry["recipients"]}
        self.assertEqual(states, {"alice@corp.example": ("delivered", ""), "bob@corp.example": ("queued", "452 4.5.3")})
        self.assertEqual(len(lab.mailbox("alice@corp.example")), 1)
        # The deferred recipient goes in the next attempt, alone, under the limit.
        lab.advance(60)
        lab.wait(lambda: lab.mailbox("bob@corp.example"), "the second recipient")
        lab.wait(lambda: lab.queue("RELAY") == [], "RELAY's queue to empty")
        self.assertEqual(len(lab.mailbox("alice@corp.example")), 1)
        self.assertCleared(fid)


if __name__ == "__main__":
    unittest.main()
