#!/bin/bash
# quotetape replay --serve: a tape served on a local Alpaca-compatible
# websocket (replay_serve_clients.py is the client).
#  - shared clock: 50 concurrent clients (45 JSON, 5 MessagePack) on a 1000x
#    replay of the SPY fixture, started by --wait-clients 50, each receive the
#    whole tape in order: JSON byte for byte equal to export's msg values,
#    MessagePack with "t" in nanoseconds equal to the tape's
#  - a client that stops reading gets 407 while five others on the same
#    replay (--loop 5, small --client-queue) receive every quote of every pass
#  - --per-client: clients with different ?from=&speed= each get their own
#    replay (seq:100 at max speed: exactly seqs 100..; +5m at 50x: the right
#    first quotes, paced at 50x; +10m in MessagePack); bad from/speed in the
#    URL or a from past the end get error 400 with the reason and are closed
#  - usage errors; SIGINT stops the server cleanly (exit 0, summary)
source "$(dirname "$0")/replay_common.bash"
CLIENTS_PY="$QT_SRC/tests/integration/replay_serve_clients.py"
SRV_PID=

stop_srv() { # stop_srv: SIGINT the server, wait, set SRV_RC
    kill -INT "$SRV_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
    wait "$SRV_PID"
    SRV_RC=$?
    SRV_PID=
}
trap '[ -n "$SRV_PID" ] && kill -9 "$SRV_PID" 2>/dev/null; cleanup' EXIT

start_srv() { # start_srv LOG ARGS...: replay --serve on port 0, sets PORT
    local log=$1; shift
    "$QT" replay --db "$T/spy.db" --serve 127.0.0.1:0 "$@" 2>"$log" &
    SRV_PID=$!
    PORT=
    for _ in $(seq 100); do
        PORT=$(sed -n 's#.*serve: listening on ws://127.0.0.1:\([0-9]*\)/.*#\1#p' "$log")
        [ -n "$PORT" ] && break
        sleep 0.1
    done
    [ -n "$PORT" ] || { echo "the server did not start: $(cat "$log")" >&2; exit 1; }
}

make_spy_tape
msgs_of "$T/spy.db" >"$T/all.msgs"
N=$(wc -l <"$T/all.msgs")
check "tape quote count" "$N" 14065

# --- usage errors -----------------------------------------------------------
"$QT" replay --db "$T/spy.db" --serve 127.0.0.1:0 --per-client --wait-clients 2 2>"$T/u1.err"
check "--per-client with --wait-clients: exit" $? 64
"$QT" replay --db "$T/spy.db" --stdout --per-client 2>"$T/u2.err"
check "--per-client without --serve: exit" $? 64
grep -q "go with --serve" "$T/u2.err" || fail "--per-client alone: $(cat "$T/u2.err")"
"$QT" replay --db "$T/spy.db" --serve 0.0.0.0:0 2>"$T/u3.err"
check "non-loopback --serve: exit" $? 64
env -u QUOTETAPE_SERVE_KEY -u QUOTETAPE_SERVE_SECRET \
    "$QT" replay --db "$T/spy.db" --serve 127.0.0.1:0 --auth 2>"$T/u4.err"
check "--auth without keys: exit" $? 64
"$QT" replay --db "$T/spy.db" --stdout --serve 127.0.0.1:0 2>"$T/u5.err"
check "two sinks: exit" $? 64
"$QT" replay --db "$T/spy.db" --serve 127.0.0.1:0 --from seq:999999 2>"$T/u6.err"
check "empty selection with --serve: exit" $? 65
for opt in --serve --per-client --wait-clients --client-queue --serve-any-address --auth; do
    "$QT" replay --help | grep -q -- "$opt" || fail "$opt not in replay --help"
done

# --- shared clock: 50 clients, the whole stream each -------------------------
start_srv "$T/shared.log" --speed 1000 --wait-clients 50 -v
ARGS=()
for i in $(seq 45); do ARGS+=("json|/v2/iex|$T/all.msgs"); done
for i in $(seq 5); do ARGS+=("msgpack|/v2/sip|$T/all.msgs"); done
t0=$(date +%s)
python3 "$CLIENTS_PY" "$PORT" "${ARGS[@]}" >"$T/shared.out" 2>"$T/shared.err" ||
    fail "shared clients: $(cat "$T/shared.err")"
echo "shared: 50 clients in $(($(date +%s) - t0))s"
check "shared: clients with the whole stream" "$(grep -c '^ok - client.*14065 quotes equal' "$T/shared.out")" 50
grep -q "serve: replay starts" "$T/shared.log" || fail "no 'replay starts' in the log"
stop_srv
check "shared: exit code after SIGINT" "$SRV_RC" 0
grep -q "serve: 50 client(s) in all, 703250 message(s) delivered, 0 slow" "$T/shared.log" ||
    fail "shared summary: $(grep 'serve:' "$T/shared.log" | tail -3)"
grep -q "replayed: sent 14065, delivered 14065, failed 0" "$T/shared.log" ||
    fail "shared replay summary: $(tail -3 "$T/shared.log")"

# --- a slow client gets 407, the others do not notice -------------------------
for _ in 1 2 3 4 5; do cat "$T/all.msgs"; done >"$T/loop5.msgs"
start_srv "$T/slow.log" --speed 4000 --loop 5 --wait-clients 6 --client-queue 1m
ARGS=("json|/v2/iex|$T/loop5.msgs|slow=2.5")
for i in $(seq 4); do ARGS+=("json|/v2/iex|$T/loop5.msgs"); done
ARGS+=("msgpack|/v2/iex|$T/loop5.msgs")
python3 "$CLIENTS_PY" "$PORT" "${ARGS[@]}" >"$T/slow.out" 2>"$T/slow.err" ||
    fail "slow test clients: $(cat "$T/slow.err")"
cat "$T/slow.out"
check "slow: the slow client was dropped" "$(grep -c '^ok - client 0 ' "$T/slow.out")" 1
check "slow: the server sent one 407" "$(grep -c 'serve: client [0-9]* is too slow (queue full): 407' "$T/slow.log")" 1
grep -q '^ok - client 0 .*: 407 after' "$T/slow.out" || echo "note: the slow client was closed before reading its 407"
check "slow: the others got all 5 passes" \
    "$(grep -c "^ok - client .*70325 quotes equal" "$T/slow.out")" 5
stop_srv
check "slow: exit code" "$SRV_RC" 0
grep -q "1 slow client(s) dropped" "$T/slow.log" || fail "slow summary: $(tail -3 "$T/slow.log")"

# --- per-client replays ---------------------------------------------------------
msgs_of "$T/spy.db" --from seq:100 >"$T/seq100.msgs"
msgs_of "$T/spy.db" --from +5m >"$T/5m.msgs"
msgs_of "$T/spy.db" --from +10m >"$T/10m.msgs"
check "seq:100.. count" "$(wc -l <"$T/seq100.msgs")" $((N - 99))
start_srv "$T/per.log" --per-client --speed 1 -v
python3 "$CLIENTS_PY" "$PORT" \
    "json|/v2/iex?from=seq:100&speed=max|$T/seq100.msgs" \
    "json|/v2/iex?from=%2B5m&speed=50|$T/5m.msgs|first=150" \
    "msgpack|/v2/sip?speed=max&from=%2B10m|$T/10m.msgs" \
    "json|/v2/iex?speed=max|$T/all.msgs" \
    "json|/v2/iex?speed=fast|-|error=invalid speed in URL: 'fast'" \
    "msgpack|/v2/iex?from=seq:x|-|error=invalid from in URL" \
    "json|/v2/iex?from=seq:999999|-|error=cannot replay from seq:999999" \
    >"$T/per.out" 2>"$T/per.err" || fail "per-client clients: $(cat "$T/per.err")"
cat "$T/per.out"
check "per-client: clients ok" "$(grep -c '^ok - client' "$T/per.out")" 7
grep -q "^ok - client 0 .*: 13966 quotes equal" "$T/per.out" || fail "seq:100 client"
grep -q "^ok - client 2 .*: $(wc -l <"$T/10m.msgs") quotes equal" "$T/per.out" ||
    fail "+10m msgpack client"
grep -q "^ok - client 3 .*: 14065 quotes equal" "$T/per.out" || fail "default-from client"
stop_srv
check "per-client: exit code" "$SRV_RC" 0
grep -q "serve: 5 per-client replay(s), 1 refused" "$T/per.log" ||
    fail "per-client summary: $(grep 'serve:' "$T/per.log" | tail -3)"
done_tests
