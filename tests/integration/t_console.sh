#!/bin/bash
# forward-client's live console (issue 17), on a real terminal: the client
# runs inside tmux (a private tmux server on a socket in $TMP, panes kept
# after their command exits), and capture-pane shows what a user would see.
#  1. The console: the server's address, "online", the forwarding line, a
#     stream open while it is, the streams and bytes of echoes through a
#     mapping; the log's lines only in its Log section (never over it);
#     no line wider than the pane, after a resize too.
#     The server restarted: "reconnecting" with the reason, then online.
#  2. TERM: the client exits 0 and leaves the summary: uptime, streams,
#     exact bytes to targets, requests.
#  3. --no-console under tmux: today's log lines, no console.
#  4. stderr to a file (no terminal): today's log lines, no escape
#     sequence, no summary.
#  5. A TLS channel: the server line shows the TLS version and suite.
#  6. --expose http:PUB=WEB with a [CLIENT_PORTS] grant: the public address
#     on the Forwarding line, a row per HTTP request (status, path) from
#     the server's REQUEST frames, and the requests in the exit summary.
# To check more of the console (exposed ports, requests), add a
# console_expect line: it captures the pane (bounded wait) and greps.
. "$(dirname "$0")/lib.sh"

command -v tmux >/dev/null || fail "tmux not installed (tools/deps.sh test)"
L=$LOCALHOST
ECHO=$(free_port) || fail "free_port"
PUB=$(free_port) || fail "free_port"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 120
wait_port $L "$ECHO" 10 || fail "echo server did not start"
write_config "$L:$PUB = $L:$ECHO"
start_server
KEY=$(test_key)

# --- tmux: a private server, sessions by name ------------------------------------------------
TSOCK=$TMP/tmux.sock
TSESSIONS=()
printf 'set -g remain-on-exit on\nset -g status off\nset -g history-limit 2000\n' >"$TMP/tmux.conf"
tm() { timeout 10 tmux -S "$TSOCK" -f "$TMP/tmux.conf" "$@"; }
_console_cleanup() {
    local rc=$? s
    for s in ${TSESSIONS[@]+"${TSESSIONS[@]}"}; do
        tm kill-session -t "$s" 2>/dev/null
    done
    tm kill-server 2>/dev/null
    (exit $rc)
    _cleanup
}
trap _console_cleanup EXIT

# tmux_client NAME ARGS...: forward-client ARGS in a new 120x40 tmux
# session NAME, against our server. Sets PANE_PID (the client's pid,
# tracked like start_bg's). The pane's shell writes the client's exit
# status to $TMP/NAME.status (tmux here does not always learn it).
tmux_client() {
    local name=$1 cmd a sh_pid i
    shift
    rm -f "$TMP/$name.status"
    cmd="$(printf '%q' "$FORWARD_CLIENT") --retry-delay 1 --key-file $(printf '%q' "$KEY")"
    for a in "$@"; do cmd+=" $(printf '%q' "$a")"; done
    cmd+=" $L $INNER_PORT; echo \$? >$(printf '%q' "$TMP/$name.status")"
    tm new-session -d -s "$name" -x 120 -y 40 "$cmd" || fail "tmux new-session $name failed"
    TSESSIONS+=("$name")
    sh_pid=$(tm display-message -p -t "$name" '#{pane_pid}') || fail "no pane pid for $name"
    PANE_PID=
    for ((i = 0; i < 50; i++)); do
        PANE_PID=$(pgrep -P "$sh_pid" -x forward-client | head -n 1)
        [ -n "$PANE_PID" ] && break
        sleep 0.1
    done
    [ -n "$PANE_PID" ] || fail "forward-client in tmux session $name did not start"
    adopt_pid "$name" "$PANE_PID" || fail "forward-client in tmux session $name is not running"
}

# capture NAME: the pane's screen into $TMP/NAME.screen; with
# CAPTURE_HISTORY set, the lines scrolled off it too.
capture() {
    tm capture-pane -p ${CAPTURE_HISTORY:+-S -} -t "$1" >"$TMP/$1.screen" 2>/dev/null
}

# console_expect NAME REGEX [TIMEOUT] [WHAT]: capture until the screen has a
# line matching the extended REGEX (bounded); else a noted failure.
console_expect() {
    local name=$1 re=$2 timeout=${3:-10} what=${4:-$2} i
    for ((i = 0; i < timeout * 5; i++)); do
        capture "$name"
        grep -qE -- "$re" "$TMP/$name.screen" && return 0
        sleep 0.2
    done
    note_failure "$name: no line matching '$what' on the screen within $timeout s: $(sed 's/$/|/' "$TMP/$name.screen" | tr -d '\n' | cut -c1-1500)"
    return 1
}

# pane_dead NAME: the command in the pane has exited.
pane_dead() {
    [ "$(tm display-message -p -t "$1" '#{pane_dead}')" = 1 ]
}

# exit_status NAME: the client's exit status (128+N: killed by signal N),
# as the pane's shell wrote it; "" if it did not within 5 s.
exit_status() {
    local i
    for ((i = 0; i < 25; i++)); do
        [ -s "$TMP/$1.status" ] && break
        sleep 0.2
    done
    cat "$TMP/$1.status" 2>/dev/null
}

# --- 1. the console ---------------------------------------------------------------------------
tmux_client con
CON_PID=$PANE_PID
wait_log "$SERVER_LOG" "channel up" 1 15 || fail "no channel up on the server within 15 s"
console_expect con '^Session Status +online$' 10
console_expect con "^Server +$L:$INNER_PORT  online, plain$" 5
console_expect con "^Forwarding +the server's mappings of tag default$" 5
console_expect con '^Log$' 5
console_expect con "forward-client\\[notice\\]: server $L:$INNER_PORT: channel up" 5

# A stream held open, then 100000 bytes echoed through another one.
start_bg holder python3 -c "
import socket, time
s = socket.create_connection(('$L', $PUB))
s.sendall(b'h' * 1000)
time.sleep(30)
"
HOLDER=$BG_PID
console_expect con '^Streams +1 open, 1 total$' 10
sech peer --port "$PUB" --expect echo --send 100000 --within 10 >"$TMP/peer.out" 2>&1 ||
    note_failure "no echo through $PUB: $(cat "$TMP/peer.out")"
console_expect con '^Streams +1 open, 2 total$' 10
# 101000 bytes each way: 98.6 KiB.
console_expect con '^Bytes +98\.6 KiB to targets, 98\.6 KiB from targets$' 10
stop_bg "$HOLDER"
console_expect con '^Streams +0 open, 2 total$' 10

capture con
head -n 1 "$TMP/con.screen" | grep -qE '^forward-client \(tcp-forward [^)]+\) +\(Ctrl\+C to quit\)$' ||
    note_failure "the first line is not the console's title: $(head -n 1 "$TMP/con.screen")"
# Log lines only below the Log title: the log never writes over the console.
awk '/^Log$/ { inlog = 1 } /forward-client\[/ && !inlog { bad = 1 } END { exit bad }' "$TMP/con.screen" ||
    note_failure "a log line outside the Log section: $(grep -m1 'forward-client\[' "$TMP/con.screen")"
[ "$(awk 'length > 120' "$TMP/con.screen" | wc -l)" = 0 ] ||
    note_failure "lines wider than the 120-column pane: $(awk 'length > 120' "$TMP/con.screen" | head -n 2)"

# The server goes away and comes back: the reason, then online again.
stop_bg "$SERVER_PID"
console_expect con '^Session Status +reconnecting \(.+\)$' 10
info "while the server was down: $(grep -E '^(Session Status|Server)' "$TMP/con.screen" | tr -s ' ' | tr '\n' '|')"
start_server
console_expect con '^Session Status +online$' 15

# A narrower terminal (SIGWINCH): every line fits 50 columns.
tm resize-window -t con -x 50 -y 30 || note_failure "tmux resize-window failed"
sleep 1.5
tm capture-pane -p -t con >"$TMP/con.narrow" 2>/dev/null
long=$(awk 'length > 50' "$TMP/con.narrow" | head -n 2)
[ -z "$long" ] || note_failure "after resizing to 50 columns, longer lines: $long"
grep -qE '^Bytes {15}98\.6 KiB to targets, 98\.6 K\.\.\.$' "$TMP/con.narrow" ||
    note_failure "the Bytes line is not cut to 50 columns with '...': $(grep '^Bytes' "$TMP/con.narrow")"
tm resize-window -t con -x 120 -y 40 || note_failure "tmux resize-window failed"

# --- 2. TERM: the summary ---------------------------------------------------------------------
kill_bg "$CON_PID" TERM
wait_until 15 pane_dead con || note_failure "forward-client still runs 15 s after TERM"
status=$(exit_status con)
[ "$status" = 0 ] || note_failure "forward-client exited with status '$status' after TERM (want 0)"
_untrack "$CON_PID"
capture con
grep -q '^Session Status' "$TMP/con.screen" && note_failure "the console is still on the screen after the summary"
# tmux's "Pane is dead" line may scroll the summary's first line off the screen.
CAPTURE_HISTORY=1
console_expect con '^forward-client: session summary$' 5
console_expect con '^  uptime +[0-9]+s$' 2
console_expect con '^  streams +2 \(0 open at exit\)$' 2
console_expect con '^  bytes to targets +101000 \(98\.6 KiB\)$' 2
console_expect con '^  bytes from targets +101000 \(98\.6 KiB\)$' 2
console_expect con '^  requests +0$' 2
console_expect con '^  latency +-$' 2
info "console summary: $(grep -A6 'session summary' "$TMP/con.screen" | tr -s ' ' | tr '\n' '|')"

# --- 3. --no-console on a terminal: the log lines -----------------------------------------------
tmux_client plain --no-console
PLAIN_PID=$PANE_PID
console_expect plain "^[0-9:.]+ forward-client\\[notice\\]: server $L:$INNER_PORT: channel up \\(protocol [0-9]+, authenticated, tag default\\)$" 15
console_expect plain '^[0-9:.]+ forward-client\[notice\]: forward-client .* started; targets allowed: ' 2
grep -qE 'Session Status|session summary' "$TMP/plain.screen" && note_failure "--no-console: the console is on the screen"
kill_bg "$PLAIN_PID" TERM
wait_until 15 pane_dead plain || note_failure "--no-console: forward-client still runs 15 s after TERM"
_untrack "$PLAIN_PID"
console_expect plain 'forward-client\[notice\]: shutting down$' 5
capture plain
grep -q 'session summary' "$TMP/plain.screen" && note_failure "--no-console: a summary was printed"

# --- 4. no terminal: the log lines, no escapes ---------------------------------------------------
start_client file
wait_log "$CLIENT_LOG" "server $L:$INNER_PORT: channel up" 1 15 || note_failure "stderr to a file: no 'channel up' line"
stop_bg "$CLIENT_PID"
grep -q $'\x1b' "$CLIENT_LOG" && note_failure "stderr to a file: escape sequences in the log: $(grep -m1 $'\x1b' "$CLIENT_LOG" | cat -v)"
grep -qE 'Session Status|session summary' "$CLIENT_LOG" && note_failure "stderr to a file: the console or its summary was written"
grep -q 'forward-client\[notice\]: shutting down$' "$CLIENT_LOG" || note_failure "stderr to a file: no 'shutting down' line"

# --- 5. TLS --------------------------------------------------------------------------------------
stop_bg "$SERVER_PID"
make_cert "$TMP" tls self serverAuth "IP:127.0.0.1"
EXTRA_DEFAULTS="TLS_CERT = $TMP/tls.crt
TLS_KEY = $TMP/tls.key"
write_config "$L:$(free_port) = $L:$ECHO"
unset EXTRA_DEFAULTS
start_server
tmux_client tls --fingerprint "$(cert_pin "$TMP/tls.crt")"
console_expect tls "^Server +$L:$INNER_PORT  online, TLSv1\.3 TLS_[A-Z0-9_]+$" 15
stop_bg "$PANE_PID"

# --- 6. an exposed http port and its requests ----------------------------------------------------
stop_bg "$SERVER_PID"
WEB=$(free_port) || fail "free_port"
XPUB=$(free_port) || fail "free_port"
mkdir -p "$TMP/www"
printf 'hello from the console test\n' >"$TMP/www/hello.txt"
start_bg web python3 -m http.server --bind $L --directory "$TMP/www" "$WEB"
wait_port $L "$WEB" 10 || fail "http.server did not listen on $WEB"
EXTRA_DEFAULTS="EXPOSE_ADDR = $L"
EXTRA_SECTIONS="[CLIENT_PORTS]
tag:default = $XPUB"
write_config "$L:$(free_port) = $L:$ECHO"
unset EXTRA_DEFAULTS EXTRA_SECTIONS
start_server
tmux_client web --expose "http:$XPUB=$WEB"
WEBC=$PANE_PID
console_expect web "^Forwarding +http://$L:$XPUB -> $L:$WEB$" 15
wait_port $L "$XPUB" 10 || note_failure "the exposed port $XPUB does not listen"
for path in hello.txt hello.txt missing; do
    curl -sS -o "$TMP/curl.out" --max-time 10 "http://$L:$XPUB/$path" ||
        note_failure "curl http://$L:$XPUB/$path failed"
done
curl -sS --max-time 10 "http://$L:$XPUB/hello.txt" | cmp -s - "$TMP/www/hello.txt" ||
    note_failure "the exposed port did not serve hello.txt byte-exact"
console_expect web '^Requests +4 ' 10
console_expect web '^GET +404 .*/missing$' 5
console_expect web '^GET +200 .*/hello\.txt$' 5
cp "$TMP/web.screen" "$TMP/web.console"
info "console with an exposed port: $(grep -vE '^ *$' "$TMP/web.console" | head -n 24 | sed 's/$/|/' | tr -d '\n')"
kill_bg "$WEBC" TERM
wait_until 15 pane_dead web || note_failure "--expose: forward-client still runs 15 s after TERM"
_untrack "$WEBC"
console_expect web '^  requests +4' 5
console_expect web '^  latency +min ' 2
info "console summary with requests: $(grep -A6 'session summary' "$TMP/web.screen" | tr -s ' ' | tr '\n' '|')"

finish_test
