#!/usr/bin/env bash
# A full 6.5-hour session chart (4,680 windows of 5 s) from a tape, against
# gnuplot alone plotting the same script and data. Goal: ratio <= 1.5.
set -euo pipefail
B=$(cd "${1:?build dir}" && pwd)
QT="$B/quotetape"
W=$(mktemp -d /tmp/qt_bench_chart.XXXXXX)
trap 'rm -rf "$W"' EXIT

"$B/qt_genfix" --kind spy --seed 20260302 --minutes 390 --out "$W/day.jsonl"
"$QT" import "$W/day.jsonl" --db "$W/day.db" -q
GP=$(command -v gnuplot)
# A gnuplot that keeps a copy of what it was fed: the exact same input for
# the "gnuplot alone" run.
cat > "$W/gp-tee" <<EOF
#!/bin/sh
tee "$W/fed.gp" | "$GP"
EOF
chmod +x "$W/gp-tee"
QUOTETAPE_GNUPLOT="$W/gp-tee" "$QT" chart --db "$W/day.db" --out "$W/warm.png" 2>"$W/info"
wins=$(sed -n 's/.*symbol(s), \([0-9]*\) windows.*/\1/p' "$W/info")
sed -i "s|$W/warm.png.tmp.[0-9]*|$W/alone.png|" "$W/fed.gp"

now() { date +%s%N; }
best_qt=999999999999; best_gp=999999999999
for _ in 1 2 3; do
    t0=$(now); "$QT" chart --db "$W/day.db" --out "$W/day.png" -q; t1=$(now)
    "$GP" < "$W/fed.gp"; t2=$(now)
    [ $((t1 - t0)) -lt $best_qt ] && best_qt=$((t1 - t0))
    [ $((t2 - t1)) -lt $best_gp ] && best_gp=$((t2 - t1))
done
[ -s "$W/alone.png" ] && [ -s "$W/day.png" ] || { echo "no chart" >&2; exit 1; }
python3 - "$wins" "$best_qt" "$best_gp" <<'EOF'
import sys
wins, qt, gp = map(int, sys.argv[1:])
print("| chart: 6.5 h session, %d windows (ms, best of 3) | %.0f | gnuplot alone %.0f | %.2f | <= 1.5 |"
      % (wins, qt / 1e6, gp / 1e6, qt / gp))
EOF
