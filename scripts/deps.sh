#!/usr/bin/env bash
# Installs the Debian 12 packages mssipae needs to build, run and test (idempotent).
# Run as root, or as a user with sudo. Sourced by demo.sh and test.sh.
set -euo pipefail

MSSIPAE_DEBS=(
  build-essential cmake pkg-config
  tshark libwireshark-dev libwiretap-dev libwsutil-dev
  libglib2.0-dev libkrb5-dev libgnutls28-dev nettle-dev zlib1g-dev
  libcmocka-dev
  krb5-kdc krb5-admin-server krb5-user
  gss-ntlmssp gss-ntlmssp-dev
  python3 openssl util-linux time
  clang binutils valgrind python3-cryptography
  wireshark-qt xvfb xdotool imagemagick
)
# wireshark-qt .. imagemagick: the GUI test (tests/integration/test_gui.py, Wireshark under Xvfb).
# Every test's dependency is installed here: in CI a skipped test is a failed test.

mssipae_install_deps() {
  mssipae_install_list "${MSSIPAE_DEBS[@]}"
}

mssipae_install_list() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "mssipae: installing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then
      sudo=(sudo)
    else
      echo "mssipae: not root and no sudo; run as root: apt-get install ${missing[*]}" >&2
      return 1
    fi
  fi
  # tshark asks whether non-root users may capture: answer for it (no), quietly.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | "${sudo[@]}" debconf-set-selections 2>/dev/null || true
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  mssipae_install_deps
fi
