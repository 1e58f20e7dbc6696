#!/usr/bin/env bash
# Run every test of mpm_fastevent: build, CUnit unit tests, exported-symbol
# and log-tag checks, the fastevent-tune check, the Apache::Test integration
# suite (make -f Makefile.apxs test), the restart/process-management driver
# (t/restarts/run.py), the hostile-client, HAProxy and drop-in drivers
# and, as root, the Debian package tests (t/debian/test-deb.sh on this
# system; t/debian/chroot-build.sh, autopkgtest.sh and upgrade-load.sh in
# fresh Debian 12 chroots).
#
# As root (CI, or `scripts/test.sh` as root): installs the Debian packages, creates
# the unprivileged user "fetest" (Apache::Test refuses to run as root), copies
# the tree to a scratch directory owned by that user and runs the tests there
# as that user; the source tree is not written to.  As any other user: runs
# `make -f Makefile.apxs test` in place.
#
# Environment:
#   FE_TEST_USER     unprivileged user (default fetest)
#   FE_TEST_WORKDIR  scratch copy (default /var/tmp/fe-test; emptied first,
#                    kept afterwards for inspection)
#   FE_TEST_MPM_SO, FE_TEST_MPM_MODULE, FE_TEST_PORT, ...  see
#                    t/run-apache-test.sh
# Ends with "suites: N passed, N failed"; exits non-zero if any failed.
set -euo pipefail

cd "$(dirname "$0")/.."
SRC=$(pwd)
START=$(date +%s)

section() { printf '\n======== %s ========\n' "$*"; }

section "Dependencies"
bash "$SRC/scripts/install-deps.sh"

# Each suite prints its own closing line; the summary below counts suites
# and is the closing line of the whole run ("suites: N passed, N failed").
passed=0
failed=0
failed_names=""
suite() {
    local name=$1 rc
    shift
    section "$name (started $(( $(date +%s) - START )) s in)"
    set +e
    "$@"
    rc=$?
    set -e
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names="$failed_names [$name: exit $rc]"
    fi
}
summary() {
    section "Summary after $(( $(date +%s) - START )) s"
    [ -z "$failed_names" ] || echo "failed:$failed_names"
    echo "suites: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

if [ "$(id -u)" -ne 0 ]; then
    suite "make -f Makefile.apxs test (as $(id -un), in $SRC)" \
        make -f Makefile.apxs test
    suite "unit tests under ASan+UBSan and valgrind" bash scripts/sanitize-ci.sh
    suite "restarts and process management" python3 t/restarts/run.py
    suite "hostile clients" python3 t/hostile/run.py --retry-slow
    suite "scale-out behind HAProxy" python3 t/haproxy/run.py
    suite "drop-in for event: stock event first, then fastevent" \
        bash -c "python3 t/dropin/run.py --event && python3 t/dropin/run.py"
    summary
    exit $?
fi

TUSER=${FE_TEST_USER:-fetest}
WORK=${FE_TEST_WORKDIR:-/var/tmp/fe-test}

section "Unprivileged user $TUSER"
if ! id "$TUSER" >/dev/null 2>&1; then
    useradd -m -s /bin/sh "$TUSER"
    echo "created user $TUSER"
else
    echo "user $TUSER exists"
fi

section "Copying the tree to $WORK"
case "$WORK" in
    /|/tmp|/var/tmp|/root|/home|"$SRC") echo "refusing FE_TEST_WORKDIR=$WORK" >&2; exit 2 ;;
esac
bash "$SRC/scripts/copy-tree.sh" "$SRC" "$WORK" "$TUSER"

# The clean-chroot package build (two dpkg-buildpackage runs, lintian,
# blhc: about 110 s of one CPU) runs beside the unit tests under the
# sanitizers and valgrind, the other suite that measures no time; its
# output is shown, and counted, in its own place below.  Its builds are
# passed to autopkgtest.sh and upgrade-load.sh in FE_DEB_OUT.
FE_DEB_OUT=$(mktemp -d /var/tmp/fe-deb-out.XXXXXX)
export FE_DEB_OUT
CHROOT_BUILD_LOG=$FE_DEB_OUT.log
bash "$SRC/t/debian/chroot-build.sh" > "$CHROOT_BUILD_LOG" 2>&1 &
CHROOT_BUILD_PID=$!
chroot_build_result() {
    local rc=0
    wait "$CHROOT_BUILD_PID" || rc=$?
    echo "(ran beside the unit tests under the sanitizers; its output:)"
    cat "$CHROOT_BUILD_LOG"
    rm -f "$CHROOT_BUILD_LOG"
    return "$rc"
}

suite "unit tests under ASan+UBSan (LeakSanitizer) and valgrind (as $TUSER)" \
    bash -c "cd '$WORK' && runuser -u '$TUSER' -- bash scripts/sanitize-ci.sh"
# Nothing timed runs until the build beside is done.
suite "Debian package in a clean chroot: Build-Depends, two builds (reproducible), lintian, blhc (as root)" \
    chroot_build_result
suite "make -f Makefile.apxs test: unit tests, symbols, log tags, tune, Apache::Test (as $TUSER, in $WORK)" \
    bash -c "cd '$WORK' && runuser -u '$TUSER' -- make -f Makefile.apxs test"
suite "restarts and process management (as $TUSER)" \
    bash -c "cd '$WORK' && runuser -u '$TUSER' -- python3 t/restarts/run.py"
# Hostile clients: silent and slowloris floods, slow readers, resets
# mid-response, garbage, half-close, pipelined storms, oversized headers,
# and the combined flood; see docs/hardening.md.
suite "hostile clients (as $TUSER)" \
    bash -c "cd '$WORK' && runuser -u '$TUSER' -- python3 t/hostile/run.py --retry-slow"
suite "scale-out behind HAProxy with the PROXY protocol (as $TUSER)" \
    bash -c "cd '$WORK' && runuser -u '$TUSER' -- python3 t/haproxy/run.py"
# Drop-in for event: log phrases, the 408 of a slow head under
# mod_reqtimeout's settings, a reverse proxy's capacity, buckets, a failing
# child_init, mod_status; the same checks against stock event first.
suite "drop-in for event: stock event, then fastevent (as $TUSER)" \
    bash -c "cd '$WORK' && runuser -u '$TUSER' -- sh -c 'python3 t/dropin/run.py --event && python3 t/dropin/run.py'"
suite "Debian package: build, install, switch MPM, serve, remove (as root)" \
    bash "$SRC/t/debian/test-deb.sh"
# The package the way Debian tests it, each in a fresh Debian 12 chroot
# (debootstrap base cached in /var/cache/mpm-fastevent-deb), with the
# builds of the clean-chroot suite above: autopkgtest (debian/tests)
# against the installed package; graceful restarts, upgrade and downgrade
# under load.  None touches the system's Apache.
suite "autopkgtest (debian/tests) with the chroot runner (as root)" \
    bash "$SRC/t/debian/autopkgtest.sh"
suite "package graceful restarts, upgrade and downgrade under load, in a chroot (as root)" \
    bash "$SRC/t/debian/upgrade-load.sh"
rm -rf "$FE_DEB_OUT"
summary
