#!/bin/bash
# --daemon, --pid-file and syslog (issue 4).
#
# forward-server --daemon --pid-file F CONFIG returns promptly with status
# 0; F holds the pid of a live, detached forward-server (stdio on
# /dev/null, cwd /, not a session leader, not our child) that serves; its
# messages reach syslog as "forward-server[PID]" with facility daemon,
# "started" among them.  The same for forward-client --daemon.  TERM by the
# pid from F stops each daemon and removes F.
#
# Syslog: the test owns the syslog socket.  Each daemon runs in a private
# mount namespace (unshare -m --propagation private) whose /dev is a small
# tmpfs holding null, zero, random, urandom (bound from the real /dev) and
# "log", a bind mount of a Unix datagram socket this test listens on; the
# real /dev is never touched.  Where a mount namespace cannot be had (no
# CAP_SYS_ADMIN), the test falls back to journald if it runs
# (journalctl -t IDENT); with neither, every syslog check fails, with the
# reason.
#
# A --daemon is not our child: it is tracked (adopt_pid) once its pid file
# names it; on every exit path before that, any forward-server or
# forward-client whose command line names this test's temp folder (only
# ours can) is adopted too, so kill_started ends it.
. "$(dirname "$0")/lib.sh"

# adopt_strays: adopt every daemon of this test not tracked yet.
adopt_strays() {
    local d pid comm known k
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        comm=$(cat "$d/comm" 2>/dev/null) || continue
        case $comm in forward-server | forward-client) ;; *) continue ;; esac
        tr '\0' '\n' <"$d/cmdline" 2>/dev/null | grep -qF -- "$TMP/" || continue
        known=0
        for k in ${_BG_PIDS[@]+"${_BG_PIDS[@]}"}; do [ "$k" = "$pid" ] && known=1; done
        [ $known = 1 ] && continue
        info "adopting $comm (pid $pid), started by this test but not tracked yet"
        adopt_pid "$comm-stray" "$pid"
    done
}
trap 'rc=$?; adopt_strays; (exit $rc); _cleanup' EXIT

WWW=$(free_port) || fail "free_port"
PUB=$(free_port) || fail "free_port"
L=$LOCALHOST
mkdir -p "$TMP/www"
head -c 5000 /dev/urandom >"$TMP/www/data.bin" || fail "cannot write data.bin"
start_nginx nginx "$WWW" "$TMP/www"
write_config "$L:$PUB = $L:$WWW"
check_binaries

SYSLOG_SOCK=$TMP/syslog.sock
SYSLOG_OUT=$TMP/syslog.txt
: >"$SYSLOG_OUT"

# ns-run.sh TMP CMD ARGS...: CMD in the private namespace described above.
cat >"$TMP/ns-run.sh" <<'NSRUN'
#!/bin/sh
set -eu
tmp=$1
shift
mkdir -p "$tmp/realdev"
mount --bind /dev "$tmp/realdev"
mount -t tmpfs -o mode=755,size=64k tcpf-test-dev /dev
# from here on /dev is our own, empty tmpfs: never write to the real one
[ -z "$(ls -A /dev)" ]
for n in null zero random urandom; do
    : >"/dev/$n"
    mount --bind "$tmp/realdev/$n" "/dev/$n"
done
: >/dev/log
mount --bind "$tmp/syslog.sock" /dev/log
umount -l "$tmp/realdev"
exec "$@"
NSRUN

SYSLOG_MODE=none
SYSLOG_WHY=
if command -v unshare >/dev/null &&
    mkdir -p "$TMP/probe" &&
    unshare -m --propagation private mount -t tmpfs tcpf-probe "$TMP/probe" 2>/dev/null; then
    SYSLOG_MODE=socket
elif command -v journalctl >/dev/null && [ -S /run/systemd/journal/dev-log ]; then
    SYSLOG_MODE=journald
else
    SYSLOG_WHY="no syslog capture: no private mount namespace (unshare -m needs CAP_SYS_ADMIN) and no journald"
    note_failure "$SYSLOG_WHY: the daemons' syslog messages cannot be checked"
fi
info "syslog capture: $SYSLOG_MODE"

if [ $SYSLOG_MODE = socket ]; then
    start_bg syslogd python3 -u -c '
import os, socket, sys, time
path, out, life = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
print("ready", flush=True)
end = time.monotonic() + life
with open(out, "a") as f:
    while time.monotonic() < end:
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        f.write(d.decode("utf-8", "replace").rstrip("\n") + "\n")
        f.flush()
' "$SYSLOG_SOCK" "$SYSLOG_OUT" 120
    wait_log "$TMP/syslogd.log" ready 1 10 || fail "syslog listener did not start"
fi
SINCE=$(date '+%Y-%m-%d %H:%M:%S')

# syslog_text IDENT: what syslog got from IDENT so far
syslog_text() {
    case $SYSLOG_MODE in
    socket) grep -F "$1[" "$SYSLOG_OUT" ;;
    journald) journalctl -q -o short -t "$1" --since "$SINCE" 2>/dev/null ;;
    *) true ;;
    esac
}
# wait_syslog IDENT EXTENDED-REGEX [TIMEOUT]
wait_syslog() {
    local i n=$((${3:-10} * 10))
    if [ $SYSLOG_MODE = none ]; then
        info "cannot look for '$2' from $1: $SYSLOG_WHY"
        return 1
    fi
    for ((i = 0; i < n; i++)); do
        syslog_text "$1" | grep -qE -- "$2" && return 0
        sleep 0.1
    done
    return 1
}

# run_daemon NAME PIDFILE CMD ARGS...: start a --daemon, check it returns
# at once with 0 and leaves a pid file naming a live detached process.
# Sets DAEMON_PID.
run_daemon() {
    local name=$1 pidfile=$2 t0 rc el pid i comm
    shift 2
    t0=$(now_ms)
    if [ $SYSLOG_MODE = socket ]; then
        timeout 20 unshare -m --propagation private sh "$TMP/ns-run.sh" "$TMP" "$@" \
            >"$TMP/$name.start.log" 2>&1 </dev/null
    else
        timeout 20 "$@" >"$TMP/$name.start.log" 2>&1 </dev/null
    fi
    rc=$?
    el=$(($(now_ms) - t0))
    [ -f "$pidfile" ] && at_return=yes || at_return=no
    info "$name --daemon returned status $rc after $el ms (pid file there at return: $at_return)"
    # daemon(7): the original process exits only once the daemon is set up
    # and its pid file written, so whoever started it (an init script,
    # start-stop-daemon, systemd Type=forking) can read the file at once
    [ $at_return = yes ] || note_failure "$name --daemon returned before its pid file $pidfile existed"
    [ $rc = 0 ] || fail "$name --daemon exited with status $rc: $(cat "$TMP/$name.start.log")"
    ((el < 3000)) || note_failure "$name --daemon took $el ms to return"
    [ -s "$TMP/$name.start.log" ] && note_failure "$name --daemon wrote to its terminal: $(head -n 3 "$TMP/$name.start.log")"
    for ((i = 0; i < 50; i++)); do
        [ -s "$pidfile" ] && break
        sleep 0.1
    done
    [ -s "$pidfile" ] || fail "$name: no pid file $pidfile 5 s after --daemon returned"
    pid=$(cat "$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || fail "$name: pid file holds '$pid'"
    is_alive "$pid" || fail "$name: pid $pid from the pid file is not running"
    comm=$(cat "/proc/$pid/comm" 2>/dev/null)
    [ "$comm" = "$name" ] || fail "$name: pid $pid from the pid file is '$comm'"
    adopt_pid "$name-daemon" "$pid" || fail "$name: cannot track pid $pid"
    DAEMON_PID=$pid
    # detached: not our child, stdio on /dev/null, cwd /, not a session or
    # process group leader (double fork)
    local ppid sid pgid
    read -r ppid pgid sid < <(awk '{ sub(/.*\) /, ""); print $2, $3, $4 }' "/proc/$pid/stat")
    [ "$ppid" != $$ ] || note_failure "$name daemon is still our child"
    [ "$sid" != "$pid" ] || note_failure "$name daemon is a session leader (could reacquire a terminal)"
    [ "$pgid" != "$pid" ] || note_failure "$name daemon is a process group leader"
    [ "$sid" != "$(awk '{ sub(/.*\) /, ""); print $4 }' /proc/$$/stat)" ] || note_failure "$name daemon did not start a new session"
    for fd in 0 1 2; do
        [ "$(readlink "/proc/$pid/fd/$fd")" = /dev/null ] ||
            note_failure "$name daemon fd $fd is $(readlink "/proc/$pid/fd/$fd"), not /dev/null"
    done
    [ "$(readlink "/proc/$pid/cwd")" = / ] || note_failure "$name daemon cwd is $(readlink "/proc/$pid/cwd")"
}

# --- a daemon that cannot start must say so in its exit status --------------
# (its pid file cannot be written: the folder does not exist)
for d in server client; do
    if [ $d = server ]; then
        cmd=("$FORWARD_SERVER" --daemon --pid-file "$TMP/no-such-dir/$d.pid" "$CONFIG")
    else
        cmd=("$FORWARD_CLIENT" --daemon --pid-file "$TMP/no-such-dir/$d.pid" --key-file "$(test_key)" "$L" "$INNER_PORT")
    fi
    timeout 20 "${cmd[@]}" >"$TMP/$d-nopid.log" 2>&1 </dev/null
    rc=$?
    info "forward-$d --daemon with an unwritable pid file: exit status $rc"
    [ $rc != 0 ] || note_failure "forward-$d --daemon exited 0 although its pid file could not be written (the daemon died; the error went to syslog only)"
    for ((i = 0; i < 20; i++)); do
        port_listening $L "$INNER_PORT" || break
        sleep 0.1
    done
done
wait_not_listening $L "$INNER_PORT" 5 || fail "a failed daemon is still listening on $INNER_PORT"

# --- forward-server --daemon ----------------------------------------------------
run_daemon forward-server "$TMP/server.pid" "$FORWARD_SERVER" --daemon --pid-file "$TMP/server.pid" "$CONFIG"
SERVER_PID=$DAEMON_PID
SERVER_LOG=$TMP/server.log   # the daemon logs to syslog; this stays empty
wait_port $L "$INNER_PORT" 5 || fail "daemon server not listening on INNER_PORT"
wait_port $L "$PUB" 5 || fail "daemon server not listening on $PUB"
wait_syslog forward-server "forward-server\[$SERVER_PID\]: forward-server .* started" ||
    note_failure "syslog has no 'forward-server[$SERVER_PID]: ... started' line: $(tail -n 5 "$SYSLOG_OUT" | tr '\n' '|')"
if [ $SYSLOG_MODE = socket ]; then
    # <29> = facility daemon (3) * 8 + notice (5)
    grep -qE "^<29>.*forward-server\[$SERVER_PID\]: forward-server .* started" "$SYSLOG_OUT" ||
        note_failure "the 'started' message is not facility daemon, level notice: $(grep -m1 started "$SYSLOG_OUT")"
fi

# it serves, through an ordinary client
start_client client
wait_log "$CLIENT_LOG" 'channel up' 1 10 || fail "no channel up with the daemon server"
wait_syslog forward-server "forward-server\[$SERVER_PID\]: client .*channel up" ||
    note_failure "syslog has no 'channel up' from the daemon server"
code=$(http_get "http://$L:$PUB/data.bin" "$TMP/get1.bin") || true
[ "$code" = 200 ] && cmp -s "$TMP/get1.bin" "$TMP/www/data.bin" || fail "daemon server does not serve: HTTP $code"

# --- forward-client --daemon ----------------------------------------------------
run_daemon forward-client "$TMP/client.pid" "$FORWARD_CLIENT" --daemon --pid-file "$TMP/client.pid" \
    --key-file "$(test_key)" --retry-delay 1 $L "$INNER_PORT"
DCLIENT_PID=$DAEMON_PID
wait_syslog forward-client "forward-client\[$DCLIENT_PID\]: forward-client .* started" ||
    note_failure "syslog has no 'forward-client[$DCLIENT_PID]: ... started' line"
wait_syslog forward-client "forward-client\[$DCLIENT_PID\]: server .*channel up" ||
    note_failure "syslog has no 'channel up' from the daemon client"
wait_syslog forward-server "channel up" 10
# only the daemon client is left to serve
stop_bg "$CLIENT_PID" 15
code=$(http_get "http://$L:$PUB/data.bin" "$TMP/get2.bin") || true
[ "$code" = 200 ] && cmp -s "$TMP/get2.bin" "$TMP/www/data.bin" || note_failure "daemon client does not serve: HTTP $code"
wait_syslog forward-client "forward-client\[$DCLIENT_PID\]: stream [0-9]+ closed" ||
    note_failure "syslog has no stream line from the daemon client"

# --- TERM by the pid files --------------------------------------------------------
for d in client server; do
    pidfile=$TMP/$d.pid
    pid=$(cat "$pidfile")
    kill_bg "$pid" TERM || fail "cannot signal the $d daemon (pid $pid)"
    for ((i = 0; i < 150; i++)); do
        is_alive "$pid" || break
        sleep 0.1
    done
    is_alive "$pid" && fail "the $d daemon (pid $pid) still runs 15 s after TERM"
    for ((i = 0; i < 20; i++)); do
        [ -e "$pidfile" ] || break
        sleep 0.1
    done
    [ -e "$pidfile" ] && note_failure "the $d daemon left its pid file $pidfile behind"
    info "$d daemon (pid $pid) stopped by TERM; pid file removed"
done
wait_syslog forward-server "forward-server\[$SERVER_PID\]: stopped" 5 ||
    note_failure "syslog has no 'stopped' line from the server daemon"
[ $SYSLOG_MODE = socket ] && info "syslog got $(wc -l <"$SYSLOG_OUT") messages, e.g. $(grep -m1 'forward-client.*started' "$SYSLOG_OUT")"
finish_test
