#!/bin/bash
# A hostile client (issue 14): a Python client that authenticates properly
# with the shared key (tag hostile) and then runs the matrix of
# sec_helpers.py HOSTILE_CLIENT, one authenticated channel per case: HELLO
# and AUTH again, OPEN/UDP_OPEN sent to the server, OPEN_OK/OPEN_FAIL/DATA/
# EOF/RESET/WINDOW/DATAGRAM for ids never opened, for closed ids and at the
# wrong moment, zero, huge and overflowing windows, zero-length, maximal
# and over-long frames, unknown types, non-zero flags, CLOSE with junk,
# streams up to MAX_STREAMS_PER_CLIENT (20) and beyond, and a 1 GiB window
# it never reads.  Each case is checked on its own:
#  - on the wire (the server closed the channel, or answered the PING sent
#    after an ignored frame, or delivered a maximal frame byte-exact, ...);
#  - in the part of the server log written while that case ran: the
#    documented line naming the hostile channel's address (a protocol
#    error, "peer closed the channel" and no protocol error for frames
#    that are dropped silently, the MAX_STREAMS_PER_CLIENT refusals);
#  - the server is still running after it.
# Meanwhile a well-behaved forward-client (tag default) keeps one echo
# transfer running at 1 MiB/s; it must come back byte-exact and its channel
# must never drop, nor stall.  The matrix runs 3 times; the server's
# VmRSS before, after the first and after the last round is printed and
# may grow only by a small margin.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/udp_lib.sh"

CAP=20
ECHO=$(free_port) || fail "free_port"
PUB_GOOD=$(free_port) || fail "free_port"
PUB_H=$(free_port) || fail "free_port"
PUB_HU=$(free_udp_port) || fail "free_udp_port"
SINK=$(free_udp_port) || fail "free_udp_port"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 600 --io-timeout 120
wait_port $LOCALHOST "$ECHO" 10 || fail "echo server did not start"

EXTRA_DEFAULTS="HEARTBEAT_INTERVAL = 1
MAX_STREAMS_PER_CLIENT = $CAP"
EXTRA_SECTIONS="[TAG]
$LOCALHOST:$PUB_H = hostile
$LOCALHOST:$PUB_HU/udp = hostile"
# The hostile mappings' targets are never connected: the hostile client
# only answers the server's OPENs.
write_config "$LOCALHOST:$PUB_GOOD = $LOCALHOST:$ECHO" \
    "$LOCALHOST:$PUB_H = $LOCALHOST:$SINK" \
    "$LOCALHOST:$PUB_HU/udp = $LOCALHOST:$SINK"
start_udp_server
start_client good
GOOD_LOG=$CLIENT_LOG
GOOD_PID=$CLIENT_PID
wait_channel_up 1
good_peer=$(sed -n 's/.*client \([0-9.]*:[0-9]*\): channel up .*tag default.*/\1/p' "$SERVER_LOG" | head -n 1)
[ -n "$good_peer" ] || fail "no 'channel up' line for the good client's tag default"

start_sech steady steady --port "$PUB_GOOD" --rate $((1 << 20)) --stop-file "$TMP/stop" --max-time 400
STEADY=$BG_PID
# the transfer runs before the matrix starts
wait_log "$SERVER_LOG" "stream 1: open" 1 10 || fail "the steady transfer's stream did not open"

# The matrix runs ROUNDS times: growth from the first round to the last
# would be a leak; the first round may raise the allocator's high-water mark.
ROUNDS=${HOSTILE_ROUNDS:-3}
rss0=$(rss_kb "$SERVER_PID")
rss=()
t0=$(now_ms)
for ((r = 1; r <= ROUNDS; r++)); do
    start_sech "matrix$r" hostile-client --port "$INNER_PORT" --key-file "$(test_key)" --tcp-port "$PUB_H" \
        --udp-port "$PUB_HU" --cap $CAP --server-pid "$SERVER_PID" --server-log "$SERVER_LOG" \
        --out-dir "$TMP/matrix$r" ${HOSTILE_ONLY:+--only "$HOSTILE_ONLY"}
    wait_bg "$BG_PID" 240 || note_failure "round $r: the matrix helper failed or did not finish: $(tail -n 3 "$TMP/matrix$r.log")"
    rss+=("$(rss_kb "$SERVER_PID")")
    info "round $r: $(grep '^cases=' "$TMP/matrix$r.log"); server VmRSS ${rss[-1]} KiB"
done
info "$ROUNDS rounds in $(ms_to_s $(($(now_ms) - t0))) s"

touch "$TMP/stop"
wait_bg "$STEADY" 60
rc=$?
steady=$(grep -m1 '^how=' "$TMP/steady.log")
info "steady transfer through the good client: $steady"
[ $rc = 0 ] || note_failure "the good client's transfer was disturbed: ${steady:-no result (rc $rc)}"
# 10 sends a second: a pause of 5 s means the good stream was held up
gap=$(sed -n 's/.*max_gap=\([0-9.]*\).*/\1/p' <<<"$steady")
awk -v g="${gap:-99}" 'BEGIN { exit !(g < 5) }' || note_failure "the good client's transfer stalled for ${gap:-?} s"

# --- each case on its own ----------------------------------------------------
ncases=0
for ((r = 1; r <= ROUNDS; r++)); do
    OUT=$TMP/matrix$r
    [ -s "$OUT/cases.tsv" ] || { note_failure "round $r wrote no cases"; continue; }
    while IFS=$'\t' read -r n name peer expect wire_ok wire count pattern absent metric; do
        ncases=$((ncases + 1))
        seg=$OUT/$n.seg
        [ "$wire_ok" = 1 ] || note_failure "round $r, case $name ($expect): on the wire: $wire"
        got=$(log_count "$seg" "$pattern")
        [ "$got" -ge "$count" ] ||
            note_failure "round $r, case $name: the server logged '$pattern' $got times, want $count (its lines: $(grep -F "$peer" "$seg" | grep -v '\[debug\]' | tail -n 2 | tr '\n' ' '))"
        if [ "$absent" != - ] && [ "$(log_count "$seg" "$absent")" != 0 ]; then
            note_failure "round $r, case $name: the server logged '$(grep -m1 -E -- "$absent" "$seg")'"
        fi
        if [ "$metric" != - ]; then
            info "round $r, case $name: server VmRSS peak $metric KiB (before the matrix $rss0 KiB)"
            [ "$metric" -lt $((rss0 + $(rss_allowance $((16 * 1024))))) ] ||
                note_failure "round $r, case $name: server VmRSS peaked at $metric KiB, $rss0 KiB before"
        fi
    done <"$OUT/cases.tsv"
done
info "$ncases cases checked"
[ -n "${HOSTILE_ONLY:-}" ] || [ "$ncases" -ge $((65 * ROUNDS)) ] || note_failure "only $ncases cases ran"

# --- the server, its memory, the good client -------------------------------
assert_server_alive
rss1=${rss[0]}
rssn=${rss[-1]}
info "server VmRSS before the matrix $rss0 KiB, after round 1 $rss1 KiB, after round $ROUNDS $rssn KiB"
[ "$rssn" -lt $((rss0 + $(rss_allowance $((8 * 1024))))) ] ||
    note_failure "the server's VmRSS grew from $rss0 to $rssn KiB over the matrix"
[ "$rssn" -lt $((rss1 + $(rss_allowance 2048))) ] ||
    note_failure "the server's VmRSS grew from $rss1 KiB after round 1 to $rssn KiB after round $ROUNDS"
is_alive "$GOOD_PID" || note_failure "the good client died"
n=$(log_count "$GOOD_LOG" "channel up")
[ "$n" = 1 ] || note_failure "the good client's channel came up $n times (it was dropped)"
assert_no_log "$GOOD_LOG" "channel closed" "the good client's channel was closed"
assert_no_log "$SERVER_LOG" "client $good_peer: channel closed" "the server closed the good client's channel"
finish_test
