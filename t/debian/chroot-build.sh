#!/usr/bin/env bash
# t/debian/chroot-build.sh: build the source package in a clean Debian 12
# chroot, the way a Debian buildd does, and check the result.
#
#  1. makes the source package of this tree (t/debian/lib.sh: an
#     .orig.tar.gz of the tree without debian/, format 3.0 (quilt));
#  2. unpacks a fresh chroot from the cached debootstrap --variant=buildd
#     base (build-essential and apt, nothing else; made on the first run,
#     cached in /var/cache/mpm-fastevent-deb, see lib.sh) and installs only
#     the Build-Depends there, with `apt-get build-dep ./`: a build-dependency
#     missing from debian/control fails the build;
#  3. build A: dpkg-buildpackage -us -uc as the user builder (the package
#     says Rules-Requires-Root: no) in /build/a/..., DH_VERBOSE=1 for blhc;
#  4. build B, the same source built again with what reprotest varies that a
#     chroot can vary: another user, build path, umask, time zone, locale,
#     host name and DEB_BUILD_OPTIONS=parallel; the .deb and -dbgsym .deb
#     must be bit for bit those of build A (else the differing files are
#     listed and the check fails);
#  5. lintian --pedantic on A's .changes (source and binaries): no error and
#     no warning (overrides in debian/*lintian-overrides, with reasons);
#  6. blhc --all on the build log: dpkg-buildflags' hardening flags on every
#     compile and link line; hardening-check on the installed .so;
#  7. build C: a "newer build" (version +fetest1) for upgrade-load.sh.
#
# The .debs go to $FE_DEB_OUT (default /var/tmp/fe-deb-out): v1/ (build A)
# and v2/ (build C), with the .dsc in src/. t/debian/autopkgtest.sh and
# t/debian/upgrade-load.sh use them.
#
# Runs as root on Debian only (else "SKIP: ..." and exit 0). Never touches
# the host's Apache. The last line is "N passed, N failed".
#
# Environment: FE_DEB_OUT, FE_DEB_KEEP=1 (keep the chroot and logs in
# /var/tmp/fe-chroot-build.*), and those of t/debian/lib.sh.

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/t/debian/lib.sh"
T0=$(date +%s)
OUT=${FE_DEB_OUT:-/var/tmp/fe-deb-out}
fe_script_begin chroot-build.sh chroot-build

if fe_need_tools "$LOG" debootstrap dpkg-dev lintian blhc devscripts zstd util-linux; then
    ok "host tools: debootstrap, dpkg-dev, lintian, blhc, devscripts (hardening-check), zstd"
else
    not_ok "host tools: apt-get install failed"; show "$LOG/apt-tools.log"; exit 1
fi

# ------------------------------------------------------- source package
TREE_HASH=$(fe_tree_hash "$ROOT")
SRCOUT=$WORK/src
if DSC=$(fe_source_package "$ROOT" "$SRCOUT"); then
    ok "source package: $(basename "$DSC") ($(cd "$SRCOUT" && ls *.orig.tar.gz *.debian.tar.* | tr '\n' ' '))"
else
    not_ok "source package (dpkg-source -b)"; show "$SRCOUT/dpkg-source.log"; exit 1
fi
VER=$(sed -n 's/^Version: //p' "$DSC")
DSC2=$(fe_source_package "$ROOT" "$WORK/src2" "$VER+fetest1" \
    "Rebuild for t/debian/upgrade-load.sh: the same source, a newer version.") ||
    { not_ok "source package of the newer build"; show "$WORK/src2/dpkg-source.log"; exit 1; }

# ------------------------------------------------------------- chroot
t=$(date +%s)
if fe_base_ensure "$LOG"; then
    ok "chroot base $(basename "$FE_BASE_TAR") ready ($(since "$t"))"
else
    not_ok "chroot base (debootstrap)"; show "$LOG/debootstrap.log"; show "$LOG/base-setup.log"; exit 1
fi
t=$(date +%s)
fe_chroot_new "$CH" || { not_ok "unpack the chroot"; exit 1; }
fe_in_chroot "$CH" dpkg-query -W -f '${Package}\n' | sort >"$LOG/packages-base.txt"

mkdir -p "$CH/build/a" "$CH/srv/fe-build-b/long-path-second" "$CH/build/c"
cp "$SRCOUT"/*.dsc "$SRCOUT"/*.tar.* "$CH/build/a/"
cp "$SRCOUT"/*.dsc "$SRCOUT"/*.tar.* "$CH/srv/fe-build-b/long-path-second/"
cp "$WORK/src2"/*.dsc "$WORK/src2"/*.tar.* "$CH/build/c/"
chroot "$CH" chown -R builder /build/a /build/c
chroot "$CH" chown -R builder2 /srv/fe-build-b
upver=${VER%-*}
SRCDIR=$FE_PKG-$upver

if bounded "$LOG/build-dep.log" 900 fe_in_chroot "$CH" sh -c "
        cd /build/a && su builder -c 'dpkg-source -x $(basename "$DSC") $SRCDIR' &&
        cd $SRCDIR && apt-get build-dep -y ./"; then
    fe_in_chroot "$CH" dpkg-query -W -f '${Package}\n' | sort >"$LOG/packages-build.txt"
    ok "apt-get build-dep ./ in a fresh $FE_SUITE chroot: $(comm -13 "$LOG/packages-base.txt" "$LOG/packages-build.txt" | wc -l) packages on top of build-essential ($(since "$t"))"
else
    not_ok "apt-get build-dep ./ in the chroot"; show "$LOG/build-dep.log"; exit 1
fi

# ------------------------------------------------------------ build A
t=$(date +%s)
if bounded "$LOG/build-a.log" 900 fe_in_chroot "$CH" su builder -c "
        cd /build/a/$SRCDIR && umask 022 &&
        TZ=UTC LANG=C.UTF-8 DH_VERBOSE=1 DEB_BUILD_OPTIONS=parallel=2 dpkg-buildpackage -us -uc"; then
    ok "build A: dpkg-buildpackage -us -uc as builder in /build/a ($(since "$t"))"
else
    not_ok "build A: dpkg-buildpackage -us -uc"; show "$LOG/build-a.log" 40; exit 1
fi
CHANGES=$(ls "$CH/build/a"/*.changes | grep -v _source)

# ------------------------------------------------------------ build B
t=$(date +%s)
if bounded "$LOG/build-b.log" 900 fe_chroot_ns "$CH" unshare --uts sh -c "
        hostname other-build-host &&
        chroot '$CH' /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin su builder2 -c '
            cd /srv/fe-build-b/long-path-second &&
            dpkg-source -x $(basename "$DSC") other-dir-$SRCDIR >/dev/null &&
            cd other-dir-$SRCDIR && umask 002 &&
            TZ=Pacific/Auckland LANG=C LC_ALL=C DH_VERBOSE=1 DEB_BUILD_OPTIONS=parallel=1 dpkg-buildpackage -us -uc -b'"; then
    ok "build B: again as builder2, other path, umask 002, TZ, locale, host name, parallel=1 ($(since "$t"))"
else
    not_ok "build B"; show "$LOG/build-b.log" 40; exit 1
fi

same=1
: >"$LOG/repro.txt"
for a in "$CH/build/a"/*.deb; do
    b="$CH/srv/fe-build-b/long-path-second/$(basename "$a")"
    sa=$(sha256sum <"$a" | cut -c1-64); sb=$(sha256sum <"$b" 2>/dev/null | cut -c1-64)
    echo "$(basename "$a") A=$sa B=${sb:-missing}" >>"$LOG/repro.txt"
    if [ "$sa" != "$sb" ]; then
        same=0
        rm -rf "$WORK/da" "$WORK/db"; mkdir -p "$WORK/da" "$WORK/db"
        dpkg-deb -R "$a" "$WORK/da" && [ -f "$b" ] && dpkg-deb -R "$b" "$WORK/db" &&
            diff -rq "$WORK/da" "$WORK/db" | sed 's/^/  /' >>"$LOG/repro.txt"
    fi
done
sed 's/^/# /' "$LOG/repro.txt"
check "reproducible: every .deb of build B is bit for bit that of build A" test "$same" -eq 1

# ------------------------------------------------------------ lintian
t=$(date +%s)
bounded "$LOG/lintian.log" 600 lintian --pedantic -I -E --show-overrides "$CHANGES"
grep -v '^running with root privileges' "$LOG/lintian.log" | sed 's/^/#   /'
if grep -Eq '^(E|W): ' "$LOG/lintian.log"; then
    not_ok "lintian --pedantic: no errors, no warnings"
else
    ok "lintian --pedantic on $(basename "$CHANGES"): no errors, no warnings ($(grep -c '^O: ' "$LOG/lintian.log") overridden, $(grep -Ec '^(I|P|X): ' "$LOG/lintian.log") info/pedantic/experimental tags; $(since "$t"))"
fi

# ------------------------------------------------------------ hardening
if blhc --all "$LOG/build-a.log" >"$LOG/blhc.log" 2>&1 && ! [ -s "$LOG/blhc.log" ]; then
    ok "blhc --all: dpkg-buildflags reach every compile and link line ($(grep -c 'libtool: compile:' "$LOG/build-a.log") compiles, $(grep -c 'libtool: link:.*-shared' "$LOG/build-a.log") link)"
else
    not_ok "blhc --all"; show "$LOG/blhc.log"
fi
rm -rf "$WORK/deb" && mkdir -p "$WORK/deb"
dpkg-deb -x "$(ls "$CH/build/a/${FE_PKG}_"*.deb)" "$WORK/deb"
# bookworm's dpkg-buildflags has no -fcf-protection (its "branch" feature
# came with dpkg 1.22) nor -fstack-clash-protection (reported "unknown", which passes).
if hardening-check --nocfprotection "$WORK/deb/usr/lib/apache2/modules/mod_mpm_fastevent.so" >"$LOG/hardening-check.log" 2>&1; then
    ok "hardening-check mod_mpm_fastevent.so: stack protector, fortify, relro, bindnow"
else
    not_ok "hardening-check mod_mpm_fastevent.so"
fi
sed 's/^/#   /' "$LOG/hardening-check.log"

# ------------------------------------------------------------ build C
t=$(date +%s)
if bounded "$LOG/build-c.log" 900 fe_in_chroot "$CH" su builder -c "
        cd /build/c && dpkg-source -x $(basename "$DSC2") $SRCDIR >/dev/null &&
        cd $SRCDIR && dpkg-buildpackage -us -uc -b"; then
    ok "build C: the newer build $VER+fetest1 for the upgrade test ($(since "$t"))"
else
    not_ok "build C ($VER+fetest1)"; show "$LOG/build-c.log" 40
fi

# ------------------------------------------------------------ output
rm -rf "$OUT" && mkdir -p "$OUT/v1" "$OUT/v2" "$OUT/src" &&
    cp "$CH/build/a"/*.deb "$OUT/v1/" && cp "$CH/build/c"/*.deb "$OUT/v2/" 2>/dev/null
cp "$SRCOUT"/*.dsc "$SRCOUT"/*.tar.* "$OUT/src/"
cp "$LOG"/*.log "$LOG"/*.txt "$OUT/" 2>/dev/null
echo "$VER" >"$OUT/v1/VERSION"; echo "$VER+fetest1" >"$OUT/v2/VERSION"
[ "$FAIL" -eq 0 ] && echo "$TREE_HASH" >"$OUT/TREE-HASH"
note "packages and logs in $OUT"
exit 0
