#!/usr/bin/env python3
"""Corrupted-capture run: every test capture mutated many times, each mutant dissected by tshark
with an AddressSanitizer + UBSan build of the plugin and the capture's keys.

Mutations (chosen per mutant from a seeded generator, so a run is reproducible):
  editcap   editcap -E <p> --seed <s>            (random byte errors over whole frames)
  snap      editcap -s <n>                       (every frame truncated)
  trunc     the capture file cut at a random offset
  target    in place (same length, so IP/UDP/TCP lengths stay right) inside the values of
            auth headers: gssapi-data (decoded, bytes flipped / set to DER-hostile values / a
            length byte changed, re-encoded to the same length), hex signatures and numbers
            (digits changed), quotes, commas and '=' inserted, values blanked
  mixed     target, then editcap -E
Each mutant is dissected with `-V` (the whole tree rendered), one-pass or two-pass (-2).

A finding is a crash (signal), a hang (--timeout), an unexpected exit status, or a sanitizer
report / `runtime error:` on stderr. Each finding is re-run with the plugin absent (stock
Wireshark, same input): if stock tshark also fails it is reported as a stock finding, else as a
plugin finding. Mutants with findings are kept in --out. Exit status 1 when a plugin finding.

    cmake -S . -B build-h-asan -DCMAKE_BUILD_TYPE=Debug -DMSSIPAE_SANITIZE=ON && cmake --build build-h-asan
    python3 scripts/corrupt_captures.py --build-dir build-h-asan --count 10000 --jobs 2
"""
import argparse
import base64
import glob
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from harness import Tshark, _BAD_STDERR  # noqa: E402

VALUE_RE = re.compile(rb'(gssapi-data|response|rspauth|opaque|crand|cnum|srand|snum|targetname|'
                      rb'realm|version|qop)\s*=\s*("?)([^",\r\n]*)')


def demo_captures():
    """(capture, [tshark options]) for every demo capture, keys from demo/<name>.conf."""
    out = []
    demo = os.path.join(SRC, "demo")
    for cap in sorted(glob.glob(os.path.join(demo, "*.pcap"))):
        conf = cap[:-5] + ".conf"
        opts = []
        if os.path.exists(conf):
            with open(conf) as f:
                opts = [l.rstrip("\n").replace("@DEMO@", demo) for l in f
                        if l.strip() and not l.startswith("#")]
        out.append((cap, opts))
    return out


def pcap_frames(data):
    """[(offset of frame data, length)] of a little-endian classic pcap."""
    frames = []
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        if off + 16 + incl > len(data):
            break
        frames.append((off + 16, incl))
        off += 16 + incl
    return frames


def mutate_value(rng, buf, start, end, name):
    """Mutates buf[start:end] (a header parameter value) in place, keeping its length."""
    n = end - start
    if n <= 0:
        return
    val = bytes(buf[start:end])
    choice = rng.random()
    if name == b"gssapi-data" and choice < 0.6:
        try:
            raw = bytearray(base64.b64decode(val + b"=" * (-len(val) % 4), validate=False))
        except Exception:
            raw = bytearray()
        if raw:
            for _ in range(rng.choice((1, 1, 2, 4, 16))):
                i = rng.randrange(len(raw))
                raw[i] = rng.choice((0x00, 0xff, 0x80, 0x7f, 0x81, 0x82, 0x84, rng.randrange(256),
                                     raw[i] ^ (1 << rng.randrange(8))))
            enc = base64.b64encode(bytes(raw))
            enc = enc.rstrip(b"=") if not val.endswith(b"=") else enc
            enc = (enc + b"A" * n)[:n]
            buf[start:end] = enc
            return
    hexalpha = b"0123456789abcdefABCDEF"
    for _ in range(rng.choice((1, 1, 2, 3))):
        i = start + rng.randrange(n)
        r = rng.random()
        if r < 0.4:
            buf[i] = rng.choice(hexalpha)
        elif r < 0.7:
            buf[i] = rng.choice(b'",=; \\\t\x00\xff%')
        else:
            buf[i] = rng.randrange(256)
    if rng.random() < 0.1:  # blank the tail of the value
        cut = start + rng.randrange(n)
        buf[cut:end] = b" " * (end - cut)


def targeted(rng, data):
    buf = bytearray(data)
    spots = []
    for off, ln in pcap_frames(data):
        for m in VALUE_RE.finditer(data, off, off + ln):
            spots.append((m.group(1), m.start(3), m.end(3)))
    if not spots:
        return bytes(buf)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8))):
        name, s, e = rng.choice(spots)
        mutate_value(rng, buf, s, e, name)
    return bytes(buf)


def make_mutant(rng, cap, out):
    kind = rng.choice(("editcap", "editcap", "snap", "trunc", "target", "target", "target",
                       "mixed"))
    with open(cap, "rb") as f:
        data = f.read()
    if kind in ("target", "mixed"):
        data = targeted(rng, data)
    if kind == "trunc":
        data = data[:rng.randrange(24, len(data))]
    with open(out, "wb") as f:
        f.write(data)
    if kind in ("editcap", "mixed"):
        tmp = out + ".e"
        p = rng.choice((0.0005, 0.002, 0.01, 0.05))
        subprocess.run(["editcap", "-E", str(p), "--seed", str(rng.randrange(1 << 31)), out, tmp],
                       check=True, capture_output=True)
        os.replace(tmp, out)
    elif kind == "snap":
        tmp = out + ".e"
        subprocess.run(["editcap", "-s", str(rng.randrange(40, 1500)), out, tmp], check=True,
                       capture_output=True)
        os.replace(tmp, out)
    return kind


def run_one(t, cap, opts, two_pass, timeout):
    """-> (problem or None, stderr)"""
    args = ["-n", "-r", cap, "-V"] + (["-2"] if two_pass else []) + list(opts)
    argv, env = t._argv(args)
    try:
        p = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=timeout, cwd=t.files)
    except subprocess.TimeoutExpired:
        return "hang (> %ss)" % timeout, ""
    err = p.stderr.decode("utf-8", "replace")
    bad = [b for b in _BAD_STDERR if b in err]
    if p.returncode < 0:
        return "signal %d" % -p.returncode, err
    if bad:
        return "stderr has %s" % bad, err
    # 0 = fine; 2 = tshark's "capture file appears to be damaged or corrupt / cut short"
    if p.returncode not in (0, 2):
        return "exit %d" % p.returncode, err
    return None, err


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(SRC, "build-asan-plugin"))
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--out", default=None, help="folder for mutants with findings")
    ap.add_argument("--batch", type=int, default=1,
                    help="mutants concatenated into one capture per tshark run (a failing batch "
                         "is re-run one mutant at a time to name the culprit)")
    a = ap.parse_args()

    so = os.path.join(a.build_dir, "mssipae.so")
    if not os.path.isfile(so):
        sys.exit("no plugin at %s (build it with -DMSSIPAE_SANITIZE=ON)" % so)
    t = Tshark(plugin=so)
    if not t.asan:
        sys.exit("%s is not built with AddressSanitizer" % so)
    if not t.plugin_listed():
        sys.exit("tshark does not load %s:\n%s" % (so, t.last_stderr))
    stock = Tshark(plugin="")
    caps = []
    for cap, opts in demo_captures():
        staged = [t._maybe_stage(o) if os.path.isabs(o) else o for o in opts]
        # option values "name:/abs/path" are staged too
        fixed = []
        for o in staged:
            m = re.match(r"^([\w.]+):(/.*)$", o)
            if m and os.path.isfile(m.group(2)):
                o = "%s:%s" % (m.group(1), t.stage(m.group(2)))
            fixed.append(o)
        caps.append((cap, fixed))
    work = tempfile.mkdtemp(prefix="mssipae-corrupt-", dir=t.files)
    os.chmod(work, 0o755)
    out = a.out or os.path.join(SRC, "corrupt-findings")
    rng0 = random.Random(a.seed)
    plans = [(i, caps[(i // a.batch) % len(caps)], rng0.randrange(1 << 62))
             for i in range(a.count)]
    batches = [plans[k:k + a.batch] for k in range(0, len(plans), a.batch)]
    counts = {"plugin": 0, "stock": 0}
    kinds = {}
    done = [0]
    t0 = time.time()

    def check(mpath, opts, two, kind, tag):
        problem, err = run_one(t, mpath, opts, two, a.timeout)
        if not problem:
            return None
        sproblem, _ = run_one(stock, mpath, [o for o in opts if "mssipae" not in o], two,
                              a.timeout)
        who = "stock" if sproblem else "plugin"
        os.makedirs(out, exist_ok=True)
        dst = os.path.join(out, "%s-%s.pcap" % (who, tag))
        shutil.copyfile(mpath, dst)
        with open(dst + ".txt", "w") as f:
            f.write("%s (%s; two-pass=%s; opts=%s)\n%s" % (problem, kind, two, opts,
                                                           err[-20000:]))
        return (who, problem, dst)

    def job(batch):
        """batch: plans sharing one capture's keys -> ([kinds], [findings])"""
        made = []
        for i, (cap, opts), seed in batch:
            rng = random.Random(seed)
            mpath = os.path.join(work, "m%06d.pcap" % i)
            kind = make_mutant(rng, cap, mpath)
            os.chmod(mpath, 0o644)
            made.append((i, cap, opts, mpath, kind, rng.random() < 0.3))
        kinds_ = [m[4] for m in made]
        findings = []
        opts = made[0][2]
        if len(made) == 1:
            i, cap, opts, mpath, kind, two = made[0]
            r = check(mpath, opts, two, kind, "%06d-%s" % (i, os.path.basename(cap)[:-5]))
            findings += [r] if r else []
        else:
            # truncated files last: only the last one keeps its partial record
            made.sort(key=lambda m: m[4] == "trunc")
            bpath = os.path.join(work, "b%06d.pcap" % made[0][0])
            with open(bpath, "wb") as bf:
                for k, m in enumerate(made):
                    with open(m[3], "rb") as f:
                        d = f.read()
                    if k == 0:
                        bf.write(d[:24])
                    fr = pcap_frames(d)
                    end = fr[-1][0] + fr[-1][1] if fr else 24
                    bf.write(d[24:end] if k < len(made) - 1 else d[24:])
            os.chmod(bpath, 0o644)
            two = made[0][5]
            problem, _ = run_one(t, bpath, opts, two, a.timeout)
            if problem:
                r = check(bpath, opts, two, "batch", "batch%06d" % made[0][0])
                if r:
                    findings.append(r)
                for i, cap, opts_, mpath, kind, two_ in made:
                    r = check(mpath, opts_, two, kind,
                              "%06d-%s" % (i, os.path.basename(cap)[:-5]))
                    findings += [r] if r else []
            os.unlink(bpath)
        for m in made:
            os.unlink(m[3])
        return kinds_, findings

    with ThreadPoolExecutor(max_workers=a.jobs) as ex:
        for ks, res in ex.map(job, batches):
            for kind in ks:
                kinds[kind] = kinds.get(kind, 0) + 1
            before = done[0]
            done[0] += len(ks)
            for r in res:
                counts[r[0]] += 1
                print("FINDING (%s): %s -> %s" % r, flush=True)
            if done[0] // 500 != before // 500:
                print("%d/%d mutants, %d plugin findings, %d stock findings, %.0f s"
                      % (done[0], a.count, counts["plugin"], counts["stock"], time.time() - t0),
                      flush=True)
    shutil.rmtree(work, ignore_errors=True)
    t.cleanup()
    stock.cleanup()
    print("mutated captures: %d (%d per tshark run) from %d captures (%s) in %.0f s" % (
        done[0], a.batch, len(caps), ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
        time.time() - t0))
    print("findings attributable to the plugin: %d; stock Wireshark findings (also without the "
          "plugin): %d" % (counts["plugin"], counts["stock"]))
    sys.exit(1 if counts["plugin"] else 0)


if __name__ == "__main__":
    main()
