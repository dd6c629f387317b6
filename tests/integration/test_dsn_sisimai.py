"""Our DSNs as a third-party bounce parser reads them.

tests/tools/dsn_samples writes one DSN (fake_smtp::write_dsn) per
representative failure; Sisimai (Debian: libsisimai-perl), the bounce
classifier many mail operators run, must find the recipient, the status and
the reason we meant in each. Skips when Sisimai is not installed.

The binary comes from $MAILSIM_DSN_SAMPLES, else build/dev/tests/tools/dsn_samples.
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DEFAULT_SAMPLES = os.path.join(ROOT, "build", "dev", "tests", "tools", "dsn_samples")

# Sisimai 4 has make(), Sisimai 5 rise(); damn() gives a plain hash in both
# (5 renamed smtpagent to decodedby).
PARSE = r"""
use strict; use warnings; use Sisimai; use JSON::PP;
my $path = shift;
my $v = Sisimai->can('rise') ? Sisimai->rise($path, 'delivered' => 1)
                             : Sisimai->make($path, 'delivered' => 1);
my @out;
for my $e (@{ $v || [] }) {
    my $h = $e->damn;
    push @out, { map { $_ => (defined $h->{$_} ? "$h->{$_}" : '') }
                 qw(recipient reason deliverystatus replycode action smtpagent decodedby) };
}
print JSON::PP->new->canonical->encode(\@out), "\n";
"""

# case: (reason, status, action, reply code or "" when no SMTP reply was involved)
EXPECTED = {
    "user_unknown": ("userunknown", "5.1.1", "failed", "550"),
    "message_too_big": ("mesgtoobig", "5.3.4", "failed", "552"),
    "routing_loop": ("networkerror", "5.4.6", "failed", "554"),
    "relay_denied": ("norelaying", "5.7.1", "failed", "554"),
    "expired_timeout": ("expired", "4.4.1", "failed", ""),
    "host_unreachable": ("hostunknown", "5.4.4", "failed", ""),
    # Sisimai files a delay warning under "expired"; the action tells them apart.
    "delayed": ("expired", "4.4.1", "delayed", ""),
}


def sisimai_version():
    """Sisimai's version, or None when the Perl module is missing."""
    perl = shutil.which("perl")
    if not perl:
        return None
    r = subprocess.run([perl, "-MSisimai", "-e", "print Sisimai->version"], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


class DsnSisimai(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.version = sisimai_version()
        if cls.version is None:
            raise unittest.SkipTest("Sisimai is not installed (apt-get install libsisimai-perl); "
                                    "DSNs not checked against a third-party parser")
        binary = os.environ.get("MAILSIM_DSN_SAMPLES")
        if binary:
            if not os.access(binary, os.X_OK):
                raise AssertionError("MAILSIM_DSN_SAMPLES=%s is not an executable" % binary)
        elif os.access(DEFAULT_SAMPLES, os.X_OK):
            binary = DEFAULT_SAMPLES
        else:
            raise unittest.SkipTest("dsn_samples not built (set MAILSIM_DSN_SAMPLES or build %s)" % DEFAULT_SAMPLES)
        cls.dir = tempfile.mkdtemp(prefix="mailsim-dsn-")
        r = subprocess.run([binary, cls.dir], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("dsn_samples failed: %s" % r.stderr)
        cls.cases = r.stdout.split()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def parse(self, name):
        r = subprocess.run(["perl", "-e", PARSE, os.path.join(self.dir, name + ".eml")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_every_case_is_written(self):
        self.assertEqual(sorted(self.cases), sorted(EXPECTED))

    def test_reason_and_status_per_case(self):
        for name, (reason, status, action, code) in sorted(EXPECTED.items()):
            with self.subTest(case=name, sisimai=self.version):
                records = self.parse(name)
                self.assertEqual(len(records), 1, records)
                got = records[0]
                self.assertEqual(got["recipient"], "bob@example.net")
                self.assertEqual((got["reason"], got["deliverystatus"], got["action"], got["replycode"]),
                                 (reason, status, action, code), got)


if __name__ == "__main__":
    unittest.main()
