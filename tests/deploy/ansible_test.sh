#!/usr/bin/env bash
# Tests the Ansible deployment (ansible/site.yml, role kvlb) on this machine
# without touching it: the role runs against localhost with its prefix, config
# and unit directories in a temporary directory and kvlb_manage_system=false
# (no packages, kernel modules or service). Checks the syntax, the installed
# binaries, the rendered config (valid for kvlbd, equal to the variables),
# the unit's adjusted paths, idempotence, a config change, and that an
# invalid config fails at validation leaving the previous one in place.
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

# play VARS_FILE LOG: runs site.yml; its status is ansible-playbook's.
play() {
	ansible-playbook -i "$T/inventory.yml" "$REPO/ansible/site.yml" -e "@$T/common.yml" -e "@$1" >"$2" 2>&1
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

printf '\nansible_test: PASS (%d checks, %ds)\n' "$CHECKS" $((SECONDS - START))
