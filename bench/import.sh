#!/usr/bin/env bash
# Import rate of a 6.5-hour synthetic SPY session against a bare insert loop.
set -euo pipefail
B=${1:?build dir}
W=$(mktemp -d /tmp/qt_bench_import.XXXXXX)
trap 'rm -rf "$W"' EXIT
"$B/qt_genfix" --kind spy --seed 20260302 --minutes 390 --out "$W/spy-day.jsonl"
"$B/bench_import" "$W/spy-day.jsonl" "$W"
