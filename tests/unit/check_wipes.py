#!/usr/bin/env python3
"""The wipes survive optimisation (issue 11, acceptance 1), checked on the built objects.

    check_wipes.py BUILD_DIR

For every core source file that calls secure_wipe(), its object file in BUILD_DIR (built as
configured, e.g. RelWithDebInfo = -O2) must still contain at least as many calls to secure_wipe
as the source has call sites (objdump -dr relocations against secure_wipe; inlining may add
copies, dead-store elimination cannot remove a call to an external function), keytab/secure.c.o
must call explicit_bzero, and no core source may wipe with memset / a volatile loop of its own.
The plugin (BUILD_DIR/mssipae.so, when built) must contain secure_wipe and call explicit_bzero.
Prints one line per object; exit status 1 on any failure.
"""
import os
import re
import subprocess
import sys

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORE_DIRS = ("keytab", "verify", "sigbuf")


def objdump(path):
    return subprocess.run(["objdump", "-dr", "--no-show-raw-insn", path], capture_output=True,
                          text=True, check=True).stdout


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SRC, "build")
    objdir = os.path.join(build, "CMakeFiles", "mssipae_core.dir")
    fails = 0
    checked = 0
    for d in CORE_DIRS:
        for name in sorted(os.listdir(os.path.join(SRC, d))):
            if not name.endswith(".c"):
                continue
            with open(os.path.join(SRC, d, name)) as f:
                text = f.read()
            code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
            # home-made wipes are not allowed: one secure_wipe for every secret
            if re.search(r"volatile\s+u?int8_t\s*\*", code) or "gnutls_memset" in code:
                print("FAIL %s/%s: wipes with its own idiom (use secure_wipe)" % (d, name))
                fails += 1
            sites = len(re.findall(r"\bsecure_wipe\s*\(", code))
            if name == "secure.c":
                sites = 0  # the definition; its own check is below
            if not sites and name != "secure.c":
                continue
            obj = os.path.join(objdir, d, name + ".o")
            if not os.path.exists(obj):
                print("FAIL %s: not built" % obj)
                fails += 1
                continue
            dis = objdump(obj)
            calls = len(re.findall(r"R_X86_64_(?:PLT32|PC32|GOTPCRELX?|REX_GOTPCRELX)\s+secure_wipe\b",
                                   dis))
            if name == "secure.c":
                ok = re.search(r"explicit_bzero", dis) is not None
                print("%s %s/%s: calls explicit_bzero: %s" % ("ok  " if ok else "FAIL", d, name, ok))
            else:
                ok = calls >= sites
                print("%s %s/%s: %d secure_wipe call sites in the source, %d calls in the object"
                      % ("ok  " if ok else "FAIL", d, name, sites, calls))
            checked += 1
            fails += not ok
    so = os.path.join(build, "mssipae.so")
    if os.path.exists(so):
        dis = objdump(so)
        n = len(re.findall(r"call\s+\S+\s+<secure_wipe>", dis))
        # through a PLT stub, or (-fno-plt) an indirect call through the GOT
        bz = re.search(r"<explicit_bzero@plt>|(call|jmp)\s+\*\S+\s+#\s*\S+\s+<explicit_bzero@",
                       dis) is not None
        ok = n > 0 and bz
        print("%s mssipae.so: %d calls to secure_wipe, explicit_bzero imported: %s"
              % ("ok  " if ok else "FAIL", n, bz))
        fails += not ok
    if checked < 5:
        print("FAIL: only %d objects checked" % checked)
        fails += 1
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
