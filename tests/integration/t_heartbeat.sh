#!/bin/bash
# Heartbeats and dead-peer detection (issue 4), HEARTBEAT_INTERVAL = 1 on
# the server and --heartbeat 1 on the client:
#  0. an idle channel stays up across many intervals (no false alarm);
#  1. SIGSTOP the client: the server logs "presumed dead" after about 3 s
#     (3 missed intervals; accepted 1.5 .. 6 s; time printed); a public
#     connection made then is held, and after SIGCONT the client
#     reconnects and serves it;
#  2. SIGSTOP the server: the client declares it dead after about 3 s (same
#     bounds; time printed) and keeps retrying; after SIGCONT the channel
#     comes up again and serves.
. "$(dirname "$0")/lib.sh"

# 3 intervals of 1 s (nominal 3 s), checked 4 times per interval; the
# bounds leave room for a loaded machine (nominal + 3 s) and still catch a
# peer declared dead too early (before 1.5 intervals of silence)
DEAD_BOUND_MS=${DEAD_BOUND_MS:-6000}
DEAD_MIN_MS=1500

ECHO=$(free_port) || fail "free_port"
PUB=$(free_port) || fail "free_port"
L=$LOCALHOST
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 60
wait_port $L "$ECHO" 10 || fail "echo server did not start"

EXTRA_DEFAULTS="HEARTBEAT_INTERVAL = 1"
CLIENT_ARGS="--heartbeat 1 --retry-max 2 --connect-timeout 2"
start_tunnel "$L:$PUB = $L:$ECHO"

serves() {
    "${PYH[@]}" concurrent --port "$PUB" -n 5 --max 65536 --timeout 15 >"$TMP/serve.out" 2>&1
}
serves || fail "echo through the tunnel failed: $(tail -n 2 "$TMP/serve.out" | tr '\n' ' ')"

# --- 0. idle channel: heartbeats keep it up ----------------------------------
sleep 4.5
assert_no_log "$SERVER_LOG" 'presumed dead' "the server declared a live idle client dead"
assert_no_log "$CLIENT_LOG" 'presumed dead' "the client declared a live idle server dead"
grep -qE 'PING|PONG|ping|pong|heartbeat' "$SERVER_LOG" "$CLIENT_LOG" || info "(heartbeats are not logged at debug level)"

# --- 1. frozen client ----------------------------------------------------------
kill_bg "$CLIENT_PID" STOP || fail "cannot stop the client"
t0=$(now_ms)
if wait_log_ms "$SERVER_LOG" 'presumed dead' 1 10000; then
    srv_detect=$(($(now_ms) - t0))
    info "client frozen: server declared it dead after $srv_detect ms: $(grep -m1 'presumed dead' "$SERVER_LOG" | sed 's/.*\]: //')"
    ((srv_detect <= DEAD_BOUND_MS)) || note_failure "server took $srv_detect ms to declare the frozen client dead (want <= $DEAD_BOUND_MS)"
    ((srv_detect >= DEAD_MIN_MS)) || note_failure "server declared the frozen client dead after only $srv_detect ms (3 intervals are 3 s; want >= $DEAD_MIN_MS)"
else
    kill_bg "$CLIENT_PID" CONT
    fail "the server did not declare the frozen client dead within 10 s"
fi
# a public connection now waits (CLIENT_WAIT, default 5 s) for a client
start_bg held "${PYH[@]}" concurrent --port "$PUB" -n 1 --max 4096 --timeout 20
HELD=$BG_PID
wait_log "$SERVER_LOG" "mapping $L:$PUB -> .*no client of tag default yet, holding connection" 1 5 ||
    note_failure "the server did not hold the public connection made while the client was frozen"
up_before=$(log_count "$SERVER_LOG" 'channel up')
kill_bg "$CLIENT_PID" CONT || fail "cannot resume the client"
t0=$(now_ms)
if wait_log_ms "$SERVER_LOG" 'channel up' $((up_before + 1)) 10000; then
    info "client resumed: channel up again after $(($(now_ms) - t0)) ms"
else
    fail "the resumed client did not reconnect within 10 s"
fi
wait_bg "$HELD" 20 || note_failure "the connection made while the client was frozen was not served: $(tail -n 2 "$TMP/held.log" | tr '\n' ' ')"
serves || fail "echo after the client resumed failed: $(tail -n 2 "$TMP/serve.out" | tr '\n' ' ')"

# --- 2. frozen server ----------------------------------------------------------
tries_before=$(log_count "$CLIENT_LOG" 'connecting to server')
# (the client may have logged "presumed dead" itself when it woke up above)
dead_before=$(log_count "$CLIENT_LOG" 'presumed dead')
kill_bg "$SERVER_PID" STOP || fail "cannot stop the server"
t0=$(now_ms)
if wait_log_ms "$CLIENT_LOG" 'presumed dead' $((dead_before + 1)) 10000; then
    cli_detect=$(($(now_ms) - t0))
    info "server frozen: client declared it dead after $cli_detect ms: $(grep 'presumed dead' "$CLIENT_LOG" | tail -n 1 | sed 's/.*\]: //')"
    ((cli_detect <= DEAD_BOUND_MS)) || note_failure "client took $cli_detect ms to declare the frozen server dead (want <= $DEAD_BOUND_MS)"
    ((cli_detect >= DEAD_MIN_MS)) || note_failure "client declared the frozen server dead after only $cli_detect ms (3 intervals are 3 s; want >= $DEAD_MIN_MS)"
else
    kill_bg "$SERVER_PID" CONT
    fail "the client did not declare the frozen server dead within 10 s"
fi
# it keeps trying (each attempt's handshake times out after 2 s)
if wait_log "$CLIENT_LOG" 'connecting to server' $((tries_before + 2)) 10; then
    info "client retrying: $(($(log_count "$CLIENT_LOG" 'connecting to server') - tries_before)) attempts so far"
else
    note_failure "the client made fewer than 2 attempts within 10 s of declaring the server dead"
fi
is_alive "$CLIENT_PID" || fail "the client exited while the server was frozen"
up_before=$(log_count "$SERVER_LOG" 'channel up')
kill_bg "$SERVER_PID" CONT || fail "cannot resume the server"
t0=$(now_ms)
if wait_log_ms "$SERVER_LOG" 'channel up' $((up_before + 1)) 10000; then
    info "server resumed: channel up again after $(($(now_ms) - t0)) ms"
else
    fail "no channel up within 10 s of resuming the server"
fi
serves || fail "echo after the server resumed failed: $(tail -n 2 "$TMP/serve.out" | tr '\n' ' ')"

assert_server_alive
is_alive "$CLIENT_PID" || note_failure "forward-client died"
info "dead-peer detection: frozen client ${srv_detect} ms, frozen server ${cli_detect} ms"
finish_test
