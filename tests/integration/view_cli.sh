# quotetape view on the embedded broker, kcat producing both window formats:
# PNG/SVG that are real, dedupe, --from, --symbol, a hostile symbol, --follow
# with atomic replacement, --term, and a missing gnuplot.
set -eu
: "${QT:?}"
d=$(mktemp -d)
bpid=
vpid=
cleanup() {
    [ -n "$vpid" ] && kill "$vpid" 2>/dev/null && wait "$vpid" 2>/dev/null
    [ -n "$bpid" ] && kill "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
    rm -rf "$d"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$QT" broker --topic w.ours:1 --topic w.flink:1 --topic w.evil:1 --topic w.live:1 \
    --bootstrap-file "$d/boot" >/dev/null 2>"$d/broker.err" &
bpid=$!
for _ in $(seq 100); do [ -s "$d/boot" ] && break; sleep 0.1; done
B=$(cat "$d/boot")
[ -n "$B" ] || fail "broker did not start"

w() { # symbol start_ms price
    printf '%s|{"symbol":"%s","window_start":%s,"window_end":%s,"price":%s,"count":4}\n' \
        "$1" "$1" "$2" "$(($2 + 5000))" "$3"
}
{
    w SPY 1709649000000 100
    w SPY 1709649005000 101
    w SPY 1709649010000 102
    w SPY 1709649005000 200     # the same window again (a restart): the last copy wins
    echo 'SPY|not a window'     # skipped and counted
    w IWM 1709649000000 50
} | kcat -b "$B" -P -t w.ours -K '|'

# Flink on Confluent Cloud: schema-registry header 0x00 + id, string timestamps.
for i in 0 1 2; do
    printf '\000\000\000\001\206{"symbol":"QQQ","window_start":"2024-03-05 14:30:%02d.000","window_end":"2024-03-05 14:30:%02d.000","price":%s,"count":3}\n' \
        $((i * 5)) $((i * 5 + 5)) "43$i.5"
done | kcat -b "$B" -P -t w.flink

# Reads the numbers on the y axis of an SVG; fails if the SVG does not parse.
yticks() {
    python3 - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
vals = []
for t in root.iter('{http://www.w3.org/2000/svg}text'):
    s = (t.text or '').strip()
    try:
        vals.append(float(s))
    except ValueError:
        pass
print(min(vals), max(vals))
EOF
}
svgtext() {
    python3 - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
for t in root.iter('{http://www.w3.org/2000/svg}text'):
    print(t.text or '')
EOF
}
checkpng() { # file width height
    python3 - "$@" <<'EOF'
import sys, struct, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
w, h = struct.unpack('>II', data[16:24])
assert (w, h) == (int(sys.argv[2]), int(sys.argv[3])), (w, h)
i, idat = 8, b''
while i < len(data):
    n, = struct.unpack('>I', data[i:i+4]); kind = data[i+4:i+8]
    if kind == b'IDAT': idat += data[i+8:i+8+n]
    i += 12 + n
raw = zlib.decompress(idat)
assert len(set(raw)) > 16, 'blank image'
EOF
}

# Our format: 3 SPY windows after dedupe (+1 IWM), y range from the 200.
"$QT" view -b "$B" --topic w.ours --symbol SPY --svg "$d/ours.svg" 2>"$d/v1.err" ||
    fail "view: $(cat "$d/v1.err")"
grep -q "wrote $d/ours.svg (3 windows)" "$d/v1.err" || fail "count: $(cat "$d/v1.err")"
grep -q "not a JSON object" "$d/v1.err" || fail "bad message not reported"
read -r lo hi < <(yticks "$d/ours.svg")
python3 -c "import sys; sys.exit(0 if $hi >= 195 and $lo <= 100 else 1)" ||
    fail "y range $lo..$hi does not show the deduped window (200)"
svgtext "$d/ours.svg" | grep -qx "SPY" || fail "no SPY title"
svgtext "$d/ours.svg" | grep -qx "IWM" && fail "--symbol SPY drew IWM"

# Every symbol: two panels; --last 1 keeps one window per symbol.
"$QT" view -b "$B" --topic w.ours --last 1 --svg "$d/all.svg" 2>"$d/v2.err" ||
    fail "view all: $(cat "$d/v2.err")"
grep -q "(2 windows)" "$d/v2.err" || fail "--last 1: $(cat "$d/v2.err")"
svgtext "$d/all.svg" | grep -qx "IWM" || fail "no IWM panel"

# --from offset:4 skips the first four messages: 1 IWM window only.
"$QT" view -b "$B" --topic w.ours --from offset:4 --svg "$d/from.svg" 2>"$d/v3.err" ||
    fail "view --from: $(cat "$d/v3.err")"
grep -q "(1 windows)" "$d/v3.err" || fail "--from offset:4: $(cat "$d/v3.err")"
svgtext "$d/from.svg" | grep -qx "SPY" && fail "--from offset:4 still drew SPY"
# --from end: nothing to draw, a clear error.
set +e
"$QT" view -b "$B" --topic w.ours --from end --svg "$d/end.svg" 2>"$d/v4.err"; rc=$?
set -e
[ $rc -ne 0 ] && grep -q "no windows in 'w.ours'" "$d/v4.err" || fail "--from end: rc=$rc"
[ ! -e "$d/end.svg" ] || fail "--from end wrote a file"

# Flink format, PNG: real, right size, not blank.
"$QT" view -b "$B" --topic w.flink --png "$d/flink.png" --size 640x360 2>"$d/v5.err" ||
    fail "view flink: $(cat "$d/v5.err")"
grep -q "(3 windows)" "$d/v5.err" || fail "flink count: $(cat "$d/v5.err")"
checkpng "$d/flink.png" 640 360 || fail "flink PNG"
"$QT" view -b "$B" --topic w.flink --svg "$d/flink.svg" 2>/dev/null
read -r lo hi < <(yticks "$d/flink.svg")
python3 -c "import sys; sys.exit(0 if $lo <= 430.5 and $hi >= 432.5 and $hi < 440 else 1)" ||
    fail "flink y range $lo..$hi"

# Hostile symbols change nothing but the label (symbols are capped at 31
# bytes, so one trick per symbol; gnuplot runs in $d, where they would land).
{
    printf '%s\n' '{"symbol":"E'"'"'\"\\`touch pwn1`@x","window_start":1709649000000,"window_end":1709649005000,"price":1}'
    printf '%s\n' '{"symbol":"system(\"touch pwn2\")","window_start":1709649000000,"window_end":1709649005000,"price":2}'
    printf '%s\n' '{"symbol":"a\n!touch pwn3","window_start":1709649000000,"window_end":1709649005000,"price":3}'
} | kcat -b "$B" -P -t w.evil
(cd "$d" && "$QT" view -b "$B" --topic w.evil --svg evil.svg 2>"$d/v6.err") || fail "evil: $(cat "$d/v6.err")"
grep -q "(3 windows)" "$d/v6.err" || fail "evil count: $(cat "$d/v6.err")"
ls "$d"/pwn* 2>/dev/null && fail "a hostile symbol ran a command"
svgtext "$d/evil.svg" > "$d/evil.txt"
grep -qxF 'E'"'"'"\`touch pwn1`@x' "$d/evil.txt" || fail "evil label 1: $(cat "$d/evil.txt")"
grep -qxF 'system("touch pwn2")' "$d/evil.txt" || fail "evil label 2"
grep -qxF 'a !touch pwn3' "$d/evil.txt" || fail "evil label 3"

# --term --once: a text chart on stdout.
"$QT" view -b "$B" --topic w.ours --symbol SPY --term --once --size 80x24 >"$d/term.txt" 2>/dev/null ||
    fail "--term"
grep -q "SPY" "$d/term.txt" && grep -q "average bid" "$d/term.txt" || fail "term output"

# --follow: the file is replaced (atomically) when a new window arrives.
w LIVE 1709649000000 10 | kcat -b "$B" -P -t w.live -K '|'
"$QT" view -b "$B" --topic w.live --follow --svg "$d/live.svg" 2>"$d/live.err" &
vpid=$!
for _ in $(seq 100); do [ -s "$d/live.svg" ] && break; sleep 0.1; done
[ -s "$d/live.svg" ] || fail "follow: no first render"
w LIVE 1709649005000 90 | kcat -b "$B" -P -t w.live -K '|'
ok=
for _ in $(seq 100); do
    read -r lo hi < <(yticks "$d/live.svg" 2>/dev/null || echo "0 0")
    python3 -c "import sys; sys.exit(0 if $hi >= 85 else 1)" && { ok=1; break; }
    sleep 0.1
done
[ -n "$ok" ] || fail "follow: not re-rendered"
kill -TERM "$vpid"
wait "$vpid" || fail "follow did not stop cleanly"
vpid=
ls "$d"/live.svg.tmp.* 2>/dev/null && fail "temporary file left"

# A missing gnuplot is a clear error (69), by override and by PATH.
set +e
QUOTETAPE_GNUPLOT=/nonexistent/gnuplot "$QT" view -b "$B" --topic w.ours --png "$d/x.png" 2>"$d/g1.err"; rc=$?
[ $rc -eq 69 ] && grep -q "cannot run gnuplot '/nonexistent/gnuplot'" "$d/g1.err" || fail "override: rc=$rc $(cat "$d/g1.err")"
PATH=/nonexistent "$QT" view -b "$B" --topic w.ours --png "$d/x.png" 2>"$d/g2.err"; rc=$?
[ $rc -eq 69 ] && grep -q "cannot run gnuplot 'gnuplot': No such file or directory" "$d/g2.err" || fail "PATH: rc=$rc $(cat "$d/g2.err")"
[ ! -e "$d/x.png" ] || fail "a file was written without gnuplot"
"$QT" view -b "$B" --topic w.ours 2>"$d/u1.err"; rc=$?
[ $rc -eq 64 ] || fail "no output option: rc=$rc"
"$QT" view -b "$B" --png a.png --svg b.svg 2>/dev/null; rc=$?
[ $rc -eq 64 ] || fail "two outputs: rc=$rc"
set -e
"$QT" view --help | grep -q "example:" || fail "help"
echo "view_cli: ok"
