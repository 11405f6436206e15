#!/usr/bin/env bash
# make demo: install what is missing, build, start a private PostgreSQL under
# ./var, provision sample subscribers, run smsc-sim and dialogd, play the
# story of a dialog (demo/story.sim: HELP, invite, accept, STATUS, STOP on
# 2026-11-22), print what each subscriber received, the dialogs and the
# ledger, and stop everything started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/bootstrap.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

export DIALOG_VAR="$root/var"
run="$DIALOG_VAR/demo"
mkdir -p "$run"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  scripts/pg.sh stop "$DIALOG_VAR"
}
trap cleanup EXIT
scripts/pg.sh start "$DIALOG_VAR"
unset DIALOG_DB PGHOST PGDATABASE PGSERVICE PGHOSTADDR
# a fresh demo database each time
psql "$(scripts/pg.sh conninfo "$DIALOG_VAR")" -qAtc "DROP DATABASE IF EXISTS demo WITH (FORCE)" -c "CREATE DATABASE demo" >/dev/null
export DIALOG_DB="$(scripts/pg.sh conninfo "$DIALOG_VAR" | sed 's/dbname=dialog/dbname=demo/')"

ctl=build/billing/dialogctl
echo "== provisioning"
$ctl db init
$ctl region add MOW --tz Europe/Moscow --daily-fee 300 --operator-fee 4500
$ctl region add VVO --tz Asia/Vladivostok --daily-fee 250 --operator-fee 4000
$ctl tariff add BASIC --sms-price 150
$ctl subscriber add "+7 916 123-45-67" --region MOW --tariff BASIC --postpaid
$ctl subscriber add "8 (916) 765-43-21" --region MOW --tariff BASIC --prepaid --balance 10000
$ctl subscriber add 9141112233 --region VVO --tariff BASIC --prepaid --balance 500

# The story happens on the spec's example day (service-rules.md R13a).
export DIALOG_NOW=2026-11-22T14:00:00+03:00

echo "== smsc-sim + dialogd (engine clock starts at $DIALOG_NOW)"
rm -f "$run/sim.port" "$run/sim.out"
build/smpp_gw/smsc-sim --listen 127.0.0.1:0 --port-file "$run/sim.port" \
  --system-id dialog --password secret --script demo/story.sim >"$run/sim.out" 2>"$run/sim.err" &
sim=$!
pids+=("$sim")
for _ in $(seq 100); do [[ -s "$run/sim.port" ]] && break; sleep 0.1; done
cat >"$run/dialog.ini" <<INI
[smpp]
host = 127.0.0.1
port = $(cat "$run/sim.port")
system_id = dialog
password = secret
[service]
short_code = 6249
INI
chmod 600 "$run/dialog.ini"
export DIALOG_CONFIG="$run/dialog.ini"
build/engine/dialogd --config "$run/dialog.ini" 2>"$run/dialogd.log" &
pids+=("$!")

echo "== the story (MO: what a subscriber texts, MT: what the engine sends)"
# follow the transcript while the scenario plays: narration, MO and MT lines
# (an SMS of several lines continues on lines of its own)
tail -n +1 -f --pid="$sim" "$run/sim.out" 2>/dev/null |
  awk '/^>>/ { keep = 1; print substr($0, 4); fflush(); next }
       /^(MO #|MT |FAILED|PASSED)/ { keep = 1; print "    " $0; fflush(); next }
       /^(-- |ok:|RESP |SUBMIT |GENERIC_NACK|ERROR_RESP|RAW |RECEIPT)/ { keep = 0; next }
       keep { print "        " $0; fflush() }' || true
rc=0
wait "$sim" || rc=$?
if ((rc != 0)); then
  echo "== the story did not go as expected (smsc-sim exit $rc): transcript and dialogd log"
  cat "$run/sim.out"
  tail -n 30 "$run/dialogd.log"
  exit "$rc"
fi

# every reply is recorded as sent before we read the outbox
for _ in $(seq 50); do
  [[ $(psql "$DIALOG_DB" -qAtXc "SELECT count(*) FROM outbox WHERE state <> 'submitted'") == 0 ]] && break
  sleep 0.1
done
echo
echo "== what each subscriber received (the outbox, in order)"
psql "$DIALOG_DB" -qAtX -c "
  SELECT CASE WHEN lag(dst) OVER w IS DISTINCT FROM dst THEN E'\n+' || dst || E':\n' ELSE '' END
         || '  - ' || replace(coalesce(text, '(' || msg || ', not sent)'), E'\n', E'\n    ')
    FROM outbox WINDOW w AS (ORDER BY dst, id) ORDER BY dst, id"
echo
echo "== dialogs"
drc=0
$ctl dialog list >"$run/dialogs.out" 2>&1 || drc=$?
if ((drc == 0)); then
  cat "$run/dialogs.out"
elif ((drc == 2)); then
  echo "(dialogctl dialog list is not available in this build)"
  psql "$DIALOG_DB" -qX -c "SELECT id, inviter, invitee, state, ended_reason, created_at, activated_at, ended_at FROM dialog ORDER BY id"
else
  cat "$run/dialogs.out"
  exit "$drc"
fi
echo "== ledger: $(psql "$DIALOG_DB" -qAtXc "SELECT count(*) FROM ledger") entries (connecting and STOP are free)"
echo "== dialogd log: $run/dialogd.log, smsc-sim transcript: $run/sim.out"
exit 0
