#!/bin/bash
# (b) 64 MiB upload and 64 MiB download at the same time on ONE stream;
# sha256 of both directions must match.
. "$(dirname "$0")/lib.sh"

TGT=$(free_port) || fail "free_port"
PUB=$(free_port) || fail "free_port"
SIZE=64M

start_bg target "${PYH[@]}" bidir-server --port "$TGT" --size $SIZE \
    --result "$TMP/target.result" --lifetime 300 --io-timeout 150
TARGET_PID=$BG_PID
wait_port $LOCALHOST "$TGT" 10 || fail "bidir target did not start"

start_tunnel "$LOCALHOST:$PUB = $LOCALHOST:$TGT"

start_bg bidir "${PYH[@]}" bidir-client --port "$PUB" --size $SIZE --io-timeout 150
wait_bg "$BG_PID" 180
rc=$?
[ $rc = 0 ] || fail "bidir client failed (status $rc): $(tail -n 3 "$TMP/bidir.log" | tr '\n' ' ')"
wait_bg "$TARGET_PID" 30 || fail "bidir target did not finish"

# "sent sent_sha recv recv_sha how"
read -r c_sent c_sent_sha c_recv c_recv_sha c_how < <(grep -E '^[0-9]+ ' "$TMP/bidir.log")
read -r t_sent t_sent_sha t_recv t_recv_sha t_how <"$TMP/target.result" ||
    fail "no result from the target"
info "client sent $c_sent recv $c_recv ($c_how); target sent $t_sent recv $t_recv ($t_how)"
info "$(grep 'MiB/s' "$TMP/bidir.log")"
[ "$c_sent" = $((64 << 20)) ] || fail "client sent only $c_sent bytes"
[ "$t_sent" = $((64 << 20)) ] || fail "target sent only $t_sent bytes"
[ "$t_recv" = "$c_sent" ] || fail "upload: target received $t_recv of $c_sent bytes"
[ "$c_recv" = "$t_sent" ] || fail "download: client received $c_recv of $t_sent bytes"
[ "$t_recv_sha" = "$c_sent_sha" ] || fail "upload sha256 mismatch"
[ "$c_recv_sha" = "$t_sent_sha" ] || fail "download sha256 mismatch"
[ "$t_how" = eof ] || fail "target saw '$t_how' instead of EOF"
assert_server_alive
pass
