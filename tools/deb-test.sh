#!/bin/bash
# Debian package test: build tcp-forward_<version>_<arch>.deb from a clean
# copy of this tree, lint it, install it with apt-get, run the installed
# daemons on 127.0.0.1 the way the systemd units would (their ExecStart
# lines, as user tcp-forward, the installed example config with test
# ports), move bytes through a mapping, then purge the package and check
# that nothing is left. Prints "PASS: deb" or "FAIL: deb: why".
#
# Run as root on Debian 12; installs what it needs (only what is missing).
# Changes the machine while it runs: installs the package and creates the
# tcp-forward system user (kept after the purge, like any Debian package's
# system user). Refuses to touch a tcp-forward package it did not install.
#   KEEP_TMP=1  keep the work folder (build log, lintian output, daemon logs)
set -u -o pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

PKG=tcp-forward
MARKER=/var/tmp/tcp-forward.deb-test   # "this script installed the package"
LOCALHOST=127.0.0.1
export DEBIAN_FRONTEND=noninteractive

work=$(mktemp -d "${TMPDIR:-/tmp}/tcpf-deb.XXXXXX") || { echo "FAIL: deb: mktemp failed"; exit 1; }
pids=()

log() { echo "deb-test: $*" >&2; }

# installed: dpkg knows the package (installed, or only its conffiles left).
installed() {
    local s
    s=$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null)
    [ -n "$s" ] && [ "$s" != not-installed ]
}

# purge_ours: remove the package if this script (or an earlier, interrupted
# run of it) installed it.
purge_ours() {
    if [ -e "$MARKER" ] && installed; then
        timeout 600 apt-get purge -y -qq "$PKG" >>"$work/purge.log" 2>&1
    fi
    installed || rm -f "$MARKER"
}

# stop_pid PID: TERM one process we started, KILL it after 5 s, reap it.
stop_pid() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return; }
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do
        gone "$pid" && break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM HUP
    for pid in "${pids[@]}"; do stop_pid "$pid"; done
    [ -z "${made_rundir:-}" ] || rm -rf /run/tcp-forward
    purge_ours
    if [ -n "${KEEP_TMP:-}" ]; then
        log "kept $work"
    else
        rm -rf "$work"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'echo "FAIL: deb: interrupted"; exit 130' INT TERM HUP

fail() {
    echo "FAIL: deb: $*"
    local f
    for f in "$work"/*.log; do
        [ -s "$f" ] || continue
        echo "----- $(basename "$f") (last 25 lines) -----" >&2
        tail -n 25 "$f" >&2
    done
    exit 1
}

# start NAME CMD ARGS...: run in the background, output to $work/NAME.log.
start() {
    local name=$1
    shift
    "$@" </dev/null >"$work/$name.log" 2>&1 &
    pids+=($!)
    BG_PID=$!
}

# wait_for SECONDS CMD...: poll (bounded) until CMD succeeds.
wait_for() {
    local n=$(($1 * 10)) i
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

listening() { grep -qE "^ *[0-9]+: 0100007F:$(printf '%04X' "$1") [0-9A-F]+:0000 0A " /proc/net/tcp; }
# gone PID: the process has exited (a zombie counts as gone).
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

[ "$(id -u)" = 0 ] || fail "must run as root (it installs and purges the package)"
command -v apt-get >/dev/null || fail "not a Debian system (no apt-get)"
if installed; then
    if [ -e "$MARKER" ]; then
        log "purging the package left by an interrupted run"
        purge_ours
        installed && fail "cannot purge the $PKG left by an earlier run: $(tail -n 3 "$work/purge.log")"
    else
        fail "$PKG is installed and this script did not install it: purge it first"
    fi
fi

# ---------------------------------------------------------------- tools
# Only what building, linting and installing need: dpkg-buildpackage is in
# dpkg-dev; Rules-Requires-Root: no, so no fakeroot.
missing=""
# systemd: systemd-analyze verifies the unit files where systemd does not run.
for p in dpkg-dev debhelper lintian python3 systemd; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    log "installing:$missing"
    timeout 600 apt-get update -qq >"$work/apt.log" 2>&1 || fail "apt-get update failed"
    # shellcheck disable=SC2086
    timeout 900 apt-get install -y -qq --no-install-recommends $missing >>"$work/apt.log" 2>&1 ||
        fail "cannot install$missing"
fi

# ---------------------------------------------------------------- clean copy
version=$(sed -nE '1s/^tcp-forward \(([^)]*)\) .*/\1/p' debian/changelog)
[ -n "$version" ] || fail "no version in debian/changelog"
src=$work/$PKG-$version
mkdir -p "$src"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # The working tree as git sees it (tracked and new files, nothing
    # ignored): what a clean checkout of these changes holds.
    git -C "$top" ls-files -z --cached --others --exclude-standard |
        (cd "$top" && while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done) |
        tar -C "$top" --null -T - -cf - 2>"$work/copy.log" | tar -C "$src" -xf - 2>>"$work/copy.log" ||
        fail "cannot copy the tree: $(head -c 300 "$work/copy.log")"
else
    # A release tarball: make distdir from the configured tree.
    [ -f Makefile ] || fail "no git checkout and no Makefile: run ./configure first"
    rm -rf "$src"
    make distdir distdir="$src" >"$work/copy.log" 2>&1 || fail "make distdir failed"
fi
[ -f "$src/debian/control" ] || fail "the copy has no debian/control"

# ---------------------------------------------------------------- build
# Build dependencies without the test-only ones (nocheck profile).
if ! (cd "$src" && dpkg-checkbuilddeps -Pnocheck) >"$work/builddeps.log" 2>&1; then
    log "installing build dependencies: $(cat "$work/builddeps.log")"
    timeout 600 apt-get update -qq >>"$work/apt.log" 2>&1 || fail "apt-get update failed"
    (cd "$src" && timeout 900 apt-get build-dep -y -qq -Pnocheck ./) >>"$work/apt.log" 2>&1 ||
        fail "cannot install build dependencies"
fi
# nocheck: tools/check.sh has just run the same test suite (make check) on
# this tree; a plain 'dpkg-buildpackage -us -uc -b' runs it in dh_auto_test.
log "building $PKG $version"
(cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
    timeout 1800 dpkg-buildpackage -us -uc -b -Pnocheck) >"$work/build.log" 2>&1 ||
    fail "dpkg-buildpackage failed"
arch=$(dpkg --print-architecture)
deb=$work/${PKG}_${version}_${arch}.deb
changes=$work/${PKG}_${version}_${arch}.changes
[ -f "$deb" ] || fail "no $(basename "$deb") after the build ($(cd "$work" && echo *.deb))"
[ -f "$changes" ] || fail "no $(basename "$changes") after the build"

# The build log must show the hardening flags (hardening=+all: PIE, bindnow).
grep -q -- '-fstack-protector-strong' "$work/build.log" || fail "build log: no -fstack-protector-strong"
grep -q -- '-Wl,-z,now' "$work/build.log" || fail "build log: no -Wl,-z,now (bindnow)"

# ---------------------------------------------------------------- lintian
timeout 900 lintian -I "$changes" >"$work/lintian.log" 2>&1
lrc=$?
cat "$work/lintian.log" >&2
[ $lrc = 0 ] || [ $lrc = 1 ] || fail "lintian did not run (exit status $lrc)"
if grep -qE '^[EW]: ' "$work/lintian.log"; then
    fail "lintian: $(grep -E '^[EW]: ' "$work/lintian.log" | head -5 | tr '\n' ' ')"
fi
log "lintian: no errors, no warnings"
dpkg-deb -c "$deb" >"$work/contents.log" || fail "dpkg-deb -c failed"

# ---------------------------------------------------------------- install
touch "$MARKER"
timeout 900 apt-get install -y -qq "$deb" >"$work/install.log" 2>&1 || fail "apt-get install $(basename "$deb") failed"
installed || fail "$PKG not installed after apt-get install"
for b in /usr/sbin/forward-server /usr/sbin/forward-client /usr/sbin/forward-ctl; do
    [ -x "$b" ] || fail "$b not installed"
done
[ "$(/usr/sbin/forward-server --version | awk '{ print $NF }')" = "$version" ] ||
    fail "installed forward-server --version is not $version"
for f in /usr/share/man/man8/forward-server.8.gz /usr/share/man/man8/forward-client.8.gz \
    /usr/share/man/man8/forward-ctl.8.gz \
    /usr/share/man/man5/forward_server.cfg.5.gz /usr/share/doc/$PKG/README.md.gz \
    /usr/share/doc/$PKG/changelog.gz /usr/share/doc/$PKG/copyright \
    /usr/share/doc/$PKG/examples/client-example.conf \
    /lib/systemd/system/forward-server.service /lib/systemd/system/forward-client@.service; do
    [ -f "$f" ] || fail "$f not installed"
done
conffiles=$(dpkg-query -W -f='${Conffiles}' "$PKG")
for f in /etc/tcp-forward/forward_server.cfg /etc/tcp-forward/port_mapper.cfg; do
    grep -q "^ $f " <<<"$conffiles" || fail "$f is not a conffile"
done

# System user and group: no home, no shell.
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd tcp-forward) || fail "no user tcp-forward"
[ "$uid" -lt 1000 ] || fail "tcp-forward is not a system user (uid $uid)"
[ "$(getent group tcp-forward | cut -d: -f3)" = "$gid" ] || fail "tcp-forward's group is not tcp-forward"
[ "$home" = /nonexistent ] && [ ! -e /nonexistent ] || fail "tcp-forward has a home folder ($home)"
[ "$shell" = /usr/sbin/nologin ] || fail "tcp-forward has a login shell ($shell)"

# The generated key: 0640 root:tcp-forward, 64 hex digits.
key=/etc/tcp-forward/secret.key
[ -f "$key" ] || fail "$key not generated"
[ "$(stat -c '%a %U %G' "$key")" = "640 root tcp-forward" ] ||
    fail "$key is $(stat -c '%a %U %G' "$key"), want 640 root tcp-forward"
grep -qxE '[0-9a-f]{64}' "$key" || fail "$key does not hold 64 hex digits"
keysum=$(sha256sum <"$key")
# Reinstalling runs postinst again: it must keep the key (and an admin's).
timeout 900 apt-get install -y -qq --reinstall "$deb" >>"$work/install.log" 2>&1 || fail "apt-get install --reinstall failed"
[ "$(sha256sum <"$key")" = "$keysum" ] || fail "postinst replaced an existing $key"

# The installed configuration is valid, also for the user the unit runs as.
out=$(/usr/sbin/forward-server -n /etc/tcp-forward/forward_server.cfg 2>&1) ||
    fail "forward-server -n /etc/tcp-forward/forward_server.cfg: $out"
grep -q 'configuration OK' <<<"$out" || fail "forward-server -n printed: $out"
as_user=(setpriv --reuid=tcp-forward --regid=tcp-forward --init-groups --no-new-privs)
out=$("${as_user[@]}" /usr/sbin/forward-server -n /etc/tcp-forward/forward_server.cfg 2>&1) ||
    fail "as tcp-forward: forward-server -n /etc/tcp-forward/forward_server.cfg: $out"

# ---------------------------------------------------------------- systemd units
# Installed, but nothing enabled: the admin enables the server and each
# client instance (README, "Installing the package").
for u in forward-server.service forward-client@.service; do
    state=$(systemctl is-enabled "$u" 2>/dev/null)
    case $state in
    disabled | static | indirect | "") ;;
    *) fail "$u is '$state' after installation, want disabled" ;;
    esac
done
sysstate=$(systemctl is-system-running 2>/dev/null)
case $sysstate in
offline | "" | unknown)
    # No systemd as PID 1 here (containers, CI): check the unit files; the
    # daemons are run below from the units' own ExecStart lines.
    if command -v systemd-analyze >/dev/null; then
        for u in /lib/systemd/system/forward-server.service /lib/systemd/system/forward-client@.service; do
            out=$(timeout 60 systemd-analyze verify "$u" 2>&1) || fail "systemd-analyze verify $u: $out"
            [ -z "$out" ] || fail "systemd-analyze verify $u: $out"
        done
        log "systemd is $sysstate: unit files checked with systemd-analyze verify"
    else
        fail "systemd is $sysstate and systemd-analyze is missing (package systemd): the unit files cannot be verified"
    fi
    ;;
*)
    log "systemd is $sysstate: not starting the units on this machine (they would bind port 1111)"
    ;;
esac

# ---------------------------------------------------------------- run it
free_port() { python3 "$top/tests/integration/helpers.py" free-port; }
inner=$(free_port) && pub=$(free_port) && http=$(free_port) || fail "no free ports"
while [ "$pub" = "$inner" ] || [ "$http" = "$inner" ] || [ "$http" = "$pub" ]; do
    pub=$(free_port) && http=$(free_port) || fail "no free ports"
done

# The installed example configuration, with test ports on 127.0.0.1 only.
etc=$work/etc
cp -a /etc/tcp-forward "$etc" || fail "cannot copy /etc/tcp-forward"
chmod 755 "$work" "$etc"
sed -i -E "s/^INNER_PORT *=.*/INNER_PORT = $inner/; s/^INNER_ADDR *=.*/INNER_ADDR = $LOCALHOST/" \
    "$etc/forward_server.cfg"
sed -i -E "s/^127\.0\.0\.1:10080 *= *127\.0\.0\.1:8000/$LOCALHOST:$pub = $LOCALHOST:$http/" \
    "$etc/port_mapper.cfg"
grep -q "^INNER_PORT = $inner\$" "$etc/forward_server.cfg" || fail "example forward_server.cfg has no INNER_PORT line to adapt"
grep -q "^INNER_ADDR = $LOCALHOST\$" "$etc/forward_server.cfg" || fail "example forward_server.cfg has no INNER_ADDR line to adapt"
grep -q "^$LOCALHOST:$pub = $LOCALHOST:$http\$" "$etc/port_mapper.cfg" ||
    fail "example port_mapper.cfg has no '127.0.0.1:10080 = 127.0.0.1:8000' mapping to adapt"
active=$(grep -cvE '^[[:space:]]*([#;]|\[|$)' "$etc/port_mapper.cfg")
[ "$active" = 1 ] || fail "example port_mapper.cfg has $active active mappings, want only the loopback one"
cfg=$etc/forward_server.cfg
out=$("${as_user[@]}" /usr/sbin/forward-server -n "$cfg" 2>&1) || fail "adapted config: forward-server -n: $out"

mkdir -p "$work/www"
head -c $((4 << 20)) /dev/urandom >"$work/www/blob.bin"
want=$(sha256sum <"$work/www/blob.bin" | cut -d' ' -f1)
start http python3 -m http.server --bind $LOCALHOST --directory "$work/www" "$http"
wait_for 15 listening "$http" || fail "python3 http.server did not listen on $http"

# unit_exec UNIT KEY: the command line of KEY= (ExecStart, ExecStartPre).
unit_exec() { sed -nE "s/^$2=//p" "/lib/systemd/system/$1" | head -n 1; }

# forward-server.service: ExecStartPre and ExecStart, config path replaced.
pre=$(unit_exec forward-server.service ExecStartPre)
exe=$(unit_exec forward-server.service ExecStart)
[ -n "$pre" ] && [ -n "$exe" ] || fail "forward-server.service lacks ExecStartPre= or ExecStart="
read -r -a pre_argv <<<"${pre//\/etc\/tcp-forward\/forward_server.cfg/$cfg}"
read -r -a exe_argv <<<"${exe//\/etc\/tcp-forward\/forward_server.cfg/$cfg}"
out=$("${as_user[@]}" "${pre_argv[@]}" 2>&1) || fail "ExecStartPre ($pre) on the adapted config: $out"
# The unit's RuntimeDirectory=, made as systemd would (owner tcp-forward):
# the default CONTROL_SOCKET lives there, and ExecReload's forward-ctl
# finds it.
made_rundir=
if [ ! -d /run/tcp-forward ]; then
    install -d -o tcp-forward -g tcp-forward -m 755 /run/tcp-forward || fail "cannot make /run/tcp-forward"
    made_rundir=1
fi
start server "${as_user[@]}" "${exe_argv[@]}"
server_pid=$BG_PID
wait_for 10 listening "$inner" || fail "installed forward-server did not listen on INNER_PORT $inner"
wait_for 10 listening "$pub" || fail "installed forward-server did not listen on public port $pub"

# forward-client@test.service: ExecStart with the variables of an
# environment file made from the installed example, as systemd expands
# them ($OPTIONS split at spaces, ${VAR} one argument).
# The client proves the server's key (AUTH_KEY_FILE): installed as README
# says, as /etc/tcp-forward/client.key, which forward-client reads by
# default (purge removes it with the folder).
copts="--retry-delay 1 --log-level debug"
keyname=$(sed -nE 's/^AUTH_KEY_FILE *= *([^ ;]+).*/\1/p' "$cfg" | tail -n 1)
if [ -n "$keyname" ]; then
    case $keyname in /*) ;; *) keyname=$etc/$keyname ;; esac
    install -o root -g tcp-forward -m 640 "$keyname" /etc/tcp-forward/client.key ||
        fail "cannot install /etc/tcp-forward/client.key"
elif grep -qiE '^AUTH *= *none' "$cfg"; then
    copts="$copts --no-auth"
fi
envf=$work/client-test.conf
sed -E "s/^SERVER_HOST=.*/SERVER_HOST=$LOCALHOST/; s/^SERVER_PORT=.*/SERVER_PORT=$inner/; s|^OPTIONS=.*|OPTIONS=$copts|" \
    /usr/share/doc/$PKG/examples/client-example.conf >"$envf"
env_get() { sed -nE "s/^$1=//p" "$envf" | tail -n 1; }
cexe=$(unit_exec forward-client@.service ExecStart)
[ -n "$cexe" ] || fail "forward-client@.service has no ExecStart="
grep -q '^EnvironmentFile=/etc/tcp-forward/client-%i.conf$' /lib/systemd/system/forward-client@.service ||
    fail "forward-client@.service does not read /etc/tcp-forward/client-%i.conf"
client_argv=()
for w in $cexe; do
    case $w in
    '$OPTIONS') read -r -a opts <<<"$(env_get OPTIONS)"; client_argv+=("${opts[@]}") ;;
    '${SERVER_HOST}') client_argv+=("$(env_get SERVER_HOST)") ;;
    '${SERVER_PORT}') client_argv+=("$(env_get SERVER_PORT)") ;;
    '$MORE_SERVERS') read -r -a more <<<"$(env_get MORE_SERVERS)"; client_argv+=("${more[@]}") ;;
    *'$'*) fail "forward-client@.service: unexpected variable in ExecStart: $w" ;;
    *) client_argv+=("$w") ;;
    esac
done
start client "${as_user[@]}" "${client_argv[@]}"
client_pid=$BG_PID
wait_for 15 grep -q 'channel up' "$work/server.log" || fail "no 'channel up' in the server log within 15 s"

# Bytes through the mapping.
python3 - "$LOCALHOST" "$pub" "$work/got.bin" <<'EOF' >"$work/fetch.log" 2>&1 || fail "download through the tunnel failed"
import sys, urllib.request
host, port, out = sys.argv[1:]
with urllib.request.urlopen(f"http://{host}:{port}/blob.bin", timeout=60) as r, open(out, "wb") as f:
    f.write(r.read())
EOF
got=$(sha256sum <"$work/got.bin" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "download through the tunnel: sha256 $got, want $want ($(stat -c %s "$work/got.bin") bytes)"
kill -USR1 "$server_pid"
wait_for 10 grep -q 'status:' "$work/server.log" || fail "no status line after SIGUSR1"
# ExecReload: HUP reloads the configuration and the server keeps running.
# "SIGHUP: reloading" comes before the outcome: wait for the outcome, the
# success line (server.cc) or the failure line (forward_server_main.cc),
# counted after the HUP, and want the success one.
reloaded() { grep -cE 'configuration reloaded: [0-9]+ mappings|reload failed' "$work/server.log"; }
reload_line=$(unit_exec forward-server.service ExecReload)
[ "$reload_line" = "/usr/sbin/forward-ctl reload" ] || fail "ExecReload is '$reload_line', want forward-ctl reload"
read -r -a reload_argv <<<"$reload_line"
wait_for 10 test -S /run/tcp-forward/control.sock || fail "no control socket at /run/tcp-forward/control.sock"
out=$("${as_user[@]}" "${reload_argv[@]}" 2>&1) || fail "ExecReload ($reload_line) failed: $out"
[[ $out == *"configuration reloaded: "* ]] || fail "ExecReload printed: $out"
# A refused configuration makes ExecReload (so systemctl reload) fail.
cp "$cfg" "$work/good.cfg"
echo "LOG_LEVEL = loud" >>"$cfg"
if out=$("${as_user[@]}" "${reload_argv[@]}" 2>&1); then fail "ExecReload succeeded on a broken configuration: $out"; fi
[[ $out == *"configuration refused; the running configuration is kept"* ]] || fail "ExecReload on a broken file printed: $out"
cp "$work/good.cfg" "$cfg"
reloads_before=$(reloaded)
reload_outcome() { [ "$(reloaded)" -gt "$reloads_before" ]; }
kill -HUP "$server_pid"
wait_for 10 reload_outcome || fail "no reload outcome logged within 10 s of SIGHUP"
outcome=$(grep -E 'configuration reloaded: [0-9]+ mappings|reload failed' "$work/server.log" | tail -n 1)
[[ $outcome == *"configuration reloaded: "* ]] || fail "SIGHUP: the reload failed: $outcome"
! gone "$server_pid" || fail "forward-server exited after SIGHUP"

# Stop both by PID: SIGTERM ends them with status 0.
for pid in "$client_pid" "$server_pid"; do
    kill -TERM "$pid"
    wait_for 30 gone "$pid" ||
        fail "pid $pid did not stop within 30 s of SIGTERM"
    wait "$pid"
    rc=$?
    [ $rc = 0 ] || fail "pid $pid exited with status $rc after SIGTERM, want 0"
done
log "moved 4 MiB through the installed daemons (ports $inner, $pub -> $http)"
[ -z "$made_rundir" ] || rm -rf /run/tcp-forward

# ---------------------------------------------------------------- remove, purge
timeout 600 apt-get remove -y -qq "$PKG" >"$work/remove.log" 2>&1 || fail "apt-get remove failed"
[ -f /etc/tcp-forward/forward_server.cfg ] || fail "apt-get remove deleted the conffiles"
[ -f "$key" ] || fail "apt-get remove deleted $key"
[ ! -e /usr/sbin/forward-server ] || fail "apt-get remove left /usr/sbin/forward-server"
timeout 600 apt-get purge -y -qq "$PKG" >"$work/purge.log" 2>&1 || fail "apt-get purge failed"
! installed || fail "$PKG still known to dpkg after purge: $(dpkg-query -W -f='${Status}' "$PKG")"
rm -f "$MARKER"
[ -z "$(dpkg -L "$PKG" 2>/dev/null)" ] || fail "dpkg -L $PKG still lists files"
for f in /etc/tcp-forward /usr/sbin/forward-server /usr/sbin/forward-client \
    /usr/share/doc/$PKG /usr/share/man/man8/forward-server.8.gz /usr/share/man/man8/forward-client.8.gz \
    /usr/share/man/man5/forward_server.cfg.5.gz /lib/systemd/system/forward-server.service \
    /lib/systemd/system/forward-client@.service \
    /etc/systemd/system/multi-user.target.wants/forward-server.service \
    /var/lib/systemd/deb-systemd-helper-enabled/forward-server.service.dsh-also \
    /var/lib/systemd/deb-systemd-helper-masked/forward-server.service; do
    [ ! -e "$f" ] || fail "$f left after purge"
done
# Documented: the system user and group are kept (README).
getent passwd tcp-forward >/dev/null || fail "purge removed the tcp-forward user, README says it is kept"

log "package contents:"
cat "$work/contents.log" >&2
echo "PASS: deb"
