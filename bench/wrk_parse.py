#!/usr/bin/env python3
"""Parse the output of `wrk --latency` (wrk 4.x).

usage: wrk_parse.py WRK_OUTPUT_FILE

Prints one line "REQS_PER_S P50_US P99_US REQUESTS ERRORS" where ERRORS is
the sum of wrk's socket errors (connect, read, write, timeout) and non-2xx/3xx
responses. Exit 1 (message on stdout) if the output has no result.
"""
import re
import sys

UNIT_US = {"us": 1.0, "ms": 1000.0, "s": 1e6, "m": 60e6, "h": 3600e6}


def dur_us(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError("bad duration %r" % text)
    return float(m.group(1)) * UNIT_US[m.group(2)]


def main():
    try:
        out = open(sys.argv[1]).read()
    except OSError as e:
        print("no wrk output (%s)" % e)
        return 1
    try:
        rps = float(re.search(r"^Requests/sec:\s+([0-9.]+)", out, re.M).group(1))
        p50 = dur_us(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
        p99 = dur_us(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
        reqs = int(re.search(r"^\s+(\d+) requests in", out, re.M).group(1))
    except (AttributeError, ValueError) as e:
        print("wrk output not understood (%s): %s" % (e, " | ".join(out.strip().splitlines()[-3:])))
        return 1
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    print("%.1f %.1f %.1f %d %d" % (rps, p50, p99, reqs, errors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
