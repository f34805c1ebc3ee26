# quotetape chart from a real tape: panels per symbol, --symbol/--from/--to,
# real PNG and SVG, a hostile tape name, errors.
set -eu
: "${QT:?}" "${QT_FIXTURES:?}"
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$QT" import "$QT_FIXTURES/spy-30m.jsonl" "$QT_FIXTURES/fakepaca.jsonl" --db "$d/t.db" -q ||
    fail "import"

# Every symbol: two panels (FAKEPACA, SPY), an SVG that parses.
"$QT" chart --db "$d/t.db" --out "$d/all.svg" 2>"$d/e1" || fail "chart: $(cat "$d/e1")"
grep -q "wrote $d/all.svg (2 symbol(s), 410 windows, 14125 quotes)" "$d/e1" || fail "$(cat "$d/e1")"
python3 -c "
import sys, xml.etree.ElementTree as ET
t = [x.text for x in ET.parse(sys.argv[1]).getroot().iter('{http://www.w3.org/2000/svg}text')]
for want in ('SPY', 'FAKEPACA', 'bid open/low/high/close', 'bid-ask (window averages)',
             'average bid per 5s window'):
    assert want in t, (want, t[:20])
" "$d/all.svg" || fail "SVG content"

# One symbol, minutes 5 to 8 of the session: 36 windows of 5 s, as PNG.
"$QT" chart --db "$d/t.db" --symbol SPY --from +5m --to +8m --size-px 900x400 \
    --out "$d/spy.png" 2>"$d/e2" || fail "chart SPY: $(cat "$d/e2")"
grep -q "(1 symbol(s), 3[56] windows" "$d/e2" || fail "$(cat "$d/e2")"
python3 - "$d/spy.png" <<'EOF' || fail "PNG"
import sys, struct, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n'
assert struct.unpack('>II', data[16:24]) == (900, 400)
i, idat = 8, b''
while i < len(data):
    n, = struct.unpack('>I', data[i:i+4]); kind = data[i+4:i+8]
    if kind == b'IDAT': idat += data[i+8:i+8+n]
    i += 12 + n
assert len(set(zlib.decompress(idat))) > 16, 'blank'
EOF
# 60 s windows over the whole SPY session: exactly 30.
"$QT" chart --db "$d/t.db" --symbol SPY --size 1m --out "$d/m.svg" 2>"$d/e3" || fail "1m"
grep -q "(1 symbol(s), 30 windows, 14065 quotes)" "$d/e3" || fail "$(cat "$d/e3")"

# The tape's name goes into the title: a hostile one changes only the label.
evil="$d/q'\`touch pwn1\`\$(touch pwn2)@x.db"
cp "$d/t.db" "$evil"
(cd "$d" && "$QT" chart --db "$evil" --symbol FAKEPACA --out "$d/evil.svg" 2>/dev/null) ||
    fail "hostile name"
ls "$d"/pwn* 2>/dev/null && fail "a hostile tape name ran a command"
python3 -c "
import sys, xml.etree.ElementTree as ET
t = [x.text for x in ET.parse(sys.argv[1]).getroot().iter('{http://www.w3.org/2000/svg}text')]
assert any(x and x.startswith(sys.argv[2] + ':') for x in t), t[:5]
" "$d/evil.svg" "$evil" || fail "hostile title"

set +e
"$QT" chart --db "$d/nosuch.db" --out "$d/x.png" 2>"$d/f1"; rc=$?
[ $rc -eq 66 ] || fail "missing tape: rc=$rc $(cat "$d/f1")"
"$QT" chart --db "$d/t.db" --out "$d/x.gif" 2>"$d/f2"; rc=$?
[ $rc -eq 64 ] || fail "bad extension: rc=$rc"
"$QT" chart --db "$d/t.db" --symbol NOPE --out "$d/x.png" 2>"$d/f3"; rc=$?
[ $rc -ne 0 ] && [ ! -e "$d/x.png" ] || fail "empty selection: rc=$rc"
"$QT" chart --out "$d/x.png" 2>"$d/f4"; rc=$?
[ $rc -eq 64 ] && grep -q -- "--db TAPE is required" "$d/f4" || fail "no --db"
QUOTETAPE_GNUPLOT=/nonexistent "$QT" chart --db "$d/t.db" --out "$d/x.png" 2>"$d/f5"; rc=$?
[ $rc -eq 69 ] && grep -q "cannot run gnuplot" "$d/f5" || fail "no gnuplot: rc=$rc"
set -e
"$QT" chart --help | grep -q "example:" || fail "help"
echo "chart_tape: ok"
