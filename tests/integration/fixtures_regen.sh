#!/usr/bin/env bash
# fixtures_regen — the committed sample tapes are exactly what the seeded
# generator writes, and they have the shape fixtures/README.md promises.
#
# Regenerates fixtures/spy-30m.jsonl and fixtures/fakepaca.jsonl with
# $QT_BIN/qt_genfix (the command lines in fixtures/README.md) into a temp
# dir, cmp's them with the committed files, then checks per line: canonical
# tape JSON-lines shape, recv with 9 fractional digits, bid < ask, recv
# non-decreasing; and per file: quote count, bursts (equal event times),
# quiet stretches (>= 3 s), late (out-of-order) quotes, FAKEPACA cadence.
set -euo pipefail

: "${QT_BIN:?QT_BIN must name the build dir}"
: "${QT_FIXTURES:?QT_FIXTURES must name the fixtures dir}"
GEN="$QT_BIN/qt_genfix"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
pass() { echo "ok: $*"; }

# --- the generator's command line ------------------------------------------
"$GEN" --help >"$TMP/help" || fail "--help exited non-zero"
grep -q '^usage: qt_genfix --kind spy|fakepaca' "$TMP/help" || fail "--help has no usage line"
grep -q 'SYNTHETIC' "$TMP/help" || fail "--help does not say the output is synthetic"
pass "--help"

if "$GEN" --kind nasdaq 2>"$TMP/err"; then fail "unknown kind accepted"; fi
grep -q "qt_genfix: unknown kind (expected spy or fakepaca) 'nasdaq'" "$TMP/err" ||
    fail "unknown kind: unexpected message: $(cat "$TMP/err")"
if "$GEN" --kind spy --minutes 0 2>"$TMP/err"; then fail "--minutes 0 accepted"; fi
grep -q "invalid minutes" "$TMP/err" || fail "--minutes 0: unexpected message"
if "$GEN" --kind spy --start yesterday 2>"$TMP/err"; then fail "bad --start accepted"; fi
grep -q "invalid start time 'yesterday'" "$TMP/err" || fail "bad --start: unexpected message"
pass "usage errors"

# --- determinism: the committed bytes, exactly ------------------------------
"$GEN" --kind spy --seed 20260302 --out "$TMP/spy-30m.jsonl" 2>"$TMP/spy.log"
"$GEN" --kind fakepaca --seed 20260302 --out "$TMP/fakepaca.jsonl" 2>"$TMP/fp.log"
cmp "$TMP/spy-30m.jsonl" "$QT_FIXTURES/spy-30m.jsonl" || fail "spy-30m.jsonl differs from the generator's output"
cmp "$TMP/fakepaca.jsonl" "$QT_FIXTURES/fakepaca.jsonl" || fail "fakepaca.jsonl differs from the generator's output"
"$GEN" --kind spy --seed 20260302 2>/dev/null | cmp - "$TMP/spy-30m.jsonl" || fail "stdout differs from --out"
"$GEN" --kind spy --seed 20260302 --minutes 1 >"$TMP/a" 2>/dev/null
"$GEN" --kind spy --seed 20260303 --minutes 1 >"$TMP/b" 2>/dev/null
cmp -s "$TMP/a" "$TMP/b" && fail "seeds 20260302 and 20260303 gave the same output"
# a shorter session is a prefix of the longer one with the same seed
cmp -s "$TMP/a" <(head -c "$(wc -c <"$TMP/a")" "$TMP/spy-30m.jsonl") ||
    fail "--minutes 1 is not a prefix of the 30-minute session"
[ "$(tail -1 "$TMP/a" | grep -o '"t":"2026-03-02T14:3[01]')" = '"t":"2026-03-02T14:30' ] ||
    fail "--minutes 1 ran past 14:31"
pass "regenerated fixtures are byte-identical"

# --- per-line shape ----------------------------------------------------------
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}'
PX='[0-9]+(\.[0-9]{1,2})?'
line_re() { # $1 symbol, $2 bid exchange, $3 ask exchange, $4 tape
    printf '^\\{"recv":"%s\\.[0-9]{9}Z","msg":\\{"T":"q","S":"%s","bx":"%s","bp":%s,"bs":[0-9]+,"ax":"%s","ap":%s,"as":[0-9]+,"c":\\["R"\\],"z":"%s","t":"%s(\\.[0-9]{1,9})?Z"\\}\\}$' \
        "$TS" "$1" "$2" "$PX" "$3" "$PX" "$4" "$TS"
}
bad=$(grep -Evc "$(line_re SPY V V B)" "$QT_FIXTURES/spy-30m.jsonl" || true)
[ "$bad" = 0 ] || fail "spy-30m.jsonl: $bad lines not in canonical shape"
bad=$(grep -Evc "$(line_re FAKEPACA O R A)" "$QT_FIXTURES/fakepaca.jsonl" || true)
[ "$bad" = 0 ] || fail "fakepaca.jsonl: $bad lines not in canonical shape"
# prices never carry a trailing zero in the fraction (512.3, not 512.30)
if grep -Eq '"(bp|ap)":[0-9]+\.([0-9]0|0),' "$QT_FIXTURES"/*.jsonl; then fail "price with trailing zero"; fi
pass "every line in canonical tape JSON-lines shape"

# --- per-file properties -----------------------------------------------------
# Prints: lines bad_spread bad_recv equal_t gaps3s late late_over_1s min_dt max_dt
stats() {
    awk '
    function secs(s,   hh, mm, ss) {   # "2026-03-02T14:30:00.123Z" -> s of day
        hh = substr(s, 12, 2); mm = substr(s, 15, 2); ss = substr(s, 18)
        sub(/Z$/, "", ss)
        return hh * 3600 + mm * 60 + ss
    }
    {
        match($0, /"recv":"[^"]*"/); recv = substr($0, RSTART + 8, RLENGTH - 9)
        match($0, /"t":"[^"]*"/);    t = substr($0, RSTART + 5, RLENGTH - 6)
        match($0, /"bp":[0-9.]+/);   bp = substr($0, RSTART + 5, RLENGTH - 5) + 0
        match($0, /"ap":[0-9.]+/);   ap = substr($0, RSTART + 5, RLENGTH - 5) + 0
        if (substr(t, 1, 10) != "2026-03-02" || substr(recv, 1, 10) != "2026-03-02") baddate++
        if (!(bp < ap)) badspread++
        if (NR > 1 && recv < prevrecv) badrecv++   # fixed width: string order is time order
        ts = secs(t)
        if (NR > 1) {
            if (t == prevt) eqt++
            if (ts < maxt) { late++; if (maxt - ts > 1) late1++ }
            else {
                if (ts - maxt >= 3) gaps++
                dt = ts - maxt
                if (mindt == "" || dt < mindt) mindt = dt
                if (dt > maxdt) maxdt = dt
            }
        }
        if (NR == 1 || ts > maxt) maxt = ts
        prevt = t; prevrecv = recv
    }
    END { printf "%d %d %d %d %d %d %d %d %.6f %.6f\n", NR, baddate + 0, badspread + 0,
          badrecv + 0, eqt + 0, gaps + 0, late + 0, late1 + 0, mindt + 0, maxdt + 0 }
    ' "$1"
}

read -r n baddate badspread badrecv eqt gaps late late1 mindt maxdt < <(stats "$QT_FIXTURES/spy-30m.jsonl")
echo "spy-30m.jsonl: $n quotes, $eqt equal-t pairs, $gaps gaps >= 3 s (max ${maxdt} s), $late late ($late1 > 1 s)"
[ "$n" -ge 10000 ] && [ "$n" -le 20000 ] || fail "spy: $n quotes, expected 10000..20000"
[ "$baddate" = 0 ] || fail "spy: $baddate lines outside 2026-03-02"
[ "$badspread" = 0 ] || fail "spy: $badspread lines with bid >= ask"
[ "$badrecv" = 0 ] || fail "spy: recv decreases $badrecv times"
[ "$eqt" -ge 50 ] || fail "spy: only $eqt pairs of equal event times (bursts), expected >= 50"
[ "$gaps" -ge 1 ] || fail "spy: no quiet stretch >= 3 s"
[ "$late" -ge 1 ] || fail "spy: no out-of-order event time"
[ "$late1" -ge 1 ] && [ "$late1" -lt "$late" ] || fail "spy: want late quotes both under and over 1 s ($late1 of $late over)"
size=$(wc -c <"$QT_FIXTURES/spy-30m.jsonl")
[ "$size" -ge 2000000 ] && [ "$size" -le 4000000 ] || fail "spy: $size bytes, expected 2..4 MB"
first=$(head -1 "$QT_FIXTURES/spy-30m.jsonl" | grep -o '"t":"[^"]*"')
last=$(tail -1 "$QT_FIXTURES/spy-30m.jsonl" | grep -o '"t":"[^"]*"')
[[ "$first" == '"t":"2026-03-02T14:30:00.'* ]] || fail "spy: first quote at $first, expected 14:30:00"
[[ "$last" == '"t":"2026-03-02T14:59:5'* ]] || fail "spy: last quote at $last, expected 14:59:5x"
pass "spy-30m.jsonl properties"

read -r n baddate badspread badrecv eqt gaps late late1 mindt maxdt < <(stats "$QT_FIXTURES/fakepaca.jsonl")
echo "fakepaca.jsonl: $n quotes, spacing ${mindt}..${maxdt} s"
[ "$n" = 60 ] || fail "fakepaca: $n quotes, expected 60"
[ "$baddate" = 0 ] && [ "$badspread" = 0 ] && [ "$badrecv" = 0 ] || fail "fakepaca: bad date/spread/recv order"
[ "$late" = 0 ] && [ "$eqt" = 0 ] || fail "fakepaca: out-of-order or equal event times"
awk -v a="$mindt" -v b="$maxdt" 'BEGIN { exit !(a >= 5.0008 && b <= 5.0022) }' ||
    fail "fakepaca: spacing ${mindt}..${maxdt} s, expected 5.0008..5.0022"
pass "fakepaca.jsonl properties"
