#!/bin/bash
# UDP next to a saturating TCP transfer (issue 5): a TCP source behind one
# mapping sends as fast as the tunnel takes it for ~12 s to a sink through
# the tunnel (a seeded stream: the sink checks every byte, and its count
# must equal the source's), on the same channel as a /udp mapping to a UDP echo.  During
# the transfer a 64-byte UDP ping every 10 ms (7 s, ~700 pings) must get
# >= 99 % answers, unchanged; prints the answered fraction and p99 round
# trip during the transfer, the same idle before it, the same straight to
# the echo server during the transfer (for scale), and the TCP rate.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/udp_lib.sh"

UECHO=$(free_udp_port) || fail "free_udp_port"
SRC=$(free_port) || fail "free_port"
P_TCP=$(free_port) || fail "free_port"
P_UDP=$(free_udp_port) || fail "free_udp_port"
start_udp_echo uecho "$UECHO"
start_bg source "${UDPH[@]}" tcp-source --port "$SRC" --duration 12 --accept-timeout 60 --seed 7
SOURCE_PID=$BG_PID
wait_port $LOCALHOST "$SRC" 10 || fail "TCP source did not listen"

write_config "$LOCALHOST:$P_TCP = $LOCALHOST:$SRC" "$LOCALHOST:$P_UDP/udp = $LOCALHOST:$UECHO"
start_udp_server
start_client client
wait_channel_up 1

# idle reference, through the tunnel
IDLE=$("${UDPH[@]}" ping --port "$P_UDP" --size 64 --interval 0.01 --duration 2 --timeout 1 \
    --min-answered 0.99 --label idle 2>&1) || note_failure "UDP ping through the idle tunnel: $IDLE"
info "idle: $IDLE"

# the bulk transfer
start_bg sink "${UDPH[@]}" tcp-sink --port "$P_TCP" --timeout 40 --seed 7 --started "$TMP/sink.started"
SINK_PID=$BG_PID
for ((i = 0; i < 100; i++)); do
    [ -s "$TMP/sink.started" ] && break
    sleep 0.1
done
[ -s "$TMP/sink.started" ] || fail "the TCP sink did not connect through the tunnel"
sleep 0.5 # let the transfer fill the channel

# the same ping straight to the echo server at the same time: how much of
# the round trip is the machine (CPU contention), not the tunnel
start_bg direct-ping "${UDPH[@]}" ping --port "$UECHO" --size 64 --interval 0.01 --duration 7 \
    --timeout 1 --min-answered 0 --label direct --seed 10
DPING_PID=$BG_PID
LOAD=$("${UDPH[@]}" ping --port "$P_UDP" --size 64 --interval 0.01 --duration 7 --timeout 1 \
    --min-answered 0.99 --label load 2>&1)
rc=$?
wait_bg "$DPING_PID" 10
DIRECT=$(grep -E '^label=' "$TMP/direct-ping.log")
info "direct, meanwhile: $DIRECT"
is_alive "$SINK_PID" || note_failure "the TCP transfer ended before the UDP ping did: it did not cover the measurement"
info "during the transfer: $LOAD"
[ $rc = 0 ] || note_failure "UDP ping during a saturating TCP transfer: $LOAD"

wait_bg "$SINK_PID" 40
rc=$?
SINK=$(grep -E '^received=' "$TMP/sink.log")
info "TCP transfer: $SINK"
[ $rc = 0 ] || note_failure "TCP transfer through the tunnel failed: $(tail -n 2 "$TMP/sink.log" | tr '\n' ' ')"
recv=$(kv received "$SINK")
[ "${recv:-0}" -gt $((256 << 20)) ] || note_failure "only ${recv:-0} bytes moved by the TCP transfer: not a saturating load"
# what arrived is what was sent: every byte checked by the sink against the
# source's seeded stream (bad_at), and the count equal to the source's
[ "$(kv bad_at "$SINK")" = None ] ||
    note_failure "TCP transfer through the tunnel corrupted: first wrong byte at offset $(kv bad_at "$SINK") ($SINK)"
wait_bg "$SOURCE_PID" 10 || note_failure "the TCP source did not finish: $(tail -n 2 "$TMP/source.log" | tr '\n' ' ')"
SOURCE=$(grep -E '^sent=' "$TMP/source.log")
sent=$(kv sent "$SOURCE")
info "TCP source: $SOURCE"
[ -n "$sent" ] && [ "$sent" = "${recv:-}" ] ||
    note_failure "TCP transfer: the sink received ${recv:-nothing} bytes, the source sent ${sent:-an unknown number}"

server_status
st=$(status_of "$LOCALHOST:$P_UDP/udp")
info "status: $st"
assert_server_alive
is_alive "$CLIENT_PID" || fail "forward-client died"

# Where did lost pings go?  Each daemon's end line for the session counts
# its datagrams each way and its drops.
LOCAL=$(kv local "$LOAD")
if [ -n "$LOCAL" ] && [ "$(kv answered "$LOAD")" != "$(kv sent "$LOAD")" ]; then
    stop_bg "$SERVER_PID"
    stop_bg "$CLIENT_PID"
    line=$(grep -E "udp session [0-9]+ ended: .*peer ${LOCAL//./\\.}," "$SERVER_LOG")
    info "lost pings: server: ${line#*peer }"
    sid=$(sed -nE 's/.*udp session ([0-9]+) ended.*/\1/p' <<<"$line")
    [ -n "$sid" ] && info "lost pings: client: $(grep -E "udp session $sid ended" "$CLIENT_LOG" | sed 's/.*ended: //')"
fi

echo "INFO: $TEST_NAME: UDP 64 B every 10 ms during a TCP transfer at $(kv gbps "$SINK") Gbit/s: answered $(kv answered "$LOAD")/$(kv sent "$LOAD") = $(kv answered_frac "$LOAD"), p50 $(kv p50_ms "$LOAD") ms, p99 $(kv p99_ms "$LOAD") ms, max $(kv max_ms "$LOAD") ms (idle: p99 $(kv p99_ms "$IDLE") ms; direct to the echo server meanwhile: p50 $(kv p50_ms "$DIRECT") ms, p99 $(kv p99_ms "$DIRECT") ms)" >&2
finish_test
