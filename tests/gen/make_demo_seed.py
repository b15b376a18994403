#!/usr/bin/env python3
"""Writes demo/seed-kerberos-example.pcap: the four messages of the [MS-SIPAE] §4.2 Kerberos
example (tests/vectors/seed-kerberos-example) over UDP.

Its signature is the spec's placeholder (rspauth="602306092", not even whole bytes of hex), so the
demo shows how the plugin reports it: the SA is found (the 200 OK's opaque is bound to the SA of the
REGISTER that carried the AP-REQ), the buffer is rebuilt, and the verdict is "malformed".

    python3 tests/gen/make_demo_seed.py [output-folder]   (default: demo/)
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pcapgen import Capture  # noqa: E402

VEC = os.path.join(HERE, "..", "vectors", "seed-kerberos-example")
CLIENT = ("192.0.2.1", 4849)
SERVER = ("192.0.2.10", 5060)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "demo")
    cap = Capture()
    for name in ("01-register", "02-401", "03-register-kerberos", "05-200-ok"):
        with open(os.path.join(VEC, name + ".sip"), "rb") as f:
            data = f.read()
        src, dst = (CLIENT, SERVER) if "register" in name else (SERVER, CLIENT)
        cap.udp(src[0], src[1], dst[0], dst[1], data)
    os.makedirs(out, exist_ok=True)
    cap.save(os.path.join(out, "seed-kerberos-example.pcap"))


if __name__ == "__main__":
    main()
