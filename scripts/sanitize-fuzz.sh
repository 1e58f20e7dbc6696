#!/usr/bin/env bash
# Run the libFuzzer harnesses of t/fuzz/ (docs/hardening.md).  Called by the
# fuzz and fuzz-regress targets of Makefile.apxs, which build them first:
#
#   scripts/sanitize-fuzz.sh run     NAME...   fuzz each for FUZZ_SECONDS
#   scripts/sanitize-fuzz.sh regress NAME...   replay the corpora only: the
#                                              seeds, t/fuzz/regressions/NAME
#                                              and the working corpus
#
# Environment:
#   SAN_FUZZ_DIR   where the binaries are (default build/fuzz)
#   FUZZ_SECONDS   -max_total_time per harness (default 20)
#   FUZZ_FLAGS     extra libFuzzer flags (e.g. -jobs=2 -workers=2)
#
# "run" fuzzes with a working corpus build/fuzz/corpus/NAME (first
# directory: libFuzzer writes the new inputs it finds there) seeded from
# the committed t/fuzz/corpus/NAME (read only), with t/fuzz/NAME.dict when it
# exists.  A crash, a leak, a timeout (-timeout=10 s per input) or an
# out-of-memory writes build/fuzz/artifacts/NAME/crash-... (or leak-,
# timeout-, oom-) and fails the harness; reproduce with
#   build/fuzz/NAME build/fuzz/artifacts/NAME/crash-...
# The closing line is "fuzz: N passed, N failed" (harnesses).
set -u

MODE=${1:-}
shift || true
case "$MODE" in run|regress) ;; *) echo "usage: $0 run|regress NAME..." >&2; exit 2 ;; esac
[ $# -gt 0 ] || { echo "fuzz: no harnesses (t/fuzz/fuzz_*.c)"; echo "fuzz: 0 passed, 1 failed"; exit 1; }

cd "$(dirname "$0")/.." || exit 2
DIR=${SAN_FUZZ_DIR:-build/fuzz}
SECS=${FUZZ_SECONDS:-20}
case "$SECS" in ''|*[!0-9]*) echo "fuzz: FUZZ_SECONDS must be a whole number" >&2; exit 2 ;; esac
# shellcheck disable=SC2206
EXTRA=(${FUZZ_FLAGS:-})
LABEL=fuzz
[ "$MODE" = regress ] && LABEL=fuzz-regress

# libFuzzer's own sanitizer settings: leaks are bugs (the pure code must
# not leak), UBSan stops at the first report (the harnesses are built with
# -fno-sanitize-recover=undefined as well).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0
failed_names=""
for name in "$@"; do
    bin="$DIR/$name"
    seeds="t/fuzz/corpus/$name"
    work="$DIR/corpus/$name"
    arts="$DIR/artifacts/$name"
    log="$DIR/logs/$name.$MODE.log"
    mkdir -p "$work" "$arts" "$DIR/logs"
    [ -x "$bin" ] || { echo "$LABEL: $bin missing (make -f Makefile.apxs fuzz-build)"; failed=$((failed + 1)); continue; }
    dict=()
    [ -f "t/fuzz/$name.dict" ] && dict=("-dict=t/fuzz/$name.dict")
    t0=$(date +%s)
    stamp="$DIR/logs/.$name.start"
    : > "$stamp"
    if [ "$MODE" = run ]; then
        "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$arts/" "${dict[@]}" \
            "${EXTRA[@]}" "$work" "$seeds" > "$log" 2>&1
        rc=$?
    else
        # replay every committed seed, every committed reproducer of a bug
        # found earlier (t/fuzz/regressions/NAME) and every input found by
        # earlier runs
        regs=()
        [ -d "t/fuzz/regressions/$name" ] && regs=("t/fuzz/regressions/$name")
        "$bin" -runs=0 -timeout=10 -artifact_prefix="$arts/" "$seeds" \
            "${regs[@]}" "$work" > "$log" 2>&1
        rc=$?
    fi
    secs=$(( $(date +%s) - t0 ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -n 1)
    nseeds=$(find "$seeds" -type f 2>/dev/null | wc -l)
    ncorp=$(find "$work" -type f 2>/dev/null | wc -l)
    if [ "$rc" -eq 0 ] && ! grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|FUZZ INVARIANT VIOLATED' "$log"; then
        passed=$((passed + 1))
        echo "$LABEL: PASS $name (${secs}s${execs:+, $execs execs}${cov:+, $cov}, seeds $nseeds, working corpus $ncorp)"
    else
        failed=$((failed + 1))
        failed_names="$failed_names $name"
        echo "---- $name FAILED (exit $rc, ${secs}s; $log)"
        grep -En -m1 'FUZZ INVARIANT VIOLATED|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|==ERROR' "$log" \
            | cut -d: -f1 | { read -r first; first=${first:-1}; sed -n "${first},$((first + 40))p" "$log"; }
        find "$arts" -type f -newer "$stamp" 2>/dev/null | sed "s|^|  artifact: |"
        echo "  reproduce: $bin $arts/<artifact>"
        echo "----"
        echo "$LABEL: FAIL $name"
    fi
done
[ -z "$failed_names" ] || echo "$LABEL: failed:$failed_names"
echo "$LABEL: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
