#!/bin/bash
# TLS on the channel (issue 3).  A CA, a server certificate for
# localhost/127.0.0.1, an unrelated self-signed certificate with the same
# names (an impostor), a client CA with a client certificate, and a client
# certificate from the wrong CA, all made with the openssl CLI here.
#  - good CA (by IP and by --server-name localhost), right pin: channel up,
#    data byte-exact; the channel capture holds neither the payload, the
#    key nor the HELLO magic;
#  - wrong CA, --tls alone (system store), wrong pin, the CA's pin instead
#    of the server's, wrong --server-name, a plain client to a TLS server, a
#    TLS client to a plain server, an impostor server with a self-signed
#    certificate for the right names: refused with a clear message;
#  - TLS_CLIENT_CA: no client certificate, one from another CA, a
#    self-signed one: refused; one from the client CA: works;
#  - bad TLS options and files: refused at start (64 / 78).
. "$(dirname "$0")/lib.sh"

check_binaries
PKI=$TMP/pki
mkdir -p "$PKI"
make_ca "$PKI" ca
make_ca "$PKI" cca
make_cert "$PKI" server ca serverAuth "DNS:localhost,IP:127.0.0.1"
make_cert "$PKI" other self serverAuth "DNS:localhost,IP:127.0.0.1"
make_cert "$PKI" client cca clientAuth
make_cert "$PKI" rogue ca clientAuth
cat "$PKI/client.crt" "$PKI/client.key" >"$PKI/client-combined.pem"
chmod 600 "$PKI"/*.key "$PKI/client-combined.pem"
PIN=$(cert_pin "$PKI/server.crt") || fail "cannot compute the server pin"
PIN_OTHER=$(cert_pin "$PKI/other.crt") || fail "cannot compute a pin"
PIN_CA=$(cert_pin "$PKI/ca.crt") || fail "cannot compute a pin"
info "server pin $PIN"

ECHO=$(free_port) || fail "free_port"
SRC=$(free_port) || fail "free_port"
PUB_E=$(free_port) || fail "free_port"
PUB_S=$(free_port) || fail "free_port"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 60
start_bg source "${PYH[@]}" source-server --port "$SRC" --size 16M --lifetime 300
wait_port $LOCALHOST "$ECHO" 10 || fail "echo server did not start"
wait_port $LOCALHOST "$SRC" 10 || fail "source server did not start"

EXTRA_DEFAULTS="TLS_CERT = $PKI/server.crt
TLS_KEY = $PKI/server.key"
write_config "$LOCALHOST:$PUB_E = $LOCALHOST:$ECHO" "$LOCALHOST:$PUB_S = $LOCALHOST:$SRC"
unset EXTRA_DEFAULTS
KEY=$(test_key)
start_server_as server-tls
TLS_INNER=$INNER_PORT
TLS_LOG=$SERVER_LOG
TLS_PID=$SERVER_PID
grep -q "(TLS, key authentication)" "$TLS_LOG" || note_failure "server does not log that INNER_PORT uses TLS"

# log_mark FILE: its line count now; lines after it belong to what follows.
log_mark() {
    local n
    n=$(wc -l <"$1" 2>/dev/null) || n=0
    echo "${n:-0}"
}
# log_after FILE MARK: the lines of FILE after line MARK.
log_after() { tail -n +"$(($2 + 1))" "$1" 2>/dev/null; }
_after_matches() { log_after "$1" "$2" | grep -qiE -- "$3"; }
# wait_log_after FILE MARK EXTENDED-REGEX TIMEOUT: a line after line MARK of
# FILE matches (case insensitive), within TIMEOUT seconds.
wait_log_after() { wait_until "$4" _after_matches "$1" "$2" "$3"; }

# tls_client NAME SERVER_PORT SERVER_LOG up|refused REGEX ARGS...: start a
# client with the test key and ARGS; "up": it must get a TLS channel;
# "refused": its log must match REGEX (the refusal message, case
# insensitive) within 10 s, and neither side may bring a channel up.
tls_client() {
    local name=$1 port=$2 slog=$3 want=$4 re=$5 before
    shift 5
    before=$(log_count "$slog" "channel up")
    start_client_to "$name" "$port" --key-file "$KEY" "$@"
    if [ "$want" = up ]; then
        if wait_log "$CLIENT_LOG" "channel up" 1 10; then
            grep -q "channel up.*TLS" "$CLIENT_LOG" || note_failure "$name: channel up but not over TLS"
            grep -q "channel up.*\(TLS_AES_128_GCM_SHA256\|AES128-GCM\)" "$CLIENT_LOG" ||
                note_failure "$name: the channel does not use AES-128-GCM (the server prefers it)"
            info "$name: $(grep -m1 "channel up" "$CLIENT_LOG" | sed 's/.*\]: //')"
        else
            note_failure "$name: no channel within 10 s: $(grep -m1 -E '\[(warning|error)\]' "$CLIENT_LOG" | sed 's/.*\]: //' | cut -c1-200)"
        fi
        return 0
    fi
    if wait_log "$CLIENT_LOG" "$re" 1 10 || grep -qiE -- "$re" "$CLIENT_LOG"; then
        info "$name: refused: $(grep -m1 -iE -- "$re" "$CLIENT_LOG" | sed 's/.*\]: //' | cut -c1-200)"
    else
        note_failure "$name: no refusal matching '$re' within 10 s: $(grep -m1 -E '\[(warning|error)\]' "$CLIENT_LOG" | sed 's/.*\]: //' | cut -c1-200)"
    fi
    sleep 0.5
    stop_bg "$CLIENT_PID"
    assert_no_log "$CLIENT_LOG" "channel up" "$name: the client got a channel"
    [ "$(log_count "$slog" "channel up")" = "$before" ] ||
        note_failure "$name: the server brought a channel up"
}

# ------------------------------------------- good CA, through a recording relay
RELAY=$(free_port) || fail "free_port"
start_sech relay relay --listen "$RELAY" --target "$TLS_INNER" --record "$TMP/cap" --lifetime 200
wait_port $LOCALHOST "$RELAY" 10 || fail "relay did not start"
tls_client client-good-ca "$RELAY" "$TLS_LOG" up "" --ca-file "$PKI/ca.crt"
MARKER="tcpf-plaintext-marker-$RANDOM$RANDOM"
out=$(sech peer --port "$PUB_E" --expect echo --send 2000000 --marker "$MARKER" --within 20 2>&1) ||
    note_failure "good CA: 2 MB echo over TLS not byte-exact: $out"
"${PYH[@]}" concurrent --port "$PUB_E" -n 20 --max 262144 --timeout 60 >"$TMP/conc.out" 2>&1 ||
    note_failure "good CA: 20 concurrent echo streams over TLS failed: $(tail -n 1 "$TMP/conc.out")"
"${PYH[@]}" sink --port "$PUB_S" --size 16M --timeout 60 >"$TMP/sink.out" 2>&1 ||
    note_failure "good CA: 16 MiB download over TLS not byte-exact: $(tail -n 1 "$TMP/sink.out")"
info "over TLS: $(tail -n 1 "$TMP/conc.out"); $(tail -n 1 "$TMP/sink.out")"
stop_bg "$CLIENT_PID"
sleep 0.3
out=$(sech check-absent --needle "$MARKER" --min-bytes 4000000 "$TMP"/cap.*.c2s "$TMP"/cap.*.s2c 2>&1) ||
    note_failure "the payload is readable in the TLS channel capture (or it is too small): $out"
out=$(sech check-absent --needle TCPF "$TMP"/cap.*.c2s "$TMP"/cap.*.s2c 2>&1) ||
    note_failure "the HELLO magic is readable in the TLS channel capture: $out"
out=$(sech check-capture --key-file "$KEY" "$TMP"/cap.*.c2s "$TMP"/cap.*.s2c 2>&1) ||
    note_failure "the key appears in the TLS channel capture: $out"

tls_client client-good-name "$TLS_INNER" "$TLS_LOG" up "" --ca-file "$PKI/ca.crt" --server-name localhost
out=$(sech peer --port "$PUB_E" --expect echo --send 100000 2>&1) || note_failure "good CA + name: no echo: $out"
stop_bg "$CLIENT_PID"
tls_client client-pin "$TLS_INNER" "$TLS_LOG" up "" --fingerprint "$PIN"
out=$(sech peer --port "$PUB_E" --expect echo --send 100000 2>&1) || note_failure "right pin: no echo: $out"
stop_bg "$CLIENT_PID"
pin_plain=$(tr -d ':' <<<"${PIN#SHA256:}" | tr 'A-F' 'a-f')
tls_client client-pin-lower "$TLS_INNER" "$TLS_LOG" up "" --fingerprint "sha256:$pin_plain"
stop_bg "$CLIENT_PID"

# ------------------------------------------------------------- refusals
tls_client client-wrong-ca "$TLS_INNER" "$TLS_LOG" refused "certificate verify failed" --ca-file "$PKI/other.crt"
tls_client client-system-store "$TLS_INNER" "$TLS_LOG" refused "certificate verify failed" --tls
tls_client client-wrong-pin "$TLS_INNER" "$TLS_LOG" refused "certificate verify failed.*(rejected|fingerprint|pin)" \
    --fingerprint "$PIN_OTHER"
tls_client client-ca-pin "$TLS_INNER" "$TLS_LOG" refused "certificate verify failed.*(rejected|fingerprint|pin)" \
    --fingerprint "$PIN_CA"
tls_client client-wrong-name "$TLS_INNER" "$TLS_LOG" refused "hostname mismatch" \
    --ca-file "$PKI/ca.crt" --server-name wrong.example
# (the refusals above logged TLS errors too: only lines after the mark count)
mark=$(log_mark "$TLS_LOG")
tls_client client-plain "$TLS_INNER" "$TLS_LOG" refused "TLS" # a hint: the server speaks TLS
wait_log_after "$TLS_LOG" "$mark" "connection from 127\.0\.0\.1:[0-9]+: .*(TLS|SSL|wrong version|http request)" 5 ||
    note_failure "TLS server did not log the refused plain client"

# ------------------------------------------ TLS client to a plain server
PLAIN_INNER=$(free_port) || fail "free_port"
sed -e "s/^INNER_PORT = .*/INNER_PORT = $PLAIN_INNER/" -e '/^TLS_/d' -e '/^\[MAPPER\]/,$d' "$CONFIG" >"$TMP/plain.cfg"
INNER_PORT=$PLAIN_INNER
PUBLIC_PORTS=()
start_server_as server-plain "$TMP/plain.cfg"
PLAIN_LOG=$SERVER_LOG
tls_client client-tls-to-plain "$PLAIN_INNER" "$PLAIN_LOG" refused "TLS" --ca-file "$PKI/ca.crt"
grep -qE "connection from 127\.0\.0\.1:[0-9]+: .*(protocol error|not a tcp-forward)" "$PLAIN_LOG" ||
    note_failure "plain server did not log the TLS client as not a tcp-forward peer"
stop_bg "$SERVER_PID"

# ------------------------ an impostor server: self-signed, right names, same key
IMP_INNER=$(free_port) || fail "free_port"
sed -e "s/^INNER_PORT = .*/INNER_PORT = $IMP_INNER/" -e "s#^TLS_CERT = .*#TLS_CERT = $PKI/other.crt#" \
    -e "s#^TLS_KEY = .*#TLS_KEY = $PKI/other.key#" -e '/^\[MAPPER\]/,$d' "$CONFIG" >"$TMP/impostor.cfg"
INNER_PORT=$IMP_INNER
start_server_as server-impostor "$TMP/impostor.cfg"
IMP_LOG=$SERVER_LOG
tls_client client-vs-impostor "$IMP_INNER" "$IMP_LOG" refused "certificate verify failed" --ca-file "$PKI/ca.crt"
tls_client client-vs-impostor-name "$IMP_INNER" "$IMP_LOG" refused "certificate verify failed" \
    --ca-file "$PKI/ca.crt" --server-name localhost
tls_client client-pin-vs-impostor "$IMP_INNER" "$IMP_LOG" refused "certificate verify failed" --fingerprint "$PIN"
stop_bg "$SERVER_PID"

# ------------------------------------------------------------ mutual TLS
M_INNER=$(free_port) || fail "free_port"
PUB_M=$(free_port) || fail "free_port"
{
    sed -e "s/^INNER_PORT = .*/INNER_PORT = $M_INNER/" -e '/^\[MAPPER\]/,$d' "$CONFIG"
    echo "TLS_CLIENT_CA = $PKI/cca.crt"
    echo "[MAPPER]"
    echo "$LOCALHOST:$PUB_M = $LOCALHOST:$ECHO"
} >"$TMP/mtls.cfg"
INNER_PORT=$M_INNER
PUBLIC_PORTS=("$PUB_M")
start_server_as server-mtls "$TMP/mtls.cfg"
M_LOG=$SERVER_LOG
grep -q "(mutual TLS, key authentication)" "$M_LOG" || note_failure "server does not log mutual TLS"
# Each refused client connects once (--no-reconnect), so each server refusal
# line is one client; each must be refused for its certificate, after the
# mark taken before it started (not by a line an earlier client caused).
MTLS_REFUSAL="connection from 127\.0\.0\.1:[0-9]+: .*(certificate verify failed|no certificate|did not return a certificate|certificate required)"
refused_ports=()
# mtls_refused NAME REGEX ARGS...: tls_client ... refused, then the server's
# certificate refusal line for it; records its source port.
mtls_refused() {
    local name=$1 re=$2 mark line
    shift 2
    mark=$(log_mark "$M_LOG")
    tls_client "$name" "$M_INNER" "$M_LOG" refused "$re" --no-reconnect "$@"
    if wait_log_after "$M_LOG" "$mark" "$MTLS_REFUSAL" 5; then
        line=$(log_after "$M_LOG" "$mark" | grep -iE -- "$MTLS_REFUSAL" | head -n 1)
        refused_ports+=("$(sed -nE 's/.*connection from 127\.0\.0\.1:([0-9]+):.*/\1/p' <<<"$line")")
        info "$name: server: $(sed 's/.*\]: //' <<<"$line" | cut -c1-160)"
    else
        note_failure "mTLS server did not log a certificate refusal for $name: $(log_after "$M_LOG" "$mark" | grep -m1 -E '\[(warning|error)\]' | sed 's/.*\]: //' | cut -c1-200)"
    fi
}
mtls_refused client-mtls-nocert "certificate" --ca-file "$PKI/ca.crt"
mtls_refused client-mtls-rogue "certificate|unknown ca|alert" \
    --ca-file "$PKI/ca.crt" --cert "$PKI/rogue.crt" --cert-key "$PKI/rogue.key"
mtls_refused client-mtls-selfsigned "certificate|unknown ca|alert" \
    --ca-file "$PKI/ca.crt" --cert "$PKI/other.crt" --cert-key "$PKI/other.key"
n=$(printf '%s\n' ${refused_ports[@]+"${refused_ports[@]}"} | grep -c .)
distinct=$(printf '%s\n' ${refused_ports[@]+"${refused_ports[@]}"} | grep . | sort -u | wc -l)
[ "$n" = 3 ] && [ "$distinct" = 3 ] ||
    note_failure "mTLS server refused $n of the 3 clients for their certificate, from $distinct distinct connections (want 3 and 3)"
mark=$(log_mark "$M_LOG")
tls_client client-mtls-good "$M_INNER" "$M_LOG" up "" \
    --ca-file "$PKI/ca.crt" --cert "$PKI/client.crt" --cert-key "$PKI/client.key"
out=$(sech peer --port "$PUB_M" --expect echo --send 500000 --within 10 2>&1) || note_failure "mTLS: no echo: $out"
# The server's "channel up" line names the TLS version and cipher but not
# whether the client showed a certificate: "mutual" is this server's
# listener (logged at its start, checked above), whose only way in is a
# client certificate (the three refusals above); here the channel must be
# up on it, over TLS.
wait_log_after "$M_LOG" "$mark" "client 127\.0\.0\.1:[0-9]+: channel up \(protocol [0-9]+, TLSv1\.[23] " 5 ||
    note_failure "mTLS server did not log the client with a certificate as channel up over TLS"
[ "$(grep -c "listening for clients on 127\.0\.0\.1:$M_INNER (mutual TLS" "$M_LOG")" = 1 ] ||
    note_failure "the channel's listener on $M_INNER is not the mutual TLS one"
stop_bg "$CLIENT_PID"
tls_client client-mtls-combined "$M_INNER" "$M_LOG" up "" --ca-file "$PKI/ca.crt" --cert "$PKI/client-combined.pem"
stop_bg "$CLIENT_PID"
stop_bg "$SERVER_PID"

# ------------------------------------------------- refused at start
# start_refused WANT_RC REGEX WHAT CMD...
start_refused() {
    local want=$1 re=$2 what=$3
    shift 3
    run_bounded refused 10 "$@"
    if [ "$RUN_RC" != "$want" ]; then
        note_failure "$what: exit status $RUN_RC, want $want: $(head -c 300 <<<"$RUN_OUT")"
    elif ! grep -qiE -- "$re" <<<"$RUN_OUT"; then
        note_failure "$what: message does not match '$re': $(head -c 300 <<<"$RUN_OUT")"
    fi
}
C=("$FORWARD_CLIENT" --key-file "$KEY")
start_refused 78 "cert-key" "client cert with the wrong key" \
    "${C[@]}" --cert "$PKI/client.crt" --cert-key "$PKI/rogue.key" $LOCALHOST "$TLS_INNER"
start_refused 78 "ca-file" "missing --ca-file" "${C[@]}" --ca-file "$PKI/missing.crt" $LOCALHOST "$TLS_INNER"
start_refused 78 "cert" "missing --cert" "${C[@]}" --cert "$PKI/missing.crt" $LOCALHOST "$TLS_INNER"
start_refused 64 "fingerprint" "short --fingerprint" "${C[@]}" --fingerprint SHA256:12:34 $LOCALHOST "$TLS_INNER"
start_refused 64 "fingerprint" "non-hex --fingerprint" \
    "${C[@]}" --fingerprint "SHA256:$(printf 'zz%.0s' $(seq 32))" $LOCALHOST "$TLS_INNER"
start_refused 64 "need --tls" "--server-name without --tls" "${C[@]}" --server-name localhost $LOCALHOST "$TLS_INNER"
sed -e '/^TLS_KEY/d' "$CONFIG" >"$TMP/nokey.cfg"
start_refused 78 "TLS_CERT and TLS_KEY" "server: TLS_CERT without TLS_KEY" "$FORWARD_SERVER" -n "$TMP/nokey.cfg"
sed -e "s#^TLS_KEY = .*#TLS_KEY = $PKI/other.key#" "$CONFIG" >"$TMP/mismatch.cfg"
start_refused 78 "does not match|mismatch" "server: TLS_KEY of another certificate" "$FORWARD_SERVER" -n "$TMP/mismatch.cfg"
printf 'TLS_CLIENT_CA = %s\n' "$PKI/cca.crt" >"$TMP/cafirst.cfg"
sed -e '/^TLS_/d' "$CONFIG" | sed "2r $TMP/cafirst.cfg" >"$TMP/caonly.cfg"
start_refused 78 "TLS_CLIENT_CA needs" "server: TLS_CLIENT_CA without TLS_CERT" "$FORWARD_SERVER" -n "$TMP/caonly.cfg"

SERVER_PID=$TLS_PID
assert_server_alive
finish_test
