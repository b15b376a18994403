#!/usr/bin/env python3
"""Writes seed inputs for tests/fuzz/fuzz_core into a folder (default tests/fuzz/corpus): real
flows from tests/vectors, messages separated by two NUL bytes (see tests/fuzz/fuzz_entry.h)."""
import base64
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VEC = os.path.join(HERE, "..", "vectors")
SEP = b"\0\0"


def vec(rel):
    with open(os.path.join(VEC, rel), "rb") as f:
        return f.read()


def hexfile(rel):
    return vec(rel).decode().strip()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    os.makedirs(out, exist_ok=True)
    seeds = {}
    seeds["seed-example"] = [vec("seed-kerberos-example/%s.sip" % n) for n in
                             ("01-register", "02-401", "03-register-kerberos", "05-200-ok")]
    chal = hexfile("ntlm-oc2007r2-v4/challenge.b64")
    c407 = ("SIP/2.0 407 Proxy Authentication Required\r\nFrom: <sip:user@cosmo.local>;tag=3e49177a52\r\n"
            "To: <sip:user@cosmo.local>\r\nCall-ID: 4037df9284354df39065195bd57a4b14\r\nCSeq: 2 REGISTER\r\n"
            'Proxy-Authenticate: NTLM opaque="2BDBAC9D", gssapi-data="%s", targetname="cosmo-ocs-r2.cosmo.local", '
            'realm="SIP Communications Service", version=4\r\nContent-Length: 0\r\n\r\n' % chal).encode()
    seeds["ntlm-oc2007r2"] = [c407, vec("ntlm-oc2007r2-v4/register.sip"), vec("ntlm-oc2007r2-v4/200-ok.sip")]
    for case in ("aes256-oneleg", "aes256-mutual", "rc4-session-oneleg", "rc4-ticket-and-session"):
        apreq = base64.b64encode(bytes.fromhex(hexfile("kerberos-mit-lab/%s/ap-req.hex" % case))).decode()
        hdrs = ("From: <sip:alice@contoso.test>;tag=a\r\nTo: <sip:alice@contoso.test>\r\n"
                "Call-ID: k1\r\nCSeq: 2 REGISTER\r\n")
        m1 = ("REGISTER sip:contoso.test SIP/2.0\r\n%sAuthorization: Kerberos qop=\"auth\", "
              "realm=\"SIP Communications Service\", targetname=\"sip/server.contoso.test\", version=4, "
              "gssapi-data=\"%s\", crand=\"1\", cnum=\"1\", response=\"%s\"\r\nContent-Length: 0\r\n\r\n"
              % (hdrs, apreq, hexfile("kerberos-mit-lab/%s/mic-initiator.hex" % case))).encode()
        rep = ""
        if os.path.exists(os.path.join(VEC, "kerberos-mit-lab", case, "ap-rep.hex")):
            rep = ', gssapi-data="%s"' % base64.b64encode(
                bytes.fromhex(hexfile("kerberos-mit-lab/%s/ap-rep.hex" % case))).decode()
        m2 = ("SIP/2.0 200 OK\r\n%sAuthentication-Info: Kerberos qop=\"auth\", opaque=\"ABCD0001\", "
              "srand=\"2\", snum=\"1\", rspauth=\"%s\", targetname=\"sip/server.contoso.test\", "
              "realm=\"SIP Communications Service\"%s\r\nExpires: 7200\r\nContent-Length: 0\r\n\r\n"
              % (hdrs, hexfile("kerberos-mit-lab/%s/mic-acceptor.hex" % case), rep)).encode()
        seeds["kerberos-" + case] = [m1, m2]
    for d in ("sfb-real-headers", "buffer-only-180", "buffer-only-tlsdsk-200", "ntlm-ocs2007-v2-noess"):
        for f in sorted(os.listdir(os.path.join(VEC, d))):
            if f.endswith(".sip"):
                seeds["%s-%s" % (d, f[:-4])] = [vec("%s/%s" % (d, f))]
    for name, msgs in seeds.items():
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(SEP.join(msgs))


if __name__ == "__main__":
    main()
