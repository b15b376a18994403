"""In CI a skipped test is a failure (issue 11, acceptance 7): with the KDC tools removed from PATH,
the test command for the Kerberos end-to-end tests (tests/integration/run.py under
MSSIPAE_NO_SKIP=1, as ./test.sh and ctest run it) exits non-zero and names the skipped tests;
without MSSIPAE_NO_SKIP the same run only skips. A self-test of the test tooling."""

import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SBINS = {"/usr/sbin", "/sbin", "/usr/local/sbin"}


def run_without_kdc(no_skip):
    path = ":".join(p for p in os.environ.get("PATH", "").split(":") if p not in SBINS)
    env = dict(os.environ, PATH=path)
    env.pop("MSSIPAE_NO_SKIP", None)
    if no_skip:
        env["MSSIPAE_NO_SKIP"] = "1"
    return subprocess.run([sys.executable, os.path.join(HERE, "run.py"), "test_kerberos_e2e"],
                          cwd=HERE, env=env, capture_output=True, text=True, timeout=600)


class NoSkip(unittest.TestCase):
    def test_kdc_missing_fails_the_test_command(self):
        p = run_without_kdc(True)
        self.assertNotEqual(p.returncode, 0, p.stdout[-2000:] + p.stderr[-2000:])
        self.assertIn("count as failures", p.stdout)
        self.assertIn("SKIPPED test_kerberos_e2e.", p.stdout)
        self.assertIn("missing: krb5kdc", p.stdout)

    def test_without_no_skip_it_only_skips(self):
        p = run_without_kdc(False)
        self.assertEqual(p.returncode, 0, p.stdout[-2000:] + p.stderr[-2000:])
        self.assertIn("skipped", p.stderr)


if __name__ == "__main__":
    unittest.main()
