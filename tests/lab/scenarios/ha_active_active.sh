#!/bin/bash
# Active-active by instance: lb1 is MASTER of "default" (VIP 20.20.20.1),
# lb2 of "blue" (VIP 20.20.20.2), so each node runs the IPVS master sync
# daemon for its own instance and the backup daemon for the other's. Under
# live TCP, UDP and SCTP traffic to both VIPs, each node holds the other's
# connections; lb1's hard death moves "default" to lb2 without a reset while
# "blue"'s flows carry on. A service added on one node only is reported by
# the other (the instance digest in adverts) until both agree again.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kvlb.sh"
. "$(dirname "$0")/../ha.sh"

DRILL_TCP=16 DRILL_UDP=6 DRILL_SCTP=6 DRILL_INTERVAL_MS=200
HA_INTERVAL_MS=50
BLUE_VIP=20.20.20.2

# "blue": lb2 first, and it preempts (lb1, started first, is MASTER of both
# until lb2 is synced). Its onearm and fullnat services SNAT to its own
# floating address, on the endpoints' segment: the endpoints route the VIPs
# and everything else through "default"'s floating gateway, so neither blue's
# VIP nor default mode would bring the replies back to blue's MASTER.
blue_instance() {
	local priority=100
	[[ $1 == lb2 ]] && priority=150
	echo "- {name: blue, priority: $priority, preempt: true, floatingAddresses: [10.0.2.2]}"
}
HA_INSTANCES_MORE=blue_instance
HA_EXTRA_SERVICES=""
port=2000
for proto in tcp udp sctp; do
	for mode in default onearm fullnat; do
		port=$((port + 1))
		[[ $mode == default ]] && continue
		snat=""
		[[ $mode == fullnat ]] && snat=", snatAddress: 10.0.2.2"
		HA_EXTRA_SERVICES+="{name: lab/blue-$proto-$mode, vip: $BLUE_VIP, port: $port, protocol: $proto, mode: $mode$snat, instance: blue, endpoints: @EPS@}"$'\n'
	done
done

ha_topology
lab_servers_start 8080
ha_config lb1 150
ha_config lb2 100
ha_targets default onearm fullnat
for port in 2002 2003; do HA_TARGETS+=(--target "$BLUE_VIP:$port/tcp"); done
for port in 2005 2006; do HA_TARGETS+=(--target "$BLUE_VIP:$port/udp"); done
for port in 2008 2009; do HA_TARGETS+=(--target "$BLUE_VIP:$port/sctp"); done

lab_step "lb1 MASTER of default, lb2 MASTER of blue; both sync daemons on each node"
ha_start_pair
ha_wait_role lb2 MASTER 20 blue  # once synced (5 s)
ha_wait_role lb1 BACKUP 5 blue
ha_holds_vip lb2 "$BLUE_VIP" || lab_fail "MASTER lb2 of blue lacks its VIP"
ha_holds_vip lb1 "$BLUE_VIP" && lab_fail "lb1 holds blue's VIP"
for ns in lb1 lb2; do
	lab_ns "$ns" ipvsadm -L --daemon
	lab_ns "$ns" ipvsadm -L --daemon | grep -F "master sync daemon (mcast=sync0" >/dev/null || lab_fail "no IPVS master sync daemon on $ns"
	lab_ns "$ns" ipvsadm -L --daemon | grep -F "backup sync daemon (mcast=sync0" >/dev/null || lab_fail "no IPVS backup sync daemon on $ns"
done

lab_step "a service added to blue on lb2 only: lb1 reports that its peer is configured differently, until it agrees"
# differs NS INSTANCE: "true" while NS hears the instance's MASTER advertise another configuration.
differs() { ha_instance_field "$1" peerConfigDiffers "$2"; }
lab_assert_eq false "$(differs lb1 blue)" "lb1 and lb2 agree on blue"
blue_services=$HA_EXTRA_SERVICES
HA_EXTRA_SERVICES+="{name: lab/blue-extra, vip: $BLUE_VIP, port: 2100, protocol: tcp, mode: onearm, instance: blue, endpoints: @EPS@}"
ha_config lb2 100
kill -HUP "${HA_PID[lb2]}"
lab_wait_for "[ \"\$(differs lb1 blue)\" = true ]" 5 || lab_fail "lb1 did not notice that lb2's blue differs"
grep -F "ha: instance blue: 10.0.9.2 has a different configuration" "$LAB_OUT/kvlbd-lb1.log" || lab_fail "no log line on lb1"
kvlb_ctl lb1 get ha | grep -F "WARNING:   instance blue" || lab_fail "kvlbctl get ha does not warn"
lab_ns lb1 curl -s http://127.0.0.1:7711/metrics | grep -F 'kvlb_ha_peer_config_differs{instance="blue"} 1' >/dev/null ||
	lab_fail "metric kvlb_ha_peer_config_differs is not 1 for blue"
lab_assert_eq MASTER "$(ha_role lb2 blue)" "a differing configuration changes no role"
HA_EXTRA_SERVICES=$blue_services
ha_config lb2 100
kill -HUP "${HA_PID[lb2]}"
lab_wait_for "[ \"\$(differs lb1 blue)\" = false ]" 5 || lab_fail "lb1 still reports a difference once lb2 agrees again"
grep -F "ha: instance blue: 10.0.9.2 has the same configuration again" "$LAB_OUT/kvlbd-lb1.log"

lab_step "under traffic to both VIPs, each node holds the connections of the other's instance"
drill hard 25
sleep 4
# conns NS VIP: established TCP and all UDP/SCTP IPVS connections to VIP.
conns() {
	lab_ns "$1" ipvsadm -Lnc | awk -v vip="$2" '$5 ~ "^" vip ":" && ($1 != "TCP" || $3 == "ESTABLISHED")' | wc -l
}
for pair in "lb1 lb2 $HA_VIP" "lb2 lb1 $BLUE_VIP"; do
	read -r master backup vip <<<"$pair"
	lab_log "connections to $vip: $master (MASTER) $(conns "$master" "$vip"), $backup (BACKUP) $(conns "$backup" "$vip")"
	(($(conns "$backup" "$vip") >= $(conns "$master" "$vip") && $(conns "$master" "$vip") > 0)) ||
		{ lab_ns "$backup" ipvsadm -Lnc | head; lab_fail "$backup lacks the IPVS connections of $master's instance"; }
done

lab_step "hard death of lb1: lb2 takes default over; no reset, no flow moved, stall under 1 s on both VIPs"
mark hard kill-lb1
ha_kill_hard lb1
ha_wait_role lb2 MASTER 5
drill_end hard
verdict hard 1000
grep -F "MASTER in" "$LAB_OUT/kvlbd-lb2.log" | tail -1
lab_ns lb2 ipvsadm -L --daemon | grep -F "backup sync daemon" && lab_fail "lb2, MASTER of every instance, still runs a backup sync daemon"

echo "ha_active_active: passed"
