#!/usr/bin/env bash
# Issue 8 (security; docs/hostile-input.md "Secrets" and "Database roles"):
#   1. secrets never in logs or `ps`: dialogd runs a real flow at debug level
#      with the SMPP password and a conninfo holding a database password in
#      its config; neither appears in any log line nor in any process's
#      arguments; the database being unreachable logs no password either;
#   2. a wrong SMPP password in dialogd's config (of the same length as the
#      right one, and of another length: smsc-sim compares in constant time,
#      so a test can only assert that both are refused) gives one precise
#      bind_refused line per attempt, with back-off, and no password;
#   3. a config file that others may read: a notice naming the file; none
#      for a 0600 file; a bad secret is refused without echoing it;
#   4. dialogctl with a password in $DIALOG_DB, the config's [db] or a URI,
#      database unreachable: exit 5, and the message never holds the password;
#   5. least privilege (schema/0008_roles.sql), what t_db_roles.sh does not
#      cover: none of the roles can drop or alter the schema; the engine
#      cannot touch prices, regions, credits, audit or a subscriber's status;
#      support cannot queue an SMS or call the rating functions to charge;
#      billing cannot delete.
source "$(dirname "$0")/lib.sh"
new_db
A=79161234567
provision_basic $A
SMPP_PW=Pw5ecr3t            # 8 characters, the SMPP maximum
DB_PW=DbS3cretXyz42
DB_CONNINFO="$DIALOG_DB password=$DB_PW"
secrets_absent() { # secrets_absent WHAT FILE...: neither secret in any file
  local what=$1; shift
  if grep -l -e "$SMPP_PW" -e "$DB_PW" "$@"; then
    grep -h -e "$SMPP_PW" -e "$DB_PW" "$@" | head -n 5
    fail "$what: a secret appears"
  fi
}

# ---- 1. a real flow at debug level: no secret in the log or in ps -------------
cat >"$T_DIR/security_flow.sim" <<EOF
password $SMPP_PW
wait-bind 10000
mo $A 6249 HELP
expect-resp 0
expect-mt $A 10000ms Справка: 0611$
mo $A 6249 79160000000
expect-resp 0
expect-mt $A 10000ms не обслуживается
EOF
start_sim "$T_DIR/security_flow.sim"
write_config "[log]" "level = debug" "[db]" "conninfo = $DB_CONNINFO"
sed -i "s/^password = secret$/password = $SMPP_PW/" "$T_DIR/dialog.ini"
grep -q "^password = $SMPP_PW\$" "$T_DIR/dialog.ini" || fail "config"
(unset DIALOG_DB; exec "$DIALOGD" --config "$T_DIR/dialog.ini" >>"$T_DIR/dialogd.log" 2>&1) &
DLG_PID=$!
T_PIDS+=("$DLG_PID")
wait_for 10 grep -q 'event=bound ' "$T_DIR/dialogd.log" || fail "dialogd did not bind: $(tail -5 "$T_DIR/dialogd.log")"
ps -eo pid,args >"$T_DIR/ps.txt"
tr '\0' ' ' <"/proc/$DLG_PID/cmdline" >"$T_DIR/cmdline.txt" 2>/dev/null || true
wait_sim
# the flow ran on the configured conninfo (the one with the password)
[[ $(sql "SELECT count(*) FROM mo_inbound") == 2 ]] || fail "dialogd did not record the MOs"
stop_dialogd || fail "dialogd did not exit 0"
grep -q 'level=debug' "$T_DIR/dialogd.log" || fail "no debug lines: the log level was not debug"
grep -q 'event=bound ' "$T_DIR/dialogd.log" || fail "no bind logged"
# smsc-sim got its password from the script, so no process holds a secret in its arguments
grep -q -- "--config $T_DIR/dialog.ini" "$T_DIR/ps.txt" || fail "ps capture missed dialogd"
secrets_absent "ps -eo args" "$T_DIR/ps.txt" "$T_DIR/cmdline.txt"
secrets_absent "dialogd log (debug)" "$T_DIR/dialogd.log"
secrets_absent "smsc-sim log" "$T_DIR/sim.err"

# the database unreachable, a password in the conninfo: logged without it
: >"$T_DIR/dbdown.log"
printf '[smpp]\nport = 1\nreconnect_max_s = 1\n[db]\nconninfo = host=%s/nowhere port=1 user=dialog password=%s connect_timeout=1\n[log]\nlevel = debug\n' \
  "$T_DIR" "$DB_PW" >"$T_DIR/dbdown.ini"
chmod 600 "$T_DIR/dbdown.ini"
(unset DIALOG_DB; exec "$DIALOGD" --config "$T_DIR/dbdown.ini" >>"$T_DIR/dbdown.log" 2>&1) &
DOWN_PID=$!
T_PIDS+=("$DOWN_PID")
wait_for 10 grep -q 'event=down ' "$T_DIR/dbdown.log" || fail "database down not logged: $(tail -3 "$T_DIR/dbdown.log")"
sleep 1.5
kill -TERM "$DOWN_PID"; wait "$DOWN_PID" || true
grep -q "event=down reason=.*nowhere" "$T_DIR/dbdown.log" || fail "the down line should name the host"
secrets_absent "dialogd log, database down" "$T_DIR/dbdown.log"
echo "part 1: no secret in ps or in the debug log"

# ---- 2. a wrong SMPP password in dialogd's config: refused, precise, backed off --
for wrong in Pw5ecr3T Qz9k; do     # same length as the right one, and shorter
  : >"$T_DIR/dialogd.log"
  printf 'password %s\nwait 3500\n' "$SMPP_PW" >"$T_DIR/security_wrong.sim"
  start_sim "$T_DIR/security_wrong.sim"
  write_config
  sed -i "s/^password = secret$/password = $wrong/" "$T_DIR/dialog.ini"
  start_dialogd
  wait_sim
  kill -0 "$DLG_PID" 2>/dev/null || fail "dialogd died on a refused bind"
  stop_dialogd || fail "dialogd did not exit 0"
  refused=$(grep -c 'result=ESME_RINVPASWD' "$T_DIR/sim.err" || true)
  ((refused >= 2 && refused <= 4)) || fail "wrong password '$wrong': $refused binds in 3.5 s (back-off expected)"
  n=$(grep -Ec '^ts=[^ ]+ level=error sub=smpp event=bind_refused session=0 link=trx seq=[0-9]+ status=ESME_RINVPASWD$' "$T_DIR/dialogd.log" || true)
  [[ $n == "$refused" ]] || { cat "$T_DIR/dialogd.log"; fail "one precise bind_refused line per refusal: $n of $refused"; }
  if grep -q -e "$wrong" -e "$SMPP_PW" "$T_DIR/dialogd.log"; then fail "a password appears in the log"; fi
done
echo "part 2: wrong passwords of equal and other length refused, logged, backed off"

# ---- 3. the config file ----------------------------------------------------------
write_config
chmod 644 "$T_DIR/dialog.ini"
expect_exit 0 "$DIALOGD" --check-config --config "$T_DIR/dialog.ini"
expect_grep "^ts=[^ ]+ level=notice sub=dialogd event=config_world_readable file=$T_DIR/dialog.ini hint=\"chmod o-r: it holds the SMPP password\"$" "$T_DIR/last.err"
chmod 640 "$T_DIR/dialog.ini"
expect_exit 0 "$DIALOGD" --check-config --config "$T_DIR/dialog.ini"
! grep -q config_world_readable "$T_DIR/last.err" || fail "a 0640 file is not world-readable"
# a bad secret is refused by name, never echoed
write_config "[log]" "level = debug"
sed -i "s/^password = secret$/password = ${SMPP_PW}X/" "$T_DIR/dialog.ini"
expect_exit 2 "$DIALOGD" --check-config --config "$T_DIR/dialog.ini"
expect_grep 'dialog.ini:[0-9]+: \[smpp\] password: longer than 8 characters'
if grep -q "$SMPP_PW" "$T_DIR/last.all"; then fail "check-config echoed the password"; fi
echo "part 3: config file permissions and secrets in errors"

# ---- 4. dialogctl: a password in the conninfo is never echoed -------------------
unset DIALOG_CONFIG
nowhere="host=$T_DIR/nowhere port=1 user=dialog dbname=x connect_timeout=2"
expect_exit 5 env DIALOG_DB="$nowhere password=$DB_PW" "$DIALOGCTL" subscriber show $A
expect_grep '^dialogctl: database: .*nowhere'
secrets_absent "dialogctl, \$DIALOG_DB" "$T_DIR/last.out" "$T_DIR/last.err"
printf '[db]\nconninfo = %s password=%s\n' "$nowhere" "$DB_PW" >"$T_DIR/ctl.ini"
chmod 600 "$T_DIR/ctl.ini"
expect_exit 5 env -u DIALOG_DB "$DIALOGCTL" --config "$T_DIR/ctl.ini" subscriber show $A
expect_grep '^dialogctl: database: '
secrets_absent "dialogctl, [db] conninfo" "$T_DIR/last.out" "$T_DIR/last.err"
expect_exit 5 env DIALOG_DB="postgresql://dialog:$DB_PW@/x?host=$T_DIR/nowhere&port=1" "$DIALOGCTL" subscriber show $A
secrets_absent "dialogctl, a URI" "$T_DIR/last.out" "$T_DIR/last.err"
# a malformed conninfo is refused without quoting it
expect_exit 5 env DIALOG_DB="$nowhere password='$DB_PW" "$DIALOGCTL" subscriber show $A
secrets_absent "dialogctl, malformed conninfo" "$T_DIR/last.out" "$T_DIR/last.err"
expect_exit 5 env DIALOG_DB="$nowhere password=$DB_PW bogus_option=1" "$DIALOGCTL" db init
expect_grep 'bogus_option'
secrets_absent "dialogctl, unknown conninfo option" "$T_DIR/last.out" "$T_DIR/last.err"
# reachable with a password in the conninfo (trust authentication): it works
expect_exit 0 env DIALOG_DB="$DIALOG_DB password=$DB_PW" "$DIALOGCTL" subscriber show $A
echo "part 4: dialogctl never echoes a conninfo password"

# ---- 5. least privilege ---------------------------------------------------------
SUP=t_sec_support ENG=t_sec_engine BIL=t_sec_billing
for r in $SUP $ENG $BIL; do sql "DROP ROLE IF EXISTS $r" >/dev/null 2>&1 || true; done
sql "CREATE ROLE $SUP LOGIN IN ROLE dialog_support;
     CREATE ROLE $ENG LOGIN IN ROLE dialog_engine;
     CREATE ROLE $BIL LOGIN IN ROLE dialog_billing" >/dev/null
cleanup_roles() { for r in $SUP $ENG $BIL; do sql "DROP OWNED BY $r; DROP ROLE IF EXISTS $r" >/dev/null 2>&1 || true; done; }
as() { psql "${DIALOG_DB/user=dialog/user=$1}" -qAtX -v ON_ERROR_STOP=1 -c "$2" 2>&1; }
denied() { # denied ROLE SQL: refused by PostgreSQL's privileges
  local out rc=0
  out=$(as "$1" "$2") || rc=$?
  [[ $rc -ne 0 && ( "$out" == *"permission denied"* || "$out" == *"must be owner"* ) ]] \
    || fail "$1 should be refused: $2 -> rc=$rc $out"
}
SID=$(sql "SELECT id FROM subscriber WHERE msisdn = '$A'")
for r in $SUP $ENG $BIL; do
  denied $r "DROP TABLE ledger"
  denied $r "ALTER TABLE ledger DISABLE TRIGGER ALL"
  denied $r "CREATE TABLE public.evil (x int)"
  denied $r "TRUNCATE ledger"
  denied $r "DELETE FROM subscriber"
done
# the engine: the SMS flow and the rating, nothing else
denied $ENG "UPDATE tariff SET sms_price = 0"
denied $ENG "INSERT INTO tariff (code, sms_price) VALUES ('FREE', 0)"
denied $ENG "UPDATE region SET daily_fee = 0"
denied $ENG "UPDATE subscriber SET status = 'active' WHERE id = $SID"
denied $ENG "UPDATE subscriber SET credit_limit = 1000000 WHERE id = $SID"
denied $ENG "UPDATE subscriber SET account_type = 'postpaid' WHERE id = $SID"
denied $ENG "INSERT INTO audit (at, agent, action, detail) VALUES (now(), 'x', 'y', '{}')"
denied $ENG "DELETE FROM mo_inbound"
denied $ENG "DELETE FROM outbox"
# ... while what it needs still works
[[ $(as $ENG "UPDATE subscriber SET balance = balance WHERE id = $SID RETURNING id") == "$SID" ]] \
  || fail "the engine must keep UPDATE (balance)"
# support: reads, and changes money only through the audited functions
denied $SUP "INSERT INTO outbox (dst, msg) VALUES ('$A', 'help')"
denied $SUP "UPDATE tariff SET sms_price = 0"
denied $SUP "UPDATE region SET operator_fee = 0"
denied $SUP "SELECT dlg_hold('k', $SID, 100, now())"
denied $SUP "INSERT INTO sms_hold (relay_key, subscriber_id, amount) VALUES ('k', $SID, 1)"
# billing: inserts and updates, never deletes
denied $BIL "DELETE FROM tariff"
denied $BIL "DELETE FROM dialog"
denied $BIL "DELETE FROM audit"
denied $BIL "DELETE FROM account_credit"
cleanup_roles
echo "part 5: least privilege"
pass
