#!/usr/bin/env python3
"""Print the receiver-side throughput of an `iperf3 -J` result in Gbit/s.

usage: iperf_gbps.py RESULT.json
Exit status 1 (message on stdout) if the file is not a successful result.
"""
import json
import sys


def main():
    try:
        with open(sys.argv[1]) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        print("no iperf3 JSON result (%s)" % e)
        return 1
    if d.get("error"):
        print("iperf3: %s" % d["error"])
        return 1
    try:
        bps = d["end"]["sum_received"]["bits_per_second"]
    except (KeyError, TypeError):
        print("iperf3 JSON has no end.sum_received")
        return 1
    print("%.3f" % (bps / 1e9))
    return 0


if __name__ == "__main__":
    sys.exit(main())
