# Shared helpers for integration tests (sourced).
: "${QT:?QT must point at the quotetape binary}"
: "${QT_FIXTURES:?}"
W=$(mktemp -d /tmp/qt_it.XXXXXX)
QT_PIDS=()
cleanup() {
  local p
  for p in "${QT_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${QT_PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "$(basename "$0"): passed"; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }

# expect_fail CODE ERRFILE CMD...: runs CMD, wants exit CODE, keeps stderr.
expect_fail() {
  local want=$1 errf=$2; shift 2
  local rc=0
  "$@" >/dev/null 2>"$errf" || rc=$?
  [ "$rc" = "$want" ] || fail "'$*' exited $rc, want $want: $(head -c 400 "$errf")"
}

# start_broker: runs 'quotetape broker' in the background, sets BOOT.
start_broker() {
  "$QT" broker -q --bootstrap-file "$W/boot" "$@" > "$W/broker.out" 2>&1 &
  QT_PIDS+=($!)
  local i
  for i in $(seq 100); do [ -s "$W/boot" ] && break; sleep 0.05; done
  [ -s "$W/boot" ] || fail "embedded broker did not start: $(cat "$W/broker.out")"
  BOOT=$(cat "$W/boot")
}
