#!/usr/bin/env bash
# replay --from/--to: every position kind selects exactly the right quotes
# (checked against the fixture itself, not only against export); --symbols;
# bad input: unknown or impossible positions, from after to, empty
# selections, bad options, a missing, foreign or corrupt tape.
. "$(dirname "$0")/replay_common.bash"
make_spy_tape
DB=$T/spy.db
FIX=$QT_FIXTURES/spy-30m.jsonl
R() { "$QT" replay -q --db "$DB" --speed max --stdout "$@"; }
# seqs of the fixture's quotes with event time ns, for expected ranges
"$QT" export --db "$DB" --format csv | awk -F, 'NR > 1 { print $1, $4 }' > "$T/tns"
T0=$(head -1 "$T/tns" | cut -d' ' -f2)
# first seq whose event time >= $1 ns (N+1 if none)
first_at() { awk -v t="$1" '$2 >= t { print $1; found = 1; exit } END { if (!found) print NR + 1 }' "$T/tns"; }
lines() { if [ "$1" -lt "$2" ]; then sed -n "$1,$(($2 - 1))p" "$FIX"; fi; }
ns_of() { echo $(( $(date -u -d "$1" +%s) * 1000000000 )); }

# ---- every position kind -------------------------------------------------
check_file "whole tape = fixture" <(R) "$FIX"
check_file "beginning..end = fixture" <(R --from beginning --to end) "$FIX"
check_file "seq:100..seq:200" <(R --from seq:100 --to seq:200) <(lines 100 200)
check "seq:100..seq:200 count" "$(R --from seq:100 --to seq:200 | wc -l)" 100
check_file "seq:14000..end" <(R --from seq:14000) <(lines 14000 14066)
check_file "seq past the end as --to" <(R --from seq:14060 --to seq:99999) <(lines 14060 14066)
A=$(ns_of 2026-03-02T14:31:00Z); B=$(ns_of 2026-03-02T14:31:03Z)
check_file "RFC 3339 times" <(R --from 2026-03-02T14:31:00Z --to 2026-03-02T14:31:03Z) \
    <(lines "$(first_at "$A")" "$(first_at "$B")")
A2=$((A + 250000000))
check_file "RFC 3339 with fraction and offset" \
    <(R --from 2026-03-02T09:31:00.25-05:00 --to 2026-03-02T14:31:03Z) \
    <(lines "$(first_at "$A2")" "$(first_at "$B")")
check_file "+DUR relative to the first quote" <(R --from +90s --to +2m) \
    <(lines "$(first_at $((T0 + 90000000000)))" "$(first_at $((T0 + 120000000000)))")
check_file "+DUR with a fraction" <(R --from +1.5m --to +100500ms) \
    <(lines "$(first_at $((T0 + 90000000000)))" "$(first_at $((T0 + 100500000000)))")
check_file "mixed kinds: seq to time" <(R --from seq:50 --to +10s) \
    <(lines 50 "$(first_at $((T0 + 10000000000)))")
check_file "replay --stdout = export for the same range" \
    <(R --from +5m --to +6m) <("$QT" export --db "$DB" --from +5m --to +6m)
S=$(first_at $((T0 + 60000000000)))
check "the selection starts at the first quote at or after the time" \
    "$(R --from +60s | head -1)" "$(sed -n "${S}p" "$FIX")"

# ---- --symbols on a two-symbol tape --------------------------------------
"$QT" import -q "$FIX" "$QT_FIXTURES/fakepaca.jsonl" --db "$T/two.db" || fail "import two"
NF=$("$QT" export --db "$T/two.db" --symbols FAKEPACA | wc -l)
check_file "--symbols FAKEPACA" <("$QT" replay -q --db "$T/two.db" --symbols FAKEPACA --speed max --stdout) \
    <("$QT" export --db "$T/two.db" | grep '"S":"FAKEPACA"')
check "--symbols FAKEPACA count" "$("$QT" replay -q --db "$T/two.db" --symbols FAKEPACA --speed max --stdout | wc -l)" "$NF"
check "--symbols SPY,FAKEPACA = all" \
    "$("$QT" replay -q --db "$T/two.db" --symbols SPY,FAKEPACA --speed max --stdout | wc -l)" \
    "$("$QT" export --db "$T/two.db" | wc -l)"
check_file "+DUR is relative to the selected symbol's first quote" \
    <("$QT" replay -q --db "$T/two.db" --symbols FAKEPACA --from +60s --to +2m --speed max --stdout) \
    <("$QT" export --db "$T/two.db" --symbols FAKEPACA --from +60s --to +2m)
CHECKS=$((CHECKS + 1))
[ "$("$QT" replay -q --db "$T/two.db" --symbols FAKEPACA --from +60s --to +2m --speed max --stdout | wc -l)" -gt 0 ] ||
    fail "FAKEPACA +60s..+2m is empty"

# ---- bad input ---------------------------------------------------------------
# expect_err "what" exit-code "stderr text" args...
expect_err() {
    local what=$1 code=$2 text=$3; shift 3
    "$QT" replay "$@" > "$T/out" 2> "$T/err"
    local rc=$?
    CHECKS=$((CHECKS + 1))
    [ "$rc" -eq "$code" ] || fail "$what: exit $rc, want $code ($(cat "$T/err"))"
    grep -qF -- "$text" "$T/err" || fail "$what: stderr lacks '$text': $(cat "$T/err")"
    [ ! -s "$T/out" ] || fail "$what: wrote to stdout"
}
expect_err "unknown position" 65 "unknown position 'yesterday'" --db "$DB" --stdout --from yesterday
expect_err "seq:0" 65 "a sequence number is a whole number from 1" --db "$DB" --stdout --from seq:0
expect_err "bad time" 65 "position '2026-13-02T00:00:00Z'" --db "$DB" --stdout --to 2026-13-02T00:00:00Z
expect_err "bad duration" 65 "position '+5parsecs'" --db "$DB" --stdout --from +5parsecs
expect_err "offset on a tape" 65 "offset:N is a Kafka position" --db "$DB" --stdout --from offset:5
expect_err "from after to" 65 "--from seq:500 is after --to seq:100" --db "$DB" --stdout --from seq:500 --to seq:100
expect_err "time from after to" 65 "is after --to" --db "$DB" --stdout --from +10m --to +5m
expect_err "empty range" 65 "nothing to replay" --db "$DB" --stdout --from seq:10 --to seq:10
expect_err "from end" 65 "nothing to replay" --db "$DB" --stdout --from end
expect_err "time after the tape" 65 "nothing to replay" --db "$DB" --stdout --from 2030-01-01T00:00:00Z
expect_err "unknown symbol" 65 "nothing to replay: no quotes of the selected symbols" --db "$DB" --stdout --symbols QQQ
expect_err "no sink" 64 "give exactly one sink" --db "$DB"
expect_err "two sinks" 64 "give exactly one sink" --db "$DB" --stdout --topic x -b 127.0.0.1:1
expect_err "no source" 64 "give exactly one source" --stdout
expect_err "two sources" 64 "give exactly one source" --db "$DB" --from-topic t --stdout
expect_err "bad speed" 64 "--speed takes" --db "$DB" --stdout --speed fast
expect_err "zero speed" 64 "--speed takes" --db "$DB" --stdout --speed 0
expect_err "bad max-gap" 64 "--max-gap takes" --db "$DB" --stdout --max-gap forever
expect_err "bad loop" 64 "--loop takes" --db "$DB" --stdout --loop=0
expect_err "bad pace-by" 64 "--pace-by takes" --db "$DB" --stdout --pace-by tick
expect_err "bad timestamps" 64 "--timestamps takes" --db "$DB" --stdout --timestamps local
expect_err "pace-by recv on a topic" 64 "--pace-by recv needs a tape" --from-topic t --stdout --pace-by recv
expect_err "bad symbols" 64 "--symbols takes" --db "$DB" --stdout --symbols SPY,,QQQ
expect_err "missing tape" 66 "cannot open tape '$T/nope.db'" --db "$T/nope.db" --stdout
echo "not a database" > "$T/text.db"
expect_err "foreign file" 65 "is not a tape" --db "$T/text.db" --stdout
cp "$DB" "$T/corrupt.db"
dd if=/dev/urandom of="$T/corrupt.db" bs=4096 seek=300 count=50 conv=notrunc 2>/dev/null
# a corrupt page is found when the replay reaches it: what came before it is
# out (exactly the tape's first quotes), then a clear error and the resume point
"$QT" replay --db "$T/corrupt.db" --stdout --speed max > "$T/out" 2> "$T/err"
check "corrupt tape: exit code" "$?" 65
grep -q "tape '$T/corrupt.db' is corrupt" "$T/err" || fail "corrupt tape: $(cat "$T/err")"
n=$(wc -l < "$T/out")
check_file "corrupt tape: the quotes before the damage" "$T/out" <(head -n "$n" "$FIX")
check "corrupt tape: resume after them" "$(sed -n 's/^quotetape: resume with: --from //p' "$T/err")" "seq:$((n + 1))"
cp "$DB" "$T/short.db"; truncate -s 1000000 "$T/short.db"
expect_err "truncated tape" 65 "is corrupt" --db "$T/short.db" --stdout --speed max

# ---- progress line on a terminal (script(1) gives stderr a pty) ------------
script -qec "'$QT' replay --db '$DB' --from +60s --to +75s --speed 20 --stdout > '$T/tty.out'" /dev/null > "$T/tty.err"
grep -aq $'\r\033\[Kseq:[0-9]*  sent [0-9]*  [0-9]*/s  late [0-9]*  p99 [0-9.]*[um]s  ETA [0-9]' "$T/tty.err" ||
    fail "no progress line on a terminal: $(od -c "$T/tty.err" | head -5)"
check_file "progress goes to stderr only" "$T/tty.out" <("$QT" export --db "$DB" --from +60s --to +75s)
script -qec "'$QT' replay -q --db '$DB' --from +60s --to +75s --speed 20 --stdout > /dev/null" /dev/null > "$T/tty.err"
check "-q: no progress line" "$(wc -c < "$T/tty.err")" 0
"$QT" replay --db "$DB" --from +60s --to +75s --speed 20 --stdout 2> "$T/notty.err" > /dev/null
check "no terminal: no progress line" "$(grep -c $'\r' "$T/notty.err")" 0

# ---- --loop without a count runs until stopped (here: by a closed pipe) ---
"$QT" replay -q --db "$DB" --loop --speed max --stdout 2> /dev/null | head -n 30000 > "$T/loop.out"
check_file "--loop: the tape again and again" "$T/loop.out" <(cat "$FIX" "$FIX" "$FIX" | head -n 30000)

"$QT" replay --help > "$T/help" || fail "--help exit"
for w in --db --from-topic --symbols --from --to --speed --max-gap --loop --pace-by --timestamps --topic --stdout example; do
    grep -q -- "$w" "$T/help" || fail "--help lacks $w"
done
CHECKS=$((CHECKS + 1))
done_tests
