#!/usr/bin/env bash
# Issue 4, relaying within and beyond the daily allowance, default config
# (daily_allowance = 50):
#   R9  in an active dialog A-B, 30 messages A->B and 20 B->A (mixed order)
#       share one allowance (D5: the pair, unordered): all 50 free, each
#       relayed to the peer unchanged (text and data_coding, GSM and UCS-2);
#   R10 message 51 (A->B) and 52 (B->A) are relayed and charged to their
#       SENDERS at their own tariff prices (A BASIC 150, B PLUS 200 kop),
#       ledger kind sms_over_allowance, rule R10;
#   sms_usage has a row per message; pair_usage.used = 50 for the day;
#   D5  the allowance belongs to the pair and the day, not to the dialog:
#       after STOP and a new dialog (B invites A) the same day, message 53
#       is still charged (R10, to B).
source "$(dirname "$0")/lib.sh"
A=79161234567 B=79167654321
new_db
provision_basic "$A"
"$DIALOGCTL" tariff add PLUS --sms-price 200 >/dev/null
"$DIALOGCTL" subscriber add "$B" --region MOW --tariff PLUS --postpaid >/dev/null
export DIALOG_NOW=2026-11-22T14:00:00+03:00
start_sim "$SRC_DIR/tests/integration/scenarios/relay_allowance.sim"
write_config   # no [service] daily_allowance: the default 50
start_dialogd
wait_sim
stop_dialogd || fail "dialogd did not exit 0 on SIGTERM"

# the relayed MTs, as the SMSC saw them: 31 to B, 22 to A, nothing else
# relayed (the short code's replies come from 6249)
n_ab=$(grep -c "^MT $A -> $B " "$T_DIR/sim.out" || true)
n_ba=$(grep -c "^MT $B -> $A " "$T_DIR/sim.out" || true)
[[ "$n_ab/$n_ba" == "31/22" ]] || fail "relayed MTs A->B/B->A: $n_ab/$n_ba, expected 31/22"
[[ $(grep -c '^MT ' "$T_DIR/sim.out") == $((31 + 22 + 4 + 2 + 4)) ]] || fail "unexpected MTs: $(grep '^MT ' "$T_DIR/sim.out" | grep -v "$A -> $B\|$B -> $A")"

did=$(sql "SELECT id FROM dialog WHERE inviter = '$A' AND invitee = '$B' AND state = 'ended'")
did2=$(sql "SELECT id FROM dialog WHERE inviter = '$B' AND invitee = '$A' AND state = 'active'")
[[ -n "$did" && -n "$did2" ]] || fail "expected dialog A-B ended and B-A active: $(sql 'SELECT id, inviter, invitee, state FROM dialog')"

# R9: 50 usage rows free, in the dialog, on the inviter's day
[[ $(sql "SELECT count(*) FROM sms_usage") == 53 ]] || fail "sms_usage rows: $(sql 'SELECT count(*) FROM sms_usage')"
[[ $(sql "SELECT count(*) FROM sms_usage WHERE rule = 'R9' AND free_segments = 1 AND charged_segments = 0 AND amount = 0 AND dialog_id = $did AND pair_day = '2026-11-22'") == 50 ]] \
  || fail "R9: 50 free rows expected: $(sql 'SELECT src, rule, free_segments, amount FROM sms_usage ORDER BY id')"
[[ $(sql "SELECT count(*) FILTER (WHERE src = '$A') || '/' || count(*) FILTER (WHERE src = '$B') FROM sms_usage WHERE rule = 'R9'") == "30/20" ]] \
  || fail "R9/D5: the 50 free units are 30 A->B and 20 B->A"
[[ $(sql "SELECT used FROM pair_usage WHERE pair_lo = '$A' AND pair_hi = '$B' AND day = '2026-11-22'") == 50 ]] \
  || fail "pair_usage.used: $(sql 'SELECT * FROM pair_usage')"
[[ $(sql "SELECT count(*) FROM pair_usage") == 1 ]] || fail "D5: one counter for the unordered pair"
# the free ones never reach the ledger
[[ $(sql "SELECT count(*) FROM ledger") == 3 ]] || fail "ledger: $(sql 'SELECT msisdn, kind, amount, rule FROM ledger')"

# R10: the 51st and 52nd (the newest two rows), each charged to its sender
[[ $(sql "SELECT string_agg(src || ' ' || rule || ' ' || free_segments || ' ' || charged_segments || ' ' || price || ' ' || amount, ',' ORDER BY id) FROM (SELECT * FROM sms_usage ORDER BY id OFFSET 50 LIMIT 2) u") \
   == "$A R10 0 1 150 150,$B R10 0 1 200 200" ]] \
  || fail "R10 usage rows: $(sql 'SELECT src, rule, free_segments, charged_segments, price, amount FROM sms_usage ORDER BY id OFFSET 50')"
[[ $(sql "SELECT string_agg(l.msisdn || ' ' || l.kind || ' ' || l.amount || ' ' || l.rule || ' ' || l.bill_date || ' ' || (l.dialog_id = $did) || ' ' || (l.subscriber_id = s.id), ',' ORDER BY l.id) FROM ledger l JOIN subscriber s ON s.msisdn = l.msisdn WHERE l.dialog_id = $did") \
   == "$A sms_over_allowance 150 R10 2026-11-22 true true,$B sms_over_allowance 200 R10 2026-11-22 true true" ]] \
  || fail "R10 ledger: $(sql 'SELECT msisdn, kind, amount, rule, bill_date, dialog_id FROM ledger ORDER BY id')"
# idempotency key of each charge names its usage row (R16)
[[ $(sql "SELECT count(*) FROM ledger l JOIN sms_usage u ON l.idem_key = 'sms:' || u.relay_key AND u.rule = 'R10'") == 3 ]] \
  || fail "R16: ledger idem_key 'sms:<relay_key>'"
# every relayed message kept the SMSC's message id of its relay
[[ $(sql "SELECT count(*) FROM sms_usage WHERE message_id ~ '^[0-9]+\$'") == 53 ]] || fail "message_id not recorded"
# D5: message 53, in the new dialog the same day, is still beyond the allowance
[[ $(sql "SELECT src || ' ' || rule || ' ' || amount || ' ' || dialog_id FROM sms_usage ORDER BY id DESC LIMIT 1") == "$B R10 200 $did2" ]] \
  || fail "D5: a new dialog the same day must not reset the allowance: $(sql 'SELECT src, rule, amount, dialog_id FROM sms_usage ORDER BY id DESC LIMIT 1')"
[[ $(sql "SELECT msisdn || ' ' || kind || ' ' || amount FROM ledger WHERE dialog_id = $did2") == "$B sms_over_allowance 200" ]] \
  || fail "D5: ledger of message 53"
pass "R9 50 free (30+20 shared), R10 51st/52nd charged 150/200 to their senders, D5 not reset by a new dialog"
