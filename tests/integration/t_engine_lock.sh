#!/usr/bin/env bash
# One engine per database (the allowance counters live in its memory): a
# second dialogd on the same database waits for the lock (15 tries, one a
# second: the backend of a killed engine may take a moment to go), then logs
# why and exits 1, never having bound; the first keeps
# serving.
source "$(dirname "$0")/lib.sh"
new_db
provision_basic 79161234567
start_sim "$SRC_DIR/tests/integration/scenarios/engine_lock.sim"
write_config
start_dialogd
wait_for 20 grep -q START-SECOND "$T_DIR/sim.out" || fail "scenario did not start"
rc=0
timeout 60 "$DIALOGD" --config "$T_DIR/dialog.ini" >"$T_DIR/second.log" 2>&1 || rc=$?
[[ $rc -eq 1 ]] || { cat "$T_DIR/second.log"; fail "second dialogd exit $rc, expected 1"; }
grep -q 'event=another_engine' "$T_DIR/second.log" || fail "second dialogd did not say why"
wait_sim
stop_dialogd || fail "first dialogd did not exit 0"
pass
