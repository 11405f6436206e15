#!/usr/bin/env bash
# Daily billing benchmark: PAIRS active dialogs (default 1,000,000: 2M
# participant-days, all postpaid, past the free week) in a fresh database,
# then `dialogctl bill daily` timed for the first run and for a re-run
# (which must charge nothing), with and without the bill_run_done marker.
# Not a test: it prints figures. The machine's load average is printed too:
# on a shared 2-core machine, anything else running inflates the times.
#
#   bench/bill_daily.sh [PAIRS]        (BUILD=build-dir, default build)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
pairs=${1:-1000000}
build=${BUILD:-build}
var="$root/$build/bench-var"
scripts/pg.sh start "$var" >/dev/null
conn=$(scripts/pg.sh conninfo "$var")
db=bench_bill
psql "$conn" -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
export DIALOG_DB="${conn/dbname=dialog/dbname=$db}"
unset DIALOG_CONFIG
ctl="$build/billing/dialogctl"

# CPU seconds the cluster has used so far: the postmaster and its live
# children, plus the children it has reaped (its cutime and cstime). Unlike
# the wall time, the difference is hardly moved by other work on the machine.
cluster_cpu() {
  local pm hz t=0 f st
  pm=$(head -n 1 "$var/pg/data/postmaster.pid")
  hz=$(getconf CLK_TCK)
  for f in /proc/[0-9]*/stat; do
    st=$(cat "$f" 2>/dev/null) || continue
    st=${st##*) }
    set -- $st # state ppid ... utime=$12 stime=$13 cutime=$14 cstime=$15
    if [[ $f == "/proc/$pm/stat" ]]; then
      t=$((t + ${12} + ${13} + ${14} + ${15}))
    elif [[ $2 == "$pm" ]]; then
      t=$((t + ${12} + ${13}))
    fi
  done
  echo "scale=2; $t / $hz" | bc
}
"$ctl" db init >/dev/null
t0=$(date +%s.%N)
psql "$DIALOG_DB" -qX -v ON_ERROR_STOP=1 -v pairs="$pairs" >/dev/null <<'SQL'
INSERT INTO region (code, tz, daily_fee, operator_fee) VALUES ('MOW', 'Europe/Moscow', 300, 4500);
INSERT INTO tariff (code, sms_price) VALUES ('BASIC', 150);
INSERT INTO subscriber (msisdn, contract, region, tariff, account_type, first_activated_at)
SELECT '79' || lpad(i::text, 9, '0'), 'B' || i, 'MOW', 'BASIC', 'postpaid', '2026-10-01 12:00+03'
  FROM generate_series(0, 2 * :pairs - 1) i;
INSERT INTO dialog (inviter_id, invitee_id, inviter, invitee, state, channel, created_at, activated_at)
SELECT a.id, a.id + 1, a.msisdn, b.msisdn, 'active', 'sms', '2026-11-20 12:00+03', '2026-11-20 12:00+03'
  FROM subscriber a JOIN subscriber b ON b.id = a.id + 1
 WHERE a.id % 2 = 1;
VACUUM ANALYZE;
-- the bulk load's dirty pages and WAL are written now, not charged to the run
CHECKPOINT;
SQL
load1=$(cut -d' ' -f1 /proc/loadavg)
c1=$(cluster_cpu)
t1=$(date +%s.%N)
export DIALOG_NOW='2026-11-23T00:05:00+03:00'
"$ctl" --json bill daily >"$build/bench-bill-1.json"
t2=$(date +%s.%N)
c2=$(cluster_cpu)
t2b=$(date +%s.%N)
"$ctl" --json bill daily >"$build/bench-bill-2.json"
t3=$(date +%s.%N)
# the same re-run without the completion marker: idempotency keys only
psql "$DIALOG_DB" -qAtc "DELETE FROM bill_run_done"
c3=$(cluster_cpu)
t3b=$(date +%s.%N)
"$ctl" --json bill daily >"$build/bench-bill-3.json"
t4=$(date +%s.%N)
c4=$(cluster_cpu)
echo "# bill daily: pairs=$pairs dialogs=$pairs participant_days=$((2 * pairs)) cores=$(nproc)"
# other work on the machine slows the run: the 1-minute load before it
echo "loadavg_before=$load1 loadavg_after=$(cut -d' ' -f1 /proc/loadavg)"
printf 'provision_s=%.1f\n' "$(echo "$t1 - $t0" | bc)"
printf 'first_run_s=%.2f\n' "$(echo "$t2 - $t1" | bc)"
printf 'first_run_cluster_cpu_s=%.1f\n' "$(echo "$c2 - $c1" | bc)"
printf 'rerun_s=%.2f\n' "$(echo "$t3 - $t2b" | bc)"
printf 'rerun_without_marker_s=%.2f\n' "$(echo "$t4 - $t3b" | bc)"
printf 'rerun_without_marker_cluster_cpu_s=%.1f\n' "$(echo "$c4 - $c3" | bc)"
echo "first_run=$(cat "$build/bench-bill-1.json")"
echo "rerun=$(cat "$build/bench-bill-2.json")"
echo "rerun_without_marker=$(cat "$build/bench-bill-3.json")"
echo "ledger_rows=$(psql "$DIALOG_DB" -qAtc "SELECT count(*) FROM ledger")"
