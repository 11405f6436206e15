#!/usr/bin/env bash
# dialogctl charge refund (R16) and dialogctl explain (R9-R16, D7, D12).
#
# Data: a dialog A-B activated 2026-11-22 (A returning, B a first-timer), the
# daily run of the 23rd (A pays R13, B is in the free week R13a), SMS from A
# on the 23rd rated R9/R10/R11 through dlg_record_relays (what dialogd
# records), an operator fee (R15) and a refund of A's fee on the 23rd.
# explain must list every entry and add up to the ledger of that
# subscriber-day; refund must follow every rule of the command.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bill_lib.sh"
new_db
bill_setup
A=79161000101 B=79161000102 V=79161000103 W=79161000104
sub $A MOW --postpaid
sub $B MOW --postpaid
sub $V VVO --postpaid
sub $W VVO --prepaid --balance 1000
first_act $A '2026-10-01 12:00+03'
first_act $V '2026-10-01 12:00+03'
first_act $W '2026-10-01 12:00+03'
AID=$(sql "SELECT id FROM subscriber WHERE msisdn = '$A'")
D1=$(activate $A $B '2026-11-22 14:00+03')
D2=$(activate $V $W '2026-11-22 14:00+03')
bill '2026-11-23T00:05:00+03:00' 2026-11-23
bill '2026-11-24T00:05:00+03:00' 2026-11-23   # VVO's 23rd (D15)

FEE_A=$(sql "SELECT id FROM ledger WHERE msisdn = '$A' AND kind = 'daily_fee' AND bill_date = '2026-11-23'")
FEE_V=$(sql "SELECT id FROM ledger WHERE msisdn = '$V' AND kind = 'daily_fee' AND bill_date = '2026-11-23'")
[[ -n "$FEE_A" && -n "$FEE_V" ]] || fail "setup: daily fees missing"

# SMS from A on the 23rd (D7: A's day): 3 segments with 1 left in the allowance
# (R10: 2 charged at 150), 2 segments off-net (R11: 2 at 150), 1 free (R9)
sql "SELECT dlg_record_relays(ARRAY['t:1','t:2','t:3'],
       ARRAY['2026-11-23 12:00+03','2026-11-23 12:01+03','2026-11-23 12:02+03']::timestamptz[],
       ARRAY['$A','$A','$A'], ARRAY['$B','79990000000','$B'], ARRAY[$AID,$AID,$AID]::bigint[],
       ARRAY[$D1,NULL,$D1]::bigint[], ARRAY['2026-11-23',NULL,'2026-11-23']::date[],
       ARRAY[3,2,1], ARRAY[1,0,1], ARRAY[150,150,150]::bigint[], ARRAY['R10','R11','R9'],
       ARRAY['2026-11-23','2026-11-23','2026-11-23']::date[], ARRAY[NULL,NULL,NULL]::text[],
       ARRAY[NULL,NULL,NULL]::bigint[], ARRAY[1,2,3]::bigint[])" >/dev/null
# an operator fee of the 23rd (R15), as the support path writes it
sql "INSERT INTO ledger (subscriber_id, msisdn, dialog_id, kind, amount, bill_date, created_at, idem_key, rule, detail)
     VALUES ($AID, '$A', $D1, 'operator_fee', 4500, '2026-11-23', '2026-11-23 15:00+03', 'operator_fee:test:1', 'R15',
             'operator end of 1 dialog(s)');
     UPDATE subscriber SET balance = balance - 4500 WHERE id = $AID" >/dev/null

C23='2026-11-23T18:00:00+03:00'
bal() { sql "SELECT balance FROM subscriber WHERE msisdn = '$1' AND retired_at IS NULL"; }

# --- charge refund: usage ----------------------------------------------------------------
expect_exit 2 env DIALOG_NOW=$C23 "$C" charge refund "$FEE_A" --reason "double charge"
expect_grep "agent NAME is required"
expect_exit 2 env DIALOG_NOW=$C23 "$C" --agent alice charge refund "$FEE_A"
expect_grep "reason TEXT is required"
expect_exit 2 env DIALOG_NOW=$C23 "$C" --agent alice charge refund "$FEE_A" --reason "   "
expect_exit 2 env DIALOG_NOW=$C23 "$C" --agent alice charge refund 12x --reason r
expect_exit 4 env DIALOG_NOW=$C23 "$C" --agent alice charge refund 999999 --reason r
[[ $(sql "SELECT count(*) FROM ledger WHERE kind = 'refund'") == 0 ]] || fail "refused refunds wrote entries"

# --- charge refund: R16, the entry, the balance, the audit -------------------------------
B0=$(bal $A)
expect_exit 0 env DIALOG_NOW=$C23 "$C" --agent alice --json charge refund "$FEE_A" --reason "fee charged in error"
cp "$T_DIR/last.out" "$T_DIR/refund.json"
R=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["id"])' "$T_DIR/refund.json")
python3 - "$T_DIR/refund.json" "$FEE_A" "$A" <<'PY' || fail "R16 refund --json fields"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kind"] == "refund" and d["amount"] == -300 and d["refund_of"] == int(sys.argv[2]), d
assert d["msisdn"] == sys.argv[3] and d["bill_date"] == "2026-11-23" and d["rule"] == "R16", d
assert d["detail"] == "fee charged in error" and d["agent"] == "alice", d
PY
expect_sql "SELECT kind, amount, refund_of, subscriber_id, dialog_id, bill_date, idem_key, rule, detail
              FROM ledger WHERE id = $R" \
  "refund|-300|$FEE_A|$AID|$D1|2026-11-23|refund:$FEE_A|R16|fee charged in error" "R16 refund entry"
[[ $(bal $A) == $((B0 + 300)) ]] || fail "R16 refund: balance $(bal $A), expected $((B0 + 300))"
expect_sql "SELECT agent, action, detail->>'entry', detail->>'refund', detail->>'reason' FROM audit
              WHERE action = 'charge refund'" "alice|charge refund|$FEE_A|$R|fee charged in error" "refund audited"

# never twice (refund_of UNIQUE), a refund is not a charge
expect_exit 3 env DIALOG_NOW=$C23 "$C" --agent bob charge refund "$FEE_A" --reason again
expect_grep "already refunded by entry $R"
expect_exit 3 env DIALOG_NOW=$C23 "$C" --agent bob charge refund "$R" --reason "refund the refund"
expect_grep "R16"
[[ $(bal $A) == $((B0 + 300)) ]] || fail "R16: a refused refund moved the balance"
[[ $(sql "SELECT count(*) FROM audit WHERE action = 'charge refund'") == 1 ]] || fail "refused refunds audited as done"

# bill_date = today in the SUBSCRIBER's region (D12): 18:00 Moscow is the 24th in Vladivostok;
# several concurrent refunds of one entry: exactly one wins (23505 -> exit 3 for the rest)
BV=$(bal $W)   # unchanged: only V's entry is refunded
BV0=$(bal $V)
pids=()
for i in 1 2 3 4 5; do
  ( rc=0; DIALOG_NOW=$C23 "$C" --agent "agent$i" charge refund "$FEE_V" --reason "race $i" \
      >"$T_DIR/race$i.out" 2>&1 || rc=$?; echo $rc >"$T_DIR/race$i.rc" ) &
  pids+=($!)
done
wait "${pids[@]}"
codes=$(cat "$T_DIR"/race*.rc | sort | tr '\n' ' ')
[[ "$codes" == "0 3 3 3 3 " ]] || { cat "$T_DIR"/race*.out; fail "R16 concurrent refunds: exit codes $codes"; }
expect_sql "SELECT count(*), min(bill_date) FROM ledger WHERE refund_of = $FEE_V" "1|2026-11-24" \
  "R16 one refund, on the subscriber's region day (D12)"
[[ $(bal $V) == $((BV0 + 250)) && $(bal $W) == "$BV" ]] || fail "R16 concurrent refunds: balance $(bal $V)"

# --- explain: every kopeck of A's 23rd ------------------------------------------------------
expect_exit 0 env DIALOG_NOW=$C23 "$C" --json explain $A --date 2026-11-23
cp "$T_DIR/last.out" "$T_DIR/explain.json"
LEDGER_SUM=$(sql "SELECT sum(amount) FROM ledger WHERE subscriber_id = $AID AND bill_date = '2026-11-23'")
LEDGER_IDS=$(sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM ledger
                   WHERE subscriber_id = $AID AND bill_date = '2026-11-23' AND kind NOT LIKE 'sms%'")
[[ "$LEDGER_SUM" == 5100 ]] || fail "setup: A's ledger of the 23rd sums to $LEDGER_SUM"
python3 - "$T_DIR/explain.json" "$LEDGER_SUM" "$LEDGER_IDS" "$FEE_A" "$R" <<'PY' || fail "explain --json: items do not account for the ledger"
import json, sys
d = json.load(open(sys.argv[1])); want = int(sys.argv[2])
ids = sorted(int(i) for i in sys.argv[3].split(","))
fee, ref = int(sys.argv[4]), int(sys.argv[5])
items = d["items"]
assert d["date"] == "2026-11-23" and d["total"] == want, ("total", d["total"], want)
assert sum(i["amount"] for i in items) == want, "items do not add up to the total"
assert d["ledger_entries"] == 5, d["ledger_entries"]
for i in items:
    assert set(i) >= {"rule", "kind", "description", "quantity", "price", "amount", "ledger_id"}, i
by = {}
for i in items: by.setdefault(i["rule"], []).append(i)
# R13: A's fee, with its entry
assert [(i["amount"], i["ledger_id"]) for i in by["R13"]] == [(300, fee)], by["R13"]
# R9: 2 free segments; R10: 2 charged at 150; R11: 2 at 150
assert [(i["quantity"], i["amount"]) for i in by["R9"]] == [(2, 0)], by["R9"]
assert [(i["quantity"], i["price"], i["amount"]) for i in by["R10"]] == [(2, 150, 300)], by["R10"]
assert [(i["quantity"], i["price"], i["amount"]) for i in by["R11"]] == [(2, 150, 300)], by["R11"]
assert [i["amount"] for i in by["R15"]] == [4500], by["R15"]
assert [(i["amount"], i["ledger_id"]) for i in by["R16"]] == [(-300, ref)], by["R16"]
assert "#%d" % fee in by["R16"][0]["description"] or str(fee) in by["R16"][0]["description"]
listed = sorted(i["ledger_id"] for i in items if i["ledger_id"] and i["kind"] in ("daily_fee", "operator_fee", "refund"))
assert listed == ids, (listed, ids)
PY

# text: the same total, 80 columns
expect_exit 0 env DIALOG_NOW=$C23 "$C" explain $A --date 2026-11-23
cp "$T_DIR/last.out" "$T_DIR/explain.txt"
expect_grep "total: 5 ledger entries +51\.00$" "$T_DIR/explain.txt"
expect_grep "^R15 " "$T_DIR/explain.txt"
expect_grep "^R16 .*-3\.00" "$T_DIR/explain.txt"
awk 'length($0) > 80 { print; bad = 1 } END { exit bad }' "$T_DIR/explain.txt" || fail "explain: a line wider than 80 columns"

# default date: today in the subscriber's region by the service clock
expect_exit 0 env DIALOG_NOW=$C23 "$C" --json explain $A
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["date"]=="2026-11-23" and d["total"]==5100, d' \
  "$T_DIR/last.out" || fail "explain: default date"

# free items: B's 23rd is a free-week day (R13a); A's 22nd the activation day (R13)
expect_exit 0 env DIALOG_NOW=$C23 "$C" --json explain $B --date 2026-11-23
python3 - "$T_DIR/last.out" <<'PY' || fail "explain: R13a trial day"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["total"] == 0 and d["ledger_entries"] == 0, d
r = [i for i in d["items"] if i["rule"] == "R13a"]
assert len(r) == 1 and r[0]["amount"] == 0 and r[0]["ledger_id"] is None, d["items"]
assert "day 1 of 7" in r[0]["description"] and "2026-11-22" in r[0]["description"], r
PY
expect_exit 0 env DIALOG_NOW=$C23 "$C" --json explain $A --date 2026-11-22
python3 - "$T_DIR/last.out" <<'PY' || fail "explain: R13 activation day"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["total"] == 0 and [i["rule"] for i in d["items"]] == ["R13"], d
assert "activat" in d["items"][0]["description"] and d["items"][0]["amount"] == 0, d
PY
# a day the daily run has not billed yet: the fee is explained as not yet charged
expect_exit 0 env DIALOG_NOW='2026-11-24T00:01:00+03:00' "$C" explain $A --date 2026-11-24
expect_grep "^R13 +no daily fee yet: dialog #$D1"; expect_grep "run has not"
# D13: a suspended dialog is explained (W cannot pay the 24th in VVO: balance 1000-250-... )
sql "UPDATE subscriber SET balance = 0 WHERE msisdn = '$W'" >/dev/null
bill '2026-11-25T00:05:00+10:00' 2026-11-24
expect_exit 0 env DIALOG_NOW='2026-11-25T00:10:00+10:00' "$C" --json explain $V --date 2026-11-24
python3 - "$T_DIR/last.out" <<'PY' || fail "explain: D13 unpaid day"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["total"] == -250 and [i["rule"] for i in d["items"]] == ["D13", "R16"], d
PY

# errors
expect_exit 4 "$C" explain 79160000999
expect_exit 2 "$C" explain $A --date 2026-02-30
expect_exit 2 "$C" explain 12345
pass "refund R16 (usage, once, not a refund, region day, race, audit); explain adds up to the ledger"
