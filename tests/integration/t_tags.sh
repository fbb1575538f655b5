#!/bin/bash
# Tags and failover (issue 4): mappings tagged blue and green ([TAG]).
#  1. A --tag blue client serves the blue mapping only: a green connection
#     waits CLIENT_WAIT (1 s) and is closed; the blue client never sees it.
#  2. A second blue client: 20 requests are shared round robin (both
#     clients' logs have stream lines, about 10 each); a green client
#     serves green and never blue.
#  3. kill -9 one blue client mid-load: every request made after the server
#     noticed succeeds, carried by the other blue client.
. "$(dirname "$0")/lib.sh"

ECHO_B=$(free_port) || fail "free_port"
ECHO_G=$(free_port) || fail "free_port"
PUB_B=$(free_port) || fail "free_port"
PUB_G=$(free_port) || fail "free_port"
L=$LOCALHOST
for p in "$ECHO_B" "$ECHO_G"; do
    start_bg "echo$p" "${PYH[@]}" echo-server --port "$p" --lifetime 300 --io-timeout 60
done
for p in "$ECHO_B" "$ECHO_G"; do
    wait_port $L "$p" 10 || fail "echo server $p did not start"
done

EXTRA_DEFAULTS="CLIENT_WAIT = 1"
EXTRA_SECTIONS="[TAG]
$L:$PUB_B = blue
$L:$PUB_G = green"
write_config "$L:$PUB_B = $L:$ECHO_B" "$L:$PUB_G = $L:$ECHO_G"
start_server
grep -qE "mapping $L:$PUB_B -> .* listening \(tag blue" "$SERVER_LOG" || fail "mapping $PUB_B not tagged blue: $(grep "$PUB_B" "$SERVER_LOG")"
grep -qE "mapping $L:$PUB_G -> .* listening \(tag green" "$SERVER_LOG" || fail "mapping $PUB_G not tagged green"

CLIENT_ARGS="--tag blue"
start_client blue1
BLUE1=$CLIENT_PID
BLUE1_LOG=$CLIENT_LOG
wait_channel_up 1
grep -qE 'channel up .*tag blue' "$SERVER_LOG" || fail "the server did not log the client's tag: $(grep 'channel up' "$SERVER_LOG")"

# one_request PORT: a byte-exact echo round trip on a fresh connection
one_request() {
    "${PYH[@]}" concurrent --port "$1" -n 1 --max 16384 --timeout 10 >"$TMP/one.out" 2>&1
}
# quick_request PORT: a one-line echo round trip on a fresh connection,
# without starting a process (bash's /dev/tcp), for load
quick_request() {
    local line want="tcpf-$RANDOM-$RANDOM" rc=1
    exec 3<>"/dev/tcp/$L/$1" || return 1
    if printf '%s\n' "$want" >&3 && IFS= read -r -t 5 line <&3 && [ "$line" = "$want" ]; then
        rc=0
    fi
    exec 3<&- 3>&-
    return $rc
}
streams_to() { log_count "$1" "stream [0-9]+ closed: target $L:$2"; }

# --- 1. tag routing ------------------------------------------------------------
one_request "$PUB_B" || fail "blue mapping not served by the blue client: $(tail -n 2 "$TMP/one.out" | tr '\n' ' ')"
out=$("${PYH[@]}" probe --port "$PUB_G" --mode http --within 3 --grace 0 2>&1)
rc=$?
el=$(sed -n 's/.*elapsed=\([0-9.]*\).*/\1/p' <<<"$out")
info "green connection with only a blue client: $out"
[ $rc = 0 ] || note_failure "green connection not closed within 3 s: $out"
awk -v e="${el:-0}" 'BEGIN { exit !(e >= 0.8 && e <= 2.0) }' ||
    note_failure "green connection closed after ${el:-?} s (want about CLIENT_WAIT = 1 s)"
wait_log "$SERVER_LOG" "no client of tag green within CLIENT_WAIT" 1 3 || note_failure "no 'no client of tag green within CLIENT_WAIT' line"
[ "$(streams_to "$BLUE1_LOG" "$ECHO_G")" = 0 ] && ! grep -q "target $L:$ECHO_G" "$BLUE1_LOG" ||
    note_failure "the blue client was asked for the green target"

# --- 2. round robin between two blue clients; a green client -----------------
start_client blue2
BLUE2=$CLIENT_PID
BLUE2_LOG=$CLIENT_LOG
wait_channel_up 2
CLIENT_ARGS="--tag green"
start_client green
GREEN_LOG=$CLIENT_LOG
wait_channel_up 3

b1=$(streams_to "$BLUE1_LOG" "$ECHO_B")
b2=$(streams_to "$BLUE2_LOG" "$ECHO_B")
for i in $(seq 20); do
    quick_request "$PUB_B" || fail "blue request $i of 20 failed"
done
# until the clients have logged their ends of the 20 streams (bounded;
# the check below says what is missing)
blue_20() { [ $(($(streams_to "$BLUE1_LOG" "$ECHO_B") - b1 + $(streams_to "$BLUE2_LOG" "$ECHO_B") - b2)) -ge 20 ]; }
wait_until 5 blue_20
d1=$(($(streams_to "$BLUE1_LOG" "$ECHO_B") - b1))
d2=$(($(streams_to "$BLUE2_LOG" "$ECHO_B") - b2))
info "20 blue requests: blue1 carried $d1, blue2 carried $d2"
[ $((d1 + d2)) = 20 ] || note_failure "blue clients logged $((d1 + d2)) streams for 20 requests"
((d1 >= 7 && d2 >= 7)) || note_failure "round robin not balanced: blue1 $d1, blue2 $d2 of 20"
for i in 1 2 3 4; do
    one_request "$PUB_G" || note_failure "green request $i failed with a green client up: $(tail -n 2 "$TMP/one.out" | tr '\n' ' ')"
done
[ "$(streams_to "$GREEN_LOG" "$ECHO_G")" -ge 4 ] || note_failure "the green client did not carry the green requests"
[ "$(streams_to "$GREEN_LOG" "$ECHO_B")" = 0 ] || note_failure "the green client carried blue streams"
[ "$(streams_to "$BLUE1_LOG" "$ECHO_G")" = 0 ] && [ "$(streams_to "$BLUE2_LOG" "$ECHO_G")" = 0 ] ||
    note_failure "a blue client carried green streams"

# --- 3. kill -9 one blue client mid-load -------------------------------------
# sequential one-line echo requests for 6 s, each logged as "start_ms status"
(
    end=$((SECONDS + 6))
    while [ $SECONDS -lt $end ]; do
        t=${EPOCHREALTIME/[.,]/}
        quick_request "$PUB_B" 2>/dev/null
        echo "$((t / 1000)) $?"
        sleep 0.01
    done
) </dev/null >"$TMP/load.log" 2>&1 &
LOAD=$!
# tracked like start_bg's processes, so every exit path ends it (it starts
# no process of its own: bash's /dev/tcp)
adopt_pid load "$LOAD" || fail "the load loop did not start"
# mid-load: until at least 20 requests are done (bounded)
load_going() { [ "$(wc -l <"$TMP/load.log")" -ge 20 ]; }
wait_until 5 load_going || fail "the load loop made fewer than 20 requests in 5 s: $(tail -n 3 "$TMP/load.log" | tr '\n' ' ')"
closed_before=$(log_count "$SERVER_LOG" 'channel closed')
b2=$(streams_to "$BLUE2_LOG" "$ECHO_B")
kill_bg "$BLUE1" KILL || fail "cannot kill blue1"
t_kill=$(now_ms)
wait_log_ms "$SERVER_LOG" 'channel closed' $((closed_before + 1)) 5000 || fail "the server did not notice the killed blue client"
t_noticed=$(now_ms)
info "server noticed the killed blue client after $((t_noticed - t_kill)) ms"
wait_bg "$LOAD" 15 >/dev/null
[ $? = 124 ] && fail "the 6 s load loop still runs 15 s later"
total=$(wc -l <"$TMP/load.log")
before=$(awk -v t="$t_kill" '$1 < t' "$TMP/load.log" | wc -l)
after=$(awk -v t="$t_noticed" '$1 >= t' "$TMP/load.log" | wc -l)
after_bad=$(awk -v t="$t_noticed" '$1 >= t && $2 != 0' "$TMP/load.log" | wc -l)
all_bad=$(awk '$2 != 0' "$TMP/load.log" | wc -l)
info "load: $total requests ($before before the kill), $all_bad failed in all; started after the server noticed: $after, failed: $after_bad"
[ "$before" -ge 5 ] || note_failure "only $before requests before the kill: not mid-load"
[ "$after" -ge 5 ] || note_failure "only $after requests after the kill"
[ "$after_bad" = 0 ] || note_failure "$after_bad requests started after the server noticed the dead blue client failed"
d2=$(($(streams_to "$BLUE2_LOG" "$ECHO_B") - b2))
[ "$d2" -ge "$after" ] || note_failure "blue2 carried $d2 streams, fewer than the $after requests after the kill"
for i in $(seq 10); do
    one_request "$PUB_B" || note_failure "blue request $i after the failover failed: $(tail -n 2 "$TMP/one.out" | tr '\n' ' ')"
done

assert_server_alive
is_alive "$BLUE2" || note_failure "blue2 died"
finish_test
