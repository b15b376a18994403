#!/usr/bin/env bash
# Remakes docs/gui-invalid.png, the README's screenshot: runs the GUI test (Wireshark under Xvfb
# with the plugin of BUILD_DIR, default build/) and keeps its final screenshot.
#   scripts/gui_screenshot.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
cd tests/integration
MSSIPAE_SCREENSHOT="$OLDPWD/docs/gui-invalid.png" MSSIPAE_BUILD_DIR="$build" \
  MSSIPAE_SOURCE_DIR="$OLDPWD" python3 -m unittest -v test_gui
