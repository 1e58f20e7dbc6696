#!/usr/bin/env bash
# Run the Apache::Test integration suite against mod_mpm_fastevent built
# with AddressSanitizer + UndefinedBehaviorSanitizer (docs/hardening.md).
# Run by `make -f Makefile.apxs test-asan`.
#
# As root (CI, `sudo make -f Makefile.apxs test-asan`): like scripts/test.sh,
# creates the unprivileged user (Apache::Test refuses root), copies the tree
# to a scratch directory owned by that user and runs this script there as
# that user; the source tree is not written to.  As any other user: works
# in place.
#
# Steps (unprivileged):
#   1. make -f Makefile.apxs asan-module: the module with -fsanitize=
#      address,undefined into build/asan/module/.libs/mod_mpm_fastevent.so
#      (NEEDED: libasan.so.8, libubsan.so.1);
#   2. write build/asan/apache2-asan, a wrapper that LD_PRELOADs that very
#      libasan (httpd itself is not instrumented, and the ASan runtime must
#      come first in the initial library list) and sets ASAN_OPTIONS /
#      UBSAN_OPTIONS, then execs /usr/sbin/apache2; only httpd gets the
#      preload, not perl, php-fpm or the test clients;
#   3. t/run-apache-test.sh with FE_TEST_MPM_SO=that .so and
#      FE_TEST_HTTPD=the wrapper (Apache::Test starts httpd with system(),
#      environment inherited);
#   4. fail when the suite failed or any report file (build/asan/module-logs/
#      asan.PID, ubsan.PID) or t/logs/error_log holds "ERROR:
#      AddressSanitizer", "ERROR: LeakSanitizer" or "runtime error:".
#
# ASAN_OPTIONS: detect_leaks=0 (httpd is not instrumented and leaves its
# pools to exit by design), abort_on_error=0, log_path=build/asan/module-logs/
# asan, atexit=1 (every process writes its statistics at exit: the count of
# those files proves the processes really ran under ASan).  UBSan recovers
# (the module is built without -fno-sanitize-recover) so one run collects
# every report.
#
# Environment:
#   FE_TEST_USER        unprivileged user (default fetest)
#   FE_ASAN_WORKDIR     scratch copy when started as root
#                       (default /var/tmp/fe-asan; emptied first, kept after)
#   FE_TEST_PORT        base port (default 8629 here, so that a concurrent
#                       `make test` on the default 8529 is not disturbed)
#   FE_TEST_FILES, FE_TEST_TIMEOUT, ...   passed to t/run-apache-test.sh
#   SAN_ASAN_MODULE_OPTIONS  extra ASAN_OPTIONS (appended)
# Closing line: "test-asan: N passed, N failed" (the suite, the sanitizer
# logs); exit non-zero on any failure.
set -u

cd "$(dirname "$0")/.." || exit 2
SRC=$(pwd)
START=$(date +%s)

# ------------------------------------------------------------- as root
if [ "$(id -u)" -eq 0 ]; then
    TUSER=${FE_TEST_USER:-fetest}
    WORK=${FE_ASAN_WORKDIR:-/var/tmp/fe-asan}
    case "$WORK" in
        /|/tmp|/var/tmp|/root|/home|"$SRC"|"$SRC"/*)
            echo "test-asan: refusing FE_ASAN_WORKDIR=$WORK" >&2; exit 2 ;;
    esac
    if ! id "$TUSER" >/dev/null 2>&1; then
        useradd -m -s /bin/sh "$TUSER" || exit 2
        echo "test-asan: created user $TUSER"
    fi
    # a test server left running by an interrupted earlier run in $WORK
    if [ -f "$WORK/t/conf/apache_test_config.pm" ]; then
        (cd "$WORK" && runuser -u "$TUSER" -- perl t/TEST -stop >/dev/null 2>&1) || true
    fi
    rm -rf "$WORK"
    mkdir -p "$WORK"
    # Tracked files plus untracked, non-ignored ones, minus build and test
    # artefacts (the same selection as scripts/test.sh).
    is_artefact() {
        case "$1" in
            .libs/*|*.o|*.lo|*.la|*.slo|build/*|t/logs/*|t/state/*|t/htdocs/*) return 0 ;;
            t/conf/httpd.conf|t/conf/extra.conf|t/conf/apache_test_config.pm) return 0 ;;
            t/conf/fastevent-base.conf|t/conf/mime.types) return 0 ;;
            t/unit/test_*.c) return 1 ;;
            t/unit/test_*) return 0 ;;
            core|core.*|t/core|t/core.*) return 0 ;;
        esac
        return 1
    }
    if git -c safe.directory='*' -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        while IFS= read -r -d '' f; do
            [ -e "$f" ] || [ -L "$f" ] || continue
            is_artefact "$f" && continue
            printf '%s\0' "$f"
        done < <(git -c safe.directory='*' -C "$SRC" ls-files -z --cached --others --exclude-standard | sort -zu) \
            | tar -C "$SRC" --null -T - -cf - | tar -C "$WORK" -xf -
    else
        tar -C "$SRC" --exclude=.git --exclude=./.libs --exclude=./build \
            --exclude=./t/logs --exclude=./t/conf/apache_test_config.pm \
            --exclude=./t/conf/httpd.conf --exclude=./t/conf/extra.conf \
            -cf - . | tar -C "$WORK" -xf -
    fi
    chown -R "$TUSER": "$WORK"
    echo "test-asan: copied $(find "$WORK" -type f | wc -l) files to $WORK; running as $TUSER"
    cd "$WORK" || exit 2
    exec runuser -u "$TUSER" -- env FE_TEST_USER="$TUSER" bash scripts/sanitize-module.sh
fi

# ----------------------------------------------------- as the test user
say() { printf 'test-asan: %s\n' "$*"; }

say "building the module with -fsanitize=address,undefined"
make -f Makefile.apxs --no-print-directory asan-module || {
    say "the ASan build failed"
    echo "test-asan: 0 passed, 2 failed"
    exit 1
}
SO="$SRC/build/asan/module/.libs/mod_mpm_fastevent.so"
ASAN_RT=$(ldd "$SO" | awk '/libasan\.so/ {print $3; exit}')
[ -n "$ASAN_RT" ] && [ -f "$ASAN_RT" ] || {
    say "cannot find the libasan $SO was linked with (ldd below)"
    ldd "$SO"
    echo "test-asan: 0 passed, 2 failed"
    exit 1
}
HTTPD=${FE_TEST_HTTPD_REAL:-/usr/sbin/apache2}
LOGS="$SRC/build/asan/module-logs"
rm -rf "$LOGS"
mkdir -p "$LOGS"
ASAN_OPTS="detect_leaks=0:abort_on_error=0:halt_on_error=1:atexit=1:log_path=$LOGS/asan${SAN_ASAN_MODULE_OPTIONS:+:$SAN_ASAN_MODULE_OPTIONS}"
UBSAN_OPTS="print_stacktrace=1:halt_on_error=0:log_path=$LOGS/ubsan"

WRAP="$SRC/build/asan/apache2-asan"
cat > "$WRAP" <<EOF
#!/bin/sh
# Generated by scripts/sanitize-module.sh: httpd with the ASan runtime
# preloaded, for the ASan-instrumented mod_mpm_fastevent.so.
LD_PRELOAD="$ASAN_RT\${LD_PRELOAD:+:\$LD_PRELOAD}"
ASAN_OPTIONS="$ASAN_OPTS"
UBSAN_OPTIONS="$UBSAN_OPTS"
export LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS
exec "$HTTPD" "\$@"
EOF
chmod 755 "$WRAP"
"$WRAP" -v >/dev/null 2>&1 || { say "$WRAP -v failed"; "$WRAP" -v; }
rm -f "$LOGS"/asan.* "$LOGS"/ubsan.*      # the -v run's statistics

say "module $SO"
say "httpd $WRAP (LD_PRELOAD=$ASAN_RT)"
say "reports in $LOGS"
FE_TEST_MPM_SO="$SO" FE_TEST_HTTPD="$WRAP" FE_TEST_PORT="${FE_TEST_PORT:-8629}" \
    sh t/run-apache-test.sh
suite_rc=$?

# ------------------------------------------------------------- verdict
REPORT_RE='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:'
nfiles=$(find "$LOGS" -type f -name 'asan.*' | wc -l)
bad=$(grep -lE "$REPORT_RE" "$LOGS"/asan.* "$LOGS"/ubsan.* t/logs/error_log 2>/dev/null)
passed=0
failed=0
echo
if [ "$suite_rc" -eq 0 ]; then
    passed=$((passed + 1))
    say "Apache::Test suite under ASan: PASS"
else
    failed=$((failed + 1))
    say "Apache::Test suite under ASan: FAIL (exit $suite_rc)"
fi
if [ "$nfiles" -eq 0 ]; then
    # atexit=1 makes every ASan process leave a file: none means the
    # runtime never ran in httpd, so the run proves nothing
    failed=$((failed + 1))
    say "no ASan statistics in $LOGS: httpd did not run under ASan?"
elif [ -n "$bad" ]; then
    failed=$((failed + 1))
    nbad=$(echo "$bad" | wc -l)
    say "sanitizer reports: FAIL, $nbad files (the first 3 shown; all in $LOGS):"
    echo "$bad" | head -n 20 | sed 's/^/  /'
    [ "$nbad" -le 20 ] || echo "  ..."
    for f in $(echo "$bad" | head -n 3); do
        echo "---- $f"
        grep -nE -m1 "$REPORT_RE" "$f" | cut -d: -f1 | {
            read -r first
            from=$((first > 2 ? first - 2 : 1))
            sed -n "${from},$((from + 40))p" "$f"
        }
    done
    echo "----"
    grep -hoE 'SUMMARY: [A-Za-z]+Sanitizer: [^ ]+ [^ ]+( in [^ ]+)?' $bad | sort | uniq -c | sort -rn | head
else
    passed=$((passed + 1))
    say "sanitizer reports: none ($nfiles httpd processes ran under ASan; logs in $LOGS)"
fi
say "$(( $(date +%s) - START ))s"
echo "test-asan: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
