#!/bin/bash
# quotetape record over wss:// (TLS), as against Alpaca itself, with a server
# certificate from a private CA made here:
#  - with --ca-file naming that CA the peer is verified and every quote the
#    server sent is on the tape, exit 0 on SIGTERM, no secret on the tape;
#  - without it the certificate is refused: nothing recorded, a warning that
#    says so, and the recorder keeps retrying until stopped;
#  - --insecure skips verification (local test servers);
#  - a --ca-file that cannot be read or holds no certificate, or one given
#    with --insecure, is an error.
source "$(dirname "$0")/record_lib.bash"
command -v openssl >/dev/null || fail "openssl is missing"

# a CA, and a server certificate it signs for localhost and 127.0.0.1
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 \
    -subj "/CN=quotetape test CA" 2>"$T/openssl.log" || fail "openssl: CA"
openssl req -newkey rsa:2048 -nodes -keyout "$T/srv.key" -out "$T/srv.csr" \
    -subj "/CN=localhost" 2>>"$T/openssl.log" || fail "openssl: request"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$T/ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
    -out "$T/srv.pem" -days 2 -extfile "$T/ext" 2>>"$T/openssl.log" || fail "openssl: sign"

# the recorder goes to wss://localhost:$PORT (the name the certificate holds)
REC_SCHEME=wss
REC_HOST=localhost
TLS=(--tls-cert "$T/srv.pem" --tls-key "$T/srv.key")

# ---- verified against --ca-file ----------------------------------------------------
start_server ok --count 3000 --per-frame 20 "${TLS[@]}"
record_bg "$T/ok.db" --ca-file "$T/ca.pem"
wait_count "$T/ok.db" 3000
stop_rec
[ "$REC_RC" = 0 ] || fail "wss with --ca-file: exit $REC_RC"
kill "$SERVER_PID"
check_tape_is_sent "$T/ok.db" "$T/ok.sent"
check_no_secret "$T/ok.db"
ok "wss:// verified with --ca-file: 3000 quotes, exactly as sent, exit 0"

# ---- the system's CAs do not know this one ---------------------------------------
start_server bad --count 3000 "${TLS[@]}"
: >"$T/rec.log"
record_bg "$T/bad.db"
sleep 2
kill -0 "$REC_PID" 2>/dev/null || fail "recorder gave up on a refused certificate: $(cat "$T/rec.log")"
stop_rec
[ "$(tape_count "$T/bad.db")" = 0 ] || fail "recorded $(tape_count "$T/bad.db") quotes from an unverified peer"
[ "$(stat_of bad sent)" = 0 ] || fail "the server sent $(stat_of bad sent) quotes to an unverified client"
grep -q "cannot connect to 'wss://localhost:$PORT/v2/test': TLS handshake failed (.*): the server's certificate is not signed by a CA this machine trusts (--ca-file FILE names others), is for another host name, or the server does not speak TLS" "$T/rec.log" ||
    fail "no clear TLS error: $(head -5 "$T/rec.log")"
[ "$(grep -c "TLS handshake failed" "$T/rec.log")" -ge 2 ] || fail "no retry after a refused certificate"
kill "$SERVER_PID"
ok "unknown CA: certificate refused, nothing recorded, a clear warning, retried until stopped"

# ---- --insecure ---------------------------------------------------------------------
start_server insecure --count 500 "${TLS[@]}"
record_bg "$T/insecure.db" --insecure
wait_count "$T/insecure.db" 500
stop_rec
[ "$REC_RC" = 0 ] || fail "wss --insecure: exit $REC_RC"
check_tape_is_sent "$T/insecure.db" "$T/insecure.sent"
kill "$SERVER_PID"
ok "--insecure: 500 quotes without verification"

# ---- bad flags ------------------------------------------------------------------------
"$QT" record --symbols SPY --url "wss://localhost:1/v2/test" --db "$T/x.db" --ca-file "$T/nope.pem" \
    2>"$T/e1.txt"
rc=$?
[ "$rc" = 66 ] || fail "missing --ca-file: exit $rc, want 66"
grep -q "error: cannot read --ca-file '$T/nope.pem': No such file or directory" "$T/e1.txt" ||
    fail "missing --ca-file: $(cat "$T/e1.txt")"
"$QT" record --symbols SPY --url "wss://localhost:1/v2/test" --db "$T/x.db" --ca-file "$T/ca.pem" \
    --insecure 2>"$T/e2.txt"
rc=$?
[ "$rc" = 64 ] || fail "--ca-file with --insecure: exit $rc, want 64"
grep -q -- "--ca-file verifies the peer, --insecure does not" "$T/e2.txt" || fail "$(cat "$T/e2.txt")"
"$QT" record --symbols SPY --url "wss://localhost:1/v2/test" --db "$T/x.db" --ca-file "$T/srv.key" \
    2>"$T/e3.txt"
rc=$?
[ "$rc" = 78 ] || fail "--ca-file without a certificate: exit $rc, want 78"
grep -q "error: --ca-file '$T/srv.key' holds no PEM certificate" "$T/e3.txt" || fail "$(cat "$T/e3.txt")"
[ ! -e "$T/x.db" ] || fail "a bad flag created the tape"
ok "unreadable --ca-file: exit 66; one without a certificate: 78; with --insecure: 64; no tape created"
echo "record_wss: all passed"
