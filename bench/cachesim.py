#!/usr/bin/env python3
"""Where tshark's extra time per signed message goes: instructions and simulated cache misses.

bench/bench.py measures seconds, which scatter by about +-10 % on a shared machine. This script
counts instead: it runs the same `tshark -q -Y sip` pair as bench.py (plugin disabled, then
enabled with the keys) under valgrind's cachegrind, on the first --frames frames of a
bench/benchgen.py capture, and prints per frame

  Ir     instructions executed
  I1     first-level instruction-cache misses (code fetched again from the next level)
  D1     first-level data-cache misses
  LL     last-level misses (reads from memory)

for both modes, what the plugin adds, the ratios, and the functions that add the most
instruction-cache misses. Start-up is taken out: each mode runs once on the first frame
alone and once on --frames more, and the difference is divided by --frames. The counts are repeatable for the same binaries and inputs, whatever
else the machine is doing; the cache sizes are valgrind's model of this machine's, not the
hardware's counters (which this VM does not expose).

    MSSIPAE_BUILD_DIR=build python3 bench/cachesim.py [--schemes ntlm,kerberos,tlsdsk-keylog]
        [--size 100000] [--frames 20000] [--top 15] [--cache DIR]

The capture must exist in the cache or is made by benchgen (as bench.py does). A run takes
about a minute per 20,000 frames.
"""
import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))

import benchgen  # noqa: E402
from bench import FLOOR_MAC, floor_prefs, pref_args  # noqa: E402
from harness import Tshark  # noqa: E402


def run_cachegrind(t, args, out_file):
    argv, env = t._argv(args)
    i = argv.index(t.tshark)
    argv = argv[:i] + ["valgrind", "--tool=cachegrind", "--cache-sim=yes",
                       "--cachegrind-out-file=" + out_file] + argv[i:]
    p = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit("cachegrind run failed: %s\n%s" % (" ".join(argv),
                                                   p.stderr.decode(errors="replace")[-2000:]))


def parse_out(path):
    """(totals by event, {function: {event: count}}) from a cachegrind output file."""
    events, totals, funcs = [], {}, {}
    fl = fn = None
    with open(path) as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("fl="):
                fl = line[3:].strip()
            elif line.startswith("fn="):
                fn = "%s:%s" % (os.path.basename(fl or "?"), line[3:].strip())
            elif line.startswith("summary:"):
                totals = dict(zip(events, map(int, line.split()[1:])))
            elif line[:1].isdigit() and fn:
                vals = list(map(int, line.split()[1:]))
                d = funcs.setdefault(fn, {})
                for e, v in zip(events, vals):
                    d[e] = d.get(e, 0) + v
    return totals, funcs


def subtract(a, b):
    """The counts of run a less those of run b (totals and per function)."""
    sub = lambda x, y: {e: x.get(e, 0) - y.get(e, 0) for e in set(x) | set(y)}  # noqa: E731
    funcs = {fn: sub(a[1].get(fn, {}), b[1].get(fn, {})) for fn in set(a[1]) | set(b[1])}
    return sub(a[0], b[0]), funcs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schemes", default="ntlm,kerberos,tlsdsk-keylog")
    ap.add_argument("--size", type=int, default=100000, help="which bench capture")
    ap.add_argument("--frames", type=int, default=20000, help="frames read from it (tshark -c)")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--per-sa", type=int, default=50)
    ap.add_argument("--cache", default=os.path.join("/tmp", "mssipae-bench-cache"))
    ap.add_argument("--floor", action="store_true",
                    help="also count bench/floor.c's plugin (the crypto and the glue only)")
    args = ap.parse_args()
    build = os.environ.get("MSSIPAE_BUILD_DIR", os.path.join(SRC, "build"))
    floor_so = os.path.join(build, "mssipae_floor.so")
    if args.floor and not os.path.exists(floor_so):
        sys.exit("--floor: %s is not built (cmake --build %s --target mssipae_floor)" % (
            floor_so, build))
    os.makedirs(args.cache, exist_ok=True)
    os.chmod(args.cache, 0o755)
    work = tempfile.mkdtemp(prefix="mssipae-cachesim-")
    os.chmod(work, 0o777)  # tshark runs as nobody when we are root
    rows = []
    with Tshark() as t, (Tshark(plugin=floor_so, plugin_name="mssipae_floor") if args.floor
                         else contextlib.nullcontext()) as tf:
        t.require_plugin()
        if tf:
            tf.require_plugin()
        for scheme in args.schemes.split(","):
            b = benchgen.make(scheme, args.size, args.cache, per_sa=args.per_sa)
            res = {}
            modes = [(t, "off", ["--disable-protocol", "mssipae"]),
                     (t, "on", pref_args(b["prefs"]))]
            if tf and scheme in FLOOR_MAC:
                modes.append((tf, "floor", floor_prefs(scheme, b)))
            for tt, mode, extra in modes:
                # start-up and the first frame, then the whole run: the difference is what
                # the other frames cost
                runs = []
                for n in (1, args.frames + 1):
                    out = os.path.join(work, "%s-%s-%d.out" % (scheme, mode, n))
                    run_cachegrind(tt, ["-r", b["pcap"], "-c", str(n), "-q", "-Y", "sip"] + extra,
                                   out)
                    runs.append(parse_out(out))
                res[mode] = subtract(runs[1], runs[0])
            rows.append((scheme, res))
            report(scheme, res, args.frames, args.top)
    print("\nsummary: per frame, plugin disabled -> enabled (every frame a signed SIP message)")
    print("%-14s %17s %15s %15s %11s" % ("scheme", "Ir", "I1 misses", "D1 misses",
                                          "LL misses"))
    for scheme, res in rows:
        off, on = res["off"][0], res["on"][0]
        cells = []
        for e in ("Ir", "I1mr", "D1mr"):
            cells.append("%6.0f -> %6.0f" % (off.get(e, 0) / args.frames,
                                             on.get(e, 0) / args.frames))
        ll = lambda d: d.get("DLmr", 0) + d.get("ILmr", 0)  # noqa: E731
        print("%-14s %17s %15s %15s %4.1f -> %4.1f" % (scheme, cells[0], cells[1], cells[2],
                                                      ll(off) / args.frames,
                                                      ll(on) / args.frames))
    if any("floor" in res for _, res in rows):
        print("\nfloor: per frame, added by bench/floor.c's plugin -> added by mssipae")
        print("%-14s %17s %15s %15s" % ("scheme", "Ir", "I1 misses", "D1 misses"))
        for scheme, res in rows:
            if "floor" not in res:
                continue
            off, on, fl = res["off"][0], res["on"][0], res["floor"][0]
            print("%-14s %17s %15s %15s" % (scheme, *(
                "%+6.0f -> %+6.0f" % ((fl.get(e, 0) - off.get(e, 0)) / args.frames,
                                      (on.get(e, 0) - off.get(e, 0)) / args.frames)
                for e in ("Ir", "I1mr", "D1mr"))))


def report(scheme, res, frames, top):
    off, on = res["off"], res["on"]
    print("\n== %s, first %d frames" % (scheme, frames))
    for e, name in (("Ir", "instructions"), ("I1mr", "I1 misses"), ("D1mr", "D1 read misses"),
                    ("D1mw", "D1 write misses"),
                    ("DLmr", "LL data misses")):
        a, b = off[0].get(e, 0), on[0].get(e, 0)
        print("  %-15s off %9.1f  on %9.1f  +%8.1f per frame  (x%.3f)" % (
            name, a / frames, b / frames, (b - a) / frames, b / a if a else 0))
    if "floor" in res:
        print("  the floor (bench/floor.c: the crypto and the glue only), and the plugin above it:")
        for e, name in (("Ir", "instructions"), ("I1mr", "I1 misses"), ("D1mr", "D1 read misses"),
                        ("D1mw", "D1 write misses")):
            a, b, f = off[0].get(e, 0), on[0].get(e, 0), res["floor"][0].get(e, 0)
            print("  %-15s floor %9.1f  +%8.1f per frame; plugin above the floor +%8.1f "
                  "(%.0f %% of what it adds)" % (name, f / frames, (f - a) / frames,
                                                 (b - f) / frames,
                                                 100.0 * (b - f) / (b - a) if b != a else 0))
    diff = []
    for fn, d in on[1].items():
        o = off[1].get(fn, {})
        diff.append((d.get("I1mr", 0) - o.get("I1mr", 0), d.get("Ir", 0) - o.get("Ir", 0), fn))
    diff.sort(reverse=True)
    print("  functions adding the most I1 misses (per frame: I1 misses, instructions):")
    for i1, ir, fn in diff[:top]:
        print("    %7.1f %8.0f  %s" % (i1 / frames, ir / frames, fn[-90:]))
    d1 = lambda d: d.get("D1mr", 0) + d.get("D1mw", 0)  # noqa: E731
    diff = sorted(((d1(d) - d1(off[1].get(fn, {})), fn) for fn, d in on[1].items()),
                  reverse=True)
    print("  functions adding the most D1 misses, reads and writes (per frame):")
    for m, fn in diff[:top]:
        print("    %7.1f  %s" % (m / frames, fn[-90:]))


if __name__ == "__main__":
    main()
