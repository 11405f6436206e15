#!/usr/bin/env bash
# Issue 3, subscription flow: answers to invitations over SMPP.
#   R6  "1" accepts the newest pending invitation; "1 <number>" the one from
#       that number (written in any R2 form), even when it is not the newest;
#   R7  "2" declines the newest, "2 <number>" the one from that number; the
#       inviter is told, the invitee confirmed, the dialog is declined and
#       nothing is charged;
#   D3  "1" while at max_dialogs_per_subscriber is refused with a reason and
#       the invitation stays pending (accepted later by "1 <number>");
#   "1"/"2" with nothing pending, and "1/2 <number>" with no invitation from
#   that number, get their own replies and change nothing.
source "$(dirname "$0")/lib.sh"
A=79161234567 B=79167654321 C=79031112233 D=79261112233 E=79851112233
new_db
provision_basic $A $B $C $D $E
export DIALOG_NOW=2026-11-22T14:00:00+03:00
start_sim "$SRC_DIR/tests/integration/scenarios/flow_answers.sim"
write_config
start_dialogd
wait_sim
stop_dialogd || fail "dialogd did not exit 0 on SIGTERM"

state_of() { sql "SELECT string_agg(state, ',' ORDER BY id) FROM dialog WHERE inviter='$1' AND invitee='$2'"; }
[[ $(sql "SELECT count(*) FROM dialog") == 4 ]] || fail "4 dialogs expected: $(sql 'SELECT id,inviter,invitee,state FROM dialog')"
[[ $(state_of $A $B) == declined ]] || fail "R7: A->B should be declined, is $(state_of $A $B)"
[[ $(state_of $D $B) == ended ]] || fail "R6: D->B (newest) accepted then stopped, is $(state_of $D $B)"
[[ $(state_of $C $B) == active ]] || fail "D3/R6: C->B should be active, is $(state_of $C $B)"
[[ $(state_of $E $B) == declined ]] || fail "R7: E->B should be declined, is $(state_of $E $B)"
# declined: ended_at set, never activated
[[ $(sql "SELECT bool_and(activated_at IS NULL AND ended_at IS NOT NULL) FROM dialog WHERE state='declined'") == t ]] \
  || fail "declined dialogs: $(sql "SELECT * FROM dialog WHERE state='declined'")"
ev() { sql "SELECT string_agg(e.type||':'||coalesce(e.actor,''), ',' ORDER BY e.at, e.id) FROM dialog_event e JOIN dialog d ON d.id=e.dialog_id WHERE d.inviter='$1' AND d.invitee='$2'"; }
[[ $(ev $A $B) == "invited:$A,declined:$B" ]] || fail "A->B events: $(ev $A $B)"
[[ $(ev $D $B) == "invited:$D,accepted:$B,ended:$B" ]] || fail "D->B events: $(ev $D $B)"
[[ $(ev $C $B) == "invited:$C,accepted:$B" ]] || fail "C->B events (the D3 refusal must leave no event): $(ev $C $B)"
[[ $(ev $E $B) == "invited:$E,declined:$B" ]] || fail "E->B events: $(ev $E $B)"
# C's acceptance came after the D3 refusal: the same invitation, kept pending
[[ $(sql "SELECT count(*) FROM outbox WHERE dst='$B' AND msg='accept_limit_self'") == 1 ]] || fail "D3 reply"
# the replies, by catalog name, in the order the commands came
got=$(sql "SELECT string_agg(o.msg, ',' ORDER BY o.id) FROM outbox o JOIN mo_inbound m ON m.id=o.cause_inbound_id
            WHERE m.src='$B' AND o.dst='$B' AND m.text IN ('1','2','2 9161234567','1 +79261112233')")
[[ $got == "activated_trial,declined_invitee,nothing_pending,nothing_pending,no_invite_from,no_invite_from" ]] \
  || fail "replies to bare/absent answers: $got"
# R7: nothing charged to anyone; R8 connecting free
[[ $(sql "SELECT count(*) FROM ledger") == 0 ]] || fail "R7/R8: ledger not empty"
# R6: the accepted invitations are active from the answer's instant
[[ $(sql "SELECT count(*) FROM dialog WHERE activated_at IS NOT NULL") == 2 ]] || fail "two activations"
pass
