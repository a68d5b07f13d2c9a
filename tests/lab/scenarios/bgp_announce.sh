#!/bin/bash
# BGP through BIRD: an upstream router (BIRD in rtr) peers with lb1 and lb2,
# each running kvlbd and the BIRD config it renders. The router learns the
# VIP from both, with the MASTER's path best and the BACKUP's made worse,
# installs it towards the MASTER, and the client behind the router reaches
# the endpoints through it. A service added or removed is announced or
# withdrawn within a second without a session reset; a BIRD that is not
# running yet is reported while the data plane is programmed, and one that
# restarts gets kvlb's config again; when the MASTER dies (BFD on), the router's
# route moves to the new MASTER within a second.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kvlb.sh"
. "$(dirname "$0")/../ha.sh"
. "$(dirname "$0")/../bgp.sh"

HA_INTERVAL_MS=50
ha_topology router
lab_servers_start 8080
for n in 1 2; do ha_config "lb$n" $((200 - 50 * n)); done
bgp_router_start on

lab_step "kvlbd before its BIRD runs: reported (kvlbctl, metric), the data plane programmed all the same"
ha_start lb1
lab_wait_for "kvlb_ctl lb1 get bgp -o json | grep -F '\"unreachable\": ' | grep -v ': 0'" 10 || { kvlb_ctl lb1 get bgp; lab_fail "BIRD down is not reported"; }
kvlb_ctl lb1 get bgp | grep -F "NOT running" >/dev/null || lab_fail "kvlbctl get bgp does not say BIRD is not running"
lab_ns lb1 curl -s http://127.0.0.1:7711/metrics | grep -F "kvlb_bgp_bird_up 0" >/dev/null || lab_fail "metric kvlb_bgp_bird_up is not 0"
[ -n "$(ipvs_rules lb1)" ] || lab_fail "no IPVS services while BIRD is down"
bgp_bird_start lb1 "$LAB_OUT/lb1/bird.conf"
lab_wait_for "kvlb_ctl lb1 get bgp -o json | grep -F '\"loaded\": true'" 10 || { kvlb_ctl lb1 get bgp; lab_fail "kvlbd did not load its config once BIRD ran"; }
bgp_lb_start lb2
ha_wait_role lb1 MASTER 15
ha_wait_role lb2 BACKUP 5

lab_step "rtr: both sessions Established"
lab_wait_for "bgp_established rtr lb1 && bgp_established rtr lb2" 30 || { bgp_birdc rtr show protocols all; lab_fail "sessions not established"; }
bgp_birdc rtr show protocols
kvlb_ctl lb1 get bgp
kvlb_ctl lb2 get bgp

lab_step "rtr: the VIP via the MASTER is best, the BACKUP's path is worse; the kernel route points to the MASTER"
lab_wait_for "[ \"\$(bgp_rtr_nexthop $HA_VIP)\" = 10.0.9.1 ]" 10 || { ip -n rtr route; lab_fail "rtr's route to the VIP is not via lb1"; }
routes=$(bgp_birdc rtr show route "$HA_VIP/32" all)
echo "$routes"
best=$(echo "$routes" | grep -E "^$HA_VIP/32 +unicast .* \* " || true)
[[ $best == *"[lb1 "* ]] || lab_fail "the best path is not lb1's"
echo "$routes" | grep -F "BGP.as_path: $BGP_LB_AS $BGP_LB_AS $BGP_LB_AS $BGP_LB_AS" >/dev/null ||
	lab_fail "no path with the BACKUP's AS path prepended three times"
lab_assert_eq 2 "$(echo "$routes" | grep -c 'BGP.as_path:')" "rtr has the VIP from both nodes"
ip -n rtr route show "$HA_VIP"
out=$(lab_client --proto tcp --target "$HA_VIP" --port 1001 --count 12)
echo "    $out"
lab_assert_eq 0 "$(lab_json "$out" failures)" "the client behind rtr reaches the VIP (default mode)"
out=$(lab_client --proto tcp --target "$HA_VIP" --port 1003 --count 12)
lab_assert_eq 0 "$(lab_json "$out" failures)" "the client behind rtr reaches the VIP (fullnat)"

since_lb1=$(bgp_birdc rtr show protocols lb1 | awk '$1 == "lb1" {print $5}')
lab_step "a service on a new VIP is announced within 1 s, and withdrawn within 1 s; no session reset"
new_vip=20.20.20.5
# change_services: the BACKUP's config first, then the MASTER's, which is
# told at once (SIGHUP, as after a deployment), and the clock starts.
change_services() {
	ha_config lb2 100
	ha_config lb1 150
	t0=$(date +%s%N)
	kill -HUP "${HA_PID[lb1]}"
}
HA_EXTRA_SERVICES="{name: lab/extra, vip: $new_vip, port: 80, protocol: tcp, endpoints: @EPS@}"
change_services
lab_wait_for "[ \"\$(bgp_rtr_nexthop $new_vip)\" = 10.0.9.1 ]" 5 || { bgp_birdc rtr show route; lab_fail "the new VIP was not announced"; }
added_ms=$((($(date +%s%N) - t0) / 1000000))
lab_log "new VIP in rtr's kernel table ${added_ms} ms after the change reached kvlbd"
((added_ms < 1000)) || lab_fail "announcing took ${added_ms} ms (bound 1000 ms)"
HA_EXTRA_SERVICES=""
change_services
lab_wait_for "[ -z \"\$(bgp_rtr_nexthop $new_vip)\" ]" 5 || lab_fail "the removed VIP was not withdrawn"
removed_ms=$((($(date +%s%N) - t0) / 1000000))
lab_log "removed VIP gone from rtr's kernel table ${removed_ms} ms after the change reached kvlbd"
((removed_ms < 1000)) || lab_fail "withdrawing took ${removed_ms} ms (bound 1000 ms)"
lab_assert_eq "$since_lb1" "$(bgp_birdc rtr show protocols lb1 | awk '$1 == "lb1" {print $5}')" "the session with lb1 was not reset"

lab_step "BIRD in lb1 restarts: kvlbd's config is running again, the route comes back"
kill "${BGP_BIRD_PID[lb1]}"
wait "${BGP_BIRD_PID[lb1]}" 2>/dev/null || true
bgp_bird_start lb1 "$LAB_OUT/lb1/bird.conf"
lab_wait_for "bgp_established rtr lb1 && [ \"\$(bgp_rtr_nexthop $HA_VIP)\" = 10.0.9.1 ]" 20 || lab_fail "lb1 did not announce the VIP again"
lab_wait_for "kvlb_ctl lb1 get bgp -o json | grep -F '\"loaded\": true'" 10 || { kvlb_ctl lb1 get bgp; lab_fail "kvlbd does not see its config running"; }
lab_ns lb1 curl -s http://127.0.0.1:7711/metrics | grep -F 'kvlb_bgp_peer_established{peer="peer_10_0_9_254"} 1' >/dev/null ||
	lab_fail "metric kvlb_bgp_peer_established is not 1"

lab_step "hard death of MASTER lb1 (BFD on): rtr's route moves to lb2 within 1 s"
t0=$(date +%s%N)
ha_kill_hard lb1
lab_wait_for "[ \"\$(bgp_rtr_nexthop $HA_VIP)\" = 10.0.9.2 ]" 10 || { bgp_birdc rtr show route all; lab_fail "rtr's route did not move to lb2"; }
moved_ms=$((($(date +%s%N) - t0) / 1000000))
lab_log "rtr's kernel route to the VIP via lb2 ${moved_ms} ms after lb1's links went down"
((moved_ms < 1000)) || lab_fail "the route took ${moved_ms} ms to move (bound 1000 ms)"
ha_wait_role lb2 MASTER 5
lab_wait_for "bgp_birdc rtr show route $HA_VIP/32 all | grep -F 'BGP.as_path: $BGP_LB_AS' | grep -v '$BGP_LB_AS $BGP_LB_AS'" 5 ||
	lab_fail "the new MASTER lb2 does not announce the VIP plainly"
out=$(lab_client --proto tcp --target "$HA_VIP" --port 1003 --count 12)
lab_assert_eq 0 "$(lab_json "$out" failures)" "the client reaches the VIP through the new MASTER"

echo "bgp_announce: passed"
