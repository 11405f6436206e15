#!/usr/bin/env bash
# Issue 4, crash test of relay and rating ("What subscribers must never see";
# R9-R11, R16, R17): under continuous P2P traffic (smsc-sim --load, ~300 MO/s
# for 20 s over 100 provisioned pairs) dialogd is killed with SIGKILL three
# times at random moments and restarted. Afterwards, from the simulator's
# event log (--log: every MO with its id, every deliver_sm_resp, every MT with
# its SMSC message_id) joined with the database:
#   (a) every MO acknowledged ESME_ROK was relayed to its destination
#       (an MT carrying the MO's id, at least once);
#   (b) every MO acknowledged ESME_ROK has exactly one sms_usage row (joined
#       through sms_usage.message_id = the relayed MT's message_id);
#   (c) no sms_* ledger entry without its usage row (idem_key 'sms:' ||
#       relay_key, same payer and amount), every chargeable usage row has
#       exactly one entry, and every usage row is a relay the SMSC received
#       (its message_id is an MT from src to dst): no charge without a relay;
#   (d) every subscriber's balance is its initial balance minus its sms
#       charges (prepaid ones never below their credit limit);
#   (e) no sms_hold row is left;
#   (f) an MO answered with an error was not charged, and one refused with
#       ESME_RX_R_APPN (R17/D8) was not relayed.
# Population (pair k = 7916000xxxx numbers 2k / 2k+1, k = 0..99), daily
# allowance 20: pairs 0-59 start with the day's allowance used up (R10
# charges at once), 60-89 have a fresh one, 90-99 have no dialog (R11);
# pairs 0-39 and 95-99 are prepaid: 20-39 with balances that last the whole
# run, the others small (some 0: refusals; some with a credit limit).
# A test-only trigger makes each recording of relays 30 ms slower (a slow
# disk), so that the kills find work in every stage of a relay.
# MOs relayed twice because of a crash (possible only if the SMSC
# redelivered; smsc-sim does not) and MOs charged but lost at a crash (the
# kill came between the record and the deliver_sm_resp) are counted and
# reported, not failed.
source "$(dirname "$0")/lib.sh"
new_db
"$DIALOGCTL" db init >/dev/null
"$DIALOGCTL" region add MOW --tz Europe/Moscow --daily-fee 300 --operator-fee 4500 >/dev/null
"$DIALOGCTL" tariff add BASIC --sms-price 150 >/dev/null
"$DIALOGCTL" tariff add CHEAP --sms-price 70 >/dev/null

NPAIRS=100
DAY=2026-11-22
export DIALOG_NOW=${DAY}T14:00:00+03:00
SEED=${T_SEED:-$((RANDOM * 32768 + RANDOM))}
echo "seed=$SEED (rerun with T_SEED=$SEED)"
RANDOM=$((SEED % 32768))

sql "
INSERT INTO subscriber (msisdn, contract, region, tariff, account_type, balance, credit_limit)
SELECT '7916' || lpad(i::text, 7, '0'), 'C-' || i, 'MOW',
       CASE WHEN i % 3 = 0 THEN 'CHEAP' ELSE 'BASIC' END,
       CASE WHEN i / 2 < 40 OR i / 2 >= 95 THEN 'prepaid' ELSE 'postpaid' END,
       CASE WHEN i / 2 BETWEEN 20 AND 39 THEN 30000 + 150 * i
            WHEN i / 2 < 40 OR i / 2 >= 95 THEN 150 * ((i * 7) % 11) ELSE 0 END,
       CASE WHEN i % 10 = 3 AND (i / 2 < 40 OR i / 2 >= 95) THEN 300 ELSE 0 END
  FROM generate_series(0, 2 * $NPAIRS - 1) i;
INSERT INTO dialog (inviter_id, invitee_id, inviter, invitee, state, created_at, activated_at)
SELECT a.id, b.id, a.msisdn, b.msisdn, 'active', '$DAY 09:00+03', '$DAY 09:05+03'
  FROM generate_series(0, 89) k
  JOIN subscriber a ON a.msisdn = '7916' || lpad((2 * k)::text, 7, '0')
  JOIN subscriber b ON b.msisdn = '7916' || lpad((2 * k + 1)::text, 7, '0');
INSERT INTO pair_usage (pair_lo, pair_hi, day, used)
SELECT '7916' || lpad((2 * k)::text, 7, '0'), '7916' || lpad((2 * k + 1)::text, 7, '0'), '$DAY', 20
  FROM generate_series(0, 59) k;
CREATE TABLE t_initial AS SELECT id, msisdn, balance FROM subscriber;
-- a slow disk: each recording of relays takes 30 ms more, so that a kill
-- finds relays confirmed but not recorded, recorded but not acknowledged,
-- and prepaid money held (test database only)
CREATE FUNCTION t_slow_commit() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN PERFORM pg_sleep(0.03); RETURN NULL; END \$\$;
CREATE TRIGGER t_slow_commit AFTER INSERT ON sms_usage
    FOR EACH STATEMENT EXECUTE FUNCTION t_slow_commit();" >/dev/null
for ((k = 0; k < NPAIRS; k++)); do
  printf '7916%07d 7916%07d\n' $((2 * k)) $((2 * k + 1))
done >"$T_DIR/pairs.txt"

# ---- the load, across dialogd restarts
rm -f "$T_DIR/sim.port"
"$SMSC_SIM" --listen 127.0.0.1:0 --port-file "$T_DIR/sim.port" --system-id dialog --password secret \
  --load --rate 300 --duration 36 --drain 8 --bind-wait 30 --p2p-ratio 1 --window 2000 \
  --pairs-file "$T_DIR/pairs.txt" --seed "$SEED" --log "$T_DIR/events.log" --mo-timeout-ms 15000 \
  >"$T_DIR/sim.out" 2>"$T_DIR/sim.err" &
SIM_PID=$!
T_PIDS+=("$SIM_PID")
wait_for 10 test -s "$T_DIR/sim.port" || fail "smsc-sim did not start: $(cat "$T_DIR/sim.err")"
SIM_PORT=$(cat "$T_DIR/sim.port")
write_config "sessions = 2" "[service]" "daily_allowance = 20"

engine_lock_free() {
  [[ $(sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 6249 AND objid = 1") == 0 ]]
}
bound_count() { grep -c 'result=ESME_ROK' "$T_DIR/sim.err" || true; }
start_dialogd
wait_for 20 grep -q 'result=ESME_ROK' "$T_DIR/sim.err" || fail "dialogd did not bind: $(tail -n 20 "$T_DIR/dialogd.log")"
T_START=$SECONDS
for kill_no in 1 2 3; do
  # a random moment 3.0-4.9 s after the previous (re)start
  sleep "$((3 + RANDOM % 2)).$((RANDOM % 10))"
  kill -0 "$SIM_PID" 2>/dev/null || fail "the load ended before kill $kill_no (restarts too slow?)"
  kill -KILL "$DLG_PID"
  wait "$DLG_PID" 2>/dev/null || true
  echo "--- killed with SIGKILL ($kill_no) at +$((SECONDS - T_START)) s" | tee -a "$T_DIR/dialogd.log"
  wait_for 30 engine_lock_free || fail "the engine lock of the killed dialogd was not released: $(sql "SELECT pid, state, wait_event, left(query, 60) FROM pg_stat_activity WHERE datname = current_database()")"
  binds=$(bound_count)
  start_dialogd
  wait_for 20 bash -c "[[ \$(grep -c 'result=ESME_ROK' '$T_DIR/sim.err') -gt $binds ]]" \
    || fail "dialogd did not bind again after kill $kill_no: $(tail -n 20 "$T_DIR/dialogd.log")"
done
rc=0
wait "$SIM_PID" || rc=$?
[[ $rc -eq 0 ]] || fail "smsc-sim --load exit $rc: $(tail -n 20 "$T_DIR/sim.err")"
stop_dialogd || fail "dialogd did not exit 0 on SIGTERM"
echo "--- load report"; paste -sd' ' "$T_DIR/sim.out"

# ---- reconcile
psql "$DIALOG_DB" -qAtX -F $'\t' -c "SELECT relay_key, src, dst, coalesce(message_id, ''), amount, src_sub_id, rule FROM sms_usage" >"$T_DIR/usage.tsv"
psql "$DIALOG_DB" -qAtX -F $'\t' -c "SELECT idem_key, kind, amount, subscriber_id FROM ledger WHERE kind LIKE 'sms%'" >"$T_DIR/ledger.tsv"
psql "$DIALOG_DB" -qAtX -F $'\t' -c "SELECT s.msisdn, s.account_type, i.balance, s.balance, s.credit_limit, s.id FROM subscriber s JOIN t_initial i ON i.id = s.id" >"$T_DIR/balances.tsv"
psql "$DIALOG_DB" -qAtX -F $'\t' -c "SELECT relay_key, subscriber_id, amount, created_at FROM sms_hold" >"$T_DIR/holds.tsv"

python3 - "$T_DIR" <<'PY' || fail "reconciliation failed (details above; files in $T_DIR)"
import collections, re, sys
d = sys.argv[1]
def canon(n):
    return n[1:] if n.startswith('+') else n
mo = {}                                   # id -> (src, dst)
resps = collections.defaultdict(list)     # id -> [status]
lost, timeouts, late = set(), set(), set()
mts = collections.defaultdict(list)       # id -> [(msgid, src, dst)]
mt_by_msgid = {}                          # msgid -> (id or None, src, dst)
links = 0
with open(f"{d}/events.log", encoding="utf-8") as f:
    for line in f:
        p = line.rstrip("\n").split(" ", 4)
        k = p[0]
        if k == "mo":
            mo[int(p[1])] = (canon(p[2]), canon(p[3]))
        elif k == "resp":
            resps[int(p[1])].append(int(p[2]))
        elif k == "lost":
            lost.add(int(p[1]))
        elif k == "timeout":
            timeouts.add(int(p[1]))
        elif k == "late":
            late.add(int(p[1]))
        elif k == "mt":
            msgid, src, dst, text = p[1], canon(p[2]), canon(p[3]), p[4] if len(p) > 4 else ""
            m = re.match(r"m(\d+) ", text)
            mid = int(m.group(1)) if m else None
            if mid is not None:
                mts[mid].append((msgid, src, dst))
            mt_by_msgid[msgid] = (mid, src, dst)
        elif k == "link":
            links += 1
usage = {}                                # relay_key -> row
usage_by_msgid = collections.defaultdict(list)
for line in open(f"{d}/usage.tsv"):
    key, src, dst, msgid, amount, sub, rule = line.rstrip("\n").split("\t")
    usage[key] = (src, dst, msgid, int(amount), int(sub), rule)
    usage_by_msgid[msgid].append(key)
ledger = collections.defaultdict(list)    # relay_key -> [(kind, amount, sub)]
bad = []
nledger = 0
for line in open(f"{d}/ledger.tsv"):
    idem, kind, amount, sub = line.rstrip("\n").split("\t")
    nledger += 1
    if not idem.startswith("sms:") or idem[4:] not in usage:
        bad.append(f"(c) ledger {kind} {amount} idem_key={idem} has no usage row")
        continue
    ledger[idem[4:]].append((kind, int(amount), int(sub)))

acked = [i for i in mo if resps.get(i) and all(s == 0 for s in resps[i])
         and i not in lost and i not in timeouts]
status_count = collections.Counter(s for v in resps.values() for s in v)
# (a) relayed, (b) exactly one usage row
for i in acked:
    src, dst = mo[i]
    got = [m for m in mts.get(i, []) if m[1] == src and m[2] == dst]
    if not got:
        bad.append(f"(a) MO m{i} {src}->{dst} acknowledged 0 but never relayed")
        continue
    keys = [k for m in got for k in usage_by_msgid.get(m[0], [])
            if usage[k][0] == src and usage[k][1] == dst]
    if len(keys) != 1:
        bad.append(f"(b) MO m{i} {src}->{dst} acknowledged 0 has {len(keys)} usage rows "
                   f"(relayed as message_id {[m[0] for m in got]})")
# (c) charge <-> usage <-> relay
for key, (src, dst, msgid, amount, sub, rule) in usage.items():
    mt = mt_by_msgid.get(msgid)
    if not msgid or not mt or mt[1] != src or mt[2] != dst:
        bad.append(f"(c) usage {key} {src}->{dst} {rule} amount={amount} message_id={msgid!r}: "
                   f"the SMSC received no such relay")
    led = ledger.get(key, [])
    if amount > 0:
        want = "sms_over_allowance" if rule == "R10" else "sms_standard"
        if len(led) != 1 or led[0] != (want, amount, sub):
            bad.append(f"(c) usage {key} amount={amount} rule={rule}: ledger entries {led}")
    elif led:
        bad.append(f"(c) usage {key} free but charged: {led}")
# (d) balances
charged = collections.Counter()
for key, led in ledger.items():
    for kind, amount, sub in led:
        charged[sub] += amount
nprepaid_charged = 0
for line in open(f"{d}/balances.tsv"):
    msisdn, acct, initial, bal, cl, sid = line.rstrip("\n").split("\t")
    initial, bal, cl, sid = int(initial), int(bal), int(cl), int(sid)
    if bal != initial - charged[sid]:
        bad.append(f"(d) {msisdn} {acct}: balance {bal} != initial {initial} - charges {charged[sid]}")
    if acct == "prepaid":
        if bal < -cl:
            bad.append(f"(d) R17 {msisdn}: balance {bal} below credit limit {cl}")
        if charged[sid]:
            nprepaid_charged += 1
# (e) holds
holds = [l.rstrip("\n") for l in open(f"{d}/holds.tsv") if l.strip()]
for h in holds:
    bad.append(f"(e) sms_hold left: {h}")
# (f) an error answer is not a charge; a 0x66 refusal is not a relay
err_charged = lost_charged = 0
for i, st in resps.items():
    if all(s == 0 for s in st):
        continue
    src, dst = mo.get(i, ("?", "?"))
    keys = [k for m in mts.get(i, []) for k in usage_by_msgid.get(m[0], [])]
    if keys:
        err_charged += 1
        bad.append(f"(f) MO m{i} answered {st} but recorded as usage {keys}")
    if 0x66 in st and mts.get(i):
        bad.append(f"(f) MO m{i} refused ESME_RX_R_APPN but relayed {mts[i]}")
not_acked = set(mo) - set(acked)
for i in not_acked:
    if any(usage_by_msgid.get(m[0]) for m in mts.get(i, [])) and not resps.get(i):
        lost_charged += 1
dups = sum(1 for i in mts if len(mts[i]) > 1)
relayed_acked = sum(1 for i in acked if mts.get(i))
lost_relayed = sum(1 for i in lost | timeouts if mts.get(i))
print(f"mo_sent={len(mo)} acked={len(acked)} answered_0x64={status_count[0x64]} "
      f"answered_0x66={status_count[0x66]} other_errors="
      f"{sum(v for s, v in status_count.items() if s not in (0, 0x64, 0x66))} "
      f"lost_at_disconnect={len(lost)} timed_out={len(timeouts)} late={len(late)}")
print(f"relayed_acked={relayed_acked} relayed_distinct={len(mts)} duplicates_relayed={dups} "
      f"lost_but_relayed={lost_relayed} lost_but_charged={lost_charged} "
      f"usage_rows={len(usage)} charged_rows={sum(1 for u in usage.values() if u[3] > 0)} "
      f"ledger_sms={nledger} prepaid_payers={nprepaid_charged} holds_left={len(holds)} "
      f"link_changes={links}")
rules = collections.Counter(u[5] for u in usage.values())
print("usage_by_rule=" + ",".join(f"{r}:{n}" for r, n in sorted(rules.items())))
if len(acked) < 1000 or not rules.get("R10") or not rules.get("R11") or not status_count[0x66]:
    bad.append("the run did not exercise enough: want >= 1000 acknowledged MOs, R10 and R11 "
               "charges and R17 refusals")
if links < 7:
    bad.append(f"expected 4 binds and 3 disconnects in the event log, saw {links} link changes")
for b in bad[:40]:
    print("VIOLATION", b)
if len(bad) > 40:
    print(f"... and {len(bad) - 40} more violations")
sys.exit(1 if bad else 0)
PY
pass "3 x SIGKILL under load: every acknowledged MO relayed and recorded once; no charge without a relay (R9-R11, R16, R17)"
