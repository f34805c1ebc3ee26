#!/usr/bin/env bash
# replay: the SPY fixture into the embedded broker at max speed and at 20x,
# consumed back with kcat and qt_consume: count, order, keys, values equal to
# `quotetape export`; Kafka timestamps for --timestamps original|shift|wall;
# --loop keeps event time increasing.
. "$(dirname "$0")/replay_common.bash"
start_broker
make_spy_tape
DB=$T/spy.db
N=$($QT export --db "$DB" | wc -l)
check "fixture size" "$N" 14065

# ---- max speed, whole tape, timestamps original --------------------------
$QT replay -q --db "$DB" --speed max -b "$BOOT" --topic full || fail "replay max exit $?"
msgs_of "$DB" > "$T/want.val"
event_ms_of "$DB" > "$T/want.ts"
kcat -C -b "$BOOT" -t full -e -q -f '%k\t%T\t%s\n' > "$T/kcat.tsv" || fail "kcat"
"$QT_BIN/qt_consume" -b "$BOOT" -t full > "$T/own.tsv" 2>/dev/null || fail "qt_consume"
check "kcat count" "$(wc -l < "$T/kcat.tsv")" "$N"
check_file "kcat values = export, in order" <(cut -f3 "$T/kcat.tsv") "$T/want.val"
check "kcat keys all SPY" "$(cut -f1 "$T/kcat.tsv" | sort -u)" "SPY"
check_file "kcat timestamps = event ms" <(cut -f2 "$T/kcat.tsv") "$T/want.ts"
check_file "own consumer = kcat" "$T/own.tsv" "$T/kcat.tsv"

# ---- 20x over one minute of tape, pacing by receive time -----------------
SEL=(--from +60s --to +120s)
msgs_of "$DB" "${SEL[@]}" > "$T/sel.val"
NS=$(wc -l < "$T/sel.val")
start=$(date +%s%N)
$QT replay -v --db "$DB" "${SEL[@]}" --speed 20 -b "$BOOT" --topic x20 2> "$T/x20.err" ||
    fail "replay 20x exit $?"
el_ms=$(( ($(date +%s%N) - start) / 1000000 ))
# one minute at 20x is 3 s (first to last receive time, a little less)
CHECKS=$((CHECKS + 1))
if [ "$el_ms" -lt 2800 ] || [ "$el_ms" -gt 4500 ]; then fail "20x took ${el_ms} ms, want ~3000"; fi
grep -q "replayed: sent $NS, delivered $NS, failed 0" "$T/x20.err" || fail "20x summary: $(cat "$T/x20.err")"
# sends were rehearsed while spinning and between naps (warm()),
# librdkafka refused every rehearsal and queued none, and the topic holds
# exactly the selection (checked below)
CHECKS=$((CHECKS + 1))
grep -Eq "pacing: [1-9][0-9]* sends rehearsed, [1-9][0-9]* while spinning and [1-9][0-9]* between naps" "$T/x20.err" &&
    grep -Eq "kafka: [1-9][0-9]* rehearsed sends refused as meant, 0 queued" "$T/x20.err" ||
    fail "20x rehearsals: $(grep -E 'rehears' "$T/x20.err")"
kcat -C -b "$BOOT" -t x20 -e -q -f '%k\t%T\t%s\n' > "$T/x20.tsv"
check_file "20x values = export" <(cut -f3 "$T/x20.tsv") "$T/sel.val"
check_file "20x timestamps = event ms" <(cut -f2 "$T/x20.tsv") <(event_ms_of "$DB" "${SEL[@]}")
"$QT_BIN/qt_consume" -b "$BOOT" -t x20 > "$T/x20own.tsv" 2>/dev/null
check_file "20x own consumer = kcat" "$T/x20own.tsv" "$T/x20.tsv"

# ---- --timestamps shift: first quote is now, spacing kept ----------------
SEL2=(--from +300s --to +310s)
before=$(($(date +%s%N) / 1000000))
$QT replay -q --db "$DB" "${SEL2[@]}" --speed max --timestamps shift -b "$BOOT" --topic shift ||
    fail "replay shift exit $?"
after=$(($(date +%s%N) / 1000000))
kcat -C -b "$BOOT" -t shift -e -q -f '%T\n' > "$T/shift.ts"
event_ms_of "$DB" "${SEL2[@]}" > "$T/shift.orig"
check "shift count" "$(wc -l < "$T/shift.ts")" "$(wc -l < "$T/shift.orig")"
first=$(head -1 "$T/shift.ts")
CHECKS=$((CHECKS + 1))
if [ "$first" -lt "$before" ] || [ "$first" -gt "$after" ]; then
    fail "shift: first timestamp $first not within [$before, $after]"
fi
bad=$(paste "$T/shift.ts" "$T/shift.orig" | awk 'NR == 1 { s0 = $1; o0 = $2 }
    { d = ($1 - s0) - ($2 - o0); if (d < -1 || d > 1) n++ } END { print n + 0 }')
check "shift keeps spacing (within 1 ms rounding)" "$bad" 0

# ---- --timestamps wall: the send time -----------------------------------
before=$(($(date +%s%N) / 1000000))
$QT replay -q --db "$DB" "${SEL2[@]}" --speed 10 --timestamps wall -b "$BOOT" --topic wall ||
    fail "replay wall exit $?"
after=$(($(date +%s%N) / 1000000))
kcat -C -b "$BOOT" -t wall -e -q -f '%T\n' > "$T/wall.ts"
bad=$(awk -v b="$before" -v a="$after" '$1 < b || $1 > a || $1 < prev { n++ } { prev = $1 }
    END { print n + 0 }' "$T/wall.ts")
check "wall timestamps within the run and non-decreasing" "$bad" 0
span=$(( $(tail -1 "$T/wall.ts") - $(head -1 "$T/wall.ts") ))
CHECKS=$((CHECKS + 1))
# 10 s of tape at 10x: about 1 s between first and last send
if [ "$span" -lt 800 ] || [ "$span" -gt 1500 ]; then fail "wall span $span ms, want ~1000"; fi

# ---- --loop 3: three passes, event time keeps increasing -----------------
$QT replay -q --db "$DB" --from seq:1 --to seq:51 --speed max --loop 3 -b "$BOOT" --topic loop ||
    fail "replay loop exit $?"
kcat -C -b "$BOOT" -t loop -e -q -f '%T\t%s\n' > "$T/loop.tsv"
check "loop count" "$(wc -l < "$T/loop.tsv")" 150
check_file "loop values = 3 x export" <(cut -f2 "$T/loop.tsv") \
    <(for i in 1 2 3; do msgs_of "$DB" --from seq:1 --to seq:51; done)
bad=$(cut -f1 "$T/loop.tsv" | awk 'NR > 1 && $1 < prev { n++ } { prev = $1 } END { print n + 0 }')
check "loop timestamps never go back" "$bad" 0
p2=$(sed -n 51p "$T/loop.tsv" | cut -f1); p1=$(sed -n 50p "$T/loop.tsv" | cut -f1)
CHECKS=$((CHECKS + 1))
[ $((p2 - p1)) -ge 1000 ] || fail "second pass starts $((p2 - p1)) ms after the first ends, want >= 1000"

done_tests
