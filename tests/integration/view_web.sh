#!/bin/bash
# quotetape view --serve: the live web page in headless Chromium. The
# embedded broker holds window messages (kcat as the producer); one viewer
# serves the page. Asserts: the page loads with nothing from outside, lists
# the symbols, shows the selected symbol's last N windows (as the page's
# data-points and as the vertices of the chart's line in the inline SVG),
# follows a change of symbol, shows more points after new windows are
# produced (capped at --last), learns a new symbol, and its SVG is byte for
# byte the chart `view --svg --symbol` draws.
set -u
: "${QT:?}" "${QT_SRC:?}"
T=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -15 "$f" >&2; }; done
    exit 1
}
ok() { echo "ok - $*"; }
command -v chromium >/dev/null || fail "chromium is not installed (scripts/deps.sh installs it)"

"$QT" broker --topic quotes.w5s:1 --bootstrap-file "$T/boot" >/dev/null 2>"$T/broker.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/boot" ] && break; sleep 0.1; done
B=$(cat "$T/boot")
[ -n "$B" ] || fail "broker did not start"

# produce.sh SYMBOL FIRST LAST: windows FIRST..LAST (5 s each) of SYMBOL
cat >"$T/produce.sh" <<EOF
for i in \$(seq "\$2" "\$3"); do
    s=\$((1709649000000 + i * 5000))
    printf '%s|{"symbol":"%s","window_start":%s,"window_end":%s,"price":%s.25,"count":%s}\n' \
        "\$1" "\$1" "\$s" "\$((s + 5000))" "\$((100 + i % 7))" "\$((3 + i))"
done | kcat -b "$B" -P -t quotes.w5s -K '|'
EOF
bash "$T/produce.sh" SPY 0 5
bash "$T/produce.sh" QQQ 0 3

# --- usage errors ---------------------------------------------------------
"$QT" view -b "$B" --serve 0.0.0.0:0 2>"$T/u1.err"
[ $? = 64 ] && grep -q "not a loopback address" "$T/u1.err" || fail "non-loopback: $(cat "$T/u1.err")"
"$QT" view -b "$B" --serve 127.0.0.1:0 --png x.png 2>"$T/u2.err"
[ $? = 64 ] && grep -q "choose one of" "$T/u2.err" || fail "--serve with --png: $(cat "$T/u2.err")"
"$QT" view --help | grep -q -- "--serve ADDR" || fail "--serve not in view --help"
ok "usage: non-loopback refused, --serve is one output choice"

"$QT" view -b "$B" --topic quotes.w5s --serve 127.0.0.1:0 --last 10 -v 2>"$T/view.log" &
VPID=$!
PIDS+=($VPID)
for _ in $(seq 100); do
    PORT=$(sed -n 's#.*serving the live page on http://127.0.0.1:\([0-9]*\)/.*#\1#p' "$T/view.log")
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || fail "view did not log its address"
URL="http://127.0.0.1:$PORT/"

# the page is self-contained: nothing is loaded from anywhere else
python3 - "$URL" <<'EOF' || fail "the page refers to outside resources"
import sys, urllib.request, re
page = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
assert "<select" in page and "WebSocket" in page, "not the page"
bad = re.findall(r'(?:src|href)\s*=|https?://|@import|<link', page)
assert not bad, bad
EOF
ok "the page ($(curl -s "$URL" | wc -c) bytes) loads nothing from outside"

# one browser: load and dump the DOM once the websocket has delivered (the
# virtual time budget is not tied to the network: on a busy machine the
# charts may not be in yet, so up to three tries)
dump_ok() {
    grep -q '<option value="QQQ">QQQ</option><option value="SPY">SPY</option>' "$T/dom.html" &&
        grep -q 'data-points="4" data-symbol="QQQ"' "$T/dom.html" && grep -q '<svg' "$T/dom.html"
}
for try in 1 2 3; do
    timeout 30 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$T/udd" --virtual-time-budget=5000 --dump-dom "$URL" \
        >"$T/dom.html" 2>"$T/chromium.log" || fail "chromium --dump-dom failed"
    rm -rf "$T/udd"
    dump_ok && break
done
dump_ok || fail "dump-dom: $(grep -o '<select.*</select>' "$T/dom.html") $(grep -o '<div id="chart"[^>]*>' "$T/dom.html")"
ok "dump-dom: page loaded, symbols QQQ and SPY listed, QQQ's 4 windows drawn"

# another browser, live, over the DevTools protocol
CH="document.getElementById('chart').dataset"
OPTS="JSON.stringify(Array.from(document.querySelectorAll('#symbol option')).map(o => o.value))"
LINE="qtLinePoints()"
cat >"$T/steps" <<EOF
wait document.readyState === 'complete' && $OPTS === '["QQQ","SPY"]'
eval window.qtLinePoints = function () { var ps = Array.from(document.querySelectorAll('#chart svg path')).filter(function (p) { return (p.getAttribute('stroke') || '').replace(/ /g, '') === 'rgb(8,81,156)'; }); if (ps.length !== 1) return -1; return ps[0].getAttribute('d').trim().split('M').pop().split('L').length; }
wait $CH.symbol === 'QQQ' && $CH.points === '4' && $LINE === 4
eval (function () { var s = document.getElementById('symbol'); s.value = 'SPY'; s.dispatchEvent(new Event('change')); })()
wait $CH.symbol === 'SPY' && $CH.points === '6' && $LINE === 6
run bash $T/produce.sh SPY 6 8
wait $CH.symbol === 'SPY' && $CH.points === '9' && $LINE === 9
run bash $T/produce.sh SPY 9 12
run bash $T/produce.sh IWM 0 1
run "$QT" view -b "$B" --topic quotes.w5s --symbol SPY --last 10 --svg "$T/cli.svg" 2>"$T/cli.log"
waiteq $T/cli.svg window.qtSvg
wait $CH.points === '10' && $LINE === 10 && $OPTS === '["IWM","QQQ","SPY"]'
wait document.getElementById('symbol').value === 'SPY' && document.getElementById('status').textContent === 'live'
save $T/page.svg window.qtSvg
EOF
timeout 60 python3 "$QT_SRC/tests/integration/view_web_cdp.py" "$URL" "$T/steps" >"$T/cdp.out" \
    2>"$T/cdp.log" || fail "live page: $(cat "$T/cdp.out" "$T/cdp.log")"
ok "live: QQQ 4 points; switched to SPY: 6 points; +3 windows: 9; +4: 10 (last 10); IWM joined the list"

# the page shows exactly the chart view --svg draws (same data, same code;
# the page waited above until its chart was that file)
curl -sf "${URL}chart.svg?symbol=SPY" >"$T/http.svg" || fail "GET /chart.svg failed"
cmp -s "$T/page.svg" "$T/cli.svg" || fail "the page's SVG differs from view --svg's"
cmp -s "$T/http.svg" "$T/cli.svg" || fail "/chart.svg differs from view --svg's"
ok "the page's chart is byte for byte view --svg --symbol SPY --last 10 ($(wc -c <"$T/cli.svg") bytes)"

kill -TERM "$VPID"
wait "$VPID"
rc=$?
[ "$rc" = 0 ] || fail "view exit $rc on SIGTERM"
nb=$(sed -n 's/.* \([0-9]*\) browser connection(s) in all.*/\1/p' "$T/view.log")
[ "${nb:-0}" -ge 2 ] || fail "browser count: $(grep 'browser connection' "$T/view.log")"
n=$(grep -c "rendered for the page" "$T/view.log")
[ "$n" -le 12 ] || fail "$n renders for 22 windows: throttling/batching does not work"
ok "$nb browser connections from one consumer; $n chart renders for 22 windows; exit 0 on SIGTERM"
echo "view_web: all passed"
