"""mailsim new: a skeleton that includes a base, validates as written, refuses
to overwrite, lists the bases when the one named is unknown; and the
authoring path of docs/authoring.md from there: uncomment the fault, add a
pick, validate --deep proves it.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

from labtest import MAILSIM, SOURCE_DIR


def mailsim(*args, cwd, timeout=300):
    return subprocess.run([MAILSIM] + list(args), capture_output=True, text=True, cwd=cwd, timeout=timeout)


class New(unittest.TestCase):
    def setUp(self):
        # A library of our own, with the shipped bases.
        self.root = tempfile.mkdtemp(prefix="mailsim-new-")
        self.addCleanup(shutil.rmtree, self.root, True)
        shutil.copytree(os.path.join(SOURCE_DIR, "scenarios", "base"), os.path.join(self.root, "scenarios", "base"))
        self.path = os.path.join(self.root, "scenarios", "weekend.toml")

    def test_a_skeleton_that_validates_and_says_what_to_do_next(self):
        out = mailsim("new", "weekend", "--from", "guide", cwd=self.root)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("wrote scenarios/weekend.toml (includes base/guide.toml)", out.stdout)
        with open(self.path) as f:
            text = f.read()
        for needle in ('include = ["base/guide.toml"]', 'id = "weekend"', "title = ", "guide_step = ",
                       "difficulty = ", "briefing = ", "# [[fault]]", '# kind = "imc.stopped"', '# host = "EXCH1"',
                       "[trainer]", "[[trainer.hint]]", "# [expect]", "mailsim validate --deep scenarios/weekend.toml"):
            self.assertIn(needle, text)
        self.assertEqual(mailsim("validate", "scenarios/weekend.toml", cwd=self.root).returncode, 0)
        # Without a fault it is a clean lab, and the healthy lab passes its default checks.
        deep = mailsim("validate", "--deep", "--prefix-base", "225", "scenarios/weekend.toml", cwd=self.root)
        self.assertEqual(deep.returncode, 0, deep.stdout + deep.stderr)
        self.assertIn("no faults", deep.stdout)

    def test_the_authoring_path_fault_pick_deep_explain(self):
        self.assertEqual(mailsim("new", "weekend", "--from", "guide", cwd=self.root).returncode, 0)
        with open(self.path) as f:
            text = f.read()
        # Uncomment the example fault, and let each trainee's seed pick the host's new state.
        text = text.replace("# [[fault]]\n", "[[fault]]\n").replace('# kind = "imc.stopped"', 'kind = "imc.stopped"')
        text = text.replace('# host = "EXCH1"', 'host = "EXCH1"', 1)
        text += '\n[[fault]]\nkind = "imc.transfer_mode"\nhost = "EXCH1"\nmode = { pick = ["inbound", "none"] }\n'
        with open(self.path, "w") as f:
            f.write(text)
        self.assertEqual(mailsim("validate", "scenarios/weekend.toml", cwd=self.root).returncode, 0)
        deep = mailsim("validate", "--deep", "--prefix-base", "225", "scenarios/weekend.toml", cwd=self.root)
        self.assertEqual(deep.returncode, 0, deep.stdout + deep.stderr)
        self.assertIn("3 of 3 fault labs show their fault", deep.stdout)
        self.assertIn("fault 2 (imc.transfer_mode EXCH1) with mode none", deep.stdout)
        key = mailsim("explain", "scenarios/weekend.toml", cwd=self.root)
        self.assertEqual(key.returncode, 0, key.stderr)
        self.assertIn("imc.stopped", key.stdout)

    def test_it_refuses_to_overwrite(self):
        self.assertEqual(mailsim("new", "weekend", "--from", "lan", cwd=self.root).returncode, 0)
        with open(self.path) as f:
            before = f.read()
        again = mailsim("new", "weekend", "--from", "guide", cwd=self.root)
        self.assertEqual(again.returncode, 1)
        self.assertIn("scenarios/weekend.toml already exists", again.stderr)
        with open(self.path) as f:
            self.assertEqual(f.read(), before)

    def test_an_unknown_base_lists_the_bases_with_the_nearest(self):
        out = mailsim("new", "weekend", "--from", "guid", cwd=self.root)
        self.assertEqual(out.returncode, 2)
        self.assertIn("no base called `guid` — did you mean `guide`?", out.stderr)
        for base in ("dmz", "guide", "lan", "two-sites"):
            self.assertIn("  " + base, out.stderr)
        self.assertIn("MAILHOST (relay)", out.stderr)
        self.assertFalse(os.path.exists(self.path))

    def test_a_base_by_path_a_bad_id_and_another_directory(self):
        os.makedirs(os.path.join(self.root, "scenarios", "week2"))
        out = mailsim("new", "deeper", "--from", "scenarios/base/dmz.toml", "--dir", "scenarios/week2", cwd=self.root)
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(os.path.join(self.root, "scenarios", "week2", "deeper.toml")) as f:
            self.assertIn('include = ["../base/dmz.toml"]', f.read())
        self.assertEqual(mailsim("validate", "scenarios/week2/deeper.toml", cwd=self.root).returncode, 0)
        bad = mailsim("new", "Week_3", "--from", "guide", cwd=self.root)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("lower-case letters, digits and `-`", bad.stderr)
        self.assertEqual(mailsim("new", "x", cwd=self.root).returncode, 2)  # --from is required


if __name__ == "__main__":
    unittest.main()
