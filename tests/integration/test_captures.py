"""Self-checks of the test generators (pcapgen, tlsgen, sipmsg) and of the tshark harness.

* SigbufVectors: the independent Python buffer builder (tests/gen/sipmsg.py) against every
  tests/vectors/**/*.sip + .sigbuf pair (byte equality).
* SigbufRules: buffer rules not covered by the vectors (compact forms, folding, first instance,
  PPI fallback, PAI splitting, v2/v3 request layouts) with expected buffers written by hand from
  ms-sipae.md section 4; plus message building and sign().
* StockDissection: captures from pcapgen/tlsgen dissected by the stock SIP/TCP/TLS dissectors of
  tshark through harness.Tshark (so the root -> setpriv path is exercised): UDP, IPv6, two
  messages in one segment, one message over two segments, several connections, SIP over TLS
  decrypted with a key log (file or pcapng-embedded), one-pass == two-pass.
* HarnessPlugin: a throw-away plugin compiled at test time (plain and ASan) proves that the
  harness really loads a C plugin from its own folder as root; the real mssipae.so is checked
  when it is built (skipped otherwise).

Run: cd tests/integration && MSSIPAE_BUILD_DIR=<build> python3 -m unittest -v test_captures
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MSSIPAE_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "gen"))
sys.path.insert(0, HERE)

import harness                                   # noqa: E402
import sipmsg                                    # noqa: E402
from pcapgen import Capture, TcpConn, C2S, S2C    # noqa: E402
from tlsgen import TlsTcpConn                     # noqa: E402

VECTORS = os.path.join(SRC, "tests", "vectors")
VERSION_BY_FOLDER = {"seed-kerberos-example": 3, "ntlm-ocs2007-v2-noess": 2}

CLIENT = ("10.0.0.10", 50010)
CLIENT2 = ("10.0.0.11", 50011)
SERVER = ("10.0.0.20", 5060)
SERVER_TLS = ("10.0.0.20", 5061)


def _req(method, cseq, call_id="call-1@10.0.0.10", body=b""):
    return sipmsg.request(method, "sip:contoso.test", [
        ("Via", "SIP/2.0/TCP 10.0.0.10:50010;branch=z9hG4bK%s%d" % (method.lower(), cseq)),
        ("Max-Forwards", "70"),
        ("From", "<sip:alice@contoso.test>;tag=a1;epid=e1"),
        ("To", "<sip:alice@contoso.test>"),
        ("Call-ID", call_id),
        ("CSeq", "%d %s" % (cseq, method)),
    ], body)


def _resp(code, reason, method, cseq, call_id="call-1@10.0.0.10"):
    return sipmsg.response(code, reason, [
        ("Via", "SIP/2.0/TCP 10.0.0.10:50010;branch=z9hG4bK%s%d" % (method.lower(), cseq)),
        ("From", "<sip:alice@contoso.test>;tag=a1;epid=e1"),
        ("To", "<sip:alice@contoso.test>;tag=b2"),
        ("Call-ID", call_id),
        ("CSeq", "%d %s" % (cseq, method)),
    ])


# ---------------------------------------------------------------------------------------------

class SigbufVectors(unittest.TestCase):
    def test_all_vector_buffers(self):
        pairs = []
        for sip in sorted(glob.glob(os.path.join(VECTORS, "**", "*.sip"), recursive=True)):
            sb = sip[:-4] + ".sigbuf"
            if os.path.exists(sb):
                pairs.append((sip, sb))
        self.assertGreaterEqual(len(pairs), 14, "vector pairs not found under %s" % VECTORS)
        for sip, sb in pairs:
            folder = os.path.basename(os.path.dirname(sip))
            version = VERSION_BY_FOLDER.get(folder, 4)
            with self.subTest(vector=os.path.relpath(sip, VECTORS), version=version):
                with open(sip, "rb") as f:
                    msg = f.read()
                with open(sb, "rb") as f:
                    want = f.read()
                self.assertEqual(sipmsg.signature_buffer(msg, version=version), want)


class SigbufRules(unittest.TestCase):
    AUTH_C = ('NTLM qop="auth", realm="R", opaque="0P", targetname="srv.test", version=4, '
              'crand="c0ffee00", cnum="7", response="00"')
    AUTH_S = ('NTLM rspauth="00", srand="5EED0001", snum="9", opaque="0P", qop="auth", '
              'targetname="srv.test", realm="R"')

    def test_compact_forms_folding_tag_anywhere_first_instance(self):
        msg = sipmsg.request("MESSAGE", "sip:bob@x", [
            ("f", '"Alice, A." <sip:alice@x;transport=tls>;epid=1;tag=ta'),
            ("FROM", "<sip:other@x>;tag=WRONG"),
            ("t", "sip:bob@x;epid=2;\r\n  tag=tb"),
            ("i", "cid-1"),
            ("CSEQ", "5   MESSAGE"),
            ("Proxy-Authorization", self.AUTH_C),
            ("Session-Expires", "1800"),
            ("P-Preferred-Identity", "<sip:pp@x>, <tel:+1234;ext=5>"),
        ])
        self.assertEqual(
            sipmsg.signature_buffer(msg, 4),
            b"<NTLM><c0ffee00><7><R><srv.test><cid-1><5><MESSAGE><sip:alice@x;transport=tls><ta>"
            b"<sip:bob@x><tb><sip:pp@x><tel:+1234;ext=5><>")
        # version 2: no To URI, no PAI items
        self.assertEqual(
            sipmsg.signature_buffer(msg, 2),
            b"<NTLM><c0ffee00><7><R><srv.test><cid-1><5><MESSAGE><sip:alice@x;transport=tls><ta>"
            b"<tb><>")

    def test_pai_over_ppi_quoted_comma_bare_tel_expires_status(self):
        msg = sipmsg.response(180, "Ringing", [
            ("Authentication-Info", self.AUTH_S),
            ("P-Preferred-Identity", "<sip:ignored@x>"),
            ("p-asserted-identity", '"Doe, <J>" <SIP:jd@x>, tel:+420123456;ext=88463'),
            ("From", "<sip:a@x>;tag=1"), ("To", "<sip:b@x>"), ("Call-ID", "c"),
            ("CSeq", "1 INVITE"), ("Expires", " 0 "), ("Expires", "99"),
        ])
        self.assertEqual(
            sipmsg.signature_buffer(msg, 3),
            b"<NTLM><5EED0001><9><R><srv.test><c><1><INVITE><sip:a@x><1><sip:b@x><>"
            b"<SIP:jd@x><tel:+420123456;ext=88463><0><180>")

    def test_header_choice_and_missing_items(self):
        msg = sipmsg.response(200, "OK", [
            ("Proxy-Authentication-Info", self.AUTH_S.replace("NTLM", "Kerberos")),
            ("Authentication-Info", self.AUTH_S.replace('snum="9"', 'snum="10"')),
            ("To", "<sip:b@x>;tag=z"), ("CSeq", "3 BYE"),
        ])
        self.assertEqual(len(sipmsg.signing_headers(msg)), 2)
        self.assertEqual(sipmsg.signature_buffer(msg, 4, header=1),
                         b"<NTLM><5EED0001><10><R><srv.test><><3><BYE><><><sip:b@x><z><><><><200>")
        self.assertTrue(sipmsg.signature_buffer(msg, 4).startswith(b"<Kerberos><5EED0001><9>"))

    def test_build_exact_bytes(self):
        self.assertEqual(
            sipmsg.request("ACK", "sip:b@x", [("Via", "SIP/2.0/UDP h"), ("l", sipmsg.AUTO)],
                           "hé"),
            "ACK sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nl: 3\r\n\r\nhé".encode())
        self.assertEqual(sipmsg.response(200, "OK", [("X", "1")]),
                         b"SIP/2.0 200 OK\r\nX: 1\r\nContent-Length: 0\r\n\r\n")
        self.assertEqual(sipmsg.response(200, "OK", [("Content-Length", "5")], b"ab"),
                         b"SIP/2.0 200 OK\r\nContent-Length: 5\r\n\r\nab")
        self.assertEqual(
            sipmsg.insert_header(b"SIP/2.0 200 OK\r\nA: 1\r\n  2\r\nContent-Length: 0\r\n\r\n",
                                 "B", "x"),
            b"SIP/2.0 200 OK\r\nA: 1\r\n  2\r\nB: x\r\nContent-Length: 0\r\n\r\n")

    def test_auth_header_roundtrip(self):
        v = sipmsg.auth_header("TLS-DSK", [("qop", "auth"), ("version", "4"),
                                           ("gssapi-data", ""), ("x", 'a"b', True)])
        self.assertEqual(v, 'TLS-DSK qop="auth", version=4, gssapi-data="", x="a\\"b"')
        self.assertEqual(sipmsg.parse_auth(v), ("TLS-DSK", [
            ("qop", "auth", True), ("version", "4", False), ("gssapi-data", "", True),
            ("x", 'a"b', True)]))

    def test_sign_and_sasigner(self):
        seen = []

        def signer(buf):
            seen.append(buf)
            return b"\x01\xab"

        sa = sipmsg.SaSigner("NTLM", "SIP Communications Service", "srv.test", opaque="2BDBAC9D",
                             version=4, client_signer=signer,
                             server_signer=lambda b: "SERVERSIG")
        req = sipmsg.request("REGISTER", "sip:x", [
            ("From", "<sip:a@x>;tag=1"), ("To", "<sip:a@x>"), ("Call-ID", "c"),
            ("CSeq", "2 REGISTER"), ("Proxy-Authorization", sa.client_header(crand="11223344")),
            ("Authentication-Info", sa.server_header(srand="AABBCCDD"))], b"body")
        signed = sa.sign(req)
        self.assertNotIn(sipmsg.SIG.encode(), signed)
        self.assertIn(b'crand="11223344", cnum="1", response="01ab"', signed)
        self.assertIn(b'snum="1", rspauth="SERVERSIG"', signed)
        self.assertTrue(signed.endswith(b"Content-Length: 4\r\n\r\nbody"))
        self.assertEqual(seen, [b"<NTLM><11223344><1><SIP Communications Service><srv.test><c>"
                                b"<2><REGISTER><sip:a@x><1><sip:a@x><><><><>"])
        self.assertEqual(sipmsg.signature_buffer(signed, 4), seen[0])
        self.assertIn('cnum="2"', sa.client_header())


# ---------------------------------------------------------------------------------------------

class StockDissection(unittest.TestCase):
    """Generators checked by the stock dissectors (no plugin needed)."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="mssipae-gen-")     # 0700: harness must stage
        cls.t = harness.Tshark()

    @classmethod
    def tearDownClass(cls):
        cls.t.cleanup()
        shutil.rmtree(cls.work, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.work, name)

    def test_runs_unprivileged_when_root(self):
        self.t.run(["-v"])
        if os.geteuid() == 0:
            self.assertEqual(self.t.last_args[0], "setpriv")
            self.assertNotIn("Running as user", self.t.last_stderr)
        self.assertIn(self.t.plugin_dir, self.t.run(["-G", "folders"]))

    def test_udp_ipv4_ipv6_checksums(self):
        cap = Capture()
        n1 = cap.udp(CLIENT[0], 5060, SERVER[0], 5060, _req("OPTIONS", 1))
        n2 = cap.udp("2001:db8::10", 5060, "2001:db8::20", 5060, _resp(200, "OK", "OPTIONS", 1))
        pcap = cap.save(self.path("udp.pcap"))
        rows = self.t.fields(pcap, ["frame.number", "sip.CSeq.method", "sip.Status-Code",
                                    "ip.checksum.status", "udp.checksum.status", "ipv6.src",
                                    "_ws.expert"],
                             prefs={"ip.check_checksum": True, "udp.check_checksum": True})
        self.assertEqual(rows, [[str(n1), "OPTIONS", "", "1", "1", "", ""],
                                [str(n2), "OPTIONS", "200", "", "1", "2001:db8::10", ""]])

    def _tcp_capture(self):
        cap = Capture()
        a = TcpConn(cap, CLIENT, SERVER)
        b = TcpConn(cap, CLIENT2, SERVER)
        two = a.send(C2S, _req("REGISTER", 1) + _req("OPTIONS", 2))        # two in one segment
        reg = _req("REGISTER", 5, call_id="call-2@10.0.0.11", body=b"x" * 40)
        split = b.send_segments(C2S, [reg[:70], reg[70:]])                 # one over two segments
        resp = a.send(S2C, _resp(200, "OK", "REGISTER", 1))
        big = b.send(S2C, _resp(200, "OK", "REGISTER", 5, call_id="call-2@10.0.0.11")
                     .replace(b"Via:", b"X-Pad: " + b"p" * 3000 + b"\r\nVia:"))  # 3 MSS segments
        a.close()
        b.close()
        return cap, two, split, resp, big

    def test_tcp_pdus(self):
        cap, two, split, resp, big = self._tcp_capture()
        pcap = cap.save(self.path("tcp.pcap"))
        self.assertEqual(len(two), 1)
        self.assertEqual(len(split), 2)
        self.assertEqual(len(big), 3)
        rows = self.t.assert_same_both_passes(
            pcap, ["frame.number", "tcp.stream", "sip.CSeq.method", "sip.CSeq.seq",
                   "tcp.checksum.status"],
            display_filter="sip", prefs={"tcp.check_checksum": True})
        self.assertEqual(rows, [
            [str(two[0]), "0", "REGISTER,OPTIONS", "1,2", "1"],
            [str(split[1]), "1", "REGISTER", "5", "1"],
            [str(resp[0]), "0", "REGISTER", "1", "1"],
            [str(big[2]), "1", "REGISTER", "5", "1"],
        ])
        # no TCP analysis complaints (bad seq/ack bookkeeping would show up here)
        self.assertEqual(self.t.fields(pcap, ["frame.number"],
                                       display_filter="tcp.analysis.flags"), [])
        # split=True: occurrences as lists
        rows = self.t.fields(pcap, ["sip.CSeq.method", "sip.Call-ID"], split=True,
                             display_filter="frame.number == %d" % two[0])
        self.assertEqual(rows, [[["REGISTER", "OPTIONS"],
                                 ["call-1@10.0.0.10", "call-1@10.0.0.10"]]])

    def _tls_capture(self, keylog):
        cap = Capture()
        t = TlsTcpConn(cap, CLIENT, SERVER_TLS, keylog_path=keylog)
        f1 = t.send(C2S, _req("REGISTER", 1))
        f2 = t.send(S2C, _resp(401, "Unauthorized", "REGISTER", 1)
                    + _resp(200, "OK", "REGISTER", 2))                    # two in one record
        reg = _req("REGISTER", 3)
        f3 = t.send_records(C2S, [reg[:60], reg[60:]], one_segment=False)  # one over two records
        f4 = t.send(S2C, _resp(200, "OK", "REGISTER", 3), split_at=[7])   # record over 2 segments
        t.close()
        return cap, f1, f2, f3, f4

    def test_tls_keylog(self):
        keylog = self.path("tls.keys")
        cap, f1, f2, f3, f4 = self._tls_capture(keylog)
        pcap = cap.save(self.path("tls.pcap"))
        with open(keylog) as f:
            self.assertIn("CLIENT_RANDOM ", f.read())
        fields = ["frame.number", "tls.record.version", "sip.CSeq.method", "sip.CSeq.seq",
                  "sip.Status-Code"]
        want = [
            [str(f1[0]), "0x0303", "REGISTER", "1", ""],
            [str(f2[0]), "0x0303", "REGISTER,REGISTER", "1,2", "401,200"],
            [str(f3[1]), "0x0303", "REGISTER", "3", ""],
            [str(f4[1]), "0x0303", "REGISTER", "3", "200"],
        ]
        self.assertEqual(len(f3), 2)
        self.assertEqual(len(f4), 2)
        rows = self.t.assert_same_both_passes(pcap, fields, display_filter="sip",
                                              prefs={"tls.keylog_file": keylog})
        self.assertEqual(rows, want)
        # without the key log nothing is visible: the SIP really is encrypted
        self.assertEqual(self.t.fields(pcap, ["frame.number"], display_filter="sip"), [])
        # the same key log embedded in a pcapng (Decryption Secrets Block)
        with open(keylog) as f:
            cap.add_secrets(f.read())
        ng = cap.save(self.path("tls.pcapng"))
        self.assertEqual(self.t.fields(ng, fields, display_filter="sip"), want)

    def test_tls13_and_several_clients(self):
        keylog = self.path("tls13.keys")
        cap = Capture()
        a = TlsTcpConn(cap, CLIENT, SERVER_TLS, keylog_path=keylog, tls_version="1.3")
        b = TlsTcpConn(cap, CLIENT2, SERVER_TLS, keylog_path=keylog)
        na = a.send(C2S, _req("SUBSCRIBE", 1))
        nb = b.send(C2S, _req("MESSAGE", 1, call_id="call-9@10.0.0.11"))
        na2 = a.send(S2C, _resp(202, "Accepted", "SUBSCRIBE", 1))
        a.close()
        b.close()
        pcap = cap.save(self.path("tls13.pcap"))
        rows = self.t.fields(pcap, ["frame.number", "tcp.stream", "sip.CSeq.method"],
                             display_filter="sip", prefs={"tls.keylog_file": keylog})
        self.assertEqual(rows, [[str(na[0]), "0", "SUBSCRIBE"], [str(nb[0]), "1", "MESSAGE"],
                                [str(na2[0]), "0", "SUBSCRIBE"]])


# ---------------------------------------------------------------------------------------------

_DUMMY_PLUGIN_C = r"""
#define WS_BUILD_DLL
#include <wireshark.h>
#include <epan/packet.h>
#include <epan/proto.h>
WS_DLL_PUBLIC_DEF const gchar plugin_version[] = "0.0.1";
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;
WS_DLL_PUBLIC void plugin_register(void);
static int proto_x = -1;
static void reg(void) { proto_x = proto_register_protocol("Harness self-test", "HARNESSTEST",
                                                          "harnesstest"); }
void plugin_register(void) { static proto_plugin p; p.register_protoinfo = reg;
                             p.register_handoff = NULL; proto_register_plugin(&p); }
"""


class HarnessPlugin(unittest.TestCase):
    """The harness loads a C plugin from its private folder (as root via setpriv)."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="mssipae-plug-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def _build(self, name, extra):
        cc = shutil.which("cc") or shutil.which("gcc")
        pc = shutil.which("pkg-config")
        if not cc or not pc:
            self.skipTest("no C compiler / pkg-config")
        flags = subprocess.run([pc, "--cflags", "--libs", "wireshark"], capture_output=True,
                               text=True)
        if flags.returncode != 0:
            self.skipTest("libwireshark-dev not installed")
        src = os.path.join(self.work, "harnesstest.c")
        with open(src, "w") as f:
            f.write(_DUMMY_PLUGIN_C)
        out = os.path.join(self.work, name)
        subprocess.run([cc, "-shared", "-fPIC", "-fvisibility=hidden"] + extra
                       + ["-o", out, src] + flags.stdout.split(), check=True)
        return out

    def _check(self, so):
        with harness.Tshark(plugin=so) as t:
            self.assertTrue(t.plugin_listed(), t.last_stderr)
            t.require_plugin()
            self.assertIn("harnesstest", t.run(["-G", "protocols"]))
            if os.geteuid() == 0:
                self.assertEqual(t.last_args[0], "setpriv")
            return t

    def test_dummy_plugin_loads(self):
        t = self._check(self._build("harnesstest.so", []))
        self.assertIsNone(t.asan)

    def test_dummy_asan_plugin_loads(self):
        t = self._check(self._build("harnesstest_asan.so", ["-fsanitize=address,undefined"]))
        self.assertIsNotNone(t.asan)

    def test_missing_plugin_skips(self):
        with harness.Tshark(build_dir=self.work) as t:       # no mssipae.so there
            self.assertFalse(t.plugin_built)
            with self.assertRaises(unittest.SkipTest):
                t.require_plugin()
            self.assertFalse(t.plugin_listed())

    def test_real_plugin_listed(self):
        with harness.Tshark() as t:
            t.require_plugin()          # skips with a clear message if not built
            self.assertTrue(t.plugin_listed())


if __name__ == "__main__":
    unittest.main()
