#!/bin/bash
# Fault injection: damaged tape files under info, export, replay and chart.
# Truncated tapes (half, 97%, first 1000 bytes, empty), a damaged header
# (magic, page size, the rest of the 100-byte header) and overwritten pages
# in the middle: every command exits 65 with an error naming the tape and
# what is wrong, never crashes (no signal, no sanitizer report), leaves the
# file as it was, and writes no chart. A replay that meets the damage
# mid-way has written only good quotes (a prefix of the tape), says how many
# it sent and where to resume.
# (tape_cli.sh covers `export` on one overwritten-pages tape and a text file.)
source "$(dirname "$0")/record_lib.bash"

"$QT" import -q "$QT_FIXTURES/spy-30m.jsonl" --db "$T/good.db" || fail "import"
sqlite3 "$T/good.db" 'PRAGMA journal_mode=DELETE' >/dev/null # one self-contained file
[ ! -e "$T/good.db-wal" ] || fail "the tape still has a WAL file"
SZ=$(stat -c %s "$T/good.db")
"$QT" replay -q --db "$T/good.db" --speed max --stdout >"$T/good.jsonl" || fail "replay good tape"

mk() { cp "$T/good.db" "$T/$1.db"; }
mk trunc50 && truncate -s $((SZ / 2)) "$T/trunc50.db"
mk trunc97 && truncate -s $((SZ * 97 / 100)) "$T/trunc97.db"
head -c 1000 "$T/good.db" >"$T/trunc1k.db"
: >"$T/empty.db"
mk magic && printf 'NOT A TAPE AT AL' | dd of="$T/magic.db" bs=1 seek=0 conv=notrunc status=none
mk pagesize && printf '\000\007' | dd of="$T/pagesize.db" bs=1 seek=16 conv=notrunc status=none
# a fixed pattern: random bytes sometimes leave a header SQLite accepts
mk header && head -c 76 /dev/zero | tr '\0' '\377' |
    dd of="$T/header.db" bs=1 seek=24 conv=notrunc status=none
# pages in the middle of the quotes table, a fixed pattern (reproducible)
mk pages && yes 'qt-corrupt' | head -c $((3 * 4096)) |
    dd of="$T/pages.db" bs=4096 seek=$((SZ / 4096 / 2)) conv=notrunc status=none

# expect_65 NAME WHAT CMD...: exit 65, an error naming the tape, file unchanged
expect_65() {
    local name=$1 what=$2 rc=0
    shift 2
    cp "$T/$name.db" "$T/before.db"
    timeout 30 "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" = 65 ] || fail "$name: $what: exit $rc, want 65: $(head -c 300 "$T/err")"
    grep -Eq "^quotetape: error: (tape '$T/$name.db' is corrupt|'$T/$name.db' is not a tape|tape '$T/$name.db': .*unsupported file format|cannot read tape '$T/$name.db': .*malformed)" "$T/err" ||
        fail "$name: $what: unclear error: $(head -c 300 "$T/err")"
    grep -qiE 'AddressSanitizer|runtime error|LeakSanitizer' "$T/err" && fail "$name: $what: sanitizer report"
    cmp -s "$T/$name.db" "$T/before.db" || fail "$name: $what changed the tape file"
    [ ! -e "$T/$name.db-wal" ] || [ ! -s "$T/$name.db-wal" ] || fail "$name: $what left a WAL"
}

n=0
for name in trunc50 trunc97 trunc1k empty magic pagesize header pages; do
    expect_65 $name info "$QT" info --db "$T/$name.db"
    expect_65 $name export "$QT" export --db "$T/$name.db"
    expect_65 $name "replay --stdout" "$QT" replay --db "$T/$name.db" --speed max --stdout
    # replay's stdout: only good quotes, in order (a prefix of the tape)
    got=$(wc -l <"$T/out")
    head -n "$got" "$T/good.jsonl" | cmp -s - "$T/out" ||
        fail "$name: replay wrote quotes that are not the tape's first $got"
    if [ "$got" -gt 0 ]; then
        grep -q "^quotetape: replay failed: sent $got, " "$T/err" || fail "$name: replay summary: $(cat "$T/err")"
        grep -q "^quotetape: resume with: --from seq:$((got + 1))$" "$T/err" || fail "$name: resume: $(cat "$T/err")"
        echo "# $name: replay sent the first $got quotes, then stopped at the damage"
    fi
    expect_65 $name chart "$QT" chart --db "$T/$name.db" --out "$T/$name.png"
    [ ! -e "$T/$name.png" ] || fail "$name: chart wrote an image from a damaged tape"
    ls "$T" | grep -q '\.tmp\.' && fail "$name: chart left a temporary file"
    n=$((n + 4))
done
ok "$n runs of info/export/replay/chart on 8 damaged tapes: exit 65, clear error, file unchanged, no chart"
echo "fault_corrupt_tape: all passed"
