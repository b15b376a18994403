#!/bin/sh
# The training run of the core's profile feedback (CMakeLists.txt, MSSIPAE_PGO): the core
# micro-benchmark, built with -fprofile-generate, verifies every message of the corpus in
# pgo/corpus/ with each key route (NTLM key log and password, Kerberos keytab, TLS-DSK RSA key and
# key log), once with the signatures as made and once with every one
# spoilt (the wrong-signature paths are hot in a capture of a tampered or misconfigured pool);
# spoilt NTLM also with the explaining checks made at once (--at-once: tshark -z expert, -V).
# Each run must give the expected verdict for every signed header (micro --expect), so a corpus
# that no longer verifies stops the build instead of training the error paths.
#
#   pgo/train.sh MICRO CORPUS_DIR
set -eu
micro=$1
c=$2
for mode in valid invalid; do
    spoil=
    [ "$mode" = invalid ] && spoil=--invalid
    "$micro" "$c/ntlm.msgs.gz" --keylog "$c/ntlm.keys" --reps 1 $spoil --expect $mode >/dev/null
    # the password route through real handshakes (the account of pgo/make_corpus.py)
    "$micro" "$c/ntlm-handshake.msgs.gz" --password 'Passw0rd!' --reps 1 $spoil \
        --expect $mode >/dev/null
    "$micro" "$c/kerberos.msgs.gz" --keytab "$c/kerberos.keytab" --reps 1 $spoil --expect $mode >/dev/null
    "$micro" "$c/tlsdsk.msgs.gz" --keylog "$c/tlsdsk.keys" --reps 1 $spoil --expect $mode >/dev/null
    "$micro" "$c/tlsdsk.msgs.gz" --rsa "$c/tlsdsk-server.key" --reps 1 $spoil --expect $mode >/dev/null
done
"$micro" "$c/ntlm.msgs.gz" --keylog "$c/ntlm.keys" --reps 1 --invalid --at-once \
    --expect invalid >/dev/null
"$micro" "$c/ntlm-handshake.msgs.gz" --password 'Passw0rd!' --reps 1 --invalid --at-once \
    --expect invalid >/dev/null
