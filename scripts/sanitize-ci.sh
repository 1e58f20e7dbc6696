#!/usr/bin/env bash
# The quick sanitizer checks for CI (docs/hardening.md): every CUnit unit
# test under AddressSanitizer + UBSan + LeakSanitizer (make check-asan) and
# under valgrind memcheck (make check-valgrind).  About 15 s on a 2-core
# machine, builds included (into build/asan and build/valgrind: the tree's
# own t/unit binaries and the module are not touched).
#
# Runs as any user (nothing here needs an unprivileged one).  Needs gcc,
# make, libcunit1-dev, libapr1-dev and valgrind (scripts/install-deps.sh).
#
# Environment: MAKE (default make), SANITIZE_CI_TARGETS (default
# "check-asan check-valgrind"; e.g. add check-tsan lint fuzz-regress, which
# need clang-14 / libclang-rt-14-dev / cppcheck / clang-tidy).
# Closing line: "sanitizers: N passed, N failed" (targets); exits non-zero
# if any failed.
set -u

cd "$(dirname "$0")/.." || exit 2
MAKE=${MAKE:-make}
TARGETS=${SANITIZE_CI_TARGETS:-check-asan check-valgrind}
START=$(date +%s)

passed=0
failed=0
failed_names=""
for t in $TARGETS; do
    printf '\n==== %s (started %ss in)\n' "$t" $(( $(date +%s) - START ))
    t0=$(date +%s)
    "$MAKE" -f Makefile.apxs --no-print-directory "$t"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "==== $t: ok ($(( $(date +%s) - t0 ))s)"
    else
        failed=$((failed + 1))
        failed_names="$failed_names [$t: exit $rc]"
        echo "==== $t: FAILED, exit $rc ($(( $(date +%s) - t0 ))s)"
    fi
done
echo
[ -z "$failed_names" ] || echo "sanitizers: failed:$failed_names"
echo "sanitizers: $(( $(date +%s) - START ))s"
echo "sanitizers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
