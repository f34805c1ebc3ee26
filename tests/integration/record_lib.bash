# Shared helpers for tests/integration/record_*.sh (sourced, not a test).
# Each test gets a temp dir $T, starts what it needs and cleans up on exit.
set -u
T=$(mktemp -d)
PIDS=()
KEY=testkey
SECRET=s3cr3t-Zq9xWv7
export APCA_API_KEY_ID=$KEY APCA_API_SECRET_KEY=$SECRET

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
    exit 1
}
ok() { echo "ok - $*"; }

# wait_file FILE [tenths]
wait_file() {
    local i
    for ((i = 0; i < ${2:-50}; i++)); do [ -s "$1" ] && return 0; sleep 0.1; done
    fail "timed out waiting for $1"
}

start_broker() {
    "$QT" broker --bootstrap-file "$T/boot" -q >/dev/null 2>"$T/broker.log" &
    PIDS+=($!)
    wait_file "$T/boot"
    BOOT=$(cat "$T/boot")
}

# start_server NAME ARGS...: qt_testalpaca with files $T/NAME.{port,sent,stats}
start_server() {
    local n=$1
    shift
    "$QT_BIN/qt_testalpaca" serve --port-file "$T/$n.port" --sent "$T/$n.sent" \
        --stats "$T/$n.stats" --key "$KEY" --secret "$SECRET" "$@" 2>"$T/$n.server.log" &
    PIDS+=($!)
    SERVER_PID=$!
    wait_file "$T/$n.port"
    PORT=$(cat "$T/$n.port")
}

stat_of() { sed -n "s/^$2=//p" "$T/$1.stats"; }

# record DB ARGS...: runs the recorder in the background ($REC_PID), log $T/rec.log;
# to ws://127.0.0.1:$PORT, or to $REC_SCHEME://$REC_HOST:$PORT where set
record_bg() {
    local db=$1
    shift
    "$QT" record --symbols SPY,QQQ,AAPL --url "${REC_SCHEME:-ws}://${REC_HOST:-127.0.0.1}:$PORT/v2/test" \
        --db "$db" \
        --backoff-min 50ms --backoff-max 200ms --flush-timeout 5s "$@" 2>>"$T/rec.log" &
    REC_PID=$!
    PIDS+=($REC_PID)
}

tape_count() { "$QT_BIN/qt_testalpaca" count "$1" 2>/dev/null || echo 0; }

# wait_count DB N [tenths]
wait_count() {
    local i
    for ((i = 0; i < ${3:-100}; i++)); do
        [ "$(tape_count "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    fail "tape $1 has $(tape_count "$1") quotes, expected $2"
}

stop_rec() {
    kill -TERM "$REC_PID"
    wait "$REC_PID"
    REC_RC=$?
}

# The tape holds exactly the quotes the server sent, raw text and order.
check_tape_is_sent() {
    "$QT_BIN/qt_testalpaca" dump "$1" | cut -f3 >"$T/tape.raw"
    cmp -s "$T/tape.raw" "$2" || {
        diff "$T/tape.raw" "$2" | head -5 >&2
        fail "tape $1 differs from what the server sent ($(wc -l <"$T/tape.raw") vs $(wc -l <"$2") lines)"
    }
    ok "tape holds exactly the $(wc -l <"$2") quotes sent (raw text, order)"
}

# Kafka holds exactly the tape's quotes: key = symbol, timestamp = event ms, value = raw.
check_kafka_is_tape() {
    "$QT_BIN/qt_testalpaca" dump "$1" | sort >"$T/tape.sorted"
    kcat -C -b "$BOOT" -t "${2:-quotes}" -e -q -f '%k\t%T\t%s\n' 2>/dev/null | sort >"$T/kafka.sorted"
    cmp -s "$T/tape.sorted" "$T/kafka.sorted" || {
        diff "$T/tape.sorted" "$T/kafka.sorted" | head -5 >&2
        fail "kafka topic differs from tape ($(wc -l <"$T/kafka.sorted") vs $(wc -l <"$T/tape.sorted"))"
    }
    ok "kafka holds exactly the tape's $(wc -l <"$T/tape.sorted") quotes (key, timestamp, value)"
}

check_no_secret() {
    local where
    for where in "$T"/*.log; do
        grep -qF "$SECRET" "$where" && fail "secret found in $where"
    done
    sqlite3 "$1" .dump | grep -qF "$SECRET" && fail "secret found in the tape"
    if [ -n "${BOOT:-}" ]; then
        kcat -C -b "$BOOT" -t quotes -e -q -f '%k %s %h\n' 2>/dev/null | grep -qF "$SECRET" &&
            fail "secret found in kafka"
    fi
    ok "secret appears in no log, not in the tape, not in kafka"
}

gap_count() { sqlite3 "$1" 'SELECT count(*) FROM gaps'; }
