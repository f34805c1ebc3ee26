#!/bin/bash
# Fault injection: gnuplot dying mid-chart, through QUOTETAPE_GNUPLOT
# wrappers around the real gnuplot:
#  - kill: reads part of the script, hands it to the real gnuplot (which is
#    then mid-script, its output file open), SIGKILLs gnuplot and itself;
#  - cut: feeds only part of the script to the real gnuplot, which draws what
#    it got and exits 0 (a truncated script).
# `quotetape chart` and `quotetape view --png` exit 69 with an error naming
# gnuplot, within a few seconds, leave an existing output file untouched
# (same bytes) and no temporary file behind.
# Regression test for: a gnuplot that exited 0 before the end of its script
# (cut off) was taken as success, and its empty or half-drawn image replaced
# the existing output file.
source "$(dirname "$0")/record_lib.bash"

cat >"$T/gp-kill" <<'EOF'
#!/bin/bash
mkfifo "$GP_DIR/fifo.$$"
gnuplot <"$GP_DIR/fifo.$$" 2>/dev/null &
gp=$!
exec 3>"$GP_DIR/fifo.$$"
head -c "$GP_BYTES" >&3
sleep 0.3
kill -KILL $gp
wait $gp
rm -f "$GP_DIR/fifo.$$"
echo killed >>"$GP_DIR/gp.killed"
kill -KILL $$
EOF
cat >"$T/gp-cut" <<'EOF'
#!/bin/bash
head -c "$GP_BYTES" | gnuplot
exit 0
EOF
cat >"$T/gp-size" <<'EOF'
#!/bin/bash
wc -c >"$GP_DIR/gp.size"
EOF
chmod +x "$T"/gp-*
export GP_DIR=$T

# run_gp WRAPPER BYTES OUT CMD...: runs a chart/view command with the wrapper
# as gnuplot; wants exit 69, an error naming gnuplot, OUT unchanged.
run_gp() {
    local wrapper=$1 bytes=$2 out=$3 what
    shift 3
    what="$(basename "$wrapper") after $bytes bytes: $1"
    cp "$out" "$T/before"
    rm -f "$T/gp.killed"
    local t0 rc=0 ms
    t0=$(date +%s%N)
    GP_BYTES=$bytes QUOTETAPE_GNUPLOT=$wrapper timeout 30 "$QT" "$@" >/dev/null 2>"$T/gp.err" || rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ "$rc" = 69 ] || fail "$what: exit $rc, want 69: $(cat "$T/gp.err")"
    [ "$ms" -lt 10000 ] || fail "$what: took $ms ms"
    case $wrapper in
    *gp-kill)
        [ -s "$T/gp.killed" ] || fail "$what: the wrapper did not kill gnuplot"
        grep -q "^quotetape: error: gnuplot '$wrapper' was killed by signal 9$" "$T/gp.err" ||
            fail "$what: message: $(cat "$T/gp.err")"
        ;;
    *)
        grep -q "^quotetape: error: gnuplot '$wrapper' exited before the end of the script" "$T/gp.err" ||
            fail "$what: message: $(cat "$T/gp.err")"
        ;;
    esac
    cmp -s "$out" "$T/before" || fail "$what: the existing $(basename "$out") was changed"
    ls "$(dirname "$out")" | grep -q '\.tmp\.' && fail "$what: a temporary file was left behind"
    ok "$what: exit 69 in $ms ms, '$(sed 's/^quotetape: error: //' "$T/gp.err" | cut -c1-70)', $(basename "$out") untouched"
}

# ---- chart -----------------------------------------------------------------------
"$QT" import -q "$QT_FIXTURES/spy-30m.jsonl" --db "$T/spy.db" || fail "import"
mkdir "$T/out"
"$QT" chart -q --db "$T/spy.db" --out "$T/out/c.png" || fail "chart with the real gnuplot"
"$QT" chart -q --db "$T/spy.db" --out "$T/out/c.svg" || fail "chart svg with the real gnuplot"
[ "$(head -c 4 "$T/out/c.png" | od -An -c | tr -d ' ')" = 211PNG ] || fail "c.png is not a PNG"
# script_size DIR CMD...: bytes of the script CMD sends to gnuplot; a
# gnuplot that reads it all but never runs it is an error too
script_size() {
    local rc=0 dir=$1
    shift
    QUOTETAPE_GNUPLOT=$T/gp-size "$QT" "$@" 2>/dev/null || rc=$?
    [ "$rc" = 69 ] || fail "a gnuplot that only reads the script: exit $rc"
    ls "$dir" | grep -q '\.tmp\.' && fail "temporary file left behind"
    cat "$T/gp.size"
}
size=$(script_size "$T/out" chart -q --db "$T/spy.db" --out "$T/out/x.png")
[ "$size" -gt 2000 ] || fail "script size $size"
# cut points: in the set-up, in the data, after the plots (output file open)
for bytes in 200 $((size / 2)) $((size - 60)); do
    run_gp "$T/gp-kill" "$bytes" "$T/out/c.png" chart --db "$T/spy.db" --out "$T/out/c.png"
    run_gp "$T/gp-cut" "$bytes" "$T/out/c.png" chart --db "$T/spy.db" --out "$T/out/c.png"
done
size=$(script_size "$T/out" chart -q --db "$T/spy.db" --out "$T/out/x.svg")
run_gp "$T/gp-cut" $((size - 60)) "$T/out/c.svg" chart --db "$T/spy.db" --out "$T/out/c.svg"
run_gp "$T/gp-kill" $((size / 2)) "$T/out/c.svg" chart --db "$T/spy.db" --out "$T/out/c.svg"

# ---- view --png ----------------------------------------------------------------------
"$QT" broker -q --topic w5:1 --bootstrap-file "$T/boot" >/dev/null 2>"$T/broker.log" &
PIDS+=($!)
wait_file "$T/boot"
BOOT=$(cat "$T/boot")
for ((i = 0; i < 40; i++)); do
    printf 'SPY|{"symbol":"SPY","window_start":%s,"window_end":%s,"price":%s.5,"count":4}\n' \
        $((1709649000000 + i * 5000)) $((1709649005000 + i * 5000)) $((500 + i % 7))
done | kcat -b "$BOOT" -P -t w5 -K '|' || fail "kcat produce"
"$QT" view -q -b "$BOOT" --topic w5 --png "$T/out/v.png" || fail "view with the real gnuplot"
[ -s "$T/out/v.png" ] || fail "view wrote no PNG"
size=$(script_size "$T/out" view -q -b "$BOOT" --topic w5 --png "$T/out/x.png")
run_gp "$T/gp-kill" $((size / 2)) "$T/out/v.png" view -b "$BOOT" --topic w5 --png "$T/out/v.png"
run_gp "$T/gp-cut" $((size - 60)) "$T/out/v.png" view -b "$BOOT" --topic w5 --png "$T/out/v.png"
echo "fault_gnuplot_kill: all passed"
