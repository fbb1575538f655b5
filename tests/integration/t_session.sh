#!/bin/bash
# Client sessions (issue 14):
#  1. --no-reconnect (forward-client(8): exit status 1 when the channel
#     cannot be opened or ends): the channel cut under the client (ss -K)
#     -> it logs the loss and exits 1, with no second attempt; no server
#     listening at start -> exits 1; without --no-reconnect the same cut
#     leaves the client running and back up (the control).
#  2. a reconnecting client replaces its old session: the channel goes
#     through a relay that then black-holes it (nothing passes, nothing is
#     closed) while the server runs without heartbeats, so only the client
#     can notice (--heartbeat 1).  It reconnects with the same session id;
#     the server closes the old channel at once, logging that it was
#     replaced by the new one, and the new one serves every connection (none
#     goes to the dead channel).
. "$(dirname "$0")/lib.sh"

command -v ss >/dev/null || fail "ss not installed (iproute2, tools/deps.sh test)"
SH=(python3 -u "$LIB_DIR/session_helpers.py")
L=$LOCALHOST
ECHO=$(free_port) || fail "free_port"
PUB=$(free_port) || fail "free_port"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 120
wait_port $L "$ECHO" 10 || fail "echo server did not start"

EXTRA_DEFAULTS="HEARTBEAT_INTERVAL = 0
CLIENT_WAIT = 0"
write_config "$L:$PUB = $L:$ECHO"
start_server
KEY=$(test_key)

# channel_port N: the client port of the server log's N-th "channel up".
channel_port() {
    grep -E "client $L:[0-9]+: channel up" "$SERVER_LOG" | sed -n "$1p" |
        sed -nE "s/.*client $L:([0-9]+): channel up.*/\\1/p"
}
# session_of N: the session id of the server log's N-th "channel up".
session_of() {
    grep -E "client $L:[0-9]+: channel up" "$SERVER_LOG" | sed -n "$1p" | sed -nE 's/.*session ([0-9a-f]+)\).*/\1/p'
}
# cut_channel PORT: reset the channel whose client side is 127.0.0.1:PORT.
cut_channel() {
    ss -K dst $L dport = :"$INNER_PORT" sport = :"$1" >"$TMP/ss.out" 2>&1 || fail "ss -K failed: $(cat "$TMP/ss.out")"
    grep -q ":$1 " "$TMP/ss.out" || fail "ss -K killed no socket on port $1: $(cat "$TMP/ss.out")"
}
echo_ok() {
    local out
    out=$(sech peer --port "$PUB" --expect echo --send 100000 --within 10 2>&1) ||
        note_failure "$1: no echo through $PUB: $out"
}

# --- 1. --no-reconnect --------------------------------------------------------------------
ups=0
start_client_with nr --key-file "$KEY" --no-reconnect
ups=$((ups + 1))
wait_channel_up $ups
echo_ok "--no-reconnect, channel up"
cport=$(channel_port $ups)
t0=$(now_ms)
cut_channel "$cport"
wait_bg "$CLIENT_PID" 10
rc=$?
el=$(($(now_ms) - t0))
info "--no-reconnect, channel cut: exit status $rc after $el ms: $(grep -E '\[(notice|warning|error)\]' "$CLIENT_LOG" | grep -v started | sed 's/.*\]: //' | tr '\n' '|' | cut -c1-240)"
case $rc in
1) ;;
124) note_failure "--no-reconnect: the client still runs 10 s after its channel was cut"; stop_bg "$CLIENT_PID" ;;
*) note_failure "--no-reconnect: exit status $rc after the channel was cut (want 1)" ;;
esac
grep -q -- '--no-reconnect: exiting' "$CLIENT_LOG" || note_failure "--no-reconnect: no '--no-reconnect: exiting' line"
assert_no_log "$CLIENT_LOG" 'reconnecting in' "--no-reconnect: the client means to try again"
[ "$(log_count "$CLIENT_LOG" 'connecting to server')" = 1 ] ||
    note_failure "--no-reconnect: $(log_count "$CLIENT_LOG" 'connecting to server') connection attempts (want 1)"
[ "$(log_count "$SERVER_LOG" 'channel up')" = $ups ] || note_failure "--no-reconnect: the server got another channel"

NOPE=$(free_port) || fail "free_port"
start_client_to nr-unreachable "$NOPE" --key-file "$KEY" --no-reconnect
wait_bg "$CLIENT_PID" 15
rc=$?
info "--no-reconnect, nothing listening: exit status $rc: $(grep -m1 -E '\[(warning|error)\]' "$CLIENT_LOG" | sed 's/.*\]: //')"
[ $rc = 1 ] || note_failure "--no-reconnect with no server listening: exit status $rc (want 1)"
[ $rc = 124 ] && stop_bg "$CLIENT_PID"

# control: the same cut without --no-reconnect
start_client_with rc-control --key-file "$KEY"
ups=$((ups + 1))
wait_channel_up $ups
cut_channel "$(channel_port $ups)"
ups=$((ups + 1))
wait_log "$SERVER_LOG" "channel up" $ups 10 || note_failure "control: the client without --no-reconnect did not come back within 10 s"
is_alive "$CLIENT_PID" || note_failure "control: the client without --no-reconnect exited"
echo_ok "control: after the reconnection"
stop_bg "$CLIENT_PID"
wait_log "$SERVER_LOG" "channel closed" 3 10 || note_failure "the server did not log the control client leaving"

# --- 2. a black-holed channel replaced by the same session ---------------------------------
# (a port handed out free can be taken by an ephemeral port in between:
# a few tries, each with a fresh port)
for try in 1 2 3; do
    RELAY=$(free_port) || fail "free_port"
    start_bg relay "${SH[@]}" relay --listen "$RELAY" --target "$INNER_PORT" --freeze "$TMP/freeze" --lifetime 200
    wait_port $L "$RELAY" 5 && break
    info "relay on $RELAY did not start (try $try): $(tail -n 1 "$TMP/relay.log")"
    stop_bg "$BG_PID"
done
port_listening $L "$RELAY" || fail "relay did not start"
start_client_to bh "$RELAY" --key-file "$KEY" --heartbeat 1 --retry-max 2
BH_PID=$CLIENT_PID
ups=$((ups + 1))
wait_channel_up $ups
old_port=$(channel_port $ups)
old_session=$(session_of $ups)
echo_ok "through the relay, before the black hole"
closed_before=$(log_count "$SERVER_LOG" "client $L:$old_port: channel closed")
echo 1 >"$TMP/freeze"
t0=$(now_ms)
if wait_log "$SERVER_LOG" "channel up" $((ups + 1)) 20; then
    t_up=$(($(now_ms) - t0))
    new_port=$(channel_port $((ups + 1)))
    new_session=$(session_of $((ups + 1)))
    info "black hole: the client was back $t_up ms later (client heartbeat 1 s: dead after ~3 s; bounded by 20 s): $(grep -m1 -iE 'dead|silent|heard nothing' "$CLIENT_LOG" | sed 's/.*\]: //' | cut -c1-160)"
    [ "$new_session" = "$old_session" ] ||
        note_failure "the reconnected channel has session $new_session, the old one $old_session (want the same)"
    re="client $L:$old_port: channel closed: replaced by a new channel of the same client session \($L:$new_port\)"
    if wait_log "$SERVER_LOG" "$re" 1 5; then
        info "server: $(grep -m1 -E "$re" "$SERVER_LOG" | sed 's/.*\]: //')"
    else
        note_failure "no 'client $L:$old_port: channel closed: replaced by ... ($L:$new_port)' line: $(grep "client $L:$old_port: channel closed" "$SERVER_LOG" | sed 's/.*\]: //')"
    fi
    ups=$((ups + 1))
else
    note_failure "the client behind the black hole did not reconnect within 20 s: $(tail -n 3 "$CLIENT_LOG" | sed 's/.*\]: //' | tr '\n' '|')"
fi
n=$(log_count "$SERVER_LOG" "client $L:$old_port: channel closed")
[ "$n" = $((closed_before + 1)) ] || note_failure "the old channel was closed $((n - closed_before)) times (want 1)"
grep -q "relay connection 0 .*via $L:$old_port" "$TMP/relay.log" ||
    note_failure "the old channel is not the relay's first connection: $(grep 'relay connection' "$TMP/relay.log" | tr '\n' '|')"
grep -q "connection 0 black-holed" "$TMP/relay.log" || note_failure "the relay did not black-hole the first connection"
# every new connection must reach the new channel: none may go to the dead one
out=$("${PYH[@]}" concurrent --port "$PUB" -n 20 --max 65536 --timeout 20 2>&1) ||
    note_failure "after the replacement: 20 echo streams failed (some sent to the dead channel?): $(tail -n 1 <<<"$out")"
info "after the replacement: $(tail -n 1 <<<"$out")"
is_alive "$BH_PID" || note_failure "the black-holed client died"

assert_server_alive
finish_test
