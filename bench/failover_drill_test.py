#!/usr/bin/env python3
"""Self-check of failover_drill.py: python3 bench/failover_drill_test.py

The unit tests and a short loopback drill run anywhere; the outage drill
(loss for about a second, then a backend killed and replaced) runs as root in
a network namespace of its own, with tc netem or, lacking it, an nftables rule
dropping everything that arrives.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import types
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import failover_drill as fd  # noqa: E402

DRILL = os.path.join(HERE, "failover_drill.py")
ECHO = os.path.join(HERE, "..", "tests", "lab", "echo_server.py")


def opts(**kw):
    base = dict(stall_threshold_ms=60)
    base.update(kw)
    return types.SimpleNamespace(**base)


def free_port():
    # The echo server binds TCP and UDP on the port: find one free for both.
    for _ in range(50):
        with socket.socket() as t, socket.socket(type=socket.SOCK_DGRAM) as u:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def wait_for(path, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline or (proc and proc.poll() is not None):
            raise AssertionError(f"{path} did not appear")
        time.sleep(0.02)


class FakeSelector:
    """Stands in for the selector in tests of a single flow."""

    def register(self, *a):
        pass

    def modify(self, *a):
        pass

    def unregister(self, *a):
        pass


class UnitTest(unittest.TestCase):
    """Parsing, accounting and scheduling without a network."""

    def test_targets(self):
        t = fd.Target("127.0.0.1:80/tcp")
        self.assertEqual((t.proto, t.family, t.sockaddr), ("tcp", socket.AF_INET, ("127.0.0.1", 80)))
        t = fd.Target("[::1]:53/udp")
        self.assertEqual((t.proto, t.family, t.sockaddr[:2]), ("udp", socket.AF_INET6, ("::1", 53)))
        for bad in ("127.0.0.1:80", "127.0.0.1/tcp", "127.0.0.1:x/tcp", "1.2.3.4:80/icmp"):
            with self.assertRaises(ValueError):
                fd.Target(bad)

    def test_percentiles(self):
        p = fd.percentiles(list(range(1, 101)))
        self.assertEqual((p["p50"], p["p90"], p["p99"], p["max"]), (50, 90, 99, 100))
        self.assertIsNone(fd.percentiles([])["max"])

    def flow(self, cls=fd.DatagramFlow):
        return cls("udp", 0, fd.Target("127.0.0.1:9/udp"), FakeSelector(), opts())

    def test_echo_accounting(self):
        f = self.flow()
        f.measuring = True
        for i in range(6):
            f.next_message(i * 0.02)
        f.last_rx = 0.0
        f.on_line(b"be1 10.0.0.1 udp-0 0", 0.01)
        f.on_line(b"be1 10.0.0.1 udp-0 2", 0.05)
        f.on_line(b"be1 10.0.0.1 udp-0 1", 0.06)  # out of order
        f.on_line(b"be1 10.0.0.1 udp-0 1", 0.07)  # duplicate
        f.on_line(b"be1 10.0.0.1 udp-9 3", 0.08)  # another flow's
        f.on_line(b"garbage", 0.08)
        f.expire(0.07)  # 3 (sent 0.06) is older than the cutoff, 4 and 5 are not
        f.on_line(b"be2 10.0.0.1 udp-0 3", 1.0)  # late, and from another backend
        f.on_line(b"be2 10.0.0.1 udp-0 4", 1.01)
        self.assertEqual((f.received, f.out_of_order, f.duplicates, f.bad, f.lost, f.late),
                         (4, 1, 1, 2, 1, 1))
        self.assertEqual([m[1:] for m in f.moves], [(b"be1", b"be2")])
        self.assertAlmostEqual(f.longest, 0.93)
        self.assertAlmostEqual(f.longest_start, 0.07)
        f.finish(2.0)  # 5 never answered: lost, and the flow ends stalled
        self.assertEqual(f.lost, 2)
        self.assertFalse(f.resumed)
        self.assertAlmostEqual(f.longest, 0.99)
        self.assertEqual([b[2] for b in f.loss_bursts], [1, 1])

    def test_stream_reads_partial_lines(self):
        a, b = socket.socketpair()
        f = self.flow(fd.StreamFlow)
        f.sock, f.alive = a, True
        a.setblocking(False)
        for i in range(3):
            f.next_message(0.0)
        b.sendall(b"be1 10.0.0.1 udp-0 0\nbe1 10.0.")
        f.read(0.1)
        b.sendall(b"0.1 udp-0 1\nbe1 10.0.0.1 udp-0 2\n")
        f.read(0.2)
        self.assertEqual((f.received, f.bad), (3, 0))
        b.close()
        f.read(0.3)
        self.assertEqual(f.reset[1], "EOF")
        self.assertFalse(f.alive)

    def test_schedule_is_absolute_and_skips_missed_rounds(self):
        class Sink:
            """A flow that only notes when it was told to send."""
            alive = True

            def __init__(self):
                self.sent = []

            def send(self, now):
                self.sent.append(now)
        flows = [Sink(), Sink()]
        s = fd.SendSchedule(flows, 0.02, 100.0)
        self.assertAlmostEqual(s.run(100.0, 1e9), 100.01)
        self.assertAlmostEqual(s.run(100.015, 1e9), 100.02)
        self.assertEqual([len(f.sent) for f in flows], [1, 1])
        s.run(100.1, 1e9)  # 80 ms behind: the missed rounds are skipped
        self.assertGreater(s.skipped, 0)
        self.assertAlmostEqual(s.lag_max, 0.08)
        self.assertEqual(s.run(200.0, 100.5), float("inf"))  # stop_at reached

    def test_mark_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "marks")
            with open(path, "w") as f:
                f.write("old\n")
            clock = fd.Clock()
            m = fd.MarkFile(path, clock)
            with open(path, "a") as f:
                f.write("kill-master\nhea")
            m.poll(time.monotonic())
            with open(path, "a") as f:
                f.write("led\n")
            now = time.monotonic()
            m.poll(now)
            self.assertEqual([label for _, label in m.marks], ["kill-master", "healed"])
            self.assertLessEqual(m.marks[1][0], now)


class EchoServers:
    """Echo servers (tests/lab/echo_server.py), optionally in a namespace."""

    def __init__(self, tmp, port, prefix=()):
        self.tmp, self.port, self.prefix, self.procs = tmp, port, list(prefix), {}

    def start(self, name):
        ready = os.path.join(self.tmp, f"{name}.ready")
        p = subprocess.Popen(self.prefix + [sys.executable, ECHO, "--name", name, "--port",
                                            str(self.port), "--proto", "tcp", "--proto", "udp",
                                            "--ready", ready],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs[name] = p
        wait_for(ready, 10, p)

    def kill(self, name):
        p = self.procs.pop(name)
        p.kill()
        p.wait()

    def stop(self):
        for name in list(self.procs):
            self.kill(name)


def start_drill(tmp, port, args, prefix=()):
    out = os.path.join(tmp, "report.json")
    cmd = list(prefix) + [sys.executable, DRILL, "run",
                          "--target", f"127.0.0.1:{port}/tcp", "--target", f"127.0.0.1:{port}/udp",
                          "--json", out, "--ready-file", os.path.join(tmp, "ready"),
                          "--mark-file", os.path.join(tmp, "marks")] + args
    open(os.path.join(tmp, "marks"), "w").close()
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), out


def finish_drill(proc, out, test):
    text = proc.communicate(timeout=60)[0]
    test.assertEqual(proc.returncode, 0, text)
    with open(out) as f:
        return json.load(f), text


def mark(tmp, label):
    with open(os.path.join(tmp, "marks"), "a") as f:
        f.write(label + "\n")


class LoopbackTest(unittest.TestCase):
    """A short drill against an echo server on 127.0.0.1, nothing failing."""

    def test_clean_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            servers = EchoServers(tmp, port)
            try:
                servers.start("be1")
                proc, out = start_drill(tmp, port, ["--tcp", "10", "--udp", "5",
                                                    "--duration", "1"])
                wait_for(os.path.join(tmp, "ready"), 10, proc)
                mark(tmp, "nothing")
                rep, text = finish_drill(proc, out, self)
                summary = subprocess.run([sys.executable, DRILL, "summarize", out, out],
                                         capture_output=True, text=True, check=True).stdout
            finally:
                servers.stop()
        tot = rep["totals"]
        self.assertEqual((tot["flows"], tot["resets"], tot["lost"], tot["moved"]), (15, 0, 0, 0), text)
        self.assertEqual(set(tot["by_protocol"]), {"tcp", "udp"})
        self.assertEqual(tot["sent"], tot["received"])
        self.assertLess(tot["stall_ms"]["max"], 500)
        self.assertEqual([m["label"] for m in rep["marks"]], ["nothing"])
        self.assertEqual(rep["marks"][0]["flows"], 15)
        self.assertTrue(all(f["backends"] == ["be1"] for f in rep["flows"]))
        self.assertIn("2 drills", summary)


class Namespace:
    """A throw-away network namespace with lo up."""

    def __init__(self):
        self.name = f"drilltest{os.getpid()}"
        self.prefix = ["ip", "netns", "exec", self.name]

    def __enter__(self):
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.run("ip", "link", "set", "lo", "up")
        return self

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "del", self.name], check=False)

    def run(self, *cmd, check=True):
        return subprocess.run(self.prefix + list(cmd), check=check,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def drop_all(self):
        """Starts dropping everything; returns the undo.  netem loses packets
        on the wire; without it an nftables input rule does (an output rule
        would fail the sender's send() with EPERM instead)."""
        if self.run("tc", "qdisc", "add", "dev", "lo", "root", "netem", "loss", "100%",
                    check=False).returncode == 0:
            return lambda: self.run("tc", "qdisc", "del", "dev", "lo", "root")
        self.run("nft", "add table inet drilltest; add chain inet drilltest in "
                 "{ type filter hook input priority 0; policy drop; }")
        return lambda: self.run("nft", "delete", "table", "inet", "drilltest")


@unittest.skipUnless(os.geteuid() == 0, "needs root for a network namespace")
class OutageTest(unittest.TestCase):
    """About a second of total loss, then the backend killed and replaced,
    each announced through the mark file."""

    def test_outage(self):
        with tempfile.TemporaryDirectory() as tmp, Namespace() as ns:
            port = free_port()
            servers = EchoServers(tmp, port, ns.prefix)
            try:
                servers.start("be1")
                proc, out = start_drill(tmp, port, ["--tcp", "20", "--udp", "10",
                                                    "--duration", "6", "--mark-window", "1"], ns.prefix)
                wait_for(os.path.join(tmp, "ready"), 10, proc)
                time.sleep(1)
                mark(tmp, "loss")
                # The drop begins somewhere in drop_all() and ends in undo():
                # the outage lies between the inner and the outer time.
                t0 = time.monotonic()
                undo = ns.drop_all()
                t1 = time.monotonic()
                time.sleep(1)
                t2 = time.monotonic()
                undo()
                t3 = time.monotonic()
                inner, outer = (t2 - t1) * 1000, (t3 - t0) * 1000
                mark(tmp, "healed")
                time.sleep(1.5)
                mark(tmp, "kill-backend")
                servers.kill("be1")
                servers.start("be2")
                rep, text = finish_drill(proc, out, self)
            finally:
                servers.stop()
        print(f"\ninjected outage {inner:.0f}..{outer:.0f} ms; drill:\n{text}", file=sys.stderr)
        loss, healed, kill = rep["marks"]
        self.assertEqual((loss["label"], healed["label"], kill["label"]),
                         ("loss", "healed", "kill-backend"))
        # Every flow stalls once for the outage, plus up to about an interval
        # (the gap runs from the last echo before to the first after), plus
        # scheduling delays on a busy host.
        self.assertEqual(loss["flows_stalled"], 30)
        udp = [loss["stalls_ms"][f"udp-{i}"] for i in range(10)]
        tcp = [loss["stalls_ms"][f"tcp-{i}"] for i in range(20)]
        self.assertGreater(min(udp), inner - 5)
        self.assertLess(max(udp), outer + 250)
        # TCP recovers at its next retransmission, which backs off.
        self.assertGreater(min(tcp), inner - 5)
        self.assertLess(max(tcp), outer + 2000)
        self.assertEqual(loss["resets"], 0)
        self.assertLess(healed["stall_ms"]["max"] or 0, 500)
        # Killing the backend resets every TCP stream; UDP moves to be2.
        self.assertEqual(kill["resets"], 20)
        self.assertEqual(kill["moved"], 10)
        by = rep["totals"]["by_protocol"]
        self.assertEqual((by["tcp"]["resets"], by["tcp"]["not_resumed"]), (20, 20))
        self.assertEqual((by["udp"]["resets"], by["udp"]["not_resumed"], by["udp"]["moved"]),
                         (0, 0, 10))
        self.assertGreater(by["udp"]["lost"], 0)
        for f in rep["flows"]:
            if f["proto"] == "udp":
                self.assertEqual(f["backends"], ["be1", "be2"])
                self.assertTrue(f["resumed"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
