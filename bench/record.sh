#!/bin/bash
# Recorder benchmark: the test Alpaca server sends pre-encoded frames of 100
# quotes as fast as the recorder reads; the recorder writes them into a tape
# and the embedded broker. Reports sustained quotes/s with zero loss (tape
# count and Kafka-confirmed count both equal to what was sent) and the
# recorder's peak RSS. QT_BENCH_RECORD_QUOTES overrides the 10 million.
# Usage: bench/record.sh BUILD_DIR
set -u
B=${1:?usage: bench/record.sh BUILD_DIR}
N=${QT_BENCH_RECORD_QUOTES:-10000000}
T=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT

"$B/quotetape" broker --bootstrap-file "$T/boot" -q >/dev/null 2>&1 &
PIDS+=($!)
"$B/qt_testalpaca" serve --scenario bench --count "$N" --key k --secret s \
    --port-file "$T/port" --stats "$T/stats" 2>/dev/null &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do [ -s "$T/boot" ] && [ -s "$T/port" ] && break; sleep 0.1; done
t0=$(date +%s%N)
APCA_API_KEY_ID=k APCA_API_SECRET_KEY=s /usr/bin/time -f "maxrss_kb=%M" -o "$T/time" \
    "$B/quotetape" record --symbols SPY,QQQ,AAPL,MSFT --url "ws://127.0.0.1:$(cat "$T/port")/" \
    --db "$T/bench.db" -b "$(cat "$T/boot")" --max-quotes "$N" --flush-timeout 60s 2>"$T/rec.log"
rc=$?
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
rss=$(sed -n 's/^maxrss_kb=//p' "$T/time")
tape=$("$B/qt_testalpaca" count "$T/bench.db")
acked=$(sed -n 's/.*acked seq \([0-9]*\).*/\1/p' "$T/rec.log")
qps=$((N * 1000 / (ms > 0 ? ms : 1)))
loss="zero loss"
[ "$rc" = 0 ] && [ "$tape" = "$N" ] && [ "$acked" = "$N" ] || loss="LOSS: exit $rc, tape $tape, kafka acked ${acked:-?} of $N"
# The reference, measured in the same run: the tape's own ceiling, a bare
# prepared-statement insert loop of pre-parsed quotes into the same schema.
"$B/qt_genfix" --kind spy --seed 7 --minutes 390 --out "$T/ref.jsonl" 2>/dev/null
ref=$("$B/bench_import" "$T/ref.jsonl" "$T" --ref-only)
awk -v q="$qps" -v r="$rss" -v n="$N" -v l="$loss" -v ref="$ref" 'BEGIN {
    printf "| record quotes/s into tape + kafka (%d quotes, %s) | %d | bare SQLite insert of the same schema: %d | %.2f | >= 300000 quotes/s |\n", n, l, q, ref, q / ref
    printf "| record peak RSS MB (%d quotes) | %.1f | 32 | %.2f | < 32 |\n", n, r / 1024, r / 1024 / 32
}'
