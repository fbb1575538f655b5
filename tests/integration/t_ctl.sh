#!/bin/bash
# forward-ctl against a running forward-server (its CONTROL_SOCKET):
#  1. status, mappings, clients, streams: tables and --json (parsed), with
#     the live stream of a slow download shown with its bytes;
#  2. reload: a good file prints the reload's lines (exit 0); a broken one
#     prints every file:line error and "configuration refused; the running
#     configuration is kept" (exit 1) and the server keeps serving;
#  3. kick under load: the kicked client's channel closes, the other client
#     of the tag serves every later request; an unknown client: exit 1;
#  4. refusals: no server (exit 69); a user the socket's mode keeps out
#     (exit 69); a user SO_PEERCRED refuses when the mode lets it in (exit
#     1, the server logs the uid); a control client that sends nothing and
#     one that sends 10 MB of garbage are closed and disturb nothing;
#  5. 200 control commands while wrk drives a mapping: 0 failed requests;
#  and disable (a live 64 MiB download finishes byte-exact, new connections
#  are refused, mappings says "disabled") and enable.
. "$(dirname "$0")/lib.sh"

check_binaries
CTL=$FORWARD_CTL
[ -x "$CTL" ] || fail "forward-ctl not built: $CTL"
command -v wrk >/dev/null || fail "wrk not installed (tools/deps.sh test)"
L=$LOCALHOST
WWW=$(free_port) || fail "free_port"
ECHO=$(free_port) || fail "free_port"
PUB_W=$(free_port) || fail "free_port"
PUB_E=$(free_port) || fail "free_port"
mkdir -p "$TMP/www"
head -c 600 /dev/urandom | base64 -w 64 >"$TMP/www/index.html"
# big enough that the kernel buffers cannot take it all: the stream lives
# while curl reads slowly
head -c $((64 << 20)) /dev/urandom >"$TMP/www/big.bin"
start_nginx nginx "$WWW" "$TMP/www"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 120
wait_port $L "$ECHO" 10 || fail "echo server did not start"

SOCK=$TMP/control.sock
EXTRA_DEFAULTS="CONTROL_SOCKET = $SOCK"
write_config "$L:$PUB_W = $L:$WWW" "$L:$PUB_E = $L:$ECHO"
start_server
wait_until 5 test -S "$SOCK" || fail "no control socket at $SOCK: $(grep -i control "$SERVER_LOG")"
[ "$(stat -c %a "$SOCK")" = 660 ] || note_failure "control socket mode $(stat -c %a "$SOCK"), want 660"
start_client a
CLIENT_A=$CLIENT_PID
wait_channel_up 1


# ------------------------------------------------------------- 1. reading
ctl status
[ "$CTL_RC" = 0 ] || note_failure "status: exit $CTL_RC: $CTL_ERR"
grep -qE '^channels: +1 up, 0 in the handshake' <<<"$CTL_OUT" || note_failure "status does not show 1 channel: $CTL_OUT"
grep -qE '^mappings: +2$' <<<"$CTL_OUT" || note_failure "status does not show 2 mappings: $CTL_OUT"
ctl --json status
[ "$(json_get 'j["channels"], j["mappings"], j["config"]')" = "1 2 $CONFIG" ] ||
    note_failure "status --json: $(json_get 'j')"
ctl mappings
grep -qE "^$L:$PUB_W +$L:$WWW +tcp +default +listening +0 +.*forward\.cfg:[0-9]+$" <<<"$CTL_OUT" ||
    note_failure "mappings table lacks $PUB_W: $CTL_OUT"
ctl clients
grep -qE "^- +default +$L:[0-9]+ +[0-9a-f]{8} +plain +[0-9]+s +0 " <<<"$CTL_OUT" ||
    note_failure "clients table: $CTL_OUT"
info "clients: $(tail -n 1 <<<"$CTL_OUT")"

# a slow download: its stream shows with bytes moving
start_bg slow curl -sS --limit-rate 400k -o "$TMP/slow.bin" "http://$L:$PUB_W/big.bin"
SLOW=$BG_PID
got=0
for ((i = 0; i < 40; i++)); do
    ctl --json streams "$L:$PUB_W"
    got=$(json_get 'max([s["bytes_out"] for s in j] or [0])' 2>/dev/null || echo 0)
    [ "$got" -gt 100000 ] && break
    sleep 0.25
done
[ "$got" -gt 100000 ] || note_failure "streams --json never showed the download's bytes moving: $CTL_OUT"
ctl streams
grep -qE "^[0-9]+ +$L:$PUB_W +$L:[0-9]+ +$L:[0-9]+ +[0-9.]+ [KMG]?i?B +[0-9.]+ [KMG]?i?B +[0-9]+s$" <<<"$CTL_OUT" ||
    note_failure "streams table: $CTL_OUT"
info "streams: $(tail -n 1 <<<"$CTL_OUT")"
ctl streams "$L:$PUB_E"
[ "$(wc -l <<<"$CTL_OUT")" = 1 ] || note_failure "streams of the echo mapping should be none: $CTL_OUT"
stop_bg "$SLOW"

# ------------------------------------- disable keeps a live download going
start_bg dl curl -sS --limit-rate 4M -o "$TMP/dl.bin" "http://$L:$PUB_W/big.bin"
DL=$BG_PID
wait_until 10 test -s "$TMP/dl.bin" || note_failure "the download through $PUB_W did not start"
ctl disable "$L:$PUB_W"
[ "$CTL_RC" = 0 ] && [ "$CTL_OUT" = "mapping $L:$PUB_W: disabled" ] || note_failure "disable: exit $CTL_RC: $CTL_OUT $CTL_ERR"
port_listening $L "$PUB_W" && note_failure "a disabled mapping still listens"
[ "$(http_get "http://$L:$PUB_W/index.html" "$TMP/dis.html")" = 200 ] && note_failure "a disabled mapping served a new request"
ctl mappings
grep -qE "^$L:$PUB_W .* disabled " <<<"$CTL_OUT" || note_failure "mappings does not show $PUB_W disabled: $CTL_OUT"
ctl disable "$L:$PUB_W"
[ "$CTL_RC" = 1 ] || note_failure "disabling twice: exit $CTL_RC, want 1"
wait_bg "$DL" 60 || note_failure "the download across disable failed: $(cat "$TMP/dl.log")"
cmp -s "$TMP/dl.bin" "$TMP/www/big.bin" || note_failure "the download across disable is not byte-exact ($(stat -c %s "$TMP/dl.bin") bytes)"
ctl enable "$L:$PUB_W"
[ "$CTL_RC" = 0 ] || note_failure "enable: exit $CTL_RC: $CTL_ERR"
[ "$(http_get "http://$L:$PUB_W/index.html" "$TMP/en.html")" = 200 ] || note_failure "the enabled mapping does not serve"
ctl disable "$L:9"
[ "$CTL_RC" = 1 ] && grep -q "no mapping" <<<"$CTL_ERR" || note_failure "disable of an unknown mapping: exit $CTL_RC: $CTL_ERR"
info "disable/enable: a 64 MiB download across disable byte-exact; new connections refused while disabled"

# ------------------------------------------------------------- 2. reload
ctl reload
[ "$CTL_RC" = 0 ] || note_failure "reload of a good file: exit $CTL_RC: $CTL_ERR"
grep -q "configuration reloaded: 2 mappings" <<<"$CTL_OUT" || note_failure "reload printed: $CTL_OUT"
cp "$CONFIG" "$TMP/good.cfg"
sed -i 's/^LOG_LEVEL = .*/LOG_LEVEL = loud/' "$CONFIG"
echo "$L:$PUB_W/udp = nowhere" >>"$CONFIG"
bad1=$(grep -n '^LOG_LEVEL' "$CONFIG" | cut -d: -f1)
bad2=$(grep -n 'nowhere' "$CONFIG" | cut -d: -f1)
ctl reload
[ "$CTL_RC" = 1 ] || note_failure "reload of a broken file: exit $CTL_RC, want 1"
grep -q "forward.cfg:$bad1: " <<<"$CTL_ERR" || note_failure "refused reload does not name line $bad1: $CTL_ERR"
grep -q "forward.cfg:$bad2: " <<<"$CTL_ERR" || note_failure "refused reload does not name line $bad2: $CTL_ERR"
grep -q "configuration refused; the running configuration is kept" <<<"$CTL_ERR" ||
    note_failure "refused reload does not say the running configuration is kept: $CTL_ERR"
info "broken reload: $(tr '\n' '|' <<<"$CTL_ERR" | cut -c1-300)"
[ "$(http_get "http://$L:$PUB_W/index.html" "$TMP/after.html")" = 200 ] || note_failure "no HTTP 200 after the refused reload"
ctl status
grep -qE '^last reload: .*, refused$' <<<"$CTL_OUT" || note_failure "status does not show the refused reload: $CTL_OUT"
mv -f "$TMP/good.cfg" "$CONFIG"

# ---------------------------------------------------------- 3. kick
start_client b
CLIENT_B=$CLIENT_PID
wait_log "$SERVER_LOG" "channel up" 2 10 || fail "the second client did not come up"
ctl --json clients
peer_a=$(json_get '[c["peer"] for c in j][0]')
[ "$(json_get 'len(j)')" = 2 ] || note_failure "clients --json does not list 2 channels"
ctl kick "$peer_a"
[ "$CTL_RC" = 0 ] && [ "$CTL_OUT" = "closed 1 channel" ] || note_failure "kick $peer_a: exit $CTL_RC: $CTL_OUT $CTL_ERR"
wait_log "$SERVER_LOG" "$peer_a: channel closed: kicked by the operator" 1 5 || note_failure "the server did not log the kick"
fails=0
for ((i = 0; i < 30; i++)); do
    [ "$(http_get "http://$L:$PUB_W/index.html" "$TMP/k.html")" = 200 ] || fails=$((fails + 1))
done
[ "$fails" = 0 ] || note_failure "$fails of 30 requests failed after the kick (the other client should serve)"
ctl kick no-such-client
[ "$CTL_RC" = 1 ] && grep -q "no channel of a client 'no-such-client'" <<<"$CTL_ERR" ||
    note_failure "kick of an unknown client: exit $CTL_RC: $CTL_ERR"
ctl frobnicate
[ "$CTL_RC" = 1 ] || note_failure "an unknown command: exit $CTL_RC, want 1"

# ------------------------------------------------------------ 4. refusals
timeout 10 "$CTL" -s "$TMP/no-such.sock" status >/dev/null 2>"$TMP/none.err"
rc=$?
[ "$rc" = 69 ] || note_failure "no server: exit $rc, want 69: $(cat "$TMP/none.err")"
chmod o+x "$TMP"
if id nobody >/dev/null 2>&1; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups timeout 10 "$CTL" -s "$SOCK" status >/dev/null 2>"$TMP/nobody.err"
    rc=$?
    [ "$rc" = 69 ] || note_failure "nobody through mode 0660: exit $rc, want 69: $(cat "$TMP/nobody.err")"
    chmod 666 "$SOCK"  # a mode mistake: SO_PEERCRED still refuses
    setpriv --reuid=nobody --regid=nogroup --clear-groups timeout 10 "$CTL" -s "$SOCK" status >/dev/null 2>"$TMP/nobody.err"
    rc=$?
    chmod 660 "$SOCK"
    [ "$rc" = 1 ] || note_failure "nobody through mode 0666: exit $rc, want 1: $(cat "$TMP/nobody.err")"
    wait_log "$SERVER_LOG" "control socket: refused pid [0-9]+, uid $(id -u nobody)" 1 5 ||
        note_failure "the server did not log the refused uid"
else
    note_failure "no user nobody to test the refusal with"
fi
# silent and garbage control clients: closed, forwarding undisturbed
start_bg silent python3 -c "
import socket, time
s = socket.socket(socket.AF_UNIX); s.connect('$SOCK'); t = time.monotonic()
s.settimeout(30)
print('closed after %.1f s' % (time.monotonic() - t) if s.recv(1) == b'' else 'answered')
"
SILENT=$BG_PID
start_bg garbage python3 -c "
import os, socket
s = socket.socket(socket.AF_UNIX); s.connect('$SOCK')
sent = 0
try:
    while sent < 10 << 20:
        sent += s.send(os.urandom(65536).replace(b'\n', b'x'))
except OSError as e:
    print('stopped after %d bytes: %s' % (sent, e))
else:
    print('sent all %d bytes' % sent)
"
GARBAGE=$BG_PID
out=$(sech peer --port "$PUB_E" --expect echo --send 300000 --within 10 2>&1) || note_failure "echo during hostile control clients: $out"
wait_bg "$GARBAGE" 20 || note_failure "the garbage control client was not stopped"
grep -q "stopped after" "$TMP/garbage.log" || note_failure "the server read 10 MB of garbage: $(cat "$TMP/garbage.log")"
wait_log "$SERVER_LOG" "control socket: pid [0-9]+ sent more than 65536 bytes" 1 5 || note_failure "no log line for the garbage client"
wait_bg "$SILENT" 20 || note_failure "the silent control client was not closed within 20 s"
grep -q "closed after" "$TMP/silent.log" || note_failure "silent control client: $(cat "$TMP/silent.log")"
info "silent client: $(cat "$TMP/silent.log"); garbage client: $(cat "$TMP/garbage.log")"

# ------------------------------------------ 5. control commands under load
start_bg wrk wrk -t1 -c8 -d8s --timeout 5s "http://$L:$PUB_W/index.html"
WRK=$BG_PID
ctl_fail=0
cmds=(status mappings clients streams)
for ((i = 0; i < 200; i++)); do
    ctl "${cmds[$((i % 4))]}"
    [ "$CTL_RC" = 0 ] || ctl_fail=$((ctl_fail + 1))
done
wait_bg "$WRK" 20 || note_failure "wrk failed: $(tail -n 3 "$TMP/wrk.log")"
wrk_fail=$(wrk_failed "$TMP/wrk.log")
wrk_req=$(wrk_requests "$TMP/wrk.log")
info "200 control commands ($ctl_fail failed) during wrk: $wrk_req requests, $wrk_fail failed"
[ "$ctl_fail" = 0 ] || note_failure "$ctl_fail of 200 control commands failed"
[ "$wrk_fail" = 0 ] || note_failure "$wrk_fail requests failed while control commands ran"
[ "${wrk_req:-0}" -gt 0 ] || note_failure "wrk made no requests"

assert_server_alive
finish_test
