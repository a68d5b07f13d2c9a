#!/bin/bash
# Smoke test of the lab itself: hand-made IPVS rr services (TCP, UDP, SCTP;
# IPv4 and IPv6) in lb1 spread requests evenly over three backends, then an
# nft SNAT on top of IPVS (conntrack=1) changes the source backends see.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

VIP4=20.20.20.1
VIP6=fd00:20::1

lab_basic_topology
lab_servers_start 8080

lab_step "IPVS rr services on $VIP4:80 and [$VIP6]:80 -> backends :8080 (masquerade)"
lab_ns lb1 ip addr add $VIP4/32 dev eth1
lab_ns lb1 ip addr add $VIP6/128 dev eth1 nodad
for flag in -t -u --sctp-service; do
	lab_ns lb1 ipvsadm -A $flag $VIP4:80 -s rr
	lab_ns lb1 ipvsadm -A $flag "[$VIP6]:80" -s rr
	for n in 1 2 3; do
		lab_ns lb1 ipvsadm -a $flag $VIP4:80 -r 10.0.1.1$n:8080 -m
		lab_ns lb1 ipvsadm -a $flag "[$VIP6]:80" -r "[fd00:1::1$n]:8080" -m
	done
done
# Short UDP timeout, so entries of one round (UDP ones stick to their
# backend) are gone before the next round.
lab_ns lb1 ipvsadm --set 0 0 2
lab_ns lb1 ipvsadm -Ln

# check PROTO VIP EXPECTED_SOURCE: 30 requests, 10 per backend, all seen from EXPECTED_SOURCE.
check() {
	local out
	out=$(lab_client --proto "$1" --target "$2" --port 80 --count 30)
	lab_log "$1 $2: $out"
	lab_assert_eq '{"be1":10,"be2":10,"be3":10}' "$(lab_json "$out" answers)" "$1 $2 rr spreads 10/10/10"
	lab_assert_eq "{\"$3\":30}" "$(lab_json "$out" sources)" "$1 $2 backends see $3"
	lab_assert_eq 0 "$(lab_json "$out" failures)" "$1 $2 no failures"
}

lab_step "rr over 30 requests, backends see the client"
for proto in tcp udp sctp; do
	check $proto $VIP4 10.10.0.2
	check $proto $VIP6 fd00:10::2
done

lab_step "nft SNAT to the VIP on IPVS traffic (net.ipv4.vs.conntrack=1)"
lab_wait_for '! lab_ns lb1 ipvsadm -Lnc | grep -q ^UDP' 10
lab_ns lb1 sysctl -qw net.ipv4.vs.conntrack=1
lab_ns lb1 nft -f - <<NFT
table inet labsnat {
	chain post {
		type nat hook postrouting priority srcnat;
		ct original ip daddr $VIP4 snat ip to $VIP4
		ct original ip6 daddr $VIP6 snat ip6 to $VIP6
	}
}
NFT
for proto in tcp udp sctp; do
	check $proto $VIP4 $VIP4
	check $proto $VIP6 $VIP6
done
lab_ns lb1 conntrack -L 2>/dev/null | head -n 5 || true

lab_step "smoke: PASS"
