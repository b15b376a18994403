"""NTLM end to end through tshark: real Microsoft material and real gss-ntlmssp material, every key
source, tampering, wrong secrets, one-pass == two-pass.

* The two published Microsoft exchanges (tests/vectors/ntlm-oc2007r2-v4: NTLMv2 + ESS +
  KEY_EXCH, password Pa$$word; tests/vectors/ntlm-ocs2007-v2-noess: non-ESS, only its session
  key) as captures.
* Fresh material from gss-ntlmssp (an independent implementation; datagram mode, SeqNum 100),
  made by this test: a Lync-style registration and traffic in both directions, NTLMv2 + ESS
  (LM_COMPAT_LEVEL 3), NTLMv1 + ESS (1) and NTLMv1 with LM_KEY, no ESS (0).
* Key sources, each alone: preference mssipae.nt_password, the UAT mssipae_ntlm_users (on the
  command line and as a file in the configuration folder; several rows, the AUTHENTICATE's user
  picks the row), RC4-HMAC keytab entries (made with ktutil), and "NTLM <opaque> <key>" key-log
  lines.
* Tampering: one capture holds the exchange once untouched and then once per tampered message,
  each copy on its own client endpoint (so each copy is its own SA). A one-byte change of any
  item of the signature buffer makes that signature "invalid"; a change of the body, a Via or
  the Contact keeps it "valid" (ntlmsip.tamper_cases checks each case against sipmsg's
  independent buffer first).
* A wrong password gives "no key" with an expert info on every signed message of the SA and no
  "invalid"; a wrong key-log key gives "invalid" (nothing can tell it from tampering).

Expected statuses are stated here (1 valid, 2 invalid, 3 no key, 4 no SA); every tshark run is
made one-pass and with -2 and the outputs must be identical.

Run: cd tests/integration && MSSIPAE_BUILD_DIR=... MSSIPAE_SOURCE_DIR=... python3 -m unittest -v test_ntlm_e2e
"""

import os
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MSSIPAE_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(SRC, "tests", "gen"))
sys.path.insert(0, HERE)

import ntlmsip  # noqa: E402
from ntlmsip import C2S  # noqa: E402
from flowlib import Flow  # noqa: E402
import itbase  # noqa: E402

VALID, INVALID, NO_KEY, NO_SA = "1", "2", "3", "4"
SERVER = ("10.0.0.10", 5060)
CLIENT = ("10.0.0.21", 50123)
FIELDS = ["frame.number", "mssipae.sig.status", "mssipae.sig.why", "mssipae.sa"]

NTLM_MODULE = "/usr/lib/x86_64-linux-gnu/gssntlmssp/gssntlmssp.so"
HAVE_GSSNTLMSSP = os.path.exists(NTLM_MODULE) and os.path.exists("/etc/gss/mech.d/mech.ntlmssp.conf")
KTUTIL = shutil.which("ktutil") or ("/usr/bin/ktutil" if os.access("/usr/bin/ktutil", os.X_OK) else None)

# gss-ntlmssp accounts of this test. At most 14 characters: the LM hash (NTLMv1 with LM_KEY)
# covers 14 characters, and gss-ntlmssp 1.2.0 silently uses an all-zero LM hash for longer
# passwords (its LMOWFv1 returns ERANGE, which is ignored), while [MS-NLMP] 3.3.1 hashes the first 14.
GSS_DOMAIN = "CONTOSO"
ALICE, ALICE_PW = "alice", "Tulip-Garden24"
BOB, BOB_PW = "bob", "Sailboat#Harb9"


def make_keytab(path, principal, password, kvno=1):
    """An MIT keytab with one arcfour-hmac (RC4-HMAC) entry, made by ktutil (its key is the NT
    hash of the password, RFC 4757)."""
    if os.path.exists(path):
        os.remove(path)
    script = "addent -password -p %s -k %d -e arcfour-hmac\n%s\nwkt %s\nquit\n" % (
        principal, kvno, password, path)
    subprocess.run([KTUTIL], input=script.encode(), capture_output=True, check=True, timeout=30)
    if not os.path.exists(path):
        raise RuntimeError("ktutil did not write %s" % path)
    return path


def copies_capture(path, msgs, cases_for, first_octet=10):
    """The exchange untouched on CLIENT, then one copy per (signed message, case of
    cases_for(message)) on its own client endpoint, that message replaced by the case's bytes.
    Returns (path, expected, labels): expected maps frame -> statuses of its signed headers
    (invalid only for the tampered message of a covered case), labels maps frame -> text."""
    flow = Flow("udp")
    expected, labels = {}, {}

    def put(copy_msgs, client, tampered_at=None, label=None, covered=None):
        frames = ntlmsip.write(copy_msgs, flow, client, SERVER)
        for i, (fr, m) in enumerate(zip(frames, copy_msgs)):
            n = len(m.signed)
            if not n:
                continue
            st = VALID
            if i == tampered_at and covered:
                st = INVALID
            expected[fr] = [st] * n
            labels[fr] = "%s%s" % (m.label, " [%s]" % label if i == tampered_at else "")

    put(msgs, CLIENT)
    k = 0
    for idx, m in enumerate(msgs):
        if not m.signed:
            continue
        for label, data, covered in cases_for(m):
            k += 1
            client = ("%d.%d.%d.%d" % (first_octet, 100 + k // 250, k % 250 + 1, 7), 40000 + k)
            copy = list(msgs)
            copy[idx] = m.replace(data)
            put(copy, client, idx, label, covered)
    flow.save(path)
    return path, expected, labels


class ReflectingPeer:
    """A gss.NtlmPeer whose client signatures number k in reflect (1-based, in signing order)
    are made with the server's keys: gss-ntlmssp's acceptor MIC over the client's buffer, a
    reflected message. Everything else is the peer's."""

    def __init__(self, peer, reflect):
        self.peer, self.reflect, self.n = peer, set(reflect), 0

    def mic(self, who, buf):
        if who == "initiator":
            self.n += 1
            if self.n in self.reflect:
                return self.peer.mic("acceptor", buf)
        return self.peer.mic(who, buf)

    def __getattr__(self, name):
        return getattr(self.peer, name)


class NtlmE2E(itbase.PluginTestCase):
    TMP_PREFIX = "mssipae-ntlme2e-"

    def rows(self, pcap, fields=FIELDS, **kw):
        """{frame: [cells...]} of frames that have a signature status; one-pass == -2."""
        rows = self.t.assert_same_both_passes(pcap, fields, split=True, **kw)
        return {int(r[0][0]): r for r in rows if r[1]}

    def check(self, pcap, expected, labels=None, why=None, **kw):
        """Every signed header has its expected status, and nothing else has a status."""
        got = self.rows(pcap, **kw)
        bad = []
        for fr in sorted(set(got) | set(expected)):
            g = got[fr][1] if fr in got else []
            if g != expected.get(fr, []):
                bad.append("frame %d %s: got %s (%s), expected %s" % (
                    fr, (labels or {}).get(fr, ""), g, got[fr][2] if fr in got else "",
                    expected.get(fr)))
        self.assertFalse(bad, "%d mismatches:\n%s" % (len(bad), "\n".join(bad[:40])))
        if why:
            for fr in expected:
                for w in got[fr][2]:
                    self.assertIn(why, w, "frame %d" % fr)
        return got

    @staticmethod
    def signed_frames(msgs, frames, status):
        return {fr: [status] * len(m.signed) for fr, m in zip(frames, msgs) if m.signed}

    def exchange_capture(self, name, msgs, transport="udp", client=CLIENT):
        flow = Flow(transport)
        frames = ntlmsip.write(msgs, flow, client, SERVER)
        return flow.save(self.path(name)), frames

    def assert_wrong_password(self, pcap, expected_frames, who, **kw):
        """'no key' on every signed message, an expert info saying the password does not match
        on each of them, and no 'invalid' anywhere."""
        self.check(pcap, {fr: [NO_KEY] * n for fr, n in expected_frames.items()}, **kw)
        rows = self.t.assert_same_both_passes(pcap, ["frame.number", "_ws.expert.message"],
                                              display_filter="mssipae.no_key", split=True, **kw)
        by = {int(r[0][0]): r[1] for r in rows}
        self.assertEqual(sorted(by), sorted(expected_frames))
        for fr, texts in by.items():
            self.assertTrue(any(who in t and "does not match" in t for t in texts),
                            "frame %d: %s" % (fr, texts))
        rows = self.t.assert_same_both_passes(pcap, ["frame.number"],
                                              display_filter="mssipae.sig.invalid || mssipae.sig.status == 2", **kw)
        self.assertEqual(rows, [])


class MicrosoftExchanges(NtlmE2E):
    """The published OC 2007 R2 (v4, NTLMv2+ESS+KEY_EXCH) and OCS 2007 (v2, non-ESS) exchanges."""

    OC_KEYLOG = "NTLM %s %s" % (ntlmsip.OC_OPAQUE, ntlmsip.OC_ESK)
    NOESS_KEYLOG = "NTLM %s %s" % (ntlmsip.NOESS_OPAQUE, ntlmsip.NOESS_ESK)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.msgs = ntlmsip.oc2007r2_messages()
        flow = Flow("udp")
        cls.frames = ntlmsip.write(cls.msgs, flow, ("192.168.172.6", 12723), ("192.168.172.2", 5060))
        cls.pcap = flow.save(os.path.join(cls.tmp.name, "oc2007r2.pcap"))
        cls.signed = {fr: len(m.signed) for fr, m in zip(cls.frames, cls.msgs) if m.signed}

    def exp(self, status):
        return {fr: [status] * n for fr, n in self.signed.items()}

    def test_oc2007r2_no_key_without_secrets(self):
        self.assertEqual(len(self.signed), 2)
        self.check(self.pcap, self.exp(NO_KEY))

    def test_oc2007r2_password_preference(self):
        self.check(self.pcap, self.exp(VALID), prefs={"mssipae.nt_password": ntlmsip.OC_PASSWORD},
                   why="NTLMv2+ESS+KEY_EXCH+128, key from preference mssipae.nt_password")

    def test_oc2007r2_users_table_command_line(self):
        uat = {"mssipae_ntlm_users": [
            '"FABRIKAM","User","not-this-one",""',                      # other domain
            '"COSMO","someone","also-wrong",""',                        # other user
            '"COSMO","User","%s",""' % ntlmsip.OC_PASSWORD]}            # row 3
        self.check(self.pcap, self.exp(VALID), uat=uat, why="key from NTLM users table row 3")
        # the NT hash instead of the password (upper-case user name: names are case-insensitive)
        uat = {"mssipae_ntlm_users": ['"COSMO","USER","","%s"' % ntlmsip.OC_NTOWFV1]}
        self.check(self.pcap, self.exp(VALID), uat=uat, why="NTLM users table row 1")

    def test_oc2007r2_users_table_file(self):
        cfg = self.t.write_config("mssipae_ntlm_users",
                                  '"COSMO","nobody","x",""\n"COSMO","User","%s",""\n'
                                  % ntlmsip.OC_PASSWORD)
        try:
            self.check(self.pcap, self.exp(VALID), why="NTLM users table row 2")
        finally:
            os.remove(cfg)
        self.check(self.pcap, self.exp(NO_KEY))

    @unittest.skipUnless(KTUTIL, "needs ktutil (Debian package krb5-user)")
    def test_oc2007r2_keytab_rc4_entry(self):
        kt = make_keytab(self.path("user.keytab"), "User@COSMO", ntlmsip.OC_PASSWORD, kvno=3)
        self.check(self.pcap, self.exp(VALID), prefs={"mssipae.keytab": kt},
                   why="key from keytab entry User@COSMO kvno 3")
        # an RC4 entry of another principal is no key for User
        other = make_keytab(self.path("other.keytab"), "Someone@COSMO", ntlmsip.OC_PASSWORD)
        self.check(self.pcap, self.exp(NO_KEY), prefs={"mssipae.keytab": other})

    def test_oc2007r2_keylog(self):
        kl = self.keylog("oc.keys", [self.OC_KEYLOG.lower()])
        self.check(self.pcap, self.exp(VALID), prefs={"mssipae.keylog_file": kl},
                   why="key-log entry NTLM %s" % ntlmsip.OC_OPAQUE)

    def test_oc2007r2_wrong_password(self):
        self.assert_wrong_password(self.pcap, self.signed, "COSMO\\User",
                                   prefs={"mssipae.nt_password": "Pa$$w0rd"})
        self.assert_wrong_password(self.pcap, self.signed, "COSMO\\User",
                                   uat={"mssipae_ntlm_users": ['"COSMO","User","pa$$word",""']})

    def test_oc2007r2_wrong_keylog_key_is_invalid(self):
        bad = ntlmsip.OC_ESK[:-1] + ("0" if ntlmsip.OC_ESK[-1] != "0" else "1")
        kl = self.keylog("oc-bad.keys", ["NTLM %s %s" % (ntlmsip.OC_OPAQUE, bad)])
        self.check(self.pcap, self.exp(INVALID), prefs={"mssipae.keylog_file": kl})

    def test_oc2007r2_tampering(self):
        pcap, exp, labels = copies_capture(self.path("oc-tamper.pcap"), self.msgs,
                                           lambda m: ntlmsip.tamper_cases(m.data, 4))
        self.assertGreaterEqual(sum(INVALID in v for v in exp.values()), 20)
        self.check(pcap, exp, labels, prefs={"mssipae.nt_password": ntlmsip.OC_PASSWORD})
        kl = self.keylog("oc2.keys", [self.OC_KEYLOG])
        self.check(pcap, exp, labels, prefs={"mssipae.keylog_file": kl})

    # ---- OCS 2007, non-ESS: only the session key is known
    def test_ocs2007_noess_keylog(self):
        kl = self.keylog("noess.keys", [self.NOESS_KEYLOG])
        bare, bare_frames = self.exchange_capture("noess.pcap", ntlmsip.ocs2007_noess_messages())
        ctx_msgs = ntlmsip.ocs2007_noess_messages(context=True)
        ctx, ctx_frames = self.exchange_capture("noess-ctx.pcap", ctx_msgs)
        # without a key: no handshake and no key-log entry -> no SA; with a 401 naming the opaque
        # the SA exists -> no key
        self.check(bare, {bare_frames[0]: [NO_SA]})
        self.check(ctx, {ctx_frames[1]: [NO_KEY]})
        other = self.keylog("other.keys", [self.OC_KEYLOG])
        self.check(bare, {bare_frames[0]: [NO_SA]}, prefs={"mssipae.keylog_file": other})
        # with its session key: valid, both ways
        self.check(bare, {bare_frames[0]: [VALID]}, prefs={"mssipae.keylog_file": kl},
                   why="variant non-ESS matched")
        self.check(ctx, {ctx_frames[1]: [VALID]}, prefs={"mssipae.keylog_file": kl})
        # a wrong key: invalid
        bad = self.keylog("noess-bad.keys", ["NTLM %s %s" % (ntlmsip.NOESS_OPAQUE,
                                                            "4" + ntlmsip.NOESS_ESK[1:])])
        self.check(bare, {bare_frames[0]: [INVALID]}, prefs={"mssipae.keylog_file": bad})
        self.check(ctx, {ctx_frames[1]: [INVALID]}, prefs={"mssipae.keylog_file": bad})

    def test_ocs2007_noess_tampering(self):
        kl = self.keylog("noess2.keys", [self.NOESS_KEYLOG])
        msgs = ntlmsip.ocs2007_noess_messages(context=True)
        pcap, exp, labels = copies_capture(self.path("noess-tamper.pcap"), msgs,
                                           lambda m: ntlmsip.tamper_cases(m.data, 2))
        self.assertGreaterEqual(sum(INVALID in v for v in exp.values()), 11)
        self.check(pcap, exp, labels, prefs={"mssipae.keylog_file": kl})


@unittest.skipUnless(HAVE_GSSNTLMSSP, "needs Debian package gss-ntlmssp")
class GssNtlmssp(NtlmE2E):
    """Fresh exchanges made by gss-ntlmssp in datagram mode with SeqNum 100."""

    LEVELS = {3: "NTLMv2+ESS+KEY_EXCH+128", 1: "NTLMv1+ESS+KEY_EXCH+128",
              0: "NTLMv1 without ESS+KEY_EXCH+LM_KEY (56-bit seal key)"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from gss import NtlmPeer
        cls.ex = {}
        for n, lm in enumerate((3, 1, 0)):
            with NtlmPeer(GSS_DOMAIN, ALICE, ALICE_PW, lm_compat=lm) as peer:
                ex = ntlmsip.LyncNtlmExchange(peer, user=ALICE, client=CLIENT, server=SERVER,
                                              seed=100 + lm)
                msgs = ex.messages()
                esk = peer.session_key("initiator").hex()
            cls.ex[lm] = (msgs, ex.opaque, esk)
        # the first client signature (the REGISTER that carries the AUTHENTICATE and binds the
        # SA) and the fourth, reflected in place
        with NtlmPeer(GSS_DOMAIN, ALICE, ALICE_PW, lm_compat=3) as peer:
            ex = ntlmsip.LyncNtlmExchange(ReflectingPeer(peer, (1, 4)), user=ALICE,
                                          client=CLIENT, server=SERVER, seed=103)
            cls.reflected = (ex.messages(), ex.opaque, peer.session_key("initiator").hex())
        with NtlmPeer(GSS_DOMAIN, BOB, BOB_PW, lm_compat=3, computer="BOBPC") as peer:
            ex = ntlmsip.LyncNtlmExchange(peer, user=BOB, client=("10.0.0.22", 50200),
                                          server=SERVER, seed=200, caller=ALICE,
                                          caller_name="Alice Example")
            cls.bob = (ex.messages(), ex.opaque)

    def capture(self, lm, transport="tcp"):
        msgs, opaque, esk = self.ex[lm]
        pcap, frames = self.exchange_capture("gss-%d-%s.pcap" % (lm, transport), msgs, transport)
        return pcap, frames, msgs, opaque, esk

    def run_valid_both_directions(self, lm):
        pcap, frames, msgs, opaque, esk = self.capture(lm)
        exp = self.signed_frames(msgs, frames, VALID)
        dirs = [m.direction for m in msgs if m.signed]
        self.assertGreaterEqual(dirs.count(C2S), 5)
        self.assertGreaterEqual(len(dirs) - dirs.count(C2S), 5)
        got = self.check(pcap, exp, prefs={"mssipae.nt_password": ALICE_PW},
                         why="%s, key from preference mssipae.nt_password" % self.LEVELS[lm])
        self.assertEqual({tuple(r[3]) for r in got.values()}, {("1",)})  # one SA
        # the same capture over UDP
        pcap, frames = self.exchange_capture("gss-%d-udp.pcap" % lm, msgs, "udp")
        self.check(pcap, self.signed_frames(msgs, frames, VALID),
                   prefs={"mssipae.nt_password": ALICE_PW})

    def test_v2_ess_valid_both_directions(self):
        self.run_valid_both_directions(3)

    def test_v1_ess_valid_both_directions(self):
        self.run_valid_both_directions(1)

    def test_v1_lm_key_valid_both_directions(self):
        self.run_valid_both_directions(0)

    def run_key_sources(self, lm):
        pcap, frames, msgs, opaque, esk = self.capture(lm)
        valid = self.signed_frames(msgs, frames, VALID)
        no_key = self.signed_frames(msgs, frames, NO_KEY)
        self.check(pcap, no_key)
        self.check(pcap, valid, uat={"mssipae_ntlm_users": [
            '"%s","%s","%s",""' % (GSS_DOMAIN, BOB, BOB_PW),
            '"%s","%s","%s",""' % (GSS_DOMAIN, ALICE, ALICE_PW)]},
            why="key from NTLM users table row 2")
        cfg = self.t.write_config("mssipae_ntlm_users", '"","%s","%s",""\n' % (ALICE.upper(), ALICE_PW))
        try:
            self.check(pcap, valid, why="key from NTLM users table row 1")
        finally:
            os.remove(cfg)
        # the opaque is compared case-insensitively
        kl = self.keylog("gss-%d.keys" % lm, ["NTLM %s %s" % (opaque.lower(), esk)])
        self.check(pcap, valid, prefs={"mssipae.keylog_file": kl},
                   why="%s, key from key-log entry NTLM %s" % (self.LEVELS[lm], opaque))
        if KTUTIL:
            kt = make_keytab(self.path("alice-%d.keytab" % lm), "%s@%s" % (ALICE, GSS_DOMAIN), ALICE_PW)
            if lm == 0:
                # LM_KEY needs the LM hash; a keytab only holds the NT hash -> no key, said so
                self.check(pcap, no_key, prefs={"mssipae.keytab": kt}, why="needs the LM hash")
            else:
                self.check(pcap, valid, prefs={"mssipae.keytab": kt},
                           why="key from keytab entry %s@%s kvno 1" % (ALICE, GSS_DOMAIN))

    def test_v2_ess_key_sources(self):
        self.run_key_sources(3)

    def test_v1_ess_key_sources(self):
        self.run_key_sources(1)

    def test_v1_lm_key_key_sources(self):
        self.run_key_sources(0)

    def run_tampering(self, lm):
        msgs = self.ex[lm][0]
        pcap, exp, labels = copies_capture(self.path("gss-tamper-%d.pcap" % lm), msgs,
                                           lambda m: ntlmsip.tamper_cases(m.data, 4))
        self.assertGreaterEqual(sum(INVALID in v for v in exp.values()), 150)
        self.check(pcap, exp, labels, prefs={"mssipae.nt_password": ALICE_PW})

    def test_v2_ess_tampering(self):
        self.run_tampering(3)

    def test_v1_ess_tampering(self):
        self.run_tampering(1)

    def test_v1_lm_key_tampering(self):
        self.run_tampering(0)

    def test_reflected_signature_named_in_every_view(self):
        """A client message signed with the server's keys is "invalid" and its expert info names
        the reflection, the same in every view that shows expert infos: fields of one pass and
        of -2, -V, -z expert one-pass and with -2 (whose second pass has no tree: the message is
        found again where the first pass saw it); with the handshake (password, key log: known
        flags) and without it (key log: flag variants). The check is made only where the
        expert infos are read (issue 10); the verdicts are those of a run that reads none."""
        msgs, opaque, esk = self.reflected
        kl = self.keylog("reflect.keys", ["NTLM %s %s" % (opaque, esk)])
        full, _ = self.exchange_capture("gss-reflect.pcap", msgs, "tcp")
        no_hs = [m for m in msgs if b"gssapi-data" not in m.data]
        bare, _ = self.exchange_capture("gss-reflect-nohs.pcap", no_hs, "tcp")
        for pcap, prefs, n_bad, label in (
                (full, {"mssipae.nt_password": ALICE_PW}, 2, ""),
                (full, {"mssipae.keylog_file": kl}, 2, ""),
                (bare, {"mssipae.keylog_file": kl}, 1, "variant ESS+KEY_EXCH+128: ")):
            with self.subTest(pcap=os.path.basename(pcap), prefs=sorted(prefs)):
                rows = self.rows(pcap, prefs=prefs)
                bad = sorted(fr for fr, r in rows.items() if INVALID in r[1])
                self.assertEqual(len(bad), n_bad, rows)
                self.assertTrue(all(set(r[1]) == {VALID} for fr, r in rows.items()
                                    if fr not in bad), rows)
                # a run that reads no expert info: the same verdicts
                quiet = self.t.fields(pcap, ["frame.number", "mssipae.sig.status"], prefs=prefs,
                                      display_filter="mssipae.sig.status == 2")
                self.assertEqual(sorted(int(r[0]) for r in quiet), bad)
                ex = self.t.assert_same_both_passes(pcap, ["frame.number", "_ws.expert.message"],
                                                    split=True, prefs=prefs)
                texts = {int(r[0][0]): r[1] for r in ex}
                for fr in sorted(texts):
                    refl = [t for t in texts[fr] if "reflected message" in t]
                    if fr in bad:
                        self.assertEqual(len(refl), 1, texts[fr])
                        self.assertTrue(refl[0].startswith(label), refl[0])
                        self.assertIn("matches the server-to-client keys", refl[0])
                        # the reflection is the verdict's expert info
                        self.assertFalse([t for t in texts[fr] if "signature invalid" in t],
                                         texts[fr])
                    else:
                        self.assertEqual(refl, [], "frame %d" % fr)
                args = ["-n", "-r", pcap]
                for k, v in prefs.items():  # staged as fields() does: tshark may be nobody
                    args += ["-o", "%s:%s" % (k, self.t._maybe_stage(str(v)))]
                v1 = self.t.run(args + ["-V"])
                v2 = self.t.run(args + ["-2", "-V"])
                # the expert info's line and its message field (the rest of -V differs between
                # one pass and -2 by Wireshark's own TCP analysis)
                def refl(out):
                    return [ln for ln in out.splitlines() if "reflected message" in ln]
                self.assertEqual(len(refl(v1)), 2 * n_bad)
                self.assertEqual(refl(v1), refl(v2))
                z1 = self.t.run(args + ["-q", "-z", "expert"])
                z2 = self.t.run(args + ["-2", "-q", "-z", "expert"])
                self.assertIn("a reflected message", z1)
                self.assertEqual(z1, z2)

    def test_wrong_password_and_wrong_key(self):
        for lm in (3, 1, 0):
            pcap, frames, msgs, opaque, esk = self.capture(lm)
            signed = {fr: len(m.signed) for fr, m in zip(frames, msgs) if m.signed}
            who = "%s\\%s" % (GSS_DOMAIN, ALICE)
            self.assert_wrong_password(pcap, signed, who, prefs={"mssipae.nt_password": BOB_PW})
            self.assert_wrong_password(pcap, signed, who, uat={"mssipae_ntlm_users": [
                '"%s","%s","%s",""' % (GSS_DOMAIN, ALICE, ALICE_PW.lower())]})
            # change the first byte: the 56-bit LM_KEY seal key uses only the first 7
            bad = "%02x" % (int(esk[:2], 16) ^ 0x55) + esk[2:]
            kl = self.keylog("gss-bad-%d.keys" % lm, ["NTLM %s %s" % (opaque, bad)])
            self.check(pcap, self.signed_frames(msgs, frames, INVALID),
                       prefs={"mssipae.keylog_file": kl})

    def test_users_table_row_chosen_by_user(self):
        """Two clients (alice NTLMv1 LM_KEY, bob NTLMv2) in one capture: each SA uses its own row."""
        flow = Flow("tcp")
        a_msgs, b_msgs = self.ex[0][0], self.bob[0]
        fa = ntlmsip.write(a_msgs, flow, CLIENT, SERVER)
        fb = ntlmsip.write(b_msgs, flow, ("10.0.0.22", 50200), SERVER)
        pcap = flow.save(self.path("two-users.pcap"))
        exp = self.signed_frames(a_msgs, fa, VALID)
        exp.update(self.signed_frames(b_msgs, fb, VALID))
        rows = ['"%s","%s","%s",""' % (GSS_DOMAIN, ALICE, ALICE_PW),
                '"%s","%s","%s",""' % (GSS_DOMAIN, BOB, BOB_PW)]
        got = self.check(pcap, exp, uat={"mssipae_ntlm_users": rows})
        for fr in self.signed_frames(a_msgs, fa, VALID):
            self.assertIn("NTLM users table row 1", got[fr][2][0])
            self.assertEqual(got[fr][3], ["1"])
        for fr in self.signed_frames(b_msgs, fb, VALID):
            self.assertIn("NTLM users table row 2", got[fr][2][0])
            self.assertEqual(got[fr][3], ["2"])
        # rows swapped (each user gets the other's password): the user picks the row, so no key
        swapped = ['"%s","%s","%s",""' % (GSS_DOMAIN, ALICE, BOB_PW),
                   '"%s","%s","%s",""' % (GSS_DOMAIN, BOB, ALICE_PW)]
        no_key = self.signed_frames(a_msgs, fa, NO_KEY)
        no_key.update(self.signed_frames(b_msgs, fb, NO_KEY))
        self.check(pcap, no_key, uat={"mssipae_ntlm_users": swapped})


if __name__ == "__main__":
    unittest.main()
