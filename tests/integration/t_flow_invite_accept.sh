#!/usr/bin/env bash
# Issue 3, subscription flow part 1: invitation and acceptance over SMPP.
#   R2  B's number in several written forms is one canonical number;
#   R5  A is told the invitation was sent; B gets A's number and the terms
#       (daily allowance, daily fee, the free first week for a first-timer);
#   R6  "1" activates the dialog at that instant and both get their own terms;
#   R13a the trial dates: first activation 22.11.2026 14:00 -> free until
#       29.11.2026, fee from 30.11.2026; a returning subscriber inside their
#       window keeps the rest of it; after it the fee starts the next day;
#   R8  connecting (and reconnecting) is free: the ledger stays empty;
#   R14 STOP ends the dialog and tells both.
# Three phases, each a fresh smsc-sim and a dialogd restarted later in time
# with DIALOG_NOW.
source "$(dirname "$0")/lib.sh"
A=79161234567 B=79167654321 C=79031112233
new_db
provision_basic $A $B $C

run_phase() { # run_phase NAME DIALOG_NOW SIM_FILE
  export DIALOG_NOW=$2
  start_sim "$SRC_DIR/tests/integration/scenarios/$3"
  write_config
  start_dialogd
  wait_sim
  stop_dialogd || fail "dialogd did not exit 0 on SIGTERM (phase $1)"
  cp "$T_DIR/sim.out" "$T_DIR/sim-$1.out"
}

# last_text DST MSG: the text of the newest outbox row of catalog message MSG to DST
last_text() {
  sql "SELECT text FROM outbox WHERE dst='$1' AND msg='$2' ORDER BY id DESC LIMIT 1"
}
# text_has DST MSG PATTERN...: that text contains every fixed string given
text_has() {
  local dst=$1 msg=$2 t p; shift 2
  t=$(last_text "$dst" "$msg")
  [[ -n "$t" ]] || fail "no '$msg' SMS to $dst in the outbox"
  for p in "$@"; do
    [[ "$t" == *"$p"* ]] || fail "'$msg' to $dst lacks \"$p\": $t"
  done
}
ledger_empty() {
  [[ $(sql "SELECT count(*) FROM ledger") == 0 ]] || fail "R8: ledger not empty: $(sql 'SELECT * FROM ledger')"
}

# ---- phase 1: 2026-11-22 14:00 MSK, A invites B, B accepts ----------------
run_phase 1 2026-11-22T14:00:00+03:00 flow_invite_accept_1.sim
[[ $(sql "SELECT count(*) FROM dialog") == 1 ]] || fail "R2/R4: one dialog expected: $(sql 'SELECT id,inviter,invitee,state FROM dialog')"
[[ $(sql "SELECT inviter||' '||invitee||' '||state FROM dialog") == "$A $B active" ]] \
  || fail "R6: dialog A->B not active: $(sql 'SELECT * FROM dialog')"
# activated at the instant of the answer (the clock runs on from DIALOG_NOW)
[[ $(sql "SELECT activated_at BETWEEN '2026-11-22 14:00+03' AND '2026-11-22 14:05+03'
                 AND created_at <= activated_at AND ended_at IS NULL FROM dialog") == t ]] \
  || fail "R6: activated_at: $(sql 'SELECT created_at, activated_at FROM dialog')"
[[ $(sql "SELECT string_agg(type||':'||coalesce(actor,''), ',' ORDER BY at, id) FROM dialog_event") == "invited:$A,accepted:$B" ]] \
  || fail "events: $(sql 'SELECT type, actor FROM dialog_event ORDER BY id')"
[[ $(sql "SELECT count(*) FROM subscriber WHERE msisdn IN ('$A','$B')
            AND first_activated_at = (SELECT activated_at FROM dialog)") == 2 ]] \
  || fail "R13a: first_activated_at: $(sql 'SELECT msisdn, first_activated_at FROM subscriber')"
[[ $(sql "SELECT first_activated_at IS NULL FROM subscriber WHERE msisdn='$C'") == t ]] || fail "C untouched"
ledger_empty
# the texts as sent: B's invitation carries every term (R5) ...
text_has $B invitation_trial "+$A" "50 SMS" "7 дн" "3 руб"
text_has $A invite_sent "+$B"
# ... and each activation the other's number and its own dates (R6, R13a)
text_has $A activated_trial "+$B" "29.11.2026" "30.11.2026" "3 руб"
text_has $B activated_trial "+$A" "29.11.2026" "30.11.2026" "3 руб"
[[ $(sql "SELECT count(*) FROM outbox WHERE msg='err_invite_exists' AND dst='$A'") == 3 ]] \
  || fail "R2: the 3 other spellings of B should each be 'already invited'"
[[ $(sql "SELECT count(*) FROM outbox WHERE state <> 'submitted'") == 0 ]] \
  || fail "outbox rows not submitted: $(sql "SELECT id,dst,msg,state,last_error FROM outbox WHERE state<>'submitted'")"

# ---- phase 2: the next day, A stops and invites C, a first-timer ----------
run_phase 2 2026-11-23T10:00:00+03:00 flow_invite_accept_2.sim
[[ $(sql "SELECT state||' '||ended_reason FROM dialog WHERE invitee='$B'") == "ended stop" ]] \
  || fail "R14: A-B not ended: $(sql 'SELECT * FROM dialog')"
[[ $(sql "SELECT state FROM dialog WHERE inviter='$A' AND invitee='$C'") == active ]] || fail "A-C not active"
# A's trial is by calendar from the first activation, not renewed (R13a)
[[ $(sql "SELECT first_activated_at < '2026-11-23' FROM subscriber WHERE msisdn='$A'") == t ]] \
  || fail "R13a: A's first activation moved: $(sql "SELECT first_activated_at FROM subscriber WHERE msisdn='$A'")"
[[ $(sql "SELECT (first_activated_at AT TIME ZONE 'Europe/Moscow')::date FROM subscriber WHERE msisdn='$C'") == 2026-11-23 ]] \
  || fail "R13a: C's first activation"
text_has $C invitation_trial "+$A" "7 дн" "3 руб"
text_has $A activated_trial "+$C" "29.11.2026" "30.11.2026"
text_has $C activated_trial "+$A" "30.11.2026" "01.12.2026"
ledger_empty

# ---- phase 3: weeks later, trials over: the fee starts tomorrow -------------
run_phase 3 2026-12-20T12:00:00+03:00 flow_invite_accept_3.sim
[[ $(sql "SELECT count(*) FROM dialog WHERE state='active'") == 1 ]] || fail "one active dialog expected"
[[ $(sql "SELECT inviter||' '||invitee FROM dialog WHERE state='active'") == "$A $B" ]] || fail "A-B not active again"
[[ $(sql "SELECT count(*) FROM dialog") == 3 ]] || fail "3 dialogs expected: $(sql 'SELECT id,inviter,invitee,state FROM dialog')"
# B has used the service: a plain invitation, no free week (R5)
text_has $B invitation "+$A" "3 руб"
[[ $(last_text $B invitation) != *"7 дн"* ]] || fail "R5: returning B offered a free week again"
[[ $(sql "SELECT count(*) FROM outbox WHERE dst='$B' AND msg='invitation_trial'") == 1 ]] || fail "only B's first invitation has the trial"
text_has $A activated "+$B" "21.12.2026" "3 руб"
text_has $B activated "+$A" "21.12.2026" "3 руб"
[[ $(sql "SELECT count(*) FROM outbox WHERE msg='activated_trial' AND created_at > '2026-12-01'") == 0 ]] \
  || fail "R13a: a trial offered after the window"
[[ $(sql "SELECT count(*) FROM dialog_event WHERE type='accepted'") == 3 ]] || fail "3 acceptances"
ledger_empty  # R8: three connections, nothing charged
pass
