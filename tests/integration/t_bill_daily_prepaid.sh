#!/usr/bin/env bash
# dialogctl bill daily, prepaid accounts (R17, D13, D11): a participant who
# cannot pay suspends the dialog, both are told, nobody is charged; each run
# retries; after a top-up the next run charges and resumes it (both told);
# the unpaid days are never charged later; re-runs add nothing (R16); the
# credit limit is the overdraft; several dialogs of one payer count
# cumulatively in dialog id order (D11).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bill_lib.sh"
new_db
bill_setup
X=79161000011 Y=79161000012 Z=79161000013 W1=79161000014 W2=79161000015 K=79161000016 L=79161000017
sub $X MOW --prepaid --balance 200
sub $Y MOW --postpaid
sub $Z MOW --prepaid --balance 500
sub $W1 MOW --postpaid
sub $W2 MOW --postpaid
sub $K MOW --prepaid --balance 100 --credit-limit 200
sub $L MOW --postpaid
for m in $X $Y $Z $W1 $W2 $K $L; do first_act $m '2026-10-01 12:00+03'; done
D=$(activate $X $Y '2026-11-20 12:00+03')
DZ1=$(activate $Z $W1 '2026-11-20 12:00+03')
DZ2=$(activate $Z $W2 '2026-11-20 12:00+03')
DK=$(activate $K $L '2026-11-20 12:00+03')

counts() {
  sql "SELECT (SELECT count(*) FROM ledger) || '/' || (SELECT count(*) FROM outbox) || '/' ||
              (SELECT count(*) FROM dialog_event) || '/' || (SELECT sum(balance) FROM subscriber)"
}

# --- R17/D13: X cannot pay 300 -> suspended, both told, nobody charged ----------
bill '2026-11-23T00:05:00+03:00'
expect_sum suspended 2 "R17 suspensions (X's dialog and Z's second, D11)"
expect_sql "SELECT state FROM dialog WHERE id = $D" suspended "D13 state"
expect_sql "SELECT count(*) FROM ledger WHERE dialog_id = $D" 0 "D13: nobody charged in the dialog"
expect_sql "SELECT balance FROM subscriber WHERE msisdn = '$X'" 200 "R17 balance untouched"
expect_sql "SELECT string_agg(dst || ' ' || (params->>'peer') || ' ' || (params->>'payer') || ' ' || (params->>'fee_kop'), ',' ORDER BY dst)
              FROM outbox WHERE msg = 'suspended' AND dst IN ('$X', '$Y')" \
  "$X +$Y +$X 300,$Y +$X +$X 300" "R17 both told, naming the payer"
expect_sql "SELECT count(*) FROM dialog_event WHERE dialog_id = $D AND type = 'suspended' AND detail LIKE '%$X%'" 1 \
  "suspended event names who could not pay"

# --- D11: Z (500) pays the first dialog (300), not the second (600 cumulative) ---
expect_sql "SELECT state FROM dialog WHERE id = $DZ1" active "D11 first dialog"
expect_sql "SELECT state FROM dialog WHERE id = $DZ2" suspended "D11 second dialog"
expect_sql "SELECT balance FROM subscriber WHERE msisdn = '$Z'" 200 "D11 Z paid one fee"
expect_sql "SELECT count(*) FROM ledger WHERE dialog_id = $DZ2" 0 "D13 W2 not charged either"

# --- D13 credit limit: K (100 + overdraft 200) pays 300 ---------------------------
expect_sql "SELECT balance FROM subscriber WHERE msisdn = '$K'" -200 "D13 credit limit"
expect_sql "SELECT state FROM dialog WHERE id = $DK" active

# --- R16: a re-run adds nothing ---------------------------------------------------
c0=$(counts)
bill '2026-11-23T10:00:00+03:00' 2026-11-23
expect_sum fees_charged 0; expect_sum suspended 0; expect_sum resumed 0
[[ $(counts) == "$c0" ]] || fail "R16 re-run changed something: $c0 -> $(counts)"

# --- the next day: retried, still unpaid: no new event, no SMS --------------------
bill '2026-11-24T00:05:00+03:00'
expect_sql "SELECT state FROM dialog WHERE id = $D" suspended
expect_sum suspended 2 "Z's first dialog (200 left) and K's (credit used up) now suspended too"
expect_sql "SELECT count(*) FROM dialog_event WHERE dialog_id = $D AND type = 'suspended'" 1 "no second suspension event"
expect_sql "SELECT count(*) FROM outbox WHERE msg = 'suspended' AND dst = '$X'" 1 "no repeated notice"
expect_sql "SELECT count(*) FROM ledger WHERE dialog_id = $D" 0

# --- top-up, then the next run charges and resumes (D13) -------------------------
sql "UPDATE subscriber SET balance = balance + 1000 WHERE msisdn = '$X'" >/dev/null
bill '2026-11-25T00:05:00+03:00'
expect_sql "SELECT state FROM dialog WHERE id = $D" active "D13 resumed"
expect_sql "SELECT string_agg(to_char(bill_date, 'DD') || ':' || msisdn, ',' ORDER BY msisdn) FROM ledger WHERE dialog_id = $D" \
  "25:$X,25:$Y" "D13 charged for the 25th only"
expect_sql "SELECT balance FROM subscriber WHERE msisdn = '$X'" 900
expect_sql "SELECT string_agg(dst || ' ' || (params->>'peer') || ' ' || (params->>'fee_kop'), ',' ORDER BY dst)
              FROM outbox WHERE msg = 'resumed' AND dst IN ('$X', '$Y')" "$X +$Y 300,$Y +$X 300" "D13 both told"
expect_sql "SELECT count(*) FROM dialog_event WHERE dialog_id = $D AND type = 'resumed'" 1

# --- unpaid days are not charged later; re-runs add nothing ---------------------
c0=$(counts)
bill '2026-11-25T10:00:00+03:00' 2026-11-24
expect_sum fees_charged 0 "D13: unpaid 24th never charged later"
bill '2026-11-25T10:00:00+03:00' 2026-11-23
bill '2026-11-25T10:00:00+03:00' 2026-11-25
expect_sum fees_charged 0; expect_sum resumed 0
[[ $(counts) == "$c0" ]] || fail "R16 re-run after resumption changed something: $c0 -> $(counts)"
expect_sql "SELECT count(*) FROM bill_unpaid WHERE dialog_id = $D" 4 "the unpaid participant-days of the 23rd/24th"
pass "R17 D13 D11 R16"
