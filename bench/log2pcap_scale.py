#!/usr/bin/env python3
"""Scale check of mssipae-log2pcap: bounded memory and linear time on big logs (not a test: slow).

For each size (default 100 MB and 1 GB) a synthetic client UccApi log is generated, streamed in
/tmp (every message a realistic signed Lync SIP message with its own time stamp and call, non-SIP
trace lines between them), converted with /usr/bin/time -v, and deleted. Prints peak RSS,
wall time, throughput and the frames written per size; the output goes to /dev/null unless
--keep-output is given (then to /tmp, deleted as well).

    python3 bench/log2pcap_scale.py [--build build] [--sizes 100,1000] [--sipstack]

--sipstack generates SIPStack server traces instead of UccApi logs.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "gen"))
import lynclogwriter as W  # noqa: E402

CLIENT, SERVER = ("10.0.0.21", 50123), ("10.0.0.10", 5061)


def message(i):
    """The i-th message: alternating signed requests and responses, some with a body."""
    callid = "%032x" % (i * 2654435761 % (1 << 128))
    if i % 2 == 0:
        body = ("Hello number %d, with some text to make a body." % i).encode()
        return W.C2S, (
            "MESSAGE sip:bob@contoso.test SIP/2.0\r\n"
            "Via: SIP/2.0/TLS 10.0.0.21:50123;branch=z9hG4bK%08x\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:alice@contoso.test>;tag=%010x;epid=0a1b2c3d4e\r\n"
            "To: <sip:bob@contoso.test>;tag=5791460385\r\n"
            "Call-ID: %s\r\nCSeq: %d MESSAGE\r\n"
            "User-Agent: UCCAPI/16.0.5435.1000 OC/16.0.5435.1000 (Skype for Business)\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\n"
            "Authorization: NTLM qop=\"auth\", realm=\"SIP Communications Service\", "
            "opaque=\"1A2B3C4D\", targetname=\"pool01.contoso.test\", crand=\"%08x\", cnum=\"%d\", "
            "response=\"01000000%016x64000000\"\r\n"
            "Content-Length: %d\r\n\r\n" % (i, i, callid, i + 1, i, i + 1, i, len(body))
        ).encode() + body
    return W.S2C, (
        "SIP/2.0 200 OK\r\n"
        "Authentication-Info: NTLM qop=\"auth\", opaque=\"1A2B3C4D\", srand=\"%08x\", snum=\"%d\", "
        "rspauth=\"01000000%016x64000000\", targetname=\"pool01.contoso.test\", "
        "realm=\"SIP Communications Service\", version=4\r\n"
        "Via: SIP/2.0/TLS 10.0.0.21:50123;branch=z9hG4bK%08x;ms-received-port=50123\r\n"
        "From: <sip:alice@contoso.test>;tag=%010x;epid=0a1b2c3d4e\r\n"
        "To: <sip:bob@contoso.test>;tag=5791460385\r\n"
        "Call-ID: %s\r\nCSeq: %d MESSAGE\r\nContent-Length: 0\r\n\r\n"
        % (i, i, i, i, i, callid, i)).encode()


def generate(path, size, sipstack):
    """Writes about `size` bytes of log; returns the number of messages."""
    n = 0
    written = 0
    t0 = 1700000000.0
    with open(path, "wb", buffering=1 << 20) as f:
        while written < size:
            batch = []
            for _ in range(200):
                d, data = message(n)
                batch.append(W.LogMsg(t0 + n * 0.001, d, CLIENT, SERVER, data))
                n += 1
            chunk = (W.sipstack_trace(batch, noise=True) if sipstack
                     else W.uccapi_log(batch, noise=True))
            f.write(chunk)
            written += len(chunk)
    return n


def run(conv, log, out):
    p = subprocess.run(["/usr/bin/time", "-v", conv, "-q", log, out], capture_output=True,
                       text=True)
    if p.returncode != 0:
        sys.exit("converter failed:\n" + p.stderr[-3000:])
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", p.stderr).group(1)
    parts = [float(x) for x in wall.split(":")]
    secs = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) > 2 else 0)
    user = float(re.search(r"User time \(seconds\): (\S+)", p.stderr).group(1))
    sys_t = float(re.search(r"System time \(seconds\): (\S+)", p.stderr).group(1))
    frames = int(re.search(r": (\d+) frames", p.stderr).group(1))
    return rss, secs, user + sys_t, frames


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("MSSIPAE_BUILD_DIR", "build"))
    ap.add_argument("--sizes", default="100,1000", help="sizes in MB (10^6 bytes)")
    ap.add_argument("--sipstack", action="store_true")
    ap.add_argument("--keep-output", action="store_true", help="write the pcapng to /tmp")
    a = ap.parse_args()
    conv = os.path.join(a.build, "mssipae-log2pcap")
    if not os.access(conv, os.X_OK):
        sys.exit("%s not built" % conv)
    kind = "SIPStack trace" if a.sipstack else "UccApi log"
    results = []
    for mb in [int(x) for x in a.sizes.split(",")]:
        d = tempfile.mkdtemp(prefix="mssipae-scale-", dir="/tmp")
        log = os.path.join(d, "big.log")
        out = os.path.join(d, "big.pcapng") if a.keep_output else "/dev/null"
        try:
            g0 = time.time()
            n = generate(log, mb * 10**6, a.sipstack)
            size = os.path.getsize(log)
            gen = time.time() - g0
            os.sync()  # write-back of the fresh file must not run during the timed conversion
            rss, wall, cpu, frames = run(conv, log, out)
            if frames != n:
                sys.exit("expected %d frames, got %d" % (n, frames))
            results.append((mb, size, n, rss, wall, cpu))
            print("%s %5d MB (%d bytes, %d messages, generated in %.0f s): peak RSS %d kB, "
                  "wall %.2f s, cpu %.2f s, %.1f MB/s, %.0f messages/s"
                  % (kind, mb, size, n, gen, rss, wall, cpu, size / 1e6 / wall, n / wall),
                  flush=True)
        finally:
            for f in (log, os.path.join(d, "big.pcapng")):
                if os.path.exists(f):
                    os.remove(f)
            os.rmdir(d)
    for (m0, s0, _, r0, w0, c0) in results:
        print("  %5d MB: %.2f ms cpu per MB, %.2f ms wall per MB" % (m0, 1e9 * c0 / s0,
                                                                 1e9 * w0 / s0))
    if len(results) >= 2:
        (m0, s0, _, r0, w0, c0), (m1, s1, _, r1, w1, c1) = results[0], results[-1]
        print("size x%.1f -> wall time x%.2f, cpu time x%.2f (linear: x%.1f); peak RSS %d kB -> %d kB"
              % (s1 / s0, w1 / max(w0, 0.01), c1 / max(c0, 0.01), s1 / s0, r0, r1))


if __name__ == "__main__":
    main()
