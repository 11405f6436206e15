#!/usr/bin/env bash
# Issue 2: database down -> ESME_RX_T_APPN, nothing acknowledged that is not
# recorded; the daemon reconnects when PostgreSQL is back. Uses a cluster of
# its own, since it stops it.
source "$(dirname "$0")/lib.sh"
var="$T_DIR/var"
"$SRC_DIR/scripts/pg.sh" start "$var" >/dev/null
own_cleanup() { t_cleanup; "$SRC_DIR/scripts/pg.sh" stop "$var" >/dev/null 2>&1 || true; }
trap own_cleanup EXIT
export DIALOG_DB=$("$SRC_DIR/scripts/pg.sh" conninfo "$var")
provision_basic 79161234567
start_sim "$SRC_DIR/tests/integration/scenarios/db_down.sim"
write_config
start_dialogd
wait_for 30 grep -q DB-STOP "$T_DIR/sim.out" || fail "scenario did not reach DB-STOP"
"$SRC_DIR/scripts/pg.sh" stop "$var"
wait_for 30 grep -q DB-START "$T_DIR/sim.out" || fail "scenario did not reach DB-START"
"$SRC_DIR/scripts/pg.sh" start "$var"
wait_sim
grep -q 'sub=db event=down' "$T_DIR/dialogd.log" || fail "outage not logged"
grep -q 'answer=ESME_RX_T_APPN' "$T_DIR/dialogd.log" || fail "temporary error not logged"
[[ $(sql "SELECT count(*) FROM mo_inbound") == 2 ]] || fail "expected exactly the 2 acknowledged MO recorded"
stop_dialogd || fail "dialogd did not exit 0"
pass
