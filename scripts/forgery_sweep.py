#!/usr/bin/env python3
"""Forgery sweep (issue 11, acceptance 5): for every valid signed message of every scheme's test
captures -- NTLM (demo/ntlm-oc2007r2.pcap, demo/ntlm-gss.pcap), Kerberos (demo/kerberos-mit.pcap
and the real-MIC flows of tests/fuzz/seeds), TLS-DSK (demo/tlsdsk-gnutls.pcap; demo/tlsdsk-over-tls.pcap is SIP inside TLS, not readable
without the outer TLS) -- each covered
item byte and each signature hex digit changed one at a time, and reflection (a client signature
moved into a server header and vice versa): zero "valid"; and every uncovered byte changed: still
"valid". Drives the core directly (the C engine scripts/forgery_sweep.c, built as
<build>/forgery_sweep), one flow per capture; prints the number of variants per capture and in
all. Exit status 1 on a false valid or an uncovered change that lost "valid".

    MSSIPAE_BUILD_DIR=build python3 scripts/forgery_sweep.py [-v] [--quick]

--quick (CI): every covered byte, digit and reflection, but at most 48 uncovered bytes per
message (evenly spaced) for the control.
"""
import glob
import os
import re
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
DEMO = os.path.join(SRC, "demo")
VEC = os.path.join(SRC, "tests", "vectors")


def pcap_packets(path):
    with open(path, "rb") as f:
        data = f.read()
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        yield data[off + 16:off + 16 + incl]
        off += 16 + incl


def sip_flow(path):
    """[(src, dst, message bytes)] of an Ethernet/IPv4 UDP or TCP SIP capture, TCP streams
    concatenated per direction (the generated captures have no loss or reordering) and split
    into messages by the header end and Content-Length."""
    out = []
    streams = {}
    order = []
    for pkt in pcap_packets(path):
        if len(pkt) < 34 or pkt[12:14] != b"\x08\x00":
            continue
        ip = pkt[14:]
        ihl = (ip[0] & 15) * 4
        proto = ip[9]
        src_ip = ".".join(map(str, ip[12:16]))
        dst_ip = ".".join(map(str, ip[16:20]))
        l4 = ip[ihl:struct.unpack(">H", ip[2:4])[0]]
        sport, dport = struct.unpack(">HH", l4[:4])
        src, dst = "%s:%d" % (src_ip, sport), "%s:%d" % (dst_ip, dport)
        if proto == 17:
            out.append((src, dst, bytes(l4[8:])))
        elif proto == 6:
            payload = l4[(l4[12] >> 4) * 4:]
            if not payload:
                continue
            key = (src, dst)
            if key not in streams:
                streams[key] = bytearray()
            streams[key] += payload
            # emit complete messages as they appear
            while True:
                buf = streams[key]
                he = buf.find(b"\r\n\r\n")
                if he < 0:
                    break
                m = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)", bytes(buf[:he + 2]))
                clen = int(m.group(1)) if m else 0
                end = he + 4 + clen
                if len(buf) < end:
                    break
                out.append((src, dst, bytes(buf[:end])))
                del buf[:end]
    return out


def seed_flow(path):
    with open(path, "rb") as f:
        msgs = f.read().split(b"\0\0")
    return [("10.0.0.%d:5060" % (1 if i % 2 == 0 else 2), "10.0.0.%d:5060" % (2 if i % 2 == 0 else 1), m)
            for i, m in enumerate(msgs)]


def conf_args(name):
    """Engine options from demo/<name>.conf (the tshark options of the demo)."""
    args = []
    conf = os.path.join(DEMO, name + ".conf")
    if not os.path.exists(conf):
        return args
    with open(conf) as f:
        lines = [l.strip().replace("@DEMO@", DEMO) for l in f if l.strip() and not l.startswith("#")]
    for l in lines:
        if l == "-o":
            continue
        m = re.match(r"^([\w.]+):(.*)$", l)
        if not m:
            continue
        k, v = m.groups()
        if k == "mssipae.keytab":
            args += ["--keytab", v]
        elif k == "mssipae.nt_password":
            args += ["--password", v]
        elif k == "mssipae.keylog_file":
            args += ["--keylog", v]
        elif k == "mssipae.tls_dsk_rsa_key":
            args += ["--rsa", v]
        elif k == "tls.keylog_file":
            args += ["--tls-keylog", v]
        elif k == "uat" and v.startswith("mssipae_ntlm_users:"):
            f = re.findall(r'"([^"]*)"', v)
            if len(f) >= 3:
                args += ["--user", "%s,%s,%s" % (f[0], f[1], f[2])]
    return args


def write_flow(path, flow):
    with open(path, "wb") as f:
        for src, dst, msg in flow:
            for part in (src.encode(), dst.encode(), msg):
                f.write(struct.pack("<I", len(part)) + part)


def main():
    verbose = "-v" in sys.argv
    build = os.environ.get("MSSIPAE_BUILD_DIR", os.path.join(SRC, "build"))
    engine = os.path.join(build, "forgery_sweep")
    if not os.path.exists(engine):
        subprocess.run(["cmake", "--build", build, "--target", "forgery_sweep"], check=True,
                       stdout=subprocess.DEVNULL)
    cases = []
    for name in ("ntlm-oc2007r2", "ntlm-gss", "kerberos-mit", "tlsdsk-gnutls"):
        cases.append((name, sip_flow(os.path.join(DEMO, name + ".pcap")), conf_args(name)))
    keytab = os.path.join(VEC, "kerberos-mit-lab", "sip.keytab")
    for p in sorted(glob.glob(os.path.join(SRC, "tests", "fuzz", "seeds", "*.bin"))):
        cases.append((os.path.basename(p)[:-4], seed_flow(p), ["--keytab", keytab]))
    total = 0
    fails = 0
    t0 = time.time()
    schemes = {}
    with tempfile.TemporaryDirectory(prefix="mssipae-sweep-") as tmp:
        for name, flow, args in cases:
            fp = os.path.join(tmp, name + ".flow")
            write_flow(fp, flow)
            quick = ["--uncovered-max", "48"] if "--quick" in sys.argv else []
            p = subprocess.run([engine] + args + quick + (["-v"] if verbose else []) + [fp],
                               capture_output=True, text=True)
            line = p.stdout.strip()
            print("%-28s %s" % (name, line))
            if p.stderr.strip():
                print("\n".join("    " + l for l in p.stderr.strip().splitlines()[:40]))
            m = re.search(r"variants (\d+)", line)
            n = int(m.group(1)) if m else 0
            total += n
            scheme = "TLS-DSK" if "tlsdsk" in name else "Kerberos" if "kerberos" in name else "NTLM"
            schemes[scheme] = schemes.get(scheme, 0) + n
            if p.returncode != 0:
                fails += 1
    print("forgery sweep: %d variants tried (%s) in %.0f s; %s" % (
        total, ", ".join("%s %d" % kv for kv in sorted(schemes.items())), time.time() - t0,
        "FAILED in %d capture(s)" % fails if fails else "zero false valid, every uncovered change "
        "stayed valid"))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
