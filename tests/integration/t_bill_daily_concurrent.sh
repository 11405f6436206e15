#!/usr/bin/env bash
# dialogctl bill daily under stress (R16): two runs at once charge every
# participant-day exactly once (the second waits on the advisory lock, then
# finds nothing to do); a run killed with SIGKILL midway leaves whole chunks
# only (ledger and balances agree), and running it again completes the day
# with no duplicates.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bill_lib.sh"
N=20000

provision() {
  new_db "$1"
  "$C" db init >/dev/null
  sql "INSERT INTO region (code, tz, daily_fee) VALUES ('MOW', 'Europe/Moscow', 300);
       INSERT INTO tariff (code, sms_price) VALUES ('BASE', 150);
       INSERT INTO subscriber (msisdn, contract, region, tariff, account_type, first_activated_at)
       SELECT '7916' || lpad(i::text, 7, '0'), 'C' || i, 'MOW', 'BASE', 'postpaid', '2026-10-01 12:00+03'
         FROM generate_series(0, 2 * $N - 1) i;
       INSERT INTO dialog (inviter_id, invitee_id, inviter, invitee, state, created_at, activated_at)
       SELECT a.id, a.id + 1, a.msisdn, b.msisdn, 'active', '2026-11-20 12:00+03', '2026-11-20 12:00+03'
         FROM subscriber a JOIN subscriber b ON b.id = a.id + 1 WHERE a.id % 2 = 1;
       ANALYZE" >/dev/null
}

consistent() { # every participant-day once; balances = -ledger
  expect_sql "SELECT count(*) || ' ' || count(DISTINCT (dialog_id, subscriber_id, bill_date)) FROM ledger" "$1 $1" "$2: ledger rows"
  expect_sql "SELECT coalesce(sum(balance), 0) + (SELECT coalesce(sum(amount), 0) FROM ledger) FROM subscriber" 0 "$2: balances vs ledger"
}

# --- two runs at once --------------------------------------------------------------
provision two
export DIALOG_BILL_CHUNK=3000
DIALOG_NOW='2026-11-23T00:05:00+03:00' "$C" --json bill daily >"$T_DIR/run1.json" 2>"$T_DIR/run1.err" & p1=$!
DIALOG_NOW='2026-11-23T00:05:00+03:00' "$C" --json bill daily >"$T_DIR/run2.json" 2>"$T_DIR/run2.err" & p2=$!
wait $p1 || fail "run 1 failed: $(cat "$T_DIR/run1.err")"
wait $p2 || fail "run 2 failed: $(cat "$T_DIR/run2.err")"
consistent $((2 * N)) "two runs at once"
python3 - "$T_DIR/run1.json" "$T_DIR/run2.json" $((2 * N)) <<'PY' || fail "two runs: the fees must be split $((2*N))/0"
import json, sys
a, b = (json.load(open(f))["fees_charged"] for f in sys.argv[1:3])
assert sorted([a, b]) == [0, int(sys.argv[3])], (a, b)
PY

# --- a run killed midway, then run again ---------------------------------------------
provision kill
export DIALOG_BILL_CHUNK=500
DIALOG_NOW='2026-11-23T00:05:00+03:00' "$C" bill daily >"$T_DIR/killed.out" 2>&1 & pk=$!
# wait until some chunks are committed, then SIGKILL
for _ in $(seq 300); do
  n=$(sql "SELECT count(*) FROM ledger")
  ((n > 0)) && break
  sleep 0.02
done
kill -KILL $pk 2>/dev/null || true
wait $pk 2>/dev/null || true
n=$(sql "SELECT count(*) FROM ledger")
((n > 0 && n < 2 * N)) || fail "the kill should land midway (ledger rows $n of $((2 * N)))"
((n % 1000 == 0)) || fail "a killed run must leave whole chunks only: $n rows"
consistent "$n" "after the kill"
bill '2026-11-23T00:10:00+03:00'
expect_sum fees_charged $((2 * N - n)) "the re-run completes the day"
consistent $((2 * N)) "after the re-run"
bill '2026-11-23T00:15:00+03:00'
expect_sum fees_charged 0 "R16 third run"
pass "R16 ($n of $((2 * N)) fees before the kill)"
