#!/bin/bash
# Runs tshark with a given build's mssipae.so the way tests/integration/harness.py does (as
# nobody when root, private plugin/config folders), for profiling the glue:
#   bench/glue_tshark.sh BUILD_DIR [wrapper...] -- tshark-args...
# e.g. bench/glue_tshark.sh build /usr/bin/time -v -- -r x.pcap -q -Y sip -o mssipae.keylog_file:k
#      bench/glue_tshark.sh build perf record -g -o /tmp/p.data -- -r x.pcap -q -Y sip
# GLUE_INNER="valgrind --tool=callgrind ..." runs that in front of tshark itself (after setpriv).
set -e
build=$(cd "$1" && pwd); shift
wrap=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do wrap+=("$1"); shift; done
[ "$1" = "--" ] && shift
# GLUE_STAGE: the staging folder; give the same one when comparing builds (tshark's peak RSS
# moves by ~1 MB with the folder's name alone)
d=${GLUE_STAGE:-/tmp/glue-tshark-$(basename "$(dirname "$build")")-$(basename "$build")}
mkdir -p "$d/plugins/4.0/epan" "$d/config" "$d/home" "$d/extcap"
cp "$build/mssipae.so" "$d/plugins/4.0/epan/mssipae.so"
chmod -R a+rX "$d"
[ "$(id -u)" = 0 ] && chown 65534:65534 "$d/config" "$d/home"
env=(HOME=$d/home WIRESHARK_PLUGIN_DIR=$d/plugins WIRESHARK_CONFIG_DIR=$d/config WIRESHARK_EXTCAP_DIR=$d/extcap LC_ALL=C.UTF-8)
if [ "$(id -u)" = 0 ]; then
    exec "${wrap[@]}" setpriv --reuid=65534 --regid=65534 --clear-groups env "${env[@]}" $GLUE_INNER tshark "$@"
else
    exec "${wrap[@]}" env "${env[@]}" $GLUE_INNER tshark "$@"
fi
