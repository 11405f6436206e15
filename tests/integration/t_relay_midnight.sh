#!/usr/bin/env bash
# Issue 4, whose midnight (daily_allowance = 3):
#   D5  the pair's allowance day is the INVITER's region day: A (Moscow)
#       invites B (Vladivostok, UTC+10). Used up at 23:50 Moscow (already
#       the 23rd in Vladivostok) -> charged; dialogd restarted at 00:01
#       Moscow (still the same Vladivostok day) -> free again; and Moscow
#       midnight passing while dialogd runs resets it too.
#   D7  the bill_date of a charged message is the PAYER's region day: B's
#       charge at 23:50 Moscow is dated 2026-11-23 (Vladivostok), A's
#       2026-11-22; the allowance row (pair_day) stays on Moscow's day.
#   D12 allowance day: inviter's region; message charge date: payer's.
source "$(dirname "$0")/lib.sh"
A=79161234567 B=79142223344
new_db
provision_basic "$A"
"$DIALOGCTL" region add VVO --tz Asia/Vladivostok --daily-fee 300 --operator-fee 4500 >/dev/null
"$DIALOGCTL" tariff add PLUS --sms-price 200 >/dev/null
"$DIALOGCTL" subscriber add "$B" --region VVO --tariff PLUS --postpaid >/dev/null
SC="$SRC_DIR/tests/integration/scenarios"

phase() { # phase NAME SIM DIALOG_NOW
  export DIALOG_NOW=$3
  start_sim "$SC/$2"
  write_config "[service]" "daily_allowance = 3"
  start_dialogd
  wait_sim
  cp "$T_DIR/sim.out" "$T_DIR/sim-$1.out"
  stop_dialogd || fail "$1: dialogd did not exit 0 on SIGTERM"
}
# usage FROM TO: the sms_usage rows recorded in [FROM, TO), in order, as
# "src rule free charged amount pair_day bill_date" joined by commas
usage() {
  sql "SELECT string_agg(src || ' ' || rule || ' ' || free_segments || ' ' || charged_segments || ' ' || amount || ' ' || coalesce(pair_day::text, '-') || ' ' || bill_date, ',' ORDER BY id) FROM sms_usage WHERE at >= '$1' AND at < '$2'"
}

# ---- phase 1: 2026-11-22 23:50 Moscow / 2026-11-23 06:50 Vladivostok ------
phase day1 relay_midnight_1.sim 2026-11-22T23:50:00+03:00
[[ $(sql "SELECT inviter || ' ' || state FROM dialog") == "$A active" ]] || fail "dialog: $(sql 'SELECT * FROM dialog')"
got=$(usage 2026-11-22T23:50:00+03 2026-11-22T23:55:00+03)
want="$A R9 1 0 0 2026-11-22 2026-11-22,$B R9 1 0 0 2026-11-22 2026-11-23,$A R9 1 0 0 2026-11-22 2026-11-22"
want+=",$B R10 0 1 200 2026-11-22 2026-11-23,$A R10 0 1 150 2026-11-22 2026-11-22"
[[ "$got" == "$want" ]] || fail "D5/D7 phase 1 usage:
 got  $got
 want $want"
[[ $(sql "SELECT string_agg(msisdn || ' ' || kind || ' ' || amount || ' ' || bill_date, ',' ORDER BY id) FROM ledger") \
   == "$B sms_over_allowance 200 2026-11-23,$A sms_over_allowance 150 2026-11-22" ]] \
  || fail "D7: ledger bill dates: $(sql 'SELECT msisdn, kind, amount, bill_date FROM ledger ORDER BY id')"

# ---- phase 2: restart at 00:01 Moscow (07:01 the same day in Vladivostok) --
phase day2 relay_midnight_2.sim 2026-11-23T00:01:00+03:00
got=$(usage 2026-11-23T00:01:00+03 2026-11-23T00:06:00+03)
want="$B R9 1 0 0 2026-11-23 2026-11-23,$A R9 1 0 0 2026-11-23 2026-11-23,$B R9 1 0 0 2026-11-23 2026-11-23"
want+=",$B R10 0 1 200 2026-11-23 2026-11-23"
[[ "$got" == "$want" ]] || fail "D5: allowance must reset at the inviter's (Moscow) midnight:
 got  $got
 want $want"
[[ $(sql "SELECT string_agg(day || '=' || used, ' ' ORDER BY day) FROM pair_usage") == "2026-11-22=3 2026-11-23=3" ]] \
  || fail "pair_usage: $(sql 'SELECT * FROM pair_usage')"

# ---- phase 3: 23:59:55 Moscow, midnight passes while dialogd runs ----------
phase day3 relay_midnight_3.sim 2026-11-23T23:59:55+03:00
got=$(usage 2026-11-23T23:59:00+03 2026-11-24T00:05:00+03)
want="$A R10 0 1 150 2026-11-23 2026-11-23,$B R9 1 0 0 2026-11-24 2026-11-24"
[[ "$got" == "$want" ]] || fail "D5: Moscow midnight while running:
 got  $got
 want $want"
[[ $(sql "SELECT string_agg(day || '=' || used, ' ' ORDER BY day) FROM pair_usage") == "2026-11-22=3 2026-11-23=3 2026-11-24=1" ]] \
  || fail "pair_usage: $(sql 'SELECT * FROM pair_usage')"
[[ $(sql "SELECT count(*) || ' ' || sum(amount) FROM ledger") == "4 700" ]] \
  || fail "ledger: $(sql 'SELECT msisdn, kind, amount, bill_date FROM ledger ORDER BY id')"
pass "D5 inviter's midnight (restart and running), D7 payer's bill_date"
