#!/bin/bash
# quotetape record --serve: the recorder holds the one upstream connection
# (qt_testalpaca) and serves the live stream on a local Alpaca-compatible
# websocket. Ten local clients (JSON and MessagePack) subscribed to different
# symbols each receive exactly their symbols' quotes, in order: JSON clients
# byte for byte as the upstream sent them, MessagePack clients with equal
# fields and nanosecond timestamps (record_serve_clients.py). With --auth a wrong key gets 402. The
# tape is still complete, there is one upstream connection, and neither the
# Alpaca secret nor the serve secret is logged.
source "$(dirname "$0")/record_lib.bash"

SYMS=SPY,QQQ,AAPL,MSFT,TSLA
N=3000 # the test server sends quotes round-robin over the 5 symbols: 600 each
export QUOTETAPE_SERVE_KEY=localkey QUOTETAPE_SERVE_SECRET=serve-Secret-8d2f

# a stopped test server is resumed before cleanup kills it (a stopped
# process would never see the SIGTERM)
STOPPED=
trap '[ -n "$STOPPED" ] && kill -CONT "$STOPPED" 2>/dev/null; cleanup' EXIT

# --- usage errors ---------------------------------------------------------
env -u QUOTETAPE_SERVE_KEY -u QUOTETAPE_SERVE_SECRET "$QT" record --symbols SPY --db "$T/x.db" \
    --url ws://127.0.0.1:9/v2/test --serve 127.0.0.1:0 --auth 2>"$T/u1.err"
rc=$?
[ "$rc" = 64 ] || fail "--auth without keys: exit $rc, expected 64"
grep -q "auth needs QUOTETAPE_SERVE_KEY and QUOTETAPE_SERVE_SECRET" "$T/u1.err" ||
    fail "--auth without keys: $(cat "$T/u1.err")"
"$QT" record --symbols SPY --db "$T/x.db" --url ws://127.0.0.1:9/v2/test \
    --serve 0.0.0.0:0 2>"$T/u2.err"
rc=$?
[ "$rc" = 64 ] || fail "non-loopback --serve: exit $rc, expected 64"
grep -q "not a loopback address" "$T/u2.err" || fail "non-loopback: $(cat "$T/u2.err")"
"$QT" record --symbols SPY --db "$T/x.db" --auth 2>"$T/u3.err"
[ $? = 64 ] && grep -q -- "go with --serve" "$T/u3.err" || fail "--auth alone: $(cat "$T/u3.err")"
"$QT" record --help | grep -q -- "--serve ADDR" || fail "--serve not in record --help"
ok "usage errors: --auth without keys, non-loopback address, --auth without --serve"

# --- the live fan-out -----------------------------------------------------
start_server live --count "$N"
kill -STOP "$SERVER_PID" # hold the stream until every local client is subscribed
STOPPED=$SERVER_PID
record_bg "$T/live.db" --symbols "$SYMS" --serve 127.0.0.1:0 --auth -v
for _ in $(seq 100); do
    SPORT=$(sed -n 's#.*serve: listening on ws://127.0.0.1:\([0-9]*\)/.*#\1#p' "$T/rec.log")
    [ -n "$SPORT" ] && break
    sleep 0.1
done
[ -n "$SPORT" ] || fail "the recorder did not log its serve port"

# ten clients: codec and quotes subscription each
CLIENTS=(json:SPY msgpack:QQQ json:AAPL msgpack:MSFT json:TSLA msgpack:SPY,QQQ
    json:AAPL,MSFT,TSLA msgpack:SPY,TSLA json:QQQ,AAPL 'msgpack:*')
python3 "$QT_SRC/tests/integration/record_serve_clients.py" "$SPORT" "$QUOTETAPE_SERVE_KEY" \
    "$QUOTETAPE_SERVE_SECRET" "$T/ready" "$T/live.sent" "$N" "${CLIENTS[@]}" \
    >"$T/clients.out" 2>"$T/clients.log" &
CPID=$!
PIDS+=($CPID)
# a client with the wrong key is refused
"$QT_BIN/qt_aclient" --url "ws://127.0.0.1:$SPORT/v2/sip" \
    --send '{"action":"auth","key":"localkey","secret":"wrong"}' --read 500 >"$T/bad.out" 2>&1
grep -qF '< [{"T":"error","code":402,"msg":"auth failed"}]' "$T/bad.out" ||
    fail "wrong serve key: $(cat "$T/bad.out")"
grep -qx closed "$T/bad.out" || fail "wrong serve key: connection not closed"
ok "--auth: a wrong key gets 402 and is disconnected"

for _ in $(seq 100); do [ -s "$T/ready" ] && break; sleep 0.1; done
[ -s "$T/ready" ] || fail "the clients did not subscribe: $(cat "$T/clients.log")"
kill -CONT "$SERVER_PID" # the stream starts
STOPPED=
wait "$CPID" || fail "clients: $(cat "$T/clients.out" "$T/clients.log")"
cat "$T/clients.out"
[ "$(grep -c '^ok - client' "$T/clients.out")" = 10 ] || fail "not 10 clients"
wait_count "$T/live.db" "$N"
stop_rec
[ "$REC_RC" = 0 ] || fail "recorder exit code $REC_RC, expected 0"
check_tape_is_sent "$T/live.db" "$T/live.sent"
[ "$(stat_of live connections)" = 1 ] || fail "$(stat_of live connections) upstream connections"
ok "one upstream connection, $N quotes in the tape"

grep -q "serve: 11 client(s) in all" "$T/rec.log" || fail "no serve summary: $(grep serve: "$T/rec.log")"
check_no_secret "$T/live.db"
for f in "$T"/*.log; do
    grep -qF "$QUOTETAPE_SERVE_SECRET" "$f" && fail "serve secret found in $f"
done
ok "the serve secret appears in no log"
echo "record_serve: all passed"
