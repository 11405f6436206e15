#!/usr/bin/env bash
# Support look-up benchmark: `dialogctl subscriber show` on a big database.
# Loads SUBS subscribers (default 1,000,000), half of them in a dialog, and
# ENTRIES ledger entries (default 10,000,000: daily fees, SMS charges, a few
# refunds over ~a month) by SQL into a fresh database "bench_support" on the
# bench cluster, then times `dialogctl subscriber show` (text and --json) and
# `dialogctl charges list` for N (default 200) random subscribers, each a
# whole process run (start, connect, queries, output), and prints p50/p99 in
# ms, with the plans of the look-up queries. Not a test: it asserts nothing.
#
#   bench/support_lookup.sh [SUBS [ENTRIES [N]]]      (BUILD=build-xyz to pick a build)
#   KEEP=1 bench/support_lookup.sh   re-use the loaded database of an earlier run
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
subs=${1:-1000000}; entries=${2:-10000000}; n=${3:-200}
build=${BUILD:-build}
ctl="$root/$build/billing/dialogctl"
var="$root/$build/bench-var"
scripts/pg.sh start "$var" >/dev/null
conn=$(scripts/pg.sh conninfo "$var")
db=bench_support
export DIALOG_DB="${conn/dbname=dialog/dbname=$db}"
export DIALOG_NOW='2026-12-01T12:00:00+03:00'
unset DIALOG_CONFIG
out="$root/$build/bench-out"
mkdir -p "$out"
ms() { date +%s%N; }

if [[ -z "${KEEP:-}" ]] || ! psql "$DIALOG_DB" -qAtc "SELECT 1" >/dev/null 2>&1; then
  psql "$conn" -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  "$ctl" db init >/dev/null
  t0=$(ms)
  # Triggers off for the load (cache NOTIFYs per row); synchronous_commit off.
  psql "$DIALOG_DB" -qX -v ON_ERROR_STOP=1 -v subs="$subs" -v entries="$entries" <<'SQL'
SET session_replication_role = replica;
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';
INSERT INTO region (code, tz, daily_fee, operator_fee) VALUES ('MOW', 'Europe/Moscow', 300, 4500);
INSERT INTO tariff (code, sms_price) VALUES ('BASIC', 150);
INSERT INTO subscriber (msisdn, contract, region, tariff, account_type, balance, first_activated_at, created_at)
SELECT '79' || lpad(i::text, 9, '0'), 'C' || i, 'MOW', 'BASIC',
       CASE WHEN i % 3 = 0 THEN 'prepaid' ELSE 'postpaid' END, 0,
       CASE WHEN i % 2 = 0 THEN '2026-10-01 12:00+03'::timestamptz + (i % 50) * interval '1 day' END,
       '2026-09-01'
  FROM generate_series(1, :subs) i;
-- pairs (2k, 2k+2): every even-numbered subscriber... i and i+1 for odd i
INSERT INTO dialog (inviter_id, invitee_id, inviter, invitee, state, channel, created_at, activated_at, ended_at)
SELECT i, i + 1, '79' || lpad(i::text, 9, '0'), '79' || lpad((i + 1)::text, 9, '0'),
       CASE WHEN i % 10 = 1 THEN 'ended' ELSE 'active' END, 'sms',
       '2026-10-01 12:00+03'::timestamptz + (i % 50) * interval '1 day' - interval '5 min',
       '2026-10-01 12:00+03'::timestamptz + (i % 50) * interval '1 day',
       CASE WHEN i % 10 = 1 THEN '2026-11-25 12:00+03'::timestamptz END
  FROM generate_series(1, :subs - 1, 4) i;
-- ledger: ENTRIES rows spread over the subscribers (g % subs), 30 days
INSERT INTO ledger (subscriber_id, msisdn, dialog_id, kind, amount, bill_date, created_at, idem_key, rule, detail)
SELECT s, '79' || lpad(s::text, 9, '0'), NULL,
       CASE WHEN g % 7 = 0 THEN 'sms_standard' ELSE 'daily_fee' END,
       CASE WHEN g % 7 = 0 THEN 150 ELSE 300 END,
       '2026-11-01'::date + (g / :subs) % 30,
       '2026-11-01 00:05+03'::timestamptz + ((g / :subs) % 30) * interval '1 day',
       'bench:' || g, CASE WHEN g % 7 = 0 THEN 'R11' ELSE 'R13' END, 'bench'
  FROM generate_series(0, :entries - 1) g, LATERAL (SELECT (g % :subs) + 1 AS s) x;
VACUUM ANALYZE;
SQL
  echo "# loaded subs=$subs entries=$entries in $(( ($(ms) - t0) / 1000000000 )) s"
fi
echo "# database: $(psql "$DIALOG_DB" -qAtc "SELECT pg_size_pretty(pg_database_size(current_database()))"),"\
     "subscribers=$(psql "$DIALOG_DB" -qAtc 'SELECT count(*) FROM subscriber')"\
     "ledger=$(psql "$DIALOG_DB" -qAtc 'SELECT count(*) FROM ledger')"

# the plans of the look-ups (show.c, charges.c) for one subscriber
id=$(( (subs / 2) | 1 ))
echo "# plans for subscriber id $id"
psql "$DIALOG_DB" -qAtX <<SQL | grep -E "Scan|Execution Time|Sort Method" | sed 's/^/#   /'
EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM subscriber WHERE msisdn = '79' || lpad('$id', 9, '0') AND retired_at IS NULL;
EXPLAIN (ANALYZE, COSTS OFF) SELECT count(*) FROM subscriber WHERE msisdn = '79' || lpad('$id', 9, '0');
EXPLAIN (ANALYZE, COSTS OFF) SELECT min(d.activated_at) FROM dialog d WHERE (d.inviter_id = $id OR d.invitee_id = $id) AND d.activated_at IS NOT NULL;
EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM dialog d WHERE d.inviter_id = $id OR d.invitee_id = $id ORDER BY d.id DESC LIMIT 100;
EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM ledger l WHERE l.subscriber_id = $id ORDER BY l.id DESC LIMIT 10;
EXPLAIN (ANALYZE, COSTS OFF) SELECT *, count(*) OVER (), sum(amount) OVER () FROM ledger l WHERE l.subscriber_id = ANY (ARRAY[$id]::bigint[]) ORDER BY l.bill_date DESC, l.id DESC LIMIT 1000;
SQL

# N random subscribers (fixed seed: the same ones each run)
mapfile -t nums < <(psql "$DIALOG_DB" -qAtc "SELECT setseed(0.17); SELECT '79' || lpad((1 + floor(random() * $subs))::bigint::text, 9, '0') FROM generate_series(1, $n)" | tail -n "$n")

# time CMD... over every number: prints "label p50 p99 max" in ms
time_it() {
  local label=$1; shift
  local f="$out/support_$label.ms" m t0 t1
  : >"$f"
  for m in "${nums[@]}"; do
    t0=$(ms)
    "$@" "$m" >/dev/null || { echo "failed: $* $m" >&2; return 1; }
    t1=$(ms)
    echo $(( (t1 - t0) / 1000 )) >>"$f"   # microseconds
  done
  sort -n "$f" | awk -v label="$label" '{ v[NR] = $1 } END {
      p50 = v[int((NR + 1) * 0.50)]; p99 = v[int(NR * 0.99 + 0.5)];
      printf "%-24s n=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n", label, NR, p50 / 1000, p99 / 1000, v[NR] / 1000 }'
}
"$ctl" subscriber show "${nums[0]}" >/dev/null   # warm the cache once
time_it subscriber_show "$ctl" subscriber show
time_it subscriber_show_json "$ctl" --json subscriber show
time_it charges_list "$ctl" charges list
time_it explain "$ctl" explain
