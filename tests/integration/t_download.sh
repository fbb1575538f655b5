#!/bin/bash
# (a) 4 parallel HTTP downloads of a 64 MiB random file through a mapping;
# each must be byte-exact.
. "$(dirname "$0")/lib.sh"

HTTP_PORT=$(free_port) || fail "free_port"
PUB=$(free_port) || fail "free_port"

mkdir -p "$TMP/www"
head -c $((64 << 20)) /dev/urandom >"$TMP/www/blob.bin" || fail "cannot create test file"
want=$(sha256sum <"$TMP/www/blob.bin" | cut -d' ' -f1)

start_bg http python3 -m http.server --bind $LOCALHOST --directory "$TMP/www" "$HTTP_PORT"
wait_port $LOCALHOST "$HTTP_PORT" 15 || fail "http.server did not start"

start_tunnel "$LOCALHOST:$PUB = $LOCALHOST:$HTTP_PORT"

t0=$(now_ms)
pids=()
for i in 1 2 3 4; do
    start_bg "curl$i" curl -sS --fail --noproxy '*' --max-time 150 \
        -o "$TMP/dl$i.bin" "http://$LOCALHOST:$PUB/blob.bin"
    pids[i]=$BG_PID
done
for i in 1 2 3 4; do
    wait_bg "${pids[i]}" 170
    rc=$?
    [ $rc = 0 ] || fail "download $i: curl exit status $rc ($(tail -n 2 "$TMP/curl$i.log" | tr '\n' ' '))"
done
t1=$(now_ms)
for i in 1 2 3 4; do
    got=$(sha256sum <"$TMP/dl$i.bin" | cut -d' ' -f1)
    size=$(stat -c %s "$TMP/dl$i.bin")
    [ "$got" = "$want" ] || fail "download $i: sha256 mismatch ($size bytes, sha256 $got, want $want)"
done
info "4 x 64 MiB in $((t1 - t0)) ms ($((4 * 64 * 1000 / (t1 - t0 + 1))) MiB/s aggregate)"

assert_server_alive
wait_log "$SERVER_LOG" 'stream.*closed|closed.*stream' 4 10 ||
    fail "server did not log 4 'stream ... closed' lines (found $(log_count "$SERVER_LOG" 'stream.*closed|closed.*stream'))"
pass
