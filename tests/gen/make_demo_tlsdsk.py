#!/usr/bin/env python3
"""make_demo_tlsdsk -- write the TLS-DSK demo captures, their keys and their tshark options.

    MSSIPAE_BUILD_DIR=<build dir with tlsdsk_peer> python3 tests/gen/make_demo_tlsdsk.py [--out DIR]

Needs the openssl command line (throw-away RSA keys and certificates) and tlsdsk_peer (GnuTLS
in memory: a client with a client certificate and a server requiring it, RSA key exchange).
Writes (default DIR: the repository's demo/ folder):

  tlsdsk-gnutls.pcap   three Lync / Skype for Business-style TLS-DSK registrations with a front end
                       over TCP, each REGISTER / 401 offering NTLM, Kerberos and TLS-DSK /
                       REGISTER with the ClientHello / 401 with the opaque and the server's flight /
                       REGISTER with the client's flight / 401 with the server's CCS + Finished /
                       signed REGISTER / signed 200 OK, then a signed SUBSCRIBE and its signed
                       200 OK and an IM relayed by the front end (signed MESSAGE) with the client's
                       signed 200 OK:
                         alice  TLS 1.0 TLS_RSA_WITH_AES_128_CBC_SHA (what Lync clients negotiate),
                                HMAC-SHA1 signatures
                         bob    TLS 1.2 TLS_RSA_WITH_AES_128_CBC_SHA256 with extended master secret,
                                HMAC-SHA256 over the TLS 1.2 PRF key block (the variant the plugin
                                names for this open case of the reference)
                         alice  again later, resuming her TLS session (abbreviated handshake:
                                ClientHello / 401 with ServerHello, CCS, Finished / signed REGISTER
                                with her CCS + Finished / signed 200 OK)
  tlsdsk-gnutls.conf   tshark options: -o / mssipae.tls_dsk_rsa_key:@DEMO@/tlsdsk-server.key
  tlsdsk-over-tls.pcap the alice registration again, inside SIP over TLS on 5061 (an outer
                       TLS 1.2 ECDHE session made by Python's ssl module)
  tlsdsk-over-tls.keys the outer session's NSS key-log lines (for tls.keylog_file)
  tlsdsk-over-tls.conf tshark options: the outer key log and the server key
  tlsdsk-server.key    the front end's RSA key (PEM PKCS#1), tlsdsk-server.p8.pem (PEM PKCS#8),
  tlsdsk-server.pfx    (PKCS#12, password "demo") and tlsdsk-server.crt -- THROW-AWAY test keys
  tlsdsk-gnutls.keys   GnuTLS's CLIENT_RANDOM key-log lines of the full handshakes of
                       tlsdsk-gnutls.pcap (GnuTLS writes none for the resumed session)
  tlsdsk-gnutls-explicit.keys  TLS-DSK <opaque> <client key> <server key> lines of its SAs

Keys, randoms and signatures are fresh on every run; run this once and commit the result. Every
signature is checked against GnuTLS's key block and against OpenSSL's TLS1-PRF before the
captures are written.
"""

import hmac
import os
import random
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import sipmsg  # noqa: E402
import tlsdskflow as T  # noqa: E402
from demolib import parse_args, write_conf  # noqa: E402
from flowlib import Flow  # noqa: E402

SERVER = ("10.0.0.10", 5060)
TLS_SERVER = ("10.0.0.10", 5061)
ALICE = ("10.0.0.21", 50123)
BOB = ("10.0.0.34", 51877)
PASSWORD = "demo"


def registration(flow, user, addr, server, hs, variant, sa, rng, transport="TCP"):
    ua = T.TlsUA(user, addr, flow.link(addr, server), rng=random.Random(user + variant),
                 transport=transport, server=server)
    sess = T.flow_sessions(ua, [(hs, variant, False)], sa, rng)
    reg = T.Registration(ua, sess)
    reg.register()
    return ua, sess[0], reg


def check(ua, sessions):
    """Every signature of ua equals the HMAC of sipmsg's buffer under the key from GnuTLS's key
    block, which must equal OpenSSL's TLS1-PRF key block."""
    by_sa = {s.sa: s for s in sessions}
    for s in sessions:
        hs = s.hs
        prf = "MD5-SHA1" if hs.facts.version < 0x0303 else hs.prf_hash
        if T.openssl_key_block(hs.master_secret, hs.client_random, hs.server_random,
                               prf) != hs.key_block:
            raise RuntimeError("%s: GnuTLS and OpenSSL key blocks differ" % hs.name)
    n = 0
    for r in ua.records:
        if not r.signed:
            continue
        s = by_sa[r.sa]
        m = sipmsg.parse(r.msg)
        value = [v for name, v in m.headers if name.lower() == r.header.lower()][0]
        params = {k.lower(): v for k, v, _q in sipmsg.parse_auth(value.strip())[1]}
        sig = bytes.fromhex(params.get("response") or params["rspauth"])
        key = s.hs.server_key if "rspauth" in params else s.hs.client_key
        want = hmac.new(key, r.buf, s.hs.mac.lower()).digest()   # Python's HMAC: a third opinion
        if sig != want:
            raise RuntimeError("frame %d: signature does not verify" % r.frame)
        n += 1
    return n


def make(out):
    tmp = tempfile.mkdtemp(prefix="mssipae-demo-tlsdsk-")
    try:
        pki = T.Pki(os.path.join(tmp, "pki"), password=PASSWORD)
        rng = random.Random(2010)
        with T.TlsDskPeer(pki) as peer:
            a = peer.handshake(T.priority("tls10-aes128-sha", ems=False), name="alice")
            b = peer.handshake(T.priority("tls12-aes128-sha256"), name="bob")
            a2 = peer.handshake(T.priority("tls10-aes128-sha", ems=False), resume=a,
                                name="alice-resumed")
            flow = Flow("tcp")
            cap = flow.cap
            ua1, s1, r1 = registration(flow, "alice", ALICE, SERVER, a, "standard", 1, rng)
            cap.advance(0.4)
            r1.traffic("bob")
            cap.advance(6.2)
            ua2, s2, r2 = registration(flow, "bob", BOB, SERVER, b, "standard", 2, rng)
            cap.advance(0.3)
            r2.traffic("alice")
            cap.advance(31.5)
            alice2 = (ALICE[0], ALICE[1] + 1)
            ua3, s3, r3 = registration(flow, "alice", alice2, SERVER, a2, "resumed", 3, rng)
            cap.advance(0.2)
            r3.traffic("carol")
            n = sum(check(ua, [s]) for ua, s in ((ua1, s1), (ua2, s2), (ua3, s3)))
            pcap = flow.save(os.path.join(out, "tlsdsk-gnutls.pcap"))
            sessions = [s1, s2, s3]

            keys = os.path.join(tmp, "outer.keys")
            tflow = Flow("tls", keylog_path=keys)
            ua4, s4, r4 = registration(tflow, "alice", ALICE, TLS_SERVER, a, "standard", 1,
                                       random.Random(2013), transport="TLS")
            r4.traffic("bob")
            n4 = check(ua4, [s4])
            tpcap = tflow.save(os.path.join(out, "tlsdsk-over-tls.pcap"))
        with open(keys) as f:
            outer = f.read()
        with open(os.path.join(out, "tlsdsk-over-tls.keys"), "w") as f:
            f.write("# NSS key log of the OUTER TLS session of tlsdsk-over-tls.pcap (written by\n"
                    "# Python's ssl module); throw-away test material\n" + outer)
        for src, dst in ((pki.server.key, "tlsdsk-server.key"),
                         (pki.server.key_pkcs8, "tlsdsk-server.p8.pem"),
                         (pki.server.pfx, "tlsdsk-server.pfx"),
                         (pki.server.cert, "tlsdsk-server.crt")):
            shutil.copyfile(src, os.path.join(out, dst))
            os.chmod(os.path.join(out, dst), 0o644)
        with open(os.path.join(out, "tlsdsk-gnutls.keys"), "w") as f:
            f.write("# GnuTLS's CLIENT_RANDOM lines of tlsdsk-gnutls.pcap (none for the resumed\n"
                    "# session: its master secret comes from alice's first handshake)\n")
            f.write("".join(s.hs.keylog_line() + "\n" for s in sessions if s.hs.keylog_line()))
        with open(os.path.join(out, "tlsdsk-gnutls-explicit.keys"), "w") as f:
            f.write("# TLS-DSK <opaque> <client key> <server key> of each SA of "
                    "tlsdsk-gnutls.pcap\n")
            f.write("".join(s.hs.explicit_line(s.opaque) + "\n" for s in sessions))
        write_conf(os.path.join(out, "tlsdsk-gnutls.conf"),
                   ["tshark options for tlsdsk-gnutls.pcap, one argument per line (@DEMO@ is the",
                    "demo folder): the front end's throw-away RSA key, PEM PKCS#1",
                    "(tests/gen/make_demo_tlsdsk.py)"],
                   ["-o", "mssipae.tls_dsk_rsa_key:@DEMO@/tlsdsk-server.key"])
        write_conf(os.path.join(out, "tlsdsk-over-tls.conf"),
                   ["tshark options for tlsdsk-over-tls.pcap: Wireshark decrypts the outer TLS",
                    "with its key log, the plugin the inner TLS-DSK handshake with the RSA key",
                    "(tests/gen/make_demo_tlsdsk.py)"],
                   ["-o", "tls.keylog_file:@DEMO@/tlsdsk-over-tls.keys",
                    "-o", "mssipae.tls_dsk_rsa_key:@DEMO@/tlsdsk-server.key"])
        return (pcap, n), (tpcap, n4)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    args = parse_args(__doc__, "tlsdsk_peer")
    for pcap, n in make(args.out):
        print("%s: %d signed headers, each checked" % (pcap, n))


if __name__ == "__main__":
    main()
