"""The NTLM demo captures (demo/ntlm-oc2007r2.pcap, demo/ntlm-gss.pcap, made by
tests/gen/make_demo_ntlm.py): with the options of their .conf (read the way demo.sh reads them)
every signed header is "valid"; without them every signed header is "no key"; one-pass and -2
output are identical.

Which headers are signed is found independently of the plugin: Wireshark's own SIP dissector
gives the Authorization / Proxy-Authorization / Authentication-Info values, and a value with a
response= or rspauth= parameter is a signature.

Run: cd tests/integration && MSSIPAE_BUILD_DIR=... MSSIPAE_SOURCE_DIR=... python3 -m unittest -v test_demo_ntlm
"""

import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MSSIPAE_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)

from harness import Tshark  # noqa: E402

DEMO = os.path.join(SRC, "demo")
VALID, NO_KEY = "1", "3"
SIG_FIELDS = ["sip.Authorization", "sip.Proxy-Authorization", "sip.Authentication-Info"]
SIGNED = re.compile(r'(^|[\s,])(response|rspauth)\s*=', re.I)


def demo_options(name):
    """The tshark arguments of demo/<name>.conf, as demo.sh builds them: lines that do not start
    with #, empty lines dropped, @DEMO@ replaced by the demo folder."""
    with open(os.path.join(DEMO, name + ".conf"), encoding="utf-8") as f:
        lines = [l.rstrip("\r\n") for l in f]
    return [l.replace("@DEMO@", DEMO) for l in lines if not l.startswith("#") and l != ""]


class NtlmDemo(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = Tshark()
        cls.t.require_plugin()

    @classmethod
    def tearDownClass(cls):
        cls.t.cleanup()

    def signed_headers(self, pcap):
        """{frame: number of signed auth headers}, from the stock SIP dissector only."""
        rows = self.t.fields(pcap, ["frame.number"] + SIG_FIELDS, display_filter="sip",
                             split=True)
        out = {}
        for r in rows:
            n = sum(1 for cell in r[1:] for v in cell if SIGNED.search(v))
            if n:
                out[int(r[0][0])] = n
        return out

    def check(self, name, min_signed, frames=None):
        pcap = os.path.join(DEMO, name + ".pcap")
        self.assertTrue(os.path.isfile(pcap), "%s missing: run tests/gen/make_demo_ntlm.py" % pcap)
        opts = demo_options(name)
        self.assertTrue(opts, "%s.conf gives no options" % name)
        signed = self.signed_headers(pcap)
        self.assertGreaterEqual(sum(signed.values()), min_signed)
        if frames is not None:
            self.assertEqual(sorted(signed), frames)
        fields = ["frame.number", "mssipae.sig.status", "mssipae.sig.why", "mssipae.direction"]
        for extra, status in ((opts, VALID), ((), NO_KEY)):
            rows = self.t.assert_same_both_passes(pcap, fields, extra_args=extra, split=True,
                                                  display_filter="mssipae.sig.status")
            got = {int(r[0][0]): r for r in rows}
            self.assertEqual(sorted(got), sorted(signed), "frames with a signature status")
            for fr, n in signed.items():
                self.assertEqual(got[fr][1], [status] * n,
                                 "%s frame %d (%s)" % (name, fr, got[fr][2]))
        return got

    def test_oc2007r2(self):
        """The real Microsoft exchange: REGISTER (frame 2) and 200 OK (frame 3) both valid."""
        self.check("ntlm-oc2007r2", 2, frames=[2, 3])

    def test_gss(self):
        """The gss-ntlmssp Lync-style capture: many signed messages, both directions, all valid."""
        got = self.check("ntlm-gss", 10)
        dirs = [d for r in got.values() for d in r[3]]
        self.assertGreaterEqual(dirs.count("client-to-server"), 5)
        self.assertGreaterEqual(dirs.count("server-to-client"), 5)


if __name__ == "__main__":
    unittest.main()
