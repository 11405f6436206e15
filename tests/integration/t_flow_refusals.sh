#!/usr/bin/env bash
# Issue 3, subscription flow: every invitation refusal (R1, R2, R4, D9) gets
# its own reply to the sender and creates nothing (no dialog, no event, no
# SMS to anyone else, no charge):
#   R1  sender not a subscriber; sender blocked; invitee not a subscriber;
#       invitee blocked;
#   R2  invalid numbers ("12345", "+8916...");
#   R4  A = B; dialog already exists (either direction); invitation A->B
#       already pending (also for the identical SMS delivered again);
#       A at max_dialogs_per_subscriber (default 1); B at the limit;
#       max_pending_invites (configured 2);
#   D9  max_invites_per_day (configured 3): refusals do not count, and the
#       count is per billing day; decline cooldown (30 x 24 h) with the date
#       it ends, one direction only (B may invite A), over when it ends.
source "$(dirname "$0")/lib.sh"
A=79161234567 B=79167654321 C=79031112233 D=79261112233 E=79851112233
F=79857778899 X=79037778899 N=79990001122
new_db
provision_basic $A $B $C $D $E $F $X
"$DIALOGCTL" subscriber block $X >/dev/null || fail "dialogctl subscriber block"

run_phase() { # run_phase NAME DIALOG_NOW SIM_FILE
  export DIALOG_NOW=$2
  start_sim "$SRC_DIR/tests/integration/scenarios/$3"
  write_config "[service]" "max_pending_invites = 2" "max_invites_per_day = 3"
  start_dialogd
  wait_sim
  stop_dialogd || fail "dialogd did not exit 0 on SIGTERM (phase $1)"
  cp "$T_DIR/sim.out" "$T_DIR/sim-$1.out"
}
# replies to SRC's commands (catalog names, in order)
replies() {
  sql "SELECT string_agg(o.msg, ',' ORDER BY o.id) FROM outbox o JOIN mo_inbound m ON m.id=o.cause_inbound_id
        WHERE m.src='$1' AND o.dst='$1'"
}
dlg() { sql "SELECT string_agg(state, ',' ORDER BY id) FROM dialog WHERE inviter='$1' AND invitee='$2'"; }

# ---- phase 1 -----------------------------------------------------------------
run_phase 1 2026-11-22T14:00:00+03:00 flow_refusals_1.sim
[[ $(replies $N) == err_not_subscriber ]] || fail "R1 sender unknown: $(replies $N)"
[[ $(replies $X) == err_sender_blocked ]] || fail "R1 sender blocked: $(replies $X)"
want=err_bad_number,err_bad_number,err_bad_number,err_self,err_peer_unknown,err_peer_blocked
want+=,invite_sent,err_invite_exists,err_invite_exists,invite_sent,err_pending_limit
want+=,err_dialog_exists,err_limit_self,ended_self,withdrawn_self
want+=,invite_sent,err_daily_limit
got=$(replies $A)
[[ $got == "$want" ]] || fail "A's replies:
 got  $got
 want $want"
[[ $(replies $E) == err_limit_peer,invite_sent,err_cooldown ]] || fail "E's replies: $(replies $E)"
[[ $(replies $B) == activated_trial,err_dialog_exists ]] || fail "B's replies: $(replies $B)"
# exactly the dialogs that were sent, nothing from a refusal
[[ $(sql "SELECT count(*) FROM dialog") == 5 ]] || fail "5 dialogs expected: $(sql 'SELECT id,inviter,invitee,state FROM dialog')"
[[ $(dlg $A $B) == ended ]] || fail "A->B: $(dlg $A $B)"
[[ $(dlg $A $C) == ended ]] || fail "A->C: $(dlg $A $C)"
[[ $(sql "SELECT ended_reason FROM dialog WHERE inviter='$A' AND invitee='$C'") == withdrawn ]] || fail "D2: A->C withdrawn"
[[ $(dlg $A $D) == declined ]] || fail "A->D: $(dlg $A $D)"
[[ $(dlg $E $F) == declined ]] || fail "E->F: $(dlg $E $F)"
[[ $(dlg $F $E) == pending ]] || fail "D9 one direction: F->E should be pending: $(dlg $F $E)"
[[ -z $(dlg $A $E) && -z $(dlg $E $B) && -z $(dlg $B $A) && -z $(dlg $N $B) && -z $(dlg $X $B) ]] \
  || fail "a refused invitation created a dialog"
[[ $(sql "SELECT count(*) FROM dialog_event WHERE type='invited'") == 5 ]] || fail "5 invited events"
# each refused command caused exactly one SMS, its reply to the sender
[[ $(sql "SELECT count(*) FROM outbox o WHERE o.msg LIKE 'err_%' AND
            (SELECT count(*) FROM outbox o2 WHERE o2.cause_inbound_id = o.cause_inbound_id) <> 1") == 0 ]] \
  || fail "a refusal caused more than its reply"
[[ $(sql "SELECT count(*) FROM outbox o JOIN mo_inbound m ON m.id=o.cause_inbound_id
            WHERE o.msg LIKE 'err_%' AND o.dst <> m.src") == 0 ]] || fail "a refusal went to someone else"
[[ $(sql "SELECT count(*) FROM outbox WHERE msg LIKE 'err_%'") == 17 ]] || fail "17 refusals expected: $(sql "SELECT msg FROM outbox WHERE msg LIKE 'err_%'")"
[[ $(sql "SELECT count(*) FROM outbox WHERE dst='$B' AND msg LIKE 'invitation%'") == 1 ]] || fail "B invited once"
[[ $(sql "SELECT count(*) FROM outbox WHERE dst IN ('$D','$E') AND msg LIKE 'invitation%'") == 2 ]] \
  || fail "the refused invitations reached D or E"
# the refusal texts as sent say why
grep -q 'распознать номер "+89167654321"' <(sql "SELECT text FROM outbox WHERE msg='err_bad_number'") || fail "R2 reply echoes the text"
[[ $(sql "SELECT text FROM outbox WHERE msg='err_cooldown'") == *"+$F"*"22.12.2026"* ]] || fail "D9 reply names F and the date"
[[ $(sql "SELECT count(*) FROM ledger") == 0 ]] || fail "R8: ledger not empty"

# ---- phase 2: 2026-12-22 13:00, before the cooldown's 30 x 24 h are over ------
run_phase 2 2026-12-22T13:00:00+03:00 flow_refusals_2.sim
[[ $(dlg $F $E) == expired ]] || fail "R5: F->E should have expired: $(dlg $F $E)"
[[ $(dlg $E $F) == declined ]] || fail "D9: refused E->F created a dialog: $(dlg $E $F)"
[[ $(sql "SELECT string_agg(msg, ',') FROM outbox WHERE dst='$E' AND msg LIKE 'err_%' AND created_at > '2026-12-01'") == err_cooldown ]] \
  || fail "D9: E's invite 30 days minus an hour after the decline should get the cooldown refusal"
[[ $(dlg $A $E) == pending ]] || fail "D9: A's daily count should be a new day's: $(dlg $A $E)"

# ---- phase 3: 2026-12-22 15:00, the cooldown is over --------------------------
run_phase 3 2026-12-22T15:00:00+03:00 flow_refusals_3.sim
[[ $(dlg $E $F) == declined,pending ]] || fail "D9: E->F after the cooldown: $(dlg $E $F)"
[[ $(sql "SELECT count(*) FROM ledger") == 0 ]] || fail "R8: ledger not empty"
pass
