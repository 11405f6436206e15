# tests/chaos/lib.sh — the pieces of the fault suite (sourced by
# tests/chaos/run.sh). Expects: SRC_DIR, BUILD_DIR, OUT (output directory),
# and the profile variables set by run.sh (RATE, ROUND_S, ...).
#
# Everything runs against a PostgreSQL cluster of its own ($OUT/var, started
# with scripts/pg.sh), since the suite stops, restarts and fills it.

DIALOGD="$BUILD_DIR/engine/dialogd"
DIALOGCTL="$BUILD_DIR/billing/dialogctl"
SMSC_SIM="$BUILD_DIR/smpp_gw/smsc-sim"
SHORT_CODE=6249
CH_PIDS=()
DLG_PID=
SIM_PID=
BILL_PID=

log() { echo "[chaos $(date +%H:%M:%S)] $*" | tee -a "$OUT/suite.log" >&2; }
die() { log "FATAL: $*"; exit 1; }
sql() { psql "$DIALOG_DB" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
sql_try() { psql "$DIALOG_DB" -qAtX -c "$1" 2>/dev/null || true; }
now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

wait_for() { # wait_for SECONDS cmd...
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || return 1
    sleep 0.1
  done
}

# ---- the service clock ------------------------------------------------------
# One clock for every program of the run: it starts at CLOCK_BASE (epoch
# seconds of the service) at the real instant CLOCK_T0 and runs on. dialogd
# reads DIALOG_NOW once at start, so every start gets the clock's current
# value: a restarted engine does not go back in time.
clock_set() { CLOCK_BASE=$1; CLOCK_T0=$(date +%s); }
svc_epoch() { echo $((CLOCK_BASE + $(date +%s) - CLOCK_T0)); }
svc_now() { date -u -d "@$(svc_epoch)" +%Y-%m-%dT%H:%M:%SZ; }
ctl() { DIALOG_NOW=$(svc_now) "$DIALOGCTL" "$@"; }

# ---- the cluster ------------------------------------------------------------
PG_VAR=
pg_start() { "$SRC_DIR/scripts/pg.sh" start "$PG_VAR" >/dev/null; }
pg_stop() { "$SRC_DIR/scripts/pg.sh" stop "$PG_VAR" >/dev/null 2>&1 || true; }
pg_up() { "$SRC_DIR/scripts/pg.sh" status "$PG_VAR" >/dev/null 2>&1; }

# cluster_init: a fresh cluster; with DISK_MB set and tmpfs mountable (root),
# its data directory lives on a tmpfs of DISK_MB megabytes (the disk-full
# round fills it). Sets DISKFS to the mount point or "".
DISKFS=
cluster_init() {
  PG_VAR="$OUT/var"
  pg_stop
  if [[ -d "$PG_VAR/pg/data" ]] && mountpoint -q "$PG_VAR/pg/data"; then umount "$PG_VAR/pg/data"; fi
  rm -rf "$PG_VAR"
  pg_start
  DIALOG_DB=$("$SRC_DIR/scripts/pg.sh" conninfo "$PG_VAR")
  export DIALOG_DB
  DISKFS=
  if [[ -n "${DISK_MB:-}" && $(id -u) -eq 0 ]]; then
    local data="$PG_VAR/pg/data"
    pg_stop
    mv "$data" "$data.disk"
    mkdir "$data"
    if mount -t tmpfs -o "size=${DISK_MB}m,mode=0700" chaos-pgdata "$data" 2>"$OUT/mount.err"; then
      cp -a "$data.disk/." "$data/"
      chown postgres:postgres "$data"
      rm -rf "$data.disk"
      DISKFS=$data
    else
      rmdir "$data"
      mv "$data.disk" "$data"
      log "tmpfs not mountable here ($(cat "$OUT/mount.err")): the disk-full round will not run"
    fi
    pg_start
  fi
}

cluster_cleanup() {
  pg_stop
  if [[ -n "$DISKFS" ]] && mountpoint -q "$DISKFS"; then
    umount "$DISKFS" || umount -l "$DISKFS" || true
  fi
}

# ---- population ---------------------------------------------------------------
# PAIRS relay pairs 7926 + 7 digits (pair k: 2k, 2k+1). Every pair but the
# last tenth has an active dialog opened 30 days before the run (trial over,
# so every day costs each participant a daily fee); 0..(1/3) start with the
# day's allowance used up (R10 charges at once), the last tenth has no dialog
# (R11 standard charges). Pairs 0..(1/5) are prepaid with balances that last,
# every 10th pair of those is prepaid with a few messages' worth (R17
# refusals); the rest postpaid. INVITE_PAIRS fresh pairs (7927...) for
# invitation traffic. opening.csv: every balance at provisioning (reconcile
# --opening).
provision() {
  local day=$1 pairs=$2 invites=$3
  ctl db init >/dev/null
  ctl region add MOW --tz Europe/Moscow --daily-fee 300 --operator-fee 4500 >/dev/null
  ctl tariff add BASIC --sms-price 150 >/dev/null
  sql "
  INSERT INTO subscriber (msisdn, contract, region, tariff, account_type, balance, credit_limit,
                          created_at, first_activated_at)
  SELECT '7926' || lpad(i::text, 7, '0'), 'C-' || i, 'MOW', 'BASIC',
         CASE WHEN i / 2 < $pairs / 5 THEN 'prepaid' ELSE 'postpaid' END,
         CASE WHEN i / 2 >= $pairs / 5 THEN 0
              WHEN (i / 2) % 10 = 3 THEN 150 * (i % 4)
              ELSE 2000000 END,
         0, '$day'::date - 40, '$day'::date - 30
    FROM generate_series(0, 2 * $pairs - 1) i;
  INSERT INTO subscriber (msisdn, contract, region, tariff, account_type, balance)
  SELECT '7927' || lpad(i::text, 7, '0'), 'F-' || i, 'MOW', 'BASIC', 'postpaid', 0
    FROM generate_series(0, 2 * $invites - 1) i;
  INSERT INTO dialog (inviter_id, invitee_id, inviter, invitee, state, created_at, activated_at, channel)
  SELECT a.id, b.id, a.msisdn, b.msisdn, 'active', '$day'::date - 30, '$day'::date - 30, 'sms'
    FROM generate_series(0, $pairs - $pairs / 10 - 1) k
    JOIN subscriber a ON a.msisdn = '7926' || lpad((2 * k)::text, 7, '0')
    JOIN subscriber b ON b.msisdn = '7926' || lpad((2 * k + 1)::text, 7, '0');
  INSERT INTO pair_usage (pair_lo, pair_hi, day, used)
  SELECT '7926' || lpad((2 * k)::text, 7, '0'), '7926' || lpad((2 * k + 1)::text, 7, '0'), '$day', 20
    FROM generate_series(0, $pairs / 3) k;" >/dev/null
  # the record_fail round's switch (test database only): while the row
  # 'record_fail' is in chaos_fault, recording relays and the outcome of
  # sent replies fails as on a full disk, with PostgreSQL up
  sql "
  CREATE TABLE chaos_fault (name text PRIMARY KEY);
  CREATE FUNCTION chaos_record_fail() RETURNS trigger LANGUAGE plpgsql AS \$\$
  BEGIN
      IF EXISTS (SELECT 1 FROM chaos_fault WHERE name = 'record_fail') THEN
          RAISE EXCEPTION USING ERRCODE = '53100',
              MESSAGE = 'could not extend file: No space left on device (test)';
      END IF;
      RETURN NULL;
  END \$\$;
  CREATE TRIGGER chaos_record_fail BEFORE INSERT ON sms_usage
      FOR EACH STATEMENT EXECUTE FUNCTION chaos_record_fail();
  -- and writing the outcome of a sent reply fails too: the reply must not
  -- be sent again (the row still reads 'queued' until its update commits)
  CREATE TRIGGER chaos_outbox_fail BEFORE UPDATE ON outbox
      FOR EACH STATEMENT EXECUTE FUNCTION chaos_record_fail();" >/dev/null
  sql "SELECT id || ',' || balance FROM subscriber ORDER BY id" >"$OUT/opening.csv"
  local k
  for ((k = 0; k < pairs; k++)); do printf '7926%07d 7926%07d\n' $((2 * k)) $((2 * k + 1)); done >"$OUT/pairs.txt"
  for ((k = 0; k < invites; k++)); do printf '7927%07d 7927%07d\n' $((2 * k)) $((2 * k + 1)); done >"$OUT/invite-pairs.txt"
}

# ---- smsc-sim -------------------------------------------------------------------
sim_has() { "$SMSC_SIM" --help 2>&1 | grep -q -- "$1"; }

# sim_start ROUND_DIR DURATION: the load of one round on the suite's fixed
# port, with the control FIFO, redelivery and invitation traffic when this
# smsc-sim has them.
sim_start() {
  local dir=$1 dur=$2 extra=()
  if sim_has --redeliver; then extra+=(--redeliver); fi
  if sim_has --control; then extra+=(--control "$OUT/control.fifo"); fi
  if sim_has --invite-pairs-file && [[ "${INVITE_RATE:-0}" != 0 ]]; then
    # fresh pairs for every round: INVITES_PER_ROUND of them
    local per=$INVITES_PER_ROUND
    sed -n "$(((ROUND_NO - 1) * per + 1)),$((ROUND_NO * per))p" "$OUT/invite-pairs.txt" >"$dir/invite-pairs.txt"
    if [[ -s "$dir/invite-pairs.txt" ]]; then
      extra+=(--invite-pairs-file "$dir/invite-pairs.txt" --invite-rate "$INVITE_RATE")
    fi
  fi
  "$SMSC_SIM" --listen "127.0.0.1:$SIM_PORT" --system-id dialog --password secret \
    --load --rate "$RATE" --duration "$dur" --drain "$DRAIN_S" --bind-wait 60 --window 2000 \
    --p2p-ratio 0.85 --pairs-file "$OUT/pairs.txt" --seed "$((SEED + ROUND_NO))" \
    --log "$dir/events.log" "${extra[@]}" >"$dir/sim.out" 2>"$dir/sim.err" &
  SIM_PID=$!
  CH_PIDS+=("$SIM_PID")
}

control() { # control LINE: a fault command to the running smsc-sim
  [[ -p "$OUT/control.fifo" ]] || return 1
  echo "$1" >"$OUT/control.fifo"
}

# ---- dialogd ----------------------------------------------------------------------
write_config() {
  cat >"$OUT/dialog.ini" <<INI
[smpp]
host = 127.0.0.1
port = $SIM_PORT
system_id = dialog
password = secret
sessions = 2
enquire_link_s = 5
reconnect_max_s = 2
response_timeout_s = 3
redelivery_window_s = $REDELIVERY_WINDOW_S
[service]
daily_allowance = 20
max_pending_invites = 1000
max_invites_per_day = 100000
max_dialogs_per_subscriber = 1000
[log]
level = info
INI
  chmod 600 "$OUT/dialog.ini"
  export DIALOG_CONFIG="$OUT/dialog.ini"
}

engine_lock_free() {
  [[ $(sql_try "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 6249 AND objid = 1") == 0 ]]
}

dialogd_start() {
  wait_for 30 engine_lock_free || log "warning: the engine lock is still held"
  echo "--- start at $(svc_now)" >>"$OUT/dialogd.log"
  DIALOG_NOW=$(svc_now) "$DIALOGD" --config "$OUT/dialog.ini" >>"$OUT/dialogd.log" 2>&1 &
  DLG_PID=$!
  CH_PIDS+=("$DLG_PID")
}

dialogd_kill() {
  kill -KILL "$DLG_PID" 2>/dev/null || true
  wait "$DLG_PID" 2>/dev/null || true
  echo "--- SIGKILL" >>"$OUT/dialogd.log"
}

# dialogd_term: SIGTERM; sets TERM_RC (exit code) and TERM_S (seconds taken).
dialogd_term() {
  local t0 rc=0
  t0=$(now_s)
  kill -TERM "$DLG_PID" 2>/dev/null || true
  wait "$DLG_PID" || rc=$?
  TERM_RC=$rc
  TERM_S=$(elapsed "$t0" "$(now_s)")
  echo "--- SIGTERM: exit $rc after $TERM_S s" >>"$OUT/dialogd.log"
}

# ---- batch traffic: daily billing and top-ups while the load runs ----------------
bill_loop_start() {
  local dir=$1
  (
    n=0
    while :; do
      n=$((n + 1))
      rc=0
      ctl bill daily >>"$dir/bill.out" 2>&1 || rc=$?
      echo "bill daily run $n exit $rc" >>"$dir/bill.out"
      if ((n % 3 == 1)); then
        ctl account credit 79260000000 500 --ref "chaos-$ROUND_NO-$n" >>"$dir/bill.out" 2>&1 || true
      fi
      sleep "$BILL_EVERY_S"
    done
  ) &
  BILL_PID=$!
}
bill_loop_stop() {
  [[ -n "$BILL_PID" ]] || return 0
  kill "$BILL_PID" 2>/dev/null || true
  wait "$BILL_PID" 2>/dev/null || true
  BILL_PID=
}

# ---- recovery time ---------------------------------------------------------------
# recovery_watch FILE: in the background, from now (the fault's end) until a
# new relay is recorded (sms_usage grows), then write the seconds to FILE.
recovery_watch() {
  local file=$1
  (
    t0=$(now_s)
    base=
    while [[ -z "$base" ]]; do base=$(sql_try "SELECT coalesce(max(id), 0) FROM sms_usage"); [[ -n "$base" ]] || sleep 0.1; done
    # rows recorded before the fault ended but committed after do not count:
    # wait for a relay the SMSC accepted after t0 (its row is newer than base)
    until [[ $(sql_try "SELECT count(*) FROM sms_usage WHERE id > $base") -gt 0 ]] 2>/dev/null; do
      sleep 0.1
      (($(date +%s) - ${t0%.*} < 300)) || { echo "none" >"$file"; exit 0; }
    done
    elapsed "$t0" "$(now_s)" >"$file"
  ) &
  CH_PIDS+=("$!")
}

# ---- a round's rows ------------------------------------------------------------------
# round_marks: the highest ids before the round (rows of the round are newer).
round_marks() {
  LOG_MARK=$(wc -l <"$OUT/dialogd.log" 2>/dev/null || echo 0)
  MARK=$(sql "SELECT (SELECT coalesce(max(id), 0) FROM sms_usage) || ' ' ||
                     (SELECT coalesce(max(id), 0) FROM ledger) || ' ' ||
                     (SELECT coalesce(max(id), 0) FROM mo_inbound) || ' ' ||
                     (SELECT coalesce(max(id), 0) FROM dialog)")
}

round_dump() {
  local dir=$1 u l m d
  read -r u l m d <<<"$MARK"
  # MOs dialogd answered as the redelivery of one already committed (ack.c)
  tail -n +"$((LOG_MARK + 1))" "$OUT/dialogd.log" | grep 'effect=already_committed' \
    | sed -E 's/.* seq=([0-9]+) src=([0-9]+) dst=([0-9]+).*/\2\t\3\t\1/' >"$dir/absorbed.tsv" || true
  # every outbox row (a service reply) dialogd submitted in the round, with
  # the number of SIGKILLs before it in the round (which run sent it)
  tail -n +"$((LOG_MARK + 1))" "$OUT/dialogd.log" \
    | awk '/^--- SIGKILL/ { k++ }
           /sub=outbox event=submitted / { if (match($0, /outbox_id=[0-9]+/)) print substr($0, RSTART + 10, RLENGTH - 10) "\t" k + 0 }' \
    >"$dir/outbox_sent.tsv" || true
  psql "$DIALOG_DB" -qAtX -F $'\t' -c "SELECT inviter, invitee, state, (activated_at IS NOT NULL)::int FROM dialog WHERE id > $d" >"$dir/dialogs.tsv"
  psql "$DIALOG_DB" -qAtX -F $'\t' -c "SELECT id, relay_key, src, dst, coalesce(message_id, ''), amount, src_sub_id, rule FROM sms_usage WHERE id > $u" >"$dir/usage.tsv"
  psql "$DIALOG_DB" -qAtX -F $'\t' -c "SELECT idem_key, kind, amount, subscriber_id FROM ledger WHERE id > $l AND kind LIKE 'sms%'" >"$dir/ledger_sms.tsv"
  psql "$DIALOG_DB" -qAtX -F $'\t' -c "SELECT id, src, dst, coalesce(seq::text, ''), coalesce(kind, '') FROM mo_inbound WHERE id > $m" >"$dir/inbound.tsv"
  psql "$DIALOG_DB" -qAtX -F $'\t' -c "SELECT cause_inbound_id, coalesce(msg, '') FROM outbox WHERE cause_inbound_id > $m" >"$dir/replies.tsv"
}

# fee_check DAY...: for every day billed, each participant of a dialog that
# was active at the day's 00:00 and stayed open (population dialogs: trial
# long over) has exactly one daily fee; prints "fee_days dup_fees missing".
fee_check() {
  local days="'$(echo "$@" | sed "s/ /','/g")'"
  sql "
  WITH d AS (SELECT unnest(ARRAY[$days]::date[]) AS day),
  want AS (
    SELECT dl.id AS dialog_id, v.sub AS subscriber_id, d.day
      FROM dialog dl CROSS JOIN d
     CROSS JOIN LATERAL (VALUES (dl.inviter_id), (dl.invitee_id)) v(sub)
     WHERE dl.activated_at < (d.day::timestamp AT TIME ZONE 'Europe/Moscow')
       AND dl.state = 'active' AND dl.inviter LIKE '7926%'
       AND NOT EXISTS (SELECT 1 FROM dialog_event e WHERE e.dialog_id = dl.id
                        AND e.type IN ('suspended', 'resumed'))),
  got AS (
    SELECT dialog_id, subscriber_id, bill_date AS day, count(*) AS n
      FROM ledger WHERE kind = 'daily_fee' AND bill_date IN (SELECT day FROM d)
     GROUP BY 1, 2, 3)
  SELECT (SELECT count(*) FROM got) || ' ' ||
         (SELECT count(*) FROM got WHERE n > 1) || ' ' ||
         (SELECT count(*) FROM want w LEFT JOIN got g USING (dialog_id, subscriber_id, day)
           WHERE g.n IS NULL)"
}

# reconcile_json FILE: dialogctl reconcile --json with the opening snapshot;
# prints its exit code.
reconcile_json() {
  local rc=0
  ctl reconcile --json --opening "$OUT/opening.csv" --hold-age 120 --pending-grace 300 \
    --outbox-age 900 >"$1" 2>"$1.err" || rc=$?
  echo "$rc"
}

ch_cleanup() {
  bill_loop_stop
  if [[ -n "${CHAOS_KEEP:-}" ]]; then  # leave the cluster up to look at it
    CH_PIDS+=("$DLG_PID")
    for p in "${CH_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    log "CHAOS_KEEP: cluster left running: psql '$DIALOG_DB'"
    return 0
  fi
  local p
  for p in "${CH_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${CH_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  cluster_cleanup
}
