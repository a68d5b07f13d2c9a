# Helpers for scenarios that run kvlbd against the real test cluster (run
# them with tests/k8s/lab-with-cluster; source after lib.sh and kvlb.sh).
: "${LAB_ENV_KUBECONFIG:?run this scenario with tests/k8s/lab-with-cluster}"
: "${LAB_ENV_APISERVER_PORT:?}"

K8S_DIR=$LAB_OUT/k8s  # manifests: in the results share, so the host's kubectl reads them
mkdir -p "$K8S_DIR"

kctl() { lab_host kubectl "$@"; }

# k8s_apply NAME: kubectl apply -f of the manifest read from stdin.
k8s_apply() {
	cat >"$K8S_DIR/$1.yaml"
	kctl apply -f "$K8S_DIR/$1.yaml" >/dev/null
}

# k8s_ingress_ip SERVICE: status.loadBalancer.ingress[0].ip ("" if none).
k8s_ingress_ip() {
	kctl get svc "$1" -o jsonpath='{.status.loadBalancer.ingress[0].ip}'
}

# k8s_slice SERVICE PORT ADDRESS[:COND]...: the EndpointSlice of SERVICE, as
# the endpoint-slice controller writes it. COND is ready (default),
# terminating (serving, terminating) or notready.
k8s_slice() {
	local svc=$1 port=$2 a ip cond
	shift 2
	echo "apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: $svc-lab
  labels: {kubernetes.io/service-name: $svc, endpointslice.kubernetes.io/managed-by: lab}
addressType: IPv4
ports: [{name: '', port: $port, protocol: ${K8S_SLICE_PROTOCOL:-TCP}}]
endpoints:"
	[ $# -gt 0 ] || echo "  []"
	for a in "$@"; do
		ip=${a%%:*} cond=ready
		[[ $a == *:* ]] && cond=${a#*:}
		case $cond in
		ready) echo "  - {addresses: [$ip], conditions: {ready: true, serving: true, terminating: false}}" ;;
		terminating) echo "  - {addresses: [$ip], conditions: {ready: false, serving: true, terminating: true}}" ;;
		notready) echo "  - {addresses: [$ip], conditions: {ready: false, serving: false, terminating: false}}" ;;
		esac
	done
}

# kvlb_k8s_config FILE [EXTRA_YAML]: a kvlbd config for the test cluster.
kvlb_k8s_config() {
	cat >"$1.tmp" <<YAML
node: {name: lb1, interface: eth1}
reconcile: {drainTimeoutSeconds: 3, resyncIntervalSeconds: 2}
kubernetes:
  kubeconfig: $LAB_ENV_KUBECONFIG
pools:
  - name: default
    addresses: [20.20.20.1-20.20.20.120]
  - name: v6
    autoAssign: false
    addresses: ["fd00:20::/120"]
${2:-}
YAML
	mv "$1.tmp" "$1"
}

# ms_until CMD TIMEOUT_S: milliseconds until CMD succeeds (fails on timeout).
ms_until() {
	local start end
	start=$(date +%s%N)
	lab_wait_for "$1" "$2" || return 1
	end=$(date +%s%N)
	echo $(((end - start) / 1000000))
}

# kvlb_k8s_field NS KEY: a field of the kubernetes part of `kvlbctl get status -o json`.
kvlb_k8s_field() {
	"$LAB_PYTHON" -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["kubernetes"][sys.argv[1]]))' "$2" \
		< <(kvlb_ctl "$1" get status -o json)
}

# within_1s WHAT CHANGE CONDITION...: runs CHANGE (a command line) and checks
# that lb1's IPVS table meets every CONDITION (see ipvs_wait.py) at most 1 s
# after CHANGE returned; logs the time.
within_1s() {
	local what=$1 change=$2 ms pid
	shift 2
	rm -f "$LAB_OUT/.since" "$LAB_OUT/.waited" "$LAB_OUT/.watching"
	ip netns exec lb1 "$LAB_PYTHON" "$LAB_DIR/ipvs_wait.py" --since "$LAB_OUT/.since" --ready "$LAB_OUT/.watching" \
		--timeout 20 -- "$@" >"$LAB_OUT/.waited" &
	pid=$!
	# The watcher must be reading before the change is made (a slow start
	# would be counted as kvlbd's time).
	lab_wait_for "[ -e '$LAB_OUT/.watching' ] || ! kill -0 $pid" 10
	eval "$change" >/dev/null
	date +%s%N >"$LAB_OUT/.since.tmp" && mv "$LAB_OUT/.since.tmp" "$LAB_OUT/.since"  # whole, never half written
	wait "$pid" || lab_fail "$what: IPVS not as expected within 10 s ($*)"
	ms=$(cat "$LAB_OUT/.waited")
	lab_log "$what: ${ms} ms"
	[ "$ms" -le 1000 ] || lab_fail "$what took ${ms} ms (limit 1000)"
}
