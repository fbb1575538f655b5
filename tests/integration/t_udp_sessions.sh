#!/bin/bash
# UDP sessions (issue 5), one server with UDP_TIMEOUT = 2, UDP_MAX_SESSIONS = 3:
#  - expiry: a session ends ("udp session N ended ... idle for UDP_TIMEOUT")
#    2-3 s after its last datagram, on the server and on the client; the
#    same peer (same source port) then gets a new session and is answered;
#  - cap: with 3 sessions live (and answered) on a mapping, a 4th peer gets
#    no answer and its datagrams are counted (SIGUSR1 status: "3 udp
#    sessions", "N over UDP_MAX_SESSIONS"); once the 3 expire it is served;
#  - [RULES] "127.0.0.1:PORT/udp.DENY = 127.0.0.2": nothing comes back to
#    127.0.0.2 and no session is opened for it (logged, counted as denied),
#    127.0.0.1 is answered;
#  - a TCP mapping ("PORT/tcp") and a UDP mapping on the same port number
#    both work.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/udp_lib.sh"

python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
    fail "cannot bind 127.0.0.2 on this machine (needed as a second source address)"

UECHO=$(free_udp_port) || fail "free_udp_port"
TECHO=$(free_port) || fail "free_port"
P_EXP=$(free_udp_port) || fail "free_udp_port"
P_CAP=$(free_udp_port) || fail "free_udp_port"
P_DENY=$(free_udp_port) || fail "free_udp_port"
P_BOTH=$(free_udp_port) || fail "free_udp_port"
start_udp_echo uecho "$UECHO"
start_bg techo "${PYH[@]}" echo-server --port "$TECHO" --lifetime 300
wait_port $LOCALHOST "$TECHO" 10 || fail "TCP echo server did not start"

EXTRA_DEFAULTS=$'UDP_TIMEOUT = 2\nUDP_MAX_SESSIONS = 3'
EXTRA_SECTIONS=$'[RULES]\n'"$LOCALHOST:$P_DENY/udp.DENY = 127.0.0.2"
write_config "$LOCALHOST:$P_EXP/udp = $LOCALHOST:$UECHO" \
    "$LOCALHOST:$P_CAP/udp = $LOCALHOST:$UECHO" \
    "$LOCALHOST:$P_DENY/udp = $LOCALHOST:$UECHO" \
    "$LOCALHOST:$P_BOTH/tcp = $LOCALHOST:$TECHO" \
    "$LOCALHOST:$P_BOTH/udp = $LOCALHOST:$UECHO"
timeout 10 "$FORWARD_SERVER" -n "$CONFIG" >"$TMP/n.out" 2>&1 ||
    fail "-n refuses the configuration: $(cat "$TMP/n.out")"
start_udp_server
start_client client
wait_channel_up 1

# ------------------------------------------------------------------ expiry
out=$("${UDPH[@]}" exchange --port "$P_EXP" --size 200 --count 2 --gap 0.2 --within 5 2>&1) ||
    fail "first exchange through the UDP mapping: $out"
LAST_MS=$(kv last_reply_ms "$out")
LOCAL=$(kv local "$out")
SPORT=${LOCAL##*:}
peer_re="peer ${LOCAL//./\\.},"
wait_log "$SERVER_LOG" "udp session [0-9]+ started: .*$peer_re" 1 2 ||
    fail "no 'udp session N started' line for peer $LOCAL"
SID1=$(grep -E "udp session [0-9]+ started: .*$peer_re" "$SERVER_LOG" | head -n 1 | sed -E 's/.*udp session ([0-9]+) started.*/\1/')
if wait_log_ms "$SERVER_LOG" "udp session $SID1 ended: .*$peer_re.*idle for UDP_TIMEOUT" 1 6000; then
    ended_ms=$(now_ms)
    dt=$((ended_ms - LAST_MS))
    info "session $SID1 ended $(ms_to_s $dt) s after its last datagram (UDP_TIMEOUT = 2)"
    info "server: $(grep -E "udp session $SID1 ended" "$SERVER_LOG")"
    # The sweep runs every second: 2.0-3.0 s, plus scheduling slack.
    { [ $dt -ge 1900 ] && [ $dt -le 3600 ]; } ||
        note_failure "session ended $(ms_to_s $dt) s after its last datagram, want 2-3 s (UDP_TIMEOUT = 2)"
    line=$(grep -E "udp session $SID1 ended" "$SERVER_LOG")
    [[ $line == *"2 datagrams/400 bytes in, 2 datagrams/400 bytes out"* ]] ||
        note_failure "end line does not count 2 datagrams/400 bytes each way: $line"
else
    note_failure "session $SID1 (peer $LOCAL) did not end with 'idle for UDP_TIMEOUT' within 6 s of its last datagram: $(grep -E "udp session $SID1 " "$SERVER_LOG" | tail -n 1)"
fi
wait_log "$CLIENT_LOG" "udp session $SID1 ended: .*idle for UDP_TIMEOUT" 1 3 ||
    note_failure "the client did not close session $SID1 (no 'udp session $SID1 ended ... idle for UDP_TIMEOUT' in its log)"

# the same peer again: a new session, answered
out=$("${UDPH[@]}" exchange --port "$P_EXP" --sport "$SPORT" --size 300 --count 1 --within 5 2>&1) ||
    note_failure "the same peer ($LOCAL) was not answered after its session expired: $out"
[ "$(kv local "$out")" = "$LOCAL" ] || note_failure "could not reuse source $LOCAL: $out"
wait_log "$SERVER_LOG" "udp session [0-9]+ started: .*$peer_re" 2 3 ||
    note_failure "no second 'udp session N started' for peer $LOCAL after expiry"
SID2=$(grep -E "udp session [0-9]+ started: .*$peer_re" "$SERVER_LOG" | sed -n 2p | sed -E 's/.*udp session ([0-9]+) started.*/\1/')
info "peer $LOCAL: session $SID1, then session ${SID2:-none}"
if [ -z "$SID2" ] || [ "$SID2" = "$SID1" ]; then
    note_failure "no new session id for the returning peer ($SID1 then ${SID2:-none})"
fi

# ------------------------------------------------------------------ cap
start_bg cap "${UDPH[@]}" cap --port "$P_CAP" --live 3 --capped-for 1.5 --extra-sends 3 \
    --marker "$TMP/capped" --go "$TMP/cap-go" --go-timeout 15 --expire-wait 8
CAP_PID=$BG_PID
for ((i = 0; i < 150; i++)); do
    [ -f "$TMP/capped" ] && break
    is_alive "$CAP_PID" || break
    sleep 0.1
done
if [ -f "$TMP/capped" ]; then
    server_status
    st=$(status_of "$LOCALHOST:$P_CAP/udp")
    info "status while capped: $st"
    read -r x_sent x_answered <"$TMP/capped"
    [ "$x_answered" = 0 ] || note_failure "the 4th peer got $x_answered answers while 3 sessions were live"
    [[ $st == *": 3 udp sessions,"* ]] || note_failure "status does not show the 3 live sessions: '$st'"
    [[ $st == *" $x_sent over UDP_MAX_SESSIONS"* ]] ||
        note_failure "status does not count the $x_sent datagrams of the 4th peer as over UDP_MAX_SESSIONS: '$st'"
    grep -q "UDP_MAX_SESSIONS (3) reached" "$SERVER_LOG" || note_failure "no 'UDP_MAX_SESSIONS (3) reached' in the server log"
else
    note_failure "cap scenario did not reach the capped phase: $(cat "$TMP/cap.log")"
fi
touch "$TMP/cap-go"
wait_bg "$CAP_PID" 30
rc=$?
info "cap: $(tr '\n' ' ' <"$TMP/cap.log")"
[ $rc = 0 ] || note_failure "UDP_MAX_SESSIONS = 3: $(tr '\n' ' ' <"$TMP/cap.log")"
n=$(log_count "$SERVER_LOG" "udp session [0-9]+ started: mapping $LOCALHOST:$P_CAP/udp")
[ "$n" = 4 ] || note_failure "$n sessions started on the capped mapping, want 4 (3, then the 4th peer after they expired)"

# ------------------------------------------------------------------ DENY
out=$("${UDPH[@]}" exchange --src 127.0.0.2 --port "$P_DENY" --size 100 --count 3 --gap 0.1 --expect none --within 1.5 2>&1) ||
    note_failure "DENY 127.0.0.2: 127.0.0.2 was answered: $out"
DENIED=$(kv local "$out")
out=$("${UDPH[@]}" exchange --src 127.0.0.1 --port "$P_DENY" --size 100 --count 3 --gap 0.1 --within 3 2>&1) ||
    note_failure "DENY 127.0.0.2: 127.0.0.1 was not answered: $out"
grep -qE "datagram from ${DENIED//./\\.} denied by \[RULES\]" "$SERVER_LOG" ||
    note_failure "no 'datagram from $DENIED denied by [RULES]' in the server log"
n=$(log_count "$SERVER_LOG" "udp session [0-9]+ started: .*peer 127\.0\.0\.2:")
[ "$n" = 0 ] || note_failure "$n udp sessions started for 127.0.0.2 despite DENY"
server_status
st=$(status_of "$LOCALHOST:$P_DENY/udp")
info "status DENY mapping: $st"
[[ $st == *" 3 denied,"* ]] || note_failure "status does not count the 3 denied datagrams: '$st'"

# ------------------------------------------------------------------ TCP + UDP on one port
out=$("${PYH[@]}" concurrent --port "$P_BOTH" -n 5 --max 65536 --timeout 30 2>&1) ||
    note_failure "TCP mapping $P_BOTH/tcp next to a UDP mapping on the same port: $out"
out=$("${UDPH[@]}" exchange --port "$P_BOTH" --size 500 --count 3 --within 3 2>&1) ||
    note_failure "UDP mapping $P_BOTH/udp next to a TCP mapping on the same port: $out"
info "port $P_BOTH: TCP and UDP both served"

assert_server_alive
is_alive "$CLIENT_PID" || fail "forward-client died"
finish_test
