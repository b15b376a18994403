"""tlsgen -- SIP over TLS in a capture, decryptable by Wireshark with a key log (stdlib only).

A client and a server ``ssl.SSLObject`` run in one process over ``ssl.MemoryBIO`` pairs; every
byte they produce is written into a ``pcapgen.TcpConn`` as TCP payload, so the capture holds a real
TLS session (TLS 1.2 by default, ECDHE + AES-GCM).  The client context's ``keylog_filename`` appends
the NSS key log lines (``CLIENT_RANDOM ...`` for 1.2) to ``keylog_path``: give that file to tshark
with ``-o tls.keylog_file:<path>``, or embed it in a pcapng with ``cap.add_secrets(text)``.
Port 5061 is Wireshark's default SIP-over-TLS port (other ports: ``-o sip.tls.port:<port>``).

The server certificate is a throw-away self-signed RSA-2048 certificate (CN ``server.contoso.test``)
made once per process with the ``openssl`` command line in a temporary folder (removed at exit);
``cert_files()`` returns ``(cert_pem_path, key_pem_path)``.

API
---
``TlsTcpConn(cap, client=(ip, port), server=(ip, 5061), keylog_path, tls_version="1.2",
             ciphers=None, mss=1460)``
    Opens the TCP connection (pcapgen.TcpConn, attribute ``tcp``) and writes the full TLS
    handshake.  Directions are pcapgen's ``C2S`` / ``S2C``.
    ``send(direction, data, split_at=None) -> [frame numbers]`` -- data (SIP bytes) goes through
        one SSL write (one TLS record up to 16 KiB); the records are sent as TCP data (MSS split),
        or cut at the given byte offsets of the TLS output (``split_at=[10]``: a record over two
        segments).  Two SIP messages in one record: ``send(C2S, m1 + m2)``.
    ``send_records(direction, parts, one_segment=True) -> [frame numbers]`` -- one TLS record per
        part (e.g. one SIP message over two records); all in one TCP segment, or one segment each.
    ``close()`` -- close_notify both ways, then the TCP FIN exchange.
    The receiving side really decrypts every send; the plaintext is checked against what was sent.

Example::

    import sys; sys.path.insert(0, "tests/gen")
    from pcapgen import Capture, C2S, S2C
    from tlsgen import TlsTcpConn
    cap = Capture()
    t = TlsTcpConn(cap, ("10.0.0.1", 50001), ("10.0.0.2", 5061), keylog_path="/tmp/x.keys")
    t.send(C2S, register_bytes)
    t.send(S2C, ok_bytes)
    t.close()
    cap.save("/tmp/x.pcap")
    # tshark -r /tmp/x.pcap -o tls.keylog_file:/tmp/x.keys -Y sip
"""

import atexit
import os
import shutil
import ssl
import subprocess
import tempfile

from pcapgen import TcpConn, C2S, S2C, _norm_dir

__all__ = ["TlsTcpConn", "cert_files", "C2S", "S2C"]

_CERT = None


def cert_files():
    """(cert.pem, key.pem) of a throw-away self-signed server certificate, made once per process."""
    global _CERT
    if _CERT is None:
        d = tempfile.mkdtemp(prefix="mssipae-tlsgen-")
        atexit.register(shutil.rmtree, d, True)
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "3650", "-sha256",
                        "-subj", "/CN=server.contoso.test"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _CERT = (cert, key)
    return _CERT


_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class TlsTcpConn:
    """A TLS session over a pcapgen TcpConn; see the module docstring."""

    def __init__(self, cap, client, server, keylog_path, tls_version="1.2", ciphers=None,
                 mss=1460):
        self.tcp = TcpConn(cap, client, server, mss=mss)
        ver = _VERSIONS[tls_version]
        cert, key = cert_files()
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(cert, key)
        cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        cctx.check_hostname = False
        cctx.verify_mode = ssl.CERT_NONE
        for ctx in (sctx, cctx):
            ctx.minimum_version = ver
            ctx.maximum_version = ver
            if ciphers:
                ctx.set_ciphers(ciphers)
        cctx.keylog_filename = keylog_path
        self._bio = {C2S: (ssl.MemoryBIO(), ssl.MemoryBIO()),   # client: (incoming, outgoing)
                     S2C: (ssl.MemoryBIO(), ssl.MemoryBIO())}   # server: (incoming, outgoing)
        self._ssl = {C2S: cctx.wrap_bio(*self._bio[C2S], server_side=False),
                     S2C: sctx.wrap_bio(*self._bio[S2C], server_side=True)}
        self._handshake()

    @staticmethod
    def _peer(direction):
        return S2C if direction == C2S else C2S

    def _flush(self, direction, split_at=None):
        """Move the sender's pending TLS output into TCP segments and the peer's incoming BIO."""
        out = self._bio[direction][1].read()
        if not out:
            return []
        self._bio[self._peer(direction)][0].write(out)
        if split_at:
            cuts = [0] + sorted(split_at) + [len(out)]
            return self.tcp.send_segments(direction, [out[a:b] for a, b in zip(cuts, cuts[1:])])
        return self.tcp.send(direction, out)

    def _handshake(self):
        done = {C2S: False, S2C: False}
        for _ in range(20):
            for d in (C2S, S2C):
                if not done[d]:
                    try:
                        self._ssl[d].do_handshake()
                        done[d] = True
                    except ssl.SSLWantReadError:
                        pass
                self._flush(d)
            if done[C2S] and done[S2C]:
                break
        else:
            raise RuntimeError("TLS handshake did not complete")
        # TLS 1.3 session tickets etc.: let the client consume what the server sent
        self._drain(C2S)
        self._flush(C2S)

    def _drain(self, direction):
        """Read all plaintext available on the given side."""
        got = []
        while True:
            try:
                chunk = self._ssl[direction].read(65536)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break
            if not chunk:
                break
            got.append(chunk)
        return b"".join(got)

    def _check(self, direction, data):
        plain = self._drain(self._peer(direction))
        if plain != data:
            raise RuntimeError("TLS round trip mismatch")

    def send(self, direction, data, split_at=None):
        """Encrypt data in one SSL write and send the record(s) over TCP; returns frame numbers."""
        direction = _norm_dir(direction)
        data = bytes(data)
        self._ssl[direction].write(data)
        nums = self._flush(direction, split_at)
        self._check(direction, data)
        return nums

    def send_records(self, direction, parts, one_segment=True):
        """One TLS record per part; all in one TCP send, or one segment per record."""
        direction = _norm_dir(direction)
        nums = []
        if one_segment:
            for p in parts:
                self._ssl[direction].write(bytes(p))
            nums = self._flush(direction)
        else:
            for p in parts:
                self._ssl[direction].write(bytes(p))
                nums += self._flush(direction)
        self._check(direction, b"".join(bytes(p) for p in parts))
        return nums

    def close(self):
        """close_notify from the client, then from the server, then TCP FIN."""
        for d in (C2S, S2C):
            try:
                self._ssl[d].unwrap()
            except (ssl.SSLWantReadError, ssl.SSLError):
                pass
            self._flush(d)
        self.tcp.close()
