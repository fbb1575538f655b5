#!/bin/bash
# A hostile server (issue 14) against a real forward-client: evil_server.py
# matrix authenticates the client with its key, then runs the cases of
# HOSTILE_SERVER, one channel per case (the client reconnects after each):
# HELLO and AUTH again, OPEN_OK/OPEN_FAIL sent to the client, OPENs that
# reuse ids or carry bad windows, ports and hosts, DATA/EOF/RESET/WINDOW/
# DATAGRAM for ids never opened, for closed ids and at the wrong moment,
# early data beyond its window, zero, huge and overflowing windows,
# zero-length, maximal and over-long frames, unknown types, non-zero flags,
# CLOSE with junk, OPENs beyond --max-streams and UDP_OPENs beyond
# --max-udp-sessions, and a 1 GiB window it never reads.  Each case is
# checked on its own:
#  - on the wire (the client closed the channel, or answered the PING sent
#    after an ignored frame, or echoed a maximal frame byte-exact, ...);
#  - in the part of the client log written while that case ran: the
#    documented line naming the server's address (a protocol error, "peer
#    closed the channel" and no protocol error for frames dropped
#    silently, the --max-streams/--max-udp-sessions refusals);
#  - the client is still running, and reconnects for the next case.
# The client's VmRSS before and after the rounds is printed and may grow
# only by a small margin.
. "$(dirname "$0")/lib.sh"

EVIL=(python3 -u "$LIB_DIR/evil_server.py")
MAX_STREAMS=20
MAX_UDP=10
ROUNDS=${HOSTILE_ROUNDS:-2}
EVIL_PORT=$(free_port) || fail "free_port"

start_client_to client "$EVIL_PORT" --key-file "$(test_key)" --heartbeat 1 --retry-max 2 \
    --max-streams $MAX_STREAMS --max-udp-sessions $MAX_UDP
wait_log "$CLIENT_LOG" "cannot connect" 1 10 || fail "the client did not try to connect"

rss0=$(rss_kb "$CLIENT_PID")
rss=()
t0=$(now_ms)
for ((r = 1; r <= ROUNDS; r++)); do
    start_bg "evil$r" "${EVIL[@]}" matrix --port "$EVIL_PORT" --key-file "$(test_key)" \
        --client-pid "$CLIENT_PID" --client-log "$CLIENT_LOG" --out-dir "$TMP/matrix$r" \
        --max-streams $MAX_STREAMS --max-udp $MAX_UDP ${HOSTILE_ONLY:+--only "$HOSTILE_ONLY"}
    wait_bg "$BG_PID" 240 || note_failure "round $r: the matrix helper failed or did not finish: $(tail -n 3 "$TMP/evil$r.log")"
    rss+=("$(rss_kb "$CLIENT_PID")")
    info "round $r: $(grep '^cases=' "$TMP/evil$r.log"); client VmRSS ${rss[-1]:-?} KiB"
done
info "$ROUNDS rounds in $(ms_to_s $(($(now_ms) - t0))) s"

# --- each case on its own ----------------------------------------------------
ncases=0
for ((r = 1; r <= ROUNDS; r++)); do
    OUT=$TMP/matrix$r
    [ -s "$OUT/cases.tsv" ] || { note_failure "round $r wrote no cases"; continue; }
    while IFS=$'\t' read -r n name peer expect wire_ok wire count pattern absent metric; do
        ncases=$((ncases + 1))
        seg=$OUT/$n.seg
        [ "$wire_ok" = 1 ] || note_failure "round $r, case $name ($expect): on the wire: $wire"
        [ "$pattern" = - ] && continue
        got=$(log_count "$seg" "$pattern")
        [ "$got" -ge "$count" ] ||
            note_failure "round $r, case $name: the client logged '$pattern' $got times, want $count (its last lines: $(grep -v '\[debug\]' "$seg" | tail -n 2 | tr '\n' ' '))"
        if [ "$absent" != - ] && [ "$(log_count "$seg" "$absent")" != 0 ]; then
            note_failure "round $r, case $name: the client logged '$(grep -m1 -E -- "$absent" "$seg")'"
        fi
        if [ "$metric" != - ]; then
            info "round $r, case $name: client VmRSS peak $metric KiB (before the matrix $rss0 KiB)"
            [ "$metric" -lt $((rss0 + $(rss_allowance $((16 * 1024))))) ] ||
                note_failure "round $r, case $name: client VmRSS peaked at $metric KiB, $rss0 KiB before"
        fi
    done <"$OUT/cases.tsv"
done
info "$ncases cases checked"
[ -n "${HOSTILE_ONLY:-}" ] || [ "$ncases" -ge $((68 * ROUNDS)) ] || note_failure "only $ncases cases ran"

# --- the client: alive, reconnecting, its memory ---------------------------
is_alive "$CLIENT_PID" || fail "the client is not running any more"
n=$(log_count "$CLIENT_LOG" "channel up")
info "the client brought its channel up $n times"
rss1=${rss[0]}
rssn=${rss[-1]}
info "client VmRSS before the matrix $rss0 KiB, after round 1 $rss1 KiB, after round $ROUNDS $rssn KiB"
[ "$rssn" -lt $((rss0 + $(rss_allowance $((8 * 1024))))) ] ||
    note_failure "the client's VmRSS grew from $rss0 to $rssn KiB over the matrix"
[ "$rssn" -lt $((rss1 + $(rss_allowance 3072))) ] ||
    note_failure "the client's VmRSS grew from $rss1 KiB after round 1 to $rssn KiB after round $ROUNDS"
finish_test
