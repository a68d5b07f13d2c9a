# Scenario library for the kvlb lab; source it from a scenario:
#   . "$(dirname "$0")/../lib.sh"
# Runs as root, in the lab guest or on a capable host (see README.md).
# Installs an EXIT trap calling lab_cleanup (chain yours through LAB_CLEANUP_HOOKS).

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LAB_OUT=${LAB_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/kvlb-lab.XXXXXX")}
# The system python starts much faster than a version-manager shim (matters under emulation).
if [ -z "${LAB_PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then LAB_PYTHON=/usr/bin/python3; else LAB_PYTHON=python3; fi
fi
LAB_NAMESPACES=()      # created by this scenario, deleted by lab_cleanup
LAB_PIDS=()            # background processes killed by lab_cleanup
LAB_CLEANUP_HOOKS=()   # commands run first by lab_cleanup
LAB_BACKENDS=(be1 be2 be3)

# Print a step header.
lab_step() {
	printf '\n=== [%s] %s\n' "$(date +%T)" "$*"
}

lab_log() {
	printf '    %s\n' "$*"
}

lab_fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# lab_ns NAME CMD...: run CMD in network namespace NAME.
lab_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# lab_assert_eq EXPECTED ACTUAL MESSAGE
lab_assert_eq() {
	if [ "$1" == "$2" ]; then
		printf '    ok: %s\n' "$3"
	else
		printf 'FAIL: %s\n  expected: %s\n  actual:   %s\n' "$3" "$1" "$2" >&2
		exit 1
	fi
}

# lab_wait_for 'CMD' [TIMEOUT_S]: poll CMD (evaluated) until it succeeds.
lab_wait_for() {
	local cmd=$1 timeout=${2:-10} end
	end=$((SECONDS + timeout))
	until eval "$cmd" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || { printf 'timed out (%ss) waiting for: %s\n' "$timeout" "$cmd" >&2; return 1; }
		sleep 0.1
	done
}

# lab_netns_add NS: new namespace with lo up and predictable sysctls.
lab_netns_add() {
	ip netns add "$1" || lab_fail "cannot create netns $1 (left over from an earlier run? ip netns del $1)"
	LAB_NAMESPACES+=("$1")
	ip -n "$1" link set lo up
	# Whatever the host's sysctl.conf says.  nsenter: much cheaper than ip netns exec.
	nsenter --net="/run/netns/$1" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0
}

# lab_veth NS1 IF1 NS2 IF2: veth pair between two namespaces, both ends up.
lab_veth() {
	ip link add "$2" netns "$1" type veth peer "$4" netns "$3" || lab_fail "veth $1/$2 - $3/$4"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

lab_link_up() { # NS IF
	ip -n "$1" -o link show dev "$2" | grep -q 'LOWER_UP'
}

# client (eth0) -- (eth1) lb1 (br0) -- be1, be2, be3 (eth0 each)
#   client 10.10.0.2/24 fd00:10::2/64, routes 20.20.20.0/24 fd00:20::/64 via lb1
#   lb1    eth1 10.10.0.1/24 fd00:10::1/64 (VIPs go here), br0 10.0.1.1/24 fd00:1::1/64
#   beN    10.0.1.1N/24 fd00:1::1N/64, default routes via lb1 (so NAT mode works)
# (ip -n and -batch: every process start counts under emulation.)
lab_basic_topology() {
	lab_step "basic topology: client - lb1 - ${LAB_BACKENDS[*]}"
	local ns n
	for ns in client lb1 "${LAB_BACKENDS[@]}"; do lab_netns_add "$ns"; done

	lab_veth client eth0 lb1 eth1
	ip -n client -batch - <<-EOF || lab_fail "client setup"
		addr add 10.10.0.2/24 dev eth0
		addr add fd00:10::2/64 dev eth0 nodad
		route add 20.20.20.0/24 via 10.10.0.1
		route add fd00:20::/64 via fd00:10::1
	EOF
	ip -n lb1 -batch - <<-EOF || lab_fail "lb1 setup"
		addr add 10.10.0.1/24 dev eth1
		addr add fd00:10::1/64 dev eth1 nodad
		link add br0 type bridge stp_state 0 mcast_snooping 0
		addr add 10.0.1.1/24 dev br0
		addr add fd00:1::1/64 dev br0 nodad
		link set br0 up
	EOF
	nsenter --net=/run/netns/lb1 sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

	for ns in "${LAB_BACKENDS[@]}"; do
		n=${ns#be}
		lab_veth lb1 "$ns" "$ns" eth0
		ip -n lb1 link set "$ns" master br0
		ip -n "$ns" -batch - <<-EOF || lab_fail "$ns setup"
			addr add 10.0.1.1$n/24 dev eth0
			addr add fd00:1::1$n/64 dev eth0 nodad
			route add default via 10.0.1.1
			route add default via fd00:1::1
		EOF
	done

	lab_wait_for 'lab_link_up client eth0 && lab_link_up lb1 eth1 && lab_link_up lb1 br0' 10 || lab_fail "links not up"
	for ns in "${LAB_BACKENDS[@]}"; do
		lab_wait_for "lab_link_up $ns eth0 && lab_link_up lb1 $ns" 10 || lab_fail "$ns link not up"
	done
}

# lab_servers_start [PORT...]: echo_server.py (TCP, UDP, SCTP; v4 and v6) in
# every backend namespace, default port 8080.  Logs in $LAB_OUT/servers/.
lab_servers_start() {
	local ports=("${@:-8080}") args=() p ns
	for p in "${ports[@]}"; do args+=(--port "$p"); done
	mkdir -p "$LAB_OUT/servers"
	lab_step "servers on ${LAB_BACKENDS[*]}, ports ${ports[*]}"
	local -A pid
	for ns in "${LAB_BACKENDS[@]}"; do
		rm -f "$LAB_OUT/servers/$ns.ready"
		# Not via lab_ns: $! must be the server itself (ip netns exec execs it).
		ip netns exec "$ns" "$LAB_PYTHON" "$LAB_DIR/echo_server.py" --name "$ns" "${args[@]}" \
			--ready "$LAB_OUT/servers/$ns.ready" >>"$LAB_OUT/servers/$ns.log" 2>&1 &
		pid[$ns]=$!
		LAB_PIDS+=($!)
	done
	for ns in "${LAB_BACKENDS[@]}"; do
		# Stop waiting early if the server died (e.g. no SCTP in the kernel).
		lab_wait_for "[ -e '$LAB_OUT/servers/$ns.ready' ] || ! kill -0 ${pid[$ns]}" 30
		[ -e "$LAB_OUT/servers/$ns.ready" ] ||
			{ cat "$LAB_OUT/servers/$ns.log" >&2; lab_fail "server in $ns did not start"; }
	done
}

# lab_client ARGS...: client.py in the client namespace (see client.py --help).
lab_client() {
	lab_ns client "$LAB_PYTHON" "$LAB_DIR/client.py" "$@"
}

# lab_json JSON KEY: the value at KEY, as compact JSON with sorted keys.
lab_json() {
	"$LAB_PYTHON" -c 'import json, sys
print(json.dumps(json.loads(sys.argv[1])[sys.argv[2]], sort_keys=True, separators=(",", ":")))' "$1" "$2"
}

# lab_host ARGS...: run "$LAB_HOST_HELPER" ARGS... on the host (the caller of
# tests/lab/run sets LAB_HOST_HELPER) with this stdin, stdout and stderr, and
# return its status.  On a capable host it is simply run.  In the VM, stdin
# (unless /dev/null) is read to its end first and the output comes when the
# command has ended; the request goes through the results share (see run).
# In the VM it starts no process (each costs 30-60 ms under TCG).
lab_host() {
	[ $# -gt 0 ] || { echo "usage: lab_host ARGS..." >&2; return 2; }
	[ -n "${LAB_HOST_HELPER:-}" ] ||
		{ echo "lab_host: LAB_HOST_HELPER is not set (the caller of tests/lab/run sets it)" >&2; return 127; }
	[ -n "${LAB_VM:-}" ] || { "$LAB_HOST_HELPER" "$@"; return; }
	local d=$LAB_OUT/.lab/host id rc=''
	id=${EPOCHREALTIME/./}.$BASHPID
	# (test resolves /proc/self in this shell)
	if ! [ /proc/self/fd/0 -ef /dev/null ]; then
		_lab_copy >"$d/$id.in" || return 125
	fi
	# ID.argv, then the marker ID.req: the host never sees a partial request.
	printf '%s\0' "$@" >"$d/$id.argv" && : >"$d/$id.req" || return 125
	[ -n "${LAB_TICK_FD:-}" ] || exec {LAB_TICK_FD}<> <(:)
	until [ -e "$d/$id.rc" ]; do read -rt 0.01 -u "$LAB_TICK_FD" || :; done
	[ -s "$d/$id.out" ] && _lab_copy <"$d/$id.out"
	[ -s "$d/$id.err" ] && _lab_copy <"$d/$id.err" >&2
	read -r rc <"$d/$id.rc"
	# The host removes ID.* after this. A create over 9p can fail spuriously
	# (ENOENT) while the host removes other files: retry, and never let it
	# fail the scenario (at worst the files stay).
	local try
	for try in 1 2 3 4 5; do
		: 2>/dev/null >"$d/$id.ack" && break
		read -rt 0.01 -u "$LAB_TICK_FD" || :
	done
	return "${rc:-125}"
}
# stdin to stdout byte for byte (NULs too), without a process.
_lab_copy() {
	local c
	while IFS= read -r -d '' c; do printf '%s\0' "$c"; done
	printf '%s' "$c"
}
# read -t on this pipe (nobody writes to it) is a sleep without a process.
[ -z "${LAB_VM:-}" ] || [ -z "${LAB_HOST_HELPER:-}" ] || exec {LAB_TICK_FD}<> <(:)

# lab_forward_ports_into NS PORT...: 127.0.0.1:PORT in namespace NS reaches
# 127.0.0.1:PORT of the scenario's own (root) namespace, where the host
# ports (LAB_HOST_PORTS) are, in the VM too.  Every connection in NS makes a new
# connection there, so it keeps working when the server restarts (while the
# server is down, connections are accepted and closed at once instead of
# refused).  Two socat per port: a listener in NS that hands each connection
# over a unix socket to a listener here that connects to 127.0.0.1:PORT.
# Stopped by lab_cleanup.
LAB_FWD_DIR=
LAB_FWD_PIDS=()
lab_forward_ports_into() {
	local ns=$1 p sock
	shift
	if [ -z "$LAB_FWD_DIR" ]; then
		LAB_FWD_DIR=$(mktemp -d /tmp/lab-fwd.XXXXXX) || lab_fail "mktemp"
		LAB_CLEANUP_HOOKS+=(lab_forward_stop)
	fi
	ip -n "$ns" link set lo up || lab_fail "no netns $ns"
	for p; do
		sock=$LAB_FWD_DIR/$p.sock
		if [ ! -e "$sock" ]; then  # one per port, shared by the namespaces
			socat -lf /dev/null "UNIX-LISTEN:$sock,fork" "TCP:127.0.0.1:$p,nodelay" </dev/null &
			LAB_FWD_PIDS+=($!)
			lab_wait_for "[ -S '$sock' ]" 10 || lab_fail "forward of port $p did not start"
		fi
		ip netns exec "$ns" socat -lf /dev/null "TCP-LISTEN:$p,bind=127.0.0.1,fork,reuseaddr,nodelay" \
			"UNIX-CONNECT:$sock" </dev/null &
		LAB_FWD_PIDS+=($!)
	done
	for p; do
		lab_wait_for "nsenter --net=/run/netns/$ns ss -Hltn 'sport = :$p' | grep -q ." 10 ||
			lab_fail "forward of port $p into $ns did not start"
	done
}

# Stops the forwards and the connections they serve (lab_cleanup does it).
lab_forward_stop() {
	local p
	for p in "${LAB_FWD_PIDS[@]}"; do pkill -P "$p"; kill "$p"; done 2>/dev/null
	for p in "${LAB_FWD_PIDS[@]}"; do wait "$p"; done 2>/dev/null
	[ -z "$LAB_FWD_DIR" ] || rm -rf "$LAB_FWD_DIR"
	LAB_FWD_PIDS=() LAB_FWD_DIR=
}

lab_cleanup() {
	local rc=$? h p ns
	trap - EXIT
	set +e  # scenarios use set -e; wait on a killed pid "fails"
	for h in "${LAB_CLEANUP_HOOKS[@]}"; do eval "$h" || true; done
	for p in "${LAB_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	# A process that ignores SIGTERM (a hung daemon) must not hang the lab.
	for p in "${LAB_PIDS[@]}"; do
		for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$p" 2>/dev/null && { echo "lab: pid $p ignored SIGTERM for 15 s: SIGKILL" >&2; kill -9 "$p"; }
		wait "$p" 2>/dev/null
	done
	for ns in "${LAB_NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
	LAB_PIDS=() LAB_NAMESPACES=()
	exit "$rc"
}
trap lab_cleanup EXIT
