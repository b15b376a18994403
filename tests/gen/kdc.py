"""Throw-away MIT KDC on 127.0.0.1 for generating real Kerberos test material.

Usage::

    with Kdc(tmpdir) as kdc:            # realm CONTOSO.TEST, free port
        kdc.kinit('alice', 'Passw0rd!')
        subprocess.run([...], env=kdc.env)
        kdc.keytab                      # sip/server.contoso.test, kvno 1, all enctypes
        kdc.rc4_keytab                  # sip/rc4.contoso.test, arcfour-hmac only

Everything lives below ``tmpdir`` (krb5.conf, kdc.conf, database, keytabs, ccache, kdc.log).
The KDC runs in the foreground (``krb5kdc -n``) as our child, so it is stopped by its own PID
and reaped (``wait``) on exit, on exceptions, at interpreter exit (atexit), on SIGTERM/SIGHUP
(when no other handler is installed; SIGINT raises KeyboardInterrupt anyway) and, via
PR_SET_PDEATHSIG, even if this process is killed with SIGKILL (the kernel then sends the KDC
SIGTERM; note PDEATHSIG follows the *thread* that started it).
Recipe: /work/shared/reference/test-material.md section 1.
"""

import atexit
import ctypes
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

SBIN = '/usr/sbin'
BIN = '/usr/bin'
REALM = 'CONTOSO.TEST'
OTHER_REALM = 'FABRIKAM.TEST'
MASTER_PW = 'masterpw'

USER = 'alice'
USER_PW = 'Passw0rd!'
SERVICE = 'sip/server.contoso.test'
SERVICE_PW = 'SvcPassw0rd!'
RC4_SERVICE = 'sip/rc4.contoso.test'
RC4_SERVICE_PW = 'Rc4Passw0rd!'
OTHER_SERVICE_PW = 'OtherPassw0rd!'

ENCTYPES = ['aes256-cts-hmac-sha1-96', 'aes128-cts-hmac-sha1-96',
            'aes128-cts-hmac-sha256-128', 'aes256-cts-hmac-sha384-192', 'arcfour-hmac']
ENCTYPE_NUMBERS = {17: 'aes128-cts-hmac-sha1-96', 18: 'aes256-cts-hmac-sha1-96',
                   19: 'aes128-cts-hmac-sha256-128', 20: 'aes256-cts-hmac-sha384-192',
                   23: 'arcfour-hmac'}

# The MIT tools are looked up in PATH (Debian: /usr/sbin and /usr/bin; root's PATH has both), so a
# KDC missing from PATH is a missing KDC: the tests that need it skip, and in CI
# (MSSIPAE_NO_SKIP=1, tests/integration/run.py) a skip is a failure.
REQUIRED_BINARIES = ['krb5kdc', 'kdb5_util', 'kadmin.local', 'kinit']


def tool(name):
    """Path of MIT tool name found in PATH; KdcError when it is not there."""
    p = shutil.which(name)
    if not p:
        raise KdcError('%s not found in PATH (%s); Debian packages krb5-kdc krb5-admin-server '
                       'krb5-user' % (name, os.environ.get('PATH', '')))
    return p



def ccache_keys(path):
    """[(client, server, enctype, key bytes)] of the credentials in an MIT FILE ccache (format
    version 0x0504, big endian; "ccache file format" in MIT krb5's documentation). A ccache holds
    each ticket's session key in the clear: the ticket session key the GSS context keys derive
    from, read from what MIT itself wrote. Configuration entries (X-CACHECONF:) are skipped."""
    with open(path, "rb") as f:
        b = f.read()
    pos = [0]

    def take(n):
        v = b[pos[0]:pos[0] + n]
        if len(v) != n:
            raise ValueError("truncated ccache %s" % path)
        pos[0] += n
        return v

    def u16():
        return struct.unpack(">H", take(2))[0]

    def u32():
        return struct.unpack(">I", take(4))[0]

    def data():
        return take(u32())

    def principal():
        _name_type, n = u32(), u32()
        realm = data().decode()
        return "/".join(data().decode() for _ in range(n)) + "@" + realm

    if u16() != 0x0504:
        raise ValueError("%s: not a version 4 FILE ccache" % path)
    take(u16())            # header tags
    principal()            # default principal
    out = []
    while pos[0] < len(b):
        client, server = principal(), principal()
        enctype = u16()
        key = data()
        take(4 * 4 + 1 + 4)  # times, is_skey, ticket flags
        for _ in range(u32()):  # addresses
            u16(), data()
        for _ in range(u32()):  # authdata
            u16(), data()
        data(), data()       # ticket, second ticket
        if not server.endswith("@X-CACHECONF:"):
            out.append((client, server, enctype, key))
    return out

def missing_binaries():
    """Return the KDC tools that are not installed (Debian: krb5-kdc krb5-admin-server krb5-user)."""
    return [b for b in REQUIRED_BINARIES if not shutil.which(b)]


def pid_alive(pid):
    """True if a process with this PID exists (a reaped child does not); lets tests check
    that a KDC was stopped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---- process-wide safety net: every running KDC is registered here until it is reaped ----
_live = {}
_live_lock = threading.RLock()  # re-entrant: the signal handler may interrupt a holder
_hooks_installed = False


def _kill_all_live():
    """Stop every KDC still registered (atexit / signal path)."""
    with _live_lock:
        kdcs = list(_live.values())
    for k in kdcs:
        try:
            k.stop()
        except Exception:
            pass


def _install_hooks():
    """Register atexit cleanup once; turn SIGTERM/SIGINT into exceptions if nobody else handles them."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_kill_all_live)
    if threading.current_thread() is not threading.main_thread():
        return

    def _on_signal(signum, frame):
        _kill_all_live()
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _on_signal)
        except (ValueError, OSError):
            pass
    # SIGINT already raises KeyboardInterrupt, which runs __exit__ / finally blocks.


def _pdeathsig():
    """preexec_fn: have the kernel send SIGTERM to the KDC if the Python process dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def free_port():
    """A port that is currently free for both TCP and UDP on 127.0.0.1."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind(('127.0.0.1', 0))
            port = t.getsockname()[1]
            try:
                u.bind(('127.0.0.1', port))
            except OSError:
                continue
            return port
        finally:
            t.close()
            u.close()
    raise RuntimeError('no free port found')


class KdcError(RuntimeError):
    pass


class Kdc:
    """A throw-away MIT KDC for realm CONTOSO.TEST (optionally plus FABRIKAM.TEST keytabs)."""

    def __init__(self, tmpdir, port=None, realm=REALM, second_realm=False, start_timeout=10.0,
                 trace=False):
        self.trace = trace
        self.dir = os.path.abspath(tmpdir)
        self.realm = realm
        self.requested_port = port
        self.port = None
        self.second_realm = second_realm
        self.start_timeout = start_timeout
        self.proc = None
        self.pid = None
        self.krb5_conf = os.path.join(self.dir, 'krb5.conf')
        self.kdc_conf = os.path.join(self.dir, 'kdc.conf')
        self.pidfile = os.path.join(self.dir, 'krb5kdc.pid')
        self.logfile = os.path.join(self.dir, 'kdc.log')
        self.ccache = os.path.join(self.dir, 'ccache')
        self.keytab = os.path.join(self.dir, 'sip.keytab')
        self.rc4_keytab = os.path.join(self.dir, 'rc4.keytab')
        # same service name, other realm and password: a keytab that must NOT decrypt our tickets
        self.other_realm_keytab = os.path.join(self.dir, 'other-realm.keytab') if second_realm else None
        self.env = None

    # ---- configuration ----
    def _write_configs(self):
        """Write krb5.conf (client + KDC library settings) and kdc.conf (listener, database)."""
        d, p = self.dir, self.port
        with open(self.krb5_conf, 'w') as f:
            f.write(f"""[libdefaults]
    default_realm = {self.realm}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    udp_preference_limit = 1
    allow_rc4 = true
    permitted_enctypes = {' '.join(ENCTYPES)}
    default_tkt_enctypes = {' '.join(ENCTYPES)}
    default_tgs_enctypes = {' '.join(ENCTYPES)}
    ticket_lifetime = 10h
    forwardable = false

[realms]
    {self.realm} = {{
        kdc = 127.0.0.1:{p}
    }}

[domain_realm]
    .contoso.test = {self.realm}
    contoso.test = {self.realm}
""")
        supported = ' '.join(e + ':normal' for e in ENCTYPES)
        realms = f"""    {self.realm} = {{
        database_name = {d}/principal
        key_stash_file = {d}/stash
        acl_file = {d}/kadm5.acl
        max_life = 10h
        supported_enctypes = {supported}
    }}
"""
        if self.second_realm:
            realms += f"""    {OTHER_REALM} = {{
        database_name = {d}/principal-other
        key_stash_file = {d}/stash-other
        acl_file = {d}/kadm5.acl
        max_life = 10h
        supported_enctypes = {supported}
    }}
"""
        with open(self.kdc_conf, 'w') as f:
            f.write(f"""[kdcdefaults]
    kdc_listen = 127.0.0.1:{p}
    kdc_tcp_listen = 127.0.0.1:{p}

[realms]
{realms}
[logging]
    kdc = FILE:{self.logfile}
    default = FILE:{self.logfile}
""")
        open(os.path.join(d, 'kadm5.acl'), 'w').close()
        self.env = dict(os.environ)
        self.env.update({
            'KRB5_CONFIG': self.krb5_conf,
            'KRB5_KDC_PROFILE': self.kdc_conf,
            'KRB5CCNAME': 'FILE:' + self.ccache,
            'KRB5_KTNAME': 'FILE:' + self.keytab,
            'KRB5RCACHETYPE': 'none',
        })
        self.env.pop('KRB5_CLIENT_KTNAME', None)
        self.env.pop('KRB5_TRACE', None)
        if self.trace:  # MIT trace log (key fingerprints only), for debugging
            self.env['KRB5_TRACE'] = os.path.join(d, 'krb5-trace.log')

    def _run(self, args, input_text=None, env=None):
        """Run one admin tool; raise KdcError with its output on failure."""
        r = subprocess.run(args, input=input_text, env=env or self.env, cwd=self.dir,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
        if r.returncode != 0:
            raise KdcError(f"{' '.join(args[:2])} failed ({r.returncode}): {r.stdout.strip()}")
        return r.stdout

    def kadmin(self, query, realm=None):
        """Run one kadmin.local query against the (local) database."""
        return self._run([tool('kadmin.local'), '-r', realm or self.realm, '-q', query])

    def _create_database(self):
        """Create the realm(s), the user and the service principals and the deterministic keytabs."""
        self._run([tool('kdb5_util'), 'create', '-s', '-r', self.realm, '-P', MASTER_PW])
        self.kadmin(f'addprinc -pw {USER_PW} {USER}')
        self.kadmin(f'addprinc -pw {SERVICE_PW} {SERVICE}')
        self.kadmin(f'addprinc -pw {RC4_SERVICE_PW} -e arcfour-hmac:normal {RC4_SERVICE}')
        # -norandkey keeps the password-derived keys and kvno 1: two KDCs give the same keys
        self.kadmin(f'ktadd -k {self.keytab} -norandkey {SERVICE}')
        self.kadmin(f'ktadd -k {self.rc4_keytab} -norandkey {RC4_SERVICE}')
        if self.second_realm:
            self._run([tool('kdb5_util'), 'create', '-s', '-r', OTHER_REALM, '-P', MASTER_PW])
            self.kadmin(f'addprinc -pw {OTHER_SERVICE_PW} {SERVICE}@{OTHER_REALM}', realm=OTHER_REALM)
            self.kadmin(f'ktadd -k {self.other_realm_keytab} -norandkey {SERVICE}@{OTHER_REALM}',
                        realm=OTHER_REALM)

    # ---- process control ----
    def start(self):
        """Set up and start the KDC; on any failure everything started so far is stopped."""
        _install_hooks()
        if missing_binaries():
            raise KdcError('missing ' + ', '.join(missing_binaries()) +
                           ' (Debian: krb5-kdc krb5-admin-server krb5-user)')
        os.makedirs(self.dir, exist_ok=True)
        self.port = self.requested_port or free_port()
        self._write_configs()
        self._create_database()
        attempts = 1 if self.requested_port else 3
        for attempt in range(attempts):
            try:
                self._spawn()
                return self
            except KdcError:
                # a free port may have been taken in between: retry on another one
                if attempt + 1 == attempts:
                    raise
                self.port = free_port()
                self._write_configs()
        return self

    def _spawn(self):
        """Start krb5kdc in the foreground as our child and wait until it serves."""
        try:
            os.unlink(self.pidfile)
        except FileNotFoundError:
            pass
        log = open(os.path.join(self.dir, 'krb5kdc.out'), 'wb')
        try:
            self.proc = subprocess.Popen(
                [tool('krb5kdc'), '-n', '-r', self.realm, '-P', self.pidfile],
                env=self.env, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                preexec_fn=_pdeathsig, close_fds=True)
        finally:
            log.close()
        self.pid = self.proc.pid
        with _live_lock:
            _live[id(self)] = self
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self):
        """Wait until krb5kdc has written its PID file (after binding) and answers on TCP."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise KdcError(f'krb5kdc exited with {self.proc.returncode}: {self._log_tail()}')
            if os.path.exists(self.pidfile):
                try:
                    with open(self.pidfile) as f:
                        filepid = int(f.read().strip() or 0)
                except ValueError:
                    filepid = 0
                if filepid == self.pid and self._tcp_ready():
                    return
            time.sleep(0.02)
        raise KdcError('krb5kdc did not come up: ' + self._log_tail())

    def _tcp_ready(self):
        """True if something accepts TCP connections on the KDC port."""
        try:
            with socket.create_connection(('127.0.0.1', self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def _log_tail(self):
        """Last lines of the KDC log (for error messages)."""
        out = []
        for name in (self.logfile, os.path.join(self.dir, 'krb5kdc.out')):
            try:
                with open(name, errors='replace') as f:
                    out.append(''.join(f.readlines()[-5:]).strip())
            except OSError:
                pass
        return ' | '.join(x for x in out if x)

    def running(self):
        """True while our krb5kdc child exists."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=5.0):
        """Stop the KDC by its PID (SIGTERM, then SIGKILL) and reap it; idempotent."""
        proc = self.proc
        if proc is not None:
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    try:
                        os.kill(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    proc.wait(timeout)
            self.proc = None
        with _live_lock:
            _live.pop(id(self), None)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---- client helpers ----
    def kinit(self, user=USER, password=USER_PW, enctypes=None, ccache=None):
        """Get a TGT into the ccache (default: self.ccache); enctypes = list of numbers or names
        restricting the TGT/AS session key (via an overlay krb5.conf in front of ours)."""
        env = dict(self.env)
        if ccache:
            env['KRB5CCNAME'] = ccache if ':' in ccache else 'FILE:' + ccache
        if enctypes:
            names = ' '.join(ENCTYPE_NUMBERS.get(e, e) if isinstance(e, int) else e for e in enctypes)
            overlay = os.path.join(self.dir, 'krb5-kinit-enctypes.conf')
            with open(overlay, 'w') as f:
                f.write(f'[libdefaults]\n    default_tkt_enctypes = {names}\n')
            env['KRB5_CONFIG'] = overlay + ':' + self.krb5_conf
        self._run([tool('kinit'), user], input_text=password + '\n', env=env)
        return env['KRB5CCNAME']

    def principal(self, name):
        """Fully qualified principal name in our realm."""
        return name if '@' in name else f'{name}@{self.realm}'
