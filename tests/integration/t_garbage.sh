#!/bin/bash
# (i) Hostile input on INNER_PORT: garbage, an HTTP request, huge length
# headers, a bad HELLO, and a half-written HELLO that never completes.  Each
# connection is dropped (garbage at once; the half frame by the 10 s
# handshake timeout), the server logs the peer address, and meanwhile the
# real channel keeps relaying byte-exact.  The server survives it all.
. "$(dirname "$0")/lib.sh"

ECHO=$(free_port) || fail "free_port"
PUB=$(free_port) || fail "free_port"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 60
wait_port $LOCALHOST "$ECHO" 10 || fail "echo server did not start"

start_tunnel "$LOCALHOST:$PUB = $LOCALHOST:$ECHO"

# byte-exact traffic through the real channel during the whole test
start_bg echoloop "${PYH[@]}" echo-loop --port "$PUB" --duration 18 --max 262144
LOOP_PID=$BG_PID

# the half-written frame first: it takes the server ~10 s to drop it
start_bg half "${PYH[@]}" probe --port "$INNER_PORT" --mode half --within 15 --grace 2
HALF_PID=$BG_PID

# peer_logged LOCAL_ADDR: the server log names 127.0.0.1:PORT
peer_logged() {
    local port=${1##*:}
    wait_log "$SERVER_LOG" "127\.0\.0\.1(\]?:| port )$port([^0-9]|\$)" 1 3
}

for mode in garbage http huge huge-data bad-magic bad-flags; do
    out=$("${PYH[@]}" probe --port "$INNER_PORT" --mode "$mode" --within 3 2>&1)
    rc=$?
    info "$mode: $out"
    [ $rc = 0 ] || fail "inner port, $mode: connection not dropped within 3 s: $out"
    local_addr=$(sed -n 's/^local=\([^ ]*\) .*/\1/p' <<<"$out")
    peer_logged "$local_addr" || fail "inner port, $mode: no server log line naming the peer $local_addr"
    assert_server_alive
done

# a burst of garbage connections
for ((i = 0; i < 20; i++)); do
    out=$("${PYH[@]}" probe --port "$INNER_PORT" --mode garbage --within 3 2>&1) ||
        fail "inner port, garbage burst #$i: connection not dropped within 3 s: $out"
done
assert_server_alive

wait_bg "$HALF_PID" 20
rc=$?
out=$(tail -n 1 "$TMP/half.log")
info "half-written HELLO: $out"
[ $rc = 0 ] || fail "inner port, half-written frame: not dropped within 15 s: $out"
peer_logged "$(sed -n 's/^local=\([^ ]*\) .*/\1/p' <<<"$out")" ||
    fail "inner port, half-written frame: no server log line naming the peer"

wait_bg "$LOOP_PID" 60
rc=$?
[ $rc = 0 ] || fail "traffic through the real channel failed meanwhile: $(tail -n 1 "$TMP/echoloop.log")"
info "real channel meanwhile: $(tail -n 1 "$TMP/echoloop.log")"

# the real channel was never dropped or replaced
n=$(log_count "$SERVER_LOG" "channel up")
[ "$n" = 1 ] || fail "server logged 'channel up' $n times (the garbage must not create or disturb channels)"
n=$(log_count "$CLIENT_LOG" "channel up")
[ "$n" = 1 ] || fail "client logged 'channel up' $n times (its channel was disturbed)"

"${PYH[@]}" concurrent --port "$PUB" -n 20 --timeout 30 >"$TMP/after.out" 2>&1 ||
    fail "echo after the garbage failed: $(tail -n 2 "$TMP/after.out" | tr '\n' ' ')"
assert_server_alive
is_alive "$CLIENT_PID" || fail "forward-client died"
pass
