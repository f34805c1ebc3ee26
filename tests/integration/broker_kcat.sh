#!/usr/bin/env bash
# The embedded broker is a real Kafka protocol peer: kcat lists, produces to
# and consumes from it.
set -euo pipefail
. "$(dirname "$0")/lib.bash"

start_broker --partitions 2 --topic quotes --topic other:3
[[ "$BOOT" =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "bootstrap '$BOOT' is not a loopback address"
grep -qx "$BOOT" "$W/broker.out" || fail "broker printed its address on stdout"

kcat -b "$BOOT" -L > "$W/meta.txt"
grep -q 'topic "quotes" with 2 partitions' "$W/meta.txt" || fail "quotes has 2 partitions: $(cat "$W/meta.txt")"
grep -q 'topic "other" with 3 partitions' "$W/meta.txt" || fail "other has 3 partitions"

# produce 200 keyed messages, consume them back: count, keys, per-key order
for i in $(seq 1 200); do printf 'SYM%d\tvalue-%03d\n' $((i % 4)) "$i"; done > "$W/in.txt"
kcat -b "$BOOT" -P -t quotes -K '\t' -l "$W/in.txt"
kcat -b "$BOOT" -C -t quotes -e -q -f '%k\t%s\n' > "$W/out.txt"
expect_eq "$(wc -l < "$W/out.txt")" 200 "messages consumed"
for k in SYM0 SYM1 SYM2 SYM3; do
  cmp <(grep "^$k	" "$W/in.txt") <(grep "^$k	" "$W/out.txt") || fail "order of key $k"
done
# one key always lands on one partition
kcat -b "$BOOT" -C -t quotes -e -q -f '%k %p\n' | sort -u | awk '{print $1}' | uniq -d > "$W/dup.txt"
[ ! -s "$W/dup.txt" ] || fail "a key spread over partitions: $(cat "$W/dup.txt")"

# SIGTERM stops it cleanly and removes the bootstrap file
kill -TERM "${QT_PIDS[0]}"
wait "${QT_PIDS[0]}" || fail "broker exit code on SIGTERM"
QT_PIDS=()
[ ! -e "$W/boot" ] || fail "bootstrap file left behind"

expect_fail 64 "$W/err.txt" "$QT" broker --partitions 0
grep -q -- "--partitions takes 1..1000" "$W/err.txt" || fail "bad --partitions message"
pass
