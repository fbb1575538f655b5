#!/bin/bash
# Installs the Debian 12 packages tcp-forward needs, only those missing, so
# repeated runs cost nothing. Usage: tools/deps.sh build|demo|test|bench ...
set -euo pipefail

build_pkgs="g++ make autoconf automake pkg-config libevent-dev libinih-dev libssl-dev libsystemd-dev nlohmann-json3-dev libgtest-dev libhttp-parser-dev"
test_pkgs="python3 curl openssh-server openssh-client netcat-openbsd procps iproute2 openssl dnsmasq-base bind9-dnsutils groff-base wrk nginx-light util-linux mount strace nftables prometheus haproxy tmux"
demo_pkgs="python3 curl openssl iproute2"
bench_pkgs="iperf3 haproxy openssh-server openssh-client python3"

want=""
for set in "$@"; do
  case "$set" in
    build) want="$want $build_pkgs" ;;
    demo) want="$want $demo_pkgs" ;;
    test) want="$want $test_pkgs" ;;
    bench) want="$want $bench_pkgs" ;;
    *) echo "deps.sh: unknown set '$set'" >&2; exit 2 ;;
  esac
done

missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
    exit 1
  fi
  echo "deps.sh: installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
