#!/usr/bin/env bash
# Issue 3, R5: an invitation expires after invite_ttl_s and the inviter is
# told, without any new MO, and across restarts (the expiry timers live in
# PostgreSQL):
# - invite at 2026-11-22 14:00 (TTL 24 h default); dialogd stopped; started
#   again at 2026-11-23 15:00: at start-up the invitation expires, A gets
#   the notice; state expired, event expired; B's "1" gets "nothing
#   pending", "1 <A>" gets "no invitation from".
# - invite_ttl_s = 60: restarted 50 s after the invitation it is still
#   pending (the invitee's STATUS lists it); it expires 60 s after it was
#   made while dialogd runs (no notice before the TTL), and only once.
# Expiry is free: the ledger stays empty.
source "$(dirname "$0")/lib.sh"
new_db
A=79161234567 B=79167654321 C=79160000003 D=79160000004
provision_basic $A $B $C $D
SC="$SRC_DIR/tests/integration/scenarios"
phase() { # phase NAME SIM DIALOG_NOW [config lines...]: play one sim script
  local name=$1 sim=$2
  export DIALOG_NOW=$3
  shift 3
  start_sim "$sim"
  write_config "$@"
  start_dialogd
  wait_sim
  cp "$T_DIR/sim.out" "$T_DIR/sim-$name.out"
  wait_for 10 bash -c "[[ \$(psql '$DIALOG_DB' -qAtc \"SELECT count(*) FROM outbox WHERE state <> 'submitted'\") == 0 ]]" \
    || fail "$name: outbox not all submitted: $(sql "SELECT id, dst, msg, state, last_error FROM outbox WHERE state <> 'submitted'")"
  stop_dialogd || fail "$name: dialogd did not exit 0 on SIGTERM"
}

phase invite "$SC/flow_expiry_1_invite.sim" 2026-11-22T14:00:00+03:00
[[ $(sql "SELECT state || ' ' || (expires_at - created_at = interval '24 hours' AND created_at < '2026-11-22 14:00:30+03') FROM dialog") == "pending true" ]] \
  || fail "R5: pending with expires_at = +24 h: $(sql 'SELECT state, expires_at FROM dialog')"

phase restart "$SC/flow_expiry_2_restart.sim" 2026-11-23T15:00:00+03:00
[[ $(sql "SELECT state FROM dialog WHERE inviter = '$A'") == expired ]] || fail "R5: not expired after restart"
[[ $(sql "SELECT ended_at >= '2026-11-23 15:00:00+03' AND ended_at < '2026-11-23 15:01:00+03' AND expires_at IS NULL FROM dialog WHERE inviter = '$A'") == t ]] \
  || fail "R5: expired at start-up: $(sql "SELECT ended_at, expires_at FROM dialog WHERE inviter = '$A'")"
[[ $(sql "SELECT string_agg(e.type, ',' ORDER BY e.id) FROM dialog_event e JOIN dialog d ON d.id = e.dialog_id WHERE d.inviter = '$A'") == "invited,expired" ]] \
  || fail "R5: events"
[[ $(sql "SELECT count(*) FROM outbox WHERE msg = 'invite_expired' AND dst = '$A' AND cause_inbound_id IS NULL") == 1 ]] \
  || fail "R5: one expiry notice to A, caused by no MO"
[[ $(sql "SELECT count(*) FROM outbox WHERE dst = '$B' AND msg = 'invite_expired'") == 0 ]] || fail "B should not get the expiry notice"

phase invite60 "$SC/flow_expiry_3_invite60.sim" 2026-11-23T16:00:00+03:00 "[service]" "invite_ttl_s = 60"
[[ $(sql "SELECT state || ' ' || (expires_at - created_at = interval '60 seconds') FROM dialog WHERE inviter = '$C'") == "pending true" ]] \
  || fail "R5: invite_ttl_s = 60: $(sql "SELECT state, expires_at FROM dialog WHERE inviter = '$C'")"

phase running "$SC/flow_expiry_4_running.sim" 2026-11-23T16:00:50+03:00 "[service]" "invite_ttl_s = 60"
[[ $(sql "SELECT state FROM dialog WHERE inviter = '$C'") == expired ]] || fail "R5: C's invitation not expired"
[[ $(sql "SELECT ended_at >= created_at + interval '60 s' AND ended_at < created_at + interval '63 s' FROM dialog WHERE inviter = '$C'") == t ]] \
  || fail "R5: expired at the TTL (60 s): $(sql "SELECT created_at, ended_at FROM dialog WHERE inviter = '$C'")"
[[ $(sql "SELECT count(*) FROM outbox WHERE msg = 'invite_expired'") == 2 ]] || fail "R5: exactly two expiry notices in all"
[[ $(sql "SELECT count(*) FROM dialog_event WHERE type = 'accepted'") == 0 ]] || fail "an expired invitation was accepted"
[[ $(sql "SELECT count(*) FROM ledger") == 0 ]] || fail "ledger not empty"
pass
