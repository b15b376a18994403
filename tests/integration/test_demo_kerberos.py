"""The Kerberos demo capture (demo/kerberos-mit.pcap with demo/sip.keytab, made from real MIT
material by tests/gen/make_demo_kerberos.py): with the options of demo/kerberos-mit.conf (read
the way demo.sh reads them) every signed header is "valid"; without them every signed header is
"no key"; one-pass and -2 output are identical.

Which headers are signed is found independently of the plugin: Wireshark's own SIP dissector
gives the Authorization / Proxy-Authorization / Authentication-Info values, and a value with a
response= or rspauth= parameter is a signature; its first bytes tell the token format
(04 04: RFC 4121, 60 23: RFC 4757).

Run: cd tests/integration && MSSIPAE_BUILD_DIR=... MSSIPAE_SOURCE_DIR=... python3 -m unittest -v test_demo_kerberos
"""

import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from demo_common import (DEMO, VALID, NO_KEY, demo_options, ep_slot, readdress,  # noqa: E402
                         signed_headers)
import itbase  # noqa: E402

NAME = "kerberos-mit"


class KerberosDemo(itbase.PluginTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pcap = os.path.join(DEMO, NAME + ".pcap")

    def staged_options(self):
        """The .conf options with file paths copied where tshark (run as nobody when we are
        root) can read them; a `-o name:path` to a missing file fails the test."""
        out = []
        for arg in demo_options(NAME):
            m = re.match(r"([\w.]+):(/.*)$", arg)
            if m and "keytab" in m.group(1):
                self.assertTrue(os.path.isfile(m.group(2)), "%s missing" % m.group(2))
                arg = "%s:%s" % (m.group(1), self.t.stage(m.group(2)))
            out.append(arg)
        return out

    def test_files(self):
        for f in (NAME + ".pcap", NAME + ".conf", "sip.keytab"):
            self.assertTrue(os.path.isfile(os.path.join(DEMO, f)),
                            "demo/%s missing: run tests/gen/make_demo_kerberos.py" % f)
        self.assertEqual(demo_options(NAME), ["-o", "mssipae.keytab:%s/sip.keytab" % DEMO])

    def test_every_signature_valid_with_keytab_no_key_without(self):
        self.check(self.pcap)

    def test_endpoints_in_one_cache_slot(self):
        """Regression: the first client moved to an address whose "address:port" text shares
        the glue's endpoint-cache slot with the server's. Source and destination of every
        message must still be told apart (the 200 OK that names the opaque travels server ->
        client on the SA's endpoints): every signed header stays valid, none is "no SA"."""
        server = ep_slot(bytes([10, 0, 0, 10]), 5060)
        client = next(bytes([10, 0, c, d]) for c in range(1, 255) for d in range(1, 255)
                      if ep_slot(bytes([10, 0, c, d]), 50123) == server)
        with tempfile.TemporaryDirectory() as tmp:
            pcap = os.path.join(tmp, NAME + "-slot.pcap")
            readdress(self.pcap, bytes([10, 0, 0, 21]), client, pcap)
            self.check(self.t.stage(pcap))

    def check(self, pcap):
        signed = signed_headers(self.t, pcap)
        sigs = [s.lower() for v in signed.values() for s in v]
        # two clients: AES (RFC 4121 tokens) and RC4 (RFC 4757 tokens), signed both ways
        self.assertGreaterEqual(len(sigs), 12)
        self.assertTrue(any(s.startswith("0404") for s in sigs))
        self.assertTrue(any(s.startswith("6023") for s in sigs))
        fields = ["frame.number", "mssipae.sig.status", "mssipae.sig.why", "mssipae.direction",
                  "mssipae.scheme"]
        for extra, status in ((self.staged_options(), VALID), ((), NO_KEY)):
            rows = self.t.assert_same_both_passes(pcap, fields, extra_args=extra, split=True,
                                                  display_filter="mssipae.sig.status")
            got = {int(r[0][0]): r for r in rows}
            self.assertEqual(sorted(got), sorted(signed), "frames with a signature status")
            for fr, s in signed.items():
                self.assertEqual(got[fr][1], [status] * len(s),
                                 "frame %d (%s)" % (fr, got[fr][2]))
                self.assertEqual(got[fr][4], ["Kerberos"] * len(s))
            dirs = [d for r in got.values() for d in r[3]]
            self.assertGreaterEqual(dirs.count("client-to-server"), 6)
            self.assertGreaterEqual(dirs.count("server-to-client"), 6)


if __name__ == "__main__":
    unittest.main()
