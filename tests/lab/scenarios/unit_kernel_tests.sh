#!/bin/bash
# The unit tests that need a kernel with IPVS or SCTP: NetlinkIpvsTable
# against the real IPVS (compared with the fake and with ipvsadm), and the
# conntrack writer's SCTP repair. Each test makes its own network namespace.
# A skipped test counts as a failure here.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

lab_step "unit_ipvs: NetlinkIpvsKernel.*"
"$KVLB_BUILD_DIR/tests/unit_ipvs" --gtest_filter='NetlinkIpvsKernel.*' | tee "$LAB_OUT/unit_ipvs.log"
grep -q '\[  SKIPPED \]' "$LAB_OUT/unit_ipvs.log" && lab_fail "kernel tests were skipped"
grep -q '\[  PASSED  \] [1-9]' "$LAB_OUT/unit_ipvs.log" || lab_fail "no kernel test ran"

lab_step "unit_addr: ConntrackWriterKernelTest.* (SCTP entries)"
"$KVLB_BUILD_DIR/tests/unit_addr" --gtest_filter='ConntrackWriterKernelTest.*' | tee "$LAB_OUT/unit_addr.log"
grep -q '\[  SKIPPED \]' "$LAB_OUT/unit_addr.log" && lab_fail "kernel tests were skipped"
grep -q '\[  PASSED  \] [1-9]' "$LAB_OUT/unit_addr.log" || lab_fail "no kernel test ran"
echo "unit_kernel_tests: passed"
