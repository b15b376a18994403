#!/usr/bin/env python3
"""Cost of hostile captures (issue 11, acceptance 2 and 8): measured, not asserted.

  never-bound   N Kerberos handshakes (REGISTER with a real AP-REQ, tests/vectors) from N client
                ports that never get an opaque, each followed by a 200 OK whose
                Authentication-Info matches no handshake (another Call-ID).
  synthetic     N never-completing handshakes as above plus N opaque-less signatures (a REGISTER
                with AP-REQ and an RFC 4121 MIC but no opaque: Kerberos v4 signs before the server
                names the SA) against a key log of K KERBEROS lines (none matches).

For each capture tshark runs twice as the unprivileged user (tests/integration/harness.py): stock
(no plugin) and with the plugin (-T fields with mssipae fields, so the tree is built). Printed per
capture: CPU seconds (user + system, from wait4), peak RSS, and the plugin / stock CPU ratio. With
--sizes A,B the growth from size A to B shows whether time and memory grow linearly.

    MSSIPAE_BUILD_DIR=build python3 bench/hostile.py never-bound --sizes 25000
    MSSIPAE_BUILD_DIR=build python3 bench/hostile.py synthetic --sizes 50000,100000 --keylog 10000
"""
import argparse
import base64
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "gen"))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from flowlib import Flow  # noqa: E402
from harness import Tshark  # noqa: E402

VEC = os.path.join(SRC, "tests", "vectors")
SERVER = ("10.1.0.1", 5060)


def apreq():
    with open(os.path.join(VEC, "kerberos-mit-lab", "aes256-oneleg", "ap-req.hex")) as f:
        return base64.b64encode(bytes.fromhex(f.read().strip())).decode()


def client(i):
    return ("10.%d.%d.%d" % (2 + i // 62500, (i // 250) % 250, i % 250 + 1), 5060 + i % 7)


def register(i, tok, sig):
    auth = ('Kerberos qop="auth", realm="SIP Communications Service", '
            'targetname="sip/server.contoso.test", version=4, gssapi-data="%s"' % tok)
    if sig:
        auth += ', crand="%08x", cnum="1", response="%s"' % (i, sig)
    return ("REGISTER sip:contoso.test SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK%d\r\n"
            "From: <sip:u%d@contoso.test>;tag=f%d\r\nTo: <sip:u%d@contoso.test>\r\n"
            "Call-ID: nb-%d\r\nCSeq: 1 REGISTER\r\nAuthorization: %s\r\nContent-Length: 0\r\n\r\n"
            % (client(i) + (i, i, i, i, i, auth))).encode()


def unmatched_ok(i):
    return ("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bKx%d\r\n"
            "From: <sip:u%d@contoso.test>;tag=x%d\r\nTo: <sip:u%d@contoso.test>;tag=y%d\r\n"
            "Call-ID: other-%d\r\nCSeq: 1 REGISTER\r\nAuthentication-Info: Kerberos qop=\"auth\", "
            "opaque=\"%08X\", srand=\"1\", snum=\"1\", rspauth=\"%s\", "
            "targetname=\"sip/server.contoso.test\", realm=\"SIP Communications Service\", "
            "version=4\r\nContent-Length: 0\r\n\r\n"
            % (client(i) + (i, i, i, i, i, i, i, "040401ffffffffff" + "%016x" % i + "00" * 12))).encode()


def make_capture(kind, n, path):
    tok = apreq()
    flow = Flow("udp")
    for i in range(n):
        link = flow.link(client(i), SERVER)
        link.c2s(register(i, tok, None))
        link.s2c(unmatched_ok(i))
        if kind == "synthetic":
            j = n + i
            link2 = flow.link(client(j), SERVER)
            mic = "0404" + "00" + "ffffffffff" + "%016x" % 1 + "%024x" % random.getrandbits(96)
            link2.c2s(register(j, tok, mic))
    flow.save(path)


def make_keylog(path, k):
    rnd = random.Random(7)
    with open(path, "w") as f:
        for i in range(k):
            f.write("KERBEROS %08X 18 %064x\n" % (0x70000000 + i, rnd.getrandbits(256)))


def measure(t, args):
    argv, env = t._argv(args)
    t0 = time.time()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         cwd=t.files)
    _, status, ru = os.wait4(p.pid, 0)
    err = p.stderr.read().decode("utf-8", "replace")
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit("tshark failed (%d): %s" % (p.returncode, err[-2000:]))
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=("never-bound", "synthetic"))
    ap.add_argument("--sizes", default="25000")
    ap.add_argument("--keylog", type=int, default=10000, help="key-log lines (synthetic)")
    ap.add_argument("--keytab", action="store_true", help="also give the lab keytab (the AP-REQs "
                    "then decrypt: more plugin work per handshake)")
    a = ap.parse_args()
    plugin = Tshark()
    if not plugin.plugin_built:
        sys.exit("set MSSIPAE_BUILD_DIR to a build with mssipae.so")
    stock = Tshark(plugin="")
    tmp = tempfile.mkdtemp(prefix="mssipae-bench-", dir=plugin.files)
    os.chmod(tmp, 0o755)
    prefs = []
    if a.kind == "synthetic":
        kl = os.path.join(tmp, "keys.log")
        make_keylog(kl, a.keylog)
        os.chmod(kl, 0o644)
        prefs += ["-o", "mssipae.keylog_file:" + kl]
    if a.keytab:
        prefs += ["-o", "mssipae.keytab:" + plugin.stage(os.path.join(VEC, "kerberos-mit-lab",
                                                                       "sip.keytab"))]
    rows = []
    for n in [int(x) for x in a.sizes.split(",")]:
        cap = os.path.join(tmp, "%s-%d.pcap" % (a.kind, n))
        make_capture(a.kind, n, cap)
        os.chmod(cap, 0o644)
        frames = 2 * n if a.kind == "never-bound" else 3 * n
        s_cpu, s_rss, _ = measure(stock, ["-n", "-r", cap, "-T", "fields", "-e", "frame.number",
                                          "-e", "sip.Call-ID"])
        p_cpu, p_rss, _ = measure(plugin, ["-n", "-r", cap, "-T", "fields", "-e", "frame.number",
                                           "-e", "sip.Call-ID", "-e", "mssipae.sig.status",
                                           "-e", "mssipae.sa"] + prefs)
        rows.append((n, frames, os.path.getsize(cap), s_cpu, s_rss, p_cpu, p_rss))
        print("%s n=%d (%d frames, %.0f MB%s): stock tshark %.1f s CPU, peak RSS %.0f MB; "
              "with mssipae %.1f s CPU, peak RSS %.0f MB; CPU ratio %.2f"
              % (a.kind, n, frames, os.path.getsize(cap) / 1e6,
                 ", key log %d lines" % a.keylog if a.kind == "synthetic" else "",
                 s_cpu, s_rss, p_cpu, p_rss, p_cpu / s_cpu), flush=True)
        os.unlink(cap)
    if len(rows) > 1:
        (n0, _, _, s0, sr0, p0, pr0), (n1, _, _, s1, sr1, p1, pr1) = rows[0], rows[-1]
        print("growth x%.1f in size: plugin-run CPU x%.2f (stock x%.2f), plugin extra CPU x%.2f; "
              "peak RSS x%.2f (stock x%.2f), plugin extra RSS %.0f -> %.0f MB"
              % (n1 / n0, p1 / p0, s1 / s0, (p1 - s1) / max(p0 - s0, 1e-9), pr1 / pr0, sr1 / sr0,
                 pr0 - sr0, pr1 - sr1))
    plugin.cleanup()
    stock.cleanup()


if __name__ == "__main__":
    main()
