#!/usr/bin/env bash
# t/debian/autopkgtest.sh: debian/tests (autopkgtest) against the installed
# package, run with Debian's autopkgtest tool and its chroot runner in a
# fresh Debian 12 chroot (the cached base of t/debian/lib.sh).
#
#  - the package: the .deb and .dsc that t/debian/chroot-build.sh left in
#    $FE_DEB_OUT (default /var/tmp/fe-deb-out); when they are missing or
#    were built from another state of the tree, chroot-build.sh runs first;
#  - autopkgtest -B (use those binaries, build nothing) installs each test's
#    Depends with apt in the chroot, then the package, and runs the tests
#    from the unpacked source;
#  - --ignore-restrictions isolation-container: the chroot shares the host's
#    network, so the tests listen only on loopback ports of their own
#    (8921-8922, 8931-8940), never on Debian's 80/443;
#  - a policy-rc.d that says 101 in the chroot, as in a container image:
#    installing apache2 does not start a server on port 80, and the
#    package's own restart is "denied" (the tests start Apache themselves;
#    t/debian/upgrade-load.sh covers the restart);
#  - all of it in a private mount and PID namespace (lib.sh): an Apache a
#    test left behind dies with the namespace, and the chroot is removed.
#
# One check per test (autopkgtest's PASS/FAIL/SKIP), each test's own lines
# shown. Runs as root on Debian only (else "SKIP: ..."). The last line is
# "N passed, N failed".
#
# Environment: FE_DEB_OUT, FE_DEB_KEEP=1 (keep /var/tmp/fe-autopkgtest.*),
# and those of t/debian/lib.sh.

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/t/debian/lib.sh"
T0=$(date +%s)
OUT=${FE_DEB_OUT:-/var/tmp/fe-deb-out}
fe_script_begin autopkgtest.sh autopkgtest

fe_need_tools "$LOG" autopkgtest debootstrap zstd util-linux dpkg-dev ||
    { not_ok "host tools (autopkgtest)"; show "$LOG/apt-tools.log"; exit 1; }

# ---- the package: chroot-build.sh's, or build it now
fe_builds_ensure "$ROOT" "$OUT" "$LOG" || exit 1
DEB=$(ls "$OUT"/v1/"${FE_PKG}"_*.deb | head -n 1)
DSC=$(ls "$OUT"/src/*.dsc | head -n 1)
note "testing $(basename "$DEB") with the tests of $(basename "$DSC")"

# ---- a fresh chroot
t=$(date +%s)
if fe_base_ensure "$LOG" && fe_chroot_new "$CH"; then
    ok "fresh $FE_SUITE chroot from $(basename "$FE_BASE_TAR") ($(since "$t"))"
else
    not_ok "chroot"; show "$LOG/debootstrap.log"; exit 1
fi
printf '#!/bin/sh\n# t/debian/autopkgtest.sh: no service starts from a maintainer script\nexit 101\n' \
    >"$CH/usr/sbin/policy-rc.d"
chmod 755 "$CH/usr/sbin/policy-rc.d"

# ---- autopkgtest
t=$(date +%s)
bounded "$LOG/autopkgtest.log" 1200 fe_chroot_ns "$CH" \
    autopkgtest -B --ignore-restrictions=isolation-container --output-dir "$WORK/out" \
        --timeout-test=900 "$DSC" "$DEB" -- chroot "$CH"
rc=$?
note "autopkgtest exit status $rc ($(since "$t"))"
summary=$WORK/out/summary
if [ ! -s "$summary" ]; then
    not_ok "autopkgtest ran (no summary)"; show "$LOG/autopkgtest.log" 60; exit 1
fi
for name in $(sed -n 's/^Tests: //p' "$ROOT/debian/tests/control"); do
    res=$(awk -v n="$name" '$1 == n {print $2; exit}' "$summary")
    f=$WORK/out/$name-stdout
    [ -f "$f" ] && grep -E '^(ok|not ok|#)' "$f" | sed 's/^/#   /'
    [ -s "$WORK/out/$name-stderr" ] && { note "  $name stderr:"; show "$WORK/out/$name-stderr" 10; }
    line=$(tail -n 1 "$f" 2>/dev/null)
    check "autopkgtest $name: ${res:-not run} ($line)" test "$res" = PASS
done
[ "$rc" -eq 0 ] || { note "autopkgtest log:"; show "$LOG/autopkgtest.log" 30; }
check "autopkgtest exit status 0 (all passed, none skipped)" test "$rc" -eq 0
exit 0
