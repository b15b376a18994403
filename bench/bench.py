#!/usr/bin/env python3
"""Benchmark: what verifying every signature costs, against tshark's own SIP dissection.

For each scheme (NTLM, Kerberos, TLS-DSK) and size, bench/benchgen.py makes (once, cached) a
capture of signed traffic with real material, then in the same invocation:

  check     tshark with mssipae and the keys, -T fields: every signature must be "valid"
  pairs     R times, alternating: tshark -q -Y sip with the plugin disabled (--disable-protocol
            mssipae) and with it enabled and the keys; CPU time (user + system) and peak RSS of
            each run from wait4(), wall time; the ratio of the medians and, less moved by the
            machine's slow drifts, the median of each pair's own ratio (pair-ratio)
  micro     the core alone (bench/micro.c): ns per message, valid, with every signature
            wrong, and without any key (R interleaved rounds, each run the median of 3
            repetitions; the median run of each kind is printed), and the heap the tracker
            keeps per signed header

and prints medians, ratios and microseconds per signed message. --floor adds a third run to
each pair: tshark with bench/floor.c's plugin instead, which does only the crypto any verifier
must (the scheme's MAC per message, its key set-up per SA) and the glue every plugin pays,
without parsing anything: the floor of what verifying costs in tshark, and how much of the
plugin's added time lies above it; and mssipae_micro --floor, the same crypto without tshark,
against the core alone (not for the RSA variant: the floor has no RSA decryption).
--compare OTHER_BUILD runs a
second build in the same rounds (off, this build, the other build; the core's runs interleaved
the same way) and prints what it changes: the two builds measured minutes apart on a shared
machine differ by more than most changes do. Compare ratios between
machines, not seconds; quote the largest size (start-up hides per-message cost in small runs).
The scheme tlsdsk-keylog (not among the defaults) is the tlsdsk capture verified with its
CLIENT_RANDOM key log instead of the server's RSA key: TLS-DSK without the RSA floor.

    MSSIPAE_BUILD_DIR=build python3 bench/bench.py [--schemes ntlm,kerberos,tlsdsk]
        [--sizes 10000,100000,1000000] [--runs 3] [--per-sa 50] [--mix 0] [--cache DIR]
        [--compare OTHER_BUILD_DIR] [--floor]
"""
import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))

import benchgen  # noqa: E402
from harness import Tshark, plugin_path  # noqa: E402

# bench/floor.c's MAC for each scheme (its preference mssipae_floor.mac)
FLOOR_MAC = {"ntlm": "md5", "kerberos": "sha1-96", "tlsdsk-keylog": "sha1"}

MICRO_FLAG = {"mssipae.keylog_file": "--keylog", "mssipae.keytab": "--keytab",
              "mssipae.tls_dsk_rsa_key": "--rsa"}


def timed(t, args):
    """Runs tshark (as the harness would) and returns (cpu seconds, wall seconds, peak RSS KB)."""
    argv, env = t._argv(args)
    w0 = time.perf_counter()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - w0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("tshark failed: %s\n%s" % (" ".join(args), err[-2000:]))
    return ru.ru_utime + ru.ru_stime, wall, ru.ru_maxrss


def pref_args(prefs):
    out = []
    for k, v in prefs.items():
        out += ["-o", "%s:%s" % (k, v)]
    return out


def check(t, b):
    rows = t.fields(b["pcap"], ["mssipae.sig.status"], prefs=b["prefs"], split=True)
    got = [s for r in rows for s in r[0]]
    if len(got) != b["signed"] or set(got) != {"1"}:
        sys.exit("%s: expected %d valid signatures, got %d: %s" % (
            b["pcap"], b["signed"], len(got), sorted(set(got))))


def micro(build, b, invalid, keys=True):
    """The core alone on b's messages: with b's keys (every signature changed when invalid),
    or without any key (what a capture opened without keys costs)."""
    flag = MICRO_FLAG[next(iter(b["prefs"]))]
    args = [os.path.join(build, "mssipae_micro"), b["msgs"], "--reps", "3"]
    if keys:
        args += [flag, next(iter(b["prefs"].values()))]
    args += ["--invalid"] if invalid else []
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    vals = {}
    for line in out.splitlines():
        w = line.replace(",", "").split()
        if "per message" in line:
            vals["ns_msg"] = float(w[w.index("ns") - 1])
            vals["ns_sig"] = float(w[w.index("per", w.index("per") + 1) - 2])
        if line.startswith("kept by"):
            vals["kept"] = float(w[w.index("per") - 2])
        if line.startswith("messages"):
            vals["line"] = line
    return vals


def floor_per_sa(b):
    """The floor's messages per SA: the capture's, its handshake messages included."""
    return round(b["messages"] / b["sas"])


def floor_prefs(scheme, b):
    """tshark's -o options for bench/floor.c's plugin on capture b of scheme."""
    return ["-o", "mssipae_floor.mac:%s" % FLOOR_MAC[scheme],
            "-o", "mssipae_floor.per_sa:%d" % floor_per_sa(b)]


def micro_floor(build, b, scheme):
    """bench/floor_crypto.c alone on b's messages (mssipae_micro --floor): median CPU seconds."""
    out = subprocess.run([os.path.join(build, "mssipae_micro"), b["msgs"], "--reps", "3",
                          "--floor", FLOOR_MAC[scheme], "--per-sa", str(floor_per_sa(b))],
                         check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("median of"):
            return float(line.split(": ", 1)[1].split()[0])
    sys.exit("mssipae_micro --floor printed no median:\n" + out)


def median_micro(runs):
    """The run whose ns per signed header is the median (its other figures with it)."""
    runs = sorted(runs, key=lambda v: v["ns_sig"])
    return runs[len(runs) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schemes", default="ntlm,kerberos,tlsdsk")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--per-sa", type=int, default=50)
    ap.add_argument("--mix", type=int, default=0, help="unsigned messages after each signed one")
    ap.add_argument("--cache", default=os.path.join("/tmp", "mssipae-bench-cache"))
    ap.add_argument("--compare", metavar="BUILD_DIR",
                    help="another build, run in the same rounds (see above)")
    ap.add_argument("--floor", action="store_true",
                    help="also time bench/floor.c's plugin in each round (see above)")
    args = ap.parse_args()
    build = os.environ.get("MSSIPAE_BUILD_DIR", os.path.join(SRC, "build"))
    os.makedirs(args.cache, exist_ok=True)
    os.chmod(args.cache, 0o755)
    rows = []
    floor_so = os.path.join(build, "mssipae_floor.so")
    if args.floor and not os.path.exists(floor_so):
        sys.exit("--floor: %s is not built (cmake --build %s --target mssipae_floor)" % (
            floor_so, build))
    with Tshark() as t, (Tshark(build_dir=args.compare) if args.compare
                         else contextlib.nullcontext()) as t2, \
            (Tshark(plugin=floor_so, plugin_name="mssipae_floor") if args.floor
             else contextlib.nullcontext()) as tf:
        t.require_plugin()
        if t2:
            t2.require_plugin()
        if tf:
            tf.require_plugin()
            # mssipae too, disabled, as in the "off" runs: the floor's runs start up as those do
            shutil.copy(plugin_path(build), os.path.dirname(tf.plugin))
        for scheme in args.schemes.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                g0 = time.perf_counter()
                b = benchgen.make(scheme, size, args.cache, per_sa=args.per_sa,
                                  unsigned_per_signed=args.mix)
                gen = time.perf_counter() - g0
                check(t, b)
                if t2:
                    check(t2, b)
                base = ["-r", b["pcap"], "-q", "-Y", "sip"]
                off, on, on2, fl = [], [], [], []
                for _ in range(args.runs):
                    off.append(timed(t, base + ["--disable-protocol", "mssipae"]))
                    on.append(timed(t, base + pref_args(b["prefs"])))
                    if t2:
                        on2.append(timed(t2, base + pref_args(b["prefs"])))
                    if tf and scheme in FLOOR_MAC:
                        fl.append(timed(tf, base + ["--disable-protocol", "mssipae"] +
                                        floor_prefs(scheme, b)))
                med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
                # the core alone: valid, wrong and keyless runs interleaved, --runs rounds
                # (each run the median of 3 repetitions), the median of each kind kept
                mvs, mis, mns, mvs2, mis2, mns2, mfl = [], [], [], [], [], [], []
                for _ in range(args.runs):
                    if fl:
                        mfl.append(micro_floor(build, b, scheme))
                    mvs.append(micro(build, b, False))
                    if t2:
                        mvs2.append(micro(args.compare, b, False))
                    mis.append(micro(build, b, True))
                    if t2:
                        mis2.append(micro(args.compare, b, True))
                    mns.append(micro(build, b, False, keys=False))
                    if t2:
                        mns2.append(micro(args.compare, b, False, keys=False))
                mv, mi, mn = median_micro(mvs), median_micro(mis), median_micro(mns)
                r = dict(scheme=scheme, size=size, signed=b["signed"], messages=b["messages"],
                         sas=b["sas"], gen=gen, cpu_off=med(off, 0), cpu_on=med(on, 0),
                         wall_off=med(off, 1), wall_on=med(on, 1), rss_off=med(off, 2),
                         rss_on=med(on, 2), micro=mv, micro_bad=mi, micro_nokey=mn,
                         # each "on" run against the "off" run just before it: slow drifts
                         # of a shared machine move both runs of a pair alike
                         pairs=[b_[0] / a_[0] for a_, b_ in zip(off, on)])
                if fl:
                    r["floor"] = dict(cpu=med(fl, 0), rss=med(fl, 2),
                                      micro_ns=statistics.median(mfl) / b["signed"] * 1e9,
                                      pairs=[c_[0] / a_[0] for a_, c_ in zip(off, fl)],
                                      above=[(b_[0] - c_[0]) / (b_[0] - a_[0])
                                             for a_, b_, c_ in zip(off, on, fl)
                                             if b_[0] > a_[0]] or [float("nan")])
                if t2:
                    r["other"] = dict(cpu_on=med(on2, 0), rss_on=med(on2, 2),
                                      micro=median_micro(mvs2), micro_bad=median_micro(mis2),
                                      micro_nokey=median_micro(mns2),
                                      pairs=[c_[0] / b_[0] for b_, c_ in zip(on, on2)])
                rows.append(r)
                report(r, args.compare)
    print("\nmachine: %s, %d cores; tshark %s" % (cpu_model(), os.cpu_count() or 0,
                                                 tshark_version()))
    print("summary (median of %d paired runs; ratios plugin enabled / disabled)" % args.runs)
    print("%-13s %9s %8s %8s %8s %10s %9s %9s %10s %10s %9s %10s" % (
        "scheme", "signed", "cpu-off", "cpu-on", "ratio", "pair-ratio", "us/sig", "rss-ratio",
        "micro-ns", "wrong-ns", "B/sig", "nokey-ns"))
    for r in rows:
        print("%-13s %9d %8.2f %8.2f %8.2f %10.2f %9.2f %9.2f %10.0f %10.0f %9.0f %10.0f" % (
            r["scheme"], r["signed"], r["cpu_off"], r["cpu_on"], r["cpu_on"] / r["cpu_off"],
            statistics.median(r["pairs"]), (r["cpu_on"] - r["cpu_off"]) / r["signed"] * 1e6,
            r["rss_on"] / r["rss_off"], r["micro"]["ns_sig"], r["micro_bad"]["ns_sig"],
            r["micro"]["kept"], r["micro_nokey"]["ns_sig"]))
    linearity(rows)
    if any("floor" in r for r in rows):
        print("\nfloor: bench/floor.c's plugin (crypto and glue only) against the plugin, same "
              "rounds")
        print("%-13s %9s %8s %8s %10s %10s %10s %10s %10s %10s" % (
            "scheme", "signed", "cpu-off", "floor", "ratio", "pair-ratio", "us/sig", "above-us",
            "floor-ns", "micro-ns"))
        for r in rows:
            f = r.get("floor")
            if f:
                print("%-13s %9d %8.2f %8.2f %10.2f %10.2f %10.2f %10.2f %10.0f %10.0f" % (
                    r["scheme"], r["signed"], r["cpu_off"], f["cpu"], f["cpu"] / r["cpu_off"],
                    statistics.median(f["pairs"]), (f["cpu"] - r["cpu_off"]) / r["signed"] * 1e6,
                    (r["cpu_on"] - f["cpu"]) / r["signed"] * 1e6, f["micro_ns"],
                    r["micro"]["ns_sig"]))
    if args.compare:
        print("\ncompare: this build (%s) -> other build (%s), same rounds" % (build, args.compare))
        print("%-13s %9s %8s %8s %8s %10s %12s %12s %12s %12s" % (
            "scheme", "signed", "cpu-on", "cpu-on'", "ratio'", "us/sig", "us/sig'",
            "micro-ns", "wrong-ns", "nokey-ns"))
        for r in rows:
            o = r["other"]
            print("%-13s %9d %8.2f %8.2f %8.2f %10.2f %12.2f %5.0f -> %4.0f %5.0f -> %4.0f "
                  "%5.0f -> %4.0f" % (
                      r["scheme"], r["signed"], r["cpu_on"], o["cpu_on"],
                      o["cpu_on"] / r["cpu_off"], (r["cpu_on"] - r["cpu_off"]) / r["signed"] * 1e6,
                      (o["cpu_on"] - r["cpu_off"]) / r["signed"] * 1e6, r["micro"]["ns_sig"],
                      o["micro"]["ns_sig"], r["micro_bad"]["ns_sig"], o["micro_bad"]["ns_sig"],
                      r["micro_nokey"]["ns_sig"], o["micro_nokey"]["ns_sig"]))


def linearity(rows):
    """Per scheme, the cost per signed header at each size against the largest: within 10 %
    means linear (start-up makes small runs look dearer, not cheaper)."""
    by = {}
    for r in rows:
        by.setdefault(r["scheme"], []).append(r)
    for scheme, rs in by.items():
        if len(rs) < 2:
            continue
        rs.sort(key=lambda r: r["signed"])
        big = rs[-1]
        for r in rs[:-1]:
            a = r["micro"]["ns_sig"]
            b = big["micro"]["ns_sig"]
            ta = (r["cpu_on"] - r["cpu_off"]) / r["signed"] * 1e6
            tb = (big["cpu_on"] - big["cpu_off"]) / big["signed"] * 1e6
            print("linearity %-13s %d -> %d signed headers: core %.0f -> %.0f ns (%+.1f %%), "
                  "tshark +%.2f -> +%.2f us per header (%+.1f %%)" % (
                      scheme, r["signed"], big["signed"], a, b, (b / a - 1) * 100, ta, tb,
                      (tb / ta - 1) * 100 if ta else 0.0))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def tshark_version():
    try:
        out = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout
        return out.split("\n", 1)[0].split()[2] if out else "?"
    except OSError:
        return "?"


def report(r, other_build=None):
    print("== %s, %d signed headers in %d messages, %d SAs (capture made in %.0f s)" % (
        r["scheme"], r["signed"], r["messages"], r["sas"], r["gen"]))
    print("   tshark -q -Y sip  CPU %.2f s -> %.2f s (ratio %.2f, +%.2f us per signed header); "
          "wall %.2f -> %.2f s" % (r["cpu_off"], r["cpu_on"], r["cpu_on"] / r["cpu_off"],
                                   (r["cpu_on"] - r["cpu_off"]) / r["signed"] * 1e6,
                                   r["wall_off"], r["wall_on"]))
    print("   CPU ratio of each pair (on / the off run before it): %s; median %.2f" % (
        " ".join("%.2f" % x for x in r["pairs"]), statistics.median(r["pairs"])))
    print("   peak RSS %.1f MB -> %.1f MB (ratio %.2f)" % (r["rss_off"] / 1024, r["rss_on"] / 1024,
                                                         r["rss_on"] / r["rss_off"]))
    print("   core alone: %.0f ns per signed header valid, %.0f wrong (%.2fx); %.0f bytes kept per "
          "signed header" % (r["micro"]["ns_sig"], r["micro_bad"]["ns_sig"],
                             r["micro_bad"]["ns_sig"] / r["micro"]["ns_sig"], r["micro"]["kept"]))
    n = r["micro_nokey"]
    print("   core alone without keys: %.0f ns per signed header (%.2fx valid), %.0f bytes kept "
          "per signed header; %s" % (n["ns_sig"], n["ns_sig"] / r["micro"]["ns_sig"], n["kept"],
                                     n["line"].split(": ", 1)[1]))
    f = r.get("floor")
    if f:
        print("   floor (bench/floor.c: the crypto and the glue, nothing parsed; it also MACs the "
              "%d unsigned messages): CPU %.2f s (ratio %.2f, +%.2f us per signed header; "
              "pair-ratio median %.2f); above the floor: +%.2f us per signed header, %.0f %% of "
              "what the plugin adds (each round: %s)" % (
                  r["messages"] - r["signed"], f["cpu"], f["cpu"] / r["cpu_off"],
                  (f["cpu"] - r["cpu_off"]) / r["signed"] * 1e6, statistics.median(f["pairs"]),
                  (r["cpu_on"] - f["cpu"]) / r["signed"] * 1e6,
                  100 * statistics.median(f["above"]),
                  " ".join("%.0f%%" % (100 * x) for x in f["above"])))
        print("   floor in the core alone (mssipae_micro --floor): %.0f ns per signed header; the "
              "core's valid run takes %.0f ns above it" % (
                  f["micro_ns"], r["micro"]["ns_sig"] - f["micro_ns"]))
    o = r.get("other")
    if o:
        print("   other build %s: CPU %.2f s (ratio %.2f, +%.2f us per signed header); each "
              "round's other/this: %s; peak RSS %.1f MB; core %.0f ns valid, %.0f wrong, "
              "%.0f without keys" % (
                  other_build, o["cpu_on"], o["cpu_on"] / r["cpu_off"],
                  (o["cpu_on"] - r["cpu_off"]) / r["signed"] * 1e6,
                  " ".join("%.3f" % x for x in o["pairs"]), o["rss_on"] / 1024,
                  o["micro"]["ns_sig"], o["micro_bad"]["ns_sig"], o["micro_nokey"]["ns_sig"]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
