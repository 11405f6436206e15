#!/usr/bin/env bash
# dialogctl bill daily, the corners of the free week (R13, R13a, R13b, D4):
# a dialog ended mid-trial and a new one later gets no new trial and no
# reminder; a dialog that ended before midnight is not charged for the next
# day; a failed reminder (outbox 'failed', or a receipt with state 5)
# extends the free period day by day with the reminder resent, and after
# notice_grace_days the fee is charged regardless; trial_days and
# notice_grace_days come from the config (D14).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bill_lib.sh"
new_db
bill_setup
T=79161000031 P=79161000032 Q=79161000033 E=79161000034 F=79161000035 G=79161000036 H=79161000037
for m in $T $P $Q $E $F $G $H; do sub $m MOW --postpaid; done
for m in $P $Q $F $H; do first_act $m '2026-10-01 12:00+03'; done
D1=$(activate $T $P '2026-11-22 14:00+03')   # T: first activation
D2=$(activate $E $F '2026-11-22 14:00+03')   # E: first activation, reminders will fail
end_dialog $D1 '2026-11-24 10:00+03'           # ended mid-trial, before midnight of the 25th

run_days() { local d; for d in "$@"; do bill "${d}T00:05:00+03:00"; done; }

run_days 2026-11-23 2026-11-24 2026-11-25
# R13: P (returning) paid the 23rd and 24th (active at their 00:00), not the 25th
[[ $(fee_days $P) == "2026-11-23,2026-11-24" ]] || fail "R13 ended before midnight: P fee days $(fee_days $P)"
run_days 2026-11-26 2026-11-27 2026-11-28

# --- R13b: the 29th reminds E (active dialog), not T (dialog ended) -------------------
bill '2026-11-29T00:05:00+03:00'
expect_sum reminders_queued 1
expect_sql "SELECT string_agg(dst, ',') FROM outbox WHERE msg = 'trial_reminder'" "$E" "D4: only trial leavers of active dialogs"
# it fails: the SMSC rejected it
sql "UPDATE outbox SET state = 'failed', last_error = 'rejected' WHERE msg = 'trial_reminder' AND dst = '$E'" >/dev/null

# --- 30th: not charged (postponed), reminded again ----------------------------------
bill '2026-11-30T00:05:00+03:00'
expect_sum postponed_days 1 "R13b no notice, no charge"
expect_sum reminders_queued 1 "R13b reminder resent"
expect_sql "SELECT params->>'fee_from' FROM outbox WHERE msg = 'trial_reminder' AND dst = '$E' ORDER BY id DESC LIMIT 1" 2026-12-01
[[ $(fee_days $E) == "" ]] || fail "R13b: E charged without an accepted reminder: $(fee_days $E)"
# accepted by the SMSC, but the delivery receipt says undeliverable (state 5)
sql "UPDATE outbox SET state = 'submitted', message_ids = '{r30a,r30b}' WHERE msg = 'trial_reminder' AND dst = '$E' AND state = 'queued'" >/dev/null
sql "INSERT INTO sms_receipt (message_id, state) VALUES ('r30b', 5)" >/dev/null

# --- Dec 1 and Dec 2: still postponed (failed receipt), reminded each day --------------
bill '2026-12-01T00:05:00+03:00'
expect_sum postponed_days 1 "R13b failed receipt"
expect_sum reminders_queued 1
bill '2026-12-02T00:05:00+03:00'
expect_sum postponed_days 1 "R13b last grace day (notice_grace_days = 3)"
expect_sum reminders_queued 1 "D4: the last postponed day reminds too (the fee starts tomorrow)"
[[ $(fee_days $E) == "" ]] || fail "R13b: E charged inside the grace: $(fee_days $E)"
expect_sql "SELECT string_agg(to_char(bill_date, 'MM-DD'), ',' ORDER BY bill_date) FROM trial_reminder tr
              JOIN subscriber s ON s.id = tr.subscriber_id WHERE s.msisdn = '$E'" "11-29,11-30,12-01,12-02"

# --- Dec 3: charged regardless after notice_grace_days -----------------------------
bill '2026-12-03T00:05:00+03:00'
expect_sum postponed_days 0
expect_sum reminders_queued 0 "no reminder once the fee is charged regardless"
[[ $(fee_days $E) == "2026-12-03" ]] || fail "R13b: E fee days $(fee_days $E)"
# a reminder accepted after the run of a postponed day does not make that day
# chargeable on a re-run (R13b: accepted *before* the run of the day)
sql "UPDATE outbox SET state = 'submitted', message_ids = '{r02}' WHERE msg = 'trial_reminder' AND dst = '$E' AND state = 'queued'" >/dev/null
bill '2026-12-03T09:00:00+03:00' 2026-12-02
expect_sum fees_charged 0 "R13b postponed day stays free"
bill '2026-12-03T09:00:00+03:00' 2026-11-30
[[ $(fee_days $E) == "2026-12-03" ]] || fail "R13b re-run charged a postponed day: $(fee_days $E)"
expect_sql "SELECT count(*) FROM bill_unpaid WHERE rule = 'R13b'" 3 "the three postponed days recorded"
# F, returning in the same dialog, paid every day from the 23rd
[[ $(sql "SELECT count(*) FROM ledger WHERE msisdn = '$F'") == 11 ]] || fail "F fee days $(fee_days $F)"

# --- R13a: T's new dialog after the window: no new trial, no reminder (D4) --------------
D3=$(activate $T $Q '2026-12-05 12:00+03')
run_days 2026-12-05 2026-12-06 2026-12-07
[[ $(fee_days $T) == "2026-12-06,2026-12-07" ]] || fail "R13a no second trial: T fee days $(fee_days $T)"
expect_sql "SELECT count(*) FROM outbox WHERE msg = 'trial_reminder' AND dst = '$T'" 0 "D4 returning: no reminder"

# --- D14: trial_days / notice_grace_days from the config --------------------------------
# G first activated Dec 5 with trial_days = 2, notice_grace_days = 1:
# 6th-7th trial, reminder on the 7th, 8th postponed (not accepted), 9th charged.
cat >"$T_DIR/bill.ini" <<INI
[service]
trial_days = 2
notice_grace_days = 1
INI
export DIALOG_CONFIG="$T_DIR/bill.ini"
D4=$(activate $G $H '2026-12-05 12:00+03')
bill '2026-12-06T00:05:00+03:00'; expect_sum reminders_queued 0
bill '2026-12-07T00:05:00+03:00'; expect_sum reminders_queued 1 "D14 trial_days from the config"
bill '2026-12-08T00:05:00+03:00'
[[ $(fee_days $G) == "" ]] || fail "D14: G fee days $(fee_days $G)"
bill '2026-12-09T00:05:00+03:00'
[[ $(fee_days $G) == "2026-12-09" ]] || fail "D14 notice_grace_days from the config: G fee days $(fee_days $G)"
unset DIALOG_CONFIG
pass "R13 R13a R13b D4 D14"
