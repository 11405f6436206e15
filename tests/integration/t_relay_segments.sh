#!/usr/bin/env bash
# Issue 4, D6 segments (daily_allowance = 4), dialogs A-B and C-D:
#   - a deliver_sm with 400 GSM characters in message_payload (sm_length 0)
#     counts 3 segments (153 each); 306 counts exactly 2; 135 UCS-2
#     characters count 3 (67 each);
#   - a concatenated SMS (three deliver_sm with a UDH, esm_class 0x40)
#     counts 3, one per part, and is relayed as one message in 3 parts;
#   - the allowance running out inside a multi-part message: the parts
#     within it free, the rest charged (R10) — both for the UDH form (1 free,
#     2 charged) and for one long deliver_sm (3 segments with 2 units left:
#     2 free + 1 charged), in sms_usage free_segments/charged_segments;
#   - amount = charged segments x the sender's price (A, C, D 150; B 200).
source "$(dirname "$0")/lib.sh"
A=79161234567 B=79167654321 C=79160000003 D=79160000004
new_db
provision_basic "$A" "$C" "$D"
"$DIALOGCTL" tariff add PLUS --sms-price 200 >/dev/null
"$DIALOGCTL" subscriber add "$B" --region MOW --tariff PLUS --postpaid >/dev/null
export DIALOG_NOW=2026-11-22T14:00:00+03:00
start_sim "$SRC_DIR/tests/integration/scenarios/relay_segments.sim"
write_config "[service]" "daily_allowance = 4"
start_dialogd
wait_sim
stop_dialogd || fail "dialogd did not exit 0 on SIGTERM"

got=$(sql "SELECT string_agg(src || '>' || dst || ' ' || segments || ' ' || free_segments || '+' || charged_segments || ' ' || amount || ' ' || rule, E'\n' ORDER BY id) FROM sms_usage")
want="$B>$A 3 3+0 0 R9
$A>$B 1 1+0 0 R9
$A>$B 1 0+1 150 R10
$A>$B 1 0+1 150 R10
$B>$A 3 0+3 600 R10
$C>$D 1 1+0 0 R9
$D>$C 1 1+0 0 R9
$C>$D 3 2+1 150 R10
$D>$C 2 0+2 300 R10"
[[ "$got" == "$want" ]] || fail "D6 usage rows (src>dst segments free+charged amount rule):
--- got
$got
--- want
$want"
[[ $(sql "SELECT string_agg(pair_lo || '-' || pair_hi || '=' || used, ' ' ORDER BY pair_lo) FROM pair_usage") == "$C-$D=4 $A-$B=4" ]] \
  || fail "pair_usage: $(sql 'SELECT * FROM pair_usage')"
[[ $(sql "SELECT string_agg(msisdn || ' ' || kind || ' ' || amount, ',' ORDER BY id) FROM ledger") \
   == "$A sms_over_allowance 150,$A sms_over_allowance 150,$B sms_over_allowance 600,$C sms_over_allowance 150,$D sms_over_allowance 300" ]] \
  || fail "ledger: $(sql 'SELECT msisdn, kind, amount, rule FROM ledger ORDER BY id')"
# the concatenated message went out as three parts of one message (the
# transcript's MT line), the long ones as one message each
grep -q "^MT $A -> $B \[gsm, 3 parts\]: Part one of three, part two of three, and part three\.\$" "$T_DIR/sim.out" \
  || fail "the UDH message was not relayed as one 3-part message: $(grep "^MT $A" "$T_DIR/sim.out")"
pass "D6: message_payload 400 GSM=3, 306 GSM=2, 135 UCS-2=3, UDH parts 1 each; allowance ends inside a message"
