# BGP lab (source after lib.sh, kvlb.sh and ha.sh; topology `ha_topology router`):
# rtr runs BIRD as the upstream router (AS 65000) and installs what lb1 and
# lb2 (AS 65001) announce into its kernel table, like the router in front of
# a LoxiLB pair; lb1 and lb2 each run BIRD with the config kvlbd renders.
#
#   client 10.0.7.10 ── rtr 10.0.7.1 / 10.0.9.254 ── segment ── lb1 10.0.9.1, lb2 10.0.9.2 ── be1..3
BGP_RTR_AS=65000
BGP_LB_AS=65001
BGP_BFD_MS=${BGP_BFD_MS:-50}

bgp_socket() { echo "/run/kvlb-$1/bird.ctl"; }  # NS (UNIX sockets cannot live on the 9p share)

# bgp_birdc NS ARGS...: birdc against NS's BIRD.
bgp_birdc() {
	local ns=$1
	shift
	ip netns exec "$ns" birdc -s "$(bgp_socket "$ns")" "$@"
}

# bgp_bird_start NS CONFIG: BIRD in NS, in the foreground (as systemd runs it).
bgp_bird_start() {
	local ns=$1 config=$2
	mkdir -p "/run/kvlb-$ns"
	ip netns exec "$ns" bird -f -c "$config" -s "$(bgp_socket "$ns")" -P "/run/kvlb-$ns/bird.pid" \
		>>"$LAB_OUT/bird-$ns.log" 2>&1 &
	BGP_BIRD_PID[$ns]=$!
	LAB_PIDS+=($!)
	lab_wait_for "bgp_birdc $ns show status" 10 || { cat "$LAB_OUT/bird-$ns.log" >&2; lab_fail "BIRD in $ns did not start"; }
}
declare -A BGP_BIRD_PID=()

# bgp_router_start [BFD on|off]: the upstream router's BIRD. With BFD off a
# dead peer's routes go when the hold time (3 s) runs out.
bgp_router_start() {
	local bfd=${1:-on}
	mkdir -p "$LAB_OUT/rtr"
	{
		echo "router id 10.0.9.254;"
		echo "log \"$LAB_OUT/rtr/bird.events\" all;"
		echo "protocol device {}"
		echo "protocol kernel { ipv4 { import none; export all; }; }"
		if [[ $bfd == on ]]; then echo "protocol bfd { interface \"eth0\" { min rx interval $BGP_BFD_MS ms; min tx interval $BGP_BFD_MS ms; multiplier 3; }; }"; fi
		echo "template bgp lb {"
		echo "	local 10.0.9.254 as $BGP_RTR_AS;"
		echo "	hold time 3; keepalive time 1;"
		# A peer that died comes back within seconds, not BIRD's default minutes.
		echo "	connect delay time 1; connect retry time 2; error wait time 1, 5;"
		echo "	bfd $bfd;"
		echo "	ipv4 { import all; export none; };"
		echo "}"
		echo "protocol bgp lb1 from lb { neighbor 10.0.9.1 as $BGP_LB_AS; }"
		echo "protocol bgp lb2 from lb { neighbor 10.0.9.2 as $BGP_LB_AS; }"
	} >"$LAB_OUT/rtr/bird.conf"
	bgp_bird_start rtr "$LAB_OUT/rtr/bird.conf"
}

# bgp_section NS: the bgp section of NS's kvlbd config (BFD as BGP_BFD says,
# on by default). Used as ha_config's HA_CONFIG_MORE.
bgp_section() {
	local ns=$1 n=${1#lb} enabled=false
	if [[ ${BGP_BFD:-on} == on ]]; then enabled=true; fi
	cat <<-EOF
		bgp:
		  localAS: $BGP_LB_AS
		  routerId: 10.0.9.$n
		  peers:
		    - address: 10.0.9.254
		      as: $BGP_RTR_AS
		      bfd: {enabled: $enabled, minRxMs: $BGP_BFD_MS, minTxMs: $BGP_BFD_MS, multiplier: 3}
		  backup: {mode: worse, asPathPrepend: 3}
		  birdConfig: $LAB_OUT/$ns/bird.conf
		  birdSocket: $(bgp_socket "$ns")
	EOF
}
HA_CONFIG_MORE=bgp_section

# bgp_lb_start NS: kvlbd (ha_start), then BIRD on the config kvlbd wrote.
bgp_lb_start() {
	local ns=$1
	ha_start "$ns"
	lab_wait_for "[ -s '$LAB_OUT/$ns/bird.conf' ]" 10 || lab_fail "kvlbd in $ns wrote no BIRD config"
	bgp_bird_start "$ns" "$LAB_OUT/$ns/bird.conf"
}

# bgp_established NS PROTOCOL: the BGP session PROTOCOL in NS's BIRD is up.
bgp_established() {
	bgp_birdc "$1" show protocols "$2" | grep -E "^$2 +BGP .* Established" >/dev/null
}

# bgp_rtr_nexthop PREFIX: the next hop of rtr's kernel route to PREFIX ("" when none).
bgp_rtr_nexthop() {
	ip -n rtr -o route show "$1" | sed -n 's/.* via \([0-9.]*\) .*/\1/p' | head -1
}
