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
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from demo_common import DEMO, VALID, NO_KEY, demo_options, signed_headers  # noqa: E402
import itbase  # noqa: E402


class NtlmDemo(itbase.PluginTestCase):
    def check(self, name, min_signed, frames=None):
        pcap = os.path.join(DEMO, name + ".pcap")
        self.assertTrue(os.path.isfile(pcap), "%s missing: run tests/gen/make_demo_ntlm.py" % pcap)
        opts = demo_options(name)
        self.assertTrue(opts, "%s.conf gives no options" % name)
        # {frame: number of signed auth headers}
        signed = {fr: len(sigs) for fr, sigs in signed_headers(self.t, pcap).items()}
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
