#!/usr/bin/env bash
# dialogctl bill daily: the R13a example of service-rules.md day by day.
# First activation 2026-11-22 14:00 Moscow: the 22nd is free (R13 activation
# day), the 23rd-29th are free (R13a trial), the run of the 29th queues the
# trial reminder (R13b, D4), it is accepted, the first fee is on the 30th.
# A returning subscriber in the same dialog pays from the 23rd. Re-runs add
# nothing (R16); usage errors exit 2.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bill_lib.sh"
new_db
bill_setup
A=79161000001 B=79161000002
sub $A MOW --postpaid
sub $B MOW --prepaid --balance 100000
first_act $B '2026-10-01 12:00+03'          # B is a returning subscriber
D=$(activate $A $B '2026-11-22 14:00+03')
[[ $D =~ ^[0-9]+$ ]] || fail "fixture: $D"

# --- usage: a bad date is exit 2 (interfaces.md) -----------------------------
expect_exit 2 "$C" bill daily --date 2026-11-31
expect_grep 'not a date'
expect_exit 2 "$C" bill daily --date tomorrow

# --- R13: the activation day is free ------------------------------------------
bill '2026-11-22T23:30:00+03:00' 2026-11-22
expect_sum fees_charged 0 "R13 activation day"
expect_sum regions_billed 2

# --- R13a: 23rd-28th A free (trial), B pays (returning, R13a/D4) ---------------
for day in 23 24 25 26 27 28; do
  bill "2026-11-${day}T00:05:00+03:00"
  expect_sum fees_charged 1 "R13a day $day"
  expect_sum trial_days 1 "R13a day $day"
  expect_sum reminders_queued 0 "D4 day $day: no reminder before the last trial day"
done
[[ $(fee_days $A) == "" ]] || fail "R13a: A charged inside the trial: $(fee_days $A)"
[[ $(fee_days $B) == "2026-11-23,2026-11-24,2026-11-25,2026-11-26,2026-11-27,2026-11-28" ]] \
  || fail "R13a returning subscriber: B fee days $(fee_days $B)"
expect_sql "SELECT balance FROM subscriber WHERE msisdn = '$B'" 98200 "R17: B's balance after 6 fees"

# --- R13b/D4: the run of the 29th (last trial day) reminds A, not B -----------
bill '2026-11-29T00:05:00+03:00'
expect_sum trial_days 1
expect_sum fees_charged 1
expect_sum reminders_queued 1 "R13b reminder on the last trial day"
expect_sql "SELECT dst || ' ' || (params->>'fee_kop') || ' ' || (params->>'fee_from') || ' ' || state
              FROM outbox WHERE msg = 'trial_reminder'" "$A 300 2026-11-30 queued" "R13b reminder params"
expect_sql "SELECT count(*) FROM trial_reminder tr JOIN subscriber s ON s.id = tr.subscriber_id
             WHERE s.msisdn = '$A' AND tr.bill_date = '2026-11-29'" 1
# re-running the 29th queues no second reminder (D4: one per subscriber per day)
bill '2026-11-29T08:00:00+03:00' 2026-11-29
expect_sum reminders_queued 0 "D4 idempotent reminder"
expect_sum fees_charged 0 "R16 re-run"
expect_sql "SELECT count(*) FROM outbox WHERE msg = 'trial_reminder'" 1

# The SMSC accepted it (dialogd marks the row submitted).
sql "UPDATE outbox SET state = 'submitted', submitted_at = '2026-11-29 00:06+03', message_ids = '{m29}'
      WHERE msg = 'trial_reminder'" >/dev/null
sql "INSERT INTO sms_receipt (message_id, state) VALUES ('m29', 2)" >/dev/null   # delivered

# --- R13: the first fee of A is on the 30th -------------------------------------
bill '2026-11-30T00:05:00+03:00'
expect_sum fees_charged 2 "R13 first paid day after the trial"
expect_sum fees_amount 600
expect_sum trial_days 0
expect_sum postponed_days 0
expect_sum reminders_queued 0 "D4: an accepted reminder is not resent"
[[ $(fee_days $A) == "2026-11-30" ]] || fail "R13a: A's first fee must be 2026-11-30: $(fee_days $A)"
expect_sql "SELECT amount || ' ' || rule || ' ' || idem_key FROM ledger WHERE msisdn = '$A'" \
  "300 R13 daily_fee:$D:$(sql "SELECT id FROM subscriber WHERE msisdn = '$A'"):2026-11-30" "R16 ledger entry"
expect_sql "SELECT balance FROM subscriber WHERE msisdn = '$A'" -300 "postpaid balance"

# --- R16: re-running the same day adds nothing --------------------------------
before=$(sql "SELECT (SELECT count(*) FROM ledger) || '/' || (SELECT count(*) FROM outbox) || '/' ||
                     (SELECT count(*) FROM dialog_event) || '/' || (SELECT sum(balance) FROM subscriber)")
bill '2026-11-30T09:00:00+03:00' 2026-11-30
expect_sum fees_charged 0 "R16 re-run of the 30th"
bill '2026-11-30T10:00:00+03:00' 2026-11-23
expect_sum fees_charged 0 "R16 re-run of the 23rd"
# without the completion marker (bill_run_done), the idempotency keys alone hold
sql "DELETE FROM bill_run_done" >/dev/null
bill '2026-11-30T11:00:00+03:00' 2026-11-30
expect_sum fees_charged 0 "R16 re-run by idempotency keys"
expect_sum dialogs 0
after=$(sql "SELECT (SELECT count(*) FROM ledger) || '/' || (SELECT count(*) FROM outbox) || '/' ||
                    (SELECT count(*) FROM dialog_event) || '/' || (SELECT sum(balance) FROM subscriber)")
[[ "$before" == "$after" ]] || fail "R16: a re-run changed ledger/outbox/events/balances: $before -> $after"

# --- every later day is charged (accepted reminder) -----------------------------
bill '2026-12-01T00:05:00+03:00'
expect_sum fees_charged 2
[[ $(fee_days $A) == "2026-11-30,2026-12-01" ]] || fail "A fee days $(fee_days $A)"

# --- text output and the outbox wake-up (NOTIFY 'o') ---------------------------
expect_exit 0 env DIALOG_NOW='2026-12-01T09:00:00+03:00' "$C" bill daily
expect_grep 'fees charged: +0'
expect_grep 'bill daily 2026-12-01: regions billed 2, skipped 0'
# an outbox insert by another program wakes dialogd; dialogd's own does not
out=$(psql "$DIALOG_DB" -qAtX <<'SQL'
LISTEN dialog_cache;
INSERT INTO outbox (src, dst, msg) VALUES ('0919', '79161000001', 'help');
SQL
)
[[ "$out" == *'"dialog_cache"'*'"o"'* || "$out" == *'dialog_cache'*'payload "o"'* ]] \
  || fail "outbox insert must notify dialog_cache 'o': $out"
out=$(psql "$DIALOG_DB" -qAtX <<'SQL'
LISTEN dialog_cache;
SET dialog.engine = 'on';
INSERT INTO outbox (src, dst, msg) VALUES ('0919', '79161000001', 'help');
SQL
)
[[ "$out" != *'"o"'* ]] || fail "dialogd's own outbox insert must not notify: $out"
pass "R13 R13a R13b D4 R16"
