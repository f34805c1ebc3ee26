#!/bin/bash
# Fault injection: the Kafka broker going away under `quotetape replay`.
#  1. down and back up mid-replay (the embedded broker's broker-down control):
#     the replay finishes, exit 0, and the topic holds exactly the tape's
#     quotes, once each, in tape order (idempotent producer: no duplicate from
#     the retries, no gap).
#  2. down and never back: the replay gives up within a bound, exit 69, says
#     how many were delivered and where to resume; the topic holds exactly
#     that delivered prefix, and resuming from the printed --from once the
#     broker is back makes the topic equal to the tape.
source "$(dirname "$0")/record_lib.bash"

"$QT" import -q "$QT_FIXTURES/spy-30m.jsonl" --db "$T/spy.db" || fail "import"
N=$(wc -l <"$QT_FIXTURES/spy-30m.jsonl")
# the tape's msg values, in tape order: what a consumer must see
"$QT" export --db "$T/spy.db" | sed 's/^{\("recv":"[^"]*",\)\{0,1\}"msg"://; s/}$//' >"$T/tape.msgs"
[ "$(wc -l <"$T/tape.msgs")" = "$N" ] || fail "export gave $(wc -l <"$T/tape.msgs") of $N"

# wait_delivered N: until the topic holds at least N messages (so an outage
# lands mid-replay however slow the machine is), at most 10 s.
wait_delivered() {
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(kcat -C -b "$BOOT" -t quotes -e -q -f '.\n' 2>/dev/null | wc -l)" -ge "$1" ] && return 0
        sleep 0.1
    done
    fail "replay delivered fewer than $1 quotes in 10 s"
}

# start_ctl_broker NAME: qt_testalpaca's embedded broker that SIGUSR1 takes
# down and SIGUSR2 brings back; sets BOOT and BPID.
start_ctl_broker() {
    "$QT_BIN/qt_testalpaca" broker "$T/$1.boot" 2>"$T/$1.broker.log" &
    BPID=$!
    PIDS+=($BPID)
    wait_file "$T/$1.boot"
    BOOT=$(cat "$T/$1.boot")
}
topic_msgs() { kcat -C -b "$BOOT" -t "$1" -e -q -f '%s\n' 2>/dev/null; }
# topic_kv TOPIC: key<TAB>value per message (one kcat run: each costs ~1.5 s)
topic_kv() { kcat -C -b "$BOOT" -t "$1" -e -q -f '%k\t%s\n' 2>/dev/null; }
elapsed_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

# ---- 1. down 1 s in the middle of a replay, then up ---------------------------
# 30 minutes of tape at 900x: ~2 s; down at 0.6 s (about a third in)
start_ctl_broker du
"$QT" replay --db "$T/spy.db" -b "$BOOT" --topic quotes --speed 900 2>"$T/du.rep.log" &
RP=$!
PIDS+=($RP)
wait_delivered 300
kill -0 $RP 2>/dev/null || fail "replay ended before the outage"
kill -USR1 $BPID
sleep 1
kill -0 $RP 2>/dev/null || fail "replay ended during the outage: $(cat "$T/du.rep.log")"
kill -USR2 $BPID
t0=$(date +%s%N)
wait $RP
rc=$?
[ "$rc" = 0 ] || fail "replay across an outage: exit $rc"
ms=$(elapsed_ms "$t0")
[ "$ms" -lt 20000 ] || fail "replay took $ms ms after the broker came back"
grep -q "broker down" "$T/du.broker.log" && grep -q "broker up" "$T/du.broker.log" ||
    fail "broker was not taken down and up"
grep -q "delivered $N, failed 0" "$T/du.rep.log" || fail "replay summary: $(grep -v kafka: "$T/du.rep.log")"
ok "replay across a 1 s broker outage: exit 0, delivered $N, failed 0"
topic_kv quotes >"$T/du.kv"
cut -f2- "$T/du.kv" >"$T/du.topic"
cmp -s "$T/du.topic" "$T/tape.msgs" || {
    diff "$T/du.topic" "$T/tape.msgs" | head -5 >&2
    fail "topic differs from the tape ($(wc -l <"$T/du.topic") vs $N)"
}
# (the fixture itself repeats 11 quotes on purpose, so "once each" is the
# line-for-line equality above, not uniqueness of values)
ok "topic holds exactly the tape's $N quotes, once each, in order"
[ "$(cut -f1 "$T/du.kv" | sort -u)" = SPY ] || fail "keys: $(cut -f1 "$T/du.kv" | sort -u | head -3)"
kill $BPID
wait $BPID 2>/dev/null

# ---- 2. down and never back ------------------------------------------------------
start_ctl_broker nb
"$QT" replay --db "$T/spy.db" -b "$BOOT" --topic quotes --speed 300 \
    -X message.timeout.ms=2000 2>"$T/nb.rep.log" &
RP=$!
PIDS+=($RP)
wait_delivered 300
kill -0 $RP 2>/dev/null || fail "replay ended before the outage"
kill -USR1 $BPID
t0=$(date +%s%N)
wait $RP
rc=$?
ms=$(elapsed_ms "$t0")
[ "$rc" = 69 ] || fail "broker gone for good: exit $rc, want 69: $(grep -v kafka: "$T/nb.rep.log")"
# the rest of the pacing (~1.5 s), then message.timeout.ms (2 s) and the flush
[ "$ms" -lt 15000 ] || fail "broker gone for good: took $ms ms to give up"
# the give-up comes while pacing ("no delivery confirmation") or at the
# final flush ("N message(s) not delivered"), depending on the machine's pace
grep -Eq "^quotetape: error: ([0-9]* message\(s\) not delivered: |no delivery confirmation from Kafka for [0-9]+ ms)" "$T/nb.rep.log" ||
    fail "no clear error: $(grep -v kafka: "$T/nb.rep.log")"
line=$(grep '^quotetape: replay failed: sent' "$T/nb.rep.log")
delivered=$(echo "$line" | sed -n 's/.* delivered \([0-9]*\), failed \([0-9]*\),.*/\1/p')
failed=$(echo "$line" | sed -n 's/.* delivered \([0-9]*\), failed \([0-9]*\),.*/\2/p')
[ -n "$delivered" ] && [ "$delivered" -gt 0 ] && [ "${failed:-0}" -gt 0 ] ||
    fail "summary lacks delivered/failed counts: $(grep -v kafka: "$T/nb.rep.log")"
resume=$(sed -n 's/^quotetape: resume with: --from //p' "$T/nb.rep.log")
[ "$resume" = "seq:$((delivered + 1))" ] || fail "resume '$resume' after $delivered delivered"
ok "broker never back: exit 69 after $ms ms; delivered $delivered, failed $failed, resume $resume"

# what was reported delivered is in the topic, and nothing else
kill -USR2 $BPID
sleep 0.5
topic_msgs quotes >"$T/nb.topic"
head -n "$delivered" "$T/tape.msgs" | cmp -s - "$T/nb.topic" ||
    fail "topic is not the $delivered delivered quotes ($(wc -l <"$T/nb.topic") in it)"
ok "topic holds exactly the $delivered quotes reported delivered"
"$QT" replay -q --db "$T/spy.db" --from "$resume" -b "$BOOT" --topic quotes --speed max \
    2>"$T/nb.resume.log" || fail "resumed replay: exit $?: $(cat "$T/nb.resume.log")"
topic_msgs quotes >"$T/nb.topic"
cmp -s "$T/nb.topic" "$T/tape.msgs" || fail "after resuming, topic differs from the tape"
ok "resumed with --from $resume: topic equals the tape, no gap, no duplicate"
echo "fault_broker_replay: all passed"
