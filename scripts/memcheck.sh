#!/usr/bin/env bash
# Runs the test suite once under valgrind memcheck: every unit test directly,
# every integration test with $QT pointing at a wrapper that runs quotetape
# under valgrind. Passes only with zero errors and zero leaks (definite,
# indirect, possible) in every process. Slow: about 20 minutes. Tests that
# bound a time (pacing, give-up delays, kill points) can fail under
# valgrind's slowdown; those failures are reported apart from memory errors.
# usage: scripts/memcheck.sh [BUILD_DIR]   (default build-vg, Debug)
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-vg}
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Debug -DQT_WERROR=ON >/dev/null
cmake --build "$B" -j "$(nproc)" >/dev/null || exit 1
B=$(cd "$B" && pwd)
LOGS=$(mktemp -d /tmp/qt_memcheck.XXXXXX)
VG=("$(command -v valgrind)" -q --error-exitcode=99 --leak-check=full
    --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --trace-children=no
    --child-silent-after-fork=yes)
cat > "$LOGS/quotetape" <<WRAP
#!/bin/sh
exec ${VG[*]} --log-file=$LOGS/vg.%p.log "$B/quotetape" "\$@"
WRAP
chmod +x "$LOGS/quotetape"

fails=0
for t in "$B"/test_*; do
  [ -x "$t" ] || continue
  if QT_FIXTURES=$PWD/fixtures "${VG[@]}" --log-file="$LOGS/unit.$(basename "$t").log" "$t" >/dev/null 2>&1; then
    echo "memcheck: $(basename "$t"): clean"
  else
    echo "memcheck: $(basename "$t"): FAILED (see $LOGS/unit.$(basename "$t").log)"; fails=$((fails + 1))
  fi
done
for s in tests/integration/*.sh; do
  if QT="$LOGS/quotetape" QT_BIN="$B" QT_SRC="$PWD" QT_FIXTURES="$PWD/fixtures" \
     timeout 900 bash "$s" > "$LOGS/it.$(basename "$s").out" 2>&1; then
    echo "memcheck: $(basename "$s"): passed"
  else
    echo "memcheck: $(basename "$s"): test failed under valgrind (see $LOGS/it.$(basename "$s").out)"
    fails=$((fails + 1))
  fi
done
# any process with an error or a leak left a non-empty report
bad=$(find "$LOGS" -name 'vg.*.log' -size +0 | wc -l)
total=$(find "$LOGS" -name 'vg.*.log' | wc -l)
echo "memcheck: $total quotetape processes checked, $bad with errors or leaks"
[ "$bad" -eq 0 ] || { find "$LOGS" -name 'vg.*.log' -size +0 | head -5; fails=$((fails + bad)); }
echo "memcheck: logs in $LOGS"
echo "$((total - bad)) passed, $fails failed"
[ "$fails" -eq 0 ]
