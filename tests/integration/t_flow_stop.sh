#!/usr/bin/env bash
# Issue 3, R14 and D2 over real SMPP, with max_dialogs_per_subscriber = 3:
# - "СТОП <number in 8-form>" ends only the dialog with that peer; both told.
# - "stop" (any case) ends every open dialog of the sender (both told) and
#   withdraws the sender's pending invitations (invitee told "withdrawn",
#   state ended, event withdrawn), but invitations pending TO the sender stay
#   (D2): E's invitation to A is still there and accepted at the end.
# - "0" with nothing left: the "nothing to stop" reply; "STOP <number>" with
#   no dialog with that number (also a received invitation): its own reply.
# - R14: either participant can end: B ends a dialog A started.
# - R14: ending by SMS is free: the ledger stays empty.
source "$(dirname "$0")/lib.sh"
new_db
A=79161234567 B=79167654321 C=79160000003 D=79160000004 E=79160000005
provision_basic $A $B $C $D $E 79169999999
start_sim "$SRC_DIR/tests/integration/scenarios/flow_stop.sim"
write_config "[service]" "max_dialogs_per_subscriber = 3"
export DIALOG_NOW=2026-11-22T14:00:00+03:00
start_dialogd
wait_sim

# dialogs: id inviter invitee state ended_reason
got=$(sql "SELECT string_agg(concat_ws(' ', inviter, invitee, state, coalesce(ended_reason, '-')), ';' ORDER BY id) FROM dialog")
want="$A $B ended stop;$A $C ended stop;$A $D ended withdrawn;$E $A active -;$A $B ended stop"
[[ "$got" == "$want" ]] || fail "R14/D2 dialog states: got [$got], want [$want]"

# events: who ended what, and how
ev() { sql "SELECT string_agg(concat_ws(' ', e.type, coalesce(e.actor, '-'), coalesce(e.channel, '-')), ';' ORDER BY e.id) FROM dialog_event e JOIN dialog d ON d.id = e.dialog_id WHERE d.id = (SELECT id FROM dialog ORDER BY id OFFSET $1 LIMIT 1)"; }
[[ $(ev 0) == "invited $A sms;accepted $B sms;ended $A sms" ]] || fail "events of A-B #1: $(ev 0)"
[[ $(ev 1) == "invited $A sms;accepted $C sms;ended $A sms" ]] || fail "events of A-C: $(ev 1)"
[[ $(ev 2) == "invited $A sms;withdrawn $A sms" ]] || fail "D2: events of the withdrawn invitation: $(ev 2)"
[[ $(ev 3) == "invited $E sms;accepted $A sms" ]] || fail "D2: E's invitation should have stayed pending: $(ev 3)"
[[ $(ev 4) == "invited $A sms;accepted $B sms;ended $B sms" ]] || fail "R14: B ends A's dialog: $(ev 4)"
[[ $(sql "SELECT count(*) FROM dialog WHERE state = 'ended' AND ended_at IS NULL") == 0 ]] || fail "ended without ended_at"

# the replies, by catalog name, for each STOP command (in the order sent)
replies() { # text of the MO -> "dst:msg,dst:msg"
  sql "SELECT string_agg(o.dst || ':' || o.msg, ',' ORDER BY o.id) FROM outbox o JOIN mo_inbound i ON i.id = o.cause_inbound_id WHERE i.id = (SELECT id FROM mo_inbound WHERE src = '$1' AND text = '$2' ORDER BY id LIMIT 1)"
}
[[ $(replies $A 'СТОП 8 916 765-43-21') == "$A:ended_self,$B:ended_peer" ]] || fail "STOP <B>: $(replies $A 'СТОП 8 916 765-43-21')"
[[ $(replies $A stop) == "$A:ended_self,$C:ended_peer,$A:withdrawn_self,$D:withdrawn_invitee" ]] \
  || fail "stop: $(replies $A stop)"
[[ $(replies $A 0) == "$A:stop_nothing" ]] || fail "0: $(replies $A 0)"
[[ $(replies $A 'STOP +7 (916) 000-00-05') == "$A:stop_nothing_with" ]] || fail "STOP <E>: $(replies $A 'STOP +7 (916) 000-00-05')"
[[ $(replies $A 'Stop 89169999999') == "$A:stop_nothing_with" ]] || fail "STOP <other>: $(replies $A 'Stop 89169999999')"
[[ $(replies $B 'Стоп') == "$B:ended_self,$A:ended_peer" ]] || fail "B's Стоп: $(replies $B 'Стоп')"
# nothing was sent to E by A's STOPs, nothing left unsent
[[ $(sql "SELECT count(*) FROM outbox WHERE dst = '$E'") == 2 ]] || fail "E got more than invite_sent + activated"
wait_for 10 bash -c "[[ \$(psql '$DIALOG_DB' -qAtc \"SELECT count(*) FROM outbox WHERE state <> 'submitted'\") == 0 ]]" \
  || fail "outbox rows not submitted: $(sql "SELECT id, dst, msg, state, last_error FROM outbox WHERE state <> 'submitted'")"

# R14, R8: ending (and connecting) by SMS is free
[[ $(sql "SELECT count(*) FROM ledger") == 0 ]] || fail "ledger not empty: $(sql 'SELECT * FROM ledger')"
stop_dialogd || fail "dialogd did not exit 0 on SIGTERM"
pass
