#!/bin/bash
# The unit tests that need a kernel with IPVS (NetlinkIpvsTable against the
# real IPVS, compared with the fake and with ipvsadm). Each test makes its own
# network namespace. A skipped test counts as a failure here.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

lab_step "unit_ipvs: NetlinkIpvsKernel.*"
"$KVLB_BUILD_DIR/tests/unit_ipvs" --gtest_filter='NetlinkIpvsKernel.*' | tee "$LAB_OUT/unit_ipvs.log"
grep -q '\[  SKIPPED \]' "$LAB_OUT/unit_ipvs.log" && lab_fail "kernel tests were skipped"
grep -q '\[  PASSED  \] [1-9]' "$LAB_OUT/unit_ipvs.log" || lab_fail "no kernel test ran"
echo "unit_kernel_tests: passed"
