"""The analyst's view (issue 9) through tshark: the Info column, expert infos on every pass,
-z mssipae,sa, -z mssipae,keys,FILE and its round trip, the signature buffer breakdown, the
NTLM password never saved, valid UTF-8 in JSON / EK / PDML, Wireshark's kerberos.file.

Material: the demo captures of every scheme (NTLM by gss-ntlmssp and by Microsoft, Kerberos by
MIT, TLS-DSK by GnuTLS over TCP and inside SIP over TLS) with their keys, and copies damaged in
place with sipedit (one byte of one message changed, same length).

Expected numbers are stated here and cross-checked against the per-frame fields. Every
statement that depends on the first pass is checked one-pass and with -2.

Run: cd tests/integration && MSSIPAE_BUILD_DIR=... MSSIPAE_SOURCE_DIR=... python3 -m unittest -v test_analyst
"""

import json
import os
import re
import stat
import subprocess
import sys
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MSSIPAE_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(SRC, "tests", "gen"))
sys.path.insert(0, HERE)

import itbase  # noqa: E402
from harness import NOBODY  # noqa: E402
from ntlmref import md4  # noqa: E402
from sipedit import patch_capture, tamper  # noqa: E402

DEMO = os.path.join(SRC, "demo")
NTLM_PW = "Lync-Demo-2013"
OC_PW = "Pa$$word"

# capture name -> (tshark -o / uat options, signed headers, SAs)
CAPTURES = {
    "ntlm-gss": ({"uat": {"mssipae_ntlm_users": ['"CONTOSO","alice","%s",""' % NTLM_PW]}}, 16, 1),
    "ntlm-oc2007r2": ({"prefs": {"mssipae.nt_password": OC_PW}}, 2, 1),
    "kerberos-mit": ({"prefs": {"mssipae.keytab": os.path.join(DEMO, "sip.keytab")}}, 12, 2),
    "tlsdsk-gnutls": ({"prefs": {"mssipae.tls_dsk_rsa_key": os.path.join(DEMO, "tlsdsk-server.key")}},
                      18, 3),
    "tlsdsk-over-tls": ({"prefs": {"tls.keylog_file": os.path.join(DEMO, "tlsdsk-over-tls.keys"),
                                   "mssipae.tls_dsk_rsa_key": os.path.join(DEMO, "tlsdsk-server.key")}},
                        6, 1),
}

# in-place damage: (capture, frame, header, substring or None, buffer item of the changed byte)
DAMAGE = {
    "ntlm-gss": (14, "Call-ID", None, "Call-ID"),
    "kerberos-mit": (11, "From", "re:tag=([0-9A-Za-z]+)", "From tag"),
    "tlsdsk-gnutls": (20, "CSeq", "re:^\\s*(\\d+)", "CSeq number"),
}


def opts(name):
    """tshark arguments of the keys of capture name."""
    conf = CAPTURES[name][0]
    args = []
    for k, v in conf.get("prefs", {}).items():
        args += ["-o", "%s:%s" % (k, v)]
    for table, rows in conf.get("uat", {}).items():
        for r in rows:
            args += ["-o", "uat:%s:%s" % (table, r)]
    return args


class AnalystTest(itbase.PluginTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.caps = {n: os.path.join(DEMO, n + ".pcap") for n in CAPTURES}
        cls.damaged = {}
        for name, (frame, hdr, sub, _item) in DAMAGE.items():
            msg = cls.message(cls.caps[name], frame)
            bad = tamper(msg, hdr, sub)
            cls.damaged[name] = (patch_capture(cls.caps[name], cls.tmp.name + "/%s-damaged.pcap" % name,
                                               msg, bad),
                                 frame, next(i for i in range(len(msg)) if msg[i] != bad[i]))

    @classmethod
    def message(cls, cap, frame):
        """The SIP message of frame (one whole message in one TCP segment or UDP datagram)."""
        out = cls.t.run(["-r", cap, "-Y", "frame.number == %d" % frame, "-T", "fields",
                         "-e", "tcp.payload", "-e", "udp.payload"]).strip().replace(":", "")
        return bytes.fromhex(out.replace("\t", ""))

    def tshark(self, args, two_pass=False):
        return self.t.run((["-2"] if two_pass else []) + args)

    def tshark_bytes(self, args):
        """stdout of tshark as bytes (t.run decodes with errors="replace")."""
        args = [self.t._maybe_stage(a) for a in args]
        argv, env = self.t._argv(args)
        p = subprocess.run(argv, env=env, capture_output=True, timeout=120, cwd=self.t.files)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        return p.stdout

    def status_rows(self, cap, args):
        """frame, statuses of its signed headers; asserted the same one-pass and with -2."""
        base = ["-n", "-r", cap] + args + ["-Y", "mssipae.sig.status", "-T", "fields",
                                           "-e", "frame.number", "-e", "mssipae.sig.status",
                                           "-E", "occurrence=a", "-E", "aggregator=,"]
        one, two = self.tshark(base), self.tshark(base, two_pass=True)
        self.assertEqual(one, two)
        return [tuple(l.split("\t")) for l in one.splitlines()]

    # ---- acceptance 1: the verdict in the Info column, no -V ----
    def test_info_column(self):
        for name, (cap, frame, _pos) in self.damaged.items():
            with self.subTest(capture=name):
                for two in (False, True):
                    out = self.tshark(["-n", "-r", cap] + opts(name), two_pass=two)
                    lines = {int(l.split()[0]): l for l in out.splitlines()}
                    self.assertIn("[MS-SIPAE invalid signature]", lines[frame])
                    self.assertNotIn("[MS-SIPAE valid]", lines[frame])
                    invalid = [f for f, l in lines.items() if "invalid signature" in l]
                    self.assertEqual(invalid, [frame])
                    valid = sum(l.count("[MS-SIPAE valid]") for l in lines.values())
                    self.assertEqual(valid, CAPTURES[name][1] - 1)
                # without keys: no verdict looks valid
                out = self.tshark(["-n", "-r", cap])
                self.assertNotIn("[MS-SIPAE valid]", out)
                self.assertEqual(out.count("[MS-SIPAE no key]"), CAPTURES[name][1])

    # ---- the shipped profile: coloring rules and columns ----
    def test_profile(self):
        import shutil
        dst = os.path.join(self.t.config_dir, "profiles", "MS-SIPAE")
        if not os.path.isdir(dst):
            shutil.copytree(os.path.join(SRC, "profiles", "MS-SIPAE"), dst)
        cap, frame, _pos = self.damaged["kerberos-mit"]
        out = self.tshark(["-C", "MS-SIPAE", "-n", "-r", cap] + opts("kerberos-mit")
                          + ["-Y", "mssipae.sig.status", "-T", "psml", "--color"])
        root = ET.fromstring(out.encode())
        self.assertIn("MS-SIPAE", [s.text for s in root.find("structure")])
        seen = {}
        for pkt in root.iter("packet"):
            cells = [s.text for s in pkt.iter("section")]
            seen[int(cells[0])] = (pkt.get("background"), cells[6], cells[7])
        self.assertEqual(len(seen), 12)
        self.assertEqual(seen[frame], ("#a40000", "invalid", "1"))
        self.assertEqual({v for f, v in seen.items() if f != frame and v[2] == "1"},
                         {("#d2f5cd", "valid", "1")})
        # no keys: "no key" rows
        out = self.tshark(["-C", "MS-SIPAE", "-n", "-r", cap, "-Y", "mssipae.sig.status",
                           "-T", "psml", "--color"])
        self.assertEqual({p.get("background") for p in ET.fromstring(out.encode()).iter("packet")},
                         {"#fff082"})

    # ---- acceptance 2: expert infos without a filter, on the second pass ----
    def expert_rows(self, out):
        """{(severity, summary): count} of the MS-SIPAE rows of -z expert."""
        rows, sev = {}, None
        for line in out.splitlines():
            m = re.match(r"^(Errors|Warns|Notes|Chats) \(\d+\)", line)
            if m:
                sev = m.group(1)
                continue
            m = re.match(r"^\s+(\d+)\s+\S+\s+MS-SIPAE\s+(.*)$", line)
            if m:
                rows[(sev, m.group(2))] = int(m.group(1))
        return rows

    def test_expert_without_filter(self):
        for name, (cap, frame, _pos) in self.damaged.items():
            with self.subTest(capture=name):
                base = ["-q", "-z", "expert", "-n", "-r", cap] + opts(name)
                plain2 = self.expert_rows(self.tshark(base, two_pass=True))
                filt2 = self.expert_rows(self.tshark(base + ["-Y", "mssipae"], two_pass=True))
                plain1 = self.expert_rows(self.tshark(base))
                self.assertTrue(plain2)
                self.assertEqual(plain2, filt2)
                self.assertEqual(plain1, filt2)
                errors = {k: v for k, v in plain2.items() if k[0] == "Errors"}
                self.assertEqual(sum(errors.values()), 1, errors)
                # the same count as the expert field seen per frame
                n = self.tshark(["-n", "-r", cap] + opts(name) + ["-Y", "mssipae.sig.invalid"])
                self.assertEqual(len(n.splitlines()), 1)

    # ---- acceptance 3: -z mssipae,sa ----
    def sa_table(self, cap, args, two_pass=False):
        out = self.tshark(["-q", "-z", "mssipae,sa", "-n", "-r", cap] + args, two_pass=two_pass)
        lines = out.splitlines()
        head = lines.index(next(l for l in lines if l.startswith("SA\tScheme")))
        cols = lines[head].split("\t")
        rows = []
        for l in lines[head + 1:]:
            if l.startswith("====="):
                break
            rows.append(dict(zip(cols, l.split("\t"))))
        return cols, rows

    def counts_from_fields(self, cap, args):
        """{(sa, direction, status): n} from the per-frame fields (independent of the tap)."""
        rows = self.t.fields(cap, ["mssipae.sa", "mssipae.direction", "mssipae.sig.status",
                                   "mssipae.header"], extra_args=args,
                             display_filter="mssipae.sig.status", split=True)
        n = {}
        for sa, dirs, st, hdrs in rows:
            # one sa/direction per header; sa only on headers bound to an SA
            signed = [i for i, h in enumerate(hdrs)]
            self.assertEqual(len(dirs), len(signed))
            sts = iter(st)
            for i in range(len(st)):
                k = (sa[i] if i < len(sa) else "-", dirs[i], next(sts))
                n[k] = n.get(k, 0) + 1
        return n

    def test_sa_statistics(self):
        expect = {
            # name: [(SA, scheme, user, c2s valid, s2c valid)]
            "ntlm-gss": [("1", "NTLM", "CONTOSO\\alice", 7, 9)],
            "ntlm-oc2007r2": [("1", "NTLM", "COSMO\\User", 1, 1)],
            "kerberos-mit": [("1", "Kerberos", "alice@CONTOSO.TEST", 3, 3),
                             ("2", "Kerberos", "bob@CONTOSO.TEST", 3, 3)],
            "tlsdsk-gnutls": [(str(i), "TLS-DSK", "CN=alice@contoso.test,O=Contoso", 3, 3)
                              for i in (1, 2, 3)],
            "tlsdsk-over-tls": [("1", "TLS-DSK", "CN=alice@contoso.test,O=Contoso", 3, 3)],
        }
        for name, rows_expected in expect.items():
            with self.subTest(capture=name):
                cols, rows = self.sa_table(self.caps[name], opts(name))
                _, rows2 = self.sa_table(self.caps[name], opts(name), two_pass=True)
                self.assertEqual(rows, rows2)
                self.assertEqual(len(cols), 11 + 14)
                self.assertEqual(len(rows), CAPTURES[name][2])
                for r, (sa, scheme, user, c2s, s2c) in zip(rows, rows_expected):
                    self.assertEqual((r["SA"], r["Scheme"], r["User/principal"]), (sa, scheme, user))
                    self.assertEqual((int(r["c2s valid"]), int(r["s2c valid"])), (c2s, s2c))
                    for c in cols[11:]:
                        if c not in ("c2s valid", "s2c valid"):
                            self.assertEqual(r[c], "0", (name, c))
                    self.assertEqual(r["Version"], "4")
                    self.assertNotEqual(r["Opaque"], "-")
                    self.assertLessEqual(int(r["First frame"]), int(r["Last frame"]))
                self.assertEqual(sum(int(r["c2s valid"]) + int(r["s2c valid"]) for r in rows),
                                 CAPTURES[name][1])
        # damaged: the invalid one lands in its SA and direction, and the table matches the fields
        for name, (cap, frame, _pos) in self.damaged.items():
            with self.subTest(damaged=name):
                cols, rows = self.sa_table(cap, opts(name))
                fields = self.counts_from_fields(cap, opts(name))
                table = {}
                for r in rows:
                    for c in cols[11:]:
                        if int(r[c]):
                            d, verdict = c.split(" ", 1)
                            d = "client-to-server" if d == "c2s" else "server-to-client"
                            st = {"valid": "1", "invalid": "2", "no key": "3", "no SA": "4",
                                  "unsupported": "5", "malformed": "6"}[verdict]
                            table[(r["SA"], d, st)] = int(r[c])
                self.assertEqual(table, fields)
                self.assertEqual(sum(v for k, v in table.items() if k[2] == "2"), 1)
        # without keys: everything "no key", same SAs
        _, rows = self.sa_table(self.caps["kerberos-mit"], [])
        self.assertEqual([(r["c2s no key"], r["s2c no key"], r["c2s valid"]) for r in rows],
                         [("3", "3", "0"), ("3", "3", "0")])

    def test_sa_statistics_unsigned(self):
        """A request and a response whose signing header is renamed (same length): unsigned
        messages on a signing SA, counted per direction, and noted in the Info column."""
        cap = self.caps["ntlm-gss"]
        path = cap
        for frame, hdr, new in ((16, b"\r\nAuthorization:", b"\r\nXuthorization:"),
                                (18, b"\r\nAuthentication-Info:", b"\r\nXuthentication-Info:")):
            msg = self.message(cap, frame)
            self.assertIn(hdr, msg)
            path = patch_capture(path, self.path("unsigned.pcap"), msg, msg.replace(hdr, new))
        cols, rows = self.sa_table(path, opts("ntlm-gss"))
        _, rows2 = self.sa_table(path, opts("ntlm-gss"), two_pass=True)
        self.assertEqual(rows, rows2)
        self.assertEqual(len(rows), 1)
        nonzero = {c: int(rows[0][c]) for c in cols[11:] if rows[0][c] != "0"}
        self.assertEqual(nonzero, {"c2s valid": 6, "c2s unsigned": 1, "s2c valid": 8,
                                   "s2c unsigned": 1})
        for two in (False, True):
            lines = {int(l.split()[0]): l for l in self.tshark(["-n", "-r", path] + opts("ntlm-gss"),
                                                               two_pass=two).splitlines()}
            self.assertEqual([f for f, l in lines.items() if "[MS-SIPAE unsigned]" in l], [16, 18])

    def test_stats_tree(self):
        out = self.tshark(["-q", "-z", "mssipae,tree", "-n", "-r", self.damaged["kerberos-mit"][0]]
                          + opts("kerberos-mit"))
        self.assertRegex(out, r"SA 1 \(Kerberos\)\s+6 ")
        self.assertRegex(out, r"invalid\s+1 ")
        self.assertRegex(out, r"MS-SIPAE signed and unsigned messages\s+12 ")

    # ---- acceptance 4: key export and round trip ----
    def export(self, cap, args, path, two_pass=False):
        self.tshark(["-q", "-z", "mssipae,keys," + path, "-n", "-r", cap] + args, two_pass=two_pass)
        self.assertIn("key line(s) written to " + path, self.t.last_stderr)
        with open(path) as f:
            return f.read()

    def test_key_export_round_trip(self):
        cases = dict(self.caps)
        cases.update({n + "-damaged": v[0] for n, v in self.damaged.items()})
        for name, cap in cases.items():
            base = name.replace("-damaged", "")
            with self.subTest(capture=name):
                path = os.path.join(self.t.home, name + ".keys")
                old = os.umask(0)  # a file made through the umask would be 0666
                try:
                    text = self.export(cap, opts(base), path)
                finally:
                    os.umask(old)
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
                keylines = [l for l in text.splitlines() if l and not l.startswith("#")]
                self.assertEqual(len(keylines), CAPTURES[base][2])
                with_keys = self.status_rows(cap, opts(base))
                self.assertEqual(sum(len(r[1].split(",")) for r in with_keys), CAPTURES[base][1])
                only = ["-o", "mssipae.keylog_file:" + path]
                if base == "tlsdsk-over-tls":  # the outer TLS: transport, not MS-SIPAE keys
                    only += ["-o", "tls.keylog_file:" + os.path.join(DEMO, "tlsdsk-over-tls.keys")]
                self.assertEqual(self.status_rows(cap, only), with_keys)
                self.assertEqual(self.export(cap, opts(base), path, two_pass=True), text)

    def test_key_export_holds_no_long_term_secret(self):
        secrets = {
            "ntlm-gss": [NTLM_PW, md4(NTLM_PW.encode("utf-16-le")).hex()],
            "ntlm-oc2007r2": [OC_PW, md4(OC_PW.encode("utf-16-le")).hex()],
            "kerberos-mit": re.findall(r"\(0x([0-9a-f]+)\)", subprocess.run(
                ["klist", "-k", "-K", "-e", os.path.join(DEMO, "sip.keytab")],
                capture_output=True, text=True).stdout),
            "tlsdsk-gnutls": self.rsa_secrets(os.path.join(DEMO, "tlsdsk-server.key")),
        }
        self.assertEqual(len(secrets["kerberos-mit"]), 5)
        for name, words in secrets.items():
            with self.subTest(capture=name):
                text = self.export(self.caps[name], opts(name),
                                   os.path.join(self.t.home, name + "-s.keys")).lower()
                self.assertIn(" ", text)
                for w in words:
                    self.assertGreater(len(w), 7)
                    self.assertNotIn(w.lower(), text)
                    # nor any 16-byte run of a long key
                    for i in range(0, max(1, len(w) - 32), 8):
                        self.assertNotIn(w.lower()[i:i + 32], text)

    @staticmethod
    def rsa_secrets(pem):
        out = subprocess.run(["openssl", "rsa", "-in", pem, "-noout", "-text"],
                             capture_output=True, text=True).stdout
        parts, cur = [], None
        for line in out.splitlines():
            if re.match(r"^[a-zA-Z0-9]+:$", line.strip()) and not line.startswith(" "):
                cur = line.strip()[:-1]
                if cur != "modulus":  # public
                    parts.append("")
                continue
            if line.startswith(" ") and cur and cur != "modulus":
                parts[-1] += line.strip().replace(":", "")
        with open(pem) as f:
            body = "".join(l.strip() for l in f if not l.startswith("-----"))
        return [p.lstrip("0") for p in parts if len(p) > 32] + [body[i:i + 40] for i in range(0, len(body) - 40, 200)]

    def test_key_export_mode_of_existing_file(self):
        path = os.path.join(self.t.home, "existing.keys")
        with open(path, "w") as f:
            f.write("old content that must go\n" * 50)
        os.chmod(path, 0o644)
        if os.geteuid() == 0:
            os.chown(path, NOBODY, NOBODY)
        text = self.export(self.caps["ntlm-gss"], opts("ntlm-gss"), path)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertNotIn("old content", text)

    # ---- acceptance 5: the buffer breakdown points at the changed byte ----
    def pdml_frame(self, cap, frame, args):
        out = self.tshark(["-n", "-r", cap] + args + ["-Y", "frame.number == %d" % frame,
                                                       "-T", "pdml"])
        return ET.fromstring(out.encode())

    def test_buffer_item_holds_changed_byte(self):
        for name, (cap, frame, idx) in self.damaged.items():
            item_name = DAMAGE[name][3]
            with self.subTest(capture=name):
                root = self.pdml_frame(cap, frame, opts(name))
                sip = next(p for p in root.iter("proto") if p.get("name") == "sip")
                byte = int(sip.get("pos")) + idx
                items = [f for f in root.iter("field") if f.get("name") == "mssipae.sigbuf.item"]
                self.assertGreaterEqual(len(items), 13)
                hits = [f.get("showname") for f in items
                        if int(f.get("size")) and int(f.get("pos")) <= byte < int(f.get("pos")) + int(f.get("size"))]
                self.assertEqual(len(hits), 1, hits)
                self.assertTrue(hits[0].startswith(item_name + ": <"), hits)
                # the items that come from the message sit on their own bytes, not the whole header
                verbatim = [f for f in items if not f.get("showname").endswith("message)")]
                self.assertGreaterEqual(len(verbatim), 12)
                for f in verbatim:
                    self.assertEqual(int(f.get("size")), len(f.get("show").encode()), f.get("showname"))
                status = [f.get("show") for f in root.iter("field") if f.get("name") == "mssipae.sig.status"]
                self.assertEqual(status, ["2"])
                # the same in a -2 run
                root2 = ET.fromstring(self.tshark(["-n", "-r", cap] + opts(name) + [
                    "-Y", "frame.number == %d" % frame, "-T", "pdml"], two_pass=True).encode())
                self.assertEqual([(f.get("pos"), f.get("size"), f.get("showname")) for f in root2.iter("field")
                                  if f.get("name", "").startswith("mssipae.sigbuf")],
                                 [(f.get("pos"), f.get("size"), f.get("showname")) for f in root.iter("field")
                                  if f.get("name", "").startswith("mssipae.sigbuf")])

    def test_uncovered_change_lands_in_not_covered(self):
        cap = self.caps["ntlm-gss"]
        msg = self.message(cap, 14)
        bad = tamper(msg, "Via", "re:branch=([0-9A-Za-z]+)")
        path = patch_capture(cap, self.path("via.pcap"), msg, bad)
        idx = next(i for i in range(len(msg)) if msg[i] != bad[i])
        root = self.pdml_frame(path, 14, opts("ntlm-gss"))
        sip = next(p for p in root.iter("proto") if p.get("name") == "sip")
        byte = int(sip.get("pos")) + idx
        hit = lambda f: int(f.get("pos")) <= byte < int(f.get("pos")) + int(f.get("size"))
        self.assertEqual([f.get("show") for f in root.iter("field")
                          if f.get("name") == "mssipae.sigbuf.not_covered" and hit(f)], ["Via"])
        self.assertEqual([f for f in root.iter("field") if f.get("name") == "mssipae.sigbuf.item" and hit(f)], [])
        self.assertEqual([f.get("show") for f in root.iter("field") if f.get("name") == "mssipae.sig.status"], ["1"])

    def test_buffer_bytes_field(self):
        rows = self.t.assert_same_both_passes(self.caps["ntlm-oc2007r2"], ["mssipae.sigbuf", "mssipae.sigbuf.bytes"],
                                              extra_args=opts("ntlm-oc2007r2"),
                                              display_filter="mssipae.sig.status", split=True)
        for buf, raw in rows:
            self.assertEqual(bytes.fromhex(raw[0].replace(":", "")).decode(), buf[0])

    # ---- acceptance 6: the password is never written ----
    def prefs_save(self, *args):
        tool = os.path.join(os.environ["MSSIPAE_BUILD_DIR"], "prefs_save")
        if not os.path.exists(tool):
            self.skipTest("prefs_save not built")
        staged = self.t.stage(tool)
        os.chmod(staged, 0o755)
        pf = os.path.join(self.t.config_dir, "preferences")
        if os.path.exists(pf):
            os.remove(pf)
        argv, env = self.t._argv(list(args))
        argv[argv.index(self.t.tshark)] = staged
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(pf) as f:
            return f.read(), p.stdout

    def test_password_never_saved_nor_shown(self):
        secret = "Xq7-Secret-Pw!"
        text, shown = self.prefs_save("-o", "mssipae.nt_password:" + secret,
                                      "-o", "mssipae.keylog_file:/nonexistent/keys")
        self.assertIn("mssipae.keylog_file: /nonexistent/keys", text)  # the file is written
        self.assertNotIn(secret, text)
        self.assertNotIn(secret, shown)
        self.assertIn("shown nt_password: \n", shown)
        # the GUI's masked field: the dialog writes the file before applying
        text, shown = self.prefs_save("--dialog", "nt_password_entry:" + secret)
        self.assertNotIn(secret, text)
        self.assertNotIn(secret, shown)
        # and -o keeps working for verification
        rows = self.status_rows(self.caps["ntlm-oc2007r2"], ["-o", "mssipae.nt_password:" + OC_PW])
        self.assertEqual(rows, [("2", "1"), ("3", "1")])

    # ---- acceptance 7: valid UTF-8 whatever the wire holds ----
    def test_json_is_valid_utf8(self):
        cap = self.caps["ntlm-gss"]
        msg = self.message(cap, 14)
        head = msg.split(b"\r\n\r\n")[0]
        # a Latin-1 byte in the covered From display name's URI user part and in the realm
        i = msg.index(b"sip:alice@", msg.index(b"\r\nFrom:")) + 4
        bad = msg[:i] + b"\xe9" + msg[i + 1:]
        j = bad.index(b"Communications", bad.index(b"Authentication-Info:"))
        bad = bad[:j] + b"\xff" + bad[j + 1:]
        self.assertEqual(len(bad), len(msg))
        path = patch_capture(cap, self.path("latin1.pcap"), msg, bad)
        args = ["-n", "-r", path] + opts("ntlm-gss")
        for fmt in ("json", "ek", "jsonraw"):
            with self.subTest(fmt=fmt):
                text = self.tshark_bytes(args + ["-T", fmt]).decode("utf-8", errors="strict")
                if fmt == "ek":
                    docs = [json.loads(l) for l in text.splitlines() if l.strip()]
                    self.assertTrue(docs)
                else:
                    json.loads(text)
                if fmt == "json":
                    self.assertIn("\ufffd", text)  # the bad bytes were replaced, not dropped
                    self.assertIn('"mssipae.sigbuf.bytes"', text)
        root = ET.fromstring(self.tshark_bytes(args + ["-T", "pdml"]))
        raw = [f.get("show") for f in root.iter("field") if f.get("name") == "mssipae.sigbuf.bytes"]
        self.assertTrue(any("ff" in r.replace(":", "") for r in raw))
        # the verdict of that message: invalid (both bytes are covered)
        self.assertIn(("14", "2"), self.status_rows(path, opts("ntlm-gss")))

    # ---- Wireshark's kerberos.file when mssipae.keytab is empty ----
    def test_kerberos_file_fallback(self):
        cap = self.caps["kerberos-mit"]
        keytab = os.path.join(DEMO, "sip.keytab")
        ours = self.status_rows(cap, ["-o", "mssipae.keytab:" + keytab])
        theirs = self.status_rows(cap, ["-o", "kerberos.file:" + keytab])
        self.assertEqual(theirs, ours)
        self.assertEqual(len(ours), 12)
        self.assertTrue(all(s == "1" for _f, s in ours))
        rows = self.t.fields(cap, ["mssipae.sig.why"], extra_args=["-o", "kerberos.file:/nonexistent.keytab"],
                             display_filter="mssipae.sig.status")
        self.assertEqual(len(rows), 12)
        self.assertTrue(all("/nonexistent.keytab (Wireshark's kerberos.file, as mssipae.keytab is empty)" in r[0]
                            for r in rows), rows[0])
        # mssipae.keytab wins when both are set
        rows = self.status_rows(cap, ["-o", "mssipae.keytab:/nonexistent.keytab", "-o", "kerberos.file:" + keytab])
        self.assertTrue(all(s == "3" for _f, s in rows))


if __name__ == "__main__":
    unittest.main()
