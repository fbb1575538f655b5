#!/bin/bash
# A RESET of one live stream reaches the other end, and RESETs that cross
# DATA (late frames for finished streams) are dropped without harm:
#  1. the inner target resets (RST, SO_LINGER 0) a connection in the middle
#     of a download: the public peer's connection is reset (not a clean
#     EOF) within 5 s, what it got before is a byte-exact prefix, and a
#     second stream on the same channel (a checked echo) keeps going;
#  2. the other direction: the public peer resets in the middle of an
#     upload: the inner target's connection is reset within 5 s, what it
#     got is a byte-exact prefix, the second stream keeps going;
#  3. rounds of 20 streams, data flowing both ways on each, then both ends
#     reset within microseconds of each other (so RESETs and DATA cross on
#     the channel), or one end and the other must see an RST, or the
#     public peer resets right after connecting: the channel stays up (no
#     protocol error, no reconnect), a checked echo stream runs throughout,
#     every stream is closed on both daemons, the server counts no stream
#     left over, and RESETs did cross (streams that both daemons closed
#     for a local reset).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/udp_lib.sh"   # server_status

EH=(python3 -u "$LIB_DIR/edge_helpers.py")
ROUNDS=10
PAIRS=20
if [ -n "${TCPF_SANITIZER_LOGS:-}" ]; then ROUNDS=6; fi
info "storm scale: $ROUNDS rounds of $PAIRS streams"

ECHO=$(free_port) || fail "free_port"
RT=$(free_port) || fail "free_port"     # target that resets (case 1)
PT=$(free_port) || fail "free_port"     # target the public peer resets (case 2)
ST=$(free_port) || fail "free_port"     # the storm's own target (case 3)
PUB_ECHO=$(free_port) || fail "free_port"
PUB_RT=$(free_port) || fail "free_port"
PUB_PT=$(free_port) || fail "free_port"
PUB_ST=$(free_port) || fail "free_port"

start_bg echo "${EH[@]}" echo-server --port "$ECHO" --lifetime 600 --io-timeout 120
start_bg rtarget "${EH[@]}" reset-target --port "$RT" --reset-file "$TMP/rt.reset" \
    --result "$TMP/rt.result" --lifetime 600
start_bg ptarget "${EH[@]}" reset-target --port "$PT" --send 0 --result "$TMP/pt.result" --lifetime 600
# The storm listens from the start (a port free now may be some outgoing
# connection's source port by the time it would bind) and runs on the word.
start_bg storm "${EH[@]}" storm --port "$PUB_ST" --target-port "$ST" --go-file "$TMP/storm.go" \
    --rounds "$ROUNDS" --pairs "$PAIRS" --seed 3 --timeout 200
STORM_PID=$BG_PID
for p in "$ECHO" "$RT" "$PT" "$ST"; do
    wait_port $LOCALHOST "$p" 10 || fail "target on port $p did not start"
done

start_tunnel "$LOCALHOST:$PUB_ECHO = $LOCALHOST:$ECHO" "$LOCALHOST:$PUB_RT = $LOCALHOST:$RT" \
    "$LOCALHOST:$PUB_PT = $LOCALHOST:$PT" "$LOCALHOST:$PUB_ST = $LOCALHOST:$ST"

# progress FILE [FIELD]: a number from a helper's progress file (0 if none)
progress() {
    local v
    v=$(awk -v f="${2:-1}" '{ print $f }' "$1" 2>/dev/null)
    echo "${v:-0}"
}
# at_least FILE BYTES [FIELD]: the progress file says at least BYTES
at_least() { [ "$(progress "$1" "${3:-1}")" -ge "$2" ]; }
# start_echo NAME: a checked echo stream through PUB_ECHO, running until
# $TMP/NAME.stop exists, moving; sets ES_PID
start_echo() {
    rm -f "$TMP/$1.stop" "$TMP/$1.progress"
    start_bg "$1" "${EH[@]}" echo-stream --port "$PUB_ECHO" --seed "$2" \
        --stop-file "$TMP/$1.stop" --progress-file "$TMP/$1.progress" --max-time 200
    ES_PID=$BG_PID
    wait_until 20 at_least "$TMP/$1.progress" $((1 << 20)) ||
        fail "$1: the echo stream did not get going: $(tail -n 2 "$TMP/$1.log")"
}
# echo_moves NAME: the echo stream moves at least 1 MiB more from now on
echo_moves() {
    local before
    before=$(progress "$TMP/$1.progress")
    wait_until 20 at_least "$TMP/$1.progress" $((before + (1 << 20)))
}
# stop_echo NAME PID WHAT: stop the echo stream; it must end byte-exact
stop_echo() {
    touch "$TMP/$1.stop"
    wait_bg "$2" 60
    local rc=$?
    [ $rc = 0 ] || note_failure "$3: the other stream on the channel failed: $(tail -n 1 "$TMP/$1.log")"
    info "$3, the other stream: $(tail -n 1 "$TMP/$1.log")"
}
# ms_between T1 T2: (T2 - T1) in ms, both CLOCK_MONOTONIC seconds
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 }'; }

# --- 1. the target resets a live stream ------------------------------------
start_echo es1 21
ES1=$ES_PID
# A download only: a socket closed with unread input is reset by the
# kernel anyway, so the public side has nothing unread and only the
# daemon's abortive close can make its end an RST.
start_bg peer1 "${EH[@]}" peer --port "$PUB_RT" --progress-file "$TMP/peer1.progress" --io-timeout 60
PEER1=$BG_PID
wait_until 30 at_least "$TMP/peer1.progress" $((4 << 20)) 1 ||
    fail "case 1: the download through $PUB_RT did not reach 4 MiB: $(tail -n 1 "$TMP/peer1.log")"
is_alive "$ES1" || fail "case 1: the echo stream ended before the reset: $(tail -n 1 "$TMP/es1.log")"
touch "$TMP/rt.reset"
wait_bg "$PEER1" 15
rc=$?
line=$(tail -n 1 "$TMP/peer1.log")
case $rc in
0) ;;
3) note_failure "case 1: the target's RST reached the public peer as a clean EOF: $line" ;;
2) note_failure "case 1: the public peer got wrong bytes before the reset: $line" ;;
124) note_failure "case 1: the public connection is still open 15 s after the target's RST" ;;
*) note_failure "case 1: the public peer ended with status $rc: $line" ;;
esac
wait_until 5 test -s "$TMP/rt.result" || note_failure "case 1: the target wrote no result"
tline=$(head -n 1 "$TMP/rt.result")
[ "$(kv how "$tline")" = stop ] || note_failure "case 1: the target's connection ended before it reset it: $tline"
[ "$(kv bad_at "$tline")" = None ] || note_failure "case 1: the target got wrong bytes: $tline"
if [ $rc = 0 ]; then
    ms=$(ms_between "$(kv t_end "$tline")" "$(kv t_end "$line")")
    info "case 1: target reset after $(kv tx "$tline") bytes sent; public peer: $line; reset seen $ms ms after the target's RST"
    ((ms < 5000)) || note_failure "case 1: the public peer saw the reset $ms ms after the target's RST (want < 5000)"
fi
wait_log "$SERVER_LOG" "stream [0-9]+ closed: mapping $LOCALHOST:$PUB_RT .* s: reset by peer" 1 5 ||
    note_failure "case 1: the server logged no 'stream N closed: mapping $LOCALHOST:$PUB_RT ... reset by peer'"
wait_log "$CLIENT_LOG" "stream [0-9]+ closed: target $LOCALHOST:$RT,.* s: local socket error" 1 5 ||
    note_failure "case 1: the client logged no 'stream N closed: target $LOCALHOST:$RT ... local socket error'"
echo_moves es1 || note_failure "case 1: the other stream stopped moving after the reset: $(tail -n 1 "$TMP/es1.log")"
stop_echo es1 "$ES1" "case 1"

# --- 2. the public peer resets a live stream -------------------------------
start_echo es2 22
ES2=$ES_PID
# An upload only, for the same reason (the target sends nothing).
start_bg peer2 "${EH[@]}" peer --port "$PUB_PT" --send --reset-after $((4 << 20)) --io-timeout 60
PEER2=$BG_PID
wait_bg "$PEER2" 60
rc=$?
line=$(tail -n 1 "$TMP/peer2.log")
[ $rc = 0 ] || fail "case 2: the public peer did not move 4 MiB each way and reset: $line"
if wait_until 15 test -s "$TMP/pt.result"; then
    tline=$(head -n 1 "$TMP/pt.result")
    ms=$(ms_between "$(kv t_end "$line")" "$(kv t_end "$tline")")
    info "case 2: public peer reset: $line; target: $tline; target saw it $ms ms later"
    case $(kv how "$tline") in
    reset) ;;
    eof) note_failure "case 2: the public peer's RST reached the target as a clean EOF: $tline" ;;
    *) note_failure "case 2: the target's connection ended with '$(kv how "$tline")', want reset: $tline" ;;
    esac
    [ "$(kv bad_at "$tline")" = None ] || note_failure "case 2: the target got wrong bytes: $tline"
    ((ms < 5000)) || note_failure "case 2: the target saw the reset $ms ms after the public peer's RST (want < 5000)"
else
    note_failure "case 2: the target's connection was not closed within 15 s of the public peer's RST"
fi
wait_log "$SERVER_LOG" "stream [0-9]+ closed: mapping $LOCALHOST:$PUB_PT .* s: local socket error" 1 5 ||
    note_failure "case 2: the server logged no 'stream N closed: mapping $LOCALHOST:$PUB_PT ... local socket error'"
wait_log "$CLIENT_LOG" "stream [0-9]+ closed: target $LOCALHOST:$PT,.* s: reset by peer" 1 5 ||
    note_failure "case 2: the client logged no 'stream N closed: target $LOCALHOST:$PT ... reset by peer'"
echo_moves es2 || note_failure "case 2: the other stream stopped moving after the reset: $(tail -n 1 "$TMP/es2.log")"
stop_echo es2 "$ES2" "case 2"

# --- 3. resets on both sides at once, while data flows ---------------------
start_echo es3 23
ES3=$ES_PID
touch "$TMP/storm.go"
# a status every 5 s: a pair that stalls leaves its streams' flow state logged
wait_bg_flow "$STORM_PID" 240 5
rc=$?
info "storm: $(tail -n 1 "$TMP/storm.log")"
if [ $rc != 0 ]; then
    note_failure "storm (status $rc): $(tail -n 6 "$TMP/storm.log" | tr '\n' ' ')"
    # what the daemons said about the first pairs that stalled
    for peer in $(grep -oE 'public peer 127\.0\.0\.1:[0-9]+' "$TMP/storm.log" | awk '{ print $3 }' | head -n 3); do
        id=$(grep -E "OPEN .*peer ${peer//./\\.}[,)]" "$SERVER_LOG" | sed -nE 's/.*stream ([0-9]+): OPEN.*/\1/p' | head -n 1)
        [ -n "$id" ] || continue
        info "stalled pair, public peer $peer = stream $id; server: $(grep -E "stream $id[: ]" "$SERVER_LOG" | grep -v " flow: " | tail -n 8 | tr '\n' '|')"
        info "stalled pair, stream $id; client: $(grep -E "stream $id[: ]" "$CLIENT_LOG" | grep -v " flow: " | tail -n 8 | tr '\n' '|')"
        info "stalled pair, stream $id, the last flow state: server: $(flow_lines "$SERVER_LOG" "$id") client: $(flow_lines "$CLIENT_LOG" "$id")"
    done
fi
is_alive "$ES3" || note_failure "storm: the echo stream ended during the storm: $(tail -n 1 "$TMP/es3.log")"
echo_moves es3 || note_failure "storm: the echo stream stopped moving: $(tail -n 1 "$TMP/es3.log")"

n_pairs=$((ROUNDS * PAIRS))
srv_re="stream [0-9]+ closed: mapping $LOCALHOST:$PUB_ST "
cli_re="stream [0-9]+ closed: target $LOCALHOST:$ST,"
wait_log "$SERVER_LOG" "$srv_re" "$n_pairs" 10 ||
    note_failure "storm: the server closed $(log_count "$SERVER_LOG" "$srv_re") streams of mapping $PUB_ST, want $n_pairs"
n_srv=$(log_count "$SERVER_LOG" "$srv_re")
wait_log "$CLIENT_LOG" "$cli_re" "$n_srv" 10 ||
    note_failure "storm: the client closed $(log_count "$CLIENT_LOG" "$cli_re") streams to $ST, the server $n_srv"
n_cli=$(log_count "$CLIENT_LOG" "$cli_re")
# streams that both daemons closed for their own local socket's reset: each
# sent a RESET, and each RESET arrived for a stream already forgotten
grep -E "$srv_re.* s: local socket error" "$SERVER_LOG" | sed -E 's/.*stream ([0-9]+) closed.*/\1/' | sort -u >"$TMP/srv.ids"
grep -E "$cli_re.* s: local socket error" "$CLIENT_LOG" | sed -E 's/.*stream ([0-9]+) closed.*/\1/' | sort -u >"$TMP/cli.ids"
crossed=$(comm -12 "$TMP/srv.ids" "$TMP/cli.ids" | wc -l)
by_peer_srv=$(log_count "$SERVER_LOG" "$srv_re.* s: reset by peer")
by_peer_cli=$(log_count "$CLIENT_LOG" "$cli_re.* s: reset by peer")
info "storm: streams closed: server $n_srv (reset by the client $by_peer_srv), client $n_cli (reset by the server $by_peer_cli); RESETs crossed on $crossed streams"
((crossed >= 1)) || note_failure "storm: no stream was reset by both ends at once (the crossing case was not exercised)"

server_status
st=$(grep -E "status: [0-9]+ mappings" "$STATUS_FILE" | tail -n 1)
info "status after the storm: $st"
[[ $st == *" 1 streams"* ]] || note_failure "storm: after the storm the server holds other than 1 stream (the echo): $st"
stop_echo es3 "$ES3" "storm"

# --- the channel stayed up throughout --------------------------------------
for f in "$SERVER_LOG" "$CLIENT_LOG"; do
    n=$(log_count "$f" "protocol error")
    [ "$n" = 0 ] || note_failure "$(basename "$f"): $n protocol errors: $(grep -m1 'protocol error' "$f")"
    n=$(log_count "$f" "channel closed")
    [ "$n" = 0 ] || note_failure "$(basename "$f"): the channel closed: $(grep -m1 'channel closed' "$f")"
    n=$(log_count "$f" ": channel up \\(")
    [ "$n" = 1 ] || note_failure "$(basename "$f"): $n 'channel up' lines, want 1 (no reconnect)"
done
n=$(log_count "$CLIENT_LOG" "reconnecting")
[ "$n" = 0 ] || note_failure "the client reconnected $n times"
"${PYH[@]}" concurrent --port "$PUB_ECHO" -n 20 --max 262144 --timeout 60 >"$TMP/after.out" 2>&1 ||
    note_failure "echo after the resets failed: $(tail -n 2 "$TMP/after.out" | tr '\n' ' ')"
assert_server_alive
is_alive "$CLIENT_PID" || fail "forward-client died"
finish_test
