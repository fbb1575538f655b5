#!/bin/bash
# forward-client --expose and the server's [CLIENT_PORTS] (issue 17).
#  1. alice (a [CLIENTS] name, granted a range, MAX_PORTS = 3) exposes a
#     python http.server (any port), dnsmasq (udp, a port named alone) and
#     the web server again on a port it names: the client logs
#     tcp://127.0.0.1:P -> 127.0.0.1:WEB per port, curl through P is
#     byte-exact, dig through the udp port answers; a 4th port is refused
#     (MAX_PORTS), one outside the grant is refused (not granted), and the
#     server's own mapping is still served on the same channel. --allow
#     does not apply to exposed targets, and still to the server's mappings.
#  2. Policy: an unnamed client without a grant is refused with the reason
#     and keeps its channel (it serves the file's mapping); bob asking for
#     alice's port (held by another client), for a port the file maps, and
#     for a port below 1024 (not granted; 1023, named alone in his grant,
#     is given when running as root; a range below 1024 is a
#     configuration error at file:line).
#  3. forward-ctl mappings shows the exposed ports with origin "client alice";
#     /metrics and the status dump (SIGUSR1) list them like any mapping.
#  4. Reload: a file mapping on alice's port is refused naming the client;
#     a reload that takes bob's grant away releases (drains) his port.
#  5. Sticky: kill -9 alice, a connection made while she is away is held,
#     she comes back (same --name) with the same ports and the held
#     connection is served; after EXPOSE_HOLD (3 s) away her ports close.
#     A reload lowering MAX_PORTS releases the ports past it.
#  6. An old server (it closes the connection after a HELLO with the EXPOSE
#     flag, like 0.3.0): the client says so and redials without the flag.
. "$(dirname "$0")/lib.sh"

DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
[ -x "$DNSMASQ" ] || fail "dnsmasq not installed (tools/deps.sh test: dnsmasq-base)"
command -v dig >/dev/null || fail "dig not installed (tools/deps.sh test: bind9-dnsutils)"
command -v curl >/dev/null || fail "curl not installed"
[ -x "$FORWARD_CTL" ] || fail "forward-ctl not found: $FORWARD_CTL"
. "$(dirname "$0")/udp_lib.sh"

L=$LOCALHOST
WEB=$(free_port) || fail "free_port"
ECHO=$(free_port) || fail "free_port"
FILEPUB=$(free_port) || fail "free_port"    # the file's own mapping
ECHOPUB=$(free_port) || fail "free_port"    # file mapping to the echo server (in alice's --allow)
DENIEDPUB=$(free_port) || fail "free_port"  # file mapping to a target outside alice's --allow
DNS=$(free_udp_port) || fail "free_udp_port"
UPUB=$(free_udp_port) || fail "free_udp_port"  # granted to alice alone (/udp)
# A block of 10 ports for the grants, below the ephemeral range (where the
# daemons' own connections take their ports), none listening now.
block_free() {
    local p
    for ((p = $1; p < $1 + 10; p++)); do port_listening $L "$p" && return 1; done
    return 0
}
for ((i = 0; i < 20; i++)); do
    BASE=$((20000 + RANDOM % 10000))
    block_free "$BASE" && break
done
HI=$((BASE + 9))
OUTSIDE=$((BASE + 50))
SOCK=$TMP/control.sock
MP=$(free_port) || fail "free_port"  # METRICS_LISTEN

# ------------------------------------------------------------------ targets
mkdir -p "$TMP/www"
head -c 300000 /dev/urandom >"$TMP/www/blob.bin"
start_bg web python3 -m http.server --bind $L --directory "$TMP/www" "$WEB"
wait_port $L "$WEB" 10 || fail "http.server did not listen on $WEB"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 60
wait_port $L "$ECHO" 10 || fail "echo server did not start"
start_bg dnsmasq "$DNSMASQ" --conf-file=/dev/null --keep-in-foreground --log-facility=- \
    --no-resolv --no-hosts --no-poll --address=/test.tcpf/10.9.8.7 \
    --listen-address=127.0.0.1 --bind-interfaces --port="$DNS" \
    --pid-file="$TMP/dnsmasq.pid" --user=root --group=root --cache-size=0
wait_udp $L "$DNS" 10 || fail "dnsmasq did not bind $L:$DNS/udp"

make_key "$TMP/alice.key"
make_key "$TMP/bob.key"
grants() {
    echo "[CLIENT_PORTS]"
    echo "alice = $BASE-$HI, $UPUB/udp"
    echo "alice.MAX_PORTS = 3"
    [ "${1:-}" = no-bob ] || echo "bob = $BASE-$HI, $FILEPUB, 1023"
}
EXTRA_DEFAULTS="CLIENT_WAIT = 8
EXPOSE_HOLD = 3
EXPOSE_ADDR = $L
METRICS_LISTEN = $L:$MP
CONTROL_SOCKET = $SOCK"
EXTRA_SECTIONS="[CLIENTS]
alice = $TMP/alice.key
bob = $TMP/bob.key
$(grants)"
write_config "$L:$FILEPUB = $L:$WEB" "$L:$ECHOPUB = $L:$ECHO" "$L:$DENIEDPUB = $L:$DNS"
cp "$CONFIG" "$TMP/base.cfg"
start_server

fetch() {  # fetch PORT: GET /blob.bin through PORT, byte-exact
    local code
    rm -f "$TMP/got.bin"
    code=$(http_get "http://$L:$1/blob.bin" "$TMP/got.bin" 15)
    [ "$code" = 200 ] && cmp -s "$TMP/got.bin" "$TMP/www/blob.bin"
}
exposed_port() {  # exposed_port LOG SCHEME TARGET: the public port logged for TARGET
    sed -nE "s#.*$2://$L:([0-9]+) -> $3\$#\\1#p" "$1" | tail -n 1
}

# --- 1. alice --------------------------------------------------------------------
ALICE_ARGS=(--name alice --key-file "$TMP/alice.key" --allow "$L:$ECHO"
    --expose "$((BASE + 5))=$L:$WEB" --expose "$WEB" --expose "udp:$UPUB=$DNS"
    --expose "tcp:$ECHO" --expose "$OUTSIDE=$WEB")
start_client_with alice "${ALICE_ARGS[@]}"
ALICE=$CLIENT_PID
ALICE_LOG=$CLIENT_LOG
wait_log "$ALICE_LOG" "refused --expose $OUTSIDE=$WEB" 1 15 || fail "alice: no answer for all exposures: $(tail -n 5 "$ALICE_LOG")"
P1=$(exposed_port "$ALICE_LOG" tcp "$L:$WEB")
grep -q "tcp://$L:$((BASE + 5)) -> $L:$WEB" "$ALICE_LOG" || note_failure "alice did not get the port she named ($((BASE + 5)))"
grep -q "udp://$L:$UPUB -> $L:$DNS" "$ALICE_LOG" || note_failure "alice: no 'udp://$L:$UPUB -> $L:$DNS' line"
info "alice: $(grep -E '(tcp|udp)://|refused --expose' "$ALICE_LOG" | cut -d' ' -f3- | tr '\n' '|')"
[ -n "$P1" ] && [ "$P1" -ge "$BASE" ] && [ "$P1" -le "$HI" ] || note_failure "alice's any-port exposure: '$P1', not in the grant $BASE-$HI"
grep -qE "refused --expose tcp:$ECHO: MAX_PORTS \(3\) of grant alice reached" "$ALICE_LOG" ||
    note_failure "4th exposure not refused by MAX_PORTS: $(grep "expose tcp:$ECHO" "$ALICE_LOG")"
grep -qE "refused --expose $OUTSIDE=$WEB: port $OUTSIDE is not granted to this client" "$ALICE_LOG" ||
    note_failure "exposure outside the grant not refused as not granted"
if [ -n "$P1" ]; then
    fetch "$P1" || note_failure "GET through exposed port $P1 not byte-exact"
    fetch "$((BASE + 5))" || note_failure "GET through exposed port $((BASE + 5)) not byte-exact"
fi
got=$(dig @$L -p "$UPUB" test.tcpf A +short +time=2 +tries=3 2>&1)
[ "$got" = 10.9.8.7 ] || note_failure "dig through the exposed udp port $UPUB: '$got'"
echo_once() {  # echo_once PORT: a line echoed back through PORT
    local line want="tcpf-$RANDOM" rc=1
    exec 3<>"/dev/tcp/$L/$1" || return 1
    if printf '%s\n' "$want" >&3 && IFS= read -r -t 5 line <&3 && [ "$line" = "$want" ]; then rc=0; fi
    exec 3<&- 3>&-
    return $rc
}
echo_once "$ECHOPUB" || note_failure "the server's own mapping $ECHOPUB not served next to the exposures"
# --allow still limits the server's own mappings (a TCP target on the DNS
# port: only udp:$DNS is exposed), and not the exposed targets (WEB, DNS/udp)
exec 3<>"/dev/tcp/$L/$DENIEDPUB" && exec 3<&- 3>&-
wait_log "$ALICE_LOG" "asked for $L:$DNS \(tcp, id [0-9]+\): refused, not in --allow" 1 5 ||
    note_failure "--allow did not refuse the server's mapping to $L:$DNS"
grep -qE "asked for $L:($WEB \(tcp|$DNS \(udp).*not in --allow" "$ALICE_LOG" &&
    note_failure "--allow applied to an exposed target"

# --- 2. policy -------------------------------------------------------------------
start_client_with carol --key-file "$(test_key)" --expose "$WEB"
CAROL_LOG=$CLIENT_LOG
wait_log "$CAROL_LOG" "refused --expose $WEB" 1 15 || note_failure "carol: no refusal"
grep -qE "refused --expose $WEB: no \[CLIENT_PORTS\] grant for an unnamed client \(tag default\)" "$CAROL_LOG" ||
    note_failure "carol's refusal does not say why: $(grep 'refused --expose' "$CAROL_LOG")"
for i in 1 2 3 4; do fetch "$FILEPUB" || note_failure "file mapping not served with carol up ($i)"; done
grep -q "channel closed" "$CAROL_LOG" && note_failure "carol's channel closed after the refusal"

# Port 1023 is granted to bob by name; binding it takes root.
LOW=()
[ "$(id -u)" = 0 ] && LOW=(--expose "1023=$WEB")
start_client_with bob --name bob --key-file "$TMP/bob.key" --expose "$((BASE + 5))=$WEB" \
    --expose "$FILEPUB=$WEB" --expose "1022=$WEB" "${LOW[@]}" --expose "$ECHO"
BOB=$CLIENT_PID
BOB_LOG=$CLIENT_LOG
wait_log "$BOB_LOG" "(tcp://.* -> $L:$ECHO|refused --expose $ECHO)" 1 15 || fail "bob: no answers: $(tail -n 5 "$BOB_LOG")"
grep -q "refused --expose $((BASE + 5))=$WEB: port $((BASE + 5)) is held by another client" "$BOB_LOG" ||
    note_failure "bob got alice's port or another reason: $(grep "$((BASE + 5))" "$BOB_LOG")"
grep -q "refused --expose $FILEPUB=$WEB: port $FILEPUB is mapped by the server's configuration" "$BOB_LOG" ||
    note_failure "bob's request for the file's port: $(grep "expose $FILEPUB" "$BOB_LOG")"
grep -q "refused --expose 1022=$WEB: port 1022 is not granted" "$BOB_LOG" ||
    note_failure "bob's request for port 1022: $(grep "expose 1022" "$BOB_LOG")"
if [ ${#LOW[@]} -gt 0 ]; then
    grep -q "tcp://$L:1023 -> $L:$WEB" "$BOB_LOG" || note_failure "bob did not get port 1023, granted alone: $(grep 'expose 1023' "$BOB_LOG")"
fi
PB=$(exposed_port "$BOB_LOG" tcp "$L:$ECHO")
[ -n "$PB" ] || note_failure "bob got no port for $ECHO: $(grep "$ECHO" "$BOB_LOG")"
# A range reaching below 1024 is a configuration error at file:line.
sed "s/^bob = .*/bob = 1000-1100/" "$CONFIG" >"$TMP/low.cfg"
expect_refused_start "grant range below 1024" "low.cfg:[0-9]+: .*ports below 1024 are granted only one by one" \
    "$FORWARD_SERVER" -n "$TMP/low.cfg"

# --- 3. visible as mappings -----------------------------------------------------------
ctl --json mappings
[ "$CTL_RC" = 0 ] || note_failure "forward-ctl mappings: $CTL_ERR"
origin=$(json_get "[m['origin'] for m in j if m['mapping'] == '$L:$P1'][0]" 2>&1)
[ "$origin" = "client alice" ] || note_failure "forward-ctl mappings: origin of $L:$P1 is '$origin'"

curl -sS --noproxy '*' --max-time 5 "http://$L:$MP/metrics" >"$TMP/metrics.prom" 2>&1 ||
    note_failure "GET /metrics: $(head -c 200 "$TMP/metrics.prom")"
grep -qF "tcpforward_mapping_connections_total{mapping=\"$L:$P1\"" "$TMP/metrics.prom" ||
    note_failure "/metrics has no series for the exposed port $L:$P1: $(grep -m3 mapping_connections_total "$TMP/metrics.prom")"
kill_bg "$SERVER_PID" USR1
wait_log "$SERVER_LOG" "status: mapping $L:$P1 -> $L:$WEB" 1 5 ||
    note_failure "the status dump (SIGUSR1) does not list the exposed port $L:$P1"

# --- 4. reload -------------------------------------------------------------------
hup_and_wait() {
    local re=$1 before
    before=$(log_count "$SERVER_LOG" "$re")
    kill_bg "$SERVER_PID" HUP || fail "cannot signal the server"
    wait_log "$SERVER_LOG" "$re" $((before + 1)) 5 || note_failure "no new '$re' line within 5 s of SIGHUP"
}
{ sed '/^\[CLIENTS\]/,$d' "$TMP/base.cfg"; echo "$L:$P1 = $L:$ECHO"; sed -n '/^\[CLIENTS\]/,$p' "$TMP/base.cfg"; } >"$CONFIG"
hup_and_wait "reload failed"
grep -qE "public port $P1 is held by client alice" "$SERVER_LOG" ||
    note_failure "the reload's error does not name client alice: $(grep -m1 'reload' "$SERVER_LOG" | tail -n 1)"
fetch "$P1" || note_failure "alice's port $P1 broken by the refused reload"
{ sed '/^\[CLIENT_PORTS\]/,$d' "$TMP/base.cfg"; grants no-bob; } >"$CONFIG"
hup_and_wait "configuration reloaded"
wait_log "$SERVER_LOG" "exposed port $L:$PB -> .* of client bob released: a reload took its grant away" 1 5 ||
    note_failure "bob's port $PB not released by the reload"
wait_not_listening $L "$PB" 5 || note_failure "bob's port $PB still listens after the reload"
fetch "$P1" || note_failure "alice's port $P1 not served after the reload"
stop_bg "$BOB"

# --- 5. sticky -------------------------------------------------------------------------
kill_bg "$ALICE" KILL
wait_bg "$ALICE" 5 >/dev/null 2>&1
wait_log "$SERVER_LOG" "client alice: no channel up; its 3 exposed ports stay for EXPOSE_HOLD" 1 5 ||
    note_failure "the server did not note alice away"
port_listening $L "$P1" || note_failure "alice's port $P1 closed at once"
rm -f "$TMP/held.bin"
start_bg held curl -sS --noproxy '*' --max-time 20 -o "$TMP/held.bin" -w '%{http_code}' "http://$L:$P1/blob.bin"
HELD=$BG_PID
wait_log "$SERVER_LOG" "holding connection from" 1 5 || note_failure "the connection made while alice was away was not held"
mv "$ALICE_LOG" "$TMP/alice.1.log"
start_client_with alice "${ALICE_ARGS[@]}"
ALICE=$CLIENT_PID
wait_log "$ALICE_LOG" "refused --expose $OUTSIDE=$WEB" 1 15 || note_failure "alice (again): no answers"
P1b=$(exposed_port "$ALICE_LOG" tcp "$L:$WEB")
[ "$P1b" = "$P1" ] || note_failure "alice came back to port '$P1b', not $P1"
wait_bg "$HELD" 20 >/dev/null 2>&1
cmp -s "$TMP/held.bin" "$TMP/www/blob.bin" || note_failure "the held connection was not served byte-exact"
kill_bg "$ALICE" KILL
wait_bg "$ALICE" 5 >/dev/null 2>&1
wait_log "$SERVER_LOG" "exposed port $L:$P1 -> .* of client alice released: its client did not come back within EXPOSE_HOLD" 1 8 ||
    note_failure "alice's port $P1 not released after EXPOSE_HOLD"
wait_not_listening $L "$P1" 3 || note_failure "port $P1 still listens after EXPOSE_HOLD"
assert_server_alive

# A reload lowering MAX_PORTS releases the ports past it (alice holds 3).
mv "$ALICE_LOG" "$TMP/alice.2.log"
start_client_with alice "${ALICE_ARGS[@]}"
ALICE=$CLIENT_PID
wait_log "$ALICE_LOG" "refused --expose $OUTSIDE=$WEB" 1 15 || note_failure "alice (third): no answers"
sed -i 's/^alice\.MAX_PORTS = 3$/alice.MAX_PORTS = 2/' "$CONFIG"
hup_and_wait "configuration reloaded"
wait_log "$SERVER_LOG" "of client alice released: a reload lowered MAX_PORTS of grant alice to 2" 1 5 ||
    note_failure "lowering MAX_PORTS to 2 released none of alice's 3 ports"
[ "$(log_count "$SERVER_LOG" "a reload lowered MAX_PORTS")" = 1 ] ||
    note_failure "lowering MAX_PORTS from 3 to 2 released $(log_count "$SERVER_LOG" "a reload lowered MAX_PORTS") ports, want 1"
stop_bg "$ALICE"

# --- 6. an old server ---------------------------------------------------------------
OLD=$(free_port) || fail "free_port"
cat >"$TMP/old_server.py" <<PY
import socket, sys, time
# Like forward-server 0.3.0: a HELLO with flags it does not know (other
# than AUTH 0x01 and PROXY 0x02) is refused by closing the connection;
# others are held open.
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", $OLD))
s.listen(4)
s.settimeout(30)
held = []
for _ in range(4):
    c, _ = s.accept()
    c.settimeout(10)
    data = b""
    while len(data) < 12 + 8:
        chunk = c.recv(4096)
        if not chunk:
            break
        data += chunk
    flags = data[12 + 7] if len(data) >= 20 else -1
    print("hello flags=0x%02x" % flags, flush=True)
    if flags >= 0 and flags & ~0x03:
        c.close()
    else:
        held.append(c)
time.sleep(2)
PY
start_bg old_server python3 -u "$TMP/old_server.py"
OLDPID=$BG_PID
wait_port $L "$OLD" 10 || fail "the fake old server did not listen"
start_client_to old-client "$OLD" --no-auth --expose "$WEB"
OLDC=$CLIENT_PID
wait_log "$CLIENT_LOG" "server $L:$OLD does not support --expose \(it is older than 0.4.0\); its own mappings are served" 1 10 ||
    note_failure "no clear message about the old server: $(tail -n 3 "$CLIENT_LOG")"
wait_log "$TMP/old_server.log" "hello flags=0x02" 1 10 ||
    note_failure "the client did not redial without the EXPOSE flag: $(cat "$TMP/old_server.log")"
stop_bg "$OLDC"
# A client without --expose that logs at debug level asks for REQUEST lines
# (0x08): the old server refuses that too, and the client redials without.
start_client_to old-client2 "$OLD" --no-auth
OLDC=$CLIENT_PID
wait_log "$CLIENT_LOG" "server $L:$OLD does not report HTTP requests \(it is older than 0.4.0\); its own mappings are served" 1 10 ||
    note_failure "no clear message about the old server (requests): $(tail -n 3 "$CLIENT_LOG")"
wait_log "$TMP/old_server.log" "hello flags=0x02" 2 10 ||
    note_failure "the client did not redial without the REQUESTS flag: $(cat "$TMP/old_server.log")"
info "old server saw: $(tr '\n' ' ' <"$TMP/old_server.log")"
stop_bg "$OLDC"
stop_bg "$OLDPID"
finish_test
