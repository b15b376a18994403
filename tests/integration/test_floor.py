"""bench/floor.c, the benchmark's verification floor (bench/bench.py --floor): a self-test of the
measuring instrument, not of the plugin.

The floor is worth its numbers only if it does the crypto it claims on every SIP message: this
runs tshark with mssipae_floor.so over a TCP capture of SIP messages (one segment with two
messages, short and long ones) and recomputes, with Python's own hashlib/hmac and an RC4
written here, what floor.c says it computes:

- md5 (NTLM): HMAC-MD5 with MD5(key || "cli"/"srv") over the message's first bytes (at most
  mssipae_floor.len, and 16 fewer than the message has), XORed with RC4(MD5(MD5(key ||
  "CLI"/"SRV") || LE32(100))) of zeros;
- sha1 (TLS-DSK): HMAC-SHA1 keyed with bytes 64-127 of the TLS 1.0 PRF over a master secret;
- sha1-96 (Kerberos): its keys come from AES (not in Python's standard library): only that every
  message gets a 16-byte MAC under the right SA.

A new SA every mssipae_floor.per_sa messages, directions alternating.
"""

import hashlib
import hmac
import os
import struct
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MSSIPAE_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(SRC, "tests", "gen"))
sys.path.insert(0, HERE)

from flowlib import Flow  # noqa: E402
from harness import Tshark  # noqa: E402

CLIENT, SERVER = ("10.0.0.1", 5060), ("10.0.0.2", 5060)


def message(i, pad):
    return ("MESSAGE sip:bob@contoso.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK%d\r\n"
            "From: <sip:alice@contoso.test>;tag=%d\r\nTo: <sip:bob@contoso.test>\r\n"
            "Call-ID: floor-%d\r\nCSeq: %d MESSAGE\r\n%sContent-Length: 0\r\n\r\n"
            % (i, i, i, i + 1, "X-Pad: %s\r\n" % ("p" * pad) if pad else "")).encode()


def rc4(key, data):
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 255
        s[i], s[j] = s[j], s[i]
    out, i, j = bytearray(), 0, 0
    for b in data:
        i = (i + 1) & 255
        j = (j + s[i]) & 255
        s[i], s[j] = s[j], s[i]
        out.append(b ^ s[(s[i] + s[j]) & 255])
    return bytes(out)


def key_of(sa, which=0):
    return struct.pack("<I", sa) + bytes([0x5A ^ which]) * 28


def md5(*parts):
    return hashlib.md5(b"".join(parts)).digest()


def p_hash(h, secret, seed, n):
    out, a = b"", seed
    while len(out) < n:
        a = hmac.new(secret, a, h).digest()
        out += hmac.new(secret, a + seed, h).digest()
    return out[:n]


def expect_md5(sa, d, data):
    k = key_of(sa)[:16]
    sign = md5(k, b"srv\0" if d else b"cli\0")
    seal = md5(k, b"SRV\0" if d else b"CLI\0")
    ks = rc4(md5(seal, b"\x64\0\0\0"), bytes(8))
    mac = hmac.new(sign, data, hashlib.md5).digest()[:8]
    return bytes(x ^ y for x, y in zip(mac, ks))


def expect_sha1(sa, d, data):
    ms = struct.pack("<I", sa) + bytes(44)
    seed = b"client EAP encryption" + b"\x33" * 64
    kb = bytes(x ^ y for x, y in zip(p_hash(hashlib.md5, ms[:24], seed, 128),
                                     p_hash(hashlib.sha1, ms[24:], seed, 128)))[64:]
    return hmac.new(kb[32:] if d else kb[:32], data, hashlib.sha1).digest()[:16]


class Floor(unittest.TestCase):
    PER_SA = 3
    LEN = 300  # more than the short messages have: those are MACed to 16 bytes before their end

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="mssipae-floor-")
        cls.addClassCleanup(cls.tmp.cleanup)
        build = os.environ.get("MSSIPAE_BUILD_DIR", os.path.join(SRC, "build"))
        cls.t = Tshark(plugin=os.path.join(build, "mssipae_floor.so"), plugin_name="mssipae_floor")
        cls.addClassCleanup(cls.t.cleanup)
        cls.t.require_plugin()
        # (frame, [message bytes]): short and long messages, two in one datagram, both ways
        flow = Flow("tcp")  # over TCP the SIP dissector gives each message of a segment its item
        link = flow.link(CLIENT, SERVER)
        cls.frames = []
        for i, pad in enumerate((0, 300, 40, 0, 500, 10, 0)):
            m = message(i, pad)
            if i == 3:
                pair = [m, message(100, 200)]
                cls.frames.append((link.c2s_many(pair), pair))
            else:
                cls.frames.append((link.s2c(m) if i % 2 else link.c2s(m), [m]))
        cls.pcap = os.path.join(cls.tmp.name, "floor.pcap")
        flow.save(cls.pcap)
        # every message in order, with the bytes the floor MACs (from its start to its
        # segment's end: what the SIP item's data source holds past it)
        cls.spans = []
        for frame, msgs in cls.frames:
            payload = b"".join(msgs)
            off = 0
            for m in msgs:
                avail = len(payload) - off
                cls.spans.append((frame, payload[off:off + min(avail - 16, cls.LEN)]))
                off += len(m)

    def floor_rows(self, mac):
        rows = self.t.fields(self.pcap, ["frame.number", "mssipae_floor.mac", "mssipae_floor.sa"],
                             prefs={"mssipae_floor.mac": mac,
                                    "mssipae_floor.per_sa": str(self.PER_SA),
                                    "mssipae_floor.len": str(self.LEN)},
                             split=True)
        got = []
        for frame, macs, sas in rows:
            self.assertEqual(len(macs), len(sas))
            got += [(int(frame[0]), bytes.fromhex(m.replace(":", "")), int(s))
                    for m, s in zip(macs, sas)]
        self.assertEqual([g[0] for g in got], [s[0] for s in self.spans],
                         "one MAC per SIP message, in order")
        return got

    def check(self, mac, expect):
        got = self.floor_rows(mac)
        for k, ((frame, data), (_, value, sa)) in enumerate(zip(self.spans, got)):
            self.assertEqual(sa, k // self.PER_SA + 1, "SA of message %d" % k)
            if expect:
                self.assertEqual(value.hex(), expect(sa, (k + 1) & 1, data).hex(),
                                 "message %d (frame %d, %d bytes MACed)" % (k, frame, len(data)))
        return got

    def test_md5_is_ntlms_mac(self):
        got = self.check("md5", expect_md5)
        self.assertTrue(all(len(v) == 8 for _, v, _ in got))
        self.assertIn(self.LEN, [len(d) for _, d in self.spans])   # a long message is cut
        self.assertTrue(any(len(d) < self.LEN for _, d in self.spans))

    def test_sha1_is_tlsdsk_mac_with_prf_keys(self):
        self.check("sha1", expect_sha1)

    def test_sha1_96_runs_per_message(self):
        got = self.check("sha1-96", None)
        self.assertTrue(all(len(v) == 16 for _, v, _ in got))
        sha1 = [v for _, v, _ in self.floor_rows("sha1")]
        self.assertNotEqual([v for _, v, _ in got], sha1)  # its own keys, and the token header


if __name__ == "__main__":
    unittest.main()
