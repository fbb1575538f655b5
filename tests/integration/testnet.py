"""What the integration helpers (helpers.py, sec_helpers.py, udp_helpers.py)
share: the output convention (result lines on stdout, diagnostics on
stderr), loopback sockets with timeouts, percentiles and the subcommand
parser.  127.0.0.0/8 only; Python 3 standard library only."""

import argparse
import socket
import sys
import time

HOST = "127.0.0.1"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def out(*args):
    print(*args, flush=True)


def now():
    return time.monotonic()


def pct(values, p):
    """p-th percentile (nearest rank) of a list; 0.0 when empty."""
    if not values:
        return 0.0
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def connect(port, host=HOST, src=HOST, timeout=5.0):
    """A TCP connection from src (any 127.x address) with a timeout on
    every later operation."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect((host, port))
    return s


def listener(port, host=HOST, backlog=1024):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(backlog)
    return s


def subcommands(doc):
    """An argparse parser for `script.py CMD [options]` and add(name, func,
    help_text) that registers func as CMD's handler (a.func); without
    help_text, the first line of func's docstring."""
    p = argparse.ArgumentParser(description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def add(name, func, help_text=None):
        if help_text is None:
            help_text = (func.__doc__ or "").split("\n")[0]
        sp = sub.add_parser(name, help=help_text)
        sp.set_defaults(func=func)
        return sp

    return p, add
