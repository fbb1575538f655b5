#!/bin/bash
# systemd notification (sd_notify), against a socket of the test's own
# (notify_sink.py) given as NOTIFY_SOCKET:
#  - forward-server: READY=1 once it listens, STATUS= with its counts kept
#    current (a client coming up shows), WATCHDOG=1 at half of
#    WATCHDOG_USEC, RELOADING=1 with MONOTONIC_USEC then READY=1 around a
#    HUP, STOPPING=1 on TERM;
#  - forward-client: no READY=1 while its server is unreachable (STATUS says
#    it is connecting), READY=1 once the channel is up, STOPPING=1 on TERM.
. "$(dirname "$0")/lib.sh"

check_binaries
SINK=(python3 -u "$LIB_DIR/notify_sink.py")
ECHO=$(free_port) || fail "free_port"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 120 --io-timeout 60
wait_port $LOCALHOST "$ECHO" 10 || fail "echo server did not start"

# sink NAME: a notification socket $TMP/NAME.sock logging to $TMP/NAME.msgs
sink() {
    : >"$TMP/$1.msgs"
    start_bg "sink-$1" "${SINK[@]}" "$TMP/$1.sock" "$TMP/$1.msgs" --lifetime 120
    wait_until 5 test -S "$TMP/$1.sock" || fail "notify sink $1 did not start"
}
# msgs NAME REGEX: how many messages of sink NAME match
msgs() { grep -cE -- "$2" "$TMP/$1.msgs"; }
# wait_msg NAME REGEX N SECS
wait_msg() {
    local i
    for ((i = 0; i < $4 * 10; i++)); do
        [ "$(msgs "$1" "$2")" -ge "$3" ] && return 0
        sleep 0.1
    done
    return 1
}

# ------------------------------------------------------------ the server
sink server
PUB=$(free_port) || fail "free_port"
write_config "$LOCALHOST:$PUB = $LOCALHOST:$ECHO"
# WATCHDOG_PID must name the daemon itself: bash's $$ survives the exec.
start_bg server env NOTIFY_SOCKET="$TMP/server.sock" WATCHDOG_USEC=2000000 \
    bash -c 'export WATCHDOG_PID=$$; exec "$0" "$@"' "$FORWARD_SERVER" "$CONFIG"
SERVER_PID=$BG_PID
SERVER_LOG=$TMP/server.log
wait_msg server '^[0-9]+ READY=1$' 1 10 || fail "the server sent no READY=1: $(cat "$TMP/server.msgs")"
wait_msg server 'STATUS=0 clients, 1 mapping, 0 streams, 0 UDP sessions' 1 5 ||
    note_failure "no STATUS= with the server's counts: $(grep STATUS "$TMP/server.msgs" | tail -n 2)"
port_listening $LOCALHOST "$PUB" || note_failure "READY=1 was sent but the public port does not listen"

# WATCHDOG=1 about every second (half of 2 s): at least 3 within 5 s
before=$(msgs server '^[0-9]+ WATCHDOG=1$')
wait_msg server '^[0-9]+ WATCHDOG=1$' $((before + 3)) 6 ||
    note_failure "fewer than 3 WATCHDOG=1 within 6 s for WATCHDOG_USEC=2000000: $(msgs server WATCHDOG) in all"
info "server: $(msgs server 'WATCHDOG=1') WATCHDOG=1 so far"

# ------------------------------------------------------------ the client
# To a port where nothing listens: connecting, not ready.
sink lonely
DEAD=$(free_port) || fail "free_port"
start_bg lonely env NOTIFY_SOCKET="$TMP/lonely.sock" "$FORWARD_CLIENT" --key-file "$(test_key)" \
    --retry-delay 1 --retry-max 1 $LOCALHOST "$DEAD"
LONELY_PID=$BG_PID
wait_msg lonely "STATUS=connecting to $LOCALHOST:$DEAD" 1 10 ||
    note_failure "the unconnected client sent no 'connecting' STATUS: $(cat "$TMP/lonely.msgs")"
wait_log "$TMP/lonely.log" "cannot connect" 2 10 || note_failure "the unconnected client did not retry"
[ "$(msgs lonely READY=1)" = 0 ] || note_failure "the client sent READY=1 without a channel"
stop_bg "$LONELY_PID"
wait_msg lonely 'STOPPING=1' 1 5 || note_failure "the client sent no STOPPING=1 on TERM"

sink client
start_bg client env NOTIFY_SOCKET="$TMP/client.sock" "$FORWARD_CLIENT" --key-file "$(test_key)" $LOCALHOST "$INNER_PORT"
CLIENT_PID=$BG_PID
CLIENT_LOG=$TMP/client.log
wait_msg client '^[0-9]+ READY=1$' 1 10 || note_failure "the client sent no READY=1 once its channel was up"
grep -q "channel up" "$CLIENT_LOG" || note_failure "READY=1 before the client's channel was up"
wait_msg client "STATUS=channel up to $LOCALHOST:$INNER_PORT, tag default: 0 streams" 1 5 ||
    note_failure "no 'channel up' STATUS from the client: $(grep STATUS "$TMP/client.msgs" | tail -n 1)"
wait_msg server 'STATUS=1 client, 1 mapping' 1 5 ||
    note_failure "the server's STATUS did not follow the client: $(grep STATUS "$TMP/server.msgs" | tail -n 1)"
out=$(sech peer --port "$PUB" --expect echo --send 100000 --within 10 2>&1) || note_failure "no echo through the tunnel: $out"

# ------------------------------------------------------------ reload, stop
kill_bg "$SERVER_PID" HUP || fail "cannot signal the server"
wait_msg server 'RELOADING=1 \| MONOTONIC_USEC=[0-9]+' 1 5 || note_failure "no RELOADING=1 with MONOTONIC_USEC on HUP"
wait_log "$SERVER_LOG" "configuration reloaded" 1 5 || note_failure "the reload did not finish"
wait_msg server '^[0-9]+ READY=1$' 2 5 || note_failure "no READY=1 after the reload"
last=$(grep -E 'RELOADING=1|^[0-9]+ READY=1$' "$TMP/server.msgs" | tail -n 1)
[[ $last == *" READY=1" ]] || note_failure "the reload's last state message is '$last', want READY=1"
stop_bg "$CLIENT_PID"
wait_msg client 'STOPPING=1' 1 5 || note_failure "the client sent no STOPPING=1 on TERM"
stop_bg "$SERVER_PID"
wait_msg server 'STOPPING=1' 1 5 || note_failure "the server sent no STOPPING=1 on TERM"
info "server messages: $(cut -d' ' -f2- "$TMP/server.msgs" | sort | uniq -c | sed 's/^ *//' | tr '\n' ';' | cut -c1-300)"
finish_test
