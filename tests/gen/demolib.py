"""demolib -- what the demo generators (make_demo_kerberos.py, make_demo_ntlm.py) share: their
command line and the .conf files (tshark options) they write next to each demo capture."""

import argparse
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args(doc, peer):
    """--out (default: the repository's demo/ folder; created) and --build-dir (a build folder
    with the GSS test peer named peer; exported as MSSIPAE_BUILD_DIR)."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "demo"), help="output folder")
    ap.add_argument("--build-dir", help="build folder with %s (else $MSSIPAE_BUILD_DIR)" % peer)
    args = ap.parse_args()
    if args.build_dir:
        os.environ["MSSIPAE_BUILD_DIR"] = os.path.abspath(args.build_dir)
    os.makedirs(args.out, exist_ok=True)
    return args


def write_conf(path, comment, lines):
    """The .conf of a demo capture: a comment, then one tshark argument per line."""
    with open(path, "w") as f:
        f.write("".join("# %s\n" % c for c in comment))
        f.write("".join(l + "\n" for l in lines))
