#!/usr/bin/env bash
# Relay benchmark: smsc-sim --load -> dialogd -> PostgreSQL, all durable.
# Prints smsc-sim's report (messages/s, deliver_sm -> deliver_sm_resp latency
# percentiles) for each run. Not a test: it asserts nothing.
#
#   bench/relay.sh [RATE [DURATION_S [SESSIONS [PAIRS]]]]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
rate=${1:-10000}; dur=${2:-20}; sessions=${3:-1}; pairs=${4:-10000}
build=${BUILD:-build}
var="$root/$build/bench-var"
scripts/pg.sh start "$var" >/dev/null
conn=$(scripts/pg.sh conninfo "$var")
db=bench
psql "$conn" -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
export DIALOG_DB="${conn/dbname=dialog/dbname=$db}"
"$build/billing/dialogctl" db init >/dev/null
if [[ "$pairs" -gt 0 ]]; then
  psql "$DIALOG_DB" -qX -v pairs="$pairs" -f bench/provision.sql >/dev/null
fi
run="$root/$build/bench-out"
mkdir -p "$run"
rm -f "$run/sim.port"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

if [[ -n "${MEMORY_ONLY:-}" ]]; then
  # dialogd's resident size once it has preloaded every open dialog (no
  # SMSC needed: it keeps trying to connect).
  printf '[smpp]\nport = 9\npassword = secret\n[log]\nlevel = info\n' >"$run/mem.ini"
  chmod 600 "$run/mem.ini"
  "$build/engine/dialogd" --config "$run/mem.ini" 2>"$run/mem.log" &
  dpid=$!; pids+=("$dpid")
  for _ in $(seq 1200); do grep -q 'event=preloaded' "$run/mem.log" && break; sleep 0.1; done
  sleep 1
  grep 'event=preloaded' "$run/mem.log" || true
  echo "rss_kb=$(awk '/VmRSS/{print $2}' /proc/$dpid/status)"
  exit 0
fi
"$build/smpp_gw/smsc-sim" --listen 127.0.0.1:0 --port-file "$run/sim.port" --system-id dialog \
  --password secret --load --rate "$rate" --duration "$dur" --warmup ${WARMUP:-5} --pairs "$pairs" \
  --p2p-ratio 1.0 --window 5000 --bind-wait 30 >"$run/load.out" 2>"$run/sim.err" &
sim=$!; pids+=("$sim")
for _ in $(seq 100); do [[ -s "$run/sim.port" ]] && break; sleep 0.1; done
cat >"$run/dialog.ini" <<INI
[smpp]
port = $(cat "$run/sim.port")
password = secret
sessions = $sessions
window = 1000
[service]
daily_allowance = 1000000
[db]
record_connections = ${RECORD_CONNECTIONS:-2}
[log]
level = info
INI
"$build/engine/dialogd" --config "$run/dialog.ini" 2>"$run/dialogd.log" &
pids+=("$!")
wait "$sim" || true
echo "# relay: rate_target=$rate duration_s=$dur sessions=$sessions pairs=$pairs"
cat "$run/load.out"
echo "usage_rows=$(psql "$DIALOG_DB" -qAtc 'SELECT count(*) FROM sms_usage')"
