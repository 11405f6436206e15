#!/usr/bin/env bash
# Issue 3, subscription flow: crossing invitations and racing answers.
#   D1  B invited A and A texts B's number: that is A's acceptance (R5) —
#       both get activations, the one dialog becomes active, no second dialog,
#       no "invitation sent" to A, no invitation to B;
#   D3  with max_dialogs_per_subscriber = 1, A invites B and C and both
#       answer "1" back to back: exactly one dialog becomes active, the other
#       invitee gets the "limit" reply and its invitation stays pending
#       (and is accepted later, once the limit allows, by answering again).
#   R8  nothing is charged.
source "$(dirname "$0")/lib.sh"
A=79161234567 B=79167654321 C=79031112233
new_db
provision_basic $A $B $C

# ---- phase 1 ------------------------------------------------------------------
export DIALOG_NOW=2026-11-22T14:00:00+03:00
start_sim "$SRC_DIR/tests/integration/scenarios/flow_crossing_1.sim"
write_config
start_dialogd
wait_sim
stop_dialogd || fail "dialogd did not exit 0 on SIGTERM"
cp "$T_DIR/sim.out" "$T_DIR/sim-1.out"

# D1: the first dialog is B's invitation, accepted by A's invite; no other
first=$(sql "SELECT min(id) FROM dialog")
[[ $(sql "SELECT inviter||' '||invitee||' '||(activated_at IS NOT NULL) FROM dialog WHERE id=$first") == "$B $A true" ]] \
  || fail "D1: $(sql "SELECT * FROM dialog WHERE id=$first")"
[[ $(sql "SELECT string_agg(type||':'||coalesce(actor,''), ',' ORDER BY at, id) FROM dialog_event WHERE dialog_id=$first") \
   == "invited:$B,accepted:$A,ended:$A" ]] || fail "D1 events: $(sql "SELECT type,actor FROM dialog_event WHERE dialog_id=$first")"
d1_in=$(sql "SELECT id FROM mo_inbound WHERE src='$A' AND text='8 (916) 765-43-21'")
[[ $(sql "SELECT string_agg(dst||':'||msg, ',' ORDER BY dst) FROM outbox WHERE cause_inbound_id=$d1_in") \
   == "$A:activated_trial,$B:activated_trial" ]] \
  || fail "D1: A's crossing invite should cause exactly the two activations: $(sql "SELECT dst,msg FROM outbox WHERE cause_inbound_id=$d1_in")"
[[ $(sql "SELECT count(*) FROM dialog WHERE inviter='$A' AND invitee='$B' AND created_at <= (SELECT ended_at FROM dialog WHERE id=$first)") == 0 ]] \
  || fail "D1: A's crossing invite created a second dialog"

# D3: of A->B and A->C exactly one is active, the other pending
st() { sql "SELECT state FROM dialog WHERE inviter='$A' AND invitee='$1' AND state IN ('pending','active')"; }
sb=$(st $B) sc=$(st $C)
if [[ $sb == active && $sc == pending ]]; then WIN=$B LOSE=$C
elif [[ $sc == active && $sb == pending ]]; then WIN=$C LOSE=$B
else fail "D3: want one active and one pending, got A->B '$sb', A->C '$sc': $(sql 'SELECT id,inviter,invitee,state FROM dialog')"
fi
[[ $(sql "SELECT count(*) FROM dialog") == 3 ]] || fail "D3: 3 dialogs expected: $(sql 'SELECT id,inviter,invitee,state FROM dialog')"
[[ $(sql "SELECT count(*) FROM dialog WHERE state='active'") == 1 ]] || fail "D3: one active dialog"
[[ $(sql "SELECT count(*) FROM dialog d WHERE d.inviter='$A' AND d.invitee='$LOSE'
            AND NOT EXISTS (SELECT 1 FROM dialog_event e WHERE e.dialog_id=d.id AND e.type<>'invited')") == 1 ]] \
  || fail "D3: the loser's invitation has events besides 'invited'"
# the texts: the winner got its activation, the loser the limit reply naming A
reply_to() { sql "SELECT string_agg(o.msg, ',' ORDER BY o.id) FROM outbox o JOIN mo_inbound m ON m.id=o.cause_inbound_id WHERE m.src='$1' AND m.text='1'"; }
[[ $(reply_to $WIN) == activated_trial,activated_trial ]] || fail "D3 winner $WIN: $(reply_to $WIN)"
[[ $(reply_to $LOSE) == accept_limit_peer ]] || fail "D3 loser $LOSE: $(reply_to $LOSE)"
[[ $(sql "SELECT text FROM outbox WHERE msg='accept_limit_peer'") == *"+$A"* ]] || fail "D3 reply names A"
grep -Eq "^MT 6249 -> $LOSE .*\+$A.*максимум" "$T_DIR/sim-1.out" || fail "D3: the loser did not get the limit reply over SMPP"
grep -Eq "^MT 6249 -> $WIN .*\+$A подключён" "$T_DIR/sim-1.out" || fail "D3: the winner did not get its activation over SMPP"
[[ $(grep -c "^MT 6249 -> $A .*подключён" "$T_DIR/sim-1.out") == 2 ]] || fail "A should get 2 activations in all (D1 + D3)"
[[ $(sql "SELECT count(*) FROM ledger") == 0 ]] || fail "R8: ledger not empty"

# ---- phase 2: the loser's invitation is still valid once the winner stops -----
sed -e "s/WINNER/$WIN/g" -e "s/LOSER/$LOSE/g" "$SRC_DIR/tests/integration/scenarios/flow_crossing_2.sim" >"$T_DIR/phase2.sim"
export DIALOG_NOW=2026-11-22T14:10:00+03:00
start_sim "$T_DIR/phase2.sim"
write_config
start_dialogd
wait_sim
stop_dialogd || fail "dialogd did not exit 0 on SIGTERM (phase 2)"
[[ $(st $LOSE) == active ]] || fail "D3: the loser's kept invitation should now be active: $(st $LOSE)"
[[ $(sql "SELECT state FROM dialog WHERE inviter='$A' AND invitee='$WIN' ORDER BY id DESC LIMIT 1") == ended ]] || fail "winner's dialog ended"
[[ $(sql "SELECT count(*) FROM dialog") == 3 ]] || fail "no new dialog in phase 2"
[[ $(sql "SELECT count(*) FROM ledger") == 0 ]] || fail "R8: ledger not empty"
pass
