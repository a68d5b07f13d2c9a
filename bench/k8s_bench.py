#!/usr/bin/env python3
"""Helpers for bench/k8s-convergence.sh (runs in the lab guest; stdlib only).

  gen       write the benchmark's Services and EndpointSlices (as the
            endpoint-slice controller writes them) into K multi-document files
  converge  wait until a namespace's IPVS table holds the whole Service set
            (and, with --status, until every Service has
            status.loadBalancer.ingress); writes one JSON object with the times
  monitor   a long-lived waiter for single changes, driven over stdin (see
            Monitor): conditions on several namespaces' IPVS tables, checked
            over generic netlink (one dump of a virtual service's real servers,
            cheap whatever the table size), plus a watch on EndpointSlices that
            notes when each change reached a client in the lab
  proc      CPU seconds and peak RSS of processes, as JSON
  summary   the final table from the phases' JSON files

Times are nanoseconds since the epoch (time.time_ns(); bash: ${EPOCHREALTIME/./}000).
"""
import argparse
import base64
import ctypes
import http.client
import ipaddress
import json
import os
import re
import select
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import urllib.parse

# ---------------------------------------------------------------- manifests


def endpoint_ip(service, index):
    """10 (or E) distinct unicast addresses per Service: 10.1.0.1, 10.1.0.2, ..."""
    n = service * 1000 + index  # room for added endpoints
    a = n // 250
    return f"10.{1 + a // 256}.{a % 256}.{n % 250 + 1}"


def extra_ip(change):
    return f"10.250.{change // 250 % 256}.{change % 250 + 1}"


def service_name(prefix, i):
    return f"{prefix}-{i:05d}"


def slice_name(prefix, i):
    # The controller names slices <service>-<5 random characters>.
    return f"{service_name(prefix, i)}-{(i * 7919) % 100000:05d}"


def cmd_gen(a):
    os.makedirs(a.out, exist_ok=True)
    files = [[] for _ in range(a.chunks)]
    for i in range(a.services):
        name = service_name(a.prefix, i)
        ports = ", ".join(
            f"{{name: p{p}, port: {a.base_port + p}, targetPort: {8080 + p}, protocol: TCP}}" for p in range(a.ports))
        slice_ports = ", ".join(f"{{name: p{p}, port: {8080 + p}, protocol: TCP}}" for p in range(a.ports))
        endpoints = "\n".join(
            f"  - {{addresses: ['{endpoint_ip(i, e)}'], conditions: {{ready: true, serving: true, terminating: false}}, "
            f"nodeName: node-{(i + e) % 50}, targetRef: {{kind: Pod, namespace: default, name: {name}-pod-{e}}}}}"
            for e in range(a.endpoints))
        doc = f"""apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default, labels: {{{a.label}}}}}
spec:
  type: LoadBalancer
  loadBalancerClass: kvlb.io/lb
  allocateLoadBalancerNodePorts: false
  externalTrafficPolicy: Cluster
  selector: {{app: {name}}}
  ports: [{ports}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {slice_name(a.prefix, i)}
  namespace: default
  labels: {{kubernetes.io/service-name: {name}, endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io, {a.label}}}
addressType: IPv4
ports: [{slice_ports}]
endpoints:
{endpoints}
"""
        files[i % a.chunks].append(doc)
    paths = []
    for k, docs in enumerate(files):
        if not docs:
            continue
        path = os.path.join(a.out, f"create-{k}.yaml")
        with open(path, "w") as f:
            f.write("---\n".join(docs))
        paths.append(path)
    print(" ".join(paths))


# ---------------------------------------------------------------- Kubernetes API


class Kube:
    """A client from a kubeconfig with embedded data (the test cluster's)."""

    def __init__(self, kubeconfig):
        text = open(kubeconfig).read()

        def field(name):
            m = re.search(rf"^\s*{name}:\s*(\S+)\s*$", text, re.M)
            return m.group(1) if m else None

        url = urllib.parse.urlparse(field("server"))
        self.host, self.port = url.hostname, url.port or 443
        self.ctx = ssl.create_default_context(cadata=base64.b64decode(field("certificate-authority-data")).decode())
        d = tempfile.mkdtemp(prefix="k8s-bench-")
        cert, key = os.path.join(d, "crt"), os.path.join(d, "key")
        with open(cert, "wb") as f:
            f.write(base64.b64decode(field("client-certificate-data")))
        with open(key, "wb") as f:
            f.write(base64.b64decode(field("client-key-data")))
        self.ctx.load_cert_chain(cert, key)
        os.unlink(cert)
        os.unlink(key)
        os.rmdir(d)

    def _get(self, path, params, timeout):
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)
        conn.request("GET", path + "?" + urllib.parse.urlencode(params), headers={"Accept": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: {resp.status} {resp.read()[:300]!r}")
        return resp

    def list(self, path, selector):
        return json.load(self._get(path, {"labelSelector": selector}, 120))

    def watch(self, path, selector, rv):
        """Yields (arrival time ns, event) until the server ends the watch."""
        resp = self._get(path, {"labelSelector": selector, "watch": "1", "resourceVersion": rv,
                                "allowWatchBookmarks": "false", "timeoutSeconds": "3600"}, None)
        for line in resp:
            if line.strip():
                yield time.time_ns(), json.loads(line)


class ServiceStatusWatch(threading.Thread):
    """Tracks the ingress IPs and ports of the labelled Services; notes when
    `want` of them first all had an ingress IP."""

    def __init__(self, kube, selector, want):
        super().__init__(daemon=True)
        self.kube, self.selector, self.want = kube, selector, want
        self.lock = threading.Lock()
        self.services = {}  # name -> (ingress ip or None, [port...])
        self.listed = threading.Event()
        self.all_at = None
        self.error = None

    def _note(self, obj, deleted=False):
        name = obj["metadata"]["name"]
        if deleted:
            self.services.pop(name, None)
            return
        ingress = (obj.get("status", {}).get("loadBalancer", {}).get("ingress") or [{}])[0].get("ip")
        ports = [p["port"] for p in obj["spec"].get("ports", []) if p.get("protocol", "TCP") == "TCP"]
        self.services[name] = (ingress, ports)

    def count(self):
        with self.lock:
            return sum(1 for ip, _ in self.services.values() if ip)

    def snapshot(self):
        with self.lock:
            return dict(self.services)

    def _check(self, now):
        if self.all_at is None and sum(1 for ip, _ in self.services.values() if ip) >= self.want:
            self.all_at = now

    def run(self):
        path = "/api/v1/namespaces/default/services"
        try:
            while True:
                listed = self.kube.list(path, self.selector)
                with self.lock:
                    self.services = {}
                    for item in listed["items"]:
                        self._note(item)
                    self._check(time.time_ns())
                self.listed.set()
                try:
                    for now, ev in self.kube.watch(path, self.selector, listed["metadata"]["resourceVersion"]):
                        if ev["type"] == "ERROR":
                            break  # e.g. 410 Gone: list again
                        with self.lock:
                            self._note(ev["object"], ev["type"] == "DELETED")
                            self._check(now)
                except (OSError, http.client.HTTPException, ValueError):
                    time.sleep(0.2)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            self.error = repr(e)
            self.listed.set()


class SliceWatch(threading.Thread):
    """Notes when each change of a labelled EndpointSlice reached this watcher."""

    def __init__(self, kube, selector):
        super().__init__(daemon=True)
        self.kube, self.selector = kube, selector
        self.lock = threading.Lock()
        self.events = {}  # slice name -> [arrival ns, ...]
        self.listed = threading.Event()

    def first_after(self, name, t):
        with self.lock:
            return next((x for x in self.events.get(name, []) if x >= t), None)

    def run(self):
        path = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
        while True:
            try:
                rv = self.kube.list(path, self.selector)["metadata"]["resourceVersion"]
                self.listed.set()
                for now, ev in self.kube.watch(path, self.selector, rv):
                    if ev["type"] == "ERROR":
                        break
                    with self.lock:
                        self.events.setdefault(ev["object"]["metadata"]["name"], []).append(now)
            except (OSError, http.client.HTTPException, ValueError, RuntimeError):
                time.sleep(0.2)


# ---------------------------------------------------------------- IPVS over generic netlink

NETLINK_GENERIC, GENL_ID_CTRL, CTRL_CMD_GETFAMILY = 16, 0x10, 3
CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 1, 2
NLM_F_REQUEST, NLM_F_DUMP, NLMSG_ERROR, NLMSG_DONE = 1, 0x300, 2, 3
IPVS_CMD_GET_SERVICE, IPVS_CMD_GET_DEST, IPVS_CMD_ATTR_SERVICE, IPVS_CMD_ATTR_DEST = 4, 8, 1, 2
IPVS_SVC_ATTR_AF, IPVS_SVC_ATTR_PROTOCOL, IPVS_SVC_ATTR_ADDR, IPVS_SVC_ATTR_PORT = 1, 2, 3, 4
IPVS_DEST_ATTR_ADDR, IPVS_DEST_ATTR_PORT, IPVS_DEST_ATTR_WEIGHT = 1, 2, 4
NLA_F_NESTED = 0x8000
CLONE_NEWNET = 0x40000000


def nla(kind, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, kind) + payload + b"\0" * ((4 - n % 4) % 4)


def parse_attrs(b):
    out = {}
    while len(b) >= 4:
        n, kind = struct.unpack_from("=HH", b)
        if n < 4:
            break
        out[kind & 0x3FFF] = b[4:n]
        b = b[(n + 3) & ~3:]
    return out


class IpvsNetlink:
    """IPVS over generic netlink, in one network namespace (the socket stays
    in the namespace it was made in)."""

    # A TCP/IPv4 virtual service in a GET_SERVICE dump: AF=2, PROTOCOL=6, ADDR, PORT
    # (ip_vs_genl_fill_service puts them in this order; nla_put zeroes the padding).
    SERVICE_RE = re.compile(rb"\x06\x00\x01\x00\x02\x00\x00\x00\x06\x00\x02\x00\x06\x00\x00\x00"
                            rb"\x14\x00\x03\x00(.{4}).{12}\x06\x00\x04\x00(..)", re.S)

    def __init__(self, netns=None):
        root = None
        if netns:
            root = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            setns(f"/run/netns/{netns}")
        try:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        finally:
            if root is not None:
                if _libc.setns(root, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back")
                os.close(root)
        self.sock.bind((0, 0))
        self.seq = 0
        msgs = self._request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, 0, nla(CTRL_ATTR_FAMILY_NAME, b"IPVS\0"))
        self.family = struct.unpack("=H", parse_attrs(msgs[0])[CTRL_ATTR_FAMILY_ID][:2])[0]

    def _request(self, family, cmd, version, flags, attrs):
        self.seq += 1
        body = struct.pack("=BBH", cmd, version, 0) + attrs
        self.sock.send(struct.pack("=IHHII", 16 + len(body), family, NLM_F_REQUEST | flags, self.seq, 0) + body)
        out = []
        while True:
            data = self.sock.recv(1 << 20)
            off = 0
            while off < len(data):
                n, kind, _, seq, _ = struct.unpack_from("=IHHII", data, off)
                payload = data[off + 16:off + n]
                off += (n + 3) & ~3
                if seq != self.seq:
                    continue
                if kind == NLMSG_DONE:
                    return out
                if kind == NLMSG_ERROR:
                    err = struct.unpack_from("=i", payload)[0]
                    if err == 0:
                        return out
                    raise OSError(-err, os.strerror(-err))
                out.append(payload[4:])  # after the genl header
                if not flags & NLM_F_DUMP:
                    return out

    def services(self):
        """{(ip, port)} of the TCP/IPv4 virtual services: one dump."""
        data = b"".join(self._request(self.family, IPVS_CMD_GET_SERVICE, 1, NLM_F_DUMP, b""))
        return {(str(ipaddress.IPv4Address(a)), struct.unpack("!H", p)[0]) for a, p in self.SERVICE_RE.findall(data)}

    def _dest_msgs(self, ip, port):
        svc = (nla(IPVS_SVC_ATTR_AF, struct.pack("=H", socket.AF_INET))
               + nla(IPVS_SVC_ATTR_PROTOCOL, struct.pack("=H", socket.IPPROTO_TCP))
               + nla(IPVS_SVC_ATTR_ADDR, ipaddress.IPv4Address(ip).packed + b"\0" * 12)
               + nla(IPVS_SVC_ATTR_PORT, struct.pack("!H", port)))
        try:
            return self._request(self.family, IPVS_CMD_GET_DEST, 1, NLM_F_DUMP,
                                 nla(IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED, svc))
        except OSError:
            return None  # ESRCH: no such virtual service

    def dest_count(self, ip, port):
        msgs = self._dest_msgs(ip, port)
        return -1 if msgs is None else len(msgs)

    def dests(self, ip, port):
        """{(ip, port): weight}, or None if the virtual service does not exist."""
        msgs = self._dest_msgs(ip, port)
        if msgs is None:
            return None
        out = {}
        for m in msgs:
            d = parse_attrs(parse_attrs(m).get(IPVS_CMD_ATTR_DEST, b""))
            addr = str(ipaddress.IPv4Address(d[IPVS_DEST_ATTR_ADDR][:4]))
            out[(addr, struct.unpack("!H", d[IPVS_DEST_ATTR_PORT][:2])[0])] = struct.unpack(
                "=I", d[IPVS_DEST_ATTR_WEIGHT][:4])[0]
        return out


_libc = ctypes.CDLL(None, use_errno=True)


def setns(path):
    """This thread into the network namespace at path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


# ---------------------------------------------------------------- IPVS tables


def pid_stats(pid):
    """CPU seconds (own, and own + waited-for children) and peak RSS in MiB."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        hz = os.sysconf("SC_CLK_TCK")
        ut, st, cut, cst = (int(x) for x in fields[11:15])
        hwm = rss = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        return {"cpu_s": round((ut + st) / hz, 2), "cpu_with_children_s": round((ut + st + cut + cst) / hz, 2),
                "peak_rss_mib": round(hwm / 1024, 1), "rss_mib": round(rss / 1024, 1)}
    except OSError:
        return None


def thread_cpu(pid):
    """{thread name (/tid but for the main thread): CPU seconds} of a process."""
    out = {}
    hz = os.sysconf("SC_CLK_TCK")
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                head, rest = f.read().rsplit(")", 1)
            name = head.split("(", 1)[1] + ("" if tid == str(pid) else f"/{tid}")
            fields = rest.split()
            out[name] = round((int(fields[11]) + int(fields[12])) / hz, 2)
    except OSError:
        pass
    return out


def cmd_proc(a):
    stats = {p: pid_stats(p) for p in a.pids}
    if a.threads:
        for p in a.pids:
            if stats[p]:
                stats[p]["threads_cpu_s"] = thread_cpu(p)
    print(json.dumps(stats[a.pids[0]] if a.one else stats))


def cmd_set(a):
    """Sets KEY (a.b for nested) to the JSON VALUE in the JSON object FILE (created if missing)."""
    d = json.load(open(a.file)) if os.path.exists(a.file) else {}
    node = d
    keys = a.key.split(".")
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = json.loads(a.value)
    with open(a.file, "w") as f:
        json.dump(d, f)


def cmd_proxy_metrics(a):
    """kube-proxy's /metrics (stdin) -> syncs, their total seconds, last sync time (ns)."""
    vals = {}
    for line in sys.stdin:
        m = re.match(r"(kubeproxy_sync_proxy_rules_(?:duration_seconds_sum|duration_seconds_count|last_timestamp_seconds))"
                     r"(?:\{[^}]*\})? (\S+)", line)
        if m:
            vals[m.group(1)] = vals.get(m.group(1), 0) + float(m.group(2))
    print(json.dumps({"syncs": int(vals.get("kubeproxy_sync_proxy_rules_duration_seconds_count", 0)),
                      "sync_s": vals.get("kubeproxy_sync_proxy_rules_duration_seconds_sum"),
                      "last_sync_ns": int(vals.get("kubeproxy_sync_proxy_rules_last_timestamp_seconds", 0) * 1e9)}))


def wait_file(path, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                return int(f.read().split()[0])
        except (OSError, IndexError, ValueError):
            if time.monotonic() > deadline:
                sys.exit(f"k8s_bench: {path} did not appear within {timeout} s")
            time.sleep(0.005)


def read_proc_table(path):
    """{(ip, port): number of real servers} of the TCP/IPv4 virtual services
    in /proc/PID/net/ip_vs, read in few read() calls."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 22)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    out = {}
    for sec in b"".join(chunks).split(b"\nTCP  ")[1:]:
        key = sec[:13]  # 1415000A:0050
        out[(key[:8], int(key[9:13], 16))] = sec.count(b"->")
    return out


def proc_ip(ip):
    return b"%08X" % int(ipaddress.IPv4Address(ip))


def cmd_converge(a):
    """Polls the IPVS table of network namespace --netns until it holds the whole set:
      --expect count:  services*ports virtual services (the namespace holds
                       nothing else), each with `endpoints` real servers;
      --expect status: every Service's ingress IP:port (from the API) is a
                       virtual service with `endpoints` real servers (the
                       namespace may hold more, e.g. kube-proxy's cluster IPs).
    Reads /proc/PID/net/ip_vs (PID: a process in the namespace): one read of
    the whole table per poll, cheap to parse.  Linux 6.1's /proc/net/ip_vs
    skips services when other namespaces hold IPVS services too (its
    seq_file restarts count positions per namespace, its next() over all),
    so the caller makes sure none does; and once the time is taken, every
    virtual service is checked again over generic netlink (not /proc).
    Sleeps as long as a poll took (the poller stays under half a CPU) and
    reports the polls' spacing: the time lies within that before."""
    kube = Kube(a.kubeconfig) if a.kubeconfig else None
    watch = None
    if kube:
        watch = ServiceStatusWatch(kube, a.selector, a.services)
        watch.start()
        watch.listed.wait(120)
        if watch.error:
            sys.exit(f"k8s_bench: status watch: {watch.error}")
    nl = IpvsNetlink(a.netns)
    if nl.services():
        sys.exit(f"k8s_bench: the IPVS table of {a.netns} is not empty")
    path = f"/proc/{a.pid}/net/ip_vs"
    want_vs = a.services * a.ports
    read_proc_table(path)
    open(a.ready, "w").close()
    t0 = wait_file(a.t0, 600)
    deadline = time.monotonic() + a.timeout
    res = {"t0": t0, "polls": 0, "poll_ms_max": 0.0, "poll_ms_total": 0.0}
    all_vs_at = full_at = None
    last_fail = t0
    progress, next_progress = [], 0.0
    expected = None
    table = {}
    last_state, last_change = None, time.monotonic()
    while time.monotonic() < deadline:
        start = time.time_ns()
        table = read_proc_table(path)
        now = time.time_ns()
        took = (now - start) / 1e6
        res["polls"] += 1
        res["poll_ms_total"] += took
        res["poll_ms_max"] = max(res["poll_ms_max"], took)
        if a.expect == "count":
            nvs = len(table)
            ndone = sum(1 for n in table.values() if n == a.endpoints)
            if all_vs_at is None and nvs >= want_vs:
                all_vs_at = now
            done = nvs == want_vs and ndone == want_vs
        else:
            if expected is None and watch.count() >= a.services:
                expected = [(proc_ip(ip), p) for ip, ports in watch.snapshot().values() if ip for p in ports]
            nvs = sum(1 for k in expected if k in table) if expected else 0
            ndone = sum(1 for k in expected if table.get(k) == a.endpoints) if expected else 0
            if all_vs_at is None and expected and nvs == len(expected):
                all_vs_at = now
            done = bool(expected) and ndone == len(expected)
        if time.monotonic() >= next_progress or done:
            progress.append([round((now - t0) / 1e9, 1), nvs, ndone] + ([watch.count()] if watch else []))
            next_progress = time.monotonic() + a.progress_every
            if a.verbose:
                print(f"    {progress[-1][0]:7.1f} s: {nvs} virtual services, {ndone} with all {a.endpoints} real servers"
                      + (f", {progress[-1][3]} statuses" if watch else ""), file=sys.stderr, flush=True)
        if done:
            full_at = now
            break
        last_fail = now
        if (nvs, ndone) != last_state:
            last_state, last_change = (nvs, ndone), time.monotonic()
        elif time.monotonic() - last_change > a.stall_timeout:
            res["stalled"] = f"no change for {a.stall_timeout} s at {nvs} virtual services, {ndone} complete"
            break
        time.sleep(max(0.05, took / 1000))
    if full_at is None:
        res["error"] = res.get("stalled") or f"timeout after {a.timeout} s: {progress[-1] if progress else ''}"
    else:
        res["ipvs_ms"] = (full_at - t0) / 1e6
        res["ipvs_resolution_ms"] = (full_at - last_fail) / 1e6  # the time lies in (last failed poll, full_at]
        res["all_vs_ms"] = (all_vs_at - t0) / 1e6 if all_vs_at else None
        pids = [open(p[1:]).read().split()[0] if p.startswith("@") else p for p in a.stats_pid]
        res["stats_at_ipvs"] = {p: pid_stats(p) for p in pids}
        # Check over netlink (the other way to read the table).
        present = nl.services()
        targets = ({(str(ipaddress.IPv4Address(int(ip, 16))), p) for ip, p in table} if a.expect == "count"
                   else {(str(ipaddress.IPv4Address(int(ip, 16))), p) for ip, p in expected})
        counts = [nl.dest_count(*k) for k in targets]
        res["netlink_check"] = {"virtual_services": len(present), "targets_present": len(targets & present),
                                "targets_complete": sum(1 for n in counts if n == a.endpoints),
                                "ok": targets <= present and all(n == a.endpoints for n in counts)
                                and (a.expect != "count" or len(present) == want_vs)}
    res["poll_ms_avg"] = res["poll_ms_total"] / max(1, res["polls"])
    res["table_entries"] = {"virtual_services": len(table), "real_servers": sum(table.values())}
    if watch and a.status:
        while watch.all_at is None and time.monotonic() < deadline:
            time.sleep(0.05)
        res["status_ms"] = (watch.all_at - t0) / 1e6 if watch.all_at else None
        res["statuses"] = watch.count()
    if watch and full_at is not None:
        # Consistency: the VIP:ports of the table are the statuses' ingress IPs x ports.
        want = {(proc_ip(ip), p) for ip, ports in watch.snapshot().values() if ip for p in ports}
        have = set(table)
        res["status_vips_in_table"] = len(want & have)
        res["status_vips_missing"] = len(want - have)
        res["table_vips_not_in_status"] = len(have - want) if a.expect == "count" else None
    res["progress"] = progress
    with open(a.out, "w") as f:
        json.dump(res, f)
    ok = full_at is not None and res["netlink_check"]["ok"]
    sys.exit(0 if ok else 1)


class Monitor:
    """Commands, one per line on stdin; answers one line each on stdout.

      ns NAME                   open a netlink socket in /run/netns/NAME -> "ok"
      arm ID SLICE COND...      start checking; COND is NS:+VIP:PORT>RS:RSPORT (there,
                                weight > 0) or NS:-VIP:PORT>RS:RSPORT (gone or
                                weight 0) -> "armed ID HELD" (HELD: already true)
      go ID START_NS SINCE_NS   the change command started at START and returned at
                                SINCE -> "done ID {json}" once every namespace's
                                conditions hold (or after --timeout)
    The JSON has, per namespace, milliseconds from SINCE (0 if before; the
    measure asked for), from START, and from the moment the SliceWatch here
    saw the change; it is also appended to --results.
    """

    def __init__(self, a):
        self.a = a
        self.nl = {}
        self.armed = None
        self.slices = None
        if a.kubeconfig:
            self.slices = SliceWatch(Kube(a.kubeconfig), a.selector)
            self.slices.start()
            self.slices.listed.wait(120)

    def reply(self, line):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def check(self):
        a = self.armed
        now = time.time_ns()
        for ns, conds in a["conds"].items():
            if ns in a["met"]:
                continue
            cache = {}
            ok = True
            for want, vip, vport, rs, rport in conds:
                if (vip, vport) not in cache:
                    cache[(vip, vport)] = self.nl[ns].dests(vip, vport) or {}
                w = cache[(vip, vport)].get((rs, rport))
                ok = ok and ((w is not None and w > 0) if want == "+" else (w is None or w == 0))
                if not ok:
                    break
            if ok:
                a["met"][ns] = now
        return len(a["met"]) == len(a["conds"])

    def finish(self):
        a = self.armed
        res = {"id": a["id"], "slice": a["slice"], "start_ns": a["start"], "change_cmd_ms": (a["since"] - a["start"]) / 1e6,
               "ns": {}}
        event = self.slices.first_after(a["slice"], a["armed_at"]) if self.slices else None
        for ns in a["conds"]:
            met = a["met"].get(ns)
            if met is None:
                res["ns"][ns] = None
                continue
            res["ns"][ns] = {"after_return_ms": max(0.0, (met - a["since"]) / 1e6),
                             "after_start_ms": (met - a["start"]) / 1e6,
                             "after_watch_event_ms": (met - event) / 1e6 if event else None}
        with open(self.a.results, "a") as f:
            f.write(json.dumps(res) + "\n")
        self.armed = None
        self.reply(f"done {a['id']} {json.dumps(res)}")

    def command(self, line):
        words = line.split()
        if not words:
            return
        if words[0] == "ns":
            self.nl[words[1]] = IpvsNetlink(words[1])
            self.reply("ok")
        elif words[0] == "arm":
            conds = {}
            for c in words[3:]:
                m = re.fullmatch(r"([^:]+):([+-])([\d.]+):(\d+)>([\d.]+):(\d+)", c)
                if not m:
                    raise ValueError(f"bad condition {c}")
                ns, want, vip, vport, rs, rport = m.groups()
                conds.setdefault(ns, []).append((want, vip, int(vport), rs, int(rport)))
            self.armed = {"id": words[1], "slice": words[2], "conds": conds, "met": {}, "since": None,
                          "armed_at": time.time_ns()}
            held = self.check()
            self.armed["met"] = {}  # measured from now on
            self.reply(f"armed {words[1]} {int(held)}")
        elif words[0] == "go":
            self.armed["start"], self.armed["since"] = int(words[2]), int(words[3])
            self.armed["deadline"] = time.monotonic() + self.a.timeout
        else:
            raise ValueError(f"unknown command {line}")

    def run(self):
        buf = b""
        while True:
            timeout = self.a.interval if self.armed else None
            r, _, _ = select.select([0], [], [], timeout)
            if r:
                data = os.read(0, 65536)
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    self.command(line.decode())
            if self.armed:
                done = self.check()
                if self.armed["since"] is not None and (done or time.monotonic() > self.armed["deadline"]):
                    self.finish()


def cmd_monitor(a):
    Monitor(a).run()


# ---------------------------------------------------------------- summary


def pct(values, p):
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def latency_stats(results, ns, field):
    vals = [r["ns"][ns][field] for r in results if r["ns"].get(ns) and r["ns"][ns][field] is not None]
    missed = sum(1 for r in results if ns in r["ns"] and r["ns"][ns] is None)
    return {"n": len(vals), "missed": missed, "p50": pct(vals, 50), "p99": pct(vals, 99),
            "max": max(vals) if vals else None}


def fmt(x, unit="", digits=1):
    if x is None:
        return "-"
    return f"{x:.{digits}f}{unit}"


def cmd_summary(a):
    j = {}
    for name in ("meta", "create", "kvlb_cold", "proxy_cold", "kvlb_proxy_end"):
        p = os.path.join(a.dir, f"{name}.json")
        j[name] = json.load(open(p)) if os.path.exists(p) else {}

    def loadl(name):
        p = os.path.join(a.dir, f"{name}.jsonl")
        return [json.loads(line) for line in open(p)] if os.path.exists(p) else []

    alone, both = loadl("changes-kvlb"), loadl("changes-both")
    m, c, kc, pc = j["meta"], j["create"], j["kvlb_cold"], j["proxy_cold"]
    n, ports, eps = m.get("services", 0), m.get("ports", 0), m.get("endpoints", 0)
    logs = os.path.dirname(os.path.abspath(a.dir))
    out = []
    w = out.append
    w(f"k8s convergence benchmark: {n} Services x {ports} TCP ports x {eps} endpoints "
      f"= {n * ports} virtual services, {n * ports * eps} real servers")
    w(f"same run, same kernel ({m.get('kernel')}, {'VM ' + m.get('accel', '') if m.get('vm') else 'host'}, "
      f"{m.get('cpus')} CPUs, {m.get('mem_mib')} MiB); Kubernetes {m.get('k8s_version')} apiserver on the host; "
      f"kube-proxy {m.get('proxy_version')} --proxy-mode=ipvs")
    w("")
    w("1. kvlbd (lb1) while the Services are created through the API")
    w(f"   API writes: {m.get('chunks')} x kubectl apply --server-side in parallel, {2 * n} objects: "
      f"{fmt(ms_s(c.get('apply_ms')), ' s', 2)}")
    w(f"   creation start -> all {n * ports} virtual services in IPVS        {fmt(ms_s(c.get('all_vs_ms')), ' s', 2)}")
    w(f"   creation start -> IPVS complete (all {n * ports * eps} real servers)  {fmt(ms_s(c.get('ipvs_ms')), ' s', 2)}"
      f"   (polled every ~{fmt(2 * (c.get('poll_ms_avg') or 0), ' ms', 0)}; "
      f"the time is within {fmt(c.get('ipvs_resolution_ms'), ' ms', 0)} before)")
    w(f"   creation start -> all {n} have status.loadBalancer.ingress    {fmt(ms_s(c.get('status_ms')), ' s', 2)}")
    w(f"   table checked over netlink afterwards: {check_text(c)}; status IPs x ports in the table: "
      f"{c.get('status_vips_in_table')}, missing {c.get('status_vips_missing')}, "
      f"table VIP:ports without a status: {c.get('table_vips_not_in_status')}")
    for key, label in (("stats_at_ipvs", "at IPVS complete"), ("stats_end", "after the statuses"),
                       ("stats_after_changes", "after phase 2")):
        st = c.get(key) or {}
        if key == "stats_at_ipvs":
            st = next(iter(st.values()), None) or {}
        if st:
            w(f"   kvlbd {label:20} CPU {fmt(st.get('cpu_s'), ' s', 2)}, peak RSS (VmHWM) {fmt(st.get('peak_rss_mib'), ' MiB')}")
    th = (c.get("stats_end") or {}).get("threads_cpu_s")
    if th:
        w("   kvlbd CPU by thread: " + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(th.items(), key=lambda x: -x[1])[:6]))
    log1 = kvlbd_log(os.path.join(logs, "kvlbd-lb1.log"))
    if c.get("t0") and c.get("ipvs_ms"):
        rc = reconciles(log1, c["t0"], c["t0"] + int(c["ipvs_ms"] * 1e6))
        if rc:
            w(f"   kvlbd reconciles until IPVS complete: {len(rc)}, {sum(o for o, _ in rc)} ops, "
              f"{sum(u for _, u in rc) / 1e6:.2f} s in reconcile (largest {max(u for _, u in rc) / 1e3:.0f} ms, "
              f"{max(o for o, _ in rc)} ops)")
    w("")
    w(f"2. {len(alone)} single changes at that size, kvlbd alone: one endpoint added to / removed from one Service's")
    w("   slice (kubectl patch through lab_host), waiter armed before the change, reading lb1's 5 virtual services")
    w("   over netlink every 5 ms")
    w(f"   {'ms until visible in IPVS, measured':44}{'n':>5}{'p50':>9}{'p99':>9}{'max':>9}")
    for field, label in (("after_return_ms", "from kubectl returning (the asked measure)"),
                         ("after_watch_event_ms", "from a watch in the lab getting the event"),
                         ("after_start_ms", "from kubectl starting")):
        s = latency_stats(alone, "lb1", field)
        w(f"   {label:44}{s['n']:>5}{fmt(s['p50']):>9}{fmt(s['p99']):>9}{fmt(s['max']):>9}"
          + (f"  ({s['missed']} not seen within the timeout)" if s["missed"] else ""))
    if alone:
        cmd = [r["change_cmd_ms"] for r in alone]
        w(f"   (the change command itself took p50 {fmt(pct(cmd, 50))} ms, max {fmt(max(cmd))} ms; "
          f"{sum(1 for r in alone if r['ns'].get('lb1') and r['ns']['lb1']['after_return_ms'] == 0)} of {len(alone)} "
          f"changes were in IPVS before it returned)")
        first = min((r.get("start_ns", 0) for r in alone), default=0)
        rc = reconciles(log1, first)
        if rc:
            us = [u / 1000 for _, u in rc]
            w(f"   kvlbd reconciles during the changes (log): {len(rc)}, ops p50 {pct([o for o, _ in rc], 50):.0f}, "
              f"duration p50 {pct(us, 50):.1f} ms, p99 {pct(us, 99):.1f} ms, max {max(us):.1f} ms")
    w("")
    w("3. cold start against the existing Services (statuses written), empty IPVS table, each alone in the VM:")
    w("   process start -> every LB VIP:port with all its real servers in its own IPVS table (kube-proxy")
    w("   needs the ingress IPs kvlbd writes: a cold start of each against the same API state is the fair race)")
    ks = next(iter((kc.get("stats_at_ipvs") or {}).values()), None) or {}
    ps = next(iter((pc.get("stats_at_ipvs") or {}).values()), None) or {}
    kt, pt = ms_s(kc.get("ipvs_ms")), ms_s(pc.get("ipvs_ms"))
    w(f"   {'':42}{'kvlbd':>12}{'kube-proxy':>14}")
    w(f"   {'convergence time (s)':42}{fmt(kt, '', 2):>12}{fmt(pt, '', 2):>14}")
    w(f"   {'  measured within (ms)':42}{fmt(kc.get('ipvs_resolution_ms'), '', 0):>12}"
      f"{fmt(pc.get('ipvs_resolution_ms'), '', 0):>14}")
    w(f"   {'CPU s at convergence (own)':42}{fmt(ks.get('cpu_s'), '', 2):>12}{fmt(ps.get('cpu_s'), '', 2):>14}")
    w(f"   {'CPU s at convergence (+ waited children)':42}{fmt(ks.get('cpu_with_children_s'), '', 2):>12}"
      f"{fmt(ps.get('cpu_with_children_s'), '', 2):>14}")
    w(f"   {'peak RSS (VmHWM) MiB at convergence':42}{fmt(ks.get('peak_rss_mib')):>12}{fmt(ps.get('peak_rss_mib')):>14}")
    ke, pe = kc.get("table_entries", {}), pc.get("table_entries", {})
    w(f"   {'IPVS table then: virtual/real servers':42}"
      f"{str(ke.get('virtual_services')) + '/' + str(ke.get('real_servers')):>12}"
      f"{str(pe.get('virtual_services')) + '/' + str(pe.get('real_servers')):>14}")
    w(f"   {'table checked over netlink afterwards':42}{check_text(kc):>12}{check_text(pc):>14}")
    if pc.get("first_full_sync_ms") is not None or pc.get("first_full_sync_not_within_s"):
        fs = pc.get("first_full_sync_ms")
        w(f"   {'its first whole sync ended (s)':42}{'':>12}"
          f"{fmt(ms_s(fs), '', 2) if fs is not None else '> ' + str(pc['first_full_sync_not_within_s']):>14}"
          "   (IPVS, then one `ipset add` process per entry, then iptables-restore)")
        sf = pc.get("stats_first_sync") or {}
        if sf:
            w(f"   {'  kube-proxy CPU s then (+children), RSS':42}{'':>12}"
              f"{fmt(sf.get('cpu_s'), '', 1) + ' (' + fmt(sf.get('cpu_with_children_s'), '', 1) + ')':>14}"
              f"  {fmt(sf.get('peak_rss_mib'), ' MiB')}")
    w(f"   kvlbd/kube-proxy convergence time: {fmt(kt / pt if kt and pt else None, '', 3)}"
      f"  (kvlbd {fmt(pt / kt if kt and pt else None, 'x', 2)} faster)")
    log3 = kvlbd_log(os.path.join(logs, "kvlbd-lb3.log"))
    if log3 and kc.get("t0"):
        t0 = kc["t0"]
        marks = [("first log line", log3[0][0])]
        for t, msg in log3:
            if msg.startswith("kubernetes: first sync done"):
                marks.append(("cluster listed", t))
                break
        rc = [(t, msg) for t, msg in log3 if msg.startswith("reconciled:") and t >= t0]
        big = max(rc, key=lambda x: int(x[1].split()[1])) if rc else None
        if big:
            marks.append((f"largest reconcile done ({big[1].split(',')[0].split(': ')[1]}, "
                          f"{int(big[1].split()[-2]) / 1e6:.2f} s)", big[0]))
        w("   kvlbd cold start from its log: " + ", ".join(f"{k} +{(t - t0) / 1e9:.2f} s" for k, t in marks))
    pe = j["kvlb_proxy_end"].get("proxy") or {}
    if pe:
        w(f"   kube-proxy at the end of the run: CPU {fmt(pe.get('cpu_s'), ' s', 2)} "
          f"(+children {fmt(pe.get('cpu_with_children_s'), ' s', 2)}), peak RSS {fmt(pe.get('peak_rss_mib'), ' MiB')}")
    w("")
    if both:
        w(f"4. {len(both)} single changes, kvlbd (lb3) and kube-proxy (lb2) both running, each change measured in both")
        w(f"   {'ms until visible in IPVS, from':44}{'n':>5}{'p50':>9}{'p99':>9}{'max':>9}")
        for ns, label in (("lb3", "kvlbd"), ("lb2", "kube-proxy")):
            for field, fl in (("after_return_ms", "kubectl returning"), ("after_watch_event_ms", "watch event")):
                s = latency_stats(both, ns, field)
                w(f"   {label + ', ' + fl:44}{s['n']:>5}{fmt(s['p50']):>9}{fmt(s['p99']):>9}{fmt(s['max']):>9}"
                  + (f"  ({s['missed']} not seen within the timeout)" if s["missed"] else ""))
        w("")
    s = latency_stats(alone, "lb1", "after_return_ms")
    sw = latency_stats(alone, "lb1", "after_watch_event_ms")
    w("targets (issue):")
    w("   kvlbd >= 2x faster than kube-proxy to converge: "
      + ("-" if not (kt and pt) else f"{pt / kt:.2f}x -> {'met' if pt / kt >= 2 else 'NOT met'}"))
    w("   single-change p99 < 100 ms: "
      + ("-" if s["p99"] is None else f"{s['p99']:.1f} ms from kubectl returning -> {'met' if s['p99'] < 100 else 'NOT met'}")
      + ("" if sw["p99"] is None else f"; {sw['p99']:.1f} ms from the watch event -> {'met' if sw['p99'] < 100 else 'NOT met'}"))
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


def kvlbd_log(path):
    """[(epoch ns, message)] of a kvlbd log (spdlog's local-time stamps)."""
    import datetime
    out = []
    if not os.path.exists(path):
        return out
    for line in open(path, errors="replace"):
        m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}) \S+ (.*)", line)
        if m:
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
            out.append((int(t * 1e9), m.group(2)))
    return out


def reconciles(log, since=0, until=None):
    """[(ops, us)] of the 'reconciled:' lines in [since, until]."""
    out = []
    for t, msg in log:
        m = re.match(r"reconciled: (\d+) ops, (\d+) applied, (\d+) errors, (\d+) us", msg)
        if m and t >= since and (until is None or t <= until):
            out.append((int(m.group(1)), int(m.group(4))))
    return out


def check_text(r):
    c = r.get("netlink_check")
    return "-" if not c else ("ok" if c.get("ok") else "WRONG")


def ms_s(x):
    return None if x is None else x / 1000


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--services", type=int, required=True)
    g.add_argument("--ports", type=int, default=5)
    g.add_argument("--endpoints", type=int, default=10)
    g.add_argument("--base-port", type=int, default=80)
    g.add_argument("--chunks", type=int, default=4)
    g.add_argument("--prefix", default="bench")
    g.add_argument("--label", default="kvlb-bench: convergence")
    g.add_argument("--out", required=True)
    c = sub.add_parser("converge")
    c.add_argument("--netns", required=True, help="the network namespace (/run/netns/NAME) whose table is read")
    c.add_argument("--pid", required=True, help="a process in that namespace (its /proc/PID/net/ip_vs is read)")
    c.add_argument("--expect", choices=("count", "status"), default="count")
    c.add_argument("--services", type=int, required=True)
    c.add_argument("--ports", type=int, default=5)
    c.add_argument("--endpoints", type=int, default=10)
    c.add_argument("--kubeconfig")
    c.add_argument("--selector", default="kvlb-bench=convergence")
    c.add_argument("--status", action="store_true", help="also wait for every status.loadBalancer.ingress")
    c.add_argument("--stats-pid", action="append", default=[], help="CPU and RSS of this process at convergence (@FILE: its pid is in FILE)")
    c.add_argument("--ready", required=True, help="created once the poller runs")
    c.add_argument("--t0", required=True, help="file holding the start time (ns), written by the caller")
    c.add_argument("--timeout", type=float, default=1800)
    c.add_argument("--stall-timeout", type=float, default=600, help="give up after this long without progress")
    c.add_argument("--progress-every", type=float, default=5)
    c.add_argument("--verbose", action="store_true")
    c.add_argument("--out", required=True)
    m = sub.add_parser("monitor")
    m.add_argument("--kubeconfig")
    m.add_argument("--selector", default="kvlb-bench=convergence")
    m.add_argument("--interval", type=float, default=0.005)
    m.add_argument("--timeout", type=float, default=30)
    m.add_argument("--results", required=True)
    pr = sub.add_parser("proc")
    pr.add_argument("--one", action="store_true", help="just the object of the (first) process")
    pr.add_argument("--threads", action="store_true", help="CPU seconds per thread name too")
    pr.add_argument("pids", nargs="+")
    st = sub.add_parser("set")
    st.add_argument("file")
    st.add_argument("key")
    st.add_argument("value")
    sub.add_parser("proxy-metrics")
    s = sub.add_parser("summary")
    s.add_argument("--dir", required=True)
    s.add_argument("--out")
    a = p.parse_args()
    {"gen": cmd_gen, "converge": cmd_converge, "monitor": cmd_monitor, "proc": cmd_proc, "set": cmd_set,
     "proxy-metrics": cmd_proxy_metrics, "summary": cmd_summary}[a.cmd](a)


if __name__ == "__main__":
    main()
