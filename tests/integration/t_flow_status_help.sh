#!/usr/bin/env bash
# Issue 3, the Commands table of service-rules.md:
# - STATUS / СТАТУС / ? (any case) lists the sender's dialogs: peer, state
#   (active / invitation sent / invitation received), the date since, today's
#   allowance use "N из 50" (only today's count of that pair, R9/D5), the
#   trial end date while in the free week (R13a; none for a returning
#   subscriber), and the daily fee of the sender's own region (D12), in
#   roubles ("3", "2,50"). With no dialogs: a clear text.
# - HELP / помощь / unknown text / "status please": the help text.
# - language = en: the English catalog (ISO dates).
# Asking is free: no ledger entry.
source "$(dirname "$0")/lib.sh"
new_db
A=79161234567 B=79167654321 C=79160000003 D=79160000004 E=79160000005
provision_basic $A $B $C $E
"$DIALOGCTL" region add VVO --tz Asia/Vladivostok --daily-fee 250 --operator-fee 4000 >/dev/null
"$DIALOGCTL" subscriber add $D --region VVO --tariff BASIC --postpaid >/dev/null
# C was in a dialog long ago: no trial any more (R13a)
sql "UPDATE subscriber SET first_activated_at = '2026-01-10 12:00+03' WHERE msisdn = '$C'" >/dev/null
# other days' and other pairs' usage must not show (R9, D5)
sql "INSERT INTO pair_usage VALUES ('$A', '$B', '2026-11-21', 49), ('$C', '$B', '2026-11-22', 12)" >/dev/null
export DIALOG_NOW=2026-11-22T14:00:00+03:00
start_sim "$SRC_DIR/tests/integration/scenarios/flow_status_help.sim"
write_config
start_dialogd
wait_sim
stop_dialogd || fail "dialogd did not exit 0 on SIGTERM"

# the replies by catalog name
[[ $(sql "SELECT string_agg(msg, ',' ORDER BY id) FROM outbox WHERE dst = '$A' AND msg IN ('status', 'help')") == "status,help,status,status" ]] \
  || fail "A's replies: $(sql "SELECT string_agg(msg, ',' ORDER BY id) FROM outbox WHERE dst = '$A'")"
[[ $(sql "SELECT count(*) FROM outbox WHERE msg = 'help'") == 4 ]] || fail "HELP/помощь/unknown/'status please' -> 4 help replies"
# C's status (returning subscriber): no free period line; D's has one
ctext=$(sql "SELECT text FROM outbox WHERE dst = '$C' AND msg = 'status'")
[[ -n "$ctext" && "$ctext" != *Бесплатн* && "$ctext" != *29.11* ]] || fail "R13a: C has no trial, status said: $ctext"
dtext=$(sql "SELECT text FROM outbox WHERE dst = '$D' AND msg = 'status'")
[[ "$dtext" == *"2,50 руб"* && "$dtext" != *"3 руб"* ]] || fail "D12: D's own fee: $dtext"
# a pending-only status mentions no fee (nothing is paid yet)
ptext=$(sql "SELECT text FROM outbox WHERE dst = '$A' AND msg = 'status' ORDER BY id OFFSET 1 LIMIT 1")
[[ "$ptext" == *79167654321* && "$ptext" != *руб* ]] || fail "pending status: $ptext"

# English
sql "INSERT INTO pair_usage VALUES ('$A', '$B', '2026-11-22', 7)" >/dev/null
start_sim "$SRC_DIR/tests/integration/scenarios/flow_status_help_en.sim"
write_config "[service]" "language = en"
start_dialogd
wait_sim
stop_dialogd || fail "dialogd (en) did not exit 0 on SIGTERM"
[[ $(sql "SELECT count(*) FROM outbox WHERE state <> 'submitted'") == 0 ]] || fail "unsent replies"
[[ $(sql "SELECT count(*) FROM ledger") == 0 ]] || fail "ledger not empty"
pass
