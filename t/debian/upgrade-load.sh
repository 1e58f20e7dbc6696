#!/usr/bin/env bash
# t/debian/upgrade-load.sh: reloads, upgrade and downgrade of the package
# under load, in a fresh Debian 12 chroot (t/debian/lib.sh).
#
# Prepares the chroot: apache2 from Debian (with a policy-rc.d saying 101
# while it installs, so it starts nothing), Listen 127.0.0.1:$FE_DEB_PORT
# (default 8941) instead of port 80, a test file, and the two builds of
# t/debian/chroot-build.sh ($FE_DEB_OUT/v1 and v2: the same source, v2 a
# newer version). Then t/debian/upgrade-load.py, in the chroot's private PID
# and mount namespace, with invoke-rc.d allowed to act as on a real system:
# install v1 (event -> fastevent), and under load (fresh connections and
# keep-alive) 10 graceful restarts, the upgrade to v2, the downgrade to v1,
# an upgrade whose restart policy-rc.d refuses, and the admin's restart. Every
# failed request is counted per phase; docs/debian.md explains them.
#
# Runs as root on Debian only (else "SKIP: ..."). Never touches the host's
# Apache; the Apache in the chroot dies with the namespace. The last line is
# "N passed, N failed".
#
# Environment: FE_DEB_OUT, FE_DEB_PORT, FE_DEB_KEEP=1 (keep
# /var/tmp/fe-upgrade.*), and those of t/debian/lib.sh.

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/t/debian/lib.sh"
T0=$(date +%s)
OUT=${FE_DEB_OUT:-/var/tmp/fe-deb-out}
PORT=${FE_DEB_PORT:-8941}
fe_script_begin upgrade-load.sh upgrade
fe_need_tools "$LOG" debootstrap zstd util-linux python3 ||
    { not_ok "host tools"; show "$LOG/apt-tools.log"; exit 1; }

if perl -MIO::Socket::INET -e 'exit(IO::Socket::INET->new(LocalAddr => "127.0.0.1",
        LocalPort => $ARGV[0], Listen => 1, ReuseAddr => 1) ? 0 : 1)' "$PORT"; then :
else
    not_ok "port 127.0.0.1:$PORT is free (set FE_DEB_PORT)"; exit 1
fi

# ---- the two builds
fe_builds_ensure "$ROOT" "$OUT" "$LOG" || exit 1
V1=$(ls "$OUT"/v1/"${FE_PKG}"_*.deb | head -n 1)
V2=$(ls "$OUT"/v2/"${FE_PKG}"_*.deb | head -n 1)
note "old: $(basename "$V1"), new: $(basename "$V2")"

# ---- the chroot: apache2 on 127.0.0.1:$PORT, on event
t=$(date +%s)
fe_base_ensure "$LOG" && fe_chroot_new "$CH" || { not_ok "chroot"; show "$LOG/debootstrap.log"; exit 1; }
printf '#!/bin/sh\nexit 101\n' >"$CH/usr/sbin/policy-rc.d"
chmod 755 "$CH/usr/sbin/policy-rc.d"
mkdir -p "$CH/var/tmp/debs"
cp "$V1" "$V2" "$CH/var/tmp/debs/"
if bounded "$LOG/prepare.log" 900 fe_in_chroot "$CH" sh -c "
        set -e
        apt-get install -y apache2 procps
        printf 'Listen 127.0.0.1:$PORT\n' >/etc/apache2/ports.conf
        sed -i 's/<VirtualHost \*:80>/<VirtualHost *:$PORT>/' /etc/apache2/sites-available/000-default.conf
        echo 'ServerName localhost' >/etc/apache2/conf-available/fe-test.conf
        a2enconf -q fe-test
        printf 'fastevent upgrade test\n' >/var/www/html/fe-upgrade.txt
        a2query -M | grep -qx event
        apache2ctl configtest"; then
    ok "chroot with apache2 (event) on 127.0.0.1:$PORT ($(since "$t"))"
else
    not_ok "prepare the chroot"; show "$LOG/prepare.log"; exit 1
fi

# ---- the scenario, in the chroot's namespace
t=$(date +%s)
fe_chroot_ns "$CH" timeout -k 10 600 /usr/bin/python3 "$ROOT/t/debian/upgrade-load.py" \
    --root "$CH" --port "$PORT" \
    --v1 "/var/tmp/debs/$(basename "$V1")" --v2 "/var/tmp/debs/$(basename "$V2")" \
    2>&1 | tee "$LOG/upgrade-load.log" | sed 's/^/  /'
last=$(tail -n 1 "$LOG/upgrade-load.log")
if [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    PASS=$((PASS + BASH_REMATCH[1])); FAIL=$((FAIL + BASH_REMATCH[2]))
    note "upgrade-load.py: $last ($(since "$t"))"
else
    not_ok "upgrade-load.py ended without its closing line"
fi
exit 0
