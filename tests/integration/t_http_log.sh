#!/bin/bash
# HTTP mappings ([MODE] PORT = http, issue 17): the server logs one line per
# HTTP/1.x request and forwards the bytes unchanged.
#  1. exact: one keep-alive connection from 127.0.0.7 (http_helpers.py
#     client): six requests one at a time (200, 404, 500, HEAD, an unknown
#     path, a 300-byte path), then 30 pipelined in one write: exactly 36
#     lines, in order, each with the method, path (cut to 256 bytes + "..."),
#     status and the response's byte count the client itself read;
#  2. a 1 MiB body through the mapping is byte-identical to the direct one,
#     and its line counts its bytes;
#  3. a tcp mapping of the same target logs no request line;
#  4. garbage (random bytes) on an http mapping to an echo server comes back
#     unchanged and is logged as TCP: the stream's close line, no request
#     line;
#  5. wrk, keep-alive, pipelining 3 deep (Lua script), 4 connections: the
#     request lines with a status are at least wrk's request count and at
#     most that plus what can be in flight (4 x 3), and 200, 404 and 500 each
#     a third of them (within the same bound);
#  6. a reload that turns the tcp mapping into http: new streams are logged;
#  7. the client (which asks for REQUEST frames) logs each request it is
#     told about at debug level.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || fail "curl not installed (tools/deps.sh test)"
command -v wrk >/dev/null || fail "wrk not installed (tools/deps.sh test)"
SRC=127.0.0.7
python3 -c "import socket; s = socket.socket(); s.bind(('$SRC', 0))" 2>/dev/null ||
    fail "cannot bind $SRC on this machine (the public peer's source address)"
L=$LOCALHOST
HH=(python3 -u "$LIB_DIR/http_helpers.py")

WEB=$(free_port) || fail "free_port"
ECHO=$(free_port) || fail "free_port"
start_bg web "${HH[@]}" web "$WEB" 300
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300
wait_port $L "$WEB" 10 || fail "test web server did not listen on $WEB"
wait_port $L "$ECHO" 10 || fail "echo server did not listen on $ECHO"

PUB_H=$(free_port) || fail "free_port"
PUB_T=$(free_port) || fail "free_port"
PUB_G=$(free_port) || fail "free_port"
EXTRA_SECTIONS="[MODE]
$L:$PUB_H = http
$PUB_G = http
$L:$PUB_T = tcp"
start_tunnel "$L:$PUB_H = $L:$WEB" "$L:$PUB_T = $L:$WEB" "$L:$PUB_G = $L:$ECHO"
grep -q "mapping $L:$PUB_H -> $L:$WEB listening (.*http log" "$SERVER_LOG" ||
    note_failure "the listening line of the http mapping does not say 'http log'"

# request_lines PUB: the server's request lines of mapping 127.0.0.1:PUB.
request_lines() { grep -E "http $L:$1 [0-9.]+:[0-9]+ \"" "$SERVER_LOG"; }

# --- 1. exact lines for a known conversation ------------------------------------
"${HH[@]}" client $L "$PUB_H" "$SRC" 30 "$TMP/exact.out" >"$TMP/exact.err" 2>&1 ||
    fail "http client through the mapping failed: $(tail -n 3 "$TMP/exact.err")"
[ "$(wc -l <"$TMP/exact.out")" = 36 ] || fail "the client did not log 36 requests"
wait_log "$SERVER_LOG" "http $L:$PUB_H $SRC:" 36 10 ||
    note_failure "$(log_count "$SERVER_LOG" "http $L:$PUB_H $SRC:") request lines, want 36"
# "GET /path" 200 1234 bytes -> GET /path 200 1234
request_lines "$PUB_H" | grep " $SRC:" |
    sed -E 's/.*"([A-Z]+) ([^"]*)" ([0-9-]+) ([0-9]+) bytes [0-9.]+ ms$/\1 \2 \3 \4/' >"$TMP/exact.log"
python3 - "$TMP/exact.out" >"$TMP/exact.want" <<'PY'
import sys
for line in open(sys.argv[1]):
    m, p, s, n = line.split()
    print(m, p[:256] + ("..." if len(p) > 256 else ""), s, n)
PY
if ! cmp -s "$TMP/exact.want" "$TMP/exact.log"; then
    note_failure "request lines differ from what the client saw: $(diff "$TMP/exact.want" "$TMP/exact.log" | head -n 6 | tr '\n' '|')"
fi
grep -qE "http $L:$PUB_H $SRC:[0-9]+ \"GET /ok\" 200 [0-9]+ bytes [0-9]+\.[0-9] ms$" "$SERVER_LOG" ||
    note_failure "no line in the documented format: $(request_lines "$PUB_H" | head -n 1)"

# --- 2. byte-exact body through the mapping ---------------------------------------
"${HH[@]}" big-file "$TMP/big.want" || fail "cannot write the expected body"
read -r code hsize bsize < <(curl -sS --max-time 20 -o "$TMP/big.got" \
    -w '%{http_code} %{size_header} %{size_download}\n' "http://$L:$PUB_H/big") || true
[ "$code" = 200 ] && cmp -s "$TMP/big.want" "$TMP/big.got" ||
    note_failure "GET /big through the http mapping: HTTP $code, body differs from the direct one"
wait_log "$SERVER_LOG" "http $L:$PUB_H $L:[0-9]+ \"GET /big\" 200 $((hsize + bsize)) bytes" 1 10 ||
    note_failure "no request line for GET /big with its $((hsize + bsize)) bytes: $(request_lines "$PUB_H" | tail -n 1)"

# --- 3. tcp mode: no request lines -------------------------------------------------
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "http://$L:$PUB_T/ok") || true
[ "$code" = 200 ] || note_failure "GET through the tcp mapping: HTTP $code"
wait_log "$SERVER_LOG" "stream [0-9]+ closed: mapping $L:$PUB_T" 1 10 ||
    note_failure "no stream line for the tcp mapping"
[ "$(log_count "$SERVER_LOG" "http $L:$PUB_T ")" = 0 ] || note_failure "the tcp mapping logged a request line"

# --- 4. garbage on an http mapping ---------------------------------------------------
python3 - "$L" "$PUB_G" "$SRC" <<'PY' >"$TMP/garbage.out" 2>&1 || note_failure "garbage through the http mapping: $(tail -n 2 "$TMP/garbage.out")"
import os, random, socket, sys, time
data = bytes(random.Random(5).getrandbits(8) for _ in range(200000))
s = socket.socket()
s.settimeout(10)
s.bind((sys.argv[3], 0))
s.connect((sys.argv[1], int(sys.argv[2])))
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = b""
deadline = time.time() + 15
while time.time() < deadline:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
if got != data:
    raise SystemExit("echo differs: %d bytes back of %d" % (len(got), len(data)))
print("ok")
PY
wait_log "$SERVER_LOG" "stream [0-9]+ closed: mapping $L:$PUB_G .*sent 200000 bytes, received 200000 bytes" 1 10 ||
    note_failure "no TCP close line for the garbage stream"
[ "$(log_count "$SERVER_LOG" "http $L:$PUB_G ")" = 0 ] || note_failure "garbage produced a request line"
grep -qE "not HTTP any more .*mapping $L:$PUB_G" "$SERVER_LOG" ||
    note_failure "no debug line saying the garbage stream is not HTTP"

# --- 5. wrk: keep-alive and pipelining -------------------------------------------------
cat >"$TMP/pipeline.lua" <<'LUA'
init = function(args)
  req = wrk.format(nil, "/ok") .. wrk.format(nil, "/missing") .. wrk.format(nil, "/fail")
end
request = function()
  return req
end
LUA
before=$(request_lines "$PUB_H" | grep -c " $L:") || true
closed_before=$(log_count "$SERVER_LOG" "stream [0-9]+ closed: mapping $L:$PUB_H")
start_bg wrk wrk -t1 -c4 -d3s --timeout 5s -s "$TMP/pipeline.lua" "http://$L:$PUB_H/"
WRK=$BG_PID
wait_bg "$WRK" 20 || note_failure "wrk failed: $(tail -n 3 "$TMP/wrk.log")"
total=$(wrk_requests "$TMP/wrk.log")
[ -n "$total" ] && [ "$total" -gt 30 ] || fail "wrk made too few requests: $(cat "$TMP/wrk.log")"
# Streams end, and their last lines are written, once wrk has closed them.
wait_log "$SERVER_LOG" "stream [0-9]+ closed: mapping $L:$PUB_H" $((closed_before + 4)) 10 ||
    note_failure "wrk's 4 streams did not all close"
request_lines "$PUB_H" | grep " $L:" | tail -n +$((before + 1)) >"$TMP/wrk.lines"
answered=$(grep -cE '" [0-9]{3} [0-9]+ bytes' "$TMP/wrk.lines") || true
inflight=$((4 * 3))
if [ "$answered" -lt "$total" ] || [ "$answered" -gt $((total + inflight)) ]; then
    note_failure "wrk made $total requests, the server logged $answered answered ones (want $total..$((total + inflight)))"
fi
for st in '"GET /ok" 200' '"GET /missing" 404' '"GET /fail" 500'; do
    n=$(grep -c "$st" "$TMP/wrk.lines") || true
    lo=$((total / 3 - inflight))
    hi=$((total / 3 + inflight))
    [ "$n" -ge "$lo" ] && [ "$n" -le "$hi" ] ||
        note_failure "$n lines with $st, want $lo..$hi (wrk: $total requests)"
done
info "wrk: $total requests, $answered request lines with a status, $(wc -l <"$TMP/wrk.lines") in all"

# --- 6. a reload turns the tcp mapping into http ---------------------------------------
sed -i "s/^$L:$PUB_T = tcp$/$L:$PUB_T = http/" "$CONFIG"
before=$(log_count "$SERVER_LOG" "configuration reloaded")
kill_bg "$SERVER_PID" HUP || fail "cannot signal the server"
wait_log "$SERVER_LOG" "configuration reloaded" $((before + 1)) 10 || fail "no reload within 10 s"
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "http://$L:$PUB_T/missing") || true
[ "$code" = 404 ] || note_failure "GET through the reloaded mapping: HTTP $code"
wait_log "$SERVER_LOG" "http $L:$PUB_T $L:[0-9]+ \"GET /missing\" 404 " 1 10 ||
    note_failure "the mapping made http by a reload logged no request line"

# --- 7. the client hears of the requests ---------------------------------------------------
wait_log "$CLIENT_LOG" "request $L:$PUB_H $SRC:[0-9]+ \"GET /fail\" 500 [0-9]+ bytes" 1 10 ||
    note_failure "the client logged no REQUEST line: $(grep -m1 'request ' "$CLIENT_LOG")"
n=$(log_count "$CLIENT_LOG" "request $L:$PUB_H $SRC:")
[ "$n" = 36 ] || note_failure "the client logged $n request lines for the exact connection, want 36"

assert_server_alive
is_alive "$CLIENT_PID" || note_failure "forward-client is not running any more"
finish_test
