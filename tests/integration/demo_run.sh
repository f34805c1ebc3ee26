# quotetape demo, as `make demo` runs it from the source dir and from
# elsewhere: a real chart of the SPY sample in well under a minute.
set -eu
: "${QT:?}" "${QT_SRC:?}"
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

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

# From the source dir (the fixture found relative to the current directory).
start=$(date +%s)
(cd "$QT_SRC" && "$QT" demo --out "$d/spy.png") >"$d/out.txt" 2>"$d/err.txt" ||
    fail "demo: $(cat "$d/err.txt")"
took=$(($(date +%s) - start))
[ "$took" -lt 30 ] || fail "demo took ${took}s"
# 30 minutes of SPY, 5 s windows: 350 non-empty windows in the sample.
grep -qx "wrote $d/spy.png (350 windows)" "$d/out.txt" || fail "stdout: $(cat "$d/out.txt")"
grep -q "imported 14065 quote(s)" "$d/err.txt" || fail "import: $(cat "$d/err.txt")"
grep -q "replayed 14065 quote(s)" "$d/err.txt" || fail "replay"
checkpng "$d/spy.png" 1200 500 || fail "PNG"

# From elsewhere: the fixture found next to the binary; default --out.
(cd "$d" && QT_FIXTURES=/nonexistent "$QT" demo -q) >"$d/out2.txt" ||
    fail "demo from another dir"
grep -qx "wrote spy.png (350 windows)" "$d/out2.txt" || fail "stdout 2: $(cat "$d/out2.txt")"
[ -s "$d/spy.png" ] || fail "no spy.png"

# Another tape, SVG that parses, 10 s windows.
"$QT" demo -q --jsonl "$QT_SRC/fixtures/fakepaca.jsonl" --size 10s --out "$d/f.svg" >"$d/out3.txt" ||
    fail "demo --jsonl"
grep -q "^wrote $d/f.svg ([0-9]* windows)$" "$d/out3.txt" || fail "stdout 3: $(cat "$d/out3.txt")"
python3 -c "
import sys, xml.etree.ElementTree as ET
t = [x.text for x in ET.parse(sys.argv[1]).getroot().iter('{http://www.w3.org/2000/svg}text')]
assert 'FAKEPACA' in t, t
assert 'average bid per 10s window' in t, t
" "$d/f.svg" || fail "SVG"

# Errors.
set +e
"$QT" demo --out "$d/x.jpg" 2>"$d/e1"; rc=$?
[ $rc -eq 64 ] || fail "--out x.jpg: rc=$rc"
"$QT" demo --jsonl "$d/nosuch.jsonl" --out "$d/y.png" 2>"$d/e2"; rc=$?
[ $rc -eq 66 ] && grep -q "cannot open '$d/nosuch.jsonl'" "$d/e2" || fail "missing jsonl: rc=$rc $(cat "$d/e2")"
QUOTETAPE_GNUPLOT=/nonexistent "$QT" demo --out "$d/z.png" 2>"$d/e3"; rc=$?
[ $rc -eq 69 ] && grep -q "cannot run gnuplot" "$d/e3" || fail "no gnuplot: rc=$rc"
set -e
"$QT" demo --help | grep -q "example:" || fail "help"
echo "demo_run: ok"
