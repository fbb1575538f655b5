#!/usr/bin/env bash
# bench/run.sh -- tcp-forward benchmark against direct, haproxy and ssh -R
# anchors, all on 127.0.0.1. See bench/README.md.
#
# Prints progress on stderr and the result tables on stdout. Everything it
# creates lives in one temp dir that is removed on exit; every process it
# starts is recorded and stopped on exit (trap), even on failure.
#
# Exit status: 0 when every measurement worked (whether or not the issue-7/19
# targets were met), 1 when a measurement failed (wrong data, a crash, a
# hang, a path that did not start), 2+ on a usage/setup error.
#
# Sections (BENCH_ONLY, in this order by default):
#   iperf    measure_iperf   : iperf3 -P 1 / -P 4 through each path
#   wrk      measure_wrk     : wrk -> nginx 1 KiB, keep-alive and new
#                              connection per request
#   streams  measure_streams : N echo-verified streams held through one
#                              instance: RSS idle / held / after, open rate
#   latency  measure_latency : small request/response round trips with and
#                              without a saturating bulk stream
# Then report.py prints the tables and the issue-7 and issue-19 targets.
#
# To extend: add a path in paths.sh, or a measure_* function here plus its
# name in SECTIONS and a section in report.py.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$BENCH_DIR/lib.sh"
# shellcheck source=paths.sh
. "$BENCH_DIR/paths.sh"

# ------------------------------------------------------------------ knobs
SECTIONS="iperf wrk streams latency fairness"
# BENCH_ONLY selects sections (comma or space separated). BENCH_MEASURES is
# the older name; "throughput" and "memory" are accepted for iperf/streams.
BENCH_ONLY=${BENCH_ONLY:-${BENCH_MEASURES:-$SECTIONS}}
BENCH_PATHS=${BENCH_PATHS:-"direct haproxy sshR tcpf tcpf_tls"}
# iperf
BENCH_SECONDS=${BENCH_SECONDS:-5}          # iperf3 -t per test
BENCH_OMIT=${BENCH_OMIT:-1}                # iperf3 -O (warm-up, not counted)
BENCH_ROUNDS=${BENCH_ROUNDS:-2}            # repeat the iperf and wrk matrices; medians
BENCH_PARALLEL=${BENCH_PARALLEL:-"1 4"}    # iperf3 -P values
BENCH_PAUSE=${BENCH_PAUSE:-1}              # seconds between tests
BENCH_IPERF_PATHS=${BENCH_IPERF_PATHS:-$BENCH_PATHS}
# wrk
BENCH_WRK_PATHS=${BENCH_WRK_PATHS:-$BENCH_PATHS}
BENCH_WRK_MODES=${BENCH_WRK_MODES:-"keepalive close"}
BENCH_WRK_SECONDS=${BENCH_WRK_SECONDS:-5}
BENCH_WRK_WARMUP=${BENCH_WRK_WARMUP:-1}    # unrecorded wrk run before each test (0: none)
BENCH_WRK_CONNS=${BENCH_WRK_CONNS:-50}
BENCH_WRK_THREADS=${BENCH_WRK_THREADS:-2}
BENCH_WRK_FILE_BYTES=${BENCH_WRK_FILE_BYTES:-1024}
BENCH_NGINX_WORKERS=${BENCH_NGINX_WORKERS:-1}
# streams
BENCH_STREAMS=${BENCH_STREAMS:-10000}      # streams held through tcp-forward
BENCH_ANCHOR_STREAMS=${BENCH_ANCHOR_STREAMS:-1000}   # ... through ssh -R / haproxy
BENCH_STREAMS_PATHS=${BENCH_STREAMS_PATHS:-${BENCH_MEM_PATHS:-"tcpf sshR haproxy"}}
BENCH_BATCH=${BENCH_BATCH:-100}            # streams opened+verified concurrently
BENCH_SETTLE=${BENCH_SETTLE:-2}            # seconds before each RSS reading
BENCH_PROC_STREAMS=${BENCH_PROC_STREAMS:-} # max streams per holder/echo process (default: fd limit - 128)
# latency
BENCH_LAT_PATHS=${BENCH_LAT_PATHS:-$BENCH_PATHS}
BENCH_LAT_BULK=${BENCH_LAT_BULK:-"down up"}   # bulk directions measured besides "none"
BENCH_LAT_N=${BENCH_LAT_N:-1000}           # round trips per measurement
BENCH_LAT_SIZE=${BENCH_LAT_SIZE:-64}       # bytes per request (and response)
BENCH_LAT_WARMUP=${BENCH_LAT_WARMUP:-1}    # seconds of bulk before measuring
# fairness
BENCH_FAIR_PATHS=${BENCH_FAIR_PATHS:-"haproxy tcpf"}
BENCH_FAIR_STREAMS=${BENCH_FAIR_STREAMS:-8}   # bulk streams at once (and 1 alone)
BENCH_FAIR_SECONDS=${BENCH_FAIR_SECONDS:-5}   # counted after BENCH_LAT_WARMUP
BENCH_FAIR_DIRS=${BENCH_FAIR_DIRS:-"down up"}
# tcp-forward
BENCH_TCPF_LOG_LEVEL=${BENCH_TCPF_LOG_LEVEL:-notice}   # "channel up" is logged at notice
BENCH_TCPF_CLIENT_ARGS=${BENCH_TCPF_CLIENT_ARGS:-}      # extra forward-client options
BENCH_TCPF_AUTH=${BENCH_TCPF_AUTH:-auto}               # auto | key | none | off (see paths.sh)
BENCH_TLS_SERVER_CONF=${BENCH_TLS_SERVER_CONF:-}        # TLS hook, see paths.sh
BENCH_TLS_CLIENT_ARGS=${BENCH_TLS_CLIENT_ARGS:-}
BENCH_TLS_FORCE=${BENCH_TLS_FORCE:-0}                   # 1: run tcpf_tls even if --help does not mention TLS
# profiling (off by default)
BENCH_PERF_DIR=${BENCH_PERF_DIR:-}         # set: extra perf-recorded tcp-forward runs, output kept there
BENCH_PERF_FREQ=${BENCH_PERF_FREQ:-999}
BENCH_PERF_CALLGRAPH=${BENCH_PERF_CALLGRAPH:-fp}   # perf --call-graph: fp (= -g) or dwarf
# misc
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
FD_LIMIT=1024
RUN_SECTIONS=()

# ------------------------------------------------------------------ setup
cleanup_all() {
    local rc=$? pid kids=() k
    set +e
    trap - EXIT INT TERM
    # Per-connection children of our own sshd, nginx workers, forked helper
    # workers (and of anything else we started) first, then what we
    # started, newest first.
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

# parse_sections : BENCH_ONLY -> RUN_SECTIONS (known names, in given order).
parse_sections() {
    local s
    for s in ${BENCH_ONLY//,/ }; do
        case $s in
            throughput) s=iperf ;;
            memory) s=streams ;;
        esac
        declare -F "measure_$s" >/dev/null \
            || die "unknown section '$s' in BENCH_ONLY (known: $SECTIONS)"
        RUN_SECTIONS+=("$s")
    done
    [[ ${#RUN_SECTIONS[@]} -gt 0 ]] || die "BENCH_ONLY selects no section"
}

want_section() {
    local s
    for s in "${RUN_SECTIONS[@]}"; do [[ $s == "$1" ]] && return 0; done
    return 1
}

ensure_tools() {
    local -A pkg_of=(
        [python3]=python3
    )
    want_section iperf && pkg_of[iperf3]=iperf3
    want_section wrk && { pkg_of[wrk]=wrk; pkg_of[/usr/sbin/nginx]=nginx-light; }
    if [[ " $BENCH_PATHS $BENCH_STREAMS_PATHS $BENCH_LAT_PATHS $BENCH_WRK_PATHS $BENCH_FAIR_PATHS " == *" haproxy "* ]]; then
        pkg_of[haproxy]=haproxy
    fi
    if [[ " $BENCH_PATHS $BENCH_STREAMS_PATHS $BENCH_LAT_PATHS $BENCH_WRK_PATHS " == *" sshR "* ]]; then
        pkg_of[/usr/sbin/sshd]=openssh-server
        pkg_of[ssh]=openssh-client
        pkg_of[ssh-keygen]=openssh-client
    fi
    [[ -n $BENCH_PERF_DIR ]] && pkg_of[perf]=linux-perf
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

# raise_fd_limit : soft limit up to the hard one (raising the hard limit
# needs CAP_SYS_RESOURCE; tried, not required). Sets FD_LIMIT.
raise_fd_limit() {
    local need=$(( 2 * (BENCH_STREAMS > BENCH_ANCHOR_STREAMS ? BENCH_STREAMS : BENCH_ANCHOR_STREAMS) + 1024 )) hard
    hard=$(ulimit -Hn)
    if [[ $hard != unlimited ]] && (( hard < need )); then
        ulimit -Hn "$need" 2>/dev/null || true
    fi
    hard=$(ulimit -Hn)
    ulimit -Sn "$hard" 2>/dev/null || ulimit -Sn "$need" 2>/dev/null || true
    FD_LIMIT=$(ulimit -Sn)
    [[ $FD_LIMIT == unlimited ]] && FD_LIMIT=1048576
    return 0
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

# note ID WHAT MESSAGE : something skipped or worth knowing; not a failure.
note() {
    log "NOTE: ${PATH_LABEL[$1]:-$1} / $2: $3"
    record note "$1" "$2" "$3"
}

# start_path ID TARGET_PORT WHAT : path_start_ID, recording failures.
# Returns 1 (with a note, not a failure) if the path is skipped here.
start_path() {
    local id=$1 target=$2 what=$3 reason
    PATH_ERROR=""
    if declare -F "path_skip_$id" >/dev/null && reason=$("path_skip_$id"); then
        note "$id" "$what" "skipped: $reason"
        return 1
    fi
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

# path_pids ID : the PIDs of the path's processes, space separated.
path_pids() { path_procs_"$1" | awk '{print $2}' | tr ',\n' '  '; }

# run_bounded SECONDS OUT ERR CMD... : run CMD in the background (so a
# SIGTERM/SIGINT to the bench is handled at once; bash defers traps until a
# foreground child exits) under timeout; sets RB_RC.
run_bounded() {
    local secs=$1 out=$2 err=$3 pid; shift 3
    RB_RC=0
    timeout -k 5 "$secs" "$@" </dev/null >"$out" 2>"$err" &
    pid=$!
    ALL_PIDS+=("$pid")
    wait "$pid" || RB_RC=$?
    forget_pids "$pid"
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

# version_of FIELDS CMD... : fields (cut -d' ') of the first line CMD prints;
# never fails (wrk --version exits 1; pipefail is on).
version_of() {
    local f=$1; shift
    { "$@" 2>&1 | sed -n 1p | cut -d' ' -f"$f" | sed 's/,$//'; } || true
}

record_meta() {
    record meta date "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    record meta host "$(uname -srm), $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | sed -n 1p)"
    record meta loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
    local tools=()
    if command -v iperf3 >/dev/null; then tools+=("$(version_of 1-2 iperf3 --version)"); fi
    if command -v haproxy >/dev/null; then tools+=("$(version_of 1-3 haproxy -v)"); fi
    if command -v ssh >/dev/null; then tools+=("$(version_of 1 ssh -V)"); fi
    if want_section wrk; then
        tools+=("$(version_of 1-2 wrk --version)" "$(version_of 3 nginx -v)")
    fi
    local joined
    joined=$(IFS='|'; echo "${tools[*]}")
    record meta tools "${joined//|/ | }"
    local bin_info="missing ($FORWARD_SERVER_SRC)"
    if [[ -x $FORWARD_SERVER ]]; then
        bin_info="$FORWARD_SERVER_SRC ($(date -u -r "$FORWARD_SERVER_SRC" '+%Y-%m-%d %H:%M:%S UTC'), sha256 $(sha256sum "$FORWARD_SERVER" | cut -c1-12)); client sha256 $(sha256sum "$FORWARD_CLIENT" | cut -c1-12)"
    fi
    record meta forward_server "$bin_info"
    tcpf_auth_setup
    record meta tcpf_auth "$TCPF_AUTH"
    [[ $BENCH_TLS_FORCE == 1 ]] && record meta tls_forced "BENCH_TLS_FORCE=1: the TLS path runs whatever forward-server --help says"
    record meta sections "${RUN_SECTIONS[*]}"
    record meta fd_limit "$FD_LIMIT"
    local s="" sec
    for sec in "${RUN_SECTIONS[@]}"; do
        case $sec in
            iperf) s+="iperf: -t $BENCH_SECONDS -O $BENCH_OMIT, -P '$BENCH_PARALLEL', $BENCH_ROUNDS round(s); " ;;
            wrk) s+="wrk: -c $BENCH_WRK_CONNS -t $BENCH_WRK_THREADS -d ${BENCH_WRK_SECONDS}s (+${BENCH_WRK_WARMUP}s warm-up), ${BENCH_WRK_FILE_BYTES} B file, nginx workers $BENCH_NGINX_WORKERS, $BENCH_ROUNDS round(s); " ;;
            streams) s+="streams: $BENCH_STREAMS via tcp-forward, $BENCH_ANCHOR_STREAMS via anchors, batches of $BENCH_BATCH; " ;;
            latency) s+="latency: $BENCH_LAT_N x $BENCH_LAT_SIZE B round trips, bulk '$BENCH_LAT_BULK'; " ;;
            fairness) s+="fairness: 1 and $BENCH_FAIR_STREAMS bulk streams, ${BENCH_FAIR_SECONDS}s, '$BENCH_FAIR_DIRS'; " ;;
        esac
    done
    record meta settings "${s%; }"
}

# cpu_pct T0_MS T1_MS C0 C1 : % of one core between two cpu_ticks readings.
cpu_pct() {
    local dt=$(( $2 - $1 ))
    (( dt > 0 )) || dt=1
    echo $(( ($4 - $3) * 100000 / CLK_TCK / dt ))
}

# ------------------------------------------------------------------ profiling
# perf_profile TAG ID SECONDS CMD... : only with BENCH_PERF_DIR set and for
# tcp-forward (plain or TLS): one extra, unrecorded run of CMD while `perf
# record` samples forward-server and forward-client and socket_queues.py
# samples their sockets' queues (`ss -tmi`, every 50 ms: where the bytes
# wait); data and text reports are kept in BENCH_PERF_DIR (outside the temp
# dir), TLS ones with a "tls-" prefix. The measured runs are never
# profiled, so the tables are not skewed by perf.
perf_profile() {
    local tag=$1 id=$2 secs=$3 pids ppid qpid data cg; shift 3
    [[ -n $BENCH_PERF_DIR && ($id == tcpf || $id == tcpf_tls) && -n ${ENTRY[$id]:-} ]] || return 0
    [[ $id == tcpf_tls ]] && tag=tls-$tag
    mkdir -p "$BENCH_PERF_DIR"
    pids=$(path_pids "$id" | xargs | tr ' ' ',')
    data=$BENCH_PERF_DIR/$tag.perf.data
    cg=(-g)
    [[ $BENCH_PERF_CALLGRAPH == fp ]] || cg=(--call-graph "$BENCH_PERF_CALLGRAPH")
    log "perf: profiling ${PATH_LABEL[$id]} (pids $pids) during an extra $tag run -> $data"
    spawn "$WORK/perf.$tag.log" perf record "${cg[@]}" -F "$BENCH_PERF_FREQ" -p "$pids" -o "$data"
    ppid=$SPAWNED_PID
    spawn "$BENCH_PERF_DIR/$tag.queues.txt" "$PY" "$BENCH_DIR/socket_queues.py" --pids "$pids" \
        --seconds $(( secs + 30 )) --raw "$BENCH_PERF_DIR/$tag.ss.txt"
    qpid=$SPAWNED_PID
    sleep 0.5
    run_bounded $(( secs + 30 )) "$WORK/perf.$tag.out" "$WORK/perf.$tag.err" "$@"
    kill -INT "$ppid" "$qpid" 2>/dev/null || true
    STOP_GRACE=30 stop_pids "$ppid" "$qpid"; forget_pids "$ppid" "$qpid"
    if [[ ! -s $data ]]; then
        warn "perf produced no data for $tag"; show_log "$WORK/perf.$tag.log"; return 0
    fi
    {
        echo "# $tag: perf record ${cg[*]} -F $BENCH_PERF_FREQ on forward-server+forward-client; load: $*"
        echo "# load output:"; sed 's/^/#   /' "$WORK/perf.$tag.out" | sed -n 1,30p
    } >"$BENCH_PERF_DIR/$tag.load.txt"
    timeout 300 perf report -i "$data" --stdio --no-children --sort comm,dso,sym \
        --percent-limit 0.3 -g none >"$BENCH_PERF_DIR/$tag.flat.txt" 2>/dev/null || true
    timeout 300 perf report -i "$data" --stdio --no-children --sort comm,dso \
        -g none >"$BENCH_PERF_DIR/$tag.dso.txt" 2>/dev/null || true
    timeout 300 perf report -i "$data" --stdio --no-children --sort comm,sym \
        --percent-limit 2 -g caller,0.5,callee,function,percent >"$BENCH_PERF_DIR/$tag.callers.txt" 2>/dev/null || true
    timeout 300 perf report -i "$data" --stdio --children --sort comm,sym \
        --percent-limit 5 -g none >"$BENCH_PERF_DIR/$tag.children.txt" 2>/dev/null || true
    log "perf: reports in $BENCH_PERF_DIR/$tag.{flat,dso,callers,children}.txt"
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
# "tput ID STREAMS ROUND GBIT/S" (receiver side) and "cpu ...".
run_iperf() {
    local id=$1 p=$2 round=$3 json gbps pids=() t0 t1 c0 c1 pct
    json=$WORK/iperf.$id.P$p.r$round.json
    log "iperf3 ${PATH_LABEL[$id]} -P $p (round $round, ${BENCH_SECONDS}s + ${BENCH_OMIT}s warm-up)"
    # CPU used by the path's own processes (not iperf3) during the test.
    read -r -a pids <<<"$(path_pids "$id")"
    t0=$(now_ms); c0=$(cpu_ticks "${pids[@]}")
    run_bounded $(( BENCH_SECONDS + BENCH_OMIT + 30 )) "$json" "$json.err" \
        iperf3 -c 127.0.0.1 -p "${ENTRY[$id]}" -t "$BENCH_SECONDS" -O "$BENCH_OMIT" \
        -P "$p" -J --connect-timeout 5000
    t1=$(now_ms); c1=$(cpu_ticks "${pids[@]}")
    if gbps=$("$PY" "$BENCH_DIR/iperf_gbps.py" "$json" 2>&1); then
        if [[ ${#pids[@]} -gt 0 ]]; then
            pct=$(cpu_pct "$t0" "$t1" "$c0" "$c1")
            record cpu "$id" "$p" "$round" "$pct"
            log "  $gbps Gbit/s, path processes ${pct}% of one core"
        else
            log "  $gbps Gbit/s"
        fi
        record tput "$id" "$p" "$round" "$gbps"
    else
        [[ $RB_RC == 124 || $RB_RC == 137 ]] && gbps="timed out after $(( BENCH_SECONDS + BENCH_OMIT + 30 ))s; $gbps"
        # shellcheck disable=SC2046
        fail "$id" "iperf3 -P $p" "iperf3 failed (rc $RB_RC): $gbps" "$json.err" $(path_logs_"$id")
        record tput "$id" "$p" "$round" FAIL
        # The iperf3 server may be stuck in the broken test: restart it.
        stop_iperf_server; start_iperf_server
    fi
}

measure_iperf() {
    local id up=() p round
    log "== iperf: throughput"
    start_iperf_server
    for id in $BENCH_IPERF_PATHS; do
        start_path "$id" "$IPERF_PORT" "iperf3" && up+=("$id")
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
    for id in tcpf tcpf_tls; do
        [[ -n ${ENTRY[$id]:-} ]] || continue
        perf_profile iperf-P1 "$id" "$BENCH_SECONDS" \
            iperf3 -c 127.0.0.1 -p "${ENTRY[$id]}" -t "$BENCH_SECONDS" -P 1 --connect-timeout 5000
        check_path "$id" "iperf3 under perf" || true
    done
    for id in "${up[@]}"; do [[ -n ${ENTRY[$id]:-} ]] && path_stop_"$id"; done
    stop_iperf_server
}

# ------------------------------------------------------------------ wrk
NGINX_PORT=""
NGINX_PID=""
NGINX_FILE=""
start_nginx() {
    local d=$WORK/nginx
    mkdir -p "$d/www" "$d/tmp" "$d/logs"
    NGINX_PORT=$(alloc_ports 1)
    head -c "$BENCH_WRK_FILE_BYTES" /dev/urandom >"$d/www/file.bin"
    NGINX_FILE=$d/www/file.bin
    # Own config, pid file, logs and temp paths; never the system's.
    # "user root": the temp dir is 0700, the default worker user could not
    # read it.
    cat >"$d/nginx.conf" <<EOF
user root;
worker_processes $BENCH_NGINX_WORKERS;
daemon off;
master_process on;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    default_type application/octet-stream;
    keepalive_requests 1000000000;
    keepalive_timeout 120s;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $d/www;
    }
}
EOF
    spawn "$d/logs/stderr.log" nginx -c "$d/nginx.conf" -p "$d" -e "$d/logs/error.log"
    NGINX_PID=$SPAWNED_PID
    wait_for_listen "$NGINX_PORT" "$STARTUP_TIMEOUT" "$NGINX_PID" || {
        show_log "$d/logs/stderr.log"; show_log "$d/logs/error.log"
        die "nginx did not listen on 127.0.0.1:$NGINX_PORT"
    }
}
stop_nginx() {
    [[ -n $NGINX_PID ]] || return 0
    stop_pids "$NGINX_PID"; forget_pids "$NGINX_PID"; NGINX_PID=""
}

wrk_args() {  # wrk_args MODE SECONDS PORT
    local a=(-t "$BENCH_WRK_THREADS" -c "$BENCH_WRK_CONNS" -d "${2}s" --latency --timeout 5s)
    [[ $1 == close ]] && a+=(-H 'Connection: close')
    a+=("http://127.0.0.1:$3/file.bin")
    printf '%s\n' "${a[@]}"
}

# run_wrk ID MODE ROUND : records "wrk ID MODE ROUND RPS P50_US P99_US
# REQUESTS ERRORS" (or FAIL) and "wrkcpu ID MODE ROUND PCT".
run_wrk() {
    local id=$1 mode=$2 round=$3 out args=() pids=() t0 t1 c0 c1 pct="" res rps p50 p99 reqs errs
    out=$WORK/wrk.$id.$mode.r$round.txt
    if (( BENCH_WRK_WARMUP > 0 )); then
        mapfile -t args < <(wrk_args "$mode" "$BENCH_WRK_WARMUP" "${ENTRY[$id]}")
        run_bounded $(( BENCH_WRK_WARMUP + 30 )) "$out.warmup" "$out.warmup.err" wrk "${args[@]}"
    fi
    mapfile -t args < <(wrk_args "$mode" "$BENCH_WRK_SECONDS" "${ENTRY[$id]}")
    log "wrk ${PATH_LABEL[$id]} $mode (round $round, ${BENCH_WRK_SECONDS}s, $BENCH_WRK_CONNS connections)"
    read -r -a pids <<<"$(path_pids "$id")"
    t0=$(now_ms); c0=$(cpu_ticks "${pids[@]}")
    run_bounded $(( BENCH_WRK_SECONDS + 30 )) "$out" "$out.err" wrk "${args[@]}"
    t1=$(now_ms); c1=$(cpu_ticks "${pids[@]}")
    if [[ $RB_RC == 0 ]] && res=$("$PY" "$BENCH_DIR/wrk_parse.py" "$out"); then
        read -r rps p50 p99 reqs errs <<<"$res"
        record wrk "$id" "$mode" "$round" "$rps" "$p50" "$p99" "$reqs" "$errs"
        if [[ ${#pids[@]} -gt 0 ]]; then
            pct=$(cpu_pct "$t0" "$t1" "$c0" "$c1")
            record wrkcpu "$id" "$mode" "$round" "$pct"
        fi
        log "  $rps req/s, p50 ${p50}us, p99 ${p99}us, $reqs requests, $errs errors${pct:+, path processes ${pct}% of one core}"
        # Socket errors/timeouts or non-2xx answers mean requests were lost
        # or broken on the way: a failed measurement.
        if (( errs > 0 )); then
            # shellcheck disable=SC2046
            fail "$id" "wrk $mode" "$errs errors (socket errors/timeouts/non-2xx) in $reqs requests: $(grep -E 'Socket errors|Non-2xx' "$out" | tr '\n' ' ')" $(path_logs_"$id")
        fi
    else
        [[ $RB_RC == 124 || $RB_RC == 137 ]] && res="timed out after $(( BENCH_WRK_SECONDS + 30 ))s; ${res:-}"
        # shellcheck disable=SC2046
        fail "$id" "wrk $mode" "wrk failed (rc $RB_RC): ${res:-$(tail -n 3 "$out.err" | tr '\n' ' ')}" "$out" "$out.err" $(path_logs_"$id")
        record wrk "$id" "$mode" "$round" FAIL
    fi
}

measure_wrk() {
    local id up=() mode res round
    log "== wrk: HTTP through each path to nginx (${BENCH_WRK_FILE_BYTES} B file)"
    start_nginx
    for id in $BENCH_WRK_PATHS; do
        start_path "$id" "$NGINX_PORT" "wrk" || continue
        # wrk does not compare bodies: check a few responses byte for byte.
        run_bounded 60 "$WORK/http_check.$id.txt" "$WORK/http_check.$id.err" \
            "$PY" "$BENCH_DIR/http_check.py" "${ENTRY[$id]}" /file.bin "$NGINX_FILE"
        res=$(head -n 1 "$WORK/http_check.$id.txt" 2>/dev/null)
        if [[ $RB_RC != 0 || $res != OK* ]]; then
            # shellcheck disable=SC2046
            fail "$id" "wrk" "HTTP check through the path failed (rc $RB_RC): ${res:-$(tail -n 2 "$WORK/http_check.$id.err" | tr '\n' ' ')}" $(path_logs_"$id")
            path_stop_"$id"
            continue
        fi
        up+=("$id")
    done
    [[ -n $SSH_CIPHER ]] && record meta ssh_cipher "$SSH_CIPHER"
    for mode in $BENCH_WRK_MODES; do
        [[ $mode == keepalive || $mode == close ]] || die "unknown wrk mode '$mode' (keepalive, close)"
    done
    for (( round = 1; round <= BENCH_ROUNDS; round++ )); do
        for mode in $BENCH_WRK_MODES; do
            for id in "${up[@]}"; do
                [[ -n ${ENTRY[$id]:-} ]] || continue
                run_wrk "$id" "$mode" "$round"
                check_path "$id" "wrk $mode" || true
                sleep "$BENCH_PAUSE"
            done
        done
    done
    if [[ -n ${ENTRY[tcpf]:-} ]]; then
        local args=()
        for mode in $BENCH_WRK_MODES; do
            mapfile -t args < <(wrk_args "$mode" "$BENCH_WRK_SECONDS" "${ENTRY[tcpf]}")
            perf_profile "wrk-$mode" tcpf "$BENCH_WRK_SECONDS" wrk "${args[@]}"
            check_path tcpf "wrk $mode under perf" || true
        done
    fi
    for id in "${up[@]}"; do [[ -n ${ENTRY[$id]:-} ]] && path_stop_"$id"; done
    stop_nginx
}

# ------------------------------------------------------------------ streams
ECHO_PORT=""
ECHO_PID=""

# mem_snapshot ID STATE : record "mem ID LABEL STATE KIB" per process.
mem_snapshot() {
    local id=$1 state=$2 label pids kib anon file shm
    while read -r label pids; do
        # shellcheck disable=SC2086
        kib=$(rss_sum_kib ${pids//,/ })
        record mem "$id" "$label" "$state" "$kib"
        # shellcheck disable=SC2086
        read -r anon file shm <<<"$(rss_parts_kib ${pids//,/ })"
        record memparts "$id" "$label" "$state" "$anon" "$file" "$shm"
        log "  RSS $label ($state): $kib KiB (anon $anon, file $file, shmem $shm)"
    done < <(path_procs_"$id")
}

# stream_count ID : streams held through path ID.
stream_count() {
    case $1 in
        tcpf*) echo "$BENCH_STREAMS" ;;
        *) echo "$BENCH_ANCHOR_STREAMS" ;;
    esac
}

# per_proc_streams : streams one holder/echo process may hold.
per_proc_streams() {
    local cap=$(( FD_LIMIT - 128 ))
    [[ -n $BENCH_PROC_STREAMS ]] && (( BENCH_PROC_STREAMS < cap )) && cap=$BENCH_PROC_STREAMS
    (( cap > 0 )) || cap=1
    echo "$cap"
}

# streams_fd_ok ID N : can path ID's processes hold N streams with FD_LIMIT?
# (forward-server holds N public sockets, forward-client N target sockets,
# ssh/sshd N channels' sockets each; haproxy holds both sides: 2N.)
streams_fd_ok() {
    local id=$1 n=$2 need
    case $id in
        haproxy) need=$(( 2 * n + 200 )) ;;
        *) need=$(( n + 200 )) ;;
    esac
    if (( need > FD_LIMIT )); then
        note "$id" "streams" "skipped: $n streams need about $need descriptors in one ${PATH_LABEL[$id]} process, but the fd limit is $FD_LIMIT (hard limit $(ulimit -Hn); raising it needs root with CAP_SYS_RESOURCE: ulimit -Hn N, or lower BENCH_STREAMS/BENCH_ANCHOR_STREAMS)"
        return 1
    fi
}

# streams_one ID : fresh instance of path ID to the echo server; RSS idle,
# with N verified idle streams held, and after they are closed.
streams_one() {
    local id=$1 n hold_log hpid line wait_s procs
    n=$(stream_count "$id")
    (( n > 0 )) || return 0
    streams_fd_ok "$id" "$n" || return 0
    start_path "$id" "$ECHO_PORT" "streams" || return 0
    record streams "$id" "$n"
    sleep "$BENCH_SETTLE"
    mem_snapshot "$id" idle

    procs=$(( (n + $(per_proc_streams) - 1) / $(per_proc_streams) ))
    hold_log=$WORK/hold.$id.log
    log "opening $n streams through ${PATH_LABEL[$id]} (batches of $BENCH_BATCH, each echo-verified; $procs holder process(es))"
    spawn "$hold_log" "$PY" "$BENCH_DIR/hold_streams.py" "${ENTRY[$id]}" "$n" \
        --batch "$BENCH_BATCH" --timeout 30 --max-hold 900 --procs "$procs"
    hpid=$SPAWNED_PID
    wait_s=$(( (n / BENCH_BATCH + 1) * 31 + 10 ))
    (( wait_s > 900 )) && wait_s=900
    if ! wait_for_log "$hold_log" '^(READY|FAILED)' "$wait_s" "$hpid" \
        || ! grep -q '^READY' "$hold_log"; then
        line=$(grep -E '^(FAILED|PROGRESS)' "$hold_log" | tail -n 1)
        # shellcheck disable=SC2046
        fail "$id" "streams" "streams not all verified: ${line:-no output within ${wait_s}s}" \
            "$hold_log" $(path_logs_"$id")
        stop_pids "$hpid"; forget_pids "$hpid"
        path_stop_"$id"
        return 0
    fi
    line=$(grep '^READY' "$hold_log")
    record memcheck "$id" opened "$(echo "$line" | cut -d' ' -f2)" "$(echo "$line" | cut -d' ' -f3)"
    log "  $n streams verified in $(echo "$line" | cut -d' ' -f3)s"
    sleep "$BENCH_SETTLE"
    mem_snapshot "$id" held
    check_path "$id" "streams (holding $n)" || { stop_pids "$hpid"; forget_pids "$hpid"; return 0; }

    # Re-verify every held stream after the measurement (nothing was dropped).
    kill -USR1 "$hpid" 2>/dev/null || true
    if wait_for_log "$hold_log" '^RECHECK' 180 "$hpid"; then
        line=$(grep '^RECHECK' "$hold_log" | sed -n 1p)
        record memcheck "$id" recheck "$(ok=${line#*ok=}; echo "${ok%% *}")" "$line"
        log "  $line"
        [[ $line == *"fail=0"* ]] || fail "$id" "streams" "held streams broke: $line" "$hold_log"
    else
        fail "$id" "streams" "re-check of held streams did not finish" "$hold_log"
    fi

    STOP_GRACE=30 stop_pids "$hpid"; forget_pids "$hpid"
    sleep "$BENCH_SETTLE"
    if check_path "$id" "streams (closing $n)"; then
        mem_snapshot "$id" after
        path_stop_"$id"
    fi
}

measure_streams() {
    local id n max=0 procs
    for id in $BENCH_STREAMS_PATHS; do
        n=$(stream_count "$id"); (( n > max )) && max=$n
    done
    log "== streams: $BENCH_STREAMS held through tcp-forward, $BENCH_ANCHOR_STREAMS through the anchors (fd limit $FD_LIMIT)"
    ECHO_PORT=$(alloc_ports 1)
    procs=$(( (max + $(per_proc_streams) - 1) / $(per_proc_streams) ))
    (( procs > 1 )) && log "  echo server and holder split over $procs processes each (fd limit $FD_LIMIT)"
    spawn "$WORK/echo.log" "$PY" "$BENCH_DIR/echo_server.py" "$ECHO_PORT" --procs "$procs"
    ECHO_PID=$SPAWNED_PID
    wait_for_log "$WORK/echo.log" '^LISTENING' "$STARTUP_TIMEOUT" "$ECHO_PID" || {
        show_log "$WORK/echo.log"; die "echo server did not start"
    }
    for id in $BENCH_STREAMS_PATHS; do
        streams_one "$id"
        [[ -n $SSH_CIPHER ]] && ! grep -q '^meta	ssh_cipher' "$RESULTS" && record meta ssh_cipher "$SSH_CIPHER"
    done
    STOP_GRACE=10 stop_pids "$ECHO_PID"; forget_pids "$ECHO_PID"; ECHO_PID=""
}

# ------------------------------------------------------------------ latency
LAT_PORT=""
LAT_PID=""

# run_latency ID BULK : records "lat ID BULK N P50 P90 P99 MAX MEAN BULK_GBPS"
# (microseconds; or FAIL).
run_latency() {
    local id=$1 bulk=$2 out line f p50 p90 p99 max mean gbps n limit
    out=$WORK/lat.$id.$bulk.txt
    limit=$(( 60 + BENCH_LAT_N / 20 ))
    log "latency ${PATH_LABEL[$id]}: $BENCH_LAT_N x ${BENCH_LAT_SIZE} B round trips, bulk $bulk"
    run_bounded $(( limit + 20 )) "$out" "$out.err" "$PY" "$BENCH_DIR/latency.py" "${ENTRY[$id]}" \
        --n "$BENCH_LAT_N" --size "$BENCH_LAT_SIZE" --bulk "$bulk" \
        --warmup "$BENCH_LAT_WARMUP" --timeout "$limit"
    line=$(grep -E '^(RESULT|FAILED)' "$out" | sed -n 1p)
    if [[ $RB_RC == 0 && $line == RESULT* ]]; then
        for f in $line; do
            case $f in
                n=*) n=${f#*=} ;; p50_us=*) p50=${f#*=} ;; p90_us=*) p90=${f#*=} ;;
                p99_us=*) p99=${f#*=} ;; max_us=*) max=${f#*=} ;; mean_us=*) mean=${f#*=} ;;
                bulk_gbps=*) gbps=${f#*=} ;;
            esac
        done
        record lat "$id" "$bulk" "$n" "$p50" "$p90" "$p99" "$max" "$mean" "$gbps"
        log "  p50 ${p50}us p99 ${p99}us max ${max}us; bulk $gbps Gbit/s meanwhile"
    else
        [[ $RB_RC == 124 || $RB_RC == 137 ]] && line="timed out; $line"
        # shellcheck disable=SC2046
        fail "$id" "latency (bulk $bulk)" "${line:-latency.py failed (rc $RB_RC): $(tail -n 2 "$out.err" | tr '\n' ' ')}" "$out.err" $(path_logs_"$id")
        record lat "$id" "$bulk" FAIL
    fi
}

measure_latency() {
    local id bulk
    log "== latency: interactive round trips with and without a bulk stream"
    record meta lat_size "$BENCH_LAT_SIZE"
    LAT_PORT=$(alloc_ports 1)
    spawn "$WORK/lat_target.log" "$PY" "$BENCH_DIR/lat_target.py" "$LAT_PORT" --max-seconds 600
    LAT_PID=$SPAWNED_PID
    wait_for_log "$WORK/lat_target.log" '^LISTENING' "$STARTUP_TIMEOUT" "$LAT_PID" || {
        show_log "$WORK/lat_target.log"; die "latency target did not start"
    }
    # One path at a time (a bulk stream must not load another path).
    for id in $BENCH_LAT_PATHS; do
        start_path "$id" "$LAT_PORT" "latency" || continue
        for bulk in none $BENCH_LAT_BULK; do
            [[ -n ${ENTRY[$id]:-} ]] || break
            run_latency "$id" "$bulk"
            check_path "$id" "latency (bulk $bulk)" || true
            sleep "$BENCH_PAUSE"
            [[ $bulk == none ]] && continue
            perf_profile "latency-$bulk" "$id" 10 "$PY" "$BENCH_DIR/latency.py" "${ENTRY[$id]}" \
                --n "$BENCH_LAT_N" --size "$BENCH_LAT_SIZE" --bulk "$bulk" \
                --warmup "$BENCH_LAT_WARMUP" --timeout 60
            check_path "$id" "latency (bulk $bulk) under perf" || true
        done
        [[ -n $SSH_CIPHER ]] && ! grep -q '^meta	ssh_cipher' "$RESULTS" && record meta ssh_cipher "$SSH_CIPHER"
        [[ -n ${ENTRY[$id]:-} ]] && path_stop_"$id"
    done
    STOP_GRACE=10 stop_pids "$LAT_PID"; forget_pids "$LAT_PID"; LAT_PID=""
}

# ------------------------------------------------------------------ fairness
# run_fairness ID DIR N : records "fair ID DIR N TOTAL_GBPS JAIN MIN MAX" (or FAIL).
run_fairness() {
    local id=$1 dir=$2 n=$3 out line f total jain mn mx limit
    out=$WORK/fair.$id.$dir.$n.txt
    limit=$(( 30 + BENCH_FAIR_SECONDS ))
    log "fairness ${PATH_LABEL[$id]}: $n bulk stream(s) $dir for ${BENCH_FAIR_SECONDS}s"
    run_bounded $(( limit + 20 )) "$out" "$out.err" "$PY" "$BENCH_DIR/fairness.py" "${ENTRY[$id]}" \
        --streams "$n" --seconds "$BENCH_FAIR_SECONDS" --warmup "$BENCH_LAT_WARMUP" --dir "$dir" \
        --timeout "$limit"
    line=$(grep -E '^(RESULT|FAILED)' "$out" | sed -n 1p)
    if [[ $RB_RC == 0 && $line == RESULT* ]]; then
        for f in $line; do
            case $f in
                total_gbps=*) total=${f#*=} ;; jain=*) jain=${f#*=} ;;
                min_gbps=*) mn=${f#*=} ;; max_gbps=*) mx=${f#*=} ;;
            esac
        done
        record fair "$id" "$dir" "$n" "$total" "$jain" "$mn" "$mx"
        log "  total $total Gbit/s, Jain $jain (min $mn, max $mx)"
    else
        # shellcheck disable=SC2046
        fail "$id" "fairness ($n $dir)" "${line:-fairness.py failed (rc $RB_RC)}" "$out.err" $(path_logs_"$id")
        record fair "$id" "$dir" "$n" FAIL
    fi
}

measure_fairness() {
    local id dir
    log "== fairness: $BENCH_FAIR_STREAMS bulk streams at once against one alone"
    LAT_PORT=$(alloc_ports 1)
    spawn "$WORK/fair_target.log" "$PY" "$BENCH_DIR/lat_target.py" "$LAT_PORT" --max-seconds 600
    LAT_PID=$SPAWNED_PID
    wait_for_log "$WORK/fair_target.log" '^LISTENING' "$STARTUP_TIMEOUT" "$LAT_PID" || {
        show_log "$WORK/fair_target.log"; die "fairness target did not start"
    }
    for id in $BENCH_FAIR_PATHS; do
        start_path "$id" "$LAT_PORT" "fairness" || continue
        for dir in $BENCH_FAIR_DIRS; do
            [[ -n ${ENTRY[$id]:-} ]] || break
            run_fairness "$id" "$dir" 1
            sleep "$BENCH_PAUSE"
            run_fairness "$id" "$dir" "$BENCH_FAIR_STREAMS"
            check_path "$id" "fairness ($dir)" || true
            sleep "$BENCH_PAUSE"
        done
        [[ -n ${ENTRY[$id]:-} ]] && path_stop_"$id"
    done
    STOP_GRACE=10 stop_pids "$LAT_PID"; forget_pids "$LAT_PID"; LAT_PID=""
}

# ------------------------------------------------------------------ main
main() {
    local m t0
    parse_sections
    ensure_tools
    raise_fd_limit
    WORK=$(mktemp -d /tmp/tcpf-bench.XXXXXX)
    RESULTS=$WORK/results.tsv
    : >"$RESULTS"
    log "temp dir $WORK, fd limit $FD_LIMIT, sections: ${RUN_SECTIONS[*]}"
    snapshot_daemons
    record_meta
    for m in "${RUN_SECTIONS[@]}"; do
        t0=$(now_ms)
        "measure_$m"
        record meta "seconds_$m" $(( ($(now_ms) - t0) / 1000 ))
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
