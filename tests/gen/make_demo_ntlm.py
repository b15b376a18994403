#!/usr/bin/env python3
"""make_demo_ntlm -- write the NTLM demo captures and their tshark options into demo/.

    MSSIPAE_BUILD_DIR=<build dir with ntlm_peer> python3 tests/gen/make_demo_ntlm.py [--out DIR]

Writes (default DIR: the repository's demo/ folder):

  ntlm-oc2007r2.pcap / .conf   the real Office Communicator 2007 R2 <-> OCS 2007 R2 registration
                               (tests/vectors/ntlm-oc2007r2-v4: NTLMv2 + ESS + KEY_EXCH, v4) over
                               UDP: frame 1 the 407 carrying the real CHALLENGE (the message around
                               it is rebuilt, it was not published), frame 2 the signed REGISTER
                               with the AUTHENTICATE, frame 3 the signed 200 OK; password Pa$$word
  ntlm-gss.pcap / .conf        a Lync-style registration and session over TCP made with
                               gss-ntlmssp (datagram NTLMv2 + ESS, SeqNum 100): REGISTER / 401 /
                               NTLM handshake / 200 OK, SUBSCRIBE, BENOTIFY, an incoming IM
                               (INVITE, ACK, MESSAGEs, BYE) and the de-REGISTER, signed both ways;
                               account CONTOSO\\alice with the password in the .conf (a row of the
                               NTLM users table)

A .conf holds tshark options, one argument per line (demo.sh passes each line as one argument and
replaces @DEMO@ by the demo folder). The gss-ntlmssp capture differs on every run (fresh
challenge and client nonce); run this once and commit the result.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import ntlmsip  # noqa: E402
from demolib import parse_args, write_conf  # noqa: E402
from flowlib import Flow  # noqa: E402

OC_CLIENT = ("192.168.172.6", 12723)      # from the Via of register.sip
OC_SERVER = ("192.168.172.2", 5060)

GSS_DOMAIN, GSS_USER, GSS_PASSWORD = "CONTOSO", "alice", "Lync-Demo-2013"
GSS_CLIENT = ("10.0.0.21", 50123)
GSS_SERVER = ("10.0.0.10", 5060)
GSS_POOL = "pool01.contoso.test"


def make_oc2007r2(out):
    flow = Flow("udp")
    frames = ntlmsip.write(ntlmsip.oc2007r2_messages(), flow, OC_CLIENT, OC_SERVER)
    pcap = flow.save(os.path.join(out, "ntlm-oc2007r2.pcap"))
    write_conf(os.path.join(out, "ntlm-oc2007r2.conf"),
               ["tshark options for ntlm-oc2007r2.pcap, one argument per line:",
                "the password of COSMO\\User (published with the OC 2007 R2 exchange)"],
               ["-o", "mssipae.nt_password:%s" % ntlmsip.OC_PASSWORD])
    return pcap, frames


def make_gss(out):
    from gss import NtlmPeer
    with NtlmPeer(GSS_DOMAIN, GSS_USER, GSS_PASSWORD, lm_compat=3, computer="ALICE-PC",
                  server_domain=GSS_DOMAIN) as peer:
        ex = ntlmsip.LyncNtlmExchange(peer, user=GSS_USER, pool=GSS_POOL, client=GSS_CLIENT,
                                      server=GSS_SERVER, seed=2013)
        msgs = ex.messages()
        # the peers must agree on every signature they made (sanity check of the generator)
        for side, other in (("initiator", "acceptor"), ("acceptor", "initiator")):
            buf = b"<NTLM><check>"
            if not peer.verify(other, buf, peer.mic(side, buf)):
                raise RuntimeError("gss-ntlmssp peers disagree")
    labels = [m.label for m in msgs]
    gaps = {labels.index("SUBSCRIBE"): 0.35, labels.index("INVITE (incoming IM)"): 41.2,
            labels.index("MESSAGE from bob"): 0.8, labels.index("MESSAGE to bob"): 6.4,
            labels.index("BYE from bob"): 12.9, labels.index("REGISTER Expires: 0"): 305.7}
    flow = Flow("tcp")
    frames = ntlmsip.write(msgs, flow, GSS_CLIENT, GSS_SERVER, gaps=gaps)
    pcap = flow.save(os.path.join(out, "ntlm-gss.pcap"))
    write_conf(os.path.join(out, "ntlm-gss.conf"),
               ["tshark options for ntlm-gss.pcap, one argument per line:",
                "a row of the NTLM users table (domain, user, password, NT hash) for the demo",
                "account; the capture was made with gss-ntlmssp by tests/gen/make_demo_ntlm.py"],
               ["-o", 'uat:mssipae_ntlm_users:"%s","%s","%s",""' % (GSS_DOMAIN, GSS_USER,
                                                                    GSS_PASSWORD)])
    return pcap, frames, msgs


def main():
    args = parse_args(__doc__, "ntlm_peer")
    pcap, frames = make_oc2007r2(args.out)
    print("%s: %d frames" % (pcap, len(frames)))
    pcap, frames, msgs = make_gss(args.out)
    signed = sum(len(m.signed) for m in msgs)
    print("%s: %d messages in %d frames, %d signed" % (pcap, len(msgs), max(frames), signed))


if __name__ == "__main__":
    main()
