#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz/fuzz_targets.c for a bounded time each, on seed
# corpora made from the test vectors and demo captures (tests/fuzz/make_corpus.py), and prints
# per target: executions, execs/s, coverage (libFuzzer's "cov" edges and "ft" features) and
# findings. Exit status 1 if any target found a crash, leak, timeout or failed oracle.
#
#   tests/fuzz/run_all.sh SECONDS [JOBS]      e.g. 15 in CI, 300 locally; JOBS targets at a time
#
# Environment: MSSIPAE_FUZZ_BUILD (default build-fuzz; configured here with CC=clang
# -DMSSIPAE_FUZZ=ON if missing), MSSIPAE_FUZZ_OUT (default <build>/fuzz-out: corpora, logs,
# crash files), MSSIPAE_FUZZ_TARGETS (default: all).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-15}
jobs=${2:-2}
build=${MSSIPAE_FUZZ_BUILD:-build-fuzz}
targets=${MSSIPAE_FUZZ_TARGETS:-"sip authp sigbuf codec ntlm kerberos tlsdsk keylog keytab uat core"}
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMSSIPAE_FUZZ=ON \
    -DMSSIPAE_PLUGIN=OFF -DMSSIPAE_TESTS=OFF >/dev/null
fi
tgts=()
for t in $targets; do tgts+=("fuzz_$t"); done
cmake --build "$build" -j"$jobs" --target "${tgts[@]}" >/dev/null
out=${MSSIPAE_FUZZ_OUT:-$build/fuzz-out}
out=$(realpath -m "$out")
mkdir -p "$out"
python3 tests/fuzz/make_corpus.py "$out/seeds"
export MSSIPAE_FUZZ_VECTORS=$PWD/tests/vectors MSSIPAE_FUZZ_DEMO=$PWD/demo
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
  local t=$1 corpus="$out/corpus/$1"
  mkdir -p "$corpus" "$out/crashes/$t"
  cp -n "$out/seeds/$t"/* "$corpus"/ 2>/dev/null || true
  local dict=()
  [ "$t" = core ] || [ "$t" = sip ] || [ "$t" = authp ] && [ -f tests/fuzz/sip.dict ] && dict=(-dict="$PWD/tests/fuzz/sip.dict")
  set +e
  (cd "$out/crashes/$t" && "$OLDPWD/$build/fuzz_$t" "${dict[@]}" -max_total_time="$secs" -timeout=10 \
     -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 "$corpus" >"$out/$t.log" 2>&1)
  echo $? >"$out/$t.rc"
  set -e
}

for t in $targets; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 0.2; done
  run_one "$t" &
done
wait

fail=0
printf '%-9s %10s %9s %7s %7s %s\n' target execs execs/s cov ft findings
for t in $targets; do
  log=$out/$t.log
  rc=$(cat "$out/$t.rc")
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
  eps=$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  ft=$(grep -Eo 'ft: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  nf=$(find "$out/crashes/$t" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  f=$nf
  if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then f="exit $rc"; fi
  printf '%-9s %10s %9s %7s %7s %s\n' "$t" "$execs" "$eps" "$cov" "$ft" "$f"
  if [ "$rc" -ne 0 ] || [ "$nf" -ne 0 ]; then
    fail=1
    grep -E 'ERROR|oracle failed|SUMMARY' "$log" | head -5 | sed 's/^/    /' || true
  fi
done
exit $fail
