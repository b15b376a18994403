"""The Wireshark GUI with the plugin, under Xvfb (issue 9, acceptance 8): opens the damaged
Kerberos capture demo/kerberos-mit-tampered.pcap with its keytab and the MS-SIPAE profile, selects
the invalid message, expands the MS-SIPAE subtree and takes screenshots.

Checks, on the screen itself:
* the main window's title names the capture, and Wireshark is still running after the clicks;
* with the invalid message selected (-g), the packet details show a row painted in Wireshark's
  expert "error" colour (255,92,92): the MS-SIPAE item of a signature that does not verify (the
  capture has no other error);
* clicking that row and pressing Shift+Right (expand subtrees) fills the details pane with many
  more lines of text below it (the MS-SIPAE subtree: verdict, reason, buffer items);
* MS-SIPAE > Export derived SA keys writes a mode 0600 key file with the capture's two Kerberos
  SA keys into the configuration folder.

Skipped when wireshark (wireshark-qt), Xvfb, xdotool or ImageMagick are not installed. Takes about
15 s. MSSIPAE_SCREENSHOT=<file.png> keeps the final screenshot (the README's is made so:
scripts/gui_screenshot.sh).

Run: cd tests/integration && MSSIPAE_BUILD_DIR=... MSSIPAE_SOURCE_DIR=... python3 -m unittest -v test_gui
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MSSIPAE_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)

import itbase  # noqa: E402
from harness import NOBODY  # noqa: E402

DEMO = os.path.join(SRC, "demo")
TOOLS = ("wireshark", "Xvfb", "xdotool", "convert", "import")
ERROR_RGB = (255, 92, 92)  # Wireshark's expert error colour (gui.expert_color_error default)
W, H = 1280, 900


def have_tools():
    return all(shutil.which(t) for t in TOOLS)


@unittest.skipUnless(have_tools(), "needs " + ", ".join(TOOLS) + " (Debian: wireshark-qt xvfb "
                     "xdotool imagemagick)")
class GuiTest(itbase.PluginTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        t = cls.t
        # one byte of frame 11 changed in place (tests/gen/make_demo_tampered.py)
        cls.capture = t.stage(os.path.join(DEMO, "kerberos-mit-tampered.pcap"))
        cls.keytab = t.stage(os.path.join(DEMO, "sip.keytab"))
        # the shipped profile, and a window of known size without the bytes pane
        prof = os.path.join(t.config_dir, "profiles", "MS-SIPAE")
        shutil.copytree(os.path.join(SRC, "profiles", "MS-SIPAE"), prof)
        with open(os.path.join(prof, "recent"), "w") as f:
            f.write("gui.byte_view_show: FALSE\ngui.geometry_main_upper_pane: 190\n")
        with open(os.path.join(t.config_dir, "recent_common"), "w") as f:
            f.write("gui.geometry_main_x: 0\ngui.geometry_main_y: 0\ngui.geometry_main_width: %d\n"
                    "gui.geometry_main_height: %d\ngui.geometry_main_maximized: FALSE\n" % (W, H))
        cls.xdg = os.path.join(t.home, "xdg")
        os.makedirs(cls.xdg, mode=0o700, exist_ok=True)
        if os.geteuid() == 0:
            for root, dirs, files in os.walk(t.config_dir):
                for n in dirs + files + [""]:
                    os.chown(os.path.join(root, n), NOBODY, NOBODY)
            os.chown(cls.xdg, NOBODY, NOBODY)
        cls.xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "%dx%dx24" % (W, H),
                                     "-nolisten", "tcp"], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL)
        cls.addClassCleanup(cls.stop, cls.xvfb)
        cls.display = ":" + cls.xvfb.stdout.readline().decode().strip()
        cls.xvfb.stdout.close()

    @staticmethod
    def stop(p):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                p.terminate()
        if getattr(p, "log", None):
            p.log.close()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def x(self, *args):
        return subprocess.run(list(args), env=dict(os.environ, DISPLAY=self.display),
                              capture_output=True, text=True, timeout=30).stdout.strip()

    def screenshot(self, name):
        """Screenshot of the whole screen: (path, rows of (r, g, b) tuples)."""
        path = os.path.join(self.tmp.name, name)
        self.x("import", "-window", "root", path)
        raw = subprocess.run(["convert", path, "-depth", "8", "rgb:-"], capture_output=True,
                             timeout=30).stdout
        self.assertEqual(len(raw), W * H * 3)
        return path, raw

    @staticmethod
    def rows_with(raw, pred, y0=0, y1=H):
        out = []
        for y in range(y0, y1):
            line = raw[y * W * 3:(y + 1) * W * 3]
            if any(pred(line[i], line[i + 1], line[i + 2]) for i in range(0, W * 3, 3)):
                out.append(y)
        return out

    def test_invalid_message_in_gui(self):
        t = self.t
        env = t._env()
        env.update({"DISPLAY": self.display, "XDG_RUNTIME_DIR": self.xdg, "QT_QPA_PLATFORM": "xcb"})
        args = ["wireshark", "-C", "MS-SIPAE", "-r", self.capture, "-o",
                "mssipae.keytab:" + self.keytab, "-o", "gui.packet_list_show_minimap:FALSE",
                "-Y", "mssipae.sig.status", "-g", "11"]
        if t.root:
            argv = (["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups", "env"]
                    + ["%s=%s" % kv for kv in sorted(env.items())] + args)
            penv = None
        else:
            argv, penv = args, dict(os.environ, **env)
        log = open(os.path.join(self.tmp.name, "wireshark.log"), "w+")
        ws = subprocess.Popen(argv, env=penv, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
        ws.log = log
        self.addCleanup(self.stop, ws)
        title = ""
        deadline = time.time() + 45
        while time.time() < deadline and not title:
            wid = self.x("xdotool", "search", "--name", "kerberos-mit-tampered.pcap").split("\n")[0]
            title = self.x("xdotool", "getwindowname", wid) if wid else ""
            time.sleep(0.5)
        self.assertTrue(title.startswith(os.path.basename(self.capture)), title)
        time.sleep(2)  # the first pass and the -g selection
        _, before = self.screenshot("before.png")
        red = self.rows_with(before, lambda r, g, b: (r, g, b) == ERROR_RGB, 150)
        self.assertGreaterEqual(len(red), 10, "no MS-SIPAE error row in the packet details")
        y = (red[0] + red[-1]) // 2
        dark = lambda r, g, b: r + g + b < 200  # text
        text_before = self.rows_with(before, dark, red[-1] + 2, H - 30)
        self.x("xdotool", "mousemove", "300", str(y), "click", "1")
        time.sleep(0.5)
        self.x("xdotool", "key", "shift+Right")
        time.sleep(1.5)
        shot, after = self.screenshot("after.png")
        text_after = self.rows_with(after, dark, red[-1] + 2, H - 30)
        self.assertGreater(len(text_after), len(text_before) + 200,
                           "the MS-SIPAE subtree did not expand")
        self.assertIsNone(ws.poll(), "Wireshark exited")
        self.assertEqual(self.x("xdotool", "getwindowname",
                                self.x("xdotool", "search", "--name", "kerberos-mit-tampered.pcap").split("\n")[0]),
                         title)
        # MS-SIPAE > Export derived SA keys (the last menu of the menu bar; positions are those
        # of this fixed-size window): a 0600 key file in the configuration folder
        self.x("xdotool", "mousemove", "640", "10", "click", "1")
        time.sleep(0.8)
        self.x("xdotool", "mousemove", "700", "34", "click", "1")
        keys = []
        deadline = time.time() + 10
        while time.time() < deadline and not keys:
            keys = [n for n in os.listdir(t.config_dir) if n.startswith("mssipae-keys-")]
            time.sleep(0.3)
        self.assertEqual(len(keys), 1, "the GUI key export wrote no file")
        key_file = os.path.join(t.config_dir, keys[0])
        self.assertEqual(os.stat(key_file).st_mode & 0o777, 0o600)
        with open(key_file) as f:
            lines = [l.split()[:3] for l in f if l.startswith("KERBEROS")]
        self.assertEqual(lines, [["KERBEROS", "7E0E92FF", "18"], ["KERBEROS", "E44F1544", "23"]])
        self.x("xdotool", "key", "Return")  # the message box naming the file
        self.assertIsNone(ws.poll(), "Wireshark exited")
        log.seek(0)
        out = log.read()
        self.assertNotIn("Couldn't load plugin", out)
        keep = os.environ.get("MSSIPAE_SCREENSHOT")
        if keep:
            subprocess.run(["convert", shot, "-crop", "%dx%d+0+0" % (W, H), "+dither",
                            "-colors", "64", keep], check=True, timeout=60)


if __name__ == "__main__":
    unittest.main()
