#!/usr/bin/env bash
# dialogctl provisioning against a real PostgreSQL: db init, regions, tariffs,
# subscribers (R1, R2, R13a's contract rule), show --json, block (R1), the
# append-only ledger (R16), exit codes (interfaces.md).
source "$(dirname "$0")/lib.sh"
new_db
C="$DIALOGCTL"
unset DIALOG_CONFIG DIALOG_NOW

# --- db init: creates, then is a no-op; safe to repeat -----------------------
expect_exit 0 "$C" db init
latest=$(ls "$SRC_DIR"/schema/[0-9][0-9][0-9][0-9]_*.sql | sed 's#.*/0*\([0-9]*\)_.*#\1#' | sort -n | tail -n 1)
expect_grep "version 0 -> $latest"
expect_exit 0 "$C" db init
expect_grep "up to date \\(version $latest\\)"
nmig=$(ls "$SRC_DIR"/schema/[0-9][0-9][0-9][0-9]_*.sql | wc -l)
[[ $(sql "SELECT count(*) FROM schema_version") == "$nmig" ]] || fail "schema_version should hold one row per migration"
expect_exit 0 "$C" --json db init
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["from"]==d["to"]==int(sys.argv[2]) and d["upgraded"] is False, d' "$T_DIR/last.out" "$latest" \
  || fail "db init --json"

# --- exit codes for the command line itself ----------------------------------
expect_exit 2 "$C" frobnicate
expect_grep "unknown command 'frobnicate'"
expect_exit 2 "$C" subscriber
expect_grep "missing subcommand"
expect_exit 2 "$C" subscriber add
expect_grep 'missing argument MSISDN'
expect_exit 2 "$C" tariff add T1 --bogus 1
expect_grep 'unknown option --bogus'
expect_exit 0 "$C" --help
expect_grep 'subscriber import'
printf '[smpp]\nport = 70000\n' >"$T_DIR/bad.ini"
expect_exit 2 "$C" --config "$T_DIR/bad.ini" db init
expect_grep 'bad.ini:2.*port'
expect_exit 2 env DIALOG_CONFIG="$T_DIR/bad.ini" "$C" db init

# --- regions -----------------------------------------------------------------
expect_exit 2 "$C" region add MARS --tz Mars/Olympus
expect_grep 'unknown time zone "Mars/Olympus"'
[[ $(sql "SELECT count(*) FROM region") == 0 ]] || fail "a region with a bad zone was stored"
expect_exit 0 "$C" region add MOW --tz Europe/Moscow
expect_exit 0 "$C" region add NSK --tz Asia/Novosibirsk --daily-fee 250 --operator-fee 5000
expect_exit 3 "$C" region add MOW --tz Europe/Moscow
expect_grep 'region MOW already exists'
expect_exit 2 "$C" region add KGD --tz Europe/Kaliningrad --daily-fee -1
expect_exit 2 "$C" region add KGD --tz Europe/Kaliningrad --daily-fee 3.50
[[ $(sql "SELECT daily_fee || '/' || operator_fee || '/' || tz FROM region WHERE code='MOW'") == "300/4500/Europe/Moscow" ]] \
  || fail "region defaults 300/4500"
[[ $(sql "SELECT daily_fee || '/' || operator_fee FROM region WHERE code='NSK'") == "250/5000" ]] || fail "region fees"

# --- tariffs -----------------------------------------------------------------
expect_exit 0 "$C" tariff add BASE --sms-price 150
expect_exit 2 "$C" tariff add CHEAP
expect_grep 'missing --sms-price'
expect_exit 3 "$C" tariff add BASE --sms-price 100
[[ $(sql "SELECT sms_price FROM tariff WHERE code='BASE'") == 150 ]] || fail "tariff price"

# --- R2: every accepted form is stored canonical -----------------------------
i=0
for n in '+79161000001' '79161000002' '89161000003' '9161000004' '+7 (916) 100-00-05' '8-916-100-00-06'; do
  i=$((i + 1))
  expect_exit 0 "$C" subscriber add "$n" --region MOW --tariff BASE --prepaid --balance 1000
  [[ $(sql "SELECT count(*) FROM subscriber WHERE msisdn='7916100000$i' AND retired_at IS NULL") == 1 ]] \
    || fail "R2: '$n' not stored as 7916100000$i"
done
[[ $(sql "SELECT count(*) FROM subscriber WHERE msisdn !~ '^7[0-9]{10}\$'") == 0 ]] || fail "R2: non-canonical number stored"

# R2: invalid numbers are usage errors and store nothing
for n in '12345' '+1 916 100 00 07' '7916100000a' '+7916100000' '791610000071'; do
  expect_exit 2 "$C" subscriber add "$n" --region MOW --tariff BASE --prepaid
  expect_grep 'not a valid number'
done
[[ $(sql "SELECT count(*) FROM subscriber") == 6 ]] || fail "R2: an invalid number was stored"

# --- subscriber add: not found, bad money, bad combinations ------------------
expect_exit 4 "$C" subscriber add 79162000001 --region NOPE --tariff BASE --prepaid
expect_grep 'region NOPE not found'
expect_exit 4 "$C" subscriber add 79162000001 --region MOW --tariff NOPE --prepaid
expect_grep 'tariff NOPE not found'
expect_exit 2 "$C" subscriber add 79162000001 --region MOW --tariff BASE --prepaid --balance -100
expect_grep 'negative'
expect_exit 2 "$C" subscriber add 79162000001 --region MOW --tariff BASE --prepaid --balance=-100
expect_exit 2 "$C" subscriber add 79162000001 --region MOW --tariff BASE --prepaid --balance 12abc
expect_exit 2 "$C" subscriber add 79162000001 --region MOW --tariff BASE --prepaid --balance 99999999999999999999
expect_exit 2 "$C" subscriber add 79162000001 --region MOW --tariff BASE --prepaid --credit-limit -5
expect_exit 2 "$C" subscriber add 79162000001 --region MOW --tariff BASE --postpaid --balance 100
expect_grep 'prepaid accounts only'
expect_exit 2 "$C" subscriber add 79162000001 --region MOW --tariff BASE --postpaid --credit-limit 100
expect_exit 2 "$C" subscriber add 79162000001 --region MOW --tariff BASE
expect_grep 'missing --prepaid or --postpaid'
expect_exit 2 "$C" subscriber add 79162000001 --region MOW --tariff BASE --prepaid --postpaid
expect_exit 2 "$C" subscriber add 79162000001 --tariff BASE --prepaid
expect_grep 'missing --region'
[[ $(sql "SELECT count(*) FROM subscriber WHERE msisdn='79162000001'") == 0 ]] || fail "a refused add stored a row"

# flags before and after the command words; default contract "C" + number
expect_exit 0 "$C" --json subscriber add 79162000001 --postpaid --region NSK --tariff BASE
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["msisdn"]=="79162000001" and d["contract"]=="C79162000001" and d["account_type"]=="postpaid", d' "$T_DIR/last.out" \
  || fail "subscriber add --json"
expect_exit 0 "$C" subscriber add 79162000002 --region MOW --tariff BASE --prepaid --balance 500 --credit-limit 200
[[ $(sql "SELECT account_type || '/' || balance || '/' || credit_limit || '/' || status FROM subscriber WHERE msisdn='79162000002'") == "prepaid/500/200/active" ]] \
  || fail "prepaid balance and credit limit (D13)"

# --- duplicates are refused (exit 3) ----------------------------------------
expect_exit 3 "$C" subscriber add 9161000001 --region MOW --tariff BASE --prepaid
expect_grep 'subscriber 79161000001 already exists \(contract C79161000001\)'
expect_exit 3 "$C" subscriber add 79161000001 --region MOW --tariff BASE --prepaid --contract C79161000001

# --- R13a contract rule: a new contract retires the old row -----------------
# The old contract had an activated dialog (2026-11-22 14:00 Moscow) with
# 79161000002: its trial ends on the 29th (R13a's example).
sql "INSERT INTO dialog (inviter_id, invitee_id, inviter, invitee, state, created_at, activated_at)
     SELECT a.id, b.id, a.msisdn, b.msisdn, 'active', '2026-11-22 13:50+03', '2026-11-22 14:00+03'
     FROM subscriber a, subscriber b WHERE a.msisdn='79161000001' AND b.msisdn='79161000002'" >/dev/null
expect_exit 0 "$C" --json subscriber show 79161000001
python3 - "$T_DIR/last.out" <<'PY' || fail "R13a: trial_ends of the first activation"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["trial_ends"] == "2026-11-29", d
assert len(d["dialogs"]) == 1 and d["dialogs"][0]["peer"] == "79161000002", d
assert d["dialogs"][0]["state"] == "active" and d["dialogs"][0]["activated_at"] == "2026-11-22T11:00:00Z", d
PY
expect_exit 0 "$C" subscriber add 79161000001 --region MOW --tariff BASE --prepaid --contract K-2
expect_grep 'previous contract C79161000001 of 79161000001 retired \(1 open dialogs ended\)'
[[ $(sql "SELECT count(*) FROM subscriber WHERE msisdn='79161000001'") == 2 ]] || fail "R13a: the old row must stay (history)"
[[ $(sql "SELECT contract FROM subscriber WHERE msisdn='79161000001' AND retired_at IS NULL") == "K-2" ]] || fail "R13a: current contract"
[[ $(sql "SELECT count(*) FROM subscriber WHERE msisdn='79161000001' AND contract='C79161000001' AND retired_at IS NOT NULL") == 1 ]] \
  || fail "R13a: old contract not retired"
[[ $(sql "SELECT state FROM dialog WHERE inviter='79161000001'") == "ended" ]] || fail "R13a: the retired contract's dialog stays open"
expect_exit 0 "$C" --json subscriber show 79161000001
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["contract"]=="K-2" and d["trial_ends"] is None and d["dialogs"]==[], d' "$T_DIR/last.out" \
  || fail "R13a: a new contract starts with a fresh history (no trial used, no dialogs)"
# the peer still sees the (ended) dialog in its own history
expect_exit 0 "$C" subscriber show 79161000002 --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [x["state"] for x in d["dialogs"]]==["ended"] and d["dialogs"][0]["ended_at"], d' "$T_DIR/last.out" \
  || fail "peer history"

# --- show: text and --json fields (interfaces.md) ---------------------------
expect_exit 0 "$C" subscriber show '8 (916) 200-00-02'
expect_grep 'balance: +5\.00 RUB \(500 kop\)'
expect_grep 'credit limit: +2\.00 RUB \(200 kop\)'
expect_exit 0 "$C" subscriber show 79162000002 --json
python3 - "$T_DIR/last.out" <<'PY' || fail "show --json fields"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("msisdn", "region", "tariff", "account_type", "balance", "trial_ends", "dialogs",
          "allowance_used_today", "contract", "status", "credit_limit"):
    assert k in d, k
assert d["msisdn"] == "79162000002" and d["region"] == "MOW" and d["tariff"] == "BASE"
assert d["account_type"] == "prepaid" and d["balance"] == 500 and d["credit_limit"] == 200
assert isinstance(d["balance"], int) and d["allowance_used_today"] == 0
assert d["trial_ends"] is None and d["dialogs"] == [] and d["status"] == "active"
PY
expect_exit 4 "$C" subscriber show 79169999999
expect_grep 'subscriber 79169999999 not found'
expect_exit 2 "$C" subscriber show 123

# JSON strings are escaped: quotes, backslashes, control characters, Cyrillic
weird=$'Д"о\\го\tвор\n№1\x01'
expect_exit 0 "$C" subscriber add 79163000001 --region MOW --tariff BASE --postpaid --contract "$weird"
expect_exit 0 "$C" --json subscriber show 79163000001
WEIRD="$weird" python3 -c 'import json,os,sys; d=json.load(open(sys.argv[1])); assert d["contract"]==os.environ["WEIRD"], (d["contract"], os.environ["WEIRD"])' "$T_DIR/last.out" \
  || fail "JSON escaping of strings"

# --- block / unblock (R1): blocking ends open dialogs -----------------------
sql "INSERT INTO dialog (inviter_id, invitee_id, inviter, invitee, state, created_at, activated_at)
     SELECT a.id, b.id, a.msisdn, b.msisdn, 'active', now(), now()
     FROM subscriber a, subscriber b WHERE a.msisdn='79161000003' AND b.msisdn='79161000004' AND b.retired_at IS NULL AND a.retired_at IS NULL;
     INSERT INTO dialog (inviter_id, invitee_id, inviter, invitee, state, created_at, expires_at)
     SELECT a.id, b.id, a.msisdn, b.msisdn, 'pending', now(), now() + interval '1 day'
     FROM subscriber a, subscriber b WHERE a.msisdn='79161000005' AND b.msisdn='79161000003';
     INSERT INTO dialog (inviter_id, invitee_id, inviter, invitee, state, created_at, activated_at)
     SELECT a.id, b.id, a.msisdn, b.msisdn, 'active', now(), now()
     FROM subscriber a, subscriber b WHERE a.msisdn='79161000005' AND b.msisdn='79161000006'" >/dev/null
expect_exit 0 "$C" --agent ops1 subscriber block +79161000003
expect_grep '2 dialogs ended'
[[ $(sql "SELECT status FROM subscriber WHERE msisdn='79161000003'") == blocked ]] || fail "R1: not blocked"
[[ $(sql "SELECT count(*) FROM dialog WHERE (inviter='79161000003' OR invitee='79161000003') AND state='ended' AND ended_at IS NOT NULL") == 2 ]] \
  || fail "R1: blocking must end the subscriber's dialogs"
[[ $(sql "SELECT count(*) FROM dialog_event e JOIN dialog d ON d.id=e.dialog_id WHERE e.type='ended' AND e.detail='subscriber blocked' AND (d.inviter='79161000003' OR d.invitee='79161000003')") == 2 ]] \
  || fail "R1: dialog_event 'ended' for each"
[[ $(sql "SELECT state FROM dialog WHERE inviter='79161000005' AND invitee='79161000006'") == active ]] \
  || fail "blocking touched another subscriber's dialog"
[[ $(sql "SELECT agent FROM audit WHERE action='subscriber block'") == ops1 ]] || fail "block not audited with --agent"
expect_exit 0 "$C" subscriber block 79161000003
expect_grep 'already blocked'
expect_exit 0 "$C" subscriber unblock 79161000003
[[ $(sql "SELECT status FROM subscriber WHERE msisdn='79161000003'") == active ]] || fail "unblock"
expect_exit 4 "$C" subscriber block 79169999999
expect_exit 4 "$C" subscriber unblock 79169999999

# --- R16: the ledger is append-only, even for the superuser -----------------
sql "INSERT INTO ledger (subscriber_id, msisdn, kind, amount, bill_date, idem_key, rule)
     SELECT id, msisdn, 'daily_fee', 300, '2026-11-30', 'test:1', 'R13' FROM subscriber WHERE msisdn='79162000002'" >/dev/null
for stmt in "UPDATE ledger SET amount = 0" "DELETE FROM ledger" "TRUNCATE ledger CASCADE"; do
  if out=$(sql "$stmt" 2>&1); then fail "R16: '$stmt' was allowed"; fi
  grep -q 'append-only' <<<"$out" || fail "R16: '$stmt' failed for another reason: $out"
done
[[ $(sql "SELECT amount FROM ledger WHERE idem_key='test:1'") == 300 ]] || fail "R16: ledger row changed"
# an idempotency key is charged once
if sql "INSERT INTO ledger (subscriber_id, msisdn, kind, amount, bill_date, idem_key)
        SELECT id, msisdn, 'daily_fee', 300, '2026-11-30', 'test:1' FROM subscriber WHERE msisdn='79162000002'" 2>/dev/null; then
  fail "R16: an idempotency key was accepted twice"
fi
expect_exit 0 "$C" --json subscriber show 79162000002
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=d["charges"]; assert len(c)==1 and c[0]["amount"]==300 and c[0]["kind"]=="daily_fee" and c[0]["bill_date"]=="2026-11-30", c' "$T_DIR/last.out" \
  || fail "show lists charges"

# --- where the database is (interfaces.md: --db, $DIALOG_DB, [db], PG*) ------
printf '[db]\nconninfo = host=%s/nowhere port=1 dbname=x connect_timeout=2\n' "$T_DIR" >"$T_DIR/db.ini"
expect_exit 0 "$C" --config "$T_DIR/db.ini" subscriber show 79162000002    # $DIALOG_DB wins over [db]
expect_exit 5 env -u DIALOG_DB "$C" --config "$T_DIR/db.ini" subscriber show 79162000002
expect_grep 'nowhere'
expect_exit 0 env -u DIALOG_DB "$C" --config "$T_DIR/db.ini" --db "$DIALOG_DB" subscriber show 79162000002
pg_host=${PG_CONNINFO#host=}; pg_host=${pg_host%% *}
expect_exit 0 env -u DIALOG_DB PGHOST="$pg_host" PGPORT=54329 PGUSER=dialog PGDATABASE="$(sql 'SELECT current_database()')" \
  "$C" subscriber show 79162000002

# --- the clock: DIALOG_NOW stamps what dialogctl writes ----------------------
expect_exit 0 env DIALOG_NOW=2026-11-22T14:00:00+03:00 "$C" subscriber add 79164000001 --region MOW --tariff BASE --postpaid
[[ $(sql "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM subscriber WHERE msisdn='79164000001'") == "2026-11-22 11:00" ]] \
  || fail "DIALOG_NOW not used for created_at"
expect_exit 2 env DIALOG_NOW=yesterday "$C" subscriber show 79164000001

# --- database unavailable: exit 5, one line ---------------------------------
expect_exit 5 "$C" --db "host=$T_DIR/nowhere port=1 user=x dbname=x connect_timeout=2" subscriber show 79162000002
[[ $(wc -l <"$T_DIR/last.err") == 1 ]] || fail "the database error must be one line"
expect_grep 'database: '
# a database without the schema: exit 5 with a hint
new_db empty
expect_exit 5 "$C" subscriber show 79162000002
expect_grep "db init"

# --- db init twice at once: both succeed, the schema is applied once --------
new_db concurrent
pids=()
for k in 1 2 3 4; do
  "$C" db init >"$T_DIR/init$k.out" 2>&1 & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent db init failed: $(cat "$T_DIR"/init*.out)"; done
[[ $(grep -l "version 0 -> $latest" "$T_DIR"/init*.out | wc -l) == 1 ]] || { cat "$T_DIR"/init*.out; fail "exactly one run upgrades"; }
[[ $(grep -l 'up to date' "$T_DIR"/init*.out | wc -l) == 3 ]] || fail "the others find it up to date"
[[ $(sql "SELECT count(*) FROM schema_version") == "$nmig" ]] || fail "schema_version after concurrent init"

pass
