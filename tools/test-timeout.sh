#!/bin/bash
# Runs one test (make check's LOG_COMPILER) under a time limit, so a hung
# test is reported as a failure by name instead of stopping the suite.
# TCPF_TEST_TIMEOUT (seconds, default 900) sets the limit; on expiry the
# test gets TERM (its trap stops what it started), then KILL 20 s later.
limit=${TCPF_TEST_TIMEOUT:-900}
name=$(basename "$1")
case $1 in
  *.sh) cmd=(bash "$@") ;;
  *) cmd=("$@") ;;
esac
timeout --kill-after=20 "$limit" "${cmd[@]}"
rc=$?
if [ $rc = 124 ] || [ $rc = 137 ]; then
  echo "FAIL: $name: timed out after $limit s (TCPF_TEST_TIMEOUT)"
  exit 1
fi
exit $rc
