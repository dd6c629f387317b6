"""Durability with --state-dir (SPEC 11): every message that got a 250 after
DATA survives a kill -9 and a restart.

Parallel smtplib clients send to STORE (local mailboxes) and to RELAY (queued
for corp.example, which RELAY forwards to STORE, and for sink.example, where
nobody listens, so those stay queued). Every "250 ... queued as ID" is
recorded; mailsim is killed with SIGKILL while the clients are still sending
and restarted on the same prefix and state directory. Each recorded message
must then be in a mailbox, in a queue, or (relayed) delivered onward, matched
by queue id and by the unique token in its Subject and Message-ID. Bounded:
at most 1200 messages.
"""
import os
import re
import shutil
import smtplib
import tempfile
import threading
import time
import unittest

from labtest import Lab
import smtplab  # noqa: F401  (keeps these labs off the prefixes other suites use)

SCENARIO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "scenarios", "mailflow.toml")
MAX_MESSAGES = 1200
KILL_AFTER = 200      # accepted messages before the kill: the load is still running then
CLIENTS = 9
GUARD = 60.0          # seconds: client-side guard for the whole load


def kill9(lab):
    """SIGKILL, then the bookkeeping Lab.stop() would do (which would call exit -9 a failure)."""
    lab.proc.kill()
    lab.proc.wait()
    lab.proc.stdout.close()
    lab.stderr.close()
    with open(lab.stderr.name, errors="replace") as f:
        lab.final_log = f.read()
    lab.proc = None
    shutil.rmtree(lab.dir, ignore_errors=True)


class Persistence(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="mailsim-state-")
        self.addCleanup(shutil.rmtree, self.state, True)
        self.labs = []

    def tearDown(self):
        for lab in self.labs:
            if lab.proc is not None:
                lab.stop()
            self.assertEqual(lab.sanitizer_reports(), [], "sanitizer report in a run")

    def start(self, prefix=None):
        lab = Lab(SCENARIO, prefix=prefix, args=["--state-dir", self.state])
        lab.start()
        self.labs.append(lab)
        return lab

    # --- what the restarted lab holds -----------------------------------------
    def snapshot(self, lab):
        """(queued {host: {id: subject}}, mailboxes {address: [(id, subject)]}); queues first,
        so that a message moving from a queue to a mailbox meanwhile is seen in one of them."""
        queues = {}
        for q in lab.api("GET", "/queues", expect=200)[1]["queues"]:
            queues[q["host"]] = {m["id"]: m for m in q["messages"]}
        boxes = {}
        for address in ("alice@corp.example", "bob@corp.example"):
            msgs = lab.api("GET", "/mailboxes/%s/messages" % address, expect=200)[1]["messages"]
            boxes[address] = [(m["id"], m["subject"]) for m in msgs]
        return queues, boxes

    def lost(self, lab, accepted, onward_only=False):
        """The accepted messages the lab does not hold: [(kind, id, tag, why)]."""
        queues, boxes = self.snapshot(lab)
        relay_q = queues.get("RELAY", {})
        alice = set(boxes["alice@corp.example"])
        bob_subjects = {s for _, s in boxes["bob@corp.example"]}
        missing = []
        for kind, qid, tag in accepted:
            subject = "persist " + tag
            if kind == "store":
                if (qid, subject) not in alice:
                    missing.append((kind, qid, tag, "not in alice's mailbox with this id"))
            elif kind == "relay-corp":
                if subject in bob_subjects:
                    continue
                if onward_only:
                    missing.append((kind, qid, tag, "not delivered onward to bob's mailbox"))
                elif not (qid in relay_q and relay_q[qid]["subject"] == subject):
                    missing.append((kind, qid, tag, "neither in RELAY's queue nor in bob's mailbox"))
            else:
                if not (qid in relay_q and relay_q[qid]["subject"] == subject):
                    missing.append((kind, qid, tag, "not in RELAY's queue with this id"))
        return missing

    # --- load -------------------------------------------------------------------
    def load(self, lab, kill_after, max_messages, clients=CLIENTS, label=""):
        """Parallel clients until `max_messages` were tried or mailsim is gone;
        kills mailsim (SIGKILL) once `kill_after` messages were accepted.
        Returns [(kind, queue id, tag)] of every accepted message."""
        lock = threading.Lock()
        accepted, tried, cut_off = [], [0], [0]
        enough = threading.Event()
        errors = []
        kinds = [("store", "STORE", ["alice@corp.example"]),
                 ("relay-corp", "RELAY", ["bob@corp.example"]),
                 ("relay-sink", "RELAY", ["someone@sink.example"])]

        def client(n):
            kind, host, rcpts = kinds[n % len(kinds)]
            serial = 0
            while True:
                try:
                    with smtplib.SMTP(lab.addr(host), lab.smtp_port, timeout=10) as s:
                        s.ehlo("client%d.example.net" % n)
                        for _ in range(20):  # a fresh connection now and then
                            with lock:
                                if tried[0] >= max_messages:
                                    return
                                tried[0] += 1
                            serial += 1
                            tag = "%s%s-%d-%d" % (label, kind, n, serial)
                            body = ("From: <carol@example.net>\r\nTo: <%s>\r\nSubject: persist %s\r\n"
                                    "Message-ID: <%s@persist.example>\r\n\r\nmessage %s\r\n" % (rcpts[0], tag, tag, tag))
                            code, _ = s.mail("carol@example.net")
                            if code != 250:
                                raise AssertionError("MAIL: %s" % code)
                            for r in rcpts:
                                if s.rcpt(r)[0] != 250:
                                    raise AssertionError("RCPT %s refused" % r)
                            code, text = s.data(body.encode())
                            m = re.match(rb"2\.0\.0 Ok: queued as (\S+)$", text)
                            if code == 250 and m:
                                with lock:
                                    accepted.append((kind, m.group(1).decode(), tag))
                                    if kill_after is not None and len(accepted) >= kill_after:
                                        enough.set()
                            elif code != 250:
                                raise AssertionError("end of data: %s %r" % (code, text))
                except (OSError, smtplib.SMTPException) as e:
                    if lab.proc is None or lab.proc.poll() is not None or enough.is_set():
                        with lock:
                            cut_off[0] += 1
                        return  # mailsim was killed: this client is done
                    errors.append(repr(e))
                    return
                except AssertionError as e:
                    errors.append(str(e))
                    return

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        if kill_after is not None:
            enough.wait(GUARD)
            if enough.is_set():
                kill9(lab)
        for t in threads:
            t.join(GUARD)
        self.assertFalse(any(t.is_alive() for t in threads), "a client hung")
        self.assertEqual(errors, [], "clients failed before the kill")
        if kill_after is not None:
            # The kill came while clients were still sending: it cut their sessions.
            self.assertGreater(cut_off[0], 0, "no client was still sending when mailsim was killed")
        return accepted

    # --- tests --------------------------------------------------------------------
    def test_kill9_during_load_loses_nothing_accepted(self):
        """Three rounds of load, kill -9 mid-load, restart on the same state
        directory; after each restart every message accepted so far is there."""
        lab = self.start()
        accepted = []
        for round in range(3):
            got = self.load(lab, KILL_AFTER, MAX_MESSAGES // 3, label="r%d-" % round)
            self.assertGreaterEqual(len(got), KILL_AFTER, "the load never reached the kill point")
            self.assertIsNone(lab.proc, "mailsim was not killed mid-load")
            self.assertEqual(lab.sanitizer_reports(), [])
            accepted += got
            self.assertEqual(len({qid for _, qid, _ in accepted}), len(accepted), "a queue id was given twice")
            lab = self.start(prefix=lab.prefix)
            log = str(lab.api("GET", "/log?since=0", expect=200)[1])
            self.assertNotIn("cannot read", log, "the state directory held unreadable entries")
            missing = self.lost(lab, accepted)
            self.assertEqual(missing[:20], [], "round %d: %d of %d accepted messages lost after kill -9" % (
                round, len(missing), len(accepted)))

        # What is still queued for corp.example goes on to STORE: retries run on lab
        # time. Hour by hour (well inside the two days after which the entries for
        # sink.example would bounce), each time until the attempts it started are over.
        def corp_pending():
            queues, _ = self.snapshot(lab)
            return [m["id"] for m in queues.get("RELAY", {}).values()
                    if any(r["address"].endswith("@corp.example") and r["state"] != "delivered"
                           for r in m["recipients"])]

        def attempts_over():
            return all(m["state"] == "waiting" for m in lab.queue("RELAY"))

        for _ in range(40):
            if not corp_pending():
                break
            lab.advance(3600)
            lab.wait(attempts_over, "RELAY's attempts to end", timeout=GUARD)
        self.assertEqual(corp_pending(), [], "restored queue entries for corp.example were not delivered")
        missing = self.lost(lab, accepted, onward_only=True)
        self.assertEqual(missing[:20], [], "%d accepted messages not there after delivery onward" % len(missing))

    def test_restart_within_the_same_second_keeps_both_runs(self):
        """A lab restarted (after kill -9) in the same wall-clock second as the run
        before must not hand out that run's queue ids again: the new messages
        would overwrite the old ones in the state directory."""
        # Wall-clock alignment (not lab time): start just after a second begins,
        # so that both runs are likely to start within the same second.
        time.sleep(1.0 - time.time() % 1.0 + 0.005)
        lab = self.start()
        first = self.load(lab, None, 9, clients=3, label="run1-")
        kill9(lab)
        again = self.start(prefix=lab.prefix)
        second = self.load(again, None, 9, clients=3, label="run2-")
        self.assertEqual(len(first) + len(second), 18)
        kill9(again)
        third = self.start(prefix=lab.prefix)
        missing = self.lost(third, first + second)
        ids = [qid for _, qid, _ in first + second]
        self.assertTrue(not missing and len(set(ids)) == len(ids),
                        "queue ids of the first run %s, of the second %s; lost after the next restart: %s" % (
                            sorted(q for _, q, _ in first), sorted(q for _, q, _ in second), missing))


if __name__ == "__main__":
    unittest.main()
