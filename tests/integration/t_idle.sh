#!/bin/bash
# Idle and slow peers: 5,000 public connections that connect and send
# nothing, 1,000 that ask a 256 KiB download of the inner target and never
# read, and 40 that ask an endless one and never read (their windows fill
# the server's MAX_BUFFERED_BYTES, 8M here).  Meanwhile:
#  - a reference transfer for another user (64 MiB, checked byte by byte)
#    keeps at least 0.3 of the throughput it had before the load;
#  - the daemons' memory stays within what the windows allow: per stream
#    at most one window (512 KiB at first), or what its reader asked if less, plus a
#    few KiB of state per connection;
#  - the idle connections are dealt with as configured.  The server has no
#    idle timeout for TCP streams (forward_server.cfg(5): OPEN_TIMEOUT only
#    bounds the client's answer to an OPEN, CLIENT_WAIT only holds
#    connections while no client is up, HANDSHAKE_TIMEOUT is for
#    INNER_PORT), so they must all stay open, and cost nothing but their
#    descriptors and a few KiB each: 20 s after they connected, with the
#    server's timers set to 2 s, none was closed by either daemon.
#
# Scale: IDLE_N / SLOW_N / BIG_N (default 5000 / 1000 / 40, under the
# sanitizers too: the test takes about 30 s there as well).
. "$(dirname "$0")/lib.sh"

CH=(python3 -u "$LIB_DIR/churn_helpers.py")
IDLE=${IDLE_N:-5000} SLOW=${SLOW_N:-1000}
WINDOW_KB=512           # docs/PROTOCOL.md: the first window, per stream and direction
PER_CONN_KB=16          # a stream's objects, bufferevent and evbuffers, with slack
MIN_FRACTION_PCT=30     # the reference transfer under load, of its speed before
REF_SIZE=64M
# What each slow reader asks for: 256 KiB, not endless: a download the
# reader never reads waits in kernel socket buffers first (the server's
# send buffer to it grows to hold this much), whose memory (tcp_mem) the
# whole machine shares; 1,000 endless downloads put it under memory
# pressure (loopback retransmits) and stall everyone's tests.
SLOW_SIZE_KB=256
# So that the daemons' own buffers fill too, and past MAX_BUFFERED_BYTES
# (set to 8M here), BIG more readers ask an endless download: 40 windows
# of 512 KiB > 8 MiB.  The reference transfer must still flow then.
BIG=${BIG_N:-40}
BUDGET_MB=8
info "idle connections: $IDLE, slow readers: $SLOW, endless readers: $BIG"

# Each daemon holds one socket per connection (server: public, client:
# target); the load generator all of them; the echo server the idle ones.
need=$((IDLE + SLOW + 512))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $need ]; then
    ulimit -n $((need > 16384 ? need : 16384)) 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
fi
info "ulimit -n = $(ulimit -n) (need $need)"
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $need ] ||
    fail "ulimit -n is $(ulimit -n), below the $need descriptors this test needs"

ECHO=$(free_port) || fail "free_port"
ENDLESS=$(free_port) || fail "free_port"
SOURCE=$(free_port) || fail "free_port"
PUB_IDLE=$(free_port) || fail "free_port"
PUB_SLOW=$(free_port) || fail "free_port"
PUB_REF=$(free_port) || fail "free_port"

start_bg echo "${CH[@]}" echo-server --port "$ECHO" --lifetime 400 --io-timeout 400
wait_port $LOCALHOST "$ECHO" 10 || fail "echo server did not start"
ENDLESS_BIG=$(free_port) || fail "free_port"
PUB_BIG=$(free_port) || fail "free_port"
start_bg endless_big "${CH[@]}" endless-server --port "$ENDLESS_BIG" --lifetime 400
wait_port $LOCALHOST "$ENDLESS_BIG" 10 || fail "endless server did not start"
start_bg endless "${CH[@]}" endless-server --port "$ENDLESS" --lifetime 400 --size $((SLOW_SIZE_KB * 1024))
wait_port $LOCALHOST "$ENDLESS" 10 || fail "endless server did not start"
start_bg source "${PYH[@]}" source-server --port "$SOURCE" --size "$REF_SIZE" --lifetime 400 --io-timeout 120
wait_port $LOCALHOST "$SOURCE" 10 || fail "source server did not start"

write_config "$LOCALHOST:$PUB_IDLE = $LOCALHOST:$ECHO" \
    "$LOCALHOST:$PUB_SLOW = $LOCALHOST:$ENDLESS" \
    "$LOCALHOST:$PUB_REF = $LOCALHOST:$SOURCE" \
    "$LOCALHOST:$PUB_BIG = $LOCALHOST:$ENDLESS_BIG"
# Info, not debug: thousands of streams.
sed -i -e 's/^LOG_LEVEL = debug$/LOG_LEVEL = info/' \
    -e "s/^INNER_ADDR = .*/&\\nMAX_BUFFERED_BYTES = ${BUDGET_MB}M\\nOPEN_TIMEOUT = 2\\nHEARTBEAT_INTERVAL = 2/" \
    "$CONFIG" || fail "sed $CONFIG"
start_server
start_bg client "$FORWARD_CLIENT" --retry-delay 1 --key-file "$(test_key)" $LOCALHOST "$INNER_PORT"
CLIENT_PID=$BG_PID
CLIENT_LOG=$TMP/client.log
wait_channel_up 1

fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# reference LABEL: one verified 64 MiB transfer through PUB_REF; sets REF_MIBPS.
reference() {
    local out
    out=$("${PYH[@]}" sink --port "$PUB_REF" --size "$REF_SIZE" --timeout 60 2>"$TMP/ref-$1.err") ||
        fail "reference transfer ($1) failed: $out $(head -n 3 "$TMP/ref-$1.err" | tr '\n' ' ')"
    REF_MIBPS=${out##*mibps=}
    info "reference transfer $1: $out"
}
# mib_x10 "12.3": 123 (MiB/s to tenths, for integer comparison)
mib_x10() { local v=$1; echo $(( ${v%.*} * 10 + ${v#*.} )); }

SRSS0=$(rss_kb "$SERVER_PID") CRSS0=$(rss_kb "$CLIENT_PID")
SFD0=$(fds "$SERVER_PID") CFD0=$(fds "$CLIENT_PID")
info "before: server rss=$SRSS0 KiB fds=$SFD0; client rss=$CRSS0 KiB fds=$CFD0"
reference before
BEFORE=$REF_MIBPS

STATUS=$TMP/hold.status
RELEASE=$TMP/release
start_bg hold "${CH[@]}" hold --idle-port "$PUB_IDLE" --slow-port "$PUB_SLOW" \
    --idle "$IDLE" --slow "$SLOW" --request "GET /large" --rcvbuf 4096 \
    --status-file "$STATUS" --release-file "$RELEASE" --hold 240
HOLD_PID=$BG_PID
start_bg hold_big "${CH[@]}" hold --slow-port "$PUB_BIG" --slow "$BIG" --request "GET /endless" \
    --rcvbuf 4096 --status-file "$STATUS.big" --release-file "$RELEASE" --hold 240
HOLD_BIG_PID=$BG_PID
T_OPEN=$(now_ms)
wait_log "$TMP/hold.log" '^opened ' 1 60 || fail "the load did not open its connections within 60 s"
info "load: $(grep '^opened ' "$TMP/hold.log")"
grep -q "^opened idle=$IDLE slow=$SLOW errors=0 " "$TMP/hold.log" ||
    fail "not every load connection opened: $(grep '^opened ' "$TMP/hold.log") $(grep -v '^opened' "$TMP/hold.log" | head -n 3 | tr '\n' ' ')"
wait_log "$TMP/hold_big.log" '^opened ' 1 60 || fail "the endless readers did not connect within 60 s"
grep -q "^opened idle=0 slow=$BIG errors=0 " "$TMP/hold_big.log" ||
    fail "not every endless reader connected: $(cat "$TMP/hold_big.log" | head -n 3 | tr '\n' ' ')"
# Every connection is a stream: one socket each on both daemons.
all=$((IDLE + SLOW + BIG))
wait_until 60 eval '[ "$(fds "$SERVER_PID")" -ge $((SFD0 + all)) ] && [ "$(fds "$CLIENT_PID")" -ge $((CFD0 + all)) ]' ||
    fail "streams not all open within 60 s: server fds $(fds "$SERVER_PID") (want >= $((SFD0 + all))), client fds $(fds "$CLIENT_PID") (want >= $((CFD0 + all)))"
info "all $all streams open after $(ms_to_s $(($(now_ms) - T_OPEN))) s: server fds=$(fds "$SERVER_PID"), client fds=$(fds "$CLIENT_PID")"

# The slow readers' streams fill up until the server holds more than
# MAX_BUFFERED_BYTES for them (40 endless downloads, 8 MiB cap): poll the
# status (SIGUSR1), bounded.
status_used() {
    local n
    n=$(log_count "$SERVER_LOG" 'bytes buffered \(MAX_BUFFERED_BYTES\)')
    kill -USR1 "$SERVER_PID"
    wait_log "$SERVER_LOG" 'bytes buffered \(MAX_BUFFERED_BYTES\)' $((n + 1)) 5 || return 1
    STATUS_LINE=$(grep 'bytes buffered (MAX_BUFFERED_BYTES)' "$SERVER_LOG" | tail -n 1)
    USED=$(sed -E 's/.* ([0-9]+) of [0-9]+ bytes buffered.*/\1/' <<<"$STATUS_LINE")
}
USED=0
for ((i = 0; i < 90; i++)); do
    status_used || break
    [ "${USED:-0}" -ge $((BUDGET_MB << 20)) ] && break
    sleep 1
done
info "server after $(ms_to_s $(($(now_ms) - T_OPEN))) s: ${STATUS_LINE#*status: }"
[ "${USED:-0}" -ge $((BUDGET_MB << 20)) ] ||
    fail "the slow readers' streams did not fill MAX_BUFFERED_BYTES (${BUDGET_MB}M) within 90 s: ${STATUS_LINE:-no status}"
info "with the load: server rss=$(rss_kb "$SERVER_PID") KiB fds=$(fds "$SERVER_PID"); client rss=$(rss_kb "$CLIENT_PID") KiB fds=$(fds "$CLIENT_PID")"

reference during
DURING=$REF_MIBPS
info "reference throughput: before $BEFORE MiB/s, during $DURING MiB/s (at least $MIN_FRACTION_PCT % required)"
[ $(($(mib_x10 "$DURING") * 100)) -ge $(($(mib_x10 "$BEFORE") * MIN_FRACTION_PCT)) ] ||
    note_failure "reference throughput under load $DURING MiB/s < $MIN_FRACTION_PCT % of $BEFORE MiB/s"

# Memory: bounded by the windows.  Each side holds for a stream at most
# the credit it gave or was given, one window (512 KiB), here less: what
# the slow reader asked for (the idle streams carry nothing).
# MAX_BUFFERED_BYTES does not lower this: it withholds returned credit,
# but every stream's first window is granted at OPEN.  Plus
# per-connection state and 16 MiB of slack.
per=$((SLOW_SIZE_KB < WINDOW_KB ? SLOW_SIZE_KB : WINDOW_KB))
SRSS=$(rss_kb "$SERVER_PID") CRSS=$(rss_kb "$CLIENT_PID")
SBOUND=$((SRSS0 + $(rss_allowance $(((SLOW * per + BIG * WINDOW_KB) + all * PER_CONN_KB + 16384)))))
CBOUND=$((CRSS0 + $(rss_allowance $(((SLOW * per + BIG * WINDOW_KB) + all * PER_CONN_KB + 16384)))))
info "VmRSS under load: server $SRSS KiB (bound $SBOUND), client $CRSS KiB (bound $CBOUND)"
[ "$SRSS" -le "$SBOUND" ] || note_failure "server VmRSS $SRSS KiB over its bound $SBOUND KiB"
[ "$CRSS" -le "$CBOUND" ] || note_failure "client VmRSS $CRSS KiB over its bound $CBOUND KiB"

# No idle timeout: every idle and slow connection is still open (the
# load generator sees no EOF or reset), and the idle ones got no byte,
# HOLD_S seconds after they connected: well past every timer the server
# has (OPEN_TIMEOUT and HEARTBEAT_INTERVAL set to 2 s above, so three
# missed heartbeats are 6 s; HANDSHAKE_TIMEOUT 5 s, CLIENT_WAIT 5 s).
HOLD_S=20
held_for() { local t; t=$(sed -nE 's/.* t=([0-9]+)\..*/\1/p' "$STATUS" 2>/dev/null); [ "${t:-0}" -ge $HOLD_S ]; }
wait_until $((HOLD_S + 30)) held_for || note_failure "the load generator did not report $HOLD_S s of holding: $(cat "$STATUS" 2>/dev/null)"
st=$(cat "$STATUS" 2>/dev/null)
info "after $(ms_to_s $(($(now_ms) - T_OPEN))) s: $st"
case $st in
"idle_open=$IDLE slow_open=$SLOW idle_data=0 errors=0 "*) ;;
*) note_failure "the held connections did not all stay open and silent: $st" ;;
esac
# and neither daemon ended a stream but the two reference transfers (no
# timeout, no reset)
for d in server client; do
    n=$(log_count "$TMP/$d.log" 'stream [0-9]+ closed')
    [ "$n" = 2 ] || note_failure "$d ended $n streams, not just the 2 reference transfers: $(grep -E 'stream [0-9]+ closed' "$TMP/$d.log" | grep -v "received 67108864 bytes\|sent 67108864 bytes" | head -n 1)"
    info "$d: $(log_count "$TMP/$d.log" '\[warning\]') warnings, e.g. $(grep -m1 '\[warning\]' "$TMP/$d.log" | cut -c1-160)"
done
assert_no_log "$SERVER_LOG" '\[error\]' "server errors under idle load"
assert_no_log "$CLIENT_LOG" '\[error\]' "client errors under idle load"
assert_server_alive
is_alive "$CLIENT_PID" || fail "forward-client died"

# Release: the streams end and the descriptors come back.
touch "$RELEASE"
wait_bg "$HOLD_PID" 30 || note_failure "load generator: exit status $?"
wait_bg "$HOLD_BIG_PID" 30 || note_failure "load generator (endless readers): exit status $?"
st=$(cat "$STATUS.big" 2>/dev/null)
case $st in "idle_open=0 slow_open=$BIG "*) ;; *) note_failure "endless readers: $st" ;; esac
wait_until 60 eval '[ "$(fds "$SERVER_PID")" -le $((SFD0 + 2)) ] && [ "$(fds "$CLIENT_PID")" -le $((CFD0 + 2)) ]' ||
    note_failure "descriptors after the release: server $(fds "$SERVER_PID") (was $SFD0), client $(fds "$CLIENT_PID") (was $CFD0)"
info "after the release: server rss=$(rss_kb "$SERVER_PID") KiB fds=$(fds "$SERVER_PID"); client rss=$(rss_kb "$CLIENT_PID") KiB fds=$(fds "$CLIENT_PID")"
finish_test
