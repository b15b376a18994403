"""benchgen -- benchmark captures of signed MS-SIPAE traffic, for each scheme, at any size.

    make(scheme, n_signed, out_dir, per_sa=50, unsigned_per_signed=0) -> Bench

writes, in out_dir (reused when already there: generation is the slow part):
  <name>.pcap    one UDP datagram per SIP message
  <name>.msgs    the same messages for the core micro-benchmark (bench/micro.c): "MSSIPAEB1\n",
                 then per message LE32 length, LE16 src length, LE16 dst length, src, dst, bytes
  <name>.json    {"signed": n, "messages": m, "sas": k, "prefs": {tshark preference: value}}
                 (tlsdsk: also "keylog", the key log of the same capture, see tlsdsk-keylog)

Schemes (signatures never come from the plugin):
  ntlm      SAs known from a key log (NTLM <opaque> <ExportedSessionKey>), no handshake in the
            capture; ESS + KEY_EXCH signatures from tests/gen/ntlmref.py (hashlib / hmac).
  kerberos  real MIT material: a throw-away KDC (tests/gen/kdc.py), every SA its own AP-REQ from
            MIT GSSAPI in a signed REGISTER and a 200 OK naming the opaque; every MIC made by MIT
            (tests/gen/gss.py KrbPeer); the service keytab as the key.
  tlsdsk    real GnuTLS handshakes (TLS 1.0, RSA key exchange, AES-128-CBC-SHA, client
            certificate) in Lync-style 401 legs (tests/gen/tlsdskflow.py); HMAC-SHA1 with
            GnuTLS's key block; the server's RSA key as the key. Also writes tlsdsk.keys, the
            CLIENT_RANDOM line of every handshake from GnuTLS's key-log callback.
  tlsdsk-keylog  the tlsdsk capture (the same folder) with tlsdsk.keys instead of the RSA key
            (mssipae.keylog_file): TLS-DSK without the RSA decryption of every handshake. A
            tlsdsk folder made before tlsdsk.keys existed is left alone: the capture is then
            made afresh in a folder of its own (tlsdsk-kl-...).
Each SA carries per_sa signed messages (client requests and server responses in turn, the
handshake's own included); with unsigned_per_signed = k, k unsigned SIP messages between two
other hosts follow each signed one (the realistic mix: most frames unsigned).
"""

import hashlib
import hmac
import json
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "gen"))

import ntlmref  # noqa: E402
import sipmsg  # noqa: E402
from flowlib import Flow  # noqa: E402
from pcapgen import C2S  # noqa: E402

REALM = "SIP Communications Service"
POOL = "server.contoso.test"
SERVER = ("10.1.0.1", 5061)
SCHEMES = ("ntlm", "kerberos", "tlsdsk", "tlsdsk-keylog")


class Bench(dict):
    """pcap, msgs, signed, messages, sas, prefs (see the module docstring)."""


class _Out:
    """Writes every message to the capture and to the micro-benchmark file."""

    def __init__(self, path_msgs):
        self.flow = Flow("udp")
        self.f = open(path_msgs, "wb")
        self.f.write(b"MSSIPAEB1\n")
        self.messages = 0
        self.signed = 0
        self.unsigned_link = None
        self.noise = 0

    def link(self, client, server):
        return _Link(self, self.flow.link(client, server), client, server)

    def record(self, src, dst, data):
        s = ("%s:%d" % src).encode()
        d = ("%s:%d" % dst).encode()
        self.f.write(struct.pack("<IHH", len(data), len(s), len(d)) + s + d + data)
        self.messages += 1
        self.signed += data.count(b"response=") + data.count(b"rspauth=")

    def unsigned(self, k):
        """k unsigned messages between two other hosts (keep-alive OPTIONS and their 200)."""
        if not k:
            return
        if self.unsigned_link is None:
            self.unsigned_link = self.link(("10.9.0.1", 5060), ("10.9.0.2", 5060))
        for _ in range(k):
            self.noise += 1
            hdrs = [("Via", "SIP/2.0/UDP 10.9.0.1:5060;branch=z9hG4bKn%d" % self.noise),
                    ("From", "<sip:fe1@contoso.test>;tag=n%d" % self.noise),
                    ("To", "<sip:fe2@contoso.test>"), ("Call-ID", "noise-%d" % self.noise),
                    ("CSeq", "%d OPTIONS" % self.noise)]
            if self.noise % 2:
                self.unsigned_link.c2s(sipmsg.request("OPTIONS", "sip:fe2@contoso.test", hdrs))
            else:
                self.unsigned_link.s2c(sipmsg.response(200, "OK", hdrs))

    def close(self, pcap):
        self.f.close()
        self.flow.save(pcap)


class _Link:
    """A flowlib Link that also records into _Out (the krbflow.UA link interface)."""

    def __init__(self, out, link, client, server):
        self.out, self.l, self.client, self.server = out, link, client, server

    def c2s(self, data):
        self.out.record(self.client, self.server, data)
        return self.l.c2s(data)

    def s2c(self, data):
        self.out.record(self.server, self.client, data)
        return self.l.s2c(data)


def _traffic(out, link, signer, client, n, k):
    """n signed messages on one SA: client MESSAGE requests and server 200 OKs in turn."""
    i = 0
    while i < n:
        hdrs = [("Via", "SIP/2.0/UDP %s:%d;branch=z9hG4bK%x" % (client[0], client[1], i)),
                ("From", "<sip:u@contoso.test>;tag=t%x" % id(signer)),
                ("To", "<sip:peer@contoso.test>"), ("Call-ID", "b-%x-%d" % (id(signer), i // 2)),
                ("CSeq", "%d MESSAGE" % (i // 2 + 1))]
        if i % 2 == 0:
            link.c2s(signer.sign(sipmsg.request("MESSAGE", "sip:peer@contoso.test",
                                                hdrs + [("Authorization", signer.client_header())],
                                                body=b"hello")))
        else:
            link.s2c(signer.sign(sipmsg.response(200, "OK", hdrs + [
                ("Authentication-Info", signer.server_header())])))
        out.unsigned(k)
        i += 1


def _client(i):
    return ("10.2.%d.%d" % (i // 250 % 250, i % 250 + 1), 40000 + i // 62500)


def _ntlm(out, n, per_sa, k, folder):
    lines = []
    for i in range((n + per_sa - 1) // per_sa):
        client = _client(i)
        opaque = "%08X" % (0xB0000000 + i)
        esk = (0x1234 + i).to_bytes(16, "big")
        lines.append("NTLM %s %s" % (opaque, esk.hex()))
        ks = {}
        for d in ("c2s", "s2c"):
            # RC4 re-keyed per message with MD5(SealKey || seq 100): one keystream per direction
            _sign, seal = ntlmref.ess_keys(esk, d)
            ks[d] = ntlmref.rc4(hashlib.md5(seal + struct.pack("<I", 100)).digest(), bytes(8))

        def mac(buf, d, esk=esk, ks=ks):
            sign, _seal = ntlmref.ess_keys(esk, d)
            s = struct.pack("<I", 100)
            ck = hmac.new(sign, s + buf, hashlib.md5).digest()[:8]
            return b"\x01\x00\x00\x00" + bytes(a ^ b for a, b in zip(ck, ks[d])) + s
        signer = sipmsg.SaSigner("NTLM", REALM, POOL, opaque=opaque, version=4, seed=i,
                                 client_signer=lambda b, m=mac: m(b, "c2s"),
                                 server_signer=lambda b, m=mac: m(b, "s2c"))
        _traffic(out, out.link(client, SERVER), signer, client, min(per_sa, n - i * per_sa), k)
    path = os.path.join(folder, "ntlm.keys")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return {"mssipae.keylog_file": path}, len(lines)


def _kerberos(out, n, per_sa, k, folder):
    import krbflow
    from gss import KrbPeer
    from kdc import Kdc
    kdc = Kdc(os.path.join(folder, "kdc"))
    kdc.start()
    try:
        kdc.kinit()
        keytab = os.path.join(folder, "sip.keytab")
        with open(kdc.keytab, "rb") as a, open(keytab, "wb") as b:
            b.write(a.read())
        sas = 0
        with KrbPeer(kdc, enctypes=[18]) as peer:
            while out.signed < n:
                client = _client(sas)
                ua = krbflow.UA("u%d" % sas, client, out.link(client, krbflow.SERVER),
                                rng=random.Random(sas), transport="UDP")
                s = krbflow.KrbSession(ua, peer, sa=sas + 1, opaque="%08X" % (0xC0000000 + sas))
                s.register()                       # signed REGISTER with the AP-REQ, 200 OK
                left = min(per_sa, n - out.signed + 2) - 2
                _traffic(out, ua.link, s.signer, client, max(left, 0), k)
                sas += 1
    finally:
        kdc.stop()
    return {"mssipae.keytab": keytab}, sas


def _tlsdsk(out, n, per_sa, k, folder):
    import tlsdskflow as T
    pki = T.Pki(os.path.join(folder, "pki"))
    sas = 0
    peer = None
    keylog = []
    try:
        while out.signed < n:
            if sas % 60 == 0:
                # tlsdsk_peer keeps at most 64 handshakes: a fresh one for each batch (the
                # signatures below are computed here, from the key block GnuTLS gave)
                if peer:
                    peer.close()
                peer = T.TlsDskPeer(pki)
            client = _client(sas)
            ua = T.TlsUA("u%d" % sas, client, out.link(client, SERVER), rng=random.Random(sas),
                         transport="UDP", server=SERVER)
            hs = peer.handshake(T.priority("tls10-aes128-sha"), name="b%d" % sas)
            keylog.append(hs.keylog_line())
            (s,) = T.flow_sessions(ua, [(hs, "standard", False)], sas + 1, random.Random(sas))
            # GnuTLS's key block; HMAC-SHA1 in Python (the suite's MAC)
            s.signer.client_signer = lambda b, key=hs.client_key: hmac.new(key, b, "sha1").digest()
            s.signer.server_signer = lambda b, key=hs.server_key: hmac.new(key, b, "sha1").digest()
            T.Registration(ua, [s]).register()       # the legs, signed REGISTER and 200 OK
            left = min(per_sa, n - out.signed + 2) - 2
            _traffic(out, ua.link, s.signer, client, max(left, 0), k)
            sas += 1
    finally:
        if peer:
            peer.close()
    path = os.path.join(folder, "tlsdsk.keys")
    with open(path, "w") as f:
        f.write("\n".join(line for line in keylog if line) + "\n")
    os.chmod(path, 0o644)
    return {"mssipae.tls_dsk_rsa_key": pki.server.key}, sas, {"keylog": path}


def make(scheme, n_signed, out_dir, per_sa=50, unsigned_per_signed=0):
    """The benchmark capture for scheme with n_signed signed messages (see module docstring)."""
    assert scheme in SCHEMES, scheme
    if scheme == "tlsdsk-keylog":
        b = _make("tlsdsk", n_signed, out_dir, per_sa, unsigned_per_signed)
        if not b.get("keylog"):
            b = _make("tlsdsk", n_signed, out_dir, per_sa, unsigned_per_signed, prefix="tlsdsk-kl")
        b = Bench(b)
        b["prefs"] = {"mssipae.keylog_file": b["keylog"]}
        return b
    return _make(scheme, n_signed, out_dir, per_sa, unsigned_per_signed)


def _make(scheme, n_signed, out_dir, per_sa, unsigned_per_signed, prefix=None):
    name = "%s-%d-sa%d-mix%d" % (prefix or scheme, n_signed, per_sa, unsigned_per_signed)
    folder = os.path.join(out_dir, name)
    meta = os.path.join(folder, name + ".json")
    b = Bench(pcap=os.path.join(folder, name + ".pcap"), msgs=os.path.join(folder, name + ".msgs"))
    if os.path.exists(meta):
        with open(meta) as f:
            b.update(json.load(f))
        return b
    os.makedirs(folder, exist_ok=True)
    out = _Out(b["msgs"])
    gen = {"ntlm": _ntlm, "kerberos": _kerberos, "tlsdsk": _tlsdsk}[scheme]
    prefs, sas, *more = gen(out, n_signed, per_sa, unsigned_per_signed, folder)
    out.close(b["pcap"])
    for p in prefs.values():
        os.chmod(p, 0o644)  # tshark runs as nobody when the benchmark runs as root
    b.update(signed=out.signed, messages=out.messages, sas=sas, prefs=prefs)
    for extra in more:
        b.update(extra)
    with open(meta, "w") as f:
        json.dump({k: b[k] for k in ("signed", "messages", "sas", "prefs", "keylog") if k in b}, f)
    return b
