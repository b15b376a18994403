#!/usr/bin/env bash
# Builds the mssipae Debian package (CPack) and checks it the way a user installs it: in a clean
# Debian 12 chroot (debootstrap --variant=minbase bookworm), `apt-get install ./mssipae_*.deb`,
# then `tshark -G plugins` must list the plugin from Wireshark's system plugin folder and tshark
# must verify a demo capture (valid signatures) without any other step.
#
#   scripts/check_deb.sh            (as root: debootstrap, chroot, mount)
#
# Environment: BUILD_DIR (default build-deb), MSSIPAE_CHROOT_CACHE (a tarball of the fresh
# minbase chroot, reused between runs; default /var/cache/mssipae/bookworm-minbase.tar; the
# package and its dependencies are always installed into a fresh copy), MIRROR (default: the
# first Debian URI of apt's configured sources, else http://deb.debian.org/debian).
# Slow (a few minutes, downloads ~150 MB): not part of ./test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
[ "$(id -u)" -eq 0 ] || { echo "check_deb.sh: run as root (debootstrap, chroot)" >&2; exit 2; }

. scripts/deps.sh
mssipae_install_list "${MSSIPAE_DEBS[@]}" debootstrap dpkg-dev fakeroot

build=${BUILD_DIR:-build-deb}
echo "== build the package in $build/"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMSSIPAE_TESTS=OFF >/dev/null
cmake --build "$build" --target mssipae -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
rm -f "$build"/mssipae_*.deb
(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls "$build"/mssipae_*.deb)
echo "   $deb"
dpkg-deb -f "$deb" Package Version Depends Recommends | sed 's/^/   /'

mirror=${MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
             /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v security |
           grep -oE 'https?://[^ ]+/debian/?' | head -1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi

cache=${MSSIPAE_CHROOT_CACHE:-/var/cache/mssipae/bookworm-minbase.tar}
root=$(mktemp -d /tmp/mssipae-deb-chroot.XXXXXX)
cleanup() {
  for m in "$root/proc" "$root/dev/pts" "$root/dev"; do
    mountpoint -q "$m" && umount -l "$m"
  done
  rm -rf "$root"
}
trap cleanup EXIT
if [ -f "$cache" ]; then
  echo "== clean Debian 12 chroot from $cache"
  tar -xf "$cache" -C "$root"
else
  echo "== debootstrap --variant=minbase bookworm ($mirror)"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
    { tail -20 "$root.debootstrap.log" >&2; exit 1; }
  rm -f "$root.debootstrap.log"
  mkdir -p "$(dirname "$cache")"
  tar -cf "$cache" -C "$root" .
fi
chmod 755 "$root"   # apt's _apt user must reach its lists (mktemp made it 0700)
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
cp "$deb" "$root/tmp/"
mkdir -p "$root/tmp/demo"
cp demo/ntlm-oc2007r2.pcap "$root/tmp/demo/"

echo "== apt-get install ./$(basename "$deb") (in the chroot)"
chroot "$root" apt-get update -qq
echo "wireshark-common wireshark-common/install-setuid boolean false" | chroot "$root" debconf-set-selections
chroot "$root" sh -c "cd /tmp && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ./$(basename "$deb")" \
  >"$root/tmp/apt.log" 2>&1 || { tail -30 "$root/tmp/apt.log" >&2; exit 1; }

echo "== tshark -G plugins"
line=$(chroot "$root" tshark -G plugins 2>/dev/null | grep -E '^mssipae\.so' || true)
echo "   $line"
case "$line" in
  *"/usr/lib/x86_64-linux-gnu/wireshark/plugins/4.0/epan/mssipae.so"*) ;;
  *) echo "check_deb.sh: FAILED: tshark does not list the plugin from the system folder" >&2; exit 1 ;;
esac
echo "== a demo capture"
out=$(chroot "$root" tshark -r /tmp/demo/ntlm-oc2007r2.pcap -o 'mssipae.nt_password:Pa$$word' \
        -Y mssipae.sig.status -T fields -e frame.number -e mssipae.sig.verdict 2>/dev/null)
echo "$out" | sed 's/^/   /'
[ "$out" = "$(printf '2\tvalid\n3\tvalid')" ] ||
  { echo "check_deb.sh: FAILED: unexpected verdicts" >&2; exit 1; }
echo "check_deb.sh: OK ($(basename "$deb") installs on a clean Debian 12 and tshark loads it)"
