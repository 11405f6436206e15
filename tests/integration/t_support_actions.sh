#!/usr/bin/env bash
# dialogctl dialog create / dialog end as support actions against a real
# PostgreSQL (R14, R15, D2, D10, D13): --agent required, passport check,
# operator fee per region, waiver with a reason (audited), selfcare free,
# nothing to end, PEER, one fee per request, prepaid that cannot pay, an
# operator invitation charged only when accepted, R4 refusals.
source "$(dirname "$0")/lib.sh"
new_db
C="$DIALOGCTL"
unset DIALOG_CONFIG
export DIALOG_NOW=2026-11-22T14:00:00+03:00
NOW=2026-11-22T14:00:00+03:00
LATER=2026-11-22T15:00:00+03:00
# Two dialogs per subscriber, so that one request can end two (D10).
printf '[service]\nmax_dialogs_per_subscriber = 2\n' >"$T_DIR/dialog.ini"
export DIALOG_CONFIG="$T_DIR/dialog.ini"

"$C" db init >/dev/null
"$C" region add MOW --tz Europe/Moscow >/dev/null                      # default fee 4500
"$C" region add SPB --tz Europe/Moscow --operator-fee 3000 >/dev/null
"$C" tariff add BASE --sms-price 150 >/dev/null
A=79160000001 B=79160000002 CC=79160000003 D=79160000004 E=79160000005
S=79120000001                                  # region SPB
P0=79160000010 P1=79160000011 P2=79160000012   # prepaid
for m in $A $B $CC $D $E; do "$C" subscriber add $m --region MOW --tariff BASE --postpaid >/dev/null; done
"$C" subscriber add $S --region SPB --tariff BASE --postpaid >/dev/null
"$C" subscriber add $P0 --region MOW --tariff BASE --prepaid --balance 0 >/dev/null
"$C" subscriber add $P1 --region MOW --tariff BASE --prepaid --balance 5000 >/dev/null
"$C" subscriber add $P2 --region MOW --tariff BASE --prepaid --balance 0 >/dev/null

LIM="'6249', 2, 5, 10, 86400, 30, 7"
# sms FROM CMD [NUMBER] [AT]: a command by SMS, as dialogd runs it
sms() {
  local num=${3:+\'$3\'}
  sql "SELECT count(*) FROM dlg_command('${4:-$NOW}', '$1', '$2', ${num:-NULL}, NULL, $LIM)" >/dev/null
}
# active FROM TO: an active dialog made by SMS (invite + accept) -> its id
active() {
  sms "$1" invite "$2"; sms "$2" accept "$1"
  sql "SELECT id FROM dialog WHERE inviter = '$1' AND invitee = '$2' AND state = 'active'"
}
state() { sql "SELECT state FROM dialog WHERE id = $1"; }
fees() { sql "SELECT count(*) || ':' || coalesce(sum(amount), 0) FROM ledger WHERE msisdn = '$1' AND kind = 'operator_fee'"; }
nrows() { sql "SELECT count(*) FROM $1"; }
balance() { sql "SELECT balance FROM subscriber WHERE msisdn = '$1' AND retired_at IS NULL"; }
end_op() { "$C" --agent anna dialog end "$@" --channel operator --passport-verified; }

# ---- --agent is required (exit 2) --------------------------------------------
DAB=$(active $A $B)
export USER=root   # the \$USER fallback of other commands does not count
expect_exit 2 "$C" dialog end $A --channel selfcare
expect_grep 'agent NAME is required'
expect_exit 2 "$C" dialog create $A $CC --channel operator --passport-verified
expect_grep 'agent NAME is required'
expect_exit 2 "$C" --agent anna dialog end $A                     # no --channel
expect_exit 2 "$C" --agent anna dialog end $A --channel phone
expect_exit 2 "$C" --agent anna dialog create $A $CC --channel selfcare --passport-verified
[[ $(state $DAB) == active ]] || fail "usage errors changed a dialog"
pass "--agent and --channel required (exit 2)"

# ---- R15: operator end needs the passport check -------------------------------
before="$(nrows outbox) $(nrows audit) $(nrows dialog_event) $(nrows ledger)"
expect_exit 3 "$C" --agent anna dialog end $A --channel operator
expect_grep 'R15'
expect_grep 'passport'
after="$(nrows outbox) $(nrows audit) $(nrows dialog_event) $(nrows ledger)"
[[ $before == "$after" && $(state $DAB) == active ]] || fail "R15 refusal changed something: $before -> $after"
pass "R15 operator end without --passport-verified: exit 3, nothing changed"

# ---- R15: --waive-fee needs --reason -------------------------------------------
expect_exit 2 end_op $A --waive-fee
expect_grep 'reason'
expect_exit 2 "$C" --agent anna dialog end $A --channel selfcare --waive-fee --reason x
[[ $(state $DAB) == active && $(nrows ledger) == 0 ]] || fail "waiver usage error changed something"
pass "R15 --waive-fee without --reason: exit 2"

# ---- R15: operator end charges the requester the region's fee ----------------
expect_exit 0 end_op $A
expect_grep 'charged'
[[ $(state $DAB) == ended ]] || fail "dialog $DAB not ended: $(state $DAB)"
[[ $(fees $A) == 1:4500 ]] || fail "R15 default fee: $(fees $A)"
[[ $(fees $B) == 0:0 ]] || fail "the peer was charged: $(fees $B)"
[[ $(balance $A) == -4500 ]] || fail "postpaid balance $(balance $A)"
[[ $(sql "SELECT rule || ' ' || bill_date || ' ' || dialog_id || ' ' || idem_key FROM ledger WHERE msisdn = '$A'") =~ ^R15\ 2026-11-22\ $DAB\ operator_fee:end:[0-9]+$ ]] \
  || fail "ledger entry: $(sql "SELECT * FROM ledger WHERE msisdn = '$A'")"
aid=$(sql "SELECT id FROM audit WHERE action = 'dialog end' ORDER BY id DESC LIMIT 1")
[[ $(sql "SELECT idem_key FROM ledger WHERE msisdn = '$A'") == "operator_fee:end:$aid" ]] || fail "idem_key does not name audit $aid"
[[ $(sql "SELECT agent || ' ' || (detail->>'channel') || ' ' || (detail->>'passport_verified') || ' ' || (detail->>'fee')
          FROM audit WHERE id = $aid") == "anna operator true 4500" ]] || fail "audit: $(sql "SELECT detail FROM audit WHERE id = $aid")"
[[ $(sql "SELECT actor || ' ' || channel FROM dialog_event WHERE dialog_id = $DAB AND type = 'ended'") == "anna operator" ]] \
  || fail "event actor/channel: $(sql "SELECT * FROM dialog_event WHERE dialog_id = $DAB")"
# D2 / R14: both sides told; the requester also gets operator_ended with the fee
[[ $(sql "SELECT string_agg(dst || ':' || msg, ' ' ORDER BY id) FROM outbox WHERE id > (SELECT max(id) FROM outbox WHERE msg LIKE 'activated%')") \
   == "$A:ended_self $B:ended_peer $A:operator_ended" ]] || fail "notices: $(sql "SELECT dst, msg FROM outbox ORDER BY id")"
[[ $(sql "SELECT params->>'fee_kop' || ' ' || (params->>'peer') FROM outbox WHERE msg = 'operator_ended'") == "4500 +$B" ]] \
  || fail "operator_ended params"
pass "R15 operator end: 4500 kop charged once to the requester, audited, both told (D2)"

# another region, its own fee (D12)
DSB=$(active $S $B)
expect_exit 0 end_op $S
[[ $(fees $S) == 1:3000 && $(state $DSB) == ended ]] || fail "R15 region fee: $(fees $S)"
pass "R15/D12 operator fee of the requester's region (3000)"

# ---- waiver with a reason: no charge, audited ----------------------------------
DAC=$(active $A $CC)
expect_exit 0 end_op $A --waive-fee --reason "network fault, ticket 77"
expect_grep 'waived'
[[ $(state $DAC) == ended && $(fees $A) == 1:4500 ]] || fail "waived end charged: $(fees $A)"
[[ $(sql "SELECT (detail->>'fee_waived') || '|' || (detail->>'reason') || '|' || (detail->>'fee') FROM audit WHERE action = 'dialog end' ORDER BY id DESC LIMIT 1") \
   == "true|network fault, ticket 77|0" ]] || fail "waiver not audited"
pass "R15 --waive-fee --reason: no charge, reason audited"

# ---- selfcare: free (R14) --------------------------------------------------------
DAB2=$(active $A $B)
expect_exit 0 "$C" --agent web dialog end $B --channel selfcare
[[ $(state $DAB2) == ended && $(fees $A) == 1:4500 && $(fees $B) == 0:0 ]] || fail "R14 selfcare charged"
[[ $(sql "SELECT actor || ' ' || channel FROM dialog_event WHERE dialog_id = $DAB2 AND type = 'ended'") == "web selfcare" ]] || fail "selfcare event"
pass "R14 selfcare end is free"

# ---- nothing to end: exit 4, no fee (D10) ---------------------------------------
n0=$(nrows ledger); a0=$(nrows audit); o0=$(nrows outbox)
expect_exit 4 end_op $A
expect_grep 'D10'
expect_exit 4 end_op $D $E
# an invitation TO D stays (D2) and is not D's to end
sms $E invite $D
expect_exit 4 end_op $D
[[ $(nrows ledger) == "$n0" && $(nrows audit) == "$a0" ]] || fail "D10 nothing to end charged or audited"
expect_exit 4 end_op 79169999999
pass "D10 nothing to end: exit 4, no fee"

# ---- PEER: only that dialog (D2) -----------------------------------------------
DAB3=$(active $A $B); DAC3=$(active $A $CC)
expect_exit 0 end_op $A $CC
[[ $(state $DAC3) == ended && $(state $DAB3) == active ]] || fail "PEER ended the wrong dialogs"
[[ $(fees $A) == 2:9000 ]] || fail "fee: $(fees $A)"
pass "D2 end MSISDN PEER ends only that dialog"

# ---- one request, two dialogs and a sent invitation, one fee (D10) -------------
sms $A invite $D                  # A has a pending invitation out
DAD=$(sql "SELECT id FROM dialog WHERE inviter = '$A' AND invitee = '$D' AND state = 'pending'")
[[ -n $DAD ]] || fail "fixture: no invitation A -> D"
DAC4=$(active $CC $A)             # and A is the invitee here
expect_exit 0 "$C" --agent anna --json dialog end $A --channel operator --passport-verified
python3 - "$T_DIR/last.out" <<'PY' || fail "json: $(cat "$T_DIR/last.out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["status"] == "ok" and j["fee"] == 4500 and j["channel"] == "operator", j
assert sorted(d["event"] for d in j["dialogs"]) == ["ended", "ended", "withdrawn"], j
PY
[[ $(state $DAB3) == ended && $(state $DAC4) == ended && $(state $DAD) == ended ]] || fail "not all ended"
[[ $(sql "SELECT type FROM dialog_event WHERE dialog_id = $DAD ORDER BY id DESC LIMIT 1") == withdrawn ]] || fail "D2 withdrawn event"
[[ $(sql "SELECT count(*) FROM outbox WHERE dst = '$D' AND msg = 'withdrawn_invitee'") == 1 ]] || fail "invitee not told"
[[ $(fees $A) == 3:13500 ]] || fail "D10 one request two dialogs: $(fees $A)"
pass "D10 one request ending two dialogs and an invitation: one fee"

# ---- D13: prepaid that cannot pay ------------------------------------------------
DP=$(active $P0 $B)
expect_exit 3 end_op $P0
expect_grep 'D13'
[[ $(state $DP) == active && $(fees $P0) == 0:0 ]] || fail "D13 unpaid end changed something"
expect_exit 0 end_op $P0 --waive-fee --reason "cannot pay, goodwill"
[[ $(state $DP) == ended && $(fees $P0) == 0:0 && $(balance $P0) == 0 ]] || fail "D13 waived"
pass "D13 prepaid with balance 0: exit 3 unless waived"

# ---- create: pending invitation, charged on acceptance ---------------------------
expect_exit 0 "$C" --agent anna dialog create $A $E --channel operator --passport-verified
expect_grep 'accepted'
DAE=$(sql "SELECT id FROM dialog WHERE inviter = '$A' AND invitee = '$E'")
[[ $(sql "SELECT state || ' ' || channel FROM dialog WHERE id = $DAE") == "pending operator" ]] || fail "create: $(sql "SELECT * FROM dialog WHERE id = $DAE")"
[[ $(sql "SELECT count(*) FROM outbox WHERE dst = '$E' AND msg LIKE 'invitation%' AND params->>'peer' = '+$A'") == 1 ]] || fail "no invitation SMS"
[[ $(sql "SELECT count(*) FROM outbox WHERE dst = '$A' AND msg = 'invite_sent' AND params->>'peer' = '+$E'") == 1 ]] || fail "no invite_sent"
[[ $(sql "SELECT actor || ' ' || channel FROM dialog_event WHERE dialog_id = $DAE AND type = 'invited'") == "anna operator" ]] || fail "invited event"
[[ $(fees $A) == 3:13500 ]] || fail "charged before acceptance"
sms $E accept "" $LATER
[[ $(state $DAE) == active ]] || fail "not accepted"
[[ $(fees $A) == 4:18000 && $(fees $E) == 0:0 ]] || fail "R15 create fee on acceptance: $(fees $A)"
[[ $(sql "SELECT count(*) FROM ledger WHERE idem_key = 'operator_fee:create:$DAE' AND amount = 4500 AND dialog_id = $DAE") == 1 ]] || fail "create idem key"
sql "SELECT sup_create_charge('$LATER', $DAE)" >/dev/null      # idempotent
[[ $(fees $A) == 4:18000 ]] || fail "charged twice"
pass "R15/D10 operator create: pending + invitation, fee charged once on acceptance"

# declined / expired: no fee; prepaid fee held meanwhile and released
expect_exit 0 "$C" --agent anna dialog create $P1 $D --channel operator --passport-verified
[[ $(sql "SELECT dlg_spendable(id) FROM subscriber WHERE msisdn = '$P1'") == 500 ]] || fail "fee not held"
sms $D decline
[[ $(fees $P1) == 0:0 && $(balance $P1) == 5000 ]] || fail "declined create charged"
[[ $(sql "SELECT dlg_spendable(id) FROM subscriber WHERE msisdn = '$P1'") == 5000 ]] || fail "hold not released"
expect_exit 0 "$C" --agent anna dialog create $CC $D --channel operator --passport-verified
sql "SELECT count(*) FROM dlg_expire_due('2026-11-24T14:00:00+03:00', '6249')" >/dev/null
[[ $(sql "SELECT state FROM dialog WHERE inviter = '$CC' AND invitee = '$D'") == expired && $(fees $CC) == 0:0 ]] || fail "expired create charged"
pass "D10 declined / expired operator create: no fee (prepaid hold released)"

# prepaid able to pay: charged on acceptance from the held money
expect_exit 0 "$C" --agent anna dialog create $P1 $E --channel operator --passport-verified
sms $E accept $P1 $LATER
[[ $(fees $P1) == 1:4500 && $(balance $P1) == 500 ]] || fail "prepaid create: $(fees $P1) balance $(balance $P1)"
[[ $(sql "SELECT count(*) FROM sms_hold") == 0 ]] || fail "hold left behind"
pass "R15 prepaid create charged on acceptance"

# D13 at create: prepaid 0 -> exit 3, nothing sent; waived -> no fee on acceptance
o0=$(nrows outbox)
expect_exit 3 "$C" --agent anna dialog create $P2 $B --channel operator --passport-verified
expect_grep 'D13'
[[ $(nrows outbox) == "$o0" && $(sql "SELECT count(*) FROM dialog WHERE inviter = '$P2'") == 0 ]] || fail "D13 create did something"
expect_exit 0 "$C" --agent anna dialog create $P2 $B --channel operator --passport-verified --waive-fee --reason "promo"
sms $B accept $P2 $LATER
[[ $(sql "SELECT state FROM dialog WHERE inviter = '$P2'") == active && $(fees $P2) == 0:0 ]] || fail "waived create"
[[ $(sql "SELECT waived FROM operator_request r JOIN dialog d ON d.id = r.dialog_id WHERE d.inviter = '$P2'") == t ]] || fail "waiver not recorded"
pass "D13 prepaid create that cannot pay: exit 3 unless waived"

# ---- create refused by R4: exit 3, no fee, the normal refusal SMS ----------------
n0=$(nrows ledger)
expect_exit 3 "$C" --agent anna dialog create $A $A --channel operator --passport-verified
expect_grep 'R4'
[[ $(sql "SELECT msg FROM outbox ORDER BY id DESC LIMIT 1") == err_self ]] || fail "no err_self SMS"
expect_exit 3 "$C" --agent anna dialog create $A $E --channel operator --passport-verified   # dialog exists
[[ $(sql "SELECT msg FROM outbox ORDER BY id DESC LIMIT 1") == err_dialog_exists ]] || fail "no err_dialog_exists SMS"
[[ $(nrows ledger) == "$n0" && $(sql "SELECT count(*) FROM operator_request r JOIN dialog d ON d.id = r.dialog_id WHERE d.state = 'pending'") == 0 ]] || fail "R4 refusal charged"
[[ $(sql "SELECT detail->>'outcome' FROM audit WHERE action = 'dialog create' ORDER BY id DESC LIMIT 1") == refused ]] || fail "refusal not audited"
expect_exit 3 "$C" --agent anna dialog create $A $CC --channel operator       # no passport
expect_grep 'R15'
pass "R4 operator create refused: exit 3, no fee (D10)"

# ---- D1: B had invited A: the operator create is the acceptance, charged now -----
sms $D invite $CC
expect_exit 0 "$C" --agent anna dialog create $CC $D --channel operator --passport-verified
expect_grep 'D1'
[[ $(sql "SELECT state FROM dialog WHERE inviter = '$D' AND invitee = '$CC' ORDER BY id DESC LIMIT 1") == active ]] || fail "D1 not active"
[[ $(fees $CC) == 1:4500 ]] || fail "D1 create fee: $(fees $CC)"
pass "D1 crossing operator create: active and charged at once"
