#!/usr/bin/env bash
# Issue 4, R17 prepaid senders (daily_allowance = 2, all prices 150):
#   - P prepaid, balance 0, no dialog: ESME_RX_R_APPN (0x66), the peer gets
#     nothing, no usage row, no ledger entry, no hold left;
#   - P topped up by SQL (balance 1000): the next message passes, charged
#     R11; balance 850; sms_hold empty afterwards;
#   - Q prepaid, balance 0, in a dialog: inside the allowance it passes free
#     (R9); a 3-segment message with 1 unit left (1 free + 2 charged) is
#     refused and uses no allowance (D6): the next single one is still free;
#     beyond the allowance refused;
#   - R postpaid, balance 0: always passes and is charged;
#   - D13 K prepaid, balance 0, --credit-limit 200: one 150 message passes
#     (balance -150), the next would go below -200: refused;
#   - S prepaid, balance 150, two chargeable messages in flight at once: only
#     one is relayed and charged, the balance never goes below 0.
source "$(dirname "$0")/lib.sh"
A=79161234567 B=79167654321
P=79160000011 Q=79160000012 R=79160000013 K=79160000014 S=79160000015
new_db
provision_basic "$A" "$B" "$R"
"$DIALOGCTL" subscriber add "$P" --region MOW --tariff BASIC --prepaid --balance 0 >/dev/null
"$DIALOGCTL" subscriber add "$Q" --region MOW --tariff BASIC --prepaid --balance 0 >/dev/null
"$DIALOGCTL" subscriber add "$K" --region MOW --tariff BASIC --prepaid --balance 0 --credit-limit 200 >/dev/null
"$DIALOGCTL" subscriber add "$S" --region MOW --tariff BASIC --prepaid --balance 150 >/dev/null
export DIALOG_NOW=2026-11-22T14:00:00+03:00
start_sim "$SRC_DIR/tests/integration/scenarios/relay_prepaid.sim"
write_config "[service]" "daily_allowance = 2"
start_dialogd
wait_for 30 grep -q '^TOPUP' "$T_DIR/sim.out" || { wait_sim; fail "scenario did not reach TOPUP"; }
# the refused message left nothing behind
[[ $(sql "SELECT (SELECT count(*) FROM sms_usage) || ' ' || (SELECT count(*) FROM ledger) || ' ' || (SELECT count(*) FROM sms_hold) || ' ' || (SELECT balance FROM subscriber WHERE msisdn = '$P')") == "0 0 0 0" ]] \
  || fail "R17: a refused message left usage/ledger/hold/balance: $(sql 'SELECT * FROM sms_usage'; sql 'SELECT * FROM ledger'; sql 'SELECT * FROM sms_hold')"
sql "UPDATE subscriber SET balance = 1000 WHERE msisdn = '$P'" >/dev/null
wait_sim
stop_dialogd || fail "dialogd did not exit 0 on SIGTERM"

# nothing relayed but what the scenario expected (each refusal had expect-no-mt)
grep '^MT ' "$T_DIR/sim.out" | grep -Eq 'unpaid message|over the allowance|beyond credit|0123456789' && fail "R17: a refused message was relayed"
[[ $(grep -c "^MT $Q -> $A " "$T_DIR/sim.out") == 2 ]] || fail "Q: exactly 2 relayed messages expected"

got=$(sql "SELECT string_agg(src || ' ' || rule || ' ' || segments || ' ' || free_segments || '+' || charged_segments || ' ' || amount, E'\n' ORDER BY id) FROM sms_usage")
want="$P R11 1 0+1 150
$Q R9 1 1+0 0
$Q R9 1 1+0 0
$R R11 1 0+1 150
$K R11 1 0+1 150
$S R11 1 0+1 150"
[[ "$got" == "$want" ]] || fail "usage rows:
--- got
$got
--- want
$want"
[[ $(sql "SELECT string_agg(msisdn || ' ' || kind || ' ' || amount, ',' ORDER BY id) FROM ledger") == "$P sms_standard 150,$R sms_standard 150,$K sms_standard 150,$S sms_standard 150" ]] \
  || fail "ledger: $(sql 'SELECT msisdn, kind, amount FROM ledger ORDER BY id')"
[[ $(sql "SELECT string_agg(msisdn || '=' || balance, ' ' ORDER BY msisdn) FROM subscriber WHERE msisdn IN ('$P', '$Q', '$K', '$S')") == "$P=850 $Q=0 $K=-150 $S=0" ]] \
  || fail "R17 balances: $(sql "SELECT msisdn, balance FROM subscriber WHERE account_type = 'prepaid'")"
[[ $(sql "SELECT count(*) FROM sms_hold") == 0 ]] || fail "R17: holds left: $(sql 'SELECT * FROM sms_hold')"
[[ $(sql "SELECT used FROM pair_usage WHERE pair_lo = '$Q' AND pair_hi = '$A'") == 2 ]] \
  || fail "D6: a refused message must use no allowance: $(sql 'SELECT * FROM pair_usage')"
[[ $(grep -c 'rule=R17 answer=ESME_RX_R_APPN' "$T_DIR/dialogd.log") == 5 ]] || fail "R17: 5 refusals expected in the log"
# the race: exactly one of S's two messages relayed, the other refused
[[ $(grep -c "^MT $S -> " "$T_DIR/sim.out") == 1 ]] || fail "R17: S: exactly one of the two racing messages must be relayed"
[[ $(grep '^RESP #' "$T_DIR/sim.out" | tail -n 2 | grep -o 'ESME_[A-Z_]*' | sort | tr '\n' ' ') == "ESME_ROK ESME_RX_R_APPN " ]] \
  || fail "R17: S: one ESME_ROK and one ESME_RX_R_APPN expected: $(grep '^RESP #' "$T_DIR/sim.out" | tail -n 2)"
pass "R17 prepaid refused/unrefused by balance, free inside the allowance, postpaid always; D13 credit limit; D6 refused uses no allowance"
