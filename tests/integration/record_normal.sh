#!/bin/bash
# quotetape record: normal stream, many quotes per frame, fragmented frames.
# For each: the tape holds exactly the quotes the test server sent (raw text,
# order), Kafka (embedded broker) holds exactly the tape's quotes, the session
# is ended, no gaps, exit 0 on SIGTERM, the secret is nowhere.
source "$(dirname "$0")/record_lib.bash"
start_broker

run_scenario() {
    local sc=$1 n=$2
    shift 2
    start_server "$sc" --scenario "$sc" --count "$n" "$@"
    record_bg "$T/$sc.db" -b "$BOOT" --topic "q_$sc" -v
    wait_count "$T/$sc.db" "$n"
    stop_rec
    [ "$REC_RC" = 0 ] || fail "$sc: recorder exit code $REC_RC, expected 0"
    kill "$SERVER_PID"
    check_tape_is_sent "$T/$sc.db" "$T/$sc.sent"
    check_kafka_is_tape "$T/$sc.db" "q_$sc"
    [ "$(gap_count "$T/$sc.db")" = 0 ] || fail "$sc: unexpected gaps"
    [ "$(sqlite3 "$T/$sc.db" 'SELECT count(*) FROM sessions WHERE ended_ns IS NOT NULL')" = 1 ] ||
        fail "$sc: session not ended"
    local last acked
    last=$(sqlite3 "$T/$sc.db" 'SELECT max(seq) FROM quotes')
    acked=$(sqlite3 "$T/$sc.db" "SELECT acked_seq FROM kafka_acked WHERE topic='q_$sc'")
    [ "$acked" = "$last" ] || fail "$sc: acked seq $acked, last seq $last"
    [ "$(stat_of "$sc" connections)" = 1 ] || fail "$sc: more than one connection"
    ok "$sc: $n quotes, exit 0, session ended, acked = last seq, one connection"
}

run_scenario normal 3000
run_scenario batch 20000
run_scenario fragment 3000 --per-frame 40
check_no_secret "$T/normal.db"
grep -q "subscribed to 3 symbol(s); recording" "$T/rec.log" || fail "no 'recording' line"

# sync after a clean stop has nothing to do
"$QT" sync --db "$T/batch.db" -b "$BOOT" --topic q_batch 2>"$T/sync.log" || fail "sync failed"
grep -q "0 quote(s) produced" "$T/sync.log" || fail "sync produced something: $(cat "$T/sync.log")"
check_kafka_is_tape "$T/batch.db" q_batch

# a tape-only recording (no Kafka options) still records everything
start_server tonly --count 500
record_bg "$T/tonly.db"
wait_count "$T/tonly.db" 500
stop_rec
[ "$REC_RC" = 0 ] || fail "tape-only: exit $REC_RC"
check_tape_is_sent "$T/tonly.db" "$T/tonly.sent"
grep -q "recording into the tape only" "$T/rec.log" || fail "tape-only not announced"
[ "$(sqlite3 "$T/tonly.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity"
echo "record_normal: all passed"
