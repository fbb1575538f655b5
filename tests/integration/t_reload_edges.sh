#!/bin/bash
# SIGHUP reload, the edges t_reload.sh leaves out (issue 14):
#  1. INNER_PORT changed: the server listens for clients on the new port
#     only, the channel up on the old one keeps serving, a new client on
#     the new port gets a channel; INNER_PORT changed to a port in use: the
#     reload is refused whole (all or nothing), and
#     reload logs that it cannot listen there and keeps the current one,
#     which still takes clients.
#  2. TLS turned on by a reload: logged as the mode of new clients (not as a
#     failed bind), the plain channel already up keeps serving, a new plain
#     client is refused, a TLS client gets a channel.
#  3. certificate rotation: the certificate and key files replaced, SIGHUP:
#     openssl s_client sees the new certificate, a client pinning the new
#     one gets a channel and one pinning the old one is refused, while a
#     download started before the rotation keeps going on its channel.
#  4. UDP sessions live across reloads: a ping on a kept /udp mapping is
#     answered throughout two reloads (one session, never restarted); a ping
#     on a /udp mapping the second reload removes gets no answer after it,
#     and its session ends with a 'mapping removed' log line.
#  5. TLS turned off again: logged, the TLS channel keeps serving, a TLS
#     client is refused, a plain one gets a channel.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/udp_lib.sh"

L=$LOCALHOST
PKI=$TMP/pki
mkdir -p "$PKI"
make_ca "$PKI" ca
make_cert "$PKI" cert1 ca serverAuth "DNS:localhost,IP:127.0.0.1"
make_cert "$PKI" cert2 ca serverAuth "DNS:localhost,IP:127.0.0.1"
chmod 600 "$PKI"/*.key
PIN1=$(cert_pin "$PKI/cert1.crt") || fail "cannot compute a pin"
PIN2=$(cert_pin "$PKI/cert2.crt") || fail "cannot compute a pin"
[ "$PIN1" != "$PIN2" ] || fail "the two certificates have the same fingerprint"
# the files the configuration names; rotation replaces their contents
cp "$PKI/cert1.crt" "$PKI/server.crt" && cp "$PKI/cert1.key" "$PKI/server.key" &&
    chmod 600 "$PKI/server.key" || fail "cannot install the first certificate"

ECHO=$(free_port) || fail "free_port"
SRC=$(free_port) || fail "free_port"
UECHO=$(free_udp_port) || fail "free_udp_port"
PUB_E=$(free_port) || fail "free_port"
PUB_S=$(free_port) || fail "free_port"
UK=$(free_udp_port) || fail "free_udp_port" # /udp, kept
UR=$(free_udp_port) || fail "free_udp_port" # /udp, removed by the second UDP reload
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 120
start_bg source "${PYH[@]}" source-server --port "$SRC" --size -1 --seed 11 --lifetime 300 --io-timeout 120
SRC_PID=$BG_PID
start_udp_echo uecho "$UECHO"
wait_port $L "$ECHO" 10 || fail "echo server did not start"
wait_port $L "$SRC" 10 || fail "source server did not start"

E_LINE="$L:$PUB_E = $L:$ECHO"
S_LINE="$L:$PUB_S = $L:$SRC"
UK_LINE="$L:$UK/udp = $L:$UECHO"
UR_LINE="$L:$UR/udp = $L:$UECHO"
TLS_LINES="TLS_CERT = $PKI/server.crt
TLS_KEY = $PKI/server.key"

write_config "$E_LINE" "$S_LINE" "$UK_LINE" "$UR_LINE"
INNER1=$INNER_PORT
start_udp_server
KEY=$(test_key)

# hup NAME: SIGHUP the server, wait for the reload to be applied; sets
# MARK to the server log's line count before the signal.
hup() {
    local before outcome=${2:-configuration reloaded}
    MARK=$(log_mark "$SERVER_LOG")
    before=$(log_count "$SERVER_LOG" "$outcome")
    kill_bg "$SERVER_PID" HUP || fail "$1: cannot signal the server"
    wait_log "$SERVER_LOG" "$outcome" $((before + 1)) 5 ||
        fail "$1: no '$outcome' within 5 s of SIGHUP"
}
log_mark() {
    local n
    n=$(wc -l <"$1" 2>/dev/null) || n=0
    echo "${n:-0}"
}
log_after() { tail -n +"$(($2 + 1))" "$1" 2>/dev/null; }
_after_matches() { log_after "$1" "$2" | grep -qE -- "$3"; }
wait_log_after() { wait_until "$4" _after_matches "$1" "$2" "$3"; }

# echo_ok WHAT: a 200 kB echo through PUB_E, byte-exact.
echo_ok() {
    local out
    out=$(sech peer --port "$PUB_E" --expect echo --send 200000 --within 10 2>&1) ||
        note_failure "$1: no echo through $PUB_E: $out"
}

# client_up NAME PORT ARGS...: a client with the test key; its channel must
# come up within 10 s.  Sets CLIENT_PID, CLIENT_LOG.
client_up() {
    local name=$1 port=$2
    shift 2
    start_client_to "$name" "$port" --key-file "$KEY" "$@"
    wait_log "$CLIENT_LOG" 'channel up' 1 10 ||
        note_failure "$name: no channel on port $port within 10 s: $(grep -m1 -E '\[(warning|error)\]' "$CLIENT_LOG" | sed 's/.*\]: //' | cut -c1-200)"
}

# client_refused NAME PORT REGEX ARGS...: a client (--no-reconnect) that must
# log REGEX and get no channel, and exit 1.
client_refused() {
    local name=$1 port=$2 re=$3 rc
    shift 3
    start_client_to "$name" "$port" --key-file "$KEY" --no-reconnect "$@"
    wait_bg "$CLIENT_PID" 15
    rc=$?
    [ $rc = 124 ] && stop_bg "$CLIENT_PID"
    grep -qiE -- "$re" "$CLIENT_LOG" ||
        note_failure "$name: no refusal matching '$re' (exit $rc): $(grep -m1 -E '\[(warning|error)\]' "$CLIENT_LOG" | sed 's/.*\]: //' | cut -c1-200)"
    [ "$(log_count "$CLIENT_LOG" 'channel up')" = 0 ] || note_failure "$name: got a channel"
    [ $rc = 1 ] || note_failure "$name: exit status $rc with --no-reconnect (want 1)"
    info "$name: $(grep -m1 -iE -- "$re" "$CLIENT_LOG" | sed 's/.*\]: //' | cut -c1-160)"
}

# --- 1. INNER_PORT changed ------------------------------------------------------
client_up client1 "$INNER1"
C1_PID=$CLIENT_PID
C1_LOG=$CLIENT_LOG
echo_ok "before any reload"

INNER_PORT=$(free_port) || fail "free_port"
INNER2=$INNER_PORT
write_config_file "$CONFIG" "$E_LINE" "$S_LINE" "$UK_LINE" "$UR_LINE"
hup "INNER_PORT $INNER1 -> $INNER2"
wait_log_after "$SERVER_LOG" "$MARK" "listening for clients on $L:$INNER2 \(plain TCP" 2 ||
    note_failure "no 'listening for clients on $L:$INNER2' line after the reload"
wait_not_listening $L "$INNER1" 5 || note_failure "old INNER_PORT $INNER1 still listening after the reload"
port_listening $L "$INNER2" || note_failure "new INNER_PORT $INNER2 not listening after the reload"
echo_ok "channel on the old INNER_PORT, after the change"
client_up client2 "$INNER2"
C2_PID=$CLIENT_PID
C2_LOG=$CLIENT_LOG
stop_bg "$C1_PID"
wait_log "$SERVER_LOG" 'channel closed' 1 10 || note_failure "the server did not log client1 leaving"
echo_ok "client2 (new INNER_PORT) alone"
[ "$(log_count "$C1_LOG" 'channel up')" = 1 ] || note_failure "client1's channel was re-established"

# a port in use: the reload is refused whole, the current one kept
INNER_PORT=$ECHO
write_config_file "$CONFIG" "$E_LINE" "$S_LINE" "$UK_LINE" "$UR_LINE"
hup "INNER_PORT -> $ECHO (in use)" "reload failed"
INNER_PORT=$INNER2
wait_log_after "$SERVER_LOG" "$MARK" "reload: cannot listen for clients on $L:$ECHO: .*in use" 1 ||
    note_failure "no 'reload: cannot listen for clients on $L:$ECHO' line for an INNER_PORT in use"
wait_log_after "$SERVER_LOG" "$MARK" "reload failed \(1 error\): still running the previous configuration" 1 ||
    note_failure "the reload with an INNER_PORT in use was not refused whole"
info "INNER_PORT in use: $(log_after "$SERVER_LOG" "$MARK" | grep -m1 'cannot listen' | sed 's/.*\]: //')"
port_listening $L "$INNER2" || note_failure "INNER_PORT $INNER2 not listening after a failed rebind"
client_up client2b "$INNER2"
stop_bg "$CLIENT_PID"
echo_ok "after the failed rebind"
write_config_file "$CONFIG" "$E_LINE" "$S_LINE" "$UK_LINE" "$UR_LINE"

# --- 2. TLS turned on -------------------------------------------------------------
EXTRA_DEFAULTS=$TLS_LINES
write_config_file "$CONFIG" "$E_LINE" "$S_LINE" "$UK_LINE" "$UR_LINE"
hup "TLS on"
wait_log_after "$SERVER_LOG" "$MARK" "new clients on $L:$INNER2 now use TLS|listening for clients on $L:$INNER2 \(TLS" 2 ||
    note_failure "the reload that turns TLS on does not log the new mode"
if log_after "$SERVER_LOG" "$MARK" | grep -qE '\[error\]'; then
    note_failure "the reload that turns TLS on logged an error: $(log_after "$SERVER_LOG" "$MARK" | grep -m1 -E '\[error\]' | sed 's/.*\]: //')"
fi
info "TLS on: $(log_after "$SERVER_LOG" "$MARK" | grep -m1 -E 'now use|listening for clients' | sed 's/.*\]: //')"
echo_ok "plain channel after TLS was turned on"
[ "$(log_count "$C2_LOG" 'channel up')" = 1 ] || note_failure "client2's plain channel was re-established"
client_refused plain-after-tls "$INNER2" "TLS"
client_up client-tls "$INNER2" --ca-file "$PKI/ca.crt"
CT_PID=$CLIENT_PID
CT_LOG=$CLIENT_LOG
grep -q 'channel up.*TLS' "$CT_LOG" || note_failure "client-tls: channel up but not over TLS"
stop_bg "$C2_PID"
echo_ok "TLS channel alone"

# --- 3. certificate rotation --------------------------------------------------------
# served_pin: the SHA-256 pin of the certificate the server shows now.
served_pin() {
    local pem fp
    pem=$(timeout 10 openssl s_client -connect "$L:$INNER2" -servername localhost </dev/null 2>/dev/null |
        sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p')
    fp=$(openssl x509 -noout -fingerprint -sha256 <<<"$pem" 2>/dev/null) || return 1
    echo "SHA256:${fp#*=}"
}
pin=$(served_pin) || note_failure "openssl s_client got no certificate from the server"
[ "$pin" = "$PIN1" ] || note_failure "before the rotation the server shows $pin (want $PIN1)"

start_bg dl "${PYH[@]}" sink --port "$PUB_S" --seed 11 --until-close --progress-file "$TMP/progress" --timeout 120
DL_PID=$BG_PID
progress() { cat "$TMP/progress" 2>/dev/null || echo 0; }
got_at_least() { [ "$(progress)" -ge "$1" ]; }
wait_until 20 got_at_least $((4 << 20)) || fail "the download on $PUB_S did not get going: $(progress) bytes"

cp "$PKI/cert2.crt" "$PKI/server.crt.new" && cp "$PKI/cert2.key" "$PKI/server.key.new" &&
    chmod 600 "$PKI/server.key.new" && mv -f "$PKI/server.crt.new" "$PKI/server.crt" &&
    mv -f "$PKI/server.key.new" "$PKI/server.key" || fail "cannot install the second certificate"
at_rotation=$(progress)
hup "certificate rotation"
pin=$(served_pin) || note_failure "openssl s_client got no certificate after the rotation"
info "certificate served: before $PIN1, after the rotation $pin"
[ "$pin" = "$PIN2" ] || note_failure "after the rotation the server shows $pin (want $PIN2)"
client_up client-pin2 "$INNER2" --fingerprint "$PIN2"
stop_bg "$CLIENT_PID"
client_refused client-pin1 "$INNER2" "certificate verify failed" --fingerprint "$PIN1"
wait_until 20 got_at_least $((at_rotation + (16 << 20))) ||
    note_failure "the download started before the rotation stalled: $at_rotation bytes at the rotation, $(progress) now"
is_alive "$DL_PID" || note_failure "the download ended after the rotation: $(tail -n 1 "$TMP/dl.log")"
info "download across the rotation: $at_rotation bytes at SIGHUP, $(progress) bytes now"
[ "$(log_count "$CT_LOG" 'channel up')" = 1 ] || note_failure "client-tls's channel was re-established by the rotation"
# the endless source ends: the download ends and reports what it checked
stop_bg "$SRC_PID"
wait_bg "$DL_PID" 20
grep -q 'bad_at=None' "$TMP/dl.log" ||
    note_failure "the download across the rotation did not end byte-exact: $(tail -n 1 "$TMP/dl.log")"
info "download across the rotation: $(tail -n 1 "$TMP/dl.log")"

# --- 4. UDP sessions across reloads ---------------------------------------------------
start_bg ping-kept "${UDPH[@]}" ping --port "$UK" --size 64 --interval 0.02 --duration 8 --timeout 1 \
    --min-answered 0.97 --label kept
PK=$BG_PID
start_bg ping-removed "${UDPH[@]}" ping --port "$UR" --size 64 --interval 0.02 --duration 8 --timeout 1 \
    --min-answered 0 --label removed
PR=$BG_PID
wait_log "$SERVER_LOG" "udp session [0-9]+ started: mapping $L:$UK/udp " 1 5 || fail "no UDP session on $UK"
wait_log "$SERVER_LOG" "udp session [0-9]+ started: mapping $L:$UR/udp " 1 5 || fail "no UDP session on $UR"
sleep 1.5
# a reload that keeps both /udp mappings (another mapping is added; its
# port is picked just before, so no ephemeral port takes it meanwhile)
PUB_X=$(free_port) || fail "free_port"
X_LINE="$L:$PUB_X = $L:$ECHO"
write_config_file "$CONFIG" "$E_LINE" "$S_LINE" "$UK_LINE" "$UR_LINE" "$X_LINE"
hup "UDP: both kept"
wait_log_after "$SERVER_LOG" "$MARK" "mapping $L:$PUB_X -> $L:$ECHO added" 2 ||
    note_failure "mapping $PUB_X not added: $(log_after "$SERVER_LOG" "$MARK" | grep -m1 -E '\[error\]' | sed 's/.*\]: //')"
sleep 1.5
# a reload that removes UR
write_config_file "$CONFIG" "$E_LINE" "$S_LINE" "$UK_LINE" "$X_LINE"
hup "UDP: $UR removed"
t_removed=$(now_ms)
wait_log_after "$SERVER_LOG" "$MARK" "udp session [0-9]+ ended: mapping $L:$UR/udp .*: mapping removed" 3 ||
    note_failure "no 'udp session ... ended: ... mapping removed' line for $UR"
info "removed: $(log_after "$SERVER_LOG" "$MARK" | grep -m1 "udp session [0-9]* ended: mapping $L:$UR/udp" | sed 's/.*\]: //')"
wait_bg "$PK" 20
rc=$?
out_k=$(tail -n 1 "$TMP/ping-kept.log")
info "kept /udp mapping across two reloads: $out_k"
[ $rc = 0 ] || note_failure "ping on the kept /udp mapping $UK: status $rc: $out_k"
wait_bg "$PR" 20 >/dev/null
out_r=$(tail -n 1 "$TMP/ping-removed.log")
info "removed /udp mapping: $out_r (removal logged at $t_removed)"
ans=$(kv answered "$out_r")
last=$(kv last_reply_ms "$out_r")
[ "${ans:-0}" -ge 100 ] || note_failure "ping on $UR was answered only ${ans:-0} times before its removal (want >= 100)"
if [ "${last:-0}" -gt $((t_removed + 1000)) ]; then
    note_failure "ping on the removed /udp mapping $UR was answered $((last - t_removed)) ms after the reload removed it"
fi
info "removed /udp mapping: last answer $((t_removed - ${last:-0})) ms before the reload was logged"
n=$(log_count "$SERVER_LOG" "udp session [0-9]+ started: mapping $L:$UK/udp ")
[ "$n" = 1 ] || note_failure "the kept /udp mapping's session was started $n times (want 1: kept across the reloads)"
assert_no_log "$SERVER_LOG" "udp session [0-9]+ ended: mapping $L:$UK/udp .*mapping removed" \
    "the kept /udp mapping's session was ended by a reload"

# --- 5. TLS turned off again ------------------------------------------------------------
EXTRA_DEFAULTS=""
write_config_file "$CONFIG" "$E_LINE" "$S_LINE" "$UK_LINE" "$X_LINE"
hup "TLS off"
wait_log_after "$SERVER_LOG" "$MARK" "new clients on $L:$INNER2 now use plain TCP|listening for clients on $L:$INNER2 \(plain TCP" 2 ||
    note_failure "the reload that turns TLS off does not log the new mode"
if log_after "$SERVER_LOG" "$MARK" | grep -qE '\[error\]'; then
    note_failure "the reload that turns TLS off logged an error: $(log_after "$SERVER_LOG" "$MARK" | grep -m1 -E '\[error\]' | sed 's/.*\]: //')"
fi
echo_ok "TLS channel after TLS was turned off"
client_refused tls-after-plain "$INNER2" "TLS" --ca-file "$PKI/ca.crt"
client_up client-plain-again "$INNER2"
grep -q 'channel up.*TLS' "$CLIENT_LOG" && note_failure "client-plain-again: channel up over TLS"
stop_bg "$CLIENT_PID"
[ "$(log_count "$CT_LOG" 'channel up')" = 1 ] || note_failure "client-tls's channel was re-established"

assert_server_alive
is_alive "$CT_PID" || note_failure "client-tls died"
finish_test
