#!/usr/bin/env bash
# replay when things go wrong: an unreachable broker (clear error within a
# bound, non-zero exit, nothing delivered), a broker that dies mid-replay (bounded
# failure, how many were delivered, the --from that resumes), a locked tape.
# Also --max-gap end to end.
. "$(dirname "$0")/replay_common.bash"
make_spy_tape
DB=$T/spy.db

# ---- unreachable broker ----------------------------------------------------
# unreachable NAME SPEED: replays into a port nobody listens on; checks the
# exit code, the error and the bound; leaves the stderr in $T/NAME.err
unreachable() {
    local start rc ms
    start=$(date +%s%N)
    "$QT" replay --db "$DB" --speed "$2" -b 127.0.0.1:1 --topic q > /dev/null 2> "$T/$1.err"
    rc=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    check "unreachable broker ($1): exit code" "$rc" 69
    grep -q "error: cannot reach Kafka at '127.0.0.1:1' within 5000 ms (.*); nothing was delivered" "$T/$1.err" ||
        fail "unreachable broker ($1) message: $(cat "$T/$1.err")"
    CHECKS=$((CHECKS + 1))
    [ "$ms" -lt 8000 ] || fail "unreachable broker ($1) took $ms ms"
}
unreachable max max
# the queued quotes all failed, and the resume position is the first quote
grep -q "^quotetape: replay failed: sent [1-9][0-9]*, delivered 0, failed [1-9][0-9]*" "$T/max.err" ||
    fail "unreachable broker summary: $(cat "$T/max.err")"
CHECKS=$((CHECKS + 1))
check "unreachable broker: resume at the first quote" \
    "$(sed -n 's/^quotetape: resume with: --from //p' "$T/max.err")" \
    "seq:$("$QT" export --db "$DB" --format csv | awk -F, 'NR == 2 { print $1 }')"
# a paced replay gives up on the same bound, also on a sparse stretch: at
# 1/10000 speed the second quote is due 9 minutes after the first
unreachable paced 1
unreachable sparse 0.0001

# ---- the broker dies mid-replay ------------------------------------------------
start_broker
"$QT" replay --db "$DB" --from +60s --to +240s --speed 20 -b "$BOOT" --topic dies \
    -X message.timeout.ms=2000 > /dev/null 2> "$T/dies.err" &
pid=$!
sleep 1.5
kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null; BROKER_PID=
start=$(date +%s%N)
wait $pid
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
CHECKS=$((CHECKS + 1))
[ "$rc" -ne 0 ] && [ "$rc" -ne 130 ] || fail "broker died: exit $rc"
CHECKS=$((CHECKS + 1))
[ "$ms" -lt 10000 ] || fail "broker died: took $ms ms to give up"
line=$(grep '^quotetape: replay failed: sent' "$T/dies.err")
delivered=$(echo "$line" | sed -n 's/.* delivered \([0-9]*\), failed \([0-9]*\),.*/\1/p')
failed=$(echo "$line" | sed -n 's/.* delivered \([0-9]*\), failed \([0-9]*\),.*/\2/p')
CHECKS=$((CHECKS + 1))
[ -n "$delivered" ] && [ "$delivered" -gt 0 ] && [ "${failed:-0}" -gt 0 ] ||
    fail "broker died: summary lacks delivered/failed counts: $(cat "$T/dies.err")"
# one symbol, one partition, in order: the delivered quotes are a prefix, so
# the resume position is the first quote after them
first=$("$QT" export --db "$DB" --from +60s --format csv | awk -F, 'NR == 2 { print $1 }')
check "broker died: resume right after the delivered prefix" \
    "$(sed -n 's/^quotetape: resume with: --from //p' "$T/dies.err")" "seq:$((first + delivered))"

# ---- a locked tape ----------------------------------------------------------------
cp "$DB" "$T/lock.db"
(echo "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; SELECT count(*) FROM quotes;"; sleep 8) |
    sqlite3 "$T/lock.db" > /dev/null &
lockpid=$!
sleep 0.5
"$QT" replay --db "$T/lock.db" --speed max --stdout > "$T/lock.out" 2> "$T/lock.err"
check "locked tape: exit code" "$?" 75
grep -q "tape '$T/lock.db' is locked by another process" "$T/lock.err" || fail "locked: $(cat "$T/lock.err")"
check "locked tape: nothing on stdout" "$(wc -c < "$T/lock.out")" 0
kill $lockpid 2>/dev/null; wait $lockpid 2>/dev/null

# ---- --max-gap: a 30-minute silence at 1x ------------------------------------------------
"$QT" import -q <(sed -n '1,3p' "$QT_FIXTURES/spy-30m.jsonl"; sed -n '14063,14065p' "$QT_FIXTURES/spy-30m.jsonl") \
    --db "$T/gap.db" || fail "import gap tape"
start=$(date +%s%N)
"$QT" replay -q --db "$T/gap.db" --max-gap 500ms --stdout > "$T/gap.out" || fail "max-gap exit $?"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "max-gap: all sent" "$(wc -l < "$T/gap.out")" 6
CHECKS=$((CHECKS + 1))
# two ~70 ms spans of tape plus the capped 500 ms silence
[ "$ms" -ge 500 ] && [ "$ms" -lt 1500 ] || fail "max-gap 500ms: took $ms ms"

done_tests
