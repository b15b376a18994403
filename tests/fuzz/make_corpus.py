#!/usr/bin/env python3
"""Seed corpora for the libFuzzer targets of tests/fuzz/fuzz_targets.c, from the test vectors and
the demo captures.

    python3 tests/fuzz/make_corpus.py OUTDIR            one folder per target: OUTDIR/<target>/
    python3 tests/fuzz/make_corpus.py --seeds DIR       only the committed Kerberos flow seeds
                                                        (default tests/fuzz/seeds)

The Kerberos flows carry real MICs over the real signature buffers: the AP-REQ of the MIT lab
vectors (tests/vectors/kerberos-mit-lab) with its authenticator subkey, and RFC 4121 (aes256) or
RFC 4757 (rc4) MICs computed here over the [MS-SIPAE] buffer of each message, so the seeds verify
("valid") and mutations exercise the valid -> invalid paths. Needs python3-cryptography for AES.
Messages of one flow input are separated by two NUL bytes (tests/fuzz/fuzz_entry.h).
"""
import base64
import glob
import hashlib
import hmac
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
VEC = os.path.join(SRC, "tests", "vectors")
DEMO = os.path.join(SRC, "demo")
SEP = b"\0\0"

# the signature buffer and crypto helpers of the vector checker (its checks are not run)
_src = open(os.path.join(VEC, "check_vectors.py")).read()
CV = {"__name__": "check_vectors_lib", "__file__": os.path.join(VEC, "check_vectors.py")}
exec(compile(_src[:_src.index("# ---------------------------------------------------------------- the checks")],
             "check_vectors.py", "exec"), CV)


def vec(rel):
    with open(os.path.join(VEC, rel), "rb") as f:
        return f.read()


def hexfile(rel):
    return vec(rel).decode().strip()


def values(rel):
    out = {}
    for line in vec(rel).decode().splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def cfx_mic(key, buf, usage, flags, seq):
    """RFC 4121 4.2.6.1 MIC token with an aes*-cts-hmac-sha1-96 key."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    def aes(k, block):
        e = Cipher(algorithms.AES(k), modes.ECB()).encryptor()
        return e.update(block) + e.finalize()
    c, kc = CV["_nfold"](struct.pack(">I", usage) + b"\x99", 16), b""
    while len(kc) < len(key):
        c = aes(key, c)
        kc += c
    hdr = b"\x04\x04" + bytes([flags]) + b"\xff" * 5 + struct.pack(">Q", seq)
    return hdr + hmac.new(kc[:len(key)], buf + hdr, hashlib.sha1).digest()[:12]


def rc4_mic(key, buf, seq, acceptor):
    """RFC 4757 7.2 MIC token (GSS-framed, 37 bytes)."""
    hdr = bytes.fromhex("01011100ffffffff")
    ksign = CV["hmac_md5"](key, b"signaturekey\0")
    ck = CV["hmac_md5"](ksign, CV["md5"](struct.pack("<I", 15) + hdr + buf))[:8]
    kseq = CV["hmac_md5"](CV["hmac_md5"](key, struct.pack("<I", 0)), ck)
    snd = CV["rc4"](kseq, struct.pack(">I", seq) + (b"\xff" * 4 if acceptor else b"\0" * 4))
    return bytes.fromhex("602306092a864886f712010202") + hdr + snd + ck


def signed(msg, signer):
    """msg with its response=""/rspauth="" placeholder replaced by signer(buffer)."""
    buf, _, _ = CV["signature_buffer"](msg, 4)
    sig = signer(buf).hex().encode()
    return re.sub(rb'(response|rspauth)=""', lambda m: m.group(1) + b'="' + sig + b'"', msg,
                  count=1)


def kerberos_flow(case):
    """[REGISTER with AP-REQ + MIC, 200 OK with MIC, MESSAGE on the SA with MIC] for a one-leg
    lab case (both directions use the authenticator subkey)."""
    v = values("kerberos-mit-lab/values.txt")
    key = bytes.fromhex(v["%s.authenticator_subkey" % case])
    etype = int(v["%s.authenticator_subkey_etype" % case])
    apreq = base64.b64encode(bytes.fromhex(hexfile("kerberos-mit-lab/%s/ap-req.hex" % case)))
    hdrs = (b"From: <sip:alice@contoso.test>;tag=a\r\nTo: <sip:alice@contoso.test>\r\n"
            b"Call-ID: k1\r\n")

    def sign(buf, acceptor, seq):
        if etype == 23:
            return rc4_mic(key, buf, seq, acceptor)
        return cfx_mic(key, buf, 23 if acceptor else 25, 1 if acceptor else 0, seq)
    m1 = (b"REGISTER sip:contoso.test SIP/2.0\r\n" + hdrs + b"CSeq: 2 REGISTER\r\n"
          b'Authorization: Kerberos qop="auth", realm="SIP Communications Service", '
          b'targetname="sip/server.contoso.test", version=4, gssapi-data="' + apreq +
          b'", crand="1a2b3c4d", cnum="1", response=""\r\nContent-Length: 0\r\n\r\n')
    m2 = (b"SIP/2.0 200 OK\r\n" + hdrs + b"CSeq: 2 REGISTER\r\n"
          b'Authentication-Info: Kerberos qop="auth", opaque="ABCD0001", srand="5e6f7a8b", '
          b'snum="1", rspauth="", targetname="sip/server.contoso.test", '
          b'realm="SIP Communications Service", version=4\r\nExpires: 7200\r\n'
          b"Content-Length: 0\r\n\r\n")
    m3 = (b"MESSAGE sip:bob@contoso.test SIP/2.0\r\n" + hdrs + b"CSeq: 3 MESSAGE\r\n"
          b'Authorization: Kerberos qop="auth", realm="SIP Communications Service", '
          b'opaque="ABCD0001", targetname="sip/server.contoso.test", version=4, '
          b'crand="0badcafe", cnum="2", response=""\r\nContent-Length: 5\r\n\r\nhello')
    return [signed(m1, lambda b: sign(b, False, 1)), signed(m2, lambda b: sign(b, True, 1)),
            signed(m3, lambda b: sign(b, False, 2))]


def kerberos_seeds():
    return {"kerberos-aes256-oneleg": kerberos_flow("aes256-oneleg"),
            "kerberos-rc4-session-oneleg": kerberos_flow("rc4-session-oneleg")}


def core_seeds():
    seeds = {}
    seeds["seed-example"] = [vec("seed-kerberos-example/%s.sip" % n) for n in
                             ("01-register", "02-401", "03-register-kerberos", "05-200-ok")]
    chal = hexfile("ntlm-oc2007r2-v4/challenge.b64")
    c407 = ("SIP/2.0 407 Proxy Authentication Required\r\nFrom: <sip:user@cosmo.local>;tag=3e49177a52\r\n"
            "To: <sip:user@cosmo.local>\r\nCall-ID: 4037df9284354df39065195bd57a4b14\r\nCSeq: 2 REGISTER\r\n"
            'Proxy-Authenticate: NTLM opaque="2BDBAC9D", gssapi-data="%s", targetname="cosmo-ocs-r2.cosmo.local", '
            'realm="SIP Communications Service", version=4\r\nContent-Length: 0\r\n\r\n' % chal).encode()
    seeds["ntlm-oc2007r2"] = [c407, vec("ntlm-oc2007r2-v4/register.sip"), vec("ntlm-oc2007r2-v4/200-ok.sip")]
    seeds.update(kerberos_seeds())
    for d in ("sfb-real-headers", "buffer-only-180", "buffer-only-tlsdsk-200", "ntlm-ocs2007-v2-noess"):
        for f in sorted(os.listdir(os.path.join(VEC, d))):
            if f.endswith(".sip"):
                seeds["%s-%s" % (d, f[:-4])] = [vec("%s/%s" % (d, f))]
    return seeds


def sip_messages():
    out = []
    for p in sorted(glob.glob(os.path.join(VEC, "*", "*.sip")) +
                    glob.glob(os.path.join(VEC, "*", "*", "*.sip"))):
        with open(p, "rb") as f:
            out.append(f.read())
    for flow in core_seeds().values():
        out += flow
    return out


def demo_tokens(pcap):
    """The gssapi-data tokens of a demo capture, in capture order (raw bytes search)."""
    with open(os.path.join(DEMO, pcap), "rb") as f:
        data = f.read()
    toks = []
    for m in re.finditer(rb'gssapi-data="([A-Za-z0-9+/=]+)"', data):
        try:
            toks.append(base64.b64decode(m.group(1)))
        except ValueError:
            pass
    return toks


def target_seeds():
    t = {}
    msgs = sip_messages()
    t["sip"] = {"m%03d" % i: m for i, m in enumerate(msgs)}
    vals = []
    for m in msgs:
        for h in re.finditer(rb"(?im)^(?:proxy-)?(?:authorization|authentication-info|www-authenticate|"
                             rb"proxy-authenticate):[ \t]*(.*?)\r?$", m):
            vals.append(h.group(1))
    t["authp"] = {"v%03d" % i: v for i, v in enumerate(vals)}
    t["sigbuf"] = {"m%03d" % i: bytes([4 if i % 2 else 2]) + m for i, m in enumerate(msgs)}
    codec = {}
    for p in sorted(glob.glob(os.path.join(VEC, "*", "*.hex")) + glob.glob(os.path.join(VEC, "*", "*", "*.hex"))
                    + glob.glob(os.path.join(VEC, "*", "*.b64")))[:40]:
        with open(p, "rb") as f:
            codec[os.path.basename(os.path.dirname(p)) + "-" + os.path.basename(p)] = f.read().strip()
    t["codec"] = codec
    chal = bytes.fromhex(hexfile("ntlm-oc2007r2-v4/challenge.hex"))
    auth = bytes.fromhex(hexfile("ntlm-oc2007r2-v4/authenticate.hex"))
    ntlm = {"oc2007r2": SEP.join([b"", chal, auth, bytes.fromhex("01000000" + "00" * 12)])}
    for p in sorted(glob.glob(os.path.join(VEC, "ntlm-gssntlmssp-datagram", "*.challenge.hex"))):
        a = p.replace(".challenge.hex", ".authenticate.hex")
        ntlm[os.path.basename(p)[:-14]] = SEP.join([b"", bytes.fromhex(open(p).read().strip()),
                                                     bytes.fromhex(open(a).read().strip()),
                                                     bytes.fromhex("01000000" + "00" * 12)])
    toks = demo_tokens("ntlm-gss.pcap")
    if toks:
        ntlm["demo-gss"] = SEP.join(toks[:6] + [b"\x01\0\0\0" + b"\0" * 12])
    t["ntlm"] = ntlm
    krb = {}
    for case in ("aes256-oneleg", "aes256-mutual", "rc4-session-oneleg", "rc4-ticket-and-session"):
        d = os.path.join(VEC, "kerberos-mit-lab", case)
        parts = [bytes.fromhex(hexfile("kerberos-mit-lab/%s/ap-req.hex" % case))]
        if os.path.exists(os.path.join(d, "ap-rep.hex")):
            parts.append(bytes.fromhex(hexfile("kerberos-mit-lab/%s/ap-rep.hex" % case)))
        parts.append(bytes.fromhex(hexfile("kerberos-mit-lab/%s/mic-initiator.hex" % case)))
        krb[case] = SEP.join(parts)
    toks = demo_tokens("kerberos-mit.pcap")
    if toks:
        krb["demo"] = SEP.join(toks[:4])
    t["kerberos"] = krb
    tls = {}
    for cap in ("tlsdsk-gnutls.pcap", "tlsdsk-over-tls.pcap"):
        toks = demo_tokens(cap)
        if toks:
            tls[cap] = SEP.join(toks[:6] + [b"\0" * 20])
    t["tlsdsk"] = tls
    kl = {"good": b"# keys\nNTLM 2BDBAC9D 6742fbe37bb1946b49d86a525bd29a9b\n"
                  b"KERBEROS ABCD0001 18 " + b"3e" * 32 + b"\nTLS-DSK A1 " + b"00" * 16 + b" " + b"11" * 16 +
                  b"\nCLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n",
          "conflict": b"NTLM X 00112233445566778899aabbccddeeff\nNTLM x ffeeddccbbaa99887766554433221100\n",
          "bad": b"NTLM\nKERBEROS a 99999999999 00\nTLS-DSK b 00\r\n# c\n\n"}
    for p in glob.glob(os.path.join(DEMO, "*.keys")):
        with open(p, "rb") as f:
            kl[os.path.basename(p)] = f.read()
    t["keylog"] = kl
    t["keytab"] = {"lab": vec("kerberos-mit-lab/sip.keytab")}
    if os.path.exists(os.path.join(DEMO, "sip.keytab")):
        with open(os.path.join(DEMO, "sip.keytab"), "rb") as f:
            t["keytab"]["demo"] = f.read()
    t["uat"] = {"pw": b"CONTOSO\0alice\0Lync-Demo-2013\0", "hash": b"\0bob\0\0" + b"88" * 16,
                "both": b"D\0u\0Pa$$word\0" + b"aa" * 16, "utf8": "É\0ü\0pässwörd\0".encode(),
                # a bad (invalid UTF-8) password that is part of the user name, which the message
                # about it names: not a leak (fuzzer finding, kept as a regression seed)
                "pw-in-user": b"\xc3\x89\0\xd5\xb6r\xc3\x89\0\xb6r\xc3\x89\0",
                # the same with ")" after it: the message names the user followed by ")"
                "pw-over-user": b"\xc3\x89\0\xd5\xb6r\xc3\x89\0\xb6r\xc3\x89)\0"}
    t["core"] = {k: SEP.join(v) for k, v in core_seeds().items()}
    return t


def write_dir(d, files):
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, re.sub(r"[^\w.-]", "_", name) + ".bin"), "wb") as f:
            f.write(data)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--seeds":
        out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "seeds")
        write_dir(out, {k: SEP.join(v) for k, v in kerberos_seeds().items()})
        return
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    for target, files in target_seeds().items():
        write_dir(os.path.join(out, target), files)


if __name__ == "__main__":
    main()
