#!/usr/bin/env bash
# Issue 2: HELP to the short code over real SMPP; the reply is the Russian
# help text from the catalog, sent as UCS-2 segments that reassemble exactly;
# each deliver_sm is recorded in PostgreSQL before it is acknowledged, and
# the reply goes through the outbox (R3: to and from the short code).
source "$(dirname "$0")/lib.sh"
new_db
provision_basic 79161234567 79167654321
start_sim "$SRC_DIR/tests/integration/scenarios/help.sim"
write_config
start_dialogd
wait_sim
# every inbound recorded, every reply submitted with its message ids
[[ $(sql "SELECT count(*) FROM mo_inbound WHERE kind='command'") == 3 ]] || fail "mo_inbound rows"
[[ $(sql "SELECT text FROM mo_inbound ORDER BY id LIMIT 1") == HELP ]] || fail "inbound text"
[[ $(sql "SELECT text FROM mo_inbound ORDER BY id OFFSET 1 LIMIT 1") == ПОМОЩЬ ]] || fail "UCS-2 inbound text"
wait_for 10 bash -c "[[ \$(psql '$DIALOG_DB' -qAtc \"SELECT count(*) FROM outbox WHERE state='submitted'\") == 3 ]]" \
  || fail "outbox rows not all submitted: $(sql "SELECT id,state,last_error FROM outbox")"
[[ $(sql "SELECT parts FROM outbox ORDER BY id LIMIT 1") == 5 ]] || fail "help text should be 5 parts"
[[ $(sql "SELECT count(*) FROM outbox WHERE cardinality(message_ids) = parts") == 3 ]] || fail "message ids"
stop_dialogd || fail "dialogd did not exit 0 on SIGTERM"
grep -q 'event=stopped' "$T_DIR/dialogd.log" || fail "no clean stop logged"
if grep -q 'secret' "$T_DIR/dialogd.log"; then fail "the SMPP password appears in the log"; fi
pass
