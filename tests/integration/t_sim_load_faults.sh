#!/usr/bin/env bash
# smsc-sim --load with command traffic, fault control and redelivery, against
# a real dialogd (R4-R6, R11; "What subscribers must never see").
#
# Phase 1 (no --redeliver): 40 invitation pairs (A invites B by number, R4;
# the sim answers B's invitation MT with "1 A", R6) alongside P2P traffic
# (R11, 50 MO/s). Faults through --control: `drop` (every link closed: the
# engine reconnects and the traffic goes on), `throttle 1.5` (submit_sm answered
# ESME_RTHROTTLED: the engine retries), `stall 5` (submit_sm unanswered longer
# than response_timeout_s = 3: the engine logs them slow and keeps waiting —
# the SMSC answers them when the stall ends — instead of answering the MO
# 0x64 and relaying its redelivery a second time).
# Proven:
#   (a) dialogs_completed = 40 = the active dialogs of the pairs in the
#       database, and every pair's dialog is active;
#   (b) after `drop` the links come back and MOs are acknowledged again;
#   (c) the throttle and the stall were seen by the engine (throttled /
#       submit_slow in its log) and no MO was relayed twice;
#   (d) every MO the sim logged as answered 0 has exactly one sms_usage row
#       (joined through the relayed MT's message_id) and was relayed; no usage
#       row without a relay the SMSC received.
# Phase 2 (--redeliver): P2P traffic; a stall longer than the engine's
# response timeout; a stall that keeps relays in flight, then `drop` closes
# the links under them (the stalled submit_sm die with them), `clear` ends
# the stall; later a throttle. Proven:
#   (e) MOs were redelivered or retried, and every MO ends answered ESME_ROK
#       (no `lost` line, the last response of each MO is 0), and (d) holds for
#       them too: none charged twice after a redelivery, none relayed twice.
source "$(dirname "$0")/lib.sh"
new_db
"$DIALOGCTL" db init >/dev/null
"$DIALOGCTL" region add MOW --tz Europe/Moscow --daily-fee 300 --operator-fee 4500 >/dev/null
"$DIALOGCTL" tariff add BASIC --sms-price 150 >/dev/null
NP2P=30 NINV=40
# P2P pairs 7916100xxxx (no dialog: R11 charged), invitation pairs 7916200xxxx
sql "
INSERT INTO subscriber (msisdn, contract, region, tariff, account_type)
SELECT '7916100' || lpad(i::text, 4, '0'), 'P-' || i, 'MOW', 'BASIC', 'postpaid'
  FROM generate_series(0, 2 * $NP2P - 1) i;
INSERT INTO subscriber (msisdn, contract, region, tariff, account_type)
SELECT '7916200' || lpad(i::text, 4, '0'), 'I-' || i, 'MOW', 'BASIC', 'postpaid'
  FROM generate_series(0, 2 * $NINV - 1) i;" >/dev/null
for ((k = 0; k < NP2P; k++)); do printf '7916100%04d 7916100%04d\n' $((2 * k)) $((2 * k + 1)); done >"$T_DIR/p2p.txt"
for ((k = 0; k < NINV; k++)); do printf '7916200%04d 7916200%04d\n' $((2 * k)) $((2 * k + 1)); done >"$T_DIR/invite.txt"
FIFO="$T_DIR/control.fifo"

# run_sim PHASE [extra smsc-sim args]: the load in the background
run_sim() {
  local ph=$1; shift
  rm -f "$T_DIR/sim.port"
  "$SMSC_SIM" --listen 127.0.0.1:0 --port-file "$T_DIR/sim.port" --system-id dialog --password secret \
    --load --p2p-ratio 1 --pairs-file "$T_DIR/p2p.txt" --window 2000 --bind-wait 20 \
    --control "$FIFO" --log "$T_DIR/events$ph.log" "$@" \
    >"$T_DIR/sim$ph.out" 2>"$T_DIR/sim$ph.err" &
  SIM_PID=$!
  T_PIDS+=("$SIM_PID")
  wait_for 10 test -s "$T_DIR/sim.port" || fail "smsc-sim did not start: $(cat "$T_DIR/sim$ph.err")"
  SIM_PORT=$(cat "$T_DIR/sim.port")
  write_config "sessions = 2"
  start_dialogd
  wait_for 20 grep -q 'result=ESME_ROK' "$T_DIR/sim$ph.err" || fail "dialogd did not bind: $(tail -n 20 "$T_DIR/dialogd.log")"
}
ctl() { # ctl PHASE COMMAND: write to the FIFO, wait for the sim to apply it
  timeout 5 bash -c "echo '$2' >'$FIFO'" || fail "cannot write '$2' to $FIFO"
  wait_for 5 grep -q "^smsc-sim: control $2\$" "$T_DIR/sim$1.err" || fail "control '$2' not applied"
}
binds() { grep -c 'result=ESME_ROK' "$T_DIR/sim$1.err" || true; }
finish_sim() { # finish_sim PHASE
  local rc=0
  wait "$SIM_PID" || rc=$?
  [[ $rc -eq 0 ]] || fail "smsc-sim --load exit $rc: $(tail -n 20 "$T_DIR/sim$1.err")"
  stop_dialogd || fail "dialogd did not exit 0 on SIGTERM"
  echo "--- phase $1 report: $(paste -sd' ' "$T_DIR/sim$1.out")"
}
report() { sed -n "s/^$2=//p" "$T_DIR/sim$1.out"; }

# ---- phase 1: invitations + P2P; drop, throttle, stall
run_sim 1 --rate 50 --duration 22 --drain 8 --invite-pairs-file "$T_DIR/invite.txt" --invite-rate 20
sleep 4
b=$(binds 1)
ctl 1 drop
wait_for 15 bash -c "[[ \$(grep -c 'result=ESME_ROK' '$T_DIR/sim1.err') -gt $b ]]" \
  || fail "(b) dialogd did not bind again after drop: $(tail -n 20 "$T_DIR/dialogd.log")"
sleep 2
ctl 1 "throttle 1.5"
# the engine's pause after throttling grows up to 5 s: stall once it is over
sleep 7.5
ctl 1 "stall 5"
finish_sim 1

ninv_done=$(report 1 dialogs_completed)
[[ $(report 1 invites_sent) == "$NINV" ]] || fail "(a) invites_sent=$(report 1 invites_sent), want $NINV"
[[ $(report 1 accepts_sent) == "$NINV" ]] || fail "(a) accepts_sent=$(report 1 accepts_sent), want $NINV"
active=$(sql "SELECT count(*) FROM dialog WHERE state = 'active' AND inviter LIKE '7916200%'")
[[ "$ninv_done" == "$NINV" && "$active" == "$NINV" ]] \
  || fail "(a) dialogs_completed=$ninv_done, active dialogs in the database=$active, want $NINV"
values=$(sed -E "s/^([0-9]+) ([0-9]+)$/('\\1','\\2')/" "$T_DIR/invite.txt" | paste -sd,)
[[ $(sql "SELECT count(*) FROM dialog d JOIN (VALUES $values) p(a, b)
             ON d.inviter = p.a AND d.invitee = p.b WHERE d.state = 'active'") == "$NINV" ]] \
  || fail "(a) not every invitation pair has its active dialog"
grep -Eq '^invite [0-9]+ 79162000000 79162000001 [0-9]+$' "$T_DIR/events1.log" || fail "no invite line in the log"
grep -Eq '^accept [0-9]+ 79162000001 79162000000 [0-9]+$' "$T_DIR/events1.log" || fail "no accept line in the log"
grep -q '^dialog 79162000000 79162000001 ' "$T_DIR/events1.log" || fail "no dialog line in the log"
[[ $(report 1 cmd_latency_p50_ms) != 0.000 ]] || fail "no command latency measured"
grep -Eq '^control drop [0-9.]+$' "$T_DIR/events1.log" || fail "no control line in the log"
# (b) after the drop: the link count went to 0 and back, MOs acknowledged after it
python3 - "$T_DIR/events1.log" <<'PY' || fail "(b) the traffic did not continue after drop"
import sys
seen_drop = down = up = False
acked_after = 0
for line in open(sys.argv[1], encoding="utf-8"):
    p = line.split()
    if p[0] == "control" and p[1] == "drop":
        seen_drop = True
    elif seen_drop and p[0] == "link":
        if p[1] == "0":
            down = True
        elif down:
            up = True
    elif up and p[0] == "resp" and p[2] == "0":
        acked_after += 1
print(f"drop: links down={down} up again={up} acked after={acked_after}")
sys.exit(0 if down and up and acked_after >= 50 else 1)
PY
# (c) the engine saw the faults
grep -q 'event=throttled' "$T_DIR/dialogd.log" || fail "(c) the throttling was not seen by the engine"
grep -q 'event=submit_slow' "$T_DIR/dialogd.log" || fail "(c) the stall made no submit slow"
grep -q 'stall_released' "$T_DIR/sim1.err" || fail "(c) the stall did not end"

# the SMSC's message_ids start again at 1 in phase 2: keep phase 1's rows apart
dump_usage() { psql "$DIALOG_DB" -qAtX -F $'\t' -c "SELECT relay_key, src, dst, coalesce(message_id, '') FROM sms_usage $1" >"$2"; }
dump_usage "" "$T_DIR/usage1.tsv"
last1=$(sql "SELECT coalesce(max(id), 0) FROM sms_usage")

# ---- phase 2: --redeliver; stall + drop under it, clear, throttle
run_sim 2 --rate 50 --duration 16 --drain 10 --redeliver --seed 7
sleep 2
ctl 2 "stall 4.5"   # slow submits, answered when the stall ends
sleep 6
ctl 2 "stall 6"
sleep 1.5
ctl 2 drop
sleep 0.5
ctl 2 clear
sleep 3
ctl 2 "throttle 1.5"
finish_sim 2
[[ $(( $(report 2 redelivered) + $(report 2 retries) )) -gt 0 ]] || fail "(e) nothing was redelivered or retried"
grep -q '^lost ' "$T_DIR/events2.log" && fail "(e) MOs lost despite --redeliver: $(grep -c '^lost ' "$T_DIR/events2.log")"
[[ $(report 2 unanswered) == 0 && $(report 2 lost) == 0 ]] || fail "(e) unanswered=$(report 2 unanswered) lost=$(report 2 lost)"

# ---- (d), (e): join the event logs with sms_usage
dump_usage "WHERE id > $last1" "$T_DIR/usage2.tsv"
python3 - "$T_DIR" <<'PY' || fail "reconciliation failed (files in $T_DIR)"
import collections, re, sys
d = sys.argv[1]
bad, dup_total = [], 0
for ph in (1, 2):
    usage_by_msgid = collections.defaultdict(list)
    usage = {}
    for line in open(f"{d}/usage{ph}.tsv"):
        key, src, dst, msgid = line.rstrip("\n").split("\t")
        usage[key] = (src, dst, msgid)
        usage_by_msgid[msgid].append(key)
    all_mts = {}
    mo, resps, lost, redeliv, retry = {}, collections.defaultdict(list), set(), set(), set()
    mts = collections.defaultdict(list)
    for line in open(f"{d}/events{ph}.log", encoding="utf-8"):
        p = line.rstrip("\n").split(" ", 4)
        k = p[0]
        if k == "mo":
            mo[int(p[1])] = (p[2], p[3])
        elif k == "resp":
            resps[int(p[1])].append(int(p[2]))
        elif k == "lost":
            lost.add(int(p[1]))
        elif k == "redeliver":
            redeliv.add(int(p[1]))
        elif k == "retry":
            retry.add(int(p[1]))
        elif k == "mt":
            text = p[4] if len(p) > 4 else ""
            all_mts[p[1]] = (p[2], p[3])
            m = re.match(r"m(\d+) ", text)
            if m:
                mts[int(m.group(1))].append((p[1], p[2], p[3]))
    acked = [i for i in mo if resps.get(i) and resps[i][-1] == 0 and i not in lost]
    dups = 0
    for i in acked:
        src, dst = mo[i]
        got = [m for m in mts.get(i, []) if m[1] == src and m[2] == dst]
        keys = [k for m in got for k in usage_by_msgid.get(m[0], [])]
        if not got:
            bad.append(f"phase {ph}: MO m{i} answered 0 but never relayed")
        elif len(keys) > 1 and i in redeliv | retry:
            dups += 1
            bad.append(f"phase {ph}: MO m{i} charged {len(keys)} times after a redelivery")
        elif len(keys) != 1:
            bad.append(f"phase {ph}: MO m{i} {src}->{dst} answered 0 has {len(keys)} usage rows")
    if ph == 2:
        for i in mo:
            if not resps.get(i) or resps[i][-1] != 0:
                bad.append(f"phase 2: MO m{i} did not end answered 0: {resps.get(i)}")
    dup_total += dups
    twice = sum(1 for i in mts if len(mts[i]) > 1)
    if twice:
        bad.append(f"phase {ph}: {twice} MO(s) relayed twice")
    st = collections.Counter(s for v in resps.values() for s in v)
    print(f"phase {ph}: mo={len(mo)} acked={len(acked)} statuses={dict(st)} lost={len(lost)} "
          f"redelivered={len(redeliv)} retried={len(retry)} usage_rows={len(usage)} "
          f"charged_twice_after_redelivery={dups} relayed_twice={twice}")
    for key, (src, dst, msgid) in usage.items():
        mt = all_mts.get(msgid)
        if not msgid or not mt or mt != (src, dst):
            bad.append(f"phase {ph}: usage {key} {src}->{dst} message_id={msgid!r}: "
                       "the SMSC received no such relay")
for b in bad[:30]:
    print("VIOLATION", b)
sys.exit(1 if bad else 0)
PY
pass "invitations complete as active dialogs (R4-R6); drop/throttle/stall survived; each MO answered 0 charged once (R11); --redeliver answers every MO"
