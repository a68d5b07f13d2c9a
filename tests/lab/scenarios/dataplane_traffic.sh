#!/bin/bash
# kvlbd programs IPVS, nftables SNAT and VIPs from its config; traffic from
# the client reaches the endpoints for every protocol and NAT mode, the
# schedulers spread it as configured, and the endpoints see the source each
# mode promises (default: the client, onearm: the node, fullnat: the VIP).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kvlb.sh"

lab_basic_topology
lab_servers_start 8080

config=$LAB_OUT/kvlb.yaml
eps='[{ip: 10.0.1.11, port: 8080}, {ip: 10.0.1.12, port: 8080}, {ip: 10.0.1.13, port: 8080}]'
eps6="[{ip: 'fd00:1::11', port: 8080}, {ip: 'fd00:1::12', port: 8080}, {ip: 'fd00:1::13', port: 8080}]"
{
	echo "node: {name: lb1, interface: eth1}"
	echo "services:"
	port=1000
	for proto in tcp udp sctp; do
		for mode in default onearm fullnat; do
			port=$((port + 1))
			echo "  - {name: lab/$proto-$mode, vip: 20.20.20.1, port: $port, protocol: $proto, mode: $mode, endpoints: $eps}"
			echo "  - {name: lab/$proto-$mode-v6, vip: 'fd00:20::1', port: $port, protocol: $proto, mode: $mode, endpoints: $eps6}"
		done
	done
	echo "  - {name: lab/wrr, vip: 20.20.20.1, port: 2001, scheduler: wrr, endpoints: [{ip: 10.0.1.11, port: 8080, weight: 1}, {ip: 10.0.1.12, port: 8080, weight: 2}, {ip: 10.0.1.13, port: 8080, weight: 3}]}"
	echo "  - {name: lab/sh, vip: 20.20.20.1, port: 2002, scheduler: sh, endpoints: $eps}"
	echo "  - {name: lab/sticky, vip: 20.20.20.1, port: 2003, scheduler: rr, persistence: 300, endpoints: $eps}"
	echo "  - {name: lab/snat-address, vip: 20.20.20.2, port: 2004, mode: fullnat, snatAddress: 20.20.20.9, endpoints: $eps}"
	echo "  - {name: lab/empty, vip: 20.20.20.3, port: 2005, protocol: udp, endpoints: []}"
} >"$config"

lab_step "kvlbd --check, then start it in lb1"
"$KVLBD" --config "$config" --check
kvlb_start "$config"
kvlb_wait_synced
kvlb_ctl lb1 get lb
lab_ns lb1 ipvsadm -Ln
lab_ns lb1 nft list table inet kvlb
lab_ns lb1 ip addr show dev eth1
lab_ns lb1 ipvsadm --set 0 0 2  # short UDP timeout: each round starts from fresh IPVS entries

lab_step "the kernel holds exactly what the config says"
lab_assert_eq 23 "$(lab_ns lb1 ipvsadm -Sn | grep -c '^-A')" "23 virtual services"
lab_assert_eq 66 "$(lab_ns lb1 ipvsadm -Sn | grep -c '^-a')" "66 real servers"
lab_assert_eq 66 "$(lab_ns lb1 ipvsadm -Sn | grep '^-a' | grep -c ' -m -w ')" "forwarding is masquerading"
lab_assert_eq "-A -t 20.20.20.1:2003 -s rr -p 300" "$(lab_ns lb1 ipvsadm -Sn | grep '^-A -t 20.20.20.1:2003')" "persistence 300"
host_addresses=$(lab_ns lb1 ip -o addr show dev eth1 | awk '$4 ~ /\/(32|128)$/ {print $4}' | sort | tr '\n' ' ')
lab_assert_eq "20.20.20.1/32 20.20.20.2/32 20.20.20.3/32 fd00:20::1/128 " "$host_addresses" "exactly the VIPs on eth1"
nft_text=$(lab_ns lb1 nft list table inet kvlb)
for element in "20.20.20.1 . tcp . 1002 : 10.10.0.1" "20.20.20.1 . tcp . 1003 : 20.20.20.1" \
	"20.20.20.2 . tcp . 2004 : 20.20.20.9" "fd00:20::1 . sctp . 1009 : fd00:20::1" "fd00:20::1 . udp . 1005 : fd00:10::1"; do
	grep -qF "$element" <<<"$nft_text" || lab_fail "nft map element '$element' missing"
done
lab_assert_eq 4 "$(grep -cE 'snat ip6? to|@drop_vips[46] drop' <<<"$nft_text")" \
	"rule count does not grow per service (2 SNAT + 2 guard rules)"
lab_assert_eq 0 "$(grep -cE '1001|1004|1007' <<<"$nft_text" || true)" "no SNAT for default mode"

# check PROTO VIP PORT EXPECTED_ANSWERS EXPECTED_SOURCE [COUNT]
check() {
	local out
	out=$(lab_client --proto "$1" --target "$2" --port "$3" --count "${6:-30}")
	lab_log "$1 $2 port $3: $out"
	lab_assert_eq "$4" "$(lab_json "$out" answers)" "$1 [$2]:$3 answers"
	lab_assert_eq "$5" "$(lab_json "$out" sources)" "$1 [$2]:$3 seen from"
}
even='{"be1":10,"be2":10,"be3":10}'

lab_step "every protocol x NAT mode, IPv4 and IPv6: rr spreads 10/10/10, sources as the mode says"
port=1000
for proto in tcp udp sctp; do
	for mode in default onearm fullnat; do
		port=$((port + 1))
		case $mode in
		default) src4=10.10.0.2 src6=fd00:10::2 ;;
		onearm) src4=10.10.0.1 src6=fd00:10::1 ;;
		fullnat) src4=20.20.20.1 src6=fd00:20::1 ;;
		esac
		check $proto 20.20.20.1 $port "$even" "{\"$src4\":30}"
		check $proto fd00:20::1 $port "$even" "{\"$src6\":30}"
	done
done

lab_step "wrr 1:2:3 over 60 requests"
check tcp 20.20.20.1 2001 '{"be1":10,"be2":20,"be3":30}' '{"10.10.0.2":60}' 60

lab_step "sh and persistence keep one client on one endpoint"
for port in 2002 2003; do
	out=$(lab_client --proto tcp --target 20.20.20.1 --port $port --count 20)
	lab_log "port $port: $out"
	lab_assert_eq 1 "$("$LAB_PYTHON" -c 'import json,sys; print(len(json.loads(sys.argv[1])["answers"]))' "$out")" "port $port: one endpoint"
	lab_assert_eq 20 "$("$LAB_PYTHON" -c 'import json,sys; print(sum(json.loads(sys.argv[1])["answers"].values()))' "$out")" "port $port: all 20 answered"
done

lab_step "snatAddress overrides the VIP as SNAT source"
lab_ns lb1 ip addr add 20.20.20.9/32 dev eth1  # the operator's floating source address
check tcp 20.20.20.2 2004 "$even" '{"20.20.20.9":30}'

lab_step "kvlbctl shows services, endpoints and connections"
kvlb_ctl lb1 get lb | tee "$LAB_OUT/get-lb.txt"
grep -q '| 20.20.20.1 *| 1003 *| tcp *| lab/tcp-fullnat *| rr *| fullnat *| 3 *| programmed' "$LAB_OUT/get-lb.txt" ||
	lab_fail "get lb row for lab/tcp-fullnat"
ep_json=$(kvlb_ctl lb1 get ep -o json)
lab_assert_eq '[["10.0.1.11:8080",1,1,"active"],["10.0.1.12:8080",2,2,"active"],["10.0.1.13:8080",3,3,"active"]]' \
	"$("$LAB_PYTHON" -c 'import json,sys; print(json.dumps([[e["endpoint"],e["weight"],e["kernelWeight"],e["state"]] for e in json.loads(sys.argv[1]) if e["service"]=="lab/wrr"], separators=(",",":")))' "$ep_json")" \
	"get ep: wrr endpoints with configured and kernel weights"
lb_json=$(kvlb_ctl lb1 get lb -o json)
lab_assert_eq '{"endpoints":3,"mode":"fullnat","name":"lab/snat-address","persistence":0,"port":2004,"programmed":true,"protocol":"tcp","scheduler":"rr","snat":"20.20.20.9","vip":"20.20.20.2"}' \
	"$("$LAB_PYTHON" -c 'import json,sys; print(json.dumps([x for x in json.loads(sys.argv[1]) if x["name"]=="lab/snat-address"][0], sort_keys=True, separators=(",",":")))' "$lb_json")" \
	"get lb -o json"
lab_client --proto tcp --target 20.20.20.1 --port 1003 --count 10 --persistent --interval 0.5 >/dev/null &
long_client=$!
lab_wait_for "lab_ns lb1 conntrack -L -p tcp --orig-dst 20.20.20.1 --orig-port-dst 1003 --state ESTABLISHED 2>/dev/null | grep -q ESTABLISHED" 10
kvlb_ctl lb1 get ct >"$LAB_OUT/get-ct.txt"
grep ESTABLISHED "$LAB_OUT/get-ct.txt"
grep -q 'lab/tcp-fullnat.*10.10.0.2:.*20.20.20.1:1003.*10.0.1.1[123]:8080.*20.20.20.1:.*tcp.*ESTABLISHED' "$LAB_OUT/get-ct.txt" ||
	lab_fail "get ct shows the fullnat connection with endpoint and SNAT source"
wait "$long_client"
kvlb_ctl lb1 get ct -o json >/dev/null
echo "dataplane_traffic: all checks passed"
