#!/bin/bash
# keepalived's notify script for bench/ha-failover.sh: conntrackd driven on
# each transition the way conntrackd's example primary-backup.sh does it
# (/usr/share/doc/conntrackd/examples/sync/primary-backup.sh), with each
# step timed.
#
#   notify.sh primary|backup|fault RUN_DIR LOG_FILE
#
# RUN_DIR holds conntrackd.conf (its socket and lock are there too); the
# state keepalived entered (MASTER, BACKUP, FAULT) is written to RUN_DIR/state
# for the bench to read. LOG_FILE gets one line per step:
#   <epoch seconds> <node> <transition> <step> rc=<status>
# keepalived starts notify scripts without waiting for them: a lock keeps
# two transitions' steps from interleaving.
set -u
transition=$1 run_dir=$2 log=$3
conntrackd=/usr/sbin/conntrackd
conf=$run_dir/conntrackd.conf
node=$(basename "$run_dir")
node=${node#keepalived-}

exec 9>"$run_dir/notify.lock"
flock 9

note() { echo "$EPOCHREALTIME $node $transition $*" >>"$log"; }
ctd() { # STEP OPTION
	"$conntrackd" -C "$conf" "$2" >/dev/null 2>&1
	note "$1 rc=$?"
}
set_state() {
	echo "$1" >"$run_dir/state.tmp" && mv -f "$run_dir/state.tmp" "$run_dir/state"
}

case $transition in
primary)
	set_state MASTER
	note "begin rc=0"
	ctd commit -c   # the external cache (the peer's flows) into the kernel table
	ctd flush -f    # flush the internal and external caches
	ctd resync -R   # the internal cache from the kernel table
	ctd bulk -B     # a bulk update to the backup
	;;
backup)
	set_state BACKUP
	note "begin rc=0"
	if ! "$conntrackd" -C "$conf" -s >/dev/null 2>&1; then
		# Not running: start it (after a crash its lock file stays).
		rm -f "$run_dir/conntrackd.lock"
		"$conntrackd" -C "$conf" -d >/dev/null 2>&1
		note "start rc=$?"
	fi
	ctd shorten -t  # shorten the kernel's timers: the zombie entries go
	ctd resync-request -n  # ask the master for a resync
	;;
fault)
	set_state FAULT
	note "begin rc=0"
	ctd shorten -t
	;;
*)
	echo "usage: $0 primary|backup|fault RUN_DIR LOG_FILE" >&2
	exit 1
	;;
esac
note "end rc=0"
