#!/bin/bash
# BGP benchmark in the lab (topology of tests/lab/bgp.sh: the upstream router
# rtr running BIRD in front of lb1 and lb2, each kvlbd + BIRD):
#
#   tests/lab/run bench/bgp-convergence.sh
#   LAB_PASS_ENV="RUNS VIPS" RUNS=3 VIPS=1000 tests/lab/run bench/bgp-convergence.sh
#
# 1. Route convergence after a MASTER's hard death, RUNS times with BFD on
#    (50 ms x 3 on both sides), then RUNS times with BFD off (hold time 3 s):
#    from the moment the MASTER's links go down to the moment rtr's kernel
#    route to the VIP points at the other node (/proc/net/route in rtr,
#    polled every 5 ms). The killed node is revived (emptied, as after a
#    reboot) and the next run kills the other one.
# 2. VIPS (10,000) service IPs on lb1: the time kvlbd takes to render the
#    BIRD config, have BIRD parse it and load it (kvlbd's own log line), and
#    the time until rtr has all of them; then one service more: the same
#    times (from the SIGHUP that tells kvlbd), and how many route updates rtr
#    received from lb1 for it (birdc show protocols all: "Import updates:
#    received"). Natively, without emulation: build/bench/kvlb_bench_bgp.
# Results: $LAB_OUT/bgp-convergence.txt and .json.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/lab/lib.sh"
. "$here/../tests/lab/kvlb.sh"
. "$here/../tests/lab/ha.sh"
. "$here/../tests/lab/bgp.sh"

setting() { local env=LAB_ENV_$1; echo "${!1:-${!env:-$2}}"; }
RUNS=$(setting RUNS 10)
VIPS=$(setting VIPS 10000)
HA_INTERVAL_MS=100
RESULTS=$LAB_OUT/bgp-convergence.json
echo '{}' >"$RESULTS"
record() { # KEY JSON
	"$LAB_PYTHON" - "$RESULTS" "$1" "$2" <<-'PY'
		import json, sys
		path, key, value = sys.argv[1:]
		data = json.load(open(path))
		data[key] = json.loads(value)
		json.dump(data, open(path, "w"), indent=2)
	PY
}

# route_waiter VIP GATEWAY OUT: in rtr, writes the time (epoch s) at which
# the kernel route to VIP goes via GATEWAY.
route_waiter() {
	lab_ns rtr "$LAB_PYTHON" - "$@" <<-'PY'
		import socket, struct, sys, time
		vip, gateway, out = sys.argv[1:]
		def current():
		    with open("/proc/net/route") as f:
		        for line in f.readlines()[1:]:
		            fields = line.split()
		            dest = socket.inet_ntoa(struct.pack("<L", int(fields[1], 16)))
		            mask = socket.inet_ntoa(struct.pack("<L", int(fields[7], 16)))
		            if dest == vip and mask == "255.255.255.255":
		                return socket.inet_ntoa(struct.pack("<L", int(fields[2], 16)))
		    return None
		deadline = time.time() + 60
		while time.time() < deadline:
		    if current() == gateway:
		        open(out, "w").write(repr(time.time()))
		        break
		    time.sleep(0.005)
	PY
}

stop_all() {
	local ns
	for ns in lb1 lb2; do
		ip netns pids "$ns" | xargs -r kill -9 2>/dev/null || true
		ha_clean "$ns"
	done
	[ -n "${BGP_BIRD_PID[rtr]:-}" ] && kill "${BGP_BIRD_PID[rtr]}" 2>/dev/null || true
	sleep 1
}

start_pair() { # BFD
	local n
	BGP_BFD=$1
	for n in 1 2; do ha_config "lb$n" $((200 - 50 * n)); done
	bgp_router_start "$1"
	bgp_lb_start lb1
	bgp_lb_start lb2
	ha_wait_role lb1 MASTER 20
	ha_wait_role lb2 BACKUP 10
	lab_wait_for "bgp_established rtr lb1 && bgp_established rtr lb2 && [ \"\$(bgp_rtr_nexthop $HA_VIP)\" = 10.0.9.1 ]" 60 ||
		{ bgp_birdc rtr show protocols all; lab_fail "pair not announcing"; }
}

convergence() { # BFD: RUNS hard deaths, alternating nodes
	local bfd=$1 master=lb1 other=lb2 run samples=()
	lab_step "convergence with BFD $bfd: $RUNS hard deaths of the MASTER"
	start_pair "$bfd"
	for ((run = 1; run <= RUNS; run++)); do
		local gw=10.0.9.${other#lb} out=$LAB_OUT/route-moved-$bfd-$run
		rm -f "$out"
		route_waiter "$HA_VIP" "$gw" "$out" &
		local waiter=$!
		sleep 0.3  # the waiter is polling
		local t0
		t0=$(date +%s.%N)
		ha_kill_hard "$master"
		wait "$waiter" || true
		[ -s "$out" ] || { bgp_birdc rtr show route all; lab_fail "run $run: rtr's route did not move to $other"; }
		local ms
		ms=$("$LAB_PYTHON" -c "import sys; print(round((float(open(sys.argv[1]).read()) - float(sys.argv[2])) * 1000))" "$out" "$t0")
		samples+=("$ms")
		lab_log "run $run: $master died, rtr's route via $other after $ms ms"
		ha_wait_role "$other" MASTER 10
		ha_revive "$master"
		bgp_bird_start "$master" "$LAB_OUT/$master/bird.conf"
		ha_wait_role "$master" BACKUP 10
		lab_wait_for "bgp_established rtr $master" 60 || lab_fail "run $run: $master's session did not come back"
		local t=$master
		master=$other
		other=$t
	done
	local list
	list=$(IFS=,; echo "${samples[*]}")
	record "bfd_$bfd" "{\"route_moved_ms\": [$list]}"
	stop_all
}

vips() {
	lab_step "$VIPS VIPs on lb1: render, check and load; rtr has them all; then one service more"
	local extra="" i
	extra=$("$LAB_PYTHON" -c "
import sys
n = int(sys.argv[1])
for i in range(n):
    print('{name: bench/v%d, vip: 10.%d.%d.%d, port: 80, protocol: tcp, endpoints: []}' % (i, 100 + i // 65536, (i // 256) % 256, i % 256))
" "$VIPS")
	# Plain assignments: a prefix one would export 10,000 lines to every command.
	BGP_BFD=on
	HA_EXTRA_SERVICES=$extra
	ha_config lb1 150
	bgp_router_start on
	local t0
	t0=$(date +%s.%N)
	bgp_lb_start lb1
	lab_wait_for "[ \"\$(bgp_birdc rtr show route count protocol lb1 | sed -n 's/^\([0-9]*\) of .*/\1/p' | head -1)\" -ge $((VIPS + 1)) ]" 600 ||
		{ bgp_birdc rtr show route count; lab_fail "rtr did not get every VIP"; }
	local all_ms
	all_ms=$("$LAB_PYTHON" -c "import sys, time; print(round((time.time() - float(sys.argv[1])) * 1000))" "$t0")
	lab_log "rtr has every VIP ${all_ms} ms after kvlbd started (IPVS programming included; BIRD read the file kvlbd wrote)"
	# lb1 alone: BACKUP first (its VIPs announced made worse), MASTER once no
	# peer answers; the counter is read once the MASTER's routes have settled.
	ha_wait_role lb1 MASTER 300
	lab_wait_for "grep -F 'bgp: BIRD loaded $((VIPS + 1)) routes ($((VIPS + 1)) as MASTER' '$LAB_OUT/kvlbd-lb1.log'" 300 ||
		lab_fail "lb1 did not announce its VIPs as MASTER"
	local load_line
	load_line=$(grep -F "bgp: BIRD loaded $((VIPS + 1)) routes ($((VIPS + 1)) as MASTER" "$LAB_OUT/kvlbd-lb1.log" | tail -1)
	lab_log "$load_line"
	local before after
	before=-1
	after=$(bgp_birdc rtr show protocols all lb1 | awk '/Import updates:/ {print $3}')
	until [ "$before" = "$after" ]; do
		before=$after
		sleep 2
		after=$(bgp_birdc rtr show protocols all lb1 | awk '/Import updates:/ {print $3}')
	done
	HA_EXTRA_SERVICES="$extra
{name: bench/one-more, vip: 10.99.99.99, port: 80, protocol: tcp, endpoints: []}"
	ha_config lb1 150
	HA_EXTRA_SERVICES=""
	t0=$(date +%s.%N)
	kill -HUP "${HA_PID[lb1]}"
	lab_wait_for "[ -n \"\$(bgp_rtr_nexthop 10.99.99.99)\" ]" 60 || lab_fail "the added VIP did not reach rtr"
	local one_ms
	one_ms=$("$LAB_PYTHON" -c "import sys, time; print(round((time.time() - float(sys.argv[1])) * 1000))" "$t0")
	sleep 2
	after=$(bgp_birdc rtr show protocols all lb1 | awk '/Import updates:/ {print $3}')
	local one_line
	one_line=$(grep -F "bgp: BIRD loaded $((VIPS + 2)) routes" "$LAB_OUT/kvlbd-lb1.log" | tail -1 || true)
	lab_log "$one_line"
	lab_log "one service more: in rtr's kernel table ${one_ms} ms after kvlbd was told (SIGHUP); rtr received $((after - before)) update(s) from lb1"
	local render load render1 load1
	read -r render load < <(echo "$load_line" | sed -n 's/.*rendered in \([0-9]*\) us, checked and loaded in \([0-9]*\) us.*/\1 \2/p')
	read -r render1 load1 < <(echo "$one_line" | sed -n 's/.*rendered in \([0-9]*\) us, checked and loaded in \([0-9]*\) us.*/\1 \2/p')
	record vips "{\"vips\": $VIPS, \"render_us\": ${render:-null}, \"check_and_load_us\": ${load:-null}, \"rtr_all_ms\": $all_ms,
		\"one_more\": {\"render_us\": ${render1:-null}, \"check_and_load_us\": ${load1:-null}, \"rtr_ms\": $one_ms, \"updates_received\": $((after - before))}}"
	stop_all
}

ha_topology router
lab_servers_start 8080
if ((RUNS > 0)); then
	convergence on
	convergence off
fi
vips

"$LAB_PYTHON" - "$RESULTS" <<-'PY' | tee "$LAB_OUT/bgp-convergence.txt"
	import json, statistics, sys
	r = json.load(open(sys.argv[1]))
	print("BGP benchmark (lab, software emulation)")
	for bfd in ("on", "off"):
	    if f"bfd_{bfd}" not in r:
	        continue
	    s = sorted(r[f"bfd_{bfd}"]["route_moved_ms"])
	    print(f"  MASTER death -> rtr's route moved, BFD {bfd:3}: n={len(s)} p50 {statistics.median(s):.0f} ms, max {max(s)} ms  {s}")
	v = r["vips"]
	print(f"  {v['vips']} VIPs: render {v['render_us']/1000:.0f} ms, bird -p + configure {v['check_and_load_us']/1000:.0f} ms; rtr had all {v['rtr_all_ms']} ms after kvlbd started")
	o = v["one_more"]
	print(f"  one service more: render {o['render_us']/1000:.0f} ms, bird -p + configure {o['check_and_load_us']/1000:.0f} ms; in rtr's kernel after {o['rtr_ms']} ms; rtr received {o['updates_received']} update(s)")
PY
