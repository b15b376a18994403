"""The TLS-DSK demo captures (demo/tlsdsk-gnutls.pcap and demo/tlsdsk-over-tls.pcap, made from
real GnuTLS handshakes by tests/gen/make_demo_tlsdsk.py): with the options of their .conf (read
the way demo.sh reads them) every signed header is "valid"; without the server key every signed
header is "no key"; the other key files next to them (PEM PKCS#8, PKCS#12 with its password,
GnuTLS's CLIENT_RANDOM key log, explicit TLS-DSK lines) -- the ones the README's examples use --
each verify every signature too; one-pass and -2 output are identical.

Which headers are signed is found independently of the plugin: Wireshark's own SIP dissector
gives the Authorization / Proxy-Authorization / Authentication-Info values (after decrypting the
outer TLS with its key log for SIP over TLS), and a value with a response= or rspauth= parameter
is a signature; its length tells the HMAC (40 hex digits: SHA-1, 64: SHA-256).

Run: cd tests/integration && MSSIPAE_BUILD_DIR=... MSSIPAE_SOURCE_DIR=... python3 -m unittest -v test_demo_tlsdsk
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from demo_common import DEMO, VALID, NO_KEY, demo_options, signed_headers  # noqa: E402
import itbase  # noqa: E402

FILES = ["tlsdsk-gnutls.pcap", "tlsdsk-gnutls.conf", "tlsdsk-over-tls.pcap", "tlsdsk-over-tls.conf",
         "tlsdsk-over-tls.keys", "tlsdsk-server.key", "tlsdsk-server.p8.pem", "tlsdsk-server.pfx",
         "tlsdsk-server.crt", "tlsdsk-gnutls.keys", "tlsdsk-gnutls-explicit.keys"]


class TlsDskDemo(itbase.PluginTestCase):
    def demo(self, name):
        return self.t.stage(os.path.join(DEMO, name))

    def staged(self, args):
        """Options with every file path staged where tshark (run as nobody when we are root)
        can read it; a path to a missing file fails the test."""
        out = []
        for arg in args:
            m = re.match(r"([\w.]+):(/.*)$", arg)
            if m:
                self.assertTrue(os.path.isfile(m.group(2)), "%s missing" % m.group(2))
                arg = "%s:%s" % (m.group(1), self.t.stage(m.group(2)))
            out.append(arg)
        return out

    def verdicts(self, pcap, signed, extra, status):
        fields = ["frame.number", "mssipae.sig.status", "mssipae.sig.why", "mssipae.direction",
                  "mssipae.scheme"]
        rows = self.t.assert_same_both_passes(pcap, fields, extra_args=extra, split=True,
                                              display_filter="mssipae.sig.status")
        got = {int(r[0][0]): r for r in rows}
        self.assertEqual(sorted(got), sorted(signed), "frames with a signature status")
        for fr, s in signed.items():
            self.assertEqual(got[fr][1], [status] * len(s), "frame %d (%s)" % (fr, got[fr][2]))
            self.assertEqual(got[fr][4], ["TLS-DSK"] * len(s))
        return got

    def test_files(self):
        for f in FILES:
            self.assertTrue(os.path.isfile(os.path.join(DEMO, f)),
                            "demo/%s missing: run tests/gen/make_demo_tlsdsk.py" % f)
        self.assertEqual(demo_options("tlsdsk-gnutls"),
                         ["-o", "mssipae.tls_dsk_rsa_key:%s/tlsdsk-server.key" % DEMO])

    def test_gnutls_every_key_source(self):
        pcap = os.path.join(DEMO, "tlsdsk-gnutls.pcap")
        signed = signed_headers(self.t, pcap)
        sigs = [s for v in signed.values() for s in v]
        # three registrations with traffic: TLS 1.0 (HMAC-SHA1), TLS 1.2 (HMAC-SHA256), resumed
        self.assertGreaterEqual(len(sigs), 18)
        self.assertEqual(sorted({len(s) for s in sigs}), [40, 64])
        got = self.verdicts(pcap, signed, self.staged(demo_options("tlsdsk-gnutls")), VALID)
        dirs = [d for r in got.values() for d in r[3]]
        self.assertGreaterEqual(dirs.count("client-to-server"), 9)
        self.assertGreaterEqual(dirs.count("server-to-client"), 9)
        self.verdicts(pcap, signed, (), NO_KEY)
        pfx = self.demo("tlsdsk-server.pfx")
        for extra in (["-o", "mssipae.tls_dsk_rsa_key:" + self.demo("tlsdsk-server.p8.pem")],
                      ["-o", 'uat:mssipae_tls_dsk_keys:"%s","demo"' % pfx],
                      ["-o", "mssipae.keylog_file:" + self.demo("tlsdsk-gnutls.keys")],
                      ["-o", "mssipae.keylog_file:" + self.demo("tlsdsk-gnutls-explicit.keys")]):
            self.verdicts(pcap, signed, extra, VALID)

    def test_over_tls(self):
        pcap = os.path.join(DEMO, "tlsdsk-over-tls.pcap")
        outer = ["-o", "tls.keylog_file:" + self.demo("tlsdsk-over-tls.keys")]
        self.assertEqual(signed_headers(self.t, pcap), {}, "SIP visible without the outer keys")
        signed = signed_headers(self.t, pcap, outer)
        self.assertGreaterEqual(sum(len(v) for v in signed.values()), 6)
        self.verdicts(pcap, signed, self.staged(demo_options("tlsdsk-over-tls")), VALID)
        self.verdicts(pcap, signed, outer, NO_KEY)


if __name__ == "__main__":
    unittest.main()
