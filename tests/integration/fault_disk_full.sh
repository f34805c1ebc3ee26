#!/bin/bash
# Fault injection: a full disk under the tape (a small tmpfs).
#  - import: a second import into a tape that has room for one fails with
#    "disk full", exit 74; the tape passes integrity_check and still holds
#    exactly the first import.
#  - record (with Kafka): the recorder stops by itself with "disk full",
#    exit 74; the tape passes integrity_check and is a prefix of what the
#    server sent (a rolled-back batch leaves no hole, nothing is appended
#    after the failure); the summary counts what is in the tape; Kafka holds
#    exactly the tape's quotes (the lost batch was never produced). Given
#    room again, a restarted recorder carries on and Kafka still equals the
#    tape.
# Regression test for: a batch rolled back by SQLite (SQLITE_FULL) left the
# tape thinking a transaction was open ("cannot commit - no transaction is
# active"), quotes received after the failure were committed one by one
# behind a hole, and the summary counted the lost batch as recorded. Also
# pins --max-quotes N recording exactly N (it recorded N+1 when another
# frame was already buffered).
# Not root: run in a user and mount namespace of our own, where mounting a
# tmpfs is allowed (Linux); the test fails loudly if neither works.
if [ "$(id -u)" != 0 ] && [ -z "${QT_FAULT_USERNS:-}" ] && unshare -rm true 2>/dev/null; then
    QT_FAULT_USERNS=1 exec unshare -rm bash "$0" "$@"
fi
source "$(dirname "$0")/record_lib.bash"

MNTS=()
fault_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    for m in "${MNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
    cleanup
}
trap fault_cleanup EXIT

# small_fs DIR SIZE: a tmpfs of SIZE at DIR
small_fs() {
    mkdir -p "$1"
    mount -t tmpfs -o "size=$2" tmpfs "$1" ||
        fail "cannot mount a tmpfs at $1 (this test needs root and mount(2))"
    MNTS+=("$1")
}
integrity() { sqlite3 "$1" 'PRAGMA integrity_check' 2>&1; }

# ---- import -------------------------------------------------------------------
FX=$QT_FIXTURES/spy-30m.jsonl
N=$(wc -l <"$FX")
small_fs "$T/imp" 5m
"$QT" import -q "$FX" --db "$T/imp/t.db" 2>"$T/imp1.log" || fail "first import: $(cat "$T/imp1.log")"
for i in 2 3; do
    rc=0
    "$QT" import -q "$FX" --db "$T/imp/t.db" 2>"$T/imp$i.log" || rc=$?
    [ "$rc" = 74 ] || fail "import $i into a full disk: exit $rc, want 74"
    grep -q "^quotetape: error: cannot write tape '$T/imp/t.db': disk full$" "$T/imp$i.log" ||
        fail "import $i: no clear error: $(cat "$T/imp$i.log")"
    [ "$(integrity "$T/imp/t.db")" = ok ] || fail "integrity_check after import $i"
done
ok "import into a full disk: exit 74, 'disk full', twice; integrity_check ok"
"$QT" export --db "$T/imp/t.db" >"$T/imp.out" || fail "export after disk full"
cmp -s "$T/imp.out" "$FX" || fail "tape after disk full is not the first import ($(wc -l <"$T/imp.out") of $N)"
ok "the tape holds exactly the committed first import ($N quotes), nothing of the failed ones"

# ---- record ---------------------------------------------------------------------
start_broker
# 16 MiB, of which a filler file takes 14: removing it later makes room
small_fs "$T/rec" 16m
dd if=/dev/zero of="$T/rec/filler" bs=1M count=14 status=none || fail "cannot write the filler"
start_server d --count 200000 --rate 20000 --per-frame 20
t0=$(date +%s%N)
record_bg "$T/rec/r.db" -b "$BOOT"
for ((i = 0; i < 200; i++)); do
    kill -0 "$REC_PID" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$REC_PID" 2>/dev/null && fail "recorder still running 20 s into a full disk"
wait "$REC_PID"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 74 ] || fail "recorder on a full disk: exit $rc, want 74"
grep -q "^quotetape: error: cannot write tape '$T/rec/r.db': disk full$" "$T/rec.log" ||
    fail "recorder: no clear error"
grep -q "no transaction is active" "$T/rec.log" && fail "recorder reports a stale transaction"
ok "recorder on a full disk stops by itself after $ms ms: exit 74, 'disk full'"
[ "$(integrity "$T/rec/r.db")" = ok ] || fail "integrity_check after the recorder hit disk full"
got=$(tape_count "$T/rec/r.db")
[ "$got" -gt 0 ] || fail "nothing committed before the disk filled"
"$QT_BIN/qt_testalpaca" dump "$T/rec/r.db" | cut -f3 >"$T/rec.raw"
head -n "$got" "$T/d.sent" | cmp -s - "$T/rec.raw" || {
    diff <(head -n "$got" "$T/d.sent") "$T/rec.raw" | head -4 >&2
    fail "the tape is not a prefix of what the server sent"
}
ok "tape passes integrity_check and is a prefix of the sent stream ($got of $(wc -l <"$T/d.sent"))"
grep -q "recorded $got quote(s)" "$T/rec.log" ||
    fail "summary does not count what is in the tape ($got): $(grep 'recorded' "$T/rec.log")"
ok "summary says recorded $got, as the tape holds"
check_kafka_is_tape "$T/rec/r.db"

# room again: the restarted recorder carries on, Kafka follows the tape
rm -f "$T/rec/filler"
record_bg "$T/rec/r.db" -b "$BOOT" --max-quotes 3000
wait "$REC_PID"
rc=$?
[ "$rc" = 0 ] || fail "restarted recorder: exit $rc"
[ "$(integrity "$T/rec/r.db")" = ok ] || fail "integrity_check after the restart"
[ "$(tape_count "$T/rec/r.db")" = $((got + 3000)) ] || fail "restart: $(tape_count "$T/rec/r.db") quotes"
check_kafka_is_tape "$T/rec/r.db"
ok "with room again the recorder carries on: $((got + 3000)) quotes, Kafka equals the tape"
echo "fault_disk_full: all passed"
