#!/bin/bash
# (h) A real protocol: ssh to a private sshd (own host key, own
# authorized_keys, 127.0.0.1 only) through the tunnel.
. "$(dirname "$0")/lib.sh"

SSHD=/usr/sbin/sshd
[ -x "$SSHD" ] || fail "$SSHD not installed (openssh-server is required)"
command -v ssh >/dev/null || fail "ssh not installed (openssh-client is required)"
command -v ssh-keygen >/dev/null || fail "ssh-keygen not installed"
mkdir -p /run/sshd || fail "cannot create /run/sshd"

SSH_PORT=$(free_port) || fail "free_port"
PUB=$(free_port) || fail "free_port"

ssh-keygen -q -t ed25519 -N '' -C tcpf-test-host -f "$TMP/host_key" || fail "ssh-keygen (host key)"
ssh-keygen -q -t ed25519 -N '' -C tcpf-test-user -f "$TMP/user_key" || fail "ssh-keygen (user key)"
cp "$TMP/user_key.pub" "$TMP/authorized_keys"
chmod 600 "$TMP/host_key" "$TMP/user_key" "$TMP/authorized_keys"

cat >"$TMP/sshd_config" <<CFG
ListenAddress $LOCALHOST
HostKey $TMP/host_key
PidFile $TMP/sshd.pid
AuthorizedKeysFile $TMP/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
LogLevel VERBOSE
CFG

"$SSHD" -t -f "$TMP/sshd_config" -p "$SSH_PORT" >"$TMP/sshd_t.out" 2>&1 ||
    fail "sshd rejects the test config: $(cat "$TMP/sshd_t.out")"
start_bg sshd "$SSHD" -D -e -f "$TMP/sshd_config" -p "$SSH_PORT"
wait_port $LOCALHOST "$SSH_PORT" 10 || fail "sshd did not listen on $SSH_PORT"

SSH=(ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes
    -o ConnectTimeout=15 -o LogLevel=ERROR -i "$TMP/user_key")

# sanity: direct, without the tunnel
out=$(timeout 30 "${SSH[@]}" -p "$SSH_PORT" root@$LOCALHOST echo direct-ok 2>&1)
[ "$out" = direct-ok ] || fail "ssh directly to the test sshd failed: $out"

start_tunnel "$LOCALHOST:$PUB = $LOCALHOST:$SSH_PORT"

out=$(timeout 60 "${SSH[@]}" -p "$PUB" root@$LOCALHOST echo hello-through-tunnel 2>"$TMP/ssh.err")
rc=$?
[ $rc = 0 ] || fail "ssh through the tunnel exit status $rc: $(cat "$TMP/ssh.err")"
[ "$out" = hello-through-tunnel ] || fail "ssh through the tunnel printed '$out'"

# a bulk round trip through ssh: 8 MiB in, the same 8 MiB back
head -c $((8 << 20)) /dev/urandom >"$TMP/blob"
want=$(sha256sum <"$TMP/blob" | cut -d' ' -f1)
got=$(timeout 90 "${SSH[@]}" -p "$PUB" root@$LOCALHOST cat <"$TMP/blob" 2>>"$TMP/ssh.err" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "8 MiB through ssh cat came back different: $(tail -n 3 "$TMP/ssh.err")"

assert_server_alive
pass
