"""pcapgen -- write small, exact capture files (Python 3 standard library only).

Frames are Ethernet II + IPv4 or IPv6 (chosen per address) + UDP or TCP, with correct IPv4 header,
UDP and TCP checksums and timestamps that increase by ``step`` seconds per frame (default 1 ms,
starting at a fixed date so the files are deterministic).  Frame numbers are 1-based, as in
Wireshark, so the numbers returned by the methods below can be compared with ``frame.number``.

API
---
``Capture(start=1700000000.0, step=0.001)``
    ``udp(src, sport, dst, dport, payload) -> frame number``
    ``tcp(src, sport, dst, dport, seq, ack, flags, payload=b"") -> frame number`` (raw segment;
    flags is a string of ``S A P F R`` letters, e.g. ``"PA"``)
    ``advance(seconds)`` -- add a gap before the next frame
    ``add_secrets(text)`` -- TLS key log text embedded as a pcapng Decryption Secrets Block
    (only written by ``save()`` to a ``.pcapng`` file; Wireshark then needs no tls.keylog_file)
    ``save(path)`` -- classic pcap (microseconds, LINKTYPE_ETHERNET), or pcapng when the path
    ends in ``.pcapng`` (or ``fmt="pcapng"``)
    ``len(cap)`` -- number of frames so far

``TcpConn(cap, client=(ip, port), server=(ip, port), handshake=True, mss=1460)``
    Tracks seq/ack of both directions; the three-way handshake is written at construction.
    Directions: ``C2S`` ("c2s", client to server) and ``S2C`` ("s2c"); "client"/"server" are
    accepted as aliases of the SENDER ("client" == C2S).
    ``send(direction, data, ack=True) -> [frame numbers]`` -- data as PSH/ACK segments of at most
        ``mss`` bytes, then (``ack=True``) one pure ACK from the peer.
    ``send_segments(direction, [chunk1, chunk2, ...], ack=True) -> [frame numbers]`` -- exactly
        one segment per chunk, whatever its size: one SIP message split over two segments is
        ``send_segments(C2S, [msg[:100], msg[100:]])``; two messages in one segment is
        ``send(C2S, msg1 + msg2)``.
    ``close()`` -- FIN/ACK from the client, FIN/ACK from the server, final ACK.
    Attributes ``client``, ``server``, ``seq[C2S]``, ``seq[S2C]`` (next sequence number per sender).

Any number of connections and clients can be interleaved on one Capture; frames are written in
call order.  Addresses are strings (``"10.0.0.1"`` or ``"2001:db8::1"``); MAC addresses are derived
from the IP address.

Example::

    import sys; sys.path.insert(0, "tests/gen")
    from pcapgen import Capture, TcpConn, C2S, S2C
    cap = Capture()
    cap.udp("10.0.0.1", 5060, "10.0.0.2", 5060, b"OPTIONS sip:x SIP/2.0\\r\\n...")
    c = TcpConn(cap, client=("10.0.0.1", 50001), server=("10.0.0.2", 5060))
    c.send(C2S, register_bytes)                       # one message, one segment
    c.send_segments(S2C, [ok[:40], ok[40:]])          # one message over two segments
    c.close()
    cap.save("/tmp/x.pcap")
"""

import ipaddress
import struct
import zlib

__all__ = ["Capture", "TcpConn", "C2S", "S2C", "inet_checksum"]

C2S = "c2s"
S2C = "s2c"

_LINKTYPE_ETHERNET = 1
_ETH_IPV4 = 0x0800
_ETH_IPV6 = 0x86DD
_PROTO_TCP = 6
_PROTO_UDP = 17
_TCP_FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20}


def inet_checksum(data):
    """RFC 1071 one's complement sum of 16-bit words (odd length padded with a zero byte)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def _mac_for(ip):
    """Locally administered MAC address derived from an IP address (stable per host)."""
    return b"\x02\x00" + struct.pack("!I", zlib.crc32(ip.packed))


class Capture:
    """An in-memory list of Ethernet frames with timestamps; see the module docstring."""

    def __init__(self, start=1700000000.0, step=0.001):
        self.frames = []          # list of (timestamp in integer microseconds, frame bytes)
        self.usec = int(round(float(start) * 1e6))
        self.step_usec = int(round(float(step) * 1e6))
        self._ip_id = 0x1000
        self._secrets = []

    def __len__(self):
        return len(self.frames)

    def advance(self, seconds):
        """Leave a time gap before the next frame."""
        self.usec += int(round(float(seconds) * 1e6))

    def add_secrets(self, text):
        """Embed TLS key log lines (NSS format) in a pcapng Decryption Secrets Block."""
        if isinstance(text, str):
            text = text.encode("ascii")
        self._secrets.append(text)

    # ---- frame builders ----
    def _frame(self, src, dst, proto, l4):
        s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
        if s.version != d.version:
            raise ValueError("mixed IPv4/IPv6 addresses: %s %s" % (src, dst))
        if s.version == 4:
            self._ip_id = (self._ip_id + 1) & 0xFFFF
            hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), self._ip_id, 0x4000,
                              64, proto, 0, s.packed, d.packed)
            hdr = hdr[:10] + struct.pack("!H", inet_checksum(hdr)) + hdr[12:]
            ethertype = _ETH_IPV4
        else:
            hdr = struct.pack("!IHBB16s16s", 0x60000000, len(l4), proto, 64, s.packed, d.packed)
            ethertype = _ETH_IPV6
        eth = _mac_for(d) + _mac_for(s) + struct.pack("!H", ethertype)
        self.frames.append((self.usec, eth + hdr + l4))
        self.usec += self.step_usec
        return len(self.frames)

    @staticmethod
    def _pseudo(src, dst, proto, length):
        s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
        if s.version == 4:
            return s.packed + d.packed + struct.pack("!BBH", 0, proto, length)
        return s.packed + d.packed + struct.pack("!IxxxB", length, proto)

    def udp(self, src, sport, dst, dport, payload):
        """Write one UDP datagram; returns its frame number."""
        payload = bytes(payload)
        length = 8 + len(payload)
        hdr = struct.pack("!HHHH", sport, dport, length, 0)
        csum = inet_checksum(self._pseudo(src, dst, _PROTO_UDP, length) + hdr + payload)
        hdr = hdr[:6] + struct.pack("!H", csum or 0xFFFF)
        return self._frame(src, dst, _PROTO_UDP, hdr + payload)

    def tcp(self, src, sport, dst, dport, seq, ack, flags, payload=b"", window=65535):
        """Write one raw TCP segment (flags: letters from 'SAPFRU'); returns its frame number."""
        payload = bytes(payload)
        fl = 0
        for ch in flags:
            fl |= _TCP_FLAGS[ch]
        hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, fl, window, 0, 0)
        csum = inet_checksum(self._pseudo(src, dst, _PROTO_TCP, len(hdr) + len(payload))
                             + hdr + payload)
        hdr = hdr[:16] + struct.pack("!H", csum) + hdr[18:]
        return self._frame(src, dst, _PROTO_TCP, hdr + payload)

    # ---- output ----
    def save(self, path, fmt=None):
        """Write the frames to path: classic pcap, or pcapng if fmt/extension says so."""
        if fmt is None:
            fmt = "pcapng" if str(path).endswith(".pcapng") else "pcap"
        data = self._pcapng() if fmt == "pcapng" else self._pcap()
        with open(path, "wb") as f:
            f.write(data)
        return path

    def _pcap(self):
        if self._secrets:
            raise ValueError("embedded secrets need pcapng output (save to *.pcapng)")
        out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, _LINKTYPE_ETHERNET)]
        for usec, frame in self.frames:
            out.append(struct.pack("<IIII", usec // 1000000, usec % 1000000,
                                   len(frame), len(frame)))
            out.append(frame)
        return b"".join(out)

    @staticmethod
    def _block(btype, body):
        body += b"\0" * (-len(body) % 4)
        total = 12 + len(body)
        return struct.pack("<II", btype, total) + body + struct.pack("<I", total)

    def _pcapng(self):
        out = [self._block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
               self._block(0x00000001, struct.pack("<HHI", _LINKTYPE_ETHERNET, 0, 262144))]
        for sec in self._secrets:   # DSB, secrets type TLS key log
            out.append(self._block(0x0000000A, struct.pack("<II", 0x544C534B, len(sec)) + sec))
        for usec, frame in self.frames:
            out.append(self._block(0x00000006, struct.pack(
                "<IIIII", 0, usec >> 32, usec & 0xFFFFFFFF, len(frame), len(frame)) + frame))
        return b"".join(out)


def _norm_dir(direction):
    d = str(direction).lower()
    if d in (C2S, "client", "c", "to_server", "up"):
        return C2S
    if d in (S2C, "server", "s", "to_client", "down"):
        return S2C
    raise ValueError("direction must be C2S or S2C, not %r" % (direction,))


class TcpConn:
    """One TCP connection between client and server on a Capture; see the module docstring."""

    _next_isn = 0x10000000

    def __init__(self, cap, client, server, handshake=True, mss=1460, isn=None):
        self.cap = cap
        self.client = (str(client[0]), int(client[1]))
        self.server = (str(server[0]), int(server[1]))
        self.mss = int(mss)
        if isn is None:
            TcpConn._next_isn = (TcpConn._next_isn + 0x01234567) & 0xFFFFFFFF
            isn = (TcpConn._next_isn, (TcpConn._next_isn * 7 + 0x89ABCDEF) & 0xFFFFFFFF)
        self.seq = {C2S: isn[0], S2C: isn[1]}
        self.closed = False
        if handshake:
            self._seg(C2S, "S", b"", ack=0)
            self.seq[C2S] += 1
            self._seg(S2C, "SA", b"")
            self.seq[S2C] += 1
            self._seg(C2S, "A", b"")

    def _ends(self, direction):
        return (self.client, self.server) if direction == C2S else (self.server, self.client)

    def _seg(self, direction, flags, payload, ack=None):
        (sip, sport), (dip, dport) = self._ends(direction)
        other = S2C if direction == C2S else C2S
        if ack is None:
            ack = self.seq[other]
        return self.cap.tcp(sip, sport, dip, dport, self.seq[direction], ack, flags, payload)

    def _segment(self, direction, chunk):
        num = self._seg(direction, "PA", chunk)
        self.seq[direction] = (self.seq[direction] + len(chunk)) & 0xFFFFFFFF
        return num

    def _ack_from_peer(self, direction):
        self._seg(S2C if direction == C2S else C2S, "A", b"")

    def send(self, direction, data, ack=True):
        """Send data in PSH/ACK segments of at most mss bytes; returns their frame numbers."""
        direction = _norm_dir(direction)
        data = bytes(data)
        if not data:
            return []
        nums = [self._segment(direction, data[i:i + self.mss])
                for i in range(0, len(data), self.mss)]
        if ack:
            self._ack_from_peer(direction)
        return nums

    def send_segments(self, direction, chunks, ack=True):
        """Send each chunk as exactly one segment (no MSS split); returns their frame numbers."""
        direction = _norm_dir(direction)
        nums = [self._segment(direction, bytes(c)) for c in chunks if len(c)]
        if ack and nums:
            self._ack_from_peer(direction)
        return nums

    def close(self):
        """Orderly close: client FIN, server FIN, final ACK."""
        if self.closed:
            return
        self._seg(C2S, "FA", b"")
        self.seq[C2S] = (self.seq[C2S] + 1) & 0xFFFFFFFF
        self._seg(S2C, "FA", b"")
        self.seq[S2C] = (self.seq[S2C] + 1) & 0xFFFFFFFF
        self._seg(C2S, "A", b"")
        self.closed = True
