#!/usr/bin/env bash
# replay --from-topic: a Kafka topic as the source. Whole topic, offset and
# time positions (found by reading timestamps: the embedded broker cannot look
# offsets up by time), --symbols, stdout, pacing, SIGINT + resume with
# offset:N, several partitions merged by event time, and bad input.
. "$(dirname "$0")/replay_common.bash"
"$QT" broker -q --topic src:1 --topic dst:1 --topic part:1 --topic res:1 --topic multi:3 \
    --topic multiout:1 --bootstrap-file "$T/boot" \
    > /dev/null 2> "$T/broker.err" &
BROKER_PID=$!
for _ in $(seq 1 100); do [ -s "$T/boot" ] && break; sleep 0.1; done
BOOT=$(cat "$T/boot")
make_spy_tape
DB=$T/spy.db
"$QT" replay -q --db "$DB" --speed max -b "$BOOT" --topic src || fail "fill src"
TR() { "$QT" replay -q --from-topic src -b "$BOOT" "$@"; }

# ---- whole topic into another topic ----------------------------------------
TR --speed max --topic dst || fail "topic -> topic exit $?"
kcat -C -b "$BOOT" -t dst -e -q -f '%k\t%T\t%s\n' > "$T/dst.tsv"
check "topic -> topic count" "$(wc -l < "$T/dst.tsv")" 14065
check_file "topic -> topic values = export" <(cut -f3 "$T/dst.tsv") <(msgs_of "$DB")
check_file "topic -> topic timestamps = event ms" <(cut -f2 "$T/dst.tsv") <(event_ms_of "$DB")
check "topic -> topic keys" "$(cut -f1 "$T/dst.tsv" | sort -u)" SPY

# ---- positions ----------------------------------------------------------------
wrap() { sed 's/^/{"msg":/; s/$/}/'; }
check_file "offset:100..offset:200 = seq:101..seq:201" \
    <(TR --from offset:100 --to offset:200 --speed max --stdout) \
    <(msgs_of "$DB" --from seq:101 --to seq:201 | wrap)
check_file "RFC 3339 times" \
    <(TR --from 2026-03-02T14:31:00Z --to 2026-03-02T14:32:00Z --speed max --stdout) \
    <(msgs_of "$DB" --from 2026-03-02T14:31:00Z --to 2026-03-02T14:32:00Z | wrap)
# +DUR counts from the earliest message timestamp (ms)
"$QT" export --db "$DB" --format csv | awk -F, 'NR > 1 { print $1, substr($4, 1, length($4) - 6) }' > "$T/ms"
M0=$(head -1 "$T/ms" | cut -d' ' -f2)
a=$(awk -v t=$((M0 + 60000)) '$2 >= t { print $1; exit }' "$T/ms")
b=$(awk -v t=$((M0 + 90000)) '$2 >= t { print $1; exit }' "$T/ms")
check_file "+60s..+90s" <(TR --from +60s --to +90s --speed max --stdout) \
    <(msgs_of "$DB" --from "seq:$a" --to "seq:$b" | wrap)
check_file "offset to end" <(TR --from offset:14000 --speed max --stdout) \
    <(msgs_of "$DB" --from seq:14001 | wrap)
check_file "--symbols SPY" <(TR --symbols SPY --from offset:10 --to offset:20 --speed max --stdout) \
    <(msgs_of "$DB" --from seq:11 --to seq:21 | wrap)

# ---- pacing from a topic: 20 s of event time at 20x ---------------------------
start=$(date +%s%N)
TR --from 2026-03-02T14:40:00Z --to 2026-03-02T14:40:20Z --speed 20 --topic part || fail "paced exit $?"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
CHECKS=$((CHECKS + 1))
# paced, not flat out (the upper bound only catches a hang)
[ "$ms" -ge 800 ] && [ "$ms" -lt 10000 ] || fail "20 s at 20x from a topic took $ms ms"
check_file "paced values" <(kcat -C -b "$BOOT" -t part -e -q -f '%s\n') \
    <(msgs_of "$DB" --from 2026-03-02T14:40:00Z --to 2026-03-02T14:40:20Z)

# ---- SIGINT and resume with offset:N -------------------------------------------
"$QT" replay --from-topic src --from offset:1000 --to offset:3000 --speed 20 -b "$BOOT" --topic res 2> "$T/int.err" &
pid=$!
# signal once quotes flow (SIGINT is ignored until quotetape's handler is in)
for _ in $(seq 200); do
    [ "$(kcat -C -b "$BOOT" -t res -e -q -f '.\n' 2>/dev/null | wc -l)" -ge 50 ] && break
    sleep 0.1
done
kill -INT $pid
wait $pid
check "topic SIGINT exit" "$?" 130
FROM=$(sed -n 's/^quotetape: resume with: --from \(offset:[0-9]*\)$/\1/p' "$T/int.err")
CHECKS=$((CHECKS + 1))
[ -n "$FROM" ] || fail "no offset resume: $(cat "$T/int.err")"
TR --from "$FROM" --to offset:3000 --speed max --topic res || fail "topic resume exit $?"
check_file "topic interrupted + resumed = offsets 1000..3000" <(kcat -C -b "$BOOT" -t res -e -q -f '%s\n') \
    <(msgs_of "$DB" --from seq:1001 --to seq:3001)

# ---- several partitions: merged by event time ------------------------------------
# the first 3000 quotes dealt round-robin over 3 partitions, so each partition
# holds every third quote and arrives a fetch at a time
msgs_of "$DB" --to seq:3001 > "$T/m3000"
for p in 0 1 2; do
    awk -v p=$p '(NR - 1) % 3 == p { print "SPY\t" $0 }' "$T/m3000" |
        kcat -P -b "$BOOT" -t multi -p $p -K '\t' || fail "fill multi partition $p"
done
# the expected order: each partition in its own order, the earliest head
# (by the quote's "t") first, the lower partition on a tie
python3 - "$T/m3000" > "$T/multi.want" <<'PY'
import re, sys
def ns(line):
    d, frac = re.search(r'"t":"([0-9T:-]+)(?:\.([0-9]+))?Z"', line).groups()
    import calendar, time
    sec = calendar.timegm(time.strptime(d, "%Y-%m-%dT%H:%M:%S"))
    return sec * 10**9 + int((frac or "").ljust(9, "0"))
lines = open(sys.argv[1]).read().splitlines()
parts = [[l for i, l in enumerate(lines) if i % 3 == p] for p in range(3)]
heads = [0, 0, 0]
while True:
    live = [p for p in range(3) if heads[p] < len(parts[p])]
    if not live:
        break
    p = min(live, key=lambda p: (ns(parts[p][heads[p]]), p))
    print('{"msg":%s}' % parts[p][heads[p]])
    heads[p] += 1
PY
"$QT" replay -q --from-topic multi -b "$BOOT" --speed max --stdout > "$T/multi.out" ||
    fail "multi-partition replay exit $?"
check "3 partitions: count" "$(wc -l < "$T/multi.out")" 3000
check_file "3 partitions: merged by event time" "$T/multi.out" "$T/multi.want"
# paced: nothing waits behind another partition, so nothing is late by more
# than the machine's wake-up (at 100x the 3000 quotes span about 6 s)
"$QT" replay --from-topic multi -b "$BOOT" --speed 100 --topic multiout 2> "$T/multi.err" ||
    fail "paced multi-partition replay exit $?"
check_file "3 partitions paced: merged by event time" \
    <(kcat -C -b "$BOOT" -t multiout -e -q -f '{"msg":%s}\n') "$T/multi.want"
maxlate=$(sed -n 's/.* max \([0-9.]*\)\(us\|ms\).*/\1 \2/p' "$T/multi.err")
CHECKS=$((CHECKS + 1))
case "$maxlate" in
*us) ;;
*ms) awk -v v="${maxlate% *}" 'BEGIN { exit !(v < 50) }' || fail "3 partitions paced: late by $maxlate" ;;
*) fail "3 partitions paced: no summary: $(cat "$T/multi.err")" ;;
esac

# ---- bad input -------------------------------------------------------------------
# the embedded broker creates topics on first use, so a missing topic is an
# empty one there; a cluster that does not auto-create says it does not exist
"$QT" replay --from-topic nosuch -b "$BOOT" --stdout > /dev/null 2> "$T/e1"
rc=$?
CHECKS=$((CHECKS + 1))
if [ "$rc" -eq 66 ]; then grep -q "topic 'nosuch' does not exist" "$T/e1" || fail "missing topic: $(cat "$T/e1")"
elif [ "$rc" -eq 65 ]; then grep -q "nothing to replay: no messages in \[beginning, end) of 'nosuch'" "$T/e1" || fail "missing topic: $(cat "$T/e1")"
else fail "missing topic: exit $rc"; fi
"$QT" replay --from-topic src -b "$BOOT" --from seq:5 --stdout > /dev/null 2> "$T/e2"
check "seq on a topic exit" "$?" 65
grep -q "seq:N is a tape position" "$T/e2" || fail "seq on topic: $(cat "$T/e2")"
"$QT" replay --from-topic src -b "$BOOT" --from offset:500 --to offset:100 --stdout > /dev/null 2> "$T/e3"
check "topic from after to exit" "$?" 65
grep -q -- "--from offset:500 is after --to offset:100" "$T/e3" || fail "from after to: $(cat "$T/e3")"
"$QT" replay --from-topic src -b "$BOOT" --from end --stdout > /dev/null 2> "$T/e4"
check "topic from end exit" "$?" 65
grep -q "nothing to replay" "$T/e4" || fail "from end: $(cat "$T/e4")"
"$QT" replay --from-topic src -b "$BOOT" --symbols QQQ --speed max --stdout > /dev/null 2> "$T/e5"
check "topic unknown symbol exit" "$?" 65
grep -q "nothing to replay" "$T/e5" || fail "unknown symbol: $(cat "$T/e5")"

done_tests
