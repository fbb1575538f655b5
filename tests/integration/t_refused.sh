#!/bin/bash
# (e) A mapping to a closed port: the public connection is closed within
# 1 s, while another mapping keeps working and the server stays up.  A
# public connection while no client is connected is closed promptly too.
. "$(dirname "$0")/lib.sh"
# Closing at once needs the grace hold for absent clients off (issue 4).
EXTRA_DEFAULTS="CLIENT_WAIT = 0"

ECHO=$(free_port) || fail "free_port"
PUB_OK=$(free_port) || fail "free_port"
PUB_BAD=$(free_port) || fail "free_port"

start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300
# A port held bound but never listening: connections to it are refused.
start_bg closed "${PYH[@]}" closed-port --lifetime 300
CLOSED=
for _ in $(seq 50); do
    CLOSED=$(head -n1 "$TMP/closed.log" 2>/dev/null)
    [ -n "$CLOSED" ] && break
    sleep 0.1
done
[ -n "$CLOSED" ] || fail "closed-port helper did not start"
wait_port $LOCALHOST "$ECHO" 10 || fail "echo server did not start"
port_listening $LOCALHOST "$CLOSED" && fail "port $CLOSED unexpectedly in use"

write_config "$LOCALHOST:$PUB_OK = $LOCALHOST:$ECHO" "$LOCALHOST:$PUB_BAD = $LOCALHOST:$CLOSED"
start_server

# 1. no client connected yet: closed at once
for port in "$PUB_OK" "$PUB_BAD"; do
    out=$("${PYH[@]}" probe --port "$port" --mode none --within 1.0 2>&1)
    [ $? = 0 ] || fail "public connection to $port without a client not closed within 1 s: $out"
    info "no client, port $port: $out"
done
assert_server_alive

# 2. with a client
start_client client
wait_channel_up 1

# echo traffic in the background the whole time
start_bg echoloop "${PYH[@]}" echo-loop --port "$PUB_OK" --duration 6 --max 65536
LOOP_PID=$BG_PID
for i in 1 2 3 4 5 6 7 8 9 10; do
    out=$("${PYH[@]}" probe --port "$PUB_BAD" --mode none --within 1.0 2>&1)
    [ $? = 0 ] || fail "connection #$i to the refused mapping not closed within 1 s: $out"
    [ $i = 1 ] && info "refused mapping: $out"
done
# same while the public peer has already sent something
out=$("${PYH[@]}" probe --port "$PUB_BAD" --mode http --within 1.0 2>&1)
[ $? = 0 ] || fail "refused mapping with pending request data not closed within 1 s: $out"

wait_bg "$LOOP_PID" 40
rc=$?
[ $rc = 0 ] || fail "echo through the live mapping failed meanwhile: $(tail -n 1 "$TMP/echoloop.log")"
info "live mapping meanwhile: $(tail -n 1 "$TMP/echoloop.log")"

"${PYH[@]}" concurrent --port "$PUB_OK" -n 20 --timeout 30 >"$TMP/after.out" 2>&1 ||
    fail "echo after the refusals failed: $(tail -n 2 "$TMP/after.out" | tr '\n' ' ')"
assert_server_alive
is_alive "$CLIENT_PID" || fail "forward-client died"
pass
