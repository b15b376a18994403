"""ntlmsip -- NTLM-signed [MS-SIPAE] SIP exchanges for end-to-end tests and demo captures.

Shared by tests/integration/test_ntlm_e2e.py, tests/integration/test_demo_ntlm.py and
tests/gen/make_demo_ntlm.py.  Builds message lists (no capture yet), so a test can replace one
message by a tampered copy and keep every frame number; ``write()`` puts a list into a capture.

Message lists (each item a ``Msg``: direction "c2s"/"s2c", exact bytes, a label)::

    oc2007r2_messages()        the real OC 2007 R2 exchange (tests/vectors/ntlm-oc2007r2-v4): a
                               407 rebuilt around the real CHALLENGE (its 407 was not published),
                               then register.sip and 200-ok.sip as captured
    ocs2007_noess_messages(context=False)
                               the real OCS 2007 non-ESS 200 OK (tests/vectors/ntlm-ocs2007-v2-noess);
                               context=True puts a 401 naming its opaque (no token) before it, so
                               the SA exists without any handshake token
    LyncNtlmExchange(peer, ...).messages()
                               a Lync-style registration through the whole NTLM handshake, then
                               traffic both ways (SUBSCRIBE, BENOTIFY, an incoming IM session with
                               INVITE/ACK/MESSAGE/BYE, de-REGISTER), every signature made by
                               gss-ntlmssp (gss.NtlmPeer: initiator = client, acceptor = server)

Tampering (one byte of one covered item, or of an uncovered part)::

    tamper_cases(msg, version=4) -> [(label, tampered bytes, covered)]
        one case per item of the signature buffer that comes from the message (rand, num,
        realm, targetname of the signing header; Call-ID, CSeq number and method, From URI/tag,
        To URI/tag, PAI/PPI sip and tel URIs, Expires, status code -- those present) with
        covered=True, and the first Via, the Contact and the body (when present) with
        covered=False.  Each case changes exactly one byte and is checked against sipmsg's
        independent buffer (changed for covered cases, identical otherwise); in the v2 layout
        the To URI is not covered.

``write(msgs, flow, client, server, gaps=None) -> [frame per message]`` sends them over one
flowlib Link (gaps: {message index: seconds of silence before it}).
"""

import os
import random

import sipmsg
from sipmsg import request, response, auth_header

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(os.path.dirname(HERE), "vectors")
REALM = "SIP Communications Service"
C2S, S2C = "c2s", "s2c"

# The real OC 2007 R2 exchange ([MS-SIPAE] v4, NTLMv2 + ESS + KEY_EXCH), see its values.txt.
OC_PASSWORD = "Pa$$word"
OC_DOMAIN, OC_USER = "COSMO", "User"
OC_OPAQUE = "2BDBAC9D"
OC_TARGET = "cosmo-ocs-r2.cosmo.local"
OC_ESK = "6742fbe37bb1946b49d86a525bd29a9b"
OC_NTOWFV1 = "1a4b1757588cab6298e29e91c06df58d"
# The real OCS 2007 non-ESS 200 OK (version 2 layout): only its session key is known.
NOESS_OPAQUE = "4452DFB0"
NOESS_ESK = "5f029153bc025058969548615e7099ba"


def vector(rel):
    """Bytes of a file under tests/vectors."""
    with open(os.path.join(VECTORS, rel), "rb") as f:
        return f.read()


class Msg:
    """One SIP message of an exchange: direction, exact bytes, a label for messages."""

    def __init__(self, direction, data, label):
        self.direction, self.data, self.label = direction, data, label

    @property
    def signed(self):
        """Names of the headers that carry a signature (response= / rspauth=)."""
        return [name for _i, name, _s, _p in sipmsg.signing_headers(self.data)]

    def replace(self, data):
        """A copy with other bytes."""
        return Msg(self.direction, data, self.label)


def write(msgs, flow, client, server, gaps=None):
    """Send every message over a new link of flow; returns the frame number of each. gaps maps
    a message index to seconds of silence before it (for captures that read like real ones)."""
    link = flow.link(client, server)
    frames = []
    for i, m in enumerate(msgs):
        if gaps and i in gaps:
            flow.cap.advance(gaps[i])
        frames.append(link.c2s(m.data) if m.direction == C2S else link.s2c(m.data))
    return frames


# ---------------------------------------------------------------- the Microsoft vectors

def oc2007r2_messages():
    """407 (real CHALLENGE, rebuilt message), REGISTER with AUTHENTICATE (signed), 200 OK
    (signed) -- the published OC 2007 R2 registration."""
    reg = sipmsg.parse(vector("ntlm-oc2007r2-v4/register.sip"))
    ok = sipmsg.parse(vector("ntlm-oc2007r2-v4/200-ok.sip"))
    chal_b64 = vector("ntlm-oc2007r2-v4/challenge.b64").decode().strip()
    cseq = int(reg.get("CSeq").split()[0]) - 1
    chal = response(407, "Proxy Authentication Required", [
        ("ms-keep-alive", "UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300"),
        ("Proxy-Authenticate", auth_header("NTLM", [
            ("opaque", OC_OPAQUE), ("gssapi-data", chal_b64), ("targetname", OC_TARGET),
            ("realm", REALM), ("version", "4")])),
        ("From", ok.get("From")),
        ("To", reg.get("To") + ";tag=" + ok.get("To").split("tag=")[1]),
        ("Call-ID", reg.get("Call-ID")),
        ("CSeq", "%d REGISTER" % cseq),
        ("Via", ok.get("Via")),
        ("Server", "RTC/3.5"),
    ])
    return [Msg(S2C, chal, "407 with the real CHALLENGE"),
            Msg(C2S, vector("ntlm-oc2007r2-v4/register.sip"), "REGISTER with AUTHENTICATE"),
            Msg(S2C, vector("ntlm-oc2007r2-v4/200-ok.sip"), "200 OK to REGISTER")]


def ocs2007_noess_messages(context=False):
    """The real OCS 2007 non-ESS 200 OK; with context, after a 401 that names its opaque."""
    ok = vector("ntlm-ocs2007-v2-noess/200-ok.sip")
    msgs = []
    if context:
        m = sipmsg.parse(ok)
        target = sipmsg.parse_auth(m.get("Authentication-Info"))[1]
        target = [v for n, v, _q in target if n == "targetname"][0]
        c = response(401, "Unauthorized", [
            ("WWW-Authenticate", auth_header("NTLM", [
                ("opaque", NOESS_OPAQUE), ("targetname", target), ("realm", REALM)])),
            ("From", m.get("From")), ("To", m.get("To")), ("Call-ID", m.get("Call-ID")),
            ("CSeq", "2 REGISTER"), ("Via", m.get("Via"))])
        msgs.append(Msg(S2C, c, "401 naming the opaque (no token)"))
    msgs.append(Msg(S2C, ok, "200 OK to REGISTER (non-ESS)"))
    return msgs


# ---------------------------------------------------------------- a Lync-style exchange

LYNC_UA = "UCCAPI/15.0.4420.1017 OC/15.0.4420.1017 (Microsoft Lync)"
SERVER_UA = "RTC/5.0"
METHODS = '"INVITE, MESSAGE, INFO, SUBSCRIBE, OPTIONS, BYE, CANCEL, NOTIFY, ACK, REFER, BENOTIFY"'


class LyncNtlmExchange:
    """A Lync 2013 client registering with NTLM (v4) and exchanging signed traffic both ways.

    peer: a gss.NtlmPeer whose credentials are domain\\user (initiator = client, acceptor =
    server). Tags, Call-IDs, salts and the opaque come from seed, so two exchanges with the same
    seed differ only in the NTLM tokens and signatures."""

    def __init__(self, peer, user="alice", sip_domain="contoso.test", pool="pool01.contoso.test",
                 client=("10.0.0.21", 50123), server=("10.0.0.10", 5060), transport="TCP",
                 seed=1, caller="bob", caller_name="Bob Example", caller_tel="+14255550101"):
        self.peer, self.user, self.dom, self.pool = peer, user, sip_domain, pool
        self.client, self.server, self.transport = client, server, transport
        self.caller, self.caller_name, self.caller_tel = caller, caller_name, caller_tel
        self.rng = random.Random(seed)
        self.opaque = "%08X" % self.rng.getrandbits(32)
        self.sa = sipmsg.SaSigner(
            "NTLM", REALM, pool, opaque=self.opaque, version=4, seed=seed,
            client_signer=lambda buf: peer.mic("initiator", buf),
            server_signer=lambda buf: peer.mic("acceptor", buf))

    # -- small helpers
    def _hex(self, n):
        return "".join("%x" % self.rng.getrandbits(4) for _ in range(n))

    def _via(self, branch, received=False):
        v = "SIP/2.0/%s %s:%d;branch=z9hG4bK%s" % (self.transport, self.client[0], self.client[1],
                                                   branch)
        if received:
            v += ";ms-received-port=%d;ms-received-cid=%s" % (self.client[1], self.cid)
        return v

    def _srv_via(self, branch):
        return "SIP/2.0/%s %s:%d;branch=z9hG4bK%s;ms-internal-info=\"ak%s\"" % (
            self.transport, self.server[0], self.server[1], branch, self._hex(12))

    def messages(self):
        """The whole exchange as a list of Msg, signed by the peer."""
        rng, sa, u, dom = self.rng, self.sa, self.user, self.dom
        self.cid = "%X" % rng.randrange(0x100, 0xfff)
        aor = "sip:%s@%s" % (u, dom)
        bob = "sip:%s@%s" % (self.caller, dom)
        epid = self._hex(10)
        tag = self._hex(10)
        reg_cid = self._hex(32)
        srv_tag = self._hex(32).upper()
        instance = "<urn:uuid:%s-%s-%s-%s-%s>" % (self._hex(8).upper(), self._hex(4).upper(),
                                                  self._hex(4).upper(), self._hex(4).upper(),
                                                  self._hex(12).upper())
        ms_opaque = self._hex(10)
        contact = "<sip:%s:%d;transport=%s;ms-opaque=%s>;methods=%s;proxy=replace;+sip.instance=\"%s\"" % (
            self.client[0], self.client[1], self.transport.lower(), ms_opaque, METHODS, instance)
        frm = "<%s>;tag=%s;epid=%s" % (aor, tag, epid)
        out = []
        cseq = [0]

        def reg(auth=None, expires=None):
            cseq[0] += 1
            h = [("Via", self._via(self._hex(10))), ("Max-Forwards", "70"), ("From", frm),
                 ("To", "<%s>" % aor), ("Call-ID", reg_cid), ("CSeq", "%d REGISTER" % cseq[0]),
                 ("Contact", contact), ("User-Agent", LYNC_UA),
                 ("Supported", "gruu-10, adhoclist, msrtc-event-categories"),
                 ("Supported", "ms-forking"), ("Supported", "ms-cluster-failover"),
                 ("Supported", "ms-userservices-state-notification"),
                 ("ms-keep-alive", "UAC;hop-hop=yes"), ("Event", "registration")]
            if expires is not None:
                h.append(("Expires", str(expires)))
            if auth:
                h.append(("Authorization", auth))
            return request("REGISTER", "sip:%s" % dom, h)

        def reg_resp(code, reason, req, auths=(), extra=()):
            m = sipmsg.parse(req)
            h = [("ms-keep-alive", "UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300")]
            h += list(auths)
            h += [("From", m.get("From")), ("To", "<%s>;tag=%s" % (aor, srv_tag)),
                  ("Call-ID", m.get("Call-ID")), ("CSeq", m.get("CSeq")),
                  ("Via", m.get("Via") + ";received=%s;ms-received-port=%d;ms-received-cid=%s"
                   % (self.client[0], self.client[1], self.cid))]
            h += list(extra)
            h.append(("Server", SERVER_UA))
            return response(code, reason, h)

        # 1-2: unauthenticated REGISTER, 401 offering NTLM, Kerberos and TLS-DSK
        m = reg()
        out.append(Msg(C2S, m, "REGISTER"))
        offers = [("WWW-Authenticate", auth_header("NTLM", [
                      ("realm", REALM), ("targetname", self.pool), ("version", "4")])),
                  ("WWW-Authenticate", auth_header("Kerberos", [
                      ("realm", REALM), ("targetname", "sip/" + self.pool), ("version", "4")])),
                  ("WWW-Authenticate", auth_header("TLS-DSK", [
                      ("realm", REALM), ("targetname", self.pool), ("version", "4"),
                      ("sts-uri", "https://%s:443/CertProv/CertProvisioningService.svc"
                       % self.pool)]))]
        out.append(Msg(S2C, reg_resp(401, "Unauthorized", m, offers), "401 offering NTLM"))
        # 3-4: REGISTER with gssapi-data="" (datagram NTLM has no NEGOTIATE), 401 + CHALLENGE
        m = reg(auth_header("NTLM", [("qop", "auth"), ("realm", REALM), ("targetname", self.pool),
                                     ("gssapi-data", ""), ("version", "4")]))
        out.append(Msg(C2S, m, "REGISTER gssapi-data=\"\""))
        chal = self.peer.challenge()
        out.append(Msg(S2C, reg_resp(401, "Unauthorized", m, [("WWW-Authenticate", auth_header("NTLM", [
            ("opaque", self.opaque), ("gssapi-data", _b64(chal)), ("targetname", self.pool),
            ("realm", REALM), ("version", "4")]))]), "401 with CHALLENGE"))
        # 5-6: REGISTER with AUTHENTICATE, signed (v4); 200 OK signed
        auth = self.peer.authenticate(chal)
        self.peer.accept(auth)
        m = sa.sign(reg(sa.client_header(extra=[("gssapi-data", _b64(auth))])))
        out.append(Msg(C2S, m, "REGISTER with AUTHENTICATE"))
        gruu = "%s;opaque=user:epid:%s;gruu" % (aor, self._hex(22))
        ok = reg_resp(200, "OK", m, [("Authentication-Info", sa.server_header())], [
            ("Contact", "<sip:%s:%d;transport=%s;ms-opaque=%s;ms-received-cid=%s>;expires=7200;"
                        "+sip.instance=\"%s\";gruu=\"%s\"" % (
                            self.client[0], self.client[1], self.transport.lower(),
                            ms_opaque, self.cid, instance, gruu)),
            ("Expires", "7200"), ("presence-state", 'register-action="added"'),
            ("Allow-Events", "vnd-microsoft-provisioning,vnd-microsoft-roaming-contacts,"
                             "vnd-microsoft-roaming-ACL,presence,presence.wpending,"
                             "vnd-microsoft-roaming-self,vnd-microsoft-provisioning-v2"),
            ("Supported", "adhoclist"), ("Supported", "msrtc-event-categories"),
            ("Supported", "ms-userservices-state-notification")])
        out.append(Msg(S2C, sa.sign(ok), "200 OK to REGISTER"))

        # 7-9: SUBSCRIBE roaming contacts, its 200 OK with the contact list, a BENOTIFY
        sub_cid, sub_tag, sub_srv_tag = self._hex(32), self._hex(10), self._hex(32).upper()
        sub_from = "<%s>;tag=%s;epid=%s" % (aor, sub_tag, epid)
        m = request("SUBSCRIBE", aor, [
            ("Via", self._via(self._hex(10))), ("Max-Forwards", "70"), ("From", sub_from),
            ("To", "<%s>" % aor), ("Call-ID", sub_cid), ("CSeq", "1 SUBSCRIBE"),
            ("Contact", "<%s>" % gruu), ("User-Agent", LYNC_UA),
            ("Event", "vnd-microsoft-roaming-contacts"),
            ("Accept", "application/vnd-microsoft-roaming-contacts+xml"),
            ("Supported", "com.microsoft.autoextend"), ("Supported", "ms-benotify"),
            ("Proxy-Require", "ms-benotify"), ("Supported", "ms-piggyback-first-notify"),
            ("Authorization", sa.client_header())])
        m = sa.sign(m)
        out.append(Msg(C2S, m, "SUBSCRIBE"))
        contacts = ('<contactList deltaNum="7" xmlns="http://schemas.microsoft.com/2006/09/sip/'
                    'roaming-contacts"><group id="1" name="~" specialGroup="Friends"/>'
                    '<contact uri="%s" name="%s" groups="1 " subscribed="true"/></contactList>'
                    % (bob, self.caller_name)).encode()
        req = sipmsg.parse(m)
        ok = response(200, "OK", [
            ("ms-keep-alive", "UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300"),
            ("Authentication-Info", sa.server_header()),
            ("From", req.get("From")), ("To", "<%s>;tag=%s" % (aor, sub_srv_tag)),
            ("Call-ID", sub_cid), ("CSeq", "1 SUBSCRIBE"),
            ("Via", req.get("Via") + ";received=%s;ms-received-port=%d;ms-received-cid=%s"
             % (self.client[0], self.client[1], self.cid)),
            ("Expires", "36000"), ("Require", "eventlist"),
            ("Content-Type", "application/vnd-microsoft-roaming-contacts+xml"),
            ("Event", "vnd-microsoft-roaming-contacts"),
            ("subscription-state", "active;expires=36000"), ("Server", SERVER_UA)], contacts)
        out.append(Msg(S2C, sa.sign(ok), "200 OK to SUBSCRIBE"))
        note = (b'<roamingData xmlns="http://schemas.microsoft.com/2006/09/sip/roaming-self">'
                b'<categories><category name="note" instance="0"/></categories></roamingData>')
        m = request("BENOTIFY", "sip:%s:%d;transport=%s;ms-opaque=%s;ms-received-cid=%s" % (
            self.client[0], self.client[1], self.transport.lower(), ms_opaque, self.cid), [
            ("Via", self._srv_via(self._hex(10))), ("Max-Forwards", "70"),
            ("From", "<%s>;tag=%s" % (aor, sub_srv_tag)), ("To", sub_from),
            ("Call-ID", sub_cid), ("CSeq", "2 BENOTIFY"),
            ("Content-Type", "application/vnd-microsoft-roaming-self+xml"),
            ("Event", "vnd-microsoft-roaming-self"),
            ("subscription-state", "active;expires=36000"),
            ("Authentication-Info", sa.server_header())], note)
        out.append(Msg(S2C, sa.sign(m), "BENOTIFY"))

        # 10-16: incoming IM from bob: INVITE (PAI sip + tel), 200 OK, ACK, MESSAGE, 200 OK,
        # alice's reply MESSAGE and its 200 OK
        im_cid, bob_tag, my_tag = self._hex(32), self._hex(10), self._hex(10)
        bob_epid = self._hex(10)
        bob_from = '"%s" <%s>;tag=%s;epid=%s' % (self.caller_name, bob, bob_tag, bob_epid)
        my_uri = "sip:%s:%d;transport=%s;ms-opaque=%s;ms-received-cid=%s" % (
            self.client[0], self.client[1], self.transport.lower(), ms_opaque, self.cid)
        sdp = ("v=0\r\no=- 0 0 IN IP4 10.0.0.55\r\ns=session\r\nc=IN IP4 10.0.0.55\r\nt=0 0\r\n"
               "m=message 5060 sip null\r\na=accept-types:text/plain text/html "
               "multipart/alternative image/gif text/rtf application/x-ms-ink\r\n").encode()
        pai = '"%s" <%s>, <tel:%s;ext=101>' % (self.caller_name, bob, self.caller_tel)
        bob_via = "SIP/2.0/TLS 10.0.0.55:49801;branch=z9hG4bK%s;ms-received-port=49801;" \
                  "ms-received-cid=%s" % (self._hex(10), "%X" % rng.randrange(0x100, 0xfff))

        def to_client(method, n, hdrs, body=b"", to_tag=my_tag):
            h = [("Via", self._srv_via(self._hex(10))), ("Via", bob_via), ("Max-Forwards", "69"),
                 ("From", bob_from), ("To", "<%s>%s" % (aor, ";tag=" + to_tag if to_tag else "")),
                 ("Call-ID", im_cid), ("CSeq", "%d %s" % (n, method))]
            h += hdrs + [("Authentication-Info", sa.server_header())]
            return sa.sign(request(method, my_uri, h, body))

        def client_answer(req_bytes, hdrs=(), body=b"", to_tag=my_tag):
            r = sipmsg.parse(req_bytes)
            h = [("Via", v) for v in r.get_all("Via")]
            to = r.get("To")
            if "tag=" not in to:
                to += ";tag=" + to_tag
            h += [("From", r.get("From")), ("To", to), ("Call-ID", r.get("Call-ID")),
                  ("CSeq", r.get("CSeq"))] + list(hdrs)
            h += [("User-Agent", LYNC_UA), ("Authorization", sa.client_header())]
            return sa.sign(response(200, "OK", h, body))

        inv = to_client("INVITE", 1, [
            ("Record-Route", "<sip:%s:%d;transport=%s;ms-fe=%s;lr>" % (
                self.server[0], self.server[1], self.transport.lower(), self.pool)),
            ("Contact", "<%s;opaque=user:epid:%s;gruu>" % (bob, self._hex(22))),
            ("User-Agent", LYNC_UA), ("Supported", "ms-dialog-route-set-update"),
            ("Ms-Conversation-ID", "Ac%s" % self._hex(30)),
            ("P-Asserted-Identity", pai), ("Content-Type", "application/sdp")], sdp, to_tag=None)
        out.append(Msg(S2C, inv, "INVITE (incoming IM)"))
        ans = client_answer(inv, [("Contact", "<%s;opaque=user:epid:%s;gruu>" % (aor, self._hex(22))),
                                  ("Content-Type", "application/sdp")],
                            sdp.replace(b"10.0.0.55", self.client[0].encode()))
        out.append(Msg(C2S, ans, "200 OK to INVITE"))
        out.append(Msg(S2C, to_client("ACK", 1, []), "ACK"))
        text = "Hi %s, have you got a minute?" % self.user
        msg = to_client("MESSAGE", 2, [("Content-Type", "text/plain; charset=UTF-8")],
                        text.encode())
        out.append(Msg(S2C, msg, "MESSAGE from bob"))
        out.append(Msg(C2S, client_answer(msg), "200 OK to MESSAGE"))
        reply = request("MESSAGE", bob, [
            ("Via", self._via(self._hex(10))), ("Max-Forwards", "70"),
            ("From", "<%s>;tag=%s;epid=%s" % (aor, my_tag, epid)),
            ("To", '"%s" <%s>;tag=%s;epid=%s' % (self.caller_name, bob, bob_tag, bob_epid)),
            ("Call-ID", im_cid), ("CSeq", "1 MESSAGE"),
            ("Route", "<sip:%s:%d;transport=%s;ms-fe=%s;lr>" % (
                self.server[0], self.server[1], self.transport.lower(), self.pool)),
            ("User-Agent", LYNC_UA), ("P-Preferred-Identity", "<%s>" % aor),
            ("Content-Type", "text/plain; charset=UTF-8"),
            ("Authorization", sa.client_header())], b"Sure, go ahead.")
        reply = sa.sign(reply)
        out.append(Msg(C2S, reply, "MESSAGE to bob"))
        r = sipmsg.parse(reply)
        ok = response(200, "OK", [
            ("Authentication-Info", sa.server_header()),
            ("Via", r.get("Via") + ";received=%s;ms-received-port=%d;ms-received-cid=%s"
             % (self.client[0], self.client[1], self.cid)),
            ("From", r.get("From")), ("To", r.get("To")), ("Call-ID", im_cid),
            ("CSeq", "1 MESSAGE"), ("User-Agent", LYNC_UA)])
        out.append(Msg(S2C, sa.sign(ok), "200 OK to MESSAGE"))
        bye = to_client("BYE", 3, [])
        out.append(Msg(S2C, bye, "BYE from bob"))
        out.append(Msg(C2S, client_answer(bye), "200 OK to BYE"))

        # 19-20: de-REGISTER (Expires: 0) and its 200 OK
        m = sa.sign(reg(sa.client_header(), expires=0))
        out.append(Msg(C2S, m, "REGISTER Expires: 0"))
        ok = reg_resp(200, "OK", m, [("Authentication-Info", sa.server_header())],
                      [("Expires", "0")])
        out.append(Msg(S2C, sa.sign(ok), "200 OK to de-REGISTER"))
        return out


def _b64(b):
    import base64
    return base64.b64encode(b).decode()


# ---------------------------------------------------------------- tampering

def _flip(ch):
    """Another character of the same kind (digit, hex letter, letter), never a separator."""
    if ch.isdigit():
        return str((int(ch) + 1) % 10)
    if ch.isalpha():
        return ch.lower() if ch.isupper() else ch.upper()
    raise ValueError("cannot flip %r" % ch)


def _change_value(data, header, find, skip=0):
    """Change one byte of the first instance of header: the first letter or digit at or after
    offset skip of the substring find (located in its value). Returns the new bytes."""
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    want = sipmsg._canon(header)
    for i, ln in enumerate(lines[1:], start=1):
        name, colon, value = ln.partition(b":")
        if not colon or ln[:1] in (b" ", b"\t") or sipmsg._canon(name.decode()) != want:
            continue
        v = value.decode("utf-8", "surrogateescape")
        pos = v.find(find)
        if pos < 0:
            raise ValueError("%r not in %s: %r" % (find, header, v))
        for j in range(pos + skip, pos + len(find)):
            if v[j].isalnum():
                v = v[:j] + _flip(v[j]) + v[j + 1:]
                break
        else:
            raise ValueError("nothing to change in %r" % find)
        lines[i] = name + b":" + v.encode("utf-8", "surrogateescape")
        return b"\r\n".join(lines) + sep + body
    raise ValueError("no %s header" % header)


def _params(value):
    return {n.lower(): v for n, v, _q in sipmsg.parse_auth(value)[1]}


def tamper_cases(data, version=4):
    """Every one-byte change of a covered item of the (first) signing header's buffer, plus body
    and Via changes that are not covered; each checked against sipmsg's buffer."""
    m = sipmsg.parse(data)
    idx, hname, _scheme, _p = sipmsg.signing_headers(data)[0]
    server = hname.lower() in sipmsg.SERVER_HEADERS
    p = _params(m.get(hname))
    cases = []
    rand, num = ("srand", "snum") if server else ("crand", "cnum")

    def add(label, new, covered):
        cases.append((label, new, covered))

    for par in (rand, num, "realm", "targetname"):
        quoted = '%s="%s"' % (par, p[par])
        find = quoted if quoted in m.get(hname) else "%s=%s" % (par, p[par])
        add("%s %s" % (hname, par), _change_value(data, hname, find, skip=len(par) + 1), True)
    add("Call-ID", _change_value(data, "Call-ID", m.get("Call-ID")), True)
    num_s, meth = m.get("CSeq").split()
    add("CSeq number", _change_value(data, "CSeq", num_s), True)
    add("CSeq method", _change_value(data, "CSeq", meth[1:]), True)
    for h in ("From", "To"):
        uri, par = sipmsg._addr_uri_params(m.get(h))
        if version >= 3 or h == "From":
            add("%s URI" % h, _change_value(data, h, uri.split(":", 1)[1]), True)
        else:
            add("%s URI (not in the v2 layout)" % h, _change_value(data, h, uri.split(":", 1)[1]),
                False)
        tag = sipmsg._tag(par)
        if tag:
            add("%s tag" % h, _change_value(data, h, "tag=" + tag, skip=4), True)
    pai_name = "P-Asserted-Identity" if m.get("P-Asserted-Identity") is not None else \
        "P-Preferred-Identity" if m.get("P-Preferred-Identity") is not None else None
    if pai_name:
        sip_uri, tel_uri = sipmsg._pai_uris(m.get(pai_name))
        if sip_uri:
            add("%s sip URI" % pai_name, _change_value(data, pai_name, sip_uri[4:]), version >= 3)
        if tel_uri:
            add("%s tel URI" % pai_name, _change_value(data, pai_name, tel_uri[5:]), version >= 3)
    if m.get("Expires") is not None:
        add("Expires", _change_value(data, "Expires", m.get("Expires")), True)
    if not m.is_request:
        add("status code", data.replace(b"SIP/2.0 %d " % m.status,
                                        b"SIP/2.0 %d " % (m.status + 1), 1), True)
    # not covered: a Via, the Contact, the body
    via = m.get("Via")
    add("Via", _change_value(data, "Via", via.split()[1]), False)
    if m.get("Contact") is not None:
        add("Contact", _change_value(data, "Contact", m.get("Contact").split(":", 1)[1]), False)
    if m.body:
        body = bytearray(m.body)
        for i, c in enumerate(body):
            if chr(c).isalpha():
                body[i] = ord(_flip(chr(c)))
                break
        head = data[:len(data) - len(m.body)]
        add("body", head + bytes(body), False)
    # every case must do what its label says to sipmsg's independent buffer
    orig = sipmsg.signature_buffer(data, version, header=0)
    for label, new, covered in cases:
        assert len(new) == len(data) and sum(a != b for a, b in zip(new, data)) == 1, label
        changed = sipmsg.signature_buffer(new, version, header=0) != orig
        assert changed == covered, "%s: buffer %s" % (label, "changed" if changed else "same")
    return cases

