#!/bin/bash
# The server's connection limits (issue 14):
#  1. MAX_STREAMS_PER_CLIENT = 5: 5 public connections through the channel
#     echo; a 6th is closed without a byte and logged; the 5 still echo;
#     once one closes, a new connection is served again.
#  2. the cap on held connections (1024 public connections in all wait for
#     a client, forward_server.cfg(5) CLIENT_WAIT): with no client, 1030
#     connections: the first 1024 are held (logged), the 6 beyond are closed
#     at once (logged); when a client connects, each of the 1024 echoes.
#  3. EMFILE: the server under `prlimit --nofile` runs out of descriptors
#     accepting public connections: it logs the accept failure and pauses,
#     it does not spin (its CPU time over a few seconds is measured from
#     /proc/PID/stat and bounded), and when descriptors come free it accepts
#     the connections left waiting: every one of them echoes.  (Not with
#     UBSan's vptr check: see below.)
. "$(dirname "$0")/lib.sh"

command -v prlimit >/dev/null || fail "prlimit not installed (util-linux, tools/deps.sh test)"
LH=(python3 -u "$LIB_DIR/limits_helpers.py")
L=$LOCALHOST
ECHO=$(free_port) || fail "free_port"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 120
wait_port $L "$ECHO" 10 || fail "echo server did not start"

# --- 1. MAX_STREAMS_PER_CLIENT ---------------------------------------------------------
PUB1=$(free_port) || fail "free_port"
EXTRA_DEFAULTS="MAX_STREAMS_PER_CLIENT = 5"
write_config "$L:$PUB1 = $L:$ECHO"
cp "$CONFIG" "$TMP/streams.cfg"
start_server_as server-streams "$TMP/streams.cfg"
start_client streams-client
wait_channel_up 1
out=$(sech maxconn --port "$PUB1" --limit 5 --settle 5 2>&1)
rc=$?
info "MAX_STREAMS_PER_CLIENT = 5: $(tail -n 1 <<<"$out")"
[ $rc = 0 ] || note_failure "MAX_STREAMS_PER_CLIENT = 5: $(tail -n 1 <<<"$out")"
n=$(log_count "$SERVER_LOG" "mapping $L:$PUB1 -> $L:$ECHO: client $L:[0-9]+ already has MAX_STREAMS_PER_CLIENT \(5\) streams, closing connection from $L:[0-9]+")
[ "$n" -ge 1 ] || note_failure "no 'already has MAX_STREAMS_PER_CLIENT (5) streams, closing connection' line"
info "MAX_STREAMS_PER_CLIENT refusals logged: $n ($(grep -m1 'MAX_STREAMS_PER_CLIENT' "$SERVER_LOG" | sed 's/.*\]: //'))"
out=$("${PYH[@]}" concurrent --port "$PUB1" -n 5 --max 65536 --timeout 20 2>&1) ||
    note_failure "5 concurrent echo streams (at the cap) failed: $(tail -n 1 <<<"$out")"
stop_bg "$CLIENT_PID"
stop_bg "$SERVER_PID"

# --- 2. held connections cap ---------------------------------------------------------------
PUB2=$(free_port) || fail "free_port"
EXTRA_DEFAULTS="CLIENT_WAIT = 120"
write_config "$L:$PUB2 = $L:$ECHO"
cp "$CONFIG" "$TMP/held.cfg"
start_server_as server-held "$TMP/held.cfg"
HELD=1024
EXTRA=6
start_bg held "${LH[@]}" held --port "$PUB2" -n $((HELD + EXTRA)) --served $HELD \
    --marker "$TMP/held.marker" --go "$TMP/held.go" --go-timeout 90 --timeout 60
HELD_PID=$BG_PID
wait_until 30 test -s "$TMP/held.marker" || fail "the held peer did not connect within 30 s: $(tail -n 2 "$TMP/held.log")"
info "held peer: $(cat "$TMP/held.marker")"
wait_log "$SERVER_LOG" "mapping $L:$PUB2 -> .*: no client of tag default yet, holding connection" $HELD 30 ||
    note_failure "$(log_count "$SERVER_LOG" 'holding connection') 'holding connection' lines, want $HELD"
wait_log "$SERVER_LOG" "mapping $L:$PUB2 -> .*: no client of tag default connected, closing connection from" $EXTRA 10 ||
    note_failure "$(log_count "$SERVER_LOG" 'no client of tag default connected, closing') 'closing connection' lines for the $EXTRA beyond the cap, want $EXTRA"
sleep 0.5
n_held=$(log_count "$SERVER_LOG" 'holding connection')
n_closed=$(log_count "$SERVER_LOG" 'no client of tag default connected, closing')
info "no client: $n_held connections held, $n_closed closed at once"
[ "$n_held" = $HELD ] || note_failure "$n_held connections held (want exactly $HELD)"
[ "$n_closed" = $EXTRA ] || note_failure "$n_closed connections closed at once (want exactly $EXTRA)"
start_client held-client
wait_channel_up 1 20
touch "$TMP/held.go"
wait_bg "$HELD_PID" 90
rc=$?
info "held connections after the client came: $(tail -n 1 "$TMP/held.log")"
[ $rc = 0 ] || note_failure "held connections: status $rc: $(tail -n 1 "$TMP/held.log")"
stop_bg "$CLIENT_PID"
stop_bg "$SERVER_PID"

# --- 3. EMFILE ---------------------------------------------------------------------------------
# Not with UBSan's vptr check (-fsanitize=undefined, as in the sanitized
# pass; an ASan-only build runs it): on a miss of its type cache the check
# reads the vtable through the runtime's IsAccessibleMemoryRange, which
# probes the memory with a pipe(2) (GCC 12's libsanitizer and clang 14's
# runtime, both tried). With no descriptor left that fails, and whichever
# virtual call first misses the cache is reported on a live object: "member
# call on address ... which does not point to an object of type 'Owner'
# ... invalid vptr", in SocketIo::readable_cb or SocketWriter::flush, where
# gdb shows the object's vptr intact (Stream's). A 10-line program with a live
# object and a full descriptor table gets the same report, and a
# "vptr_check:*" suppressions file does not help there.
check_binaries
if has_vptr_check "$FORWARD_SERVER"; then
    info "EMFILE part skipped: forward-server has UBSan's vptr check, which needs a free descriptor"
    finish_test
fi
NOFILE=${TCPF_LIMITS_NOFILE:-40}
CONNS=${TCPF_LIMITS_CONNS:-90}
PUB3=$(free_port) || fail "free_port"
EXTRA_DEFAULTS=""
write_config "$L:$PUB3 = $L:$ECHO"
cp "$CONFIG" "$TMP/emfile.cfg"
start_bg server-emfile prlimit --nofile=$NOFILE:$NOFILE -- "$FORWARD_SERVER" "$TMP/emfile.cfg"
SERVER_PID=$BG_PID
SERVER_LOG=$TMP/server-emfile.log
wait_port $L "$INNER_PORT" 10 || fail "forward-server (nofile $NOFILE) did not listen on $INNER_PORT"
wait_port $L "$PUB3" 10 || fail "forward-server (nofile $NOFILE) did not listen on $PUB3"
[ "$(awk '/^Max open files/ { print $4 }' "/proc/$SERVER_PID/limits")" = "$NOFILE" ] ||
    fail "forward-server does not run with nofile $NOFILE: $(grep 'open files' "/proc/$SERVER_PID/limits")"
info "server fds at start: $(ls "/proc/$SERVER_PID/fd" | wc -l) of $NOFILE"
start_client emfile-client
wait_channel_up 1
start_bg fill "${LH[@]}" fill --port "$PUB3" -n "$CONNS" --settle 3 --marker "$TMP/fill.marker" \
    --release "$TMP/fill.release" --timeout 30
FILL_PID=$BG_PID
wait_until 30 test -s "$TMP/fill.marker" || fail "the fill peer reported nothing within 30 s: $(tail -n 2 "$TMP/fill.log")"
info "before release: $(cat "$TMP/fill.marker"); server fds $(ls "/proc/$SERVER_PID/fd" | wc -l)"
pending=$(sed -nE 's/.*pending=([0-9]+).*/\1/p' "$TMP/fill.marker")
[ "${pending:-0}" -gt 0 ] || fail "no connection left waiting: the server never ran out of descriptors ($(cat "$TMP/fill.marker"))"
EMFILE_RE="mapping $L:$PUB3: accept: Too many open files; pausing for 1 s"
wait_log "$SERVER_LOG" "$EMFILE_RE" 1 5 || note_failure "no '$EMFILE_RE' line"

# cpu_ticks PID: utime + stime of PID, in clock ticks.
cpu_ticks() {
    local line rest
    read -r line <"/proc/$1/stat" || return 1
    rest=${line##*) }
    local -a f
    read -r -a f <<<"$rest"
    echo $((f[11] + f[12]))
}
HZ=$(getconf CLK_TCK)
lines0=$(log_count "$SERVER_LOG" "$EMFILE_RE")
c0=$(cpu_ticks "$SERVER_PID") || fail "cannot read the server's CPU time"
t0=$(now_ms)
sleep 4
c1=$(cpu_ticks "$SERVER_PID") || fail "cannot read the server's CPU time"
el=$(($(now_ms) - t0))
lines1=$(log_count "$SERVER_LOG" "$EMFILE_RE")
cpu_ms=$(((c1 - c0) * 1000 / HZ))
info "out of descriptors for $el ms: server CPU $cpu_ms ms, $((lines1 - lines0)) 'accept: Too many open files' lines"
# a spinning accept loop burns a whole core: ~$el ms
((cpu_ms * 4 < el)) || note_failure "the server used $cpu_ms ms of CPU in $el ms out of descriptors (a spin?)"
((lines1 - lines0 <= el / 250)) || note_failure "$((lines1 - lines0)) accept failures logged in $el ms (want one per pause)"
is_alive "$SERVER_PID" || fail "forward-server died out of descriptors"

touch "$TMP/fill.release"
wait_bg "$FILL_PID" 40
rc=$?
info "after release: $(tail -n 1 "$TMP/fill.log")"
[ $rc = 0 ] || note_failure "connections left waiting were not all served once descriptors came free: $(tail -n 1 "$TMP/fill.log")"
out=$("${PYH[@]}" concurrent --port "$PUB3" -n 10 --max 65536 --timeout 20 2>&1) ||
    note_failure "10 echo streams after the descriptors came back failed: $(tail -n 1 <<<"$out")"

assert_server_alive
finish_test
