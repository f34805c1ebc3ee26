#!/usr/bin/env bash
# Fan-out of `quotetape replay --serve`: 100 clients on a 100x replay of the
# SPY fixture (its first 10 minutes), against the same stream to one client.
# The real command serves the tape (shared clock, --wait-clients so every
# client has the whole stream) with --timestamps wall, so each quote's "t"
# is its send time and the clients measure lag as arrival minus send.
# Clients are qt_aclient (one process, one thread, all connections), on the
# same machine, so client parsing shares the CPU. Also the most the server
# delivers when the stream comes as fast as it can (bench_serve, in-process
# publisher).
set -euo pipefail
B=${1:?build dir}
FIX=$(cd "$(dirname "$0")/.." && pwd)/fixtures/spy-30m.jsonl
T=$(mktemp -d)
SRV=
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; rm -rf "$T"' EXIT
val() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$2"; }

"$B/quotetape" import -q "$FIX" --db "$T/spy.db"
N=$("$B/quotetape" export --db "$T/spy.db" --to +10m | wc -l)

# serve CLIENTS: one replay --serve run with CLIENTS qt_aclient connections
serve() {
    local n=$1 port=
    "$B/quotetape" replay --db "$T/spy.db" --to +10m --speed 100 --timestamps wall \
        --serve 127.0.0.1:0 --wait-clients "$n" 2>"$T/srv.log" &
    SRV=$!
    for _ in $(seq 100); do
        port=$(sed -n 's#.*serve: listening on ws://127.0.0.1:\([0-9]*\)/.*#\1#p' "$T/srv.log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "replay --serve did not start: $(cat "$T/srv.log")" >&2; exit 1; }
    "$B/qt_aclient" --url "ws://127.0.0.1:$port/v2/iex" --clients "$n" --quotes '*' \
        --expect "$N" --timeout 60000 --quiet | tail -1
    kill -INT "$SRV"
    wait "$SRV" || { echo "replay --serve failed: $(tail -3 "$T/srv.log")" >&2; exit 1; }
    SRV=
}

many=$(serve 100)
one=$(serve 1)
manymax=$("$B/bench_serve" --aclient "$B/qt_aclient" --tape "$FIX" --clients 100 --speed 0)
onemax=$("$B/bench_serve" --aclient "$B/qt_aclient" --tape "$FIX" --clients 1 --speed 0)
echo "bench serve (replay --serve, 100 clients): $many" >&2
echo "bench serve (replay --serve, 1 client): $one" >&2
echo "bench serve (max speed, 100 clients): $manymax" >&2
echo "bench serve (max speed, 1 client): $onemax" >&2
[ "$(val complete "$many")" = 100 ] || { echo "not every client got the whole stream: $many" >&2; exit 1; }
[ "$(val complete "$one")" = 1 ] || { echo "the client did not get the whole stream: $one" >&2; exit 1; }

awk -v mr="$(val rate "$many")" -v or="$(val rate "$one")" \
    -v ml="$(val client_p99_max_us "$many")" -v ol="$(val client_p99_max_us "$one")" \
    -v xr="$(val rate "$manymax")" -v yr="$(val rate "$onemax")" 'BEGIN {
  printf "| serve: replay --serve, 100 clients, 100x, delivered msg/s | %.0f | %.0f (1 client) | %.1fx | 100x (every client keeps up) |\n", mr, or, mr / or
  printf "| serve: replay --serve, 100 clients, 100x, worst per-client p99 lag | %.1f ms | %.1f ms (1 client) | %.1fx | < 50 ms |\n", ml / 1000, ol / 1000, ml / (ol > 0 ? ol : 1)
  printf "| serve: 100 clients, max speed, delivered msg/s | %.0f | %.0f (1 client) | %.1fx | > 1x |\n", xr, yr, xr / yr
}'
