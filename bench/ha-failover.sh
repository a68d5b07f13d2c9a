#!/bin/bash
# Failover benchmark: kvlbd's HA pair and keepalived's VRRP pair side by side,
# in the same lab run (same kernel, topology, endpoints, flows and kill).
#
#   sudo LAB_TIMEOUT=5400 tests/lab/run bench/ha-failover.sh
#   sudo LAB_TIMEOUT=5400 LAB_PASS_ENV="REPLICATION" REPLICATION=1 tests/lab/run bench/ha-failover.sh
#   sudo LAB_TIMEOUT=900 LAB_PASS_ENV="DRILLS" DRILLS=2 tests/lab/run bench/ha-failover.sh
# Under software emulation (TCG) a drill takes about 25 s: 20 drills per
# implementation and the replication steps take about 25 minutes.
#
# Topology: tests/lab/ha.sh (client, lb1, lb2 and the endpoints one-armed on
# one segment, a sync link sync0 between lb1 and lb2; VIP 20.20.20.1 and the
# endpoints' gateway 10.0.2.1 float to the MASTER).
#  1. kvlbd round: kvlbd in lb1 (priority 150) and lb2 (100), no preemption.
#  2. keepalived round, after kvlbd is stopped and the nodes are cleaned
#     (IPVS, sync daemons, conntrack, nft, addresses): keepalived in lb1/lb2
#     with the equivalent VRRP pair (bench/keepalived/keepalived.conf.in:
#     VRRPv3 unicast on eth1, the same advert interval, priorities 150/100,
#     nopreempt, one GARP, lvs_sync_daemon on sync0), the same IPVS virtual
#     services (NAT, rr), fullnat's SNAT as an nft table (snat.nft), and
#     conntrackd (FTFW on sync0, kvlbd's settings) driven by notify.sh the way
#     conntrackd's primary-backup.sh drives it.
# Each round: DRILLS drills. A drill runs bench/failover_drill.py in the
# client (TCP, UDP and SCTP flows to the default-mode and fullnat services,
# sequence-numbered echoes every INTERVAL_MS), kills the current MASTER hard
# KILL_AFTER seconds into the measured phase (ha_kill_hard: links down, every
# process of the node SIGKILLed), lets the drill end (nothing polls the nodes
# meanwhile), checks that the other node is MASTER, revives the killed node
# (emptied, as after a reboot), waits for it to be BACKUP and RESYNC_SECONDS
# more. KILL_AFTER is over 2 s: the IPVS sync daemon sends a partly filled
# buffer only after 2 s, so younger flows may be unknown to the BACKUP with
# either implementation (the replication part shows it). Per drill: the
# stalls in the kill's window (a flow's stall: last echo via the old MASTER
# -> first echo via the new one; flows reset or not resumed are counted
# apart), resets, moves, losses; when the VIP appeared on the new MASTER and
# when the client's ARP entry moved to it (ip monitor); when the flows' state
# was in place (kvlbd: its "MASTER in" log line; keepalived: the notify
# script's conntrackd commit); takeovers no kill explains.
# Optional (REPLICATION=1), per round after the drills: new TCP connections
# through the MASTER at increasing rates (RATES per second for RATE_SECONDS
# each; every one gets an echo and stays open), alternating between the
# default-mode and the fullnat service; SETTLE_MS after the last one opened,
# the MASTER's established connections are compared with what the BACKUP
# holds (IPVS connections; conntrackd's external cache for fullnat), by age:
# a step is complete when none older than REPL_ALLOW_MS is missing, the lab
# kept up (9 in 10 connections echoed) and the roles did not change.
#
# Settings (environment, through LAB_PASS_ENV, or LAB_ENV_<NAME>): DRILLS (20),
# FLOWS_TCP (12), FLOWS_UDP (4), FLOWS_SCTP (4), INTERVAL_MS (50),
# DRILL_SECONDS (10, measured phase), KILL_AFTER (3), MARK_WINDOW (3),
# RESYNC_SECONDS (5), TAKEOVER_TIMEOUT (10), IMPLS ("kvlbd keepalived"),
# KA_SYNC_REFRESH_PERIOD (0) and KA_SYNC_THRESHOLD ("3 50"): the IPVS sync
# sysctls of keepalived's round (the kernel's defaults; kvlbd sets its own),
# REPLICATION (0), RATES ("50 100 200 400"), RATE_SECONDS (5), SETTLE_MS (0),
# REPL_ALLOW_MS (2500).
# Results: $LAB_OUT/ha-failover.json and ha-failover.txt (the table); drill
# reports, monitors and samples in $LAB_OUT/ha-failover/; logs:
# kvlbd-lb1.log, kvlbd-lb2.log, keepalived-lbN/ (keepalived.log,
# notify.log, conntrackd.log, rendered configs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/lab/lib.sh"
. "$here/../tests/lab/kvlb.sh"
. "$here/../tests/lab/ha.sh"

# lab_fail exits the scenario; with SOFT_FAIL set (a round in progress) it
# returns 1, so a round that fails ends early and the other still runs.
lab_fail() {
	printf 'FAIL: %s\n' "$*" >&2
	[ -z "${SOFT_FAIL:-}" ] || return 1
	exit 1
}

setting() { # NAME DEFAULT: $NAME, else $LAB_ENV_NAME, else DEFAULT
	local env=LAB_ENV_$1
	echo "${!1:-${!env:-$2}}"
}
DRILLS=$(setting DRILLS 20)
FLOWS_TCP=$(setting FLOWS_TCP 12)
FLOWS_UDP=$(setting FLOWS_UDP 4)
FLOWS_SCTP=$(setting FLOWS_SCTP 4)
INTERVAL_MS=$(setting INTERVAL_MS 50)
DRILL_SECONDS=$(setting DRILL_SECONDS 10)
KILL_AFTER=$(setting KILL_AFTER 3)
MARK_WINDOW=$(setting MARK_WINDOW 3)
RESYNC_SECONDS=$(setting RESYNC_SECONDS 5)
TAKEOVER_TIMEOUT=$(setting TAKEOVER_TIMEOUT 10)
IMPLS=$(setting IMPLS "kvlbd keepalived")
REPLICATION=$(setting REPLICATION 0)
RATES=$(setting RATES "50 100 200 400")
RATE_SECONDS=$(setting RATE_SECONDS 5)
SETTLE_MS=$(setting SETTLE_MS 0)
REPL_ALLOW_MS=$(setting REPL_ALLOW_MS 2500)
KA_SYNC_REFRESH_PERIOD=$(setting KA_SYNC_REFRESH_PERIOD 0)
KA_SYNC_THRESHOLD=$(setting KA_SYNC_THRESHOLD "3 50")
HA_INTERVAL_MS=${HA_INTERVAL_MS:-100}

KA=$here/keepalived
OUT=$LAB_OUT/ha-failover
mkdir -p "$OUT"
: >"$OUT/drills.jsonl"
: >"$OUT/replication.jsonl"
: >"$OUT/rounds.jsonl"
: >"$OUT/setup-failures.jsonl"

# The virtual services of tests/lab/ha.sh: 1001 tcp default, 1003 tcp
# fullnat, 1004/1006 udp, 1007/1009 sctp.
targets=()
for port in 1001 1003; do targets+=(--target "$HA_VIP:$port/tcp"); done
for port in 1004 1006; do targets+=(--target "$HA_VIP:$port/udp"); done
for port in 1007 1009; do targets+=(--target "$HA_VIP:$port/sctp"); done
drill_args=(--tcp "$FLOWS_TCP" --udp "$FLOWS_UDP" --sctp "$FLOWS_SCTP" --interval-ms "$INTERVAL_MS"
	--duration "$DRILL_SECONDS" --mark-window "$MARK_WINDOW")

other() { [ "$1" = lb1 ] && echo lb2 || echo lb1; }

# Kill every process left in the load balancers' namespaces at the end
# (conntrackd daemonized by a notify script, keepalived's children).
ns_kill_all() {
	local ns
	for ns in lb1 lb2; do
		[ -e "/run/netns/$ns" ] || continue
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	done
}
LAB_CLEANUP_HOOKS+=(ns_kill_all)

# Address changes on a node's eth1 and neighbour changes in the client, with
# microsecond timestamps: when the VIP appeared, when the client's ARP entry
# for it moved. A node's monitor dies with the node and is restarted with it.
addr_monitor() { # NS
	ip netns exec "$1" ip -ts monitor address >>"$OUT/addr-$1.log" 2>&1 &
	LAB_PIDS+=($!)
	disown $!  # no job notice when it dies with its node
}

# --------------------------------------------------------------- keepalived
ka_dir() { echo "$LAB_OUT/keepalived-$1"; }
ka_run() { echo "/run/keepalived-$1"; }  # local: conntrackd's UNIX socket cannot live on the 9p share

ka_render() { # NS PRIORITY
	local ns=$1 n=${1#lb} peer=$((3 - ${1#lb})) dir run advert
	dir=$(ka_dir "$ns") run=$(ka_run "$ns")
	advert=$(awk -v ms="$HA_INTERVAL_MS" 'BEGIN { printf "%g", ms / 1000 }')
	mkdir -p "$dir" "$run"
	local subst=(-e "s|@NAME@|$ns|g" -e "s|@PRIORITY@|$2|g" -e "s|@NODE_ADDR@|10.0.9.$n|g"
		-e "s|@PEER_ADDR@|10.0.9.$peer|g" -e "s|@SYNC_IF@|sync0|g" -e "s|@LOCAL_SYNC@|10.99.0.$n|g"
		-e "s|@PEER_SYNC@|10.99.0.$peer|g" -e "s|@VIP@|$HA_VIP|g" -e "s|@GATEWAY@|10.0.2.1|g"
		-e "s|@ADVERT_INT@|$advert|g" -e "s|@NOTIFY@|$KA/notify.sh|g" -e "s|@RUN_DIR@|$run|g"
		-e "s|@NOTIFY_LOG@|$dir/notify.log|g" -e "s|@LOG_FILE@|$dir/conntrackd.log|g")
	sed "${subst[@]}" "$KA/keepalived.conf.in" >"$dir/keepalived.conf"
	sed "${subst[@]}" "$KA/conntrackd.conf.in" >"$dir/conntrackd.conf"
	cp "$dir/conntrackd.conf" "$run/conntrackd.conf"
	! grep -n '@[A-Z_]*@' "$dir/keepalived.conf" "$dir/conntrackd.conf" || lab_fail "placeholders left in $dir"
}

# ka_role NS: MASTER while keepalived holds the VIP. Not the state notify.sh
# wrote: keepalived starts notify scripts without waiting, so when a node
# enters BACKUP and MASTER within moments (at startup) the two scripts race
# and the BACKUP one may finish last.
ka_role() {
	local ns=$1 state
	kill -0 "${HA_PID[$ns]:-0}" 2>/dev/null && state=$(cat "$(ka_run "$ns")/state" 2>/dev/null) || return 0
	if ha_holds_vip "$ns"; then
		echo MASTER
	elif [ "$state" = FAULT ]; then
		echo FAULT
	elif [ -n "$state" ]; then
		echo BACKUP
	fi
}

# ka_start NS: conntrackd (as its service would run), then keepalived, each
# in the foreground of a background job; keepalived's pid in HA_PID for
# ha_kill_hard. Returns once keepalived has entered its first state.
declare -A KA_CTD_PID=()
ka_start() {
	local ns=$1 dir run
	dir=$(ka_dir "$ns") run=$(ka_run "$ns")
	rm -f "$run/state" "$run/conntrackd.lock" "$run/conntrackd.ctl" "$run"/*.pid
	ip netns exec "$ns" conntrackd -C "$run/conntrackd.conf" >>"$dir/conntrackd.out" 2>&1 &
	KA_CTD_PID[$ns]=$!
	LAB_PIDS+=($!)
	disown $!  # no job notice when it is killed with its node
	lab_wait_for "ip netns exec $ns conntrackd -C $run/conntrackd.conf -s" 20 ||
		{ tail -20 "$dir/conntrackd.out" "$dir/conntrackd.log" >&2; lab_fail "conntrackd did not start in $ns"; return 1; }
	# --no-syslog: without a syslog daemon its messages would go to the console.
	ip netns exec "$ns" keepalived --dont-fork --log-console --log-detail --no-syslog -f "$dir/keepalived.conf" \
		-p "$run/keepalived.pid" -r "$run/vrrp.pid" -c "$run/checkers.pid" >>"$dir/keepalived.log" 2>&1 &
	HA_PID[$ns]=$!
	LAB_PIDS+=($!)
	disown $!
	lab_wait_for "[ -s $run/state ] || ! kill -0 ${HA_PID[$ns]}" 30
	[ -s "$run/state" ] || { tail -30 "$dir/keepalived.log" >&2; lab_fail "keepalived did not start in $ns"; return 1; }
	addr_monitor "$ns"
}

ka_revive() { # NS
	local ns=$1
	ha_clean "$ns"
	ip -n "$ns" link set eth1 up
	ip -n "$ns" link set sync0 up
	ka_start "$ns"
}

# ----------------------------------------------------- per implementation
role_of() { # IMPL NS
	case $1 in
	kvlbd) ha_role "$2" ;;
	keepalived) ka_role "$2" ;;
	esac
}
wait_role() { # IMPL NS ROLE TIMEOUT
	lab_wait_for "[ \"\$(role_of $1 $2)\" = $3 ]" "$4"
}
revive() { # IMPL NS
	case $1 in
	kvlbd) SOFT_FAIL=1 ha_revive "$2" && disown "${HA_PID[$2]}" && addr_monitor "$2" ;;
	keepalived) SOFT_FAIL=1 ka_revive "$2" ;;
	esac
}

ROUND_ERROR=
round_fail() {
	ROUND_ERROR=$*
	lab_log "round failed: $*"
	return 1
}

start_kvlbd_pair() {
	ha_config lb1 150
	ha_config lb2 100
	"$KVLBD" --config "$LAB_OUT/lb1/kvlb.yaml" --check >/dev/null || { round_fail "kvlbd --check rejects the config"; return 1; }
	addr_monitor lb1
	addr_monitor lb2
	SOFT_FAIL=1 ha_start lb1 || { round_fail "kvlbd did not start in lb1"; return 1; }
	disown "${HA_PID[lb1]}"  # no job notice when it is killed
	wait_role kvlbd lb1 MASTER 20 || { round_fail "lb1 did not become MASTER"; return 1; }
	SOFT_FAIL=1 ha_start lb2 || { round_fail "kvlbd did not start in lb2"; return 1; }
	disown "${HA_PID[lb2]}"
	wait_role kvlbd lb2 BACKUP 20 || { round_fail "lb2 did not become BACKUP"; return 1; }
	SOFT_FAIL=1 kvlb_wait_synced lb1 30 && SOFT_FAIL=1 kvlb_wait_synced lb2 30 || { round_fail "kvlbd not synced"; return 1; }
	kvlb_ctl lb1 get ha || true
}

stop_kvlbd_pair() {
	local ns p
	for ns in lb1 lb2; do
		p=${HA_PID[$ns]:-}
		[ -n "$p" ] && kill "$p" 2>/dev/null || true
	done
	for ns in lb1 lb2; do
		p=${HA_PID[$ns]:-}
		[ -n "$p" ] || continue
		for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	ns_kill_all
	sleep 0.5
	for ns in lb1 lb2; do
		ha_clean "$ns"
		ip -n "$ns" link set eth1 up
		ip -n "$ns" link set sync0 up
	done
}

start_keepalived_pair() {
	local ns n
	for ns in lb1 lb2; do
		# What kvlbd ensures for its data plane (kernel/sysctl), for keepalived's IPVS too.
		# The IPVS sync settings as keepalived finds them on a stock kernel, not
		# as kvlbd left them (KA_SYNC_REFRESH_PERIOD / KA_SYNC_THRESHOLD to change).
		nsenter --net="/run/netns/$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.vs.conntrack=1 \
			net.ipv4.vs.expire_nodest_conn=1 net.ipv4.vs.expire_quiescent_template=1 net.netfilter.nf_conntrack_acct=1 \
			net.ipv4.vs.sync_refresh_period="$KA_SYNC_REFRESH_PERIOD" net.ipv4.vs.sync_threshold="$KA_SYNC_THRESHOLD" \
			net.ipv4.vs.sync_version=1
		ip netns exec "$ns" nft -f "$KA/snat.nft" || { round_fail "snat.nft did not load in $ns"; return 1; }
	done
	ka_render lb1 150
	ka_render lb2 100
	for ns in lb1 lb2; do
		ip netns exec "$ns" keepalived --config-test -f "$(ka_dir "$ns")/keepalived.conf" ||
			{ round_fail "keepalived --config-test fails in $ns"; return 1; }
	done
	ka_start lb1 || { round_fail "keepalived did not start in lb1"; return 1; }
	wait_role keepalived lb1 MASTER 20 || { round_fail "lb1 did not become MASTER"; return 1; }
	ka_start lb2 || { round_fail "keepalived did not start in lb2"; return 1; }
	wait_role keepalived lb2 BACKUP 20 || { round_fail "lb2 did not become BACKUP"; return 1; }
	# keepalived's checker programs IPVS: wait for the 6 services with 3 endpoints each.
	for ns in lb1 lb2; do
		lab_wait_for "[ \$(ip netns exec $ns ipvsadm -Ln | grep -c '^  -> 10.0.2.2') = 18 ]" 20 ||
			{ ip netns exec "$ns" ipvsadm -Ln >&2; round_fail "IPVS not programmed by keepalived in $ns"; return 1; }
	done
	lab_wait_for "ip netns exec lb1 ipvsadm -L --daemon | grep -q 'master sync daemon'" 10 ||
		{ round_fail "no IPVS master sync daemon on lb1"; return 1; }
	lab_wait_for "ip netns exec lb2 ipvsadm -L --daemon | grep -q 'backup sync daemon'" 10 ||
		{ round_fail "no IPVS backup sync daemon on lb2"; return 1; }
	ha_holds_vip lb1 || { round_fail "MASTER lb1 lacks the VIP"; return 1; }
	! ha_holds_vip lb2 || { round_fail "BACKUP lb2 holds the VIP"; return 1; }
	ip netns exec lb1 ipvsadm -L --daemon
	sleep 2
}

current_master() { # IMPL
	local ns
	for ns in lb1 lb2; do
		[ "$(role_of "$1" "$ns")" != MASTER ] || { echo "$ns"; return 0; }
	done
	return 1
}

# drill_one IMPL I: one drill with a hard kill of the MASTER.
drill_one() {
	local impl=$1 i=$2 name master backup pid t_kill took=true
	name=$impl-$(printf '%02d' "$i")
	master=$(current_master "$impl") || { round_fail "drill $i: no MASTER"; return 1; }
	backup=$(other "$master")
	local attempt
	for attempt in 1 2; do
		rm -f "$OUT/$name.ready"
		: >"$OUT/$name.marks"
		ha_drill "${targets[@]}" "${drill_args[@]}" --ready-file "$OUT/$name.ready" --mark-file "$OUT/$name.marks" \
			--json "$OUT/$name.json" >"$OUT/$name.txt" 2>&1 &
		pid=$!
		LAB_PIDS+=($pid)
		lab_wait_for "[ -e '$OUT/$name.ready' ] || ! kill -0 $pid" 120 || true
		[ ! -e "$OUT/$name.ready" ] || break
		# Not a failover result: the drill's flows could not all be set up
		# through the MASTER. Kept (NAME-setupN.*) and tried once more.
		wait "$pid" || true
		sed 's/^/      /' "$OUT/$name.txt" | head -20
		for f in json txt; do mv -f "$OUT/$name.$f" "$OUT/$name-setup$attempt.$f" 2>/dev/null || true; done
		echo "{\"impl\": \"$impl\", \"drill\": $i, \"master\": \"$master\", \"t\": $EPOCHREALTIME}" >>"$OUT/setup-failures.jsonl"
		((attempt == 1)) || { round_fail "drill $name: the flows did not all come up through $master, twice"; return 1; }
		lab_log "drill $name: the flows did not all come up through $master; once more"
		sleep 2
	done
	sleep "$KILL_AFTER"
	t_kill=$EPOCHREALTIME
	echo kill-master >>"$OUT/$name.marks"
	ha_kill_hard "$master"
	# Nothing polls the new MASTER while the drill runs (under emulation a
	# kvlbctl every 100 ms would take CPU from the takeover being measured):
	# when things happened comes from the logs and monitors afterwards.
	wait "$pid" || true
	wait_role "$impl" "$backup" MASTER "$TAKEOVER_TIMEOUT" || took=false
	printf '{"impl": "%s", "drill": %d, "name": "%s", "killed": "%s", "new_master": "%s", "t_kill": %s, "took_over": %s}\n' \
		"$impl" "$i" "$name" "$master" "$backup" "$t_kill" "$took" >>"$OUT/drills.jsonl"
	drill_line "$OUT/$name.json" "$name: killed $master"
	$took || { round_fail "drill $name: $backup was not MASTER by the drill's end"; return 1; }
	revive "$impl" "$master" || { round_fail "drill $name: $master did not start again"; return 1; }
	wait_role "$impl" "$master" BACKUP 30 || { round_fail "drill $name: revived $master is not BACKUP"; return 1; }
	sleep "$RESYNC_SECONDS"
}

# A line per drill: the kill window's stalls and the drill's resets.
drill_line() { # JSON LABEL
	"$LAB_PYTHON" - "$1" "$2" <<-'PY' || true
		import json, sys
		r = json.load(open(sys.argv[1]))
		t = r["totals"]
		m = next((m for m in r["marks"] if m["label"] == "kill-master"), None)
		w = "no mark" if m is None else (
		    f"{m['flows_stalled']}/{m['flows']} flows stalled, p50/p99/max "
		    + "/".join("-" if m["stall_ms"][k] is None else f"{m['stall_ms'][k]:.0f}" for k in ("p50", "p99", "max"))
		    + f" ms, window resets {m['resets']} moved {m['moved']} lost {m['lost']}")
		print(f"    {sys.argv[2]}: {w}; drill resets {t['resets']}, moved {t['moved']}, not resumed {t['not_resumed']}, "
		      f"loop lag max {r['loop_lag']['max_ms']:.0f} ms" + (f"; SETUP ERROR {r['setup_error']}" if r["setup_error"] else ""))
	PY
}

# ------------------------------------------------------------- replication
churn() { # ARGS...: the churn client in the client namespace
	lab_ns client "$LAB_PYTHON" - "$@" <<-'PY'
		"""New TCP connections at a fixed rate to the targets in turn: connect,
		one line, its echo, then held open. Writes --marker once the last one
		was opened, closes them all once --release exists (or after 120 s),
		writes --out (JSON: counts, and per connection [local port, target
		port, wall time of its echo]) at the end."""
		import argparse, json, os, resource, selectors, socket, time
		ap = argparse.ArgumentParser()
		ap.add_argument("--rate", type=float, required=True)
		ap.add_argument("--seconds", type=float, required=True)
		ap.add_argument("--target", action="append", required=True)
		ap.add_argument("--marker", required=True)
		ap.add_argument("--release", required=True)
		ap.add_argument("--out", required=True)
		a = ap.parse_args()
		soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
		resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
		targets = [(t.rsplit(":", 1)[0], int(t.rsplit(":", 1)[1])) for t in a.target]
		sel = selectors.DefaultSelector()
		conns = {}
		st = {"planned": int(a.rate * a.seconds), "opened": 0, "echoed": 0, "failed": 0, "errors": {}}
		established = []
		def drop(s):
		    c = conns.pop(s)
		    if c["registered"]:
		        sel.unregister(s)
		    s.close()
		def fail(s, why):
		    st["failed"] += 1
		    st["errors"][why] = st["errors"].get(why, 0) + 1
		    drop(s)
		t0 = time.monotonic()
		k = 0
		last_open = None
		while True:
		    now = time.monotonic()
		    while k < st["planned"] and t0 + k / a.rate <= now:
		        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		        s.setblocking(False)
		        target = targets[k % len(targets)]
		        s.connect_ex(target)
		        conns[s] = {"t": now, "port": target[1], "stage": "connecting", "buf": b"", "registered": True}
		        sel.register(s, selectors.EVENT_WRITE)
		        st["opened"] += 1
		        k += 1
		    if k == st["planned"] and last_open is None:
		        last_open = now
		        with open(a.marker + ".tmp", "w") as f:
		            f.write(str(time.time()))
		        os.replace(a.marker + ".tmp", a.marker)
		    for s, c in list(conns.items()):
		        if c["stage"] != "held" and now >= c["t"] + 5:
		            fail(s, "timeout " + c["stage"])
		    if last_open is not None and (os.path.exists(a.release) or now > last_open + 120):
		        st["held"] = len(conns)
		        for s in list(conns):
		            drop(s)
		        break
		    wake = 0.02 if k == st["planned"] else max(0.0, min(0.02, t0 + k / a.rate - now))
		    for key, mask in sel.select(wake):
		        s = key.fileobj
		        c = conns.get(s)
		        if c is None:
		            continue
		        if c["stage"] == "connecting":
		            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
		            if err:
		                fail(s, os.strerror(err))
		                continue
		            s.send(b"churn\n")
		            c["stage"] = "echo"
		            sel.modify(s, selectors.EVENT_READ)
		        elif c["stage"] == "echo":
		            try:
		                data = s.recv(4096)
		            except OSError as e:
		                fail(s, os.strerror(e.errno))
		                continue
		            if not data:
		                fail(s, "eof")
		                continue
		            c["buf"] += data
		            if b"\n" in c["buf"]:
		                st["echoed"] += 1
		                established.append([s.getsockname()[1], c["port"], round(time.time(), 4)])
		                c["stage"] = "held"
		                c["registered"] = False
		                sel.unregister(s)
		st["achieved_rate"] = round(st["opened"] / max(last_open - t0, 1e-9), 1)
		st["conns"] = established
		with open(a.out, "w") as f:
		    json.dump(st, f)
	PY
}

# replication IMPL: the BACKUP's copy of the MASTER's established connections
# at increasing rates of new connections. The IPVS sync daemon sends a
# partly filled buffer only after 2 s (the kernel's IPVS_SYNC_FLUSH_TIME),
# so the youngest connections are expected to be missing: complete means
# none older than REPL_ALLOW_MS is missing.
replication() {
	local impl=$1 master backup ctconf rate base pid t_start t_snap now_master
	master=$(current_master "$impl") || { lab_log "replication: no MASTER"; return 0; }
	backup=$(other "$master")
	case $impl in
	kvlbd) ctconf=/run/kvlb-$backup/conntrackd.conf ;;
	keepalived) ctconf=$(ka_run "$backup")/conntrackd.conf ;;
	esac
	lab_step "$impl: replication, $RATES new TCP connections/s through $master for ${RATE_SECONDS} s each"
	for rate in $RATES; do
		base=$OUT/repl-$impl-$rate
		rm -f "$base.marker" "$base.release"
		t_start=$EPOCHREALTIME
		churn --rate "$rate" --seconds "$RATE_SECONDS" --target "$HA_VIP:1001" --target "$HA_VIP:1003" \
			--marker "$base.marker" --release "$base.release" --out "$base.json" >"$base.txt" 2>&1 &
		pid=$!
		LAB_PIDS+=($pid)
		lab_wait_for "[ -e '$base.marker' ] || ! kill -0 $pid" $((RATE_SECONDS * 4 + 60)) || true
		[ -e "$base.marker" ] || { cat "$base.txt" >&2; lab_log "replication: the churn at $rate/s did not run"; break; }
		((SETTLE_MS == 0)) || sleep "$(awk -v ms="$SETTLE_MS" 'BEGIN { printf "%.3f", ms / 1000 }')"
		t_snap=$EPOCHREALTIME
		ip netns exec "$master" ipvsadm -Lnc >"$base.master-ipvs" 2>&1 || true
		ip netns exec "$master" conntrack -L -p tcp >"$base.master-ct" 2>/dev/null || true
		ip netns exec "$backup" ipvsadm -Lnc >"$base.backup-ipvs" 2>&1 || true
		ip netns exec "$backup" conntrackd -C "$ctconf" -e >"$base.backup-ct" 2>&1 || true
		: >"$base.release"
		wait "$pid" || true
		now_master=$(current_master "$impl") || now_master=none
		"$LAB_PYTHON" - "$impl" "$rate" "$base" "$HA_VIP" "$t_snap" "$REPL_ALLOW_MS" "$t_start" "$master" "$now_master" \
			<<-'PY' >>"$OUT/replication.jsonl" || true
			import json, re, sys
			impl, rate, base, vip, t_snap, allow_ms = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]), float(sys.argv[6])
			t_start, master, now_master = float(sys.argv[7]), sys.argv[8], sys.argv[9]
			churn = json.load(open(base + ".json"))
			age = {(vport, port): (t_snap - t) * 1000 for port, vport, t in churn.pop("conns")}
			def ipvs(path, established_only):
			    out = set()
			    for line in open(path):
			        f = line.split()
			        if len(f) < 6 or f[0] != "TCP" or not f[3].startswith("10.0.9.10:") or established_only and f[2] != "ESTABLISHED":
			            continue
			        vip_port, client = f[4].rsplit(":", 1), f[3].rsplit(":", 1)
			        if vip_port[0] == vip:
			            out.add((int(vip_port[1]), int(client[1])))
			    return out
			def ct(path, established_only):
			    out = set()
			    for line in open(path):
			        if established_only and " ESTABLISHED " not in line:
			            continue
			        m = re.search(r"src=10\.0\.9\.10 dst=" + re.escape(vip) + r" sport=(\d+) dport=(1001|1003) ", line)
			        if m:
			            out.add((int(m.group(2)), int(m.group(1))))
			    return out
			def missing(master, backup, only_port=None):
			    # the churn's connections the MASTER has established, and which of those the BACKUP lacks, by age
			    have = [k for k in master if k in age and (only_port is None or k[0] == only_port)]
			    lost = [age[k] for k in have if k not in backup]
			    return {"established": len(have), "missing": len(lost),
			            "missing_older": sum(1 for a in lost if a >= allow_ms),
			            "oldest_missing_ms": round(max(lost), 1) if lost else None}
			r = {"impl": impl, "rate": rate, "allow_ms": allow_ms, "t_start": t_start, "t_snap": t_snap,
			     "master": master, "master_after": now_master, "churn": churn,
			     "ipvs": missing(ipvs(base + ".master-ipvs", True), ipvs(base + ".backup-ipvs", False)),
			     "conntrack_fullnat": missing(ct(base + ".master-ct", True), ct(base + ".backup-ct", False), 1003)}
			# The lab's echo servers (a thread per connection, under emulation) fall
			# behind at some rate: a step where over a tenth of the connections got
			# no echo measures the lab, not the replication.
			r["lab_limited"] = churn["echoed"] < 0.9 * churn["opened"]
			# The load can starve the MASTER's adverts (a takeover without a failure): then the step says nothing.
			r["roles_changed"] = now_master != master
			r["complete"] = (not r["lab_limited"] and not r["roles_changed"] and r["ipvs"]["established"] > 0
			                 and r["ipvs"]["missing_older"] == 0 and r["conntrack_fullnat"]["missing_older"] == 0)
			print(json.dumps(r))
		PY
		"$LAB_PYTHON" - "$OUT/replication.jsonl" <<-'PY' || true
			import json, sys
			r = json.loads(open(sys.argv[1]).readlines()[-1])
			i, c, ch = r["ipvs"], r["conntrack_fullnat"], r["churn"]
			print(f"    {r['rate']:g}/s planned, {ch['achieved_rate']:g}/s opened ({ch['echoed']} echoed, {ch['failed']} failed): BACKUP lacks "
			      f"{i['missing']}/{i['established']} IPVS connections ({i['missing_older']} older than {r['allow_ms']:g} ms, "
			      f"oldest {i['oldest_missing_ms']} ms), {c['missing']}/{c['established']} fullnat conntrack entries "
			      f"({c['missing_older']} older)" + (f"; ROLES CHANGED: {r['master_after']} is MASTER now" if r["roles_changed"] else ""))
		PY
		[ "$now_master" = "$master" ] || { lab_log "replication: $master lost mastership under the load; stopping"; break; }
		sleep 3
	done
}

# round IMPL: the pair, DRILLS drills, the replication steps.
round() {
	local impl=$1 i done=0
	ROUND_ERROR=
	ROUND_T0=$EPOCHREALTIME
	lab_step "$impl round: the pair (lb1 priority 150 MASTER, lb2 100 BACKUP)"
	case $impl in
	kvlbd) start_kvlbd_pair ;;
	keepalived) start_keepalived_pair ;;
	esac || { record_round "$impl" 0; return 0; }
	lab_step "$impl round: $DRILLS drills (hard kill of the MASTER ${KILL_AFTER} s into each)"
	for ((i = 1; i <= DRILLS; i++)); do
		drill_one "$impl" "$i" || break
		done=$i
	done
	if [ "$REPLICATION" = 1 ] && [ -z "$ROUND_ERROR" ]; then
		replication "$impl" || lab_log "replication steps of $impl failed"
	fi
	record_round "$impl" "$done"
}
record_round() { # IMPL COMPLETED
	local sysctls
	# The kernel settings the round ran with (lb1's; kvlbd sets some itself).
	sysctls=$(nsenter --net=/run/netns/lb1 sysctl net.ipv4.vs.sync_refresh_period net.ipv4.vs.sync_version \
		net.ipv4.vs.sync_threshold net.ipv4.vs.conntrack net.netfilter.nf_conntrack_tcp_loose 2>&1 | tr '\t' ' ')
	"$LAB_PYTHON" -c 'import json, sys
print(json.dumps({"impl": sys.argv[1], "completed": int(sys.argv[2]), "error": sys.argv[3] or None,
                  "sysctls": dict(l.split(" = ", 1) for l in sys.argv[4].splitlines() if " = " in l),
                  "t_start": float(sys.argv[5]), "t_end": float(sys.argv[6])}))' \
		"$1" "$2" "$ROUND_ERROR" "$sysctls" "$ROUND_T0" "$EPOCHREALTIME" >>"$OUT/rounds.jsonl"
}

# ------------------------------------------------------------------- main
mem_mib=$(awk '/MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)
accel=$(dmesg 2>/dev/null | grep -q 'Hypervisor detected: KVM' && echo kvm || echo tcg)
lab_step "HA failover benchmark: ${IMPLS}; $DRILLS drills each; flows tcp $FLOWS_TCP udp $FLOWS_UDP sctp $FLOWS_SCTP every $INTERVAL_MS ms; $(nproc) CPUs, $mem_mib MiB, $([ -n "${LAB_VM:-}" ] && echo "VM ($accel)" || echo host)"
"$LAB_PYTHON" - "$OUT/meta.json" "$(uname -r)" "$(nproc)" "$mem_mib" "${LAB_VM:-}" "$accel" \
	"$(keepalived --version 2>&1 | head -1)" "$(conntrackd -v 2>&1 | head -1)" "$HA_INTERVAL_MS" "$DRILLS" \
	"$FLOWS_TCP" "$FLOWS_UDP" "$FLOWS_SCTP" "$INTERVAL_MS" "$DRILL_SECONDS" "$KILL_AFTER" "$MARK_WINDOW" \
	"$RESYNC_SECONDS" "$(stat -c %y "$KVLBD" 2>/dev/null)" "${targets[@]}" <<-'PY'
	import json, sys
	a = sys.argv
	json.dump({"kernel": a[2], "cpus": int(a[3]), "mem_mib": int(a[4]), "vm": a[5] == "1", "accel": a[6],
	           "keepalived": a[7], "conntrackd": a[8], "advert_interval_ms": float(a[9]), "drills": int(a[10]),
	           "flows": {"tcp": int(a[11]), "udp": int(a[12]), "sctp": int(a[13])}, "interval_ms": float(a[14]),
	           "drill_seconds": float(a[15]), "kill_after_s": float(a[16]), "mark_window_s": float(a[17]),
	           "resync_seconds": float(a[18]), "kvlbd_binary_mtime": a[19], "targets": [t for t in a[20:] if t != "--target"]},
	          open(a[1], "w"), indent=1)
PY
ha_topology
lab_servers_start 8080
ip netns exec client ip -ts monitor neigh >>"$OUT/neigh-client.log" 2>&1 &
LAB_PIDS+=($!)
for ns in lb1 lb2; do
	ip netns exec "$ns" cat /sys/class/net/eth1/address | sed "s/^/$ns /" >>"$OUT/macs.txt"
done

for impl in $IMPLS; do
	case $impl in
	kvlbd)
		round kvlbd
		lab_step "kvlbd stopped on both nodes; nodes cleaned (IPVS, sync daemons, conntrack, nft, addresses)"
		stop_kvlbd_pair
		;;
	keepalived)
		round keepalived
		ns_kill_all
		;;
	*) lab_fail "IMPLS: unknown implementation $impl" ;;
	esac
done

lab_step "summary"
"$LAB_PYTHON" - "$OUT" "$LAB_OUT" "$here" <<-'PY'
	import datetime, json, os, re, sys
	out_dir, lab_out, bench = sys.argv[1], sys.argv[2], sys.argv[3]
	sys.path.insert(0, bench)
	from failover_drill import percentiles

	def jsonl(path):
	    try:
	        return [json.loads(line) for line in open(path) if line.strip()]
	    except OSError:
	        return []

	def lines(path):
	    try:
	        return open(path, errors="replace").read().splitlines()
	    except OSError:
	        return []

	def iso(ts):  # the local times of kvlbd's log and of ip -ts
	    return datetime.datetime.fromisoformat(ts).timestamp()

	def first_after(events, t, pred=lambda e: True):
	    return next((e for e in sorted(events) if e[0] >= t and pred(e)), None)

	def ms(a, b):
	    return None if a is None or b is None else round((a - b) * 1000, 1)

	meta = json.load(open(os.path.join(out_dir, "meta.json")))
	drills = jsonl(os.path.join(out_dir, "drills.jsonl"))
	rounds = {r["impl"]: r for r in jsonl(os.path.join(out_dir, "rounds.jsonl"))}
	repl = jsonl(os.path.join(out_dir, "replication.jsonl"))
	macs = dict(l.split() for l in lines(os.path.join(out_dir, "macs.txt")) if len(l.split()) == 2)

	# When the VIP appeared on each node; when the client's ARP entry for it changed.
	addr_re = re.compile(r"^\[([0-9T:.-]+)\] (Deleted )?\d+: eth1\s+inet ([0-9.]+)/")
	vip_added = {ns: [(iso(m.group(1)),) for m in map(addr_re.match, lines(os.path.join(out_dir, f"addr-{ns}.log")))
	                  if m and not m.group(2) and m.group(3) == "20.20.20.1"] for ns in ("lb1", "lb2")}
	neigh_re = re.compile(r"^\[([0-9T:.-]+)\] 20\.20\.20\.1 dev eth0 lladdr ([0-9a-f:]+)")
	neigh = [(iso(m.group(1)), m.group(2)) for m in map(neigh_re.match, lines(os.path.join(out_dir, "neigh-client.log"))) if m]
	# kvlbd: the election and its "MASTER in" line; keepalived: notify.sh's steps.
	kv_re = re.compile(r"^(\S+) \w+ ha: (?:instance default: BACKUP -> MASTER|default MASTER in ([0-9.]+) ms)")
	kvlog = {ns: [(iso(m.group(1)), "done" if m.group(2) else "elected", float(m.group(2) or 0))
	              for m in map(kv_re.match, lines(os.path.join(lab_out, f"kvlbd-{ns}.log"))) if m] for ns in ("lb1", "lb2")}
	ka_re = re.compile(r"^([0-9.]+) (lb\d) (\w+) (\S+) rc=(-?\d+)")
	kalog = {ns: [(float(m.group(1)), m.group(3), m.group(4), int(m.group(5)))
	              for m in map(ka_re.match, lines(os.path.join(lab_out, f"keepalived-{ns}", "notify.log"))) if m]
	         for ns in ("lb1", "lb2")}

	def kill_window(rep):
	    """Per flow alive at the kill window's start: its worst stall that began in
	    the window if it resumed, or that it was reset / did not resume."""
	    m = next((m for m in rep["marks"] if m["label"] == "kill-master"), None)
	    if m is None:
	        return None, []
	    lo, hi = m["window_s"]
	    flows = []
	    for f in rep["flows"]:
	        if f["connect_error"] or (f["reset"] and f["reset"]["t_s"] < lo):
	            continue
	        inw = [s for s in f["stalls"] if lo <= s[0] <= hi]
	        worst = max(inw, key=lambda s: s[1]) if inw else None
	        if f["reset"]:
	            fate = "reset"
	        elif worst and not worst[2]:
	            fate = "not_resumed"
	        else:
	            fate = "resumed"
	        # the flow's first stall from the kill on: where its outage began
	        first = min((x[0] for x in inw if x[0] >= m["t_s"] - rep["config"]["interval_ms"] / 1000), default=None)
	        flows.append({"name": f["name"], "target": f["target"], "fate": fate, "outage_start_s": first,
	                      "stall_ms": worst[1] if worst and fate == "resumed" else None,
	                      "unfinished_ms": worst[1] if worst and fate != "resumed" else None,
	                      "moved": any(lo <= mv["t_s"] <= hi for mv in f["moves"])})
	    return m, flows

	per_impl = {}
	for d in drills:
	    row = {k: d[k] for k in ("drill", "killed", "new_master", "took_over")}
	    t_kill, new = d["t_kill"], d["new_master"]
	    v = first_after(vip_added[new], t_kill - 0.05)
	    row["vip_ms"] = ms(v and v[0], t_kill)
	    n = first_after(neigh, t_kill - 0.05, lambda e: e[1] == macs.get(new))
	    row["client_arp_ms"] = ms(n and n[0], t_kill)
	    if d["impl"] == "kvlbd":
	        e = first_after(kvlog[new], t_kill - 0.05, lambda e: e[1] == "elected")
	        done = first_after(kvlog[new], t_kill - 0.05, lambda e: e[1] == "done")
	        row["elected_ms"] = ms(e and e[0], t_kill)
	        row["state_ms"] = ms(done and done[0], t_kill)
	        row["takeover_took_ms"] = done and done[2]
	    else:
	        evs = [e for e in kalog[new] if e[0] >= t_kill - 0.05 and e[1] == "primary"]
	        get = lambda step: next((e for e in evs if e[2] == step), None)
	        b, c, end = get("begin"), get("commit"), get("end")
	        row["notify_begin_ms"] = ms(b and b[0], t_kill)
	        row["state_ms"] = ms(c and c[0], t_kill)  # conntrackd -c returned: the peer's flows are in the kernel
	        row["notify_end_ms"] = ms(end and end[0], t_kill)
	        row["conntrackd_rc"] = {e[2]: e[3] for e in evs if e[2] != "begin"}
	    try:
	        rep = json.load(open(os.path.join(out_dir, d["name"] + ".json")))
	    except (OSError, ValueError):
	        rep = None
	    m, flows = kill_window(rep) if rep else (None, [])
	    if rep is None or m is None:
	        row["error"] = "no drill report" if rep is None else "no kill mark in the drill report"
	    else:
	        t = rep["totals"]
	        stalls = [f["stall_ms"] for f in flows if f["stall_ms"] is not None]
	        # The outage's start as the flows saw it (the median of their last
	        # echoes before it, ~ the old MASTER's link going down): the kill
	        # command itself takes time to run under load.
	        starts = sorted(f["outage_start_s"] for f in flows if f["outage_start_s"] is not None)
	        if starts:
	            outage = rep["times"]["ready_wall"] + starts[len(starts) // 2]
	            row["outage_after_kill_ms"] = ms(outage, t_kill)
	            for key in ("vip", "client_arp", "state"):
	                if row.get(key + "_ms") is not None:
	                    row[key + "_after_outage_ms"] = round(row[key + "_ms"] - row["outage_after_kill_ms"], 1)
	        row.update({
	            "setup_error": rep["setup_error"], "flows": len(flows), "flows_stalled": len(stalls),
	            "worst_stall_ms": max(stalls, default=0.0), "stall_ms": percentiles(stalls),
	            "resets": sum(f["fate"] == "reset" for f in flows), "not_resumed": sum(f["fate"] == "not_resumed" for f in flows),
	            "moved": sum(f["moved"] for f in flows), "lost": m["lost"],
	            "drill_resets": t["resets"], "drill_moved": t["moved"], "drill_lost": t["lost"],
	            "mark_stall_ms_incl_unfinished": m["stall_ms"], "loop_lag_in_window_ms": m["loop_lag_ms"],
	            "loop_lag_max_ms": rep["loop_lag"]["max_ms"], "skipped_sends": rep["loop_lag"]["skipped_sends"],
	            "flows_detail": flows})
	    per_impl.setdefault(d["impl"], []).append(row)

	# Takeovers (the VIP added to a node) no kill explains, the pair's start
	# and end aside: under load the MASTER's adverts can be starved for over
	# 3 intervals.
	vip_adds = sorted(e[0] for ns in vip_added for e in vip_added[ns])
	def round_adds(impl):
	    r = rounds.get(impl)
	    return [] if r is None else [t for t in vip_adds if r["t_start"] <= t <= r["t_end"]]
	def unexplained(impl):
	    kills = [d["t_kill"] for d in drills if d["impl"] == impl]
	    return [datetime.datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-3]
	            for t in round_adds(impl)[1:] if not any(0 <= t - k <= 5 for k in kills)]
	for r in repl:  # a takeover during a replication step: the step says nothing
	    flaps = [t for t in round_adds(r["impl"]) if r["t_start"] <= t <= r["t_snap"] + 0.5]
	    if flaps:
	        r["roles_changed"] = True
	        r["complete"] = False
	setup_failures = jsonl(os.path.join(out_dir, "setup-failures.jsonl"))

	impls = {}
	for impl in [i for i in ("kvlbd", "keepalived") if i in per_impl or i in rounds]:
	    rows = per_impl.get(impl, [])
	    ok = [r for r in rows if "flows_detail" in r]
	    allf = [f for r in ok for f in r["flows_detail"]]
	    targets = sorted({f["target"] for f in allf}, key=lambda s: int(s.split(":")[-1].split("/")[0]))
	    by_target = {}
	    for tg in targets:
	        # per drill: the worst stall of the target's flows that resumed (0: none stalled); none resumed: no value
	        worst = [max([f["stall_ms"] or 0.0 for f in r["flows_detail"] if f["target"] == tg and f["fate"] == "resumed"])
	                 for r in ok if any(f["target"] == tg and f["fate"] == "resumed" for f in r["flows_detail"])]
	        fl = [f for f in allf if f["target"] == tg]
	        by_target[tg] = {"stall_worst_ms": percentiles(worst), "resets": sum(f["fate"] == "reset" for f in fl),
	                         "not_resumed": sum(f["fate"] == "not_resumed" for f in fl), "moved": sum(f["moved"] for f in fl),
	                         "flows": len(fl)}
	    impls[impl] = {
	        "drills": len(rows), "completed": rounds.get(impl, {}).get("completed", len(rows)),
	        "error": rounds.get(impl, {}).get("error"), "sysctls": rounds.get(impl, {}).get("sysctls"),
	        "stall_worst_ms": percentiles([r["worst_stall_ms"] for r in ok]),
	        "stall_pooled_ms": percentiles([f["stall_ms"] for f in allf if f["stall_ms"] is not None]),
	        "flows_stalled": sum(r["flows_stalled"] for r in ok), "flows": sum(r["flows"] for r in ok),
	        "resets": sum(r["resets"] for r in ok), "not_resumed": sum(r["not_resumed"] for r in ok),
	        "moved": sum(r["moved"] for r in ok), "lost": sum(r["lost"] for r in ok),
	        "drill_resets": sum(r["drill_resets"] for r in ok),
	        "vip_ms": percentiles([r["vip_ms"] for r in rows if r["vip_ms"] is not None]),
	        "client_arp_ms": percentiles([r["client_arp_ms"] for r in rows if r["client_arp_ms"] is not None]),
	        "state_ms": percentiles([r["state_ms"] for r in rows if r["state_ms"] is not None]),
	        "loop_lag_in_window_max_ms": max((r["loop_lag_in_window_ms"] for r in ok), default=None),
	        "skipped_sends": sum(r["skipped_sends"] for r in ok),
	        "by_target": by_target,
	        "unexplained_takeovers": unexplained(impl),
	        "setup_failures": sum(1 for f in setup_failures if f["impl"] == impl),
	        "vip_after_outage_ms": percentiles([r["vip_after_outage_ms"] for r in rows if r.get("vip_after_outage_ms") is not None]),
	        "client_arp_after_outage_ms": percentiles([r["client_arp_after_outage_ms"] for r in rows if r.get("client_arp_after_outage_ms") is not None]),
	        "state_after_outage_ms": percentiles([r["state_after_outage_ms"] for r in rows if r.get("state_after_outage_ms") is not None]),
	        "outage_after_kill_ms": percentiles([r["outage_after_kill_ms"] for r in rows if r.get("outage_after_kill_ms") is not None]),
	        "per_drill": rows,
	    }

	def ratio(a, b):
	    return None if a is None or b is None or b == 0 else round(a / b, 3)
	kv, ka = impls.get("kvlbd"), impls.get("keepalived")
	ratios = {}
	if kv and ka:
	    for key in ("stall_worst_ms", "stall_pooled_ms", "vip_after_outage_ms", "client_arp_after_outage_ms", "state_after_outage_ms"):
	        for p in ("p50", "p99", "max"):
	            ratios[f"{key}.{p}"] = ratio(kv[key][p], ka[key][p])
	p99_ratio = ratios.get("stall_worst_ms.p99")
	target = {"p99_ratio": p99_ratio, "p99_ratio_max": 0.5, "p99_met": p99_ratio is not None and p99_ratio <= 0.5,
	          "resets_kvlbd": kv["resets"] if kv else None, "resets_keepalived": ka["resets"] if ka else None,
	          "resets_met": bool(kv) and kv["resets"] == 0 and kv["not_resumed"] == 0}

	replication = {}
	for impl in ("kvlbd", "keepalived"):
	    steps = [r for r in repl if r["impl"] == impl]
	    if steps:
	        best = max((r for r in steps if r["complete"]), key=lambda r: r["churn"]["achieved_rate"], default=None)
	        replication[impl] = {"steps": steps, "max_rate_complete": best and best["churn"]["achieved_rate"]}

	result = {"meta": meta, "implementations": impls, "ratios_kvlbd_over_keepalived": ratios, "target": target,
	          "replication": replication}
	with open(os.path.join(lab_out, "ha-failover.json"), "w") as f:
	    json.dump(result, f, indent=1)

	def num(v, fmt="{:.0f}"):
	    return "-" if v is None else (fmt.format(v) if isinstance(v, float) else str(v))
	def f3(p):
	    return "/".join(num(p[k]) for k in ("p50", "p99", "max"))
	def r3(key):
	    return "/".join(num(ratios.get(f"{key}.{p}"), "{:.2f}") for p in ("p50", "p99", "max"))
	names = [i for i in ("kvlbd", "keepalived") if i in impls]
	two = len(names) == 2
	out = [f"HA failover, the MASTER killed hard (links down, SIGKILL) {meta['kill_after_s']:g} s into each drill: "
	       f"{meta['drills']} drills per implementation, {meta['flows']['tcp']} TCP + {meta['flows']['udp']} UDP + "
	       f"{meta['flows']['sctp']} SCTP flows echoing every {meta['interval_ms']:g} ms, adverts every "
	       f"{meta['advert_interval_ms']:g} ms; kernel {meta['kernel']}, {meta['cpus']} CPUs"
	       + (f", VM ({meta['accel']})" if meta["vm"] else ""),
	       "stall: a flow's gap between echoes around the kill (last echo via the old MASTER -> first via the new), ms; "
	       "flows that were reset or did not resume are counted apart"]
	def row(label, vals, r=None):
	    out.append(f"  {label:<46}" + "".join(f"{v:>22}" for v in vals) + (f"{r:>20}" if r is not None else ""))
	row("", names, "kvlbd/keepalived" if two else None)
	row("drills completed", [f"{impls[n]['completed']}/{meta['drills']}" for n in names])
	row("stall, worst flow per drill p50/p99/max", [f3(impls[n]["stall_worst_ms"]) for n in names], r3("stall_worst_ms") if two else None)
	row("stall, all flows pooled p50/p99/max", [f3(impls[n]["stall_pooled_ms"]) for n in names], r3("stall_pooled_ms") if two else None)
	row("flows stalled / flows in the kill windows", [f"{impls[n]['flows_stalled']}/{impls[n]['flows']}" for n in names])
	row("resets (kill windows; whole drills)", [f"{impls[n]['resets']}; {impls[n]['drill_resets']}" for n in names])
	row("flows not resumed without a reset", [num(impls[n]["not_resumed"]) for n in names])
	row("moved to another endpoint", [num(impls[n]["moved"]) for n in names])
	row("lost messages (kill windows)", [num(impls[n]["lost"]) for n in names])
	out.append("  after the outage began (the flows' median last echo via the old MASTER), ms p50/p99/max:")
	row("  VIP on the new MASTER", [f3(impls[n]["vip_after_outage_ms"]) for n in names], r3("vip_after_outage_ms") if two else None)
	row("  the client's ARP entry moved to it (GARP)", [f3(impls[n]["client_arp_after_outage_ms"]) for n in names],
	    r3("client_arp_after_outage_ms") if two else None)
	row("  the flows' state in place (*)", [f3(impls[n]["state_after_outage_ms"]) for n in names], r3("state_after_outage_ms") if two else None)
	row("  (the outage began after the kill command by)", [f3(impls[n]["outage_after_kill_ms"]) for n in names])
	row("takeovers without a kill (load)", [num(len(impls[n]["unexplained_takeovers"])) for n in names])
	row("drills set up again (flows did not come up)", [num(impls[n]["setup_failures"]) for n in names])
	row("drill loop lag in kill windows max; skipped", [f"{num(impls[n]['loop_lag_in_window_max_ms'])}; {impls[n]['skipped_sends']}" for n in names])
	out.append("  (*) kvlbd: its \"MASTER in\" log line (drop, conntrackd commit, SCTP repair, addresses, open, sync daemons); "
	           "keepalived: notify_master's conntrackd commit (-c) returned")
	out.append("  per target: worst stall per drill p50/p99/max; resets; not resumed")
	for tg in sorted({tg for n in names for tg in impls[n]["by_target"]}, key=lambda s: int(s.split(":")[-1].split("/")[0])):
	    vals = []
	    for n in names:
	        t = impls[n]["by_target"].get(tg)
	        vals.append("-" if t is None else f"{f3(t['stall_worst_ms'])}; {t['resets']}; {t['not_resumed']}")
	    row("    " + tg, vals)
	for n in names:
	    if impls[n]["unexplained_takeovers"]:
	        out.append(f"  {n}: takeovers no kill explains at " + ", ".join(impls[n]["unexplained_takeovers"]))
	for n in names:
	    if impls[n]["sysctls"]:
	        out.append(f"  {n} ran with " + ", ".join(f"{k.split('.')[-1]}={v}" for k, v in impls[n]["sysctls"].items()))
	for n in names:
	    if impls[n]["error"]:
	        out.append(f"  {n} round ended early: {impls[n]['error']}")
	if two:
	    out.append(f"p99 stall ratio {num(p99_ratio, '{:.2f}')} (target <= 0.5): {'met' if target['p99_met'] else 'NOT met'}")
	    out.append(f"resets: kvlbd {kv['resets']} (+{kv['not_resumed']} not resumed), keepalived {ka['resets']} "
	               f"(+{ka['not_resumed']} not resumed) (target: 0 where keepalived shows any): {'met' if target['resets_met'] else 'NOT met'}")
	for impl, r in replication.items():
	    out.append(f"replication {impl} (connections the BACKUP lacks when the MASTER has them established; "
	               f"'older': established over {r['steps'][0]['allow_ms']:g} ms before):")
	    for s in r["steps"]:
	        i, c, ch = s["ipvs"], s["conntrack_fullnat"], s["churn"]
	        out.append(f"    {s['rate']:>5g}/s planned, {ch['achieved_rate']:>6g}/s opened: IPVS {i['missing']}/{i['established']} "
	                   f"missing ({i['missing_older']} older), fullnat conntrack {c['missing']}/{c['established']} ({c['missing_older']} older)"
	                   + (f"  lab-limited: {ch['echoed']} of {ch['opened']} echoed" if s["lab_limited"] else "")
	                   + (f"  ROLES CHANGED ({s['master']} -> {s['master_after']})" if s.get("roles_changed") else "")
	                   + ("" if s["complete"] or s["lab_limited"] or s.get("roles_changed") else "  INCOMPLETE"))
	    out.append(f"    every established flow (older than the allowance) on the BACKUP up to {num(r['max_rate_complete'], '{:g}')} new flows/s")
	out.append("per drill: killed node; worst stall, ms; resets / not resumed (targets); VIP, client ARP, state ms after the outage began")
	for n in names:
	    for r in impls[n]["per_drill"]:
	        bad = sorted({f["target"] for f in r.get("flows_detail", []) if f["fate"] != "resumed"})
	        out.append(f"  {n:<10} {r['drill']:>2} {r['killed']}: worst {num(r.get('worst_stall_ms'))}, "
	                   f"resets {r.get('resets', '-')} / {r.get('not_resumed', '-')}{' (' + ', '.join(bad) + ')' if bad else ''}; "
	                   f"vip {num(r.get('vip_after_outage_ms'))}, arp {num(r.get('client_arp_after_outage_ms'))}, "
	                   f"state {num(r.get('state_after_outage_ms'))} (outage {num(r.get('outage_after_kill_ms'))} after the kill)"
	                   f"{'' if r['took_over'] else '; NO TAKEOVER'}{'; ' + r['error'] if r.get('error') else ''}")
	text = "\n".join(out)
	print(text)
	with open(os.path.join(lab_out, "ha-failover.txt"), "w") as f:
	    f.write(text + "\n")
PY
lab_log "results: $LAB_OUT/ha-failover.json, $LAB_OUT/ha-failover.txt; drills in $OUT/"
status=0
while read -r line; do
	case $line in *'"error": null'*) ;; *) status=1 ;; esac
done <"$OUT/rounds.jsonl"
exit $status
