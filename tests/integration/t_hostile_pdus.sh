#!/usr/bin/env bash
# Issue 2: a PDU with 100 TLVs, a command_length of 2^31, a truncated PDU and
# an unknown command each leave dialogd running and serving.
source "$(dirname "$0")/lib.sh"
new_db
provision_basic 79161234567
# deliver_sm HELP from 79161234567 to 6249 followed by 100 TLVs of 5 bytes each
body="000101373931363132333435363700000136323439000000000000000000000448454c50"
tlvs=$(for i in $(seq 1 100); do printf '1400000141'; done)
len=$(( 16 + (${#body} + ${#tlvs}) / 2 ))
pdu=$(printf '%08x000000050000000000000042%s%s' "$len" "$body" "$tlvs")
sed "s/HOSTILE_100_TLVS/$pdu/" "$SRC_DIR/tests/integration/scenarios/hostile.sim" >"$T_DIR/hostile.sim"
start_sim "$T_DIR/hostile.sim"
write_config
start_dialogd
wait_sim
kill -0 "$DLG_PID" 2>/dev/null || fail "dialogd died"
stop_dialogd || fail "dialogd did not exit 0"
pass
