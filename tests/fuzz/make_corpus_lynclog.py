#!/usr/bin/env python3
"""Seed corpus for fuzz_lynclog: small UccApi logs and SIPStack traces of synthetic SIP messages
rendered by tests/gen/lynclogwriter.py in every variant (line ends, counts, noise, CLS style).

    python3 tests/fuzz/make_corpus_lynclog.py OUT_DIR
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gen"))
import lynclogwriter as W  # noqa: E402

MSGS = [
    ("c2s", b"REGISTER sip:contoso.com SIP/2.0\r\nVia: SIP/2.0/TLS 10.0.0.21:50123\r\nCall-ID: a\r\n"
            b"CSeq: 1 REGISTER\r\nAuthorization: NTLM qop=\"auth\", realm=\"SIP Communications Service\", "
            b"opaque=\"1A2B3C4D\", crand=\"12345678\", cnum=\"1\", response=\"0100000000\"\r\n"
            b"Content-Length: 0\r\n\r\n"),
    ("s2c", b"SIP/2.0 200 OK\r\nCall-ID: a\r\nCSeq: 1 REGISTER\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 20\r\n\r\nv=0\r\n\r\ns=session\r\n\r\n"),
    ("s2c", b"MESSAGE sip:alice@contoso.com SIP/2.0\r\nContent-Length: 15\r\n\r\nSure, go ahead."),
]


def main(out):
    os.makedirs(out, exist_ok=True)
    msgs = [W.LogMsg(1700000000.0 + i, d, ("10.0.0.21", 50123), ("10.0.0.10", 5061), m)
            for i, (d, m) in enumerate(MSGS)]
    variants = {
        "ucc-crlf": W.uccapi_log(msgs), "ucc-lf": W.uccapi_log(msgs, nl=b"\n"),
        "ucc-noextra": W.uccapi_log(msgs, always_newline=False),
        "ucc-nocount-noise": W.uccapi_log(msgs, counts=False, noise=True),
        "ss": W.sipstack_trace(msgs), "ss-cls-noise": W.sipstack_trace(msgs, cls=True, noise=True),
        "ss-lf": W.sipstack_trace(msgs, nl=b"\n"),
    }
    for name, data in variants.items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
