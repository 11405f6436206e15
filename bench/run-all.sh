#!/usr/bin/env bash
# make bench: every benchmark, figures written to docs/performance.md.
# Benchmarks print figures; they assert nothing. Run on a quiet machine.
#
#   bench/run-all.sh            # all (about 10 minutes)
#   QUICK=1 bench/run-all.sh    # shorter runs
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD:-build}
export BUILD=$build
dur=${DURATION:-15}
[[ -n "${QUICK:-}" ]] && dur=6
scripts/bootstrap.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
var="$root/$build/bench-var"
scripts/pg.sh start "$var" >/dev/null
trap 'scripts/pg.sh stop "$var"' EXIT
conn=$(scripts/pg.sh conninfo "$var")
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
out="$build/bench-out"
mkdir -p "$out"
res="$out/results.md"
: >"$res"
kv() { grep -E "^$2=" "$1" | head -n 1 | cut -d= -f2; }

echo "== ceiling: PostgreSQL durable batched insert (usage-shaped rows)"
psql "$conn" -qAtc "DROP DATABASE IF EXISTS ceiling WITH (FORCE)" -c "CREATE DATABASE ceiling" >/dev/null
cdb="${conn/dbname=dialog/dbname=ceiling}"
psql "$cdb" -qX >/dev/null <<'SQL'
CREATE TABLE u (id bigserial, relay_key text PRIMARY KEY, at timestamptz, src text, dst text,
  src_sub_id bigint, dialog_id bigint, pair_day date, segments int, free_segments int,
  charged_segments int, price bigint, amount bigint, rule text, bill_date date, message_id text);
CREATE INDEX ON u (src, at); CREATE INDEX ON u (message_id);
CREATE SEQUENCE k;
SQL
cat >"$out/ceiling.sql" <<'SQL'
INSERT INTO u (relay_key, at, src, dst, src_sub_id, dialog_id, pair_day, segments, free_segments,
  charged_segments, price, amount, rule, bill_date, message_id)
SELECT 'k' || nextval('k'), now(), '79160000001', '79160000002', 1, 1, current_date, 1, 1, 0, 150,
  0, 'R9', current_date, g::text FROM generate_series(1, 200) g;
SQL
"$bindir/pgbench" -n -c 2 -j 2 -T "$dur" -f "$out/ceiling.sql" "$cdb" >"$out/pgbench.out" 2>&1
tps=$(grep -E '^tps' "$out/pgbench.out" | head -n 1 | awk '{print $3}')
pg_rows=$(awk -v t="$tps" 'BEGIN{printf "%d", t*200}')
echo "pg_ceiling_rows_s=$pg_rows"

echo "== ceiling: smsc-sim round trips against a trivial echo ESME"
rm -f "$out/sim.port"
"$build/smpp_gw/smsc-sim" --listen 127.0.0.1:0 --port-file "$out/sim.port" --system-id dialog \
  --password secret --load --rate 200000 --duration "$dur" --warmup 3 --pairs 1000 \
  --p2p-ratio 0 --window 5000 --bind-wait 30 >"$out/echo.out" 2>/dev/null &
sim=$!
for _ in $(seq 100); do [[ -s "$out/sim.port" ]] && break; sleep 0.1; done
"$build/bench/echo-esme" --port "$(cat "$out/sim.port")" &
echo_pid=$!
wait "$sim" || true
kill -TERM "$echo_pid" 2>/dev/null; wait "$echo_pid" 2>/dev/null || true
sim_rate=$(kv "$out/echo.out" rate)
echo "sim_ceiling_rate=$sim_rate"

echo "== relay end to end"
rows=""
for sessions in 1 4; do
  for rate in 1000 10000 80000; do
    BENCH_QUIET=1 bench/relay.sh "$rate" "$dur" "$sessions" 10000 >"$out/relay-$sessions-$rate.out" 2>&1 || true
    f="$out/relay-$sessions-$rate.out"
    label=$rate; [[ $rate == 80000 ]] && label="saturation (asked 80000)"
    row="| $sessions | $label | $(kv "$f" rate) | $(kv "$f" latency_p50_ms) | $(kv "$f" latency_p99_ms) | $(kv "$f" latency_p99_9_ms) | $(kv "$f" acked) | $(kv "$f" temp_errors) |"
    echo "$row"
    rows+="$row"$'\n'
  done
done

echo "== memory: dialogd resident size with many active dialogs"
mem_pairs=${MEM_PAIRS:-1000000}
MEMORY_ONLY=1 bench/relay.sh 1 1 1 1 >"$out/mem0.out" 2>&1 || true
MEMORY_ONLY=1 bench/relay.sh 1 1 1 "$mem_pairs" >"$out/mem.out" 2>&1 || true
rss_kb=$(kv "$out/mem.out" rss_kb)
base_kb=$(kv "$out/mem0.out" rss_kb)
per=$(awk -v r="$rss_kb" -v b="$base_kb" -v n="$mem_pairs" 'BEGIN{ if (n>0 && r>0) printf "%d", (r-b)*1024/n; else print "n/a"}')
echo "rss_kb=$rss_kb base_rss_kb=$base_kb bytes_per_dialog=$per"

{
  echo "| what | figure |"
  echo "|---|---|"
  echo "| PostgreSQL durable batched insert, usage-shaped rows (pgbench, 2 clients, 200 rows/txn) | $pg_rows rows/s |"
  echo "| smsc-sim round trips against echo-esme (no database) | $sim_rate msg/s |"
  echo
  echo "| sessions | rate asked (msg/s) | achieved | p50 ms | p99 ms | p99.9 ms | acked | temp errors |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s' "$rows"
  echo
  echo "| memory | figure |"
  echo "|---|---|"
  echo "| dialogd resident set, $mem_pairs active dialogs preloaded | $rss_kb KiB (baseline $base_kb KiB) |"
  echo "| per active dialog | $per bytes |"
} >>"$res"
echo "results in $res"
