#!/usr/bin/env python3
"""A stand-in for systemd's notification socket (sd_notify).

notify_sink.py PATH OUT [--lifetime S]: binds an AF_UNIX datagram socket at
PATH and appends one line per message to OUT: "<monotonic ms> <message>",
the message's own newlines shown as " | ". Exits after --lifetime seconds.
"""
import argparse
import os
import socket
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("out")
    ap.add_argument("--lifetime", type=float, default=120)
    a = ap.parse_args()
    if os.path.exists(a.path):
        os.unlink(a.path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(a.path)
    end = time.monotonic() + a.lifetime
    with open(a.out, "a", buffering=1) as out:
        while time.monotonic() < end:
            s.settimeout(max(0.05, end - time.monotonic()))
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            text = data.decode("utf-8", "replace").strip().replace("\n", " | ")
            out.write("%d %s\n" % (int(time.monotonic() * 1000), text))


if __name__ == "__main__":
    main()
