#!/usr/bin/env bash
# make bench: runs every bench/*.sh with the build dir, prints one table and
# writes it, with the machine it ran on, to bench/RESULTS.md. Every figure is
# a ratio against a reference measured in the same run.
set -uo pipefail
B=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
{
  echo "| benchmark | quotetape | reference (same run) | ratio | goal |"
  echo "|---|---|---|---|---|"
} > "$out"
status=0
for s in ./*.sh; do
  [ "$s" = ./run.sh ] && continue
  echo "bench: running $s" >&2
  if ! bash "$s" "$B" >> "$out" 2> "$out.err"; then
    echo "| $(basename "$s" .sh) | failed: $(tail -1 "$out.err") | | | |" >> "$out"
    status=1
  fi
done
cat "$out"
{
  echo "# Benchmark results"
  echo
  echo "Written by \`make bench\` on $(date -u +%Y-%m-%dT%H:%MZ)."
  echo "Machine: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo),"
  echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')."
  echo
  cat "$out"
} > RESULTS.md
rm -f "$out.err"
exit $status
