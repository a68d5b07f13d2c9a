#!/bin/bash
# The Kubernetes performance benchmark: kvlbd and kube-proxy (IPVS mode) side
# by side, same API server, same Service set, same kernel, same run.
#
#   sudo LAB_TIMEOUT=14400 KVLB_BUILD_DIR=/tmp/build-bench \
#       tests/k8s/lab-with-cluster bench/k8s-convergence.sh [--services N]
#
# Options: --services N (default 1000), --changes C (50), --both-changes M
# (20 for N <= 200, else 10; 0 skips phase 4), --chunks K (4),
# --cold-timeout S (3600), --stall-timeout S (600), --proxy-sync-wait S (5400).
# Environment (through LAB_PASS_ENV): BENCH_LOG_DIR (default /tmp in the guest;
# logs are copied to $LAB_OUT at the end), BENCH_PROXY_V (kube-proxy -v, 2).
# Needs ipset and iptables on the host (kube-proxy runs them).  Under TCG a
# run takes about 15 minutes for N=100; for N=1000 mostly kube-proxy's first
# full sync (one `ipset add` process per entry), see LAB_TIMEOUT.
#
# N Services x 5 TCP ports (allocateLoadBalancerNodePorts: false) x 10
# endpoints (one EndpointSlice each, written as the endpoint-slice controller
# writes it; addresses 10.x.y.z, no traffic needed).
#  1. kvlbd in lb1 (pool big enough) while the Services are created through
#     the API (kubectl apply --server-side of K multi-document files, in
#     parallel): creation start -> IPVS holds every virtual service with all
#     its real servers (/proc/PID/net/ip_vs polled by one python process;
#     Linux 6.1's skips services when other namespaces hold some, so only
#     the measured namespace holds any; checked over netlink afterwards),
#     -> every Service has status.loadBalancer.ingress (a watch); kvlbd CPU
#     seconds (utime+stime) and peak RSS (VmHWM).
#  2. C single changes, one at a time, kvlbd alone: one endpoint added to /
#     removed from one Service's slice (kubectl patch), measured from kubectl
#     returning to the change being in lb1's IPVS (a waiter armed before the
#     change reads the 5 virtual services over netlink every 5 ms); also from
#     kubectl's start, and from a watch in the lab receiving the change.
#  3. Cold start against the existing Services (all statuses written), each
#     alone in the VM, from process start to every LB VIP:port with all its
#     real servers in its own, empty IPVS table: kvlbd (fresh namespace lb3,
#     new state dir) then kube-proxy --proxy-mode=ipvs (lb2; its Node object
#     made first).  This is the like-for-like comparison: kube-proxy programs
#     the ingress IPs kvlbd writes, so started together before the Services
#     exist its time would include kvlbd's status writes and the API writes,
#     and the two would share the VM's CPUs; from a cold start both do the
#     same work (list the cluster, program the kernel from empty) with the
#     machine to themselves.  kube-proxy also programs every ClusterIP (twice
#     the virtual services), ipsets and iptables: that is what it does; the
#     time counted is until the LB VIP:ports are complete (its whole first
#     sync is reported too).
#  4. M changes with kvlbd (lb3, restarted) and kube-proxy (lb2) both
#     running, each measured in both tables (after kube-proxy's first sync).
# Summary: $LAB_OUT/k8s-convergence.txt; raw results in $LAB_OUT/bench/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/lab/lib.sh"
. "$here/../tests/lab/kvlb.sh"
. "$here/../tests/lab/k8s.sh"

services=1000 changes=50 both_changes= chunks=4 ports=5 endpoints=10 cold_timeout=3600 stall_timeout=600
proxy_sync_wait=5400 both_timeout=900
# Logs go to the guest's RAM, copied to $LAB_OUT at the end; BENCH_LOG_DIR
# (through LAB_PASS_ENV) puts them elsewhere, e.g. $LAB_OUT to follow them live.
logdir=${BENCH_LOG_DIR:-/tmp}
while [ $# -gt 0 ]; do
	case $1 in
	--services) services=$2; shift 2 ;;
	--changes) changes=$2; shift 2 ;;
	--both-changes) both_changes=$2; shift 2 ;;
	--chunks) chunks=$2; shift 2 ;;
	--cold-timeout) cold_timeout=$2; shift 2 ;;
	--stall-timeout) stall_timeout=$2; shift 2 ;;
	--proxy-sync-wait) proxy_sync_wait=$2; shift 2 ;;
	*) lab_fail "usage: $0 [--services N] [--changes C] [--both-changes M] [--chunks K] [--cold-timeout S] [--stall-timeout S] [--proxy-sync-wait S]" ;;
	esac
done

[ -n "$both_changes" ] || both_changes=$((services <= 200 ? 20 : 10))
OUT=$LAB_OUT/bench
mkdir -p "$OUT"
BENCH_PY=("$LAB_PYTHON" "$here/k8s_bench.py")
port=$LAB_ENV_APISERVER_PORT
KUBE_PROXY=$(sed -n 's/^KUBE_PROXY=//p' "$LAB_ENV_CLUSTER_DIR/cluster.env")
k8s_version=$(sed -n 's/^KUBERNETES_VERSION=//p' "$LAB_ENV_CLUSTER_DIR/cluster.env")
[ -x "$KUBE_PROXY" ] || lab_fail "no kube-proxy at '$KUBE_PROXY' (tests/k8s/build-cluster-binaries)"
for tool in ipset iptables iptables-restore iptables-save; do
	command -v $tool >/dev/null || lab_fail "kube-proxy --proxy-mode=ipvs needs $tool (apt-get install ipset iptables)"
done
now_ns() { echo "${EPOCHREALTIME/./}000"; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }
bset() { "${BENCH_PY[@]}" set "$@"; }  # FILE KEY JSON
mem_avail() { awk '/MemAvailable/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo; }

mem_mib=$(awk '/MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)
accel=$(dmesg 2>/dev/null | grep -q 'Hypervisor detected: KVM' && echo kvm || echo tcg)
lab_step "k8s convergence benchmark: $services Services x $ports ports x $endpoints endpoints; $(nproc) CPUs, $mem_mib MiB"
((mem_mib >= 1400)) || lab_fail "only $mem_mib MiB"
if ((services >= 1000 && mem_mib < 2500)); then
	lab_log "note: $mem_mib MiB for N=$services; give the VM more with LAB_QEMU_ARGS='-m 3072' if anything is OOM-killed"
fi
bset "$OUT/meta.json" services "$services"
bset "$OUT/meta.json" ports "$ports"
bset "$OUT/meta.json" endpoints "$endpoints"
bset "$OUT/meta.json" chunks "$chunks"
bset "$OUT/meta.json" kernel "\"$(uname -r)\""
bset "$OUT/meta.json" cpus "$(nproc)"
bset "$OUT/meta.json" mem_mib "$mem_mib"
bset "$OUT/meta.json" vm "$([ -n "${LAB_VM:-}" ] && echo true || echo false)"
bset "$OUT/meta.json" accel "\"$accel\""
bset "$OUT/meta.json" k8s_version "\"$k8s_version\""
bset "$OUT/meta.json" proxy_version "\"$("$KUBE_PROXY" --version 2>&1 | awk '{ print $2 }')\""

# A load balancer namespace: eth1 (a dummy) for the VIPs, the API server's port.
lb_netns() { # NS ADDRESS
	lab_netns_add "$1"
	ip -n "$1" -batch - <<-EOF || lab_fail "$1 setup"
		link add eth1 type dummy
		addr add $2/24 dev eth1
		link set eth1 up
	EOF
	lab_forward_ports_into "$1" "$port"
}

# anchor NS: a process in NS, whose /proc/PID/net/ip_vs is NS's table.
declare -A ANCHOR
anchor() {
	ip netns exec "$1" sleep 1000000 &
	ANCHOR[$1]=$!
	LAB_PIDS+=($!)
}
# ipvs_alone NS: no other namespace holds IPVS services (Linux 6.1's
# /proc/net/ip_vs of NS skips entries otherwise).
ipvs_alone() {
	local other n
	for other in "" lb1 lb2 lb3; do
		[ "$other" != "$1" ] || continue
		[ -z "$other" ] || [ -e "/run/netns/$other" ] || continue
		n=$(${other:+ip netns exec $other} ipvsadm -Ln | grep -cE '^(TCP|UDP|SCTP) ') || true
		[ "$n" = 0 ] || lab_fail "${other:-the root namespace} holds $n IPVS services: /proc/net/ip_vs of $1 would be wrong"
	done
}

# kvlbd in NS with its log in the guest's RAM (not on the results share: 9p
# with cache=none would make every log line a host round trip); copied into
# $LAB_OUT/kvlbd-NS.log when it stops and at the end.
KVLB_LOGS=()
kvlbd_start() { # NS
	local ns=$1 log=$logdir/kvlbd-$1.log
	ip netns exec "$ns" "$KVLBD" --config "$config" --state-dir "/tmp/kvlb-state-$ns" --log-level debug \
		>>"$log" 2>&1 &
	KVLB_PID=$!
	LAB_PIDS+=($KVLB_PID)
	KVLB_LOGS+=("$ns")
	echo "$KVLB_PID" >"$OUT/pid-kvlbd-$ns"
}
save_logs() {
	local ns
	[ "$logdir" != "$LAB_OUT" ] || return 0
	for ns in "${KVLB_LOGS[@]}"; do cp -f "$logdir/kvlbd-$ns.log" "$LAB_OUT/kvlbd-$ns.log" 2>/dev/null || true; done
	[ -e "$logdir/kube-proxy-lb2.log" ] && cp -f "$logdir/kube-proxy-lb2.log" "$LAB_OUT/kube-proxy-lb2.log" || true
}
LAB_CLEANUP_HOOKS+=(save_logs)

# A JSON patch of the benchmark slice of Service I: add or remove one endpoint.
svc_name() { printf 'bench-%05d' "$1"; }
slice_of() { printf 'bench-%05d-%05d' "$1" $(($1 * 7919 % 100000)); }
extra_ip() { echo "10.250.$(($1 / 250 % 256)).$(($1 % 250 + 1))"; }

# vips: Service name -> its ingress IP.
declare -A vip
read_vips() {
	local name ip
	vip=()
	while IFS='=' read -r name ip; do
		[ -n "$ip" ] && vip[$name]=$ip
	done < <(kctl get svc -l kvlb-bench=convergence \
		-o jsonpath='{range .items[*]}{.metadata.name}={.status.loadBalancer.ingress[0].ip}{"\n"}{end}')
}

# The change waiter (k8s_bench.py monitor), as a coprocess.
mon_start() { # RESULTS [TIMEOUT_S per change]
	coproc MON { "${BENCH_PY[@]}" monitor --kubeconfig "$LAB_ENV_KUBECONFIG" --timeout "${2:-120}" --results "$1" 2>>"$OUT/monitor.err"; }
	LAB_PIDS+=($MON_PID)
}
mon() { # COMMAND: its answer in MON_ANSWER (no $(...): coprocess fds are not in subshells)
	echo "$*" >&"${MON[1]}"
	read -r -t 1800 MON_ANSWER <&"${MON[0]}" || lab_fail "monitor did not answer '$*' (see $OUT/monitor.err)"
}
mon_stop() {
	exec {MON[1]}>&-
	wait "$MON_PID" 2>/dev/null || true
}

# changes COUNT NS... : COUNT single changes measured in each NS's IPVS table.
# Change k: pair j=k/2 adds one endpoint (k even) to Service (37j+11) mod N,
# then removes it (k odd): added = there with weight > 0 on all 5 ports,
# removed = gone or weight 0 (drained) on all 5.
changes_run() {
	local count=$1 k j s name ip want answer start since patch conds held ms n p line
	shift
	for ((k = 0; k < count; k++)); do
		j=$((k / 2)) s=$(((37 * (k / 2) + 11) % services))
		name=$(svc_name $s) ip=$(extra_ip $((j + ${CHANGE_BASE:-0})))
		if ((k % 2 == 0)); then
			want=+
			patch="[{\"op\":\"add\",\"path\":\"/endpoints/-\",\"value\":{\"addresses\":[\"$ip\"],\"conditions\":{\"ready\":true,\"serving\":true,\"terminating\":false},\"nodeName\":\"node-1\"}}]"
		else
			want=-
			patch="[{\"op\":\"test\",\"path\":\"/endpoints/$endpoints/addresses/0\",\"value\":\"$ip\"},{\"op\":\"remove\",\"path\":\"/endpoints/$endpoints\"}]"
		fi
		conds=()
		for n in "$@"; do
			for ((p = 0; p < ports; p++)); do conds+=("$n:$want${vip[$name]}:$((80 + p))>$ip:$((8080 + p))"); done
		done
		mon arm "$k" "$(slice_of $s)" "${conds[@]}"
		read -r _ _ held <<<"$MON_ANSWER"
		[ "$held" = 0 ] || lab_fail "change $k: the condition held before the change ($MON_ANSWER)"
		start=$(now_ns)
		kctl patch endpointslice "$(slice_of $s)" --type=json -p "$patch" >/dev/null
		since=$(now_ns)
		mon go "$k" "$start" "$since"
		answer=$MON_ANSWER
		line=$("$LAB_PYTHON" -c 'import json, sys
r = json.loads(sys.argv[1].split(" ", 2)[2])
print(" ".join("%s=%s" % (ns, "TIMEOUT" if v is None else "%.0f" % v["after_return_ms"]) for ns, v in r["ns"].items()))' "$answer")
		lab_log "change $k ($want $ip on $name): ms after kubectl returned: $line"
		sleep 0.$((RANDOM % 4 + 2))  # not in step with kvlbd's periodic reads
	done
}

config=$LAB_OUT/kvlb-bench.yaml
cat >"$config" <<YAML
node: {name: lb1, interface: eth1}
kubernetes:
  kubeconfig: $LAB_ENV_KUBECONFIG
pools:
  - name: bench
    addresses: [20.21.0.0/16]
YAML

lab_step "setup: lb1 for kvlbd, lb2 for kube-proxy (Node lb2), manifests"
lb_netns lb1 10.10.0.1
lb_netns lb2 10.10.0.3
anchor lb1
anchor lb2
kctl create serviceaccount default >/dev/null 2>&1 || true
kctl apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Node
metadata: {name: lb2, labels: {kubernetes.io/hostname: lb2, kubernetes.io/os: linux}}
spec: {podCIDR: 10.244.2.0/24, podCIDRs: [10.244.2.0/24]}
YAML
kctl patch node lb2 --subresource=status --type=merge \
	-p '{"status":{"addresses":[{"type":"InternalIP","address":"10.10.0.3"},{"type":"Hostname","address":"lb2"}]}}' >/dev/null
t=$(now_ns)
read -r -a files <<<"$("${BENCH_PY[@]}" gen --services "$services" --ports "$ports" --endpoints "$endpoints" \
	--chunks "$chunks" --out "$K8S_DIR")"
lab_log "${#files[@]} files, $((2 * services)) objects, written in $(ms_since "$t") ms"

# ---------------------------------------------------------------------------
lab_step "1. kvlbd in lb1: $services Services created through the API while it runs"
kvlbd_start lb1
lab_wait_for "kvlb_ctl lb1 get status" 60 || lab_fail "kvlbd did not start"
lab_wait_for '[ "$(kvlb_status_field lb1 ready)" = true ]' 60 || lab_fail "kvlbd not ready"
rm -f "$OUT/t0" "$OUT/ready"
ipvs_alone lb1
"${BENCH_PY[@]}" converge --netns lb1 --pid "${ANCHOR[lb1]}" --expect count --services "$services" --ports "$ports" \
	--endpoints "$endpoints" --kubeconfig "$LAB_ENV_KUBECONFIG" --status --stats-pid "$KVLB_PID" \
	--ready "$OUT/ready" --t0 "$OUT/t0" --verbose --out "$OUT/create.json" &
conv=$!
LAB_PIDS+=($conv)
lab_wait_for "[ -e '$OUT/ready' ] || ! kill -0 $conv" 300
[ -e "$OUT/ready" ] || lab_fail "the convergence poller did not start"
t0=$(now_ns)
echo "$t0" >"$OUT/t0.tmp" && mv "$OUT/t0.tmp" "$OUT/t0"
pids=()
for f in "${files[@]}"; do
	kctl apply --server-side -f "$f" >"$OUT/apply-$(basename "$f").log" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || lab_fail "kubectl apply failed (see $OUT/apply-*.log)"; done
apply_ms=$(ms_since "$t0")
lab_log "kubectl apply of ${#files[@]} files returned after $apply_ms ms"
wait "$conv" || { cat "$OUT/create.json" >&2; lab_fail "kvlbd did not converge"; }
bset "$OUT/create.json" apply_ms "$apply_ms"
kvlb_wait_synced lb1 120
bset "$OUT/create.json" stats_end "$("${BENCH_PY[@]}" proc --one --threads "$KVLB_PID")"
"$LAB_PYTHON" -c 'import json, sys
r = json.load(open(sys.argv[1]))
print("    IPVS complete %.2f s (all virtual services %.2f s), statuses %.2f s, poll %.0f ms avg; status VIPs in the table: %s, missing: %s, table VIPs without a status: %s; netlink check %s" % (
    r["ipvs_ms"] / 1000, r["all_vs_ms"] / 1000, r["status_ms"] / 1000, r["poll_ms_avg"],
    r["status_vips_in_table"], r["status_vips_missing"], r["table_vips_not_in_status"], r["netlink_check"]))' "$OUT/create.json"
lab_log "memory available: $(mem_avail)"
read_vips
[ "${#vip[@]}" = "$services" ] || lab_fail "only ${#vip[@]} of $services Services have an IP"

# ---------------------------------------------------------------------------
lab_step "2. $changes single changes, kvlbd alone (apply returned -> visible in lb1's IPVS)"
mon_start "$OUT/changes-kvlb.jsonl"
mon ns lb1
changes_run "$changes" lb1
kvlb_wait_synced lb1 60
bset "$OUT/create.json" stats_after_changes "$("${BENCH_PY[@]}" proc --one --threads "$KVLB_PID")"
mon_stop
kvlb_stop
save_logs
ip netns exec lb1 ipvsadm -C  # the next phases' tables must be alone (see ipvs_alone)

# ---------------------------------------------------------------------------
# Cold start of DAEMON in NS (empty table) against the existing Services.
# START_CMD starts it and writes its pid into $OUT/pid-NAME.
cold_start() { # NAME NS EXPECT START_CMD
	local name=$1 ns=$2 expect=$3 start_cmd=$4
	rm -f "$OUT/t0" "$OUT/ready" "$OUT/pid-$name"
	ipvs_alone "$ns"
	"${BENCH_PY[@]}" converge --netns "$ns" --pid "${ANCHOR[$ns]}" --expect "$expect" --services "$services" --ports "$ports" \
		--endpoints "$endpoints" --kubeconfig "$LAB_ENV_KUBECONFIG" --stats-pid "@$OUT/pid-$name" \
		--ready "$OUT/ready" --t0 "$OUT/t0" --timeout "$cold_timeout" --stall-timeout "$stall_timeout" --verbose --out "$OUT/$name.json" &
	conv=$!
	LAB_PIDS+=($conv)
	lab_wait_for "[ -e '$OUT/ready' ] || ! kill -0 $conv" 300
	[ -e "$OUT/ready" ] || lab_fail "the convergence poller did not start"
	t0=$(now_ns)
	echo "$t0" >"$OUT/t0.tmp" && mv "$OUT/t0.tmp" "$OUT/t0"
	eval "$start_cmd"
	if ! wait "$conv"; then
		cat "$OUT/$name.json" >&2
		# kube-proxy: its goroutines' stacks into its log (SIGQUIT), to see where it is.
		[ "$name" != proxy_cold ] || { kill -QUIT "$PROXY_PID"; sleep 3; }
		lab_fail "$name did not converge"
	fi
	"$LAB_PYTHON" -c 'import json, sys
r = json.load(open(sys.argv[1]))
print("    IPVS complete %.2f s after start (within %.0f ms; all LB virtual services at %.2f s); table %s; netlink check %s; at that point %s" % (
    r["ipvs_ms"] / 1000, r["ipvs_resolution_ms"], r["all_vs_ms"] / 1000, r["table_entries"], r["netlink_check"], r["stats_at_ipvs"]))' "$OUT/$name.json"
}

lab_step "3a. cold start: kvlbd in a fresh namespace (lb3, empty table, new state dir)"
lb_netns lb3 10.10.0.1
anchor lb3
cold_start kvlb_cold lb3 count 'kvlbd_start lb3; echo $KVLB_PID >"$OUT/pid-kvlb_cold"'
kvlb_wait_synced lb3 120
bset "$OUT/kvlb_cold.json" stats_end "$("${BENCH_PY[@]}" proc --one --threads "$KVLB_PID")"
lab_log "status writes by the restarted kvlbd: $(kvlb_k8s_field lb3 statusWrites 2>/dev/null || echo '?')"
kvlb_stop
save_logs
ip netns exec lb3 ipvsadm -C

lab_step "3b. cold start: kube-proxy --proxy-mode=ipvs in lb2"
proxy_start() {
	ip netns exec lb2 "$KUBE_PROXY" --kubeconfig "$LAB_ENV_KUBECONFIG" --proxy-mode ipvs \
		--hostname-override lb2 --bind-address 10.10.0.3 --cluster-cidr 10.244.0.0/16 \
		--conntrack-max-per-core 0 --metrics-bind-address 127.0.0.1:10249 \
		--healthz-bind-address 127.0.0.1:10256 --v "${BENCH_PROXY_V:-2}" >>"$logdir/kube-proxy-lb2.log" 2>&1 &
	PROXY_PID=$!
	LAB_PIDS+=($PROXY_PID)
	echo "$PROXY_PID" >"$OUT/pid-proxy_cold"
}
proxy_metrics() { ip netns exec lb2 curl -s --max-time 20 http://127.0.0.1:10249/metrics | "${BENCH_PY[@]}" proxy-metrics; }
cold_start proxy_cold lb2 status proxy_start
kill -0 "$PROXY_PID" || { save_logs; lab_fail "kube-proxy exited (see $LAB_OUT/kube-proxy-lb2.log)"; }
# When its first complete sync (IPVS, then one `ipset add` per entry, then
# iptables-restore) ended: it takes no change before that.
ipvs_at=$("$LAB_PYTHON" -c 'import json, sys; r = json.load(open(sys.argv[1])); print(int(r["t0"] + r["ipvs_ms"] * 1e6))' "$OUT/proxy_cold.json")
lab_log "waiting (at most ${proxy_sync_wait} s) for kube-proxy's first sync to end"
synced=false
for ((i = 0; i * 5 < proxy_sync_wait; i++)); do
	m=$(proxy_metrics) || m='{}'
	last=$("$LAB_PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1]).get("last_sync_ns", 0))' "$m")
	((last >= ipvs_at)) && { synced=true; break; }
	kill -0 "$PROXY_PID" || lab_fail "kube-proxy exited (see $LAB_OUT/kube-proxy-lb2.log)"
	sleep 5
done
bset "$OUT/proxy_cold.json" proxy_metrics "$m"
bset "$OUT/proxy_cold.json" stats_first_sync "$("${BENCH_PY[@]}" proc --one "$PROXY_PID")"
if $synced; then
	bset "$OUT/proxy_cold.json" first_full_sync_ms "$(((last - t0) / 1000000))"
	lab_log "kube-proxy: its sync that completed the table ended $(((last - t0) / 1000000)) ms after start; metrics $m"
else
	bset "$OUT/proxy_cold.json" first_full_sync_ms null
	bset "$OUT/proxy_cold.json" first_full_sync_not_within_s "$proxy_sync_wait"
	lab_log "kube-proxy: its first sync had not ended after ${proxy_sync_wait} s; metrics $m"
fi
lab_log "memory available: $(mem_avail)"

# ---------------------------------------------------------------------------
if ((both_changes > 0)) && $synced; then
	lab_step "4. $both_changes single changes, kvlbd (lb3, restarted on its emptied table) and kube-proxy (lb2) both running"
	kvlbd_start lb3
	lab_wait_for '[ "$(kvlb_status_field lb3 ready)" = true ]' 300 || lab_fail "kvlbd lb3 not ready"
	kvlb_wait_synced lb3 600
	mon_start "$OUT/changes-both.jsonl" "$both_timeout"
	mon ns lb2
	mon ns lb3
	CHANGE_BASE=1000 changes_run "$both_changes" lb3 lb2
	mon_stop
	kvlb_stop
	save_logs
else
	lab_step "4. skipped (--both-changes 0, or kube-proxy's first sync did not end)"
fi
bset "$OUT/kvlb_proxy_end.json" proxy "$("${BENCH_PY[@]}" proc --one --threads "$PROXY_PID")"
bset "$OUT/kvlb_proxy_end.json" proxy_metrics "$(proxy_metrics || echo '{}')"
lab_log "memory available: $(mem_avail)"

lab_step "summary"
"${BENCH_PY[@]}" summary --dir "$OUT" --out "$LAB_OUT/k8s-convergence.txt"
lab_log "kvlbd logs: $LAB_OUT/kvlbd-lb1.log, kvlbd-lb3.log; kube-proxy: $LAB_OUT/kube-proxy-lb2.log; raw: $OUT/"
