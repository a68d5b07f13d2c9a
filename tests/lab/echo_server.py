#!/usr/bin/env python3
"""Lab backend: TCP, UDP and SCTP servers on IPv4 and IPv6.

Every received line gets one reply line "<name> <peer-address> [<line>]", so
clients learn which backend answered and which source address it saw.
TCP/SCTP connections stay open for as many lines as the client sends.
UDP replies are sent from the address the request was sent to (IP_PKTINFO),
so direct-routing setups with the VIP on the backend also work.
"""
import argparse
import ipaddress
import os
import socket
import struct
import sys
import threading

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


def peer_str(addr):
    a = addr[0]
    try:  # "::ffff:10.0.0.1" -> "10.0.0.1"
        ip = ipaddress.ip_address(a)
        if ip.version == 6 and ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
    except ValueError:
        pass
    return a


def reply(name, peer, line):
    line = line.strip()
    return (f"{name} {peer} {line}" if line else f"{name} {peer}").encode() + b"\n"


def serve_stream_conn(name, conn, addr):
    peer = peer_str(addr)
    try:
        with conn, conn.makefile("rb") as f:
            for line in f:
                conn.sendall(reply(name, peer, line.decode(errors="replace")))
    except OSError:
        pass


def serve_stream(name, sock):
    while True:
        conn, addr = sock.accept()
        threading.Thread(target=serve_stream_conn, args=(name, conn, addr), daemon=True).start()


def serve_udp(name, sock, family):
    if family == socket.AF_INET:
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    while True:
        data, anc, _, addr = sock.recvmsg(65535, socket.CMSG_SPACE(64))
        cmsgs = []
        for level, typ, cdata in anc:
            if family == socket.AF_INET and typ == IP_PKTINFO:
                # struct in_pktinfo {int ifindex; in_addr spec_dst; in_addr addr}
                ifindex, _, dst = struct.unpack("i4s4s", cdata[:12])
                cmsgs = [(level, IP_PKTINFO, struct.pack("i4s4s", 0, dst, bytes(4)))]
            elif family == socket.AF_INET6 and typ == socket.IPV6_PKTINFO:
                # struct in6_pktinfo {in6_addr addr; int ifindex}
                cmsgs = [(level, socket.IPV6_PKTINFO, cdata[:16] + struct.pack("i", 0))]
        lines = data.decode(errors="replace").splitlines() or [""]
        out = b"".join(reply(name, peer_str(addr), l) for l in lines)
        try:
            sock.sendmsg([out], cmsgs, 0, addr)
        except OSError as e:
            print(f"{name}: udp reply to {addr}: {e}", file=sys.stderr)


def listen(family, stype, proto, port):
    s = socket.socket(family, stype, proto)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
    if stype == socket.SOCK_STREAM:
        s.listen(128)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--name", required=True)
    ap.add_argument("--port", type=int, action="append", required=True)
    ap.add_argument("--proto", action="append", choices=["tcp", "udp", "sctp"],
                    help="default: all three")
    ap.add_argument("--ready", help="file to create once all sockets listen")
    a = ap.parse_args()
    protos = a.proto or ["tcp", "udp", "sctp"]
    threads = []
    for port in a.port:
        for family in (socket.AF_INET, socket.AF_INET6):
            for p in protos:
                if p == "udp":
                    s = listen(family, socket.SOCK_DGRAM, 0, port)
                    t = threading.Thread(target=serve_udp, args=(a.name, s, family), daemon=True)
                else:
                    # SCTP missing in the kernel fails here, loudly (EPROTONOSUPPORT).
                    proto = socket.IPPROTO_SCTP if p == "sctp" else 0
                    try:
                        s = listen(family, socket.SOCK_STREAM, proto, port)
                    except OSError as e:
                        sys.exit(f"{a.name}: cannot listen on {p} port {port}: {e}"
                                 + (" (no SCTP in this kernel?)" if p == "sctp" else ""))
                    t = threading.Thread(target=serve_stream, args=(a.name, s), daemon=True)
                threads.append(t)
    for t in threads:
        t.start()
    if a.ready:
        open(a.ready, "w").close()
    print(f"{a.name}: serving {','.join(protos)} on ports {a.port} (pid {os.getpid()})", flush=True)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
