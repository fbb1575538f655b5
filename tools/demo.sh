#!/bin/bash
# The main job on loopback, with the shipped example configuration:
# a local web service on 127.0.0.1:8000, forward-server with
# etc/forward_server.cfg (mapping 127.0.0.1:10080 -> 127.0.0.1:8000),
# forward-client dialing 127.0.0.1:1111, and curl fetching a file through
# the mapped port.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
bash tools/deps.sh build test || exit 1
bash tools/build.sh || exit 1

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

# The shipped config names AUTH_KEY_FILE = secret.key beside it; make one
# for the demo if there is none (the Debian package makes it at install).
if [ ! -f etc/secret.key ]; then
  (umask 077 && openssl rand -hex 32 >etc/secret.key)
  echo "== made etc/secret.key (the shared key of server and client)"
fi

mkdir "$work/www"
head -c $((16 * 1024 * 1024)) /dev/urandom >"$work/www/demo.bin"
python3 -m http.server 8000 --bind 127.0.0.1 --directory "$work/www" >"$work/web.log" 2>&1 &
pids+=($!)
wait_port 8000 || exit 1
echo "== forward-server etc/forward_server.cfg"
src/forward-server -n etc/forward_server.cfg || exit 1
src/forward-server etc/forward_server.cfg 2>"$work/server.log" &
pids+=($!)
wait_for "$work/server.log" "mapping .* listening" || exit 1
echo "== forward-client --key-file etc/secret.key 127.0.0.1 1111"
src/forward-client --key-file etc/secret.key 127.0.0.1 1111 2>"$work/client.log" &
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
