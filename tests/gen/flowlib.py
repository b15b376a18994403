"""flowlib -- write MS-SIPAE SIP flows into captures and remember what the verifier must say.

Built on pcapgen (frames), tlsgen (SIP over TLS) and sipmsg (messages, the independent signature
buffer, signing).  A flow is a list of SIP messages between client and server endpoints over UDP,
TCP or TLS; for every message you may record the expected mssipae result per signing header, and
``expected_rows()`` turns that into the rows harness.Tshark.fields(..., split=True) returns.

API
---
``Flow(transport="udp", keylog_path=None)``   transport: "udp", "tcp" or "tls" (tls needs keylog_path)
    ``link(client, server) -> Link``   client/server are (ip, port); one TCP/TLS connection per link
    ``save(path)``
    ``expect(frame, header, sa, status, sigbuf=None)``   record one signed header's expectation
    ``expected_rows(frames=None)`` -> {frame: {"header": [...], "sa": [...], "status": [...],
                                     "sigbuf": [...]}}
    ``FIELDS`` = ["frame.number", "mssipae.header", "mssipae.sa", "mssipae.sig.status", "mssipae.sigbuf"]
``Link``
    ``c2s(msg) / s2c(msg) -> frame``          one message, one datagram / segment
    ``c2s_many([m1, m2]) / s2c_many(...)``    several messages in one segment / datagram / record
    ``c2s_split(msg, at) / s2c_split(...)``   one message over two segments (TCP) -> last frame
    ``close()``

Dummy signers (right length, random content) for flows where no key is given:
    ``dummy_ntlm(buf)``, ``dummy_krb(buf)`` (RFC 4121 AES-SHA1 initiator token shape),
    ``dummy_tlsdsk(buf)``
"""

import os

from pcapgen import Capture, TcpConn, C2S, S2C
import sipmsg

FIELDS = ["frame.number", "mssipae.header", "mssipae.sa", "mssipae.sig.status", "mssipae.sigbuf"]


def dummy_ntlm(buf):
    return b"\x01\x00\x00\x00" + os.urandom(8) + b"\x64\x00\x00\x00"


def dummy_krb(buf):
    return b"\x04\x04\x00\xff\xff\xff\xff\xff" + os.urandom(8) + os.urandom(12)


def dummy_tlsdsk(buf):
    return os.urandom(20)


class Link:
    def __init__(self, flow, client, server):
        self.flow, self.client, self.server = flow, client, server
        self.conn = None
        if flow.transport == "tcp":
            self.conn = TcpConn(flow.cap, client=client, server=server)
        elif flow.transport == "tls":
            from tlsgen import TlsTcpConn
            self.conn = TlsTcpConn(flow.cap, client, server, keylog_path=flow.keylog_path)

    def _send(self, direction, data):
        if self.conn is None:
            src, dst = (self.client, self.server) if direction == C2S else (self.server, self.client)
            return self.flow.cap.udp(src[0], src[1], dst[0], dst[1], data)
        frames = self.conn.send(direction, data)
        # the frame carrying the message is the last data segment (a pure ACK may follow)
        return _last_data_frame(frames, self.conn, direction)

    def c2s(self, msg):
        return self._send(C2S, msg)

    def s2c(self, msg):
        return self._send(S2C, msg)

    def c2s_many(self, msgs):
        return self._send(C2S, b"".join(msgs))

    def s2c_many(self, msgs):
        return self._send(S2C, b"".join(msgs))

    def _split(self, direction, msg, at):
        if self.flow.transport == "tcp":
            frames = self.conn.send_segments(direction, [msg[:at], msg[at:]])
            return frames[1]
        if self.flow.transport == "tls":
            frames = self.conn.send(direction, msg, split_at=[at])
            return _last_data_frame(frames, self.conn, direction)
        raise ValueError("splitting needs TCP")

    def c2s_split(self, msg, at):
        return self._split(C2S, msg, at)

    def s2c_split(self, msg, at):
        return self._split(S2C, msg, at)

    def close(self):
        if self.conn is not None:
            self.conn.close()


def _last_data_frame(frames, conn, direction):
    # pcapgen/tlsgen return the numbers of the data segments only (not the peer's ACK): the
    # message is complete, and shown by Wireshark, in the last one
    if isinstance(frames, int):
        return frames
    return frames[-1]


class Flow:
    def __init__(self, transport="udp", keylog_path=None):
        assert transport in ("udp", "tcp", "tls")
        if transport == "tls" and not keylog_path:
            raise ValueError("tls needs keylog_path")
        self.transport = transport
        self.keylog_path = keylog_path
        self.cap = Capture()
        self.links = []
        self.exp = {}

    def link(self, client, server):
        lk = Link(self, client, server)
        self.links.append(lk)
        return lk

    def save(self, path):
        for lk in self.links:
            lk.close()
        self.links = []
        self.cap.save(path)
        return path

    def expect(self, frame, header, sa, status, sigbuf=None):
        e = self.exp.setdefault(frame, {"header": [], "sa": [], "status": [], "sigbuf": []})
        e["header"].append(header)
        if sa:
            e["sa"].append(str(sa))
        if status:
            e["status"].append(str(status))
        if sigbuf is not None:
            e["sigbuf"].append(sigbuf.decode("utf-8") if isinstance(sigbuf, bytes) else sigbuf)
        return e

    def expected_rows(self):
        return self.exp
