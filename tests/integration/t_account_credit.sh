#!/usr/bin/env bash
# dialogctl account credit MSISDN KOP --ref REF: a top-up, idempotent by REF
# (the same ref again credits nothing, with another amount or number it is
# refused, exit 3), audited, prepaid and postpaid; input checks (R2 numbers,
# positive kopecks, --ref required; unknown subscriber exit 4); a top-up is
# not a ledger entry; and a credit lets a prepaid dialog suspended for an
# unpaid daily fee resume at the next `bill daily` run (R17, D13).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bill_lib.sh"
new_db
bill_setup
X=79161000031 Y=79161000032 Z=79161000033
sub $X MOW --prepaid --balance 200
sub $Y MOW --postpaid
sub $Z MOW --prepaid --balance 0
bal() { sql "SELECT balance FROM subscriber WHERE msisdn = '$1' AND retired_at IS NULL"; }

# --- usage: R2 numbers, positive kopecks, --ref required; unknown number -----------
expect_exit 2 "$C" account credit 12345 100 --ref r0
expect_grep "R2"
expect_exit 2 "$C" account credit $X 0 --ref r0
expect_exit 2 "$C" account credit $X -5 --ref r0
expect_exit 2 "$C" account credit $X 1.50 --ref r0
expect_exit 2 "$C" account credit $X abc --ref r0
expect_exit 2 "$C" account credit $X 100
expect_grep "ref REF"
expect_exit 2 "$C" account credit $X 100 --ref ' '
expect_exit 4 "$C" account credit 79169999999 100 --ref r0
expect_sql "SELECT count(*) FROM account_credit" 0 "nothing credited by refused calls"

# --- a credit, then the same ref again: one credit (idempotent) --------------------
expect_exit 0 env USER=cashier "$C" account credit "+7 (916) 100-00-31" 1000 --ref pay-1
expect_grep "credited 10.00 RUB"
[[ $(bal $X) == 1200 ]] || fail "balance after credit: $(bal $X)"
expect_exit 0 "$C" --json --agent kiosk account credit 89161000031 1000 --ref pay-1
expect_grep "already credited \\(ref pay-1\\)|\"already\": ?true"
python3 - "$T_DIR/last.out" <<'EOF' || fail "json of a repeat"
import json, sys
j = json.load(open(sys.argv[1]))
assert j == {"msisdn": "79161000031", "amount": 1000, "ref": "pay-1", "account_type": "prepaid",
             "balance": 1200, "already": True}, j
EOF
expect_exit 0 "$C" account credit $X 1000 --ref pay-1
expect_grep "already credited \\(ref pay-1\\)"
[[ $(bal $X) == 1200 ]] || fail "a repeated ref credited again: $(bal $X)"
expect_sql "SELECT count(*) || ' ' || sum(amount) FROM account_credit WHERE ref = 'pay-1'" "1 1000"
expect_sql "SELECT agent || ' ' || (detail->>'msisdn') || ' ' || (detail->>'amount') || ' ' || (detail->>'balance')
              FROM audit WHERE action = 'account credit'" "cashier $X 1000 1200" "one audit row, \$USER as agent"

# --- the same ref with another amount or another number: refused, nothing changes ---
expect_exit 3 "$C" account credit $X 999 --ref pay-1
expect_grep "pay-1"
expect_exit 3 "$C" account credit $Z 1000 --ref pay-1
[[ $(bal $X) == 1200 && $(bal $Z) == 0 ]] || fail "a refused ref changed a balance"
expect_sql "SELECT count(*) FROM account_credit" 1
expect_sql "SELECT count(*) FROM audit WHERE action = 'account credit'" 1

# --- postpaid: allowed, lowers the amount owed; --json; --agent audited ------------
sql "UPDATE subscriber SET balance = -900 WHERE msisdn = '$Y'" >/dev/null   # owes 9 RUB
expect_exit 0 "$C" --json --agent kiosk account credit $Y 500 --ref pay-2
python3 - "$T_DIR/last.out" <<'EOF' || fail "json of a credit"
import json, sys
j = json.load(open(sys.argv[1]))
assert j == {"msisdn": "79161000032", "amount": 500, "ref": "pay-2", "account_type": "postpaid",
             "balance": -400, "already": False}, j
EOF
[[ $(bal $Y) == -400 ]] || fail "postpaid balance: $(bal $Y)"
expect_sql "SELECT agent FROM audit WHERE detail->>'ref' = 'pay-2'" kiosk

# --- concurrent first uses of one ref: exactly one credit --------------------------
pids=()
for i in 1 2 3 4 5 6; do "$C" account credit $Z 300 --ref pay-3 >/dev/null 2>&1 & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent repeat did not exit 0"; done
[[ $(bal $Z) == 300 ]] || fail "concurrent same-ref credits: balance $(bal $Z)"
expect_sql "SELECT count(*) FROM audit WHERE detail->>'ref' = 'pay-3'" 1

# --- a top-up is not a ledger entry -------------------------------------------------
expect_sql "SELECT count(*) FROM ledger" 0 "top-ups are not ledger entries"

# --- R17/D13: a suspended prepaid dialog resumes at the next daily run --------------
# X: 1200 now; spend it down to 100 so that the fee of 300 cannot be paid.
sql "UPDATE subscriber SET balance = 100 WHERE msisdn = '$X'" >/dev/null
first_act $X '2026-10-01 12:00+03'; first_act $Y '2026-10-01 12:00+03'
D=$(activate $X $Y '2026-11-20 12:00+03')
bill '2026-11-23T00:05:00+03:00'
expect_sql "SELECT state FROM dialog WHERE id = $D" suspended "R17 suspended for want of 300"
bill '2026-11-24T00:05:00+03:00'
expect_sql "SELECT state FROM dialog WHERE id = $D" suspended "still suspended without a top-up"
expect_exit 0 env DIALOG_NOW='2026-11-24T12:00:00+03:00' "$C" account credit $X 500 --ref pay-4
[[ $(bal $X) == 600 ]] || fail "balance after top-up: $(bal $X)"
expect_sql "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM account_credit WHERE ref = 'pay-4'" \
  "2026-11-24 09:00" "the credit is dated by the service clock (DIALOG_NOW)"
bill '2026-11-25T00:05:00+03:00'
expect_sum resumed 1 "D13 resumed after the top-up"
expect_sql "SELECT state FROM dialog WHERE id = $D" active "D13 active again"
expect_sql "SELECT string_agg(msisdn || ':' || amount || ':' || bill_date, ',' ORDER BY msisdn) FROM ledger WHERE dialog_id = $D" \
  "$X:300:2026-11-25,$Y:300:2026-11-25" "charged for the 25th only"
[[ $(bal $X) == 300 ]] || fail "balance after the resumed day: $(bal $X)"
pass "R2 R17 D13 top-up idempotent by ref"
