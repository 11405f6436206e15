#!/usr/bin/env bash
# dialogctl subscriber import: all-or-nothing, every bad line reported as
# FILE:LINE: reason, R2 numbers stored canonical, a bulk file in one go.
source "$(dirname "$0")/lib.sh"
new_db
C="$DIALOGCTL"
unset DIALOG_CONFIG DIALOG_NOW

expect_exit 0 "$C" db init
expect_exit 0 "$C" region add MOW --tz Europe/Moscow
expect_exit 0 "$C" region add NSK --tz Asia/Novosibirsk
expect_exit 0 "$C" tariff add BASE --sms-price 150
expect_exit 0 "$C" subscriber add 79169000000 --region MOW --tariff BASE --postpaid
count() { sql "SELECT count(*) FROM subscriber"; }

# --- a good file: R2 forms, quoting, CRLF, blank lines ----------------------
f="$T_DIR/good.csv"
printf 'msisdn,region,tariff,account_type,balance\r\n' >"$f"
printf '+79161000001,MOW,BASE,prepaid,1500\r\n' >>"$f"
printf '"8 (916) 100-00-02",NSK,BASE,postpaid,\r\n' >>"$f"
printf '9161000003,MOW,BASE,Prepaid,0\r\n' >>"$f"
printf '\r\n' >>"$f"
printf '7-916-100-00-04, MOW , BASE ,prepaid, 25\n' >>"$f"
expect_exit 0 "$C" subscriber import "$f"
expect_grep 'imported 4 subscribers'
[[ $(count) == 5 ]] || fail "good import count"
[[ $(sql "SELECT string_agg(msisdn || ':' || region || ':' || account_type || ':' || balance || ':' || contract, ' ' ORDER BY msisdn) FROM subscriber WHERE msisdn LIKE '791610%'") == \
   "79161000001:MOW:prepaid:1500:C79161000001 79161000002:NSK:postpaid:0:C79161000002 79161000003:MOW:prepaid:0:C79161000003 79161000004:MOW:prepaid:25:C79161000004" ]] \
  || fail "R2: imported rows not canonical: $(sql "SELECT msisdn, region, balance FROM subscriber")"

# --- bad lines: all reported with line numbers, nothing applied -------------
f="$T_DIR/bad.csv"
cat >"$f" <<'CSV'
msisdn,region,tariff,account_type,balance
79162000001,MOW,BASE,prepaid,100
12345,MOW,BASE,prepaid,100
79162000003,MOW,BASE,prepaid,-5
79162000004,MOW,BASE,gold,0
79162000005,MARS,BASE,prepaid,0
79162000006,MOW,BASE
79162000007,MOW,BASE,postpaid,300
79162000001,MOW,BASE,prepaid,0
79161000001,MOW,BASE,prepaid,0
79162000010,MOW,NOPE,prepaid,0
79162000011,MOW,BASE,prepaid,12x
CSV
expect_exit 2 "$C" subscriber import "$f"
for want in \
  "bad.csv:3: invalid number \"12345\"" \
  "bad.csv:4: negative balance" \
  "bad.csv:5: account_type \"gold\"" \
  "bad.csv:6: unknown region MARS" \
  "bad.csv:7: expected 5 fields" \
  "bad.csv:8: a balance applies to prepaid accounts only" \
  "bad.csv:9: number 79162000001 repeats line 2" \
  "bad.csv:10: subscriber 79161000001 already exists" \
  "bad.csv:11: unknown tariff NOPE" \
  "bad.csv:12: balance \"12x\""; do
  grep -qF -- "$want" "$T_DIR/last.err" || { cat "$T_DIR/last.err"; fail "missing report: $want"; }
done
[[ $(grep -c '^.*bad.csv:[0-9]*: ' "$T_DIR/last.err") == 10 ]] || { cat "$T_DIR/last.err"; fail "exactly the 10 bad lines are reported"; }
grep -q 'bad.csv:2:' "$T_DIR/last.err" && fail "a good line was reported"
expect_grep 'nothing imported'
[[ $(count) == 5 ]] || fail "a bad file must apply nothing"

# exit 4 when the only problem is an unknown region or tariff, 3 when numbers exist
printf 'msisdn,region,tariff,account_type,balance\n79163000001,MOW,BASE,prepaid,0\n79163000002,XX,BASE,prepaid,0\n' >"$T_DIR/nf.csv"
expect_exit 4 "$C" subscriber import "$T_DIR/nf.csv"
expect_grep 'nf.csv:3: unknown region XX'
printf 'msisdn,region,tariff,account_type,balance\n79163000001,MOW,BASE,prepaid,0\n79169000000,MOW,BASE,prepaid,0\n' >"$T_DIR/dup.csv"
expect_exit 3 "$C" subscriber import "$T_DIR/dup.csv"
expect_grep 'dup.csv:3: subscriber 79169000000 already exists'
[[ $(count) == 5 ]] || fail "refused imports applied rows"

# a wrong header is refused
printf 'number,region,tariff,account_type,balance\n79163000001,MOW,BASE,prepaid,0\n' >"$T_DIR/hdr.csv"
expect_exit 2 "$C" subscriber import "$T_DIR/hdr.csv"
expect_grep 'hdr.csv:1: the header must be exactly msisdn,region,tariff,account_type,balance'
expect_exit 2 "$C" subscriber import "$T_DIR/missing.csv"

# --- bulk: 200k lines in one transaction (timing printed, not asserted) ------
python3 - "$T_DIR/bulk.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("msisdn,region,tariff,account_type,balance\n")
    for i in range(200000):
        f.write("7950%07d,%s,BASE,%s,%d\n" % (i, "MOW" if i % 2 else "NSK", "prepaid" if i % 3 else "postpaid", 0 if i % 3 == 0 else i))
PY
start=$(date +%s.%N)
expect_exit 0 "$C" --json subscriber import "$T_DIR/bulk.csv"
end=$(date +%s.%N)
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["imported"]==200000, d' "$T_DIR/last.out" || fail "bulk --json count"
[[ $(sql "SELECT count(*) FROM subscriber WHERE msisdn LIKE '7950%'") == 200000 ]] || fail "bulk count"
echo "bulk import: 200000 lines in $(python3 -c "print(round($end - $start, 2))") s"

pass
