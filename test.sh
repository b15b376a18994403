#!/usr/bin/env bash
# Runs the whole mssipae test suite: installs the Debian packages it needs, builds the plugin and
# the core twice (plain, and with AddressSanitizer + UndefinedBehaviorSanitizer), runs the unit
# tests under the sanitizers and every test (unit + tshark integration) against the plain build.
#
# Then every libFuzzer target for MSSIPAE_FUZZ_SECONDS (default 10) each, two at a time
# (tests/fuzz/run_all.sh; clang build in build-fuzz/), and the forgery sweep
# (scripts/forgery_sweep.py). A skipped test counts as a failure (MSSIPAE_NO_SKIP=1): in CI every
# dependency is installable, so a skip means something is missing.
#
#   ./test.sh            everything
#   ./test.sh -R sigbuf  only tests whose name matches (passed to ctest); no fuzzing / sweep
set -euo pipefail
cd "$(dirname "$0")"
. scripts/deps.sh
mssipae_install_deps

jobs=$(nproc 2>/dev/null || echo 2)
echo "== build (plain): build/"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs" >/dev/null
echo "== build (ASan + UBSan, unit tests only): build-asan/"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMSSIPAE_SANITIZE=ON -DMSSIPAE_PLUGIN=OFF >/dev/null
cmake --build build-asan -j"$jobs" >/dev/null

export MSSIPAE_NO_SKIP=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
passed=0
failed=0
run_ctest() {
  local dir=$1; shift
  local log
  log=$(mktemp)
  set +e
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" "$@" 2>&1 | tee "$log"
  set -e
  local p f
  p=$(grep -Eo '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  if [ -n "$p" ]; then
    f=$(echo "$p" | awk '{print $4}')
    local total
    total=$(echo "$p" | awk '{print $NF}')
    passed=$((passed + total - f))
    failed=$((failed + f))
  elif grep -q "No tests were found" "$log"; then
    :
  else
    failed=$((failed + 1))
  fi
  rm -f "$log"
}
echo "== unit tests under ASan + UBSan"
run_ctest build-asan -L unit "$@"
echo "== all tests (unit + tshark integration) on the plain build"
run_ctest build "$@"
if [ $# -eq 0 ]; then
  echo "== fuzzing: every target ${MSSIPAE_FUZZ_SECONDS:-10} s (tests/fuzz/run_all.sh, build-fuzz/)"
  if MSSIPAE_FUZZ_BUILD=build-fuzz ASAN_OPTIONS=detect_leaks=1 \
     tests/fuzz/run_all.sh "${MSSIPAE_FUZZ_SECONDS:-10}" "$jobs"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
  if [ -f scripts/forgery_sweep.py ]; then
    echo "== forgery sweep (scripts/forgery_sweep.py)"
    if MSSIPAE_BUILD_DIR=build python3 scripts/forgery_sweep.py --quick; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
    fi
  fi
fi
echo
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
