#!/bin/bash
# Cost at scale (issue 19): what many channels, many mappings and many
# streams cost one forward-server, each measured at full size and at a
# tenth of it, with the growth ratio (full / tenth; 10 is linear).  Not a
# pass/fail test: a table on stdout, progress on stderr.  Loopback only.
#
#   channels  SCALE_CLIENTS (1,000) forward-client processes, one channel
#             each, same shared key, to one server: the server's RSS per
#             channel (RSS with all up minus RSS before, / N), plain and
#             TLS; the time from the first client's start until the server
#             has logged every "channel up"; then N echo-verified streams
#             through the one mapping (round robin: one per channel), and
#             every client log shows its stream.
#   mappings  SCALE_MAPPINGS (10,000) mappings on 127.0.0.2: start-up time
#             (start until the last port listens, and the count checked),
#             RSS; a HUP reload that changes 1% of the targets, timed from
#             the log's "reloading" to "configuration reloaded" (ms
#             stamps), while a 256 MiB download on an unchanged mapping runs
#             (byte-exact, to EOF).
#   streams   SCALE_STREAMS (10,000) short streams through one channel, 50
#             at a time (connect, 16-byte echo, close), against the same
#             through haproxy (one hop, mode tcp): streams/s.
#
#   bench/scale.sh
#   SCALE_ONLY=streams,mappings bench/scale.sh
#
# FORWARD_SERVER / FORWARD_CLIENT: the binaries (default this tree's src/).
# Raises the soft descriptor limit to the hard one; mind ulimit -n (the
# channels part needs N + 100 in the server, the mappings part M + 100).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/bench/lib.sh"
FS=${FORWARD_SERVER:-$TOP/src/forward-server}
FC=${FORWARD_CLIENT:-$TOP/src/forward-client}
CLIENTS=${SCALE_CLIENTS:-1000}
MAPPINGS=${SCALE_MAPPINGS:-10000}
STREAMS=${SCALE_STREAMS:-10000}
ONLY=${SCALE_ONLY:-channels,mappings,streams}
PYH=(python3 -u "$TOP/tests/integration/helpers.py")
ulimit -n "$(ulimit -Hn)" 2>/dev/null
for b in "$FS" "$FC"; do [ -x "$b" ] || die "not executable: $b"; done
T=$(mktemp -d "${TMPDIR:-/tmp}/bench-scale.XXXXXX") || die "mktemp"
RES=$T/results
PROBLEMS=()

# Stops every PID we started (bench/lib.sh ALL_PIDS): TERM to the list,
# then KILL to what is left after 5 s.
stop_all() {
    local p left
    [ ${#ALL_PIDS[@]} -gt 0 ] || return 0
    kill -TERM "${ALL_PIDS[@]}" 2>/dev/null
    for _ in $(seq 1 50); do
        left=0
        for p in "${ALL_PIDS[@]}"; do [ -e "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && left=1 && break; done
        [ $left = 0 ] && break
        sleep 0.1
    done
    kill -KILL "${ALL_PIDS[@]}" 2>/dev/null
    wait "${ALL_PIDS[@]}" 2>/dev/null
    ALL_PIDS=()
}
trap 'stop_all; [ -n "${SCALE_KEEP_TMP:-}" ] || rm -rf "$T"' EXIT

free_port() { "${PYH[@]}" free-port; }
problem() { PROBLEMS+=("$*"); warn "$*"; }
record() { echo "$*" >>"$RES"; }
key() { [ -f "$T/key" ] || (umask 077 && openssl rand -hex 32 >"$T/key"); echo "$T/key"; }
# ms_of "12:34:56.789" -> milliseconds since midnight
ms_of() { awk -F'[:.]' '{ print (($1 * 60 + $2) * 60 + $3) * 1000 + $4 }' <<<"$1"; }
# listening_on ADDR_HEX PORT: a LISTEN socket on that address and port
listening_on() { awk -v w="$1:$(printf '%04X' "$2")" '$2 == w && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp; }

# A short-connection load: N streams to 127.0.0.1:PORT, C at a time, each
# connect, 16-byte echo, close.  Prints "ok=K fail=F secs=S rate=R".
cat >"$T/churn.py" <<'EOF'
import socket, sys, threading, time
port, n, c = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
lock = threading.Lock()
state = {"next": 0, "ok": 0, "fail": 0, "err": ""}
def worker():
    while True:
        with lock:
            i = state["next"]
            if i >= n:
                return
            state["next"] += 1
        msg = b"%015d\n" % i
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                d = s.recv(64)
                if not d:
                    break
                got += d
            s.close()
            good = got == msg
        except OSError as e:
            good = False
            state["err"] = repr(e)
        with lock:
            state["ok" if good else "fail"] += 1
t0 = time.monotonic()
ts = [threading.Thread(target=worker) for _ in range(c)]
for t in ts: t.start()
for t in ts: t.join()
el = time.monotonic() - t0
print("ok=%d fail=%d secs=%.3f rate=%.0f %s" % (state["ok"], state["fail"], el, state["ok"] / el, state["err"]))
EOF

ECHO=$(free_port)
spawn "$T/echo.log" python3 "$TOP/bench/echo_server.py" "$ECHO" --procs 2
wait_for_listen "$ECHO" 10 || die "echo server did not listen"
ECHO_PID=$SPAWNED_PID

# server_config FILE INNER [extra DEFAULT lines...]: a server config
# (mappings appended by the caller).
server_config() {
    local f=$1 inner=$2
    shift 2
    {
        echo "[DEFAULT]"
        echo "INNER_PORT = $inner"
        echo "INNER_ADDR = 127.0.0.1"
        echo "LOG_LEVEL = info"
        echo "AUTH_KEY_FILE = $(key)"
        printf '%s\n' "$@"
        echo "[MAPPER]"
    } >"$f"
}

# ---------------------------------------------------------------- channels
# channels N MODE(plain|tls)
channels() {
    local n=$1 mode=$2 d=$T/ch-$1-$2 inner pub spid rss0 rss1 t0 t1 up i fp cargs=() out streams
    mkdir -p "$d/c"
    inner=$(free_port)
    pub=$(free_port)
    local extra=("MAX_CHANNELS_PER_SHARED_KEY = $((n + 16))" "MAX_HANDSHAKES = $((n + 16))"
        "MAX_HANDSHAKES_PER_SOURCE = $((n + 16))" "HANDSHAKE_TIMEOUT = 30")
    if [ "$mode" = tls ]; then
        [ -f "$T/tls.crt" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$T/tls.key" -out "$T/tls.crt" -days 2 -subj /CN=127.0.0.1 \
            -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 || die "openssl req failed"
        extra+=("TLS_CERT = $T/tls.crt" "TLS_KEY = $T/tls.key")
    fi
    server_config "$d/server.cfg" "$inner" "${extra[@]}"
    echo "127.0.0.1:$pub = 127.0.0.1:$ECHO" >>"$d/server.cfg"
    spawn "$d/server.log" "$FS" "$d/server.cfg"
    spid=$SPAWNED_PID
    wait_for_listen "$pub" 10 "$spid" || { problem "channels $n $mode: the server did not start"; return; }
    if [ "$mode" = tls ]; then
        fp=$(sed -n 's/.*TLS certificate fingerprint \([^ ]*\).*/\1/p' "$d/server.log" | head -1)
        [ -n "$fp" ] || { problem "channels $n $mode: no fingerprint in the server log"; return; }
        cargs=(--fingerprint "$fp")
    fi
    sleep 1
    rss0=$(rss_kib "$spid")
    log "channels: $n clients, $mode: starting"
    t0=$(now_ms)
    for ((i = 0; i < n; i++)); do
        spawn "$d/c/$i.log" "$FC" -v --retry-delay 1 --key-file "$(key)" "${cargs[@]}" 127.0.0.1 "$inner"
    done
    up=0
    for _ in $(seq 1 1200); do
        up=$(grep -c "channel up" "$d/server.log")
        [ "$up" -ge "$n" ] && break
        sleep 0.1
    done
    t1=$(now_ms)
    [ "$up" -ge "$n" ] || problem "channels $n $mode: only $up of $n channels up after 120 s"
    sleep 2
    rss1=$(rss_kib "$spid")
    # one stream through each channel: round robin over N channels
    out=$(python3 "$T/churn.py" "$pub" "$n" 1)
    sleep 1
    streams=$(grep -l "stream 1 closed" "$d"/c/*.log 2>/dev/null | wc -l)
    [ "$streams" = "$n" ] && [[ $out == "ok=$n fail=0"* ]] ||
        problem "channels $n $mode: streams: $out; $streams of $n clients served one"
    record "channels $mode $n up_ms=$((t1 - t0)) rss0=$rss0 rss1=$rss1 per_kib=$(awk -v a="$rss0" -v b="$rss1" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }') streams=$streams"
    log "channels: $n $mode: all up in $((t1 - t0)) ms, server RSS $rss0 -> $rss1 KiB, $streams clients served a stream"
    local keep=("$ECHO_PID")
    local others=()
    for p in "${ALL_PIDS[@]}"; do [ "$p" = "$ECHO_PID" ] || others+=("$p"); done
    ALL_PIDS=("${others[@]}")
    stop_all
    ALL_PIDS=("${keep[@]}")
}

# ---------------------------------------------------------------- mappings
# mappings M
mappings() {
    local m=$1 d=$T/map-$1 inner src spid t0 t1 rss i last count h0 h1 dl rc
    mkdir -p "$d"
    inner=$(free_port)
    src=$(free_port)
    spawn "$d/source.log" "${PYH[@]}" source-server --port "$src" --size 256M --seed 7 --lifetime 600 --io-timeout 120
    local srcpid=$SPAWNED_PID
    wait_for_listen "$src" 10 || { problem "mappings $m: source did not listen"; return; }
    # write_maps FILE CHANGED: M mappings 127.0.0.2:10000+i; CHANGED=1
    # points every 100th (i % 100 == 50) at the echo server instead
    write_maps() {
        server_config "$1" "$inner"
        awk -v m="$m" -v src="$src" -v echo="$ECHO" -v ch="$2" 'BEGIN {
            for (i = 0; i < m; i++)
                printf "127.0.0.2:%d = 127.0.0.1:%d\n", 10000 + i, (ch && i % 100 == 50) ? echo : src }' >>"$1"
    }
    write_maps "$d/server.cfg" 0
    last=$((10000 + m - 1))
    t0=$(now_ms)
    spawn "$d/server.log" "$FS" "$d/server.cfg"
    spid=$SPAWNED_PID
    for _ in $(seq 1 1200); do
        listening_on 0200007F "$last" && break
        is_alive "$spid" || break
        sleep 0.05
    done
    t1=$(now_ms)
    count=$(awk '$2 ~ /^0200007F:/ && $4 == "0A"' /proc/net/tcp | wc -l)
    [ "$count" = "$m" ] || { problem "mappings $m: $count of $m ports listening"; return; }
    sleep 1
    rss=$(rss_kib "$spid")
    spawn "$d/client.log" "$FC" -v --retry-delay 1 --key-file "$(key)" 127.0.0.1 "$inner"
    wait_for_log "$d/server.log" "channel up" 15 || { problem "mappings $m: no channel"; return; }
    write_maps "$d/server.cfg" 1
    log "mappings: $m: started in $((t1 - t0)) ms, RSS $rss KiB; reload changing $((m / 100))"
    # the long download on an unchanged mapping (i = 0, on 127.0.0.2, which
    # helpers.py's sink does not dial), across the reload
    python3 - "$d/sink2.out" <<EOF &
import socket, sys, hashlib, time
sys.path.insert(0, "$TOP/tests/integration")
import helpers
s = socket.create_connection(("127.0.0.2", 10000), timeout=60)
v = helpers.Verifier(7)
n = 0
t0 = time.monotonic()
while True:
    d = s.recv(262144)
    if not d:
        break
    v.feed(d)
    n += len(d)
open(sys.argv[1], "w").write("bytes=%d bad_at=%s secs=%.3f\n" % (n, v.bad_at, time.monotonic() - t0))
sys.exit(0 if n == 256 << 20 and v.bad_at is None else 1)
EOF
    dl=$!
    sleep 1
    kill -HUP "$spid"
    wait_for_log "$d/server.log" "configuration reloaded" 60 "$spid" || problem "mappings $m: no 'configuration reloaded' within 60 s"
    wait "$dl"
    rc=$?
    h0=$(grep "reloading" "$d/server.log" | tail -1 | awk '{ print $1 }')
    h1=$(grep "configuration reloaded" "$d/server.log" | tail -1 | awk '{ print $1 }')
    local changed
    changed=$(grep -c "mapping .* changed" "$d/server.log")
    [ "$rc" = 0 ] || problem "mappings $m: the download across the reload failed: $(cat "$d/sink2.out" 2>/dev/null)"
    record "mappings $m start_ms=$((t1 - t0)) rss=$rss reload_ms=$(( $(ms_of "$h1") - $(ms_of "$h0") )) changed=$changed download=$([ "$rc" = 0 ] && echo exact || echo FAILED)"
    log "mappings: $m: reload $(( $(ms_of "$h1") - $(ms_of "$h0") )) ms ($changed changed), download $(cat "$d/sink2.out" 2>/dev/null)"
    local others=()
    for p in "${ALL_PIDS[@]}"; do [ "$p" = "$ECHO_PID" ] || others+=("$p"); done
    ALL_PIDS=("${others[@]}")
    stop_all
    ALL_PIDS=("$ECHO_PID")
}

# ---------------------------------------------------------------- streams
# streams S
streams() {
    local s=$1 d=$T/st-$1 inner pub hp out_t out_h
    mkdir -p "$d"
    inner=$(free_port)
    pub=$(free_port)
    hp=$(free_port)
    server_config "$d/server.cfg" "$inner" "MAX_STREAMS_PER_CLIENT = $((s + 100))"
    echo "127.0.0.1:$pub = 127.0.0.1:$ECHO" >>"$d/server.cfg"
    sed -i 's/^LOG_LEVEL = info/LOG_LEVEL = notice/' "$d/server.cfg"
    spawn "$d/server.log" "$FS" "$d/server.cfg"
    wait_for_listen "$pub" 10 || { problem "streams $s: the server did not start"; return; }
    spawn "$d/client.log" "$FC" --retry-delay 1 --key-file "$(key)" 127.0.0.1 "$inner"
    wait_for_log "$d/server.log" "channel up" 15 || { problem "streams $s: no channel"; return; }
    printf 'global\n    maxconn 2000\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 1m\n    timeout server 1m\nfrontend fe\n    bind 127.0.0.1:%s\n    default_backend be\nbackend be\n    server target 127.0.0.1:%s\n' \
        "$hp" "$ECHO" >"$d/haproxy.cfg"
    spawn "$d/haproxy.log" haproxy -db -f "$d/haproxy.cfg"
    wait_for_listen "$hp" 10 || { problem "streams $s: haproxy did not start"; return; }
    # interleaved: haproxy, tunnel
    out_h=$(python3 "$T/churn.py" "$hp" "$s" 50)
    out_t=$(python3 "$T/churn.py" "$pub" "$s" 50)
    [[ $out_t == "ok=$s fail=0"* ]] || problem "streams $s: tunnel: $out_t"
    [[ $out_h == "ok=$s fail=0"* ]] || problem "streams $s: haproxy: $out_h"
    record "streams $s tunnel_rate=$(sed 's/.*rate=\([0-9]*\).*/\1/' <<<"$out_t") haproxy_rate=$(sed 's/.*rate=\([0-9]*\).*/\1/' <<<"$out_h") tunnel_secs=$(sed 's/.*secs=\([0-9.]*\).*/\1/' <<<"$out_t")"
    log "streams: $s: tunnel $out_t; haproxy $out_h"
    local others=()
    for p in "${ALL_PIDS[@]}"; do [ "$p" = "$ECHO_PID" ] || others+=("$p"); done
    ALL_PIDS=("${others[@]}")
    stop_all
    ALL_PIDS=("$ECHO_PID")
}

log "scale: clients $CLIENTS, mappings $MAPPINGS, streams $STREAMS (and a tenth of each); load $(cut -d' ' -f1-3 /proc/loadavg); ulimit -n $(ulimit -n)"
for part in ${ONLY//,/ }; do
    case $part in
    channels) for n in $((CLIENTS / 10)) "$CLIENTS"; do channels "$n" plain; channels "$n" tls; done ;;
    mappings) for n in $((MAPPINGS / 10)) "$MAPPINGS"; do mappings "$n"; done ;;
    streams) for n in $((STREAMS / 10)) "$STREAMS"; do streams "$n"; done ;;
    *) die "unknown part: $part" ;;
    esac
done

python3 - "$RES" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1])] if len(sys.argv) > 1 else []
def kv(r): return dict(f.split("=", 1) for f in r if "=" in f)
def growth(a, b): return "%.1f" % (b / a) if a else "-"
print("## Cost at scale (one run; growth = full / tenth, 10 = linear)\n")
print("| measure | tenth | full | growth |")
print("|---|---:|---:|---:|")
def pair(kind, key, sel=None, fmt="%s"):
    rs = [r for r in rows if r[0] == kind and (sel is None or sel(r))]
    if len(rs) < 2: return None
    a, b = kv(rs[0]), kv(rs[-1])
    return rs[0], rs[-1], a, b
for mode in ("plain", "tls"):
    p = pair("channels", None, lambda r, m=mode: r[1] == m)
    if p:
        r0, r1, a, b = p
        print("| %s channels: %s / %s all up (ms) | %s | %s | %s |" % (mode, r0[2], r1[2], a["up_ms"], b["up_ms"], growth(float(a["up_ms"]), float(b["up_ms"]))))
        print("| %s channels: server RSS per channel (KiB) | %s | %s | per-unit %s |" % (mode, a["per_kib"], b["per_kib"], growth(float(a["per_kib"]), float(b["per_kib"]))))
        print("| %s channels: server RSS idle -> all up (KiB) | %s -> %s | %s -> %s | |" % (mode, a["rss0"], a["rss1"], b["rss0"], b["rss1"]))
        print("| %s channels: clients that served their one stream | %s | %s | |" % (mode, a["streams"], b["streams"]))
p = pair("mappings", None)
if p:
    r0, r1, a, b = p
    print("| mappings %s / %s: start-up (ms) | %s | %s | %s |" % (r0[1], r1[1], a["start_ms"], b["start_ms"], growth(float(a["start_ms"]), float(b["start_ms"]))))
    print("| mappings: server RSS (KiB) | %s | %s | %s |" % (a["rss"], b["rss"], growth(float(a["rss"]), float(b["rss"]))))
    print("| mappings: HUP reload changing 1%% (ms, log stamps) | %s | %s | %s |" % (a["reload_ms"], b["reload_ms"], growth(max(float(a["reload_ms"]), 1), float(b["reload_ms"]))))
    print("| mappings: mappings changed / 256 MiB download across it | %s / %s | %s / %s | |" % (a["changed"], a["download"], b["changed"], b["download"]))
p = pair("streams", None)
if p:
    r0, r1, a, b = p
    for r, x in ((r0, a), (r1, b)):
        pass
    print("| streams %s / %s, 50 at a time: tunnel streams/s | %s | %s | |" % (r0[1], r1[1], a["tunnel_rate"], b["tunnel_rate"]))
    print("| streams: haproxy new connections/s | %s | %s | |" % (a["haproxy_rate"], b["haproxy_rate"]))
    print("| streams: tunnel / haproxy | %.2f | %.2f | |" % (float(a["tunnel_rate"]) / float(a["haproxy_rate"]), float(b["tunnel_rate"]) / float(b["haproxy_rate"])))
    print("| streams: tunnel total time (s) | %s | %s | %s |" % (a["tunnel_secs"], b["tunnel_secs"], growth(float(a["tunnel_secs"]), float(b["tunnel_secs"]))))
EOF
if [ ${#PROBLEMS[@]} -gt 0 ]; then
    echo
    echo "Problems:"
    printf -- '- %s\n' "${PROBLEMS[@]}"
    exit 1
fi
exit 0
