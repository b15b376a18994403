#!/usr/bin/env bash
# mssipae demo: installs the Debian packages, builds the plugin, installs it where tshark loads it
# for you (the system plugin folder when run as root, ~/.local/lib/wireshark/plugins otherwise),
# and verifies the signatures of the bundled demo captures, one line per signed message.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/deps.sh
mssipae_install_deps

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target mssipae >/dev/null
if [ "$(id -u)" -eq 0 ]; then
  dest=$(pkg-config --variable=plugindir wireshark)/epan
else
  dest="$HOME/.local/lib/wireshark/plugins/4.0/epan"
fi
mkdir -p "$dest"
install -m 0644 build/mssipae.so "$dest/mssipae.so"
echo "installed $dest/mssipae.so"
tshark -G plugins 2>/dev/null | grep -q mssipae.so || { echo "tshark does not list the plugin" >&2; exit 1; }

# One line per signed header: frame, direction, header, scheme, SA, verdict, reason.
show() {
  local cap=$1 keys=$2; shift 2
  echo
  echo "== $cap ($keys)"
  printf 'frame\tdirection\theader\tscheme\tSA\tverdict\treason\n'
  tshark -r "$cap" "$@" -Y mssipae.sig.status -T fields -E occurrence=a -E aggregator='|' \
    -e frame.number -e mssipae.direction -e mssipae.header -e mssipae.scheme -e mssipae.sa \
    -e mssipae.sig.verdict -e mssipae.sig.why 2>/dev/null
}

# the [MS-SIPAE] 4.2 example: its signature is a placeholder, so the verdict is "malformed"
show demo/seed-kerberos-example.pcap "no keys"
for f in demo/*.conf; do
  [ -e "$f" ] || continue
  # each demo/<name>.conf holds the tshark options (keys) for demo/<name>.pcap
  name=${f%.conf}
  mapfile -t opts < <(grep -v '^#' "$f" | sed '/^$/d' | sed "s|@DEMO@|$PWD/demo|g")
  show "$name.pcap" "keys from $f" "${opts[@]}"
done
