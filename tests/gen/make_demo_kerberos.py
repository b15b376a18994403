#!/usr/bin/env python3
"""make_demo_kerberos -- write the Kerberos demo capture, its keytab and its tshark options.

    MSSIPAE_BUILD_DIR=<build dir with krb_peer> python3 tests/gen/make_demo_kerberos.py [--out DIR]

Needs the Debian packages krb5-kdc, krb5-admin-server and krb5-user (a throw-away MIT KDC runs
on loopback in a temporary folder while the material is made, and is stopped by its PID at the
end, also on errors). Writes (default DIR: the repository's demo/ folder):

  kerberos-mit.pcap   two Skype for Business-style clients registering with a front end over TCP
                      with real MIT Kerberos material (GSSAPI one leg, Identify + Integrity, the
                      MS-SIPAE way): REGISTER / 401 offering NTLM, Kerberos and TLS-DSK
                      (version 4) / REGISTER with the AP-REQ (signed, cnum 1) / 200 OK signed
                      with the opaque, then a signed SUBSCRIBE and its signed 200 OK, and an IM
                      relayed by the front end (signed MESSAGE) with the client's signed 200 OK.
                      alice@CONTOSO.TEST uses aes256-cts-hmac-sha1-96 (RFC 4121 MIC tokens),
                      bob@CONTOSO.TEST arcfour-hmac (RFC 4757 tokens, as older AD clients do).
  sip.keytab          the keytab of sip/server.contoso.test@CONTOSO.TEST (kvno 1, all five
                      enctypes, keys derived from a fixed password: the same on every run)
  kerberos-mit.conf   the tshark options, one argument per line, @DEMO@ = the demo folder:
                      -o / mssipae.keytab:@DEMO@/sip.keytab

Tickets and session keys are fresh on every run (the capture differs each time, the keytab does
not); run this once and commit the result. Every signed message is checked with the GSS peers
before the capture is written.
"""

import os
import random
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import krbflow  # noqa: E402
from demolib import parse_args, write_conf  # noqa: E402
from flowlib import Flow  # noqa: E402

SERVER = ("10.0.0.10", 5060)
ALICE = ("10.0.0.21", 50123)
BOB = ("10.0.0.34", 51877)
BOB_PW = "Sailboat#Harb9"


def session(kdc, flow, rng, user, addr, enctype, sa, ccache, peers):
    """One client's registration (its GSS peer is appended to peers, which the caller closes)."""
    from gss import KrbPeer
    env = dict(kdc.env)
    env["KRB5CCNAME"] = "FILE:" + ccache
    ua = krbflow.UA(user, addr, flow.link(addr, SERVER), rng=rng, server=SERVER)
    peer = KrbPeer(kdc, enctypes=[enctype], env=env)
    peers.append(peer)
    s = krbflow.KrbSession(ua, peer, sa=sa, opaque="%08X" % rng.getrandbits(32))
    s.register()
    et = peer.session_key("acceptor")[0]
    if et != enctype:
        raise RuntimeError("%s: session key enctype %d, wanted %d" % (user, et, enctype))
    return s


def make(out):
    """Runs a KDC, makes the flows, checks every signature with GSS, writes the three files."""
    from kdc import Kdc, USER, USER_PW
    rng = random.Random(2015)
    tmp = tempfile.mkdtemp(prefix="mssipae-demo-krb-")
    peers = []
    try:
        with Kdc(os.path.join(tmp, "kdc")) as kdc:
            kdc.kadmin("addprinc -pw %s bob" % BOB_PW)
            a_cc, b_cc = os.path.join(tmp, "alice.cc"), os.path.join(tmp, "bob.cc")
            kdc.kinit(USER, USER_PW, ccache=a_cc)
            kdc.kinit("bob", BOB_PW, ccache=b_cc)
            flow = Flow("tcp")
            cap = flow.cap
            alice = session(kdc, flow, rng, "alice", ALICE, 18, 1, a_cc, peers)
            cap.advance(0.42)
            alice.subscribe()
            cap.advance(7.3)
            bob = session(kdc, flow, rng, "bob", BOB, 23, 2, b_cc, peers)
            cap.advance(0.38)
            bob.subscribe()
            cap.advance(21.6)
            alice.server_message("bob", "Hi %s, lunch at noon?")
            cap.advance(4.9)
            bob.server_message("alice", "Sure, see you there (%s)")
            signed = [(s, r) for s in (alice, bob) for r in s.ua.records if r.signed]
            # every signature must verify with the GSS context of the other side
            for s, r in signed:
                check(s, r)
            pcap = flow.save(os.path.join(out, "kerberos-mit.pcap"))
            shutil.copyfile(kdc.keytab, os.path.join(out, "sip.keytab"))
            os.chmod(os.path.join(out, "sip.keytab"), 0o644)
        write_conf(os.path.join(out, "kerberos-mit.conf"),
                   ["tshark options for kerberos-mit.pcap, one argument per line (@DEMO@ is the",
                    "demo folder): the keytab of sip/server.contoso.test@CONTOSO.TEST (kvno 1,",
                    "five enctypes) from the throw-away MIT KDC that made the capture",
                    "(tests/gen/make_demo_kerberos.py)"],
                   ["-o", "mssipae.keytab:@DEMO@/sip.keytab"])
        return pcap, [r for _s, r in signed]
    finally:
        for p in peers:
            p.close()
        shutil.rmtree(tmp, ignore_errors=True)


def check(s, rec):
    """The signature in rec verifies with the other side's GSS context (sanity check)."""
    import sipmsg
    m = sipmsg.parse(rec.msg)
    for name, raw in m.headers:
        if name.lower() != rec.header.lower():
            continue
        _scheme, params = sipmsg.parse_auth(raw.strip())
        sig = dict((n.lower(), v) for n, v, _q in params)
        value = sig.get("response") or sig.get("rspauth")
        side = "acceptor" if name.lower() in sipmsg.CLIENT_HEADERS else "initiator"
        if not s.peer.verify(side, rec.buf, bytes.fromhex(value)):
            raise RuntimeError("frame %d: %s signature does not verify" % (rec.frame, name))
        return
    raise RuntimeError("frame %d: header %s not found" % (rec.frame, rec.header))


def main():
    args = parse_args(__doc__, "krb_peer")
    pcap, signed = make(args.out)
    print("%s: %d signed headers in frames %s" % (pcap, len(signed),
                                                   ", ".join(str(r.frame) for r in signed)))


if __name__ == "__main__":
    main()
