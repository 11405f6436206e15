#!/usr/bin/env bash
# dialogctl shows allowance use and per-message charges (issue 4):
#   subscriber show: allowance_used_today per open dialog is the pair's
#     counter (pair_usage, R9) on the INVITER's region day (D5) at the service
#     clock (DIALOG_NOW); the top level sums the ACTIVE dialogs (a suspended
#     one has no allowance, D13; several dialogs, D11); `allowance` is
#     [service] daily_allowance (default 50); recent_charges = last 10 entries;
#   charges list: the current contract's ledger entries (R16; --all-contracts
#     adds the earlier contracts', R13a), bill_date within [--from, --to]
#     inclusive, --kind, --limit, newest first, JSON fields and types of
#     interfaces.md, an 80-column table with a total in roubles, exit codes;
#   end to end: a dialog made over SMS, 5 relayed messages -> "5 of 50".
# Usage and ledger rows are written by SQL: pair_usage / sms_usage / ledger
# through the engine's own recorder dlg_record_relays (0004), plus direct
# ledger inserts for fees, refunds and an earlier contract.
source "$(dirname "$0")/lib.sh"
new_db
C="$DIALOGCTL"
unset DIALOG_CONFIG DIALOG_NOW

A=79161000001 B=79161000002 CC=79161000003 D=79161000004 E=79161000005 F=79161000006
G=79161000007 H=79161000008 I=79161000009 J=79161000010

"$C" db init >/dev/null
"$C" region add MOW --tz Europe/Moscow --daily-fee 300 --operator-fee 4500 >/dev/null
"$C" region add NSK --tz Asia/Novosibirsk --daily-fee 300 --operator-fee 4500 >/dev/null
"$C" tariff add BASIC --sms-price 150 >/dev/null
# B's earlier contract with one charge, then the number is recycled (R13a)
"$C" subscriber add $B --region MOW --tariff BASIC --postpaid --contract OLD >/dev/null
sql "INSERT INTO ledger (subscriber_id, msisdn, kind, amount, bill_date, created_at, idem_key, rule)
     SELECT id, msisdn, 'daily_fee', 300, '2026-10-05', '2026-10-05 00:10+03', 'old:1', 'R13'
       FROM subscriber WHERE msisdn = '$B'" >/dev/null
"$C" subscriber add $B --region MOW --tariff BASIC --prepaid --balance 100000 --contract NEW >/dev/null
for m in $A $D; do "$C" subscriber add $m --region NSK --tariff BASIC --postpaid >/dev/null; done
for m in $CC $E $F $G $H $I $J; do "$C" subscriber add $m --region MOW --tariff BASIC --postpaid >/dev/null; done

sid() { sql "SELECT id FROM subscriber WHERE msisdn = '$1' AND retired_at IS NULL"; }
# mkdialog INVITER INVITEE STATE -> dialog id
mkdialog() {
  local ended=NULL
  [[ $3 == ended ]] && ended="'2026-11-22 09:00+03'"
  sql "INSERT INTO dialog (inviter_id, invitee_id, inviter, invitee, state, created_at, activated_at, ended_at)
       VALUES ($(sid "$1"), $(sid "$2"), '$1', '$2', '$3', '2026-11-20 10:00+03', '2026-11-20 10:05+03', $ended)
       RETURNING id" | head -n 1
}
D1=$(mkdialog $A $B active)      # inviter in Novosibirsk (+7), invitee in Moscow (+3)
D2=$(mkdialog $CC $D active)     # inviter in Moscow, invitee in Novosibirsk
D3o=$(mkdialog $E $F ended)      # an earlier dialog of the pair, ended today
D3=$(mkdialog $E $F suspended)
D4=$(mkdialog $G $H active)      # D11: G has two active dialogs
D5=$(mkdialog $G $I active)

# relays SRC DST SUB DIALOG AT PAIR_DAY N FREE PRICE RULE BILL_DATE TAG:
# N one-segment messages recorded as dialogd records them (dlg_record_relays).
relays() {
  sql "SELECT dlg_record_relays(array_agg('${12}:' || g), array_agg('$5'::timestamptz), array_agg('$1'::text),
         array_agg('$2'::text), array_agg($3::bigint), array_agg($4::bigint), array_agg('$6'::date),
         array_agg(1), array_agg($8), array_agg($9::bigint), array_agg('${10}'::text),
         array_agg('${11}'::date), array_agg(g::text), array_agg(NULL::bigint), array_agg(g::bigint))
         FROM generate_series(1, $7) g" >/dev/null
}
SA=$(sid $A) SB=$(sid $B)
# pair A-B, the inviter A's (Novosibirsk) day 2026-11-22: 30 A->B and 20 B->A
# free (R9), then two from B charged R10 (18:00 Moscow = 22:00 Novosibirsk)
relays $A $B $SA $D1 '2026-11-22 12:00+03' 2026-11-22 30 1 150 R9 2026-11-22 ab
relays $B $A $SB $D1 '2026-11-22 12:30+03' 2026-11-22 20 1 150 R9 2026-11-22 ba
relays $B $A $SB $D1 '2026-11-22 18:00+03' 2026-11-22 2 0 150 R10 2026-11-22 ba10
# 21:00 Moscow = 01:00 on the 23rd in Novosibirsk: a new allowance day for
# the pair (D5) while B's own day is still the 22nd (B's charge date, D7)
relays $A $B $SA $D1 '2026-11-22 21:00+03' 2026-11-23 7 1 150 R9 2026-11-23 ab2
relays $B $A $SB $D1 '2026-11-22 21:10+03' 2026-11-23 5 1 150 R9 2026-11-22 ba2
[[ $(sql "SELECT string_agg(day || '=' || used, ',' ORDER BY day) FROM pair_usage WHERE pair_lo = '$A'") == "2026-11-22=50,2026-11-23=12" ]] \
  || fail "set-up: pair_usage $(sql 'SELECT * FROM pair_usage')"
[[ $(sql "SELECT count(*) FROM sms_usage") == 64 ]] || fail "set-up: sms_usage"
# pair C-D: the inviter C's (Moscow) day 22 has 7; the 23rd (D's own day) 3
# pair E-F 4 today (suspended dialog), G-H 5, G-I 6
sql "INSERT INTO pair_usage (pair_lo, pair_hi, day, used) VALUES
       ('$CC', '$D', '2026-11-22', 7), ('$CC', '$D', '2026-11-23', 3),
       ('$E', '$F', '2026-11-22', 4), ('$G', '$H', '2026-11-22', 5), ('$G', '$I', '2026-11-22', 6),
       ('$G', '$H', '2026-11-21', 40)" >/dev/null

# B's other ledger entries; inserted out of bill_date order on purpose
ins() { # ins SUB_MSISDN KIND AMOUNT BILL_DATE DIALOG RULE CREATED DETAIL [REFUND_OF] -> id
  sql "INSERT INTO ledger (subscriber_id, msisdn, dialog_id, kind, amount, bill_date, created_at, idem_key, rule, detail, refund_of)
       VALUES ($(sid "$1"), '$1', $5, '$2', $3, '$4', '$7', 't:' || gen_random_uuid(), '$6', \$d\$$8\$d\$, ${9:-NULL})
       RETURNING id" | head -n 1
}
L_OP=$(ins $B operator_fee 4500 2026-11-19 NULL R15 '2026-11-19 10:00+03' 'created by operator ops1')
L_F21=$(ins $B daily_fee 300 2026-11-21 "$D1" R13 '2026-11-21 00:05+03' 'daily fee')
L_STD=$(ins $B sms_standard 150 2026-11-21 NULL R11 '2026-11-21 15:00+03' 'Сообщение вне диалога абоненту 79169990000, очень длинное пояснение')
L_REF=$(ins $B refund -300 2026-11-22 NULL R16 '2026-11-22 11:00+03' 'goodwill' "$L_F21")
L_F20=$(ins $B daily_fee 300 2026-11-20 "$D1" R13 '2026-11-22 11:30+03' 'late run for the 20th')
ins $A daily_fee 300 2026-11-21 "$D1" R13 '2026-11-21 00:05+07' 'A pays too' >/dev/null
sql "INSERT INTO ledger (subscriber_id, msisdn, kind, amount, bill_date, created_at, idem_key, rule)
     SELECT $(sid $G), '$G', 'daily_fee', 300, DATE '2026-11-01' + g, '2026-11-01 00:05+03'::timestamptz + g * interval '1 day',
            'g:' || g, 'R13' FROM generate_series(1, 12) g" >/dev/null
read -r L_R1 L_R2 <<<"$(sql "SELECT string_agg(id::text, ' ' ORDER BY id) FROM ledger WHERE msisdn = '$B' AND kind = 'sms_over_allowance'")"
[[ -n "$L_R2" ]] || fail "set-up: the R10 charges of B"

export DIALOG_NOW=2026-11-22T22:30:00+03:00   # Moscow the 22nd, Novosibirsk 02:30 on the 23rd

# ============================ subscriber show ================================
# D5: B (Moscow) is the invitee; the pair's day is A's (Novosibirsk) 23rd: 12,
# not B's own 22nd (50)
expect_exit 0 "$C" --json subscriber show $B
python3 - "$T_DIR/last.out" "$D1" <<'PY' || fail "D5 show: allowance_used_today of the invitee = the inviter's day"
import json, sys
d = json.load(open(sys.argv[1])); d1 = int(sys.argv[2])
assert d["allowance_used_today"] == 12, d["allowance_used_today"]
assert isinstance(d["allowance_used_today"], int)
[dl] = d["dialogs"]
assert dl["id"] == d1 and dl["state"] == "active", dl
assert dl["allowance_used_today"] == 12 and dl["allowance"] == 50, dl
assert d["daily_allowance"] == 50
PY
expect_exit 0 "$C" --json subscriber show $A
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["allowance_used_today"]==12 and d["dialogs"][0]["allowance_used_today"]==12, d' "$T_DIR/last.out" \
  || fail "D5 show: the inviter sees the same pair counter"
expect_exit 0 "$C" subscriber show $B
expect_grep '^ +allowance: 12 of 50 used today$'
expect_grep '^allowance: +12 used today in 1 active dialog '

# D5 the other way round: D (Novosibirsk) is the invitee of C (Moscow): the
# Moscow day 22 (7), although D's own day is already the 23rd (3)
expect_exit 0 "$C" --json subscriber show $D
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["allowance_used_today"]==7 and d["dialogs"][0]["allowance_used_today"]==7, d' "$T_DIR/last.out" \
  || fail "D5 show: invitee in a later zone uses the inviter's day"

# the service clock (DIALOG_NOW) picks the day: 19:00 Moscow is 23:00 in
# Novosibirsk, still the 22nd (50); on the 24th nothing is used yet
for pair in "2026-11-22T19:00:00+03:00=50" "2026-11-23T12:00:00+03:00=12" "2026-11-24T00:30:00+03:00=0"; do
  expect_exit 0 env DIALOG_NOW="${pair%=*}" "$C" --json subscriber show $B
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["allowance_used_today"]==int(sys.argv[2]), d["allowance_used_today"]' \
    "$T_DIR/last.out" "${pair#*=}" || fail "D5 show at ${pair%=*}: expected ${pair#*=}"
done

# config daily_allowance is what `allowance` reports (D14: the same file)
printf '[service]\ndaily_allowance = 5\n' >"$T_DIR/five.ini"
expect_exit 0 "$C" --config "$T_DIR/five.ini" --json subscriber show $B
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["daily_allowance"]==5 and d["dialogs"][0]["allowance"]==5, d' "$T_DIR/last.out" \
  || fail "allowance from [service] daily_allowance"
expect_exit 0 "$C" --config "$T_DIR/five.ini" subscriber show $B
expect_grep '^ +allowance: 12 of 5 used today$'

# D13: a suspended dialog shows the pair's use but adds nothing to the top
# level; an ended dialog has none (null)
expect_exit 0 "$C" --json subscriber show $E
python3 - "$T_DIR/last.out" "$D3" "$D3o" <<'PY' || fail "D13 show: suspended / ended dialogs"
import json, sys
d = json.load(open(sys.argv[1])); d3, d3o = int(sys.argv[2]), int(sys.argv[3])
by = {x["id"]: x for x in d["dialogs"]}
assert by[d3]["state"] == "suspended" and by[d3]["allowance_used_today"] == 4, by
assert by[d3o]["state"] == "ended" and by[d3o]["allowance_used_today"] is None and by[d3o]["allowance"] == 50, by
assert d["allowance_used_today"] == 0, d["allowance_used_today"]
PY
# D11: two active dialogs: the sum, each its own pair's counter (yesterday's
# 40 of G-H does not count)
expect_exit 0 "$C" --json subscriber show $G
python3 - "$T_DIR/last.out" "$D4" "$D5" <<'PY' || fail "D11 show: the sum over active dialogs"
import json, sys
d = json.load(open(sys.argv[1])); d4, d5 = int(sys.argv[2]), int(sys.argv[3])
by = {x["id"]: x["allowance_used_today"] for x in d["dialogs"]}
assert by == {d4: 5, d5: 6}, by
assert d["allowance_used_today"] == 11, d["allowance_used_today"]
# recent_charges: the last 10 of G's 12 entries, newest first
rc = d["recent_charges"]
assert len(rc) == 10 and [x["bill_date"] for x in rc] == ["2026-11-%02d" % k for k in range(13, 3, -1)], rc
assert d["charges"] == rc  # the older name of the same array
PY
expect_exit 0 "$C" subscriber show $G
expect_grep '^allowance: +11 used today in 2 active dialogs'

# recent_charges carry the fields of `charges list`
expect_exit 0 "$C" --json subscriber show $B
python3 - "$T_DIR/last.out" "$L_F20" "$L_REF" "$L_F21" <<'PY' || fail "show: recent_charges"
import json, sys
d = json.load(open(sys.argv[1])); f20, ref, f21 = map(int, sys.argv[2:5])
rc = d["recent_charges"]
assert [x["id"] for x in rc][:2] == [f20, ref], rc       # by entry, newest first
assert len(rc) == 7, len(rc)                              # the current contract only
keys = {"id", "msisdn", "dialog_id", "kind", "amount", "bill_date", "created_at", "rule", "detail", "refund_of"}
assert all(set(x) == keys for x in rc), rc[0].keys()
assert rc[1]["kind"] == "refund" and rc[1]["amount"] == -300 and rc[1]["refund_of"] == f21, rc[1]
PY
expect_exit 0 "$C" subscriber show $B
expect_grep '^recent charges: '
expect_grep "#$L_REF 2026-11-22 refund -3\\.00 RUB \\(-300 kop\\) \\(R16\\) refund of #$L_F21"

# ============================ charges list ===================================
KEYS='{"id","msisdn","dialog_id","kind","amount","bill_date","created_at","rule","detail","refund_of"}'
# ids of a JSON array in order
ids() { python3 -c 'import json,sys; print(" ".join(str(x["id"]) for x in json.load(open(sys.argv[1]))))' "$T_DIR/last.out"; }

# R16: every entry of the current contract, bill_date newest first (then the
# newest entry), A's and the old contract's not included
expect_exit 0 "$C" --json charges list $B
[[ $(ids) == "$L_REF $L_R2 $L_R1 $L_STD $L_F21 $L_F20 $L_OP" ]] || fail "charges list order/content: $(ids)"
python3 - "$T_DIR/last.out" "$B" "$D1" "$L_R1" "$L_OP" "$L_REF" "$L_F21" "$KEYS" <<'PY' || fail "charges list --json fields and types"
import json, re, sys
rows = json.load(open(sys.argv[1]))
b, d1, r1, op, ref, f21 = sys.argv[2], *map(int, sys.argv[3:8])
keys = eval(sys.argv[8])
for x in rows:
    assert set(x) == keys, x
    assert type(x["id"]) is int and type(x["amount"]) is int, x
    assert x["msisdn"] == b and isinstance(x["kind"], str), x
    assert x["dialog_id"] is None or type(x["dialog_id"]) is int, x
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", x["bill_date"]), x
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", x["created_at"]), x
    assert x["refund_of"] is None or type(x["refund_of"]) is int, x
by = {x["id"]: x for x in rows}
# an R10 charge as the engine's recorder wrote it (D7: B's Moscow day)
assert by[r1]["kind"] == "sms_over_allowance" and by[r1]["amount"] == 150 and by[r1]["rule"] == "R10", by[r1]
assert by[r1]["dialog_id"] == d1 and by[r1]["bill_date"] == "2026-11-22", by[r1]
assert by[r1]["created_at"] == "2026-11-22T15:00:00Z", by[r1]            # UTC
assert by[op]["dialog_id"] is None and by[op]["amount"] == 4500 and by[op]["created_at"] == "2026-11-19T07:00:00Z", by[op]
assert by[ref]["refund_of"] == f21 and by[ref]["amount"] == -300 and by[ref]["kind"] == "refund", by[ref]
assert sum(x["amount"] for x in rows) == 5250
PY

# text: an 80-column table in roubles, a total line
expect_exit 0 "$C" charges list $B
python3 -c 'import sys; L=open(sys.argv[1], encoding="utf-8").read().splitlines(); bad=[l for l in L if len(l) > 80]; assert not bad and len(L) == 9, (len(L), bad)' "$T_DIR/last.out" \
  || { cat "$T_DIR/last.out"; fail "charges list: 80 columns, header + 7 rows + total"; }
expect_grep '^total: 7 entries +52\.50$' "$T_DIR/last.out"
expect_grep "^ *$L_OP 2026-11-19 operator_fee +45\\.00 +- R15 " "$T_DIR/last.out"
expect_grep "^ *$L_REF 2026-11-22 refund +-3\\.00 +- R16 +refund of #$L_F21\$" "$T_DIR/last.out"
expect_grep "^ *$L_R1 2026-11-22 sms_over_allowance +1\\.50 +$D1 R10 " "$T_DIR/last.out"
expect_grep "^ *$L_STD 2026-11-21 sms_standard +1\\.50 +- R11 +Сообщение вне\\.\\.\\.\$" "$T_DIR/last.out"

# --from / --to are inclusive days
expect_exit 0 "$C" --json charges list $B --from 2026-11-21 --to 2026-11-21
[[ $(ids) == "$L_STD $L_F21" ]] || fail "--from/--to one day: $(ids)"
expect_exit 0 "$C" charges list $B --from 2026-11-21 --to 2026-11-21
expect_grep '^total: 2 entries +4\.50$'
expect_exit 0 "$C" --json charges list $B --from 2026-11-20
[[ $(ids) == "$L_REF $L_R2 $L_R1 $L_STD $L_F21 $L_F20" ]] || fail "--from: $(ids)"
expect_exit 0 "$C" --json charges list $B --to=2026-11-20
[[ $(ids) == "$L_F20 $L_OP" ]] || fail "--to: $(ids)"
expect_exit 0 "$C" --json charges list $B --from 2026-11-23
[[ $(cat "$T_DIR/last.out") == "[]" ]] || fail "an empty range is []"
expect_exit 0 "$C" charges list $B --from 2026-11-23
expect_grep '^total: 0 entries +0\.00$'
# --kind
expect_exit 0 "$C" --json charges list $B --kind daily_fee
[[ $(ids) == "$L_F21 $L_F20" ]] || fail "--kind daily_fee: $(ids)"
expect_exit 0 "$C" --json charges list $B --kind sms_over_allowance --from 2026-11-22 --to 2026-11-22
[[ $(ids) == "$L_R2 $L_R1" ]] || fail "--kind with dates: $(ids)"
# --limit: the newest N; the total still covers every matching entry
expect_exit 0 "$C" --json charges list $B --limit 2
[[ $(ids) == "$L_REF $L_R2" ]] || fail "--limit 2: $(ids)"
expect_exit 0 "$C" charges list $B --limit 2
expect_grep '^total: 7 entries +52\.50$'
expect_grep 'newest 2 of 7 entries shown'
# R13a: the earlier contract's entries only on request
expect_exit 0 "$C" --json charges list $B --all-contracts
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert len(r)==8 and r[-1]["bill_date"]=="2026-10-05" and sum(x["amount"] for x in r)==5550, r' "$T_DIR/last.out" \
  || fail "--all-contracts"
# other subscribers' entries stay apart
expect_exit 0 "$C" --json charges list $A
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert len(r)==1 and r[0]["msisdn"]==sys.argv[2] and r[0]["amount"]==300, r' "$T_DIR/last.out" "$A" \
  || fail "charges list of A"
# any R2 form of the number
expect_exit 0 "$C" --json charges list '8 (916) 100-00-02' --kind refund
[[ $(ids) == "$L_REF" ]] || fail "R2 number form: $(ids)"

# exit codes: unknown subscriber 4, bad arguments 2
expect_exit 4 "$C" charges list 79169999999
expect_grep 'subscriber 79169999999 not found'
sql "UPDATE subscriber SET retired_at = now() WHERE msisdn = '$J'" >/dev/null
expect_exit 4 "$C" charges list $J
expect_grep 'no current contract'
expect_exit 0 "$C" --json charges list $J --all-contracts
for bad in 2026-02-30 2026-13-01 20261122 2026-1-01 2026-11-22x '' 2026-11-00; do
  expect_exit 2 "$C" charges list $B --from "$bad"
  expect_grep 'is not a date'
done
expect_exit 0 "$C" charges list $B --from 2024-02-29 --to 2024-02-29   # a leap day is a date
expect_exit 2 "$C" charges list $B --from 2026-11-22 --to 2026-11-21
expect_grep 'after --to'
expect_exit 2 "$C" charges list $B --kind fee
expect_exit 2 "$C" charges list $B --limit 0
expect_exit 2 "$C" charges list $B --limit -1
expect_exit 2 "$C" charges list $B --limit 1x
expect_exit 2 "$C" charges list 12345
expect_exit 2 "$C" charges list
expect_exit 2 "$C" charges list $B --bogus 1
expect_exit 5 "$C" --db "host=$T_DIR/nowhere port=1 user=x dbname=x connect_timeout=2" charges list $B
# nothing of this wrote anything
[[ $(sql "SELECT count(*) FROM ledger") == 21 ]] || fail "charges list must not write"

# ==================== end to end: R9 with the default 50 =====================
new_db e2e
X=79162000001 Y=79162000002
provision_basic $X $Y
export DIALOG_NOW=2026-11-22T14:00:00+03:00
cat >"$T_DIR/e2e.sim" <<EOF
wait-bind 10000
mo $X 6249 $Y
expect-resp 0
expect-mt $Y 10000ms приглашает
mo $Y 6249 1
expect-resp 0
expect-mt $X 10000ms подключён
expect-mt $Y 10000ms подключён
mo $X $Y one
expect-resp 0
expect-mt $Y 10000ms ^one\$
mo $Y $X two
expect-resp 0
expect-mt $X 10000ms ^two\$
mo $X $Y three
expect-resp 0
expect-mt $Y 10000ms ^three\$
mo $X $Y four
expect-resp 0
expect-mt $Y 10000ms ^four\$
mo $Y $X five
expect-resp 0
expect-mt $X 10000ms ^five\$
EOF
start_sim "$T_DIR/e2e.sim"
write_config   # no daily_allowance: the default 50
start_dialogd
wait_sim
stop_dialogd || fail "dialogd did not exit 0"
expect_exit 0 "$C" --json subscriber show $Y
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["allowance_used_today"]==5 and d["dialogs"][0]["allowance_used_today"]==5 and d["dialogs"][0]["allowance"]==50 and d["recent_charges"]==[], d' "$T_DIR/last.out" \
  || fail "R9 end to end: 5 relayed messages of the pair are 5 of 50"
expect_exit 0 "$C" subscriber show $X
expect_grep '^ +allowance: 5 of 50 used today$'
expect_exit 0 "$C" --json charges list $X
[[ $(cat "$T_DIR/last.out") == "[]" ]] || fail "R9: messages within the allowance are not charged"

pass "D5/D11/D13 allowance in show, charges list filters/JSON/table/exit codes, R9 end to end"
