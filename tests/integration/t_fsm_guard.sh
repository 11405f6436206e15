#!/usr/bin/env bash
# The dialog FSM in the database (schema/0003_fsm_guard.sql): dialog_transition
# is synced from the C table by `dialogctl db init`, and a trigger refuses any
# UPDATE of dialog.state the table does not allow, whoever writes (R5-R7, R14,
# R17, D2, D13). docs/fsm.md is what `dialogd --fsm-doc` prints.
source "$(dirname "$0")/lib.sh"
new_db
unset DIALOG_CONFIG DIALOG_NOW

expect_exit 0 "$DIALOGCTL" db init

# --- dialog_transition holds the C table, nothing more ------------------------
n_c=$(grep -cE '^\s*\{ENG_DLG_[A-Z]+, ENG_EV_[A-Z]+, ENG_DLG_[A-Z]+\},' "$SRC_DIR/engine/src/base/fsm.c")
[[ $n_c -gt 0 ]] || fail "no transitions found in engine/src/base/fsm.c"
[[ $(sql "SELECT count(*) FROM dialog_transition") == "$n_c" ]] \
  || fail "dialog_transition has $(sql 'SELECT count(*) FROM dialog_transition') rows, the C table $n_c"
[[ $(sql "SELECT count(*) FROM dialog_transition WHERE (from_state, event, to_state) IN
          (('pending','accept','active'), ('pending','decline','declined'), ('pending','expire','expired'),
           ('pending','withdraw','ended'), ('active','suspend','suspended'), ('active','end','ended'),
           ('suspended','resume','active'), ('suspended','end','ended'))") == 8 ]] \
  || fail "dialog_transition rows differ from the diagram in engine/fsm.h"

# db init re-syncs from the C table: a tampered table is repaired
sql "INSERT INTO dialog_transition VALUES ('ended', 'revive', 'active');
     DELETE FROM dialog_transition WHERE from_state = 'pending' AND event = 'accept'" >/dev/null
expect_exit 0 "$DIALOGCTL" db init
expect_grep 'up to date'
[[ $(sql "SELECT count(*) FROM dialog_transition") == "$n_c" ]] || fail "db init did not re-sync dialog_transition"
[[ $(sql "SELECT count(*) FROM dialog_transition WHERE from_state = 'ended'") == 0 ]] \
  || fail "a row not in the C table survived db init"
[[ $(sql "SELECT to_state FROM dialog_transition WHERE from_state = 'pending' AND event = 'accept'") == active ]] \
  || fail "pending -accept-> active not restored by db init"

# --- two subscribers and one dialog, by SQL ------------------------------------
sql "INSERT INTO region (code) VALUES ('MOW');
     INSERT INTO tariff (code, sms_price) VALUES ('BASE', 150);
     INSERT INTO subscriber (msisdn, contract, region, tariff, account_type)
       VALUES ('79161000001', 'C1', 'MOW', 'BASE', 'prepaid'),
              ('79161000002', 'C2', 'MOW', 'BASE', 'postpaid')" >/dev/null
new_dialog() { # new_dialog STATE -> id (activated/ended stamps as the checks need)
  local st=$1
  sql "INSERT INTO dialog (inviter_id, invitee_id, inviter, invitee, state, activated_at, ended_at, expires_at)
       SELECT a.id, b.id, a.msisdn, b.msisdn, '$st',
              CASE WHEN '$st' IN ('active','suspended','ended') THEN now() END,
              CASE WHEN '$st' IN ('ended','declined','expired') THEN now() END,
              now() + interval '1 day'
       FROM subscriber a, subscriber b WHERE a.msisdn = '79161000001' AND b.msisdn = '79161000002'
       RETURNING id"
}
state_of() { sql "SELECT state FROM dialog WHERE id = $1"; }

# refused: expect the trigger's message, and the row unchanged
refused() { # refused ID FROM TO [extra SET]
  local id=$1 from=$2 to=$3 extra=${4:-} out
  if out=$(sql "UPDATE dialog SET state = '$to'$extra WHERE id = $id" 2>&1); then
    fail "illegal change $from -> $to was allowed"
  fi
  grep -q "illegal state change $from -> $to" <<<"$out" || fail "$from -> $to refused for another reason: $out"
  [[ $(state_of "$id") == "$from" ]] || fail "$from -> $to: state changed although refused"
}

d=$(new_dialog pending)
[[ $(state_of "$d") == pending ]] || fail "new dialog not pending"

# illegal from pending: a pending invitation cannot be suspended (R17 is for dialogs)
refused "$d" pending suspended ", activated_at = now()"

# legal: pending -> active (R6), active -> suspended -> active (R17, D13), active -> ended (R14)
sql "UPDATE dialog SET state = 'active', activated_at = now() WHERE id = $d" >/dev/null || fail "R6: pending -> active refused"
[[ $(state_of "$d") == active ]] || fail "R6: not active"
sql "UPDATE dialog SET state = 'suspended' WHERE id = $d" >/dev/null || fail "R17: active -> suspended refused"
sql "UPDATE dialog SET state = 'active' WHERE id = $d" >/dev/null || fail "D13: suspended -> active refused"
# an UPDATE that does not change the state is not a transition
sql "UPDATE dialog SET state = 'active', ended_reason = NULL WHERE id = $d" >/dev/null || fail "active -> active (no change) refused"
sql "UPDATE dialog SET channel = 'selfcare' WHERE id = $d" >/dev/null || fail "an update of another column refused"
sql "UPDATE dialog SET state = 'ended', ended_at = now() WHERE id = $d" >/dev/null || fail "R14: active -> ended refused"
[[ $(state_of "$d") == ended ]] || fail "R14: not ended"

# illegal: terminal states are final
refused "$d" ended active ", ended_at = NULL"
refused "$d" ended pending ", ended_at = NULL, activated_at = NULL"
d2=$(new_dialog declined)
refused "$d2" declined active ", ended_at = NULL"
d3=$(new_dialog expired)
refused "$d3" expired pending ", ended_at = NULL"
# and a suspended dialog cannot go back to pending
d4=$(new_dialog pending)
sql "UPDATE dialog SET state = 'active', activated_at = now() WHERE id = $d4" >/dev/null
sql "UPDATE dialog SET state = 'suspended' WHERE id = $d4" >/dev/null
refused "$d4" suspended pending ", activated_at = NULL"
# D2: withdrawing a pending invitation ends it
sql "UPDATE dialog SET state = 'ended', ended_at = now() WHERE id = $d4" >/dev/null || fail "suspended -> ended refused"
d5=$(new_dialog pending)
sql "UPDATE dialog SET state = 'ended', ended_at = now() WHERE id = $d5" >/dev/null || fail "D2: pending -> ended (withdraw) refused"

# the trigger raises P0001 (bill_sqlstate_errno: -EPERM)
d6=$(new_dialog pending)
st=$(psql "$DIALOG_DB" -qAtX -v ON_ERROR_STOP=1 -v VERBOSITY=verbose \
       -c "UPDATE dialog SET state = 'expired', ended_at = now() WHERE id = $d6" \
       -c "UPDATE dialog SET state = 'active', ended_at = NULL, activated_at = now() WHERE id = $d6" 2>&1 || true)
grep -q 'P0001' <<<"$st" || fail "the trigger's SQLSTATE is not P0001: $st"
[[ $(state_of "$d6") == expired ]] || fail "R5: pending -> expired"

# an empty dialog_transition (a schema before its first sync) locks nothing
sql "DELETE FROM dialog_transition" >/dev/null
d7=$(new_dialog pending)
sql "UPDATE dialog SET state = 'suspended', activated_at = now() WHERE id = $d7" >/dev/null \
  || fail "an empty dialog_transition must not refuse"
expect_exit 0 "$DIALOGCTL" db init
[[ $(sql "SELECT count(*) FROM dialog_transition") == "$n_c" ]] || fail "db init did not refill dialog_transition"
refused "$d7" suspended pending ", activated_at = NULL"

# --- docs/fsm.md is generated from the same table ------------------------------
"$DIALOGD" --fsm-doc >"$T_DIR/fsm.md" || fail "dialogd --fsm-doc failed"
diff -u "$SRC_DIR/docs/fsm.md" "$T_DIR/fsm.md" || fail "docs/fsm.md is stale: run dialogd --fsm-doc > docs/fsm.md"

pass
