# Shared helpers for tests/integration/t_*.sh (sourced).
#
# Environment from ctest: BUILD_DIR, SRC_DIR. From scripts/test.sh: DIALOG_VAR
# (the run's PostgreSQL cluster is already started there).
set -euo pipefail

: "${BUILD_DIR:?}" "${SRC_DIR:?}" "${DIALOG_VAR:?run through scripts/test.sh (make test)}"
T_NAME=$(basename "$0" .sh)
T_DIR="$BUILD_DIR/test-out/$T_NAME"
rm -rf "$T_DIR"
mkdir -p "$T_DIR"
DIALOGD="$BUILD_DIR/engine/dialogd"
DIALOGCTL="$BUILD_DIR/billing/dialogctl"
SMSC_SIM="$BUILD_DIR/smpp_gw/smsc-sim"
PG_CONNINFO=$("$SRC_DIR/scripts/pg.sh" conninfo "$DIALOG_VAR")
T_PIDS=()

fail() { echo "FAIL [$T_NAME]: $*" >&2; exit 1; }
pass() { echo "PASS [$T_NAME]${1:+: $1}"; }

t_cleanup() {
  local p
  for p in "${T_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap t_cleanup EXIT

# A fresh database for this test; exports DIALOG_DB.
new_db() {
  local db="t_${T_NAME//[^a-zA-Z0-9_]/_}${1:+_$1}"
  PGOPTIONS=--client-min-messages=warning psql "$PG_CONNINFO" -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  psql "$PG_CONNINFO" -qAtc "CREATE DATABASE $db" >/dev/null
  export DIALOG_DB="${PG_CONNINFO/dbname=dialog/dbname=$db}"
}

# sql "SELECT ..." -> unaligned, tuples only, against DIALOG_DB.
sql() { psql "$DIALOG_DB" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Expect a command's exit code: expect_exit CODE cmd args...
expect_exit() {
  local want=$1; shift
  local rc=0
  "$@" >"$T_DIR/last.out" 2>"$T_DIR/last.err" || rc=$?
  if [[ $rc -ne $want ]]; then
    echo "--- stdout"; cat "$T_DIR/last.out"; echo "--- stderr"; cat "$T_DIR/last.err"
    fail "expected exit $want, got $rc: $*"
  fi
}

# Assert that a file (default: last stdout+stderr) contains a pattern (grep -E).
expect_grep() {
  local pat=$1 file=${2:-}
  if [[ -z "$file" ]]; then
    cat "$T_DIR/last.out" "$T_DIR/last.err" >"$T_DIR/last.all"
    file="$T_DIR/last.all"
  fi
  grep -Eq -- "$pat" "$file" || { echo "--- $file"; cat "$file"; fail "no match for /$pat/"; }
}

wait_for() { # wait_for SECONDS cmd... : retry until it succeeds
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || return 1
    sleep 0.1
  done
}

# ---- smsc-sim and dialogd ---------------------------------------------------

# start_sim SCRIPT_FILE [more smsc-sim args]: smsc-sim plays the script in the
# background; sets SIM_PID and SIM_PORT; its transcript goes to $T_DIR/sim.out.
start_sim() {
  local script=$1; shift
  rm -f "$T_DIR/sim.port"
  "$SMSC_SIM" --listen 127.0.0.1:0 --port-file "$T_DIR/sim.port" \
    --system-id dialog --password secret --script "$script" "$@" \
    >"$T_DIR/sim.out" 2>"$T_DIR/sim.err" &
  SIM_PID=$!
  T_PIDS+=("$SIM_PID")
  wait_for 10 test -s "$T_DIR/sim.port" || fail "smsc-sim did not start: $(cat "$T_DIR/sim.err")"
  SIM_PORT=$(cat "$T_DIR/sim.port")
}

# write_config [INI lines...]: $T_DIR/dialog.ini for the running smsc-sim;
# extra lines are appended (later keys override earlier ones in their section).
write_config() {
  {
    echo "[smpp]"
    echo "host = 127.0.0.1"
    echo "port = $SIM_PORT"
    echo "system_id = dialog"
    echo "password = secret"
    echo "enquire_link_s = 5"
    echo "reconnect_max_s = 2"
    echo "response_timeout_s = 3"
    printf '%s\n' "$@"
  } >"$T_DIR/dialog.ini"
  chmod 600 "$T_DIR/dialog.ini"
  export DIALOG_CONFIG="$T_DIR/dialog.ini"
}

# start_dialogd: in the background, logging to $T_DIR/dialogd.log; sets DLG_PID.
start_dialogd() {
  "$DIALOGD" --config "$T_DIR/dialog.ini" >>"$T_DIR/dialogd.log" 2>&1 &
  DLG_PID=$!
  T_PIDS+=("$DLG_PID")
}

stop_dialogd() {
  kill -TERM "$DLG_PID" 2>/dev/null || true
  local rc=0
  wait "$DLG_PID" || rc=$?
  return $rc
}

# wait_sim: wait for smsc-sim to finish its script; fails the test (showing
# the transcript and the daemon's log) unless every expectation held.
wait_sim() {
  local rc=0
  wait "$SIM_PID" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "--- smsc-sim transcript"; cat "$T_DIR/sim.out"
    echo "--- smsc-sim stderr"; tail -n 30 "$T_DIR/sim.err"
    echo "--- dialogd log"; tail -n 40 "$T_DIR/dialogd.log" 2>/dev/null || true
    fail "scenario failed (smsc-sim exit $rc)"
  fi
}

# provision: a region, a tariff and subscribers in the test database.
provision_basic() {
  "$DIALOGCTL" db init >/dev/null
  "$DIALOGCTL" region add MOW --tz Europe/Moscow --daily-fee 300 --operator-fee 4500 >/dev/null
  "$DIALOGCTL" tariff add BASIC --sms-price 150 >/dev/null
  local m
  for m in "$@"; do
    "$DIALOGCTL" subscriber add "$m" --region MOW --tariff BASIC --postpaid >/dev/null
  done
}
