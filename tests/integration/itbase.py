"""itbase -- the base class of the integration tests that run tshark with the built plugin (not a
test module itself: ctest runs only tests/integration/test_*.py)."""

import os
import tempfile
import unittest

from harness import Tshark


class PluginTestCase(unittest.TestCase):
    """One Tshark per test class (the class is skipped when the plugin is not built) and one
    temporary folder; both are removed by class cleanups, also when setUpClass fails later on."""

    TMP_PREFIX = "mssipae-it-"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix=cls.TMP_PREFIX)
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.t = Tshark()
        cls.addClassCleanup(cls.t.cleanup)
        cls.t.require_plugin()

    def path(self, name):
        """name inside the class's temporary folder."""
        return os.path.join(self.tmp.name, name)

    def keylog(self, name, lines):
        """A key-log file in the temporary folder: a comment line, then one line per entry."""
        p = self.path(name)
        with open(p, "w") as f:
            f.write("# mssipae key log (test)\n" + "".join(l + "\n" for l in lines))
        return p
