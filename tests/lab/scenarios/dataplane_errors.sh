#!/bin/bash
# A kernel error on one object is reported (log, kvlbctl, metric) and every
# other object is still applied; a VIP the operator configured by hand is used
# as it is and never removed. The failing object: a service with scheduler
# `twos`, which kernels before 6.7 do not have.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kvlb.sh"

lab_basic_topology
lab_servers_start 8080
if modinfo ip_vs_twos >/dev/null 2>&1; then
	lab_fail "this kernel has ip_vs_twos: the scenario needs a scheduler the kernel lacks (run it in the lab guest)"
fi

lab_step "the operator put 20.20.20.5 on eth1 by hand"
lab_ns lb1 ip addr add 20.20.20.5/32 dev eth1

config=$LAB_OUT/kvlb.yaml
eps='[{ip: 10.0.1.11, port: 8080}, {ip: 10.0.1.12, port: 8080}, {ip: 10.0.1.13, port: 8080}]'
cat >"$config" <<YAML
node: {name: lb1, interface: eth1}
services:
  - {name: lab/good, vip: 20.20.20.1, port: 80, endpoints: $eps}
  - {name: lab/no-such-scheduler, vip: 20.20.20.1, port: 81, scheduler: twos, endpoints: $eps}
  - {name: lab/hand-made-vip, vip: 20.20.20.5, port: 80, mode: fullnat, endpoints: $eps}
YAML
kvlb_start "$config"

lab_step "the failing service is reported; the others are applied"
lab_wait_for "kvlb_ctl lb1 get status | grep -q 'add vs 20.20.20.1:81/tcp: No such file or directory'" 10 ||
	{ kvlb_ctl lb1 get status; lab_fail "error not reported by kvlbctl get status"; }
kvlb_ctl lb1 get status
grep -q 'add vs 20.20.20.1:81/tcp: No such file or directory' "$LAB_OUT/kvlbd-lb1.log" || lab_fail "error not logged"
metrics=$(lab_ns lb1 "$LAB_PYTHON" -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:7711/metrics").read().decode())')
errors=$(awk '/^kvlb_kernel_op_errors_total / {print $2}' <<<"$metrics")
lab_assert_eq true "$([ "${errors:-0}" -ge 1 ] && echo true)" "kvlb_kernel_op_errors_total counts it ($errors)"
lab_assert_eq "kvlb_synced 0" "$(grep '^kvlb_synced ' <<<"$metrics")" "kvlb_synced is 0"
kvlb_ctl lb1 get lb | tee "$LAB_OUT/get-lb.txt"
grep -q 'lab/no-such-scheduler .*| pending' "$LAB_OUT/get-lb.txt" || lab_fail "failing service shown as pending"
grep -q 'lab/good .*| programmed' "$LAB_OUT/get-lb.txt" || lab_fail "good service programmed"
out=$(lab_client --proto tcp --target 20.20.20.1 --port 80 --count 30)
lab_assert_eq '{"be1":10,"be2":10,"be3":10}' "$(lab_json "$out" answers)" "the good service carries traffic"
out=$(lab_client --proto tcp --target 20.20.20.5 --port 80 --count 30)
lab_assert_eq '{"20.20.20.5":30}' "$(lab_json "$out" sources)" "the service on the hand-made VIP carries traffic (fullnat)"
lab_assert_eq "" "$(lab_ns lb1 ip -o addr show dev eth1 | grep ' 20.20.20.5/32 ' | grep -o 'proto [0-9a-fx]*' || true)" \
	"the hand-made VIP was not replaced by a tagged one"

lab_step "fixing the config clears the error; the hand-made VIP stays when its service goes"
cat >"$config.tmp" <<YAML
node: {name: lb1, interface: eth1}
services:
  - {name: lab/good, vip: 20.20.20.1, port: 80, endpoints: $eps}
  - {name: lab/no-such-scheduler, vip: 20.20.20.1, port: 81, scheduler: wlc, endpoints: $eps}
YAML
mv "$config.tmp" "$config"
kvlb_wait_synced lb1 10
lab_assert_eq '[]' "$(kvlb_status_field lb1 lastErrors)" "no errors left"
lab_ns lb1 ipvsadm -Sn | grep -- '-A -t 20.20.20.1:81 -s wlc' >/dev/null || lab_fail "fixed service programmed"
lab_ns lb1 ip -o addr show dev eth1 | grep ' 20.20.20.5/32 ' >/dev/null || lab_fail "hand-made VIP removed"
lab_ns lb1 ipvsadm -Sn | grep -q '20.20.20.5' && lab_fail "the service kvlb created on the hand-made VIP is still in IPVS"
lab_log "ok: its service is gone"

lab_step "after a restart kvlbd still knows which services it created"
kvlb_stop
cat >"$config.tmp" <<YAML
node: {name: lb1, interface: eth1}
services:
  - {name: lab/good, vip: 20.20.20.1, port: 80, endpoints: $eps}
  - {name: lab/hand-made-vip, vip: 20.20.20.5, port: 80, endpoints: $eps}
YAML
mv "$config.tmp" "$config"
kvlb_start "$config"
kvlb_wait_synced
lab_ns lb1 ipvsadm -Sn | grep -- '-A -t 20.20.20.5:80' >/dev/null || lab_fail "service on the hand-made VIP not programmed"
kvlb_stop
grep -v hand-made-vip "$config" >"$config.tmp" && mv "$config.tmp" "$config"
kvlb_start "$config"
kvlb_wait_synced
lab_ns lb1 ipvsadm -Sn | grep -q '20.20.20.5' && lab_fail "removed while kvlbd was down: service still in IPVS after restart"
lab_log "ok: removed after the restart"
lab_log "ok"
echo "dataplane_errors: all checks passed"
