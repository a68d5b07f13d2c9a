#!/bin/bash
# Hitless failover between two kvlbd nodes under live TCP, UDP and SCTP
# traffic in every NAT mode (run: tests/lab/run tests/lab/drills/ha_failover.sh;
# in the test suite as lab.ha_failover_drill): hard death of the MASTER, the
# old MASTER's return (no preemption), a graceful stop, failovers back and
# forth, a cut sync link, a split brain, and a hard death half a second into
# new flows. The drill (bench/failover_drill.py) counts resets, lost
# messages, moves to another endpoint and each flow's stall.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kvlb.sh"
. "$(dirname "$0")/../ha.sh"

# Under software emulation 2 vCPUs carry every process of the lab: the
# message rate is what they can echo without the drill itself stalling.
DRILL_TCP=${DRILL_TCP:-200} DRILL_UDP=${DRILL_UDP:-50} DRILL_SCTP=${DRILL_SCTP:-20}
DRILL_INTERVAL_MS=${DRILL_INTERVAL_MS:-200}
SYNC_CUT_SECONDS=${SYNC_CUT_SECONDS:-30}

ha_topology
lab_servers_start 8080
ha_config lb1 150
ha_config lb2 100
ha_targets ${DRILL_SCTP_MODES:-default onearm fullnat}

lab_step "kvlbd in lb1 (priority 150) and lb2 (100): lb1 becomes MASTER, lb2 BACKUP"
"$KVLBD" --config "$LAB_OUT/lb1/kvlb.yaml" --check
ha_start_pair
lab_assert_eq "$(ipvs_rules lb1)" "$(ipvs_rules lb2)" "the BACKUP has the same IPVS services"
lab_ns lb1 ipvsadm -L --daemon | grep -F "master sync daemon (mcast=sync0" >/dev/null || lab_fail "no IPVS master sync daemon on lb1"
lab_ns lb2 ipvsadm -L --daemon | grep -F "backup sync daemon (mcast=sync0" >/dev/null || lab_fail "no IPVS backup sync daemon on lb2"

lab_step "under traffic: the BACKUP learns the MASTER's connections (IPVS sync, conntrackd)"
drill hard 25
sleep 3
lab_ns lb2 ipvsadm -Lnc | grep -c "$HA_VIP" >"$LAB_OUT/backup-ipvs-conns" || true
lab_log "lb2 (BACKUP) IPVS connections to the VIP: $(cat "$LAB_OUT/backup-ipvs-conns")"
(($(cat "$LAB_OUT/backup-ipvs-conns") >= DRILL_TCP)) || { lab_ns lb2 ipvsadm -Lnc | head -20; lab_fail "the BACKUP's IPVS lacks the MASTER's connections"; }
# conntrackd's cache shows the original tuple only; the SNAT mapping is
# checked in the kernel table once lb2 has committed it (below).
lab_ns lb2 conntrackd -C /run/kvlb-lb2/conntrackd.conf -e >"$LAB_OUT/backup-external-cache" 2>&1 || true
fullnat_tcp=$(grep -c "dport=1003 " "$LAB_OUT/backup-external-cache" || true)
lab_log "lb2 conntrackd external cache: $(wc -l <"$LAB_OUT/backup-external-cache") entries, $fullnat_tcp of fullnat TCP (port 1003)"
((fullnat_tcp >= DRILL_TCP / 3)) || { head -5 "$LAB_OUT/backup-external-cache"; lab_fail "conntrackd did not sync every fullnat TCP flow"; }

lab_step "hard death of MASTER lb1 (links cut, processes killed): lb2 takes over"
mark hard kill-master
ha_kill_hard lb1
ha_wait_role lb2 MASTER 5
kvlb_ctl lb2 get ha
drill_end hard
verdict hard 1000
snat_mapped=$(lab_ns lb2 conntrack -L -p tcp 2>/dev/null | grep -cE "dport=1003 .*src=10\.0\.2\.2[123] dst=${HA_VIP//./\\.} sport=8080" || true)
lab_log "lb2 conntrack after takeover: $snat_mapped fullnat TCP entries with the reply to the VIP (SNAT)"
((snat_mapped >= DRILL_TCP / 3)) || lab_fail "the new MASTER lacks the fullnat flows' SNAT mapping"
grep -F "MASTER in" "$LAB_OUT/kvlbd-lb2.log" | tail -1

lab_step "the old MASTER returns: preemption is off, lb2 stays MASTER"
drill return 12
ha_revive lb1
ha_wait_role lb1 BACKUP 10
sleep 3
lab_assert_eq MASTER "$(ha_role lb2)" "lb2 still MASTER"
lab_assert_eq BACKUP "$(ha_role lb1)" "lb1 still BACKUP"
ha_holds_vip lb1 && lab_fail "returning lb1 holds the VIP"
lab_assert_eq 0 "$(ha_became_master lb1)" "returning lb1 never became MASTER"
drill_end return
verdict return 500
sleep 5  # lb1 gets the connections of flows it has not seen yet (IPVS sync refresh, conntrackd bulk)
# ipvs_conns NS PROTO: established IPVS connections of that protocol to the
# VIP (UDP: all). Closed ones of earlier drills linger on the MASTER
# (TIME_WAIT; UDP until their timeout) and are not synced to a node that
# returned after they closed.
ipvs_conns() {
	lab_ns "$1" ipvsadm -Lnc | awk -v p="${2^^}" -v vip="$HA_VIP" '$1 == p && $5 ~ "^" vip ":" && (p == "UDP" || $3 == "ESTABLISHED")' | wc -l
}

lab_step "graceful stop of MASTER lb2: lb1 takes over at once (priority 0)"
drill graceful 15
sleep 3
lab_log "IPVS connections of tcp: lb2 (MASTER) $(ipvs_conns lb2 tcp), lb1 (BACKUP) $(ipvs_conns lb1 tcp)"
lab_assert_eq "$(ipvs_conns lb2 tcp)" "$(ipvs_conns lb1 tcp)" "the returned BACKUP has every established tcp connection of the MASTER"
# UDP and SCTP entries of earlier drills' flows outlive them on the MASTER:
# the returned BACKUP must hold at least the running drill's flows.
for proto in udp sctp; do
	flows=DRILL_${proto^^}
	lab_log "IPVS connections of $proto: lb2 (MASTER) $(ipvs_conns lb2 $proto), lb1 (BACKUP) $(ipvs_conns lb1 $proto), the drill's flows ${!flows}"
	(($(ipvs_conns lb1 $proto) >= ${!flows})) || lab_fail "the returned BACKUP lacks $proto flows of the drill"
done
mark graceful stop-master
ha_stop lb2
ha_wait_role lb1 MASTER 3
drill_end graceful
verdict graceful 500

lab_step "five failovers in 60 s, back and forth (graceful stops and restarts)"
ha_start lb2
ha_wait_role lb2 BACKUP 10
sleep 4
drill flap 70
for i in 1 2 3 4 5; do
	if [ "$(ha_role lb1)" = MASTER ]; then master=lb1 backup=lb2; else master=lb2 backup=lb1; fi
	# What the taking-over node knows beforehand, and has after (for a failed run).
	lab_ns "$backup" ipvsadm -Lnc >"$LAB_OUT/flap-$i-$backup-before.txt" 2>&1 || true
	mark flap "failover-$i"
	ha_stop "$master"
	ha_wait_role "$backup" MASTER 3
	sleep 1
	{ lab_ns "$backup" ipvsadm -Lnc; lab_ns "$backup" conntrack -L -p sctp; } >"$LAB_OUT/flap-$i-$backup-after.txt" 2>&1 || true
	ha_start "$master"
	ha_wait_role "$master" BACKUP 10
	sleep 5
done
drill_end flap
verdict flap 1000

lab_step "sync link cut for ${SYNC_CUT_SECONDS} s: an alarm within 5 s, no role change, resync when healed"
if [ "$(ha_role lb1)" = MASTER ]; then master=lb1 backup=lb2; else master=lb2 backup=lb1; fi
ip -n lb1 link set sync0 down
cut_at=$SECONDS
lab_wait_for "kvlb_ctl $backup get ha -o json | grep -F '\"alarm\": true' >/dev/null" 5 || lab_fail "no sync link alarm on $backup within 5 s"
lab_wait_for "kvlb_ctl $master get ha -o json | grep -F '\"alarm\": true' >/dev/null" 5 || lab_fail "no sync link alarm on $master within 5 s"
kvlb_ctl "$backup" get metrics 2>/dev/null | grep kvlb_ha_sync_link || true
grep -F "sync link sync0: no probe" "$LAB_OUT/kvlbd-$backup.log" >/dev/null || lab_fail "no sync link alarm in $backup's log"
sleep $((SYNC_CUT_SECONDS - (SECONDS - cut_at)))
lab_assert_eq MASTER "$(ha_role $master)" "no role change while the sync link is down"
lab_assert_eq BACKUP "$(ha_role $backup)" "no role change while the sync link is down"
ip -n lb1 link set sync0 up
lab_wait_for "kvlb_ctl $backup get ha -o json | grep -F '\"alarm\": false' >/dev/null" 10 || lab_fail "the alarm did not clear"
grep -F "arrive again; resyncing" "$LAB_OUT/kvlbd-$backup.log" >/dev/null || lab_fail "no resync after healing"

lab_step "split brain: adverts cut between the nodes, then healed: one MASTER within an interval"
for ns in lb1 lb2; do
	ip netns exec "$ns" nft -f - <<-'EOF'
		table inet splitbrain {
			chain in { type filter hook input priority -400; udp dport 7712 drop; }
			chain out { type filter hook output priority -400; udp dport 7712 drop; }
		}
	EOF
done
ha_wait_role "$backup" MASTER 5
ha_holds_vip lb1 && ha_holds_vip lb2 || lab_fail "expected both nodes to hold the VIP while split"
for ns in lb1 lb2; do ip netns exec "$ns" nft delete table inet splitbrain; done
sleep 0.3  # one interval (100 ms) plus the time these commands take to run
both=0
ha_holds_vip lb1 && ha_holds_vip lb2 && both=1
lab_assert_eq 0 "$both" "at most one node holds the VIP after the link healed"
ha_wait_role lb1 MASTER 3
ha_wait_role lb2 BACKUP 3

lab_step "new flows: the MASTER dies half a second after they started"
sleep 3  # lb2's backup sync daemon and conntrackd settle after the split
drill young 12
sleep 0.5
lab_log "lb2 (BACKUP) already has $(lab_ns lb2 ipvsadm -Lnc | grep -c "$HA_VIP" || true) IPVS connections to the VIP"
mark young kill-master
ha_kill_hard lb1
ha_wait_role lb2 MASTER 5
drill_end young
verdict young 1000
echo "ha_failover: passed"
