"""Foundation: every MS-SIPAE header of every SIP message is found, SAs are tracked over the whole
capture, and every signature buffer is rebuilt byte for byte -- through tshark with the plugin.

Captures are generated here (pcapgen/tlsgen/sipmsg/flowlib); expected buffers come from sipmsg's
independent Python implementation and from tests/vectors. No keys are given, so a signature on a
known SA is "no key" (3), without an SA "no SA" (4), unparseable "malformed" (6). Every case runs
one-pass and with -2 and the outputs must be identical.
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MSSIPAE_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(SRC, "tests", "gen"))
sys.path.insert(0, HERE)

import sipmsg  # noqa: E402
from sipmsg import request, response, auth_header, SIG  # noqa: E402
from flowlib import Flow, FIELDS, dummy_ntlm, dummy_krb, dummy_tlsdsk  # noqa: E402
import itbase  # noqa: E402

VEC = os.path.join(SRC, "tests", "vectors")
REALM = "SIP Communications Service"
NTLM_TARGET = "server.contoso.test"
KRB_TARGET = "sip/server.contoso.test"
S = ("10.0.0.10", 5060)
C1 = ("10.0.0.1", 50001)
C2 = ("10.0.0.2", 50002)
NO_KEY, NO_SA, UNSUPPORTED, MALFORMED = "3", "4", "5", "6"


def vec(rel):
    with open(os.path.join(VEC, rel), "rb") as f:
        return f.read()


CHALLENGE_B64 = vec("ntlm-oc2007r2-v4/challenge.b64").decode().strip()
AUTHENTICATE_B64 = vec("ntlm-oc2007r2-v4/authenticate.b64").decode().strip()
AP_REQ_B64 = __import__("base64").b64encode(
    bytes.fromhex(vec("kerberos-mit-lab/aes256-oneleg/ap-req.hex").decode().strip())).decode()


class Dialog:
    """Headers of one client's requests and the server's answers (From/To/Call-ID/CSeq)."""

    def __init__(self, user, client, callid, tag, compact=False, upper=False):
        self.user, self.client, self.callid, self.tag = user, client, callid, tag
        self.cseq = 0
        self.compact, self.upper = compact, upper

    def _names(self):
        if self.compact:
            return "f", "t", "i", "CSeq"
        if self.upper:
            return "FROM", "TO", "CALL-ID", "CSEQ"
        return "From", "To", "Call-ID", "CSeq"

    def req(self, method, auths=(), extra=(), to_tag=None, fold=False):
        self.cseq += 1
        f, t, i, c = self._names()
        frm = '"%s" <sip:%s@contoso.test>;tag=%s;epid=0123456789' % (self.user, self.user, self.tag)
        if fold:
            frm = '"%s" <sip:%s@contoso.test>\r\n  ;tag=%s;epid=0123456789' % (self.user, self.user, self.tag)
        hdrs = [("Via", "SIP/2.0/TCP %s:%d;branch=z9hG4bK%d" % (self.client[0], self.client[1], self.cseq)),
                (f, frm),
                (t, "<sip:%s@contoso.test>%s" % (self.user, ";tag=" + to_tag if to_tag else "")),
                (i, self.callid), (c, "%d %s" % (self.cseq, method))]
        hdrs += list(auths) + list(extra)
        return request(method, "sip:contoso.test", hdrs)

    def resp(self, code, reason, method, auths=(), extra=(), to_tag="srvtag1"):
        f, t, i, c = self._names()
        hdrs = [("Via", "SIP/2.0/TCP %s:%d;branch=z9hG4bK%d" % (self.client[0], self.client[1], self.cseq)),
                (f, '"%s" <sip:%s@contoso.test>;tag=%s;epid=0123456789' % (self.user, self.user, self.tag)),
                (t, "<sip:%s@contoso.test>;tag=%s" % (self.user, to_tag)),
                (i, self.callid), (c, "%d %s" % (self.cseq, method))]
        hdrs += list(auths) + list(extra)
        return response(code, reason, hdrs)

    def server_req(self, method, auths=(), extra=()):
        """A request the server relays to the client (its own CSeq space)."""
        f, t, i, c = self._names()
        hdrs = [("Via", "SIP/2.0/TCP %s:%d;branch=z9hG4bKsrv" % S),
                (f, "<sip:bob@contoso.test>;tag=bobtag"),
                (t, "<sip:%s@contoso.test>" % self.user),
                (i, self.callid + "-in"), (c, "7 %s" % method)]
        hdrs += list(auths) + list(extra)
        return request(method, "sip:%s@%s:%d;transport=tcp" % (self.user, self.client[0], self.client[1]), hdrs)

    def client_resp_to(self, server_req_msg, auths=()):
        m = sipmsg.parse(server_req_msg)
        f, t, i, c = self._names()
        hdrs = [("Via", m.get("Via")), (f, m.get("From")), (t, m.get("To") + ";tag=" + self.tag + "x"),
                (i, m.get("Call-ID")), (c, m.get("CSeq"))] + list(auths)
        return response(200, "OK", hdrs)


def ntlm_offer(version):
    p = [("realm", REALM), ("targetname", NTLM_TARGET)]
    if version is not None:
        p.append(("version", str(version)))
    return auth_header("NTLM", p)


def ntlm_first(version):
    p = [("qop", "auth"), ("realm", REALM), ("targetname", NTLM_TARGET), ("gssapi-data", "")]
    if version is not None:
        p.append(("version", str(version)))
    return auth_header("NTLM", p)


def ntlm_challenge(opaque, version, target=NTLM_TARGET):
    p = [("opaque", opaque), ("gssapi-data", CHALLENGE_B64), ("targetname", target), ("realm", REALM)]
    if version is not None:
        p.append(("version", str(version)))
    return auth_header("NTLM", p)


class FoundationCase(itbase.PluginTestCase):
    TMP_PREFIX = "mssipae-found-"

    def check(self, flow, pcap, prefs=None, frames=None):
        """Runs tshark one-pass and -2, asserts identical output and the flow's expectations."""
        rows = self.t.assert_same_both_passes(pcap, FIELDS, prefs=prefs, split=True)
        got = {}
        for r in rows:
            frame = r[0][0]
            if r[1]:
                got[int(frame)] = {"header": r[1], "sa": r[2], "status": r[3], "sigbuf": r[4]}
        exp = flow.expected_rows()
        for frame, e in sorted(exp.items()):
            self.assertIn(frame, got, "frame %d: no mssipae header found" % frame)
            for k in ("header", "sa", "status", "sigbuf"):
                self.assertEqual(got[frame][k], e[k], "frame %d field %s" % (frame, k))
        extra = set(got) - set(exp)
        self.assertFalse(extra, "unexpected mssipae output in frames %s" % sorted(extra))
        return got

    def ntlm_flow(self, flow, link, dlg, sa, opaque, version, sign_handshake=None):
        """Three-leg NTLM (reference §5.1) then signed traffic both ways; records expectations."""
        if sign_handshake is None:
            sign_handshake = version is not None and version >= 4
        m = dlg.req("REGISTER")
        link.c2s(m)
        m = dlg.resp(401, "Unauthorized", "REGISTER",
                     [("WWW-Authenticate", ntlm_offer(version)),
                      ("WWW-Authenticate", auth_header("Kerberos", [("realm", REALM), ("targetname", KRB_TARGET)]
                                                       + ([("version", str(version))] if version else [])))])
        fr = link.s2c(m)
        flow.expect(fr, "WWW-Authenticate", None, None)
        flow.expect(fr, "WWW-Authenticate", None, None)
        fr = link.c2s(dlg.req("REGISTER", [("Authorization", ntlm_first(version))]))
        sa_frame = fr
        flow.expect(fr, "Authorization", sa, None)
        fr = link.s2c(dlg.resp(401, "Unauthorized", "REGISTER", [("WWW-Authenticate", ntlm_challenge(opaque, version))]))
        flow.expect(fr, "WWW-Authenticate", sa, None)
        signer = sipmsg.SaSigner("NTLM", REALM, NTLM_TARGET, opaque=opaque, version=version or 2,
                                 client_signer=dummy_ntlm, server_signer=dummy_ntlm)
        v = version or 2
        if sign_handshake:
            h = signer.client_header(extra=[("gssapi-data", AUTHENTICATE_B64)], version_param=version is not None)
            m = signer.sign(dlg.req("REGISTER", [("Authorization", h)]))
            fr = link.c2s(m)
            flow.expect(fr, "Authorization", sa, NO_KEY, sipmsg.signature_buffer(m, v))
        else:
            p = [("qop", "auth"), ("realm", REALM), ("opaque", opaque), ("targetname", NTLM_TARGET),
                 ("gssapi-data", AUTHENTICATE_B64)] + ([("version", str(version))] if version else [])
            fr = link.c2s(dlg.req("REGISTER", [("Authorization", auth_header("NTLM", p))]))
            flow.expect(fr, "Authorization", sa, None)
        # OCS-style *-Info without version: the version must come from the SA
        m = signer.sign(dlg.resp(200, "OK", "REGISTER", [("Authentication-Info", signer.server_header(version_param=False))],
                                 extra=[("Expires", "7200")]))
        fr = link.s2c(m)
        flow.expect(fr, "Authentication-Info", sa, NO_KEY, sipmsg.signature_buffer(m, v))
        return signer, sa_frame


class TestTransports(FoundationCase):
    def run_basic(self, transport):
        keylog = self.path("%s.keys" % transport) if transport == "tls" else None
        flow = Flow(transport, keylog_path=keylog)
        server = (S[0], 5061) if transport == "tls" else S
        link = flow.link(C1, server)
        dlg = Dialog("alice", C1, "call-%s-1" % transport, "atag1")
        signer, _ = self.ntlm_flow(flow, link, dlg, 1, "2BDBAC9D", 4)
        # server-relayed MESSAGE (signed, PAI sip + tel) and the client's signed 200 OK to it
        msg = signer.sign(dlg.server_req("MESSAGE", [("Authentication-Info", signer.server_header())],
                                         extra=[("P-Asserted-Identity", '"Bob, B." <sip:bob@contoso.test>, <tel:+15551234;ext=9>')]))
        fr = link.s2c(msg)
        flow.expect(fr, "Authentication-Info", 1, NO_KEY, sipmsg.signature_buffer(msg, 4))
        ok = signer.sign(dlg.client_resp_to(msg, [("Authorization", signer.client_header())]))
        fr = link.c2s(ok)
        flow.expect(fr, "Authorization", 1, NO_KEY, sipmsg.signature_buffer(ok, 4))
        pcap = flow.save(self.path("basic-%s.pcap" % transport))
        prefs = {"tls.keylog_file": keylog} if keylog else None
        got = self.check(flow, pcap, prefs=prefs)
        self.assertIn("<sip:bob@contoso.test><tel:+15551234;ext=9>", got[sorted(got)[-2]]["sigbuf"][0])
        return pcap, prefs

    def test_udp(self):
        self.run_basic("udp")

    def test_tcp(self):
        self.run_basic("tcp")

    def test_tls_decrypted_with_keylog(self):
        pcap, prefs = self.run_basic("tls")
        # without the key log nothing of SIP is visible, so nothing of ours either
        rows = self.t.fields(pcap, ["mssipae.header"])
        self.assertEqual([r for r in rows if r[0]], [])

    def test_tcp_two_messages_in_one_segment_and_one_split(self):
        flow = Flow("tcp")
        link = flow.link(C1, S)
        dlg = Dialog("alice", C1, "call-seg", "atag2")
        signer, _ = self.ntlm_flow(flow, link, dlg, 1, "0A0B0C0D", 4)
        m1 = signer.sign(dlg.server_req("MESSAGE", [("Authentication-Info", signer.server_header())]))
        m2 = signer.sign(dlg.server_req("INFO", [("Authentication-Info", signer.server_header())]))
        fr = link.s2c_many([m1, m2])
        flow.expect(fr, "Authentication-Info", 1, NO_KEY, sipmsg.signature_buffer(m1, 4))
        flow.expect(fr, "Authentication-Info", 1, NO_KEY, sipmsg.signature_buffer(m2, 4))
        big = signer.sign(dlg.req("MESSAGE", [("Authorization", signer.client_header())],
                                  extra=[("Content-Type", "text/plain")]))
        fr = link.c2s_split(big, len(big) // 2)
        flow.expect(fr, "Authorization", 1, NO_KEY, sipmsg.signature_buffer(big, 4))
        pcap = flow.save(self.path("segments.pcap"))
        self.check(flow, pcap)

    def test_single_frame_detail(self):
        """tshark -V on one selected frame (second pass) shows the stored result."""
        flow = Flow("udp")
        link = flow.link(C1, S)
        dlg = Dialog("alice", C1, "call-v", "atagv")
        self.ntlm_flow(flow, link, dlg, 1, "12345678", 4)
        pcap = flow.save(self.path("detail.pcap"))
        last = max(flow.expected_rows())
        out = self.t.run(["-r", pcap, "-2", "-V", "-Y", "frame.number == %d" % last])
        self.assertIn("MS-SIPAE Signature Verification", out)
        self.assertIn("Signature status: no key (3)", out)
        self.assertIn("Signature buffer: <NTLM>", out)
        self.assertIn("Security association: 1", out)


    def test_gssapi_data_shown_by_wireshark_dissectors(self):
        """Decoded gssapi-data goes to Wireshark's ntlmssp and gssapi (Kerberos) dissectors."""
        flow = Flow("udp")
        link = flow.link(C1, S)
        dlg = Dialog("alice", C1, "call-gss", "g1")
        self.ntlm_flow(flow, link, dlg, 1, "12345678", 4)
        fr_krb = link.c2s(dlg.req("REGISTER", [("Authorization", auth_header("Kerberos", [
            ("realm", REALM), ("targetname", KRB_TARGET), ("gssapi-data", AP_REQ_B64)]))]))
        fr_bad = link.c2s(dlg.req("REGISTER", [("Authorization", auth_header("Kerberos", [
            ("realm", REALM), ("targetname", "sip/x"), ("gssapi-data", "YIIBAAYJKoZIhvcSAQICAQBuggE=")]))]))
        pcap = flow.save(self.path("gss.pcap"))
        rows = self.t.assert_same_both_passes(pcap, ["frame.number", "ntlmssp.auth.username",
                                                     "ntlmssp.ntlmserverchallenge", "kerberos.msg_type"])
        by = {int(r[0]): r for r in rows}
        self.assertIn("dd1baaf4e7e218d1", [r[2] for r in rows])
        self.assertIn("User", [r[1] for r in rows])
        self.assertEqual(by[fr_krb][3], "14")  # AP-REQ
        self.assertIn(fr_bad, by)  # a truncated token is shown as malformed, tshark keeps going


class TestSecurityAssociations(FoundationCase):
    def test_registrar_and_proxy_two_clients_renegotiation(self):
        """Proxy SA (Kerberos, 407/Proxy-*) and registrar SA (NTLM, 401/WWW-/Authorization) at once,
        a second client, a renegotiated SA, all six header names."""
        flow = Flow("tcp")
        l1 = flow.link(C1, S)
        d1 = Dialog("alice", C1, "call-multi-1", "a1")
        # proxy: 407 offers Kerberos, client answers with a signed AP-REQ (v4, no opaque)
        fr = l1.s2c(d1.resp(407, "Proxy Authentication Required", "REGISTER",
                            [("Proxy-Authenticate", auth_header("Kerberos", [("realm", REALM), ("targetname", "sip/proxy.contoso.test"), ("version", "4")]))]))
        flow.expect(fr, "Proxy-Authenticate", None, None)
        proxy = sipmsg.SaSigner("Kerberos", REALM, "sip/proxy.contoso.test", opaque=None, version=4,
                                client_signer=dummy_krb, server_signer=dummy_krb)
        m = proxy.sign(d1.req("REGISTER", [("Proxy-Authorization", proxy.client_header(extra=[("gssapi-data", AP_REQ_B64)]))]))
        fr = l1.c2s(m)
        flow.expect(fr, "Proxy-Authorization", 1, NO_KEY, sipmsg.signature_buffer(m, 4))
        # the proxy's signed 407 names the opaque (binds it to SA 1) and the registrar challenges via the proxy
        proxy.opaque = "FACE0001"
        m = proxy.sign(d1.resp(401, "Unauthorized", "REGISTER",
                               [("Proxy-Authentication-Info", proxy.server_header()),
                                ("WWW-Authenticate", ntlm_offer(4))]))
        fr = l1.s2c(m)
        flow.expect(fr, "Proxy-Authentication-Info", 1, NO_KEY, sipmsg.signature_buffer(m, 4, header="Proxy-Authentication-Info"))
        flow.expect(fr, "WWW-Authenticate", None, None)
        m = proxy.sign(d1.req("REGISTER", [("Proxy-Authorization", proxy.client_header()), ("Authorization", ntlm_first(4))]))
        fr = l1.c2s(m)
        flow.expect(fr, "Proxy-Authorization", 1, NO_KEY, sipmsg.signature_buffer(m, 4, header="Proxy-Authorization"))
        flow.expect(fr, "Authorization", 2, None)
        m = proxy.sign(d1.resp(401, "Unauthorized", "REGISTER",
                               [("Proxy-Authentication-Info", proxy.server_header()),
                                ("WWW-Authenticate", ntlm_challenge("REC00001", 4))]))
        fr = l1.s2c(m)
        flow.expect(fr, "Proxy-Authentication-Info", 1, NO_KEY, sipmsg.signature_buffer(m, 4, header="Proxy-Authentication-Info"))
        flow.expect(fr, "WWW-Authenticate", 2, None)
        reg = sipmsg.SaSigner("NTLM", REALM, NTLM_TARGET, opaque="REC00001", version=4,
                              client_signer=dummy_ntlm, server_signer=dummy_ntlm)
        m = d1.req("REGISTER", [("Proxy-Authorization", proxy.client_header()),
                                ("Authorization", reg.client_header(extra=[("gssapi-data", AUTHENTICATE_B64)]))])
        m = sipmsg.sign(m, [dummy_krb, dummy_ntlm], version=4)
        fr = l1.c2s(m)
        flow.expect(fr, "Proxy-Authorization", 1, NO_KEY, sipmsg.signature_buffer(m, 4, header=0))
        flow.expect(fr, "Authorization", 2, NO_KEY, sipmsg.signature_buffer(m, 4, header=1))
        m = d1.resp(200, "OK", "REGISTER", [("Proxy-Authentication-Info", proxy.server_header()),
                                            ("Authentication-Info", reg.server_header())], extra=[("Expires", "3600")])
        m = sipmsg.sign(m, [dummy_krb, dummy_ntlm], version=4)
        fr = l1.s2c(m)
        flow.expect(fr, "Proxy-Authentication-Info", 1, NO_KEY, sipmsg.signature_buffer(m, 4, header=0))
        flow.expect(fr, "Authentication-Info", 2, NO_KEY, sipmsg.signature_buffer(m, 4, header=1))

        # a second client on its own connection: SA 3
        l2 = flow.link(C2, S)
        d2 = Dialog("bob", C2, "call-multi-2", "b1")
        s3, _ = self.ntlm_flow(flow, l2, d2, 3, "B0B00001", 4)

        # client 1 renegotiates with the registrar on a new connection: SA 4, new opaque
        C1b = (C1[0], 50011)
        l1b = flow.link(C1b, S)
        d1b = Dialog("alice", C1b, "call-multi-1b", "a2")
        s4, sa4_frame = self.ntlm_flow(flow, l1b, d1b, 4, "REC00002", 4)
        # a late message on the old connection still uses SA 2; the new SA is found by its opaque
        m = reg.sign(d1.req("MESSAGE", [("Authorization", reg.client_header())]))
        fr = l1.c2s(m)
        flow.expect(fr, "Authorization", 2, NO_KEY, sipmsg.signature_buffer(m, 4))
        m = s4.sign(d1b.req("MESSAGE", [("Authorization", s4.client_header())]))
        fr = l1b.c2s(m)
        flow.expect(fr, "Authorization", 4, NO_KEY, sipmsg.signature_buffer(m, 4))
        # the SA outlives its TCP connection: a new connection from client 2 with SA 3's opaque
        l2b = flow.link((C2[0], 50022), S)
        m = s3.sign(d2.req("MESSAGE", [("Authorization", s3.client_header())]))
        fr = l2b.c2s(m)
        flow.expect(fr, "Authorization", 3, NO_KEY, sipmsg.signature_buffer(m, 4))
        pcap = flow.save(self.path("multi.pcap"))
        self.check(flow, pcap)
        # mssipae.sa.frame links back to the handshake
        # (the frame where SA 4's handshake started, as the flow generator recorded it -- not a
        # frame number read back from the same output)
        rows = self.t.fields(pcap, ["frame.number", "mssipae.sa", "mssipae.sa.frame"], display_filter="mssipae.sa == 4", split=True)
        self.assertGreater(len(rows), 2)
        self.assertEqual({f for r in rows for f in r[2]}, {str(sa4_frame)})

    def test_versions_compact_folded(self):
        """v2 (no version anywhere), v3 (handshake request unsigned) and v4 SAs; compact and
        upper-case header names; a folded From header."""
        flow = Flow("udp")
        specs = [(None, "V2000001", dict(compact=True)), (3, "V3000001", dict(upper=True)),
                 (4, "V4000001", dict())]
        for n, (version, opaque, kw) in enumerate(specs, start=1):
            client = ("10.0.1.%d" % n, 5060)
            link = flow.link(client, S)
            dlg = Dialog("user%d" % n, client, "call-ver-%d" % n, "t%d" % n, **kw)
            signer, _ = self.ntlm_flow(flow, link, dlg, n, opaque, version)
            v = version or 2
            m = signer.sign(dlg.req("MESSAGE", [("Authorization", signer.client_header())], fold=True,
                                    extra=[("P-Preferred-Identity", "<sip:user%d@contoso.test>" % n)]))
            fr = link.c2s(m)
            buf = sipmsg.signature_buffer(m, v)
            flow.expect(fr, "Authorization", n, NO_KEY, buf)
            if v >= 3:
                self.assertIn(b"<sip:user%d@contoso.test><>" % n, buf)  # PPI -> PAI sip item
            else:
                self.assertNotIn(b"<sip:user%d@contoso.test><>" % n, buf)
        pcap = flow.save(self.path("versions.pcap"))
        got = self.check(flow, pcap)
        # the v2 buffers have 13 items (12 + status in responses), v3/v4 16
        counts = {row["sigbuf"][0].count("<") for row in got.values() if row["sigbuf"]}
        self.assertTrue({12, 13} & counts and {15, 16} & counts, counts)

    def test_unsigned_and_sequence_expert_infos(self):
        flow = Flow("udp")
        link = flow.link(C1, S)
        dlg = Dialog("alice", C1, "call-exp", "e1")
        signer, _ = self.ntlm_flow(flow, link, dlg, 1, "E0000001", 4)
        fr_unsigned = link.s2c(dlg.server_req("MESSAGE"))  # no signature on a signing SA
        fr_ringing = link.s2c(dlg.resp(180, "Ringing", "REGISTER"))  # 1xx unsigned: fine
        m = signer.sign(dlg.req("MESSAGE", [("Authorization", signer.client_header(cnum=1))]))
        fr_dup = link.c2s(m)  # cnum 1 again
        flow.expect(fr_dup, "Authorization", 1, NO_KEY, sipmsg.signature_buffer(m, 4))
        pcap = flow.save(self.path("expert.pcap"))
        self.check(flow, pcap)
        for flt, want in (("mssipae.unsigned", [fr_unsigned]), ("mssipae.seq", [fr_dup])):
            rows = self.t.assert_same_both_passes(pcap, ["frame.number"], display_filter=flt)
            self.assertEqual([int(r[0]) for r in rows], want, flt)
        self.assertNotIn(fr_ringing, [fr_unsigned])

    def test_no_sa_and_malformed(self):
        flow = Flow("udp")
        link = flow.link(C1, S)
        dlg = Dialog("alice", C1, "call-bad", "x1")
        cases = [
            ('NTLM qop="auth", realm="R", opaque="DEADBEEF", targetname="t", crand="1", cnum="1", response="01000000000000000000000064000000"', NO_SA),
            ('NTLM qop="auth", realm="R", opaque="DEADBEEF", targetname="t", crand="1", cnum="2", response="0100000000000000000000006400000"', MALFORMED),
            ('NTLM qop="auth", realm="R", opaque="DEADBEEF", targetname="t", crand="1", cnum="3", response="not hex at all!"', MALFORMED),
            ('NTLM qop="auth", realm="R", opaque="DEADBEEF, response="0011"', MALFORMED),
            ('Bogus crand="1", cnum="4", response="0011"', UNSUPPORTED),
        ]
        for value, status in cases:
            m = dlg.req("MESSAGE", [("Authorization", value)])
            fr = link.c2s(m)
            flow.expect(fr, "Authorization", None, status, None)
        # Digest is recognised and left alone; gssapi-data that is not base64 is reported
        fr = link.c2s(dlg.req("REGISTER", [("Authorization", 'Digest username="a", realm="r", nonce="n", uri="sip:x", response="00112233"')]))
        flow.expect(fr, "Authorization", None, None)
        fr = link.c2s(dlg.req("REGISTER", [("Authorization", 'NTLM realm="R", targetname="t", opaque="FEED0001", gssapi-data="@@@"')]))
        flow.expect(fr, "Authorization", 1, None)
        pcap = flow.save(self.path("bad.pcap"))
        rows = self.t.assert_same_both_passes(pcap, ["frame.number", "mssipae.header", "mssipae.sa", "mssipae.sig.status"], split=True)
        got = {int(r[0][0]): r for r in rows if r[1]}
        for frame, e in flow.expected_rows().items():
            self.assertEqual(got[frame][1], e["header"], frame)
            self.assertEqual(got[frame][2], e["sa"], frame)
            self.assertEqual(got[frame][3], e["status"], frame)
        rows = self.t.fields(pcap, ["frame.number"], display_filter="mssipae.malformed")
        self.assertGreaterEqual(len(rows), 3)


class TestConfiguration(FoundationCase):
    def test_unreadable_key_sources_are_reported_once(self):
        flow = Flow("udp")
        link = flow.link(C1, S)
        dlg = Dialog("alice", C1, "call-cfg", "c1")
        self.ntlm_flow(flow, link, dlg, 1, "C0FFEE01", 4)
        pcap = flow.save(self.path("cfg.pcap"))
        bad_keylog = self.keylog("bad.keys", ["NTLM C0FFEE01 not-hex"])
        prefs = {"mssipae.keytab": "/nonexistent/sip.keytab", "mssipae.keylog_file": bad_keylog}
        rows = self.t.assert_same_both_passes(pcap, ["frame.number", "_ws.expert.message"],
                                              display_filter="mssipae.config", prefs=prefs)
        text = " ".join(r[1] for r in rows)
        self.assertIn("/nonexistent/sip.keytab", text)
        self.assertIn("line 2", text)
        # each problem once: the keytab on the first MS-SIPAE message, the key log when first read
        self.assertEqual(text.count("/nonexistent/sip.keytab"), 1, rows)
        self.assertEqual(text.count("line 2"), 1, rows)
        # and the verdicts stay "no key", never "invalid"
        rows = self.t.fields(pcap, ["mssipae.sig.status"], prefs=prefs, split=True)
        self.assertEqual({s for r in rows for s in r[0]}, {NO_KEY})


class TestVectorsThroughTshark(FoundationCase):
    """Every buffer vector, wrapped into a capture, is rebuilt byte for byte by the plugin."""

    def test_every_buffer_vector(self):
        flow = Flow("udp")
        link = flow.link(C1, S)
        expected = {}
        # seed example: its own flow (version 3 from the 401)
        for name in ("01-register", "02-401", "03-register-kerberos", "05-200-ok"):
            data = vec("seed-kerberos-example/%s.sip" % name)
            fr = link.c2s(data) if "register" in name else link.s2c(data)
            if name == "05-200-ok":
                expected[fr] = (vec("seed-kerberos-example/05-200-ok.sigbuf"), "1", MALFORMED)
        # NTLM OC 2007 R2: the (unpublished) second 401 is rebuilt around the real CHALLENGE
        reg = sipmsg.parse(vec("ntlm-oc2007r2-v4/register.sip"))
        chal = response(407, "Proxy Authentication Required",
                        [("From", reg.get("From")), ("To", reg.get("To")), ("Call-ID", reg.get("Call-ID")),
                         ("CSeq", reg.get("CSeq")),
                         ("Proxy-Authenticate", ntlm_challenge("2BDBAC9D", 4, target="cosmo-ocs-r2.cosmo.local"))])
        link.s2c(chal)
        fr = link.c2s(vec("ntlm-oc2007r2-v4/register.sip"))
        expected[fr] = (vec("ntlm-oc2007r2-v4/register.sigbuf"), "2", NO_KEY)
        fr = link.s2c(vec("ntlm-oc2007r2-v4/200-ok.sip"))
        expected[fr] = (vec("ntlm-oc2007r2-v4/200-ok.sigbuf"), "2", NO_KEY)
        # OCS 2007 v2: no version anywhere, no handshake -> v2 buffer, no SA
        fr = link.s2c(vec("ntlm-ocs2007-v2-noess/200-ok.sip"))
        expected[fr] = (vec("ntlm-ocs2007-v2-noess/200-ok.sigbuf"), "", NO_SA)
        # 180 Ringing (no version in the header): a v4 SA context for its opaque
        n_sa = 2
        for name, target, realm in (("180-ringing-uppercase", "LOC-COMPANYT-FE03.COMPANY.COM", REALM),
                                    ("180-ringing-unbracketed", "bar", "foo")):
            c = (C1[0], 51000 + n_sa)
            lk = flow.link(c, S)
            n_sa += 1
            lk.s2c(response(401, "Unauthorized", [("Call-ID", "ctx-%d" % n_sa), ("CSeq", "1 REGISTER"),
                                                  ("WWW-Authenticate", auth_header("NTLM", [("opaque", "357E6F72"), ("gssapi-data", CHALLENGE_B64), ("targetname", target), ("realm", realm), ("version", "4")]))]))
            fr = lk.s2c(vec("buffer-only-180/%s.sip" % name))
            expected[fr] = (vec("buffer-only-180/%s.sigbuf" % name), str(n_sa), NO_KEY)
        # TLS-DSK 200 OK and the real SfB messages: version=4 in the header, no handshake -> no SA
        for rel in ["buffer-only-tlsdsk-200/200-ok-invite"] + [
                "sfb-real-headers/%s" % f[:-4] for f in sorted(os.listdir(os.path.join(VEC, "sfb-real-headers"))) if f.endswith(".sip")]:
            fr = link.s2c(vec(rel + ".sip"))
            expected[fr] = (vec(rel + ".sigbuf"), "", NO_SA)
        pcap = flow.save(self.path("vectors.pcap"))
        rows = self.t.assert_same_both_passes(pcap, ["frame.number", "mssipae.sigbuf", "mssipae.sa", "mssipae.sig.status"], split=True)
        got = {int(r[0][0]): r for r in rows}
        self.assertEqual(len(expected), 14)
        for fr, (buf, sa, status) in expected.items():
            self.assertEqual(got[fr][1], [buf.decode("utf-8")], "frame %d" % fr)
            self.assertEqual(got[fr][2], [sa] if sa else [], "frame %d" % fr)
            self.assertEqual(got[fr][3], [status], "frame %d" % fr)


if __name__ == "__main__":
    unittest.main()
