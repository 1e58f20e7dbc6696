#!/usr/bin/env bash
# Install every Debian package mpm_fastevent needs to build, run and test.
#
# Idempotent: when every package is already installed, apt is not touched at
# all, so repeated runs take well under a second.  Must run as root (or have
# every package installed already).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
    # build
    gcc make libc6-dev apache2-dev libcunit1-dev
    # run (the demo uses Debian's httpd binary and its shared modules)
    apache2 apache2-bin media-types
    # integration tests: Apache::Test ships in libapache2-mod-perl2
    perl libapache2-mod-perl2 libwww-perl procps
    # copying the tree for the unprivileged test user
    git
    # benchmarks, restart/hostile-client drivers and manual poking
    wrk nghttp2-client apache2-utils curl python3
    # bench/run: TLS open-loop client, nginx reference row, latency plots
    libssl-dev nginx-light gnuplot-nox
    # module stack tests: PHP-FPM behind mod_proxy_fcgi, TLS keys
    php-fpm openssl
    # Debian package build and its test
    build-essential debhelper dpkg-dev fakeroot lintian
    # the package in clean chroots: debootstrap, autopkgtest, the hardening
    # checks (blhc; hardening-check is in devscripts), the cached base (zstd)
    debootstrap autopkgtest blhc devscripts zstd
    # scale-out test behind HAProxy
    haproxy
    # sanitizer pass of the unit tests in CI (ASan/UBSan come with gcc)
    valgrind
)

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: not root; run $0 as root (or install the packages above)" >&2
    exit 1
fi

# Do not let the apache2 package start (and keep running) a system server
# on port 80 while we install it: policy-rc.d 101 = "action forbidden".
# Only create it when absent, and remove only what we created.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: done"
