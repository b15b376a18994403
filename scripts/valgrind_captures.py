#!/usr/bin/env python3
"""valgrind memcheck over the integration captures (issue 11, acceptance 6).

Runs tshark -V (every tree rendered) under valgrind memcheck with the plugin (a plain build) and
each demo capture's keys (demo/<name>.conf, as the demo and its integration tests use them), plus
the hostile 260-header capture of tests/integration/test_hostile.py. Every error valgrind reports
is attributed to the plugin when a frame of its stack is in mssipae.so, else counted as stock
Wireshark / GLib / library noise (GLib's own suppression file and tests/valgrind.supp are used).
Leaks: only "definitely lost" blocks allocated from the plugin count. Prints the counts; exit
status 1 when an error is attributed to the plugin.

    python3 scripts/valgrind_captures.py [--build-dir build] [--keep LOGDIR]
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
sys.path.insert(0, HERE)
from harness import Tshark  # noqa: E402
from corrupt_captures import demo_captures  # noqa: E402

SUPPS = [p for p in ("/usr/share/glib-2.0/valgrind/glib.supp",
                     os.path.join(SRC, "tests", "valgrind.supp")) if os.path.exists(p)]


def blocks(log):
    """Error blocks of a valgrind log: lists of lines."""
    out, cur = [], None
    for line in log.splitlines():
        m = re.match(r"^==\d+== ?(.*)$", line)
        if not m:
            continue
        text = m.group(1)
        if not text.strip():
            if cur:
                out.append(cur)
            cur = None
            continue
        if cur is None:
            if re.match(r"^(Invalid|Conditional jump|Use of uninitialised|Syscall param|"
                        r"Mismatched free|Source and destination overlap|Argument|"
                        r"[\d,]+ (?:\([^)]*\) )?bytes in [\d,]+ blocks are definitely lost)", text):
                cur = [text]
        else:
            cur.append(text)
    if cur:
        out.append(cur)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.environ.get("MSSIPAE_BUILD_DIR",
                                                          os.path.join(SRC, "build")))
    ap.add_argument("--keep", default=None, help="folder for the valgrind logs")
    ap.add_argument("--reparse", default=None, help="only attribute the errors of the *.vg.log "
                    "files in this folder (a finished run)")
    a = ap.parse_args()
    if a.reparse:
        mine_all = 0
        for log in sorted(glob.glob(os.path.join(a.reparse, "*.vg.log"))):
            with open(log, errors="replace") as f:
                text = f.read()
            bl = blocks(text)
            mine = [b for b in bl if any("mssipae.so" in l for l in b)]
            summ = re.search(r"ERROR SUMMARY: (\d+) errors", text)
            print("%-28s valgrind errors %s; attributed to the plugin %d; other %d"
                  % (os.path.basename(log), summ.group(1) if summ else "?", len(mine),
                     len(bl) - len(mine)))
            for b in mine:
                print("  PLUGIN: " + " | ".join(b[:8]))
            mine_all += len(mine)
        sys.exit(1 if mine_all else 0)
    t = Tshark(build_dir=a.build_dir)
    if not t.plugin_built or t.asan:
        sys.exit("need a plain (not sanitized) plugin build in %s" % a.build_dir)
    logs = a.keep or tempfile.mkdtemp(prefix="mssipae-vg-")
    os.makedirs(logs, exist_ok=True)
    os.chmod(logs, 0o777)
    cases = []
    for cap, opts in demo_captures():
        fixed = []
        for o in opts:
            m = re.match(r"^([\w.]+):(/.*)$", o)
            if m and os.path.isfile(m.group(2)):
                o = "%s:%s" % (m.group(1), t.stage(m.group(2)))
            fixed.append(o)
        cases.append((os.path.basename(cap), t.stage(cap), fixed))
    # the hostile one: 260 signed headers, each with a real AP-REQ
    sys.path.insert(0, os.path.join(SRC, "tests", "gen"))
    import test_hostile  # noqa: E402
    from flowlib import Flow  # noqa: E402
    tok = test_hostile.apreq_b64()
    auths = ['Authorization: Kerberos qop="auth", realm="R", opaque="%08X", targetname="t", '
             'version=4, gssapi-data="%s", crand="1", cnum="1", response="0404"\r\n' % (i, tok)
             for i in range(260)]
    flow = Flow("tcp")
    flow.link(("10.0.0.1", 5061), ("10.0.0.2", 5061)).c2s(test_hostile.register("vg", auths))
    h260 = os.path.join(t.files, "h260.pcap")
    flow.save(h260)
    os.chmod(h260, 0o644)
    cases.append(("h260.pcap", h260, ["-o", "mssipae.keytab:" + t.stage(
        os.path.join(SRC, "tests", "vectors", "kerberos-mit-lab", "sip.keytab"))]))

    plugin_errors = 0
    other_errors = 0
    for name, cap, opts in cases:
        log = os.path.join(logs, name + ".vg.log")
        args = ["-n", "-r", cap, "-V"] + opts
        argv, env = t._argv(args)
        i = argv.index(t.tshark)
        vg = ["valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite",
              "--num-callers=40", "--error-limit=no", "--log-file=" + log]
        vg += ["--suppressions=" + s for s in SUPPS]
        argv = argv[:i] + vg + argv[i:]
        if env is not None:
            env = dict(env, G_SLICE="always-malloc")
        else:
            # root: setpriv ... env VAR=... : add G_SLICE via env
            argv.insert(argv.index("env") + 1, "G_SLICE=always-malloc")
        p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=3600, cwd=t.files)
        trees = p.stdout.count(b"MS-SIPAE Signature Verification")
        with open(log, errors="replace") as f:
            text = f.read()
        mine = other = 0
        for b in blocks(text):
            if any("mssipae.so" in l for l in b):
                mine += 1
                print("  PLUGIN: " + " | ".join(b[:8]))
            else:
                other += 1
        summ = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        print("%-24s exit %d; %d mssipae trees; valgrind errors %s; attributed to the plugin %d; "
              "other (stock Wireshark/libraries) %d" % (name, p.returncode, trees,
                                                        summ.group(1) if summ else "?", mine, other))
        if trees == 0:
            print("  the plugin produced no output: not loaded?")
            plugin_errors += 1
        plugin_errors += mine
        other_errors += other
    print("valgrind memcheck: %d captures, %d errors in plugin code, %d elsewhere; logs in %s"
          % (len(cases), plugin_errors, other_errors, logs))
    t.cleanup()
    sys.exit(1 if plugin_errors else 0)


if __name__ == "__main__":
    main()
