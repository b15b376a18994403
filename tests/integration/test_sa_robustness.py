"""Security associations that no single damaged or forged message can blind (tshark + plugin).

The message that binds an SA -- the 200 OK that names a Kerberos SA's opaque, the second 401 that
carries an NTLM CHALLENGE or the TLS-DSK server flight and names its opaque -- is damaged IN PLACE in the capture (one byte of
its From tag, To tag, Call-ID, CSeq, realm, targetname, opaque, signature or top Via branch;
tests/gen/sipedit.py), never appended as a copy. Every other message must keep the verdict and
the SA it has in the untouched capture, and the damaged message gets the verdict its change
deserves: "invalid" for a covered item, "valid" for the opaque (not covered; the SA is still
found through the client's echo of the real opaque, with a mssipae.bind note) and the Via branch.

A forged message between valid ones (a copy of a signed request with a jumped or a stolen cnum:
its signature cannot verify) must leave the later messages' verdicts and mssipae.seq notes as in
the capture without it.

Material: a throw-away MIT KDC and MIT GSSAPI (tests/gen/kdc.py, gss.py) for Kerberos, gss-ntlmssp
for NTLM, an in-memory GnuTLS handshake (tests/gen/tlsdskflow.py) for TLS-DSK; flows from tests/gen/krbflow.py and ntlmsip.py over UDP (one datagram per message, so a
message is found whole in the capture). Expected verdicts come from the flows' own records and the
covered-item rules checked by tests/gen/sipmsg.py, never from the plugin. Every tshark case runs
one-pass and with -2, outputs asserted identical.
"""

import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MSSIPAE_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(SRC, "tests", "gen"))
sys.path.insert(0, HERE)

import sipmsg  # noqa: E402
import krbflow  # noqa: E402
import ntlmsip  # noqa: E402
import tlsdskflow as T  # noqa: E402
from krbflow import UA, KrbSession  # noqa: E402
from flowlib import Flow  # noqa: E402
from sipedit import tamper, patch_capture  # noqa: E402
import itbase  # noqa: E402
from kdc import Kdc, ccache_keys  # noqa: E402

VALID, INVALID, NO_KEY = "1", "2", "3"
FIELDS = ["frame.number", "mssipae.sa", "mssipae.sig.status"]

# (what, header, part to change, covered by the signature?) -- of the binding message
KRB_BIND_CASES = [
    ("From tag", "From", "re:tag=([0-9a-f]+)", True),
    ("To tag", "To", "re:tag=([0-9A-F]+)", True),
    ("Call-ID", "Call-ID", None, True),
    ("CSeq", "CSeq", "re:^\\s*(\\d+)", True),
    ("realm", "Authentication-Info", 're:realm="([^"]+)"', True),
    ("targetname", "Authentication-Info", 're:targetname="([^"]+)"', True),
    ("opaque", "Authentication-Info", 're:opaque="([0-9A-F]+)"', False),
    ("signature", "Authentication-Info", 're:rspauth="([0-9A-Fa-f]+)"', True),
    ("Via branch", "Via", "re:branch=(\\w+)", False),
]
NTLM_BIND_CASES = [c for c in KRB_BIND_CASES if c[0] != "signature"]
NTLM_BIND_CASES = [(w, "WWW-Authenticate" if h == "Authentication-Info" else h, sub, cov)
                   for w, h, sub, cov in NTLM_BIND_CASES]
# Kerberos SAs: (enctype, mutual mode); one UDP client each
KRB_SPECS = [(18, None), (23, None), (18, "200")]
NTLM_USER, NTLM_PW = "alice", "Passw0rd!"


def opaque_of(msg, header):
    scheme, params = sipmsg.parse_auth(sipmsg.parse(msg).get(header).strip())
    return {n.lower(): v for n, v, _q in params}["opaque"]


class SaRobustness(itbase.PluginTestCase):
    TMP_PREFIX = "mssipae-sarobust-"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tmp = cls.tmp.name
        kdc = Kdc(os.path.join(tmp, "kdc"))
        cls.addClassCleanup(kdc.stop)
        kdc.start()
        kdc.kinit()
        cls.keytab = kdc.keytab
        cls.krb = cls.make_kerberos(os.path.join(tmp, "krb.pcap"), kdc)
        cls.forged = cls.make_forged(os.path.join(tmp, "krb-forged.pcap"), kdc)
        # the ticket session keys, as MIT stored them in the client's ccache
        cls.session_keys = {et: key for _c, server, et, key in ccache_keys(kdc.ccache)
                            if server.startswith("sip/server.contoso.test@")}
        kdc.stop()
        cls.ntlm = cls.make_ntlm(os.path.join(tmp, "ntlm.pcap"))
        cls.tls = cls.make_tlsdsk(os.path.join(tmp, "tlsdsk.pcap"))

    # ---- material ----

    @classmethod
    def make_kerberos(cls, path, kdc):
        """One UDP client per spec: register, subscribe, a server MESSAGE and the client's 200."""
        from gss import KrbPeer
        flow = Flow("udp")
        sessions = []
        for i, (et, mutual) in enumerate(KRB_SPECS, 1):
            addr = ("10.0.3.%d" % i, 51000 + i)
            ua = UA("kuser%d" % i, addr, flow.link(addr, krbflow.SERVER), transport="UDP")
            with KrbPeer(kdc, enctypes=[et], mutual=bool(mutual)) as peer:
                s = KrbSession(ua, peer, sa=i, opaque="%08X" % (0x7B0000 * i + 0x2C),
                               mutual=mutual)
                s.register()
                s.subscribe()
                s.server_message("bob")
            sessions.append(s)
        flow.save(path)
        recs = sorted((r for s in sessions for r in s.ua.records), key=lambda r: r.frame)
        return {"path": path, "sessions": sessions, "recs": recs}

    @classmethod
    def make_forged(cls, path, kdc):
        """One Kerberos SA with two forged copies of its signed SUBSCRIBE inserted after it: one
        with a cnum 47 ahead, one with the cnum of the client's next genuine message. Also the
        same capture without them (editcap)."""
        from gss import KrbPeer
        flow = Flow("udp")
        addr = ("10.0.4.1", 52001)
        ua = UA("forger-victim", addr, flow.link(addr, krbflow.SERVER), transport="UDP")
        with KrbPeer(kdc, enctypes=[18]) as peer:
            s = KrbSession(ua, peer, sa=1, opaque="5EC0FFEE")
            s.register()
            sub, _ok = s.subscribe()
            cnum = int(dict((n.lower(), v) for n, v, _q in sipmsg.parse_auth(
                sipmsg.parse(sub).get("Authorization").strip())[1])["cnum"])
            jump = sub.replace(b'cnum="%d"' % cnum, b'cnum="%d"' % (cnum + 47))
            steal = sub.replace(b'cnum="%d"' % cnum, b'cnum="%d"' % (cnum + 1))
            forged = [ua.link.c2s(m) for m in (jump, steal)]
            s.server_message("bob")
        flow.save(path)
        clean = os.path.join(os.path.dirname(path), "krb-unforged.pcap")
        subprocess.run(["editcap", path, clean] + [str(f) for f in forged], check=True,
                       stdout=subprocess.DEVNULL)
        return {"path": path, "clean": clean, "forged": forged, "records": ua.records}

    @classmethod
    def make_ntlm(cls, path):
        from gss import NtlmPeer
        flow = Flow("udp")
        client, server = ("10.0.5.1", 53001), ("10.0.0.10", 5060)
        with NtlmPeer("CONTOSO", NTLM_USER, NTLM_PW, lm_compat=3) as peer:
            ex = ntlmsip.LyncNtlmExchange(peer, user=NTLM_USER, client=client, server=server,
                                          transport="UDP", seed=808)
            msgs = ex.messages()
        frames = ntlmsip.write(msgs, flow, client, server)
        flow.save(path)
        return {"path": path, "msgs": msgs, "frames": frames, "opaque": ex.opaque}

    @classmethod
    def make_tlsdsk(cls, path):
        """One TLS-DSK SA (TLS 1.0, RSA key exchange, AES-128-CBC-SHA: the known case) over UDP."""
        import random
        pki = T.Pki(os.path.join(os.path.dirname(path), "pki"))
        flow = Flow("udp")
        addr = ("10.0.6.1", 54001)
        ua = T.TlsUA("tuser", addr, flow.link(addr, krbflow.SERVER), rng=random.Random(6),
                     transport="UDP")
        with T.TlsDskPeer(pki) as peer:  # GnuTLS also signs: keep it until the flow is written
            hs = peer.handshake(T.priority("tls10-aes128-sha"), name="robust")
            ss = T.flow_sessions(ua, [(hs, "standard", False)], 1, random.Random(66))
            reg = T.Registration(ua, ss)
            reg.register()
            reg.traffic()
        flow.save(path)
        return {"path": path, "records": ua.records, "key": pki.server.key,
                "opaque": ss[0].opaque}

    # ---- checking ----

    def rows(self, pcap, prefs):
        """{frame: (sa list, status list)} for frames with an MS-SIPAE status, one-pass == -2."""
        rows = self.t.assert_same_both_passes(pcap, FIELDS, prefs=prefs, split=True)
        return {int(r[0][0]): (r[1], r[2]) for r in rows if r[2]}

    def experts(self, pcap, prefs, filt):
        rows = self.t.assert_same_both_passes(pcap, ["frame.number", "_ws.expert.message"],
                                              prefs=prefs, split=True, display_filter=filt)
        return {int(r[0][0]): r[1] for r in rows}

    def krb_expected(self, damaged=None, damaged_status=None):
        """{frame: (sa list, status list)} from the flows' records: every signature valid, the
        damaged frame's as given."""
        exp = {}
        for r in self.krb["recs"]:
            if not r.signed:
                continue
            sas, sts = exp.setdefault(r.frame, ([], []))
            sas.append(str(r.sa))
            sts.append(damaged_status if r.frame == damaged else VALID)
        return exp

    def test_untouched_all_valid(self):
        """The baseline the damage cases are measured against: every signature valid."""
        got = self.rows(self.krb["path"], {"mssipae.keytab": self.keytab})
        self.assertEqual(got, self.krb_expected())
        self.assertGreaterEqual(len(got), 5 * len(KRB_SPECS))
        got = self.rows(self.ntlm["path"], {"mssipae.nt_password": NTLM_PW})
        self.assertEqual(got, self.ntlm_expected())

    def test_kerberos_binding_message_damaged_in_place(self):
        """For every SA, one byte of the 200 OK that names its opaque changes, in place: that
        message gets the verdict its change deserves; every other message keeps its own."""
        prefs = {"mssipae.keytab": self.keytab}
        for what, hdr, sub, covered in KRB_BIND_CASES:
            with self.subTest(what=what):
                pcap = self.krb["path"]
                damaged = {}
                for s in self.krb["sessions"]:
                    rec = [r for r in s.ua.records if r.role == "200-register"][0]
                    new = tamper(rec.msg, hdr, sub)
                    buf_old = sipmsg.signature_buffer(rec.msg, s.version, header=rec.header)
                    buf_new = sipmsg.signature_buffer(new, s.version, header=rec.header)
                    if what not in ("signature", "opaque"):
                        self.assertEqual(buf_old != buf_new, covered, what)  # sipmsg agrees
                    out = self.path("krb-%s-%d.pcap" % (what.replace(" ", "_"), s.sa))
                    pcap = patch_capture(pcap, out, rec.msg, new)
                    damaged[rec.frame] = (s, rec.msg, new)
                exp = self.krb_expected()
                for frame in damaged:
                    exp[frame] = (exp[frame][0], [INVALID if covered else VALID])
                self.assertEqual(self.rows(pcap, prefs), exp)
                if what == "opaque":
                    # the client's echo of the real opaque finds the SA, and says so
                    notes = self.experts(pcap, prefs, "mssipae.bind")
                    for frame, (s, old, new) in damaged.items():
                        real = opaque_of(old, "Authentication-Info")
                        hits = [f for f, msgs in notes.items() if f > frame and any(
                            real in m and "no server response named" in m for m in msgs)]
                        self.assertTrue(hits, "SA %d: no mssipae.bind note for the echo of %s: %r"
                                        % (s.sa, real, notes))

    def ntlm_expected(self):
        exp = {}
        for fr, m in zip(self.ntlm["frames"], self.ntlm["msgs"]):
            if m.signed:
                exp[fr] = (["1"] * len(m.signed), [VALID] * len(m.signed))
        return exp

    def test_ntlm_binding_message_damaged_in_place(self):
        """One byte of the second 401 (the CHALLENGE naming the opaque) changes, in place:
        every signed message after it keeps its verdict and its SA."""
        prefs = {"mssipae.nt_password": NTLM_PW}
        idx = [i for i, m in enumerate(self.ntlm["msgs"]) if m.label == "401 with CHALLENGE"][0]
        orig = self.ntlm["msgs"][idx].data
        for what, hdr, sub, _covered in NTLM_BIND_CASES:
            with self.subTest(what=what):
                new = tamper(orig, hdr, sub)
                pcap = patch_capture(self.ntlm["path"],
                                     self.path("ntlm-%s.pcap" % what.replace(" ", "_")), orig, new)
                self.assertEqual(self.rows(pcap, prefs), self.ntlm_expected())
                if what == "opaque":
                    notes = self.experts(pcap, prefs, "mssipae.bind")
                    self.assertTrue(any(self.ntlm["opaque"] in m and "no server response named"
                                        in m for msgs in notes.values() for m in msgs), notes)

    def test_kerberos_keylog_session_key(self):
        """A key log holding only each SA's ticket session key (read from MIT's ccache, not from
        the plugin): with the AP-REQ in the capture it reaches the subkeys and every signature is
        valid; with the AP-REQ frames removed nothing tells whether the line holds the session
        key or a subkey, so every signature is "no key" with that reason -- never "invalid"."""
        lines = ["KERBEROS %s %d %s" % (s.opaque, et, self.session_keys[et].hex())
                 for s, (et, _m) in zip(self.krb["sessions"], KRB_SPECS)]
        prefs = {"mssipae.keylog_file": self.keylog("session-keys.log", lines)}
        self.assertEqual(self.rows(self.krb["path"], prefs), self.krb_expected())
        apreq = sorted({r.frame for r in self.krb["recs"] if r.role == "register-apreq"})
        self.assertEqual(len(apreq), len(KRB_SPECS))
        cut = self.path("krb-no-apreq.pcap")
        subprocess.run(["editcap", self.krb["path"], cut] + [str(f) for f in apreq], check=True,
                       stdout=subprocess.DEVNULL)
        rows = self.t.assert_same_both_passes(cut, ["frame.number", "mssipae.sig.status",
                                                    "mssipae.sig.why"], prefs=prefs, split=True)
        got = {int(r[0][0]): (r[1], r[2]) for r in rows if r[1]}
        want = sum(1 for r in self.krb["recs"] if r.signed and r.frame not in apreq)
        self.assertEqual(sum(len(st) for st, _w in got.values()), want)
        for frame, (sts, whys) in got.items():
            self.assertEqual(sts, [NO_KEY] * len(sts), frame)
            for w in whys:
                self.assertIn("not known to be this SA's signing key", w)
                self.assertIn("no AP-REQ", w)

    def test_tlsdsk_binding_message_damaged_in_place(self):
        """One byte of the 401 that carries the server's flight and names the opaque changes, in
        place: every signed message keeps its verdict and its SA."""
        prefs = {"mssipae.tls_dsk_rsa_key": self.tls["key"]}
        recs = self.tls["records"]
        exp = {}
        for r in recs:
            if r.signed:
                sas, sts = exp.setdefault(r.frame, ([], []))
                sas.append(str(r.sa))
                sts.append(VALID)
        self.assertGreaterEqual(len(exp), 6)
        self.assertEqual(self.rows(self.tls["path"], prefs), exp)
        orig = [r for r in recs if r.role == "401-sflight"][0].msg
        for what, hdr, sub, _covered in NTLM_BIND_CASES:
            with self.subTest(what=what):
                new = tamper(orig, hdr, sub)
                pcap = patch_capture(self.tls["path"],
                                     self.path("tls-%s.pcap" % what.replace(" ", "_")), orig, new)
                self.assertEqual(self.rows(pcap, prefs), exp)
                if what == "opaque":
                    notes = self.experts(pcap, prefs, "mssipae.bind")
                    self.assertTrue(any(self.tls["opaque"] in m and "no server response named"
                                        in m for msgs in notes.values() for m in msgs), notes)

    def test_forged_message_changes_nothing_after_it(self):
        """Two forged copies of a signed SUBSCRIBE (cnum jumped by 47; cnum of the next genuine
        message) between valid messages: both invalid, and every other message has the verdict
        and the mssipae.seq notes it has in the capture without them."""
        prefs = {"mssipae.keytab": self.keytab}
        f = self.forged
        got = self.rows(f["path"], prefs)
        clean = self.rows(f["clean"], prefs)
        for fr in f["forged"]:
            self.assertEqual(got.pop(fr), (["1"], [INVALID]), fr)

        def unshift(fr):  # frame number in the capture without the forged frames
            return fr - sum(1 for x in f["forged"] if x < fr)
        self.assertEqual({unshift(fr): v for fr, v in got.items()}, clean)
        self.assertTrue(all(v[1] == [VALID] * len(v[1]) for v in clean.values()), clean)
        seq = {unshift(fr): m for fr, m in self.experts(f["path"], prefs, "mssipae.seq").items()
               if fr not in f["forged"]}
        seq_clean = self.experts(f["clean"], prefs, "mssipae.seq")
        self.assertEqual(seq, seq_clean)


if __name__ == "__main__":
    unittest.main()
