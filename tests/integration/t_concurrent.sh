#!/bin/bash
# (c) 500 concurrent streams with random sizes (1 B .. 256 KiB) to an echo
# server; every echo must be byte-exact.
. "$(dirname "$0")/lib.sh"

N=500
SEED=$RANDOM
# 500 public + 500 target sockets per daemon, plus the helpers' sockets.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
    ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
fi
info "ulimit -n = $(ulimit -n)"

TGT=$(free_port) || fail "free_port"
PUB=$(free_port) || fail "free_port"

start_bg echo "${PYH[@]}" echo-server --port "$TGT" --lifetime 300 --io-timeout 120
wait_port $LOCALHOST "$TGT" 10 || fail "echo server did not start"

start_tunnel "$LOCALHOST:$PUB = $LOCALHOST:$TGT"

start_bg concurrent "${PYH[@]}" concurrent --port "$PUB" -n $N --min 1 --max 262144 \
    --seed "$SEED" --timeout 90
wait_bg "$BG_PID" 110
rc=$?
result=$(tail -n 1 "$TMP/concurrent.log")
info "$result"
[ $rc = 0 ] || fail "concurrent streams (seed $SEED): $result; $(grep '^stream' "$TMP/concurrent.log" | head -n 3 | tr '\n' ';')"

assert_server_alive
is_alive "$CLIENT_PID" || fail "forward-client died"
wait_log "$SERVER_LOG" 'stream.*closed|closed.*stream' $N 20 ||
    fail "server logged only $(log_count "$SERVER_LOG" 'stream.*closed|closed.*stream') of $N 'stream ... closed' lines"

# and the tunnel still works afterwards
"${PYH[@]}" concurrent --port "$PUB" -n 5 --timeout 30 >"$TMP/after.out" 2>&1 ||
    fail "echo after the burst failed: $(tail -n 2 "$TMP/after.out" | tr '\n' ' ')"
pass
