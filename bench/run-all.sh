#!/usr/bin/env bash
# make bench: every benchmark, then the report. Benchmarks print figures;
# they assert nothing. Run on a quiet machine (the load average at the start
# and the end is written into the report).
#
#   bench/run-all.sh                 # everything, full populations (~10 minutes on 2 cores)
#   QUICK=1 bench/run-all.sh         # shorter runs, smaller populations (~3 minutes)
#   BUILD=build-x bench/run-all.sh   # build directory (default build)
#   ONLY="commands bill" bench/run-all.sh   # some steps only; the figures of the
#                                    # other steps are kept from the last run
#
# Steps: ceilings relay commands bill support memory. Each step's raw output
# is in <build>/bench-out/<step>*.out, its figures are appended to
# <build>/bench-out/figures.env (key=value, the last value of a key wins),
# and bench/render.sh fills bench/performance.md.in with them into
# <build>/bench-out/performance.md (copy it over docs/performance.md after a
# full run on the reference machine).
#
# Populations and durations (environment overrides in brackets):
#   full:  DURATION 15 s; relay 10,000 pairs; commands 100/s [CMD_RATE] for 15 s and
#          saturation over 20,000 pairs [CMD_SAT_PAIRS] for 20 s; billing
#          1,000,000 pairs [BILL_PAIRS]; support 1,000,000 subscribers /
#          10,000,000 ledger entries, 200 look-ups [SUPPORT_SUBS SUPPORT_ENTRIES
#          SUPPORT_N]; memory 1,000,000 dialogs [MEM_PAIRS]
#   QUICK: 6 s; commands 6 s / 4,000 pairs for 8 s; billing 100,000 pairs;
#          support 100,000 / 1,000,000 / 100; memory 100,000 dialogs
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD:-build}
export BUILD=$build
quick=${QUICK:-}
[[ "$quick" == 0 ]] && quick=""
if [[ -n "$quick" ]]; then
  dur=${DURATION:-6}
  cmd_dur=${CMD_DURATION:-6}; cmd_sat_pairs=${CMD_SAT_PAIRS:-4000}; cmd_sat_dur=${CMD_SAT_DURATION:-8}
  bill_pairs=${BILL_PAIRS:-100000}
  sup_subs=${SUPPORT_SUBS:-100000}; sup_entries=${SUPPORT_ENTRIES:-1000000}; sup_n=${SUPPORT_N:-100}
  mem_pairs=${MEM_PAIRS:-100000}
else
  dur=${DURATION:-15}
  cmd_dur=${CMD_DURATION:-15}; cmd_sat_pairs=${CMD_SAT_PAIRS:-20000}; cmd_sat_dur=${CMD_SAT_DURATION:-20}
  bill_pairs=${BILL_PAIRS:-1000000}
  sup_subs=${SUPPORT_SUBS:-1000000}; sup_entries=${SUPPORT_ENTRIES:-10000000}; sup_n=${SUPPORT_N:-200}
  mem_pairs=${MEM_PAIRS:-1000000}
fi
relay_pairs=${RELAY_PAIRS:-10000}
cmd_rate=${CMD_RATE:-100}
cmd_sat_rate=${CMD_SAT_RATE:-20000}
steps=${ONLY:-ceilings relay commands bill support memory}
want() { [[ " $steps " == *" $1 "* ]]; }

scripts/bootstrap.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target dialogd dialogctl smsc-sim echo-esme >/dev/null
var="$root/$build/bench-var"
scripts/pg.sh start "$var" >/dev/null
trap 'scripts/pg.sh stop "$var" >/dev/null 2>&1 || true' EXIT
conn=$(scripts/pg.sh conninfo "$var")
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
out="$build/bench-out"
mkdir -p "$out"
env_file="$out/figures.env"
[[ -z "${ONLY:-}" ]] && : >"$env_file"
touch "$env_file"

fig() { printf '%s=%s\n' "$1" "$2" >>"$env_file"; }
kv() { grep -E "^$2=" "$1" 2>/dev/null | head -n 1 | cut -d= -f2- || true; }
t_all=$SECONDS
step_t=0
begin() { step_t=$SECONDS; echo "== $(date -u +%H:%M:%S) $*"; }
finish() { fig "time_$1_s" $((SECONDS - step_t)); echo "   ($((SECONDS - step_t)) s)"; }
# run a benchmark command, its output to FILE; a failure is reported, not fatal
bench_run() {
  local file=$1; shift
  if ! "$@" >"$file" 2>&1; then
    echo "   FAILED: $* (see $file)" >&2
    tail -n 5 "$file" >&2 || true
    return 1
  fi
}

# ---- the machine ----------------------------------------------------------
fig mode "$([[ -n "$quick" ]] && echo QUICK || echo full)"
fig date "$(date -u '+%Y-%m-%d %H:%M UTC')"
fig cores "$(nproc)"
fig cpu_model "$(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)"
fig mem_gib "$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)"
fig os "$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}" || echo unknown)"
fig kernel "$(uname -r)"
fig pg_version "$(psql "$conn" -qAtXc 'SHOW server_version')"
fig pg_fsync "$(psql "$conn" -qAtXc 'SHOW fsync')"
fig pg_sync_commit "$(psql "$conn" -qAtXc 'SHOW synchronous_commit')"
fig commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git status --porcelain 2>/dev/null | grep -q . && echo ' (with uncommitted changes)' || true)"
fig load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
fig build "$build"

# ---- ceilings measured in the same run ------------------------------------
if want ceilings; then
  begin "ceiling: PostgreSQL durable batched insert (usage-shaped rows)"
  psql "$conn" -qAtc "DROP DATABASE IF EXISTS ceiling WITH (FORCE)" -c "CREATE DATABASE ceiling" >/dev/null 2>&1
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
  "$bindir/pgbench" -n -c 2 -j 2 -T "$dur" -f "$out/ceiling.sql" "$cdb" >"$out/ceiling-pgbench.out" 2>&1 || true
  tps=$(grep -E '^tps' "$out/ceiling-pgbench.out" | head -n 1 | awk '{print $3}')
  pg_rows=$(awk -v t="${tps:-0}" 'BEGIN{printf "%d", t*200}')
  echo "   pg_ceiling_rows_s=$pg_rows"
  fig pg_ceiling_rows_s "$pg_rows"
  fig cmd_pg_ceiling "pgbench -n -c 2 -j 2 -T $dur -f $out/ceiling.sql (200 rows per transaction)"
  psql "$conn" -qAtc "DROP DATABASE IF EXISTS ceiling WITH (FORCE)" >/dev/null 2>&1 || true
  finish pg_ceiling

  begin "ceiling: smsc-sim round trips against a trivial echo ESME"
  rm -f "$out/sim.port"
  sim_cmd=("$build/smpp_gw/smsc-sim" --listen 127.0.0.1:0 --port-file "$out/sim.port" --system-id dialog
    --password secret --load --rate 200000 --duration "$dur" --warmup 3 --pairs 1000
    --p2p-ratio 0 --window 5000 --bind-wait 30)
  "${sim_cmd[@]}" >"$out/ceiling-echo.out" 2>/dev/null &
  sim=$!
  for _ in $(seq 100); do [[ -s "$out/sim.port" ]] && break; sleep 0.1; done
  "$build/bench/echo-esme" --port "$(cat "$out/sim.port")" 2>"$out/ceiling-echo-esme.log" &
  echo_pid=$!
  wait "$sim" || true
  kill -TERM "$echo_pid" 2>/dev/null || true; wait "$echo_pid" 2>/dev/null || true
  sim_rate=$(kv "$out/ceiling-echo.out" rate)
  echo "   sim_ceiling_rate=$sim_rate"
  fig sim_ceiling_rate "$sim_rate"
  fig cmd_sim_ceiling "smsc-sim --load --rate 200000 --duration $dur --warmup 3 --pairs 1000 --p2p-ratio 0 --window 5000 + bench/echo-esme --port PORT"
  finish sim_ceiling
fi

# ---- relay end to end -----------------------------------------------------
if want relay; then
  begin "relay end to end"
  for sessions in 1 4; do
    for rate in 1000 10000 80000; do
      f="$out/relay-$sessions-$rate.out"
      key="relay_${sessions}_${rate}"
      bench_run "$f" env BENCH_QUIET=1 bench/relay.sh "$rate" "$dur" "$sessions" "$relay_pairs" || true
      fig "cmd_$key" "BUILD=$build bench/relay.sh $rate $dur $sessions $relay_pairs"
      for k in rate latency_p50_ms latency_p99_ms latency_p99_9_ms acked temp_errors unanswered; do
        fig "${key}_$k" "$(kv "$f" "$k")"
      done
      echo "   sessions=$sessions asked=$rate rate=$(kv "$f" rate) p50=$(kv "$f" latency_p50_ms)" \
        "p99=$(kv "$f" latency_p99_ms) p99.9=$(kv "$f" latency_p99_9_ms) temp_errors=$(kv "$f" temp_errors)"
    done
  done
  fig relay_pairs "$relay_pairs"
  fig relay_duration_s "$dur"
  finish relay
fi

# ---- command path: invitations + accepts ----------------------------------
if want commands; then
  begin "command path: invitations + accepts"
  for which in moderate saturation; do
    f="$out/commands-$which.out"
    if [[ $which == moderate ]]; then
      args=("$cmd_rate" "$cmd_dur" $((cmd_rate * cmd_dur)) 1); envs=(DRAIN=20 WINDOW=1000)
    else
      args=("$cmd_sat_rate" "$cmd_sat_dur" "$cmd_sat_pairs" 1); envs=(DRAIN=60 WINDOW=1000)
    fi
    bench_run "$f" env "${envs[@]}" bench/commands.sh "${args[@]}" || true
    fig "cmd_commands_$which" "BUILD=$build ${envs[*]} bench/commands.sh ${args[*]}"
    for k in submits invites_sent accepts_sent dialogs_completed cmd_errors invites_per_s dialogs_per_s \
      cmd_latency_p50_ms cmd_latency_p99_ms db_active_dialogs db_pending_dialogs db_check wall_s \
      cpu_s_dialogd cpu_s_smsc_sim cpu_s_postgres backend_samples; do
      fig "commands_${which}_$k" "$(kv "$f" "$k")"
    done
    fig "commands_${which}_rate" "${args[0]}"
    fig "commands_${which}_duration_s" "${args[1]}"
    fig "commands_${which}_pairs" "${args[2]}"
    echo "   $which: asked=${args[0]}/s invites_per_s=$(kv "$f" invites_per_s) dialogs_per_s=$(kv "$f" dialogs_per_s)" \
      "p50=$(kv "$f" cmd_latency_p50_ms) p99=$(kv "$f" cmd_latency_p99_ms) completed=$(kv "$f" dialogs_completed)" \
      "db_active=$(kv "$f" db_active_dialogs) db_check=$(kv "$f" db_check)"
  done
  finish commands
fi

# ---- daily billing --------------------------------------------------------
if want bill; then
  begin "daily billing: $bill_pairs active dialogs"
  f="$out/bill.out"
  bench_run "$f" bench/bill_daily.sh "$bill_pairs" || true
  fig cmd_bill "BUILD=$build bench/bill_daily.sh $bill_pairs"
  fig bill_pairs "$bill_pairs"
  for k in provision_s first_run_s first_run_cluster_cpu_s rerun_s rerun_without_marker_s \
    rerun_without_marker_cluster_cpu_s ledger_rows; do
    fig "bill_$k" "$(kv "$f" "$k")"
  done
  for k in loadavg_before loadavg_after; do
    fig "bill_$k" "$(grep -o "$k=[^ ]*" "$f" | head -n 1 | cut -d= -f2 || true)"
  done
  # what the runs did (from dialogctl --json): every fee once, then nothing
  fig bill_first_fees "$(grep -E '^first_run=' "$f" | grep -o '"fees_charged":[0-9]*' | cut -d: -f2 || true)"
  fig bill_rerun_fees "$(grep -E '^rerun=' "$f" | grep -o '"fees_charged":[0-9]*' | cut -d: -f2 || true)"
  fig bill_rerun_without_marker_fees "$(grep -E '^rerun_without_marker=' "$f" | grep -o '"fees_charged":[0-9]*' | cut -d: -f2 || true)"
  echo "   first_run_s=$(kv "$f" first_run_s) rerun_s=$(kv "$f" rerun_s) rerun_without_marker_s=$(kv "$f" rerun_without_marker_s)"
  finish bill
fi

# ---- support look-up ------------------------------------------------------
if want support; then
  begin "support look-up: $sup_subs subscribers, $sup_entries ledger entries"
  f="$out/support.out"
  bench_run "$f" bench/support_lookup.sh "$sup_subs" "$sup_entries" "$sup_n" || true
  fig cmd_support "BUILD=$build bench/support_lookup.sh $sup_subs $sup_entries $sup_n"
  fig support_subs "$sup_subs"
  fig support_entries "$sup_entries"
  fig support_n "$sup_n"
  for label in subscriber_show subscriber_show_json charges_list explain; do
    line=$(grep -E "^$label +n=" "$f" | head -n 1 || true)
    for k in p50_ms p99_ms max_ms; do
      fig "support_${label}_$k" "$(sed -n "s/.* $k=\([0-9.]*\).*/\1/p" <<<"$line")"
    done
    echo "   ${line:-$label: no figures}"
  done
  finish support
fi

# ---- memory ---------------------------------------------------------------
if want memory; then
  begin "memory: dialogd resident size with $mem_pairs active dialogs"
  bench_run "$out/memory-0.out" env MEMORY_ONLY=1 bench/relay.sh 1 1 1 1 || true
  bench_run "$out/memory.out" env MEMORY_ONLY=1 bench/relay.sh 1 1 1 "$mem_pairs" || true
  rss_kb=$(kv "$out/memory.out" rss_kb)
  base_kb=$(kv "$out/memory-0.out" rss_kb)
  fig cmd_memory "BUILD=$build MEMORY_ONLY=1 bench/relay.sh 1 1 1 $mem_pairs (baseline: ... 1 1 1 1)"
  fig mem_pairs "$mem_pairs"
  fig mem_rss_kb "$rss_kb"
  fig mem_base_rss_kb "$base_kb"
  echo "   rss_kb=$rss_kb base_rss_kb=$base_kb"
  finish memory
fi

fig load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
fig time_total_s $((SECONDS - t_all))
bench/render.sh "$out"
echo "== done in $((SECONDS - t_all)) s: $out/performance.md (figures: $env_file)"
