"""sipmsg -- exact SIP messages and an independent [MS-SIPAE] signature buffer (stdlib only).

This is the test suite's own, independent implementation of the buffer rules of
/work/shared/reference/ms-sipae.md section 4; it shares no code with the C core (sigbuf/), so the
two can check each other.  It is validated against every tests/vectors/**/*.sip + *.sigbuf pair
(tests/integration/test_captures.py, class SigbufVectors).

Building messages (all return ``bytes``; CRLF line ends; header order, spelling and case exactly as
given; ``str`` values are UTF-8 encoded)::

    request(method, uri, headers, body=b"", content_length=True)
    response(code, reason, headers, body=b"", content_length=True)

``headers`` is a list of ``(name, value)`` pairs.  A value may contain ``"\\r\\n "`` to make a
folded continuation line (written verbatim).  Content-Length: if no ``Content-Length`` / ``l``
header is in the list and ``content_length`` is true, ``Content-Length: <len(body)>`` is appended
as the last header; a header whose value is ``AUTO`` gets ``len(body)``; an explicit value is kept
as is (so a wrong length can be tested).  ``insert_header(msg, name, value, position=None)`` adds a
header line to existing message bytes (default: just before Content-Length, else last).

Parsing::

    m = parse(data)            # -> Message
    m.is_request, m.method, m.uri, m.status, m.reason, m.start_line
    m.headers                  # [(name, raw value)] in order, folding kept
    m.get("From")              # first instance, case-insensitive, compact forms i/f/t/m/v/l/c/...,
                               # folded lines joined with one space, value stripped; None if absent
    m.get_all("Via")           # all instances, same normalisation
    m.body

Auth headers::

    auth_header("NTLM", [("qop", "auth"), ("realm", "SIP Communications Service"),
                         ("version", "4"), ("crand", "13317733", True), ("cnum", "1")])
      -> 'NTLM qop="auth", realm="SIP Communications Service", version=4, crand="13317733",
          cnum="1"'   (one line)
    # entries are (name, value) or (name, value, quoted); 2-tuples are quoted except "version".
    parse_auth(value) -> (scheme, [(name, value, quoted)])     # quotes removed, \\-escapes undone

Signature buffer::

    signature_buffer(msg, version=4, header=None, auth=None) -> bytes
      msg      bytes or Message
      version  2 (or 1): 13-item layout; 3 or 4: 16-item layout
      header   which signing header: None = the first Authorization / Proxy-Authorization /
               Authentication-Info / Proxy-Authentication-Info header that has a response or
               rspauth parameter; an int = index into signing_headers(msg); a str = header name
               (first header of that name)
      auth     (header_name, value) to use instead of a header of the message (e.g. one not yet
               inserted)
    signing_headers(msg) -> [(header_index, name, scheme, params)]   # headers with response/rspauth

Items 1-5 come from the signing header (client headers Authorization/Proxy-Authorization give
crand/cnum, server headers *-Authentication-Info give srand/snum); the rest from the message.

Signing (the usual way to write flows): put the placeholder ``SIG`` where the signature goes, build
the message, then call ``sign``::

    hdr = auth_header("NTLM", [("qop", "auth"), ("realm", REALM), ("opaque", "2BDBAC9D"),
                               ("targetname", "server.contoso.test"), ("version", "4"),
                               ("crand", "13317733"), ("cnum", "1"), ("response", SIG)])
    msg = request("REGISTER", "sip:contoso.test", [..., ("Proxy-Authorization", hdr), ...])
    msg = sign(msg, signer, version=4)       # signer(buffer_bytes) -> raw MIC bytes (or hex str)

``sign`` replaces every placeholder (several signing headers: pass a list of signers, used in
header order), hex-encodes the MIC (``upper=True`` for upper-case hex), and returns the new bytes.
``SaSigner`` keeps per-SA state (scheme, realm, targetname, opaque, version, counters, signers)::

    sa = SaSigner("NTLM", "SIP Communications Service", "server.contoso.test", opaque="2BDBAC9D",
                  version=4, client_signer=cfn, server_signer=sfn)
    h = sa.client_header()          # value with crand, next cnum, response=SIG
    h = sa.server_header()          # value with srand, next snum, rspauth=SIG
    msg = sa.sign(request(..., [("Proxy-Authorization", h), ...]))   # client/server by header name
"""

import random as _random

__all__ = ["request", "response", "insert_header", "parse", "Message", "AUTO", "SIG",
           "auth_header", "parse_auth", "signature_buffer", "signing_headers", "sign",
           "SaSigner", "COMPACT", "CLIENT_HEADERS", "SERVER_HEADERS"]

CRLF = "\r\n"
AUTO = object()            # Content-Length value placeholder: replaced by len(body)
SIG = "@MSSIPAE-SIG@"      # signature placeholder used by sign()

# RFC 3261 / RFC 3515 / RFC 3892 / RFC 4028 ... compact forms (single letter -> full name).
COMPACT = {"i": "call-id", "f": "from", "t": "to", "m": "contact", "v": "via",
           "l": "content-length", "c": "content-type", "e": "content-encoding", "k": "supported",
           "s": "subject", "x": "session-expires", "o": "event", "u": "allow-events",
           "b": "referred-by", "r": "refer-to", "a": "accept-contact", "j": "reject-contact",
           "d": "request-disposition", "y": "identity", "n": "identity-info"}
CLIENT_HEADERS = ("authorization", "proxy-authorization")
SERVER_HEADERS = ("authentication-info", "proxy-authentication-info")


def _enc(s):
    if isinstance(s, bytes):
        return s
    return str(s).encode("utf-8", "surrogateescape")


def _dec(b):
    return b.decode("utf-8", "surrogateescape")


def _canon(name):
    n = name.strip().lower()
    return COMPACT.get(n, n)


# ---------------------------------------------------------------- building

def _build(start_line, headers, body, content_length):
    body = _enc(body)
    lines = [_enc(start_line)]
    have_cl = False
    for name, value in headers:
        if _canon(_dec(_enc(name))) == "content-length":
            have_cl = True
        if value is AUTO:
            value = str(len(body))
        lines.append(_enc(name) + b": " + _enc(value))
    if content_length and not have_cl:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def request(method, uri, headers, body=b"", content_length=True):
    """SIP request bytes: 'METHOD uri SIP/2.0', headers in the given order, body."""
    return _build("%s %s SIP/2.0" % (method, uri), headers, body, content_length)


def response(code, reason, headers, body=b"", content_length=True):
    """SIP response bytes: 'SIP/2.0 code reason', headers in the given order, body."""
    return _build("SIP/2.0 %d %s" % (int(code), reason), headers, body, content_length)


def _split_raw(data):
    data = _enc(data)
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise ValueError("no CRLFCRLF at the end of the header block")
    return data[:end], data[end + 4:]


def insert_header(msg, name, value, position=None):
    """Insert 'name: value' into message bytes at header index position (None: before
    Content-Length if present, else last); returns the new bytes."""
    head, body = _split_raw(msg)
    lines = head.split(b"\r\n")
    # group physical lines into logical headers (continuations start with SP/HT)
    logical = []
    for ln in lines[1:]:
        if ln[:1] in (b" ", b"\t") and logical:
            logical[-1].append(ln)
        else:
            logical.append([ln])
    if position is None:
        position = len(logical)
        for i, grp in enumerate(logical):
            if _canon(_dec(grp[0].split(b":", 1)[0])) == "content-length":
                position = i
                break
    logical.insert(position, [_enc(name) + b": " + _enc(value)])
    out = [lines[0]] + [b"\r\n".join(g) for g in logical]
    return b"\r\n".join(out) + b"\r\n\r\n" + body


# ---------------------------------------------------------------- parsing

def _unfold(raw):
    """Join folded lines with one space and strip the value (ms-sipae.md section 4)."""
    parts = raw.split("\r\n")
    val = parts[0]
    for cont in parts[1:]:
        val = val.rstrip(" \t") + " " + cont.lstrip(" \t")
    return val.strip(" \t")


class Message:
    """A parsed SIP message; see the module docstring."""

    def __init__(self, start_line, headers, body):
        self.start_line = start_line
        self.headers = headers      # [(name, raw value with folding)]
        self.body = body
        parts = start_line.split(" ", 2)
        self.is_request = not start_line.upper().startswith("SIP/")
        if self.is_request:
            self.method = parts[0]
            self.uri = parts[1] if len(parts) > 1 else ""
            self.status, self.reason = None, None
        else:
            self.method, self.uri = None, None
            self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            self.reason = parts[2] if len(parts) > 2 else ""
            self.status_text = parts[1] if len(parts) > 1 else ""

    def get_all(self, name):
        want = _canon(name)
        return [_unfold(v) for n, v in self.headers if _canon(n) == want]

    def get(self, name):
        vals = self.get_all(name)
        return vals[0] if vals else None


def parse(data):
    """Parse message bytes into a Message (header block up to the first CRLFCRLF)."""
    if isinstance(data, Message):
        return data
    head, body = _split_raw(data)
    lines = _dec(head).split("\r\n")
    headers = []
    for ln in lines[1:]:
        if ln[:1] in (" ", "\t") and headers:
            n, v = headers[-1]
            headers[-1] = (n, v + "\r\n" + ln)
            continue
        name, sep, value = ln.partition(":")
        if not sep:
            raise ValueError("header line without colon: %r" % ln)
        headers.append((name.strip(), value))
    return Message(lines[0], headers, body)


# ---------------------------------------------------------------- auth headers

def _quote(v):
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def auth_header(scheme, params):
    """Format an auth header value: scheme + comma-separated name=value parameters."""
    out = []
    for p in params:
        if len(p) == 3:
            name, value, quoted = p
        else:
            name, value = p
            quoted = name.lower() != "version"
        out.append("%s=%s" % (name, _quote(value) if quoted else value))
    return scheme + " " + ", ".join(out)


def _split_outside(s, sep, brackets=False):
    """Split s on sep outside double quotes (and outside <> when brackets is true)."""
    out, cur, inq, depth, i = [], [], False, 0, 0
    while i < len(s):
        ch = s[i]
        if inq:
            cur.append(ch)
            if ch == "\\" and i + 1 < len(s):
                cur.append(s[i + 1])
                i += 1
            elif ch == '"':
                inq = False
        elif ch == '"':
            inq = True
            cur.append(ch)
        elif brackets and ch == "<":
            depth += 1
            cur.append(ch)
        elif brackets and ch == ">" and depth:
            depth -= 1
            cur.append(ch)
        elif ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def _unquote(v):
    v = v.strip()
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        inner, res, i = v[1:-1], [], 0
        while i < len(inner):
            if inner[i] == "\\" and i + 1 < len(inner):
                i += 1
            res.append(inner[i])
            i += 1
        return "".join(res), True
    return v, False


def parse_auth(value):
    """Split an auth header value into (scheme, [(name, value, quoted)])."""
    value = value.strip()
    cut = len(value)
    for i, ch in enumerate(value):
        if ch in " \t":
            cut = i
            break
    scheme, rest = value[:cut], value[cut:].strip()
    params = []
    if rest:
        for item in _split_outside(rest, ","):
            if not item.strip():
                continue
            name, sep, val = item.partition("=")
            v, q = _unquote(val) if sep else ("", False)
            params.append((name.strip(), v, q))
    return scheme, params


def _param(params, name):
    for n, v, _q in params:
        if n.lower() == name:
            return v
    return None


def signing_headers(msg):
    """All auth headers of msg that carry response or rspauth: [(index, name, scheme, params)]."""
    m = parse(msg)
    out = []
    for idx, (name, raw) in enumerate(m.headers):
        if name.lower() in CLIENT_HEADERS + SERVER_HEADERS:
            scheme, params = parse_auth(_unfold(raw))
            if _param(params, "response") is not None or _param(params, "rspauth") is not None:
                out.append((idx, name, scheme, params))
    return out


# ---------------------------------------------------------------- signature buffer

def _find_outside_quotes(s, ch, start=0):
    inq, i = False, start
    while i < len(s):
        c = s[i]
        if inq:
            if c == "\\":
                i += 1
            elif c == '"':
                inq = False
        elif c == '"':
            inq = True
        elif c == ch:
            return i
        i += 1
    return -1


def _addr_uri_params(value):
    """(uri, parameter text) of a name-addr / addr-spec header value."""
    lt = _find_outside_quotes(value, "<")
    if lt >= 0:
        gt = value.find(">", lt + 1)
        if gt < 0:
            return value[lt + 1:].strip(), ""
        return value[lt + 1:gt], value[gt + 1:]
    semi = value.find(";")
    if semi < 0:
        return value.strip(), ""
    return value[:semi].strip(), value[semi:]


def _tag(params):
    for p in _split_outside(params, ";"):
        name, sep, val = p.partition("=")
        if sep and name.strip().lower() == "tag":
            return val.strip()
    return ""


def _pai_uris(value):
    """(first sip: URI, first tel: URI) of a P-Asserted/Preferred-Identity value."""
    sip = tel = ""
    for elem in _split_outside(value, ",", brackets=True):
        elem = elem.strip()
        if not elem:
            continue
        lt = _find_outside_quotes(elem, "<")
        if lt >= 0:
            gt = elem.find(">", lt + 1)
            uri = elem[lt + 1:gt if gt >= 0 else len(elem)]
        else:
            uri = elem               # bare URI: taken whole, with its parameters
        low = uri.lower()
        if low.startswith("sip:") and not sip:
            sip = uri
        elif low.startswith("tel:") and not tel:
            tel = uri
    return sip, tel


def signature_buffer(msg, version=4, header=None, auth=None):
    """The [MS-SIPAE] signature buffer (bytes) of one signing header; see the module docstring."""
    m = parse(msg)
    if auth is not None:
        hname, hvalue = auth
        scheme, params = parse_auth(hvalue)
    else:
        if isinstance(header, str):
            cands = [(i, n, s, p) for i, n, s, p in
                     [(i, n) + parse_auth(_unfold(v)) for i, (n, v) in enumerate(m.headers)]
                     if n.lower() == header.lower()]
        else:
            cands = signing_headers(m)
            if isinstance(header, int):
                cands = cands[header:header + 1]
        if not cands:
            raise ValueError("no signing header found")
        _i, hname, scheme, params = cands[0]
    server = hname.lower() in SERVER_HEADERS
    if not server and hname.lower() not in CLIENT_HEADERS:
        raise ValueError("not an auth header: %s" % hname)

    def p(name):
        v = _param(params, name)
        return "" if v is None else v

    cseq = (m.get("CSeq") or "").split()
    from_uri, from_par = _addr_uri_params(m.get("From") or "")
    to_val = m.get("To")
    to_uri, to_par = _addr_uri_params(to_val or "")
    pai = m.get("P-Asserted-Identity")
    if pai is None:
        pai = m.get("P-Preferred-Identity")
    pai_sip, pai_tel = _pai_uris(pai or "")
    expires = m.get("Expires") or ""

    items = [scheme, p("srand" if server else "crand"), p("snum" if server else "cnum"),
             p("realm"), p("targetname"), m.get("Call-ID") or "",
             cseq[0] if cseq else "", cseq[1] if len(cseq) > 1 else "",
             from_uri, _tag(from_par)]
    if int(version) >= 3:
        items += [to_uri, _tag(to_par), pai_sip, pai_tel, expires]
    else:
        items += [_tag(to_par), expires]
    if not m.is_request:
        items.append(m.status_text)
    return _enc("".join("<%s>" % it for it in items))


# ---------------------------------------------------------------- signing

def sign(msg, signer, version=4, upper=False):
    """Replace each SIG placeholder in the message's auth headers by the hex MIC that
    signer(buffer_bytes) returns (bytes -> hex; str used as is).  signer may be a list of
    callables, used for the placeholders in header order."""
    m = parse(msg)
    signers = list(signer) if isinstance(signer, (list, tuple)) else None
    data = _enc(msg)
    head, body = _split_raw(data)
    n = 0
    for name, raw in m.headers:
        if SIG not in raw:
            continue
        if name.lower() not in CLIENT_HEADERS + SERVER_HEADERS:
            raise ValueError("SIG placeholder in a non-auth header: %s" % name)
        fn = signers[n] if signers is not None else signer
        n += 1
        buf = signature_buffer(m, version=version, auth=(name, _unfold(raw)))
        mic = fn(buf)
        if isinstance(mic, (bytes, bytearray)):
            mic = bytes(mic).hex()
            mic = mic.upper() if upper else mic
        new_line = _enc(name) + b":" + _enc(raw.replace(SIG, mic, 1))
        old_line = _enc(name) + b":" + _enc(raw)
        if head.count(old_line) < 1:
            raise ValueError("cannot locate header %s" % name)
        head = head.replace(old_line, new_line, 1)
    if n == 0:
        raise ValueError("no %s placeholder in the message" % SIG)
    return head + b"\r\n\r\n" + body


class SaSigner:
    """Per-SA helper for flows: formats signed client/server auth headers with counters and
    signs messages with the right callback (client_signer for Authorization/Proxy-Authorization,
    server_signer for *-Authentication-Info)."""

    def __init__(self, scheme, realm, targetname, opaque=None, version=4, client_signer=None,
                 server_signer=None, seed=1, upper=False):
        self.scheme, self.realm, self.targetname = scheme, realm, targetname
        self.opaque, self.version = opaque, version
        self.client_signer, self.server_signer = client_signer, server_signer
        self.cnum = 0
        self.snum = 0
        self.upper = upper
        self._rng = _random.Random(seed)

    def _rand(self):
        v = "%08x" % self._rng.getrandbits(32)
        return v.upper() if self.upper else v

    def client_header(self, extra=(), crand=None, cnum=None, version_param=True):
        """Client header value: qop, realm, opaque, targetname, [version], extra, crand, cnum,
        response=SIG.  cnum defaults to the next counter value."""
        if cnum is None:
            self.cnum += 1
            cnum = self.cnum
        params = [("qop", "auth"), ("realm", self.realm)]
        if self.opaque is not None:
            params.append(("opaque", self.opaque))
        params.append(("targetname", self.targetname))
        if version_param and self.version is not None and int(self.version) >= 3:
            params.append(("version", str(self.version)))
        params += list(extra)
        params += [("crand", crand or self._rand()), ("cnum", str(cnum)), ("response", SIG)]
        return auth_header(self.scheme, params)

    def server_header(self, extra=(), srand=None, snum=None, version_param=True):
        """Server header value in the Lync/SfB order: qop, opaque, srand, snum, rspauth=SIG,
        targetname, realm, [version]."""
        if snum is None:
            self.snum += 1
            snum = self.snum
        params = [("qop", "auth")]
        if self.opaque is not None:
            params.append(("opaque", self.opaque))
        params += [("srand", srand or self._rand()), ("snum", str(snum)), ("rspauth", SIG),
                   ("targetname", self.targetname), ("realm", self.realm)]
        params += list(extra)
        if version_param and self.version is not None and int(self.version) >= 3:
            params.append(("version", str(self.version)))
        return auth_header(self.scheme, params)

    def sign(self, msg):
        """Sign every SIG placeholder of msg, choosing the signer by header name."""
        m = parse(msg)
        fns = []
        for name, raw in m.headers:
            if SIG in raw:
                fn = (self.server_signer if name.lower() in SERVER_HEADERS
                      else self.client_signer)
                if fn is None:
                    raise ValueError("no signer for header %s" % name)
                fns.append(fn)
        return sign(msg, fns, version=self.version, upper=self.upper)
