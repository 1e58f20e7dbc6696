#!/usr/bin/env bash
# Run unit-test binaries built with a sanitizer (or under valgrind) and say
# which ones reported anything.  Called by the check-asan, check-tsan and
# check-valgrind targets of Makefile.apxs (docs/hardening.md); not meant to
# be run by hand, but it works:
#
#   scripts/sanitize-unit.sh LABEL LOGDIR ITERATIONS BINARY...
#
# Environment:
#   SAN_WRAP   command prefix, word-split (e.g. "valgrind -q ...")
#   ASAN_OPTIONS, UBSAN_OPTIONS, TSAN_OPTIONS   passed through unchanged
#
# A binary fails when any of its ITERATIONS runs exits non-zero (CUnit
# failure, sanitizer or valgrind error, crash, alarm) or prints a sanitizer
# report (belt and braces: a report printed by a recovering runtime still
# fails).  Each run's output is in LOGDIR/NAME.N.log; for a failure the
# report is shown inline.  The closing line is "LABEL: N passed, N failed"
# (binaries, not runs), and the exit status is non-zero on any failure.
set -u

[ $# -ge 3 ] || { echo "usage: $0 LABEL LOGDIR ITERATIONS BINARY..." >&2; exit 2; }
LABEL=$1
LOGDIR=$2
ITER=$3
shift 3
[ $# -gt 0 ] || { echo "$LABEL: no test binaries given" >&2; echo "$LABEL: 0 passed, 1 failed"; exit 1; }
case "$ITER" in ''|*[!0-9]*|0) echo "$LABEL: bad iteration count '$ITER'" >&2; exit 2 ;; esac

mkdir -p "$LOGDIR"
# shellcheck disable=SC2206  # word splitting of SAN_WRAP is the point
WRAP=(${SAN_WRAP:-})

# What a sanitizer or valgrind prints when it found something.
REPORT_RE='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|WARNING: ThreadSanitizer|ThreadSanitizer: reported|ERROR: ThreadSanitizer|Invalid (read|write|free)|uninitialised value|definitely lost in|Mismatched free|Syscall param|Process terminating with default action'

now_ms() { date +%s%3N; }

passed=0
failed=0
failed_names=""
start_all=$(now_ms)
for bin in "$@"; do
    name=$(basename "$bin")
    ok=1
    times=""
    for i in $(seq 1 "$ITER"); do
        log="$LOGDIR/$name.$i.log"
        t0=$(now_ms)
        "${WRAP[@]}" "$bin" > "$log" 2>&1
        rc=$?
        t1=$(now_ms)
        ms=$((t1 - t0))
        times="$times $(printf '%d.%02ds' $((ms / 1000)) $(((ms % 1000) / 10)))"
        reported=0
        grep -Eq "$REPORT_RE" "$log" && reported=1
        if [ "$rc" -ne 0 ] || [ "$reported" -eq 1 ]; then
            ok=0
            echo "---- $name run $i/$ITER FAILED: exit $rc$([ $reported -eq 1 ] && echo ', sanitizer/valgrind report') ($log)"
            # the report itself, or the CUnit failure lines
            if [ "$reported" -eq 1 ]; then
                grep -En -m1 "$REPORT_RE" "$log" | cut -d: -f1 | {
                    read -r first
                    from=$((first > 3 ? first - 3 : 1))
                    sed -n "${from},$((from + 60))p" "$log"
                }
            else
                grep -E 'FAILED|failed|Test:.*\.\.\.F|expected|Assertion|alarm|Killed' "$log" | head -40
                tail -n 8 "$log"
            fi
            echo "----"
            break
        fi
    done
    asserts=$(awk '/^ +asserts/ {print $2 " asserts"}' "$log" 2>/dev/null | tail -n 1)
    if [ "$ok" -eq 1 ]; then
        passed=$((passed + 1))
        echo "$LABEL: PASS $name (${asserts:-?}, x$ITER:$times)"
    else
        failed=$((failed + 1))
        failed_names="$failed_names $name"
        echo "$LABEL: FAIL $name (x$ITER:$times)"
    fi
done
total_ms=$(( $(now_ms) - start_all ))
[ -z "$failed_names" ] || echo "$LABEL: failed:$failed_names (logs in $LOGDIR)"
echo "$LABEL: $(printf '%d.%01d' $((total_ms / 1000)) $(((total_ms % 1000) / 100)))s for $# binaries x $ITER"
echo "$LABEL: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
