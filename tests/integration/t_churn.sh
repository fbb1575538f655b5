#!/bin/bash
# Churn: 100,000 short connections through one mapping (connect, send 32
# bytes, half-close, read the echo back until EOF, close), 64 at a time.
# Every one must succeed (0 failures allowed), every stream must end
# cleanly on both daemons, and afterwards both daemons must hold the same
# descriptors as before (+2 at most), about the same memory (+8 MiB plain,
# rss_allowance under the sanitizers) and no socket in CLOSE_WAIT.  The
# load is bounded at 240 s (about 50 s on an idle machine: ~2,000
# connections/s).
#
# Scale: CHURN_N (default 100000, under the sanitizers too: the Python
# load generator is the bottleneck, and the sanitized daemons keep its
# pace, 100,000 in under a minute).
. "$(dirname "$0")/lib.sh"

CH=(python3 -u "$LIB_DIR/churn_helpers.py")
N=${CHURN_N:-100000}
WARMUP=2000
CONCURRENCY=64
FD_MARGIN=2
RSS_MARGIN_KB=$(rss_allowance 8192)
info "connections: $N (after a warm-up of $WARMUP), $CONCURRENCY at a time"

# 64 streams at once need ~200 descriptors per process; keep a margin.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
    ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
fi

TGT=$(free_port) || fail "free_port"
PUB=$(free_port) || fail "free_port"
start_bg echo "${CH[@]}" echo-server --port "$TGT" --lifetime 400 --io-timeout 60
wait_port $LOCALHOST "$TGT" 10 || fail "echo server did not start"
# Info, not debug: 100,000 streams would otherwise log ~1 GB.
write_config "$LOCALHOST:$PUB = $LOCALHOST:$TGT"
sed -i 's/^LOG_LEVEL = debug$/LOG_LEVEL = info/' "$CONFIG" || fail "sed $CONFIG"
start_server
# Without -v, for the same reason.
start_bg client "$FORWARD_CLIENT" --retry-delay 1 --key-file "$(test_key)" $LOCALHOST "$INNER_PORT"
CLIENT_PID=$BG_PID
CLIENT_LOG=$TMP/client.log
wait_channel_up 1

fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# snapshot LABEL: print and remember fds and VmRSS of both daemons.
snapshot() {
    SFD=$(fds "$SERVER_PID") CFD=$(fds "$CLIENT_PID")
    SRSS=$(rss_kb "$SERVER_PID") CRSS=$(rss_kb "$CLIENT_PID")
    info "$1: server fds=$SFD rss=${SRSS} KiB; client fds=$CFD rss=${CRSS} KiB"
}
close_wait() {
    ss -tanpH state close-wait 2>/dev/null | grep -E "pid=($SERVER_PID|$CLIENT_PID)," || true
}
# clean_closes LOG: streams that ended with both halves closed normally.
clean_closes() { log_count "$1" 'stream [0-9]+ closed: .*: closed$'; }

snapshot "at start"
# The warm-up fills the allocator's pools and libevent's tables for 64
# streams at once; the baseline is taken after it, so what the big run
# adds on top is what it leaked.
"${CH[@]}" churn --port "$PUB" -n $WARMUP --concurrency $CONCURRENCY --timeout 60 \
    >"$TMP/warmup.out" 2>"$TMP/warmup.err" ||
    fail "warm-up: $(cat "$TMP/warmup.out") $(head -n 3 "$TMP/warmup.err" | tr '\n' ' ')"
info "warm-up: $(cat "$TMP/warmup.out")"
wait_until 20 eval '[ "$(clean_closes "$SERVER_LOG")" -ge $WARMUP ] && [ "$(clean_closes "$CLIENT_LOG")" -ge $WARMUP ]' ||
    fail "after the warm-up: server logged $(clean_closes "$SERVER_LOG"), client $(clean_closes "$CLIENT_LOG") clean closes of $WARMUP"
snapshot before
SFD0=$SFD CFD0=$CFD SRSS0=$SRSS CRSS0=$CRSS

start_bg churn "${CH[@]}" churn --port "$PUB" -n "$N" --concurrency $CONCURRENCY --timeout 240
CHURN_PID=$BG_PID
# Peak while the load runs (sampled), for the record.
SPEAK=0 CPEAK=0 PEAKFD=0
for ((i = 0; i < 2600; i++)); do
    is_alive "$CHURN_PID" || break
    r=$(rss_kb "$SERVER_PID") && [ "${r:-0}" -gt $SPEAK ] && SPEAK=$r
    r=$(rss_kb "$CLIENT_PID") && [ "${r:-0}" -gt $CPEAK ] && CPEAK=$r
    r=$(fds "$SERVER_PID") && [ "$r" -gt $PEAKFD ] && PEAKFD=$r
    sleep 0.1
done
wait_bg "$CHURN_PID" 15
rc=$?
result=$(cat "$TMP/churn.log" | grep '^n=' || true)
info "load: $result"
info "during the load: server peak rss=$SPEAK KiB fds=$PEAKFD; client peak rss=$CPEAK KiB"
[ $rc = 0 ] || fail "churn: exit $rc: ${result:-no result}; $(grep -v '^n=' "$TMP/churn.log" | head -n 5 | tr '\n' ' ')"
case $result in *" ok=$N failed=0 timed_out=0 "*) ;; *) fail "churn: not all $N succeeded: $result" ;; esac

assert_server_alive
is_alive "$CLIENT_PID" || fail "forward-client died"

# Settle (bounded): every stream logged as closed cleanly on both sides
# and the descriptors back to the baseline.
total=$((WARMUP + N))
wait_until 30 eval '[ "$(clean_closes "$SERVER_LOG")" -ge $total ] && [ "$(clean_closes "$CLIENT_LOG")" -ge $total ]' ||
    note_failure "streams closed cleanly: server $(clean_closes "$SERVER_LOG"), client $(clean_closes "$CLIENT_LOG") of $total"
t0=$(now_ms)
wait_until 20 eval '[ "$(fds "$SERVER_PID")" -le $((SFD0 + FD_MARGIN)) ] && [ "$(fds "$CLIENT_PID")" -le $((CFD0 + FD_MARGIN)) ]'
info "settled in $(ms_to_s $(($(now_ms) - t0))) s"
snapshot after
info "server: fds $SFD0 -> $SFD, rss $SRSS0 -> $SRSS KiB ($((SRSS - SRSS0)) KiB); client: fds $CFD0 -> $CFD, rss $CRSS0 -> $CRSS KiB ($((CRSS - CRSS0)) KiB); allowed +$FD_MARGIN fds, +$RSS_MARGIN_KB KiB"
[ "$SFD" -le $((SFD0 + FD_MARGIN)) ] || note_failure "server descriptors: $SFD0 before, $SFD after"
[ "$CFD" -le $((CFD0 + FD_MARGIN)) ] || note_failure "client descriptors: $CFD0 before, $CFD after"
[ "$SRSS" -le $((SRSS0 + RSS_MARGIN_KB)) ] || note_failure "server VmRSS: $SRSS0 KiB before, $SRSS KiB after (+$RSS_MARGIN_KB allowed)"
[ "$CRSS" -le $((CRSS0 + RSS_MARGIN_KB)) ] || note_failure "client VmRSS: $CRSS0 KiB before, $CRSS KiB after (+$RSS_MARGIN_KB allowed)"
cw=$(close_wait)
info "CLOSE_WAIT sockets of the daemons: $(printf '%s' "$cw" | grep -c . || true)"
[ -z "$cw" ] || note_failure "sockets in CLOSE_WAIT: $(printf '%s' "$cw" | head -n 3 | tr '\n' ';')"
info "TIME_WAIT on the test's ports: $(ss -tanH state time-wait "( sport = :$PUB or dport = :$PUB or sport = :$TGT or dport = :$TGT )" | wc -l)"

# and the mapping still works
"${CH[@]}" churn --port "$PUB" -n 10 --concurrency 2 --timeout 30 >"$TMP/after.out" 2>&1 ||
    note_failure "echo after the churn failed: $(tail -n 2 "$TMP/after.out" | tr '\n' ' ')"
finish_test
