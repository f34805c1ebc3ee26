#!/usr/bin/env bash
# CLI tests: import / export / info on the sample tapes and on bad input.
set -euo pipefail
. "$(dirname "$0")/lib.bash"

# --- round trip of both fixtures, byte for byte ------------------------------
for fx in spy-30m fakepaca; do
  "$QT" import -q "$QT_FIXTURES/$fx.jsonl" --db "$W/$fx.db"
  "$QT" export --db "$W/$fx.db" > "$W/$fx.1.jsonl"
  cmp "$QT_FIXTURES/$fx.jsonl" "$W/$fx.1.jsonl" || fail "$fx: export differs from the fixture"
  "$QT" import -q "$W/$fx.1.jsonl" --db "$W/$fx.2.db"
  "$QT" export --db "$W/$fx.2.db" > "$W/$fx.2.jsonl"
  cmp "$W/$fx.1.jsonl" "$W/$fx.2.jsonl" || fail "$fx: second round trip differs"
  n=$(wc -l < "$QT_FIXTURES/$fx.jsonl")
  got=$(sqlite3 "$W/$fx.db" 'SELECT count(*) FROM quotes')
  expect_eq "$got" "$n" "$fx quote count"
done

# nanoseconds exact: t_ns in the tape equals the fixture's t for the first quote
first_t=$(head -1 "$QT_FIXTURES/spy-30m.jsonl" | sed 's/.*"t":"\([^"]*\)".*/\1/')
csv_t=$("$QT" export --db "$W/spy-30m.db" --to seq:2 --format csv | tail -1 | cut -d, -f3)
python3 - "$first_t" "$csv_t" <<'PY' || fail "first quote's time is not exact"
import sys
a, b = sys.argv[1].rstrip('Z'), sys.argv[2].rstrip('Z')
def norm(s):
    d, _, f = s.partition('.')
    return d + '.' + (f + '000000000')[:9]
sys.exit(0 if norm(a) == norm(b) else 1)
PY

# --- selections --------------------------------------------------------------
"$QT" export --db "$W/spy-30m.db" --from seq:100 --to seq:200 > "$W/sel.jsonl"
expect_eq "$(wc -l < "$W/sel.jsonl")" 100 "seq:100..seq:200 is 100 quotes"
cmp <(sed -n '100,199p' "$QT_FIXTURES/spy-30m.jsonl") "$W/sel.jsonl" || fail "seq range content"
"$QT" export --db "$W/spy-30m.db" --from +10m --to +11m --format csv > "$W/min.csv"
awk -F, 'NR>1 { if ($3 < "2026-03-02T14:40:00" || $3 >= "2026-03-02T14:41:00") bad++ } END { exit bad ? 1 : 0 }' \
  "$W/min.csv" || fail "+10m..+11m has quotes outside the minute (out-of-order ones aside)"
head -1 "$W/min.csv" | grep -q '^seq,symbol,t,t_ns,recv_ns,bid_px' || fail "csv header"
"$QT" export --db "$W/spy-30m.db" --symbols NOPE > "$W/none.jsonl"
expect_eq "$(wc -c < "$W/none.jsonl")" 0 "unknown symbol exports nothing"

# --- info ----------------------------------------------------------------------
"$QT" info --db "$W/spy-30m.db" > "$W/info.txt"
grep -q "^quotes: $(wc -l < "$QT_FIXTURES/spy-30m.jsonl") (seq 1\.\." "$W/info.txt" || fail "info counts"
grep -q "^  SPY " "$W/info.txt" || fail "info lists SPY"
grep -q "^time range: 2026-03-02T14:30:00" "$W/info.txt" || fail "info time range"
grep -q "^gaps: none" "$W/info.txt" || fail "info gaps"

# --- bad input -----------------------------------------------------------------
printf '%s\n' "$(head -1 "$QT_FIXTURES/spy-30m.jsonl")" '{"msg":{"T":"q","S":"SPY","bp":"x"}}' \
  'not json' "$(sed -n 2p "$QT_FIXTURES/spy-30m.jsonl")" > "$W/bad.jsonl"
expect_fail 65 "$W/err.txt" "$QT" import "$W/bad.jsonl" --db "$W/bad.db"
grep -q "bad.jsonl:2: field 'bp' is a string, expected a number" "$W/err.txt" || fail "line 2 reason: $(cat "$W/err.txt")"
grep -q "bad.jsonl:3: " "$W/err.txt" || fail "line 3 reported"
expect_eq "$(sqlite3 "$W/bad.db" 'SELECT count(*) FROM quotes')" 2 "good lines kept"
expect_fail 65 "$W/err.txt" "$QT" import --strict "$W/bad.jsonl" --db "$W/strict.db"
grep -q "nothing imported" "$W/err.txt" || fail "strict says nothing imported"
expect_eq "$(sqlite3 "$W/strict.db" 'SELECT count(*) FROM quotes')" 0 "strict imports nothing"

echo "just text" > "$W/notatape.db"
expect_fail 65 "$W/err.txt" "$QT" info --db "$W/notatape.db"
grep -q "is not a tape" "$W/err.txt" || fail "not a tape message"
expect_fail 66 "$W/err.txt" "$QT" export --db "$W/missing.db"
grep -q "cannot open tape '$W/missing.db': No such file" "$W/err.txt" || fail "missing tape message"
# a corrupt tape: overwrite pages in the middle of a real one
cp "$W/spy-30m.db" "$W/corrupt.db"
dd if=/dev/urandom of="$W/corrupt.db" bs=4096 seek=20 count=40 conv=notrunc status=none
expect_fail 65 "$W/err.txt" "$QT" export --db "$W/corrupt.db" -o "$W/c.out"
grep -Eq "corrupt|malformed|not a tape" "$W/err.txt" || fail "corrupt tape message: $(cat "$W/err.txt")"
expect_fail 64 "$W/err.txt" "$QT" export --db "$W/spy-30m.db" --from yesterday
grep -q "unknown position 'yesterday'" "$W/err.txt" || fail "bad position message"
expect_fail 64 "$W/err.txt" "$QT" export --db "$W/spy-30m.db" --from seq:10 --to seq:5
grep -q "is before --from" "$W/err.txt" || fail "to before from"
expect_fail 64 "$W/err.txt" "$QT" export --db "$W/spy-30m.db" --format xml
expect_fail 64 "$W/err.txt" "$QT" import "$W/bad.jsonl"
grep -q -- "--db TAPE is required" "$W/err.txt" || fail "import without --db"
expect_fail 64 "$W/err.txt" "$QT" nosuchcommand
"$QT" --version | grep -Eq '^quotetape [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
for c in import export info broker; do
  "$QT" "$c" --help | grep -q "^usage: quotetape $c" || fail "$c --help"
done
pass
