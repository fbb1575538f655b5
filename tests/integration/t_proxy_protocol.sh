#!/bin/bash
# PROXY protocol to real receivers ([RULES] PROXY_PROTOCOL, issue 18):
#  - nginx with 'listen ... proxy_protocol' logging $proxy_protocol_addr:
#    $proxy_protocol_port: through a v1 and a v2 mapping, curl from
#    127.0.0.7 (not 127.0.0.1) shows up as 127.0.0.7 and curl's own port;
#  - haproxy with 'bind ... accept-proxy' (v2) takes the stream, forwards it
#    to a plain nginx and logs %ci:%cp and the PP2_TYPE_UNIQUE_ID TLV, which
#    matches the id in the server's stream log line;
#  - an old client (HELLO without the PROXY flag: sec_helpers.py client)
#    serving a v1 mapping: the public connection is closed, no OPEN is
#    sent, and the server logs one line naming the client and the mapping;
#  - a reload that turns PROXY_PROTOCOL on for a mapping applies to new
#    streams (before it, nginx refuses the stream without a header);
#  - a UDP mapping with v2: every datagram reaches the target prefixed with
#    its own v2 header (DGRAM over IPv4, 0x12) naming 127.0.0.7 and the
#    sender's port, with the unique id TLV; replies come back bare;
#  - bad values are configuration errors with file:line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/udp_lib.sh"

command -v nginx >/dev/null || fail "nginx not installed (tools/deps.sh test)"
command -v haproxy >/dev/null || fail "haproxy not installed (tools/deps.sh test)"
command -v curl >/dev/null || fail "curl not installed (tools/deps.sh test)"
SRC=127.0.0.7
python3 -c "import socket; s = socket.socket(); s.bind(('$SRC', 0))" 2>/dev/null ||
    fail "cannot bind $SRC on this machine (the public peer's source address)"

# --- receivers ----------------------------------------------------------------
N_V1=$(free_port) || fail "free_port"
N_V2=$(free_port) || fail "free_port"
N_LATE=$(free_port) || fail "free_port"
N_PLAIN=$(free_port) || fail "free_port"
HAP=$(free_port) || fail "free_port"
NGX=$TMP/nginx
mkdir -p "$NGX/root" || fail "mkdir"
echo "hello through the tunnel" >"$NGX/root/index.html"
cat >"$NGX/nginx.conf" <<NGINX || fail "cannot write nginx.conf"
daemon off;
master_process off;
worker_processes 1;
pid $NGX/nginx.pid;
error_log $NGX/error.log info;
events { worker_connections 256; }
http {
    log_format pp 'pp=\$proxy_protocol_addr:\$proxy_protocol_port port=\$server_port status=\$status';
    access_log $NGX/access.log pp;
    client_body_temp_path $NGX/body;
    proxy_temp_path $NGX/proxy;
    fastcgi_temp_path $NGX/fastcgi;
    uwsgi_temp_path $NGX/uwsgi;
    scgi_temp_path $NGX/scgi;
    server {
        listen $LOCALHOST:$N_V1 proxy_protocol;
        listen $LOCALHOST:$N_V2 proxy_protocol;
        listen $LOCALHOST:$N_LATE proxy_protocol;
        listen $LOCALHOST:$N_PLAIN;
        root $NGX/root;
    }
}
NGINX
start_bg nginx nginx -e "$NGX/error.log" -p "$NGX" -c "$NGX/nginx.conf"
for p in "$N_V1" "$N_V2" "$N_LATE" "$N_PLAIN"; do
    wait_port $LOCALHOST "$p" 10 || fail "nginx did not listen on $p within 10 s"
done

HAPD=$TMP/haproxy
mkdir -p "$HAPD" || fail "mkdir"
cat >"$HAPD/haproxy.cfg" <<HAPROXY || fail "cannot write haproxy.cfg"
global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend pp
    bind $LOCALHOST:$HAP accept-proxy
    log-format "haproxy ci=%ci:%cp uid=%[fc_pp_unique_id] status=%ST"
    default_backend web
backend web
    server nginx $LOCALHOST:$N_PLAIN
HAPROXY
haproxy -c -f "$HAPD/haproxy.cfg" >"$HAPD/check.log" 2>&1 || fail "haproxy refuses its config: $(tail -n 3 "$HAPD/check.log")"
start_bg haproxy haproxy -db -f "$HAPD/haproxy.cfg"
HAPROXY_LOG=$TMP/haproxy.log
wait_port $LOCALHOST "$HAP" 10 || fail "haproxy did not listen on $HAP within 10 s"

# --- tunnel -------------------------------------------------------------------
P_V1=$(free_port) || fail "free_port"
P_V2=$(free_port) || fail "free_port"
P_HAP=$(free_port) || fail "free_port"
P_LATE=$(free_port) || fail "free_port"
P_OLD=$(free_port) || fail "free_port"
P_UDP=$(free_udp_port) || fail "free_udp_port"
R_UDP=$(free_udp_port) || fail "free_udp_port"

# A PROXY v2 datagram receiver (what go-mmproxy expects): checks each
# datagram's header and answers "SRC:PORT UID PAYLOAD" without a header.
cat >"$TMP/pp_udp.py" <<'PY' || fail "cannot write pp_udp.py"
import socket, struct, sys
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
mode, port = sys.argv[1], int(sys.argv[2])
if mode == "receiver":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    s.settimeout(60)
    while True:
        d, a = s.recvfrom(65535)
        if d[:12] != SIG or d[12] != 0x21 or d[13] != 0x12:
            s.sendto(b"BAD header " + d[:16].hex().encode(), a)
            continue
        n = struct.unpack("!H", d[14:16])[0]
        body, payload = d[16:16 + n], d[16 + n:]
        src = socket.inet_ntoa(body[0:4])
        sport = struct.unpack("!H", body[8:10])[0]
        tlvs, uid = body[12:], b"-"
        while len(tlvs) >= 3:
            t, ln = tlvs[0], struct.unpack("!H", tlvs[1:3])[0]
            if t == 0x05:
                uid = tlvs[3:3 + ln]
            tlvs = tlvs[3 + ln:]
        print("datagram %d bytes, header %d bytes, from %s:%d uid %s" % (len(d), 16 + n, src, sport, uid.decode()), flush=True)
        s.sendto(("%s:%d %s " % (src, sport, uid.decode())).encode() + payload, a)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[3], 0))
    s.settimeout(2)
    me = s.getsockname()
    ok = 0
    for i in range(3):
        for attempt in range(5):
            s.sendto(b"ping%d" % i, ("127.0.0.1", port))
            try:
                r, _ = s.recvfrom(65535)
            except socket.timeout:
                continue
            break
        else:
            print("no answer to ping%d" % i)
            continue
        print("answer: %s" % r.decode(errors="replace"))
        want = "%s:%d " % me
        if r.decode(errors="replace").startswith(want) and r.endswith(b" ping%d" % i):
            ok += 1
    print("sender %s:%d ok=%d" % (me[0], me[1], ok))
    sys.exit(0 if ok == 3 else 1)
PY
start_bg udp_receiver python3 -u "$TMP/pp_udp.py" receiver "$R_UDP"
wait_udp $LOCALHOST "$R_UDP" 10 || fail "the UDP receiver did not bind $R_UDP"
EXTRA_SECTIONS="[TAG]
$LOCALHOST:$P_OLD = old
[RULES]
$LOCALHOST:$P_V1.PROXY_PROTOCOL = v1
$LOCALHOST:$P_V2.PROXY_PROTOCOL = v2
$LOCALHOST:$P_HAP.PROXY_PROTOCOL = v2
$LOCALHOST:$P_OLD.PROXY_PROTOCOL = v1
$LOCALHOST:$P_UDP/udp.PROXY_PROTOCOL = v2"
write_config "$LOCALHOST:$P_V1 = $LOCALHOST:$N_V1" "$LOCALHOST:$P_V2 = $LOCALHOST:$N_V2" \
    "$LOCALHOST:$P_HAP = $LOCALHOST:$HAP" "$LOCALHOST:$P_LATE = $LOCALHOST:$N_LATE" \
    "$LOCALHOST:$P_OLD = $LOCALHOST:$N_V1" "$LOCALHOST:$P_UDP/udp = $LOCALHOST:$R_UDP"
timeout 10 "$FORWARD_SERVER" -n "$CONFIG" >"$TMP/n.out" 2>&1 || fail "-n refuses the config: $(cat "$TMP/n.out")"
start_udp_server
start_client client
wait_channel_up 1

# get PORT NAME: GET / from $SRC through public PORT; sets GOT_PORT (curl's
# local port) and GOT_STATUS.
get() {
    local out
    out=$(curl -sS --noproxy '*' --max-time 10 --interface "$SRC" -H 'Connection: close' \
        -o "$TMP/$2.body" -w '%{http_code} %{local_ip}:%{local_port}' "http://$LOCALHOST:$1/" 2>"$TMP/$2.err")
    GOT_STATUS=${out%% *}
    GOT_PORT=${out##*:}
    info "$2: curl from ${out#* } got HTTP $GOT_STATUS"
}

# nginx_saw NAME PORT: nginx's access log has the public peer ($SRC:GOT_PORT)
# for its listener PORT.
nginx_saw() {
    local re="pp=${SRC//./\\.}:$GOT_PORT port=$2 status=200"
    if wait_log "$NGX/access.log" "$re" 1 5; then
        info "$1: nginx access log: $(grep -m1 -E "$re" "$NGX/access.log")"
    else
        note_failure "$1: nginx did not log '$re' (access log: $(tail -n 3 "$NGX/access.log" 2>/dev/null | tr '\n' '|'); error log: $(tail -n 2 "$NGX/error.log" | tr '\n' '|'))"
    fi
}

for v in v1 v2; do
    if [ $v = v1 ]; then pub=$P_V1 back=$N_V1; else pub=$P_V2 back=$N_V2; fi
    get "$pub" "nginx-$v"
    [ "$GOT_STATUS" = 200 ] || note_failure "nginx $v: HTTP $GOT_STATUS through $pub ($(cat "$TMP/nginx-$v.err"))"
    grep -q "hello through the tunnel" "$TMP/nginx-$v.body" 2>/dev/null ||
        note_failure "nginx $v: wrong body"
    nginx_saw "nginx $v" "$back"
done

# haproxy: v2 with the unique id TLV.
get "$P_HAP" haproxy
[ "$GOT_STATUS" = 200 ] || note_failure "haproxy: HTTP $GOT_STATUS through $P_HAP ($(cat "$TMP/haproxy.err"))"
if wait_log "$HAPROXY_LOG" "haproxy ci=${SRC//./\\.}:$GOT_PORT uid=[^ ]+ status=200" 1 5; then
    line=$(grep -m1 -E "haproxy ci=${SRC//./\\.}:$GOT_PORT " "$HAPROXY_LOG")
    info "haproxy log: $line"
    uid=$(sed -n 's/.* uid=\([^ ]*\) .*/\1/p' <<<"$line")
    wait_log "$SERVER_LOG" "peer ${SRC//./\\.}:$GOT_PORT, .*PROXY v2 id ${uid//./\\.}" 1 5 ||
        note_failure "haproxy's unique id '$uid' is not the one in the server's stream line ($(grep -m1 -E "PROXY v2 id" "$SERVER_LOG"))"
else
    note_failure "haproxy did not log 'ci=$SRC:$GOT_PORT ... status=200' ($(tail -n 3 "$HAPROXY_LOG" | tr '\n' '|'))"
fi

# UDP with v2: a header on every datagram, replies bare.
if out=$(timeout 30 python3 -u "$TMP/pp_udp.py" sender "$P_UDP" "$SRC" 2>&1); then
    info "udp v2: $(tr '\n' '|' <<<"$out")"
    info "udp v2 receiver: $(head -n 1 "$TMP/udp_receiver.log")"
    uid=$(sed -n 's/.* uid \([^ ]*\)$/\1/p' "$TMP/udp_receiver.log" | head -n 1)
    grep -qE "udp session [0-9]+ started: mapping $LOCALHOST:$P_UDP/udp .*peer ${SRC//./\\.}:[0-9]+, .*PROXY v2 id ${uid//./\\.}\$" "$SERVER_LOG" ||
        note_failure "udp v2: the receiver's unique id '$uid' is not in the server's session line ($(grep -m1 "udp session" "$SERVER_LOG"))"
else
    note_failure "udp v2: $(tr '\n' '|' <<<"$out") (receiver: $(tail -n 3 "$TMP/udp_receiver.log" | tr '\n' '|'))"
fi

# An old client (its HELLO has no PROXY flag) serving the v1 mapping of tag
# "old": refused, never forwarded without the header.
start_sech oldclient client --port "$INNER_PORT" --key-file "$(test_key)" --tag old --mode serve --hold 6
OLD_PID=$BG_PID
wait_log "$SERVER_LOG" "channel up" 2 10 || fail "the old client's channel did not come up"
get "$P_OLD" old
[ "$GOT_STATUS" = 000 ] || note_failure "old client: HTTP $GOT_STATUS through $P_OLD, want the connection closed"
wait_log "$SERVER_LOG" "mapping $LOCALHOST:$P_OLD -> $LOCALHOST:$N_V1: PROXY_PROTOCOL v1, but client $LOCALHOST:[0-9]+ did not announce PROXY protocol support \(an older forward-client\): closing connection from ${SRC//./\\.}:$GOT_PORT" 1 5 ||
    note_failure "old client: no refusal line naming the client and the mapping ($(grep -m1 "did not announce" "$SERVER_LOG"))"
wait_bg "$OLD_PID" 15 >/dev/null 2>&1 || stop_bg "$OLD_PID"
if grep -q "opens=0 " "$TMP/oldclient.log"; then
    info "old client: $(grep -m1 "opens=" "$TMP/oldclient.log")"
else
    note_failure "old client got an OPEN: $(grep -m1 "opens=" "$TMP/oldclient.log")"
fi

# Reload: P_LATE goes to a listener that expects the header. Without it
# nginx refuses the stream; after a reload that sets v2, new streams pass.
get "$P_LATE" late-off
[ "$GOT_STATUS" = 200 ] && note_failure "reload: nginx served a stream without a PROXY header (the test cannot tell)"
sed -i "s/^\[RULES\]\$/[RULES]\n$LOCALHOST:$P_LATE.PROXY_PROTOCOL = v2/" "$CONFIG"
grep -q "$P_LATE.PROXY_PROTOCOL" "$CONFIG" || fail "could not edit $CONFIG"
kill_bg "$SERVER_PID" HUP
wait_log "$SERVER_LOG" "mapping $LOCALHOST:$P_LATE changed" 1 10 ||
    note_failure "reload: no 'mapping $LOCALHOST:$P_LATE changed' line"
get "$P_LATE" late-v2
[ "$GOT_STATUS" = 200 ] || note_failure "reload: HTTP $GOT_STATUS through $P_LATE after PROXY_PROTOCOL = v2 ($(cat "$TMP/late-v2.err"))"
nginx_saw "after reload" "$N_LATE"

# Bad values: file:line, exit 78.
BAD=$TMP/bad.cfg
write_config_file "$BAD" "$LOCALHOST:$P_V1 = $LOCALHOST:$N_V1" "$LOCALHOST:$P_V2/udp = $LOCALHOST:$N_V2"
printf '[RULES]\n%s.PROXY_PROTOCOL = v3\n%s/udp.PROXY_PROTOCOL = v1\n' "$P_V1" "$P_V2" >>"$BAD"
timeout 10 "$FORWARD_SERVER" -n "$BAD" >"$TMP/bad.out" 2>&1
rc=$?
[ $rc = 78 ] || note_failure "bad PROXY_PROTOCOL values: exit $rc, want 78"
grep -qE "bad.cfg:[0-9]+: PROXY_PROTOCOL: bad value: 'v3' \(expected v1, v2 or off\)" "$TMP/bad.out" ||
    note_failure "no file:line error for 'v3': $(head -c 300 "$TMP/bad.out")"
grep -qE "bad.cfg:[0-9]+: PROXY_PROTOCOL for .*:$P_V2/udp: v1 has no datagram form" "$TMP/bad.out" ||
    note_failure "no file:line error for v1 on UDP: $(head -c 300 "$TMP/bad.out")"

assert_server_alive
finish_test
