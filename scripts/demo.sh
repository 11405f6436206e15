#!/usr/bin/env bash
# make demo: install what is missing, build, start a private PostgreSQL under
# ./var, provision sample subscribers, run smsc-sim and dialogd, play the
# story, print what each subscriber received, and stop everything started.
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

echo "== smsc-sim + dialogd"
rm -f "$run/sim.port"
build/smpp_gw/smsc-sim --listen 127.0.0.1:0 --port-file "$run/sim.port" \
  --system-id dialog --password secret --script demo/help.sim >"$run/sim.out" 2>"$run/sim.err" &
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
build/engine/dialogd --config "$run/dialog.ini" 2>"$run/dialogd.log" &
pids+=("$!")
rc=0
wait "$sim" || rc=$?
echo "== what each subscriber received (smsc-sim transcript)"
cat "$run/sim.out"
echo "== dialogd log (last lines)"
tail -n 12 "$run/dialogd.log"
echo "== subscribers"
$ctl subscriber show 79161234567
exit $rc
