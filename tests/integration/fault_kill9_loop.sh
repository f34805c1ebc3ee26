#!/bin/bash
# Fault injection: `quotetape record` (with Kafka) killed with SIGKILL at
# random points, 20 times in a row, each time restarted on the same tape:
#  - after every kill the tape passes PRAGMA integrity_check;
#  - after every kill the tape is the server's sent stream with at most one
#    contiguous run missing at each kill point (the uncommitted batch plus
#    what was on the socket), never a reordering or a duplicate, and what
#    was committed before is unchanged;
#  - at the end `quotetape sync` leaves Kafka equal to the tape (no gap, no
#    duplicate), even though the last recorder died with deliveries not yet
#    marked in the tape.
# The delays come from $RANDOM seeded with QT_FAULT_SEED (printed), so a
# failing run can be repeated.
source "$(dirname "$0")/record_lib.bash"
SEED=${QT_FAULT_SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$SEED
echo "# seed $SEED (QT_FAULT_SEED=$SEED repeats this run)"
ROUNDS=${QT_FAULT_ROUNDS:-20}

start_broker
# 5000 quotes/s keeps the topic well under the embedded broker's 5 MiB per
# partition over the whole run
start_server k --count 5000000 --rate 5000 --per-frame 10
DB=$T/k.db
KILLS=()

# check_tape: the tape is the sent stream minus at most one contiguous run
# starting at each kill point, where a kill point is the tape's length right
# after that kill. A run is at most the documented 5,000 uncommitted rows
# plus what was in flight on the socket (allowed: 3,000 quotes, 600 ms at
# this server's rate).
check_tape() {
    "$QT_BIN/qt_testalpaca" dump "$DB" | cut -f3 >"$T/tape.raw"
    python3 - "$T/k.sent" "$T/tape.raw" "${KILLS[@]}" <<'PY'
import sys
sent = open(sys.argv[1]).read().splitlines()
tape = open(sys.argv[2]).read().splitlines()
kills = set(int(x) for x in sys.argv[3:])
if len(set(tape)) != len(tape):
    sys.exit("duplicate quotes in the tape")
i = j = 0
runs = []
while j < len(tape):
    if i >= len(sent):
        sys.exit("tape row %d was never sent (or is out of order)" % (j + 1))
    if sent[i] == tape[j]:
        i += 1; j += 1
        continue
    if j not in kills or any(r[0] == j for r in runs):
        sys.exit("tape row %d differs from sent line %d, and no kill happened there"
                 % (j + 1, i + 1))
    k = i
    while k < len(sent) and sent[k] != tape[j]:
        k += 1
    if k == len(sent):
        sys.exit("tape row %d is not in the sent stream after line %d" % (j + 1, i + 1))
    runs.append((j, k - i))
    i = k
tail = len(sent) - i
if tail and len(tape) not in kills:
    sys.exit("%d sent quotes missing at the end, not at a kill point" % tail)
if tail:
    runs.append((len(tape), tail))
big = [r for r in runs if r[1] > 8000]
if big:
    sys.exit("a run of %d quotes missing at tape row %d (bound: 5000 uncommitted + 3000 in flight)"
             % (big[0][1], big[0][0]))
print("%d %d %d" % (len(tape), len(runs), sum(r[1] for r in runs)))
PY
}

prev=0
t0=$(date +%s%N)
for ((round = 1; round <= ROUNDS; round++)); do
    delay=$((50 + RANDOM % 950))
    record_bg "$DB" -b "$BOOT"
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    kill -KILL "$REC_PID" 2>/dev/null
    wait "$REC_PID" 2>/dev/null
    r=$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1)
    [ "$r" = ok ] || fail "round $round (kill after $delay ms): integrity_check: $r"
    # what earlier rounds committed is still there, unchanged
    if [ "$prev" -gt 0 ]; then
        head -n "$prev" "$T/tape.raw" >"$T/prev.raw"
    fi
    n=$(tape_count "$DB")
    [ "$n" -ge "$prev" ] || fail "round $round: the tape shrank from $prev to $n"
    KILLS+=("$n")
    res=$(check_tape) || fail "round $round (kill after $delay ms): $res"
    if [ "$prev" -gt 0 ]; then
        head -n "$prev" "$T/tape.raw" | cmp -s - "$T/prev.raw" ||
            fail "round $round: rows committed before changed"
    fi
    echo "# round $round: killed after $delay ms; tape $n quotes, missing runs/quotes: ${res#* }"
    prev=$n
done
ms=$((($(date +%s%N) - t0) / 1000000))
read -r n runs missing <<<"$res"
[ "$n" -gt 0 ] || fail "nothing recorded in $ROUNDS rounds"
ok "$ROUNDS SIGKILLs at random points in $ms ms: integrity_check ok every time; tape = sent minus $missing quotes in $runs run(s), each at a kill point"

"$QT" sync --db "$DB" -b "$BOOT" 2>"$T/sync.log" || fail "sync failed: $(cat "$T/sync.log")"
[ "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check after sync"
check_kafka_is_tape "$DB"
kafka_n=$(wc -l <"$T/kafka.sorted")
[ "$(sort -u "$T/kafka.sorted" | wc -l)" = "$kafka_n" ] || fail "duplicates in kafka"
ok "after sync Kafka holds each of the tape's $n quotes exactly once ($(grep -o '[0-9]* quote(s) produced' "$T/sync.log"))"
echo "fault_kill9_loop: all passed"
