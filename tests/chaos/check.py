#!/usr/bin/env python3
"""tests/chaos/check.py — one round of the fault suite: join smsc-sim's event
log (--log) with what the database recorded during the round and count.

  check.py DIR SHORT_CODE [--crash]

DIR holds events.log (the round's smsc-sim log) and the round's rows, dumped
by tests/chaos/lib.sh as TSV: usage.tsv (sms_usage), ledger_sms.tsv (sms_*
ledger entries), inbound.tsv (mo_inbound), replies.tsv (outbox rows caused
by an inbound). Prints one JSON object of counts on stdout, one line
"VIOLATION ..." per broken invariant on stderr, exits 1 if there is one.

An MO's outcome is the last of its events: `resp <id> 0` = acknowledged,
another status = answered with an error, `lost` / `timeout` = unanswered.
With --redeliver an id may have several attempts (`redeliver <id>`,
`retry <id> <status>`); its effect must still happen exactly once.

Invariants (each violation names the MO id):
  lost        an MO acknowledged 0 without its effect: a P2P MO not relayed
              or without a usage row; a command without its mo_inbound row
  duplicate   an MO relayed and recorded twice (two usage rows for one MO
              id), or a command recorded twice
  phantom     a usage row whose message_id is no relay the SMSC received
              (a charge without its event), or an sms charge without its
              usage row / a chargeable usage row without exactly one charge
  charged_err an MO whose only answers were errors, never lost in flight,
              yet relayed or charged

Not a violation, counted apart (crash_redelivered), and only with --crash
(a round in which dialogd was SIGKILLed): a P2P MO relayed exactly twice
whose first relay has no usage row, whose second relay has the MO's only
usage row, and which the simulator redelivered between the two relays.
That is the known residual of SMPP (docs/architecture.md, "The answer the
SMSC never read"): dialogd killed after the SMSC accepted the relay but
before it was recorded; the SMSC delivers the MO again and it is relayed
again -- the peer receives it twice, it is charged once. Any other shape
(two usage rows, two charges, a third relay, no redelivery between, or a
round without a crash) stays a duplicate.

Service replies (outbox rows, from dialogd's log: outbox_sent.tsv, the row
id and the number of SIGKILLs before its submission): a row submitted twice
is a duplicate (the subscriber got the reply twice), except with --crash when
each submission was made by a different run of dialogd (killed after the
SMSC accepted the reply, before the row was marked sent): counted apart as
crash_resent_replies, the same residual for a reply.
"""
import collections
import json
import re
import sys


def canon(n):
    return n[1:] if n.startswith("+") else n


def rows(path, ncol):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                p = line.split("\t")
                out.append(p + [""] * (ncol - len(p)))
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    crash_round = "--crash" in sys.argv[1:]
    d, short = args[0], args[1]
    mo = {}                                   # id -> (src, dst)
    seqs = collections.defaultdict(list)      # id -> [seq] of every attempt
    final = {}                                # id -> 'ok' | 'err' | 'unanswered'
    statuses = collections.defaultdict(list)
    in_flight_lost = set()                    # ids once lost / redelivered / timed out
    mts = collections.defaultdict(list)       # MO id -> [message_id]
    mt_by_msgid = {}
    counts = collections.Counter()
    invites = {}                              # MO id -> ('invite'|'accept', from, peer)
    attempts = collections.Counter()          # MO id -> deliver_sm sent (redeliveries, retries)
    cmd_src = {}                              # invite / accept MO id -> its sender
    mt_line = {}                              # message_id -> line number of its mt
    redeliver_lines = collections.defaultdict(list)  # MO id -> line numbers
    with open(f"{d}/events.log", encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            p = line.rstrip("\n").split(" ", 4)
            k = p[0]
            try:
                if k == "mo":
                    i = int(p[1])
                    if i not in mo:
                        mo[i] = (canon(p[2]), canon(p[3]))
                    if len(p) > 4:
                        seqs[i].append(p[4])
                    attempts[i] += 1
                elif k == "resp":
                    i, st = int(p[1]), int(p[2])
                    statuses[i].append(st)
                    final[i] = "ok" if st == 0 else "err"
                elif k in ("lost", "timeout"):
                    i = int(p[1])
                    final[i] = "unanswered"
                    in_flight_lost.add(i)
                    counts[k] += 1
                elif k == "redeliver":
                    in_flight_lost.add(int(p[1]))
                    redeliver_lines[int(p[1])].append(lineno)
                    attempts[int(p[1])] += 1
                    counts["redelivered"] += 1
                elif k == "retry":
                    counts["retried"] += 1
                    attempts[int(p[1])] += 1
                elif k == "late":
                    counts["late"] += 1
                elif k == "mt":
                    msgid, src, dst = p[1], canon(p[2]), canon(p[3])
                    text = p[4] if len(p) > 4 else ""
                    m = re.match(r"m(\d+) ", text)
                    mid = int(m.group(1)) if m and src != short else None
                    if mid is not None:
                        mts[mid].append(msgid)
                    mt_by_msgid[msgid] = (mid, src, dst)
                    mt_line[msgid] = lineno
                    counts["mt_service" if src == short else "mt_relayed"] += 1
                elif k in ("invite", "accept"):
                    q = line.split()
                    a, b = (canon(q[2]), canon(q[3]))
                    invites[int(q[1])] = (k, a, b)
                    attempts[int(q[1])] += 1
                    cmd_src[int(q[1])] = a
                elif k == "link":
                    counts["link_changes"] += 1
            except (IndexError, ValueError):
                counts["unparsed_lines"] += 1

    usage = {}                                # relay_key -> row
    usage_by_msgid = collections.defaultdict(list)
    for uid, key, src, dst, msgid, amount, sub, rule in rows(f"{d}/usage.tsv", 8):
        usage[key] = (src, dst, msgid, int(amount), int(sub), rule)
        usage_by_msgid[msgid].append(key)
    ledger = collections.defaultdict(list)
    for idem, kind, amount, sub in rows(f"{d}/ledger_sms.tsv", 4):
        ledger[idem[4:] if idem.startswith("sms:") else idem].append((kind, int(amount), int(sub)))
    inbound = collections.Counter()           # (src, dst, seq) -> rows
    inbound_by_pair = collections.Counter()
    for iid, src, dst, seq, kind in rows(f"{d}/inbound.tsv", 5):
        if kind == "command":
            inbound[(src, dst, seq)] += 1
            inbound_by_pair[(src, dst)] += 1
    replies = collections.Counter(r[0] for r in rows(f"{d}/replies.tsv", 2))
    # (src, dst, seq) dialogd answered 0 as a redelivery of a committed MO
    absorbed = set(tuple(r[:3]) for r in rows(f"{d}/absorbed.tsv", 3))

    v = collections.defaultdict(list)
    acked = [i for i in mo if final.get(i) == "ok"]
    err = [i for i in mo if final.get(i) == "err"]
    unanswered = [i for i in mo if final.get(i, "unanswered") == "unanswered"]
    relayed = dup = cmd_ok = absorbed_redelivery = 0
    crash_redelivered = []                    # the known residual (see the top)
    absorbed_repeat = []
    unclaimed = collections.Counter(inbound_by_pair)
    resent = []                               # acked commands sent more than once
    cmd_sent = collections.Counter()
    for i in mo:
        if mo[i][1] == short:
            cmd_sent[mo[i]] += max(1, attempts[i])
    for i, a in cmd_src.items():
        cmd_sent[(a, short)] += max(1, attempts[i])
    for i in acked:
        src, dst = mo[i]
        if dst == short:                      # a command: its inbound row
            hit = [s for s in seqs[i] if inbound.get((src, dst, s))]
            if hit:
                cmd_ok += 1
                unclaimed[(src, dst)] -= 1
            elif attempts[i] > len(seqs[i]):
                resent.append(i)              # retried: its seq is not in the log
            elif any((src, dst, s) in absorbed for s in seqs[i]):
                if i in in_flight_lost:
                    absorbed_redelivery += 1
                else:
                    # a new MO identical to one committed just before a link
                    # loss or crash, taken for its redelivery (ack.c: the
                    # documented price of recognising redeliveries)
                    absorbed_repeat.append(f"command m{i} {src}->{dst} seq {seqs[i]}")
            else:
                v["lost"].append(f"command m{i} {src}->{dst} acknowledged 0, not recorded")
            continue
        got = [m for m in mts.get(i, []) if mt_by_msgid[m][1] == src and mt_by_msgid[m][2] == dst]
        keys = [k for m in got for k in usage_by_msgid.get(m, [])]
        if not got:
            if any((src, dst, s) in absorbed for s in seqs[i]) and i not in in_flight_lost:
                absorbed_repeat.append(f"m{i} {src}->{dst} seq {seqs[i]}")
            else:
                v["lost"].append(f"m{i} {src}->{dst} acknowledged 0 but never relayed")
            continue
        relayed += 1
        if (crash_round and len(got) == 2 and len(keys) == 1
                and not usage_by_msgid.get(got[0]) and len(usage_by_msgid.get(got[1], [])) == 1
                and any(mt_line[got[0]] < ln < mt_line[got[1]] for ln in redeliver_lines[i])):
            crash_redelivered.append(f"m{i} {src}->{dst} relayed 2x (message ids {got[0]}, "
                                     f"{got[1]}), first relay unrecorded, one usage row "
                                     f"{keys[0]}, redelivered by the SMSC in between")
        elif len(got) > 1 and len(keys) <= 1:
            dup += 1
            v["duplicate"].append(f"m{i} {src}->{dst} relayed {len(got)}x (the peer got it "
                                  f"{len(got)} times), {len(keys)} usage row(s) "
                                  f"(attempts: {attempts[i]}, statuses {statuses[i]})")
        if not keys:
            v["lost"].append(f"m{i} {src}->{dst} acknowledged 0, relayed, no usage row")
        elif len(keys) > 1:
            dup += 1
            v["duplicate"].append(f"m{i} {src}->{dst} relayed {len(got)}x, {len(keys)} usage rows "
                                  f"{keys} (attempts: {len(seqs[i])}, statuses {statuses[i]})")
    # a resent command (retry, redelivery) has its row among the pair's rows
    # that no first attempt claimed
    for i in resent:
        src, dst = mo[i]
        if unclaimed[(src, dst)] > 0:
            unclaimed[(src, dst)] -= 1
            cmd_ok += 1
        elif (src, dst) in set((a, b) for a, b, _ in absorbed):
            absorbed_redelivery += 1
        else:
            v["lost"].append(f"command m{i} {src}->{dst} acknowledged 0 after "
                             f"{attempts[i]} attempts, not recorded")
    # P2P MOs never acknowledged 0 but recorded twice are duplicates too
    for i in err + unanswered:
        keys = [k for m in mts.get(i, []) for k in usage_by_msgid.get(m, [])]
        if len(keys) > 1:
            dup += 1
            v["duplicate"].append(f"m{i} (not acknowledged) has {len(keys)} usage rows {keys}")
        elif keys and i not in in_flight_lost and i in err:
            v["charged_err"].append(f"m{i} answered {statuses[i]} only, yet recorded as {keys}")
    # commands recorded more often than they were delivered
    for pair, n in inbound_by_pair.items():
        if n > cmd_sent.get(pair, 0):
            v["duplicate"].append(f"command {pair[0]}->{pair[1]}: {n} inbound rows for "
                                  f"{cmd_sent.get(pair, 0)} deliveries")
    # service replies submitted more than once
    crash_resent = []
    sent = collections.defaultdict(list)
    try:
        for oid, run in rows(f"{d}/outbox_sent.tsv", 2):
            sent[oid].append(run)
    except FileNotFoundError:
        pass
    for oid, runs in sorted(sent.items()):
        if len(runs) < 2:
            continue
        if crash_round and len(set(runs)) == len(runs):
            crash_resent.append(f"outbox row {oid} submitted {len(runs)}x, each by another "
                                f"run of dialogd (SIGKILLs before: {runs})")
        else:
            v["duplicate"].append(f"reply: outbox row {oid} submitted {len(runs)}x "
                                  f"(the subscriber got it {len(runs)} times; SIGKILLs "
                                  f"before each: {runs})")
    # usage <-> relay <-> charge
    for key, (src, dst, msgid, amount, sub, rule) in usage.items():
        mt = mt_by_msgid.get(msgid)
        if not msgid or not mt or mt[1] != src or mt[2] != dst:
            v["phantom"].append(f"usage {key} {src}->{dst} message_id={msgid!r}: no such relay")
        led = ledger.get(key, [])
        if amount > 0:
            want = "sms_over_allowance" if rule == "R10" else "sms_standard"
            if len(led) != 1 or led[0] != (want, amount, sub):
                v["phantom"].append(f"usage {key} amount={amount} {rule}: ledger {led}")
        elif led:
            v["phantom"].append(f"usage {key} free but charged {led}")
    for key in ledger:
        if key not in usage:
            v["phantom"].append(f"sms charge {key} {ledger[key]} without a usage row")
    # invitations: an acknowledged invite made exactly one dialog of the
    # pair, an acknowledged accept activated it
    dialogs = collections.defaultdict(list)
    for a, b, state, activated in rows(f"{d}/dialogs.tsv", 4):
        dialogs[tuple(sorted((a, b)))].append((state, activated == "1"))
    inv_ok = acc_ok = 0
    for i, (k, a, b) in invites.items():
        if final.get(i) != "ok":
            continue
        got = dialogs.get(tuple(sorted((a, b))), [])
        if len(got) > 1:
            v["duplicate"].append(f"{k} m{i} {a}/{b}: {len(got)} dialogs {got}")
        elif not got:
            v["lost"].append(f"{k} m{i} {a}->{b} acknowledged 0, no dialog")
        elif k == "accept" and not got[0][1]:
            v["lost"].append(f"accept m{i} {a}->{b} acknowledged 0, dialog not activated {got}")
        else:
            inv_ok += k == "invite"
            acc_ok += k == "accept"
    lost_but_charged = sum(1 for i in unanswered
                           if any(usage_by_msgid.get(m) for m in mts.get(i, [])))
    st = collections.Counter(s for i in err for s in statuses[i][-1:])
    out = {
        "mo_sent": len(mo),
        "acked_0": len(acked),
        "acked_error": len(err),
        "error_statuses": {hex(s): n for s, n in sorted(st.items())},
        "unanswered": len(unanswered),
        "lost": len(v["lost"]),
        "relayed": relayed,
        "commands_recorded": cmd_ok,
        "usage_rows": len(usage),
        "charged_rows": sum(1 for u in usage.values() if u[3] > 0),
        "duplicates": dup + sum(1 for x in v["duplicate"] if x.startswith(("command", "reply"))),
        "crash_redelivered": len(crash_redelivered),
        "crash_resent_replies": len(crash_resent),
        "phantom": len(v["phantom"]),
        "charged_err": len(v["charged_err"]),
        "unanswered_but_relayed": lost_but_charged,
        "replies": sum(replies.values()),
        "absorbed_redeliveries": absorbed_redelivery,
        "absorbed_repeats": len(absorbed_repeat),
        "invites_acked": sum(1 for i, x in invites.items() if x[0] == "invite" and final.get(i) == "ok"),
        "accepts_acked": sum(1 for i, x in invites.items() if x[0] == "accept" and final.get(i) == "ok"),
        "dialogs_opened": inv_ok,
        "dialogs_activated": acc_ok,
        "rules": dict(sorted(collections.Counter(u[5] for u in usage.values()).items())),
    }
    out.update(counts)
    print(json.dumps(out, sort_keys=True))
    for x in absorbed_repeat:
        print(f"NOTE absorbed repeat: {x}", file=sys.stderr)
    for x in crash_redelivered:
        print(f"NOTE crash redelivered (delivered twice, charged once): {x}", file=sys.stderr)
    for x in crash_resent:
        print(f"NOTE crash resent reply: {x}", file=sys.stderr)
    n = 0
    for kind in ("lost", "duplicate", "phantom", "charged_err"):
        for x in v[kind][:15]:
            print(f"VIOLATION {kind}: {x}", file=sys.stderr)
        if len(v[kind]) > 15:
            print(f"VIOLATION {kind}: ... and {len(v[kind]) - 15} more", file=sys.stderr)
        n += len(v[kind])
    return 1 if n else 0


if __name__ == "__main__":
    sys.exit(main())
