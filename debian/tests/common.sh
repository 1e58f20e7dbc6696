# debian/tests/common.sh: sourced by the autopkgtest scripts (sh).
#
# ok/not_ok print TAP-like lines and count; fe_end prints the closing
# "N passed, N failed" and returns non-zero on a failure.
# fe_conf_save/fe_conf_restore put /etc/apache2 back as the test found it;
# fe_listen points Apache at our loopback ports instead of Debian's 80/443;
# fe_start/fe_stop start and stop Apache with apache2ctl, waiting (bounded)
# for the port and for the pid to go.

PKG=libapache2-mod-mpm-fastevent
CONF=/etc/apache2
PIDFILE=/run/apache2/apache2.pid
TMP=${AUTOPKGTEST_TMP:-$(mktemp -d)}
PASS=0
FAIL=0

ok() { PASS=$((PASS + 1)); echo "ok $((PASS + FAIL)) - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok $((PASS + FAIL)) - $*"; }
check() { d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
note() { echo "# $*"; }
showlog() { [ -f "$1" ] && sed 's/^/#   /' "$1" | tail -n "${2:-20}"; }
fe_end() { echo "$PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; }

enabled_mpms() {
    for f in "$CONF"/mods-enabled/mpm_*.load; do
        [ -e "$f" ] || continue
        f=${f##*/}; printf '%s ' "${f%.load}"
    done
}

apache_pid() {
    p=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
}

# port_open PORT: something accepts on 127.0.0.1:PORT
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

fe_stop() {
    p=$(apache_pid) || return 0
    timeout 60 apache2ctl stop >>"$TMP/apache2ctl.log" 2>&1
    i=0
    while kill -0 "$p" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
    ! kill -0 "$p" 2>/dev/null
}

# fe_start PORT: apache2ctl start, then wait for PORT (bounded)
fe_start() {
    timeout 60 apache2ctl start >>"$TMP/apache2ctl.log" 2>&1 || return 1
    i=0
    while [ $i -lt 100 ]; do
        apache_pid >/dev/null && port_open "$1" && return 0
        sleep 0.2; i=$((i + 1))
    done
    return 1
}

# The state of /etc/apache2 and a2enmod's records, to give back at the end.
fe_conf_save() {
    rm -rf "$TMP/conf-save"
    mkdir -p "$TMP/conf-save"
    cp -a "$CONF" "$TMP/conf-save/etc"
    cp -a /var/lib/apache2 "$TMP/conf-save/state"
    WAS_RUNNING=0
    apache_pid >/dev/null && WAS_RUNNING=1
    return 0
}
fe_conf_restore() {
    fe_stop
    rm -rf "$CONF" /var/lib/apache2
    cp -a "$TMP/conf-save/etc" "$CONF"
    cp -a "$TMP/conf-save/state" /var/lib/apache2
    if [ "${WAS_RUNNING:-0}" = 1 ]; then
        timeout 60 apache2ctl start >>"$TMP/apache2ctl.log" 2>&1 || note "could not start Apache again"
    fi
}

# fe_listen PORT...: Listen on 127.0.0.1:PORT only, and a global ServerName
fe_listen() {
    : >"$CONF/ports.conf"
    for p in "$@"; do echo "Listen 127.0.0.1:$p" >>"$CONF/ports.conf"; done
    echo "ServerName localhost" >"$CONF/conf-available/fe-autopkgtest-name.conf"
    a2enconf -q fe-autopkgtest-name >/dev/null
    # Debian's default site is for *:80, which no longer listens
    a2dissite -q 000-default >/dev/null 2>&1 || true
}

# fe_get URL [CURL ARGS...]: "CODE HTTP-VERSION", the body in $TMP/body
fe_get() {
    u=$1; shift
    curl -s -k --max-time 15 -o "$TMP/body" -w '%{http_code} %{http_version}' "$@" "$u" 2>>"$TMP/curl.log"
}

# fe_errlog_clean FROM-BYTE: nothing at crit/alert/emerg, no child crash,
# in /var/log/apache2/error.log past FROM-BYTE
fe_errlog_clean() {
    tail -c +$(($1 + 1)) /var/log/apache2/error.log 2>/dev/null |
        grep -E ':(crit|alert|emerg)\]|exit signal|Segmentation' >"$TMP/errlog-bad" || true
    [ ! -s "$TMP/errlog-bad" ]
}
