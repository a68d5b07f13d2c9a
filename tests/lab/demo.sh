#!/bin/bash
# The demo: kvlbd in lb1 with examples/kvlb.yaml; TCP, UDP and SCTP traffic
# from the client through each NAT mode; shows what the kernel holds and which
# endpoint answered, seeing which source address.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kvlb.sh"

lab_basic_topology
lab_servers_start 8080
kvlb_start "$KVLB_SRC_DIR/examples/kvlb.yaml"
kvlb_wait_synced

lab_step "kvlbctl get lb"
kvlb_ctl lb1 get lb
lab_step "ipvsadm -Ln"
lab_ns lb1 ipvsadm -Ln
lab_step "nft list table inet kvlb"
lab_ns lb1 nft list table inet kvlb
lab_step "ip addr show dev eth1 (VIPs are tagged proto 0x6b)"
lab_ns lb1 ip addr show dev eth1

lab_step "traffic from the client (10.10.0.2): which endpoint answered, seeing which source"
printf '    %-26s %-6s %-8s %-42s %s\n' SERVICE PROTO MODE ANSWERS "SOURCE SEEN BY ENDPOINT"
while read -r name port proto mode count; do
	out=$(lab_client --proto "$proto" --target 20.20.20.1 --port "$port" --count "$count")
	printf '    %-26s %-6s %-8s %-42s %s\n' "$name" "$proto" "$mode" "$(lab_json "$out" answers)" "$(lab_json "$out" sources)"
done <<'LIST'
default/tcp-lb-default 56003 tcp default 30
default/tcp-lb-fullnat 56002 tcp fullnat 60
default/udp-lb-onearm 56006 udp onearm 30
default/sctp-lb-fullnat 56004 sctp fullnat 30
default/sctp-lb-default 56005 sctp default 30
LIST

lab_step "kvlbctl get ep"
kvlb_ctl lb1 get ep
lab_step "kvlbctl get ct (a long-lived TCP connection through the fullnat service)"
lab_client --proto tcp --target 20.20.20.1 --port 56002 --count 8 --persistent --interval 0.5 >/dev/null &
long_client=$!
lab_wait_for "lab_ns lb1 conntrack -L -p tcp --orig-port-dst 56002 --state ESTABLISHED 2>/dev/null | grep -q ESTABLISHED" 10
kvlb_ctl lb1 get ct | grep -E '^\| SERVICE|^\|-|ESTABLISHED'
lab_step "conntrack -L (the same connection, as the kernel shows it)"
lab_ns lb1 conntrack -L -p tcp --orig-port-dst 56002 --state ESTABLISHED 2>/dev/null
wait "$long_client"
echo
echo "demo: done (kvlbd log: $LAB_OUT/kvlbd-lb1.log)"
