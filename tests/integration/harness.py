"""harness -- run tshark with OUR built plugin, as root or not (Python 3 standard library only).

Wireshark ignores WIRESHARK_PLUGIN_DIR and the personal plugin folder when it runs as root
(wireshark-4.0.md section 2).  So each ``Tshark`` owns a world-readable temporary folder under
/tmp::

    <tmp>/plugins/4.0/epan/mssipae.so   copy of $MSSIPAE_BUILD_DIR/mssipae.so (if built)
    <tmp>/config/                       WIRESHARK_CONFIG_DIR (preferences, UAT files)
    <tmp>/home/                         HOME
    <tmp>/files/                        copies of captures, key logs, keytabs ("staged" files)
    <tmp>/extcap/                       WIRESHARK_EXTCAP_DIR, empty: tshark -G plugins would
                                        otherwise run every extcap (they hang with libasan
                                        in LD_PRELOAD)

and runs ``setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=... WIRESHARK_PLUGIN_DIR=...
WIRESHARK_CONFIG_DIR=... tshark ...`` when euid == 0, or tshark directly with the same variables
otherwise.  WIRESHARK_PLUGIN_DIR replaces the global plugin folder, so only our plugin is loaded
(stock dissectors such as SIP and TLS are built into libwireshark and always present).
If the plugin was built with -fsanitize=address, libasan is put in LD_PRELOAD (ASAN_OPTIONS default
``detect_leaks=0``, since tshark itself leaks at exit; an existing ASAN_OPTIONS is kept).

Every call fails the test (``TsharkError``, an AssertionError) when tshark exits non-zero, or when
stderr contains ``Couldn't load plugin``, ``was compiled for Wireshark version``, a sanitizer report
or ``runtime error:``.

API
---
``Tshark(tmpdir=None, build_dir=None, plugin=None, plugin_name="mssipae")``
    ``tmpdir``: a folder to use (must be under a world-traversable path; made 0755); default: a
    new ``/tmp/mssipae-it-*`` removed by ``cleanup()`` / at exit / by ``with Tshark() as t:``.
    ``build_dir`` defaults to $MSSIPAE_BUILD_DIR; ``plugin`` to <build_dir>/mssipae.so (None if
    that file does not exist: stock dissection still works).
  ``.plugin_built`` -- True when the plugin file exists
  ``.require_plugin()`` -- ``unittest.SkipTest`` with a clear message if it is not built; else
      asserts that ``tshark -G plugins`` lists it (from our folder) with a clean stderr
  ``.plugin_listed()`` -- bool (cached)
  ``.stage(path) -> path`` -- copy a file into <tmp>/files (mode 0644); files already inside tmpdir
      are used as they are
  ``.write_config(name, text) -> path`` -- write a file in the config folder (``preferences``, UAT
      files such as ``mssipae_users``: one record per line, ``"text",hexbytes``)
  ``.run(args, stage_files=True) -> stdout`` -- any tshark arguments; args that are absolute paths
      of existing files are staged first; ``.last_stderr`` holds stderr
  ``.fields(capture, fields, prefs=None, extra_args=(), two_pass=False, display_filter=None,
            uat=None, aggregator=",", split=False) -> rows``
      ``-r capture -T fields -e f1 -e f2 ... -E occurrence=a -E separator=/t``.  One row per
      displayed frame, one cell per field.  Cells: all occurrences joined with ``aggregator``
      (default ","), ``""`` when absent; with ``split=True`` each cell is a list of occurrence
      strings (a control character is used as aggregator internally, so commas inside values are
      safe).  ``prefs``: {name: value} -> ``-o name:value`` (values that are paths of existing files
      are staged).  ``uat``: {table: [record, ...]} -> ``-o uat:table:record``.
  ``.assert_same_both_passes(capture, fields, **kw) -> rows`` -- runs ``fields`` one-pass and with
      ``-2`` and asserts equal output; returns the rows.

Example::

    from harness import Tshark
    with Tshark() as t:
        rows = t.fields(pcap, ["frame.number", "sip.CSeq.method"], display_filter="sip")
        # [['4', 'REGISTER'], ['6', 'REGISTER,REGISTER'], ...]
        t.require_plugin()                     # skip if mssipae.so is not built
        rows = t.assert_same_both_passes(pcap, ["mssipae.sig.status"],
                                         prefs={"mssipae.keylog_file": "/path/keys.log"})
"""

import atexit
import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

__all__ = ["Tshark", "TsharkError", "plugin_path", "NOBODY"]

NOBODY = 65534
WS_MAJOR_MINOR = "4.0"
_SPLIT = "\x1f"        # aggregator for split=True
_BAD_STDERR = ("Couldn't load plugin", "was compiled for Wireshark version", "AddressSanitizer",
               "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:")


class TsharkError(AssertionError):
    """tshark failed, or printed a plugin load / sanitizer error."""


def plugin_path(build_dir=None):
    """<build_dir>/mssipae.so (build_dir defaults to $MSSIPAE_BUILD_DIR), or None if absent."""
    build_dir = build_dir or os.environ.get("MSSIPAE_BUILD_DIR")
    if not build_dir:
        return None
    p = os.path.join(build_dir, "mssipae.so")
    return p if os.path.isfile(p) else None


def _asan_runtime(so_path):
    """Path of the libasan the plugin needs (None if not sanitized)."""
    with open(so_path, "rb") as f:
        m = re.search(rb"libasan\.so\.\d+", f.read())
    if not m:
        return None
    soname = m.group(0).decode()
    for d in ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib",
              "/lib64"):
        cand = os.path.join(d, soname)
        if os.path.exists(cand):
            return cand
    try:
        out = subprocess.run(["gcc", "-print-file-name=" + soname], capture_output=True,
                             text=True).stdout.strip()
        if os.path.isabs(out) and os.path.exists(out):
            return out
    except OSError:
        pass
    hits = glob.glob("/usr/lib/**/" + soname, recursive=True)
    if hits:
        return hits[0]
    raise TsharkError("plugin %s needs %s (built with -fsanitize=address) but it was not found"
                      % (so_path, soname))


def _world_traversable(path):
    p = os.path.abspath(path)
    while True:
        if not os.stat(p).st_mode & 0o001:
            return False
        parent = os.path.dirname(p)
        if parent == p:
            return True
        p = parent


class Tshark:
    """tshark runner with our plugin in a private, world-readable folder; see module docstring."""

    def __init__(self, tmpdir=None, build_dir=None, plugin=None, plugin_name="mssipae",
                 tshark="tshark"):
        self.root = os.geteuid() == 0
        self._own = tmpdir is None
        if tmpdir is None or (self.root and not _world_traversable(os.path.dirname(
                os.path.abspath(tmpdir)))):
            tmpdir = tempfile.mkdtemp(prefix="mssipae-it-", dir="/tmp")
            self._own = True
            atexit.register(self.cleanup)
        os.makedirs(tmpdir, exist_ok=True)
        os.chmod(tmpdir, 0o755)
        self.tmpdir = os.path.abspath(tmpdir)
        self.plugin_name = plugin_name
        self.tshark = shutil.which(tshark) or tshark
        self.plugin_src = plugin if plugin is not None else plugin_path(build_dir)
        self.plugin_dir = os.path.join(self.tmpdir, "plugins")
        self.config_dir = os.path.join(self.tmpdir, "config")
        self.home = os.path.join(self.tmpdir, "home")
        self.files = os.path.join(self.tmpdir, "files")
        self.extcap_dir = os.path.join(self.tmpdir, "extcap")
        epan = os.path.join(self.plugin_dir, WS_MAJOR_MINOR, "epan")
        for d in (epan, self.config_dir, self.home, self.files, self.extcap_dir):
            os.makedirs(d, exist_ok=True)
        for d in (self.plugin_dir, os.path.dirname(epan), epan, self.files, self.extcap_dir):
            os.chmod(d, 0o755)
        for d in (self.config_dir, self.home):
            os.chmod(d, 0o755)
            if self.root:
                os.chown(d, NOBODY, NOBODY)
        self.plugin = None
        self.asan = None
        if self.plugin_src:
            self.plugin = os.path.join(epan, os.path.basename(self.plugin_src))
            shutil.copyfile(self.plugin_src, self.plugin)
            os.chmod(self.plugin, 0o644)
            self.asan = _asan_runtime(self.plugin)
        self._staged = {}
        self._listed = None
        self.last_stderr = ""
        self.last_args = None

    @property
    def plugin_built(self):
        """True when the plugin file to test exists."""
        return bool(self.plugin_src)

    # ---- lifetime ----
    def cleanup(self):
        if self._own and os.path.isdir(self.tmpdir):
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # ---- files ----
    def stage(self, path):
        """Copy a file into the world-readable files folder; return the new path."""
        path = os.path.abspath(path)
        if path.startswith(self.tmpdir + os.sep):
            os.chmod(path, 0o644)
            return path
        dst = self._staged.get(path)
        if dst is None:
            dst = os.path.join(self.files, "%03d-%s" % (len(self._staged), os.path.basename(path)))
            self._staged[path] = dst
        shutil.copyfile(path, dst)
        os.chmod(dst, 0o644)
        return dst

    def _maybe_stage(self, value):
        if isinstance(value, str) and os.path.isabs(value) and os.path.isfile(value):
            return self.stage(value)
        return value

    def write_config(self, name, text):
        """Write a file into WIRESHARK_CONFIG_DIR (preferences, UAT tables)."""
        p = os.path.join(self.config_dir, name)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(p, 0o644)
        return p

    # ---- running ----
    def _env(self):
        env = {"HOME": self.home, "WIRESHARK_PLUGIN_DIR": self.plugin_dir,
               "WIRESHARK_CONFIG_DIR": self.config_dir, "WIRESHARK_EXTCAP_DIR": self.extcap_dir,
               "LC_ALL": "C.UTF-8"}
        if self.asan:
            env["LD_PRELOAD"] = self.asan
            env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "detect_leaks=0")
            env["UBSAN_OPTIONS"] = os.environ.get("UBSAN_OPTIONS",
                                                  "print_stacktrace=1:halt_on_error=1")
        return env

    def _argv(self, args):
        env = self._env()
        if self.root:
            return (["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                     "env"] + ["%s=%s" % kv for kv in sorted(env.items())]
                    + [self.tshark] + list(args)), None
        full = dict(os.environ)
        full.update(env)
        return [self.tshark] + list(args), full

    def run(self, args, stage_files=True, check=True, timeout=120):
        """Run tshark with args; return stdout (str).  Raises TsharkError on failure."""
        args = [self._maybe_stage(a) if stage_files else a for a in args]
        argv, env = self._argv(args)
        self.last_args = argv
        try:
            p = subprocess.run(argv, env=env, capture_output=True, timeout=timeout,
                               cwd=self.files)
        except subprocess.TimeoutExpired as e:
            raise TsharkError("tshark timed out after %ss\ncommand: %s" % (timeout, " ".join(argv))
                              ) from e
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        self.last_stderr = err
        bad = [b for b in _BAD_STDERR if b in err]
        if check and (p.returncode != 0 or bad):
            raise TsharkError("tshark failed (exit %d%s)\ncommand: %s\nstderr:\n%s"
                              % (p.returncode, ", stderr has " + repr(bad) if bad else "",
                                 " ".join(argv), err[-4000:]))
        return out

    def plugin_listed(self):
        """True if `tshark -G plugins` lists our plugin file from our plugin folder."""
        if self._listed is None:
            out = self.run(["-G", "plugins"])
            self._listed = False
            if self.plugin:
                for line in out.splitlines():
                    cols = line.split("\t")
                    if cols and cols[0].strip() == os.path.basename(self.plugin) and \
                            any(c.startswith(self.plugin_dir) for c in cols):
                        self._listed = True
        return self._listed

    def require_plugin(self):
        """Skip the calling test if the plugin is not built; fail if built but not loaded."""
        if not self.plugin_src:
            raise unittest.SkipTest(
                "plugin not built: %s/mssipae.so does not exist (set MSSIPAE_BUILD_DIR to a build "
                "folder containing it)" % (os.environ.get("MSSIPAE_BUILD_DIR") or "<unset>"))
        if not self.plugin_listed():
            raise TsharkError("tshark -G plugins does not list %s from %s\nstderr:\n%s"
                              % (os.path.basename(self.plugin), self.plugin_dir, self.last_stderr))

    def fields(self, capture, fields, prefs=None, extra_args=(), two_pass=False,
               display_filter=None, uat=None, aggregator=",", split=False):
        """-T fields output as rows of cells; see the module docstring."""
        agg = _SPLIT if split else aggregator
        args = ["-n", "-r", self.stage(capture)]
        if two_pass:
            args.append("-2")
        for name, value in (prefs or {}).items():
            if isinstance(value, bool):
                value = "TRUE" if value else "FALSE"
            args += ["-o", "%s:%s" % (name, self._maybe_stage(str(value)))]
        for table, records in (uat or {}).items():
            for rec in records:
                args += ["-o", "uat:%s:%s" % (table, rec)]
        if display_filter:
            args += ["-Y", display_filter]
        args += ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=" + agg,
                 "-E", "separator=/t", "-E", "header=n"]
        for f in fields:
            args += ["-e", f]
        args += list(extra_args)
        out = self.run(args)
        rows = []
        lines = out.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for line in lines:
            cells = line.split("\t")
            cells += [""] * (len(fields) - len(cells))
            if split:
                cells = [c.split(_SPLIT) if c else [] for c in cells]
            rows.append(cells)
        return rows

    def assert_same_both_passes(self, capture, fields, **kw):
        """Run fields() one-pass and two-pass (-2); assert identical rows; return them."""
        kw.pop("two_pass", None)
        one = self.fields(capture, fields, two_pass=False, **kw)
        two = self.fields(capture, fields, two_pass=True, **kw)
        if one != two:
            raise TsharkError("one-pass and two-pass (-2) output differ:\n1: %r\n2: %r"
                              % (one, two))
        return one
