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


def ep_slot(ip, port):
    """The slot of "ip:port" in the glue's endpoint-text cache (packet-mssip-auth.c,
    endpoint_str: FNV-style hash of the port and the address bytes, 256 slots)."""
    h = (port * 0x9E3779B1) & 0xFFFFFFFF
    for b in ip:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return (h ^ (h >> 16)) % 256


def readdress(src_pcap, old_ip, new_ip, out):
    """Copy of a classic Ethernet/IPv4 pcap with old_ip replaced by new_ip in every IPv4 header
    (header checksum redone; Wireshark does not check TCP/UDP checksums by default)."""
    import struct
    with open(src_pcap, "rb") as f:
        data = bytearray(f.read())
    assert data[:4] == b"\xd4\xc3\xb2\xa1" and struct.unpack_from("<I", data, 20)[0] == 1
    p = 24
    while p + 16 <= len(data):
        incl = struct.unpack_from("<I", data, p + 8)[0]
        f = p + 16
        if incl >= 34 and data[f + 12:f + 14] == b"\x08\x00":
            ip = f + 14
            ihl = (data[ip] & 0x0F) * 4
            for off in (12, 16):
                if bytes(data[ip + off:ip + off + 4]) == old_ip:
                    data[ip + off:ip + off + 4] = new_ip
            data[ip + 10:ip + 12] = b"\0\0"
            s = sum(struct.unpack_from("!%dH" % (ihl // 2), data, ip))
            while s >> 16:
                s = (s & 0xFFFF) + (s >> 16)
            struct.pack_into("!H", data, ip + 10, ~s & 0xFFFF)
        p = f + incl
    with open(out, "wb") as f:
        f.write(data)
