#!/bin/bash
# quotetape record: Alpaca error codes, missing keys, malformed and oversize
# frames, the 407 slow-client warning. Exit codes and messages are the
# documented ones (docs/record.md).
source "$(dirname "$0")/record_lib.bash"

# missing keys: exit 77 before any connection
start_server nokeys --count 10
APCA_API_SECRET_KEY= "$QT" record --symbols SPY --url "ws://127.0.0.1:$PORT/" --db "$T/x.db" 2>"$T/nokeys.log"
rc=$?
[ $rc = 77 ] || fail "missing keys: exit $rc, expected 77"
grep -q "no Alpaca keys: set APCA_API_KEY_ID and APCA_API_SECRET_KEY" "$T/nokeys.log" || fail "missing keys message"
[ "$(stat_of nokeys connections)" = 0 ] || fail "missing keys: connected anyway"
ok "missing keys: exit 77, clear message, no connection"

# 402 bad key: exit 77, one connection, no retries
APCA_API_SECRET_KEY=wrong-secret timeout 10 "$QT" record --symbols SPY --url "ws://127.0.0.1:$PORT/" \
    --db "$T/x.db" --backoff-min 50ms 2>"$T/badkey.log"
rc=$?
[ $rc = 77 ] || fail "402: exit $rc, expected 77"
grep -q "alpaca: 402 auth failed" "$T/badkey.log" || fail "402 message"
sleep 0.3
[ "$(stat_of nokeys connections)" = 1 ] || fail "402: $(stat_of nokeys connections) connections, expected 1 (no retry)"
grep -qF wrong-secret "$T/badkey.log" && fail "402: secret logged"
ok "402: exit 77, 'auth failed', no retry, secret not logged"
kill "$SERVER_PID"

# fatal errors at subscribe time: code -> exit code and message
for spec in "405:64:405 symbol limit exceeded" "409:77:409 insufficient subscription" \
    "410:76:410 invalid subscribe action" "400:76:alpaca: 400"; do
    code=${spec%%:*}
    rest=${spec#*:}
    want=${rest%%:*}
    msg=${rest#*:}
    start_server "e$code" --scenario error --error-code "$code" --count 50
    timeout 10 "$QT" record --symbols SPY --url "ws://127.0.0.1:$PORT/" --db "$T/e$code.db" \
        --backoff-min 50ms 2>"$T/e$code.log"
    rc=$?
    [ $rc = "$want" ] || fail "$code: exit $rc, expected $want"
    grep -q "$msg" "$T/e$code.log" || fail "$code: message '$msg' missing: $(cat "$T/e$code.log")"
    [ "$(stat_of "e$code" connections)" = 1 ] || fail "$code: retried"
    kill "$SERVER_PID"
    ok "$code: exit $want, '$msg', no retry"
done

# retriable errors: 401, 404, 500 close the connection, the recorder comes
# back and records everything
for code in 401 404 500; do
    : >"$T/rec.log"
    start_server "r$code" --scenario error --error-code "$code" --count 400
    record_bg "$T/r$code.db"
    wait_count "$T/r$code.db" 400
    stop_rec
    [ "$REC_RC" = 0 ] || fail "$code: exit $REC_RC"
    grep -q "alpaca: $code .*; reconnecting" "$T/rec.log" || fail "$code: not reported"
    [ "$(stat_of "r$code" connections)" = 2 ] || fail "$code: $(stat_of "r$code" connections) connections"
    check_tape_is_sent "$T/r$code.db" "$T/r$code.sent"
    kill "$SERVER_PID"
    ok "$code: reported, reconnected once, nothing lost"
done

# 407 slow client: logged, recording carries on on the same connection
: >"$T/rec.log"
start_server slow --scenario slow --count 2000 --at 1000
record_bg "$T/slow.db"
wait_count "$T/slow.db" 2000
stop_rec
grep -q "alpaca: 407 slow client" "$T/rec.log" || fail "407 not logged"
[ "$(stat_of slow connections)" = 1 ] || fail "407: reconnected"
check_tape_is_sent "$T/slow.db" "$T/slow.sent"
kill "$SERVER_PID"
ok "407: logged, same connection, nothing lost"

# malformed and oversize frames among good ones: skipped and counted
: >"$T/rec.log"
start_server bad --scenario malformed --count 1000 --at 500 --oversize 200000
record_bg "$T/bad.db" --frame-max 65536
wait_count "$T/bad.db" 1000
stop_rec
[ "$REC_RC" = 0 ] || fail "malformed: exit $REC_RC"
check_tape_is_sent "$T/bad.db" "$T/bad.sent"
[ "$(grep -c "skipped a malformed frame" "$T/rec.log")" = 4 ] || fail "malformed frames: $(grep -c "skipped a malformed frame" "$T/rec.log") warnings, expected 4"
grep -q "skipped a frame larger than 65536 bytes (1 so far)" "$T/rec.log" || fail "oversize not reported"
grep -q "5 bad frame(s)" "$T/rec.log" || fail "bad frame count: $(grep recorded "$T/rec.log")"
[ "$(stat_of bad connections)" = 1 ] || fail "malformed: reconnected"
kill "$SERVER_PID"
ok "4 malformed + 1 oversize frame skipped and counted, good quotes all kept"

# 406: a second recorder with the same key is refused; it says why and backs off
: >"$T/rec.log"
start_server lim --count 100
record_bg "$T/a.db"
wait_count "$T/a.db" 100
A_PID=$REC_PID
"$QT" record --symbols SPY --url "ws://127.0.0.1:$PORT/" --db "$T/b.db" --backoff-min 50ms \
    --limit-backoff 1s 2>"$T/b.log" &
B_PID=$!
PIDS+=($B_PID)
sleep 2.5
kill -TERM $B_PID
wait $B_PID
rc=$?
[ $rc = 0 ] || fail "406: second recorder exit $rc"
grep -q "alpaca: 406 connection limit exceeded: another client holds this key's one connection" "$T/b.log" ||
    fail "406 message: $(cat "$T/b.log")"
rej=$(stat_of lim rejected)
[ "$rej" -ge 2 ] && [ "$rej" -le 4 ] || fail "406: $rej refused connections in 2.5 s with a 1 s backoff"
REC_PID=$A_PID
stop_rec
[ "$(stat_of lim auth_ok)" = 1 ] || fail "406: first recorder lost its connection"
ok "406: explained, $rej attempts in 2.5 s (1 s backoff, no storm), first recorder unaffected"
echo "record_errors: all passed"
