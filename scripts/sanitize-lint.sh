#!/usr/bin/env bash
# Static checks of every .c of the module (top and source folders): cppcheck and clang-tidy
# (docs/hardening.md).  Run by `make -f Makefile.apxs lint`.
#
# Include paths come from `apxs -q INCLUDEDIR` and `apr-1-config --includes`
# (and APR's --cppflags: -DLINUX -D_REENTRANT -D_GNU_SOURCE).
#
# cppcheck: --enable=warning,portability,performance, one configuration
#   (Linux, x86_64, gcc), system headers not parsed (missingIncludeSystem
#   suppressed).  AF_UNIX is defined by hand: without <sys/socket.h>
#   apr_network_io.h would stop at its "#error Neither AF_UNIX nor AF_LOCAL".
# clang-tidy: clang-analyzer-*, bugprone-* (minus the noisy ones) and
#   cert-err34-c, our own headers included (fe_*.h, mpm_fastevent.h).  One
#   clang-tidy process per file, LINT_JOBS in parallel: clang-tidy 14 run
#   over several files in one process leaks analyzer state from one file
#   into the next (a false clang-analyzer-valist.Uninitialized in
#   fe_config.c's report() appears only after fe_child.c was analysed).
#
# False positives are suppressed in scripts/sanitize-lint.supp (format and
# reasons there), never inline in the sources.
#
# Environment: APXS, APR_CONFIG, SAN_DIR (output in $SAN_DIR/lint),
# CPPCHECK, CLANG_TIDY, LINT_JOBS (default: number of CPUs), LINT_FILES
# (default: every .c of the module).
# Closing line: "lint: N passed, N failed" (the two tools); exit non-zero
# when either reports anything not suppressed.
set -u

cd "$(dirname "$0")/.." || exit 2
TOP=$(pwd)
OUT=${SAN_DIR:-build}/lint
SUPP=scripts/sanitize-lint.supp
APXS=${APXS:-apxs}
APR_CONFIG=${APR_CONFIG:-apr-1-config}
CPPCHECK=${CPPCHECK:-cppcheck}
if [ -z "${CLANG_TIDY:-}" ]; then
    CLANG_TIDY=$(command -v clang-tidy-14 || command -v clang-tidy || echo clang-tidy)
fi
JOBS=${LINT_JOBS:-$(nproc 2>/dev/null || echo 2)}

for tool in "$CPPCHECK" "$CLANG_TIDY" "$APXS" "$APR_CONFIG" python3; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "lint: $tool not found (Debian: cppcheck clang-tidy apache2-dev libapr1-dev python3)" >&2
        echo "lint: 0 passed, 2 failed"
        exit 1
    }
done

HTTPD_INC=$("$APXS" -q INCLUDEDIR)
# shellcheck disable=SC2207
APR_FLAGS=($("$APR_CONFIG" --includes) $("$APR_CONFIG" --cppflags))
if [ -n "${LINT_FILES:-}" ]; then
    # shellcheck disable=SC2206
    FILES=($LINT_FILES)
else
    FILES=(*.c process/*.c connection/*.c fdqueue/*.c scoreboard/*.c policy/*.c)
fi
rm -rf "$OUT"
mkdir -p "$OUT"
START=$(date +%s)

# ------------------------------------------------------------- cppcheck
cpp_supp=()
while read -r tool glob id _; do
    [ "$tool" = cppcheck ] || continue
    cpp_supp+=("--suppress=$id:*$glob")
done < <(grep -v '^[[:space:]]*\(#\|$\)' "$SUPP")

echo "lint: cppcheck $("$CPPCHECK" --version | sed 's/^Cppcheck //') on ${#FILES[@]} files"
t0=$(date +%s)
"$CPPCHECK" --enable=warning,portability,performance --error-exitcode=1 \
    --inline-suppr --suppress=missingIncludeSystem "${cpp_supp[@]}" \
    --library=posix --std=c11 --platform=unix64 -q -j "$JOBS" \
    -I. -I"$HTTPD_INC" "${APR_FLAGS[@]}" \
    -D__linux__ -D__x86_64__ -D__GNUC__=12 -DAF_UNIX=1 \
    --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
    "${FILES[@]}" > "$OUT/cppcheck.log" 2>&1
cpp_rc=$?
cpp_findings=$(grep -cE '^[^ ].*: (error|warning|portability|performance|style|information): ' "$OUT/cppcheck.log")
cat "$OUT/cppcheck.log"
echo "lint: cppcheck: exit $cpp_rc, $cpp_findings findings ($(( $(date +%s) - t0 ))s)"

# ----------------------------------------------------------- clang-tidy
# Disabled as noise (docs/hardening.md): Annex K "use memset_s" advice
# (glibc has no memset_s; it fires on every apr_pcalloc), struct padding
# advice, swappable parameters, reserved identifiers (APR/httpd style),
# narrowing conversions, identical switch branches (fe_query's table).
CHECKS='-*,clang-analyzer-*,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,-clang-analyzer-optin.performance.Padding,bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-bugprone-narrowing-conversions,-bugprone-branch-clone,cert-err34-c'
# shellcheck disable=SC2089,SC2090  # the quotes are YAML, meant literally
CONFIG="{Checks: '$CHECKS'}"

echo "lint: $("$CLANG_TIDY" --version | grep -m1 -i version | sed 's/^ *//') on ${#FILES[@]} files, $JOBS at a time"
t0=$(date +%s)
# shellcheck disable=SC2090
export CLANG_TIDY CONFIG OUT HTTPD_INC
printf '%s\n' "${FILES[@]}" | xargs -P "$JOBS" -I{} sh -c '
    f=$1; shift
    "$CLANG_TIDY" --quiet --config="$CONFIG" \
        --header-filter="(^|/)(fe_[A-Za-z0-9_]*|mpm_fastevent)\.h\$" \
        "$f" -- -std=gnu11 -I. -I"$HTTPD_INC" "$@" \
        > "$OUT/$(basename "$f").tidy" 2>&1
    echo $? > "$OUT/$(basename "$f").rc"
' sh {} "${APR_FLAGS[@]}"
tidy_secs=$(( $(date +%s) - t0 ))

# Collect, de-duplicate (headers are seen from several files), apply the
# suppressions, and report.
python3 - "$OUT" "$SUPP" "$TOP" "${FILES[@]}" > "$OUT/clang-tidy.txt" <<'PY'
import fnmatch, os, re, sys

out, supp_path, top, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
supp = []
for n, line in enumerate(open(supp_path), 1):
    s = line.strip()
    if not s or s.startswith('#'):
        continue
    parts = s.split(None, 3)
    if parts[0] != 'clang-tidy':
        continue
    if len(parts) < 4:
        print(f"lint: {supp_path}:{n}: malformed entry: {s}")
        continue
    supp.append({'n': n, 'glob': parts[1], 'check': parts[2],
                 're': re.compile(parts[3]), 'hits': 0, 'text': s})

warn_re = re.compile(r'^(.*?):(\d+):(\d+): (warning|error): (.*?)(?: \[([^\]]+)\])?$')
seen, findings, suppressed, errors = set(), [], 0, 0
for f in files:
    base = os.path.basename(f)
    try:
        rc = int(open(os.path.join(out, base + '.rc')).read().strip() or 1)
        lines = open(os.path.join(out, base + '.tidy'), errors='replace').read().splitlines()
    except OSError:
        print(f"lint: clang-tidy produced nothing for {f}")
        errors += 1
        continue
    compile_error = False
    for i, line in enumerate(lines):
        m = warn_re.match(line)
        if not m:
            continue
        path, ln, col, kind, msg, check = m.groups()
        src = lines[i + 1] if i + 1 < len(lines) else ''
        if not check:
            # a message over several lines: the [check] ends a later one
            for j in range(i + 1, min(i + 200, len(lines))):
                if warn_re.match(lines[j]) and j > i:
                    break
                mm = re.search(r' \[([a-z][A-Za-z0-9_.,-]+)\]$', lines[j])
                if mm:
                    check = mm.group(1)
                    msg = msg + ' ...'
                    break
        check = check or ('clang-diagnostic-error' if kind == 'error' else '?')
        rel = os.path.relpath(path, top) if os.path.isabs(path) else path
        key = (rel, ln, col, check, msg)
        if key in seen:
            continue
        seen.add(key)
        if kind == 'error':
            compile_error = True
        hit = None
        for s in supp:
            if (fnmatch.fnmatch(os.path.basename(rel), s['glob'])
                    and s['check'] == check
                    and (s['re'].search(msg) or s['re'].search(src))):
                hit = s
                break
        if hit:
            hit['hits'] += 1
            suppressed += 1
            print(f"lint: suppressed ({supp_path}:{hit['n']}): {rel}:{ln}:{col}: {check}")
            continue
        findings.append(f"{rel}:{ln}:{col}: {kind}: {msg} [{check}]\n{src}")
    if rc != 0 and not compile_error:
        # clang-tidy exits non-zero only for errors; show why
        print(f"lint: clang-tidy exited {rc} on {f}:")
        print("\n".join(lines[-15:]))
        errors += 1
for f in findings:
    print(f)
for s in supp:
    if s['hits'] == 0:
        print(f"lint: stale suppression, matched nothing ({supp_path}:{s['n']}): {s['text']}")
print(f"TIDY-SUMMARY {len(findings)} {suppressed} {errors}")
PY
grep -v '^TIDY-SUMMARY' "$OUT/clang-tidy.txt"
read -r _ tidy_findings tidy_suppressed tidy_errors < <(grep '^TIDY-SUMMARY' "$OUT/clang-tidy.txt" || echo "TIDY-SUMMARY 0 0 1")
echo "lint: clang-tidy: $tidy_findings findings, $tidy_suppressed suppressed, $tidy_errors tool errors (${tidy_secs}s; raw output in $OUT/*.tidy)"

passed=0
failed=0
if [ "$cpp_rc" -eq 0 ] && [ "$cpp_findings" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
if [ "$tidy_findings" -eq 0 ] && [ "$tidy_errors" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
echo "lint: ${#FILES[@]} files in $(( $(date +%s) - START ))s; cppcheck $cpp_findings findings, clang-tidy $tidy_findings findings ($tidy_suppressed suppressed)"
echo "lint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
