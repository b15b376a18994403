"""Kerberos end to end through tshark: real MIT material, MS-SIPAE flows, every verdict.

setUpClass starts a throw-away MIT KDC on loopback in a temporary directory (tests/gen/kdc.py:
user alice, service sip/server.contoso.test with keys for aes256-cts-hmac-sha1-96,
aes128-cts-hmac-sha1-96, aes128-cts-hmac-sha256-128, aes256-cts-hmac-sha384-192 and arcfour-hmac,
an RC4-only service sip/rc4.contoso.test, and the same service name in a second realm), and drives
MIT GSSAPI (tests/gen/gss.py KrbPeer: initiator with alice's ticket, acceptor with the keytab) to
make real AP-REQ / AP-REP tokens and real MICs in both directions for every enctype. The tokens are
wrapped into Lync/SfB-like SIP flows (tests/gen/krbflow.py): 401 offering NTLM, Kerberos and
TLS-DSK; REGISTER with the AP-REQ (version 4: signed, cnum 1); signed 200 OK naming the opaque;
signed SUBSCRIBE / 200 OK; a signed MESSAGE from the server and the client's signed 200 OK.
Mutual authentication (version 3: MIT cannot sign before the AP-REP) carries the AP-REP either in
the 200 OK's Authentication-Info or in a second 401 with the opaque. The KDC is stopped (by its
PID) as soon as the material exists, and by a class cleanup if anything fails before.

Expectations are stated here, never taken from the plugin: with the service keytab every signature
is valid (1); with the other realm's keytab or none every one is "no key" (3) and the AP-REQ frame
has an expert info naming the principal, kvno and enctype the AP-REQ asked for (read from the
token by an independent DER walk); with only KERBEROS key-log lines (key = the GSS context key
MIT reports) every signature is valid except the one on the AP-REQ request itself: it is seen
before the opaque that names its key-log line exists, so it is "no key" in a one-pass dissection
(see test_keylog_route). One byte changed in a covered value gives "invalid" (2), in an uncovered
part the signature stays valid; the rebuilt buffers must equal tests/gen/sipmsg.py's independent
ones. Every tshark case runs one-pass and with -2 and the outputs must be identical.

Run: cd tests/integration && MSSIPAE_BUILD_DIR=... MSSIPAE_SOURCE_DIR=... python3 -m unittest -v test_kerberos_e2e
"""

import os
import re
import shutil
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MSSIPAE_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(SRC, "tests", "gen"))
sys.path.insert(0, HERE)

import sipmsg  # noqa: E402
import krbflow  # noqa: E402
from krbflow import UA, KrbSession, ticket_facts, merge_keytabs  # noqa: E402
from flowlib import Flow  # noqa: E402
from sipedit import tamper  # noqa: E402
import itbase  # noqa: E402
from kdc import Kdc, missing_binaries, pid_alive, ENCTYPE_NUMBERS  # noqa: E402

VALID, INVALID, NO_KEY, NO_SA = "1", "2", "3", "4"
FIELDS = ["frame.number", "mssipae.header", "mssipae.sa", "mssipae.sig.status", "mssipae.sigbuf"]
RC4_TARGET = "sip/rc4.contoso.test"

# (enctype of the session key and subkeys, mutual mode, service); one SA each, in this order
MAIN_SPECS = [
    (17, None, "main"), (18, None, "main"), (19, None, "main"), (20, None, "main"),
    (23, None, "main"),
    (23, None, "rc4"),        # an RC4 ticket (RC4-only service) as Active Directory issues them
    (17, "401", "main"), (18, "200", "main"), (19, "401", "main"), (20, "200", "main"),
    (23, "200", "main"),
]
TAMPER_SPECS = [(18, None, "main"), (23, None, "main"), (20, "200", "main")]

KRB_MISSING = missing_binaries()


# (role of the message, where, what, covered by the signature?)
TAMPER_CASES = [
    ("200-register", "Authentication-Info", 're:srand="([0-9A-F]+)"', True),
    ("200-register", "Authentication-Info", 're:snum="(\\d+)"', True),
    ("200-register", "Call-ID", None, True),
    ("200-register", "To", "re:<(sip:[^>]+)>", True),
    ("200-register", "To", "re:tag=([0-9A-F]+)", True),
    ("200-register", "Expires", None, True),
    ("200-register", "start", "200", True),
    ("200-register", "Contact", "re:expires=(\\d+)", False),
    ("200-register", "Server", None, False),
    ("200-register", "ms-keep-alive", "re:timeout=(\\d+)", False),
    ("subscribe", "Authorization", 're:crand="([0-9A-F]+)"', True),
    ("subscribe", "Authorization", 're:cnum="(\\d+)"', True),
    ("subscribe", "CSeq", "re:^\\s*(\\d+)", True),
    ("subscribe", "CSeq", "SUBSCRIBE", True),
    ("subscribe", "From", "re:<(sip:[^>]+)>", True),
    ("subscribe", "From", "re:tag=([0-9a-f]+)", True),
    ("subscribe", "start", "re:^SUBSCRIBE (sip:\\S+)", False),
    ("subscribe", "Via", "re:branch=(\\w+)", False),
    ("subscribe", "From", "re:epid=([0-9a-f]+)", False),
    ("subscribe", "User-Agent", "UCCAPI", False),
    ("subscribe", "Event", None, False),
    ("200-subscribe", "Authentication-Info", 're:srand="([0-9A-F]+)"', True),
    ("200-subscribe", "CSeq", "SUBSCRIBE", True),
    ("200-subscribe", "start", "200", True),
    ("200-subscribe", "Expires", None, True),
    ("200-subscribe", "To", "re:tag=([0-9a-f]+)", True),
    ("200-subscribe", "body", None, False),
    ("200-subscribe", "Require", None, False),
    ("message", "Authentication-Info", 're:snum="(\\d+)"', True),
    ("message", "From", "re:<(sip:[^>]+)>", True),
    ("message", "From", "re:tag=([0-9a-f]+)", True),
    ("message", "To", "re:<(sip:[^>]+)>", True),
    ("message", "Call-ID", None, True),
    ("message", "P-Asserted-Identity", "re:<(sip:[^>]+)>", True),
    ("message", "P-Asserted-Identity", "re:(tel:\\+\\d+)", True),
    ("message", "P-Asserted-Identity", 're:"(\\w+)', False),
    ("message", "From", 're:"(\\w+)"', False),
    ("message", "start", "re:^MESSAGE (sip:\\S+)", False),
    ("message", "Content-Type", "re:charset=(\\S+)", False),
    ("message", "body", None, False),
    ("200-message", "Authorization", 're:crand="([0-9A-F]+)"', True),
    ("200-message", "Authorization", 're:cnum="(\\d+)"', True),
    ("200-message", "To", "re:tag=([0-9a-f]+)", True),
    ("200-message", "CSeq", "re:^\\s*(\\d+)", True),
    ("200-message", "CSeq", "MESSAGE", True),
    ("200-message", "Via", "re:branch=(\\w+)", False),
    ("200-message", "User-Agent", "UCCAPI", False),
]
# covered values that also select the SA (reference 5.2: SAs are keyed by realm and targetname)
TAMPER_LOOKUP_CASES = [
    ("subscribe", "Authorization", 're:realm="([^"]+)"'),
    ("200-message", "Authorization", 're:targetname="([^"]+)"'),
    ("message", "Authentication-Info", 're:realm="([^"]+)"'),
]
# the AP-REQ request itself (version 4, signed): a copy starts an SA of its own
TAMPER_APREQ_CASES = [
    ("Authorization", 're:crand="([0-9A-F]+)"'),
    ("CSeq", "REGISTER"),
    ("From", "re:tag=([0-9a-f]+)"),
]


@unittest.skipIf(KRB_MISSING, "needs Debian packages krb5-kdc krb5-admin-server krb5-user "
                              "(missing: %s)" % ", ".join(KRB_MISSING))
class KerberosEndToEnd(itbase.PluginTestCase):
    TMP_PREFIX = "mssipae-krbe2e-"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tmp = cls.tmp.name
        kdc = Kdc(os.path.join(tmp, "kdc"), second_realm=True)
        cls.kdc = kdc
        cls.addClassCleanup(kdc.stop)  # registered first: runs even if start() or a peer fails
        kdc.start()
        cls.kdc_pid = kdc.pid
        kdc.kinit()
        # keytabs live in the KDC folder; keep copies that outlive nothing but the test
        cls.keytab = merge_keytabs(os.path.join(tmp, "sip-and-rc4.keytab"), kdc.keytab,
                                   kdc.rc4_keytab)
        cls.other_keytab = shutil.copy(kdc.other_realm_keytab, os.path.join(tmp, "other.keytab"))
        cls.main = cls.make_capture(os.path.join(tmp, "kerberos-all.pcap"), MAIN_SPECS)
        cls.tampered = cls.make_capture(os.path.join(tmp, "kerberos-tamper.pcap"), TAMPER_SPECS,
                                        tamper=True)
        # everything that needs the KDC is done: stop it now, by its PID
        kdc.stop()

    @classmethod
    def make_capture(cls, path, specs, tamper=False):
        """One TCP connection per SA, one SA per spec; returns a dict describing the capture."""
        flow = Flow("tcp")
        sessions = []
        for i, (et, mutual, svc) in enumerate(specs, 1):
            addr = ("10.0.1.%d" % i, 50000 + i)
            ua = UA("user%d" % i, addr, flow.link(addr, krbflow.SERVER))
            rc4 = svc == "rc4"
            peer = krbflow_peer(cls.kdc, et, mutual, rc4)
            try:
                s = KrbSession(ua, peer, sa=i, opaque="%08X" % (0x5A0000 * i + 0x1D),
                               mutual=mutual, target=RC4_TARGET if rc4 else krbflow.KRB_TARGET)
                s.register()
                s.subscribe()
                s.server_message("bob")
                s.et, s.key = peer.session_key("acceptor")
                assert s.et == et, (s.et, et)
                s.facts = ticket_facts(s.ap_req)
            finally:
                peer.close()
            sessions.append(s)
        tampered = cls.add_tampered(sessions) if tamper else {}
        flow.save(path)
        recs = sorted((r for s in sessions for r in s.ua.records), key=lambda r: r.frame)
        return {"path": path, "sessions": sessions, "recs": recs, "tampered": tampered}

    @classmethod
    def add_tampered(cls, sessions):
        """Appends one-byte-changed copies of the signed messages; returns {frame: status}."""
        out = {}
        cls.lookup_frames = set()
        next_sa = len(sessions) + 1

        def send(s, role, new, status, sa):
            before = len(s.ua.records)
            if role in ("register-apreq", "subscribe", "200-message"):
                s.ua.c2s(new, "tampered-" + role, sa)
            else:
                s.ua.s2c(new, "tampered-" + role, sa)
            frames = {r.frame for r in s.ua.records[before:]}
            assert len(frames) == 1
            out[frames.pop()] = status

        for s in sessions:
            by_role = {r.role: r.msg for r in s.ua.records}
            for role, where, sub, covered in TAMPER_CASES:
                orig = by_role[role]
                new = tamper(orig, where, sub)
                hdr = "Authorization" if role in ("subscribe", "200-message") else \
                    "Authentication-Info"
                b_old = sipmsg.signature_buffer(orig, s.version, header=hdr)
                b_new = sipmsg.signature_buffer(new, s.version, header=hdr)
                # the classification of the case, checked by sipmsg's own buffer rules
                assert (b_old != b_new) == covered, (role, where, sub)
                send(s, role, new, INVALID if covered else VALID, s.sa)
            for role, where, sub in TAMPER_LOOKUP_CASES:
                send(s, role, tamper(by_role[role], where, sub), INVALID, s.sa)
                cls.lookup_frames.add(max(out))
        # copies of the signed AP-REQ requests last: each starts a new SA (no opaque yet)
        for s in sessions:
            if s.version < 4:
                continue
            orig = {r.role: r.msg for r in s.ua.records}["register-apreq"]
            for where, sub in TAMPER_APREQ_CASES:
                send(s, "register-apreq", tamper(orig, where, sub), INVALID, next_sa)
                next_sa += 1
        return out

    # ---- checking ----

    def expected(self, cap, status_of):
        """{frame: {"header": [...], "sa": [...], "status": [...], "sigbuf": [...]}} for the
        capture's original records, status_of(rec, session) giving each signed header's status."""
        sess = {s.sa: s for s in cap["sessions"]}
        exp = {}
        for r in cap["recs"]:
            e = exp.setdefault(r.frame, {"header": [], "sa": [], "status": [], "sigbuf": []})
            e["header"].append(r.header)
            if r.sa:
                e["sa"].append(str(r.sa))
            if r.signed:
                e["status"].append(status_of(r, sess.get(r.sa)))
                e["sigbuf"].append(r.buf.decode())
        return exp

    def run_check(self, cap, exp, prefs=None, sigbuf=True, only=None):
        """tshark one-pass and -2 (identical output asserted), then every frame with an MS-SIPAE
        header must match exp exactly, and no other frame may have one."""
        rows = self.t.assert_same_both_passes(cap["path"], FIELDS, prefs=prefs, split=True)
        got = {}
        for r in rows:
            if r[1] and (only is None or int(r[0][0]) in only):
                got[int(r[0][0])] = {"header": r[1], "sa": r[2], "status": r[3], "sigbuf": r[4]}
        for frame, e in sorted(exp.items()):
            self.assertIn(frame, got, "frame %d: no MS-SIPAE header found" % frame)
            keys = ("header", "sa", "status", "sigbuf") if sigbuf else ("header", "sa", "status")
            for k in keys:
                self.assertEqual(got[frame][k], e[k], "frame %d, %s" % (frame, k))
        self.assertEqual(sorted(set(got) - set(exp)), [], "unexpected MS-SIPAE output")
        return got

    def expert_messages(self, cap, prefs, display_filter):
        rows = self.t.assert_same_both_passes(cap["path"], ["frame.number", "_ws.expert.message"],
                                              prefs=prefs, split=True,
                                              display_filter=display_filter)
        return {int(r[0][0]): r[1] for r in rows}

    def apreq_frames(self, cap):
        """{frame of the request carrying the AP-REQ: session}."""
        return {r.frame: s for s in cap["sessions"] for r in s.ua.records
                if r.role == "register-apreq"}

    # ---- the material itself ----

    def test_material_covers_every_enctype(self):
        """Every required enctype has a one-leg SA, and mutual SAs carry a real AP-REP."""
        want = {17, 18, 19, 20, 23}
        one_leg = {s.et for s in self.main["sessions"] if not s.mutual}
        mutual = {s.et for s in self.main["sessions"] if s.mutual}
        self.assertEqual(one_leg, want)
        self.assertEqual(mutual, want)
        for s in self.main["sessions"]:
            principal, tkt_et, kvno = s.facts
            self.assertEqual(kvno, 1)
            if s.target == RC4_TARGET:
                self.assertEqual((principal, tkt_et), ("sip/rc4.contoso.test@CONTOSO.TEST", 23))
            else:
                self.assertEqual(principal, "sip/server.contoso.test@CONTOSO.TEST")
            self.assertEqual(bool(s.ap_rep), bool(s.mutual))
            if s.ap_rep:
                self.assertIn(bytes.fromhex("0200" "6f"), s.ap_rep[:20])  # TOK_ID 02 00, AP-REP
            self.assertEqual(len(s.key), {17: 16, 18: 32, 19: 16, 20: 32, 23: 16}[s.et])

    def test_kdc_stopped_by_pid(self):
        """The material KDC is gone (stopped by PID in setUpClass); a KDC whose test fails inside
        its `with` block is stopped too."""
        self.assertFalse(self.kdc.running())
        self.assertFalse(pid_alive(self.kdc_pid), "KDC pid %d still exists" % self.kdc_pid)
        pid = None
        with self.assertRaises(AssertionError):
            with Kdc(self.path("kdc-fail")) as k:
                pid = k.pid
                self.assertTrue(pid_alive(pid))
                raise AssertionError("a failing test")
        self.assertIsNotNone(pid)
        self.assertFalse(pid_alive(pid), "KDC pid %d survived a failing test" % pid)

    # ---- verdicts ----

    def test_keytab_every_signature_valid(self):
        exp = self.expected(self.main, lambda r, s: VALID)
        self.assertGreaterEqual(sum(len(e["status"]) for e in exp.values()), 60)
        self.run_check(self.main, exp, prefs={"mssipae.keytab": self.keytab})

    def _no_key(self, prefs, phrase):
        exp = self.expected(self.main, lambda r, s: NO_KEY)
        self.run_check(self.main, exp, prefs=prefs, sigbuf=False)
        msgs = self.expert_messages(self.main, prefs, "mssipae.no_key")
        for frame, s in sorted(self.apreq_frames(self.main).items()):
            principal, tkt_et, kvno = s.facts
            self.assertIn(frame, msgs, "frame %d: no mssipae.no_key expert info" % frame)
            hits = [m for m in msgs[frame]
                    if principal in m and re.search(r"\bkvno %d\b" % kvno, m)
                    and re.search(r"\benctype %d\b" % tkt_et, m)
                    and ENCTYPE_NUMBERS[tkt_et] in m and phrase in m]
            self.assertTrue(hits, "frame %d: no expert info naming %s kvno %d enctype %d (%s): %r"
                            % (frame, principal, kvno, tkt_et, phrase, msgs[frame]))

    def test_other_realm_keytab_no_key(self):
        """The same service name in realm FABRIKAM.TEST: its keys do not decrypt the tickets."""
        self._no_key({"mssipae.keytab": self.other_keytab}, "no key in keytab")

    def test_no_keytab_no_key(self):
        self._no_key(None, "no keytab configured")

    def test_keylog_route(self):
        """Only `KERBEROS <opaque> <enctype> <key>` lines (the GSS context key: the initiator
        subkey for one leg, the acceptor subkey after an AES AP-REP). Expected: every signature
        valid -- including the signature on the AP-REQ request itself (version 4), which comes
        before the 200 OK that names the opaque: the plugin then tries every KERBEROS key-log
        entry, and says which opaque's entry matched."""
        path = self.keylog("kerberos.keys", ["KERBEROS %s %d %s" % (s.opaque, s.et, s.key.hex())
                                             for s in self.main["sessions"]])
        exp = self.expected(self.main, lambda r, s: VALID)
        prefs = {"mssipae.keylog_file": path}
        self.run_check(self.main, exp, prefs=prefs)
        rows = self.t.assert_same_both_passes(self.main["path"], ["frame.number", "mssipae.sig.why"],
                                              prefs=prefs, split=True)
        why = {int(r[0][0]): r[1] for r in rows if r[1]}
        before = {r.frame: r for r in self.main["recs"] if r.before_opaque}
        self.assertTrue(before)
        for frame in before:
            self.assertIn("had not named this SA's opaque", why[frame][0], frame)
        # a key log holding only OTHER SAs' keys: the early signature is "no key", never "invalid"
        with open(path, "w") as f:
            f.write("KERBEROS DEADBEEF 18 %s\n" % ("00" * 32))
        rows = self.t.fields(self.main["path"], ["frame.number", "mssipae.sig.status"], prefs=prefs,
                             split=True)
        got = {int(r[0][0]): r[1] for r in rows}
        for frame in before:
            self.assertEqual(got[frame], [NO_KEY], frame)

    def test_tampered_covered_invalid_uncovered_valid(self):
        """Copies of signed messages with one byte changed, after the original flows: "invalid"
        when the byte is covered by the signature (sipmsg's buffer changes), "valid" otherwise;
        a changed copy of the AP-REQ request starts a new SA whose signature is invalid."""
        cap = self.tampered
        statuses = list(cap["tampered"].values())
        self.assertGreater(statuses.count(INVALID), 3 * 25)
        self.assertGreater(statuses.count(VALID), 3 * 15)
        exp = self.expected(cap, lambda r, s: cap["tampered"].get(r.frame, VALID))
        rest = set(exp) - self.lookup_frames
        self.run_check(cap, {f: e for f, e in exp.items() if f in rest},
                       prefs={"mssipae.keytab": self.keytab}, only=rest)

    def test_tampered_realm_or_targetname_invalid(self):
        """realm and targetname are covered too, but they also select the SA: a changed byte
        there must still say "invalid" (the opaque names the SA), not "no SA"."""
        cap = self.tampered
        exp = self.expected(cap, lambda r, s: cap["tampered"].get(r.frame, VALID))
        self.assertEqual(len(self.lookup_frames), 3 * len(TAMPER_LOOKUP_CASES))
        self.run_check(cap, {f: e for f, e in exp.items() if f in self.lookup_frames},
                       prefs={"mssipae.keytab": self.keytab}, only=self.lookup_frames)


def krbflow_peer(kdc, et, mutual, rc4):
    """A KrbPeer for one SA: the session key restricted to enctype et (RC4-only service: its own
    keytab and target)."""
    from gss import KrbPeer
    if rc4:
        return KrbPeer(kdc, enctypes=[et], mutual=bool(mutual), target="sip@rc4.contoso.test",
                       keytab=kdc.rc4_keytab)
    return KrbPeer(kdc, enctypes=[et], mutual=bool(mutual))


if __name__ == "__main__":
    unittest.main()
