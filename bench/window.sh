#!/usr/bin/env bash
# Windower throughput from the embedded broker (quotes/s), against kcat -C -e
# reading the same topic in the same run. Goal: ratio >= 0.5.
set -euo pipefail
B=$(cd "${1:?build dir}" && pwd)
QT="$B/quotetape"
N=${QT_BENCH_WINDOW_N:-200000}
W=$(mktemp -d /tmp/qt_bench_window.XXXXXX)
bpid=
cleanup() { [ -n "$bpid" ] && kill "$bpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

# 4 partitions keep each under the embedded broker's ~5 MiB per partition.
"$QT" broker --topic bench.q:4 --topic bench.w:1 --bootstrap-file "$W/boot" >/dev/null 2>&1 &
bpid=$!
for _ in $(seq 100); do [ -s "$W/boot" ] && break; sleep 0.1; done
BR=$(cat "$W/boot")

# N quotes of 8 symbols, 10 ms apart in event time (a busy feed), keyed by symbol.
python3 - "$N" > "$W/q.txt" <<'EOF'
import sys, datetime
n = int(sys.argv[1]); syms = ['SPY','QQQ','IWM','AAPL','MSFT','NVDA','AMZN','TSLA']
t0 = datetime.datetime(2026, 3, 2, 14, 30, tzinfo=datetime.timezone.utc).timestamp()
out = sys.stdout
for i in range(n):
    s = syms[i % 8]; ms = int(t0 * 1000) + i * 10
    ts = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')
    bp = 500 + (i * 7919 % 1000) / 100
    out.write('%s|{"T":"q","S":"%s","bx":"V","bp":%.2f,"bs":1,"ax":"V","ap":%.2f,"as":2,"c":["R"],"z":"B","t":"%s123Z"}\n'
              % (s, s, bp, bp + 0.02, ts))
EOF
kcat -b "$BR" -P -t bench.q -K '|' -z lz4 -X linger.ms=20 < "$W/q.txt"

now() { date +%s%N; }
# Warm both paths once (metadata, connections), then time them.
kcat -b "$BR" -C -t bench.q -e -q -o beginning -c 1 >/dev/null
t0=$(now)
got=$(kcat -b "$BR" -C -t bench.q -e -q -o beginning -f '%o\n' | wc -l)
t1=$(now)
"$QT" window -b "$BR" --topic bench.q --out-topic bench.w --time-field t --from beginning \
    --exit -q
t2=$(now)
[ "$got" -eq "$N" ] || { echo "kcat read $got of $N" >&2; exit 1; }
wins=$(kcat -b "$BR" -C -t bench.w -e -q -f '%o\n' | wc -l)
python3 - "$N" "$t0" "$t1" "$t2" "$wins" <<'EOF'
import sys
n, t0, t1, t2, wins = map(int, sys.argv[1:])
kc = n / ((t1 - t0) / 1e9); qt = n / ((t2 - t1) / 1e9)
print("| window: quotes/s (%d quotes, %d windows) | %.0f | kcat -C -e %.0f | %.2f | >= 0.5 |"
      % (n, wins, qt, kc, qt / kc))
EOF
