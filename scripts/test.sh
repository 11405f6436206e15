#!/usr/bin/env bash
# make test: install what is missing, build (normal and ASan+UBSan), start a
# throwaway PostgreSQL cluster under the build tree, run every test in both
# builds, stop the cluster (also on failure).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/bootstrap.sh
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDIALOG_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"

export DIALOG_VAR="$root/build/test-var"
scripts/pg.sh stop "$DIALOG_VAR" 2>/dev/null || true
rm -rf "$DIALOG_VAR"
trap 'scripts/pg.sh stop "$DIALOG_VAR"' EXIT
scripts/pg.sh start "$DIALOG_VAR"
unset DIALOG_DB DIALOG_CONFIG DIALOG_NOW PGHOST PGHOSTADDR PGDATABASE PGSERVICE

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "== tests (ASan + UBSan build)"
(cd build-asan && ctest --output-on-failure -j"$jobs")
echo "== tests (release build)"
(cd build && ctest --output-on-failure -j"$jobs")
