#!/bin/bash
# Two kvlbd nodes, one instance: election, addresses on the MASTER only, the
# IPVS sync daemons following the roles, adverts that are not authentic
# dropped and counted, a hard death of the MASTER under live TCP, UDP and
# SCTP traffic in every NAT mode (no reset, no flow moved, stall under a second,
# the SNAT mapping in the new MASTER's conntrack), a split brain healed to
# one MASTER, a cut sync link raising an alarm without a role change, and
# the old MASTER's return without a takeover, and with preemption on, a
# takeover only once synced, and a graceful stop of the MASTER (stall under
# 0.5 s). The full drill (many more flows, five failovers) is
# tests/lab/drills/ha_failover.sh.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kvlb.sh"
. "$(dirname "$0")/../ha.sh"

DRILL_TCP=15 DRILL_UDP=6 DRILL_SCTP=6 DRILL_INTERVAL_MS=200
# Adverts every 50 ms: a MASTER is declared down after about 190 ms, so the
# outage stays below TCP's second retransmission even under emulation.
HA_INTERVAL_MS=50
ha_targets default onearm fullnat  # SCTP in every NAT mode too
ha_topology
lab_servers_start 8080
ha_config lb1 150
ha_config lb2 100

lab_step "lb1 (priority 150) becomes MASTER, lb2 (100) BACKUP; addresses on the MASTER only"
ha_start_pair
ip -n lb1 -o addr show dev eth1 | grep -F " 10.0.2.1/32 " >/dev/null || lab_fail "MASTER lb1 lacks the floating gateway"
lab_assert_eq "$(ipvs_rules lb1)" "$(ipvs_rules lb2)" "the BACKUP has the same IPVS services"
lab_ns lb1 ipvsadm -L --daemon | grep -F "master sync daemon (mcast=sync0, syncid=1" >/dev/null || lab_fail "no IPVS master sync daemon on lb1"
lab_ns lb2 ipvsadm -L --daemon | grep -F "backup sync daemon (mcast=sync0, syncid=1" >/dev/null || lab_fail "no IPVS backup sync daemon on lb2"
lab_assert_eq "" "$(lab_ns lb2 ipvsadm -L --daemon | grep master || true)" "no master sync daemon on the BACKUP"
lab_assert_eq 0 "$(lab_ns lb1 nft list set inet kvlb drop_vips4 | grep -c "$HA_VIP" || true)" "no VIP dropped once the takeover is done"

lab_step "adverts that are not authentic are dropped and counted; the roles stay"
lab_ns client "$LAB_PYTHON" - <<-'PY'
	import socket
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	for payload in (b"garbage", b"KVLB" + b"\x01" * 40, b"KVLB\x01" + b"\x00" * 103):
	    s.sendto(payload, ("10.0.9.2", 7712))
PY
lab_wait_for "[ \"\$(kvlb_ctl lb2 get ha -o json | \"$LAB_PYTHON\" -c 'import json,sys; a=json.load(sys.stdin)[\"adverts\"]; print(a[\"malformed\"] + a[\"badAuth\"] + a[\"unknownPeer\"])')\" -ge 3 ]" 5 ||
	{ kvlb_ctl lb2 get ha; lab_fail "bad adverts not counted"; }
grep -F "ha: dropped an advert from 10.0.9.10" "$LAB_OUT/kvlbd-lb2.log" >/dev/null || lab_fail "no log line for a dropped advert"
lab_assert_eq MASTER "$(ha_role lb1)" "lb1 still MASTER"
lab_assert_eq BACKUP "$(ha_role lb2)" "lb2 still BACKUP"

lab_step "sync link cut: an alarm within 5 s, no role change; cleared when healed"
ip -n lb1 link set sync0 down
lab_wait_for "kvlb_ctl lb2 get ha -o json | grep -F '\"alarm\": true' >/dev/null" 5 || lab_fail "no sync link alarm on lb2 within 5 s"
lab_ns lb2 curl -s http://127.0.0.1:7711/metrics | grep -F "kvlb_ha_sync_link_up 0" >/dev/null || lab_fail "metric kvlb_ha_sync_link_up is not 0"
grep -F "sync link sync0: no probe" "$LAB_OUT/kvlbd-lb2.log" >/dev/null || lab_fail "no sync link alarm in the log"
sleep 2
lab_assert_eq MASTER "$(ha_role lb1)" "no role change while the sync link is down"
lab_assert_eq BACKUP "$(ha_role lb2)" "no role change while the sync link is down"
ip -n lb1 link set sync0 up
lab_wait_for "kvlb_ctl lb2 get ha -o json | grep -F '\"alarm\": false' >/dev/null" 10 || lab_fail "the alarm did not clear"

lab_step "split brain: adverts cut both ways make two MASTERs; healed, one within an interval"
for ns in lb1 lb2; do
	ip netns exec "$ns" nft -f - <<-'EOF'
		table inet splitbrain {
			chain in { type filter hook input priority -400; udp dport 7712 drop; }
			chain out { type filter hook output priority -400; udp dport 7712 drop; }
		}
	EOF
done
ha_wait_role lb2 MASTER 5
ha_holds_vip lb1 && ha_holds_vip lb2 || lab_fail "expected both nodes to hold the VIP while split"
for ns in lb1 lb2; do ip netns exec "$ns" nft delete table inet splitbrain; done
sleep 0.3  # one interval (50 ms) plus the time these commands take
both=0
ha_holds_vip lb1 && ha_holds_vip lb2 && both=1
lab_assert_eq 0 "$both" "at most one node holds the VIP after the link healed"
ha_wait_role lb1 MASTER 3  # priority 150 wins
ha_wait_role lb2 BACKUP 3
lab_step "under traffic, the BACKUP has the MASTER's IPVS connections"
drill hard 20
sleep 3
conns=$(lab_ns lb2 ipvsadm -Lnc | grep -c "$HA_VIP" || true)
lab_log "lb2 (BACKUP) IPVS connections to the VIP: $conns of $((DRILL_TCP + DRILL_UDP + DRILL_SCTP)) flows"
((conns >= DRILL_TCP + DRILL_UDP + DRILL_SCTP)) || { lab_ns lb2 ipvsadm -Lnc | head; lab_fail "the BACKUP lacks IPVS connections"; }

lab_step "hard death of MASTER lb1: lb2 takes over; no reset, no flow moved, stall under 1 s"
mark hard kill-master
ha_kill_hard lb1
ha_wait_role lb2 MASTER 5
drill_end hard
verdict hard 1000
grep -F "MASTER in" "$LAB_OUT/kvlbd-lb2.log" | tail -1
snat_mapped=$(lab_ns lb2 conntrack -L -p tcp 2>/dev/null | grep -cE "dport=1003 .*src=10\.0\.2\.2[123] dst=20\.20\.20\.1 sport=8080" || true)
lab_log "lb2 conntrack: $snat_mapped fullnat TCP entries replying to the VIP (the SNAT mapping)"
((snat_mapped >= DRILL_TCP / 3)) || lab_fail "the new MASTER lacks the fullnat flows' SNAT mapping"

lab_step "the old MASTER returns: it hears lb2 at once and stays BACKUP (preemption is off)"
ha_revive lb1
ha_wait_role lb1 BACKUP 10
sleep 2
lab_assert_eq 0 "$(ha_became_master lb1)" "returning lb1 never became MASTER"
lab_assert_eq MASTER "$(ha_role lb2)" "lb2 still MASTER"
ha_holds_vip lb1 && lab_fail "returning lb1 holds the VIP"
lab_log "lb1 heard the MASTER after $(kvlb_ctl lb1 get ha -o json | "$LAB_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["adverts"]["hellosSent"])') hello(s)"

lab_step "with preemption on, lb1 (150) takes lb2 (100) back only once synced, without a reset"
ha_stop lb1  # a BACKUP's graceful stop: nothing moves
ha_config lb1 150 true
drill preempt 25
ha_start lb1
started=$(date +%s.%N)
ha_wait_role lb1 MASTER 20
took=$("$LAB_PYTHON" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$started" "$(date +%s.%N)")
lab_log "lb1 preempted ${took} s after its start: $(kvlb_ctl lb1 get ha -o json | "$LAB_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["instances"][0].get("lastChange", ""))')"
"$LAB_PYTHON" -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 5 else 1)" "$took" || lab_fail "lb1 preempted before its state could be synced (${took} s)"
grep -F "connection state synced" "$LAB_OUT/kvlbd-lb1.log" >/dev/null || lab_fail "lb1 preempted without being synced"
ha_wait_role lb2 BACKUP 5
ha_holds_vip lb2 && lab_fail "lb2 still holds the VIP after the preemption"
drill_end preempt
verdict preempt 1000

lab_step "graceful stop of MASTER lb1: lb2 takes over at once; stall under 0.5 s"
drill graceful 12
# The IPVS master sync daemon sends a new connection within 2 s (the
# kernel's flush time): younger flows are not on the BACKUP yet.
sleep 3
mark graceful stop-master
ha_stop lb1
ha_wait_role lb2 MASTER 3
grep -F "serves instance default after" "$LAB_OUT/kvlbd-lb1.log" || lab_fail "lb1 let go of its addresses before lb2 served the instance"
drill_end graceful
verdict graceful 500

echo "ha_pair: passed"
