"""krbflow -- Lync/SfB-like SIP registrations and traffic signed with real MIT Kerberos material.

Shared by tests/integration/test_kerberos_e2e.py and tests/gen/make_demo_kerberos.py. Tokens and
MICs come from a KrbPeer (tests/gen/gss.py: MIT GSSAPI initiator with the user's ticket, acceptor
with the service keytab); messages from sipmsg (its own, independent signature buffer); frames
from flowlib. Nothing here imports or runs the plugin.

    ua = UA("alice", ("10.0.1.1", 50001), link)        # link = flowlib Link (UDP, TCP or TLS)
    sess = KrbSession(ua, peer, sa=1, opaque="3F2A9C01", mutual=None)
    sess.register()              # REGISTER, 401 (NTLM + Kerberos + TLS-DSK offers), REGISTER with
                                 # the AP-REQ (v4: signed, cnum 1), 200 OK signed with the opaque
    sess.subscribe()             # signed SUBSCRIBE and its signed 200 OK
    sess.server_message("bob")   # signed MESSAGE from the server and the client's signed 200 OK
    ua.records                   # every auth header written: Rec(frame, header, sa, signed, ...)

mutual: None (one leg, the MS-SIPAE way), "200" (the AP-REP rides in the 200 OK's
Authentication-Info gssapi-data) or "401" (the AP-REP rides in a second 401 with the opaque, and
the next REGISTER is the first signed message). MIT cannot sign before the AP-REP has arrived, so
mutual sessions use version 3 (the handshake request is not signed).

Rec.signed is True for a header carrying response= / rspauth=; Rec.before_opaque marks the
signature of the AP-REQ request itself (the opaque is not known yet when it is seen);
Rec.buf is sipmsg's signature buffer of the header; Rec.msg the whole message (for tampering).
"""

import base64
import random
from collections import namedtuple

import sipmsg
from sipmsg import SIG, auth_header

REALM = "SIP Communications Service"
DOMAIN = "contoso.test"
POOL = "server.contoso.test"
KRB_TARGET = "sip/" + POOL            # targetname as Lync sends it (with "sip/")
GSS_TARGET = "sip@" + POOL            # GSS host-based service name of the same principal
SERVER = ("10.0.0.10", 5061)
UA_STRING = "UCCAPI/16.0.5435.1000 OC/16.0.5435.1000 (Skype for Business)"
SERVER_STRING = "RTC/7.0"

Rec = namedtuple("Rec", "frame header sa signed before_opaque buf msg role")


def offers(version, krb_target=KRB_TARGET):
    """The WWW-Authenticate values of a Lync/SfB front end's first 401 (NTLM, Kerberos, TLS-DSK)."""
    v = [("version", str(version))] if version else []
    pool = krb_target.split("/", 1)[-1]
    return [
        auth_header("NTLM", [("realm", REALM), ("targetname", pool)] + v),
        auth_header("Kerberos", [("realm", REALM), ("targetname", krb_target)] + v),
        auth_header("TLS-DSK", [("realm", REALM), ("targetname", pool)] + v +
                    [("sts-uri", "https://%s:443/CertProv/CertProvisioningService.svc" % pool)]),
    ]


def answer(req, code, reason, auths=(), extra=(), to_tag=None, body=b"", first=()):
    """A response to request bytes req: Via, From, To (+ to_tag if it has none), Call-ID, CSeq
    copied; `first` headers go before them (Lync puts Authentication-Info early), auths after."""
    m = sipmsg.parse(req)
    to = m.get("To")
    if to_tag and ";tag=" not in to:
        to += ";tag=" + to_tag
    hdrs = list(first) + [("Via", v) for v in m.get_all("Via")]
    hdrs += [("From", m.get("From")), ("To", to), ("Call-ID", m.get("Call-ID")),
             ("CSeq", m.get("CSeq"))]
    hdrs += list(auths) + list(extra)
    return sipmsg.response(code, reason, hdrs, body=body)


class UA:
    """One SfB client endpoint (user, address, tags) on a flowlib Link to the front end."""

    def __init__(self, user, addr, link, rng=None, transport="TCP", server=SERVER):
        self.user, self.addr, self.link, self.server = user, addr, link, server
        self.rng = rng or random.Random(user)
        self.transport = transport
        self.aor = "sip:%s@%s" % (user, DOMAIN)
        self.tag = self.hex(10)
        self.epid = self.hex(10)
        self.instance = "<urn:uuid:%08x-%04x-5%03x-9%03x-%012x>" % (
            self.rng.getrandbits(32), self.rng.getrandbits(16), self.rng.getrandbits(12),
            self.rng.getrandbits(12), self.rng.getrandbits(48))
        self.reg_callid = self.hex(32)
        self.reg_cseq = 0
        self.records = []
        self.versions = {}      # SA -> version (for the signature buffers of its headers)

    def hex(self, n):
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def via(self):
        return "SIP/2.0/%s %s:%d;branch=z9hG4bK%s" % (self.transport, self.addr[0], self.addr[1],
                                                      self.hex(8))

    def contact(self):
        return ('<sip:%s:%d;transport=%s;ms-opaque=%s>;methods="INVITE, MESSAGE, INFO, SUBSCRIBE, '
                'OPTIONS, BYE, CANCEL, NOTIFY, ACK, REFER, BENOTIFY";proxy=replace;'
                '+sip.instance="%s"' % (self.addr[0], self.addr[1], self.transport.lower(),
                                        self.hex(10), self.instance))

    def from_hdr(self):
        return "<%s>;tag=%s;epid=%s" % (self.aor, self.tag, self.epid)

    def register_req(self, auths=()):
        """A REGISTER as the SfB client sends it (same Call-ID, CSeq counting up)."""
        self.reg_cseq += 1
        hdrs = [("Via", self.via()), ("Max-Forwards", "70"), ("From", self.from_hdr()),
                ("To", "<%s>" % self.aor), ("Call-ID", self.reg_callid),
                ("CSeq", "%d REGISTER" % self.reg_cseq), ("Contact", self.contact()),
                ("User-Agent", UA_STRING),
                ("Supported", "gruu-10, adhoclist, msrtc-event-categories"),
                ("Supported", "ms-forking"), ("Supported", "ms-cluster-failover"),
                ("Supported", "ms-userservices-state-notification"),
                ("ms-keep-alive", "UAC;hop-hop=yes"), ("Event", "registration")]
        hdrs += list(auths)
        return sipmsg.request("REGISTER", "sip:" + DOMAIN, hdrs)

    def request(self, method, auths=(), extra=(), body=b"", callid=None, cseq=1, to=None):
        """An out-of-dialog request from this client."""
        hdrs = [("Via", self.via()), ("Max-Forwards", "70"), ("From", self.from_hdr()),
                ("To", to or "<%s>" % self.aor), ("Call-ID", callid or self.hex(32)),
                ("CSeq", "%d %s" % (cseq, method)), ("Contact", self.contact()),
                ("User-Agent", UA_STRING)]
        hdrs += list(extra) + list(auths)
        return sipmsg.request(method, "sip:%s" % self.aor[4:], hdrs, body=body)

    def server_request(self, method, peer_user, auths=(), extra=(), body=b"", first=()):
        """A request the front end relays to this client (another user's MESSAGE, a BENOTIFY)."""
        peer = "sip:%s@%s" % (peer_user, DOMAIN)
        hdrs = list(first) + [
            ("Via", "SIP/2.0/%s %s:%d;branch=z9hG4bK%s;ms-internal-info=\"%s\"" % (
                self.transport, self.server[0], self.server[1], self.hex(8), self.hex(16))),
            ("Via", "SIP/2.0/TLS 10.0.2.7:50711;branch=z9hG4bK%s;ms-received-port=50711;"
                    "ms-received-cid=%s" % (self.hex(8), self.hex(6).upper())),
            ("Max-Forwards", "69"),
            ("From", '"%s" <%s>;tag=%s;epid=%s' % (peer_user.capitalize(), peer, self.hex(10),
                                                  self.hex(10))),
            ("To", "<%s>" % self.aor), ("Call-ID", self.hex(32)), ("CSeq", "1 %s" % method)]
        hdrs += list(auths) + list(extra)
        uri = "sip:%s:%d;transport=%s;ms-opaque=%s;ms-received-cid=%s;grid" % (
            self.addr[0], self.addr[1], self.transport.lower(), self.hex(10), self.hex(6).upper())
        return sipmsg.request(method, uri, hdrs, body=body)

    # ---- sending and bookkeeping ----
    def _send(self, direction, msg, role, sa, before_opaque=False):
        frame = self.link.c2s(msg) if direction == "c2s" else self.link.s2c(msg)
        m = sipmsg.parse(msg)
        for name, raw in m.headers:
            if name.lower() not in ("www-authenticate", "proxy-authenticate") + \
                    sipmsg.CLIENT_HEADERS + sipmsg.SERVER_HEADERS:
                continue
            scheme, params = sipmsg.parse_auth(raw.strip())
            if scheme.lower() == "digest":
                continue
            signed = any(n.lower() in ("response", "rspauth") for n, _v, _q in params)
            has_gss = any(n.lower() == "gssapi-data" for n, _v, _q in params)
            has_opaque = any(n.lower() == "opaque" for n, _v, _q in params)
            # the SA is shown for handshake headers and signed headers; a first-leg offer has none
            rec_sa = sa if (signed or has_gss or has_opaque) else None
            buf = sipmsg.signature_buffer(m, version=self.version_of(sa), auth=(name, raw.strip())) \
                if signed else None
            self.records.append(Rec(frame, name, rec_sa, signed, before_opaque and signed, buf,
                                    msg, role))
        return frame

    def c2s(self, msg, role="", sa=None, before_opaque=False):
        return self._send("c2s", msg, role, sa, before_opaque)

    def s2c(self, msg, role="", sa=None):
        return self._send("s2c", msg, role, sa)

    def version_of(self, sa):
        return self.versions.get(sa, 4)


def b64(data):
    return base64.b64encode(data).decode("ascii")


class KrbSession:
    """One Kerberos SA between a UA and the front end, driven by a KrbPeer (real GSS material)."""

    def __init__(self, ua, peer, sa, opaque, mutual=None, version=None, target=KRB_TARGET):
        assert mutual in (None, "200", "401")
        self.ua, self.peer, self.sa, self.opaque, self.mutual = ua, peer, sa, opaque, mutual
        self.target = target
        self.version = version if version is not None else (3 if mutual else 4)
        ua.versions[sa] = self.version
        self.signer = sipmsg.SaSigner(
            "Kerberos", REALM, target, opaque=None, version=self.version,
            client_signer=lambda buf: peer.mic("initiator", buf),
            server_signer=lambda buf: peer.mic("acceptor", buf), seed=ua.rng.getrandbits(32),
            upper=True)
        self.srv_tag = ua.hex(32).upper()
        self.ap_req = None
        self.ap_rep = None

    def _ok_extra(self):
        ua = self.ua
        return [("Contact", '<sip:%s:%d;transport=%s;ms-opaque=%s>;expires=7200;+sip.instance="%s";'
                            'gruu="%s;opaque=user:epid:%s;gruu"' % (
                                ua.addr[0], ua.addr[1], ua.transport.lower(), ua.hex(10),
                                ua.instance, ua.aor, ua.hex(22))),
                ("Expires", "7200"), ("presence-state", 'register-action="added"'),
                ("Allow-Events", "vnd-microsoft-provisioning,vnd-microsoft-roaming-contacts,"
                                 "vnd-microsoft-roaming-ACL,presence,presence.wpending"),
                ("Supported", "adhoclist, msrtc-event-categories"),
                ("Supported", "ms-userservices-state-notification"),
                ("Server", SERVER_STRING)]

    def register(self):
        """REGISTER -> 401 offers -> REGISTER with the AP-REQ -> [401 with AP-REP ->
        REGISTER] -> 200 OK, signed as the version and the mutual mode say."""
        ua, s, v = self.ua, self.signer, self.version
        r1 = ua.register_req()
        ua.c2s(r1, "register-1")
        ua.s2c(answer(r1, 401, "Unauthorized", to_tag=self.srv_tag,
                      auths=[("WWW-Authenticate", o) for o in offers(v, self.target)],
                      extra=[("Server", SERVER_STRING)]), "401-offers")
        self.ap_req = self.peer.initial_token()
        rep = self.peer.accept(self.ap_req)
        if self.mutual:
            assert rep, "mutual: the acceptor must answer with an AP-REP"
            self.peer.init_step(rep)
            self.ap_rep = rep
        else:
            assert rep == b"", "one leg: the acceptor must not answer"
        gss = [("gssapi-data", b64(self.ap_req))]
        if v >= 4:
            # v4: the request carrying the AP-REQ is signed already (cnum 1), without an opaque
            req = s.sign(ua.register_req([("Authorization", s.client_header(extra=gss))]))
            ua.c2s(req, "register-apreq", self.sa, before_opaque=True)
        else:
            p = [("qop", "auth"), ("realm", REALM), ("targetname", self.target)] + gss + \
                [("version", str(v))]
            req = ua.register_req([("Authorization", auth_header("Kerberos", p))])
            ua.c2s(req, "register-apreq", self.sa)
        s.opaque = self.opaque
        if self.mutual == "401":
            p = [("opaque", self.opaque), ("gssapi-data", b64(self.ap_rep)),
                 ("targetname", self.target), ("realm", REALM), ("version", str(v))]
            ua.s2c(answer(req, 401, "Unauthorized", to_tag=self.srv_tag,
                          auths=[("WWW-Authenticate", auth_header("Kerberos", p))],
                          extra=[("Server", SERVER_STRING)]), "401-aprep", self.sa)
            req = s.sign(ua.register_req([("Authorization", s.client_header())]))
            ua.c2s(req, "register-signed", self.sa)
        extra = [("gssapi-data", b64(self.ap_rep))] if self.mutual == "200" else []
        ok = s.sign(answer(req, 200, "OK", to_tag=self.srv_tag,
                           first=[("ms-keep-alive", "UAS; tcp=no; hop-hop=yes; end-meth=no; "
                                                    "timeout=300")],
                           auths=[("Authentication-Info", s.server_header(extra=extra))],
                           extra=self._ok_extra()))
        ua.s2c(ok, "200-register", self.sa)
        return ok

    def subscribe(self):
        """Signed SUBSCRIBE for the roaming contacts and the front end's signed 200 OK."""
        ua, s = self.ua, self.signer
        sub = s.sign(ua.request("SUBSCRIBE", auths=[("Authorization", s.client_header())], extra=[
            ("Event", "vnd-microsoft-roaming-contacts"),
            ("Accept", "application/vnd-microsoft-roaming-contacts+xml"),
            ("Supported", "com.microsoft.autoextend"), ("Supported", "ms-benotify"),
            ("Proxy-Require", "ms-benotify"), ("Supported", "ms-piggyback-first-notify")]))
        ua.c2s(sub, "subscribe", self.sa)
        body = (b'<contactList deltaNum="1" xmlns="http://schemas.microsoft.com/2006/09/sip/'
                b'roaming-contacts"><group id="1" name="~" externalURI=""/></contactList>')
        ok = s.sign(answer(sub, 200, "OK", to_tag=ua.hex(10),
                           auths=[("Authentication-Info", s.server_header())],
                           extra=[("Expires", "32450"), ("Require", "ms-benotify"),
                                  ("Content-Type",
                                   "application/vnd-microsoft-roaming-contacts+xml"),
                                  ("Server", SERVER_STRING)], body=body))
        ua.s2c(ok, "200-subscribe", self.sa)
        return sub, ok

    def server_message(self, peer_user="bob", text="Hello from %s"):
        """Signed MESSAGE relayed by the front end (with PAI sip + tel) and the client's signed
        200 OK."""
        ua, s = self.ua, self.signer
        body = ("%s\r\n" % (text % peer_user.capitalize())).encode()
        msg = s.sign(ua.server_request("MESSAGE", peer_user,
                                       auths=[("Authentication-Info", s.server_header())], extra=[
            ("P-Asserted-Identity", '"%s Jones" <sip:%s@%s>, <tel:+14255550%03d;ext=%d>' % (
                peer_user.capitalize(), peer_user, DOMAIN, len(peer_user) * 7, len(peer_user))),
            ("Content-Type", "text/plain; charset=UTF-8")], body=body))
        ua.s2c(msg, "message", self.sa)
        ok = s.sign(answer(msg, 200, "OK", to_tag=ua.hex(10),
                           auths=[("Authorization", s.client_header())],
                           extra=[("User-Agent", UA_STRING)]))
        ua.c2s(ok, "200-message", self.sa)
        return msg, ok


# ---- a small independent DER walk: what the AP-REQ says about its ticket ----

def _tlv(b, i):
    """(tag, content start, content end) of the DER element at b[i]."""
    tag = b[i]
    ln = b[i + 1]
    j = i + 2
    if ln & 0x80:
        n = ln & 0x7F
        ln = int.from_bytes(b[j:j + n], "big")
        j += n
    return tag, j, j + ln


def _children(b, start, end):
    out, i = {}, start
    while i < end:
        tag, s, e = _tlv(b, i)
        out[tag] = (s, e)
        i = e
    return out


def _int(b, s, e):
    tag, cs, ce = _tlv(b, s)
    assert tag == 0x02
    return int.from_bytes(b[cs:ce], "big", signed=True)


def ticket_facts(token):
    """(service principal 'a/b@REALM', ticket enc-part enctype, kvno) of a GSS-framed AP-REQ
    (RFC 2743 3.1 framing, RFC 4120 5.3 Ticket, 5.5.1 AP-REQ)."""
    tag, s, e = _tlv(token, 0)
    assert tag == 0x60
    tag, os_, oe = _tlv(token, s)            # mechanism OID
    assert tag == 0x06 and token[oe:oe + 2] == b"\x01\x00"
    tag, s, e = _tlv(token, oe + 2)         # [APPLICATION 14] AP-REQ
    assert tag == 0x6E
    tag, s, e = _tlv(token, s)               # SEQUENCE
    f = _children(token, s, e)
    ts, te = f[0xA3]                         # ticket [3]
    tag, s, e = _tlv(token, ts)              # [APPLICATION 1]
    assert tag == 0x61
    tag, s, e = _tlv(token, s)
    t = _children(token, s, e)
    tag, rs, re_ = _tlv(token, t[0xA1][0])   # realm GeneralString
    realm = token[rs:re_].decode()
    tag, s, e = _tlv(token, t[0xA2][0])      # sname PrincipalName SEQUENCE
    pn = _children(token, s, e)
    tag, s, e = _tlv(token, pn[0xA1][0])     # name-string SEQUENCE OF
    names, i = [], s
    while i < e:
        tg, cs, ce = _tlv(token, i)
        names.append(token[cs:ce].decode())
        i = ce
    tag, s, e = _tlv(token, t[0xA3][0])      # enc-part EncryptedData
    ed = _children(token, s, e)
    etype = _int(token, ed[0xA0][0], ed[0xA0][1])
    kvno = _int(token, ed[0xA1][0], ed[0xA1][1]) if 0xA1 in ed else None
    return "%s@%s" % ("/".join(names), realm), etype, kvno


def merge_keytabs(out, *paths):
    """Write one MIT keytab holding every entry of paths (file format 0x0502: a 2-byte version,
    then length-prefixed entries, so the entries of several files simply follow each other)."""
    data = b"\x05\x02"
    for p in paths:
        with open(p, "rb") as f:
            b = f.read()
        if b[:2] != b"\x05\x02":
            raise ValueError("%s is not an MIT keytab (version 0x0502)" % p)
        data += b[2:]
    with open(out, "wb") as f:
        f.write(data)
    return out
