"""demo_common -- what the demo capture tests (test_demo_kerberos.py, test_demo_ntlm.py) share:
the demo folder, the options of a demo .conf read the way demo.sh reads them, and the signed
headers of a capture as Wireshark's own SIP dissector shows them (independent of the plugin).
Not a test module itself: ctest runs only tests/integration/test_*.py."""

import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MSSIPAE_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
DEMO = os.path.join(SRC, "demo")
VALID, NO_KEY = "1", "3"
SIG_FIELDS = ["sip.Authorization", "sip.Proxy-Authorization", "sip.Authentication-Info"]
# a value with a response= or rspauth= parameter is a signature; group 1 is its hex
SIG_VALUE = re.compile(r'(?:^|[\s,])(?:response|rspauth)\s*=\s*"?([0-9A-Fa-f]*)', re.I)


def demo_options(name):
    """The tshark arguments of demo/<name>.conf, as demo.sh builds them: lines that do not start
    with #, empty lines dropped, @DEMO@ replaced by the demo folder."""
    with open(os.path.join(DEMO, name + ".conf"), encoding="utf-8") as f:
        lines = [l.rstrip("\r\n") for l in f]
    return [l.replace("@DEMO@", DEMO) for l in lines if not l.startswith("#") and l != ""]


def signed_headers(t, pcap, extra_args=()):
    """{frame: [signature hex of each signed auth header]} of pcap, from the stock SIP dissector
    only (t: a harness.Tshark; extra_args: e.g. a tls.keylog_file option for SIP over TLS)."""
    rows = t.fields(pcap, ["frame.number"] + SIG_FIELDS, display_filter="sip", split=True,
                    extra_args=extra_args)
    out = {}
    for r in rows:
        sigs = [m.group(1) for cell in r[1:] for v in cell for m in [SIG_VALUE.search(v)] if m]
        if sigs:
            out[int(r[0][0])] = sigs
    return out
