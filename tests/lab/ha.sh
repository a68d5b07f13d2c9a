# HA lab (source after lib.sh and kvlb.sh): two load balancers in front of
# three endpoints, one-armed on a shared segment, with a sync link between
# them. kvlbd (and, through it, conntrackd and the IPVS sync daemon) in each.
#
#   client 10.0.9.10 ─┐                      ┌─ lb1 eth1 10.0.9.1 10.0.2.11 ─┐
#                     ├── sw: bridge br0 ────┤                               sync0 10.99.0.1/30 ── 10.99.0.2/30 sync0
#   be1..3 10.0.2.2N ─┘                      └─ lb2 eth1 10.0.9.2 10.0.2.12 ─┘
#
# VIP 20.20.20.1 and the endpoints' gateway 10.0.2.1 (a floating address of
# instance "default") are on the MASTER only. The client reaches the VIP on
# link (ARP), so a GARP moves it; the endpoints route via 10.0.2.1.
HA_VIP=20.20.20.1
HA_LBS=(lb1 lb2)
declare -A HA_PID=()

#
# ha_topology router: the same, but with the upstream router `rtr` 10.0.9.254
# on the segment instead of the client, and the client 10.0.7.10 behind it
# (rtr 10.0.7.1): the client reaches the VIP through rtr's routes (BGP).
ha_topology() {
	local front=client
	[[ ${1:-} == router ]] && front=rtr
	lab_step "HA topology: $front, lb1, lb2, ${LAB_BACKENDS[*]} on one segment; sync link lb1-lb2"
	local ns n
	for ns in sw client lb1 lb2 "${LAB_BACKENDS[@]}"; do lab_netns_add "$ns"; done
	[[ $front == rtr ]] && lab_netns_add rtr
	ip -n sw link add br0 type bridge stp_state 0 mcast_snooping 0 forward_delay 0
	ip -n sw link set br0 up
	for ns in "$front" lb1 lb2 "${LAB_BACKENDS[@]}"; do
		local ifname=eth0
		[[ $ns == lb* ]] && ifname=eth1
		lab_veth "$ns" "$ifname" sw "p-$ns"
		ip -n sw link set "p-$ns" master br0
	done
	if [[ $front == rtr ]]; then
		lab_veth client eth0 rtr eth1
		ip -n rtr -batch - <<-EOF || lab_fail "rtr setup"
			addr add 10.0.9.254/24 dev eth0
			addr add 10.0.7.1/24 dev eth1
		EOF
		nsenter --net=/run/netns/rtr sysctl -qw net.ipv4.ip_forward=1
		ip -n client -batch - <<-EOF || lab_fail "client setup"
			addr add 10.0.7.10/24 dev eth0
			route add default via 10.0.7.1
		EOF
	else
		ip -n client -batch - <<-EOF || lab_fail "client setup"
			addr add 10.0.9.10/24 dev eth0
			route add 20.20.20.0/24 dev eth0
		EOF
	fi
	# SCTP's RTO.min is 1 s by default (RFC 4960): any outage, however
	# short, would stall an association for a second. Both ends of the
	# drill's associations (the client, and the endpoints that send the
	# echoes) retransmit like TCP does (200 ms), so the stall shows the failover.
	modprobe sctp 2>/dev/null || true
	for ns in client "${LAB_BACKENDS[@]}"; do nsenter --net="/run/netns/$ns" sysctl -qw net.sctp.rto_min=200; done
	for n in 1 2; do
		ip -n "lb$n" -batch - <<-EOF || lab_fail "lb$n setup"
			addr add 10.0.9.$n/24 dev eth1
			addr add 10.0.2.1$n/24 dev eth1
		EOF
		# One-armed: forwarding out of the interface a packet came in on is
		# the job here, not something to redirect the sender about.
		nsenter --net="/run/netns/lb$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
			net.ipv4.conf.eth1.send_redirects=0 net.ipv4.conf.default.send_redirects=0
	done
	HA_FRONT=$front
	for n in 1 2; do ha_routes "lb$n"; done
	lab_veth lb1 sync0 lb2 sync0
	ip -n lb1 addr add 10.99.0.1/30 dev sync0
	ip -n lb2 addr add 10.99.0.2/30 dev sync0
	for ns in "${LAB_BACKENDS[@]}"; do
		n=${ns#be}
		ip -n "$ns" -batch - <<-EOF || lab_fail "$ns setup"
			addr add 10.0.2.2$n/24 dev eth0
			route add default via 10.0.2.1
		EOF
	done
	lab_wait_for 'lab_link_up lb1 sync0 && lab_link_up lb2 sync0 && lab_link_up client eth0' 10 || lab_fail "links not up"
	head -c 32 /dev/urandom | base64 >"$LAB_OUT/ha.key"
}

# ha_routes NS: a load balancer's routes beyond its segment (set again after
# its links were down, which deletes them): with a router in front, replies
# of default-mode flows leave the MASTER towards the client through it.
ha_routes() {
	[[ ${HA_FRONT:-client} == rtr ]] || return 0
	ip -n "$1" route replace 10.0.7.0/24 via 10.0.9.254 dev eth1
}

# ha_config NS PRIORITY [PREEMPT]: kvlbd's config for lb1 or lb2, written at
# once (a running kvlbd never reads half of it); the function named in
# HA_CONFIG_MORE, if any, adds sections (it gets NS), and the one named in
# HA_INSTANCES_MORE more instances, one "- {...}" line each (it gets NS).
ha_config() {
	local ns=$1 n=${1#lb} priority=$2 preempt=${3:-false} peer=$((3 - ${1#lb}))
	mkdir -p "$LAB_OUT/$ns"
	local eps='[{ip: 10.0.2.21, port: 8080}, {ip: 10.0.2.22, port: 8080}, {ip: 10.0.2.23, port: 8080}]'
	{
		echo "node: {name: $ns, interface: eth1}"
		echo "ha:"
		echo "  address: 10.0.9.$n"
		echo "  peers: [10.0.9.$peer]"
		echo "  keyFile: $LAB_OUT/ha.key"
		echo "  intervalMs: ${HA_INTERVAL_MS:-100}"
		echo "  instances:"
		echo "    - {name: default, priority: $priority, preempt: $preempt, floatingAddresses: [10.0.2.1]}"
		if [[ -n ${HA_INSTANCES_MORE:-} ]]; then "$HA_INSTANCES_MORE" "$ns" | sed 's/^/    /'; fi
		echo "  sync:"
		echo "    interface: sync0"
		echo "    address: 10.99.0.$n"
		echo "    peer: 10.99.0.$peer"
		# Not under $LAB_OUT: a UNIX socket cannot live on the 9p share.
		echo "    conntrackdConfig: /run/kvlb-$ns/conntrackd.conf"
		echo "    conntrackdSocket: /run/kvlb-$ns/conntrackd.ctl"
		echo "services:"
		local port=1000 proto mode
		for proto in tcp udp sctp; do
			for mode in default onearm fullnat; do
				port=$((port + 1))
				echo "  - {name: lab/$proto-$mode, vip: $HA_VIP, port: $port, protocol: $proto, mode: $mode, endpoints: $eps}"
			done
		done
		# More services, one "{...}" per line (VIPs and ports of the scenario's choosing).
		local extra
		while read -r extra; do
			if [[ -n $extra ]]; then echo "  - ${extra/@EPS@/$eps}"; fi
		done <<<"${HA_EXTRA_SERVICES:-}"

		if [[ -n ${HA_CONFIG_MORE:-} ]]; then "$HA_CONFIG_MORE" "$ns"; fi
	} >"$LAB_OUT/$ns/kvlb.yaml.new"
	mv -f "$LAB_OUT/$ns/kvlb.yaml.new" "$LAB_OUT/$ns/kvlb.yaml"
}

# ha_start NS: kvlbd in NS (it starts conntrackd itself).
ha_start() {
	local ns=$1
	ip netns exec "$ns" "$KVLBD" --config "$LAB_OUT/$ns/kvlb.yaml" --state-dir "$LAB_OUT/state-$ns" \
		--log-level debug >>"$LAB_OUT/kvlbd-$ns.log" 2>&1 &
	HA_PID[$ns]=$!
	LAB_PIDS+=($!)
	LAB_CLEANUP_HOOKS+=("kvlb_stacks_on_failure $!")
	lab_wait_for "kvlb_ctl $ns get status" 10 || { tail -30 "$LAB_OUT/kvlbd-$ns.log" >&2; lab_fail "kvlbd in $ns did not start"; }
}

# ha_instance_field NS FIELD [INSTANCE]: one field of the instance
# ("default") in NS's `kvlbctl get ha` (a string as it is, else as JSON).
ha_instance_field() {
	kvlb_ctl "$1" get ha -o json 2>/dev/null | "$LAB_PYTHON" -c '
import json, sys
for i in json.load(sys.stdin)["instances"]:
    if i["name"] == sys.argv[2]:
        v = i[sys.argv[1]]
        print(v if isinstance(v, str) else json.dumps(v))' "$2" "${3:-default}"
}

# ha_role NS [INSTANCE]: the role of the instance ("default") in NS (MASTER, BACKUP, ...).
ha_role() { ha_instance_field "$1" role "${2:-default}"; }

ha_wait_role() { # NS ROLE [TIMEOUT [INSTANCE]]
	lab_wait_for "[ \"\$(ha_role $1 ${4:-default})\" = $2 ]" "${3:-10}" ||
		{ kvlb_ctl "$1" get ha >&2; tail -30 "$LAB_OUT/kvlbd-$1.log" >&2; lab_fail "$1 is not $2 of ${4:-default}"; }
}

# ha_became_master NS: how often instance "default" in NS has become MASTER
# since its kvlbd started.
ha_became_master() { ha_instance_field "$1" becameMaster; }

ha_holds_vip() { # NS [VIP]
	ip -n "$1" -o addr show dev eth1 | grep -F " ${2:-$HA_VIP}/32 " >/dev/null
}

# ha_stop NS: kvlbd's graceful stop (SIGTERM), waited for.
ha_stop() {
	kill "${HA_PID[$1]}"
	wait "${HA_PID[$1]}" 2>/dev/null || true
}

# ha_kill_hard NS: node death: its links go first (the kernel would keep
# forwarding otherwise), then its processes.
ha_kill_hard() {
	local ns=$1
	ip -n "$ns" link set eth1 down
	ip -n "$ns" link set sync0 down
	kill -9 "${HA_PID[$ns]}" 2>/dev/null || true
	ip netns pids "$ns" | xargs -r kill -9 2>/dev/null || true
	wait "${HA_PID[$ns]}" 2>/dev/null || true
}

# ha_start_pair: kvlbd in lb1 and lb2 (configs from ha_config); lb1 MASTER
# with the VIP, lb2 BACKUP without it, both synced.
ha_start_pair() {
	ha_start lb1
	ha_start lb2
	ha_wait_role lb1 MASTER 15
	ha_wait_role lb2 BACKUP 5
	kvlb_wait_synced lb1
	kvlb_wait_synced lb2
	kvlb_ctl lb1 get ha
	ha_holds_vip lb1 || lab_fail "MASTER lb1 lacks the VIP"
	ha_holds_vip lb2 && lab_fail "BACKUP lb2 holds the VIP"
	return 0
}

# ha_clean NS: the node's kernel state emptied, as after a reboot (IPVS and
# its sync daemons, conntrack, kvlb's table, the floating addresses).
ha_clean() {
	local ns=$1
	ip netns exec "$ns" ipvsadm -C
	ip netns exec "$ns" ipvsadm --stop-daemon master 2>/dev/null || true
	ip netns exec "$ns" ipvsadm --stop-daemon backup 2>/dev/null || true
	ip netns exec "$ns" conntrack -F 2>/dev/null || true
	ip netns exec "$ns" nft delete table inet kvlb 2>/dev/null || true
	ip -n "$ns" addr del "$HA_VIP/32" dev eth1 2>/dev/null || true
	ip -n "$ns" addr del 10.0.2.1/32 dev eth1 2>/dev/null || true
	# kvlbd's BIRD config lives in /run on a real node: a reboot empties it, so
	# a BIRD that starts first never announces what the node held before.
	rm -f "$LAB_OUT/$ns/bird.conf"
}

# ha_revive NS: links back up, the node emptied as a rebooted one is
# (ha_clean), kvlbd started again.
ha_revive() {
	local ns=$1
	ha_clean "$ns"
	ip -n "$ns" link set eth1 up
	ip -n "$ns" link set sync0 up
	ha_routes "$ns"
	ha_start "$ns"
}

# ha_drill ARGS...: bench/failover_drill.py run in the client namespace.
ha_drill() {
	lab_ns client "$LAB_PYTHON" "$KVLB_SRC_DIR/bench/failover_drill.py" run "$@"
}

# ha_targets MODES...: the drill's targets (array HA_TARGETS): TCP and UDP in
# every NAT mode, SCTP in MODES (ports 1001-1009 as ha_config defines them).
ha_targets() {
	local port=1000 proto mode
	HA_TARGETS=()
	for proto in tcp udp sctp; do
		for mode in default onearm fullnat; do
			port=$((port + 1))
			[[ $proto == sctp && " $* " != *" $mode "* ]] && continue
			HA_TARGETS+=(--target "$HA_VIP:$port/$proto")
		done
	done
}

# drill NAME SECONDS [ARGS...]: the drill in the background (DRILL_TCP, DRILL_UDP,
# DRILL_SCTP flows, a message every DRILL_INTERVAL_MS); waits until every flow is up.
drill() {
	local name=$1 seconds=$2
	shift 2
	rm -f "$LAB_OUT/$name.ready" "$LAB_OUT/$name.marks"
	touch "$LAB_OUT/$name.marks"
	ha_drill "${HA_TARGETS[@]}" --tcp "$DRILL_TCP" --udp "$DRILL_UDP" --sctp "$DRILL_SCTP" \
		--interval-ms "$DRILL_INTERVAL_MS" --duration "$seconds" --ready-file "$LAB_OUT/$name.ready" \
		--mark-file "$LAB_OUT/$name.marks" --json "$LAB_OUT/$name.json" "$@" >"$LAB_OUT/$name.txt" 2>&1 &
	DRILL_PID=$!
	LAB_PIDS+=($DRILL_PID)
	lab_wait_for "[ -e '$LAB_OUT/$name.ready' ] || ! kill -0 $DRILL_PID" 120
	[ -e "$LAB_OUT/$name.ready" ] || { cat "$LAB_OUT/$name.txt" >&2; lab_fail "drill $name did not start"; }
}
mark() { echo "$2" >>"$LAB_OUT/$1.marks"; }
drill_end() { # NAME
	wait "$DRILL_PID" || true
	cat "$LAB_OUT/$1.txt"
}
# verdict NAME MAX_STALL_MS: no reset, no flow moved, every flow resumed, longest stall below the bound.
verdict() {
	"$LAB_PYTHON" - "$LAB_OUT/$1.json" "$2" <<-'PY' || lab_fail "drill $1 failed its bounds"
		import json, sys
		report = json.load(open(sys.argv[1]))
		bound = float(sys.argv[2])
		t = report["totals"]
		stall = t["stall_ms"]
		print(f"drill {sys.argv[1]}: flows={t['flows']} resets={t['resets']} moved={t['moved']} lost={t['lost']} "
		      f"not_resumed={t['not_resumed']} stall p50/p99/max = {stall['p50']:.0f}/{stall['p99']:.0f}/{stall['max']:.0f} ms "
		      f"(loop lag max {report['loop_lag']['max_ms']:.0f} ms)")
		problems = [f"{k}={t[k]}" for k in ("connect_errors", "resets", "moved", "not_resumed") if t[k]]
		if stall["max"] >= bound:
		    problems.append(f"longest stall {stall['max']:.0f} ms >= {bound:.0f} ms")
		if problems:
		    print("  FAILED: " + ", ".join(problems))
		    sys.exit(1)
	PY
}

# ha_dump_on_failure (a cleanup hook; sees lab_cleanup's $rc): each node's
# `kvlbctl get ha -o json`, sync daemons, IPVS connections and conntrack
# entries, for a failed run to be diagnosed.
ha_dump_on_failure() {
	[ "${rc:-0}" != 0 ] || return 0
	local ns
	for ns in "${HA_LBS[@]}"; do
		{
			kvlb_ctl "$ns" get ha -o json
			ip netns exec "$ns" ipvsadm -L --daemon
			ip -n "$ns" addr show dev eth1
			echo "# ipvsadm -Lnc"
			ip netns exec "$ns" ipvsadm -Lnc
			echo "# conntrack -L"
			ip netns exec "$ns" conntrack -L
		} >"$LAB_OUT/ha-$ns.txt" 2>&1 || true
	done
	echo "lab: HA state in $LAB_OUT/ha-lb1.txt, ha-lb2.txt"
}
LAB_CLEANUP_HOOKS+=(ha_dump_on_failure)
