# Shared set-up for the replay_*.sh integration tests (sourced, not run).
# Gives: $T (temp dir, removed on exit), fail/check helpers, start_broker,
# make_spy_tape, msgs_of (export's msg values of a range).
set -u
: "${QT:?QT must point at the quotetape binary}"
: "${QT_BIN:?}" "${QT_FIXTURES:?}"
T=$(mktemp -d)
BROKER_PID=
cleanup() {
    if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null; wait "$BROKER_PID" 2>/dev/null; fi
    rm -rf "$T"
}
trap cleanup EXIT
FAILS=0
CHECKS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
check() { # check "what" actual expected
    CHECKS=$((CHECKS + 1))
    if [ "$2" != "$3" ]; then fail "$1: got '$2', want '$3'"; fi
}
check_file() { # check_file "what" got want
    CHECKS=$((CHECKS + 1))
    if ! cmp -s "$2" "$3"; then fail "$1: $2 differs from $3"; diff "$2" "$3" | head -5 >&2; fi
}
done_tests() {
    echo "$(basename "$0"): $CHECKS checks, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}
start_broker() {
    "$QT" broker -q --bootstrap-file "$T/boot" >/dev/null 2>"$T/broker.err" &
    BROKER_PID=$!
    for _ in $(seq 1 100); do [ -s "$T/boot" ] && break; sleep 0.1; done
    [ -s "$T/boot" ] || { echo "broker did not start" >&2; cat "$T/broker.err" >&2; exit 1; }
    BOOT=$(cat "$T/boot")
}
make_spy_tape() {
    "$QT" import -q "$QT_FIXTURES/spy-30m.jsonl" --db "$T/spy.db" || { echo "import failed" >&2; exit 1; }
}
# msgs_of TAPE [export args]: the raw msg values in tape order, one a line.
msgs_of() {
    local db=$1; shift
    "$QT" export --db "$db" "$@" | sed 's/^{\("recv":"[^"]*",\)\{0,1\}"msg"://; s/}$//'
}
# event_ms_of TAPE [export args]: event time in ms (floor) per quote.
event_ms_of() {
    local db=$1; shift
    "$QT" export --db "$db" --format csv "$@" | awk -F, 'NR > 1 { print substr($4, 1, length($4) - 6) }'
}
