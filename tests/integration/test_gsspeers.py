"""Integration tests of the GSS test-material generators (tests/gen: kdc.py, gss.py, krb_peer,
ntlm_peer): a throw-away MIT KDC, real Kerberos GSS exchanges for every enctype, and gss-ntlmssp
in datagram mode as MS-SIPAE uses it.

The peers check each other (initiator MICs verified by the acceptor and the reverse). The NTLM
signatures are additionally re-computed here from the password with the formulas of
ms-sipae.md section 6 (hashlib MD5/HMAC, nettle MD4/RC4 through ctypes; the shared primitives and
the ESS signature of tests/gen/ntlmref.py): gss-ntlmssp is an independent implementation, so
agreement checks both the formulas and the generator.

Run: cd tests/integration && MSSIPAE_BUILD_DIR=... MSSIPAE_SOURCE_DIR=... python3 -m unittest -v test_gsspeers
"""

import os
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

SOURCE_DIR = os.environ.get('MSSIPAE_SOURCE_DIR') or os.path.abspath(
    os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(SOURCE_DIR, 'tests', 'gen'))

from kdc import Kdc, missing_binaries, pid_alive  # noqa: E402
import ntlmref  # noqa: E402
from ntlmref import rc4, md4, hmac_md5  # noqa: E402
from gss import (KrbPeer, NtlmPeer, PeerError, ntlm_auth_fields, ntlm_flag_names,  # noqa: E402
                 ntlm_flags)

NTLM_MODULE = '/usr/lib/x86_64-linux-gnu/gssntlmssp/gssntlmssp.so'
NTLM_MECH_CONF = '/etc/gss/mech.d/mech.ntlmssp.conf'

KRB_MISSING = missing_binaries()
KRB_SKIP = ('needs Debian packages krb5-kdc krb5-admin-server krb5-user (missing: %s)'
            % ', '.join(KRB_MISSING))
NTLM_MISSING = [p for p in (NTLM_MODULE, NTLM_MECH_CONF) if not os.path.exists(p)]
NTLM_SKIP = 'needs Debian package gss-ntlmssp (missing: %s)' % ', '.join(NTLM_MISSING)

KRB_OID = bytes.fromhex('06092a864886f712010202')
# A buffer shaped like an MS-SIPAE signature buffer; any bytes would do for the peers.
SIP_BUF = (b'<Kerberos><3cd5a5f7><1><SIP Communications Service><sip/server.contoso.test>'
           b'<f3c8a6b2><REGISTER><sip:alice@contoso.test><2b5d8c41><sip:alice@contoso.test><>'
           b'<sip:contoso.test><><3600>')
AES_CKSUM_LEN = {17: 12, 18: 12, 19: 16, 20: 24}
KEY_LEN = {17: 16, 18: 32, 19: 16, 20: 32, 23: 16}


def tempdir(testcase_cls, prefix):
    """A temporary directory removed by a class cleanup."""
    td = tempfile.TemporaryDirectory(prefix=prefix)
    testcase_cls.addClassCleanup(td.cleanup)
    return td.name


# ---- NTLM reference arithmetic (ms-sipae.md section 6), crypto from libraries only ----

def exported_session_key(password, challenge, auth):
    """ExportedSessionKey from the password, NTLMv2 or NTLMv1+ESS (KEY_EXCH), or None if the
    NTProofStr does not match."""
    f = ntlm_auth_fields(auth)
    server_challenge = challenge[24:32]
    ntowf1 = md4(password.encode('utf-16-le'))
    if len(f['nt_response']) > 24:
        ntowf2 = hmac_md5(ntowf1, (f['user'].upper() + f['domain']).encode('utf-16-le'))
        proof = hmac_md5(ntowf2, server_challenge + f['nt_response'][16:])
        if proof != f['nt_response'][:16]:
            return None
        kxkey = hmac_md5(ntowf2, proof)
    else:
        assert f['flags'] & 0x00080000, 'only the ESS variant of NTLMv1 is modelled here'
        kxkey = hmac_md5(md4(ntowf1), server_challenge + f['lm_response'][:8])
    return rc4(kxkey, f['encrypted_random_session_key'])


def sig_no_ess(seal_key, data, seq=100):
    """Datagram NTLM signature without ESS: CRC32 and SeqNum under a fresh RC4 keystream."""
    ks = rc4(seal_key, bytes(12))
    crc = struct.pack('<I', zlib.crc32(data))
    return (b'\x01\x00\x00\x00' + bytes(4) + bytes(a ^ b for a, b in zip(crc, ks[4:8]))
            + bytes(a ^ b for a, b in zip(struct.pack('<I', seq), ks[8:12])))


# ---- tests ----

@unittest.skipIf(KRB_MISSING, KRB_SKIP)
class KdcLifecycleTest(unittest.TestCase):
    """The KDC helper starts, serves and is always stopped by PID."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempdir(cls, 'gsspeers-kdc-')

    def test_start_kinit_stop(self):
        d = os.path.join(self.tmp, 'a')
        with Kdc(d) as kdc:
            pid = kdc.pid
            self.assertTrue(pid_alive(pid))
            with open(kdc.pidfile) as f:
                self.assertEqual(int(f.read()), pid)
            kdc.kinit()
            out = subprocess.run(['klist'], env=kdc.env, capture_output=True, text=True).stdout
            self.assertIn('krbtgt/CONTOSO.TEST@CONTOSO.TEST', out)
            self.assertTrue(all(p.startswith(d) for p in (kdc.keytab, kdc.rc4_keytab, kdc.ccache)))
        self.assertFalse(kdc.running())
        self.assertFalse(pid_alive(pid), 'krb5kdc still running after the with block')

    def test_stopped_on_exception(self):
        pid = None
        with self.assertRaises(ZeroDivisionError):
            with Kdc(os.path.join(self.tmp, 'b')) as kdc:
                pid = kdc.pid
                1 / 0
        self.assertIsNotNone(pid)
        self.assertFalse(pid_alive(pid), 'krb5kdc survived an exception')

    def test_keytabs_deterministic(self):
        """-norandkey: two independent KDCs give the same service keys with kvno 1."""
        def keys(d):
            with Kdc(os.path.join(self.tmp, d), second_realm=(d == 'd')) as kdc:
                out = subprocess.run(['klist', '-k', '-K', '-e', kdc.keytab], env=kdc.env,
                                     capture_output=True, text=True, check=True).stdout
                other = kdc.other_realm_keytab
            return [ln.split() for ln in out.splitlines() if 'sip/server' in ln], other
        a, _ = keys('c')
        b, other = keys('d')
        self.assertEqual(len(a), 5)
        self.assertEqual(a, b)
        self.assertTrue(all(e[0] == '1' for e in a), 'kvno must be 1')
        self.assertTrue(os.path.exists(other))


@unittest.skipIf(KRB_MISSING, KRB_SKIP)
class KerberosPeerTest(unittest.TestCase):
    """Real MIT GSS exchanges: one leg (MS-SIPAE style) and mutual, for every enctype."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempdir(cls, 'gsspeers-krb-')
        cls.kdc = Kdc(os.path.join(cls.tmp, 'kdc'), second_realm=True)
        cls.addClassCleanup(cls.kdc.stop)
        cls.kdc.start()
        cls.kdc.kinit()

    def check_mic(self, et, mic, sender_flags):
        """RFC 4121 (AES) or RFC 4757 (RC4) MIC layout."""
        if et == 23:
            self.assertEqual(len(mic), 37)
            self.assertEqual(mic[:2] + mic[2:13], b'\x60\x23' + KRB_OID)
            self.assertEqual(mic[13:21], bytes.fromhex('01011100ffffffff'))
        else:
            self.assertEqual(len(mic), 16 + AES_CKSUM_LEN[et])
            self.assertEqual(mic[:3], bytes([0x04, 0x04, sender_flags]))
            self.assertEqual(mic[3:8], b'\xff' * 5)

    def exchange(self, et, mutual):
        p = KrbPeer(self.kdc, enctypes=[et], mutual=mutual)
        self.addCleanup(p.close)
        tok = p.initial_token()
        # GSS InitialContextToken: 60 <len> OID 01 00 AP-REQ
        self.assertEqual(tok[0], 0x60)
        i = tok.index(KRB_OID)
        self.assertEqual(tok[i + 11:i + 14], b'\x01\x00\x6e')
        self.assertEqual(p.complete, not mutual)
        rep = p.accept(tok)
        self.assertTrue(p.accept_complete)
        if mutual:
            j = rep.index(KRB_OID)
            self.assertEqual(rep[j + 11:j + 14], b'\x02\x00\x6f', 'AP-REP expected')
            self.assertEqual(p.init_step(rep), b'')
            self.assertTrue(p.complete)
            self.assertTrue(p.init_ret_flags & 0x2, 'mutual flag')
        else:
            self.assertEqual(rep, b'', 'one-leg acceptor must not answer')
        # both sides agree on the context key and its enctype
        et_i, key_i = p.session_key('initiator')
        et_a, key_a = p.session_key('acceptor')
        self.assertEqual((et_i, et_a), (et, et))
        self.assertEqual(key_i, key_a)
        self.assertEqual(len(key_i), KEY_LEN[et])
        return p

    def mics_both_ways(self, p, et, mutual):
        sub = 0x04 if mutual and et != 23 else 0
        for data in (SIP_BUF, b''):
            imic = p.mic('initiator', data)
            self.check_mic(et, imic, sub)
            self.assertTrue(p.verify('acceptor', data, imic))
            amic = p.mic('acceptor', data)
            self.check_mic(et, amic, sub | 0x01)
            self.assertTrue(p.verify('initiator', data, amic))
        tampered = SIP_BUF.replace(b'<3600>', b'<3601>')
        self.assertNotEqual(tampered, SIP_BUF)
        self.assertFalse(p.verify('acceptor', tampered, p.mic('initiator', SIP_BUF)))
        self.assertFalse(p.verify('initiator', tampered, p.mic('acceptor', SIP_BUF)))
        # a reflected MIC (own direction) is refused
        self.assertFalse(p.verify('initiator', SIP_BUF, p.mic('initiator', SIP_BUF)))

    def one_leg(self, et):
        p = self.exchange(et, mutual=False)
        first_i = p.mic('initiator', SIP_BUF)
        first_a = p.mic('acceptor', SIP_BUF)
        self.assertTrue(p.verify('acceptor', SIP_BUF, first_i))
        self.assertTrue(p.verify('initiator', SIP_BUF, first_a))
        if et != 23:
            # one leg: both directions start at the authenticator's seq-number, then count up
            self.assertEqual(first_i[8:16], first_a[8:16])
            nxt = p.mic('initiator', SIP_BUF)
            self.assertEqual(int.from_bytes(nxt[8:16], 'big'), int.from_bytes(first_i[8:16], 'big') + 1)
        else:
            # RFC 4757: the checksum does not depend on the direction
            self.assertEqual(first_i[29:37], first_a[29:37])
        self.mics_both_ways(p, et, mutual=False)

    def mutual(self, et):
        p = self.exchange(et, mutual=True)
        self.mics_both_ways(p, et, mutual=True)

    def test_one_leg_aes128_sha1(self):
        self.one_leg(17)

    def test_one_leg_aes256_sha1(self):
        self.one_leg(18)

    def test_one_leg_aes128_sha256(self):
        self.one_leg(19)

    def test_one_leg_aes256_sha384(self):
        self.one_leg(20)

    def test_one_leg_rc4(self):
        self.one_leg(23)

    def test_mutual_aes128_sha1(self):
        self.mutual(17)

    def test_mutual_aes256_sha1(self):
        self.mutual(18)

    def test_mutual_aes128_sha256(self):
        self.mutual(19)

    def test_mutual_aes256_sha384(self):
        self.mutual(20)

    def test_mutual_rc4(self):
        self.mutual(23)

    def test_mutual_uses_acceptor_subkey(self):
        """AES mutual: MICs carry the AcceptorSubkey flag (0x04), the AP-REP subkey is the context key."""
        p = self.exchange(18, mutual=True)
        self.assertEqual(p.mic('acceptor', SIP_BUF)[2], 0x05)

    def test_rc4_only_service(self):
        """RC4-only service: RC4 ticket but an AES session key unless RC4 alone is requested."""
        with KrbPeer(self.kdc, target='sip@rc4.contoso.test', keytab=self.kdc.rc4_keytab) as p:
            p.accept(p.initial_token())
            self.assertEqual(p.session_key('acceptor')[0], 18)
        with KrbPeer(self.kdc, enctypes=[23], target='sip@rc4.contoso.test',
                     keytab=self.kdc.rc4_keytab) as p:
            p.accept(p.initial_token())
            self.assertEqual(p.session_key('acceptor')[0], 23)
            self.assertTrue(p.verify('acceptor', SIP_BUF, p.mic('initiator', SIP_BUF)))

    def test_wrong_keytab_rejected(self):
        with KrbPeer(self.kdc, enctypes=[18], keytab=self.kdc.other_realm_keytab) as p:
            tok = p.initial_token()
            with self.assertRaises(PeerError) as cm:
                p.accept(tok)
            self.assertIn('not found in keytab', cm.exception.text)

    def test_peer_reports_errors(self):
        with KrbPeer(self.kdc) as p:
            with self.assertRaises(PeerError):
                p.accept(b'\x60\x03\x06\x01\x00')
            with self.assertRaises(PeerError):
                p.mic('initiator', b'x')  # no context yet
            with self.assertRaises(PeerError):
                p.call('verify', 'acceptor', 'zz', '-')
            pid = p.pid
        self.assertEqual(p.returncode, 0)
        self.assertFalse(pid_alive(pid))


@unittest.skipIf(NTLM_MISSING, NTLM_SKIP)
@unittest.skipIf(not ntlmref.available, 'needs libnettle8 (Debian package nettle-dev)')
class NtlmDatagramTest(unittest.TestCase):
    """gss-ntlmssp in connectionless mode: CHALLENGE first, AUTHENTICATE, SeqNum-100 signatures."""

    PASSWORD = 'Passw0rd!'

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempdir(cls, 'gsspeers-ntlm-')

    def exchange(self, lm_compat, **kw):
        n = NtlmPeer('CONTOSO', 'alice', self.PASSWORD, lm_compat=lm_compat,
                     tmpdir=os.path.join(self.tmp, f'lm{lm_compat}'), **kw)
        self.addCleanup(n.close)
        chal = n.challenge()
        self.assertEqual(chal[:12], b'NTLMSSP\0\x02\0\0\0')
        cflags = ntlm_flags(chal)
        for f in ('DATAGRAM', 'KEY_EXCH', 'SIGN', 'TARGET_INFO'):
            self.assertIn(f, ntlm_flag_names(cflags))
        auth = n.authenticate(chal)
        self.assertEqual(auth[:12], b'NTLMSSP\0\x03\0\0\0')
        fields = ntlm_auth_fields(auth)
        self.assertEqual((fields['domain'], fields['user']), ('CONTOSO', 'alice'))
        for f in ('DATAGRAM', 'KEY_EXCH', 'SIGN'):
            self.assertIn(f, ntlm_flag_names(fields['flags']))
        return n, chal, auth, fields

    def check_both_ways(self, n, expect_i, expect_a):
        # (gss-ntlmssp refuses empty messages: GSS_S_CALL_INACCESSIBLE_READ; SIP buffers never are)
        for data in (SIP_BUF, b'x'):
            i = n.mic('initiator', data)
            a = n.mic('acceptor', data)
            self.assertEqual(i, expect_i(data))
            self.assertEqual(a, expect_a(data))
            self.assertEqual(n.mic('initiator', data), i, 'datagram: same SeqNum, same signature')
            self.assertTrue(n.verify('acceptor', data, i))
            self.assertTrue(n.verify('initiator', data, a))
        self.assertFalse(n.verify('acceptor', SIP_BUF + b' ', n.mic('initiator', SIP_BUF)))
        self.assertFalse(n.verify('initiator', SIP_BUF + b' ', n.mic('acceptor', SIP_BUF)))

    def ess_case(self, lm_compat, ntlmv2):
        n, chal, auth, f = self.exchange(lm_compat)
        self.assertEqual(len(f['nt_response']) > 24, ntlmv2)
        self.assertIn('EXTENDED_SESSIONSECURITY', ntlm_flag_names(f['flags']))
        self.assertNotIn('LM_KEY', ntlm_flag_names(f['flags']))
        n.accept(auth)
        esk = n.session_key('initiator')
        self.assertEqual(n.session_key('acceptor'), esk)
        self.assertEqual(exported_session_key(self.PASSWORD, chal, auth), esk)
        sig = n.mic('initiator', SIP_BUF)
        self.assertEqual(sig[:4], b'\x01\x00\x00\x00')
        self.assertEqual(sig[12:], b'\x64\x00\x00\x00')
        # datagram NTLM signature with ESS + KEY_EXCH + 128, RC4 re-keyed per message
        self.check_both_ways(n, lambda d: ntlmref.ess_mac(esk, 'c2s', d),
                             lambda d: ntlmref.ess_mac(esk, 's2c', d))
        # reflection: a client signature is not valid as the server's
        self.assertFalse(n.verify('initiator', SIP_BUF, n.mic('initiator', SIP_BUF)))

    def test_ntlmv2_ess(self):
        self.ess_case(3, ntlmv2=True)

    def test_ntlmv1_ess(self):
        self.ess_case(1, ntlmv2=False)

    def test_ntlmv1_lm_key_no_ess(self):
        """LM_COMPAT_LEVEL=0: NTLMv1, LM_KEY, no ESS; one shared seal key, weakened to 56 bits."""
        n, chal, auth, f = self.exchange(0)
        names = ntlm_flag_names(f['flags'])
        self.assertEqual(len(f['nt_response']), 24)
        self.assertNotIn('EXTENDED_SESSIONSECURITY', names)
        self.assertIn('LM_KEY', names)
        self.assertIn('56', names)
        n.accept(auth)
        esk = n.session_key('initiator')
        self.assertEqual(n.session_key('acceptor'), esk)
        seal = esk[:7] + b'\xa0'  # [MS-NLMP] 3.4.5.3 SEALKEY, LM_KEY with NEGOTIATE_56
        expect = lambda d: sig_no_ess(seal, d)  # noqa: E731
        self.check_both_ways(n, expect, expect)
        sig = n.mic('initiator', SIP_BUF)
        self.assertEqual(sig[:8], b'\x01\x00\x00\x00' + bytes(4))
        # without ESS, client and server signatures over the same buffer are identical
        self.assertEqual(n.mic('acceptor', SIP_BUF), sig)

    def test_wrong_password_rejected(self):
        n, chal, auth, f = self.exchange(3, acceptor_password='Wrong!')
        with self.assertRaises(PeerError):
            n.accept(auth)
        self.assertIsNone(exported_session_key('Wrong!', chal, auth))

    def test_peer_shutdown(self):
        n, chal, auth, f = self.exchange(3)
        n.accept(auth)
        pid = n.pid
        n.close()
        self.assertEqual(n.returncode, 0)
        self.assertFalse(pid_alive(pid))


if __name__ == '__main__':
    unittest.main()
