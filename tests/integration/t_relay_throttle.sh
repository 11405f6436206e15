#!/usr/bin/env bash
# Issue 4, the SMSC pushing back on a relayed submit_sm (daily_allowance 2):
#   - throttled twice (ESME_RTHROTTLED) then accepted: the MO is answered
#     ESME_ROK, the peer gets the message exactly once, one sms_usage row,
#     and for a chargeable one (R11) exactly one ledger entry;
#   - refused (ESME_RSYSERR): the MO gets ESME_RX_T_APPN (0x64), nothing is
#     delivered or recorded, the reserved allowance unit is released (D6: the
#     next message is still free, R9; the one after it is R10);
#   - R17: a prepaid sender's hold is released on such a refusal (sms_hold
#     empty, balance charged once for the message that went through).
source "$(dirname "$0")/lib.sh"
A=79161234567 B=79167654321 C=79160000003 P=79160000011
new_db
provision_basic "$A" "$B" "$C"
"$DIALOGCTL" subscriber add "$P" --region MOW --tariff BASIC --prepaid --balance 1000 >/dev/null
export DIALOG_NOW=2026-11-22T14:00:00+03:00
start_sim "$SRC_DIR/tests/integration/scenarios/relay_throttle.sim"
write_config "[service]" "daily_allowance = 2"
start_dialogd
wait_sim
stop_dialogd || fail "dialogd did not exit 0 on SIGTERM"

# each accepted relay reached its peer once
for t in "throttled in the dialog" "throttled and charged" "after the refusal" "now charged" "prepaid after the refusal"; do
  [[ $(grep -c "^MT [0-9]* -> [0-9]* \[.*\]: $t\$" "$T_DIR/sim.out") == 1 ]] || fail "'$t' not relayed exactly once"
done
grep '^MT ' "$T_DIR/sim.out" | grep -Eq 'refused (by the SMSC|prepaid)$' && fail "a refused relay was delivered"
[[ $(grep -c 'event=throttled' "$T_DIR/dialogd.log") -ge 4 ]] || fail "the throttling was not seen by the engine"
grep -q 'reason=ESME_RSYSERR answer=ESME_RX_T_APPN' "$T_DIR/dialogd.log" || fail "the refused relay is not logged"

got=$(sql "SELECT string_agg(src || '>' || dst || ' ' || rule || ' ' || free_segments || '+' || charged_segments || ' ' || amount, E'\n' ORDER BY id) FROM sms_usage")
want="$A>$B R9 1+0 0
$A>$C R11 0+1 150
$B>$A R9 1+0 0
$A>$B R10 0+1 150
$P>$B R11 0+1 150"
[[ "$got" == "$want" ]] || fail "usage rows:
--- got
$got
--- want
$want"
[[ $(sql "SELECT string_agg(msisdn || ' ' || kind || ' ' || amount, ',' ORDER BY id) FROM ledger") \
   == "$A sms_standard 150,$A sms_over_allowance 150,$P sms_standard 150" ]] \
  || fail "ledger: $(sql 'SELECT msisdn, kind, amount FROM ledger ORDER BY id')"
[[ $(sql "SELECT used FROM pair_usage") == 2 ]] || fail "pair_usage: $(sql 'SELECT * FROM pair_usage')"
[[ $(sql "SELECT balance FROM subscriber WHERE msisdn = '$P'") == 850 ]] || fail "R17: P's balance: $(sql "SELECT balance FROM subscriber WHERE msisdn = '$P'")"
[[ $(sql "SELECT count(*) FROM sms_hold") == 0 ]] || fail "R17: hold not released: $(sql 'SELECT * FROM sms_hold')"
pass "throttled relays delivered and charged once; refused relay 0x64, unit and hold released"
