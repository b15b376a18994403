#!/usr/bin/env python3
"""Benchmark: how much slower is tshark with mssipae verifying every signature?

Generates a capture of N NTLM security associations with M signed messages each (both
directions, UDP; NTLMv2-style ESS + KEY_EXCH signatures computed by tests/gen/ntlmref.py), gives the
plugin a key-log entry for every SA, and times, in the same run:

  baseline  tshark -r cap -T fields -e sip.Call-ID            (stock SIP dissection, no plugin)
  valid     the same with mssipae and the right keys          (every signature recomputed: valid)
  invalid   the same with a wrong key for every SA            (worst case: every variant and
                                                               diagnostic is tried: invalid)

Reports the best of R runs of each and their ratio. Timings are wall-clock seconds on this
machine; compare ratios, not seconds, between machines.

    MSSIPAE_BUILD_DIR=build python3 bench/bench.py [--sas 200] [--msgs 50] [--runs 3]
"""
import argparse
import os
import resource
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "gen"))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))

import ntlmref  # noqa: E402
import sipmsg  # noqa: E402
from flowlib import Flow  # noqa: E402
from harness import Tshark  # noqa: E402

REALM = "SIP Communications Service"
TARGET = "server.contoso.test"
SERVER = ("10.1.0.1", 5060)


def make_capture(path, keylog, bad_keylog, n_sas, n_msgs):
    flow = Flow("udp")
    good, bad = [], []
    for i in range(n_sas):
        client = ("10.2.%d.%d" % (i // 250, i % 250 + 1), 5060)
        link = flow.link(client, SERVER)
        opaque = "%08X" % (0xB0000000 + i)
        esk = (0x1234 + i).to_bytes(16, "big")
        good.append("NTLM %s %s" % (opaque, esk.hex()))
        bad.append("NTLM %s %s" % (opaque, (0x9999 + i).to_bytes(16, "big").hex()))
        sa = sipmsg.SaSigner("NTLM", REALM, TARGET, opaque=opaque, version=4, seed=i,
                             client_signer=lambda b, k=esk: ntlmref.ess_mac(k, "c2s", b),
                             server_signer=lambda b, k=esk: ntlmref.ess_mac(k, "s2c", b))
        for j in range(n_msgs):
            hdrs = [("Via", "SIP/2.0/UDP %s:%d" % client), ("From", "<sip:u%d@contoso.test>;tag=t%d" % (i, i)),
                    ("To", "<sip:peer@contoso.test>"), ("Call-ID", "bench-%d-%d" % (i, j)),
                    ("CSeq", "%d MESSAGE" % (j + 1))]
            if j % 2 == 0:
                m = sa.sign(sipmsg.request("MESSAGE", "sip:peer@contoso.test",
                                           hdrs + [("Authorization", sa.client_header())], body=b"hello"))
                link.c2s(m)
            else:
                m = sa.sign(sipmsg.response(200, "OK", hdrs + [("Authentication-Info", sa.server_header())]))
                link.s2c(m)
    flow.save(path)
    for name, lines in ((keylog, good), (bad_keylog, bad)):
        with open(name, "w") as f:
            f.write("\n".join(lines) + "\n")


def best(fn, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sas", type=int, default=200)
    ap.add_argument("--msgs", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mssipae-bench-") as tmp:
        cap = os.path.join(tmp, "bench.pcap")
        keylog = os.path.join(tmp, "good.keys")
        bad_keylog = os.path.join(tmp, "bad.keys")
        make_capture(cap, keylog, bad_keylog, args.sas, args.msgs)
        n = args.sas * args.msgs
        with Tshark(build_dir=tmp) as base, Tshark() as plug:  # tmp holds no plugin
            plug.require_plugin()
            tb, _ = best(lambda: base.fields(cap, ["sip.Call-ID"]), args.runs)
            # peak RSS of any tshark so far (RUSAGE_CHILDREN keeps the maximum): the baseline's,
            # then the plugin runs' (which are larger)
            rss_base = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            results = {}
            for label, kl, want in (("valid", keylog, "1"), ("invalid", bad_keylog, "2")):
                t, rows = best(lambda: plug.fields(cap, ["sip.Call-ID", "mssipae.sig.status"],
                                                   prefs={"mssipae.keylog_file": kl}), args.runs)
                statuses = [r[1] for r in rows if r[1]]
                if len(statuses) != n or set(statuses) != {want}:
                    sys.exit("%s: unexpected plugin output: %d statuses, %s"
                             % (label, len(statuses), sorted(set(statuses))))
                results[label] = t
            rss_plug = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print("messages: %d signed (%d SAs x %d), every signature recomputed" % (n, args.sas, args.msgs))
        print("baseline (SIP only):   %.3f s" % tb)
        for label, t in results.items():
            print("mssipae, all %-8s %.3f s  (+%.1f us per signed message)  ratio: %.2f"
                  % (label + ":", t, (t - tb) / n * 1e6, t / tb))
        print("peak RSS: baseline %.1f MB, with mssipae %.1f MB (+%.2f KB per signed message)"
              % (rss_base / 1024, rss_plug / 1024, (rss_plug - rss_base) / n))


if __name__ == "__main__":
    main()
