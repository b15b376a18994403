"""Hostile inputs and configurations (issue 11, acceptance 8), through tshark with the plugin.

- a named pipe (FIFO) as keytab, key log or TLS-DSK RSA key: tshark does not hang, the
  configuration problem is reported (mssipae.config) and dissection goes on;
- one SIP message with 260 signed headers each carrying a real Kerberos AP-REQ in gssapi-data:
  260 verdicts (tokens handed to other dissectors are bounded per frame, so Wireshark's layer
  limit never swallows the plugin's own output);
- 100,000 malformed key-log lines: a bounded number of expert infos (the first five named, then
  one count);
- two key-log lines for one opaque with different keys, in either order: every signature verifies
  with the line that works, and the conflict is reported;
- one bad row in the NTLM users file: the error names the rows Wireshark drops after it;
- many Kerberos handshakes that never bind on one endpoint pair: dissection completes, at most 64
  stay open (a note says when one is let go). The cost of 25,000 such handshakes is measured, not
  asserted, by bench/hostile.py.

Captures are generated here (tests/gen/flowlib.py) from the MIT lab vectors (tests/vectors) and
the demo capture demo/ntlm-oc2007r2.pcap (its exported session key is in the vectors).
"""

import base64
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MSSIPAE_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(SRC, "tests", "gen"))
sys.path.insert(0, HERE)

from flowlib import Flow  # noqa: E402
import itbase  # noqa: E402

VEC = os.path.join(SRC, "tests", "vectors")
DEMO = os.path.join(SRC, "demo")
NTLM_PCAP = os.path.join(DEMO, "ntlm-oc2007r2.pcap")
NTLM_OPAQUE = "2BDBAC9D"
NTLM_ESK = "6742fbe37bb1946b49d86a525bd29a9b"   # tests/vectors/ntlm-oc2007r2-v4/values.txt
WRONG_KEY = "00112233445566778899aabbccddeeff"


def apreq_b64():
    with open(os.path.join(VEC, "kerberos-mit-lab", "aes256-oneleg", "ap-req.hex")) as f:
        return base64.b64encode(bytes.fromhex(f.read().strip())).decode()


def register(call_id, auth_lines, tag="1"):
    return ("REGISTER sip:contoso.test SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1:5061;branch=z9hG4bK%s\r\n"
            "From: <sip:alice@contoso.test>;tag=%s\r\nTo: <sip:alice@contoso.test>\r\n"
            "Call-ID: %s\r\nCSeq: 1 REGISTER\r\n%sContent-Length: 0\r\n\r\n"
            % (call_id, tag, call_id, "".join(auth_lines))).encode()


class Hostile(itbase.PluginTestCase):
    TMP_PREFIX = "mssipae-hostile-"

    def statuses(self, pcap, **kw):
        rows = self.t.assert_same_both_passes(pcap, ["frame.number", "mssipae.sig.status"],
                                              split=True, **kw)
        return {r[0][0]: r[1] for r in rows}

    def experts(self, pcap, **kw):
        rows = self.t.fields(pcap, ["frame.number", "_ws.expert.message"], split=True, **kw)
        return {r[0][0]: r[1] for r in rows}

    # ---- a FIFO as a key file ----
    def test_fifo_key_files_do_not_hang(self):
        fifo = os.path.join(self.t.files, "pipe-%d" % os.getpid())
        os.mkfifo(fifo)
        os.chmod(fifo, 0o666)
        self.addCleanup(os.unlink, fifo)
        for pref in ("mssipae.keytab", "mssipae.keylog_file", "mssipae.tls_dsk_rsa_key"):
            with self.subTest(pref=pref):
                try:
                    exp = self.experts(NTLM_PCAP, prefs={pref: fifo, "mssipae.nt_password": "Pa$$word"})
                except Exception as e:  # a hang shows as the harness's timeout
                    self.fail("%s = FIFO: %s" % (pref, e))
                msgs = [m for ms in exp.values() for m in ms]
                self.assertTrue(any("not a regular file" in m for m in msgs), msgs)
                # dissection went on: the NTLM signatures verify with the password
                st = self.statuses(NTLM_PCAP, prefs={pref: fifo, "mssipae.nt_password": "Pa$$word"})
                self.assertEqual([s for v in st.values() for s in v], ["1", "1"])

    # ---- 260 signed headers with gssapi-data in one message ----
    def test_260_signed_headers_give_260_verdicts(self):
        tok = apreq_b64()
        auths = ['Authorization: Kerberos qop="auth", realm="SIP Communications Service", '
                 'opaque="%08X", targetname="sip/server.contoso.test", version=4, '
                 'gssapi-data="%s", crand="1", cnum="1", response="%s"\r\n'
                 % (i, tok, "04040000ffffffffff" + "00" * 19) for i in range(260)]
        flow = Flow("tcp")
        flow.link(("10.0.0.1", 5061), ("10.0.0.2", 5061)).c2s(register("many-1", auths))
        pcap = self.path("h260.pcap")
        flow.save(pcap)
        st = self.statuses(pcap)
        got = [v for v in st.values() if v]
        self.assertEqual(len(got), 1, st)
        self.assertEqual(len(got[0]), 260)
        self.assertNotIn("Dissector bug", self.t.last_stderr)

    # ---- 100,000 bad key-log lines ----
    def test_many_bad_keylog_lines_bounded(self):
        kl = self.path("bad.log")
        with open(kl, "w") as f:
            f.write("NTLM %s %s\n" % (NTLM_OPAQUE, NTLM_ESK))
            for i in range(100000):
                f.write("NTLM bad%d zz\n" % i)
        exp = self.experts(NTLM_PCAP, prefs={"mssipae.keylog_file": kl})
        cfg = [m for ms in exp.values() for m in ms if "key log" in m]
        self.assertLessEqual(len(cfg), 6, cfg)
        self.assertTrue(any("100000 malformed lines in all" in m for m in cfg), cfg)
        st = self.statuses(NTLM_PCAP, prefs={"mssipae.keylog_file": kl})
        self.assertEqual([s for v in st.values() for s in v], ["1", "1"])

    # ---- conflicting key-log lines for one opaque ----
    def test_conflicting_keylog_lines_use_the_key_that_works(self):
        for order in ((WRONG_KEY, NTLM_ESK), (NTLM_ESK, WRONG_KEY)):
            with self.subTest(order=order):
                kl = self.keylog("conflict-%s.log" % order[0][:4],
                                 ["NTLM %s %s" % (NTLM_OPAQUE, k) for k in order])
                st = self.statuses(NTLM_PCAP, prefs={"mssipae.keylog_file": kl})
                self.assertEqual([s for v in st.values() for s in v], ["1", "1"])
                msgs = [m for ms in self.experts(NTLM_PCAP, prefs={"mssipae.keylog_file": kl}).values()
                        for m in ms]
                good = 3 if order[1] == NTLM_ESK else 2   # the comment line is line 1
                self.assertTrue(any("verified with line %d" % good in m for m in msgs), msgs)
                self.assertTrue(any("give different keys for the same %s" % NTLM_OPAQUE in m
                                    for m in msgs), msgs)

    # ---- a bad row in the NTLM users file ----
    def test_uat_rows_dropped_after_a_bad_row_are_named(self):
        self.t.write_config("mssipae_ntlm_users",
                            '"D1","u1","p1",""\n"D2","u2","",""\n"D3","u3","p3",""\n'
                            '"D4","u4","p4",""\n')
        self.addCleanup(os.unlink, os.path.join(self.t.config_dir, "mssipae_ntlm_users"))
        self.t.run(["-r", self.t.stage(NTLM_PCAP), "-c", "1"], check=False)
        err = self.t.last_stderr
        self.assertIn("row 2 of", err)
        self.assertIn("rows 3-4 (D3\\u3, D4\\u4) are not loaded", err)
        self.assertNotIn("p3", err.replace("rows 3", ""))  # no password in the message

    # ---- Kerberos handshakes that never bind ----
    def test_never_bound_handshakes_on_one_pair(self):
        tok = apreq_b64()
        flow = Flow("udp")
        link = flow.link(("10.0.0.1", 5060), ("10.0.0.2", 5060))
        n = 200
        for i in range(n):
            link.c2s(register("nb-%d" % i, [
                'Authorization: Kerberos qop="auth", realm="SIP Communications Service", '
                'targetname="sip/server.contoso.test", version=4, gssapi-data="%s"\r\n' % tok],
                tag="t%d" % i))
            # an Authentication-Info that matches none of them (another Call-ID)
            link.s2c(("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx%d\r\n"
                      "From: <sip:alice@contoso.test>;tag=x%d\r\nTo: <sip:alice@contoso.test>;tag=y\r\n"
                      "Call-ID: other-%d\r\nCSeq: 1 REGISTER\r\nAuthentication-Info: Kerberos "
                      'qop="auth", opaque="%08X", srand="1", snum="1", rspauth="%s", '
                      'targetname="sip/server.contoso.test", realm="SIP Communications Service", '
                      "version=4\r\nContent-Length: 0\r\n\r\n"
                      % (i, i, i, i, "0404010" + "0" * 67)).encode())
        pcap = self.path("neverbound.pcap")
        flow.save(pcap)
        exp = self.experts(pcap, prefs={"mssipae.keytab": os.path.join(VEC, "kerberos-mit-lab",
                                                                         "sip.keytab")})
        self.assertEqual(len(exp), 2 * n)
        msgs = [m for ms in exp.values() for m in ms]
        let_go = [m for m in msgs if "more than 64 handshakes are open between these endpoints"
                  in m and "no longer waits for its opaque" in m]
        self.assertEqual(len(let_go), n - 64, let_go[:3])


if __name__ == "__main__":
    unittest.main()
