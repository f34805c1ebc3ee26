#!/usr/bin/env bash
# replay: an interrupted replay (SIGINT into Kafka, SIGTERM to stdout) prints
# a summary and the exact --from that resumes; resuming with it yields every
# quote once: no duplicate, no gap.
. "$(dirname "$0")/replay_common.bash"
start_broker
make_spy_tape
DB=$T/spy.db
SEL_TO=+150s
msgs_of "$DB" --from +60s --to "$SEL_TO" > "$T/want.val"

# ---- SIGINT into Kafka at 20x (90 s of tape = 4.5 s), stopped after ~1.5 s
"$QT" replay --db "$DB" --from +60s --to "$SEL_TO" --speed 20 -b "$BOOT" --topic resumed 2> "$T/int.err" &
pid=$!
# Signal only once quotes flow: a background job starts with SIGINT ignored
# until quotetape installs its handler, so an early SIGINT would be lost.
for _ in $(seq 200); do
    [ "$(kcat -C -b "$BOOT" -t resumed -e -q -f '.\n' 2>/dev/null | wc -l)" -ge 100 ] && break
    sleep 0.1
done
kill -INT $pid
wait $pid
rc=$?
check "SIGINT exit code" "$rc" 130
grep -q "^quotetape: replay stopped: sent [0-9]*, delivered [0-9]*, failed 0, late [0-9]*, lateness p50 .* p99 .* max " "$T/int.err" ||
    fail "no summary: $(cat "$T/int.err")"
FROM=$(sed -n 's/^quotetape: resume with: --from \(seq:[0-9]*\)$/\1/p' "$T/int.err")
CHECKS=$((CHECKS + 1))
[ -n "$FROM" ] || fail "no resume position: $(cat "$T/int.err")"
sent=$(sed -n 's/^quotetape: replay stopped: sent \([0-9]*\),.*/\1/p' "$T/int.err")
CHECKS=$((CHECKS + 1))
[ "${sent:-0}" -gt 50 ] && [ "$sent" -lt "$(wc -l < "$T/want.val")" ] || fail "sent $sent: not a partial run"
kcat -C -b "$BOOT" -t resumed -e -q -f '%s\n' > "$T/part1"
check "delivered before the stop = sent" "$(wc -l < "$T/part1")" "$sent"
"$QT" replay -q --db "$DB" --from "$FROM" --to "$SEL_TO" --speed max -b "$BOOT" --topic resumed ||
    fail "resume exit $?"
kcat -C -b "$BOOT" -t resumed -e -q -f '%s\n' > "$T/all"
check_file "interrupted + resumed = export (no duplicate, no gap)" "$T/all" "$T/want.val"
check "no duplicate values" "$(sort "$T/all" | uniq -d | wc -l)" 0

# ---- SIGTERM to stdout at 20x ---------------------------------------------
"$QT" export --db "$DB" --from +60s --to "$SEL_TO" > "$T/want.jsonl"
"$QT" replay --db "$DB" --from +60s --to "$SEL_TO" --speed 20 --stdout > "$T/s1" 2> "$T/term.err" &
pid=$!
sleep 1
kill -TERM $pid
wait $pid
check "SIGTERM exit code" "$?" 130
FROM=$(sed -n 's/^quotetape: resume with: --from \(seq:[0-9]*\)$/\1/p' "$T/term.err")
CHECKS=$((CHECKS + 1))
[ -n "$FROM" ] || fail "no resume position after SIGTERM: $(cat "$T/term.err")"
"$QT" replay -q --db "$DB" --from "$FROM" --to "$SEL_TO" --speed max --stdout > "$T/s2" || fail "resume stdout"
check_file "stdout: stopped + resumed = export" <(cat "$T/s1" "$T/s2") "$T/want.jsonl"

# ---- a stop during a long silence is seen at once (max 100 ms sleeps) -----
"$QT" import -q <(sed -n '1p' "$QT_FIXTURES/spy-30m.jsonl"; sed -n '14065p' "$QT_FIXTURES/spy-30m.jsonl") --db "$T/gap.db" ||
    fail "import gap tape"
"$QT" replay --db "$T/gap.db" --stdout > "$T/g1" 2> "$T/gap.err" &
pid=$!
for _ in $(seq 200); do [ -s "$T/g1" ] && break; sleep 0.05; done
sleep 0.3 # now in the 30-minute silence
start=$(date +%s%N)
kill -INT $pid
wait $pid
check "stop in a 30-minute silence: exit" "$?" 130
ms=$(( ($(date +%s%N) - start) / 1000000 ))
CHECKS=$((CHECKS + 1))
[ "$ms" -lt 1000 ] || fail "stop took $ms ms"
check "stop in a silence: resume at the unsent quote" \
    "$(sed -n 's/^quotetape: resume with: --from //p' "$T/gap.err")" "seq:2"
check "stop in a silence: one line out" "$(wc -l < "$T/g1")" 1

done_tests
