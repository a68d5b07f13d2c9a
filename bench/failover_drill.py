#!/usr/bin/env python3
"""Failover drill: what established flows see when a load balancer fails over.

Opens long-lived TCP streams, UDP flows (each its own connected socket, so its
own 5-tuple) and SCTP associations (one-to-one style) through the balancer's
virtual services, sends a sequence-numbered line on every flow every
--interval-ms and checks the echoes.  Kill the active balancer while it runs:
a hitless failover shows no resets, no moved flows, no lost TCP/SCTP messages
and a short stall.

  failover_drill.py run --target 10.0.0.100:80/tcp --target 10.0.0.100:53/udp \\
      --tcp 100 --udp 50 --duration 30 --mark-file marks --json drill.json
  echo kill-master >> marks        # from the harness, just before the kill
  failover_drill.py summarize drill.json [more.json ...]

Backends must answer like tests/lab/echo_server.py: one reply line per
received line, "<backend-name> <peer-address> <line>" (the first word names
the backend); TCP and SCTP connections stay open for as many lines as the
client sends, UDP gets one reply datagram per request datagram.

Targets are ADDRESS:PORT/PROTO ("[fd00::1]:80/tcp" for IPv6); several per
protocol are allowed (e.g. one per NAT mode): that protocol's flows are
assigned to them round-robin and the report breaks results down per target.

Phases: all flows connect; sending starts, the flows staggered over the first
interval; once every flow has had its first echo --ready-file is written and
the measured phase (--duration seconds) begins; then sending stops and
outstanding echoes are awaited for up to the loss timeout.

Per flow it measures:
  reset        the flow died: ECONNRESET/EPIPE/ECONNABORTED or other socket
               error, SCTP ABORT, EOF (SHUTDOWN/FIN).  It is not reopened.
  lost         messages whose echo never came; on UDP also echoes later than
               --loss-timeout-ms (counted lost, and "late" if they do come).
               UDP flows go on after losses and ICMP errors.
  out_of_order echoes of a lower sequence number than one already received
  duplicates   echoes received twice
  moved        the backend name in the echoes changed (another endpoint)
  stall        the longest gap between consecutive echo receipts in the
               measured phase: the outage as the flow sees it.  A flow that
               ends reset or with unanswered messages has an unfinished stall
               up to the end of the measured phase and did not resume.

--mark-file F is polled every 50 ms; every line appended to it while the drill
runs ("kill-master", "healed", ...) is a mark, timed by the file's mtime.  For
each mark the report gives the stalls (gaps of at least the stall threshold)
that began in its window, from max(0.25 s, 2 intervals) before the mark to
--mark-window seconds after it, and the resets, losses and moves in that
window: one run with five failovers gives five sets of numbers.

`summarize` prints a saved report's summary; given several (e.g. 20 drills)
it prints a line per drill and, per mark label and per target, the worst stall
of each mark and every flow's stall pooled over all drills (p50/p90/p99/max).

Sends follow an absolute schedule (start + offset + k * interval).  If the
tool itself falls behind, the lag is reported ("loop lag") and whole missed
rounds are skipped rather than sent in a burst, so a stall the tool caused is
visible as such.

Exit status: 0, whatever the flows saw; 2 on a usage error or when the flows
could not all be set up (connect error or no first echo, report still
written); 1 when --fail-on-reset or --max-stall-ms is violated (reasons on
stderr and in the report's "violations").

--json writes the report (times named *_s are seconds since the start of the
measured phase; stall and lag values are in ms):
  config       the options the drill ran with
  setup_error  why the flows could not all be set up, or null
  times        start_wall, ready_wall, end_wall (epoch), ready_mono
               (time.monotonic() of the start of the measured phase),
               setup_s, measured_s, drain_s
  loop_lag     max_ms, max_at_s, late_sends (over half an interval late),
               skipped_sends, episodes [[from_s, to_s, max_ms]]
  totals       flows, connect_errors, resets, sent, received, lost, late,
               out_of_order, duplicates, bad (unparsable or foreign echoes),
               errors (socket errors not ending the flow, e.g. ICMP on UDP),
               moved, not_resumed and stall_ms {p50, p90, p99, max} over the
               flows' longest stalls; the same per protocol in by_protocol and
               per target in by_target
  marks        per mark: label, t_s, wall, window_s [from, to], flows (alive at
               the window's start), flows_stalled, stall_ms {p50, p90, p99,
               max}, stalls_ms {flow name: ms}, resets, lost, moved,
               not_resumed, loop_lag_ms (the tool's own worst lag meanwhile),
               and by_protocol / by_target (the same without stalls_ms)
  violations   the --fail-on-reset / --max-stall-ms violations
  flows        per flow: name, proto, target, local, connect_error, sent,
               received, lost, late, out_of_order, duplicates, bad, errors,
               last_error, reset {t_s, reason} or null, backend (the first),
               backends, peer (the client address the backend saw), moved,
               moves [{t_s, from, to}], first_echo_s, last_echo_s,
               longest_stall_ms, longest_stall_start_s / _mono / _wall,
               resumed, stalls [[start_s, ms, closed]] (gaps from the stall
               threshold on), stalls_dropped, loss_bursts [[first_s, last_s,
               count]] (by send time)
"""
import argparse
import errno
import gc
import json
import math
import os
import selectors
import signal
import socket
import sys
import time

SCTP = getattr(socket, "IPPROTO_SCTP", 132)
SCTP_NODELAY = 3  # from <netinet/sctp.h>; Python's socket module lacks it
PROTOCOLS = ("tcp", "udp", "sctp")
HOUSEKEEPING_S = 0.05
MAX_STALLS_PER_FLOW = 10000
REPORT_VERSION = 1


def fail_usage(msg):
    print(f"failover_drill: {msg}", file=sys.stderr)
    sys.exit(2)


def errno_name(err):
    if isinstance(err, OSError) and err.errno is not None:
        return errno.errorcode.get(err.errno, str(err.errno))
    if isinstance(err, int):
        return errno.errorcode.get(err, str(err))
    return str(err)


def percentiles(values):
    """Nearest-rank p50/p90/p99/max of values (None when empty), rounded ms."""
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    v = sorted(values)

    def rank(p):
        return round(v[max(0, math.ceil(p / 100 * len(v)) - 1)], 1)
    return {"p50": rank(50), "p90": rank(90), "p99": rank(99), "max": round(v[-1], 1)}


# ------------------------------------------------------------------ targets


class Target:
    """One virtual service: address, port and protocol, resolved once."""

    def __init__(self, spec):
        self.label = spec
        hostport, sep, proto = spec.rpartition("/")
        if not sep or proto not in PROTOCOLS:
            raise ValueError(f"target {spec!r}: want ADDRESS:PORT/tcp|udp|sctp")
        host, sep, port = hostport.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ValueError(f"target {spec!r}: want ADDRESS:PORT/PROTO")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        stype = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
        try:
            ai = socket.getaddrinfo(host, int(port), type=stype)[0]
        except socket.gaierror as e:
            raise ValueError(f"target {spec!r}: {e}") from None
        self.proto = proto
        self.family, self.sockaddr = ai[0], ai[4]


# -------------------------------------------------------------------- flows


class Flow:
    """One long-lived flow: sends numbered lines and accounts for their echoes.

    Subclasses do the socket I/O; this class keeps the per-flow counters, the
    gaps between echo receipts (stalls) and the backend seen in the echoes.
    """

    def __init__(self, proto, index, target, sel, opts):
        self.proto = proto
        self.name = f"{proto}-{index}"
        self.tag = self.name.encode()
        self.target = target
        self.sel = sel
        self.stall_threshold = opts.stall_threshold_ms / 1000
        self.sock = None
        self.local = None
        self.alive = False
        self.connecting = False
        self.connect_error = None
        self.reset = None  # (monotonic time, reason)
        self.next_seq = 0
        self.pending = {}  # seq -> send time; insertion order is send order
        self.lost_seqs = set()
        self.loss_bursts = []  # [first send time, last send time, count, last seq]
        self.max_rx_seq = -1
        self.received = self.lost = self.late = 0
        self.out_of_order = self.duplicates = self.bad = 0
        self.errors = 0
        self.last_error = None
        self.backend = None
        self.backends = []
        self.moves = []  # (monotonic time, from, to)
        self.peer = None
        self.first_rx = None
        self.last_rx = None
        self.measuring = False
        self.longest = 0.0
        self.longest_start = None
        self.resumed = True
        self.stalls = []  # [start, seconds, closed]
        self.stalls_dropped = 0

    # --- sending side, shared
    def next_message(self, now):
        seq = self.next_seq
        self.next_seq = seq + 1
        self.pending[seq] = now
        return b"%s %d\n" % (self.tag, seq)

    # --- echo accounting
    def on_line(self, line, now):
        parts = line.split()
        if len(parts) < 4 or parts[-2] != self.tag:
            self.bad += 1
            return
        try:
            seq = int(parts[-1])
        except ValueError:
            self.bad += 1
            return
        if self.pending.pop(seq, None) is not None:
            self.received += 1
            if seq < self.max_rx_seq:
                self.out_of_order += 1
            else:
                self.max_rx_seq = seq
        elif seq in self.lost_seqs:
            self.lost_seqs.discard(seq)
            self.late += 1
        elif seq < self.next_seq:
            self.duplicates += 1
        else:
            self.bad += 1
            return
        self.note_backend(parts[0], parts[1], now)
        self.note_receipt(now)

    def note_backend(self, name, peer, now):
        self.peer = peer
        if name == self.backend:
            return
        if self.backend is not None:
            self.moves.append((now, self.backend, name))
        if name not in self.backends:
            self.backends.append(name)
        self.backend = name

    def note_receipt(self, now):
        last = self.last_rx
        self.last_rx = now
        if self.first_rx is None:
            self.first_rx = now
        if self.measuring:
            self.note_gap(last, now - last, True)

    def note_gap(self, start, gap, closed):
        if gap > self.longest:
            self.longest, self.longest_start = gap, start
        if gap >= self.stall_threshold:
            if len(self.stalls) < MAX_STALLS_PER_FLOW:
                self.stalls.append([start, gap, closed])
            else:
                self.stalls_dropped += 1

    # --- losses
    def lose(self, items):
        """Counts (seq, send time) pairs, in seq order, as lost."""
        for seq, sent in items:
            self.lost_seqs.add(seq)
            b = self.loss_bursts[-1] if self.loss_bursts else None
            if b and b[3] == seq - 1:
                b[1], b[2], b[3] = sent, b[2] + 1, seq
            else:
                self.loss_bursts.append([sent, sent, 1, seq])
        self.lost += len(items)

    def expire(self, cutoff):
        """Counts messages sent before cutoff and still unanswered as lost."""
        expired = []
        for seq, sent in self.pending.items():
            if sent > cutoff:
                break
            expired.append((seq, sent))
        for seq, _ in expired:
            del self.pending[seq]
        if expired:
            self.lose(expired)

    def note_error(self, err):
        self.errors += 1
        self.last_error = errno_name(err)

    # --- end of run
    def finish(self, t_end):
        """Settles the flow after the drain: unanswered is lost, and a flow
        that is reset or still waiting ends in an unfinished stall."""
        stuck = self.reset is not None or bool(self.pending)
        self.expire(math.inf)
        if stuck and self.measuring and self.last_rx is not None:
            self.resumed = False
            self.note_gap(self.last_rx, max(0.0, t_end - self.last_rx), False)
        self.close()

    def close(self):
        if self.sock is None:
            return
        try:
            self.sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()
        self.sock = None
        self.alive = False

    def to_json(self, clock):
        """Per-flow report entry; times relative to the measured phase."""
        rel = clock.rel
        return {
            "name": self.name,
            "proto": self.proto,
            "target": self.target.label,
            "local": self.local,
            "connect_error": self.connect_error,
            "sent": self.next_seq,
            "received": self.received,
            "lost": self.lost,
            "late": self.late,
            "out_of_order": self.out_of_order,
            "duplicates": self.duplicates,
            "bad": self.bad,
            "errors": self.errors,
            "last_error": self.last_error,
            "reset": None if self.reset is None else
            {"t_s": rel(self.reset[0]), "reason": self.reset[1]},
            "backend": self.backends[0].decode(errors="replace") if self.backends else None,
            "backends": [b.decode(errors="replace") for b in self.backends],
            "peer": self.peer.decode(errors="replace") if self.peer else None,
            "moved": bool(self.moves),
            "moves": [{"t_s": rel(t), "from": a.decode(errors="replace"),
                       "to": b.decode(errors="replace")} for t, a, b in self.moves],
            "first_echo_s": rel(self.first_rx),
            "last_echo_s": rel(self.last_rx),
            "longest_stall_ms": round(self.longest * 1000, 1) if self.measuring else None,
            "longest_stall_start_s": rel(self.longest_start),
            "longest_stall_start_mono": self.longest_start,
            "longest_stall_start_wall": clock.wall(self.longest_start),
            "resumed": self.resumed,
            "stalls": [[rel(s), round(d * 1000, 1), c] for s, d, c in self.stalls],
            "stalls_dropped": self.stalls_dropped,
            "loss_bursts": [[rel(a), rel(b), n] for a, b, n, _ in self.loss_bursts],
        }


class StreamFlow(Flow):
    """A TCP stream or an SCTP association (SOCK_STREAM, one-to-one style).

    Reads lines through a buffer (a recv may end mid-line); any socket error
    or EOF resets the flow for good.
    """

    def __init__(self, *args):
        super().__init__(*args)
        self.rbuf = b""
        self.wbuf = b""

    def open(self, source):
        proto = SCTP if self.proto == "sctp" else 0
        s = socket.socket(self.target.family, socket.SOCK_STREAM, proto)
        self.sock = s
        s.setblocking(False)
        # Lines are tiny and sent every interval: Nagle would hold them back
        # behind unacknowledged ones and add its own stalls.
        if self.proto == "tcp":
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            s.setsockopt(SCTP, SCTP_NODELAY, 1)
        if source:
            s.bind((source, 0))
        err = s.connect_ex(self.target.sockaddr)
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, os.strerror(err))
        self.connecting = True
        self.sel.register(s, selectors.EVENT_WRITE, self)

    def on_event(self, mask, now):
        if self.connecting:
            self.connected()
            return
        if mask & selectors.EVENT_READ:
            self.read(now)
        if self.alive and mask & selectors.EVENT_WRITE:
            self.flush(now)

    def connected(self):
        self.connecting = False
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.connect_error = errno_name(err)
            self.close()
            return
        self.alive = True
        self.local = "%s:%d" % self.sock.getsockname()[:2]
        self.sel.modify(self.sock, selectors.EVENT_READ, self)

    def read(self, now):
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.die(errno_name(e), now)
            return
        if not data:
            self.die("EOF", now)
            return
        lines = (self.rbuf + data).split(b"\n")
        self.rbuf = lines.pop()
        for line in lines:
            self.on_line(line, now)

    def send(self, now):
        data = self.next_message(now)
        if self.wbuf:
            self.wbuf += data
            return
        self.write(data, now)

    def flush(self, now):
        data, self.wbuf = self.wbuf, b""
        self.write(data, now)
        if not self.wbuf and self.alive:
            self.sel.modify(self.sock, selectors.EVENT_READ, self)

    def write(self, data, now):
        try:
            n = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError as e:
            self.die(errno_name(e), now)
            return
        if n < len(data):
            # The socket buffer is full (a long stall): keep the rest and ask
            # for writability instead of blocking the loop.
            self.wbuf = data[n:] + self.wbuf
            self.sel.modify(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, self)

    def die(self, reason, now):
        self.reset = (now, reason)
        self.close()
        self.expire(math.inf)


class DatagramFlow(Flow):
    """A UDP flow: one connected socket, hence one 5-tuple, for the whole run.

    Losses and ICMP errors do not end it; echoes that do not come within the
    loss timeout count as lost.
    """

    def open(self, source):
        s = socket.socket(self.target.family, socket.SOCK_DGRAM)
        self.sock = s
        s.setblocking(False)
        if source:
            s.bind((source, 0))
        s.connect(self.target.sockaddr)
        self.alive = True
        self.local = "%s:%d" % s.getsockname()[:2]
        self.sel.register(s, selectors.EVENT_READ, self)

    def on_event(self, mask, now):
        # One datagram per event: the selector is level-triggered and reports
        # the socket again if more are queued, while reading on until EAGAIN
        # would cost a failing recv for nearly every echo.
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:  # ICMP errors (ECONNREFUSED...) come back here
            self.note_error(e)
            return
        for line in data.split(b"\n"):
            if line:
                self.on_line(line, now)

    def send(self, now):
        data = self.next_message(now)
        try:
            self.sock.send(data)
        except OSError as e:
            self.note_error(e)


# ---------------------------------------------------------------- the loop


class Clock:
    """Monotonic time for measuring, mapped to the wall clock and to seconds
    since the start of the measured phase for the report."""

    def __init__(self):
        self.wall_offset = time.time() - time.monotonic()
        self.t_ready = None

    def rel(self, t):
        if t is None or self.t_ready is None:
            return None
        return round(t - self.t_ready, 4)

    def wall(self, t):
        return None if t is None else round(t + self.wall_offset, 4)

    def mono_of_wall(self, w):
        return w - self.wall_offset


class SendSchedule:
    """When each flow sends: flow i of n at t0 + i/n * interval + k * interval.

    A timer wheel with one slot per flow: since every flow has the same
    period, the sends form one fixed cyclic order and a cursor over it replaces
    a heap.
    """

    def __init__(self, flows, interval, t0):
        self.flows = flows
        self.n = len(flows)
        self.interval = interval
        self.offsets = [i * interval / self.n for i in range(self.n)]
        self.t0 = t0
        self.g = 0  # global send index: round g // n, slot g % n
        self.lag_max = 0.0
        self.lag_max_at = None
        self.late_sends = 0
        self.skipped = 0
        self.episodes = []  # [first due, last due, max lag] of sends late by > interval/2


    def run(self, now, stop_at):
        """Sends everything due by now (and before stop_at); returns the next
        due time."""
        iv, n, flows, offsets = self.interval, self.n, self.flows, self.offsets
        while True:
            r, i = divmod(self.g, n)
            due = self.t0 + r * iv + offsets[i]
            if due >= stop_at:
                return math.inf
            if due > now:
                return due
            lag = now - due
            if lag > self.lag_max:
                self.lag_max, self.lag_max_at = lag, due
            if lag > iv / 2:
                self.note_lag(due, lag)
                if lag > iv:
                    rounds = int(lag // iv)
                    self.g += rounds * n
                    self.skipped += rounds * n
                    continue
                self.late_sends += 1
            f = flows[i]
            if f.alive:
                f.send(now)
            self.g += 1

    def note_lag(self, due, lag):
        ep = self.episodes[-1] if self.episodes else None
        if ep and due - ep[1] <= self.interval:
            ep[1], ep[2] = due, max(ep[2], lag)
        elif len(self.episodes) < MAX_STALLS_PER_FLOW:
            self.episodes.append([due, due, lag])

    def to_json(self, clock):
        return {"max_ms": round(self.lag_max * 1000, 1), "max_at_s": clock.rel(self.lag_max_at),
                "late_sends": self.late_sends, "skipped_sends": self.skipped,
                "episodes": [[clock.rel(a), clock.rel(b), round(lag * 1000, 1)]
                             for a, b, lag in self.episodes]}


class MarkFile:
    """Lines the harness appends to a file while the drill runs, each timed.

    The file's mtime times a mark better than the 50 ms poll does; it is
    clamped into the poll interval in case the file lives on another clock.
    Content present before the drill starts is ignored.
    """

    def __init__(self, path, clock):
        self.path = path
        self.clock = clock
        self.offset = self.size()
        self.partial = b""
        self.last_poll = time.monotonic()
        self.marks = []  # (monotonic time, label)

    def size(self):
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    def poll(self, now):
        prev, self.last_poll = self.last_poll, now
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                if st.st_size < self.offset:  # truncated: start over
                    self.offset = 0
                if st.st_size == self.offset:
                    return
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        t = min(max(self.clock.mono_of_wall(st.st_mtime_ns / 1e9), prev), now)
        for line in lines:
            label = line.decode(errors="replace").strip()
            if label:
                self.marks.append((t, label))


class Drill:
    """The whole run: sets the flows up, drives one selector loop through the
    phases (connect, warm-up, measure, drain) and builds the report."""

    def __init__(self, opts, targets):
        self.opts = opts
        self.interval = opts.interval_ms / 1000
        self.clock = Clock()
        self.sel = selectors.DefaultSelector()
        self.flows = self.make_flows(targets)
        self.marks = MarkFile(opts.mark_file, self.clock) if opts.mark_file else None
        self.schedule = None
        self.stop_at = math.inf
        self.next_housekeeping = 0.0
        self.stopping = False
        self.setup_error = None
        self.times = {}

    def make_flows(self, targets):
        by_proto = []
        for proto in PROTOCOLS:
            ts = [t for t in targets if t.proto == proto]
            cls = DatagramFlow if proto == "udp" else StreamFlow
            count = getattr(self.opts, proto)
            by_proto.append([cls(proto, i, ts[i % len(ts)], self.sel, self.opts)
                             for i in range(count)])
        # Interleave the protocols so the stagger spreads each one evenly.
        flows = []
        for i in range(max(len(fs) for fs in by_proto)):
            flows.extend(fs[i] for fs in by_proto if i < len(fs))
        return flows

    # --- the loop
    def loop(self, done, deadline):
        """Runs the selector loop until done() or the deadline; done() is
        checked at the housekeeping pace, as it may look at every flow."""
        while not self.stopping:
            now = time.monotonic()
            next_send = self.schedule.run(now, self.stop_at) if self.schedule else math.inf
            if now >= deadline:
                return
            if now >= self.next_housekeeping:
                self.housekeeping(now)
                if done():
                    return
            wake = min(next_send, self.next_housekeeping, deadline)
            events = self.sel.select(max(0.0, wake - now))
            now = time.monotonic()
            for key, mask in events:
                key.data.on_event(mask, now)

    def housekeeping(self, now):
        self.next_housekeeping = now + HOUSEKEEPING_S
        if self.marks:
            self.marks.poll(now)
        cutoff = now - self.opts.loss_timeout_ms / 1000
        for f in self.flows:
            if f.pending and f.proto == "udp":
                f.expire(cutoff)

    # --- phases
    def run(self):
        self.times["start"] = time.monotonic()
        if not self.connect_all():
            return
        self.warm_up()
        if self.setup_error:
            return
        self.measure()
        self.drain()

    def connect_all(self):
        for f in self.flows:
            try:
                f.open(self.opts.source_address)
            except OSError as e:
                f.connect_error = errno_name(e)
                f.close()
        deadline = time.monotonic() + self.opts.connect_timeout
        self.next_housekeeping = 0.0
        self.loop(lambda: not any(f.connecting for f in self.flows), deadline)
        for f in self.flows:
            if f.connecting:
                f.connecting = False
                f.connect_error = "timeout"
                f.close()
        failed = [f for f in self.flows if f.connect_error]
        if failed:
            self.setup_error = f"{len(failed)} of {len(self.flows)} flows failed to connect " \
                               f"(first: {failed[0].name} to {failed[0].target.label}: " \
                               f"{failed[0].connect_error}" + \
                               (", no SCTP in this kernel?" if failed[0].connect_error
                                in ("EPROTONOSUPPORT", "ESOCKTNOSUPPORT") else "") + ")"
            self.times["ready"] = self.times["end"] = time.monotonic()
        return not failed

    def warm_up(self):
        now = time.monotonic()
        self.schedule = SendSchedule(self.flows, self.interval, now)
        deadline = now + self.opts.connect_timeout
        self.loop(lambda: all(f.first_rx is not None or f.reset for f in self.flows), deadline)
        silent = [f for f in self.flows if f.first_rx is None]
        if silent and not self.stopping:
            f = silent[0]
            why = f"reset: {f.reset[1]}" if f.reset else \
                f"error: {f.last_error}" if f.last_error else "no echo"
            self.setup_error = f"{len(silent)} of {len(self.flows)} flows got no first echo " \
                               f"within {self.opts.connect_timeout:g} s " \
                               f"(first: {f.name} to {f.target.label}, {why})"
        if self.setup_error:
            self.times["ready"] = self.times["end"] = time.monotonic()

    def measure(self):
        now = time.monotonic()
        self.times["ready"] = self.clock.t_ready = now
        for f in self.flows:
            f.measuring = True
        # The objects made so far live all run long: keep the cyclic GC from
        # scanning them again and again (its pauses would show up as stalls).
        gc.collect()
        gc.freeze()
        if self.opts.ready_file:
            write_file(self.opts.ready_file, f"ready {now + self.clock.wall_offset:.3f}\n")
        self.stop_at = now + self.opts.duration
        self.loop(lambda: False, self.stop_at)
        self.times["end"] = min(time.monotonic(), self.stop_at)
        self.stop_at = self.times["end"]

    def drain(self):
        deadline = time.monotonic() + self.opts.loss_timeout_ms / 1000
        self.stopping = False  # a signal ends the measured phase, not the drain
        self.next_housekeeping = 0.0
        self.loop(lambda: not any(f.pending for f in self.flows if f.alive), deadline)
        self.times["drained"] = time.monotonic()
        for f in self.flows:
            f.finish(self.times["end"])

    def stop(self, *_):
        self.stopping = True

    # --- report
    def report(self):
        clock = self.clock
        if clock.t_ready is None:
            clock.t_ready = self.times.get("ready", time.monotonic())
        for f in self.flows:
            f.close()
        t = self.times
        flows = [f.to_json(clock) for f in self.flows]
        o = self.opts
        rep = {
            "tool": "failover_drill",
            "version": REPORT_VERSION,
            "config": {
                "targets": o.target, "tcp": o.tcp, "udp": o.udp, "sctp": o.sctp,
                "interval_ms": o.interval_ms, "duration_s": o.duration,
                "loss_timeout_ms": o.loss_timeout_ms,
                "stall_threshold_ms": o.stall_threshold_ms,
                "mark_window_s": o.mark_window, "mark_lead_s": mark_lead(o.interval_ms),
                "source_address": o.source_address,
            },
            "setup_error": self.setup_error,
            "times": {
                "start_wall": clock.wall(t["start"]),
                "ready_wall": clock.wall(t.get("ready")),
                "end_wall": clock.wall(t.get("end")),
                "ready_mono": t.get("ready"),
                "setup_s": round(t.get("ready", t["start"]) - t["start"], 4),
                "measured_s": round(t.get("end", 0) - t.get("ready", 0), 4),
                "drain_s": round(t["drained"] - t["end"], 4) if "drained" in t else None,
            },
            "loop_lag": self.schedule.to_json(clock) if self.schedule else None,
            "totals": totals(flows),
        }
        marks = self.marks.marks if self.marks else []
        rep["marks"] = [mark_stats(label, clock.rel(m), clock.wall(m), flows, rep["config"],
                                   rep["loop_lag"]) for m, label in marks]
        rep["violations"] = []
        rep["flows"] = flows
        return rep


def write_file(path, text):
    # Written whole under a temporary name: a harness polling for the file
    # never reads it half-written.
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# ------------------------------------------------------------ aggregation


COUNTERS = ("sent", "received", "lost", "late", "out_of_order", "duplicates", "bad", "errors")


def group_stats(flows):
    """Aggregate counters and the stall distribution of a set of flows."""
    up = [f for f in flows if not f["connect_error"]]
    s = {"flows": len(flows), "connect_errors": len(flows) - len(up),
         "resets": sum(1 for f in up if f["reset"])}
    for k in COUNTERS:
        s[k] = sum(f[k] for f in up)
    s["moved"] = sum(1 for f in up if f["moved"])
    s["not_resumed"] = sum(1 for f in up if not f["resumed"])
    s["stall_ms"] = percentiles([f["longest_stall_ms"] for f in up
                                 if f["longest_stall_ms"] is not None])
    return s


def totals(flows):
    t = group_stats(flows)
    t["by_protocol"] = {p: group_stats([f for f in flows if f["proto"] == p])
                        for p in PROTOCOLS if any(f["proto"] == p for f in flows)}
    labels = list(dict.fromkeys(f["target"] for f in flows))
    t["by_target"] = {lab: group_stats([f for f in flows if f["target"] == lab])
                      for lab in labels}
    return t


def mark_lead(interval_ms):
    return max(0.25, 2 * interval_ms / 1000)


def mark_stats(label, t, wall, flows, config, loop_lag):
    """What happened in a mark's window, for all flows, per protocol and per
    target: the flows alive at its start, stalls that began in it (each
    flow's longest), resets, losses and moves; and the tool's own worst lag
    while those stalls lasted."""
    lo, hi = t - config["mark_lead_s"], t + config["mark_window_s"]
    alive = [f for f in flows if not f["connect_error"]
             and (not f["reset"] or f["reset"]["t_s"] >= lo)]
    m = {"label": label, "t_s": t, "wall": wall, "window_s": [round(lo, 4), round(hi, 4)]}
    m.update(window_stats(alive, lo, hi))
    until = hi + (m["stall_ms"]["max"] or 0) / 1000
    m["loop_lag_ms"] = max([lag for a, b, lag in (loop_lag or {}).get("episodes", [])
                            if a <= until and b >= lo], default=0.0)
    for key, field in (("by_protocol", "proto"), ("by_target", "target")):
        groups = dict.fromkeys(f[field] for f in flows)
        m[key] = {g: window_stats([f for f in alive if f[field] == g], lo, hi) for g in groups}
        for v in m[key].values():
            del v["stalls_ms"]
    return m


def window_stats(flows, lo, hi):
    def inside(x):
        return x is not None and lo <= x <= hi
    stalls = {}
    not_resumed = 0
    for f in flows:
        in_window = [s for s in f["stalls"] if inside(s[0])]
        if in_window:
            worst = max(in_window, key=lambda s: s[1])
            stalls[f["name"]] = worst[1]
            not_resumed += not worst[2]
    return {
        "flows": len(flows), "flows_stalled": len(stalls),
        "stall_ms": percentiles(list(stalls.values())),
        "stalls_ms": stalls,
        "resets": sum(1 for f in flows if f["reset"] and inside(f["reset"]["t_s"])),
        "lost": sum(b[2] for f in flows for b in f["loss_bursts"] if inside(b[0])),
        "moved": sum(1 for f in flows if any(inside(m["t_s"]) for m in f["moves"])),
        "not_resumed": not_resumed,
    }


def violations(rep, opts):
    out = []
    flows = [f for f in rep["flows"] if f["longest_stall_ms"] is not None]
    if opts.fail_on_reset:
        reset = [f for f in flows if f["reset"]]
        if reset:
            f = reset[0]
            out.append(f"{len(reset)} flows were reset (first: {f['name']} at "
                       f"{fmt_t(f['reset']['t_s'])}: {f['reset']['reason']})")
    if opts.max_stall_ms is not None:
        long_ = sorted((f for f in flows if f["longest_stall_ms"] > opts.max_stall_ms),
                       key=lambda f: -f["longest_stall_ms"])
        if long_:
            f = long_[0]
            out.append(f"{len(long_)} flows stalled longer than {opts.max_stall_ms:g} ms "
                       f"(longest: {f['name']} {f['longest_stall_ms']:.0f} ms from "
                       f"{fmt_t(f['longest_stall_start_s'])})")
    return out


# ------------------------------------------------------------ human output


def fmt_t(t):
    return "-" if t is None else f"{t:+.3f} s"


def fmt_ms(v):
    return "-" if v is None else f"{v:.0f}"


def fmt_pct(p):
    return "/".join(fmt_ms(p[k]) for k in ("p50", "p90", "p99", "max"))


def stats_row(name, s):
    return (f"  {name:<28} {s['flows']:>5} {s['resets']:>6} "
            f"{s['lost']:>6} {s['late']:>5} {s['out_of_order']:>5} {s['duplicates']:>5} "
            f"{s['moved']:>5} {fmt_pct(s['stall_ms']):>24} {s['not_resumed']:>7}")


def window_row(w):
    return (f"{w['flows_stalled']}/{w['flows']} flows stalled, p50/p90/p99/max "
            f"{fmt_pct(w['stall_ms'])} ms, resets {w['resets']}, lost {w['lost']}, "
            f"moved {w['moved']}, not resumed {w['not_resumed']}")


def render(rep, max_listed=20):
    """The human summary of one report."""
    c, t, tot = rep["config"], rep["times"], rep["totals"]
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t["start_wall"]))
    out = [f"failover drill {when}: {tot['flows']} flows, interval {c['interval_ms']:g} ms, "
           f"measured {t['measured_s']:.2f} s"]
    if rep["setup_error"]:
        out.append(f"SETUP FAILED: {rep['setup_error']}")
    out.append(f"  {'target':<28} {'flows':>5} {'resets':>6} {'lost':>6} {'late':>5} "
               f"{'ooo':>5} {'dup':>5} {'moved':>5} {'stall ms p50/p90/p99/max':>24} "
               f"{'not res':>7}")
    for label, s in tot["by_target"].items():
        out.append(stats_row(label, s))
    for proto, s in tot["by_protocol"].items():
        if len({f["target"] for f in rep["flows"] if f["proto"] == proto}) > 1:
            out.append(stats_row(f"all {proto}", s))
    out.append(stats_row("all", tot))
    out.append(f"  (connect errors {tot['connect_errors']}, "
               f"sent {tot['sent']}, echoed {tot['received']}, bad echoes {tot['bad']}, "
               f"socket errors {tot['errors']})")
    lag = rep["loop_lag"]
    if lag:
        out.append(f"loop lag: max {lag['max_ms']:.1f} ms at {fmt_t(lag['max_at_s'])}, "
                   f"{lag['late_sends']} sends late by over half an interval, "
                   f"{lag['skipped_sends']} skipped")
    if rep["marks"]:
        out.append(f"marks (stalls >= {c['stall_threshold_ms']:g} ms beginning "
                   f"{c['mark_lead_s']:g} s before to {c['mark_window_s']:g} s after each):")
        for m in rep["marks"]:
            lag = f", loop lag {m['loop_lag_ms']:.0f} ms" if m["loop_lag_ms"] else ""
            out.append(f"  {fmt_t(m['t_s']):>11} {m['label']:<14} {window_row(m)}{lag}")
            if len(m["by_target"]) > 1:
                for target, w in m["by_target"].items():
                    out.append(f"  {'':>11}   {target:<26} {window_row(w)}")
    stuck = [f for f in rep["flows"] if not f["connect_error"] and not f["resumed"]]
    if stuck:
        out.append(f"flows that did not resume ({len(stuck)}):")
        for f in stuck[:max_listed]:
            why = f"reset at {fmt_t(f['reset']['t_s'])} ({f['reset']['reason']})" \
                if f["reset"] else "no echo at the end"
            out.append(f"  {f['name']:<10} {f['target']:<28} {why}, last echo "
                       f"{fmt_t(f['last_echo_s'])}, backend {f['backend']}")
        if len(stuck) > max_listed:
            out.append(f"  ... and {len(stuck) - max_listed} more")
    failed = [f for f in rep["flows"] if f["connect_error"]]
    for f in failed[:max_listed]:
        out.append(f"  {f['name']:<10} {f['target']:<28} connect error {f['connect_error']}")
    for v in rep.get("violations", []):
        out.append(f"VIOLATION: {v}")
    return "\n".join(out)


def pooled_marks(pairs, target=None):
    """Stalls of several marks (e.g. the same failover in 20 drills): each
    mark's worst, and every flow's pooled; optionally of one target only."""
    worst, pooled, counts = [], [], dict.fromkeys(("resets", "lost", "moved", "not_resumed"), 0)
    for rep, m in pairs:
        w = m["by_target"].get(target) if target else m
        if w is None:
            continue
        if w["stall_ms"]["max"] is not None:
            worst.append(w["stall_ms"]["max"])
        of = {f["name"]: f["target"] for f in rep["flows"]}
        pooled += [v for name, v in m["stalls_ms"].items() if not target or of[name] == target]
        for k in counts:
            counts[k] += w[k]
    return (f"worst stall per mark p50/p90/p99/max {fmt_pct(percentiles(worst))} ms; "
            f"all flows' stalls {fmt_pct(percentiles(pooled))} ms ({len(pooled)} flow-stalls); "
            + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()))


def render_many(reports, names):
    """One line per report and the distribution over all of them: per mark
    label, each failover's worst stall and all flows' stalls pooled."""
    out = [f"{len(reports)} drills"]
    for name, rep in zip(names, reports):
        tot = rep["totals"]
        marks = ", ".join(f"{m['label']} {fmt_ms(m['stall_ms']['max'])}" for m in rep["marks"])
        out.append(f"  {name}: {tot['flows']} flows, resets {tot['resets']}, "
                   f"lost {tot['lost']}, moved {tot['moved']}, not resumed {tot['not_resumed']}, "
                   f"stall max {fmt_ms(tot['stall_ms']['max'])} ms"
                   + (f"; marks (max ms): {marks}" if marks else ""))
    labels = list(dict.fromkeys(m["label"] for r in reports for m in r["marks"]))
    targets = list(dict.fromkeys(f["target"] for r in reports for f in r["flows"]))
    for label in labels:
        pairs = [(r, m) for r in reports for m in r["marks"] if m["label"] == label]
        out.append(f"{label}: {len(pairs)} marks; {pooled_marks(pairs)}")
        for target in targets if len(targets) > 1 else ():
            out.append(f"  {target:<28} {pooled_marks(pairs, target)}")
    longest = [r["totals"]["stall_ms"]["max"] for r in reports
               if r["totals"]["stall_ms"]["max"] is not None]
    pooled = [f["longest_stall_ms"] for r in reports for f in r["flows"]
              if f["longest_stall_ms"] is not None]
    out.append(f"whole runs: worst stall per drill p50/p90/p99/max {fmt_pct(percentiles(longest))}"
               f" ms; every flow's longest stall {fmt_pct(percentiles(pooled))} ms; "
               f"resets {sum(r['totals']['resets'] for r in reports)}, "
               f"lost {sum(r['totals']['lost'] for r in reports)}, "
               f"not resumed {sum(r['totals']['not_resumed'] for r in reports)}")
    return "\n".join(out)


# -------------------------------------------------------------------- main


def cmd_run(opts):
    targets = []
    for spec in opts.target:
        try:
            targets.append(Target(spec))
        except ValueError as e:
            fail_usage(str(e))
    for proto in PROTOCOLS:
        count, has = getattr(opts, proto), any(t.proto == proto for t in targets)
        if count < 0:
            fail_usage(f"--{proto} must not be negative")
        if count and not has:
            fail_usage(f"--{proto} {count} but no .../{proto} target")
        if has and not count:
            fail_usage(f"a {proto} target but --{proto} is 0")
    if not targets:
        fail_usage("no --target")
    if opts.interval_ms <= 0 or opts.duration <= 0:
        fail_usage("--interval-ms and --duration must be positive")
    drill = Drill(opts, targets)
    signal.signal(signal.SIGINT, drill.stop)
    signal.signal(signal.SIGTERM, drill.stop)
    drill.run()
    rep = drill.report()
    if not drill.setup_error:
        rep["violations"] = violations(rep, opts)
    if opts.json:
        write_file(opts.json, json.dumps(rep, indent=1) + "\n")
    if not opts.quiet:
        print(render(rep))
    if drill.setup_error:
        print(f"failover_drill: {drill.setup_error}", file=sys.stderr)
        return 2
    for v in rep["violations"]:
        print(f"failover_drill: {v}", file=sys.stderr)
    return 1 if rep["violations"] else 0


def cmd_summarize(opts):
    reports = []
    for path in opts.report:
        try:
            with open(path) as f:
                reports.append(json.load(f))
        except (OSError, ValueError) as e:
            fail_usage(f"{path}: {e}")
    if len(reports) == 1 or opts.verbose:
        for path, rep in zip(opts.report, reports):
            if len(reports) > 1:
                print(f"== {path}")
            print(render(rep))
    if len(reports) > 1:
        print(render_many(reports, opts.report))
    return 0


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="failover_drill.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a drill against a load balancer's virtual services",
                       description="Run a drill; see failover_drill.py --help for the "
                                   "measures, the marks and the report.")
    r.add_argument("--target", action="append", default=[], metavar="ADDR:PORT/PROTO",
                   help="virtual service, PROTO tcp|udp|sctp; repeat for more "
                        "(flows of a protocol are spread round-robin over its targets)")
    r.add_argument("--tcp", type=int, default=0, metavar="N", help="TCP streams")
    r.add_argument("--udp", type=int, default=0, metavar="N", help="UDP flows")
    r.add_argument("--sctp", type=int, default=0, metavar="N", help="SCTP associations")
    r.add_argument("--interval-ms", type=float, default=20, help="send interval per flow (20)")
    r.add_argument("--duration", type=float, default=10, metavar="S",
                   help="measured phase, seconds (10)")
    r.add_argument("--loss-timeout-ms", type=float, default=2000,
                   help="UDP echo later than this counts lost; also the drain time (2000)")
    r.add_argument("--stall-threshold-ms", type=float, default=None,
                   help="gaps from this long are recorded as stalls for the mark windows "
                        "(default max(3 intervals, 50 ms))")
    r.add_argument("--connect-timeout", type=float, default=5, metavar="S",
                   help="for connecting and for each flow's first echo (5)")
    r.add_argument("--source-address", metavar="A", help="bind the flows to this address")
    r.add_argument("--mark-file", metavar="F", help="poll F for marks (lines appended)")
    r.add_argument("--mark-window", type=float, default=2, metavar="S",
                   help="stalls beginning up to S seconds after a mark belong to it (2)")
    r.add_argument("--ready-file", metavar="F",
                   help="written once every flow is up and has had its first echo")
    r.add_argument("--json", metavar="OUT", help="write the report as JSON")
    r.add_argument("--fail-on-reset", action="store_true", help="exit 1 if any flow was reset")
    r.add_argument("--max-stall-ms", type=float, metavar="X",
                   help="exit 1 if any flow stalled longer than X ms")
    r.add_argument("-q", "--quiet", action="store_true", help="no human summary")
    s = sub.add_parser("summarize", help="print saved reports; several: aggregate them")
    s.add_argument("report", nargs="+", help="JSON report from run --json")
    s.add_argument("-v", "--verbose", action="store_true",
                   help="with several reports, also print each one's summary")
    opts = ap.parse_args(argv)
    if opts.cmd == "run" and opts.stall_threshold_ms is None:
        opts.stall_threshold_ms = max(3 * opts.interval_ms, 50)
    return opts


def main(argv=None):
    opts = parse_args(argv)
    return cmd_run(opts) if opts.cmd == "run" else cmd_summarize(opts)


if __name__ == "__main__":
    sys.exit(main())
