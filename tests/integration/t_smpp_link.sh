#!/usr/bin/env bash
# Issue 2: bind with a wrong password is refused and retried with back-off
# (no reconnect storm), enquire_link answered, a dropped link is bound again,
# throttled submit_sm are resent and the reply is delivered exactly once.
source "$(dirname "$0")/lib.sh"
new_db
provision_basic 79161234567
start_sim "$SRC_DIR/tests/integration/scenarios/link.sim"
write_config
start_dialogd
wait_sim
# back-off: 4.5 s of refusals with reconnect_max_s = 2 allow at most 4 attempts
# (t=0, 1, 3, 5 ...); a storm would show dozens
refused=$(grep -c 'result=ESME_RINVPASWD' "$T_DIR/sim.err" || true)
(( refused >= 2 && refused <= 5 )) || fail "expected 2..5 refused binds, saw $refused"
grep -q 'event=bind_refused\|ESME_RINVPASWD' "$T_DIR/dialogd.log" || fail "refused bind not logged by dialogd"
[[ $(sql "SELECT attempts, state FROM outbox") == "1|submitted" ]] || fail "outbox: $(sql 'SELECT * FROM outbox')"
stop_dialogd || fail "dialogd did not exit 0"
pass "refused binds: $refused"
