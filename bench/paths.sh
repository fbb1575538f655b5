# shellcheck shell=bash
# shellcheck disable=SC2034  # PATH_LABEL, SSH_CIPHER, ... are read by run.sh
# bench/paths.sh -- one set of functions per forwarding path. Sourced by
# bench/run.sh after lib.sh.
#
# Every path ID (direct, haproxy, sshR, tcpf, tcpf_tls) provides:
#
#   path_start_ID TARGET_PORT  start a FRESH instance that relays
#                              127.0.0.1:ENTRY[ID] -> 127.0.0.1:TARGET_PORT
#                              and wait (bounded) until it is usable.
#                              On failure: return 1 with PATH_ERROR set.
#   path_stop_ID               stop everything path_start_ID started.
#   path_procs_ID              print "LABEL PID[,PID...]" lines: the
#                              processes whose RSS the memory measure reports
#                              (several PIDs are summed).
#   path_logs_ID               print the log files worth showing on failure.
#
# PATH_LABEL[ID] is the display name, PATH_PIDS[ID] the PIDs that must stay
# alive while the path is up (checked after every measurement).
# Optional: path_skip_ID prints a reason and returns 0 when the path cannot
# run here (run.sh then records a note, not a failure), e.g. tcpf_tls.
#
# To add a path: write these four functions, set PATH_LABEL, and add the ID
# to BENCH_PATHS / BENCH_MEM_PATHS (and a display order in report.py).

declare -A ENTRY=() PATH_LABEL=() PATH_PIDS=() PATH_LOGS=()
PATH_ERROR=""
INSTANCE=0

PATH_LABEL[direct]="direct"
PATH_LABEL[haproxy]="haproxy"
PATH_LABEL[sshR]="ssh -R"
PATH_LABEL[tcpf]="tcp-forward"

new_instance_dir() {  # new_instance_dir NAME -> sets INST_DIR
    INSTANCE=$(( INSTANCE + 1 ))
    INST_DIR=$WORK/$1.$INSTANCE
    mkdir -p "$INST_DIR"
}

# path_alive ID : true if every PID of the path is still running.
path_alive() {
    local pid
    for pid in ${PATH_PIDS[$1]:-}; do
        is_alive "$pid" || return 1
    done
    return 0
}

# path_stop_generic ID : stop PATH_PIDS[ID] in reverse start order.
path_stop_generic() {
    local pids=() pid
    for pid in ${PATH_PIDS[$1]:-}; do pids=("$pid" "${pids[@]}"); done
    local p
    for p in "${pids[@]}"; do stop_pids "$p"; done
    forget_pids "${pids[@]}"
    PATH_PIDS[$1]=""
    unset 'ENTRY[$1]'
}

# ---------------------------------------------------------------- direct
path_start_direct() { ENTRY[direct]=$1; PATH_PIDS[direct]=""; PATH_LOGS[direct]=""; }
path_stop_direct()  { unset 'ENTRY[direct]'; }
path_procs_direct() { :; }
path_logs_direct()  { :; }

# ---------------------------------------------------------------- haproxy
# One frontend, one backend, mode tcp; nothing else. nbthread is haproxy's
# default (one per CPU) unless BENCH_HAPROXY_NBTHREAD is set.
path_start_haproxy() {
    local target=$1 port pid maxconn fdlim
    port=$(alloc_ports 1)
    new_instance_dir haproxy
    # haproxy needs 2 fds per connection and refuses to start when maxconn
    # does not fit the fd limit: cap it (10,000 streams need > 20,100 fds).
    maxconn=$(( BENCH_STREAMS + 1000 ))
    fdlim=$(ulimit -n)
    if [[ $fdlim != unlimited ]] && (( maxconn > (fdlim - 100) / 2 )); then
        maxconn=$(( (fdlim - 100) / 2 ))
    fi
    {
        echo "global"
        echo "    maxconn $maxconn"
        [[ -n ${BENCH_HAPROXY_NBTHREAD:-} ]] && echo "    nbthread $BENCH_HAPROXY_NBTHREAD"
        echo "defaults"
        echo "    mode tcp"
        echo "    timeout connect 5s"
        echo "    timeout client 1h"
        echo "    timeout server 1h"
        echo "frontend fe"
        echo "    bind 127.0.0.1:$port"
        echo "    default_backend be"
        echo "backend be"
        echo "    server target 127.0.0.1:$target"
    } >"$INST_DIR/haproxy.cfg"
    spawn "$INST_DIR/haproxy.log" haproxy -db -f "$INST_DIR/haproxy.cfg"
    pid=$SPAWNED_PID
    PATH_PIDS[haproxy]=$pid
    PATH_LOGS[haproxy]="$INST_DIR/haproxy.log"
    if ! wait_for_listen "$port" "$STARTUP_TIMEOUT" "$pid"; then
        PATH_ERROR="haproxy did not listen on 127.0.0.1:$port within ${STARTUP_TIMEOUT}s"
        return 1
    fi
    ENTRY[haproxy]=$port
}
path_stop_haproxy()  { path_stop_generic haproxy; }
path_procs_haproxy() { echo "haproxy ${PATH_PIDS[haproxy]}"; }
path_logs_haproxy()  { echo "${PATH_LOGS[haproxy]:-}"; }

# ---------------------------------------------------------------- ssh -R
# Our own sshd (own config, host key and authorized key in $WORK/ssh, own
# PidFile, loopback port) and `ssh -N -R`. The -R listener lives in sshd's
# per-connection process, the connection to the target is made by the ssh
# client: sshd plays forward-server's role, ssh plays forward-client's.
SSH_PREPARED=0
SSH_CIPHER=""
SSH_CREATED_RUN_SSHD=0
ssh_prepare() {
    (( SSH_PREPARED )) && return 0
    local d=$WORK/ssh
    mkdir -p "$d"
    if [[ ! -d /run/sshd ]]; then
        mkdir -p /run/sshd && SSH_CREATED_RUN_SSHD=1
    fi
    timeout 30 ssh-keygen -q -t ed25519 -N '' -C bench-host -f "$d/host_ed25519" || return 1
    timeout 30 ssh-keygen -q -t ed25519 -N '' -C bench-client -f "$d/id_ed25519" || return 1
    cp "$d/id_ed25519.pub" "$d/authorized_keys"
    chmod 600 "$d/host_ed25519" "$d/id_ed25519"
    SSH_PREPARED=1
}

path_start_sshR() {
    local target=$1 sport rport sshd_pid ssh_pid d=$WORK/ssh
    if ! ssh_prepare; then PATH_ERROR="ssh key generation failed"; return 1; fi
    read -r sport rport < <(alloc_ports 2 | tr '\n' ' ')
    new_instance_dir ssh
    cat >"$INST_DIR/sshd_config" <<EOF
ListenAddress 127.0.0.1:$sport
HostKey $d/host_ed25519
PidFile $INST_DIR/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
GatewayPorts no
X11Forwarding no
PermitTTY no
PrintMotd no
UseDNS no
ClientAliveInterval 0
MaxStartups 100
LogLevel INFO
EOF
    if ! timeout 30 /usr/sbin/sshd -t -f "$INST_DIR/sshd_config" >"$INST_DIR/sshd-t.log" 2>&1; then
        PATH_ERROR="sshd -t rejected the config: $(head -c 300 "$INST_DIR/sshd-t.log")"
        return 1
    fi
    spawn "$INST_DIR/sshd.log" /usr/sbin/sshd -D -e -f "$INST_DIR/sshd_config"
    sshd_pid=$SPAWNED_PID
    PATH_PIDS[sshR]=$sshd_pid
    PATH_LOGS[sshR]="$INST_DIR/sshd.log $INST_DIR/ssh.log"
    if ! wait_for_listen "$sport" "$STARTUP_TIMEOUT" "$sshd_pid"; then
        PATH_ERROR="sshd did not listen on 127.0.0.1:$sport within ${STARTUP_TIMEOUT}s"
        return 1
    fi
    # -v only for the "kex: ... cipher" line; default ciphers and MACs.
    spawn "$INST_DIR/ssh.log" ssh -N -v -F /dev/null \
        -i "$d/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o ExitOnForwardFailure=yes -o ConnectTimeout=10 \
        -p "$sport" -R "127.0.0.1:$rport:127.0.0.1:$target" root@127.0.0.1
    ssh_pid=$SPAWNED_PID
    PATH_PIDS[sshR]="$sshd_pid $ssh_pid"
    if ! wait_for_listen "$rport" "$STARTUP_TIMEOUT" "$ssh_pid"; then
        PATH_ERROR="ssh -R listener 127.0.0.1:$rport not up within ${STARTUP_TIMEOUT}s"
        return 1
    fi
    SSH_CIPHER=$(sed -n 's/.*kex: server->client cipher: \([^ ]*\) MAC: \([^ ]*\).*/\1 (MAC \2)/p' \
        "$INST_DIR/ssh.log" | sed -n 1p)
    ENTRY[sshR]=$rport
}
path_stop_sshR() {
    # ssh client first (ends the session, sshd's per-connection processes
    # exit by themselves), then those per-connection processes if still
    # there, then the listening sshd.
    local pids=() kids
    read -r -a pids <<<"${PATH_PIDS[sshR]:-}"
    [[ ${#pids[@]} -ge 2 ]] && stop_pids "${pids[1]}"
    if [[ ${#pids[@]} -ge 1 ]]; then
        kids=$(descendant_pids "${pids[0]}")
        # shellcheck disable=SC2086
        [[ -n $kids ]] && stop_pids $kids
        stop_pids "${pids[0]}"
    fi
    [[ ${#pids[@]} -gt 0 ]] && forget_pids "${pids[@]}"
    PATH_PIDS[sshR]=""
    unset 'ENTRY[sshR]'
}
path_procs_sshR() {
    local pids=() kids
    read -r -a pids <<<"${PATH_PIDS[sshR]:-}"
    kids=$(descendant_pids "${pids[0]}" | paste -sd, -)
    echo "sshd-session ${kids:-none}"
    echo "ssh-client ${pids[1]}"
}
path_logs_sshR() { echo "${PATH_LOGS[sshR]:-}"; }

# ---------------------------------------------------------------- tcp-forward
# forward-server with a one-mapping config, forward-client to its INNER_PORT;
# ready when both log "channel up" and the public port listens.
#
# Channel authentication (BENCH_TCPF_AUTH): "key" = a fresh shared key
# (AUTH_KEY_FILE on the server, --key-file on the client), the normal
# deployment; "none" = AUTH = none / --no-auth; "off" = neither (builds
# without authentication); "auto" (default) = key if forward-client --help
# mentions --key-file, else off. Authentication only costs at channel set-up.
TCPF_AUTH=""
TCPF_AUTH_CONF=""
TCPF_AUTH_ARGS=""
tcpf_auth_setup() {
    [[ -n $TCPF_AUTH ]] && return 0
    TCPF_AUTH=${BENCH_TCPF_AUTH:-auto}
    if [[ $TCPF_AUTH == auto ]]; then
        TCPF_AUTH=off
        "$FORWARD_CLIENT" --help 2>&1 | grep -- '--key-file' >/dev/null && TCPF_AUTH=key
    fi
    case $TCPF_AUTH in
        key)
            ( umask 077; "$PY" -c 'import secrets; print(secrets.token_hex(32))' >"$WORK/tcpf.key" )
            TCPF_AUTH_CONF="AUTH_KEY_FILE = $WORK/tcpf.key"
            TCPF_AUTH_ARGS="--key-file $WORK/tcpf.key" ;;
        none)
            TCPF_AUTH_CONF="AUTH = none"
            TCPF_AUTH_ARGS="--no-auth" ;;
        off) ;;
        *) die "BENCH_TCPF_AUTH must be auto, key, none or off (is '$TCPF_AUTH')" ;;
    esac
}

# tcpf_start ID TARGET EXTRA_CONF CLIENT_ARGS : shared by tcpf and tcpf_tls.
# EXTRA_CONF: lines appended to [DEFAULT]; CLIENT_ARGS: extra client options.
tcpf_start() {
    local id=$1 target=$2 extra_conf=$3 client_args=$4 inner pub spid cpid
    if [[ ! -x $FORWARD_SERVER ]]; then
        PATH_ERROR="forward-server not found/executable at $FORWARD_SERVER"; return 1
    fi
    if [[ ! -x $FORWARD_CLIENT ]]; then
        PATH_ERROR="forward-client not found/executable at $FORWARD_CLIENT"; return 1
    fi
    tcpf_auth_setup
    read -r inner pub < <(alloc_ports 2 | tr '\n' ' ')
    new_instance_dir "$id"
    {
        echo "[DEFAULT]"
        echo "INNER_PORT = $inner"
        echo "INNER_ADDR = 127.0.0.1"
        echo "LOG_LEVEL = $BENCH_TCPF_LOG_LEVEL"
        [[ -n $TCPF_AUTH_CONF ]] && echo "$TCPF_AUTH_CONF"
        [[ -n $extra_conf ]] && printf '%s\n' "$extra_conf"
        echo "[MAPPER]"
        echo "127.0.0.1:$pub = 127.0.0.1:$target"
    } >"$INST_DIR/forward.ini"
    PATH_LOGS[$id]="$INST_DIR/server.log $INST_DIR/client.log"
    spawn "$INST_DIR/server.log" "$FORWARD_SERVER" "$INST_DIR/forward.ini"
    spid=$SPAWNED_PID
    PATH_PIDS[$id]=$spid
    if ! wait_for_listen "$inner" "$STARTUP_TIMEOUT" "$spid"; then
        PATH_ERROR="forward-server did not listen on INNER_PORT 127.0.0.1:$inner within ${STARTUP_TIMEOUT}s"
        return 1
    fi
    # shellcheck disable=SC2086
    spawn "$INST_DIR/client.log" "$FORWARD_CLIENT" --log-level "$BENCH_TCPF_LOG_LEVEL" $TCPF_AUTH_ARGS $client_args 127.0.0.1 "$inner"
    cpid=$SPAWNED_PID
    PATH_PIDS[$id]="$spid $cpid"
    if ! wait_for_log "$INST_DIR/client.log" 'channel up' "$STARTUP_TIMEOUT" "$cpid"; then
        PATH_ERROR="forward-client did not log 'channel up' within ${STARTUP_TIMEOUT}s"
        return 1
    fi
    if ! wait_for_log "$INST_DIR/server.log" 'channel up' "$STARTUP_TIMEOUT" "$spid"; then
        PATH_ERROR="forward-server did not log 'channel up' within ${STARTUP_TIMEOUT}s"
        return 1
    fi
    if ! wait_for_listen "$pub" "$STARTUP_TIMEOUT" "$spid"; then
        PATH_ERROR="forward-server did not listen on public 127.0.0.1:$pub within ${STARTUP_TIMEOUT}s"
        return 1
    fi
    ENTRY[$id]=$pub
}
tcpf_procs() {
    local pids=()
    read -r -a pids <<<"${PATH_PIDS[$1]:-}"
    echo "forward-server ${pids[0]:-}"
    echo "forward-client ${pids[1]:-}"
}

path_start_tcpf() { tcpf_start tcpf "$1" "" "${BENCH_TCPF_CLIENT_ARGS:-}"; }
path_stop_tcpf()  { path_stop_generic tcpf; }
path_procs_tcpf() { tcpf_procs tcpf; }
path_logs_tcpf()  { echo "${PATH_LOGS[tcpf]:-}"; }

# ---------------------------------------------------------------- tcp-forward TLS
# >>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>> TLS HOOK <<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<
# tcp-forward over TLS: tcpf_start with
#   server config [DEFAULT] lines  BENCH_TLS_SERVER_CONF, default TLS_DEFAULT_SERVER_CONF
#   extra forward-client options   BENCH_TLS_CLIENT_ARGS, default TLS_DEFAULT_CLIENT_ARGS
# in which @CERT@, @KEY@ and @CA@ are replaced by a self-signed ECDSA P-256
# certificate for IP 127.0.0.1 (made once in the temp dir), its key, and the
# certificate again as the CA to verify against. Channel authentication is
# added as for plain tcp-forward (BENCH_TCPF_AUTH). The path is skipped with
# a note when `forward-server --help` does not mention TLS (an old build);
# BENCH_TLS_FORCE=1 runs it anyway. The targets section compares this path
# with ssh -R (issue 7: TLS >= 1.2x ssh -R with AES-GCM, one stream).
TLS_DEFAULT_SERVER_CONF=$'TLS_CERT = @CERT@\nTLS_KEY = @KEY@'
TLS_DEFAULT_CLIENT_ARGS='--ca-file @CA@'
PATH_LABEL[tcpf_tls]="tcp-forward TLS"

# path_skip_tcpf_tls : prints why the path is skipped (exit 0), or exit 1.
path_skip_tcpf_tls() {
    if [[ ! -x $FORWARD_SERVER ]]; then
        echo "forward-server not found at $FORWARD_SERVER"; return 0
    fi
    if [[ ${BENCH_TLS_FORCE:-0} != 1 ]] && ! "$FORWARD_SERVER" --help 2>&1 | grep -i 'tls' >/dev/null; then
        echo "forward-server --help does not mention TLS (TLS mode not there yet; hook: path_start_tcpf_tls in bench/paths.sh, BENCH_TLS_FORCE=1 to try anyway)"
        return 0
    fi
    if [[ -z ${BENCH_TLS_SERVER_CONF:-$TLS_DEFAULT_SERVER_CONF}${BENCH_TLS_CLIENT_ARGS:-$TLS_DEFAULT_CLIENT_ARGS} ]]; then
        echo "no TLS options: set BENCH_TLS_SERVER_CONF/BENCH_TLS_CLIENT_ARGS or TLS_DEFAULT_* in bench/paths.sh"
        return 0
    fi
    return 1
}

tls_cert() {  # makes $WORK/tls/{cert,key}.pem once
    local d=$WORK/tls
    [[ -s $d/cert.pem ]] && return 0
    mkdir -p "$d"
    timeout 60 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$d/key.pem" -out "$d/cert.pem" -days 2 -subj /CN=127.0.0.1 \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$d/openssl.log" 2>&1
}

tls_subst() {  # tls_subst TEXT
    local t=$1 d=$WORK/tls
    t=${t//@CERT@/$d/cert.pem}
    t=${t//@KEY@/$d/key.pem}
    t=${t//@CA@/$d/cert.pem}
    printf '%s' "$t"
}

path_start_tcpf_tls() {
    if ! tls_cert; then
        PATH_ERROR="openssl could not make a test certificate: $(tail -c 300 "$WORK/tls/openssl.log")"
        return 1
    fi
    tcpf_start tcpf_tls "$1" \
        "$(tls_subst "${BENCH_TLS_SERVER_CONF:-$TLS_DEFAULT_SERVER_CONF}")" \
        "$(tls_subst "${BENCH_TLS_CLIENT_ARGS:-$TLS_DEFAULT_CLIENT_ARGS}") ${BENCH_TCPF_CLIENT_ARGS:-}"
}
path_stop_tcpf_tls()  { path_stop_generic tcpf_tls; }
path_procs_tcpf_tls() { tcpf_procs tcpf_tls; }
path_logs_tcpf_tls()  { echo "${PATH_LOGS[tcpf_tls]:-}"; }
# >>>>>>>>>>>>>>>>>>>>>>>>>>>>>>> end of TLS HOOK <<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<
