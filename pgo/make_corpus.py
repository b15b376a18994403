#!/usr/bin/env python3
"""Makes pgo/corpus/, the training input of the core's profile feedback (pgo/train.sh).

    MSSIPAE_BUILD_DIR=build python3 pgo/make_corpus.py [--out pgo/corpus]

Each scheme's messages come from bench/benchgen.py, the same generator as the benchmarks: NTLM
signatures from tests/gen/ntlmref.py, Kerberos from MIT GSSAPI with a throw-away KDC (its
service keytab is kept as kerberos.keytab), TLS-DSK from real GnuTLS handshakes (the server key
and GnuTLS's key log are kept). 1,000 signed messages per scheme in 20 SAs, each signed message
followed by an unsigned one, gzipped. Also ntlm-handshake.msgs.gz: Lync-style NTLM registrations
through a real handshake (gss-ntlmssp, tests/gen/ntlmsip.py) and their traffic, for the
password route. The keys are those of throw-away test realms: they sign
nothing outside this corpus. Needs the test helpers of a build (MSSIPAE_BUILD_DIR), krb5-kdc
and gss-ntlmssp, as the integration tests do.

Regenerate when benchgen changes what a message looks like; the build retrains on its own
whenever this folder or the core changes.
"""
import argparse
import gzip
import os
import shutil
import sys
import struct
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "bench"))
sys.path.insert(0, os.path.join(SRC, "tests", "gen"))

import benchgen  # noqa: E402

# the NTLM account of the handshake corpus (a throw-away password: pgo/train.sh passes it)
NTLM_DOMAIN, NTLM_USER, NTLM_PASSWORD = "CONTOSO", "alice", "Passw0rd!"


def gz(src, dst):
    # mtime 0: the same messages give the same bytes
    with open(src, "rb") as f, open(dst, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as g:
            shutil.copyfileobj(f, g)


def ntlm_handshakes(path, exchanges):
    """exchanges Lync-style NTLM registrations, each through its own handshake made by
    gss-ntlmssp (the password route: what a user with the account's password sees), then
    traffic both ways; one message file. Returns (signed headers, messages)."""
    from gss import NtlmPeer
    import ntlmsip
    signed = messages = 0
    with open(path, "wb") as f:
        f.write(b"MSSIPAEB1\n")
        for i in range(exchanges):
            client = ("10.0.%d.%d" % (1 + i // 200, 1 + i % 200), 50000 + i)
            server = ("10.0.0.10", 5061)
            with NtlmPeer(NTLM_DOMAIN, NTLM_USER, NTLM_PASSWORD, lm_compat=3,
                          computer="PC%d" % i) as peer:
                ex = ntlmsip.LyncNtlmExchange(peer, user=NTLM_USER, client=client, server=server,
                                              seed=1000 + i)
                for m in ex.messages():
                    src, dst = (client, server) if m.direction == ntlmsip.C2S else (server, client)
                    s = ("%s:%d" % src).encode()
                    d = ("%s:%d" % dst).encode()
                    f.write(struct.pack("<IHH", len(m.data), len(s), len(d)) + s + d + m.data)
                    messages += 1
                    signed += len(m.signed)
    return signed, messages


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    ap.add_argument("--signed", type=int, default=1000)
    ap.add_argument("--handshakes", type=int, default=40,
                    help="NTLM exchanges with a handshake (password route)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mssipae-pgo-") as tmp:
        for scheme in ("ntlm", "kerberos", "tlsdsk"):
            b = benchgen.make(scheme, args.signed, tmp, per_sa=50, unsigned_per_signed=1)
            gz(b["msgs"], os.path.join(args.out, scheme + ".msgs.gz"))
            if scheme == "ntlm":
                shutil.copy(b["prefs"]["mssipae.keylog_file"], os.path.join(args.out, "ntlm.keys"))
            elif scheme == "kerberos":
                shutil.copy(b["prefs"]["mssipae.keytab"],
                            os.path.join(args.out, "kerberos.keytab"))
            else:
                shutil.copy(b["prefs"]["mssipae.tls_dsk_rsa_key"],
                            os.path.join(args.out, "tlsdsk-server.key"))
                shutil.copy(b["keylog"], os.path.join(args.out, "tlsdsk.keys"))
            print("%s: %d signed headers in %d messages, %d SAs" % (
                scheme, b["signed"], b["messages"], b["sas"]))
        raw = os.path.join(tmp, "ntlm-handshake.msgs")
        signed, messages = ntlm_handshakes(raw, args.handshakes)
        gz(raw, os.path.join(args.out, "ntlm-handshake.msgs.gz"))
        print("ntlm-handshake: %d signed headers in %d messages, %d SAs" % (
            signed, messages, args.handshakes))


if __name__ == "__main__":
    main()
