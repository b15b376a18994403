"""make_demo_logs -- write demo/logs/: one NTLM session as the client's UccApi log and as the front
end's SIPStack trace (for the README section "Verifying from client and server logs").

    MSSIPAE_BUILD_DIR=<build dir with ntlm_peer> python3 tests/gen/make_demo_logs.py [--out DIR]

The session is made with gss-ntlmssp (the demo account of demo/ntlm-gss.conf: CONTOSO\\alice,
password Lync-Demo-2013) and rendered by tests/gen/lynclogwriter.py, with non-SIP trace lines and
records around the messages; the front end logs each message 3 ms after the client. The tokens
differ on every run; run it once and commit the result.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import ntlmsip  # noqa: E402
import lynclogwriter as W  # noqa: E402
from make_demo_ntlm import GSS_DOMAIN, GSS_USER, GSS_PASSWORD, GSS_POOL  # noqa: E402

CLIENT = ("192.168.103.35", 20323)
SERVER = ("192.168.100.100", 5061)


def main():
    out = os.path.join(os.path.dirname(os.path.dirname(HERE)), "demo", "logs")
    if len(sys.argv) == 3 and sys.argv[1] == "--out":
        out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    from gss import NtlmPeer
    with NtlmPeer(GSS_DOMAIN, GSS_USER, GSS_PASSWORD, lm_compat=3, computer="ALICE-PC",
                  server_domain=GSS_DOMAIN) as peer:
        ex = ntlmsip.LyncNtlmExchange(peer, user=GSS_USER, pool=GSS_POOL, client=CLIENT,
                                      server=SERVER, transport="TLS", seed=2016)
        msgs = ex.messages()
    logs = W.from_msgs(msgs, CLIENT, SERVER, start=1366082250.168, step=0.211)
    with open(os.path.join(out, "Lync-UccApi-0.UccApilog"), "wb") as f:
        f.write(W.uccapi_log(logs, noise=True))
    with open(os.path.join(out, "sipstack-fe01.txt"), "wb") as f:
        f.write(W.sipstack_trace(logs, noise=True, cls=True, delay=0.003))
    print("wrote %d messages to %s" % (len(logs), out))


if __name__ == "__main__":
    main()
