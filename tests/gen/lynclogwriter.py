"""lynclogwriter -- render SIP flows as Lync / SfB client UccApi logs and server SIPStack traces.

Follows /work/shared/reference/lync-logs.md (sections 1, 2, 4). Used by
tests/integration/test_logs.py; standard library only, no code of the converter is imported.

A flow is a list of ``LogMsg`` (time, direction, client endpoint, server endpoint, exact bytes).
Any flow can be rendered: the NTLM exchange of ntlmsip (``from_msgs(ntlmsip...messages(), ...)``),
a Kerberos flow recorded from krbflow (``Recorder``, a flowlib-Link stand-in that records every
message a krbflow UA sends), and -- the hook for TLS-DSK -- any list of objects with
``.direction`` ("c2s"/"s2c") and ``.data`` (bytes), e.g. the messages tests/gen/tlsdskflow.py will
produce: ``from_msgs(tlsdsk_msgs, client, server)``.

    msgs = from_msgs(ntlm_msgs, client=("10.0.0.21", 50123), server=("10.0.0.10", 5061))
    open("Lync-UccApi-0.UccApilog", "wb").write(uccapi_log(msgs))          # the client's view
    open("sipstack.txt", "wb").write(sipstack_trace(msgs, delay=0.002))    # the front end's view

Client log (``uccapi_log``): c2s = "Sending Packet - <server> (From Local Address: <client>)
<N> bytes:", s2c = "Data Received - <server> (To Local Address: <client>) <N> bytes:"; the start
line on the next time-stamped "INFO  :: " line, the rest of the message as raw lines, then the
"End of ..." line. ``always_newline``: the logger ends the message with a line end even when it
already ends with CRLF (True) or only when needed (False) -- the reference leaves it open.
Server trace (``sipstack_trace``): one TL_INFO(TF_PROTOCOL) record per message with Direction
(c2s = incoming), Peer (the client), Message-Type, Start-Line, the headers one per line,
Message-Body ("-" when empty, else the body text from the same line on), $$end_record.
``noise=True`` puts non-SIP trace lines / records between the messages (they must be skipped).
"""

import time

C2S, S2C = "c2s", "s2c"


class LogMsg:
    """One logged SIP message: time (float, UTC epoch seconds, whole milliseconds are logged),
    direction "c2s" / "s2c", client and server endpoints (ip, port), exact bytes."""

    def __init__(self, t, direction, client, server, data, label=""):
        assert direction in (C2S, S2C)
        self.time, self.direction, self.client, self.server = t, direction, client, server
        self.data, self.label = data, label

    @property
    def src(self):
        return self.client if self.direction == C2S else self.server

    @property
    def dst(self):
        return self.server if self.direction == C2S else self.client


def from_msgs(msgs, client, server, start=1700000000.0, step=0.050):
    """LogMsg list from objects with .direction and .data (ntlmsip.Msg, Recorder items, a future
    TLS-DSK flow), one every `step` seconds from `start`."""
    return [LogMsg(start + i * step, m.direction, client, server, m.data,
                   getattr(m, "label", "")) for i, m in enumerate(msgs)]


class Recorder:
    """A flowlib Link stand-in for krbflow.UA: records every message (direction, bytes) and also
    forwards it to a real link when one is given (so a capture is written at the same time).
    c2s/s2c return the real link's frame number, or the message index."""

    class Item:
        def __init__(self, direction, data):
            self.direction, self.data = direction, data

    def __init__(self, link=None):
        self.link = link
        self.items = []
        self.frames = []

    def _send(self, direction, data):
        self.items.append(self.Item(direction, data))
        if self.link is None:
            fr = len(self.items)
        else:
            fr = self.link.c2s(data) if direction == C2S else self.link.s2c(data)
        self.frames.append(fr)
        return fr

    def c2s(self, data):
        return self._send(C2S, data)

    def s2c(self, data):
        return self._send(S2C, data)


def _ep(e):
    ip, port = e
    return "[%s]:%d" % (ip, port) if ":" in ip else "%s:%d" % (ip, port)


def _ts_ucc(t):
    ms = int(round(t * 1000))
    return time.strftime("%m/%d/%Y|%H:%M:%S", time.gmtime(ms // 1000)) + ".%03d" % (ms % 1000)


def _ts_ss(t):
    ms = int(round(t * 1000))
    return time.strftime("%m/%d/%Y-%H:%M:%S", time.gmtime(ms // 1000)) + ".%03d" % (ms % 1000)


def uccapi_log(msgs, pid="1F68", tid="C14", nl=b"\r\n", always_newline=True, counts=True,
               noise=False, delay=0.0):
    """The client's UccApi log of msgs (bytes). nl: the file's line end."""
    out = []

    def line(t, text, thread=None):
        th = thread or "%s:%s" % (pid, tid)
        out.append(("%s %s INFO  :: " % (_ts_ucc(t), th)).encode() + text + nl)

    if noise:
        line(msgs[0].time + delay if msgs else 0, b"CUccPlatform::Initialize - tracing started")
    for i, m in enumerate(msgs):
        t = m.time + delay
        if m.direction == C2S:
            what, la = b"Sending Packet", b"From Local Address"
        else:
            what, la = b"Data Received", b"To Local Address"
        addr = ("%s (%s: %s)" % (_ep(m.server), la.decode(), _ep(m.client))).encode()
        n = (" %d bytes" % len(m.data)).encode() if counts else b""
        line(t, what + b" - " + addr + n + b":")
        lines = m.data.split(b"\r\n")
        if not always_newline and m.data.endswith(b"\r\n"):
            lines = lines[:-1]
        line(t, lines[0])
        for ln in lines[1:]:
            out.append(ln + nl)
        line(t, b"End of " + what + b" - " + addr + n)
        if noise:
            line(t, b"CSIPTransportLayer::OnSendComplete - %d" % i)
            out.append(b"    callstack line without a prefix" + nl)
    return b"".join(out)


def sipstack_record(m, t, seq, ctx="[0]", pid="06E4", tid="0EB4", nl=b"\r\n", correlation=None,
                    peer=None):
    """One SIPStack protocol record of LogMsg m (bytes)."""
    head, sep, body = m.data.partition(b"\r\n\r\n")
    assert sep, "message without end of headers"
    lines = head.split(b"\r\n")
    start, hdrs = lines[0], lines[1:]
    request = not start.startswith(b"SIP/2.0 ")
    out = [("TL_INFO(TF_PROTOCOL) %s%s.%s::%s.%08x (SIPStack,SIPAdminLog::TraceProtocolRecord:"
            "SIPAdminLog.cpp(125))%s$$begin_record" % (
                ctx, pid, tid, _ts_ss(t), seq,
                " [%d] " % correlation if correlation is not None else "")).encode()]
    if correlation is not None:
        out.append(b"Trace-Correlation-Id: %d" % correlation)
    out.append(b"Instance-Id: %08X" % (0xC23F + seq))
    out.append(b"Direction: incoming" if m.direction == C2S else
               b'Direction: outgoing;source="local"')
    out.append(b"Peer: " + (peer or _ep(m.client)).encode())
    out.append(b"Message-Type: " + (b"request" if request else b"response"))
    out.append(b"Start-Line: " + start)
    out += hdrs
    if body:
        bl = body.split(b"\r\n")
        out.append(b"Message-Body: " + bl[0])
        out += bl[1:]
    else:
        out.append(b"Message-Body: -")
    out.append(b"$$end_record")
    return nl.join(out) + nl


def sipstack_trace(msgs, nl=b"\r\n", delay=0.0, noise=False, cls=False, peer=None):
    """The front end's SIPStack text trace of msgs (bytes); times shifted by delay seconds.
    cls=True: SfB CLS style ("[machine\\machine]" context and correlation ids)."""
    out = []
    ctx = "[fe01\\fe01]" if cls else "[0]"
    for i, m in enumerate(msgs):
        t = m.time + delay
        if noise:
            out.append(("TL_INFO(TF_CONNECTION) %s06E4.0EB4::%s.%08x (SIPStack,SIPAdminLog::"
                        "TraceConnectionRecord:SIPAdminLog.cpp(160))$$begin_record" % (
                            ctx, _ts_ss(t), 2 * i)).encode() + nl)
            out.append(b"LogType: connection" + nl + b"Severity: information" + nl +
                       b"Text: Connection established" + nl + b"Peer: " +
                       _ep(m.client).encode() + nl + b"$$end_record" + nl)
        out.append(sipstack_record(m, t, 2 * i + 1, ctx=ctx, nl=nl,
                                   correlation=(1000 + i) if cls else None, peer=peer))
        if noise:
            out.append(nl)
    return b"".join(out)
