#!/bin/bash
# kvlbd as the LoadBalancer implementation of a real cluster (etcd +
# kube-apiserver on the host, objects made with kubectl as a user and the
# endpoint-slice controller would): the article's four Services get an IP from
# the pool and carry traffic; slice, port and class changes and deletions show
# up in IPVS within 1 s and touch only what changed; a restart with 50
# Services keeps every IP and writes nothing; an API server that dies, comes
# back compacted (410) or is down at start leaves the data plane as it is.
# Run with: tests/k8s/lab-with-cluster tests/lab/scenarios/k8s_services.sh
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kvlb.sh"
. "$(dirname "$0")/../k8s.sh"

lab_basic_topology
lab_servers_start 8080
lab_forward_ports_into lb1 "$LAB_ENV_APISERVER_PORT"
kctl create serviceaccount default >/dev/null 2>&1 || true  # no controller-manager: pods need it

config=$LAB_OUT/kvlb.yaml
kvlb_k8s_config "$config"

lab_step "kvlbd lists the cluster and becomes ready"
kvlb_start "$config"
lab_wait_for '[ "$(kvlb_status_field lb1 ready)" = true ]' 30 || lab_fail "kvlbd not ready"
kvlb_wait_synced

# status_within_1s SERVICE: it has status.loadBalancer.ingress within 1 s (polled with kubectl).
status_within_1s() {
	local ms
	ms=$(ms_until "[ -n \"\$(k8s_ingress_ip $1)\" ]" 5) || lab_fail "$1: no status within 5 s"
	lab_log "$1: status.loadBalancer.ingress: ${ms} ms"
	[ "$ms" -le 1000 ] || lab_fail "$1: status took ${ms} ms (limit 1000)"
}
has_rs() { lab_ns lb1 ipvsadm -Sn | grep -q -- "$1"; }

lab_step "the article's four Services"
declare -A vip
for spec in tcp_fullnat:tcp-lb-fullnat:56002:tcp tcp_default:tcp-lb-default:56003:tcp \
	sctp_fullnat:sctp-lb-fullnat:56004:sctp sctp_default:sctp-lb-default:56005:sctp; do
	IFS=: read -r file svc port proto <<<"$spec"
	kctl apply -f "$KVLB_SRC_DIR/examples/k8s/$file.yml" >/dev/null
	status_within_1s "$svc"
	vip[$svc]=$(k8s_ingress_ip "$svc")
	case ${vip[$svc]} in 20.20.20.*) ;; *) lab_fail "$svc: IP ${vip[$svc]} not from the pool" ;; esac
	[ "$(kctl get svc "$svc" -o jsonpath='{.status.loadBalancer.ingress[0].ipMode}')" = VIP ] || lab_fail "ipMode"
	within_1s "$svc: endpoints in IPVS" \
		"K8S_SLICE_PROTOCOL=${proto^^} k8s_slice $svc 8080 10.0.1.11 10.0.1.12 | k8s_apply $svc-slice" \
		"+$proto/${vip[$svc]}:$port>10.0.1.11:8080=1" "+$proto/${vip[$svc]}:$port>10.0.1.12:8080=1"
done
kvlb_wait_synced
lab_ns lb1 ipvsadm -Ln
lab_ns lb1 nft list table inet kvlb
lab_ns lb1 ip -br addr show dev eth1
for spec in tcp-lb-fullnat:56002:tcp:20.20.20 tcp-lb-default:56003:tcp:10.10.0.2 \
	sctp-lb-fullnat:56004:sctp:20.20.20 sctp-lb-default:56005:sctp:10.10.0.2; do
	IFS=: read -r svc port proto source <<<"$spec"
	out=$(lab_client --proto "$proto" --target "${vip[$svc]}" --port "$port" --count 10)
	lab_log "$svc: $out"
	lab_assert_eq '{"be1":5,"be2":5}' "$(lab_json "$out" answers)" "$svc: rr over the two endpoints"
	lab_assert_eq 0 "$(lab_json "$out" failures)" "$svc: no failures"
	grep -q "\"$source" <<<"$(lab_json "$out" sources)" || lab_fail "$svc: endpoints saw $(lab_json "$out" sources)"
done
nat=$(lab_ns lb1 nft list table inet kvlb)
grep -q "${vip[tcp-lb-fullnat]} . tcp . 56002" <<<"$nat" || lab_fail "no SNAT entry for tcp-lb-fullnat"
grep -q "${vip[tcp-lb-default]} . tcp . 56003" <<<"$nat" && lab_fail "SNAT entry for a default-mode service"

svc=tcp-lb-default ip=${vip[tcp-lb-default]}
others() { ipvs_rules | grep -v -- "$ip:56003\|$ip:56013" || true; }
others_before=$(others)
last_ops() { kvlb_status_field lb1 lastOps; }

lab_step "slice scaled up: one ADD rs"
within_1s "scale up" "k8s_slice $svc 8080 10.0.1.11 10.0.1.12 10.0.1.13 | k8s_apply $svc-slice" \
	"+tcp/$ip:56003>10.0.1.13:8080=1"
kvlb_wait_synced
lab_assert_eq "[\"ADD rs $ip:56003/tcp -> 10.0.1.13:8080 weight=1\"]" "$(last_ops)" "only the new endpoint"

lab_step "endpoint terminating: drained (weight 0), nothing else"
within_1s "terminating" "k8s_slice $svc 8080 10.0.1.11 10.0.1.12 10.0.1.13:terminating | k8s_apply $svc-slice" \
	"+tcp/$ip:56003>10.0.1.13:8080=0"
kvlb_wait_synced
lab_assert_eq "[\"UPDATE rs $ip:56003/tcp -> 10.0.1.13:8080 weight=0\"]" "$(last_ops)" "only the terminating endpoint"

lab_step "slice scaled down: drained, then removed"
within_1s "scale down" "k8s_slice $svc 8080 10.0.1.11 | k8s_apply $svc-slice" "+tcp/$ip:56003>10.0.1.12:8080=0"
lab_wait_for "! has_rs '$ip:56003 -r 10.0.1.12:8080'" 10 || lab_fail "drained endpoint not removed"
lab_wait_for "! has_rs '$ip:56003 -r 10.0.1.13:8080'" 10 || lab_fail "terminating endpoint not removed"
lab_assert_eq "$others_before" "$(others)" "other services untouched"

lab_step "port changed: the old virtual service goes, the new one comes"
within_1s "port change" \
	"kctl patch svc $svc --type=json -p '[{\"op\": \"replace\", \"path\": \"/spec/ports/0/port\", \"value\": 56013}]'" \
	"+tcp/$ip:56013>10.0.1.11:8080=1" "-tcp/$ip:56003"
kvlb_wait_synced
lab_assert_eq "$others_before" "$(others)" "other services untouched"
out=$(lab_client --proto tcp --target "$ip" --port 56013 --count 3)
lab_assert_eq '{"be1":3}' "$(lab_json "$out" answers)" "traffic on the new port"

lab_step "class changed away (type ClusterIP) and back"
within_1s "class away" \
	"kctl patch svc $svc --type=merge -p '{\"spec\": {\"type\": \"ClusterIP\", \"loadBalancerClass\": null, \"externalTrafficPolicy\": null}}'" \
	"-tcp/$ip:56013"
lab_wait_for "[ -z \"\$(k8s_ingress_ip $svc)\" ]" 5 || lab_fail "status not cleared"
lab_assert_eq "$others_before" "$(others)" "other services untouched"
# Back: the lowest free IP is the one it had.
within_1s "class back" \
	"kctl patch svc $svc --type=merge -p '{\"spec\": {\"type\": \"LoadBalancer\", \"loadBalancerClass\": \"kvlb.io/lb\"}}'" \
	"+tcp/$ip:56013>10.0.1.11:8080=1"
lab_wait_for "[ \"\$(k8s_ingress_ip $svc)\" = $ip ]" 5 || lab_fail "status not written after coming back"

lab_step "Service deleted: its virtual service, SNAT entry and VIP go"
svc=tcp-lb-fullnat ip=${vip[tcp-lb-fullnat]}
within_1s "delete" "kctl delete svc $svc --wait=false" "-tcp/$ip:56002"
kvlb_wait_synced
lab_ns lb1 nft list table inet kvlb | grep -q "$ip . tcp . 56002" && lab_fail "SNAT entry left behind"
lab_ns lb1 ip -br addr show dev eth1 | grep -q "$ip/" && lab_fail "VIP left behind"
lab_ns lb1 ipvsadm -Sn | grep -- "${vip[sctp-lb-fullnat]}:56004" >/dev/null || lab_fail "another service was removed"

lab_step "50 Services, then a restart keeps every IP and writes nothing"
"$LAB_PYTHON" - "$K8S_DIR/bulk.yaml" <<'PY'
import sys
docs = []
for i in range(50):
    docs.append(f"""apiVersion: v1
kind: Service
metadata: {{name: bulk-{i}, labels: {{lab: bulk}}}}
spec:
  type: LoadBalancer
  loadBalancerClass: kvlb.io/lb
  allocateLoadBalancerNodePorts: false
  ports: [{{port: {7000 + i}, targetPort: 8080}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: bulk-{i}-lab
  labels: {{kubernetes.io/service-name: bulk-{i}, lab: bulk}}
addressType: IPv4
ports: [{{name: '', port: 8080, protocol: TCP}}]
endpoints: [{{addresses: [10.0.1.1{1 + i % 3}], conditions: {{ready: true}}}}]""")
open(sys.argv[1], "w").write("\n---\n".join(docs) + "\n")
PY
kctl apply -f "$K8S_DIR/bulk.yaml" >/dev/null
bulk_ips() { kctl get svc -l lab=bulk -o jsonpath='{range .items[*]}{.metadata.name}={.status.loadBalancer.ingress[0].ip}{"\n"}{end}' | sort; }
lab_wait_for '[ "$(bulk_ips | grep -c "=20.20.20")" = 50 ]' 30 || { bulk_ips; lab_fail "not all 50 have an IP"; }
lab_wait_for '[ "$(lab_ns lb1 ipvsadm -Sn | grep -c -- "^-A")" -ge 53 ]' 10 || lab_fail "not all 50 programmed"
kvlb_wait_synced
ips_before=$(bulk_ips)
rules_before=$(ipvs_rules)
kvlb_stop
kvlb_start "$config"
lab_wait_for '[ "$(kvlb_status_field lb1 ready)" = true ]' 30 || lab_fail "not ready after restart"
kvlb_wait_synced
lab_assert_eq 0 "$(kvlb_counter lb1 netlinkWrites)" "zero kernel writes after the restart"
lab_assert_eq 0 "$(kvlb_counter lb1 opsApplied)" "zero ops after the restart"
lab_assert_eq 0 "$(kvlb_k8s_field lb1 statusWrites)" "zero status writes after the restart"
lab_assert_eq "$ips_before" "$(bulk_ips)" "every Service kept its IP"
lab_assert_eq "$rules_before" "$(ipvs_rules)" "IPVS unchanged"

lab_step "kube-apiserver killed mid-watch: the data plane stays, kvlbd catches up"
rules_before=$(ipvs_rules)
lab_host apiserver-kill
sleep 3
lab_assert_eq "$rules_before" "$(ipvs_rules)" "IPVS unchanged while the API server is down"
lab_assert_eq true "$(kvlb_status_field lb1 ready)" "still ready (it has listed the cluster)"
out=$(lab_client --proto sctp --target "${vip[sctp-lb-default]}" --port 56005 --count 4)
lab_assert_eq 0 "$(lab_json "$out" failures)" "traffic flows while the API server is down"
lab_log "compacting etcd while the API server is down: the watch must get 410 Gone"
lab_host etcd-compact >/dev/null
lab_host apiserver-start >/dev/null
k8s_slice bulk-0 8080 10.0.1.11 10.0.1.13 | k8s_apply bulk-0-lab
lab_wait_for "has_rs ':7000 -r 10.0.1.13:8080'" 40 || lab_fail "change after the restart not applied"
kvlb_wait_synced
relists=$(kvlb_ctl lb1 get status -o json | "$LAB_PYTHON" -c '
import json, sys; print(sum(i["relistsAfterGone"] for i in json.load(sys.stdin)["kubernetes"]["informers"]))')
lab_log "relists after 410 Gone: $relists"
[ "$relists" -ge 1 ] || lab_fail "no relist after the compaction"

lab_step "kube-apiserver down when kvlbd starts: not ready, nothing touched, converges after"
kvlb_stop
rules_before=$(ipvs_rules)
lab_host apiserver-kill
kvlb_start "$config"
sleep 3
lab_assert_eq false "$(kvlb_status_field lb1 ready)" "not ready before the first list"
lab_assert_eq "$rules_before" "$(ipvs_rules)" "IPVS unchanged (fail static)"
lab_assert_eq 0 "$(kvlb_counter lb1 netlinkWrites)" "nothing written before the first list"
lab_ns lb1 ip -br addr show dev eth1 | grep "${vip[sctp-lb-default]}/" >/dev/null || lab_fail "a VIP was removed"
lab_host apiserver-start >/dev/null
lab_wait_for '[ "$(kvlb_status_field lb1 ready)" = true ]' 40 || lab_fail "not ready after the API server came back"
kvlb_wait_synced
lab_assert_eq "$rules_before" "$(ipvs_rules)" "IPVS as before"
lab_assert_eq 0 "$(kvlb_counter lb1 netlinkWrites)" "zero kernel writes after converging"

lab_log "kvlbd log: $LAB_OUT/kvlbd-lb1.log"
