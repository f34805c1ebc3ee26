#!/usr/bin/env bash
# Runs one fuzz target for a bounded time on a scratch copy of its seed
# corpus (the committed corpus stays as it is). A crash fails the test and
# leaves the input in tests/fuzz/crashes/ to become a regression case.
set -euo pipefail
bin=$1 seeds=$2 secs=${3:-10}
name=$(basename "$bin")
work=$(mktemp -d /tmp/qt_fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
crashes="$(dirname "$0")/crashes"
mkdir -p "$work/corpus" "$crashes"
cp -r "$seeds"/. "$work/corpus/" 2>/dev/null || true
# one job on our two cores leaves room for the rest of the suite
"$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 -max_len=65536 \
  -artifact_prefix="$crashes/$name-" -print_final_stats=1 "$work/corpus" 2> "$work/log" || {
  tail -40 "$work/log" >&2
  echo "FAIL: $name found a crash; input saved under $crashes" >&2
  exit 1
}
grep -E '^stat::number_of_executed_units' "$work/log" || true
echo "$name: passed"
