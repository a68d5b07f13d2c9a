# kvlb helpers for lab scenarios (source after lib.sh): start kvlbd in lb1,
# wait for it to converge, ask kvlbctl.
KVLBD=${KVLB_BUILD_DIR:?}/src/daemon/kvlbd
KVLBCTL=${KVLB_BUILD_DIR:?}/src/cli/kvlbctl
KVLB_PID=

# kvlb_start CONFIG [NS]: kvlbd in NS (default lb1), log in $LAB_OUT/kvlbd-NS.log.
kvlb_start() {
	local config=$1 ns=${2:-lb1}
	ip netns exec "$ns" "$KVLBD" --config "$config" --state-dir "$LAB_OUT/state-$ns" --log-level debug \
		>>"$LAB_OUT/kvlbd-$ns.log" 2>&1 &
	KVLB_PID=$!
	LAB_PIDS+=($KVLB_PID)
	LAB_CLEANUP_HOOKS+=("kvlb_stacks_on_failure $KVLB_PID")
	lab_wait_for "kvlb_ctl $ns get status" 10 || { cat "$LAB_OUT/kvlbd-$ns.log" >&2; lab_fail "kvlbd did not start"; }
}

# kvlb_stacks_on_failure PID (a cleanup hook; sees lab_cleanup's $rc): when
# the scenario failed and kvlbd still runs, its threads' stacks go to
# $LAB_OUT/kvlbd-stacks-PID.txt, for a hang to be diagnosed after the fact.
kvlb_stacks_on_failure() {
	[ "${rc:-0}" != 0 ] && kill -0 "$1" 2>/dev/null || return 0
	command -v gdb >/dev/null || return 0
	timeout 120 gdb -p "$1" -batch -ex "thread apply all bt" >"$LAB_OUT/kvlbd-stacks-$1.txt" 2>&1
	echo "lab: kvlbd $1 stacks in $LAB_OUT/kvlbd-stacks-$1.txt"
}

kvlb_stop() {
	[ -n "$KVLB_PID" ] && kill "$KVLB_PID" && wait "$KVLB_PID" 2>/dev/null
	KVLB_PID=
}

# kvlb_ctl NS ARGS...: kvlbctl in NS.
kvlb_ctl() {
	local ns=$1
	shift
	ip netns exec "$ns" "$KVLBCTL" "$@"
}

# kvlb_status_field NS FIELD: a top-level field of `kvlbctl get status -o json`.
kvlb_status_field() {
	lab_json "$(kvlb_ctl "$1" get status -o json)" "$2"
}

kvlb_counter() { # NS NAME
	"$LAB_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["counters"][sys.argv[1]])' "$2" \
		< <(kvlb_ctl "$1" get status -o json)
}

# kvlb_wait_synced [NS] [TIMEOUT]: the last reconcile applied everything.
kvlb_wait_synced() {
	local ns=${1:-lb1}
	lab_wait_for "[ \"\$(kvlb_status_field $ns synced)\" = true ]" "${2:-10}" ||
		{ kvlb_ctl "$ns" get status >&2; tail -20 "$LAB_OUT/kvlbd-$ns.log" >&2; lab_fail "kvlbd not synced"; }
}

# ipvs_rules NS: the IPVS table in restore form, sorted (stable to compare).
ipvs_rules() {
	ip netns exec "${1:-lb1}" ipvsadm -Sn | sort
}
