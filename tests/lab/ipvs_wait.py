#!/usr/bin/env python3
"""Waits until the IPVS table of this network namespace (/proc/net/ip_vs,
read every 5 ms: cheap, unlike starting ipvsadm) satisfies every condition,
and prints how many milliseconds that was after the time (ns since the
epoch) written into --since (0 if it held before). Exits 1 on timeout.

Conditions:
  +tcp/20.20.20.2:80                 the virtual service exists
  -tcp/20.20.20.2:80                 it does not
  +tcp/20.20.20.2:80>10.0.1.11:8080  the real server exists (=W: with weight W)
  -tcp/20.20.20.2:80>10.0.1.11:8080  it does not
"""
import argparse
import ipaddress
import os
import re
import sys
import time


def parse_endpoint(text):
    if text.startswith("["):
        host, port = text[1:].split("]:")
    else:
        host, port = text.rsplit(":", 1)
    return str(ipaddress.ip_address(host)), int(port)


def parse_proc_endpoint(text):
    """Hex address:port as in /proc/net/ip_vs (IPv6 in brackets)."""
    if text.startswith("["):
        host, port = text[1:].split("]:")
        ip = ipaddress.ip_address(host)
    else:
        host, port = text.split(":")
        ip = ipaddress.ip_address(int(host, 16))
    return str(ip), int(port, 16)


def read_table():
    table = {}
    current = None
    with open("/proc/net/ip_vs") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] in ("TCP", "UDP", "SCTP"):
                current = (parts[0].lower(),) + parse_proc_endpoint(parts[1])
                table[current] = {}
            elif parts[0] == "->" and current and parts[1] != "RemoteAddress:Port":
                table[current][parse_proc_endpoint(parts[1])] = int(parts[3])
    return table


def holds(table, condition):
    m = re.fullmatch(r"([+-])(tcp|udp|sctp)/([^>]+)(?:>([^=]+))?(?:=(\d+))?", condition)
    if not m:
        sys.exit(f"ipvs_wait: bad condition {condition}")
    want, proto, vs, rs, weight = m.groups()
    service = table.get((proto,) + parse_endpoint(vs))
    if rs is None:
        present = service is not None
    else:
        w = None if service is None else service.get(parse_endpoint(rs))
        present = w is not None and (weight is None or w == int(weight))
    return present == (want == "+")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--since", required=True)
    p.add_argument("--timeout", type=float, default=5)
    p.add_argument("--ready", help="created once the table has been read the first time")
    p.add_argument("conditions", nargs="+")
    a = p.parse_args()
    deadline = time.monotonic() + a.timeout
    met = None
    first = True
    while time.monotonic() < deadline:
        if all(holds(read_table(), c) for c in a.conditions):
            met = time.time_ns()
            break
        if first and a.ready:
            open(a.ready, "w").close()
            first = False
        time.sleep(0.005)
    if met is None:
        print(f"timeout; table: {read_table()}", file=sys.stderr)
        sys.exit(1)
    while not os.path.exists(a.since) and time.monotonic() < deadline + 5:
        time.sleep(0.005)
    with open(a.since) as f:
        since = int(f.read().strip())
    print(max(0, (met - since) // 1_000_000))


if __name__ == "__main__":
    main()
