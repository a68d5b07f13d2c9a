#!/bin/bash
# Hostile and malformed Services from a real kube-apiserver: each gets a
# Warning Event and a log line naming it, the rest keep working, kvlbd keeps
# running and its memory does not grow with repeated bad objects.
# Run with: tests/k8s/lab-with-cluster tests/lab/scenarios/k8s_bad_input.sh
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kvlb.sh"
. "$(dirname "$0")/../k8s.sh"

lab_basic_topology
lab_servers_start 8080
lab_forward_ports_into lb1 "$LAB_ENV_APISERVER_PORT"

config=$LAB_OUT/kvlb.yaml
kvlb_k8s_config "$config"
kvlb_start "$config"
lab_wait_for '[ "$(kvlb_status_field lb1 ready)" = true ]' 30 || lab_fail "kvlbd not ready"

service() { # NAME PORT [ANNOTATIONS_YAML] [SPEC_EXTRA_YAML]
	echo "apiVersion: v1
kind: Service
metadata:
  name: $1
  annotations: {${3:-}}
spec:
  type: LoadBalancer
  loadBalancerClass: kvlb.io/lb
  allocateLoadBalancerNodePorts: false
  ports: [{port: $2, targetPort: 8080}]
${4:-}"
}

lab_step "a good Service, working"
service good 80 | k8s_apply good
k8s_slice good 8080 10.0.1.11 | k8s_apply good-slice
lab_wait_for '[ -n "$(k8s_ingress_ip good)" ]' 5 || lab_fail "good has no IP"
good_ip=$(k8s_ingress_ip good)
lab_wait_for "lab_ns lb1 ipvsadm -Sn | grep -q -- '$good_ip:80 -r 10.0.1.11:8080'" 5 || lab_fail "good not programmed"
held() { echo "$(kvlb_k8s_field lb1 cached) $(kvlb_k8s_field lb1 servicesServed) $(kvlb_k8s_field lb1 queued)"; }
held_before=$(held)
lab_log "kvlbd holds: $held_before"

lab_step "hostile Services"
service bad-mode 81 '"kvlb.io/mode": dsr' | k8s_apply bad-mode
service bad-scheduler 82 '"kvlb.io/scheduler": fastest' | k8s_apply bad-scheduler
service outside 83 '' '  loadBalancerIP: 192.0.2.99' | k8s_apply outside
service dup-a 84 '' '  loadBalancerIP: 20.20.20.100' | k8s_apply dup-a
sleep 0.5  # dup-a is the first to ask
service dup-b 85 '' '  loadBalancerIP: 20.20.20.100' | k8s_apply dup-b
service bad-ip 86 '"kvlb.io/ips": "20.20.20.300"' | k8s_apply bad-ip
service v6-on-v4 87 '"kvlb.io/pool": default, "kvlb.io/ips": "fd00:20::5"' '  ipFamilyPolicy: PreferDualStack' | k8s_apply v6-on-v4
service unknown-pool 88 '"kvlb.io/pool": gold' | k8s_apply unknown-pool
"$LAB_PYTHON" - "$K8S_DIR/many-ports.yaml" <<'PY'
import sys
ports = "\n".join(f"    - {{name: p{i}, port: {10000 + i}, targetPort: 8080}}" for i in range(5000))
open(sys.argv[1], "w").write(f"""apiVersion: v1
kind: Service
metadata: {{name: many-ports}}
spec:
  type: LoadBalancer
  loadBalancerClass: kvlb.io/lb
  allocateLoadBalancerNodePorts: false
  ports:
{ports}
""")
PY
kctl apply -f "$K8S_DIR/many-ports.yaml" >/dev/null
lab_log "port 0 is refused by the API server itself, before kvlbd could see it:"
if service port-zero 0 | k8s_apply port-zero 2>"$LAB_OUT/port-zero.err"; then lab_fail "port 0 accepted"; fi
grep -i "port" "$LAB_OUT/port-zero.err" | head -2

# expect_event NAME REASON TEXT: a Warning Event on Service NAME whose message has TEXT, and a log line.
expect_event() {
	local events
	lab_wait_for "kctl get events --field-selector involvedObject.name=$1 -o jsonpath='{.items[*].message}' | grep -qF -- '$3'" 10 ||
		{ kctl get events --field-selector "involvedObject.name=$1" >&2 || true; lab_fail "no Event on $1 saying: $3"; }
	events=$(kctl get events --field-selector "involvedObject.name=$1" -o jsonpath='{range .items[*]}{.type} {.reason}: {.message}{"\n"}{end}')
	grep -q "^Warning $2: " <<<"$events" || lab_fail "$1: Event is not a Warning $2: $events"
	grep -qF "default/$1" "$LAB_OUT/kvlbd-lb1.log" || lab_fail "no log line names default/$1"
	lab_log "default/$1: $(head -1 <<<"$events")"
}
expect_event bad-mode InvalidService 'annotation kvlb.io/mode'
expect_event bad-scheduler InvalidService 'annotation kvlb.io/scheduler'
expect_event outside AllocationFailed '192.0.2.99 is not in any pool'
expect_event dup-b AllocationFailed '20.20.20.100 is in use by default/dup-a'
expect_event bad-ip AllocationFailed '"20.20.20.300" is not a usable unicast IP address'
expect_event v6-on-v4 AllocationFailed 'no IPv6 addresses'
expect_event unknown-pool AllocationFailed 'gold'
expect_event many-ports InvalidService '5000 ports, more than the limit of 100'

lab_step "everything else keeps working"
lab_assert_eq 20.20.20.100 "$(k8s_ingress_ip dup-a)" "dup-a has the IP it asked for"
lab_assert_eq "" "$(k8s_ingress_ip dup-b)" "dup-b has no IP"
lab_assert_eq "" "$(k8s_ingress_ip outside)" "outside has no IP"
bad_mode_ip=$(k8s_ingress_ip bad-mode)
lab_ns lb1 ipvsadm -Sn | grep -- "-A -t $bad_mode_ip:81" >/dev/null || lab_fail "bad-mode not programmed with the default mode"
many_ip=$(k8s_ingress_ip many-ports)
lab_assert_eq 100 "$(lab_ns lb1 ipvsadm -Sn | grep -c -- "-A -t $many_ip:")" "many-ports: the first 100 ports"
out=$(lab_client --proto tcp --target "$good_ip" --port 80 --count 4)
lab_assert_eq '{"be1":4}' "$(lab_json "$out" answers)" "good still carries traffic"
kvlb_wait_synced

lab_step "repeated bad objects do not grow kvlbd"
rss() { awk '/VmRSS/ {print $2}' "/proc/$KVLB_PID/status"; }
full_reads() { lab_ns lb1 curl -s http://127.0.0.1:7711/metrics | awk '$1 == "kvlb_kernel_full_reads_total" {print int($2)}'; }
# settled_rss: what kvlbd holds, as RSS shows it. After each full resync
# kvlbd returns freed memory to the system, but the watch events of the
# last rounds can still be in flight then, and a single read caught their
# transient allocations (20 MiB). The least of the reads after the next
# three resyncs is what stays.
settled_rss() {
	local least="" reads now i
	for i in 1 2 3; do
		reads=$(full_reads)
		lab_wait_for "[ \"\$(full_reads)\" -gt $reads ]" 10 || lab_fail "no full resync within 10 s"
		sleep 0.3
		now=$(rss)
		if [ -z "$least" ] || [ "$now" -lt "$least" ]; then least=$now; fi
	done
	echo "$least"
}
rounds() { # N
	local round
	for ((round = 0; round < $1; round++)); do
		kctl delete svc many-ports bad-mode dup-b --wait=false >/dev/null
		kctl apply -f "$K8S_DIR/many-ports.yaml" -f "$K8S_DIR/bad-mode.yaml" -f "$K8S_DIR/dup-b.yaml" >/dev/null
	done
	lab_wait_for "lab_ns lb1 ipvsadm -Sn | grep -q -- ':10099 '" 10 || lab_fail "many-ports not back"
	kvlb_wait_synced
}
# The allocator keeps freed memory of its per-thread arenas for reuse: RSS
# climbs to a plateau over the first rounds (about 20 when measured outside
# the lab), then stays. What kvlbd holds is checked exactly in the next step.
rss_start=$(settled_rss)
rounds 12
rss_plateau=$(settled_rss)
rounds 12
rss_after=$(settled_rss)
lab_log "kvlbd RSS: ${rss_start} KiB at first, ${rss_plateau} KiB after 12 rounds, ${rss_after} KiB after 12 more"
[ "$rss_after" -le $((rss_plateau + 16384)) ] || lab_fail "RSS grew by $((rss_after - rss_plateau)) KiB over 12 rounds"

lab_step "once the hostile Services are gone, kvlbd holds what it held before them"
kctl delete svc bad-mode bad-scheduler outside dup-a dup-b bad-ip v6-on-v4 unknown-pool many-ports --wait=false >/dev/null
lab_wait_for "[ \"\$(held)\" = '$held_before' ]" 10 || lab_fail "kvlbd holds $(held), before: $held_before"
lab_log "kvlbd holds: $(held)"
lab_assert_eq 1 "$(lab_ns lb1 ipvsadm -Sn | grep -c -- '^-A')" "only the good service is left in IPVS"
kill -0 "$KVLB_PID" || lab_fail "kvlbd died"
