"""tlsdskflow -- Lync/SfB-like TLS-DSK [MS-SIPAE] SIP flows from real GnuTLS handshakes.

Shared by tests/integration/test_tlsdsk_e2e.py and tests/gen/make_demo_tlsdsk.py. Nothing here
imports or runs the plugin. Three independent parts:

* ``Pki(folder)``: throw-away RSA-2048 keys and self-signed certificates made with the openssl
  command line -- the front end ``server`` (CN=server.contoso.test) as PEM PKCS#1, PEM PKCS#8,
  PKCS#12 with a password (OpenSSL 3 defaults: PBES2/AES-256-CBC, HMAC-SHA256 MAC), PKCS#12 the
  way the Windows certificate store has long exported them (``openssl pkcs12 -legacy``: key
  PBE-SHA1-3DES, certificates PBE-SHA1-RC2-40, SHA-1 MAC) and PKCS#12 with an empty password;
  ``other`` (another server's key:
  the "wrong key" case); the ``client`` certificate TLS-DSK requires. ``Identity.thumbprint`` is
  the SHA-1 of the certificate DER, upper-case hex (what Windows shows).
* ``TlsDskPeer(pki)``: drives tests/gen/tlsdsk_peer (GnuTLS client with a client certificate and
  GnuTLS server, in memory). ``peer.handshake(priority, resume=None, tickets=False,
  coalesce=False) -> Handshake`` with the flights each side sent, GnuTLS's own facts (version,
  suite, EMS, randoms, master secret), the reference key block ``gnutls_prf_raw(master secret,
  "client EAP encryption", cr || sr, 128)``, GnuTLS's key-log line and ``hs.hmac(side, data)``
  (``gnutls_hmac_fast`` with the client key kb[64..96) or the server key kb[96..128)).
  ``hs.facts`` is an independent walk of the recorded bytes (records, hellos, Certificate);
  ``openssl_key_block(...)`` recomputes the key block with ``openssl kdf ... TLS1-PRF``.
* ``TlsDskSession`` / ``register(ua, sessions)``: SIP messages around the flights, sent through a
  krbflow.UA (tests/gen/krbflow.py) on a flowlib Link, with signature buffers from sipmsg (the
  independent builder) and HMACs from GnuTLS.

The registration (ms-sipae.md 5.1; one SA, ``variant="standard"``)::

    REGISTER (no credentials)           -> 401 offering NTLM, Kerberos, TLS-DSK (version 4)
    REGISTER gssapi-data=ClientHello    -> 401 opaque, gssapi-data=ServerHello..ServerHelloDone
    REGISTER opaque, gssapi-data=Certificate, ClientKeyExchange, CertificateVerify, CCS, Finished
                                        -> 401 opaque, gssapi-data=CCS, Finished
    REGISTER signed (cnum 1)            -> 200 OK signed (snum 1)

then ``traffic()``: a signed SUBSCRIBE and its signed 200 OK, a MESSAGE relayed by the front end
(signed by the server, with PAI sip + tel) and the client's signed 200 OK. Variants:

    "split-ch"      the ClientHello record cut in the middle over two REGISTERs (the 401 between
                    them names the opaque, without gssapi-data)
    "split-server"  the server's first flight cut inside its Certificate over two 401s (the
                    REGISTER between them carries the opaque and an empty gssapi-data="")
    "coalesced"     the handshake made with tlsdsk_peer's "c" flag: one record holds several
                    handshake messages in each flight
    "finish-200"    no fourth leg: the server's CCS + Finished ride in the gssapi-data of the
                    signed 200 OK's Authentication-Info; the REGISTER with the client flight is
                    not signed
    "resumed"       an abbreviated handshake (Handshake made with resume=...): ClientHello ->
                    401 with ServerHello, CCS, Finished -> REGISTER with the client's CCS +
                    Finished, already signed (cnum 1: the client has its keys) -> 200 OK signed

A proxy SA (407 / Proxy-Authenticate / Proxy-Authorization / Proxy-Authentication-Info) is made
with ``TlsDskSession(..., proxy=True)``; ``register(ua, [proxy, registrar])`` runs the proxy's
legs first, then the registrar's with every message also signed on the proxy SA (a message then
carries two signatures), and the 200 OK signed on both.

Which HMAC signs (``signing_mac``): the suite's MAC hash -- MD5 for *_MD5 suites, SHA-1 for *_SHA,
SHA-256 for *_SHA256 -- and for AEAD suites (no MAC hash) the PRF hash (SHA-384 for *_SHA384),
over the key block of the negotiated version's PRF (TLS 1.2: P_SHA256 / P_SHA384). For TLS
1.0/1.1 this is what real Lync/SfB do (ms-sipae.md 8); for TLS 1.2 it is this suite's choice for
an open question (ms-sipae.md 11.2): the plugin must find it among its candidates and name it.
"""

import base64
import hashlib
import os
import subprocess
from collections import namedtuple

import krbflow
import sipmsg
from gss import _Peer, tool
from krbflow import REALM, POOL, answer, offers

EAP_LABEL = b"client EAP encryption"


def _prio(version, cipher, mac, kx="RSA", ems=True):
    p = "NORMAL:-VERS-ALL:+VERS-%s:-KX-ALL:+%s:-CIPHER-ALL:+%s:-MAC-ALL:+%s" % (version, kx, cipher,
                                                                                mac)
    return p if ems else p + ":%NO_SESSION_HASH"


# name -> (GnuTLS priority string, expected suite id, expected version); RSA key exchange unless
# the name says ECDHE
SUITES = {
    "tls10-rc4-md5": ("TLS1.0", "ARCFOUR-128", "MD5", "RSA", 0x0004, 0x0301),
    "tls10-aes128-sha": ("TLS1.0", "AES-128-CBC", "SHA1", "RSA", 0x002F, 0x0301),
    "tls11-aes128-sha": ("TLS1.1", "AES-128-CBC", "SHA1", "RSA", 0x002F, 0x0302),
    "tls12-aes128-sha": ("TLS1.2", "AES-128-CBC", "SHA1", "RSA", 0x002F, 0x0303),
    "tls12-aes128-sha256": ("TLS1.2", "AES-128-CBC", "SHA256", "RSA", 0x003C, 0x0303),
    "tls12-ecdhe-aes256-gcm-sha384": ("TLS1.2", "AES-256-GCM", "AEAD", "ECDHE-RSA", 0xC030, 0x0303),
    "tls12-dhe-aes128-sha256": ("TLS1.2", "AES-128-CBC", "SHA256", "DHE-RSA", 0x0067, 0x0303),
}


def priority(suite, ems=True):
    """GnuTLS priority string of a SUITES entry, with or without extended master secret."""
    v, c, m, kx = SUITES[suite][:4]
    return _prio(v, c, m, kx, ems)


# ---------------------------------------------------------------- keys and certificates

def _openssl(*args, inp=None):
    return subprocess.run(["openssl"] + list(args), check=True, input=inp,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout


class Identity:
    """One RSA key and its self-signed certificate, in the forms administrators have."""

    def __init__(self, folder, name, subject, password="secret"):
        base = os.path.join(folder, name)
        self.name, self.subject, self.password = name, subject, password
        self.key = base + ".key"                # PEM PKCS#1 ("BEGIN RSA PRIVATE KEY")
        self.key_pkcs8 = base + ".p8.pem"       # PEM PKCS#8 ("BEGIN PRIVATE KEY")
        self.cert = base + ".crt"               # PEM certificate
        self.pfx = base + ".pfx"                # PKCS#12, OpenSSL 3 defaults
        self.pfx_legacy = base + "-legacy.pfx"  # PKCS#12, 3DES key, RC2-40 certs, SHA-1 MAC
        self.pfx_nopass = base + "-nopass.pfx"  # PKCS#12, OpenSSL 3 defaults, empty password
        _openssl("genrsa", "-traditional", "-out", self.key, "2048")
        _openssl("pkcs8", "-topk8", "-nocrypt", "-in", self.key, "-out", self.key_pkcs8)
        _openssl("req", "-new", "-x509", "-key", self.key, "-out", self.cert, "-days", "3650",
                 "-sha256", "-subj", subject)
        _openssl("pkcs12", "-export", "-inkey", self.key, "-in", self.cert, "-out", self.pfx,
                 "-name", name, "-passout", "pass:" + password)
        _openssl("pkcs12", "-export", "-legacy", "-inkey", self.key, "-in", self.cert,
                 "-out", self.pfx_legacy, "-name", name, "-passout", "pass:" + password)
        _openssl("pkcs12", "-export", "-inkey", self.key, "-in", self.cert,
                 "-out", self.pfx_nopass, "-name", name, "-passout", "pass:")
        self.der = _openssl("x509", "-in", self.cert, "-outform", "DER")
        for p in (self.key, self.key_pkcs8, self.pfx, self.pfx_legacy, self.pfx_nopass):
            os.chmod(p, 0o644)   # tshark runs as nobody in the tests; these keys are throw-away

    @property
    def thumbprint(self):
        """SHA-1 of the certificate DER, upper-case hex (the Windows certificate thumbprint)."""
        return hashlib.sha1(self.der).hexdigest().upper()


class Pki:
    """The server, another server (wrong key) and the client certificate; see module docstring."""

    def __init__(self, folder, password="secret"):
        os.makedirs(folder, exist_ok=True)
        self.folder = folder
        self.server = Identity(folder, "fe1", "/O=Contoso/CN=%s" % POOL, password)
        self.other = Identity(folder, "fe2", "/O=Fabrikam/CN=edge.fabrikam.test", password)
        self.client = Identity(folder, "alice", "/O=Contoso/CN=alice@contoso.test", password)


# ---------------------------------------------------------------- an independent TLS walk

class TlsParseError(ValueError):
    pass


def records(data):
    """[(content type, version, fragment)] of a byte string made of whole TLS records."""
    out, i = [], 0
    while i < len(data):
        if i + 5 > len(data):
            raise TlsParseError("truncated record header at %d" % i)
        n = int.from_bytes(data[i + 3:i + 5], "big")
        if i + 5 + n > len(data):
            raise TlsParseError("truncated record at %d" % i)
        out.append((data[i], int.from_bytes(data[i + 1:i + 3], "big"), data[i + 5:i + 5 + n]))
        i += 5 + n
    return out


def handshake_messages(data):
    """[(type, body)] of the plaintext handshake messages (those before ChangeCipherSpec) of one
    flight, reassembled across records (RFC 5246 6.2.1, 7.4)."""
    stream = b""
    for ctype, _v, frag in records(data):
        if ctype == 20:
            break
        if ctype == 22:
            stream += frag
    out, i = [], 0
    while i + 4 <= len(stream):
        n = int.from_bytes(stream[i + 1:i + 4], "big")
        out.append((stream[i], stream[i + 4:i + 4 + n]))
        i += 4 + n
    return out


def _hello(body, server):
    """Fields of a ClientHello / ServerHello body (RFC 5246 7.4.1.2-3; RFC 7627 extension 23)."""
    version = int.from_bytes(body[0:2], "big")
    rnd = body[2:34]
    sl = body[34]
    sid = body[35:35 + sl]
    i = 35 + sl
    if server:
        suites = [int.from_bytes(body[i:i + 2], "big")]
        i += 3
    else:
        n = int.from_bytes(body[i:i + 2], "big")
        suites = [int.from_bytes(body[i + 2 + k:i + 4 + k], "big") for k in range(0, n, 2)]
        i += 2 + n
        i += 1 + body[i]
    exts = {}
    if i + 2 <= len(body):
        end = i + 2 + int.from_bytes(body[i:i + 2], "big")
        i += 2
        while i + 4 <= end:
            t, n = int.from_bytes(body[i:i + 2], "big"), int.from_bytes(body[i + 2:i + 4], "big")
            exts[t] = body[i + 4:i + 4 + n]
            i += 4 + n
    return version, rnd, sid, suites, exts


Facts = namedtuple("Facts", "version suite client_random server_random session_id ems ticket "
                            "server_cert client_cert resumed")


def walk(flights):
    """Facts read from the recorded flights alone (no GnuTLS): the ServerHello's version, suite,
    random and session id; EMS when both hellos carry extension 23; whether the ClientHello
    presents a session ticket (extension 35, non-empty); the first certificate of the server's
    and the client's Certificate messages (DER); resumed = the server's first flight has no
    Certificate."""
    c_msgs = [m for d, b in flights if d == "c2s" for m in handshake_messages(b)]
    s_msgs = [m for d, b in flights if d == "s2c" for m in handshake_messages(b)]
    ch = [b for t, b in c_msgs if t == 1][0]
    sh = [b for t, b in s_msgs if t == 2][0]
    _cv, crnd, _csid, _csuites, cext = _hello(ch, False)
    sv, srnd, ssid, ssuite, sext = _hello(sh, True)

    def first_cert(msgs):
        for t, b in msgs:
            if t == 11 and len(b) > 6:
                n = int.from_bytes(b[3:6], "big")
                return b[6:6 + n]
        return None

    scert = first_cert(s_msgs)
    return Facts(sv, ssuite[0], crnd, srnd, ssid, 23 in cext and 23 in sext,
                 bool(cext.get(35)), scert, first_cert(c_msgs), scert is None)


def openssl_key_block(master_secret, client_random, server_random, prf_hash):
    """The key block from OpenSSL's TLS1-PRF (a second implementation): prf_hash MD5-SHA1 for
    TLS 1.0/1.1, SHA256 / SHA384 for TLS 1.2."""
    seed = EAP_LABEL + client_random + server_random
    out = _openssl("kdf", "-keylen", "128", "-kdfopt", "digest:" + prf_hash,
                   "-kdfopt", "hexsecret:" + master_secret.hex(),
                   "-kdfopt", "hexseed:" + seed.hex(),
                   "TLS1-PRF")
    return bytes.fromhex(out.decode().strip().replace(":", ""))


# ---------------------------------------------------------------- GnuTLS handshakes

def signing_mac(info):
    """The HMAC hash that signs (GnuTLS name): the suite's MAC hash; for AEAD suites the PRF
    hash. See the module docstring."""
    return info["prf"] if info["mac"] == "AEAD" else info["mac"]


class Handshake:
    """One recorded GnuTLS handshake; see the module docstring."""

    def __init__(self, peer, n, info, flights, name=None):
        self.peer, self.n, self.info, self.name = peer, n, info, name
        self.flights = flights                      # [("c2s" | "s2c", bytes)] in order
        self.client_random = bytes.fromhex(info["crandom"])
        self.server_random = bytes.fromhex(info["srandom"])
        self.master_secret = bytes.fromhex(info["ms"])
        self.key_block = bytes.fromhex(info["keyblock"])
        self.client_key, self.server_key = self.key_block[64:96], self.key_block[96:128]
        self.ems = info["ems"] == "1"
        self.resumed = info["resumed"] == "1"
        self.mac = signing_mac(info)
        self.facts = walk(flights)

    def hmac(self, side, data):
        """HMAC-<mac> of data with the client or server key, computed by GnuTLS."""
        return bytes.fromhex(self.peer.call("hmac", str(self.n), "%s:%s" % (side, self.mac),
                                            data.hex() if data else "-")[0])

    def client_signer(self, buf):
        return self.hmac("client", buf)

    def server_signer(self, buf):
        return self.hmac("server", buf)

    def keylog_line(self):
        """The NSS key-log line from GnuTLS's key-log callback (None: GnuTLS wrote none, as for
        a resumed session)."""
        kl = self.info["keylog"]
        if kl == "-":
            return None
        label, secret = kl.split(":")
        return "%s %s %s" % (label, self.client_random.hex(), secret)

    def explicit_line(self, opaque):
        """The key-log line naming the keys directly (design.md key-log format)."""
        return "TLS-DSK %s %s %s" % (opaque, self.client_key.hex(), self.server_key.hex())

    @property
    def prf_hash(self):
        return self.info["prf"]

    def flight(self, k):
        return self.flights[k][1]


class TlsDskPeer(_Peer):
    """tests/gen/tlsdsk_peer as a child process (gss._Peer's line protocol)."""

    def __init__(self, pki, bdir=None, server=None, client=None):
        server = server or pki.server
        client = client or pki.client
        super().__init__([tool("tlsdsk_peer", bdir), server.cert, server.key, client.cert,
                          client.key], None)
        self.handshakes = []

    def handshake(self, priority, resume=None, tickets=False, coalesce=False, name=None):
        flags = ("t" if tickets else "") + ("c" if coalesce else "") or "-"
        n = int(self.call("hs", priority, "-" if resume is None else str(resume.n), flags)[0])
        info = dict(w.split("=", 1) for w in self.call("info", str(n)))
        flights = [(f[:3], bytes.fromhex(f[4:])) for f in self.call("flights", str(n))]
        hs = Handshake(self, n, info, flights, name)
        self.handshakes.append(hs)
        return hs

    def pkcs12_key_ids(self, path, password):
        """(private key id, certificate key id) of a PKCS#12 file as GnuTLS reads it."""
        return tuple(self.call("p12", path, password or "-"))

    def key_id(self, pem):
        return self.call("keyid", pem)[0]


# ---------------------------------------------------------------- SIP flows

def b64(data):
    return base64.b64encode(data).decode("ascii")


Family = namedtuple("Family", "kind challenge client info code reason")
REGISTRAR = Family("registrar", "WWW-Authenticate", "Authorization", "Authentication-Info", 401,
                   "Unauthorized")
PROXY = Family("proxy", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Authentication-Info",
               407, "Proxy Authentication Required")
VARIANTS = ("standard", "split-ch", "split-server", "coalesced", "finish-200", "resumed")


class TlsUA(krbflow.UA):
    """krbflow.UA whose records can name a different SA per header family (a message signed on
    a proxy SA and a registrar SA at once), and which can change messages in place on their
    way out (self.tamper: {role: function(bytes) -> bytes}) for the tampering tests."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.tamper = {}
        self.tampered = {}      # frame -> (role, message as built, message as sent)

    def _send(self, direction, msg, role, sa, before_opaque=False):
        fn = self.tamper.get(role)
        orig = msg
        if fn is not None:
            msg = fn(msg)
        n = len(self.records)
        frame = super()._send(direction, msg, role, -1 if isinstance(sa, dict) else sa,
                              before_opaque)
        if fn is not None:
            self.tampered[frame] = (role, orig, msg)
        if isinstance(sa, dict):
            for i in range(n, len(self.records)):
                r = self.records[i]
                if r.sa == -1:
                    kind = "proxy" if r.header.lower().startswith("proxy-") else "registrar"
                    self.records[i] = r._replace(sa=sa[kind])
        return frame


class TlsDskSession:
    """One TLS-DSK SA between a TlsUA and the front end, from one Handshake."""

    def __init__(self, ua, hs, sa, opaque, proxy=False, variant="standard", target=POOL):
        assert variant in VARIANTS
        assert (variant == "resumed") == hs.resumed, (variant, hs.resumed)
        self.ua, self.hs, self.sa, self.opaque, self.variant = ua, hs, sa, opaque, variant
        self.fam = PROXY if proxy else REGISTRAR
        self.target = target
        ua.versions[sa] = 4
        self.signer = sipmsg.SaSigner("TLS-DSK", REALM, target, opaque=None, version=4,
                                      client_signer=hs.client_signer,
                                      server_signer=hs.server_signer,
                                      seed=ua.rng.getrandbits(32))

    def handshake_header(self, gss=None, opaque=True):
        """Client handshake header value (unsigned): qop, realm, [opaque], targetname, version,
        [gssapi-data]."""
        p = [("qop", "auth"), ("realm", REALM)]
        if opaque:
            p.append(("opaque", self.opaque))
        p += [("targetname", self.target), ("version", "4")]
        if gss is not None:
            p.append(("gssapi-data", b64(gss)))
        return (self.fam.client, sipmsg.auth_header("TLS-DSK", p))

    def challenge_header(self, gss=None):
        """Server challenge value with the opaque, in the Lync order."""
        p = [("opaque", self.opaque)]
        if gss is not None:
            p.append(("gssapi-data", b64(gss)))
        p += [("targetname", self.target), ("realm", REALM), ("version", "4")]
        return (self.fam.challenge, sipmsg.auth_header("TLS-DSK", p))


def _cut(data):
    """Where a flight is cut over two SIP messages: its middle, which must fall inside a record
    (the ClientHello record; the server's Certificate record) so the verifier has to join
    records across messages, not only whole records."""
    k = len(data) // 2
    i = 0
    while i < len(data):
        end = i + 5 + int.from_bytes(data[i + 3:i + 5], "big")
        if i + 5 < k < end:
            return k
        i = end
    raise ValueError("the middle of the flight is not inside a record")


class Registration:
    """register(): the whole registration of one TlsUA over its sessions (see module
    docstring); then traffic() on every session."""

    def __init__(self, ua, sessions, srv_tag=None):
        self.ua, self.sessions = ua, sessions
        self.srv_tag = srv_tag or ua.hex(32).upper()
        self.done = []

    # ---- signatures of the SAs already up ----
    def _sa_map(self, extra=None):
        """{header family: SA number} for the records of one message."""
        return {s.fam.kind: s.sa for s in self.done + ([extra] if extra else [])}

    def _client_sigs(self, sessions):
        return [(s.fam.client, s.signer.client_header()) for s in sessions]

    def _server_sigs(self, sessions, gss=None):
        return [(s.fam.info, s.signer.server_header(
            extra=[("gssapi-data", b64(gss))] if gss is not None and s is sessions[-1] else []))
                for s in sessions]

    def _sign(self, msg, sessions):
        """Sign every SIG placeholder with the session of its header family."""
        m = sipmsg.parse(msg)
        by_kind = {s.fam.kind: s for s in sessions}
        fns = []
        for name, raw in m.headers:
            if sipmsg.SIG in raw:
                s = by_kind["proxy" if name.lower().startswith("proxy-") else "registrar"]
                fns.append(s.signer.server_signer if name.lower() in sipmsg.SERVER_HEADERS
                           else s.signer.client_signer)
        return sipmsg.sign(msg, fns, version=4) if fns else msg

    def _req(self, role, auths, sign_with, cur=None):
        msg = self.ua.register_req(self._client_sigs(sign_with) + list(auths))
        msg = self._sign(msg, sign_with)
        self.ua.c2s(msg, role, self._sa_map(cur))
        return msg

    def _resp(self, req, role, code, reason, auths, sign_with, cur=None, extra=(), gss=None):
        first = [("ms-keep-alive", "UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300")]
        msg = answer(req, code, reason, to_tag=self.srv_tag, first=first,
                     auths=self._server_sigs(sign_with, gss) + list(auths),
                     extra=list(extra) + [("Server", krbflow.SERVER_STRING)])
        msg = self._sign(msg, sign_with)
        self.ua.s2c(msg, role, self._sa_map(cur))
        return msg

    def _ok_extra(self):
        ua = self.ua
        return [("Contact", '<sip:%s:%d;transport=%s;ms-opaque=%s>;expires=7200;+sip.instance="%s"'
                            % (ua.addr[0], ua.addr[1], ua.transport.lower(), ua.hex(10),
                               ua.instance)),
                ("Expires", "7200"), ("presence-state", 'register-action="added"'),
                ("Allow-Events", "vnd-microsoft-provisioning,vnd-microsoft-roaming-contacts,"
                                 "presence,presence.wpending")]

    def register(self):
        """All the legs of every session, then the signed REGISTER / 200 OK."""
        req = self.ua.register_req()
        self.ua.c2s(req, "register", {})
        pending = None      # the state after the last session's legs
        for s in self.sessions:
            d = list(self.done)
            self._resp(req, "%s-offers" % s.fam.code, s.fam.code, s.fam.reason,
                       [(s.fam.challenge, o) for o in offers(4, "sip/" + s.target)], d, cur=s)
            req, pending = self._legs(s, d)
            self.done.append(s)
            if pending == "signed-request-due":
                req = self._req("register-signed", [], self.done)
            elif pending == "finished":
                return req
        self._resp(req, "200-register", 200, "OK", [], self.done, extra=self._ok_extra())
        return req

    def _legs(self, s, d):
        """The handshake legs of session s; d: the sessions already up (they sign too)."""
        f = s.hs.flights
        fam = s.fam
        code, reason = fam.code, fam.reason
        ch = f[0][1]
        if s.variant == "split-ch":
            k = _cut(ch)
            req = self._req("register-ch", [s.handshake_header(ch[:k], opaque=False)], d, cur=s)
            self._resp(req, "%d-opaque" % code, code, reason, [s.challenge_header()], d, cur=s)
            req = self._req("register-ch2", [s.handshake_header(ch[k:])], d, cur=s)
        else:
            req = self._req("register-ch", [s.handshake_header(ch, opaque=False)], d, cur=s)
        s1 = f[1][1]
        if s.variant == "split-server":
            k = _cut(s1)
            self._resp(req, "%d-sflight" % code, code, reason, [s.challenge_header(s1[:k])], d,
                       cur=s)
            # the client acknowledges the fragment with an empty token (as EAP-TLS peers do)
            req = self._req("register-more", [s.handshake_header(b"")], d, cur=s)
            self._resp(req, "%d-sflight2" % code, code, reason, [s.challenge_header(s1[k:])], d,
                       cur=s)
        else:
            self._resp(req, "%d-sflight" % code, code, reason, [s.challenge_header(s1)], d,
                       cur=s)
        s.signer.opaque = s.opaque
        c1 = f[2][1]
        if s.variant == "resumed":
            # abbreviated: the client has its keys once it has the server's Finished
            msg = self.ua.register_req(self._client_sigs(d) + [(fam.client, s.signer.client_header(
                extra=[("gssapi-data", b64(c1))]))])
            msg = self._sign(msg, d + [s])
            self.ua.c2s(msg, "register-cflight", self._sa_map(s))
            return msg, "responded-by-caller"
        req = self._req("register-cflight", [s.handshake_header(c1)], d, cur=s)
        s2 = f[3][1]
        if s.variant == "finish-200":
            self._resp(req, "200-register", 200, "OK", [], d + [s], cur=s,
                       extra=self._ok_extra(), gss=s2)
            return req, "finished"
        self._resp(req, "%d-finished" % code, code, reason, [s.challenge_header(s2)], d, cur=s)
        return req, "signed-request-due"

    # ---- traffic on every SA (each message signed on all of them) ----
    def traffic(self, peer_user="bob"):
        ua, ss = self.ua, self.done
        sub = ua.request("SUBSCRIBE", auths=self._client_sigs(ss), extra=[
            ("Event", "vnd-microsoft-roaming-contacts"),
            ("Accept", "application/vnd-microsoft-roaming-contacts+xml"),
            ("Supported", "com.microsoft.autoextend"), ("Supported", "ms-benotify")])
        sub = self._sign(sub, ss)
        ua.c2s(sub, "subscribe", self._sa_map())
        body = (b'<contactList deltaNum="1" xmlns="http://schemas.microsoft.com/2006/09/sip/'
                b'roaming-contacts"><group id="1" name="~" externalURI=""/></contactList>')
        ok = answer(sub, 200, "OK", to_tag=ua.hex(10), auths=self._server_sigs(ss),
                    extra=[("Expires", "32450"), ("Require", "ms-benotify"),
                           ("Content-Type", "application/vnd-microsoft-roaming-contacts+xml"),
                           ("Server", krbflow.SERVER_STRING)], body=body)
        ua.s2c(self._sign(ok, ss), "200-subscribe", self._sa_map())
        text = ("Hello from %s\r\n" % peer_user.capitalize()).encode()
        msg = ua.server_request("MESSAGE", peer_user, auths=self._server_sigs(ss), extra=[
            ("P-Asserted-Identity", '"%s Jones" <sip:%s@%s>, <tel:+14255550142;ext=42>' % (
                peer_user.capitalize(), peer_user, krbflow.DOMAIN)),
            ("Content-Type", "text/plain; charset=UTF-8")], body=text)
        msg = self._sign(msg, ss)
        ua.s2c(msg, "message", self._sa_map())
        ok = answer(msg, 200, "OK", to_tag=ua.hex(10), auths=self._client_sigs(ss),
                    extra=[("User-Agent", krbflow.UA_STRING)])
        ua.c2s(self._sign(ok, ss), "200-message", self._sa_map())


def flow_sessions(ua, specs, first_sa, rng):
    """TlsDskSessions for one UA from [(Handshake, variant, proxy)], SA numbers from first_sa in
    order (the order the plugin creates them: first ClientHello first)."""
    out = []
    for i, (hs, variant, proxy) in enumerate(specs):
        out.append(TlsDskSession(ua, hs, first_sa + i, "%08X" % rng.getrandbits(32), proxy=proxy,
                                 variant=variant))
    return out
