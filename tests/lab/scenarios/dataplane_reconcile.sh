#!/bin/bash
# kvlbd keeps the kernel matching its config and touches nothing else:
# zero writes when nothing changed (also across a restart), one endpoint
# edit is one change, removals clean up SNAT and VIPs, drift by other tools
# is repaired within 5 s, foreign IPVS services and nft tables survive, and an
# invalid config is refused without disturbing the running state.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kvlb.sh"

lab_basic_topology
lab_servers_start 8080

config=$LAB_OUT/kvlb.yaml
write_config() { # WEIGHT_OF_BE2 [EXTRA_SERVICES]
	cat >"$config.tmp" <<YAML
node: {name: lb1, interface: eth1}
reconcile: {drainTimeoutSeconds: 3, resyncIntervalSeconds: 2}
services:
  - name: lab/web
    vip: 20.20.20.1
    port: 80
    mode: fullnat
    endpoints:
      - {ip: 10.0.1.11, port: 8080}
      - {ip: 10.0.1.12, port: 8080, weight: $1}
      - {ip: 10.0.1.13, port: 8080}
  - name: lab/web-udp
    vip: 20.20.20.1
    port: 80
    protocol: udp
    mode: onearm
    endpoints: [{ip: 10.0.1.11, port: 8080}]
${2:-}
YAML
	mv "$config.tmp" "$config"  # atomic: kvlbd never reads half a file
}
v6_service='  - {name: lab/v6, vip: "fd00:20::1", port: 80, mode: fullnat, endpoints: [{ip: "fd00:1::11", port: 8080}]}'

lab_step "foreign state that kvlbd must never touch"
add_foreign_ipvs() {
	lab_ns lb1 ipvsadm -A -t 192.0.2.10:80 -s wlc
	lab_ns lb1 ipvsadm -a -t 192.0.2.10:80 -r 10.0.1.11:8080 -m
}
add_foreign_ipvs
lab_ns lb1 nft add table inet foreign
lab_ns lb1 nft add chain inet foreign input '{ type filter hook input priority 0; policy accept; }'
foreign_intact() {
	lab_ns lb1 ipvsadm -Sn | grep -q '^-a -t 192.0.2.10:80 -r 10.0.1.11:8080 -m' &&
		lab_ns lb1 nft list table inet foreign >/dev/null
}

write_config 1 "$v6_service"
kvlb_start "$config"
kvlb_wait_synced
lab_ns lb1 ipvsadm -Ln
foreign_intact || lab_fail "foreign state survived start"
applied=$(kvlb_counter lb1 opsApplied)
writes=$(kvlb_counter lb1 netlinkWrites)
lab_log "ops applied at start: $applied, netlink writes: $writes"

lab_step "resyncs with nothing changed write nothing"
sleep 4.5 # two resync periods, each a full read of the kernel
lab_assert_eq "$applied" "$(kvlb_counter lb1 opsApplied)" "no ops across resyncs"
lab_assert_eq "$writes" "$(kvlb_counter lb1 netlinkWrites)" "zero netlink writes across resyncs"
lab_assert_eq true "$([ "$(kvlb_counter lb1 fullReads)" -ge 3 ] && echo true)" "the kernel was re-read"

lab_step "a second kvlbd run on the same config changes nothing (restart)"
before=$(ipvs_rules)
out=$(lab_ns lb1 "$KVLBD" --config "$config" --state-dir "$LAB_OUT/state-lb1" --once 2>&1)
lab_log "$(tail -1 <<<"$out")"
grep -q 'applied 0 changes' <<<"$out" || { echo "$out"; lab_fail "restart applied changes"; }
lab_assert_eq "$before" "$(ipvs_rules)" "IPVS unchanged after restart"

lab_step "editing one endpoint changes only that endpoint"
write_config 5 "$v6_service"
lab_wait_for "lab_ns lb1 ipvsadm -Sn | grep -q -- '-r 10.0.1.12:8080 -m -w 5'" 5 || lab_fail "weight 5 not applied"
kvlb_wait_synced
lab_assert_eq '["UPDATE rs 20.20.20.1:80/tcp -> 10.0.1.12:8080 weight=5"]' "$(kvlb_status_field lb1 lastOps)" "exactly one op"
lab_assert_eq $((applied + 1)) "$(kvlb_counter lb1 opsApplied)" "exactly one op applied"
lab_assert_eq $((writes + 1)) "$(kvlb_counter lb1 netlinkWrites)" "exactly one netlink write"

lab_step "removing a service removes its IPVS service, SNAT entry and (unshared) VIP"
write_config 5 ""
lab_wait_for "! lab_ns lb1 ip -o addr show dev eth1 | grep -q 'fd00:20::1/128'" 5 || lab_fail "VIP fd00:20::1 not removed"
kvlb_wait_synced
lab_ns lb1 ipvsadm -Sn | grep -q 'fd00:20::1' && lab_fail "IPv6 service still in IPVS"
lab_ns lb1 nft list map inet kvlb snat6 | grep -q 'fd00:20::1' && lab_fail "IPv6 SNAT entry still there"
lab_ns lb1 ip -o addr show dev eth1 | grep ' 20.20.20.1/32 ' >/dev/null || lab_fail "shared VIP 20.20.20.1 must stay"
lab_log "ok: service, SNAT entry and VIP removed; the shared VIP stays"

lab_step "a removed endpoint with open connections is drained (weight 0), then deleted"
lab_client --proto tcp --target 20.20.20.1 --port 80 --count 40 --persistent --interval 0.2 >"$LAB_OUT/long.json" &
long=$!
lab_wait_for "lab_ns lb1 ipvsadm -Lnc | grep -q ESTABLISHED" 5
holder=$(lab_ns lb1 ipvsadm -Lnc | awk '/ESTABLISHED/ {print $NF; exit}')
holder_ip=${holder%:*}
lab_log "connection held by $holder"
sed "/ip: $holder_ip,/d" "$config" >"$config.tmp" && mv "$config.tmp" "$config"
lab_wait_for "lab_ns lb1 ipvsadm -Sn | grep -q -- '-r $holder -m -w 0'" 5 || lab_fail "$holder not drained"
lab_log "ok: $holder drained to weight 0"
lab_wait_for "! lab_ns lb1 ipvsadm -Sn | grep -q -- '-t 20.20.20.1:80 -r $holder'" 10 || lab_fail "$holder not deleted after the drain timeout"
lab_log "ok: $holder deleted after the drain timeout"
wait $long || true  # the drained connection ends when its endpoint is deleted
served=$("$LAB_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["answers"].get(sys.argv[2], 0))' \
	"$LAB_OUT/long.json" "be${holder_ip##*.1}")
lab_assert_eq true "$([ "$served" -ge 10 ] && echo true)" "the drained endpoint kept serving its connection ($served answers) until the timeout"

lab_step "drift: ipvsadm -C is repaired within 5 s"
write_config 5 ""
lab_wait_for "lab_ns lb1 ipvsadm -Sn | grep -q -- '-t 20.20.20.1:80 -r $holder'" 5 || lab_fail "$holder not back"
kvlb_wait_synced
before=$(ipvs_rules | grep -v 192.0.2.10)
lab_ns lb1 ipvsadm -C
start=$SECONDS
lab_wait_for "[ \"\$(ipvs_rules | grep -v 192.0.2.10)\" = \"\$before\" ]" 5 || lab_fail "IPVS not repaired within 5 s"
lab_log "ok: repaired in $((SECONDS - start)) s"
add_foreign_ipvs # ipvsadm -C took the foreign service too; it must survive what follows

lab_step "drift: deleting kvlb's nft table is repaired within 5 s"
lab_ns lb1 nft delete table inet kvlb
lab_wait_for "lab_ns lb1 nft list map inet kvlb snat4 | grep -q '20.20.20.1 . tcp . 80 : 20.20.20.1'" 5 || lab_fail "nft table not repaired"
lab_log "ok: table back"
lab_ns lb1 nft delete rule inet kvlb postrouting handle "$(lab_ns lb1 nft -a list chain inet kvlb postrouting | awk '/snat ip to/ {print $NF}')"
lab_wait_for "lab_ns lb1 nft list chain inet kvlb postrouting | grep -q 'snat ip to'" 5 || lab_fail "deleted SNAT rule not repaired"
lab_log "ok: a deleted rule is repaired too"

lab_step "an invalid config is refused; the running state stays"
before=$(ipvs_rules)
cp "$config" "$LAB_OUT/good.yaml"
sed -i 's/port: 80$/port: 0/' "$config"
set +e
check_out=$("$KVLBD" --config "$config" --check 2>&1)
rc=$?
set -e
lab_log "$check_out"
lab_assert_eq 2 "$rc" "kvlbd --check exits 2"
grep -q "kvlb.yaml:6: services\[0\].port: must be 1..65535 (got 0)" <<<"$check_out" || lab_fail "message names file, line and field"
kill -HUP "$KVLB_PID"
sleep 3
grep -q 'config invalid: keeping the running state' "$LAB_OUT/kvlbd-lb1.log" || lab_fail "reload refusal not logged"
lab_assert_eq "$before" "$(ipvs_rules)" "IPVS unchanged by the invalid config"
check=$(lab_client --proto tcp --target 20.20.20.1 --port 80 --count 6)
lab_assert_eq 0 "$(lab_json "$check" failures)" "traffic still flows"
cp "$LAB_OUT/good.yaml" "$config"

lab_step "foreign state survived everything"
foreign_intact || lab_fail "foreign IPVS service or nft table was touched"
lab_log "ok"
echo "dataplane_reconcile: all checks passed"
