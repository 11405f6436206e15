#!/usr/bin/env bash
# Issue 3, "nothing lost, nothing twice" (service-rules.md, "What subscribers
# must never see"; R5): dialogd is killed with SIGKILL around an invitation
# and restarted; afterwards there is exactly one pending dialog per
# invitation and the invitee got exactly one invitation SMS.
# 1. killed right after it acknowledged the MO, before the SMSC accepted any
#    reply (submits throttled): the replies are sent after the restart, once
#    each (nothing lost).
# 2. killed after the replies were delivered and recorded: nothing is sent
#    again after the restart (nothing twice); the invitation is still pending.
# 3. killed before the acknowledgement (dialogd is held inside the MO's
#    transaction by a row lock, then killed): the SMSC delivers the same MO
#    again; still one pending dialog, one invitation to the invitee, one
#    "sent" notice to the inviter (a second reply, if the first delivery
#    was recorded, can only be "you have already invited").
# R8: nothing of this is charged.
source "$(dirname "$0")/lib.sh"
new_db
A=79161234567 B=79167654321 C=79160000003 D=79160000004 E=79160000005 F=79160000006
provision_basic $A $B $C $D $E $F
unset DIALOG_NOW
SC="$SRC_DIR/tests/integration/scenarios"

# wait_line SECONDS REGEX: wait for a line of the sim transcript, polling fast
wait_line() {
  local end=$((SECONDS + $1))
  until grep -Eq -- "$2" "$T_DIR/sim.out"; do
    ((SECONDS < end)) || return 1
    sleep 0.005
  done
}
kill9_dialogd() {
  kill -KILL "$DLG_PID"
  wait "$DLG_PID" 2>/dev/null || true
  echo "--- killed with SIGKILL" >>"$T_DIR/dialogd.log"
}
mt_count() { grep -Ec -- "^MT 6249 -> $1 .*${2:-}" "$T_DIR/sim.out" || true; }
all_submitted() {
  wait_for 15 bash -c "[[ \$(psql '$DIALOG_DB' -qAtc \"SELECT count(*) FROM outbox WHERE state <> 'submitted'\") == 0 ]]" \
    || fail "$1: outbox not all submitted: $(sql "SELECT id, dst, msg, state, last_error FROM outbox WHERE state <> 'submitted'")"
}

# ---- 1. killed after the ack, before any reply was accepted
start_sim "$SC/flow_kill_1_throttled.sim"
write_config
start_dialogd
wait_line 20 '^RESP #1 .*ESME_ROK' || fail "1: no deliver_sm_resp"
kill9_dialogd
start_dialogd
wait_sim
cp "$T_DIR/sim.out" "$T_DIR/sim-1.out"
grep -q "rejected ESME_RTHROTTLED" "$T_DIR/sim.out" || echo "note: 1: killed before the first submit_sm"
[[ $(mt_count $B "[+]$A") == 1 ]] || fail "1: B should get exactly one invitation: $(mt_count $B)"
[[ $(mt_count $A "[+]$B") == 1 ]] || fail "1: A should get exactly one 'sent' notice: $(mt_count $A)"
[[ $(sql "SELECT count(*) FROM dialog WHERE inviter = '$A' AND invitee = '$B' AND state = 'pending'") == 1 ]] || fail "1: one pending dialog"
[[ $(sql "SELECT count(*) FROM mo_inbound WHERE src = '$A'") == 1 ]] || fail "1: the MO recorded once"
all_submitted 1
stop_dialogd || fail "1: dialogd did not exit 0 on SIGTERM"

# ---- 2. killed after the replies were delivered and recorded
start_sim "$SC/flow_kill_2_recorded.sim"
write_config
start_dialogd
wait_line 20 '^-- [0-9]+: echo DELIVERED' || fail "2: invitation not delivered"
all_submitted 2
kill9_dialogd
start_dialogd
wait_sim
cp "$T_DIR/sim.out" "$T_DIR/sim-2.out"
[[ $(mt_count $D "[+]$C") == 1 ]] || fail "2: D should get exactly one invitation"
[[ $(mt_count $C) == 2 ]] || fail "2: C should get the 'sent' notice and the STATUS reply only: $(mt_count $C)"
[[ $(sql "SELECT count(*) FROM dialog WHERE inviter = '$C' AND state = 'pending'") == 1 ]] || fail "2: one pending dialog"
all_submitted 2
stop_dialogd || fail "2: dialogd did not exit 0 on SIGTERM"

# ---- 3. killed before the ack: hold E's subscriber row so that dialogd
# waits inside the MO's transaction, kill it there, then let go.
PGAPPNAME=t_flow_kill_locker psql "$DIALOG_DB" -qAtX -c "BEGIN" \
  -c "SELECT 1 FROM subscriber WHERE msisdn = '$E' FOR UPDATE" -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
LOCKER=$!
T_PIDS+=("$LOCKER")
locker_sleeping() { [[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 't_flow_kill_locker' AND query LIKE '%pg_sleep%'") == 1 ]]; }
wait_for 10 locker_sleeping || fail "3: the lock was not taken"
start_sim "$SC/flow_kill_3_unacked.sim"
write_config
start_dialogd
wait_line 20 '^MO #1 ' || fail "3: MO not sent"
blocked() { # the pid of dialogd's backend waiting for the lock
  sql "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
}
wait_for 10 bash -c "[[ -n \$(psql '$DIALOG_DB' -qAtc \"SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'\") ]]" \
  || fail "3: dialogd did not reach the locked row"
bpid=$(blocked)
kill9_dialogd
grep -q '^RESP #1 ' "$T_DIR/sim.out" && fail "3: the MO was acknowledged before the kill"
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 't_flow_kill_locker'" >/dev/null
wait "$LOCKER" 2>/dev/null || true
# the killed engine's backend finishes (or aborts) what it had been sent
wait_for 20 bash -c "[[ \$(psql '$DIALOG_DB' -qAtc \"SELECT count(*) FROM pg_stat_activity WHERE pid = $bpid\") == 0 ]]" \
  || fail "3: the killed engine's backend did not end"
first=$(sql "SELECT count(*) FROM mo_inbound WHERE src = '$E'")
echo "note: 3: the unacknowledged delivery was $([[ $first == 1 ]] && echo 'committed' || echo 'rolled back')"
start_dialogd
wait_sim
cp "$T_DIR/sim.out" "$T_DIR/sim-3.out"
[[ $(mt_count $F "[+]$E") == 1 ]] || fail "3: F should get exactly one invitation: $(mt_count $F)"
[[ $(mt_count $E "отправлено") == 1 ]] || fail "3: E should get exactly one 'sent' notice: $(mt_count $E)"
[[ $(sql "SELECT count(*) FROM dialog WHERE inviter = '$E'") == 1 ]] || fail "3: exactly one dialog"
[[ $(sql "SELECT state FROM dialog WHERE inviter = '$E'") == pending ]] || fail "3: the dialog is pending"
[[ $(sql "SELECT count(*) FROM dialog_event e JOIN dialog d ON d.id = e.dialog_id WHERE d.inviter = '$E' AND e.type = 'invited'") == 1 ]] \
  || fail "3: one 'invited' event"
# replies to E: invite_sent once. If the first delivery was committed, the
# SMSC's redelivery is recognised (its answer was never read: dialogd
# died first) and answered without running the command again (ack.c).
[[ $(sql "SELECT string_agg(msg, ',' ORDER BY id) FROM outbox WHERE dst = '$E'") == invite_sent ]] \
  || fail "3: replies to E: $(sql "SELECT string_agg(msg, ',' ORDER BY id) FROM outbox WHERE dst = '$E'"), want invite_sent"
[[ $(mt_count $E) == 1 ]] || fail "3: MTs to E: $(mt_count $E)"
if [[ $first == 1 ]]; then
  grep -q 'event=redelivery ' "$T_DIR/dialogd.log" || fail "3: the redelivery was not recognised"
fi
all_submitted 3
stop_dialogd || fail "3: dialogd did not exit 0 on SIGTERM"

[[ $(sql "SELECT count(*) FROM ledger") == 0 ]] || fail "ledger not empty"
pass
