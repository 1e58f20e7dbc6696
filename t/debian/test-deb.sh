#!/usr/bin/env bash
# t/debian/test-deb.sh: the Debian package, end to end, on this system.
#
#  1. builds libapache2-mod-mpm-fastevent with `dpkg-buildpackage -us -uc -b`
#     in a scratch copy of the tree and runs lintian on it (no errors);
#  2. installs it with dpkg -i: the postinst must switch the MPM to fastevent;
#  3. switches MPMs by hand: `a2enmod mpm_fastevent` must be refused while
#     mpm_event is enabled; enabling mpm_event next to fastevent must give
#     "More than one MPM loaded" (the recovery of docs/debian.md);
#  4. apache2ctl configtest, -V (Server MPM: fastevent), -M, a2query -M;
#  5. starts Apache the Debian way (apache2ctl start, Listen 80), fetches /
#     and /server-status?auto, stops it (waits for the pid to go, bounded);
#  6. removes the package while fastevent is the MPM: the prerm must give the
#     server its previous MPM back (configtest passes), then purges it;
#  7. puts the MPM, a2enmod's state and /etc/apache2 back as they were and
#     checks that /etc/apache2 and /var/lib/apache2 match the snapshot.
#
# Runs as root on Debian only: otherwise it prints "SKIP: ..." and exits 0.
# It also skips, before changing anything, when Apache from /etc/apache2 is
# running, port 80 is busy, or an enabled module pins an MPM (mod_php).
# Installs its tools with apt-get when missing. Every step has a time limit.
# The last line is "N passed, N failed"; the exit status is 1 on failure.
#
# Environment: FE_DEB_KEEP=1 keeps the scratch directory (/tmp/fe-deb.*).

set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PKG=libapache2-mod-mpm-fastevent
DEPS=(apache2 apache2-dev build-essential debhelper dpkg-dev fakeroot lintian curl)
CONFDIR=/etc/apache2
STATEDIR=/var/lib/apache2
PIDFILE=/var/run/apache2/apache2.pid
# what this test may enable or disable, and so must restore
TOUCHED="mpm_event mpm_worker mpm_prefork mpm_fastevent status"

PASS=0
FAIL=0
SCRATCH=
SNAP=
PREV_MPM=
CHANGED=0       # the system was touched: cleanup must restore it
CLEANED=0
DONE=0          # skip() or finish() ran

skip() { DONE=1; echo "SKIP: $*"; exit 0; }
ok() { PASS=$((PASS + 1)); echo "ok $((PASS + FAIL)) - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok $((PASS + FAIL)) - $*"; }
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
note() { echo "# $*"; }
# run LOGNAME SECONDS COMMAND...: bounded, output to $SCRATCH/LOGNAME.log
run() {
    local log=$SCRATCH/$1.log secs=$2; shift 2
    timeout -k 5 "$secs" "$@" >"$log" 2>&1
}
show() { sed 's/^/#   /' "$SCRATCH/$1.log" | tail -n "${2:-20}"; }

finish() {
    DONE=1
    cleanup
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
    exit $?
}

# --------------------------------------------------------------- Apache
apache_pid() {
    local pid
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

port80_busy() {
    local h
    for h in 127.0.0.1 ::1; do
        timeout 2 bash -c "exec 3<>/dev/tcp/$h/80" 2>/dev/null && return 0
    done
    return 1
}

# Stop the Apache of /etc/apache2 (only ever ours: the test skips when one
# runs at the start) and wait, bounded, for its pid to go.
stop_apache() {
    local pid i
    pid=$(apache_pid) || return 0
    timeout -k 5 30 apache2ctl stop >>"$SCRATCH/stop.log" 2>&1
    for i in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    note "apache2 pid $pid still there 30 s after apache2ctl stop: SIGTERM, then SIGKILL"
    kill -TERM "$pid" 2>/dev/null
    sleep 5
    kill -0 "$pid" 2>/dev/null || return 1
    kill -KILL "$pid" 2>/dev/null
    return 1
}

# ---------------------------------------------------------- MPM state
enabled_mpms() {
    local f
    for f in "$CONFDIR"/mods-enabled/mpm_*.load; do
        [ -e "$f" ] || [ -L "$f" ] || continue
        f=${f##*/}; echo "${f%.load}"
    done
}

one_mpm_enabled() { [ "$(enabled_mpms | wc -l)" -eq 1 ]; }
is_enabled() { [ -e "$CONFDIR/mods-enabled/$1.load" ]; }
configtest() { run "${1:-configtest}" 60 apache2ctl configtest; }

# Put back mods-enabled entries and a2enmod's markers of $TOUCHED as the
# snapshot has them.
restore_state() {
    local m f d
    for m in $TOUCHED; do
        for f in "$m.load" "$m.conf"; do
            if [ -L "$SNAP/etc/mods-enabled/$f" ] || [ -e "$SNAP/etc/mods-enabled/$f" ]; then
                rm -f "$CONFDIR/mods-enabled/$f"
                cp -a "$SNAP/etc/mods-enabled/$f" "$CONFDIR/mods-enabled/$f"
            elif [ -L "$CONFDIR/mods-enabled/$f" ]; then
                rm -f "$CONFDIR/mods-enabled/$f"
            fi
        done
        find "$STATEDIR/module" -type f -name "$m" -delete 2>/dev/null
        (cd "$SNAP/state" && find module -type f -name "$m") | while read -r f; do
            d=$(dirname "$f")
            mkdir -p "$STATEDIR/$d" && cp -a "$SNAP/state/$f" "$STATEDIR/$f"
        done
    done
    # marker directories a2enmod created that the snapshot did not have
    (cd "$STATEDIR/module" && find . -mindepth 1 -type d -empty) | while read -r d; do
        [ -d "$SNAP/state/module/$d" ] || rmdir "$STATEDIR/module/$d"
    done
}

cleanup() {
    [ "$CLEANED" -eq 1 ] && return
    CLEANED=1
    trap - INT TERM HUP
    if [ "$CHANGED" -eq 1 ]; then
        stop_apache || not_ok "cleanup: Apache did not stop on apache2ctl stop"
        if dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qv '^not-installed$'; then
            note "cleanup: purging $PKG"
            run cleanup-purge 300 dpkg -P "$PKG" || show cleanup-purge
            stop_apache
        fi
        restore_state
        stop_apache
        check "cleanup: enabled MPM is back to: $PREV_MPM" \
            test "$(enabled_mpms | tr '\n' ' ')" = "$PREV_MPM "
        check "cleanup: apache2ctl configtest passes" configtest cleanup-configtest
        if diff -r --no-dereference "$SNAP/etc" "$CONFDIR" >"$SCRATCH/diff.log" 2>&1 &&
           diff -r --no-dereference "$SNAP/state" "$STATEDIR" >>"$SCRATCH/diff.log" 2>&1; then
            ok "cleanup: /etc/apache2 and /var/lib/apache2 are as before the test"
        else
            not_ok "cleanup: /etc/apache2 or /var/lib/apache2 differ from before the test"
            show diff 40
        fi
        check "cleanup: Apache is not running" bash -c "! [ -s $PIDFILE ] || ! kill -0 \$(cat $PIDFILE) 2>/dev/null"
    fi
    if [ -n "$SCRATCH" ] && [ "${FE_DEB_KEEP:-0}" != 1 ]; then
        rm -rf "$SCRATCH"
    elif [ -n "$SCRATCH" ]; then
        note "kept $SCRATCH"
    fi
}
on_exit() {
    local rc=$?
    if [ "$DONE" -eq 0 ]; then
        note "unexpected exit (status $rc)"
        FAIL=$((FAIL + 1))
        cleanup
        echo "$PASS passed, $FAIL failed"
        exit 1
    fi
    cleanup
}
trap 'note "interrupted"; FAIL=$((FAIL + 1)); finish' INT TERM HUP
trap on_exit EXIT

# ------------------------------------------------------------ preconditions
[ "$(id -u)" -eq 0 ] || skip "test-deb.sh needs root (it installs a package and starts Apache on port 80)"
[ -r /etc/debian_version ] && command -v dpkg >/dev/null && command -v apt-get >/dev/null ||
    skip "test-deb.sh needs Debian (dpkg, apt-get, /etc/debian_version)"

SCRATCH=$(mktemp -d /tmp/fe-deb.XXXXXX)
SNAP=$SCRATCH/snap

missing=()
for p in "${DEPS[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    note "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! run apt-update 600 apt-get update ||
       ! run apt-install 1200 apt-get install -y --no-install-recommends "${missing[@]}"; then
        not_ok "apt-get install ${missing[*]}"
        show apt-install
        finish
    fi
fi
ok "build and test tools installed (${DEPS[*]})"

PREV_MPM=$(enabled_mpms | tr '\n' ' ')
PREV_MPM=${PREV_MPM% }
if pid=$(apache_pid); then
    skip "Apache from $CONFDIR is running (pid $pid); this test starts and stops it, stop it first"
fi
port80_busy && skip "port 80 is busy; this test needs it for Debian's default Listen 80"
if grep -ls '^# Depends:.*mpm_' "$CONFDIR"/mods-enabled/*.load >/dev/null 2>&1; then
    skip "an enabled module pins an MPM ($(grep -ls '^# Depends:.*mpm_' "$CONFDIR"/mods-enabled/*.load | xargs -n1 basename | tr '\n' ' ')), e.g. mod_php"
fi
if [ "$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null)" ] &&
   [ "$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null)" != not-installed ]; then
    not_ok "$PKG is already installed (left over from an interrupted run?): dpkg -P $PKG"
    finish
fi
case "$PREV_MPM" in
mpm_event|mpm_worker|mpm_prefork) ok "one stock MPM enabled before the test: $PREV_MPM" ;;
*) not_ok "expected exactly one of mpm_event/worker/prefork enabled, found: '$PREV_MPM'"; finish ;;
esac
if ! configtest configtest-before; then
    not_ok "apache2ctl configtest fails before the test; fix the system's configuration first"
    show configtest-before
    finish
fi

# ----------------------------------------------------------------- build
mkdir -p "$SCRATCH/src"
tar -C "$ROOT" --exclude=./.libs --exclude='*.lo' --exclude='*.slo' --exclude='*.la' \
    --exclude='*.o' --exclude=./build --exclude=./t/logs -cf - . | tar -C "$SCRATCH/src" -xf -
git_status() {
    git -c 'safe.directory=*' -C "$SCRATCH/src" status --porcelain --untracked-files=all
}
have_git=0
if command -v git >/dev/null && [ -d "$SCRATCH/src/.git" ]; then
    have_git=1
    git_status >"$SCRATCH/status-before" 2>&1
fi

if (cd "$SCRATCH/src" && run build 1200 dpkg-buildpackage -us -uc -b); then
    ok "dpkg-buildpackage -us -uc -b"
else
    not_ok "dpkg-buildpackage -us -uc -b"
    show build 40
    finish
fi
DEB=$(ls "$SCRATCH"/${PKG}_*.deb 2>/dev/null | head -n 1)
check "the build produced ${PKG}_*.deb" test -f "$DEB"
[ -f "$DEB" ] || finish

if [ "$have_git" -eq 1 ]; then
    git_status >"$SCRATCH/status-after" 2>&1
    if diff "$SCRATCH/status-before" "$SCRATCH/status-after" >"$SCRATCH/status.log"; then
        ok "the build left nothing new for git status (.gitignore, debian/.gitignore)"
    else
        not_ok "the build left files that git status shows"
        show status
    fi
else
    note "no git or no .git: git status check not run"
fi

dpkg-deb -c "$DEB" | awk '{print $NF}' >"$SCRATCH/contents"
for f in ./usr/lib/apache2/modules/mod_mpm_fastevent.so \
         ./etc/apache2/mods-available/mpm_fastevent.load \
         ./etc/apache2/mods-available/mpm_fastevent.conf \
         ./usr/sbin/fastevent-tune \
         ./usr/share/man/man8/fastevent-tune.8.gz; do
    check "package ships $f" grep -qx "$f" "$SCRATCH/contents"
done
depends=$(dpkg-deb -f "$DEB" Depends)
check "package depends on apache2-api-$(a2query -a 2>/dev/null || echo 20120211) (Depends: $depends)" \
    grep -q "apache2-api-$(a2query -a 2>/dev/null || echo 20120211)" <<<"$depends"

run lintian 300 lintian "$DEB"
if grep -q '^E: ' "$SCRATCH/lintian.log"; then
    not_ok "lintian: no errors"
    show lintian
else
    ok "lintian: no errors ($(grep -c '^W: ' "$SCRATCH/lintian.log") warnings)"
    grep '^W: ' "$SCRATCH/lintian.log" | sed 's/^/#   /'
fi

# ---------------------------------------------------------------- install
mkdir -p "$SNAP"
cp -a "$CONFDIR" "$SNAP/etc"
cp -a "$STATEDIR" "$SNAP/state"
CHANGED=1

if run install 300 dpkg -i "$DEB"; then
    ok "dpkg -i $(basename "$DEB")"
else
    not_ok "dpkg -i $(basename "$DEB")"
    show install
    finish
fi
# invoke-rc.d may have (re)started Apache; this test starts it itself
stop_apache
check "postinst switched the MPM: only mpm_fastevent enabled" \
    test "$(enabled_mpms | tr '\n' ' ')" = "mpm_fastevent "
check "a2query -M: fastevent" test "$(a2query -M 2>/dev/null)" = fastevent

# ------------------------------------------------------------ switch by hand
check "a2dismod mpm_fastevent" run a2dismod-fe 60 a2dismod mpm_fastevent
check "a2enmod mpm_event" run a2enmod-event 60 a2enmod mpm_event
if run a2enmod-conflict 60 a2enmod mpm_fastevent; then
    not_ok "a2enmod mpm_fastevent is refused while mpm_event is enabled"
    show a2enmod-conflict
else
    check "a2enmod mpm_fastevent is refused while mpm_event is enabled (Conflicts)" \
        grep -q "mpm_event is enabled - cannot proceed due to conflicts" "$SCRATCH/a2enmod-conflict.log"
fi
check "the refused a2enmod left mpm_fastevent disabled" bash -c "! test -e $CONFDIR/mods-enabled/mpm_fastevent.load"
check "a2dismod mpm_event" run a2dismod-event 60 a2dismod mpm_event
check "a2enmod mpm_fastevent" run a2enmod-fe 60 a2enmod mpm_fastevent
check "exactly one MPM enabled: mpm_fastevent" test "$(enabled_mpms | tr '\n' ' ')" = "mpm_fastevent "

# docs/debian.md, "More than one MPM loaded": the stock .load files do not
# conflict with fastevent
check "a2enmod mpm_event next to fastevent is not refused (stock .load)" run a2enmod-both 60 a2enmod mpm_event
if configtest configtest-both; then
    not_ok "configtest fails with two MPMs enabled"
else
    check "configtest with two MPMs: More than one MPM loaded" \
        grep -q "More than one MPM loaded" "$SCRATCH/configtest-both.log"
fi
check "recovery: a2dismod mpm_event" run a2dismod-both 60 a2dismod mpm_event

if configtest; then ok "apache2ctl configtest"; else not_ok "apache2ctl configtest"; show configtest; fi
timeout 30 apache2ctl -V >"$SCRATCH/V.log" 2>&1
check "apache2ctl -V: Server MPM: fastevent" grep -Eq '^Server MPM: +fastevent$' "$SCRATCH/V.log"
timeout 30 apachectl -M >"$SCRATCH/M.log" 2>&1
check "apachectl -M lists mpm_fastevent_module" grep -q '^ mpm_fastevent_module (shared)' "$SCRATCH/M.log"
check "apachectl -M lists no other MPM" bash -c "[ \$(grep -c '^ mpm_' $SCRATCH/M.log) -eq 1 ]"
check "a2query -M: fastevent" test "$(a2query -M 2>/dev/null)" = fastevent

# --------------------------------------------------------------- serve
if ! is_enabled status; then
    note "mod_status is not enabled: enabling it for the test"
    run a2enmod-status 60 a2enmod status
fi
ERRLOG=/var/log/apache2/error.log
errlog_size=$(stat -c %s "$ERRLOG" 2>/dev/null || echo 0)
if run start 60 apache2ctl start; then
    ok "apache2ctl start"
else
    not_ok "apache2ctl start"
    show start
fi
up=0
for i in $(seq 1 75); do
    if apache_pid >/dev/null && port80_busy; then up=1; break; fi
    sleep 0.2
done
check "Apache is up: $PIDFILE and port 80" test "$up" -eq 1

code=$(curl -s -o "$SCRATCH/index.html" -w '%{http_code}' --max-time 10 http://127.0.0.1/)
if [ -f /var/www/html/index.html ]; then
    check "GET / -> 200 (got $code)" test "$code" = 200
else
    check "GET / is answered (got $code)" test "$code" != 000
fi
# 50 requests on one keep-alive connection: each answered 200, and curl
# connected once
args=(); for i in $(seq 1 50); do args+=(-o /dev/null "http://127.0.0.1/?n=$i"); done
curl -s -w '%{http_code} %{num_connects}\n' --max-time 30 "${args[@]}" >"$SCRATCH/keepalive.log"
codes=$(awk '{print $1}' "$SCRATCH/keepalive.log" | sort | uniq -c | tr -s ' ')
conns=$(awk '{n += $2} END {print n + 0}' "$SCRATCH/keepalive.log")
check "50 requests on one keep-alive connection: all 200 (got:${codes//$'\n'/,}), 1 connect (got $conns)" \
    test "$codes" = " 50 200" -a "$conns" = 1
curl -s --max-time 10 'http://127.0.0.1/server-status?auto' >"$SCRATCH/status.txt"
check "/server-status?auto: ServerMPM: fastevent" grep -q '^ServerMPM: fastevent' "$SCRATCH/status.txt"
curl -s --max-time 10 'http://127.0.0.1/server-status' >"$SCRATCH/status.html"
check "/server-status: Server MPM: fastevent" grep -q 'Server MPM: fastevent' "$SCRATCH/status.html"

pid=$(apache_pid)
if stop_apache; then ok "apache2ctl stop: pid ${pid:-?} gone"; else not_ok "apache2ctl stop: pid ${pid:-?} gone"; fi
check "port 80 is free again" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/80) 2>/dev/null"
tail -c +$((errlog_size + 1)) "$ERRLOG" 2>/dev/null |
    grep -E ':(crit|alert|emerg)\]|exit signal' | tail -n 5 >"$SCRATCH/errlog.log"
check "no crit/alert/emerg or child crash in $ERRLOG while it ran" test ! -s "$SCRATCH/errlog.log"
[ -s "$SCRATCH/errlog.log" ] && show errlog

# ---------------------------------------------------------------- remove
# fastevent is the MPM: the prerm must hand back the one it replaced.
if run remove 300 dpkg -r "$PKG"; then ok "dpkg -r $PKG"; else not_ok "dpkg -r $PKG"; show remove; fi
stop_apache
check "after removal one MPM is enabled, the previous one: $PREV_MPM (found: $(enabled_mpms | tr '\n' ' '))" \
    test "$(enabled_mpms | tr '\n' ' ')" = "$PREV_MPM "
if configtest configtest-removed; then
    ok "after removal: apache2ctl configtest"
else
    not_ok "after removal: apache2ctl configtest"; show configtest-removed
fi
check "after removal the module is gone" test ! -e /usr/lib/apache2/modules/mod_mpm_fastevent.so

if run purge 300 dpkg -P "$PKG"; then ok "dpkg -P $PKG"; else not_ok "dpkg -P $PKG"; show purge; fi
stop_apache
check "after purge the conffiles are gone" \
    bash -c "! ls $CONFDIR/mods-available/mpm_fastevent.* >/dev/null 2>&1"
check "after purge no a2enmod state for mpm_fastevent is left" \
    test -z "$(find "$STATEDIR" -name mpm_fastevent)"
check "after purge /var/lib/$PKG is gone" test ! -e "/var/lib/$PKG"

finish
