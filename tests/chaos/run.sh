#!/usr/bin/env bash
# make chaos — the fault suite (issue 8; docs/reliability.md).
#
#   tests/chaos/run.sh                    the full suite: build, run, report
#   tests/chaos/run.sh --short            the shortened form (tests/integration/t_chaos.sh)
#   options: --build-dir DIR (default build; built unless --no-build)
#            --out DIR (default DIR/chaos-out)  --only a,b,c (round names)
#            --seed N
#
# Continuous mixed traffic (smsc-sim --load: P2P relays and HELP commands,
# invitations when the simulator has them, `dialogctl bill daily` and top-ups
# every few seconds) against dialogd on a PostgreSQL cluster of its own; one
# round per fault, each followed by a reconciliation (the simulator's event
# log joined with the database: tests/chaos/check.py; and `dialogctl
# reconcile`). The report goes to OUT/report.md; exit 1 if any invariant is
# violated (lost, duplicated, unbalanced, phantom charge, a fee day twice, a
# bad shutdown), 0 otherwise.
set -euo pipefail
SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)
PROFILE=full BUILD=1 BUILD_DIR="$SRC_DIR/build" OUT= ONLY= SEED=${CHAOS_SEED:-$((RANDOM * 32768 + RANDOM))}
while (($#)); do
  case $1 in
  --short) PROFILE=short ;;
  --no-build) BUILD=0 ;;
  --build-dir) BUILD_DIR=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift ;;
  --out) OUT=$2; shift ;;
  --only) ONLY=$2; shift ;;
  --seed) SEED=$2; shift ;;
  *) echo "usage: $0 [--short] [--build-dir DIR] [--no-build] [--out DIR] [--only ROUNDS] [--seed N]" >&2; exit 2 ;;
  esac
  shift
done
OUT=${OUT:-$BUILD_DIR/chaos-out}

if ((BUILD)); then
  "$SRC_DIR/scripts/bootstrap.sh"
  cmake -S "$SRC_DIR" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc 2>/dev/null || echo 2)" --target dialogd dialogctl smsc-sim
fi

# ---- the profile -------------------------------------------------------------
if [[ $PROFILE == full ]]; then
  RATE=${CHAOS_RATE:-200} ROUND_S=40 DRAIN_S=20 PAIRS=200 INVITES_PER_ROUND=90 INVITE_RATE=2
  KILLS=3 PG_STOP_S=30 DISK_HOLD_S=10 SMSC_FAULT_S=10 BILL_EVERY_S=3 DISK_MB=768 MID_LEAD=30
  RECORD_FAIL_S=6
  REDELIVERY_WINDOW_S=25
else
  RATE=${CHAOS_RATE:-40} ROUND_S=5 DRAIN_S=10 PAIRS=60 INVITES_PER_ROUND=15 INVITE_RATE=2
  KILLS=2 PG_STOP_S=5 DISK_HOLD_S=3 SMSC_FAULT_S=3 BILL_EVERY_S=2 DISK_MB=384 MID_LEAD=5
  RECORD_FAIL_S=3
  REDELIVERY_WINDOW_S=8
fi
# dialogd's redelivery window (engine/src/ack.c): longer than the longest
# SMSC outage plus a reconnect, shorter than the time between rounds. The
# simulator's traffic repeats identical texts (MO ids restart every round,
# HELP is always "HELP"); an identical message inside the window after a
# crash or link loss is answered as the redelivery it may be (the documented
# price), which the default 300 s would make frequent here.
ROUNDS_ALL="baseline sigkill sigterm pg_restart pg_stop record_fail disk_full smsc_drop smsc_throttle smsc_stall midnight"
ROUNDS=${ONLY//,/ }
ROUNDS=${ROUNDS:-$ROUNDS_ALL}
# fresh invitation pairs for every round
INVITES=$((INVITES_PER_ROUND * $(wc -w <<<"$ROUNDS_ALL")))

mkdir -p "$OUT"
rm -rf "${OUT:?}"/r-* "$OUT/report.md" "$OUT/suite.log" "$OUT/dialogd.log"
source "$SRC_DIR/tests/chaos/lib.sh"
trap ch_cleanup EXIT
unset DIALOG_DB DIALOG_CONFIG DIALOG_NOW PGHOST PGHOSTADDR PGDATABASE PGSERVICE
for b in "$DIALOGD" "$DIALOGCTL" "$SMSC_SIM"; do [[ -x $b ]] || die "$b is not built"; done

log "profile=$PROFILE seed=$SEED rate=$RATE MO/s round=${ROUND_S}s out=$OUT (rerun: --seed $SEED)"
cluster_init
SIM_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
# The service day: today in Moscow; the clock starts at 14:00 there.
DAY=$(TZ=Europe/Moscow date +%F)
clock_set "$(date -d "$DAY 14:00 +03:00" +%s)"
provision "$DAY" "$PAIRS" "$INVITES"
write_config
DAYS_BILLED=("$DAY")
FAILED=0 ROUND_NO=0
features="redelivery $(sim_has --redeliver && echo on || echo 'not available'), SMSC control $(sim_has --control && echo on || echo 'not available'), invitations $(sim_has --invite-pairs-file && echo "on ($INVITE_RATE/s)" || echo 'not available')"
log "smsc-sim: $features"

{
  echo "# Fault suite report ($PROFILE)"
  echo
  echo "$(date -u +%FT%TZ), seed $SEED, build $(basename "$BUILD_DIR"), $RATE MO/s offered per round"
  echo "(85 % P2P relays over $PAIRS pairs, 15 % HELP commands), ${ROUND_S} s per round + the fault's own time + drain;"
  echo "\`dialogctl bill daily\` and a top-up every ${BILL_EVERY_S} s during the traffic; smsc-sim: $features;"
  echo "dialogd: 2 SMPP sessions, redelivery_window_s = $REDELIVERY_WINDOW_S."
  echo
  echo "| fault | MOs sent | acked 0 | acked error | redelivered / retried | lost | relayed | usage rows | invites / accepts | duplicates | crash redelivered | phantom | fee days (dup / missing) | balance mismatches | reconcile | recovery s | result |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} >"$OUT/report.md"
NOTES=()

dialogd_start

# ---- one round ---------------------------------------------------------------
# round NAME: start the load, let it run a quarter of the round, inject the
# fault (fault_NAME), let the round finish and drain, then reconcile.
round() {
  local name=$1 dir="$OUT/r-$1" rc=0 rrc
  ROUND_NO=$((ROUND_NO + 1))
  mkdir -p "$dir"
  RECOVERY="-" ROUND_NOTE=""
  round_marks
  kill -0 "$DLG_PID" 2>/dev/null || dialogd_start
  # the fault takes its own time on top: traffic goes on after it ends
  local dur=$ROUND_S
  case $name in
  sigkill) dur=$((ROUND_S + KILLS * 4)) ;;
  pg_stop) dur=$((ROUND_S + PG_STOP_S)) ;;
  disk_full) dur=$((ROUND_S + DISK_HOLD_S)) ;;
  record_fail) dur=$((ROUND_S + RECORD_FAIL_S)) ;;
  smsc_*) dur=$((ROUND_S + SMSC_FAULT_S)) ;;
  midnight) dur=$((ROUND_S + MID_LEAD)) ;;
  esac
  sim_start "$dir" "$dur"
  log "round $name: load started"
  bill_loop_start "$dir"
  wait_for 30 grep -q 'result=ESME_ROK' "$dir/sim.err" || log "round $name: no bind within 30 s"
  sleep "$((ROUND_S / 4)).5"
  "fault_$name" "$dir"
  wait "$SIM_PID" || rc=$?
  bill_loop_stop
  [[ $rc -eq 0 ]] || ROUND_NOTE+="smsc-sim exit $rc. "
  kill -0 "$DLG_PID" 2>/dev/null || { ROUND_NOTE+="dialogd not running at the end (restarted). "; dialogd_start; }
  pg_up || { ROUND_NOTE+="PostgreSQL down at the end (started). "; pg_start; }
  # let the engine finish what is in flight (holds resolved, outbox sent)
  wait_for 30 bash -c "[[ \$(psql '$DIALOG_DB' -qAtXc 'SELECT count(*) FROM sms_hold WHERE relay_key NOT LIKE '\''operator%'\''') == 0 ]]" || ROUND_NOTE+="sms_hold rows left 30 s after the load. "
  if [[ $name != baseline ]]; then wait_for 20 test -s "$dir/recovery" || true; fi
  if [[ -s $dir/recovery ]]; then RECOVERY=$(cat "$dir/recovery"); fi
  if [[ $name == midnight ]]; then post_midnight "$dir"; fi
  if [[ $name == record_fail ]]; then post_record_fail "$dir"; fi
  round_dump "$dir"
  local stats crc=0 crash=()
  # the known residual of a crash is counted apart only where dialogd was killed
  if [[ $name == sigkill ]]; then crash=(--crash); fi
  stats=$(python3 "$SRC_DIR/tests/chaos/check.py" "$dir" "$SHORT_CODE" "${crash[@]}" 2>"$dir/violations.txt") || crc=$?
  echo "$stats" >"$dir/stats.json"
  rrc=$(reconcile_json "$dir/reconcile.json")
  local fees bal_bad rec_bad
  fees=$(fee_check "${DAYS_BILLED[@]}")
  read -r fdays fdup fmiss <<<"$fees"
  bal_bad=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(c["violations"] for c in d["checks"] if c["name"]=="balance"))' "$dir/reconcile.json" 2>/dev/null || echo "?")
  rec_bad=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["violations"])' "$dir/reconcile.json" 2>/dev/null || echo "?")
  local ok=PASS
  if ((crc)) || [[ $rrc != 0 ]] || [[ $fdup != 0 ]] || [[ $fmiss != 0 ]] || [[ -n "${ROUND_FAIL:-}" ]]; then
    ok=FAIL
    FAILED=1
  fi
  python3 - "$stats" "$name" "$fdays" "$fdup" "$fmiss" "$bal_bad" "$rec_bad" "$RECOVERY" "$ok" >>"$OUT/report.md" <<'PY'
import json, sys
s = json.loads(sys.argv[1]) if sys.argv[1].strip() else {}
name, fdays, fdup, fmiss, bal, rec, recov, ok = sys.argv[2:10]
g = lambda k: str(s.get(k, "?"))
err = g("acked_error")
if s.get("error_statuses"):
    err += " (" + ", ".join(f"{k}: {v}" for k, v in s["error_statuses"].items()) + ")"
lost = g('lost')
crash = g('crash_redelivered')
if s.get('crash_resent_replies'):
    crash += f" (+{s['crash_resent_replies']} replies)"
if s.get('unanswered'):
    lost += f" ({s['unanswered']} unanswered at the end)"
if s.get('absorbed_repeats'):
    lost += f" (+{s['absorbed_repeats']} identical repeats absorbed)"
print(f"| {name} | {g('mo_sent')} | {g('acked_0')} | {err} | {s.get('redelivered', 0)} / {s.get('retried', 0)} | {lost} | "
      f"{g('relayed')} | {g('usage_rows')} | {s.get('dialogs_opened', 0)} / {s.get('dialogs_activated', 0)} | {g('duplicates')} | {crash} | {g('phantom')} | "
      f"{fdays} ({fdup} / {fmiss}) | {bal} | {rec} | {recov} | {ok} |")
PY
  if [[ -n "$ROUND_NOTE" ]]; then NOTES+=("$name: $ROUND_NOTE"); fi
  if [[ $ok == FAIL ]]; then
    log "round $name: FAIL"
    if [[ -s $dir/violations.txt ]]; then grep -v '^NOTE' "$dir/violations.txt" | head -n 20 | tee -a "$OUT/suite.log" >&2 || true; fi
    if [[ $rrc != 0 ]]; then
      log "reconcile exit $rrc:"
      ctl reconcile --opening "$OUT/opening.csv" --hold-age 120 --outbox-age 900 2>&1 | tee -a "$OUT/suite.log" >&2 || true
    fi
    if [[ -n "${ROUND_FAIL:-}" ]]; then log "$ROUND_FAIL"; fi
  else
    log "round $name: PASS $stats"
  fi
  ROUND_FAIL=
}

not_run() { # not_run NAME WHY
  echo "| $1 | – | – | – | – | – | – | – | – | – | – | – | – | – | – | – | NOT RUN: $2 |" >>"$OUT/report.md"
  log "round $1: not run ($2)"
}

# ---- the faults ----------------------------------------------------------------
fault_baseline() { :; }

# A slow disk during the kills (as in t_relay_crash.sh): each recording of
# relays takes 30 ms more, so that a kill finds relays confirmed but not
# recorded, recorded but not acknowledged, and prepaid money held.
fault_sigkill() {
  local k
  sql "CREATE OR REPLACE FUNCTION chaos_slow_commit() RETURNS trigger LANGUAGE plpgsql AS
         \$\$ BEGIN PERFORM pg_sleep(0.03); RETURN NULL; END \$\$;
       CREATE TRIGGER chaos_slow_commit AFTER INSERT ON sms_usage
           FOR EACH STATEMENT EXECUTE FUNCTION chaos_slow_commit();" >/dev/null
  for ((k = 1; k <= KILLS; k++)); do
    dialogd_kill
    log "SIGKILL $k"
    dialogd_start
    if ((k < KILLS)); then
      sleep "$((2 + RANDOM % 3)).$((RANDOM % 10))"
    else
      recovery_watch "$1/recovery"
    fi
  done
  sleep 2
  sql "DROP TRIGGER chaos_slow_commit ON sms_usage" >/dev/null
}

fault_sigterm() {
  dialogd_term
  local holds queued
  holds=$(sql "SELECT count(*) FROM sms_hold WHERE relay_key NOT LIKE 'operator%'")
  queued=$(sql "SELECT count(*) FROM outbox WHERE state = 'queued'")
  log "SIGTERM under load: exit $TERM_RC after $TERM_S s; sms_hold left $holds; outbox queued $queued"
  ROUND_NOTE+="SIGTERM: exit $TERM_RC after $TERM_S s, sms_hold left $holds, outbox rows still queued $queued (sent after the restart). "
  if [[ $TERM_RC != 0 ]] || awk -v t="$TERM_S" 'BEGIN { exit !(t > 10) }' || [[ $holds != 0 ]]; then
    ROUND_FAIL="SIGTERM under load: exit $TERM_RC after $TERM_S s with $holds sms_hold rows left"
  fi
  sleep 1
  dialogd_start
  recovery_watch "$1/recovery"
}

fault_pg_restart() {
  pg_stop
  log "PostgreSQL stopped (fast)"
  pg_start
  log "PostgreSQL started"
  recovery_watch "$1/recovery"
}

fault_pg_stop() {
  pg_stop
  log "PostgreSQL stopped for $PG_STOP_S s"
  sleep "$PG_STOP_S"
  pg_start
  log "PostgreSQL started"
  recovery_watch "$1/recovery"
}

# Recording fails while PostgreSQL stays up (a full disk as the engine sees
# it, made deterministic): the suite's test trigger on sms_usage (provision()
# in lib.sh) raises SQLSTATE 53100 while the flag row 'record_fail' exists.
# The relays the SMSC accepted meanwhile must be kept and recorded once the
# statement works again: none answered 0x64 and relayed again, none lost,
# none charged twice, no money left held.
fault_record_fail() {
  sql "INSERT INTO chaos_fault (name) VALUES ('record_fail')" >/dev/null
  log "recording of relays fails (SQLSTATE 53100, PostgreSQL up) for $RECORD_FAIL_S s"
  sleep "$RECORD_FAIL_S"
  sql "DELETE FROM chaos_fault WHERE name = 'record_fail'" >/dev/null
  log "recording works again"
  recovery_watch "$1/recovery"
}

# After the record_fail round (the holds are already waited for): dialogd
# logged its failed recordings with what it kept, gave none up, and no money
# is held any more.
post_record_fail() {
  local dir=$1 lines kept given holds
  tail -n +"$((LOG_MARK + 1))" "$OUT/dialogd.log" | grep 'event=record_failed' >"$dir/record_failed.log" || true
  lines=$(grep -c 'kept=' "$dir/record_failed.log" || true)
  kept=$(sed -nE 's/.* kept=([0-9]+).*/\1/p' "$dir/record_failed.log" | sort -n | tail -n 1)
  given=$(sed -nE 's/.* given_up=([0-9]+).*/\1/p' "$dir/record_failed.log" | awk '{ s += $1 } END { print s + 0 }')
  holds=$(sql "SELECT count(*) FROM sms_hold WHERE relay_key NOT LIKE 'operator%'")
  ROUND_NOTE+="dialogd logged $lines event=record_failed lines (up to ${kept:-0} relays kept at once, $given given up); sms_hold left $holds. "
  if [[ $lines == 0 ]] || [[ $given != 0 ]] || [[ $holds != 0 ]]; then
    ROUND_FAIL="record_fail: $lines record_failed lines with kept= (want > 0), $given given up (want 0), $holds sms_hold rows left (want 0)"
  fi
}

fault_disk_full() {
  local avail
  avail=$(df -B1 --output=avail "$DISKFS" | tail -n 1)
  # fill it to the last byte: the next relation extension or WAL segment fails
  fallocate -l "$avail" "$DISKFS/chaos_filler" 2>/dev/null || true
  dd if=/dev/zero of="$DISKFS/chaos_filler2" bs=64k 2>/dev/null || true
  sql_try "SELECT pg_switch_wal()" >/dev/null || true
  log "disk full ($(df -h --output=avail "$DISKFS" | tail -n 1 | tr -d ' ') left) for $DISK_HOLD_S s"
  sleep "$DISK_HOLD_S"
  rm -f "$DISKFS/chaos_filler" "$DISKFS/chaos_filler2"
  if ! pg_up; then
    ROUND_NOTE+="PostgreSQL shut itself down on the full disk; the suite started it again after freeing space. "
    pg_start
  fi
  grep -c 'No space left' "$PG_VAR/pg/server.log" >"$1/enospc" 2>/dev/null || true
  ROUND_NOTE+="server log: $(cat "$1/enospc") 'No space left on device' lines. "
  log "space freed"
  recovery_watch "$1/recovery"
}

fault_smsc_drop() {
  control "refuse $SMSC_FAULT_S"
  control drop
  log "SMSC link dropped, binds refused for $SMSC_FAULT_S s"
  sleep "$SMSC_FAULT_S"
  recovery_watch "$1/recovery"
}

fault_smsc_throttle() {
  control "throttle $SMSC_FAULT_S"
  log "SMSC throttling for $SMSC_FAULT_S s"
  sleep "$SMSC_FAULT_S"
  recovery_watch "$1/recovery"
}

fault_smsc_stall() {
  control "stall $SMSC_FAULT_S"
  log "SMSC not answering submit_sm for $SMSC_FAULT_S s (timeouts)"
  sleep "$SMSC_FAULT_S"
  recovery_watch "$1/recovery"
}

# The clock crosses the region's midnight: dialogd restarts 30 s (short: 5 s)
# before 00:00 Moscow of the service day; the load goes on across it.
MID_DAY=
fault_midnight() {
  local lead=$MID_LEAD
  MID_DAY=$(date -d "$DAY + 1 day" +%F)
  dialogd_term
  clock_set $(($(date -d "$MID_DAY 00:00 +03:00" +%s) - lead))
  dialogd_start
  recovery_watch "$1/recovery"
  log "clock at $(svc_now), $lead s before midnight in Moscow"
}

# After the midnight round: bill the new day twice (the second run charges
# nothing), and the allowance counters reset at midnight (D5): pairs that
# had used up the day's allowance relay free messages again (R9) on the new
# day.
post_midnight() {
  local dir=$1 a b free_again
  sleep 1
  a=$(ctl bill daily --json 2>&1 | tee "$dir/bill-new-day-1.json" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("fees_charged", "?"))' 2>/dev/null || echo "?")
  b=$(ctl bill daily --json 2>&1 | tee "$dir/bill-new-day-2.json" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("fees_charged", "?"))' 2>/dev/null || echo "?")
  DAYS_BILLED+=("$MID_DAY")
  free_again=$(sql "SELECT count(DISTINCT (least(src, dst), greatest(src, dst))) FROM sms_usage
                     WHERE pair_day = '$MID_DAY' AND rule = 'R9'
                       AND (least(src, dst), greatest(src, dst)) IN
                           (SELECT pair_lo, pair_hi FROM pair_usage WHERE day = '$DAY' AND used >= 20)")
  ROUND_NOTE+="new day $MID_DAY: bill daily charged $a fees, a second run $b; $free_again pairs that had used up $DAY's allowance relayed free again after midnight. "
  if [[ $b != 0 ]] || [[ $free_again == 0 ]]; then
    ROUND_FAIL="midnight: second bill run charged $b (want 0), pairs free again after midnight $free_again (want > 0)"
  fi
}

for r in $ROUNDS; do
  case $r in
  smsc_*) sim_has --control || { not_run "$r" "smsc-sim has no --control"; continue; } ;;
  disk_full) [[ -n $DISKFS ]] || { not_run "$r" "no tmpfs could be mounted for the cluster (needs root)"; continue; } ;;
  esac
  round "$r"
done

dialogd_term
[[ $TERM_RC == 0 ]] || { NOTES+=("final SIGTERM: exit $TERM_RC"); FAILED=1; }
final_rc=$(reconcile_json "$OUT/reconcile-final.json")
ctl reconcile --opening "$OUT/opening.csv" --hold-age 0 --outbox-age 900 >"$OUT/reconcile-final.txt" 2>&1 || true
[[ $final_rc == 0 ]] || FAILED=1
{
  echo
  echo "Columns: *redelivered / retried* = deliver_sm the simulator sent again after a lost answer /"
  echo "after a temporary error; *lost* = MOs acknowledged 0 without their effect (relay + usage row, or"
  echo "the command recorded); *identical repeats absorbed* = a new HELP identical to one committed just"
  echo "before a link loss, answered 0 as its redelivery: the documented price of redelivery matching,"
  echo "engine/src/ack.c); *invites / accepts* = invitations that made their dialog / accepts that"
  echo "activated it; *duplicates* = MOs relayed twice (the peer got it twice) or recorded twice (two usage"
  echo "rows, two charges), a violation in every round; *crash redelivered* = in the sigkill round only, P2P"
  echo "MOs relayed twice whose first relay has no usage row and which have exactly one usage row, the"
  echo "simulator having redelivered the MO between the two relays: delivered twice after a crash between"
  echo "the SMSC's acceptance and the record, charged once -- the known residual (SMPP gives an MO no"
  echo "identity), reported, not a violation; any other shape is a duplicate; *+N replies* = service replies"
  echo "(outbox rows) submitted once before a SIGKILL and again by the restarted dialogd, the same residual"
  echo "for a reply (a reply submitted twice otherwise is a duplicate); *phantom* = usage rows or SMS charges"
  echo "without a relay the SMSC received; *fee days* = daily fees of the days billed so far, with"
  echo "those charged twice / owed but missing; *balance mismatches* and *reconcile* = violations found"
  echo "by \`dialogctl reconcile --opening\`; *recovery* = seconds from the fault's end to the first new"
  echo "relay recorded."
  echo
  for n in "${NOTES[@]}"; do echo "- $n"; done
  echo
  echo "Final \`dialogctl reconcile --hold-age 0\` (no dialogd running), exit $final_rc:"
  echo
  echo '```'
  cat "$OUT/reconcile-final.txt"
  echo '```'
} >>"$OUT/report.md"
cat "$OUT/report.md"
if ((FAILED)); then
  log "FAILED: an invariant was violated (see $OUT/report.md and $OUT/r-*/violations.txt)"
  exit 1
fi
log "every invariant held"
