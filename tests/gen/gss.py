"""Python drivers for the GSS test-material generators tests/gen/krb_peer.c and ntlm_peer.c.

Both peers are child processes speaking a line protocol (hex-encoded bytes, "-" = empty).
Binaries are looked up in $MSSIPAE_BUILD_DIR (or passed explicitly).

    with Kdc(tmp) as kdc:
        kdc.kinit()
        with KrbPeer(kdc, enctypes=[18], mutual=False) as p:
            tok = p.initial_token()          # GSS InitialContextToken (AP-REQ)
            rep = p.accept(tok)              # b'' for one leg, AP-REP if mutual
            if rep: p.init_step(rep)
            sig = p.mic('initiator', buf)    # RFC 4121 / RFC 4757 MIC over buf
            p.verify('acceptor', buf, sig)   # True / False
            etype, key = p.session_key('acceptor')

    with NtlmPeer('CONTOSO', 'alice', 'Passw0rd!', lm_compat=3) as n:
        chal = n.challenge()                 # CHALLENGE from the acceptor (datagram, no NEGOTIATE)
        auth = n.authenticate(chal)          # AUTHENTICATE from the initiator
        n.accept(auth)
        sig = n.mic('initiator', buf)        # 01000000 | 8 bytes | 64000000 (SeqNum forced to 100)
        n.verify('acceptor', buf, sig)
        n.session_key('initiator')           # ExportedSessionKey
"""

import os
import select
import struct
import subprocess
import tempfile
import time

class PeerError(RuntimeError):
    """An 'err' answer from a peer: .major, .minor, .text."""

    def __init__(self, major, minor, text):
        super().__init__(f'major 0x{major:08x} minor {minor}: {text}')
        self.major, self.minor, self.text = major, minor, text


def build_dir():
    """The build directory holding krb_peer/ntlm_peer."""
    d = os.environ.get('MSSIPAE_BUILD_DIR')
    if not d:
        raise RuntimeError('MSSIPAE_BUILD_DIR is not set')
    return d


def tool(name, bdir=None):
    """Absolute path of a built generator; a clear error if it is missing."""
    p = os.path.join(bdir or build_dir(), name)
    if not os.access(p, os.X_OK):
        raise RuntimeError(f'{p} not built (cmake --build <dir> --target {name})')
    return p


def _hex(b):
    return b.hex() if b else '-'


def _unhex(s):
    return b'' if s == '-' else bytes.fromhex(s)


def _child_env(env):
    """Environment for a peer: sanitizer leak reports of the GSS libraries must not spoil stdout."""
    env = dict(env if env is not None else os.environ)
    asan = env.get('ASAN_OPTIONS', '')
    if 'detect_leaks' not in asan:
        env['ASAN_OPTIONS'] = (asan + ':' if asan else '') + 'detect_leaks=0'
    return env


class _Peer:
    """A line-protocol child process; always terminated and reaped by close()."""

    def __init__(self, argv, env, timeout=20.0):
        self.timeout = timeout
        self.proc = None
        self.stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(argv, env=_child_env(env), stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self.stderr, bufsize=0)
        except BaseException:
            self.stderr.close()
            raise
        self.pid = self.proc.pid
        self._rbuf = b''

    def _stderr_tail(self):
        try:
            self.stderr.seek(0)
            return self.stderr.read().decode(errors='replace')[-2000:]
        except Exception:
            return ''

    def _readline(self):
        """One answer line, or '' on EOF; raises TimeoutError (after killing the peer) if it hangs."""
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + self.timeout
        while b'\n' not in self._rbuf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.close()
                raise TimeoutError(f'peer did not answer within {self.timeout} s')
            chunk = os.read(fd, 65536)
            if not chunk:
                return ''
            self._rbuf += chunk
        line, _, self._rbuf = self._rbuf.partition(b'\n')
        return line.decode('utf-8', 'replace') + '\n'

    def call(self, *words):
        """Send one command, return the answer's fields after 'ok'; raise PeerError on 'err'."""
        if self.proc is None:
            raise RuntimeError('peer closed')
        line = (' '.join(words) + '\n').encode()
        try:
            view = memoryview(line)
            while view:
                n = self.proc.stdin.write(view)
                view = view[n:]
            ans = self._readline()
        except (BrokenPipeError, OSError):
            ans = ''
        if not ans:
            rc = self.proc.poll()
            raise RuntimeError(f'peer died (rc={rc}) on {words[0]}: {self._stderr_tail()}')
        parts = ans.rstrip('\n').split(' ', 3)
        if parts[0] == 'ok':
            return ans.split()[1:]
        if parts[0] in ('err', 'fail'):
            major = int(parts[1], 16) if len(parts) > 1 else 0
            minor = int(parts[2]) if len(parts) > 2 else 0
            err = PeerError(major, minor, parts[3] if len(parts) > 3 else '')
            err.kind = parts[0]
            raise err
        raise RuntimeError(f'unexpected answer from peer: {ans!r}')

    def close(self):
        """Ask the peer to quit, then make sure it is gone (terminate/kill by PID) and reaped."""
        proc, self.proc = getattr(self, 'proc', None), None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                try:
                    proc.stdin.write(b'quit\n')
                except (BrokenPipeError, OSError, ValueError):
                    pass
            try:
                proc.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        finally:
            try:
                proc.stdout.close()
            except OSError:
                pass
            self.stderr_text = self._stderr_tail()
            self.stderr.close()
        self.returncode = proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # ---- shared commands ----
    def mic(self, side, data):
        """MIC (signature) over data made by side ('initiator' or 'acceptor')."""
        return _unhex(self.call('mic', side, _hex(data))[0])

    def verify(self, side, data, mic):
        """True if side ('initiator'/'acceptor') accepts mic over data, False if it rejects it."""
        try:
            self.call('verify', side, _hex(data), _hex(mic))
            return True
        except PeerError as e:
            if getattr(e, 'kind', '') == 'fail':
                self.last_verify_error = e
                return False
            raise

    def info(self, side):
        """Context flags / names of one side as a dict (diagnostics)."""
        out = {}
        for f in self.call('info', side):
            k, _, v = f.partition('=')
            out[k] = v
        out['flags'] = int(out.get('flags', '0'), 16)
        return out


class KrbPeer(_Peer):
    """MIT Kerberos GSS initiator (ccache of kdc.kinit) and acceptor (keytab) in one child process."""

    def __init__(self, kdc=None, enctypes=None, mutual=False, target='sip@server.contoso.test',
                 keytab=None, flags=('integ', 'identify'), env=None, bdir=None):
        if env is None:
            env = kdc.env if kdc is not None else os.environ
        if keytab is None and kdc is not None:
            keytab = kdc.keytab
        self.target = target
        self.enctypes = list(enctypes) if enctypes else None
        self.flags = list(flags) + (['mutual'] if mutual else [])
        self.complete = False
        super().__init__([tool('krb_peer', bdir), keytab or '-'], env)

    def initial_token(self):
        """Start a new initiator context; returns the InitialContextToken."""
        ets = ','.join(str(e) for e in self.enctypes) if self.enctypes else 'default'
        state, tok, flags = self.call('init', self.target, ','.join(self.flags) or 'none', ets)
        self.complete = state == 'complete'
        self.init_ret_flags = int(flags, 16)
        return _unhex(tok)

    def init_step(self, token):
        """Feed the acceptor's reply (AP-REP); returns the next initiator token (normally b'')."""
        state, tok, flags = self.call('init_step', _hex(token))
        self.complete = state == 'complete'
        self.init_ret_flags = int(flags, 16)
        return _unhex(tok)

    def accept(self, token):
        """Acceptor step; returns its output token (b'' for one leg, the AP-REP for mutual)."""
        state, tok, flags = self.call('accept', _hex(token))
        self.accept_complete = state == 'complete'
        self.accept_ret_flags = int(flags, 16)
        return _unhex(tok)

    def session_key(self, side):
        """(enctype, key bytes) of the context key of side (acceptor subkey, else initiator subkey)."""
        et, key = self.call('sessionkey', side)
        return int(et), _unhex(key)


# ---- NTLM ----

NTLM_USER_FILE_NAME = 'ntlm_users'


def ntlm_flags(msg):
    """NegotiateFlags of a CHALLENGE (type 2) or AUTHENTICATE (type 3) message."""
    if msg[:8] != b'NTLMSSP\0':
        raise ValueError('not an NTLMSSP message')
    mtype = struct.unpack_from('<I', msg, 8)[0]
    off = {2: 20, 3: 60}.get(mtype)
    if off is None:
        raise ValueError(f'message type {mtype} has no flags here')
    return struct.unpack_from('<I', msg, off)[0]


def ntlm_auth_fields(msg):
    """Decode the security buffers of an AUTHENTICATE message into a dict of bytes/str."""
    if msg[:8] != b'NTLMSSP\0' or struct.unpack_from('<I', msg, 8)[0] != 3:
        raise ValueError('not an AUTHENTICATE message')

    def sb(off):
        ln, _, o = struct.unpack_from('<HHI', msg, off)
        return msg[o:o + ln]
    flags = ntlm_flags(msg)
    enc = 'utf-16-le' if flags & 1 else 'latin-1'
    return {
        'lm_response': sb(12), 'nt_response': sb(20),
        'domain': sb(28).decode(enc), 'user': sb(36).decode(enc), 'workstation': sb(44).decode(enc),
        'encrypted_random_session_key': sb(52), 'flags': flags,
    }


NTLM_FLAG_NAMES = [
    (0x00000001, 'UNICODE'), (0x00000002, 'OEM'), (0x00000004, 'REQUEST_TARGET'),
    (0x00000010, 'SIGN'), (0x00000020, 'SEAL'), (0x00000040, 'DATAGRAM'), (0x00000080, 'LM_KEY'),
    (0x00000200, 'NTLM'), (0x00000800, 'ANONYMOUS'), (0x00001000, 'OEM_DOMAIN_SUPPLIED'),
    (0x00002000, 'OEM_WORKSTATION_SUPPLIED'), (0x00008000, 'ALWAYS_SIGN'),
    (0x00010000, 'TARGET_TYPE_DOMAIN'), (0x00020000, 'TARGET_TYPE_SERVER'),
    (0x00080000, 'EXTENDED_SESSIONSECURITY'), (0x00100000, 'IDENTIFY'),
    (0x00400000, 'REQUEST_NON_NT_SESSION_KEY'), (0x00800000, 'TARGET_INFO'), (0x02000000, 'VERSION'),
    (0x20000000, '128'), (0x40000000, 'KEY_EXCH'), (0x80000000, '56'),
]


def ntlm_flag_names(flags):
    """Readable list of NTLM NegotiateFlags."""
    return [n for bit, n in NTLM_FLAG_NAMES if flags & bit]


class NtlmPeer(_Peer):
    """gss-ntlmssp in datagram mode: acceptor via the dlopen()ed mech module, initiator via mechglue.

    The NTLM user file (DOMAIN:user:password, read by the acceptor) goes to tmpdir, or to a private
    temporary directory removed by close(). lm_compat sets LM_COMPAT_LEVEL for both sides
    (3 = NTLMv2, 1 = NTLMv1 with ESS, 0 = NTLMv1 with LM_KEY and no ESS). acceptor_password, if
    given, is what the acceptor believes (negative material: the accept step then fails)."""

    def __init__(self, domain='CONTOSO', user='alice', password='Passw0rd!', lm_compat=3, tmpdir=None,
                 computer='SIPCLIENT', server_domain=None, env=None, bdir=None, seq_num=100,
                 acceptor_password=None):
        self._own_tmp = None
        if tmpdir is None:
            self._own_tmp = tempfile.TemporaryDirectory(prefix='ntlm_peer-')
            tmpdir = self._own_tmp.name
        os.makedirs(tmpdir, exist_ok=True)
        self.user_file = os.path.join(tmpdir, NTLM_USER_FILE_NAME)
        with open(self.user_file, 'w') as f:
            f.write(f'{domain}:{user}:{acceptor_password if acceptor_password is not None else password}\n')
        env = dict(env if env is not None else os.environ)
        env.update({
            'NTLM_USER_FILE': self.user_file,
            'NETBIOS_COMPUTER_NAME': computer,
            'NETBIOS_DOMAIN_NAME': server_domain or domain,
            'LM_COMPAT_LEVEL': str(lm_compat),
        })
        env.pop('GSSNTLMSSP_DEBUG', None)
        try:
            super().__init__([tool('ntlm_peer', bdir)], env)
            self.call('cred', f'{domain}\\{user}', password.encode().hex())
            self.call('seqnum', str(seq_num) if seq_num is not None else 'none')
        except BaseException:
            self.close()
            raise

    def close(self):
        """Stop the peer, then remove the private temporary directory (if any)."""
        try:
            super().close()
        finally:
            own, self._own_tmp = getattr(self, '_own_tmp', None), None
            if own is not None:
                own.cleanup()

    def challenge(self):
        """Acceptor's CHALLENGE (first accept step with an empty input token = datagram mode)."""
        return _unhex(self.call('challenge')[0])

    def authenticate(self, challenge):
        """Initiator's AUTHENTICATE for a CHALLENGE (first init step, no NEGOTIATE)."""
        return _unhex(self.call('authenticate', _hex(challenge))[0])

    def accept(self, auth):
        """Acceptor consumes the AUTHENTICATE; raises PeerError if it is rejected."""
        self.call('accept', _hex(auth))

    def session_key(self, side):
        """ExportedSessionKey of side."""
        return _unhex(self.call('sessionkey', side)[0])
