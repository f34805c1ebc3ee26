# quotetape window on the embedded broker, with kcat as the outside client:
# exact window rows (values, keys, timestamps), late records counted,
# --idle-flush, SIGTERM, usage errors.
set -eu
: "${QT:?}"
d=$(mktemp -d)
bpid=
cleanup() {
    [ -n "$bpid" ] && kill "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
    rm -rf "$d"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$QT" broker --topic quotes:1 --topic quotes.w5s:1 --topic idle.w:1 \
    --bootstrap-file "$d/boot" >/dev/null 2>"$d/broker.err" &
bpid=$!
for _ in $(seq 100); do [ -s "$d/boot" ] && break; sleep 0.1; done
B=$(cat "$d/boot")
[ -n "$B" ] || fail "broker did not start"

# 5 s windows, 1 s lateness, event time from the quote's t.
# 14:30:00Z on 2024-03-05 is 1709649000000 ms.
q() { # symbol, second.millis, bid (ask = bid + 1)
    printf '%s|{"T":"q","S":"%s","bx":"V","bp":%s,"bs":1,"ax":"V","ap":%s,"as":1,"c":["R"],"z":"B","t":"2024-03-05T14:30:%sZ"}\n' \
        "$1" "$1" "$3" "$(($3 + 1))" "$2"
}
{
    q SPY 00.000 1      # window start
    q SPY 00.500 3
    q SPY 04.999 2      # end - 1 ms
    q QQQ 01.000 10
    q SPY 05.000 4      # exactly at end: next window
    q SPY 06.000 5      # watermark 05.000 >= 04.999: [00,05) fires
    q SPY 03.000 99     # late: its window has fired
} > "$d/in.txt"
kcat -b "$B" -P -t quotes -K '|' < "$d/in.txt"

"$QT" window -b "$B" --time-field t --exit 2>"$d/w.err" || fail "window failed: $(cat "$d/w.err")"
grep -q "7 quote(s) read, 6 in windows, 1 late, 0 unreadable; 3 window(s) written to 'quotes.w5s'" "$d/w.err" ||
    fail "summary: $(cat "$d/w.err")"

kcat -b "$B" -C -t quotes.w5s -e -q -f '%k %T %s\n' > "$d/out.txt"
cat > "$d/want.txt" <<'EOF'
QQQ 1709649004999 {"symbol":"QQQ","window_start":1709649000000,"window_end":1709649005000,"price":10,"count":1,"bid_open":10,"bid_high":10,"bid_low":10,"bid_close":10,"ask_avg":11}
SPY 1709649004999 {"symbol":"SPY","window_start":1709649000000,"window_end":1709649005000,"price":2,"count":3,"bid_open":1,"bid_high":3,"bid_low":1,"bid_close":2,"ask_avg":3}
SPY 1709649009999 {"symbol":"SPY","window_start":1709649005000,"window_end":1709649010000,"price":4.5,"count":2,"bid_open":4,"bid_high":5,"bid_low":4,"bid_close":5,"ask_avg":5.5}
EOF
diff -u "$d/want.txt" "$d/out.txt" || fail "window rows differ"

# Running again resumes from the committed position: nothing new to do.
"$QT" window -b "$B" --time-field t --exit 2>"$d/w2.err" || fail "second run failed"
grep -q "0 quote(s) read" "$d/w2.err" || fail "did not resume: $(cat "$d/w2.err")"

# --idle-flush: without --exit the open window is emitted after 300 ms idle.
"$QT" window -b "$B" --time-field t --from beginning --out-topic idle.w --group idle \
    --idle-flush 300ms 2>"$d/idle.err" &
wpid=$!
n=0
for _ in $(seq 100); do
    n=$(kcat -b "$B" -C -t idle.w -e -q -f '%k\n' 2>/dev/null | wc -l)
    [ "$n" -ge 3 ] && break
    sleep 0.1
done
kill -TERM "$wpid"
wait "$wpid" || fail "window did not stop cleanly on SIGTERM (exit $?)"
[ "$n" -eq 3 ] || fail "idle flush: $n windows"

# Usage and errors.
set +e
"$QT" window -b "$B" --size 0 2>"$d/e1"; rc=$?
[ $rc -eq 64 ] && grep -q "size" "$d/e1" || fail "--size 0: rc=$rc $(cat "$d/e1")"
"$QT" window -b "$B" --time-field x 2>"$d/e2"; rc=$?
[ $rc -eq 64 ] || fail "--time-field x: rc=$rc"
"$QT" window -b "$B" --topic quotes --out-topic quotes 2>"$d/e3"; rc=$?
[ $rc -eq 64 ] && grep -q "must differ" "$d/e3" || fail "same topics: rc=$rc"
env -u QUOTETAPE_BROKERS "$QT" window --exit 2>"$d/e4"; rc=$?
[ $rc -eq 64 ] && grep -q "no Kafka brokers" "$d/e4" || fail "no brokers: rc=$rc $(cat "$d/e4")"
"$QT" window --help | grep -q "example:" || fail "help"
set -e
echo "window_cli: ok"
