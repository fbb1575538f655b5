#!/usr/bin/env bash
# bench/run.sh -- tcp-forward benchmark: throughput and memory against
# direct, haproxy and ssh -R anchors, all on 127.0.0.1. See bench/README.md.
#
# Prints progress on stderr and the result table on stdout. Everything it
# creates lives in one temp dir that is removed on exit; every process it
# starts is recorded and stopped on exit (trap), even on failure.
#
# Structure (to extend: add a path in paths.sh, or a measure_* function
# here and its name to BENCH_MEASURES, plus a section in report.py):
#   main -> ensure_tools, raise_fd_limit, measure_<name> for each measure
#   measure_throughput : iperf3 -P 1 / -P 4 through each path
#   measure_memory     : RSS idle / with N held echo-verified streams
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$BENCH_DIR/lib.sh"
# shellcheck source=paths.sh
. "$BENCH_DIR/paths.sh"

# ------------------------------------------------------------------ knobs
BENCH_SECONDS=${BENCH_SECONDS:-5}          # iperf3 -t per test
BENCH_OMIT=${BENCH_OMIT:-1}                # iperf3 -O (warm-up, not counted)
BENCH_ROUNDS=${BENCH_ROUNDS:-1}            # repeat the throughput matrix; median
BENCH_PARALLEL=${BENCH_PARALLEL:-"1 4"}    # iperf3 -P values
BENCH_PAUSE=${BENCH_PAUSE:-1}              # seconds between iperf3 tests
BENCH_PATHS=${BENCH_PATHS:-"direct haproxy sshR tcpf"}
BENCH_MEM_PATHS=${BENCH_MEM_PATHS:-"tcpf sshR haproxy"}
BENCH_MEASURES=${BENCH_MEASURES:-"throughput memory"}
BENCH_STREAMS=${BENCH_STREAMS:-1000}       # held streams for the memory measure
BENCH_BATCH=${BENCH_BATCH:-100}            # streams opened+verified concurrently
BENCH_SETTLE=${BENCH_SETTLE:-2}            # seconds before each RSS reading
BENCH_TCPF_LOG_LEVEL=${BENCH_TCPF_LOG_LEVEL:-notice}   # "channel up" is logged at notice
BENCH_TCPF_CLIENT_ARGS=${BENCH_TCPF_CLIENT_ARGS:-}      # extra forward-client options, e.g. "--log-level notice"
BENCH_KEEP_TMP=${BENCH_KEEP_TMP:-0}        # 1: keep the temp dir (logs) for debugging
STARTUP_TIMEOUT=${BENCH_STARTUP_TIMEOUT:-15}
FORWARD_SERVER=${FORWARD_SERVER:-/work/main/src/forward-server}
FORWARD_CLIENT=${FORWARD_CLIENT:-/work/main/src/forward-client}
FORWARD_SERVER_SRC=$FORWARD_SERVER

WORK=""
RESULTS=""
FAILURES=0
PY=""
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# ------------------------------------------------------------------ setup
cleanup_all() {
    local rc=$? pid kids=() k
    set +e
    trap - EXIT INT TERM
    # Per-connection children of our own sshd (and of anything else we
    # started) first, then what we started, newest first.
    for pid in "${ALL_PIDS[@]}"; do
        for k in $(descendant_pids "$pid"); do kids+=("$k"); done
    done
    [[ ${#kids[@]} -gt 0 ]] && STOP_GRACE=3 stop_pids "${kids[@]}"
    local rev=()
    for pid in "${ALL_PIDS[@]}"; do rev=("$pid" "${rev[@]}"); done
    [[ ${#rev[@]} -gt 0 ]] && STOP_GRACE=3 stop_pids "${rev[@]}"
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ $BENCH_KEEP_TMP == 1 ]]; then
            log "kept temp dir $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    (( SSH_CREATED_RUN_SSHD )) && rmdir /run/sshd 2>/dev/null
    exit "$rc"
}

ensure_tools() {
    local -A pkg_of=(
        [iperf3]=iperf3 [haproxy]=haproxy [/usr/sbin/sshd]=openssh-server
        [ssh]=openssh-client [ssh-keygen]=openssh-client [python3]=python3
    )
    local tool missing=()
    for tool in "${!pkg_of[@]}"; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("${pkg_of[$tool]}")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        local pkgs
        pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
        [[ $(id -u) == 0 ]] || die "missing packages: $pkgs (need root to install)"
        log "installing missing packages: $pkgs"
        timeout 600 apt-get update -q >&2 || die "apt-get update failed"
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q $pkgs >&2 \
            || die "apt-get install $pkgs failed"
    fi
    PY=$(python3 -c 'import sys; print(sys.executable)')
}

raise_fd_limit() {
    local need=$(( BENCH_STREAMS * 2 + 1024 )) hard
    hard=$(ulimit -Hn)
    if [[ $hard != unlimited ]] && (( hard < need )); then
        ulimit -Hn "$need" 2>/dev/null || warn "cannot raise hard fd limit to $need (is $hard)"
    fi
    hard=$(ulimit -Hn)
    ulimit -Sn "$hard" 2>/dev/null || ulimit -Sn "$need" 2>/dev/null || true
    local soft; soft=$(ulimit -Sn)
    if [[ $soft != unlimited ]] && (( soft < need )); then
        warn "fd limit $soft < $need needed for $BENCH_STREAMS streams"
    fi
}

# record KIND FIELDS... : one TSV line in the results file (read by report.py)
record() { local IFS=$'\t'; printf '%s\n' "$*" >>"$RESULTS"; }

# fail ID WHAT MESSAGE [LOGFILES...] : record a problem and show log tails.
fail() {
    local id=$1 what=$2 msg=$3 f; shift 3
    FAILURES=$(( FAILURES + 1 ))
    warn "${PATH_LABEL[$id]:-$id} / $what: $msg"
    record problem "$id" "$what" "$msg"
    for f in "$@"; do show_log "$f" 40; done
}

# start_path ID TARGET_PORT WHAT : path_start_ID, recording failures.
start_path() {
    local id=$1 target=$2 what=$3
    PATH_ERROR=""
    log "starting ${PATH_LABEL[$id]} -> 127.0.0.1:$target"
    if path_start_"$id" "$target"; then
        log "  ${PATH_LABEL[$id]} up: entry 127.0.0.1:${ENTRY[$id]}"
        return 0
    fi
    # shellcheck disable=SC2046
    fail "$id" "$what" "start failed: $PATH_ERROR" $(path_logs_"$id")
    path_stop_"$id"
    return 1
}

# check_path ID WHAT : after a measurement: are the path's processes alive?
check_path() {
    local id=$1 what=$2
    path_alive "$id" && return 0
    # shellcheck disable=SC2046
    fail "$id" "$what" "a process of the path died (pids: ${PATH_PIDS[$id]:-})" $(path_logs_"$id")
    path_stop_"$id"
    return 1
}

# snapshot_daemons : run copies of the daemon binaries taken at start, so a
# rebuild in the tree during the run cannot mix two builds (or hit a
# half-written file).
snapshot_daemons() {
    local d=$WORK/bin
    mkdir -p "$d"
    FORWARD_SERVER_SRC=$FORWARD_SERVER
    if [[ -x $FORWARD_SERVER && -x $FORWARD_CLIENT ]]; then
        if ! { cp "$FORWARD_SERVER" "$d/forward-server" && cp "$FORWARD_CLIENT" "$d/forward-client"; }; then
            die "cannot copy the daemon binaries"
        fi
        FORWARD_SERVER=$d/forward-server
        FORWARD_CLIENT=$d/forward-client
    fi
}

record_meta() {
    record meta date "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    record meta host "$(uname -srm), $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)"
    record meta loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
    record meta iperf3 "$(iperf3 --version 2>&1 | head -n1)"
    record meta haproxy "$(haproxy -v 2>&1 | head -n1 | cut -d' ' -f1-3)"
    record meta openssh "$(ssh -V 2>&1)"
    local bin_info="missing ($FORWARD_SERVER_SRC)"
    if [[ -x $FORWARD_SERVER ]]; then
        bin_info="$FORWARD_SERVER_SRC ($(date -u -r "$FORWARD_SERVER_SRC" '+%Y-%m-%d %H:%M:%S UTC'), sha256 $(sha256sum "$FORWARD_SERVER" | cut -c1-12)); client sha256 $(sha256sum "$FORWARD_CLIENT" | cut -c1-12)"
    fi
    record meta forward_server "$bin_info"
    record meta settings "BENCH_SECONDS=$BENCH_SECONDS BENCH_OMIT=$BENCH_OMIT BENCH_ROUNDS=$BENCH_ROUNDS BENCH_PARALLEL='$BENCH_PARALLEL' BENCH_STREAMS=$BENCH_STREAMS"
}

# ------------------------------------------------------------------ iperf3
IPERF_PORT=""
IPERF_PID=""
start_iperf_server() {
    [[ -n $IPERF_PORT ]] || IPERF_PORT=$(alloc_ports 1)
    spawn "$WORK/iperf3-server.log" iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT"
    IPERF_PID=$SPAWNED_PID
    wait_for_listen "$IPERF_PORT" "$STARTUP_TIMEOUT" "$IPERF_PID" || {
        show_log "$WORK/iperf3-server.log"
        die "iperf3 server did not listen on 127.0.0.1:$IPERF_PORT"
    }
}
stop_iperf_server() {
    [[ -n $IPERF_PID ]] || return 0
    stop_pids "$IPERF_PID"; forget_pids "$IPERF_PID"; IPERF_PID=""
}

# run_iperf ID STREAMS ROUND : one iperf3 test through path ID; records
# "tput ID STREAMS ROUND GBIT/S" (receiver side).
run_iperf() {
    local id=$1 p=$2 round=$3 json rc gbps pids=() t0 t1 c0 c1 pct
    json=$WORK/iperf.$id.P$p.r$round.json
    log "iperf3 ${PATH_LABEL[$id]} -P $p (round $round, ${BENCH_SECONDS}s + ${BENCH_OMIT}s warm-up)"
    # CPU used by the path's own processes (not iperf3) during the test.
    read -r -a pids <<<"$(path_procs_"$id" | awk '{print $2}' | tr ',\n' '  ')"
    t0=$(now_ms); c0=$(cpu_ticks "${pids[@]}")
    rc=0
    # In the background + wait, so a SIGTERM/SIGINT to the bench is handled
    # at once (bash defers traps until a foreground child exits).
    timeout -k 5 $(( BENCH_SECONDS + BENCH_OMIT + 30 )) \
        iperf3 -c 127.0.0.1 -p "${ENTRY[$id]}" -t "$BENCH_SECONDS" -O "$BENCH_OMIT" \
        -P "$p" -J --connect-timeout 5000 </dev/null >"$json" 2>"$json.err" &
    ALL_PIDS+=("$!")
    wait "$!" || rc=$?
    forget_pids "$!"
    t1=$(now_ms); c1=$(cpu_ticks "${pids[@]}")
    if gbps=$("$PY" "$BENCH_DIR/iperf_gbps.py" "$json" 2>&1); then
        if [[ ${#pids[@]} -gt 0 ]]; then
            # % of one core = ticks / CLK_TCK / seconds * 100
            pct=$(( (c1 - c0) * 100000 / CLK_TCK / (t1 - t0 > 0 ? t1 - t0 : 1) ))
            record cpu "$id" "$p" "$round" "$pct"
            log "  $gbps Gbit/s, path processes ${pct}% of one core"
        else
            log "  $gbps Gbit/s"
        fi
        record tput "$id" "$p" "$round" "$gbps"
    else
        [[ $rc == 124 || $rc == 137 ]] && gbps="timed out after $(( BENCH_SECONDS + BENCH_OMIT + 30 ))s; $gbps"
        # shellcheck disable=SC2046
        fail "$id" "iperf3 -P $p" "iperf3 failed (rc $rc): $gbps" "$json.err" $(path_logs_"$id")
        record tput "$id" "$p" "$round" FAIL
        # The iperf3 server may be stuck in the broken test: restart it.
        stop_iperf_server; start_iperf_server
    fi
}

measure_throughput() {
    local id up=() p round
    log "== throughput"
    start_iperf_server
    for id in $BENCH_PATHS; do
        start_path "$id" "$IPERF_PORT" throughput && up+=("$id")
    done
    [[ -n $SSH_CIPHER ]] && record meta ssh_cipher "$SSH_CIPHER"
    for (( round = 1; round <= BENCH_ROUNDS; round++ )); do
        for p in $BENCH_PARALLEL; do
            for id in "${up[@]}"; do
                [[ -n ${ENTRY[$id]:-} ]] || continue   # died earlier
                run_iperf "$id" "$p" "$round"
                check_path "$id" "iperf3 -P $p" || true
                sleep "$BENCH_PAUSE"
            done
        done
    done
    for id in "${up[@]}"; do [[ -n ${ENTRY[$id]:-} ]] && path_stop_"$id"; done
    stop_iperf_server
}

# ------------------------------------------------------------------ memory
ECHO_PORT=""
ECHO_PID=""

# mem_snapshot ID STATE : record "mem ID LABEL STATE KIB" per process.
mem_snapshot() {
    local id=$1 state=$2 label pids kib
    while read -r label pids; do
        # shellcheck disable=SC2086
        kib=$(rss_sum_kib ${pids//,/ })
        record mem "$id" "$label" "$state" "$kib"
        log "  RSS $label ($state): $kib KiB"
    done < <(path_procs_"$id")
}

# mem_one ID : fresh instance of path ID to the echo server; RSS idle, with
# BENCH_STREAMS verified idle streams held, and after they are closed.
mem_one() {
    local id=$1 hold_log hpid line wait_s
    start_path "$id" "$ECHO_PORT" "memory" || return 0
    sleep "$BENCH_SETTLE"
    mem_snapshot "$id" idle

    hold_log=$WORK/hold.$id.log
    log "opening $BENCH_STREAMS streams through ${PATH_LABEL[$id]} (batches of $BENCH_BATCH, each verified)"
    spawn "$hold_log" "$PY" "$BENCH_DIR/hold_streams.py" "${ENTRY[$id]}" "$BENCH_STREAMS" \
        --batch "$BENCH_BATCH" --timeout 30 --max-hold 900
    hpid=$SPAWNED_PID
    wait_s=$(( (BENCH_STREAMS / BENCH_BATCH + 1) * 31 + 10 ))
    if ! wait_for_log "$hold_log" '^(READY|FAILED)' "$wait_s" "$hpid" \
        || ! grep -q '^READY' "$hold_log"; then
        line=$(grep -E '^(FAILED|PROGRESS)' "$hold_log" | tail -n 1)
        # shellcheck disable=SC2046
        fail "$id" "memory" "streams not all verified: ${line:-no output within ${wait_s}s}" \
            "$hold_log" $(path_logs_"$id")
        stop_pids "$hpid"; forget_pids "$hpid"
        path_stop_"$id"
        return 0
    fi
    line=$(grep '^READY' "$hold_log")
    record memcheck "$id" opened "$(echo "$line" | cut -d' ' -f2)" "$(echo "$line" | cut -d' ' -f3)"
    log "  $BENCH_STREAMS streams verified in $(echo "$line" | cut -d' ' -f3)s"
    sleep "$BENCH_SETTLE"
    mem_snapshot "$id" held
    check_path "$id" "memory (holding $BENCH_STREAMS streams)" || { stop_pids "$hpid"; forget_pids "$hpid"; return 0; }

    # Re-verify every held stream after the measurement (nothing was dropped).
    kill -USR1 "$hpid" 2>/dev/null || true
    if wait_for_log "$hold_log" '^RECHECK' 120 "$hpid"; then
        line=$(grep '^RECHECK' "$hold_log" | head -n 1)
        record memcheck "$id" recheck "$(ok=${line#*ok=}; echo "${ok%% *}")" "$line"
        log "  $line"
        [[ $line == *"fail=0"* ]] || fail "$id" "memory" "held streams broke: $line" "$hold_log"
    else
        fail "$id" "memory" "re-check of held streams did not finish" "$hold_log"
    fi

    stop_pids "$hpid"; forget_pids "$hpid"
    sleep "$BENCH_SETTLE"
    if check_path "$id" "memory (closing $BENCH_STREAMS streams)"; then
        mem_snapshot "$id" after
        path_stop_"$id"
    fi
}

measure_memory() {
    local id
    log "== memory ($BENCH_STREAMS held streams)"
    record meta streams "$BENCH_STREAMS"
    ECHO_PORT=$(alloc_ports 1)
    spawn "$WORK/echo.log" "$PY" "$BENCH_DIR/echo_server.py" "$ECHO_PORT"
    ECHO_PID=$SPAWNED_PID
    wait_for_listen "$ECHO_PORT" "$STARTUP_TIMEOUT" "$ECHO_PID" || {
        show_log "$WORK/echo.log"; die "echo server did not start"
    }
    for id in $BENCH_MEM_PATHS; do
        mem_one "$id"
        [[ -n $SSH_CIPHER ]] && ! grep -q '^meta	ssh_cipher' "$RESULTS" && record meta ssh_cipher "$SSH_CIPHER"
    done
    stop_pids "$ECHO_PID"; forget_pids "$ECHO_PID"; ECHO_PID=""
}

# ------------------------------------------------------------------ main
main() {
    local m
    ensure_tools
    raise_fd_limit
    WORK=$(mktemp -d /tmp/tcpf-bench.XXXXXX)
    RESULTS=$WORK/results.tsv
    : >"$RESULTS"
    log "temp dir $WORK, fd limit $(ulimit -n)"
    snapshot_daemons
    record_meta
    for m in $BENCH_MEASURES; do
        declare -F "measure_$m" >/dev/null || die "unknown measure '$m' in BENCH_MEASURES"
        "measure_$m"
    done
    record meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
    "$PY" "$BENCH_DIR/report.py" "$RESULTS"
    if (( FAILURES > 0 )); then
        warn "$FAILURES problem(s), see the Problems section"
        return 1
    fi
}

trap cleanup_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
main "$@"
