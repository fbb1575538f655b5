#!/usr/bin/env python3
"""Writes the seed corpora and dictionaries in tests/fuzz/ (run from anywhere).

Seeds are small valid inputs: frames as docs/PROTOCOL.md defines them,
configurations like etc/, and access rules like the README's. libFuzzer
mutates from there; tools/fuzz.sh keeps what it finds in build-fuzz/, so
these committed files stay small. Rerun after a protocol or config change.
"""
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

# --- frames ---------------------------------------------------------------
NONCE = bytes(range(32))


def frame(ftype, stream, payload=b""):
    return struct.pack(">BBHII", ftype, 0, 0, stream, len(payload)) + payload


SESSION = bytes(range(200, 216))


def hello(role, flags=1, tag=b""):
    return b"TCPF" + struct.pack(">HBB", 1, role, flags) + NONCE + SESSION + bytes([len(tag)]) + tag


def open_(window, port, host):
    h = host.encode()
    return struct.pack(">IHB", window, port, len(h)) + h


def udp_open(port, host):
    h = host.encode()
    return struct.pack(">HB", port, len(h)) + h


def proxy_block(version, family, uid):
    """The PROXY block an OPEN or UDP_OPEN may end with (docs/PROTOCOL.md)."""
    a = {0: 0, 4: 4, 6: 16}[family]
    return (bytes([version, family]) + bytes(range(1, 1 + a)) + bytes(range(100, 100 + a))
            + struct.pack(">HH", 40000, 4444) + bytes([len(uid)]) + uid)


def auth(name=b""):
    return bytes(range(100, 132)) + bytes([len(name)]) + name


def failure(reason, text):
    return bytes([reason]) + text.encode()


u32 = lambda v: struct.pack(">I", v)


def request(status, nbytes, latency_us, method, path, peer, mapping):
    return (struct.pack(">HQI", status, nbytes, latency_us) + bytes([len(method)]) + method
            + struct.pack(">H", len(path)) + path + bytes([len(peer)]) + peer
            + bytes([len(mapping)]) + mapping)


FRAMES = {
    "hello_client": frame(1, 0, hello(1)),
    "hello_server": frame(1, 0, hello(2)),
    "hello_noauth": frame(1, 0, hello(1, 0)),
    "hello_tag": frame(1, 0, hello(1, 1, b"branch-office")),
    "udp_open": frame(0x0C, 5, udp_open(53, "10.0.0.53")),
    "udp_open_name": frame(0x0C, 6, udp_open(514, "syslog.internal")),
    "datagram": frame(0x0D, 5, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"),
    "datagram_empty": frame(0x0D, 5),
    "auth": frame(0x0B, 0, auth()),
    "auth_named": frame(0x0B, 0, auth(b"branch-office")),
    "open_v4": frame(2, 1, open_(1 << 20, 22, "192.168.10.5")),
    "open_v6": frame(2, 2, open_(1 << 20, 443, "fd00::5")),
    "open_name": frame(2, 3, open_(65536, 8080, "inner-web.example")),
    "open_proxy": frame(2, 4, open_(65536, 80, "web") + proxy_block(2, 4, b"0a0b0c0d.01020304.4")),
    "open_ok": frame(3, 1, u32(1 << 20)),
    "open_fail": frame(4, 1, failure(1, "connection refused")),
    "data": frame(5, 1, b"GET / HTTP/1.0\r\n\r\n"),
    "eof": frame(6, 1),
    "reset": frame(7, 1, failure(5, "peer reset")),
    "window": frame(8, 1, u32(4096)),
    "ping": frame(9, 0, b"12345678"),
    "pong": frame(10, 0, b"12345678"),
    "session": frame(1, 0, hello(1)) + frame(0x0B, 0, auth(b"c1"))
    + frame(2, 1, open_(1 << 20, 80, "127.0.0.1")) + frame(3, 1, u32(1 << 20))
    + frame(5, 1, b"x" * 100) + frame(8, 1, u32(100)) + frame(6, 1) + frame(7, 1, failure(6, "")),
    "request": frame(0x11, 1, request(200, 1154, 812, b"GET", b"/index.html", b"203.0.113.7:51234",
                                      b"0.0.0.0:8080")),
    "request_no_response": frame(0x11, 2, request(0, 0, 0, b"POST", b"", b"", b"")),
    # Bare payloads, for the payload parsers fed the whole input.
    "payload_request": request(404, 1 << 33, 4294967295, b"HEAD", b"/" + b"p" * 255,
                               b"[2001:db8::1]:443", b"[::]:8443"),
    "payload_hello": hello(1),
    "payload_open": open_(1 << 20, 22, "db.internal"),
    "payload_auth": auth(b"x"),
    "payload_failure": failure(3, "timed out"),
    "payload_u32": u32(1),
    "payload_udp_open": udp_open(53, "fd00::53"),
    "payload_open_proxy_v1": open_(1 << 20, 80, "web") + proxy_block(1, 4, b"0a0b0c0d.01020304.1"),
    "payload_open_proxy_v2_v6": open_(1 << 20, 443, "fd00::5") + proxy_block(2, 6, b"x"),
    "payload_open_proxy_local": open_(65536, 22, "h") + proxy_block(2, 0, b""),
    "payload_udp_open_proxy": udp_open(53, "dns") + proxy_block(2, 4, b"s.c.9"),
}

# --- configurations -------------------------------------------------------
MAIN = """[DEFAULT]
INNER_PORT = 1111
INNER_ADDR = 0.0.0.0
OUTER_PORTS_FILE = port_mapper.cfg
LOG_LEVEL = info
AUTH_KEY_FILE = secret.key
"""
PORTS = """[MAPPER]
127.0.0.1:10080 = 127.0.0.1:8000
1234 = 192.168.10.5:80
8080 = inner-web.example:8080 ; comment
[2001:db8::1]:2222 = [fd00::5]:22
"""
CONFIGS = {
    "shipped": MAIN + "\n%%\n" + PORTS,
    "inline": """# all in one file
[DEFAULT]
INNER_PORT = 2222
INNER_ADDR = ::
AUTH = none
LOG_LEVEL = debug
HANDSHAKE_TIMEOUT = 5
MAX_HANDSHAKES = 64
MAX_STREAMS_PER_CLIENT = 1000
[MAPPER]
4444 = 10.0.0.5:22
[::1]:8443 = db.internal:5432
""",
    "security": """[DEFAULT]
INNER_PORT = 1111
AUTH_KEY_FILE = /etc/tcp-forward/secret.key
TLS_CERT = server.crt
TLS_KEY = server.key
TLS_CLIENT_CA = clients-ca.crt
USER = tcp-forward
GROUP = tcp-forward
[CLIENTS]
branch-office = branch-office.key
hq = hq.key
[RULES]
ALLOW = 0.0.0.0/0, ::/0
4444.ALLOW = 203.0.113.0/24 198.51.100.7
4444.DENY = 203.0.113.66
4444.MAX_CONNECTIONS = 20
[MAPPER]
4444 = 192.168.10.5:22
""",
    "errors": """[DEFAULT]
INNER_PORT = 70000
LOG_LEVEL = loud
[MAPPER]
8080 = 10.0.0.5
1111 = 10.0.0.5:80
[BOGUS]
""",
    "bom_crlf": "\ufeff[MAPPER]\r\n1234 = 10.0.0.1:80\r\n",
    "operations": """[DEFAULT]
AUTH_KEY_FILE = secret.key
HEARTBEAT_INTERVAL = 10
CLIENT_WAIT = 5
DRAIN_TIMEOUT = 10
PID_FILE = /run/forward-server.pid
UDP_TIMEOUT = 60
UDP_MAX_SESSIONS = 1024
UDP_MAX_DATAGRAM = 65507
[MAPPER]
4444 = 192.168.10.5:22
5353/udp = 10.0.0.53:53
[::1]:514/udp = syslog.internal:514
8080/tcp = inner-web.example:8080
[TAG]
4444 = office
[MODE]
8080/tcp = http
[RULES]
5353/udp.ALLOW = 198.51.100.0/24
4444.DENY = 203.0.113.66
""",
    "ports_file_sections": """[DEFAULT]
OUTER_PORTS_FILE = ports.cfg
AUTH = none
%%
[MAPPER]
2222 = 10.0.0.2:22
[TAG]
2222 = lab
[RULES]
2222.ALLOW = 10.0.0.0/8
""",
}
CONFIG_WORDS = [
    "[DEFAULT]", "[MAPPER]", "[CLIENTS]", "[RULES]", "INNER_PORT", "INNER_ADDR",
    "OUTER_PORTS_FILE", "LOG_LEVEL", "AUTH", "none", "AUTH_KEY_FILE", "TLS_CERT", "TLS_KEY",
    "TLS_CLIENT_CA", "USER", "GROUP", "HANDSHAKE_TIMEOUT", "MAX_HANDSHAKES",
    "MAX_STREAMS_PER_CLIENT", "ALLOW", "DENY", "MAX_CONNECTIONS", ".ALLOW", ".DENY",
    ".MAX_CONNECTIONS", " = ", " ; ", "\n%%\n", "[::1]:", "127.0.0.1:", "0.0.0.0/0", "::/0",
    "65535", "65536", "HEARTBEAT_INTERVAL", "CLIENT_WAIT", "DRAIN_TIMEOUT", "PID_FILE",
    "UDP_TIMEOUT", "UDP_MAX_SESSIONS", "UDP_MAX_DATAGRAM", "[TAG]", "/udp", "/tcp",
    "[MODE]", "http", "tcp",
]

# --- access rules ---------------------------------------------------------
ACCESS = {
    "v4_cidr": "10.0.0.0/8\n10.1.2.3",
    "v4_port": "10.0.0.5:22\n10.0.0.5",
    "v4_range": "10.0.0.0/24:8000-9000\n10.0.0.77",
    "v6_cidr": "fd00::/64\nfd00::1",
    "v6_port": "[fd00::/64]:22\nfd00::abcd",
    "v6_range": "[fd00::5]:1-1024\nfd00::5",
    "v6_bracket_prefix": "[fd00::]/64:443\n::ffff:10.0.0.1",
    "mapped": "::ffff:10.0.0.0/104\n10.0.0.1",
    "name": "db.internal\nDB.Internal.",
    "name_port": "db.internal:5432\ndb.internal",
    "wildcard": "*.corp.example:443\nwww.corp.example",
    "list": "10.0.0.0/8, 192.168.0.0/16 ::1\tfd00::/8",
    "zero": "0.0.0.0/0:65535\n255.255.255.255",
    "zone": "fe80::1%eth0\nfe80::1",
}
ACCESS_WORDS = ["/0", "/32", "/128", "/33", "/129", "::", "::ffff:", "[", "]", ":65535", "-",
                "*.", "%", "0x", ", ", "\n"]


def write_dir(name, items):
    d = os.path.join(CORPUS, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for key, data in items.items():
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, key), "wb") as f:
            f.write(data)


def write_dict(name, words):
    with open(os.path.join(HERE, name), "w") as f:
        f.write("# libFuzzer dictionary, written by make_corpus.py\n")
        for w in words:
            esc = "".join(c if c.isprintable() and c not in '"\\' else "\\x%02x" % ord(c) for c in w)
            f.write('"%s"\n' % esc)


write_dir("frame", FRAMES)
write_dir("config", CONFIGS)
write_dir("access", ACCESS)
write_dict("config.dict", CONFIG_WORDS)
write_dict("access.dict", ACCESS_WORDS)
