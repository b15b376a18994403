#!/usr/bin/env python3
"""Makes demo/kerberos-mit-tampered.pcap: demo/kerberos-mit.pcap with one byte of one signed
message changed in place (frame 11, the server's 200 OK to alice's REGISTER: the last character
of its From tag), for the README's "When a signature does not verify" walk-through and the GUI
screenshot. Standard library only; the same change as tests/integration/test_gui.py.

    python3 tests/gen/make_demo_tampered.py
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from sipedit import patch_capture, tamper  # noqa: E402

DEMO = os.path.join(os.path.dirname(os.path.dirname(HERE)), "demo")
src = os.path.join(DEMO, "kerberos-mit.pcap")
hexmsg = subprocess.run(["tshark", "-r", src, "-Y", "frame.number == 11", "-T", "fields",
                         "-e", "tcp.payload"], capture_output=True, text=True, check=True).stdout
msg = bytes.fromhex(hexmsg.strip())
patch_capture(src, os.path.join(DEMO, "kerberos-mit-tampered.pcap"), msg,
              tamper(msg, "From", "re:tag=([0-9A-Za-z]+)"))
