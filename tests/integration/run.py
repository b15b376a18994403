#!/usr/bin/env python3
"""Runs integration test modules like `python3 -m unittest -v MODULE...`, but when
MSSIPAE_NO_SKIP=1 (set by ./test.sh, so in CI) a skipped test is a failure: a missing dependency
(the plugin not built, no KDC in PATH, no gss-ntlmssp, ...) must not leave CI green.

    MSSIPAE_NO_SKIP=1 python3 run.py test_kerberos_e2e
"""
import os
import sys
import unittest


def main(argv):
    names = argv[1:]
    if not names:
        sys.exit("usage: run.py MODULE [MODULE...]")
    suite = unittest.defaultTestLoader.loadTestsFromNames(names)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    skipped = result.skipped
    if skipped and os.environ.get("MSSIPAE_NO_SKIP") == "1":
        print("\nMSSIPAE_NO_SKIP=1: %d skipped test(s) count as failures:" % len(skipped))
        for test, why in skipped:
            print("  SKIPPED %s: %s" % (test.id(), why))
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main(sys.argv))
