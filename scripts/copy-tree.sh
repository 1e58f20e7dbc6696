#!/usr/bin/env bash
# Copy the source tree to a scratch directory owned by the unprivileged test
# user (Apache::Test refuses root), for scripts/test.sh and
# scripts/sanitize-module.sh.
#
# Usage: scripts/copy-tree.sh SRC WORK USER
#
# Stops an Apache::Test server that an interrupted earlier run left in WORK,
# empties WORK, copies the tracked files plus the untracked, non-ignored ones
# (work in progress) minus build and test artefacts that may not be ignored
# yet (without git: the whole tree minus those), and gives WORK to USER.
# Prints "copied N files (...)".
set -euo pipefail
SRC=$1
WORK=$2
TUSER=$3

if [ -f "$WORK/t/conf/apache_test_config.pm" ]; then
    (cd "$WORK" && runuser -u "$TUSER" -- perl t/TEST -stop >/dev/null 2>&1) || true
fi
rm -rf "$WORK"
mkdir -p "$WORK"

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
        [ -e "$SRC/$f" ] || [ -L "$SRC/$f" ] || continue   # deleted but still tracked
        is_artefact "$f" && continue
        printf '%s\0' "$f"
    done < <(git -c safe.directory='*' -C "$SRC" ls-files -z --cached --others --exclude-standard | sort -zu) \
        | tar -C "$SRC" --null -T - -cf - | tar -C "$WORK" -xf -
    how="git ls-files"
else
    tar -C "$SRC" --exclude=.git --exclude=./.libs --exclude=./build \
        --exclude=./t/logs --exclude=./t/conf/apache_test_config.pm \
        --exclude=./t/conf/httpd.conf --exclude=./t/conf/extra.conf \
        -cf - . | tar -C "$WORK" -xf -
    how="no git: whole tree"
fi
chown -R "$TUSER": "$WORK"
echo "copied $(find "$WORK" -type f | wc -l) files ($how)"
