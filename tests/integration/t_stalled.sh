#!/bin/bash
# (f) Stalled streams must not stall the others nor grow the daemons:
#   - stream A: the public peer stops reading while the target keeps sending
#   - stream B: the public peer keeps sending while the target never reads
# Meanwhile a 32 MiB transfer on a third stream completes; its throughput
# is compared to an unstalled baseline from the same run (printed, only a
# generous bound asserted), and VmRSS of both daemons stays below 64 MiB.
. "$(dirname "$0")/lib.sh"

RSS_LIMIT_KB=$(rss_allowance $((64 * 1024)))
SRC=$(free_port) || fail "free_port"
INF=$(free_port) || fail "free_port"
BH=$(free_port) || fail "free_port"
PUB_SRC=$(free_port) || fail "free_port"
PUB_INF=$(free_port) || fail "free_port"
PUB_BH=$(free_port) || fail "free_port"

start_bg src "${PYH[@]}" source-server --port "$SRC" --size 32M --seed 5 --lifetime 300 --io-timeout 120
start_bg inf "${PYH[@]}" source-server --port "$INF" --size -1 --seed 9 --lifetime 300 --io-timeout 120
start_bg blackhole "${PYH[@]}" blackhole-server --port "$BH" --lifetime 300
for p in "$SRC" "$INF" "$BH"; do
    wait_port $LOCALHOST "$p" 10 || fail "target on port $p did not start"
done

start_tunnel "$LOCALHOST:$PUB_SRC = $LOCALHOST:$SRC" \
    "$LOCALHOST:$PUB_INF = $LOCALHOST:$INF" \
    "$LOCALHOST:$PUB_BH = $LOCALHOST:$BH"

elapsed_of() { sed -n 's/.*elapsed=\([0-9.]*\).*/\1/p' "$1" | tail -n 1; }

# baseline, nothing stalled
start_bg base "${PYH[@]}" sink --port "$PUB_SRC" --size 32M --seed 5 --timeout 90
wait_bg "$BG_PID" 100 || fail "baseline 32 MiB transfer failed: $(tail -n 1 "$TMP/base.log")"
base_s=$(elapsed_of "$TMP/base.log")
info "baseline: $(tail -n 1 "$TMP/base.log")"

# the two stalls
start_bg slow "${PYH[@]}" slow-reader --port "$PUB_INF" --hold 150 \
    --release-file "$TMP/release" --then-read 8M --seed 9 --io-timeout 60
SLOW_PID=$BG_PID
start_bg flood "${PYH[@]}" flood --port "$PUB_BH" --hold 150 --release-file "$TMP/release"
FLOOD_PID=$BG_PID

max_srv=0
max_cli=0
sample_rss() {
    local r
    r=$(rss_kb "$SERVER_PID")
    [ -n "$r" ] && [ "$r" -gt "$max_srv" ] && max_srv=$r
    r=$(rss_kb "$CLIENT_PID")
    [ -n "$r" ] && [ "$r" -gt "$max_cli" ] && max_cli=$r
}

# let the stalls develop: the buffers on the way fill up (bounded, 3 s)
for ((i = 0; i < 30; i++)); do
    sample_rss
    sleep 0.1
done
is_alive "$SLOW_PID" || fail "slow reader ended early: $(tail -n 2 "$TMP/slow.log" | tr '\n' ' ')"
is_alive "$FLOOD_PID" || fail "flood sender ended early: $(tail -n 2 "$TMP/flood.log" | tr '\n' ' ')"

# the transfer that must not be held up
start_bg stalled "${PYH[@]}" sink --port "$PUB_SRC" --size 32M --seed 5 --timeout 120
XFER_PID=$BG_PID
t0=$(now_ms)
for ((i = 0; i < 1300; i++)); do
    sample_rss
    is_alive "$XFER_PID" || break
    sleep 0.1
done
# keep the stall (and the sampling) going for at least 5 s in total
while [ $(($(now_ms) - t0)) -lt 5000 ] && [ $i -lt 1400 ]; do
    sample_rss
    sleep 0.1
    i=$((i + 1))
done
wait_bg "$XFER_PID" 10
rc=$?
[ $rc = 0 ] || fail "32 MiB transfer during the stall failed (status $rc): $(tail -n 1 "$TMP/stalled.log")"
stall_s=$(elapsed_of "$TMP/stalled.log")
info "during stall: $(tail -n 1 "$TMP/stalled.log")"
info "throughput during stall relative to baseline: $(awk -v b="$base_s" -v s="$stall_s" 'BEGIN { printf "%.0f%% (baseline %.2f s, stalled %.2f s)", 100 * b / s, b, s }')"
info "max VmRSS during the stall: server $max_srv KiB, client $max_cli KiB"

is_alive "$SLOW_PID" || fail "slow reader's stream was closed during the stall: $(tail -n 2 "$TMP/slow.log" | tr '\n' ' ')"
is_alive "$FLOOD_PID" || fail "flood stream was closed during the stall: $(tail -n 2 "$TMP/flood.log" | tr '\n' ' ')"

# release: the stalled reader now reads 8 MiB, which must be the exact
# continuation of the target's stream
touch "$TMP/release"
wait_bg "$SLOW_PID" 70 || fail "stalled stream did not deliver intact data after release: $(tail -n 1 "$TMP/slow.log")"
info "stalled reader after release: $(tail -n 1 "$TMP/slow.log")"
wait_bg "$FLOOD_PID" 20 || fail "flood sender: $(tail -n 1 "$TMP/flood.log")"
info "flood sender: $(tail -n 1 "$TMP/flood.log")"

[ "$max_srv" -gt 0 ] && [ "$max_cli" -gt 0 ] || fail "could not read VmRSS of the daemons"
[ "$max_srv" -lt $RSS_LIMIT_KB ] || fail "forward-server VmRSS reached $max_srv KiB during the stall (limit $RSS_LIMIT_KB)"
[ "$max_cli" -lt $RSS_LIMIT_KB ] || fail "forward-client VmRSS reached $max_cli KiB during the stall (limit $RSS_LIMIT_KB)"
# generous: at most 20x the baseline time plus 10 s
awk -v b="$base_s" -v s="$stall_s" 'BEGIN { exit !(s <= 20 * b + 10) }' ||
    fail "transfer during the stall took $stall_s s vs baseline $base_s s"
assert_server_alive
is_alive "$CLIENT_PID" || fail "forward-client died"
pass
