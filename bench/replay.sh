#!/usr/bin/env bash
# Replay benchmarks; prints markdown table rows
#   | name | value | reference | ratio | goal |
# usage: bench/replay.sh BUILD_DIR   (bench/run.sh passes it)
#
# 1. Throughput: full-speed replay of the SPY tape (and a 10x copy) into the
#    embedded broker, against kcat -P -K producing the same exported lines
#    into the same broker in the same run. Best of 5 each, wall time of the
#    whole command (start-up, produce, flush).
# 2. Pacing accuracy: the busiest minute at 1x and the whole tape at 100x
#    into the embedded broker with --timestamps wall, three runs each (a
#    shared machine has hiccups of its own): send lateness p50/p99/max of the
#    run with the median p99, from the replay's own summary; total duration
#    from the consumed send timestamps against the tape's receive-time span
#    / speed, the worst of the three.
#    The timer-floor row measures plain absolute sleeps on the same machine:
#    pacing cannot be more punctual than the machine wakes a thread. The
#    cold-memory row measures what touching memory used before costs right
#    after a sleep (bench_cold_touch): on a shared VM the host evicts the
#    guest's caches and mappings while it sleeps, and the first send after a
#    quiet spell pays that. Each
#    pacing run is followed by bench_pace_ref, the straightforward paced
#    producer (sleep, spin, producev on a real-time thread) with the same
#    quotes into the same broker: on a shared VM the host's own stalls set
#    both p99s, and the ratio says what quotetape adds or saves.
# 3. Peak RSS of a full-speed replay of the 1x and 10x tapes.
set -u
B=${1:?usage: bench/replay.sh BUILD_DIR}
QT=$B/quotetape
SRC=$(cd "$(dirname "$0")/.." && pwd)
FIX=$SRC/fixtures/spy-30m.jsonl
W=$(mktemp -d)
BPID=
trap '[ -n "$BPID" ] && kill $BPID 2>/dev/null; rm -rf "$W"' EXIT
command -v kcat > /dev/null || { echo "bench/replay.sh: kcat is missing" >&2; exit 1; }

"$QT" broker -q --bootstrap-file "$W/boot" > /dev/null 2>&1 &
BPID=$!
for _ in $(seq 1 100); do [ -s "$W/boot" ] && break; sleep 0.1; done
BOOT=$(cat "$W/boot")
"$QT" import -q "$FIX" --db "$W/spy.db" || exit 1
"$QT" replay -q --db "$W/spy.db" --loop 10 --speed max --stdout | "$QT" import -q /dev/stdin --db "$W/spy10.db" || exit 1

now() { date +%s%N; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# ---- 1. throughput ---------------------------------------------------------
# rate N NS -> messages per second
rate() { awk -v n="$1" -v ns="$2" 'BEGIN { printf "%.0f", n / (ns / 1e9) }'; }
thr() { # thr TAPE NAME
    local db=$1 name=$2 n bq=0 bk=0 be=0 t0 t1 r
    n=$("$QT" export --db "$db" | wc -l)
    "$QT" export --db "$db" | sed 's/^.*"msg"://; s/}$//' |
        sed 's/^\(.*"S":"\([^"]*\)".*\)$/\2\t\1/' > "$W/kv.txt"
    for i in 1 2 3 4 5; do
        t0=$(now); "$QT" replay -q --db "$db" --speed max -b "$BOOT" --topic "q$name$i" || return 1; t1=$(now)
        r=$(rate "$n" $((t1 - t0))); [ "$r" -gt "$bq" ] && bq=$r
        # kcat with the producer settings replay uses (lz4, idempotent, linger 5 ms)
        t0=$(now); kcat -P -b "$BOOT" -t "e$name$i" -K '\t' -X compression.type=lz4 \
            -X enable.idempotence=true -X linger.ms=5 < "$W/kv.txt" || return 1; t1=$(now)
        r=$(rate "$n" $((t1 - t0))); [ "$r" -gt "$be" ] && be=$r
        # kcat with its defaults (no compression, not idempotent)
        t0=$(now); kcat -P -b "$BOOT" -t "k$name$i" -K '\t' < "$W/kv.txt" || return 1; t1=$(now)
        r=$(rate "$n" $((t1 - t0))); [ "$r" -gt "$bk" ] && bk=$r
    done
    local got
    got=$(kcat -C -b "$BOOT" -t "q${name}1" -e -q -f '.\n' | wc -l)
    [ "$got" -eq "$n" ] || echo "bench/replay.sh: q${name}1 holds $got of $n" >&2
    row "replay $name tape, max speed, into embedded broker ($n quotes, best of 5)" "$bq msg/s" \
        "kcat -P -K, same producer settings: $be msg/s" "$(ratio "$bq" "$be")" ">= 1.0"
    row "replay $name tape vs kcat defaults (no lz4, not idempotent)" "$bq msg/s" \
        "kcat -P -K defaults: $bk msg/s" "$(ratio "$bq" "$bk")" "(info)"
}
thr "$W/spy.db" "1x"
thr "$W/spy10.db" "10x"

# ---- 2. pacing accuracy ----------------------------------------------------
"$QT" export --db "$W/spy.db" --format csv | awk -F, 'NR > 1 { print $1, $5 }' > "$W/recv"
# the busiest minute (by receive time) starting on a whole minute
read -r BMIN BCOUNT < <(awk '{ m = int($2 / 60e9); c[m]++ } END { for (m in c) if (c[m] > best) { best = c[m]; bm = m } print bm, best }' "$W/recv")
FROM_NS=$((BMIN * 60 * 1000000000))
FROM=$(date -u -d "@$((BMIN * 60))" +%Y-%m-%dT%H:%M:%SZ)
TO=$(date -u -d "@$((BMIN * 60 + 60))" +%Y-%m-%dT%H:%M:%SZ)
# to_us VALUE: "12.3us" or "1.2ms" in microseconds
to_us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /ms$/) n *= 1000; printf "%.1f", n }'; }
pace() { # pace NAME SPEED [position args]: three runs, the one with the median p99 reported
    local name=$1 speed=$2; shift 2
    local i topic line p99s="" runs="" exp act first_act="" err worst=0 pick
    local refs="" r50 r99 rmax rpick
    exp=$("$QT" export --db "$W/spy.db" --format csv "$@" |
        awk -F, -v s="$speed" 'NR == 2 { a = $5 } NR > 1 { b = $5 } END { printf "%.3f", (b - a) / 1e6 / s }')
    # the same quotes for the reference: receive time, symbol, raw message
    paste <("$QT" export --db "$W/spy.db" --format csv "$@" | awk -F, 'NR > 1 { print $5 }') \
        <("$QT" export --db "$W/spy.db" "$@" | sed 's/^.*"msg"://; s/}$//' |
            sed 's/^\(.*"S":"\([^"]*\)".*\)$/\2\t\1/') > "$W/pace_in"
    for i in 1 2 3; do
        topic="pace$(printf '%s' "$name" | tr -c 'a-zA-Z0-9' '_')$i"
        line=$("$QT" replay --db "$W/spy.db" --pace-by recv --speed "$speed" --timestamps wall "$@" \
            -b "$BOOT" --topic "$topic" 2>&1 | grep 'replayed:')
        runs="$runs$(to_us "$(echo "$line" | sed -n 's/.* p99 \([^ ]*\) .*/\1/p')") $i $(echo "$line" |
            sed -n 's/.* p50 \([^ ]*\) p99 \([^ ]*\) max \([^ ,]*\)[ ,].*/\1 \/ \2 \/ \3/p')
"
        # duration from the consumed send timestamps; the worst run's error counts
        act=$(kcat -C -b "$BOOT" -t "$topic" -e -q -f '%T\n' | awk 'NR == 1 { a = $1 } { b = $1 } END { print b - a }')
        err=$(awk -v e="$exp" -v a="$act" 'BEGIN { d = a - e; if (d < 0) d = -d; printf "%.3f", 100 * d / e }')
        worst=$(awk -v a="$worst" -v b="$err" 'BEGIN { print (b > a ? b : a) }')
        [ "$i" = 1 ] && first_act=$act
        # the straightforward paced producer, right after: same quotes, same broker
        read -r r50 r99 rmax < <("$B/bench_pace_ref" "$BOOT" "ref$topic" "$speed" < "$W/pace_in")
        refs="$refs$r99 $(us "$r50") / $(us "$r99") / $(us "$rmax")
"
    done
    pick=$(printf '%s' "$runs" | sort -n | sed -n 2p)
    p99s=$(printf '%s' "$runs" | sort -n | awk '{ printf "%s%sus", (NR > 1 ? ", " : ""), $1 }')
    row "pacing $name: send lateness p50 / p99 / max (median of 3 runs by p99)" \
        "$(echo "$pick" | cut -d' ' -f3-)" "p99 of the 3 runs: $p99s" "" "p99 <= 100us"
    rpick=$(printf '%s' "$refs" | sort -n | sed -n 2p)
    row "pacing $name: p99 lateness vs the straightforward paced producer (bench_pace_ref: sleep, 1 ms spin, producev, real-time; median of 3 runs each, interleaved)" \
        "$(echo "$pick" | awk '{ print $1 }')us" "$(echo "$rpick" | cut -d' ' -f2-)" \
        "$(ratio "$(echo "$pick" | awk '{ print $1 }')" "$(echo "$rpick" | awk '{ printf "%.1f", $1 / 1e3 }')")" \
        "<= 1.0"
    row "pacing $name: duration (send timestamps, ms; run 1)" "$first_act ms" "$exp ms expected" \
        "worst error of 3: ${worst}%" "<= 0.1%"
}
us() { awk -v v="$1" 'BEGIN { printf "%.1fus", v / 1e3 }'; }
read -r f50 f99 fmax < <("$B/bench_replay_timer" 2000 2000)
row "timer floor: plain absolute sleep lateness p50 / p99 / max (2000 x 2 ms)" \
    "$(us "$f50") / $(us "$f99") / $(us "$fmax")" "the machine, not quotetape" "" "(reference)"
# what the first send after a quiet spell pays on this machine before doing
# anything: memory it used before, gone cold while it slept
read -r c50 c99 cmax < <("$B/bench_cold_touch" 300 20000 16)
read -r w50 w99 wmax < <("$B/bench_cold_touch" 300 1000 16)
row "cold-memory floor: touching 16 pages used before, after a 20 ms sleep, p50 / p99 / max (300 tries)" \
    "$(us "$c50") / $(us "$c99") / $(us "$cmax")" \
    "after a 1 ms sleep: $(us "$w50") / $(us "$w99") / $(us "$wmax")" "" "(reference)"
pace "1x busiest minute ($BCOUNT quotes)" 1 --from "$FROM" --to "$TO"
pace "100x whole tape" 100

# ---- 3. peak memory ---------------------------------------------------------
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
m1=$(rss "$QT" replay -q --db "$W/spy.db" --speed max -b "$BOOT" --topic mem1)
m10=$(rss "$QT" replay -q --db "$W/spy10.db" --speed max -b "$BOOT" --topic mem10)
s1=$(rss "$QT" replay -q --db "$W/spy.db" --speed max --stdout)
s10=$(rss "$QT" replay -q --db "$W/spy10.db" --speed max --stdout)
row "peak RSS, replay to Kafka, 10x tape" "$m10 KiB" "1x tape: $m1 KiB" "$(ratio "$m10" "$m1")" "~1.0"
row "peak RSS, replay to stdout, 10x tape" "$s10 KiB" "1x tape: $s1 KiB" "$(ratio "$s10" "$s1")" "~1.0"
