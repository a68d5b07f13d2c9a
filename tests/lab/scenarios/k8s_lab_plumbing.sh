#!/bin/bash
# The lab's plumbing to a real kube-apiserver on the host (run it through
# tests/k8s/lab-with-cluster): lab_host runs commands on the host, the
# apiserver's port is 127.0.0.1:PORT in the lab and, with
# lab_forward_ports_into, in a scenario's namespace, and it keeps working when
# the apiserver is killed and started again.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

: "${LAB_ENV_KUBECONFIG:?run this scenario through tests/k8s/lab-with-cluster}"
port=${LAB_ENV_APISERVER_PORT:?}

# ms SINCE: milliseconds since the EPOCHREALTIME value SINCE.
ms() { echo $(((${EPOCHREALTIME/./} - ${1/./}) / 1000)); }

lab_step "lab_host: status, stdout, stderr, stdin"
t=$EPOCHREALTIME
rc=0
err=$(lab_host no-such-verb 2>&1 >/dev/null) || rc=$?
lab_log "refused verb: status $rc, $(ms "$t") ms round trip: $err"
lab_assert_eq 2 "$rc" "lab_host passes the helper's status"
[[ $err == *refused* ]] || lab_fail "no 'refused' in the helper's stderr: $err"
t=$EPOCHREALTIME
out=$(lab_host kubectl get ns -o name)
lab_log "kubectl get ns ($(ms "$t") ms): $(echo $out)"
[[ $out == *namespace/default* ]] || lab_fail "no namespace/default in: $out"
out=$(printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lab-plumbing\ndata:\n  a: "1"\n' |
	lab_host kubectl apply -f -)
lab_assert_eq "configmap/lab-plumbing created" "$out" "kubectl apply -f - gets the stdin"
lab_assert_eq 1 "$(lab_host kubectl get configmap lab-plumbing -o 'jsonpath={.data.a}')" "the ConfigMap is there"

# Credentials from the kubeconfig (embedded data) for curl.
pki=$(mktemp -d)
for f in certificate-authority client-certificate client-key; do
	sed -n "s/^ *$f-data: //p" "$LAB_ENV_KUBECONFIG" | base64 -d >"$pki/$f"
done
# readyz [NS]: GET /readyz from the root namespace or NS; prints the body and the timings.
readyz() {
	local cmd=(curl -sS --max-time 20 --cacert "$pki/certificate-authority" --cert "$pki/client-certificate"
		--key "$pki/client-key" -w ' connect=%{time_connect} tls=%{time_appconnect} total=%{time_total}'
		"https://127.0.0.1:$port/readyz")
	if [ $# -gt 0 ]; then ip netns exec "$1" "${cmd[@]}"; else "${cmd[@]}"; fi
}

lab_step "127.0.0.1:$port in the lab's root namespace"
out=$(readyz)
lab_log "$out"
lab_assert_eq ok "${out%% *}" "readyz from the root namespace"

lab_step "lab_forward_ports_into a fresh namespace"
lab_netns_add k8sfwd
lab_forward_ports_into k8sfwd "$port"
for i in 1 2 3; do
	out=$(readyz k8sfwd)
	lab_log "$out"
	lab_assert_eq ok "${out%% *}" "readyz from k8sfwd ($i)"
done

lab_step "apiserver-kill: requests fail; apiserver-start: a new request works"
t=$EPOCHREALTIME
lab_host apiserver-kill
lab_log "apiserver-kill took $(ms "$t") ms"
if out=$(readyz k8sfwd 2>&1); then lab_fail "readyz answered with the apiserver killed: $out"; fi
lab_log "with the apiserver killed: ${out//$'\n'/ }"
t=$EPOCHREALTIME
lab_host apiserver-start
lab_log "apiserver-start took $(ms "$t") ms"
out=$(readyz k8sfwd)
lab_log "$out"
lab_assert_eq ok "${out%% *}" "readyz from k8sfwd after the restart"
lab_assert_eq 1 "$(lab_host kubectl get configmap lab-plumbing -o 'jsonpath={.data.a}')" "the data survived (etcd)"

lab_step "etcd-compact"
lab_host etcd-compact

lab_step "k8s_lab_plumbing: PASS"
