#!/usr/bin/env bash
# Tests the Ansible deployment (ansible/site.yml, role kvlb) on this machine
# without touching it: the role runs against localhost with its prefix, config
# and unit directories in a temporary directory and kvlb_manage_system=false
# (no packages, kernel modules or service). Checks the syntax, the installed
# binaries, the rendered config (valid for kvlbd, equal to the variables),
# the unit's adjusted paths, idempotence, a config change, and that an
# invalid config fails at validation leaving the previous one in place.
# Then an HA + BGP node: the ha and bgp sections, the advert key and a BGP
# password (mode 0600, written before the config, never in the output), the
# systemd drop-ins for BIRD and conntrackd, idempotence, a restart for a
# changed ha section, an invalid ha or a missing key refused, and HA and BGP
# turned off again.
# Run as root. Installs ansible-core if ansible-playbook is missing.
# Env: KVLB_BUILD_DIR (default <repo>/build).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${KVLB_BUILD_DIR:-$REPO/build}
BUILD=$(cd "$BUILD" && pwd)
START=$SECONDS
CHECKS=0

fail() {
	printf 'ansible_test: FAIL: %s\n' "$*" >&2
	exit 1
}
ok() {
	CHECKS=$((CHECKS + 1))
	printf '  ok: %s\n' "$*"
}
step() {
	printf '\n=== %s\n' "$*"
}

[[ $(id -u) == 0 ]] || fail "run as root"
for f in src/daemon/kvlbd src/cli/kvlbctl; do
	[ -x "$BUILD/$f" ] || fail "$BUILD/$f missing: build first (scripts/build)"
done

T=$(mktemp -d "${TMPDIR:-/tmp}/kvlb-ansible.XXXXXX")
trap 'rm -rf "$T"' EXIT
# Keep ansible's own state in $T too; ignore any ansible.cfg around.
: >"$T/ansible.cfg"
export ANSIBLE_CONFIG=$T/ansible.cfg ANSIBLE_LOCAL_TEMP=$T/.ansible/local ANSIBLE_REMOTE_TEMP=$T/.ansible/remote
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0

if ! command -v ansible-playbook >/dev/null; then
	step "installing ansible-core"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	pkg=ansible-core
	apt-cache show ansible-core >/dev/null 2>&1 || pkg=ansible
	apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
fi
version=$(ansible-playbook --version)
echo "${version%%$'\n'*}"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

PREFIX=$T/usr/local
CONFIG=$T/etc/kvlb/kvlb.yaml
UNIT=$T/etc/systemd/system/kvlbd.service
MODULES_LOAD=/etc/modules-load.d/kvlb.conf
modules_load_before=$([ -e $MODULES_LOAD ] && echo yes || echo no)

cat >"$T/inventory.yml" <<EOF
kvlb:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
EOF
cat >"$T/common.yml" <<EOF
ansible_become: false
kvlb_manage_system: false
kvlb_build_dir: $BUILD
kvlb_prefix: $PREFIX
kvlb_config_dir: $T/etc/kvlb
kvlb_unit_dir: $T/etc/systemd/system
kvlb_node_name: lb1
kvlb_interface: eth1
kvlb_api_listen: "127.0.0.1:7799"
kvlb_drain_timeout_seconds: 10
EOF
cat >"$T/services.yml" <<'EOF'
kvlb_services:
  - name: default/web
    vip: 20.20.20.1
    port: 80
    protocol: tcp
    scheduler: wrr
    mode: fullnat
    endpoints:
      - {ip: 10.0.1.11, port: 8080, weight: 1}
      - {ip: 10.0.1.12, port: 8080, weight: 2}
  - name: default/dns
    vip: 20.20.20.1
    port: 53
    protocol: udp
    mode: onearm
    snatAddress: 20.20.20.1
    endpoints:
      - {ip: 10.0.1.11, port: 5353}
  - name: default/sctp-v6
    vip: "2001:db8::1"
    port: 3868
    protocol: sctp
    scheduler: sh
    persistence: 300
    endpoints: []
EOF
# Same services, one weight changed.
sed 's/port: 8080, weight: 2}/port: 8080, weight: 5}/' "$T/services.yml" >"$T/services-changed.yml"
# The changed services plus one with port 0: refused by kvlbd --check.
cat "$T/services-changed.yml" - >"$T/services-invalid.yml" <<'EOF'
  - name: default/broken
    vip: 20.20.20.2
    port: 0
    endpoints: []
EOF

# play VARS_FILE LOG [ARGS...]: runs site.yml; its status is ansible-playbook's.
play() {
	local vars=$1 log=$2
	shift 2
	ansible-playbook -i "$T/inventory.yml" "$REPO/ansible/site.yml" -e "@$T/common.yml" -e "@$vars" "$@" >"$log" 2>&1
}
# recap LOG FIELD: a number from the PLAY RECAP line for localhost.
recap() {
	grep -E '^localhost +:' "$1" | grep -oE "$2=[0-9]+" | cut -d= -f2
}
# same_services FILE: the services in the rendered config equal those in FILE.
same_services() {
	"$PY" - "$CONFIG" "$1" <<'EOF'
import sys, yaml
rendered = yaml.safe_load(open(sys.argv[1]))
wanted = yaml.safe_load(open(sys.argv[2]))["kvlb_services"]
sys.exit(0 if rendered["services"] == wanted else 1)
EOF
}

step "syntax check"
ansible-playbook -i "$T/inventory.yml" --syntax-check "$REPO/ansible/site.yml" >"$T/syntax.log" 2>&1 ||
	{ cat "$T/syntax.log"; fail "syntax check"; }
ok "ansible-playbook --syntax-check site.yml"

step "first run"
play "$T/services.yml" "$T/run1.log" || { cat "$T/run1.log"; fail "first run failed"; }
[ "$(recap "$T/run1.log" failed)" == 0 ] && [ "$(recap "$T/run1.log" changed)" -gt 0 ] ||
	{ cat "$T/run1.log"; fail "first run: expected changes and no failures"; }
ok "first run: changed=$(recap "$T/run1.log" changed) failed=0"
cmp -s "$BUILD/src/daemon/kvlbd" "$PREFIX/sbin/kvlbd" && [ -x "$PREFIX/sbin/kvlbd" ] || fail "kvlbd not installed"
cmp -s "$BUILD/src/cli/kvlbctl" "$PREFIX/bin/kvlbctl" && [ -x "$PREFIX/bin/kvlbctl" ] || fail "kvlbctl not installed"
ok "binaries installed to <prefix>/sbin/kvlbd and <prefix>/bin/kvlbctl"
out=$("$PREFIX/sbin/kvlbd" --config "$CONFIG" --check 2>&1) || { cat "$CONFIG"; fail "rendered config invalid: $out"; }
[[ $out == *"OK, 3 services"* ]] || fail "kvlbd --check: $out"
ok "rendered config passes kvlbd --check: ${out##*: }"
same_services "$T/services.yml" || { cat "$CONFIG"; fail "rendered services differ from kvlb_services"; }
grep -q '^node: {name: "lb1", interface: "eth1"}$' "$CONFIG" &&
	grep -q '^api: {listen: "127.0.0.1:7799"}$' "$CONFIG" &&
	grep -q '^  drainTimeoutSeconds: 10$' "$CONFIG" &&
	grep -q '^  resyncIntervalSeconds: 2$' "$CONFIG" || { cat "$CONFIG"; fail "node/api/reconcile not rendered"; }
ok "config has node, api, reconcile and exactly the 3 services of kvlb_services"
grep -qx "ExecStartPre=$PREFIX/sbin/kvlbd --config $CONFIG --check" "$UNIT" &&
	grep -qx "ExecStart=$PREFIX/sbin/kvlbd --config $CONFIG" "$UNIT" &&
	! grep -q '=/usr/local/sbin' "$UNIT" || { cat "$UNIT"; fail "unit paths not adjusted"; }
ok "unit file installed with the prefix's kvlbd and the config path"
[ "$modules_load_before" == yes ] || [ ! -e $MODULES_LOAD ] || fail "$MODULES_LOAD written with kvlb_manage_system=false"
ok "system left alone (no modules-load.d file, no service)"

step "second run (idempotence)"
play "$T/services.yml" "$T/run2.log" || { cat "$T/run2.log"; fail "second run failed"; }
[ "$(recap "$T/run2.log" changed)" == 0 ] || { cat "$T/run2.log"; fail "second run changed something"; }
ok "second run: changed=0"

step "config change"
play "$T/services-changed.yml" "$T/run3.log" || { cat "$T/run3.log"; fail "change run failed"; }
[ "$(recap "$T/run3.log" changed)" == 1 ] || { cat "$T/run3.log"; fail "change run: expected changed=1"; }
grep -q 'changed: \[localhost\]' <(grep -A1 'TASK \[kvlb : Write the config\]' "$T/run3.log") ||
	{ cat "$T/run3.log"; fail "change run: the config task did not change"; }
same_services "$T/services-changed.yml" || { cat "$CONFIG"; fail "changed services not rendered"; }
ok "a changed weight rewrites only the config (changed=1)"

step "invalid config (port 0)"
sum_before=$(sha256sum <"$CONFIG")
if play "$T/services-invalid.yml" "$T/run4.log"; then
	cat "$T/run4.log"
	fail "play with port 0 succeeded"
fi
grep -q 'TASK \[kvlb : Write the config\]' "$T/run4.log" &&
	grep -A3 'TASK \[kvlb : Write the config\]' "$T/run4.log" | grep -q 'fatal: .*failed to validate' &&
	grep -q 'must be 1..65535 (got 0)' "$T/run4.log" || { cat "$T/run4.log"; fail "play did not fail at validation"; }
ok "play fails at the config task: kvlbd --check refused port 0"
[ "$(sha256sum <"$CONFIG")" == "$sum_before" ] || fail "config changed by a failed validation"
same_services "$T/services-changed.yml" || fail "config in place is not the previous one"
ok "previous config left in place"

# The HA + BGP node: lb1 of a pair. Secrets are random, to be looked for in
# the output; keyFile is left to the role's default.
KEY_FILE=$T/etc/kvlb/ha.key
PW_FILE=$T/etc/kvlb/bgp-router.password
DROPINS=$T/etc/systemd/system
HA_KEY=$(head -c 24 /dev/urandom | base64)
BGP_PW=pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat >"$T/ha.yml" <<EOF
kvlb_services:
  - name: default/web
    vip: 20.20.20.1
    port: 80
    mode: fullnat
    instance: default
    communities: ["65000:80", "4200000000:1:2"]
    endpoints:
      - {ip: 10.0.1.11, port: 8080}
  - name: default/dns
    vip: 20.20.20.1
    port: 53
    protocol: udp
    instance: default
    endpoints: []
kvlb_ha:
  address: 10.0.9.1
  peers: [10.0.9.2]
  intervalMs: 100
  instances:
    - {name: default, priority: 150, floatingAddresses: [10.0.2.1]}
  sync: {interface: sync0, address: 10.99.0.1, peer: 10.99.0.2, ipvsSyncId: 1, conntrackd: true}
kvlb_ha_key: "$HA_KEY"
kvlb_bgp:
  localAS: 65000
  routerId: 10.0.9.1
  birdConfig: /var/lib/kvlb/bird.conf
  backup: {mode: worse, asPathPrepend: 3}
  peers:
    - {address: 10.0.9.254, as: 64512, passwordFile: $PW_FILE, bfd: true}
kvlb_bgp_passwords:
  $PW_FILE: "$BGP_PW"
EOF
# The same node with manageConntrackd false (systemd runs conntrackd) and
# conntrackd's files elsewhere; then with priority 300, refused by kvlbd --check.
sed 's|conntrackd: true}|conntrackd: true, manageConntrackd: false, conntrackdConfig: /run/kvlb/sync/conntrackd.conf, conntrackdSocket: /run/kvlb/sync/conntrackd.ctl}|' \
	"$T/ha.yml" >"$T/ha-conntrackd-unit.yml"
sed 's/priority: 150/priority: 300/' "$T/ha-conntrackd-unit.yml" >"$T/ha-invalid.yml"
# ... with another BGP peer AS: a reload applies it, no restart.
sed 's/as: 64512,/as: 64513,/' "$T/ha.yml" >"$T/ha-bgp-peer.yml"
# ... and without the advert key: refused before anything is written.
sed 's/^kvlb_ha_key: .*/kvlb_ha_key: ""/' "$T/ha-conntrackd-unit.yml" >"$T/ha-no-key.yml"

# same_section VARS_FILE SECTION [KEY=VALUE...]: the rendered SECTION equals
# kvlb_SECTION in VARS_FILE, plus KEY=VALUE (what the role adds).
same_section() {
	"$PY" - "$CONFIG" "$@" <<'EOF'
import sys, yaml
rendered = yaml.safe_load(open(sys.argv[1]))
wanted = yaml.safe_load(open(sys.argv[2]))["kvlb_" + sys.argv[3]]
for extra in sys.argv[4:]:
    key, value = extra.split("=", 1)
    wanted[key] = value
sys.exit(0 if rendered.get(sys.argv[3]) == wanted else 1)
EOF
}
# secret_file PATH CONTENT: PATH is root's, mode 0600, and holds exactly CONTENT.
secret_file() {
	[ "$(stat -c '%a %U' "$1")" == "600 root" ] && [ "$(cat "$1")" == "$2" ] && [ "$(wc -c <"$1")" == "${#2}" ]
}
# no_secrets LOG: neither secret appears in LOG, as is or in base64.
no_secrets() {
	local s
	for s in "$HA_KEY" "$BGP_PW" "$(printf %s "$HA_KEY" | base64 -w0)" "$(printf %s "$BGP_PW" | base64 -w0)"; do
		! grep -qF -- "$s" "$1" || return 1
	done
}
# task_result LOG TASK: how TASK ended in LOG (ok, changed, skipping, fatal).
task_result() {
	grep -A1 "TASK \[kvlb : $2\]" "$1" | sed -n 2p | cut -d: -f1
}
RESTART_TASK='Restart kvlbd for a changed ha section, or BGP switched on, off or to another socket'

step "HA and BGP (run with -v --diff)"
play "$T/ha.yml" "$T/run5.log" -v --diff || { cat "$T/run5.log"; fail "HA run failed"; }
[ "$(recap "$T/run5.log" failed)" == 0 ] || { cat "$T/run5.log"; fail "HA run: failures"; }
ok "HA run: changed=$(recap "$T/run5.log" changed) failed=0"
out=$("$PREFIX/sbin/kvlbd" --config "$CONFIG" --check 2>&1) || { cat "$CONFIG"; fail "rendered config invalid: $out"; }
[[ $out == *"OK, 2 services"* ]] || fail "kvlbd --check: $out"
ok "rendered config passes kvlbd --check: ${out##*: }"
same_section "$T/ha.yml" ha "keyFile=$KEY_FILE" || { cat "$CONFIG"; fail "rendered ha differs from kvlb_ha"; }
same_section "$T/ha.yml" bgp || { cat "$CONFIG"; fail "rendered bgp differs from kvlb_bgp"; }
same_section "$T/ha.yml" services || { cat "$CONFIG"; fail "rendered services differ from kvlb_services"; }
ok "config has ha (keyFile: <config dir>/ha.key), bgp, and services with instance and communities, as given"
secret_file "$KEY_FILE" "$HA_KEY" || { ls -l "$KEY_FILE"; fail "advert key: not root's, not mode 0600 or not the key"; }
secret_file "$PW_FILE" "$BGP_PW" || { ls -l "$PW_FILE"; fail "password file: not root's, not mode 0600 or not the password"; }
ok "advert key and BGP password written as given, root's, mode 0600"
line_of() { grep -n "TASK \[kvlb : $1\]" "$T/run5.log" | cut -d: -f1; }
key_line=$(line_of 'Write the HA advert key')
pw_line=$(line_of "Write the BGP peers' password files")
config_line=$(line_of 'Write the config')
[ -n "$key_line" ] && [ -n "$pw_line" ] && [ "$key_line" -lt "$config_line" ] && [ "$pw_line" -lt "$config_line" ] ||
	fail "the secrets are not written before the config"
ok "secrets written before the config (kvlbd --check reads the password file)"
no_secrets "$T/run5.log" || fail "a secret appears in the output"
grep -q 'censored' "$T/run5.log" || { cat "$T/run5.log"; fail "no censored (no_log) result in the output"; }
ok "neither secret in the output (no_log), even with -v --diff"
[ "$(task_result "$T/run5.log" "$RESTART_TASK")" == changed ] || { cat "$T/run5.log"; fail "added ha and bgp: no restart"; }
ok "added ha and bgp sections restart kvlbd (a reload does not apply them)"
grep -qx 'Group=bird' "$DROPINS/kvlbd.service.d/bgp.conf" &&
	grep -qx 'ExecStartPre=/usr/sbin/bird -p -c /var/lib/kvlb/bird.conf' "$DROPINS/bird.service.d/kvlb.conf" &&
	grep -q '^ExecStart=/usr/sbin/bird .* -c /var/lib/kvlb/bird.conf ' "$DROPINS/bird.service.d/kvlb.conf" &&
	! grep -q '/run/kvlb/bird.conf' "$DROPINS/bird.service.d/kvlb.conf" ||
	{ cat "$DROPINS"/*.service.d/*; fail "BGP drop-ins missing or without birdConfig"; }
[ ! -e "$DROPINS/conntrackd.service.d/kvlb.conf" ] || fail "conntrackd drop-in installed though kvlbd runs conntrackd"
ok "drop-ins: kvlbd in group bird, BIRD runs birdConfig; none for conntrackd (kvlbd runs it)"

step "HA and BGP: second run (idempotence)"
play "$T/ha.yml" "$T/run6.log" || { cat "$T/run6.log"; fail "second HA run failed"; }
[ "$(recap "$T/run6.log" changed)" == 0 ] || { cat "$T/run6.log"; fail "second HA run changed something"; }
no_secrets "$T/run6.log" || fail "a secret appears in the output"
ok "second HA run: changed=0"

step "BGP: another peer AS is rendered and reloaded, not restarted"
play "$T/ha-bgp-peer.yml" "$T/run6b.log" || { cat "$T/run6b.log"; fail "run failed"; }
same_section "$T/ha-bgp-peer.yml" bgp || { cat "$CONFIG"; fail "changed bgp not rendered"; }
[ "$(task_result "$T/run6b.log" "$RESTART_TASK")" != changed ] || { cat "$T/run6b.log"; fail "a changed bgp peer restarts kvlbd"; }
ok "a changed bgp peer is rendered; kvlbd reloads it (no restart, no failover)"
play "$T/ha.yml" "$T/run6c.log" || { cat "$T/run6c.log"; fail "run back failed"; }

step "HA: conntrackd run by systemd (manageConntrackd false)"
play "$T/ha-conntrackd-unit.yml" "$T/run7.log" || { cat "$T/run7.log"; fail "run failed"; }
same_section "$T/ha-conntrackd-unit.yml" ha "keyFile=$KEY_FILE" || { cat "$CONFIG"; fail "changed ha not rendered"; }
[ "$(task_result "$T/run7.log" "$RESTART_TASK")" == changed ] || { cat "$T/run7.log"; fail "changed ha: no restart"; }
ok "a changed ha section is rendered and restarts kvlbd"
grep -qx 'ExecStart=/usr/sbin/conntrackd -C /run/kvlb/sync/conntrackd.conf' "$DROPINS/conntrackd.service.d/kvlb.conf" &&
	grep -qx 'ExecStartPre=-/bin/rm -f /run/kvlb/sync/conntrackd.lock' "$DROPINS/conntrackd.service.d/kvlb.conf" ||
	{ cat "$DROPINS/conntrackd.service.d/kvlb.conf"; fail "conntrackd drop-in missing or without the config's paths"; }
ok "conntrackd drop-in installed with the config's conntrackd paths"

step "invalid ha (priority 300, no key)"
sum_before=$(sha256sum <"$CONFIG")
if play "$T/ha-invalid.yml" "$T/run8.log"; then
	cat "$T/run8.log"
	fail "play with priority 300 succeeded"
fi
grep -A3 'TASK \[kvlb : Write the config\]' "$T/run8.log" | grep -q 'fatal: .*failed to validate' &&
	grep -q 'ha.instances\[0\].priority: must be 1..254 (got 300)' "$T/run8.log" ||
	{ cat "$T/run8.log"; fail "play did not fail at validation"; }
ok "play fails at the config task: kvlbd --check refused priority 300"
[ "$(sha256sum <"$CONFIG")" == "$sum_before" ] || fail "config changed by a failed validation"
same_section "$T/ha-conntrackd-unit.yml" ha "keyFile=$KEY_FILE" || fail "config in place is not the previous one"
no_secrets "$T/run8.log" || fail "a secret appears in the output"
ok "previous config left in place"
if play "$T/ha-no-key.yml" "$T/run9.log"; then
	cat "$T/run9.log"
	fail "play without kvlb_ha_key succeeded"
fi
[ "$(task_result "$T/run9.log" 'Check the HA and BGP variables')" == fatal ] &&
	grep -q 'kvlb_ha needs kvlb_ha_key' "$T/run9.log" || { cat "$T/run9.log"; fail "play did not fail at the variables check"; }
[ "$(sha256sum <"$CONFIG")" == "$sum_before" ] && secret_file "$KEY_FILE" "$HA_KEY" || fail "config or key changed"
ok "kvlb_ha without kvlb_ha_key fails before anything is written"

step "HA and BGP off again"
play "$T/services-changed.yml" "$T/run10.log" || { cat "$T/run10.log"; fail "run failed"; }
"$PREFIX/sbin/kvlbd" --config "$CONFIG" --check >/dev/null 2>&1 && same_services "$T/services-changed.yml" &&
	! grep -qE '^(ha|bgp):' "$CONFIG" || { cat "$CONFIG"; fail "ha or bgp still in the config"; }
[ "$(task_result "$T/run10.log" "$RESTART_TASK")" == changed ] || { cat "$T/run10.log"; fail "removed ha and bgp: no restart"; }
[ -z "$(find "$DROPINS" -path '*.service.d/*' -type f)" ] || { find "$DROPINS"; fail "drop-ins left behind"; }
ok "config without ha and bgp, kvlbd restarted, drop-ins removed"

printf '\nansible_test: PASS (%d checks, %ds)\n' "$CHECKS" $((SECONDS - START))
