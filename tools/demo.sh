#!/bin/bash
# The main job on loopback, with the shipped example configuration:
# a local web service on 127.0.0.1:8000, forward-server with a copy of
# etc/forward_server.cfg and etc/port_mapper.cfg (mapping 127.0.0.1:10080
# -> 127.0.0.1:8000) whose INNER_ADDR is 127.0.0.1 (the shipped file says
# 0.0.0.0, every IPv4 address: right for a server, not for a demo),
# forward-client dialing 127.0.0.1:1111, and curl fetching a file through
# the mapped port. It installs only what it runs; nothing outside a
# temporary folder is written.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
# FORWARD_SERVER and FORWARD_CLIENT (set by make check, for the test that
# runs this demo) name daemons already built; otherwise build them here.
if [ -n "${FORWARD_SERVER:-}" ] && [ -n "${FORWARD_CLIENT:-}" ]; then
  server_bin=$FORWARD_SERVER
  client_bin=$FORWARD_CLIENT
else
  bash tools/deps.sh build demo || exit 1
  bash tools/build.sh || exit 1
  server_bin=$top/src/forward-server
  client_bin=$top/src/forward-client
fi

for port in 1111 8000 10080; do
  if ss -ltn "sport = :$port" | grep -q LISTEN; then
    echo "demo: port $port is already in use on this machine; stop what uses it and retry" >&2
    exit 1
  fi
done

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

wait_port() {  # wait_port PORT: up to 10 s
  for _ in $(seq 100); do ss -ltn "sport = :$1" | grep -q LISTEN && return 0; sleep 0.1; done
  echo "demo: nothing listens on port $1 after 10 s" >&2; return 1
}
wait_for() {  # wait_for FILE TEXT: up to 10 s
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "demo: timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}

# The shipped files, copied, with the channel port on loopback only. The
# config names AUTH_KEY_FILE = secret.key beside it: the demo makes its own
# (the Debian package makes /etc/tcp-forward/secret.key at install).
cp etc/forward_server.cfg etc/port_mapper.cfg "$work/"
sed -i 's/^INNER_ADDR *=.*/INNER_ADDR = 127.0.0.1/' "$work/forward_server.cfg"
grep -q '^INNER_ADDR = 127.0.0.1$' "$work/forward_server.cfg" || { echo "demo: cannot set INNER_ADDR" >&2; exit 1; }
(umask 077 && openssl rand -hex 32 >"$work/secret.key")
echo "== made a shared key for server and client: $work/secret.key"

mkdir "$work/www"
head -c $((16 * 1024 * 1024)) /dev/urandom >"$work/www/demo.bin"
python3 -m http.server 8000 --bind 127.0.0.1 --directory "$work/www" >"$work/web.log" 2>&1 &
pids+=($!)
wait_port 8000 || exit 1
echo "== forward-server $work/forward_server.cfg (etc/forward_server.cfg with INNER_ADDR = 127.0.0.1)"
"$server_bin" -n "$work/forward_server.cfg" || exit 1
"$server_bin" "$work/forward_server.cfg" 2>"$work/server.log" &
pids+=($!)
wait_for "$work/server.log" "mapping .* listening" || exit 1
echo "== listening sockets of the demo (loopback only):"
ss -ltnH "( sport = :1111 or sport = :10080 or sport = :8000 )" | awk '{print "   " $4}'
if ss -ltnH "( sport = :1111 or sport = :10080 )" | awk '{print $4}' | grep -qv '^127\.'; then
  echo "demo: a port listens beyond loopback" >&2; exit 1
fi
echo "== forward-client --key-file $work/secret.key 127.0.0.1 1111"
"$client_bin" --key-file "$work/secret.key" 127.0.0.1 1111 2>"$work/client.log" &
pids+=($!)
wait_for "$work/client.log" "channel up" || exit 1

echo "== curl http://127.0.0.1:10080/demo.bin (through the tunnel to 127.0.0.1:8000)"
curl -sS -o "$work/got.bin" -w 'received %{size_download} bytes in %{time_total} s (%{speed_download} bytes/s)\n' \
  http://127.0.0.1:10080/demo.bin || exit 1
want=$(sha256sum <"$work/www/demo.bin" | cut -d' ' -f1)
got=$(sha256sum <"$work/got.bin" | cut -d' ' -f1)
echo "sha256 sent     $want"
echo "sha256 received $got"
sleep 0.2
echo "== server log"; cat "$work/server.log"
echo "== client log"; cat "$work/client.log"
if [ "$want" = "$got" ]; then echo "demo: OK, bytes flowed through the mapped port intact"; else echo "demo: FAILED, data differs"; exit 1; fi
