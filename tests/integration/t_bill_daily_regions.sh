#!/usr/bin/env bash
# dialogctl bill daily across time zones: each participant is billed on the
# day of their own region, at its 00:00, at their region's fee (D12); a
# region whose day has not begun is skipped with a note and billed by a
# later run (D15); the default date is each region's own current day.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bill_lib.sh"
new_db
bill_setup                       # MOW UTC+3 fee 300, VVO UTC+10 fee 250
M=79161000021 V=79241000022 M2=79161000023 V2=79241000024
sub $M MOW --postpaid; sub $V VVO --postpaid; sub $M2 MOW --postpaid; sub $V2 VVO --postpaid
for m in $M $V $M2 $V2; do first_act $m '2026-10-01 12:00+03'; done
D1=$(activate $M $V '2026-11-20 12:00+03')
# activated 2026-11-22 18:00 Moscow = 2026-11-23 01:00 Vladivostok:
# for V2 the 23rd is the activation day (free), for M2 it is a paid day (D12)
D2=$(activate $M2 $V2 '2026-11-22 18:00+03')

# --- D15: at 20:00 Moscow on the 22nd, the 23rd has begun in VVO only --------------
bill '2026-11-22T20:00:00+03:00' 2026-11-23
expect_sum regions_billed 1 "D15"
expect_sum regions_skipped 1 "D15"
python3 - "$T_DIR/bill.json" <<'PY' || fail "D15 skipped note in --json"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["skipped"] == [{"region": "MOW", "date": "2026-11-23", "local_now": "2026-11-22 20:00"}], j
PY
expect_sum fees_charged 1 "D12: only V (VVO) billed for the 23rd"
[[ $(fee_days $V) == "2026-11-23" ]] || fail "D12: V fee days $(fee_days $V)"
[[ $(fee_days $M) == "" ]] || fail "D15: M charged before the 23rd began in Moscow"
[[ $(fee_days $V2) == "" ]] || fail "R13 D12: the 23rd is V2's activation day (Vladivostok)"
expect_sql "SELECT amount FROM ledger WHERE msisdn = '$V'" 250 "D12: V pays the VVO fee"
# the text note
expect_exit 0 env DIALOG_NOW='2026-11-22T20:00:00+03:00' "$C" bill daily --date 2026-11-23
expect_grep 'region MOW: 2026-11-23 has not begun there \(local 2026-11-22 20:00\); run again later'
expect_grep 'regions billed 1, skipped 1'

# --- a later run completes the 23rd in MOW ----------------------------------------
bill '2026-11-23T00:05:00+03:00' 2026-11-23
expect_sum regions_skipped 0
expect_sum fees_charged 2 "D15 completion: M and M2"
[[ $(fee_days $M) == "2026-11-23" ]] || fail "M fee days $(fee_days $M)"
[[ $(fee_days $M2) == "2026-11-23" ]] || fail "D12: M2 pays the 23rd (activated before Moscow midnight)"
[[ $(fee_days $V) == "2026-11-23" ]] || fail "V charged twice: $(fee_days $V)"
[[ $(fee_days $V2) == "" ]] || fail "V2 charged for the activation day"
expect_sql "SELECT amount FROM ledger WHERE msisdn = '$M'" 300 "D12: M pays the MOW fee"

# --- default date: each region's own current day -----------------------------------
# 2026-11-23 20:00 Moscow = 2026-11-24 03:00 Vladivostok
bill '2026-11-23T20:00:00+03:00'
expect_sum regions_billed 2
expect_sum date today "D15 default date: the regions bill different days"
expect_sum fees_charged 2 "default date: VVO bills the 24th (V, V2); MOW's 23rd is done"
[[ $(fee_days $V) == "2026-11-23,2026-11-24" ]] || fail "V fee days $(fee_days $V)"
[[ $(fee_days $V2) == "2026-11-24" ]] || fail "V2 fee days $(fee_days $V2)"
[[ $(fee_days $M) == "2026-11-23" ]] || fail "M fee days $(fee_days $M)"
# --date in the future: nothing has begun, all skipped, exit 0
bill '2026-11-23T20:00:00+03:00' 2026-11-30
expect_sum regions_billed 0
expect_sum regions_skipped 2
expect_sum fees_charged 0
pass "D12 D15"
