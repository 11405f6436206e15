#!/usr/bin/env bash
# dialogctl dialog list / dialog show against a real PostgreSQL: filters by
# number in any R2 form and by state, newest first, --limit, the --json fields
# of interfaces.md (types, nulls, UTC instants), the event history in order,
# exit codes 2 / 4 / 5 (interfaces.md).
source "$(dirname "$0")/lib.sh"
new_db
C="$DIALOGCTL"
unset DIALOG_CONFIG DIALOG_NOW

"$C" db init >/dev/null
"$C" region add MOW --tz Europe/Moscow >/dev/null
"$C" region add NSK --tz Asia/Novosibirsk >/dev/null
"$C" tariff add BASE --sms-price 150 >/dev/null
A=79161000001 B=79161000002 CC=79161000003 D=79161000004
"$C" subscriber add "+7 916 100-00-01" --region MOW --tariff BASE --postpaid >/dev/null
"$C" subscriber add 89161000002 --region NSK --tariff BASE --prepaid --balance 1000 >/dev/null
"$C" subscriber add 9161000003 --region MOW --tariff BASE --postpaid >/dev/null
"$C" subscriber add 79161000004 --region NSK --tariff BASE --postpaid >/dev/null
# Output must not depend on the server's zone: make the database default odd.
sql "ALTER DATABASE $(sql 'SELECT current_database()') SET timezone = 'Asia/Tokyo'" >/dev/null

# add_dialog FROM TO STATE CHANNEL CREATED ACTIVATED ENDED EXPIRES REASON -> id
add_dialog() {
  sql "INSERT INTO dialog (inviter_id, invitee_id, inviter, invitee, state, channel, created_at,
         activated_at, ended_at, expires_at, ended_reason)
       SELECT a.id, b.id, a.msisdn, b.msisdn, '$3', '$4', '$5',
         NULLIF('$6', '')::timestamptz, NULLIF('$7', '')::timestamptz, NULLIF('$8', '')::timestamptz,
         NULLIF('$9', '')
       FROM subscriber a, subscriber b WHERE a.msisdn = '$1' AND b.msisdn = '$2'
       RETURNING id"
}
# Inserted out of chronological order, so "newest first" is not "highest id".
D1=$(add_dialog $A $B ended sms '2026-11-20 10:00+03' '2026-11-20 10:05+03' '2026-11-21 12:00+03' '' 'R14 selfcare')
D4=$(add_dialog $CC $D pending sms '2026-11-23 08:00Z' '' '' '2026-11-24 08:00Z' '')
D2=$(add_dialog $CC $A declined sms '2026-11-21 09:00Z' '' '' '' 'declined by invitee')
D3=$(add_dialog $A $B active operator '2026-11-22 13:50+03' '2026-11-22 14:00+03' '' '' '')
D5=$(add_dialog $D $CC expired sms '2026-11-01 12:00Z' '' '' '2026-11-02 12:00Z' 'R5 ttl')
D6=$(add_dialog $B $D suspended selfcare '2026-11-22 00:00Z' '2026-11-22 00:10Z' '' '' '')
for v in "$D1" "$D2" "$D3" "$D4" "$D5" "$D6"; do [[ $v =~ ^[0-9]+$ ]] || fail "fixture insert: '$v'"; done
export D1 D2 D3 D4 D5 D6

# Events of D1, inserted out of order; one with a multi-line, quoted detail
# and one with no actor, channel or detail.
sql "INSERT INTO dialog_event (dialog_id, at, type, actor, channel, detail) VALUES
  ($D1, '2026-11-21 12:00+03', 'ended', '$A', 'selfcare', E'R14: \"stop\"\nby inviter'),
  ($D1, '2026-11-20 10:00+03', 'invited', '$A', 'sms', 'invite $B'),
  ($D1, '2026-11-20 10:05+03', 'accepted', '$B', 'sms', NULL),
  ($D1, '2026-11-21 00:00Z', 'suspended', NULL, NULL, NULL)" >/dev/null

# check_ids EXPECTED_CSV: the ids of the --json list in last.out, in order
check_ids() {
  python3 - "$T_DIR/last.out" "$1" <<'PY' || fail "list order/filter: expected ids $1, got $(cat "$T_DIR/last.out")"
import json, os, sys
want = [int(os.environ[n]) for n in sys.argv[2].split(",") if n]
got = [d["id"] for d in json.load(open(sys.argv[1]))]
assert got == want, (got, want)
PY
}

# --- list --json: every dialog, newest first, fields and types ---------------
expect_exit 0 "$C" --json dialog list
check_ids D4,D3,D6,D2,D1,D5
python3 - "$T_DIR/last.out" <<'PY' || fail "list --json fields (interfaces.md)"
import json, os, re, sys
ds = json.load(open(sys.argv[1]))
iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
keys = {"id", "inviter", "invitee", "state", "created_at", "activated_at", "ended_at",
        "channel", "expires_at", "ended_reason"}
for d in ds:
    assert set(d) == keys, sorted(d)
    assert isinstance(d["id"], int) and not isinstance(d["id"], bool), d
    assert d["state"] in ("pending", "active", "suspended", "ended", "declined", "expired"), d
    assert re.match(r"^7\d{10}$", d["inviter"]) and re.match(r"^7\d{10}$", d["invitee"]), d
    for k in ("created_at", "activated_at", "ended_at", "expires_at"):
        assert d[k] is None or iso.match(d[k]), (k, d)
    assert isinstance(d["created_at"], str)
by = {d["id"]: d for d in ds}
e = lambda n: by[int(os.environ[n])]
# instants in UTC whatever the zone they were written in or the database's default
assert e("D3")["created_at"] == "2026-11-22T10:50:00Z", e("D3")
assert e("D3")["activated_at"] == "2026-11-22T11:00:00Z" and e("D3")["ended_at"] is None, e("D3")
assert e("D3")["channel"] == "operator" and e("D3")["ended_reason"] is None, e("D3")
assert e("D1") == {"id": e("D1")["id"], "inviter": "79161000001", "invitee": "79161000002",
                   "state": "ended", "channel": "sms", "created_at": "2026-11-20T07:00:00Z",
                   "activated_at": "2026-11-20T07:05:00Z", "ended_at": "2026-11-21T09:00:00Z",
                   "expires_at": None, "ended_reason": "R14 selfcare"}, e("D1")
assert e("D4")["activated_at"] is None and e("D4")["expires_at"] == "2026-11-24T08:00:00Z", e("D4")
assert e("D2")["inviter"] == "79161000003" and e("D2")["invitee"] == "79161000001", e("D2")
PY

# --- R2: --msisdn in any form finds dialogs on either side -------------------
expect_exit 0 "$C" --json dialog list --msisdn '+7 (916) 100-00-01'
check_ids D3,D2,D1
expect_exit 0 "$C" dialog list --msisdn 8-916-100-00-03 --json
check_ids D4,D2,D5
expect_exit 0 "$C" --json dialog list --msisdn 9161000001 --state ended
check_ids D1
expect_exit 0 "$C" --json dialog list --state pending
check_ids D4
expect_exit 0 "$C" --json dialog list --state=suspended
check_ids D6
expect_exit 0 "$C" --json dialog list --limit 2
check_ids D4,D3
expect_exit 0 "$C" --json dialog list --msisdn 79161000004 --limit 1
check_ids D4

# empty results are not errors, an unknown subscriber included
expect_exit 0 "$C" --json dialog list --msisdn 79169999999
[[ $(tr -d ' \n' <"$T_DIR/last.out") == '[]' ]] || fail "empty list --json must be []"
expect_exit 0 "$C" dialog list --msisdn 79169999999
[[ $(cat "$T_DIR/last.out") == "no dialogs" ]] || fail "empty list text: $(cat "$T_DIR/last.out")"
expect_exit 0 "$C" dialog list --msisdn $B --state declined
expect_grep '^no dialogs$'

# --- bad input: exit 2 ------------------------------------------------------
expect_exit 2 "$C" dialog list --state open
expect_grep 'unknown state "open".*pending, active, suspended, ended, declined, expired'
expect_exit 2 "$C" dialog list --state ACTIVE
for n in 12345 '+1 916 100 00 01' 7916100000a ''; do
  expect_exit 2 "$C" dialog list --msisdn "$n"
  expect_grep 'not a valid number'
done
for l in 0 -1 abc 1.5 99999999999999999999; do
  expect_exit 2 "$C" dialog list --limit "$l"
  expect_grep 'dialogctl: .*limit: '
done
expect_exit 2 "$C" dialog list extra
expect_exit 2 "$C" dialog list --peer 79161000001
expect_exit 2 "$C" dialog show
expect_grep 'missing argument ID'
for id in 0 -1 abc 1.5 ' 1' 1e3 99999999999999999999; do
  expect_exit 2 "$C" dialog show "$id"
  expect_grep 'not a dialog id'
done

# --- list text: a table within 80 columns, times UTC "YYYY-MM-DD HH:MM" -------
expect_exit 0 "$C" dialog list
awk 'length($0) > 80 { bad = 1 } END { exit bad }' "$T_DIR/last.out" || fail "list lines wider than 80 columns"
head -n 1 "$T_DIR/last.out" | grep -Eq '^ *ID +INVITER +INVITEE +STATE +CREATED' || fail "list header: $(head -n 2 "$T_DIR/last.out")"
expect_grep "^ *$D3  79161000001  79161000002  active     2026-11-22 10:50\$"
grep -A1 -E "^ *$D3  " "$T_DIR/last.out" | tail -n 1 | grep -Eq '^ +2026-11-22 11:00 +-$' || fail "D3 activated/ended line"
grep -A1 -E "^ *$D1  " "$T_DIR/last.out" | tail -n 1 | grep -Eq '^ +2026-11-20 07:05 +2026-11-21 09:00$' || fail "D1 activated/ended line"
grep -A1 -E "^ *$D4  " "$T_DIR/last.out" | tail -n 1 | grep -Eq '^ +- +-$' || fail "D4: no activation, no end"
# newest first in text too
order=$(grep -E "^ *[0-9]+  7" "$T_DIR/last.out" | awk '{ print $1 }' | paste -sd, -)
[[ $order == "$D4,$D3,$D6,$D2,$D1,$D5" ]] || fail "text order $order"
# the ID column stays aligned whatever the widths of the ids
[[ $(grep -E '^ *[0-9]+  7' "$T_DIR/last.out" | awk '{ print index($0, "79") }' | sort -u | wc -l) == 1 ]] \
  || fail "list columns not aligned"

# --- show: text --------------------------------------------------------------
expect_exit 0 "$C" dialog show "$D1"
expect_grep "^dialog: +#$D1\$"
expect_grep '^inviter: +79161000001 \(region MOW, Europe/Moscow\)$'
expect_grep '^invitee: +79161000002 \(region NSK, Asia/Novosibirsk\)$'
expect_grep '^state: +ended$'
expect_grep '^channel: +sms$'
expect_grep '^created: +2026-11-20 07:00:00 UTC$'
expect_grep '^activated: +2026-11-20 07:05:00 UTC$'
expect_grep '^ended: +2026-11-21 09:00:00 UTC$'
expect_grep '^expires: +-$'
expect_grep '^ended reason: +R14 selfcare$'
# events one per line, oldest first; the multi-line detail stays on its line
ev=$(grep -E '^  2026-' "$T_DIR/last.out" | awk '{ print $3 }' | paste -sd, -)
[[ $ev == "invited,accepted,suspended,ended" ]] || fail "show events order: $ev"
expect_grep '^  2026-11-20 07:00:00  invited +79161000001 +sms +invite 79161000002$'
expect_grep '^  2026-11-21 00:00:00  suspended +- +-$'
expect_grep '^  2026-11-21 09:00:00  ended +79161000001 +selfcare +R14: "stop" by inviter$'
[[ $(grep -c '^  2026-' "$T_DIR/last.out") == 4 ]] || fail "one line per event"

expect_exit 0 "$C" dialog show "$D4"
expect_grep '^events: +none$'
expect_grep '^expires: +2026-11-24 08:00:00 UTC$'
expect_grep '^activated: +-$'
expect_grep '^ended reason: +-$'

# --- show --json: the list fields plus events in order -----------------------
expect_exit 0 "$C" dialog show "$D1" --json
python3 - "$T_DIR/last.out" <<'PY' || fail "show --json (interfaces.md)"
import json, os, sys
d = json.load(open(sys.argv[1]))
for k in ("id", "inviter", "invitee", "state", "created_at", "activated_at", "ended_at",
          "channel", "expires_at", "ended_reason", "events"):
    assert k in d, k
assert d["id"] == int(os.environ["D1"]) and d["state"] == "ended", d
assert d["created_at"] == "2026-11-20T07:00:00Z" and d["ended_at"] == "2026-11-21T09:00:00Z", d
assert d["inviter_region"] == "MOW" and d["invitee_region"] == "NSK", d
ev = d["events"]
assert [e["type"] for e in ev] == ["invited", "accepted", "suspended", "ended"], ev
assert [e["at"] for e in ev] == ["2026-11-20T07:00:00Z", "2026-11-20T07:05:00Z",
                                 "2026-11-21T00:00:00Z", "2026-11-21T09:00:00Z"], ev
for e in ev:
    assert set(e) == {"at", "type", "detail", "actor", "channel"}, e
assert ev[0] == {"at": "2026-11-20T07:00:00Z", "type": "invited", "detail": "invite 79161000002",
                 "actor": "79161000001", "channel": "sms"}, ev[0]
assert ev[1]["detail"] is None and ev[1]["actor"] == "79161000002", ev[1]
assert ev[2]["actor"] is None and ev[2]["channel"] is None and ev[2]["detail"] is None, ev[2]
assert ev[3]["detail"] == 'R14: "stop"\nby inviter', ev[3]
PY
expect_exit 0 "$C" --json dialog show "$D4"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["events"]==[] and d["activated_at"] is None and d["ended_reason"] is None and d["expires_at"]=="2026-11-24T08:00:00Z", d' "$T_DIR/last.out" \
  || fail "show --json without events"
# leading zeros name the same dialog
expect_exit 0 "$C" --json dialog show "00$D3"
python3 -c 'import json,sys,os; d=json.load(open(sys.argv[1])); assert d["id"]==int(os.environ["D3"]) and d["channel"]=="operator", d' "$T_DIR/last.out" \
  || fail "show 00ID"

# --- unknown id: exit 4 -----------------------------------------------------
expect_exit 4 "$C" dialog show 999999
expect_grep 'dialog 999999 not found'
expect_exit 4 "$C" --json dialog show 9223372036854775807
[[ ! -s "$T_DIR/last.out" ]] || fail "not found must print nothing on stdout"

# --- database unavailable: exit 5 --------------------------------------------
nowhere="host=$T_DIR/nowhere port=1 user=x dbname=x connect_timeout=2"
expect_exit 5 "$C" --db "$nowhere" dialog list
expect_grep 'database: '
[[ $(wc -l <"$T_DIR/last.err") == 1 ]] || fail "the database error must be one line"
expect_exit 5 "$C" --db "$nowhere" --json dialog show 1
expect_exit 5 "$C" --db "$nowhere" dialog list --msisdn 79161000001 --state active
# bad input is reported before the database is touched
expect_exit 2 "$C" --db "$nowhere" dialog list --state nope
expect_exit 2 "$C" --db "$nowhere" dialog show x
# a database without the schema
new_db empty
expect_exit 5 "$C" dialog list
expect_grep 'db init'
expect_exit 5 "$C" dialog show 1

pass
