#!/usr/bin/env bash
# Fan-out of the local Alpaca-compatible server (core/aserver): 100 clients
# on a 100x replay of the SPY fixture (its first 10 minutes), against the
# same stream to one client. Also the most it delivers when the replay runs
# as fast as it can. Clients are qt_aclient (one process, one thread, all
# connections), on the same machine, so client parsing shares the CPU.
set -euo pipefail
B=${1:?build dir}
TAPE=$(cd "$(dirname "$0")/.." && pwd)/fixtures/spy-30m.jsonl
run() { "$B/bench_serve" --aclient "$B/qt_aclient" --tape "$TAPE" "$@"; }
val() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$2"; }

many=$(run --clients 100 --speed 100 --tape-secs 600)
one=$(run --clients 1 --speed 100 --tape-secs 600)
manymax=$(run --clients 100 --speed 0)
onemax=$(run --clients 1 --speed 0)
echo "bench serve: $many" >&2
echo "bench serve: $one" >&2
echo "bench serve: $manymax" >&2
echo "bench serve: $onemax" >&2
[ "$(val complete "$many")" = 100 ] || { echo "not every client got the whole stream: $many" >&2; exit 1; }

awk -v mr="$(val rate "$many")" -v or="$(val rate "$one")" \
    -v ml="$(val client_p99_max_us "$many")" -v ol="$(val client_p99_max_us "$one")" \
    -v xr="$(val rate "$manymax")" -v yr="$(val rate "$onemax")" 'BEGIN {
  printf "| serve: 100 clients, 100x replay, delivered msg/s | %.0f | %.0f (1 client) | %.1fx | 100x (every client keeps up) |\n", mr, or, mr / or
  printf "| serve: 100 clients, 100x replay, worst per-client p99 lag | %.1f ms | %.1f ms (1 client) | %.1fx | < 50 ms |\n", ml / 1000, ol / 1000, ml / ol
  printf "| serve: 100 clients, max speed, delivered msg/s | %.0f | %.0f (1 client) | %.1fx | > 1x |\n", xr, yr, xr / yr
}'
