#!/usr/bin/env bash
# Database roles (schema/0008_roles.sql, docs/operations.md "Database roles"):
# login roles in the groups dialog_support, dialog_engine and dialog_billing.
# Support reads everything and cannot touch money directly -- PostgreSQL
# itself refuses (permission denied, before the append-only trigger) -- but
# refunds through dialogctl (the SECURITY DEFINER dlg_refund, R16); the
# engine runs the SMS flow and the rating and cannot delete ledger entries
# either; billing runs bill daily. Creating the roles is idempotent, also
# from concurrent `db init`s of several databases (roles are cluster-wide).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bill_lib.sh"

# several databases initialised at once: the cluster-wide roles are created once, no error
pids=()
for n in 1 2 3; do
  new_db "par$n"
  ( "$C" db init >"$T_DIR/init$n.out" 2>&1; echo $? >"$T_DIR/init$n.rc" ) &
  pids+=($!)
done
wait "${pids[@]}"
for n in 1 2 3; do
  [[ $(cat "$T_DIR/init$n.rc") == 0 ]] || { cat "$T_DIR/init$n.out"; fail "concurrent db init $n failed"; }
done

new_db
bill_setup
expect_exit 0 "$C" db init   # again: safe to repeat
[[ $(sql "SELECT count(*) FROM pg_roles WHERE rolname IN ('dialog_engine', 'dialog_support', 'dialog_billing')
            AND NOT rolcanlogin") == 3 ]] || fail "the three NOLOGIN group roles"

A=79161000201 B=79161000202 E1=79161000203 E2=79161000204
for m in $A $B $E1 $E2; do sub $m MOW --postpaid; done
first_act $A '2026-10-01 12:00+03'
D1=$(activate $A $B '2026-11-22 14:00+03')

# login roles, one per group (cluster-wide: remove what an earlier run left)
SUP=t_roles_alice ENG=t_roles_dialogd BIL=t_roles_batch
for r in $SUP $ENG $BIL; do sql "DROP ROLE IF EXISTS $r" >/dev/null 2>&1; done
sql "CREATE ROLE $SUP LOGIN IN ROLE dialog_support;
     CREATE ROLE $ENG LOGIN IN ROLE dialog_engine;
     CREATE ROLE $BIL LOGIN IN ROLE dialog_billing" >/dev/null
as_db() { echo "${DIALOG_DB/user=dialog/user=$1}"; }
DB_SUP=$(as_db $SUP) DB_ENG=$(as_db $ENG) DB_BIL=$(as_db $BIL)
# psql as ROLE; prints stdout+stderr, returns psql's status
as() { local db; db=$(as_db "$1"); shift; psql "$db" -qAtX -v ON_ERROR_STOP=1 -c "$1" 2>&1; }
# expect_denied ROLE SQL: refused by PostgreSQL's privileges (not by a trigger)
expect_denied() {
  local out rc=0
  out=$(as "$1" "$2") || rc=$?
  [[ $rc -ne 0 && "$out" == *"permission denied"* ]] || fail "$1 should be denied: $2 -> rc=$rc $out"
}

# --- billing: bill daily as a dialog_billing member -------------------------------------------
expect_exit 0 env DIALOG_NOW='2026-11-23T00:05:00+03:00' "$C" --db "$DB_BIL" bill daily
FEE=$(sql "SELECT id FROM ledger WHERE msisdn = '$A' AND kind = 'daily_fee' AND bill_date = '2026-11-23'")
[[ -n "$FEE" ]] || fail "bill daily as $BIL charged nothing"
expect_denied $BIL "DELETE FROM ledger WHERE id = $FEE"
expect_denied $BIL "UPDATE ledger SET amount = 0 WHERE id = $FEE"

# --- support: reads everything ---------------------------------------------------------------
[[ $(as $SUP "SELECT count(*) FROM ledger") == 1 ]] || fail "support SELECT on ledger"
[[ $(as $SUP "SELECT count(*) FROM subscriber s JOIN dialog d ON d.inviter_id = s.id") == 1 ]] || fail "support SELECT"
expect_exit 0 "$C" --db "$DB_SUP" subscriber show $A
expect_exit 0 "$C" --db "$DB_SUP" charges list $A
expect_exit 0 env DIALOG_NOW='2026-11-23T10:00:00+03:00' "$C" --db "$DB_SUP" explain $A
# ... and cannot move money or rewrite history
expect_denied $SUP "DELETE FROM ledger WHERE id = $FEE"
expect_denied $SUP "UPDATE subscriber SET balance = balance + 100000 WHERE msisdn = '$A'"
expect_denied $SUP "INSERT INTO ledger (subscriber_id, msisdn, kind, amount, bill_date, idem_key)
                    SELECT id, msisdn, 'refund', -300, '2026-11-23', 'x' FROM subscriber WHERE msisdn = '$A'"
expect_denied $SUP "INSERT INTO account_credit (ref, subscriber_id, amount)
                    SELECT 'gift', id, 100000 FROM subscriber WHERE msisdn = '$A'"
expect_denied $SUP "UPDATE dialog SET state = 'ended' WHERE id = $D1"
expect_denied $SUP "DELETE FROM audit"

# --- support: charge refund through the SECURITY DEFINER path (R16) ----------------------------
B0=$(sql "SELECT balance FROM subscriber WHERE msisdn = '$A'")
expect_exit 0 env DIALOG_NOW='2026-11-23T10:00:00+03:00' "$C" --db "$DB_SUP" --agent alice \
  charge refund "$FEE" --reason "goodwill"
expect_sql "SELECT amount, refund_of, rule FROM ledger WHERE kind = 'refund'" "-300|$FEE|R16" "refund as support"
expect_sql "SELECT balance FROM subscriber WHERE msisdn = '$A'" "$((B0 + 300))" "refund as support: balance"
expect_sql "SELECT agent, detail->>'db_user' FROM audit WHERE action = 'charge refund'" "alice|$SUP" \
  "refund audited with the agent and the database login"
expect_exit 3 env DIALOG_NOW='2026-11-23T10:00:00+03:00' "$C" --db "$DB_SUP" --agent alice \
  charge refund "$FEE" --reason "again"
expect_grep "already refunded"

# operator-channel end (R15) through 0007's sup_end, SECURITY DEFINER since 0008
if "$C" --help | grep -q "dialog end"; then
  expect_exit 0 env DIALOG_NOW='2026-11-23T11:00:00+03:00' "$C" --db "$DB_SUP" --agent alice \
    dialog end $A --channel operator --passport-verified
  expect_sql "SELECT state FROM dialog WHERE id = $D1" ended "operator end as support"
  expect_sql "SELECT count(*) FROM ledger WHERE msisdn = '$A' AND kind = 'operator_fee'" 1 "R15 fee as support"
fi

# --- engine: the SMS flow and the rating, as dialogd runs them --------------------------------
engine_cmd() { # SRC CMD NUMBER NOW
  local num=NULL; [[ -n "$3" ]] && num="'$3'"
  as $ENG "INSERT INTO mo_inbound (received_at, src, dst, kind, command) VALUES ('$4', '$1', '6249', 'command', '$2');
           SELECT count(*) FROM dlg_command('$4', '$1', '$2', $num, currval('mo_inbound_id_seq'),
                                            '6249', 1, 5, 10, 86400, 30, 7)"
}
engine_cmd $E1 invite $E2 '2026-11-23 12:00+03' >/dev/null || fail "engine invite: $(engine_cmd $E1 invite $E2 '2026-11-23 12:00+03')"
engine_cmd $E2 accept "" '2026-11-23 12:01+03' >/dev/null || fail "engine accept"
D2=$(sql "SELECT id FROM dialog WHERE inviter = '$E1' AND state = 'active'")
[[ -n "$D2" ]] || fail "engine: the dialog was not activated"
E1ID=$(sql "SELECT id FROM subscriber WHERE msisdn = '$E1'")
out=$(as $ENG "SELECT dlg_hold('k1', $E1ID, 150, '2026-11-23 12:02+03');
               SELECT dlg_record_relays(ARRAY['k1'], ARRAY['2026-11-23 12:02+03']::timestamptz[], ARRAY['$E1'],
                 ARRAY['79990000000'], ARRAY[$E1ID]::bigint[], ARRAY[NULL]::bigint[], ARRAY[NULL]::date[],
                 ARRAY[1], ARRAY[0], ARRAY[150]::bigint[], ARRAY['R11'], ARRAY['2026-11-23']::date[],
                 ARRAY['m1'], ARRAY[NULL]::bigint[], ARRAY[0]::bigint[]);
               UPDATE outbox SET state = 'submitted' WHERE dst = '$E1';
               INSERT INTO sms_receipt (message_id, state) VALUES ('m1', 2);
               DELETE FROM sms_hold WHERE relay_key = 'none'") || fail "engine rating: $out"
expect_sql "SELECT amount, rule FROM ledger WHERE msisdn = '$E1'" "150|R11" "engine charged the R11 message"
SMS=$(sql "SELECT id FROM ledger WHERE msisdn = '$E1'")
expect_denied $ENG "DELETE FROM ledger WHERE id = $SMS"
expect_denied $ENG "UPDATE ledger SET amount = 0 WHERE id = $SMS"
expect_denied $ENG "DELETE FROM subscriber WHERE msisdn = '$E1'"
expect_denied $ENG "SELECT * FROM dlg_refund($SMS, 'x', 'y', now())"
expect_denied $ENG "INSERT INTO account_credit (ref, subscriber_id, amount) VALUES ('e', $E1ID, 1)"

# the superuser still meets the append-only trigger (R16)
out=$(sql "DELETE FROM ledger WHERE id = $SMS" 2>&1) && fail "ledger delete by the owner succeeded"
[[ "$out" == *"append-only"* ]] || fail "owner delete: $out"
pass "roles: support reads and refunds only via dlg_refund; engine and billing cannot delete the ledger"
