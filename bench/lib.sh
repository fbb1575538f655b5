# shellcheck shell=bash
# bench/lib.sh -- process bookkeeping, bounded waits and small utilities for
# bench/run.sh. Sourced, never executed.
#
# Rules kept here:
#   * every process the bench starts goes through spawn(), which records its
#     PID in ALL_PIDS; cleanup_all() (EXIT trap) stops exactly those PIDs
#     (plus the per-connection children of our own sshd, found by PPID);
#   * every wait is bounded (wait_for_listen, wait_for_log, stop_pids).

ALL_PIDS=()          # every PID spawn() started, in start order
SPAWNED_PID=""       # PID of the most recent spawn()

log()  { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { printf '[bench %s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die()  { printf '[bench %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 2; }

# spawn LOGFILE CMD ARGS... : start CMD in the background, stdout+stderr to
# LOGFILE, stdin from /dev/null. Sets SPAWNED_PID (no subshell, so the PID is
# the command itself, a direct child of this shell).
spawn() {
    local logfile=$1; shift
    "$@" </dev/null >"$logfile" 2>&1 &
    SPAWNED_PID=$!
    ALL_PIDS+=("$SPAWNED_PID")
}

# is_alive PID : true if PID exists and is not a zombie.
is_alive() {
    local st
    [[ -r /proc/$1/stat ]] || return 1
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $st && $st != Z && $st != X ]]
}

# child_pids PID : direct children of PID (one per line).
child_pids() {
    local f rest
    for f in /proc/[0-9]*/stat; do
        # comm (field 2) may contain spaces: strip up to the last ') ';
        # what remains starts with "STATE PPID ...".
        { rest=$(<"$f"); } 2>/dev/null || continue
        rest=${rest##*) }
        rest=${rest#* }
        [[ ${rest%% *} == "$1" ]] || continue
        f=${f#/proc/}; echo "${f%/stat}"
    done
}

# descendant_pids PID : all descendants of PID, parents before children.
descendant_pids() {
    local kid
    for kid in $(child_pids "$1"); do
        echo "$kid"
        descendant_pids "$kid"
    done
}

# stop_pids PID... : SIGTERM, wait up to STOP_GRACE seconds, then SIGKILL;
# reap our own children. Never touches PIDs that are already gone.
stop_pids() {
    local pid deadline alive
    [[ $# -gt 0 ]] || return 0
    for pid in "$@"; do
        is_alive "$pid" && kill -TERM "$pid" 2>/dev/null
    done
    deadline=$(( $(date +%s%N) / 1000000 + ${STOP_GRACE:-5} * 1000 ))
    while :; do
        alive=0
        for pid in "$@"; do is_alive "$pid" && alive=1; done
        (( alive )) || break
        (( $(date +%s%N) / 1000000 >= deadline )) && break
        sleep 0.05
    done
    for pid in "$@"; do
        if is_alive "$pid"; then
            warn "pid $pid did not exit on SIGTERM within ${STOP_GRACE:-5}s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
    done
    for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
    return 0
}

# forget_pids PID... : drop PIDs from ALL_PIDS (after stop_pids).
forget_pids() {
    local keep=() p q drop
    for p in "${ALL_PIDS[@]}"; do
        drop=0
        for q in "$@"; do [[ $p == "$q" ]] && drop=1; done
        (( drop )) || keep+=("$p")
    done
    ALL_PIDS=("${keep[@]}")
}

# is_listening PORT : true if some socket LISTENs on 127.0.0.1:PORT.
# Read from /proc/net/tcp, so probing never opens a connection (a probe
# connection would reach iperf3 or the echo server through the tunnel).
is_listening() {
    local want
    want=$(printf '0100007F:%04X' "$1")
    awk -v w="$want" '$2 == w && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp
}

# wait_for_listen PORT TIMEOUT_S [PID] : until 127.0.0.1:PORT is listening.
# Fails early if PID (the process expected to listen, or to cause the
# listen) dies.
wait_for_listen() {
    local port=$1 timeout=$2 pid=${3:-} i
    for (( i = 0; i < timeout * 20; i++ )); do
        is_listening "$port" && return 0
        if [[ -n $pid ]] && ! is_alive "$pid"; then return 1; fi
        sleep 0.05
    done
    return 1
}

# wait_for_log FILE REGEX TIMEOUT_S [PID] : until FILE has a line matching
# REGEX (grep -E). Fails early if PID dies.
wait_for_log() {
    local file=$1 re=$2 timeout=$3 pid=${4:-} i
    for (( i = 0; i < timeout * 20; i++ )); do
        grep -qE -- "$re" "$file" 2>/dev/null && return 0
        if [[ -n $pid ]] && ! is_alive "$pid"; then
            grep -qE -- "$re" "$file" 2>/dev/null && return 0
            return 1
        fi
        sleep 0.05
    done
    return 1
}

# rss_kib PID : VmRSS in KiB (empty if the process is gone).
rss_kib() {
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null
}

# rss_parts_kib PID... : "ANON FILE SHMEM" (RssAnon, RssFile, RssShmem in
# KiB) summed over PIDs: FILE is the binary's and shared libraries' pages.
rss_parts_kib() {
    local pid a=0 f=0 s=0 k v _
    for pid in "$@"; do
        while read -r k v _; do
            case $k in
                RssAnon:) a=$(( a + v )) ;;
                RssFile:) f=$(( f + v )) ;;
                RssShmem:) s=$(( s + v )) ;;
            esac
        done < <(cat "/proc/$pid/status" 2>/dev/null)
    done
    echo "$a $f $s"
}

# rss_sum_kib PID... : sum of VmRSS over PIDs.
rss_sum_kib() {
    local pid total=0 r
    for pid in "$@"; do
        r=$(rss_kib "$pid"); total=$(( total + ${r:-0} ))
    done
    echo "$total"
}

# show_log FILE [LINES] : print the tail of a log to stderr (for failures).
show_log() {
    local f=$1 n=${2:-30}
    [[ -f $f ]] || return 0
    printf -- '----- %s (last %s lines) -----\n' "$f" "$n" >&2
    tail -n "$n" "$f" >&2
    printf -- '-----\n' >&2
}

# alloc_ports N : print N free TCP ports on 127.0.0.1 (bound together, so
# they are distinct). With BENCH_PORT_BASE set, use BASE, BASE+1, ...
alloc_ports() {
    if [[ -n ${BENCH_PORT_BASE:-} ]]; then
        local i
        for (( i = 0; i < $1; i++ )); do
            echo $(( BENCH_PORT_BASE + NEXT_PORT_OFFSET + i ))
        done
        NEXT_PORT_OFFSET=$(( NEXT_PORT_OFFSET + $1 ))
        return
    fi
    "$PY" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
EOF
}
NEXT_PORT_OFFSET=0

# cpu_ticks PID... : utime+stime (all threads) summed over PIDs, in clock
# ticks (getconf CLK_TCK per second). Gone PIDs count 0.
cpu_ticks() {
    local pid total=0 rest f
    for pid in "$@"; do
        { rest=$(<"/proc/$pid/stat"); } 2>/dev/null || continue
        rest=${rest##*) }
        # after comm: state(3) ppid(4) ... utime(14) stime(15) -> index 11, 12
        read -r -a f <<<"$rest"
        total=$(( total + f[11] + f[12] ))
    done
    echo "$total"
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
