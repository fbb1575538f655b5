#!/usr/bin/env python3
"""HTTP helpers for t_http_log.sh (loopback only, every wait bounded).

  web PORT LIFETIME     HTTP/1.1 server with keep-alive on 127.0.0.1:PORT:
                        /ok 200 (1000 bytes), /missing 404 (123 bytes),
                        /fail 500 (45 bytes), /big 200 (1 MiB, fixed
                        pseudo-random bytes), anything else 404 (9 bytes).
                        Pipelined requests are answered in order.
  big-file PATH         writes /big's body to PATH.
  client HOST PORT SRC PIPELINE OUT
                        one keep-alive connection from SRC: the requests of
                        PLAN one at a time, then PIPELINE at once (one
                        write); reads every response byte-exactly (status,
                        Content-Length) and writes one line per request to
                        OUT: "METHOD PATH STATUS BYTES", BYTES the whole
                        response, headers included.
"""
import http.server
import random
import socket
import socketserver
import sys
import threading
import time

BODIES = {
    "/ok": (200, b"a" * 1000),
    "/missing": (404, b"m" * 123),
    "/fail": (500, b"f" * 45),
}
PLAN = [("GET", "/ok"), ("GET", "/missing"), ("GET", "/fail"), ("HEAD", "/ok"),
        ("GET", "/nothing-here"), ("GET", "/ok?x=" + "q" * 300)]


def big_body():
    rnd = random.Random(17)
    return bytes(rnd.getrandbits(8) for _ in range(1 << 20))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes
    big = None

    def log_message(self, *args):
        pass

    def answer(self, with_body):
        path = self.path.split("?")[0]
        if path == "/big":
            status, body = 200, Handler.big
        else:
            status, body = BODIES.get(path, (404, b"not found"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self):
        self.answer(True)

    def do_HEAD(self):
        self.answer(False)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def cmd_web(port, lifetime):
    Handler.big = big_body()
    srv = Server(("127.0.0.1", int(port)), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    time.sleep(float(lifetime))
    srv.shutdown()


def read_response(sock, buf, method, deadline):
    """Reads one response from sock (buf: bytes already read); returns
    (status, bytes, rest of buf)."""
    while b"\r\n\r\n" not in buf:
        if time.time() > deadline:
            raise SystemExit("timed out reading response headers")
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("connection closed in response headers")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    if method == "HEAD":
        length = 0
    while len(rest) < length:
        if time.time() > deadline:
            raise SystemExit("timed out reading a response body")
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("connection closed in a response body")
        rest += chunk
    return status, len(head) + 4 + length, rest[length:]


def cmd_client(host, port, src, pipeline, out):
    deadline = time.time() + 20
    sock = socket.socket()
    sock.settimeout(10)
    sock.bind((src, 0))
    sock.connect((host, int(port)))
    lines = []
    buf = b""

    def req(method, path):
        return ("%s %s HTTP/1.1\r\nHost: test\r\n\r\n" % (method, path)).encode()

    for method, path in PLAN:
        sock.sendall(req(method, path))
        status, n, buf = read_response(sock, buf, method, deadline)
        lines.append("%s %s %d %d" % (method, path, status, n))
    batch = [PLAN[i % 3] for i in range(int(pipeline))]
    sock.sendall(b"".join(req(m, p) for m, p in batch))
    for method, path in batch:
        status, n, buf = read_response(sock, buf, method, deadline)
        lines.append("%s %s %d %d" % (method, path, status, n))
    sock.close()
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    cmd = sys.argv[1]
    if cmd == "web":
        cmd_web(*sys.argv[2:4])
    elif cmd == "big-file":
        with open(sys.argv[2], "wb") as f:
            f.write(big_body())
    elif cmd == "client":
        cmd_client(*sys.argv[2:7])
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
