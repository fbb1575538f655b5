#!/bin/bash
# Limits the server enforces (issue 18), with real daemons on loopback:
#  1. PUB.RATE_LIMIT = 2M: a 20 MiB download through it takes 10 s within
#     10%, while a download through an unlimited mapping on the same channel,
#     at the same time, runs at least 3 times faster; an upload through the
#     limited mapping is held to the rate as well (the server reads the
#     public socket no faster);
#  2. [CLIENTS] NAME.RATE_LIMIT = 2M is shared by two streams of that
#     client: two 20 MiB downloads at once take about 19 s together;
#  3. NEW_CONNECTIONS_PER_SOURCE = 30/60: 200 connection attempts from
#     127.0.0.5 in about 10 s are cut at 30, a connection from 127.0.0.6 is
#     still served, and the log has at most a few lines about it;
#     MAX_CONNECTIONS_PER_SOURCE = 2: a third simultaneous connection from one
#     source is closed, from another source served;
#  4. a reload changes a limit (RATE_LIMIT 2M -> 8M) for new streams, and
#     the status dump (USR1) shows the limits.
. "$(dirname "$0")/lib.sh"

for src in 127.0.0.5 127.0.0.6; do
    python3 -c "import socket; s = socket.socket(); s.bind(('$src', 0))" 2>/dev/null ||
        fail "cannot bind $src on this machine (needed as a source address)"
done

SRC=$(free_port) || fail "free_port"
ECHO=$(free_port) || fail "free_port"
UPSINK=$(free_port) || fail "free_port"
start_bg source "${PYH[@]}" source-server --port "$SRC" --size 20M --lifetime 300
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 60
# An upload target: counts what it reads until EOF, then answers the count.
start_bg upsink python3 -u -c "
import socket, threading
srv = socket.create_server(('127.0.0.1', $UPSINK))
def handle(c):
    n = 0
    while True:
        b = c.recv(262144)
        if not b:
            break
        n += len(b)
    c.sendall(b'%d\n' % n)
    c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
"
for p in "$SRC" "$ECHO" "$UPSINK"; do
    wait_port $LOCALHOST "$p" 10 || fail "test server on port $p did not start"
done

P_LIM=$(free_port) || fail "free_port"
P_FREE=$(free_port) || fail "free_port"
P_UP=$(free_port) || fail "free_port"
P_BRUTE=$(free_port) || fail "free_port"
P_LIVE=$(free_port) || fail "free_port"
P_CLIENT=$(free_port) || fail "free_port"
make_key "$TMP/alice.key"
EXTRA_SECTIONS="[CLIENTS]
alice = $TMP/alice.key
alice.RATE_LIMIT = 2M
alice.TAGS = alice
[TAG]
$LOCALHOST:$P_CLIENT = alice
[RULES]
$LOCALHOST:$P_LIM.RATE_LIMIT = 2M
$LOCALHOST:$P_UP.RATE_LIMIT = 2M
$LOCALHOST:$P_BRUTE.NEW_CONNECTIONS_PER_SOURCE = 30/60
$LOCALHOST:$P_LIVE.MAX_CONNECTIONS_PER_SOURCE = 2"
write_config "$LOCALHOST:$P_LIM = $LOCALHOST:$SRC" "$LOCALHOST:$P_FREE = $LOCALHOST:$SRC" \
    "$LOCALHOST:$P_UP = $LOCALHOST:$UPSINK" "$LOCALHOST:$P_BRUTE = $LOCALHOST:$ECHO" \
    "$LOCALHOST:$P_LIVE = $LOCALHOST:$ECHO" "$LOCALHOST:$P_CLIENT = $LOCALHOST:$SRC"
timeout 10 "$FORWARD_SERVER" -n "$CONFIG" >"$TMP/n.out" 2>&1 || fail "-n refuses the limits: $(cat "$TMP/n.out")"
start_server
start_client client
wait_channel_up 1
start_client_with alice --key-file "$TMP/alice.key" --name alice --tag alice
wait_log "$SERVER_LOG" "channel up" 2 15 || fail "alice's channel did not come up"

# elapsed FILE: the elapsed= seconds a sink printed.
elapsed() { sed -nE 's/.*how=eof bytes=([0-9]+) bad_at=None elapsed=([0-9.]+).*/\2/p' "$1"; }
# within LOW HIGH VALUE
within() { python3 -c "import sys; sys.exit(0 if $1 <= $3 <= $2 else 1)"; }

# ------------------------------------------------------- 1. RATE_LIMIT per mapping
start_bg lim "${PYH[@]}" sink --port "$P_LIM" --size 20M --timeout 60
LIM=$BG_PID
start_bg free "${PYH[@]}" sink --port "$P_FREE" --size 20M --timeout 60
FREE=$BG_PID
wait_bg "$FREE" 70 || note_failure "the unlimited download failed: $(cat "$TMP/free.log")"
wait_bg "$LIM" 70 || note_failure "the limited download failed: $(cat "$TMP/lim.log")"
t_lim=$(elapsed "$TMP/lim.log")
t_free=$(elapsed "$TMP/free.log")
info "20 MiB at RATE_LIMIT 2M: ${t_lim:-?} s (want 9-11); unlimited beside it: ${t_free:-?} s"
if [ -n "$t_lim" ] && [ -n "$t_free" ]; then
    within 9 11 "$t_lim" || note_failure "20 MiB at 2M/s took $t_lim s, not 10 s within 10%"
    within 0 "$t_lim / 3" "$t_free" || note_failure "the unlimited mapping was slowed: $t_free s against $t_lim s"
else
    note_failure "no byte-exact result: lim: $(cat "$TMP/lim.log") free: $(cat "$TMP/free.log")"
fi

# Upload: 10 MiB into the limited mapping takes about 5 s.
up=$(python3 - "$P_UP" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=60)
chunk = b"u" * 65536
t0 = time.monotonic()
for _ in range(160):
    s.sendall(chunk)
s.shutdown(socket.SHUT_WR)
got = s.makefile().readline().strip()
print("%s %.3f" % (got, time.monotonic() - t0))
EOF
) || note_failure "upload through the limited mapping failed: $up"
info "10 MiB upload at RATE_LIMIT 2M: ${up#* } s (want 4.5-5.5), the target counted ${up%% *} bytes"
[ "${up%% *}" = $((10 << 20)) ] || note_failure "upload: the target got ${up%% *} bytes, want $((10 << 20))"
within 4.5 5.5 "${up#* }" || note_failure "10 MiB upload at 2M/s took ${up#* } s, not 5 s within 10%"

# ------------------------------------------------------- 2. per client, shared
start_bg c1 "${PYH[@]}" sink --port "$P_CLIENT" --size 20M --timeout 60
C1=$BG_PID
start_bg c2 "${PYH[@]}" sink --port "$P_CLIENT" --size 20M --timeout 60
C2=$BG_PID
wait_bg "$C1" 70 || note_failure "alice's first download failed: $(cat "$TMP/c1.log")"
wait_bg "$C2" 70 || note_failure "alice's second download failed: $(cat "$TMP/c2.log")"
t1=$(elapsed "$TMP/c1.log")
t2=$(elapsed "$TMP/c2.log")
# Together 40 MiB at 2 MiB/s, less the two first windows (1 MiB each) that
# go before any credit is held back: the last ends at about 19 s. Each alone
# at 2M would end at 10 s; sharing, neither ends before.
info "two 20 MiB downloads through alice (RATE_LIMIT 2M for the client): ${t1:-?} s and ${t2:-?} s (want the last at 17-21, both after 12)"
last=$(python3 -c "print(max(${t1:-0}, ${t2:-0}))")
first=$(python3 -c "print(min(${t1:-0}, ${t2:-0}))")
within 17 21 "$last" || note_failure "alice's shared 2M/s: 40 MiB in two streams took $last s, not 19 s within 10%"
within 12 21 "$first" || note_failure "alice's shared 2M/s: one stream ended after $first s: the limit was not shared"

# ------------------------------------------------------- 3. per source
python3 - "$P_BRUTE" >"$TMP/brute.out" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
served = refused = 0
t0 = time.monotonic()
for i in range(200):
    s = socket.socket()
    s.bind(("127.0.0.5", 0))
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(b"ping")
        data = s.recv(16)
        if data == b"ping":
            served += 1
        else:
            refused += 1
    except OSError:
        refused += 1
    s.close()
    time.sleep(max(0, t0 + (i + 1) * 0.05 - time.monotonic()))
print("served=%d refused=%d seconds=%.1f" % (served, refused, time.monotonic() - t0))
EOF
info "200 attempts from 127.0.0.5 against NEW_CONNECTIONS_PER_SOURCE = 30/60: $(cat "$TMP/brute.out")"
grep -q '^served=30 refused=170 ' "$TMP/brute.out" || note_failure "the brute force was not cut at 30: $(cat "$TMP/brute.out")"
sech peer --src 127.0.0.6 --port "$P_BRUTE" --expect echo --send 1000 --within 10 >/dev/null 2>&1 ||
    note_failure "a connection from another source (127.0.0.6) was not served"
lines=$(log_count "$SERVER_LOG" "NEW_CONNECTIONS_PER_SOURCE \(30/60\) reached")
info "log lines about the refusals: $lines"
[ "$lines" -ge 1 ] && [ "$lines" -le 3 ] || note_failure "$lines log lines for 170 refusals from one source (want 1-3)"

# MAX_CONNECTIONS_PER_SOURCE = 2: two connections from 127.0.0.5 held open.
cat >"$TMP/hold.py" <<'EOF'
import socket, sys, time
conns = []
for i in range(2):
    s = socket.socket()
    s.bind(("127.0.0.5", 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"hold")
    assert s.recv(16) == b"hold"
    conns.append(s)
print("held", flush=True)
time.sleep(30)
EOF
start_bg hold python3 -u "$TMP/hold.py" "$P_LIVE"
HOLD=$BG_PID
wait_log "$TMP/hold.log" "^held" 1 15 || note_failure "could not hold two connections from 127.0.0.5: $(cat "$TMP/hold.log")"
third=$(sech peer --src 127.0.0.5 --port "$P_LIVE" --expect echo --send 10 --within 5 2>&1) &&
    note_failure "a third simultaneous connection from 127.0.0.5 was served: $third"
sech peer --src 127.0.0.6 --port "$P_LIVE" --expect echo --send 10 --within 10 >/dev/null 2>&1 ||
    note_failure "MAX_CONNECTIONS_PER_SOURCE: a connection from 127.0.0.6 was not served"
wait_log "$SERVER_LOG" "MAX_CONNECTIONS_PER_SOURCE \(2\) reached, closing connection from 127.0.0.5" 1 5 ||
    note_failure "no log line for the third connection from 127.0.0.5"
stop_bg "$HOLD"

# ------------------------------------------------------- 4. reload and status
sed -i "s/^$LOCALHOST:$P_LIM.RATE_LIMIT = 2M/$LOCALHOST:$P_LIM.RATE_LIMIT = 8M/" "$CONFIG"
kill -HUP "$SERVER_PID"
wait_log "$SERVER_LOG" "configuration reloaded" 1 10 || fail "no reload"
start_bg lim2 "${PYH[@]}" sink --port "$P_LIM" --size 20M --timeout 60
wait_bg "$BG_PID" 70 || note_failure "the download after the reload failed: $(cat "$TMP/lim2.log")"
t_lim2=$(elapsed "$TMP/lim2.log")
info "20 MiB at RATE_LIMIT 8M after the reload: ${t_lim2:-?} s (want 2.2-2.8)"
within 2.2 2.8 "${t_lim2:-0}" || note_failure "after the reload to 8M, 20 MiB took ${t_lim2:-?} s, not 2.5 s within 10%"
kill -USR1 "$SERVER_PID"
wait_log "$SERVER_LOG" "status: mapping $LOCALHOST:$P_LIM -> .* live, rate limit 8M/s" 1 5 ||
    note_failure "the status dump does not show the new rate limit"
wait_log "$SERVER_LOG" "status: mapping $LOCALHOST:$P_BRUTE -> .*30 new per source in 60 s, [0-9]+ refused by per-source limits" 1 5 ||
    note_failure "the status dump does not show the per-source limit and its refusals"
assert_server_alive
finish_test
