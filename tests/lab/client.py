#!/usr/bin/env python3
"""Lab client: sends COUNT requests to a (virtual) service and summarizes
which backends answered and which source address they saw, as JSON:

  {"answers": {"be1": 10, ...}, "sources": {"10.10.0.2": 30}, "failures": 0}

By default every request uses a new connection (TCP/SCTP) or a new socket,
hence a new source port (UDP).  --same-source-port reuses one local port
(persistence tests); --persistent sends all requests as lines over one
TCP/SCTP connection, reconnecting after a failure (failover tests).
"""
import argparse
import collections
import json
import socket
import struct
import sys
import time

PROTOS = {
    "tcp": (socket.SOCK_STREAM, 0),
    "udp": (socket.SOCK_DGRAM, 0),
    "sctp": (socket.SOCK_STREAM, getattr(socket, "IPPROTO_SCTP", 132)),
}


def family_of(target):
    return socket.AF_INET6 if ":" in target else socket.AF_INET


class Client:
    def __init__(self, a):
        self.a = a
        self.family = family_of(a.target)
        self.stype, self.proto = PROTOS[a.proto]
        self.local_port = a.source_port
        self.sock = None
        self.rfile = None
        self.used = set()

    def open(self):
        wildcard = "::" if self.family == socket.AF_INET6 else "0.0.0.0"
        for _ in range(50):
            s = socket.socket(self.family, self.stype, self.proto)
            s.settimeout(self.a.timeout)
            if self.a.same_source_port or self.local_port is not None:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if self.a.proto == "tcp":  # close with RST: no TIME_WAIT blocking the port's reuse
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.bind((self.a.source or wildcard, self.local_port or 0))
            port = s.getsockname()[1]
            # A port used before in this run would hit the balancer's existing
            # connection entry (UDP sticks to it): unless asked, never reuse one.
            if self.local_port is None and port in self.used:
                s.close()
                continue
            break
        self.used.add(port)
        s.connect((self.a.target, self.a.port))
        if self.a.same_source_port and self.local_port is None:
            self.local_port = port
        self.sock = s
        self.rfile = s.makefile("rb") if self.stype == socket.SOCK_STREAM else None

    def close(self):
        if self.sock:
            try:
                self.rfile and self.rfile.close()
                self.sock.close()
            except OSError:
                pass
        self.sock = self.rfile = None

    def request(self, i):
        if self.sock is None:
            self.open()
        msg = f"req{i}\n".encode()
        if self.rfile:
            self.sock.sendall(msg)
            line = self.rfile.readline()
            if not line:
                raise ConnectionError("connection closed")
        else:
            self.sock.send(msg)
            line = self.sock.recv(65535)
        return line.decode().split()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proto", choices=PROTOS, required=True)
    ap.add_argument("--target", required=True, help="IPv4 or IPv6 address")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=1)
    # 5 s: survives one lost SCTP INIT (first retransmission after 3 s) and a
    # slow emulated guest; tests expecting failures should pass a short one.
    ap.add_argument("--timeout", type=float, default=5.0, help="per request, seconds (default 5)")
    ap.add_argument("--interval", type=float, default=0.0, help="pause between requests")
    ap.add_argument("--source", help="local address to bind")
    ap.add_argument("--source-port", type=int, help="local port to bind")
    ap.add_argument("--same-source-port", action="store_true")
    ap.add_argument("--persistent", action="store_true", help="one TCP/SCTP connection for all requests")
    a = ap.parse_args()

    c = Client(a)
    answers, sources, failures = collections.Counter(), collections.Counter(), 0
    for i in range(a.count):
        if i and a.interval:
            time.sleep(a.interval)
        t0 = time.monotonic()
        try:
            words = c.request(i)
            if len(words) < 2:
                raise ValueError(f"bad reply {words!r}")
            answers[words[0]] += 1
            sources[words[1]] += 1
        except (OSError, ValueError) as e:
            failures += 1
            print(f"client: request {i}: {e} (after {time.monotonic() - t0:.2f} s)", file=sys.stderr)
            c.close()
            continue
        if not a.persistent:
            c.close()
    c.close()
    print(json.dumps({"answers": dict(sorted(answers.items())),
                      "sources": dict(sorted(sources.items())), "failures": failures}))


if __name__ == "__main__":
    main()
