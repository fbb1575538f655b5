#!/bin/bash
# TLS channel under faults (issue 14), beyond t_tls.sh and t_client_killed.sh:
#  1. the TLS channel's TCP connection cut mid-transfer (ss -K on the
#     client's socket; the kernel resets the server's side): the server
#     logs the channel closed, naming the client; the public connection of
#     the running download is reset (not closed cleanly, so the truncated
#     transfer never looks complete); the client, still alive, logs the loss
#     and reconnects; a new 16 MiB download is byte-exact;
#  2. the same with the TLS client killed (-9) mid-transfer: reset, logged,
#     and a new client serves;
#  3. TLS below 1.2 refused: openssl s_client -tls1_1 and -tls1 (with
#     SECLEVEL=0, so the client side offers them) fail, and the server logs a
#     refusal naming the peer and the protocol problem; -tls1_2 completes
#     the TLS handshake (a control for the setup).
. "$(dirname "$0")/lib.sh"

command -v ss >/dev/null || fail "ss not installed (iproute2, tools/deps.sh test)"
L=$LOCALHOST
PKI=$TMP/pki
mkdir -p "$PKI"
make_ca "$PKI" ca
make_cert "$PKI" server ca serverAuth "DNS:localhost,IP:127.0.0.1"
chmod 600 "$PKI"/*.key

INF=$(free_port) || fail "free_port"
SRC=$(free_port) || fail "free_port"
PUB_INF=$(free_port) || fail "free_port"
PUB_SRC=$(free_port) || fail "free_port"
start_bg inf "${PYH[@]}" source-server --port "$INF" --size -1 --seed 4 --lifetime 300 --io-timeout 60
start_bg src "${PYH[@]}" source-server --port "$SRC" --size 16M --seed 6 --lifetime 300 --io-timeout 60
wait_port $L "$INF" 10 || fail "endless source did not start"
wait_port $L "$SRC" 10 || fail "16 MiB source did not start"

# CLIENT_WAIT = 0: a public connection with no client is closed at once, so
# a reset seen by the download is the cut's, not a hold's expiry.
EXTRA_DEFAULTS="TLS_CERT = $PKI/server.crt
TLS_KEY = $PKI/server.key
CLIENT_WAIT = 0"
write_config "$L:$PUB_INF = $L:$INF" "$L:$PUB_SRC = $L:$SRC"
start_server
KEY=$(test_key)
CA=("--ca-file" "$PKI/ca.crt")

# channel_port LOG N: the client port of the N-th "channel up" line of the
# server log.
channel_port() {
    grep -E "client $L:[0-9]+: channel up" "$1" | sed -n "$2p" | sed -nE "s/.*client $L:([0-9]+): channel up.*/\\1/p"
}

# download_running NAME: an endless download through the tunnel, at least
# 4 MiB in.  Sets DL_PID.
download_running() {
    local got i
    rm -f "$TMP/$1.progress"
    start_bg "$1" "${PYH[@]}" sink --port "$PUB_INF" --seed 4 --until-close \
        --progress-file "$TMP/$1.progress" --timeout 60
    DL_PID=$BG_PID
    for ((i = 0; i < 200; i++)); do
        got=$(cat "$TMP/$1.progress" 2>/dev/null || echo 0)
        [ "${got:-0}" -ge $((4 << 20)) ] && return 0
        is_alive "$DL_PID" || break
        sleep 0.1
    done
    fail "$1: the download did not get going (${got:-0} bytes): $(tail -n 1 "$TMP/$1.log")"
}

# download_reset NAME T0: the download NAME must end with a reset within 5 s.
download_reset() {
    local rc el
    wait_bg "$DL_PID" 5
    rc=$?
    el=$(($(now_ms) - $2))
    info "$1: download ended ~$el ms after the cut: $(tail -n 1 "$TMP/$1.log")"
    case $rc in
    0) ;;
    3) note_failure "$1: the public connection ended with a clean EOF instead of a reset: the truncated transfer looks complete" ;;
    124) note_failure "$1: the public connection still open 5 s after the cut" ;;
    *) note_failure "$1: sink failed (status $rc): $(tail -n 1 "$TMP/$1.log")" ;;
    esac
}

# fresh_download WHAT: 16 MiB through the tunnel, byte-exact.
fresh_download() {
    "${PYH[@]}" sink --port "$PUB_SRC" --size 16M --seed 6 --timeout 60 >"$TMP/fresh.out" 2>&1 ||
        note_failure "$1: 16 MiB download not byte-exact: $(tail -n 1 "$TMP/fresh.out")"
    info "$1: $(tail -n 1 "$TMP/fresh.out")"
}

# --- 1. the channel's TCP connection cut, client alive ----------------------------
start_client_to client "$INNER_PORT" --key-file "$KEY" "${CA[@]}" --retry-max 2
wait_channel_up 1
C1=$CLIENT_PID
cport=$(channel_port "$SERVER_LOG" 1)
[ -n "$cport" ] || fail "no client port in the server's 'channel up' line"
grep -qE "client $L:$cport: channel up \(protocol [0-9]+, TLSv1\.[23]" "$SERVER_LOG" ||
    fail "the channel is not over TLS: $(grep -m1 'channel up' "$SERVER_LOG")"
download_running cut
mark=$(wc -l <"$SERVER_LOG")
t_cut=$(now_ms)
ss -K dst $L dport = :"$INNER_PORT" sport = :"$cport" >"$TMP/ss.out" 2>&1 ||
    fail "ss -K failed: $(cat "$TMP/ss.out")"
grep -q ":$cport " "$TMP/ss.out" || fail "ss -K killed no socket on port $cport: $(cat "$TMP/ss.out")"
download_reset cut "$t_cut"
if wait_log "$SERVER_LOG" "client $L:$cport: channel closed" 1 5; then
    line=$(grep -m1 "client $L:$cport: channel closed" "$SERVER_LOG")
    info "cut: server: $(sed 's/.*\]: //' <<<"$line")"
    grep -qE "channel closed: .*\(([1-9][0-9]*) streams aborted\)" <<<"$line" ||
        note_failure "cut: the server's line does not count the aborted download stream: $(sed 's/.*\]: //' <<<"$line")"
else
    note_failure "cut: the server logged no 'client $L:$cport: channel closed' within 5 s"
fi
tail -n +"$((mark + 1))" "$SERVER_LOG" | grep -qE "stream [0-9]+ closed: mapping $L:$PUB_INF .*(reset|abort|channel)" ||
    note_failure "cut: no 'stream ... closed' line for the download's stream: $(tail -n +"$((mark + 1))" "$SERVER_LOG" | grep -m1 'stream [0-9]* closed' | sed 's/.*\]: //')"
if wait_log "$CLIENT_LOG" "channel up" 2 10; then
    info "cut: client: $(grep -E '\[(warning|error|notice)\]' "$CLIENT_LOG" | grep -vE 'channel up|started' | head -n 1 | sed 's/.*\]: //' | cut -c1-160); back up $(($(now_ms) - t_cut)) ms after the cut (bounded by 10 s)"
else
    note_failure "cut: the client did not reconnect within 10 s: $(tail -n 3 "$CLIENT_LOG" | sed 's/.*\]: //' | tr '\n' '|')"
fi
is_alive "$C1" || note_failure "cut: the client died"
wait_log "$SERVER_LOG" "channel up" 2 5 || note_failure "cut: the server has no second channel"
fresh_download "cut: after the reconnection"

# --- 2. the TLS client killed mid-transfer ----------------------------------------
cport=$(channel_port "$SERVER_LOG" 2)
download_running kill9
mark=$(wc -l <"$SERVER_LOG")
t_cut=$(now_ms)
kill_bg "$C1" KILL || fail "cannot kill the client"
download_reset kill9 "$t_cut"
wait_bg "$C1" 5 >/dev/null
if wait_log "$SERVER_LOG" "client $L:$cport: channel closed" 1 5; then
    info "kill -9: server: $(grep -m1 "client $L:$cport: channel closed" "$SERVER_LOG" | sed 's/.*\]: //')"
else
    note_failure "kill -9: the server logged no 'client $L:$cport: channel closed' within 5 s"
fi
start_client_to client2 "$INNER_PORT" --key-file "$KEY" "${CA[@]}"
wait_log "$CLIENT_LOG" "channel up" 1 10 || note_failure "kill -9: a new client got no channel within 10 s"
fresh_download "kill -9: through a new client"
stop_bg "$CLIENT_PID"

# --- 3. TLS below 1.2 refused -------------------------------------------------------
# s_client VERSION_OPTION: try a TLS handshake with that version only; sets
# SC_RC and SC_OUT.
s_client() {
    SC_OUT=$(timeout 10 openssl s_client "$1" -cipher 'DEFAULT@SECLEVEL=0' -connect "$L:$INNER_PORT" \
        </dev/null 2>&1)
    SC_RC=$?
}
for v in -tls1_1 -tls1; do
    mark=$(wc -l <"$SERVER_LOG")
    s_client "$v"
    proto=$(sed -nE 's/^New, ([^,]*), Cipher is (.*)/\1 \2/p' <<<"$SC_OUT" | head -n 1)
    info "openssl s_client $v: status $SC_RC, '$proto', $(grep -m1 -oE 'alert [a-z ]+|error:[^:]*:[^:]*:[^:]*:[^:]*' <<<"$SC_OUT")"
    [ "$SC_RC" != 0 ] || note_failure "openssl s_client $v: exit status 0 (the handshake succeeded?)"
    grep -qE '^New, TLSv1(\.[01])?, ' <<<"$SC_OUT" && note_failure "openssl s_client $v: negotiated $proto"
    re="connection from $L:[0-9]+: .*(unsupported protocol|wrong version|version too low|protocol version)"
    if wait_until 5 bash -c 'tail -n +"$(($2 + 1))" "$1" | grep -qiE -- "$3"' _ "$SERVER_LOG" "$mark" "$re"; then
        n=$(tail -n +"$((mark + 1))" "$SERVER_LOG" | grep -ciE -- "$re")
        info "server, $v: $(tail -n +"$((mark + 1))" "$SERVER_LOG" | grep -m1 -iE -- "$re" | sed 's/.*\]: //')"
        [ "$n" = 1 ] || note_failure "openssl s_client $v: $n refusal lines for one connection"
    else
        note_failure "openssl s_client $v: the server logged no refusal naming the peer and the version: $(tail -n +"$((mark + 1))" "$SERVER_LOG" | grep -m1 -E 'connection from' | sed 's/.*\]: //')"
    fi
done
s_client -tls1_2
grep -qE '^New, TLSv1\.2, Cipher is [A-Z0-9]' <<<"$SC_OUT" ||
    note_failure "control: openssl s_client -tls1_2 did not complete a TLS 1.2 handshake: $(grep -m1 -E '^New,|error' <<<"$SC_OUT")"

assert_server_alive
finish_test
