#!/bin/bash
# quotetape record: the server drops the connection mid-stream, and a socket
# goes silent (no data, no pongs). Each time the recorder reconnects with
# backoff, records the outage as a gap, and loses nothing: tape = sent,
# Kafka = tape.
source "$(dirname "$0")/record_lib.bash"
start_broker

# disconnect at quote 1500 of 3000
start_server disc --scenario disconnect --count 3000 --at 1500
record_bg "$T/disc.db" -b "$BOOT" --topic q_disc
wait_count "$T/disc.db" 3000
stop_rec
[ "$REC_RC" = 0 ] || fail "disconnect: exit $REC_RC"
check_tape_is_sent "$T/disc.db" "$T/disc.sent"
check_kafka_is_tape "$T/disc.db" q_disc
[ "$(stat_of disc connections)" = 2 ] || fail "disconnect: $(stat_of disc connections) connections, expected 2"
[ "$(gap_count "$T/disc.db")" = 1 ] || fail "disconnect: $(gap_count "$T/disc.db") gaps, expected 1"
sqlite3 "$T/disc.db" 'SELECT reason FROM gaps' | grep -q "closed" || fail "gap reason: $(sqlite3 "$T/disc.db" 'SELECT reason FROM gaps')"
[ "$(sqlite3 "$T/disc.db" 'SELECT count(*) FROM gaps WHERE to_ns > from_ns')" = 1 ] || fail "gap span"
ok "disconnect: reconnected once, one gap, nothing lost"
kill "$SERVER_PID"

# silent socket at quote 800 of 1600; idle timeout 600ms
: >"$T/rec.log"
start_server silent --scenario silent --count 1600 --at 800
t0=$(date +%s%N)
record_bg "$T/silent.db" -b "$BOOT" --topic q_silent --idle-timeout 600ms
wait_count "$T/silent.db" 1600 150
stop_rec
t1=$(date +%s%N)
[ "$REC_RC" = 0 ] || fail "silent: exit $REC_RC"
check_tape_is_sent "$T/silent.db" "$T/silent.sent"
check_kafka_is_tape "$T/silent.db" q_silent
[ "$(stat_of silent connections)" = 2 ] || fail "silent: $(stat_of silent connections) connections"
[ "$(gap_count "$T/silent.db")" = 1 ] || fail "silent: gaps $(gap_count "$T/silent.db")"
sqlite3 "$T/silent.db" 'SELECT reason FROM gaps' | grep -q "silent socket: no data and no pong for 600ms" ||
    fail "silent gap reason: $(sqlite3 "$T/silent.db" 'SELECT reason FROM gaps')"
grep -q "connection lost: silent socket" "$T/rec.log" || fail "silent socket not logged"
ok "silent socket detected after 600ms, reconnected, gap recorded ($(((t1 - t0) / 1000000)) ms in all)"
check_no_secret "$T/silent.db"
echo "record_reconnect: all passed"
