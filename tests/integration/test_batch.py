"""Verifying in batches (issue 10): on a pass where nobody reads a frame's results while it is
dissected (tshark -2's first pass, tshark -q), the plugin copies the frame's SIP messages into a
batch and verifies them later, all together, in capture order (verify/msg_batch.h,
packet-mssip-auth.c: batch_take / batch_run).

Checks, against the same runs with -o mssipae.batch:FALSE (every frame verified as it is
dissected):
* the demo captures of every scheme, whole and damaged in place (the message that binds the SA,
  carries the handshake or is signed), and a benchmark capture of 300 NTLM messages over six SAs
  (several full batches and a partial one), with the right keys and with wrong ones: tshark -2
  gives the same fields (verdict, reason, SA, SA frame, expert messages, Info column) and the
  same -V text;
* the batches did run: tshark --log-debug mssipae names them (with batch:FALSE, none), each
  SIP frame of a capture but the first (verified at once: it decides whether the pass reads
  expert infos) in exactly one batch, in increasing order, at most 64 frames per batch, also
  the last frames of a single pass (tshark -q -Y sip: verified when the file is closed);
* nothing is batched where a frame's results are read while it is dissected: one pass with -V,
  with -T fields naming mssipae fields, with a display filter on them, with the Info column
  printed, with -z expert or with -z mssipae,sa; and those runs give the verdicts the batched
  -2 run gives.
"""

import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MSSIPAE_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(SRC, "tests", "gen"))
sys.path.insert(0, os.path.join(SRC, "bench"))
sys.path.insert(0, HERE)

import benchgen  # noqa: E402
import itbase  # noqa: E402
from sipedit import patch_capture, tamper  # noqa: E402

DEMO = os.path.join(SRC, "demo")

# capture -> (-o options with its keys, a frame damaged in place: (frame, header, substring))
CAPTURES = {
    "ntlm-gss": (["-o", 'uat:mssipae_ntlm_users:"CONTOSO","alice","Lync-Demo-2013",""'],
                 (14, "Call-ID", None)),
    "ntlm-oc2007r2": (["-o", "mssipae.nt_password:Pa$$word"], None),
    "kerberos-mit": (["-o", "mssipae.keytab:" + os.path.join(DEMO, "sip.keytab")],
                     (11, "From", "re:tag=([0-9A-Za-z]+)")),
    "tlsdsk-gnutls": (["-o", "mssipae.tls_dsk_rsa_key:" + os.path.join(DEMO, "tlsdsk-server.key")],
                      (20, "CSeq", "re:^\\s*(\\d+)")),
    "tlsdsk-over-tls": (["-o", "tls.keylog_file:" + os.path.join(DEMO, "tlsdsk-over-tls.keys"),
                         "-o", "mssipae.tls_dsk_rsa_key:" + os.path.join(DEMO, "tlsdsk-server.key")],
                        None),
}

FIELDS = ["frame.number", "mssipae.sig.status", "mssipae.sig.why", "mssipae.sa",
          "mssipae.sa.frame", "_ws.expert.message", "_ws.col.Info"]

BATCH_RE = re.compile(r"verifying a batch of (\d+) frames, (\d+) to (\d+)")


class BatchTest(itbase.PluginTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.caps = {}
        for name, (keys, damage) in CAPTURES.items():
            pcap = os.path.join(DEMO, name + ".pcap")
            cls.caps[name] = (pcap, keys)
            if damage:
                frame, hdr, sub = damage
                msg = cls.message(pcap, frame)
                cls.caps[name + "-damaged"] = (
                    patch_capture(pcap, os.path.join(cls.tmp.name, name + "-damaged.pcap"), msg,
                                  tamper(msg, hdr, sub)), keys)
        b = benchgen.make("ntlm", 300, cls.tmp.name, per_sa=50)
        cls.bench = (b["pcap"], ["-o", "mssipae.keylog_file:" +
                                 cls.t._maybe_stage(b["prefs"]["mssipae.keylog_file"])])
        # the same capture with every key changed: wrong signatures (diagnostics left for later)
        wrong = os.path.join(cls.tmp.name, "ntlm-wrong.keys")
        with open(b["prefs"]["mssipae.keylog_file"]) as f, open(wrong, "w") as w:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[0] == "NTLM":
                    line = "NTLM %s %s\n" % (parts[1], "%032x" % (int(parts[2], 16) ^ 1))
                w.write(line)
        cls.bench_wrong = (b["pcap"], ["-o", "mssipae.keylog_file:" + cls.t._maybe_stage(wrong)])

    @classmethod
    def message(cls, cap, frame):
        out = cls.t.run(["-r", cap, "-Y", "frame.number == %d" % frame, "-T", "fields",
                         "-e", "tcp.payload", "-e", "udp.payload"]).strip().replace(":", "")
        return bytes.fromhex(out.replace("\t", ""))

    def tshark(self, pcap, keys, args, batch=True):
        """stdout of tshark with the keys, -o mssipae.batch, and the plugin's debug log on; the
        batches it names (count, first, last) in self.batches."""
        out = self.t.run(["-n", "-r", pcap] + keys + ["-o", "mssipae.batch:%s" % (
            "TRUE" if batch else "FALSE"), "--log-debug", "mssipae"] + args)
        self.batches = [tuple(map(int, m.groups())) for m in BATCH_RE.finditer(self.t.last_stderr)]
        return out

    def frames_with_sip(self, pcap, keys):
        out = self.t.run(["-n", "-r", pcap] + keys + ["-Y", "sip", "-T", "fields",
                                                     "-e", "frame.number"])
        return [int(x) for x in out.split()]

    def assert_batched(self, pcap, keys):
        """The last run's batches: every SIP frame of the capture once, in order, <= 64 each,
        but the first (verified at once: it decides whether the pass reads expert infos)."""
        self.assertTrue(self.batches, "no batch was verified")
        covered = []
        for n, first, last in self.batches:
            self.assertTrue(1 <= n <= 64, self.batches)
            self.assertLessEqual(first, last)
            covered.append((first, last))
        sip = self.frames_with_sip(pcap, keys)[1:]
        self.assertEqual(sum(n for n, _, _ in self.batches), len(sip))
        self.assertEqual(covered[0][0], sip[0])
        self.assertEqual(covered[-1][1], sip[-1])
        for (_, a_last), (b_first, _) in zip(covered, covered[1:]):
            self.assertLess(a_last, b_first)

    def same_batched_or_not(self, pcap, keys):
        fields = ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"]
        for f in FIELDS:
            fields += ["-e", f]
        on = self.tshark(pcap, keys, ["-2"] + fields)
        self.assert_batched(pcap, keys)
        off = self.tshark(pcap, keys, ["-2"] + fields, batch=False)
        self.assertEqual(self.batches, [])
        self.assertEqual(on, off)
        self.assertTrue(any(r.split("\t")[1] for r in on.splitlines()), "no signed message")
        v_on = self.tshark(pcap, keys, ["-2", "-V"])
        self.assertTrue(self.batches)
        v_off = self.tshark(pcap, keys, ["-2", "-V"], batch=False)
        self.assertEqual(v_on, v_off)
        self.assertIn("MS-SIPAE", v_on)
        return on

    def test_demo_captures_same_verdicts(self):
        seen = set()
        for name, (pcap, keys) in sorted(self.caps.items()):
            with self.subTest(capture=name):
                out = self.same_batched_or_not(pcap, keys)
                seen.update(s for r in out.splitlines() for s in r.split("\t")[1].split("|") if s)
        # valid (1) and invalid (2) both among them: the damaged messages
        self.assertTrue({"1", "2"} <= seen, seen)

    def test_many_batches(self):
        for label, (pcap, keys), status in (("right keys", self.bench, "1"),
                                            ("wrong keys", self.bench_wrong, "2")):
            with self.subTest(keys=label):
                out = self.same_batched_or_not(pcap, keys)
                self.tshark(pcap, keys, ["-q", "-Y", "sip"])
                self.assert_batched(pcap, keys)
                self.assertGreaterEqual(len(self.batches), 5)
                self.assertEqual([n for n, _, _ in self.batches[:4]], [64] * 4)
                statuses = [r.split("\t")[1] for r in out.splitlines()]
                self.assertEqual(len(statuses), 300)
                self.assertEqual(set(statuses), {status})

    def test_not_batched_where_results_are_read(self):
        pcap, keys = self.caps["kerberos-mit-damaged"]
        ref = self.tshark(pcap, keys, ["-2", "-T", "fields", "-e", "frame.number",
                                       "-e", "mssipae.sig.status"])
        self.assertTrue(self.batches)
        want = {r.split("\t")[0]: r.split("\t")[1] for r in ref.splitlines()}
        runs = {
            "-V": ["-V"],
            "-T fields": ["-T", "fields", "-e", "frame.number", "-e", "mssipae.sig.status"],
            "-Y": ["-Y", "mssipae.sig.status == 2", "-T", "fields", "-e", "frame.number"],
            "Info column": [],
            "-z expert": ["-q", "-z", "expert"],
            "-z mssipae,sa": ["-q", "-z", "mssipae,sa"],
        }
        for label, args in runs.items():
            with self.subTest(run=label):
                out = self.tshark(pcap, keys, args)
                self.assertEqual(self.batches, [], label)
                if label == "-T fields":
                    self.assertEqual({r.split("\t")[0]: r.split("\t")[1]
                                      for r in out.splitlines()}, want)
                elif label == "-Y":
                    self.assertEqual(out.split(), [f for f, s in want.items() if s == "2"])
                elif label == "Info column":
                    self.assertIn("[MS-SIPAE invalid signature]", out)
                elif label == "-z expert":
                    self.assertIn("MIC does not verify", out)
                elif label == "-z mssipae,sa":
                    self.assertIn("SA", out)
        # -q reads nothing (-Y sip: tshark -q dissects only with a filter or a reader); one
        # pass, so the last batch runs when the file is closed
        self.tshark(pcap, keys, ["-q", "-Y", "sip"])
        self.assert_batched(pcap, keys)


if __name__ == "__main__":
    unittest.main()
