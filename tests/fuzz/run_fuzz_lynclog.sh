#!/usr/bin/env bash
# Builds the libFuzzer target fuzz_lynclog (clang, ASan + UBSan) in build-fuzz/ (or $BUILD)
# and runs it for a bounded time (default 300 s) on a seed corpus of the real excerpts and of logs
# rendered by tests/gen/lynclogwriter.py. Prints libFuzzer's final stats; exit status non-zero on
# any finding (crash files are left in the build folder).
#
#   tests/fuzz/run_fuzz_lynclog.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-300}
build=${BUILD:-build-fuzz}
src=$PWD
CC=clang cmake -S . -B "$build" -DMSSIPAE_FUZZ=ON -DMSSIPAE_PLUGIN=OFF -DMSSIPAE_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target fuzz_lynclog >/dev/null
corpus="$build/corpus_lynclog"
mkdir -p "$corpus"
cp tests/vectors/lync-logs/* "$corpus/"
python3 tests/fuzz/make_corpus_lynclog.py "$corpus"
cd "$build"
set +e
./fuzz_lynclog -max_total_time="$secs" -max_len=65536 -print_final_stats=1 \
  -dict="$src/tests/fuzz/lynclog.dict" corpus_lynclog > fuzz_lynclog.log 2>&1
rc=$?
set -e
grep -E '^#[0-9]+' fuzz_lynclog.log | tail -n 1     # last status line: cov, ft, corp, exec/s
grep -E '^(stat::|Done |==[0-9]+==ERROR|SUMMARY)' fuzz_lynclog.log
echo "fuzz_lynclog exit status $rc (full log: $build/fuzz_lynclog.log)"
exit $rc
