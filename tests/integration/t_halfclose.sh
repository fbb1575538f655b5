#!/bin/bash
# (d) Half-close: the client sends a request and shutdown(SHUT_WR); the
# target answers only after seeing EOF; the whole multi-MiB reply must
# still arrive.  Also the reverse (target half-closes first) and nc -N.
. "$(dirname "$0")/lib.sh"

REPLY=6M
HC=$(free_port) || fail "free_port"
GR=$(free_port) || fail "free_port"
PUB_HC=$(free_port) || fail "free_port"
PUB_GR=$(free_port) || fail "free_port"

start_bg hcserver "${PYH[@]}" halfclose-server --port "$HC" --reply-size $REPLY \
    --lifetime 300 --io-timeout 60
start_bg greeter "${PYH[@]}" greeter-server --port "$GR" --size 3M --seed 11 \
    --result "$TMP/greeter.result" --lifetime 300 --io-timeout 60
GREETER_PID=$BG_PID
wait_port $LOCALHOST "$HC" 10 || fail "half-close server did not start"
wait_port $LOCALHOST "$GR" 10 || fail "greeter server did not start"

start_tunnel "$LOCALHOST:$PUB_HC = $LOCALHOST:$HC" "$LOCALHOST:$PUB_GR = $LOCALHOST:$GR"

# 1. request sizes: small, empty (EOF right after connect, before the
#    stream is even open), larger than the 1 MiB window; run concurrently.
pids=()
for req in 100K 0 3M; do
    start_bg "hc_$req" "${PYH[@]}" halfclose-client --port "$PUB_HC" \
        --request-size $req --reply-size $REPLY --timeout 60
    pids+=("$BG_PID")
done
for p in "${pids[@]}"; do
    wait_bg "$p" 70 || true
done
for req in 100K 0 3M; do
    grep -q '^ok=1 ' "$TMP/hc_$req.log" ||
        fail "half-close with a $req request: $(tail -n 1 "$TMP/hc_$req.log")"
    info "request $req: $(tail -n 1 "$TMP/hc_$req.log")"
done

# 2. reverse: the target sends 3 MiB and half-closes first; the public
#    side reads to EOF, then sends 2 MiB and half-closes.
start_bg grclient "${PYH[@]}" greeter-client --port "$PUB_GR" --size 3M --seed 11 \
    --send-size 2M --timeout 60
wait_bg "$BG_PID" 70
rc=$?
line=$(tail -n 1 "$TMP/grclient.log")
[ $rc = 0 ] || fail "reverse half-close: greeting not received intact: $line"
wait_bg "$GREETER_PID" 20 || fail "greeter target did not see the client's EOF"
read -r how n sha <"$TMP/greeter.result" || fail "no greeter result"
[ "$how" = eof ] && [ "$n" = $((2 << 20)) ] ||
    fail "reverse half-close: target got $how after $n bytes, want eof after $((2 << 20))"
case $line in
*"sent_sha=$sha "*) ;;
*) fail "reverse half-close: data after the target's EOF differs ($line; target $sha)" ;;
esac

# 3. nc -N (netcat-openbsd, in tools/deps.sh's test set): shutdown(SHUT_WR)
#    after stdin EOF.  Without it this part cannot run: a failure.
if ! command -v nc >/dev/null 2>&1 || ! nc -h 2>&1 | grep -qE '^[[:space:]]*-N[[:space:]]'; then
    fail "nc with -N (netcat-openbsd, tools/deps.sh test) is not installed: the nc -N half-close part cannot run"
else
    printf 'GET /half-close HTTP/1.0\r\n\r\n' >"$TMP/req.txt"
    timeout 60 nc -N $LOCALHOST "$PUB_HC" <"$TMP/req.txt" >"$TMP/nc.out" 2>"$TMP/nc.err"
    rc=$?
    [ $rc = 0 ] || fail "nc -N exit status $rc: $(cat "$TMP/nc.err")"
    "${PYH[@]}" halfclose-check --request-file "$TMP/req.txt" --reply-file "$TMP/nc.out" \
        --reply-size $REPLY >"$TMP/nccheck.out" 2>&1 ||
        fail "nc -N reply wrong: $(cat "$TMP/nccheck.out")"
    info "nc -N: $(cat "$TMP/nccheck.out")"
fi

assert_server_alive
pass
