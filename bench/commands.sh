#!/usr/bin/env bash
# Command-path benchmark: invitations + accepts through dialogd, all durable.
# A fresh database "bench_cmd" with PAIRS pairs of postpaid subscribers who
# are NOT in a dialog (7916xxxxxxx, pair i = 2i / 2i+1, as smsc-sim numbers
# them); dialogd against smsc-sim --load --rate 0 --invite-pairs-file F
# --invite-rate RATE: A invites B (R4), B answers "1 A" (R6), the dialog is
# completed when the activation MT arrives. Prints smsc-sim's report
# (invites_per_s, dialogs_per_s, cmd_latency_p50_ms/p99_ms, ...) and the
# database's count of active dialogs, which must equal dialogs_completed.
# Not a test: it asserts nothing.
#
#   bench/commands.sh [RATE [DURATION_S [PAIRS [SESSIONS]]]]   (BUILD=build-dir)
#
# PAIRS defaults to RATE x DURATION (each pair invites once, so the pairs do
# not run out before the duration does). Each subscriber invites at most
# once, so max_invites_per_day (D9, default 10) and max_pending_invites
# (default 5) never refuse; dialogd runs with its default [service] limits.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
rate=${1:-1000}; dur=${2:-15}; pairs=${3:-0}; sessions=${4:-1}
[[ "$pairs" -gt 0 ]] || pairs=$((rate * dur))
build=${BUILD:-build}
var="$root/$build/bench-var"
scripts/pg.sh start "$var" >/dev/null
conn=$(scripts/pg.sh conninfo "$var")
db=bench_cmd
psql "$conn" -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
export DIALOG_DB="${conn/dbname=dialog/dbname=$db}"
unset DIALOG_CONFIG DIALOG_NOW
"$build/billing/dialogctl" db init >/dev/null
psql "$DIALOG_DB" -qX -v ON_ERROR_STOP=1 -v pairs="$pairs" -f bench/provision_subscribers.sql >/dev/null
psql "$DIALOG_DB" -qX -v ON_ERROR_STOP=1 -c "VACUUM ANALYZE" >/dev/null
run="$root/$build/bench-out"
mkdir -p "$run"
pf="$run/invite-pairs.txt"
awk -v n="$pairs" 'BEGIN { for (i = 0; i < n; i++) printf "7916%07d 7916%07d\n", 2 * i, 2 * i + 1 }' >"$pf"
rm -f "$run/cmd-sim.port"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# --drain: invitations still in progress at the end get time to complete.
timer=(); [[ -x /usr/bin/time ]] && timer=(/usr/bin/time -o "$run/cmd-sim.time" -f '%U %S')
rm -f "$run/cmd-sim.time"
"${timer[@]}" "$build/smpp_gw/smsc-sim" --listen 127.0.0.1:0 --port-file "$run/cmd-sim.port" --system-id dialog \
  --password secret --load --rate 0 --invite-pairs-file "$pf" --invite-rate "$rate" \
  --duration "$dur" --warmup 0 --drain "${DRAIN:-20}" --window "${WINDOW:-5000}" --bind-wait 30 \
  >"$run/cmd-load.out" 2>"$run/cmd-sim.err" &
sim=$!; pids+=("$sim")
for _ in $(seq 100); do [[ -s "$run/cmd-sim.port" ]] && break; sleep 0.1; done
cat >"$run/cmd-dialog.ini" <<INI
[smpp]
port = $(cat "$run/cmd-sim.port")
password = secret
sessions = $sessions
window = 1000
[log]
level = notice
INI
chmod 600 "$run/cmd-dialog.ini"
"$build/engine/dialogd" --config "$run/cmd-dialog.ini" 2>"$run/cmd-dialogd.log" &
dpid=$!; pids+=("$dpid")
# CPU seconds (user+system) of a process, and of every child of the cluster's
# postmaster (the backends): where the time went.
tck=$(getconf CLK_TCK)
cpu_of() { awk -v t="$tck" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_cpu() {
  local pm; pm=$(head -n 1 "$var/pg/data/postmaster.pid")
  # cat, not awk FILES: a process may exit between the glob and the read
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v pm="$pm" -v t="$tck" '{ line = $0; sub(/.*\) /, "", line);
      split(line, f, " "); if (f[2] == pm) s += f[12] + f[13] } END { printf "%.2f", s / t }'
}
pg0=$(pg_cpu)
t0=$(date +%s.%N)
# what dialogd's backend is doing, sampled 5 times a second: "cpu" (active,
# no wait event), a wait event (WALSync, ClientRead = waiting for dialogd, ...)
( while kill -0 "$sim" 2>/dev/null; do
    psql "$DIALOG_DB" -qAtXc "SELECT coalesce(CASE WHEN state = 'active' AND wait_event IS NULL THEN 'cpu' END,
        wait_event, state) FROM pg_stat_activity WHERE backend_type = 'client backend'
        AND pid <> pg_backend_pid() AND datname = current_database()" 2>/dev/null
    sleep 0.2
  done ) >"$run/cmd-waits.txt" &
sampler=$!
wait "$sim" || true
wait "$sampler" 2>/dev/null || true
t1=$(date +%s.%N)
pg1=$(pg_cpu)
echo "# commands: invite_rate_target=$rate duration_s=$dur pairs=$pairs sessions=$sessions"
cat "$run/cmd-load.out"
active=$(psql "$DIALOG_DB" -qAtc "SELECT count(*) FROM dialog WHERE state = 'active'")
pending=$(psql "$DIALOG_DB" -qAtc "SELECT count(*) FROM dialog WHERE state = 'pending'")
done_=$(grep -E '^dialogs_completed=' "$run/cmd-load.out" | cut -d= -f2)
echo "db_active_dialogs=$active"
echo "db_pending_dialogs=$pending"
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "wall_s=%.1f\n", b - a }'
echo "cpu_s_dialogd=$(cpu_of "$dpid")"
echo "cpu_s_smsc_sim=$(awk 'END { printf "%.2f", $1 + $2 }' "$run/cmd-sim.time" 2>/dev/null || echo n/a)"
awk -v a="$pg0" -v b="$pg1" 'BEGIN { printf "cpu_s_postgres=%.2f\n", b - a }'
echo "backend_samples=$(sort "$run/cmd-waits.txt" | uniq -c | sort -rn | awk '{ print $2 ":" $1 }' | paste -sd, -)"
if [[ "$active" == "${done_:-x}" ]]; then echo "db_check=ok"; else echo "db_check=MISMATCH"; fi
