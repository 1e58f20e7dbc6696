# t/debian/lib.sh: shared by t/debian/chroot-build.sh, autopkgtest.sh and
# upgrade-load.sh (sourced, bash).
#
#  - check output: ok / not_ok / note, and the closing "N passed, N failed";
#  - fe_source_package DIR: the source package of this tree (.orig.tar.gz
#    of the tree without debian/, .debian.tar.xz, .dsc) made in DIR;
#  - the Debian 12 chroot: fe_base_ensure keeps a debootstrap --variant=buildd
#    base (build-essential and apt only) as a tarball under $FE_DEB_CACHE,
#    fe_chroot_new unpacks a fresh copy, fe_chroot_ns runs a command in a
#    private mount and PID namespace with /proc and the apt archive cache
#    mounted in the chroot: when the command ends, every process it left in
#    the chroot (an Apache) is killed by the kernel and every mount goes.
#
# Environment:
#   FE_DEB_CACHE       base tarball and apt archive cache
#                      (default /var/cache/mpm-fastevent-deb)
#   FE_DEB_MIRROR      Debian mirror (default: the host's bookworm URI in
#                      /etc/apt/sources.list*, else http://deb.debian.org/debian)
#   FE_DEB_SECURITY    security mirror (default: the host's, else
#                      http://deb.debian.org/debian-security)
#   FE_DEB_BASE_DAYS   rebuild the base when older (default 14)
#   FE_DEB_REFRESH=1   rebuild the base now

FE_PKG=libapache2-mod-mpm-fastevent
FE_SUITE=bookworm
FE_DEB_CACHE=${FE_DEB_CACHE:-/var/cache/mpm-fastevent-deb}
FE_BASE_TAR=$FE_DEB_CACHE/$FE_SUITE-$(dpkg --print-architecture 2>/dev/null || echo amd64)-buildd.tar.zst
FE_APT_CACHE=$FE_DEB_CACHE/apt-archives

PASS=0
FAIL=0

# fe_script_begin NAME WORKNAME: the common start of the chroot scripts.
# On any exit fe_finish removes $WORK (with the chroot $CH) unless
# FE_DEB_KEEP=1 and prints the closing line; an exit after a reported
# failure stops the script, any other counts as a failure.  Without root
# on Debian the script is skipped.  Then WORK (/var/tmp/fe-WORKNAME.*),
# CH ($WORK/root) and LOG ($WORK/logs).
fe_finish() {
    trap - EXIT INT TERM HUP
    if [ -n "$WORK" ]; then
        if [ "${FE_DEB_KEEP:-0}" = 1 ]; then note "kept $WORK"
        else fe_chroot_rm "$CH"; rm -rf --one-file-system "$WORK"; fi
    fi
    note "$FE_SCRIPT took $(since)"
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]; exit $?
}

fe_script_begin() {
    FE_SCRIPT=$1
    WORK=
    CH=
    trap 'not_ok "interrupted"; fe_finish' INT TERM HUP
    trap 'rc=$?; [ $rc -ne 0 ] && [ $FAIL -eq 0 ] && not_ok "unexpected exit ($rc)"; fe_finish' EXIT
    if [ "$(id -u)" -ne 0 ] || ! [ -r /etc/debian_version ] \
       || ! command -v apt-get >/dev/null; then
        trap - EXIT
        echo "SKIP: $FE_SCRIPT needs root on Debian (chroot)"
        echo "0 passed, 0 failed"
        exit 0
    fi
    WORK=$(mktemp -d "/var/tmp/fe-$2.XXXXXX")
    CH=$WORK/root
    LOG=$WORK/logs
    mkdir -p "$LOG"
}
ok() { PASS=$((PASS + 1)); echo "ok $((PASS + FAIL)) - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok $((PASS + FAIL)) - $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
note() { echo "# $*"; }
# elapsed since $T0 (set by the caller)
since() { echo "$(( $(date +%s) - ${1:-$T0} )) s"; }
# show FILE [LINES]: the end of a log, indented
show() { [ -f "$1" ] && sed 's/^/#   /' "$1" | tail -n "${2:-25}"; }
# bounded LOG SECONDS CMD...: run CMD (a command or a function of this
# file) with a time limit, output to LOG
export FE_LIB=${BASH_SOURCE[0]}
bounded() {
    local log=$1 secs=$2; shift 2
    timeout -k 10 "$secs" bash -c '. "$FE_LIB"; "$@"' fe-bounded "$@" >"$log" 2>&1
}

# ------------------------------------------------------------- mirrors
fe_host_uri() {    # fe_host_uri SUITE: the URI the host uses for SUITE
    local suite=$1
    {
        grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
            awk -v s="$suite" '$0 !~ /\[/ && $3 == s {print $2; exit}'
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] || continue
            awk -v s="$suite" '
                /^$/ { if (u != "" && hit) { print u; exit } u = ""; hit = 0; next }
                /^URIs:/ { u = $2 }
                /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) hit = 1 }
                END { if (u != "" && hit) print u }' "$f"
        done
    } | head -n 1
}
FE_DEB_MIRROR=${FE_DEB_MIRROR:-$(fe_host_uri "$FE_SUITE")}
FE_DEB_MIRROR=${FE_DEB_MIRROR:-http://deb.debian.org/debian}
FE_DEB_SECURITY=${FE_DEB_SECURITY:-$(fe_host_uri "$FE_SUITE-security")}
FE_DEB_SECURITY=${FE_DEB_SECURITY:-http://deb.debian.org/debian-security}

# ------------------------------------------------------ tools on the host
# fe_need_tools LOGDIR PKG...: apt-get install what is missing
fe_need_tools() {
    local logdir=$1 p missing=(); shift
    for p in "$@"; do
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    note "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive bounded "$logdir/apt-tools.log" 900 \
        apt-get install -y --no-install-recommends "${missing[@]}" && return 0
    DEBIAN_FRONTEND=noninteractive bounded "$logdir/apt-update.log" 600 apt-get update &&
        DEBIAN_FRONTEND=noninteractive bounded "$logdir/apt-tools.log" 900 \
            apt-get install -y --no-install-recommends "${missing[@]}"
}

# ------------------------------------------------------ source package
# fe_source_package TREE OUTDIR [VERSION [CHANGE]]: write the source package
# of TREE into OUTDIR; with VERSION, the package gets a changelog entry for
# that version first (the "newer build" of upgrade-load.sh). Prints the .dsc.
fe_source_package() {
    local tree=$1 out=$2 newver=${3:-} change=${4:-rebuild} ver upver sde dir files
    mkdir -p "$out"
    ver=$(cd "$tree" && dpkg-parsechangelog -S Version) || return 1
    upver=${ver%-*}
    sde=$(cd "$tree" && dpkg-parsechangelog -S Timestamp) || return 1
    dir=$out/$FE_PKG-$upver
    files=$out/.files
    # the tree as git has it (committed or not, untracked but not ignored),
    # or without git every file but the build products
    if git -c safe.directory='*' -C "$tree" rev-parse --git-dir >/dev/null 2>&1; then
        git -c safe.directory='*' -C "$tree" ls-files -co --exclude-standard |
            grep -v '^debian/' | while read -r f; do [ -f "$tree/$f" ] && echo "$f"; done >"$files"
    else
        (cd "$tree" && find . -type f ! -path './debian/*' ! -path './.git/*' \
            ! -path './build/*' ! -path './.libs/*' ! -path './t/logs/*' \
            ! -name '*.o' ! -name '*.lo' ! -name '*.slo' ! -name '*.la' | sed 's|^\./||') >"$files"
    fi
    # reproducible: sorted, the changelog's time, no owner, no gzip time
    tar -C "$tree" --sort=name --mtime="@$sde" --owner=0 --group=0 --numeric-owner \
        --mode='u+rw,go+r,go-w' --transform "s,^,$FE_PKG-$upver/," \
        -cf - -T "$files" | gzip -9n >"$out/${FE_PKG}_$upver.orig.tar.gz" || return 1
    rm -rf "$dir" && mkdir -p "$dir" &&
        tar -C "$dir" --strip-components=1 -xzf "$out/${FE_PKG}_$upver.orig.tar.gz" &&
        cp -a "$tree/debian" "$dir/" || return 1
    rm -f "$files"
    if [ -n "$newver" ]; then
        { printf '%s (%s) %s; urgency=medium\n\n  * %s\n\n -- %s  %s\n\n' \
              "$FE_PKG" "$newver" "$(cd "$tree" && dpkg-parsechangelog -S Distribution)" \
              "$change" "$(cd "$tree" && dpkg-parsechangelog -S Maintainer)" \
              "$(date -R -d "@$((sde + 60))")"
          cat "$tree/debian/changelog"; } >"$dir/debian/changelog"
        ver=$newver
    fi
    (cd "$out" && dpkg-source -b "$FE_PKG-$upver" >"$out/dpkg-source.log" 2>&1) || return 1
    rm -rf "$dir"
    echo "$out/${FE_PKG}_${ver#*:}.dsc"
}

# fe_tree_hash TREE: a hash of what goes into the package (the tree's files
# but t/debian/, which only tests it): chroot-build.sh records it with its
# builds, the other scripts rebuild when it changed
fe_tree_hash() {
    local tree=$1
    (cd "$tree" &&
        if git -c safe.directory='*' rev-parse --git-dir >/dev/null 2>&1; then
            git -c safe.directory='*' ls-files -co --exclude-standard
        else
            find . -type f ! -path './.git/*' ! -path './build/*' ! -path './.libs/*' ! -path './t/logs/*' | sed 's|^\./||'
        fi | grep -v '^t/debian/' | LC_ALL=C sort | while read -r f; do [ -f "$f" ] && echo "$f"; done |
        tr '\n' '\0' | xargs -0 sha256sum | sha256sum | cut -c1-64)
}

# fe_builds_fresh TREE OUT: OUT holds chroot-build.sh's builds of TREE as it is
fe_builds_fresh() {
    [ -f "$2/TREE-HASH" ] && ls "$2"/v1/*.deb "$2"/v2/*.deb "$2"/src/*.dsc >/dev/null 2>&1 &&
        [ "$(cat "$2/TREE-HASH")" = "$(fe_tree_hash "$1")" ]
}

# fe_builds_ensure TREE OUT LOGDIR: chroot-build.sh's builds of TREE in OUT,
# made now (its log in LOGDIR) when missing or stale; 1 when that fails.
fe_builds_ensure() {
    fe_builds_fresh "$1" "$2" && return 0
    note "no fresh builds in $2: running t/debian/chroot-build.sh"
    if bash "$1/t/debian/chroot-build.sh" >"$3/chroot-build.log" 2>&1; then
        ok "t/debian/chroot-build.sh ($(tail -n 1 "$3/chroot-build.log"))"
    else
        not_ok "t/debian/chroot-build.sh"; show "$3/chroot-build.log"
        return 1
    fi
}

# ------------------------------------------------------------- chroot
# fe_base_ensure LOGDIR: the cached base tarball, made when missing or old.
# Takes a lock, so that two runs never build it at once.
fe_base_ensure() {
    local logdir=$1 age tmp rc
    mkdir -p "$FE_DEB_CACHE" "$FE_APT_CACHE/partial"
    exec 8>"$FE_DEB_CACHE/.lock"
    flock -w 900 8 || { note "cannot lock $FE_DEB_CACHE/.lock"; return 1; }
    if [ -f "$FE_BASE_TAR" ] && [ "${FE_DEB_REFRESH:-0}" != 1 ]; then
        age=$(( ($(date +%s) - $(stat -c %Y "$FE_BASE_TAR")) / 86400 ))
        if [ "$age" -lt "${FE_DEB_BASE_DAYS:-14}" ]; then
            note "chroot base: $FE_BASE_TAR ($age days old, cached)"
            flock -u 8; return 0
        fi
    fi
    tmp=$(mktemp -d "$FE_DEB_CACHE/base.XXXXXX")
    note "chroot base: debootstrap --variant=buildd $FE_SUITE $FE_DEB_MIRROR (cold cache)"
    bounded "$logdir/debootstrap.log" 1200 \
        debootstrap --variant=buildd --cache-dir="$FE_APT_CACHE" "$FE_SUITE" "$tmp/root" "$FE_DEB_MIRROR"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        # the same suites as a Debian 12 system: updates and security too
        cat >"$tmp/root/etc/apt/sources.list" <<EOF
deb $FE_DEB_MIRROR $FE_SUITE main
deb $FE_DEB_MIRROR $FE_SUITE-updates main
deb $FE_DEB_SECURITY $FE_SUITE-security main
EOF
        # dpkg without fsync: the chroot is thrown away after each use
        echo force-unsafe-io >"$tmp/root/etc/dpkg/dpkg.cfg.d/fe-unsafe-io"
        printf 'APT::Install-Recommends "false";\nAPT::Get::Assume-Yes "true";\n' \
            >"$tmp/root/etc/apt/apt.conf.d/90fe-test"
        echo "fe-chroot" >"$tmp/root/etc/hostname"
        bounded "$logdir/base-setup.log" 900 chroot "$tmp/root" sh -c '
            set -e
            export DEBIAN_FRONTEND=noninteractive
            apt-get update
            apt-get -y dist-upgrade
            apt-get clean
            useradd -m -s /bin/sh builder
            useradd -m -s /bin/sh builder2' &&
        tar -C "$tmp/root" --zstd -cf "$tmp/base.tar.zst" . &&
        mv -f "$tmp/base.tar.zst" "$FE_BASE_TAR"
        rc=$?
    fi
    rm -rf --one-file-system "$tmp"
    flock -u 8
    return $rc
}

# fe_chroot_new DIR: a fresh chroot from the base, with the host's resolver
# and apt proxy settings of today (the base may be days old)
fe_chroot_new() {
    rm -rf --one-file-system "$1" && mkdir -p "$1" && tar -C "$1" --zstd -xf "$FE_BASE_TAR" || return 1
    cp -L /etc/resolv.conf "$1/etc/resolv.conf" 2>/dev/null
    apt-config dump 2>/dev/null | grep -i '^Acquire::[a-z]*::Proxy' >"$1/etc/apt/apt.conf.d/80fe-host-proxy"
    return 0
}

# fe_chroot_rm DIR
fe_chroot_rm() {
    [ -n "$1" ] && [ -d "$1" ] || return 0
    if findmnt -rn -o TARGET | grep -q "^$1/"; then
        note "not removing $1: something is mounted under it"; return 1
    fi
    rm -rf --one-file-system "$1"
}

# fe_chroot_ns ROOT CMD...: run CMD (on the host) in a new mount and PID
# namespace where ROOT/proc is this namespace's /proc and the apt archive
# cache is ROOT/var/cache/apt/archives. CMD enters the chroot itself
# (chroot ROOT ..., or autopkgtest's chroot runner).
fe_chroot_ns() {
    local root=$1; shift
    unshare --mount --propagation private --pid --fork --kill-child -- \
        /bin/sh -c '
            root=$1 cache=$2; shift 2
            mount -t proc proc "$root/proc" &&
            mount --bind "$cache" "$root/var/cache/apt/archives" || exit 125
            "$@"' fe-chroot "$root" "$FE_APT_CACHE" "$@"
}

# fe_in_chroot ROOT CMD...: CMD inside the chroot (as root)
fe_in_chroot() {
    local root=$1; shift
    fe_chroot_ns "$root" chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
