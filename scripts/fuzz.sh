#!/usr/bin/env bash
# make fuzz: build the libFuzzer targets with clang and run each for
# FUZZ_SECONDS (default 60) over a copy of its seed corpus.
#   make fuzz FUZZ_SECONDS=600          # ten minutes each
#   make fuzz FUZZ_TARGET=fuzz_pdu
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
secs=${FUZZ_SECONDS:-60}
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DDIALOG_FUZZ=ON >/dev/null
targets=${FUZZ_TARGET:-$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')}
for t in $targets; do
  cmake --build build-fuzz -j2 --target "$t"
  work=build-fuzz/corpus/$t
  mkdir -p "$work"
  cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  echo "== $t for ${secs}s"
  "build-fuzz/tests/$t" -max_total_time="$secs" -max_len=9000 -print_final_stats=1 "$work"
done
