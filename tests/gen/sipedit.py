"""sipedit -- one-byte changes to SIP messages and to the captures that carry them (stdlib only).

    tamper(msg, where, sub=None) -> msg with one byte changed (same length)
    patch_capture(src, dst, orig, new) -> dst: src with the message orig replaced by new in place

Used by the integration tests to damage a message where it hurts: in place, in the capture, not
as a copy appended after the flow.
"""

import re


def bump(s):
    """s with its last letter or digit replaced by the next one (one byte changed)."""
    for i in range(len(s) - 1, -1, -1):
        c = s[i]
        if c.isdigit():
            n = "0" if c == "9" else chr(ord(c) + 1)
        elif c.isalpha() and c.isascii():
            n = {"z": "a", "Z": "A", "f": "0", "F": "0"}.get(c, chr(ord(c) + 1))
        else:
            continue
        return s[:i] + n + s[i + 1:]
    raise ValueError("nothing to change in %r" % s)


def tamper(msg, where, sub=None):
    """Change one byte of msg: where = a header name (first instance; sub = a substring of its
    value, or a regex with one group, the part to change; default the whole value), "start"
    (the start line; sub = the part) or "body"."""
    head, body = msg.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    if where == "body":
        new_body = bump(body.decode()).encode()
        assert len(new_body) == len(body)
        return head + b"\r\n\r\n" + new_body
    if where == "start":
        idx, prefix, value = 0, "", lines[0]
    else:
        for idx, ln in enumerate(lines[1:], 1):
            name, _, value = ln.partition(":")
            if name.strip().lower() == where.lower():
                prefix = name + ":"
                break
        else:
            raise ValueError("no header %s" % where)
    if sub is None:
        part = value.strip()
        pos = value.index(part)
    elif sub.startswith("re:"):
        m = re.search(sub[3:], value)
        assert m, (sub, value)
        part, pos = m.group(1), m.start(1)
    else:
        part, pos = sub, value.index(sub)
    value = value[:pos] + bump(part) + value[pos + len(part):]
    lines[idx] = prefix + value
    out = "\r\n".join(lines).encode() + b"\r\n\r\n" + body
    assert len(out) == len(msg) and sum(a != b for a, b in zip(out, msg)) == 1
    return out


def patch_capture(src, dst, orig, new):
    """Copies the capture src to dst with message orig (bytes, present once, contiguous: a UDP
    datagram or a TCP segment holding it whole) replaced by new of the same length. Link, IP and
    UDP/TCP headers are left alone (Wireshark does not check UDP/TCP checksums by default)."""
    assert len(orig) == len(new), "a replacement must keep the length"
    with open(src, "rb") as f:
        data = f.read()
    pos = data.find(orig)
    assert pos >= 0, "message not found whole in %s" % src
    assert data.find(orig, pos + 1) < 0, "message found twice in %s" % src
    with open(dst, "wb") as f:
        f.write(data[:pos] + new + data[pos + len(orig):])
    return dst
