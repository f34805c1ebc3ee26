#!/bin/bash
# quotetape record with Kafka down mid-recording (the embedded broker's
# broker-down control): the tape keeps recording every quote; when the broker
# returns, Kafka catches up, and afterwards Kafka equals the tape.
source "$(dirname "$0")/record_lib.bash"
"$QT_BIN/qt_testalpaca" broker "$T/boot" 2>"$T/broker.log" &
BROKER_PID=$!
PIDS+=($BROKER_PID)
wait_file "$T/boot"
BOOT=$(cat "$T/boot")

start_server o --count 40000 --rate 10000 --per-frame 10
# a small local queue, so the outage overflows it and the recorder must
# catch up from the tape rather than from librdkafka's buffer
record_bg "$T/o.db" -b "$BOOT" --flush-timeout 20s -X queue.buffering.max.messages=2000 -v
wait_count "$T/o.db" 8000
kill -USR1 $BROKER_PID # broker down
wait_count "$T/o.db" 22000
kill -USR2 $BROKER_PID # broker up
for ((i = 0; i < 100; i++)); do
    [ "$(stat_of o sent)" = 40000 ] && break
    sleep 0.1
done
wait_count "$T/o.db" 40000
stop_rec
[ "$REC_RC" = 0 ] || fail "recorder exit $REC_RC"
grep -q "broker down" "$T/broker.log" || fail "broker never went down"
grep -q "local queue full; catching up from the tape" "$T/rec.log" || fail "catch-up path not taken"
check_tape_is_sent "$T/o.db" "$T/o.sent"
check_kafka_is_tape "$T/o.db"
last=$(sqlite3 "$T/o.db" 'SELECT max(seq) FROM quotes')
acked=$(sqlite3 "$T/o.db" "SELECT acked_seq FROM kafka_acked WHERE topic='quotes'")
[ "$acked" = "$last" ] || fail "acked seq $acked, last seq $last"
ok "kafka down while 14000+ quotes arrived: tape complete, kafka caught up, acked = $acked"
echo "record_kafka_outage: all passed"
