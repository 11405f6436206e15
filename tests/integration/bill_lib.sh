# Helpers for tests/integration/t_bill_daily*.sh (sourced after lib.sh).
# Dialogs are created by SQL the way the SMS flow leaves them (dlg_activate):
# state active, activated_at, and subscriber.first_activated_at set by the
# first activation of each participant.

C="$DIALOGCTL"
unset DIALOG_CONFIG DIALOG_NOW DIALOG_BILL_CHUNK

bill_setup() {
  "$C" db init >/dev/null
  "$C" region add MOW --tz Europe/Moscow --daily-fee 300 >/dev/null
  "$C" region add VVO --tz Asia/Vladivostok --daily-fee 250 >/dev/null
  "$C" tariff add BASE --sms-price 150 >/dev/null
}

# sub MSISDN REGION (--postpaid | --prepaid --balance N ...)
sub() { local m=$1 r=$2; shift 2; "$C" subscriber add "$m" --region "$r" --tariff BASE "$@" >/dev/null; }

# activate A B AT -> dialog id (sets first_activated_at of first-timers)
activate() {
  sql "WITH d AS (
         INSERT INTO dialog (inviter_id, invitee_id, inviter, invitee, state, channel, created_at, activated_at)
         SELECT a.id, b.id, a.msisdn, b.msisdn, 'active', 'sms', '$3'::timestamptz - interval '5 min', '$3'
           FROM subscriber a, subscriber b WHERE a.msisdn = '$1' AND b.msisdn = '$2' AND a.retired_at IS NULL
            AND b.retired_at IS NULL
         RETURNING id, inviter_id, invitee_id),
       f AS (UPDATE subscriber SET first_activated_at = '$3'
              WHERE id IN (SELECT inviter_id FROM d UNION ALL SELECT invitee_id FROM d)
                AND first_activated_at IS NULL)
       SELECT id FROM d"
}

# end_dialog ID AT
end_dialog() { sql "UPDATE dialog SET state = 'ended', ended_at = '$2', ended_reason = 'stop' WHERE id = $1" >/dev/null; }

# first_act MSISDN AT: a returning subscriber (activated before, long ago)
first_act() { sql "UPDATE subscriber SET first_activated_at = '$2' WHERE msisdn = '$1'" >/dev/null; }

# bill NOW [DATE]: run bill daily --json at service time NOW (exit 0 expected)
bill() {
  expect_exit 0 env DIALOG_NOW="$1" "$C" --json bill daily ${2:+--date "$2"}
  cp "$T_DIR/last.out" "$T_DIR/bill.json"
}

# jf KEY: a field of the last bill summary
jf() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T_DIR/bill.json" "$1"; }

# expect_sum KEY VALUE [what]
expect_sum() {
  local got; got=$(jf "$1")
  [[ "$got" == "$2" ]] || { cat "$T_DIR/bill.json"; fail "${3:-summary}: $1 = $got, expected $2"; }
}

# expect_sql "SELECT ..." EXPECTED [what]
expect_sql() {
  local got; got=$(sql "$1")
  [[ "$got" == "$2" ]] || fail "${3:-$1}: got '$got', expected '$2'"
}

# fee days of a number, comma-separated, e.g. "2026-11-23,2026-11-24"
fee_days() {
  sql "SELECT coalesce(string_agg(to_char(bill_date, 'YYYY-MM-DD'), ',' ORDER BY bill_date, dialog_id), '')
         FROM ledger WHERE msisdn = '$1' AND kind = 'daily_fee'"
}
