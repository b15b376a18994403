#!/usr/bin/env python3
"""What one first-level instruction-cache miss costs on this machine, to read bench/cachesim.py.

cachesim.py counts the instruction-cache misses the plugin adds to every tshark frame; this
script says what such a miss costs here in nanoseconds. It builds (gcc -O2, in a temporary
folder) a program of 4,096 small functions of about 60 bytes, called in a shuffled order through
a table (once in address order, once shuffled), and times the calls when they cycle through

  64 functions      4 KB of code: stays in the instruction cache (the reference)
  1024 functions   64 KB: twice the first-level cache, served by the second level
  4096 functions  256 KB: as above, and more branch targets and code pages

Each call does the same work, so the extra nanoseconds per call over the reference, divided by
the misses per call that cachegrind counts for the same program, are the cost of one miss
(branch-target and TLB misses that come with it included: they come with real code too).
In address order the hardware's next-line prefetch hides part of each miss (a lower bound, like
the lines within one function); shuffled it cannot (an upper bound, like a call to a cold
function). Real code is in between.

    python3 bench/icache_cal.py [--calls 30000000] [--runs 5]
"""
import argparse
import os
import random
import re
import statistics
import subprocess
import tempfile

N = 4096
MAIN = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
typedef uint64_t (*fn)(uint64_t);
extern fn tab[];
int main(int argc, char **argv)
{
    int n = atoi(argv[1]); /* functions cycled through (a power of two) */
    long calls = atol(argv[2]);
    uint64_t x = 1;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < calls; i++)
        x = tab[i & (n - 1)](x);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.4f %llu\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / calls,
           (unsigned long long)x);
    return 0;
}
"""


def source(shuffled):
    out = ["#include <stdint.h>"]
    for i in range(N):
        out.append("__attribute__((noinline)) uint64_t f%d(uint64_t x) { x ^= x >> %d; "
                   "x += %du; x ^= x << %d; x += %du; x ^= x >> %d; x += %du; x ^= x << %d; "
                   "return x; }" % (i, 1 + i % 7, i * 2654435761 % 1000003, 1 + i % 5,
                                    i * 40503 % 65521, 1 + i % 3, i * 977, 1 + i % 11))
    names = ["f%d" % i for i in range(N)]
    if shuffled:  # no next-line prefetch from one call to the next
        random.Random(1).shuffle(names)
    out.append("typedef uint64_t (*fn)(uint64_t);")
    out.append("fn tab[%d] = {%s};" % (N, ", ".join(names)))
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=30000000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    d = tempfile.mkdtemp(prefix="mssipae-icache-")
    with open(os.path.join(d, "main.c"), "w") as f:
        f.write(MAIN)
    print("order     functions  ns/call  +ns/call  I1 misses/call  ns per I1 miss")
    for order in ("in order", "shuffled"):
        src = os.path.join(d, "f-%s.c" % order[:2])
        with open(src, "w") as f:
            f.write(source(order == "shuffled"))
        exe = os.path.join(d, "cal-" + order[:2])
        subprocess.run(["gcc", "-O2", "-o", exe, os.path.join(d, "main.c"), src], check=True)
        ref = ns(exe, 64, args)
        print("%-9s %9d %8.2f %9s %15.3f %15s" % (order, 64, ref, "-", misses(exe, 64), "-"))
        for n in (1024, 4096):
            t, m = ns(exe, n, args), misses(exe, n)
            print("%-9s %9d %8.2f %9.2f %15.3f %15.2f" % (order, n, t, t - ref, m,
                                                         (t - ref) / m if m else 0))


def ns(exe, n, args):
    return statistics.median(
        float(subprocess.run([exe, str(n), str(args.calls)], capture_output=True, text=True,
                             check=True).stdout.split()[0]) for _ in range(args.runs))


def misses(exe, n, calls=1000000):
    p = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=yes",
                        "--cachegrind-out-file=/dev/null", exe, str(n), str(calls)],
                       capture_output=True, text=True, check=True)
    m = re.search(r"I1\s+misses:\s+([\d,]+)", p.stderr)
    return int(m.group(1).replace(",", "")) / calls


if __name__ == "__main__":
    main()
