#!/usr/bin/env bash
# Issue 4, traffic outside an active dialog:
#   R11 subscribers with no dialog: relayed unchanged, charged to the sender
#       at its tariff price, ledger kind sms_standard, rule R11;
#   D8  an off-net destination (a number that is not provisioned, or a
#       short number) is relayed and charged R11; a sender that is not a subscriber, or a
#       blocked one, gets ESME_RX_R_APPN (0x66): nothing relayed, no usage
#       row, no ledger entry (the block is learnt from NOTIFY: C was cached
#       as active before);
#   R2  in the dialog, the peer written in national form (8916...) is the
#       same pair: free (R9);
#   D13 a suspended dialog is not active: both directions rated R11 (the
#       suspension done by SQL reaches the engine by NOTIFY).
source "$(dirname "$0")/lib.sh"
A=79161234567 B=79167654321 C=79160000003 X=79995550000 O=79990000000
new_db
provision_basic "$A" "$B"
"$DIALOGCTL" tariff add PLUS --sms-price 200 >/dev/null
"$DIALOGCTL" subscriber add "$C" --region MOW --tariff PLUS --postpaid >/dev/null
export DIALOG_NOW=2026-11-22T14:00:00+03:00
start_sim "$SRC_DIR/tests/integration/scenarios/relay_r11.sim"
write_config
start_dialogd
wait_for 30 grep -q '^BLOCK-C' "$T_DIR/sim.out" || { wait_sim; fail "scenario did not reach BLOCK-C"; }
"$DIALOGCTL" subscriber block "$C" >/dev/null || fail "dialogctl subscriber block failed"
wait_for 30 grep -q '^SUSPEND' "$T_DIR/sim.out" || { wait_sim; fail "scenario did not reach SUSPEND"; }
sql "UPDATE dialog SET state = 'suspended' WHERE inviter = '$A' AND invitee = '$B' AND state = 'active'" >/dev/null
wait_sim
stop_dialogd || fail "dialogd did not exit 0 on SIGTERM"

did=$(sql "SELECT id FROM dialog WHERE inviter = '$A' AND invitee = '$B'")
got=$(sql "SELECT string_agg(src || '>' || dst || ' ' || rule || ' ' || free_segments || '+' || charged_segments || ' ' || amount || ' ' || coalesce(dialog_id::text, '-'), E'\n' ORDER BY id) FROM sms_usage")
want="$A>$B R11 0+1 150 -
$A>$O R11 0+1 150 -
$A>900 R11 0+1 150 -
$C>$A R11 0+1 200 -
$B>$A R9 1+0 0 $did
$A>$B R9 1+0 0 $did
$A>$B R11 0+1 150 -
$B>$A R11 0+1 150 -"
[[ "$got" == "$want" ]] || fail "usage rows (src>dst rule free+charged amount dialog):
--- got
$got
--- want
$want"
got=$(sql "SELECT string_agg(msisdn || ' ' || kind || ' ' || amount || ' ' || rule, E'\n' ORDER BY id) FROM ledger")
want="$A sms_standard 150 R11
$A sms_standard 150 R11
$A sms_standard 150 R11
$C sms_standard 200 R11
$A sms_standard 150 R11
$B sms_standard 150 R11"
[[ "$got" == "$want" ]] || fail "ledger:
--- got
$got
--- want
$want"
# D8: nothing from the stranger or the blocked C was relayed or recorded
grep -q "^MT $X " "$T_DIR/sim.out" && fail "D8: a stranger's message was relayed"
grep -q "^MT $C -> $A \[.*\]: from C while blocked" "$T_DIR/sim.out" && fail "D8: a blocked sender's message was relayed"
[[ $(sql "SELECT count(*) FROM sms_usage WHERE src IN ('$X') OR at > (SELECT min(at) FROM sms_usage WHERE src = '$C') AND src = '$C'") == 0 ]] \
  || fail "D8: usage recorded for a refused message"
grep -q "src=$X .*rule=D8 answer=ESME_RX_R_APPN" "$T_DIR/dialogd.log" || fail "D8: the refusal of a stranger is not logged"
grep -q "src=$C .*blocked.*answer=ESME_RX_R_APPN" "$T_DIR/dialogd.log" || fail "D8: the refusal of a blocked sender is not logged"
# the refused messages used no allowance (D6): the only units are the 2 R9
[[ $(sql "SELECT coalesce(sum(used), 0) FROM pair_usage") == 2 ]] || fail "pair_usage: $(sql 'SELECT * FROM pair_usage')"
pass "R11 no dialog / off-net / suspended (D13) charged sms_standard; D8 stranger and blocked sender 0x66"
