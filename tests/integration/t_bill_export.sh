#!/usr/bin/env bash
# dialogctl bill export (R18): each ledger entry is handed over exactly once,
# as the CSV documented in docs/billing-export.md; a second export with
# nothing new writes the header only and creates no batch; --reexport
# reproduces a batch byte for byte; two exports at once hand out disjoint
# entries that together cover the ledger; entries added later go to the next
# batch; an unwritable --out marks nothing exported (exit 2); a batch whose
# file cannot be put in place is named for --reexport (exit 5); unknown batch
# exit 4. The CSV parses with python3's csv module and its amounts sum to
# the ledger's.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bill_lib.sh"
new_db
bill_setup
A=79161000021 B=79161000022 P=79161000023 Q=79161000024
sub $A MOW --postpaid
sub $B MOW --postpaid --contract 'ACME, "Ltd"'
sub $P MOW --prepaid --balance 100000
sub $Q VVO --postpaid
for m in $A $B $P $Q; do first_act $m '2026-10-01 12:00+03'; done
D1=$(activate $A $B '2026-11-20 12:00+03')
D2=$(activate $P $Q '2026-11-20 12:00+03')
bill '2026-11-23T00:05:00+03:00'
bill '2026-11-24T00:05:00+03:00'
# a refund (negative amount, refund_of) and a charge without a dialog
REF_OF=$(sql "SELECT min(id) FROM ledger WHERE msisdn = '$A'")
expect_exit 0 env DIALOG_NOW='2026-11-24T09:00:00+03:00' "$C" --agent sup charge refund "$REF_OF" \
  --reason 'billing error, "goodwill"'
sql "INSERT INTO ledger (subscriber_id, msisdn, kind, amount, bill_date, created_at, idem_key, rule, detail)
     SELECT id, msisdn, 'operator_fee', 4500, '2026-11-24', '2026-11-24 10:00:00.5+03', 'op:1,x', 'R15', 'line1
line2' FROM subscriber WHERE msisdn = '$Q'" >/dev/null
N1=$(sql "SELECT count(*) FROM ledger")
(( N1 >= 9 )) || fail "setup: only $N1 ledger entries"

# --- R18: the first export takes every entry; the CSV is as documented -----------
OUT="$T_DIR/out"; mkdir -p "$OUT"
expect_exit 0 "$C" --json --agent exporter bill export --out "$OUT/b1.csv"
python3 - "$T_DIR/last.out" "$N1" "$(sql 'SELECT sum(amount) FROM ledger')" <<'EOF' || fail "R18 export --json"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["batch"] == 1 and j["entries"] == int(sys.argv[2]), j
assert j["amount_total"] == int(sys.argv[3]) and j["file"].endswith("b1.csv"), j
EOF
expect_sql "SELECT count(*) FROM ledger_export WHERE batch_id = 1" "$N1" "R18 every entry marked"
expect_sql "SELECT agent || ' ' || entries FROM export_batch" "exporter $N1" "batch row"
[[ -z $(ls -A "$OUT" | grep -v '^b1.csv$' || true) ]] || fail "temporary files left: $(ls -A "$OUT")"

# The file: CRLF lines, UTF-8, header, one row per entry in id order, amounts
# and every column equal to the ledger's (compared with psql's own view).
sql "SELECT l.id, l.msisdn, s.contract, l.kind, l.amount, 'RUB', l.bill_date,
            coalesce(l.dialog_id::text, ''),
            to_char(l.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
            l.idem_key, coalesce(l.rule, ''), coalesce(l.refund_of::text, ''), 1
       FROM ledger l JOIN subscriber s ON s.id = l.subscriber_id ORDER BY l.id" \
  | python3 -c 'import sys, json; print(json.dumps([l.split("|") for l in sys.stdin.read().split("\n") if l]))' \
  >"$T_DIR/expect.json"
python3 - "$OUT/b1.csv" "$T_DIR/expect.json" "$(sql 'SELECT sum(amount) FROM ledger')" <<'EOF' || fail "R18 CSV content"
import csv, io, json, sys
raw = open(sys.argv[1], "rb").read()
raw.decode("utf-8")
assert raw.endswith(b"\r\n"), "CRLF at the end"
assert b"\n" not in raw.replace(b"\r\n", b""), "a bare LF"
rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
hdr = ["entry_id", "msisdn", "contract", "kind", "amount_kop", "currency", "bill_date", "dialog_id",
       "created_at", "idem_key", "rule", "refund_of", "batch_id"]
assert rows[0] == hdr, rows[0]
want = json.load(open(sys.argv[2]))
assert len(rows) - 1 == len(want), (len(rows), len(want))
for got, exp in zip(rows[1:], want):
    assert got == exp, (got, exp)
assert sum(int(r[4]) for r in rows[1:]) == int(sys.argv[3]), "amounts sum equals SQL sum"
ids = [int(r[0]) for r in rows[1:]]
assert ids == sorted(ids), "ORDER BY entry id"
assert any(r[2] == 'ACME, "Ltd"' for r in rows[1:]), "quoted contract round-trips"
assert any(r[9] == "op:1,x" and r[7] == "" for r in rows[1:]), "idem_key with comma, no dialog"
assert any(r[3] == "refund" and int(r[4]) < 0 and r[11] for r in rows[1:]), "refund row"
assert b'"ACME, ""Ltd"""' in raw, "RFC 4180 quote doubling"
EOF

# --- nothing new: header only, no batch, "no new entries" --------------------------
expect_exit 0 "$C" bill export --out "$OUT/b2.csv"
expect_grep "no new entries"
[[ $(cat "$OUT/b2.csv") == "$(printf 'entry_id,msisdn,contract,kind,amount_kop,currency,bill_date,dialog_id,created_at,idem_key,rule,refund_of,batch_id\r')" ]] \
  || fail "R18 second export not header only: $(od -c "$OUT/b2.csv" | head)"
expect_sql "SELECT count(*) FROM export_batch" 1 "no batch for nothing"
expect_exit 0 "$C" --json bill export --out "$OUT/b2.csv"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["batch"] is None and j["entries"] == 0, j' \
  "$T_DIR/last.out" || fail "json of an empty export"

# --- --reexport: the same bytes, whatever the session settings -----------------------
expect_exit 0 env PGDATESTYLE='SQL, DMY' PGTZ=America/New_York LC_ALL=C.UTF-8 "$C" bill export \
  --reexport 1 --out "$OUT/b1-again.csv"
cmp "$OUT/b1.csv" "$OUT/b1-again.csv" || fail "R18 re-export differs"
expect_sql "SELECT count(*) FROM export_batch" 1 "re-export creates no batch"
expect_exit 4 "$C" bill export --reexport 99 --out "$OUT/x.csv"
expect_grep "batch 99 not found"
[[ ! -e "$OUT/x.csv" ]] || fail "unknown batch wrote a file"
expect_exit 2 "$C" bill export --reexport abc --out "$OUT/x.csv"
expect_exit 2 "$C" bill export
expect_exit 2 "$C" bill export --out "$OUT/"

# --- entries added after a batch go to the next one --------------------------------
bill '2026-11-25T00:05:00+03:00'
N2=$(sql "SELECT count(*) FROM ledger l WHERE NOT EXISTS (SELECT 1 FROM ledger_export e WHERE e.entry_id = l.id)")
(( N2 > 0 )) || fail "setup: the 25th charged nothing"

# an unwritable path: exit 2, nothing marked exported
expect_exit 2 "$C" bill export --out "$T_DIR/no/such/dir/b3.csv"
expect_grep "cannot write"
expect_sql "SELECT count(*) FROM export_batch" 1 "unwritable --out created a batch"
expect_sql "SELECT count(*) FROM ledger_export" "$N1" "unwritable --out marked entries"

expect_exit 0 "$C" --json bill export --out "$OUT/b3.csv"
python3 - "$T_DIR/last.out" "$OUT/b3.csv" "$N2" <<'EOF' || fail "next batch"
import csv, json, sys
j = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2], newline="", encoding="utf-8")))
assert j["batch"] == 2 and j["entries"] == int(sys.argv[3]) == len(rows), (j, len(rows))
assert all(r["batch_id"] == "2" for r in rows)
assert all(r["bill_date"] == "2026-11-25" for r in rows), "only the new entries"
EOF
expect_sql "SELECT count(*) FROM ledger_export" "$(sql 'SELECT count(*) FROM ledger')" "every entry exported once"

# --- the file cannot be put in place after the commit: exit 5, batch named ----------
bill '2026-11-26T00:05:00+03:00'
mkdir -p "$OUT/isdir/sub"
expect_exit 5 "$C" bill export --out "$OUT/isdir"
expect_grep "batch 3 .*--reexport 3"
expect_sql "SELECT count(*) FROM ledger_export WHERE batch_id = 3" "$(sql "SELECT count(*) FROM ledger WHERE bill_date = '2026-11-26'")"
[[ -z $(ls -A "$OUT" | grep '^\.' || true) ]] || fail "temporary file left after a failed rename"
expect_exit 0 "$C" bill export --reexport 3 --out "$OUT/b4.csv"
[[ $(($(wc -l <"$OUT/b4.csv") - 1)) == $(sql "SELECT entries FROM export_batch WHERE id = 3") ]] || fail "re-export of batch 3"

# --- exports at once, while entries keep arriving: disjoint, together everything --------
for day in 27 28 29 30; do bill "2026-11-${day}T00:05:00+03:00"; done
inserter() {
  local k
  for k in $(seq 1 15); do
    sql "INSERT INTO ledger (subscriber_id, msisdn, kind, amount, bill_date, idem_key, rule)
         SELECT s.id, s.msisdn, 'sms_standard', 150, '2026-11-30', 'bulk:$k:' || g, 'R11'
           FROM subscriber s, generate_series(1, 200) g WHERE s.msisdn = '$A'" >/dev/null
  done
  touch "$T_DIR/ins.done"
}
exporter() { # export again and again until the inserter is done
  local i=$1 k=0
  while [[ ! -e "$T_DIR/ins.done" ]] && ((k < 300)); do
    k=$((k + 1))
    "$C" --json bill export --out "$OUT/c$i-$k.csv" >"$T_DIR/c$i-$k.json" 2>"$T_DIR/c$i-$k.err" || return 1
  done
}
inserter & pids=($!)
for i in 1 2 3; do exporter $i & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent export failed: $(cat "$T_DIR"/c*.err)"; done
expect_exit 0 "$C" bill export --out "$OUT/final.csv"
python3 - "$OUT" <<'EOF2' >"$T_DIR/conc.txt" || fail "R18 concurrent exports"
import csv, glob, os, sys
batches, seen = set(), []
for f in glob.glob(os.path.join(sys.argv[1], "c*-*.csv")):
    rows = list(csv.DictReader(open(f, newline="")))
    seen += [r["entry_id"] for r in rows]
    b = {r["batch_id"] for r in rows}
    assert len(b) <= 1, (f, b)
    assert not (b & batches), "a batch written twice"
    batches |= b
assert len(seen) == len(set(seen)), "an entry handed out twice"
print(len(seen), len(batches))
EOF2
read -r got nb <"$T_DIR/conc.txt"
(( got >= 1000 && nb >= 4 )) || fail "R18 concurrency not exercised: $got entries in $nb batches"
expect_sql "SELECT count(*) FROM ledger l WHERE NOT EXISTS (SELECT 1 FROM ledger_export e WHERE e.entry_id = l.id)" 0
# all files together are the ledger, each entry exactly once
cat "$OUT"/b1.csv "$OUT"/b3.csv "$OUT"/b4.csv "$OUT"/c*-*.csv "$OUT"/final.csv | python3 -c '
import csv, sys
ids = [r[0] for r in csv.reader(sys.stdin) if r and r[0] != "entry_id"]
print(len(ids), len(set(ids)))' >"$T_DIR/all.txt"
[[ $(cat "$T_DIR/all.txt") == "$(sql 'SELECT count(*) FROM ledger') $(sql 'SELECT count(*) FROM ledger')" ]] \
  || fail "R18 exactly once over all files: $(cat "$T_DIR/all.txt")"
pass "R18"
