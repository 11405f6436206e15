#!/usr/bin/env bash
# Issue 8: the catalogue of hostile input (docs/hostile-input.md). Each row
# below is one bad input and the answer it must get; the test plays them all
# and asserts each answer:
#   1. PDUs from the SMSC that dialogd's decoder meets (malformed deliver_sm
#      of every kind, bad framing, unknown and unsolicited PDUs, a bind from
#      the SMSC, a deliver_sm before the bind): the exact status or close,
#      and after each one a good MO is still answered (dialogd keeps serving);
#   2. SMS content: bad numbers in an invite (R2), junk encodings, 8 KB
#      payloads, SQL and printf metacharacters in commands and in relayed
#      P2P text (R11: relayed byte-identical, tables intact), unknown
#      commands (the catalogue's help text);
#   3. dialogctl arguments: SQL metacharacters, junk ids, dates and amounts,
#      10 KB arguments: exit 2/4 with a precise message and nothing written;
#   4. the SMSC side: smsc-sim fed malformed PDUs, a second bind (RALYBND),
#      requests before a bind, a flood of 200 binds and of wrong passwords
#      stays up and still serves dialogd.
# t_hostile_pdus.sh already covers 100 TLVs, command_length 2^31, a
# truncated PDU followed by a drop, and command id 0x1ff; not repeated here.
source "$(dirname "$0")/lib.sh"
new_db
A=79161234567 B=79167654321 D=79160000003
provision_basic $A $B $D

# ---- PDU building blocks (hex) ----------------------------------------------
hx() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }   # ASCII -> hex
# pdu CMD_ID SEQ BODY_HEX [LEN]: header + body; LEN overrides command_length
pdu() { printf '%08x%s00000000%s%s' "${4:-$((16 + ${#3} / 2))}" "$1" "$2" "$3"; }
DELIVER=00000005
SRC_A="0101$(hx $A)00"                  # TON 1 NPI 1 79161234567
DST_SC="0001$(hx 6249)00"               # TON 0 NPI 1 6249
MID="000000000000000000"                # esm pid prio sched valid regdel replace dcs default_msg_id
# body: service_type, src, dst, then esm..sm_default_msg_id, sm_length, sm
body() { printf '00%s%s%s%s' "$SRC_A" "$DST_SC" "$MID" "$1"; }
SEQ0=2147483392                         # 0x7fffff00: far from the simulator's own

# ---- 1. PDU catalogue: "raw HEX" rows with the expected answer --------------
# kind: resp STATUS  -> a deliver_sm_resp with that status (expect-resp)
#       nack STATUS  -> a generic_nack with that status (checked in the transcript)
#       close        -> dialogd closes the link (framing) and binds again
#       none         -> no answer at all (unsolicited responses, alert_notification)
#       rebind       -> dialogd answers unbind_resp, closes and binds again
# name|kind|expected|hex
rows=()
row() { rows+=("$1|$2|$3|$4"); }
seqhex() { printf '%08x' $((SEQ0 + $1)); }
# framing
row cmdlen_below_16      close -        "$(pdu $DELIVER "$(seqhex 1)" "" 12)"
row cmdlen_above_max     close -        "$(pdu $DELIVER "$(seqhex 2)" "" 8193)"
big_tlv=$(head -c 10240 /dev/zero | tr '\0' 'A' | od -An -v -tx1 | tr -d ' \n')
row payload_10k_over_max close -        "$(pdu $DELIVER "$(seqhex 3)" "$(body 00)0424$(printf %04x 10240)$big_tlv")"
# deliver_sm bodies the decoder refuses, each with its SMPP status
row body_truncated       resp 0x02      "$(pdu $DELIVER "$(seqhex 4)" "00${SRC_A}${DST_SC}0000")"
row service_type_no_nul  resp 0x15      "$(pdu $DELIVER "$(seqhex 5)" "$(hx ABCDEFGH)")"
row source_no_nul        resp 0x0a      "$(pdu $DELIVER "$(seqhex 6)" "000101$(hx 7916123456712345678901)")"
row dest_no_nul          resp 0x0b      "$(pdu $DELIVER "$(seqhex 7)" "00${SRC_A}0001$(hx 624)")"
row sm_length_past_body  resp 0x01      "$(pdu $DELIVER "$(seqhex 8)" "$(body ff)$(hx HELP)")"
row tlv_len_past_body    resp 0xc0      "$(pdu $DELIVER "$(seqhex 9)" "$(body 00)04240100$(hx HELP)")"
row tlv_header_cut       resp 0xc0      "$(pdu $DELIVER "$(seqhex 10)" "$(body 04)$(hx HELP)0424")"
row payload_twice        resp 0xc1      "$(pdu $DELIVER "$(seqhex 11)" "$(body 04)$(hx HELP)04240004$(hx HELP)")"
row message_state_len2   resp 0xc2      "$(pdu $DELIVER "$(seqhex 12)" "$(body 00)042700020002")"
row schedule_time_5char  resp 0x61      "$(pdu $DELIVER "$(seqhex 13)" "00${SRC_A}${DST_SC}000000$(hx 12345)00000000000000")"
# decoded, refused by the engine (daemon.c)
row udh_past_text        resp 0x43      "$(pdu $DELIVER "$(seqhex 14)" "00${SRC_A}${DST_SC}40${MID:2}03050003")"
row source_not_a_number  resp 0x0a      "$(pdu $DELIVER "$(seqhex 15)" "000101$(hx 'ab c=1;--')00${DST_SC}${MID}04$(hx HELP)")"
# requests dialogd does not serve, from the SMSC
row submit_sm_from_smsc  nack ESME_RINVCMDID "$(pdu 00000004 "$(seqhex 16)" "$(body 04)$(hx HELP)")"
row bind_on_bound_link   nack ESME_RINVCMDID "$(pdu 00000009 "$(seqhex 17)" "$(hx dialog)00$(hx secret)000034000000")"
row data_sm_from_smsc    nack ESME_RINVCMDID "$(pdu 00000103 "$(seqhex 18)" "00${SRC_A}${DST_SC}000000")"
row unknown_cmd_id       nack ESME_RINVCMDID "$(pdu 7fffffff "$(seqhex 19)" "")"
# responses nobody asked for, and a PDU that takes no answer: ignored
row submit_resp_unsolicited  none - "$(pdu 80000004 "$(seqhex 20)" "$(hx 42)00")"
row bind_resp_unsolicited    none - "$(pdu 80000009 "$(seqhex 21)" "$(hx SMSC)00")"
row data_sm_resp_unsolicited none - "$(pdu 80000103 "$(seqhex 22)" "00")"
row generic_nack_unsolicited none - "$(pdu 80000000 "$(seqhex 23)" "")"
row alert_notification       none - "$(pdu 00000102 "$(seqhex 24)" "0101$(hx $A)000101$(hx $B)00")"
# the SMSC unbinds: answered, the link is bound again
row unbind_from_smsc     rebind -       "$(pdu 00000006 "$(seqhex 25)" "")"

good_mo() { # a good MO is still answered after each row (each text differs:
  # an identical MO soon after a lost link may be taken for a redelivery)
  printf 'mo %s 6249 HELP %s\nexpect-resp 0\nexpect-mt %s 10000ms Справка: 0611$\n' $A "$1" $A
}
binds=1
{
  echo "# generated by t_hostile_catalogue.sh: the PDU catalogue"
  echo "wait-bind 10000"
  for r in "${rows[@]}"; do
    IFS='|' read -r name kind want hex <<<"$r"
    echo "echo row $name"
    echo "raw $hex"
    case $kind in
      resp) echo "expect-resp $want 5000" ;;
      nack) echo "expect-generic-nack 5000" ;;
      close) binds=$((binds + 1)); printf 'expect-disconnect 5000\nexpect-bind-count %d 15000\n' $binds ;;
      rebind) binds=$((binds + 1)); printf 'expect-bind-count %d 15000\n' $binds ;;
      none) echo "wait 300" ;;
    esac
    good_mo "$name"
  done
} >"$T_DIR/hostile_pdus.sim"

# ---- 2. SMS content catalogue ------------------------------------------------
# Requests to the short code: "mo"/"mo-hex" lines and the reply they get.
SQLI="'; DROP TABLE ledger; --"
FMT='100% \\ $1 %s%n %x'                  # script escape: \\ is one backslash
FMT_RAW='100% \ $1 %s%n %x'
digits8k=$(head -c 8000 /dev/zero | tr '\0' '7')
p8k=$(pdu $DELIVER "$(seqhex 40)" "$(body 00)0424$(printf %04x 8000)$(hx "$digits8k")")
cat >"$T_DIR/hostile_sms.sim" <<EOF
# generated by t_hostile_catalogue.sh: the SMS content catalogue
wait-bind 10000
echo R2: letters in a number are no number: the help text
mo $A 6249 7916abc4567
expect-resp 0
expect-mt $A 10000ms Справка: 0611$
echo R2: too short
mo $A 6249 12345
expect-resp 0
expect-mt $A 10000ms ^Не удалось распознать номер "12345"\. Номер пишут так
echo R2: 8000 digits in message_payload: refused, quoted cut to 20 characters
raw $p8k
expect-resp 0
expect-mt $A 10000ms ^Не удалось распознать номер "77777777777777777777"\.
echo R2: a foreign number
mo $A 6249 +1 212 555 0100
expect-resp 0
expect-mt $A 10000ms ^Не удалось распознать номер "\+1 212 555 0100"\.
echo R1: a Russian number of no subscriber
mo $A 6249 8 800 555-35-35
expect-resp 0
expect-mt $A 10000ms ^Номер \+78005553535 не обслуживается в нашей сети
echo R2: STOP with a bad number
mo $A 6249 STOP 12345
expect-resp 0
expect-mt $A 10000ms ^Не удалось распознать номер "12345"\. Номер пишут так
echo unknown commands: the help text
mo $A 6249 STOPP
expect-resp 0
expect-mt $A 10000ms Справка: 0611$
mo $A 6249 STOP please
expect-resp 0
expect-mt $A 10000ms Справка: 0611$
echo empty text: the help text
mo-hex $A 6249 0 0
expect-resp 0
expect-mt $A 10000ms Справка: 0611$
echo UCS-2 junk: lone surrogates, NUL, U+FFFE, odd trailing octet
mo-hex $A 6249 8 0 D800 0041 DC00 0000 FFFE D83D 31
expect-resp 0
expect-mt $A 10000ms Справка: 0611$
echo GSM junk: octets above 0x7f, trailing escape
mo-hex $A 6249 0 0 00 80 FF 1B
expect-resp 0
expect-mt $A 10000ms Справка: 0611$
echo Latin-1 with a NUL, binary data coding
mo-hex $A 6249 3 0 53 00 54 4F 50
expect-resp 0
expect-mt $A 10000ms Справка: 0611$
mo-hex $A 6249 4 0 00 01 02 03 FF FE 27 3B
expect-resp 0
expect-mt $A 10000ms Справка: 0611$
echo SQL and printf metacharacters in a command
mo $A 6249 $SQLI
expect-resp 0
expect-mt $A 10000ms Справка: 0611$
mo $A 6249 $FMT
expect-resp 0
expect-mt $A 10000ms Справка: 0611$
echo R2: a valid number written with spaces and dashes invites (R4, R5)
mo $A 6249 +7 916 765-43-21
expect-resp 0
expect-mt $B 10000ms приглашает
expect-mt $A 10000ms ^Приглашение в SMS-диалог отправлено на \+79167654321
echo R11: metacharacters in relayed P2P text arrive byte-identical
mo $A $B $SQLI
expect-resp 0
expect-mt $B 10000ms ^'; DROP TABLE ledger; --$
mo $A $B $FMT
expect-resp 0
expect-mt $B 10000ms ^100% \\\\ \\\$1 %s%n %x$
mo $B $A Привет'); DELETE FROM subscriber; --
expect-resp 0
expect-mt $A 10000ms ^Привет'\); DELETE FROM subscriber; --$
echo R11: UCS-2 junk relayed as it is
mo-hex $A $B 8 0 D800 0041 0000
expect-resp 0
expect-mt $B 10000ms
echo D8: a P2P message from a number that is no subscriber is refused
mo 79990000001 $B hello
expect-resp ESME_RX_R_APPN
expect-no-mt 500
EOF
# (in the heredoc above \\\\ is \\ and \\\$ is \$: the ERE ^100% \\ \$1 ...)

cat "$T_DIR/hostile_pdus.sim" "$T_DIR/hostile_sms.sim" | grep -v '^wait-bind 10000$' \
  | sed '1i wait-bind 10000' >"$T_DIR/hostile_all.sim"
start_sim "$T_DIR/hostile_all.sim"
write_config "[log]" "level = debug"
start_dialogd
wait_sim
kill -0 "$DLG_PID" 2>/dev/null || fail "dialogd died"

# each nack row got a generic_nack with its exact status, and no other row did
for r in "${rows[@]}"; do
  IFS='|' read -r name kind want hex <<<"$r"
  seq=$((16#${hex:24:8}))
  n=$(grep -c "^GENERIC_NACK seq=$seq status=" "$T_DIR/sim.out" || true)
  case $kind in
    nack) grep -q "^GENERIC_NACK seq=$seq status=$want " "$T_DIR/sim.out" \
            || fail "$name: no generic_nack $want for seq $seq" ;;
    *) [[ $n == 0 ]] || fail "$name: answered with generic_nack" ;;
  esac
done
# the decoder's refusals and the framing errors are logged by dialogd
grep -q 'event=bad_framing .*status=ESME_RINVCMDLEN' "$T_DIR/dialogd.log" || fail "bad_framing not logged"
grep -q 'event=deliver_malformed .*status=ESME_RINVOPTPARSTREAM' "$T_DIR/dialogd.log" || fail "deliver_malformed not logged"
grep -q 'event=late_response .*command=submit_sm_resp' "$T_DIR/dialogd.log" || fail "unsolicited submit_sm_resp not logged"
grep -q 'event=unexpected_pdu .*command=bind_transceiver_resp' "$T_DIR/dialogd.log" || fail "unsolicited bind_resp not logged"
grep -q 'event=unbind_by_smsc' "$T_DIR/dialogd.log" || fail "unbind from the SMSC not logged"
grep -q 'event=bad_source .*src="ab c=1;--" answer=' "$T_DIR/dialogd.log" || fail "bad source not logged quoted"

# byte-identical relays: the transcript line of each MT is exact
for want in "MT $A -> $B [gsm, 1 part]: $SQLI" "MT $A -> $B [gsm, 1 part]: $FMT_RAW" \
            "MT $B -> $A [ucs2, 1 part]: Привет'); DELETE FROM subscriber; --"; do
  grep -qxF -- "$want" "$T_DIR/sim.out" || fail "relay not byte-identical: $want"
done
# the tables are intact; the texts were stored as they came (parameters, not SQL)
[[ $(sql "SELECT count(*) FROM ledger WHERE rule = 'R11' AND amount = 150") == 4 ]] \
  || fail "R11 charges: $(sql 'SELECT msisdn, amount, rule FROM ledger')"
[[ $(sql "SELECT count(*) FROM subscriber") == 3 ]] || fail "subscribers changed"
[[ $(sql "SELECT count(*) FROM mo_inbound WHERE text = \$q\$$SQLI\$q\$ AND kind = 'command'") == 1 ]] \
  || fail "SQL text not stored verbatim"
[[ $(sql "SELECT count(*) FROM mo_inbound WHERE text = \$q\$$FMT_RAW\$q\$") == 1 ]] \
  || fail "printf text not stored verbatim"
# junk UCS-2 is stored with U+FFFD, never a NUL or a lone surrogate
[[ $(sql "SELECT text FROM mo_inbound WHERE payload = '\\xd8000041dc000000fffed83d31'::bytea") == $'\uFFFDA\uFFFD\uFFFD\uFFFE\uFFFD\uFFFD' ]] \
  || fail "UCS-2 junk stored as: $(sql "SELECT text FROM mo_inbound WHERE data_coding = 8 AND kind = 'command'")"
# the 8000-digit payload was stored whole
[[ $(sql "SELECT length(text) FROM mo_inbound WHERE kind = 'command' AND command = 'bad_number' ORDER BY length(text) DESC LIMIT 1") == 8000 ]] \
  || fail "8000 digits not stored"
stop_dialogd || fail "dialogd did not exit 0"
echo "part 1-2: ${#rows[@]} PDU rows and the SMS content rows passed"

# ---- 1b. a deliver_sm before the bind is answered: a fake SMSC --------------
# smsc-sim answers binds at once, so a small SMSC in Python holds the
# bind_resp back, sends a deliver_sm first and checks the answer.
cat >"$T_DIR/prebind.py" <<'PY'
import socket, struct, sys
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
open(sys.argv[1] + ".tmp", "w").write(str(srv.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.settimeout(20)
c, _ = srv.accept(); c.settimeout(10)
def read_pdu():
    h = b""
    while len(h) < 16:
        b = c.recv(16 - len(h))
        if not b: raise SystemExit("closed")
        h += b
    ln, cid, st, seq = struct.unpack(">IIII", h)
    body = b""
    while len(body) < ln - 16:
        body += c.recv(ln - 16 - len(body))
    return cid, st, seq, body
def send(cid, seq, body=b"", st=0):
    c.sendall(struct.pack(">IIII", 16 + len(body), cid, st, seq) + body)
cid, st, bseq, body = read_pdu()
assert cid == 0x00000009, hex(cid)           # bind_transceiver
sm = (b"\0" + b"\x01\x01" + b"79161234567\0" + b"\x00\x01" + b"6249\0" + b"\0" * 9 + b"\x04HELP")
send(0x00000005, 0x7FFFFFF0, sm)              # deliver_sm before the bind_resp
cid, st, seq, _ = read_pdu()
assert (cid, seq, st) == (0x80000005, 0x7FFFFFF0, 0x04), (hex(cid), hex(seq), hex(st))
print("prebind deliver_sm -> deliver_sm_resp ESME_RINVBNDSTS")
send(0x80000009, bseq, b"SMSC\0")             # now bind it
send(0x00000015, 0x7FFFFFF1)                  # enquire_link: the link serves
cid, st, seq, _ = read_pdu()
assert (cid, seq, st) == (0x80000015, 0x7FFFFFF1, 0), (hex(cid), hex(seq), hex(st))
print("enquire_link answered after the bind")
PY
rm -f "$T_DIR/prebind.port"
python3 "$T_DIR/prebind.py" "$T_DIR/prebind.port" >"$T_DIR/prebind.out" 2>&1 &
PY_PID=$!
wait_for 10 test -s "$T_DIR/prebind.port" || fail "fake SMSC did not start"
SIM_PORT=$(cat "$T_DIR/prebind.port")
write_config
start_dialogd
rc=0; wait "$PY_PID" || rc=$?
[[ $rc == 0 ]] || { cat "$T_DIR/prebind.out"; fail "deliver_sm before bind: not answered ESME_RINVBNDSTS"; }
kill -0 "$DLG_PID" 2>/dev/null || fail "dialogd died after a deliver_sm before its bind"
stop_dialogd || fail "dialogd did not exit 0"
echo "part 1b: deliver_sm before bind passed"

# ---- 3. dialogctl arguments ----------------------------------------------------
unset DIALOG_CONFIG
C="$DIALOGCTL"
"$C" subscriber add 79160000010 --region MOW --tariff BASIC --prepaid --balance 0 >/dev/null
# every table's rows, hashed: a refused command must leave them all unchanged
db_digest() {
  local t
  for t in $(sql "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"); do
    echo "$t $(sql "SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM \"$t\" x")"
  done
}
db_digest >"$T_DIR/digest.before"
BIG=$(head -c 10240 /dev/zero | tr '\0' 7)
BIGA=$(head -c 10240 /dev/zero | tr '\0' A)
# cli EXIT REGEX ARGS...: exit code and the one-line message (from interfaces.md)
ncli=0
cli() {
  local want=$1 pat=$2; shift 2
  expect_exit "$want" "$C" "$@"
  grep -Eq -- "^dialogctl: .*$pat" "$T_DIR/last.err" || { head -c 400 "$T_DIR/last.err"; fail "message /$pat/ for: ${*:1:3}"; }
  [[ ! -s "$T_DIR/last.out" ]] || fail "refused command printed on stdout: ${*:1:3}"
  ncli=$((ncli + 1))
}
SQLI="'; DROP TABLE ledger; --"
cli 2 'is not a valid number \(R2' subscriber add "1;DROP TABLE ledger" --region MOW --tariff BASIC --postpaid
cli 2 "\"' OR '1'='1\" is not a valid number" subscriber show "' OR '1'='1"
cli 2 '"%" is not a valid number' subscriber show '%'
cli 2 '"\$1" is not a valid number' subscriber block '$1'
cli 2 '"\\" is not a valid number' dialog list --msisdn '\'
cli 2 'is not a valid number' subscriber add "$BIG" --region MOW --tariff BASIC --postpaid
cli 2 'is not a valid number' account credit "+7 916 $SQLI" 100 --ref r1
cli 4 "region MOW'; DROP TABLE ledger; -- not found" subscriber add 79160000011 --region "MOW$SQLI" --tariff BASIC --postpaid
cli 4 'tariff % not found' subscriber add 79160000011 --region MOW --tariff '%' --postpaid
cli 2 'must not contain spaces or control characters' tariff add "X$SQLI" --sms-price 1
cli 2 'tariff code must be 1 to 64 characters' tariff add "$BIGA" --sms-price 1
cli 2 'region code must be 1 to 64 characters' region add "$BIGA" --tz Europe/Moscow
cli 2 '--contract must be 1 to 255 bytes' subscriber add 79160000011 --region MOW --tariff BASIC --postpaid --contract "$BIGA"
cli 2 "unknown time zone \"Europe/Moscow'; --\"" region add KGD --tz "Europe/Moscow'; --"
cli 2 'unknown time zone "\.\./\.\./\.\./etc/passwd"' region add KGD --tz ../../../etc/passwd
cli 2 "--from: \"2026-01-01$SQLI\" is not a date" charges list $A --from "2026-01-01$SQLI"
cli 2 '--to: "\$1" is not a date' charges list $A --to '$1'
cli 2 '--date: "2026-02-30" is not a date' explain $A --date 2026-02-30
cli 2 '--date: "%" is not a date' explain $A --date '%'
cli 2 'is not a date' explain $A --date "$BIGA"
cli 2 'is not a date' bill daily --date "2026-01-01; DROP"
cli 2 '"1;DROP" is not a dialog id' dialog show "1;DROP"
cli 2 '"-1" is not a dialog id' dialog show -1
cli 2 '"0" is not a dialog id' dialog show 0
cli 2 '"99999999999999999999" is not a dialog id' dialog show 99999999999999999999
cli 2 'is not a dialog id' dialog show "$BIG"
cli 4 'dialog 9223372036854775807 not found' dialog show 9223372036854775807
cli 2 "--state: unknown state \"active' OR 1=1 --\"" dialog list --state "active' OR 1=1 --"
cli 2 "\"1;DROP\" is not a ledger entry id" --agent x charge refund "1;DROP" --reason x
cli 4 "ledger entry 999999 not found" --agent "$SQLI" charge refund 999999 --reason "$SQLI"
cli 2 '-100: amounts must not be negative' account credit 79160000010 -100 --ref r1
cli 2 '99999999999999999999 is too large' account credit 79160000010 99999999999999999999 --ref r1
cli 2 '"1e3" is not an amount in kopecks' account credit 79160000010 1e3 --ref r1
cli 2 '"0x10" is not an amount in kopecks' account credit 79160000010 0x10 --ref r1
cli 2 'is too large' account credit 79160000010 "$BIG" --ref r1
cli 2 '"1;DROP" is not a batch id' bill export --out "$T_DIR/x.csv" --reexport "1;DROP"
cli 2 "unknown command '$SQLI'" "$SQLI"
cli 2 'option --foo;DROP needs a value' subscriber show $A --"foo;DROP"
db_digest >"$T_DIR/digest.after"
diff "$T_DIR/digest.before" "$T_DIR/digest.after" || fail "a refused dialogctl command wrote to the database"
[[ ! -e "$T_DIR/x.csv" ]] || fail "a refused export wrote its file"

# accepted input with metacharacters is data, stored verbatim (parameters, not SQL)
expect_exit 0 "$C" tariff add '$1' --sms-price 1
[[ $(sql "SELECT sms_price FROM tariff WHERE code = '\$1'") == 1 ]] || fail "tariff \$1"
expect_exit 0 "$C" account credit 79160000010 100 --ref "$SQLI"
[[ $(sql "SELECT count(*) FROM account_credit WHERE ref = \$q\$$SQLI\$q\$ AND amount = 100") == 1 ]] || fail "credit ref verbatim"
E=$(sql "SELECT id FROM ledger WHERE rule = 'R11' ORDER BY id LIMIT 1")
expect_exit 0 "$C" --agent "o'brien\"; --" charge refund "$E" --reason "$SQLI %s%n"
[[ $(sql "SELECT count(*) FROM ledger WHERE refund_of = $E AND detail = \$q\$$SQLI %s%n\$q\$") == 1 ]] || fail "refund reason verbatim"
[[ $(sql "SELECT agent FROM audit WHERE action = 'charge refund'") == "o'brien\"; --" ]] || fail "agent verbatim"
[[ $(sql "SELECT count(*) FROM ledger") == 5 ]] || fail "ledger rows: $(sql 'SELECT id, kind, amount FROM ledger')"
echo "part 3: $ncli refused dialogctl commands wrote nothing"

# ---- 4. the SMSC side: smsc-sim under hostile ESMEs ----------------------------
# The script waits for a receiver bind (the floods below bind as transmitters
# only), then dialogd binds and a good MO is served.
cat >"$T_DIR/sim_side.sim" <<EOF
wait-bind 60000
mo $A 6249 HELP
expect-resp 0
expect-mt $A 10000ms Справка: 0611$
EOF
start_sim "$T_DIR/sim_side.sim"
cat >"$T_DIR/esme.py" <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1])
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=10); return s
def pdu(cid, seq, body=b"", ln=None, st=0):
    return struct.pack(">IIII", ln if ln is not None else 16 + len(body), cid, st, seq) + body
def bind_body(sid=b"dialog", pw=b"secret"):
    return sid + b"\0" + pw + b"\0" + b"\0" + b"\x34\x00\x00\x00"
def read_pdu(s):
    h = b""
    while len(h) < 16:
        b = s.recv(16 - len(h))
        if not b: return None
        h += b
    ln, cid, st, seq = struct.unpack(">IIII", h)
    body = b""
    while len(body) < ln - 16:
        b = s.recv(ln - 16 - len(body))
        if not b: return None
        body += b
    return cid, st, seq
def closed(s):
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        return isinstance(sys.exc_info()[1], ConnectionResetError)
def expect(s, want, what):
    got = read_pdu(s)
    assert got == want, "%s: got %r, want %r" % (what, got and tuple(hex(x) for x in got), tuple(hex(x) for x in want))
    print("ok", what)
BT, BTR = 0x00000002, 0x80000002
# bind flood: 200 connections bind at once, all answered ROK
socks = [conn() for _ in range(200)]
for i, s in enumerate(socks): s.sendall(pdu(BT, i + 1, bind_body()))
for i, s in enumerate(socks): assert read_pdu(s) == (BTR, 0, i + 1), i
print("ok 200 simultaneous binds answered ESME_ROK")
for s in socks: s.close()
# wrong credentials, 60 times: same length, other lengths, too long, wrong system_id
cases = [(b"dialog", b"secreT", 0x0E), (b"dialog", b"s", 0x0E), (b"dialog", b"secret12", 0x0E),
         (b"dialog", b"", 0x0E), (b"dialog", b"secret123", 0x0E), (b"dialoG", b"secret", 0x0F)]
for k in range(60):
    sid, pw, st = cases[k % len(cases)]
    s = conn(); s.sendall(pdu(BT, 7, bind_body(sid, pw)))
    assert read_pdu(s) == (BTR, st, 7), (sid, pw)
    assert closed(s), "a refused bind must close"
    s.close()
print("ok 60 wrong credentials refused (RINVPASWD / RINVSYSID) and closed")
# before a bind: requests answered ESME_RINVBNDSTS, unknown ids generic_nack
s = conn()
s.sendall(pdu(0x00000004, 11, b"\0" * 20)); expect(s, (0x80000004, 0x04, 11), "submit_sm before bind -> RINVBNDSTS")
s.sendall(pdu(0x00000003, 12, b"1\0\0\0\0")); expect(s, (0x80000003, 0x04, 12), "query_sm before bind -> RINVBNDSTS")
s.sendall(pdu(0x00000006, 13)); expect(s, (0x80000006, 0x04, 13), "unbind before bind -> RINVBNDSTS")
s.sendall(pdu(0x7FFFFFFF, 14)); expect(s, (0x80000000, 0x03, 14), "unknown command id -> generic_nack RINVCMDID")
s.sendall(pdu(0x00000015, 15)); expect(s, (0x80000015, 0, 15), "enquire_link before bind -> ROK")
s.sendall(pdu(0x80000004, 16, b"1\0")); s.sendall(pdu(0x00000015, 17))  # a stray response: ignored
expect(s, (0x80000015, 0, 17), "a stray response before bind is ignored")
# bound: a second bind is ESME_RALYBND and the link stays up
s.sendall(pdu(BT, 20, bind_body())); expect(s, (BTR, 0, 20), "bind_transmitter")
s.sendall(pdu(BT, 21, bind_body())); expect(s, (BTR, 0x05, 21), "second bind -> RALYBND")
s.sendall(pdu(0x00000001, 22, bind_body())); expect(s, (0x80000001, 0x05, 22), "bind_receiver on a bound link -> RALYBND")
# malformed submit_sm from a bound transmitter: the decoder's status
src = b"\0\x01\x01" + b"79161234567\0" + b"\x01\x01" + b"79167654321\0" + b"\0" * 9
s.sendall(pdu(0x00000004, 23, src + b"\xffHI")); expect(s, (0x80000004, 0x01, 23), "submit_sm sm_length past body -> RINVMSGLEN")
s.sendall(pdu(0x00000004, 24, src + b"\x00\x04\x24\x01\x00")); expect(s, (0x80000004, 0xC0, 24), "submit_sm TLV past body -> RINVOPTPARSTREAM")
s.sendall(pdu(0x00000004, 25, b"ABCDEFGH")); expect(s, (0x80000004, 0x15, 25), "submit_sm service_type without NUL -> RINVSERTYP")
s.sendall(pdu(0x00000015, 26)); expect(s, (0x80000015, 0, 26), "still serving")
s.close()
# framing: command_length below 16, above 8192, 2^31: closed; a body cut short, then gone
for ln in (8, 8193, 0x80000000):
    s = conn(); s.sendall(pdu(0x00000015, 30, b"", ln))
    assert closed(s), ln; s.close()
print("ok bad command_length closes the connection")
s = conn(); s.sendall(pdu(BT, 31, bind_body(), 200)[:40]); s.close()
s = conn(); s.sendall(pdu(BT, 32, b"dialog")); expect(s, (BTR, 0x0F, 32), "bind with system_id without NUL -> RINVSYSID")
s.close()
PY
python3 "$T_DIR/esme.py" "$SIM_PORT" >"$T_DIR/esme.out" 2>&1 || { cat "$T_DIR/esme.out"; tail -5 "$T_DIR/sim.err"; fail "smsc-sim answered a hostile ESME wrongly"; }
kill -0 "$SIM_PID" 2>/dev/null || fail "smsc-sim died under hostile ESMEs"
# every refused bind is one log line with its result
[[ $(grep -c 'type=transmitter system_id=[a-z]* result=ESME_RINVPASWD' "$T_DIR/sim.err") == 50 ]] || fail "RINVPASWD log lines"
[[ $(grep -c "result=ESME_RINVSYSID" "$T_DIR/sim.err") == 11 ]] || fail "RINVSYSID log lines"
grep -q 'framing_error' "$T_DIR/sim.err" || fail "framing_error not logged"
# the password never appears in the simulator's log either
! grep -q 'secret' "$T_DIR/sim.err" || fail "smsc-sim logged the password"
# and the simulator still serves dialogd
write_config
start_dialogd
wait_sim
stop_dialogd || fail "dialogd did not exit 0"
echo "part 4: smsc-sim under hostile ESMEs passed"
pass "${#rows[@]} PDU rows, SMS content rows, $ncli dialogctl rows, the SMSC side"
