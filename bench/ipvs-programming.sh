#!/usr/bin/env bash
# Side-by-side: kvlb programming N x M services from empty vs `ipvsadm --restore`
# of the same rule set, each in a fresh network namespace; then kvlb changing
# 1% of endpoints. Run it in the lab:  tests/lab/run bench/ipvs-programming.sh
set -euo pipefail
services=${BENCH_SERVICES:-10000}
endpoints=${BENCH_ENDPOINTS:-10}
mode=${BENCH_MODE:-default}
bin=${KVLB_BUILD_DIR:?}/bench/kvlb_bench_program
out=${LAB_OUT:-$(mktemp -d)}

cleanup() { ip netns del bench-kvlb 2>/dev/null || true; ip netns del bench-ipvsadm 2>/dev/null || true; }
trap cleanup EXIT
for ns in bench-kvlb bench-ipvsadm; do
  ip netns add $ns
  ip -n $ns link add bench0 type veth peer name bench1
  ip -n $ns link set bench0 up
  ip -n $ns link set lo up
done

"$bin" --services "$services" --endpoints "$endpoints" --emit-ipvsadm "$out/rules.ipvsadm"
lines=$(wc -l <"$out/rules.ipvsadm")

# Wall time, CPU time and peak RSS of a child process, as JSON.
measure() {
  python3 - "$@" <<'PY'
import json, resource, subprocess, sys, time
t0 = time.monotonic()
with open(sys.argv[1]) as stdin:
    rc = subprocess.run(sys.argv[2:], stdin=stdin, stdout=subprocess.DEVNULL).returncode
wall = time.monotonic() - t0
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall_s": wall, "cpu_s": u.ru_utime + u.ru_stime, "peak_rss_kib": u.ru_maxrss, "rc": rc}))
PY
}

ipvsadm_json=$(measure "$out/rules.ipvsadm" ip netns exec bench-ipvsadm ipvsadm --restore)
ipvsadm_change_json=$(measure "$out/rules.ipvsadm.change" ip netns exec bench-ipvsadm ipvsadm --restore)
ip netns exec bench-kvlb "$bin" --services "$services" --endpoints "$endpoints" --mode "$mode" >"$out/kvlb.json"
kvlb_count=$(ip netns exec bench-kvlb ipvsadm -Sn | wc -l)
ipvsadm_count=$(ip netns exec bench-ipvsadm ipvsadm -Sn | wc -l)

kvlb_rules=$(ip netns exec bench-kvlb ipvsadm -Sn | sort | md5sum)
ipvsadm_rules=$(ip netns exec bench-ipvsadm ipvsadm -Sn | sort | md5sum)
python3 - "$out/kvlb.json" "$ipvsadm_json" "$lines" "$kvlb_count" "$ipvsadm_count" "$ipvsadm_change_json" \
	"$([ "$kvlb_rules" = "$ipvsadm_rules" ] && echo same || echo different)" <<'PY'
import json, sys
k = json.load(open(sys.argv[1])); i = json.loads(sys.argv[2])
lines, kc, ic = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
ic_change = json.loads(sys.argv[6])
same = sys.argv[7] == "same"
c = k["cold"]
print(f"rule set: {k['services']} services x {k['endpoints_per_service']} real servers ({lines} ipvsadm commands), mode {k['mode']}")
print(f"kernel rules afterwards: kvlb {kc}, ipvsadm {ic}, after the change: {sys.argv[7]}")
print(f"{'':28}{'kvlb':>12}{'ipvsadm --restore':>20}{'ratio':>8}")
print(f"{'cold wall time (s)':28}{c['wall_s']:12.3f}{i['wall_s']:20.3f}{c['wall_s']/i['wall_s']:8.2f}")
print(f"{'cold CPU time (s)':28}{c['cpu_s']:12.3f}{i['cpu_s']:20.3f}{c['cpu_s']/max(i['cpu_s'],1e-9):8.2f}")
print(f"{'IPVS netlink messages':28}{c['ipvs_messages']:12d}{lines:20d}")
print(f"{'peak RSS (MiB)':28}{k['peak_rss_kib']/1024:12.1f}{i['peak_rss_kib']/1024:20.1f}")
ch = k["change"]
print(f"{'1% change wall time (ms)':28}{ch['wall_s']*1000:12.1f}{ic_change['wall_s']*1000:20.1f}{ch['wall_s']/ic_change['wall_s']:8.2f}")
print(f"1% change: {k['changed_endpoints']} endpoints, {ch['ipvs_messages']} IPVS messages, "
      f"{ch['nft_batches']} nft batches, kernel dump: {ch['kernel_read']}")
idle = k["unchanged_second_apply"]
print(f"second apply, nothing changed: {idle['ops']} ops, {idle['ipvs_messages']} IPVS messages")
r = k["resync_full_read"]
print(f"periodic resync (full kernel read, nothing changed): {r['wall_s']*1000:.0f} ms, {r['ops']} ops")
ok = c["errors"] == 0 and ch["errors"] == 0 and i["rc"] == 0 and ic_change["rc"] == 0 and kc == ic and same
print("bench:", "OK" if ok else "FAILED", c.get("first_error", ""))
sys.exit(0 if ok else 1)
PY
