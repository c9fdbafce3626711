#!/bin/sh
# run-golden.sh VAS GOLDEN -- ARGS...
#
# Runs `VAS ARGS` in the source tree (so that the paths the tool prints are relative and the
# same everywhere), with NO_COLOR=1 and LC_ALL=C, standard input from GOLDEN.in when that file
# exists (else /dev/null), and compares what it did with the golden files:
#   GOLDEN.out   standard output        (missing: empty)
#   GOLDEN.err   standard error         (missing: empty)
#   GOLDEN.code  the exit code, a line  (missing: 0)
# On a mismatch it prints a unified diff of each part that differs and exits 1; 0 when all
# three match; 2 for a bad command line. GOLDEN is a path without suffix, relative to the source
# tree (tests/cli/golden/map-06) or absolute.
#
# With VAS_UPDATE_GOLDENS=1 in the environment it writes the golden files instead (an empty
# part removes its file; exit code 0 removes GOLDEN.code), after running the command twice and
# checking that both runs agree: goldens must not hold anything that varies between runs.
# tests/cli/update-goldens.sh does this for every golden test.
set -u

usage() {
    echo "usage: run-golden.sh VAS GOLDEN -- ARGS..." >&2
    exit 2
}
[ $# -ge 3 ] || usage
[ "$3" = "--" ] || usage
vas=$1
golden=$2
shift 3

# The tool by absolute path: the command runs in the source tree.
case $vas in
    /*) ;;
    */*) vas=$(pwd)/$vas ;;
esac
root=$(cd "$(dirname "$0")/../.." && pwd) || exit 2
case $golden in
    /*) ;;
    *) golden=$root/$golden ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vas-golden.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' HUP INT TERM

input=/dev/null
[ -f "$golden.in" ] && input=$golden.in

# run N: the command's stdout, stderr and exit code into $tmp/N.out, .err, .code
run() {
    (cd "$root" && NO_COLOR=1 LC_ALL=C "$vas" "$@" <"$input" >"$tmp/$n.out" 2>"$tmp/$n.err")
    echo $? >"$tmp/$n.code"
}
n=1
run "$@"

# The golden parts, with their defaults, side by side with what the run gave.
for part in out err code; do
    if [ -f "$golden.$part" ]; then
        cp "$golden.$part" "$tmp/want.$part"
    elif [ $part = code ]; then
        echo 0 >"$tmp/want.code"
    else
        : >"$tmp/want.$part"
    fi
done

if [ "${VAS_UPDATE_GOLDENS:-}" = 1 ]; then
    n=2
    run "$@"
    for part in out err code; do
        if ! cmp -s "$tmp/1.$part" "$tmp/2.$part"; then
            echo "run-golden.sh: $golden: two runs disagree on std$part (it must not vary between runs):" >&2
            diff -u "$tmp/1.$part" "$tmp/2.$part" >&2
            exit 1
        fi
    done
    mkdir -p "$(dirname "$golden")" || exit 2
    for part in out err code; do
        if [ $part = code ] && [ "$(cat "$tmp/1.code")" = 0 ]; then
            rm -f "$golden.code"
        elif [ $part != code ] && [ ! -s "$tmp/1.$part" ]; then
            rm -f "$golden.$part"
        elif ! cmp -s "$tmp/1.$part" "$golden.$part" 2>/dev/null; then
            cp "$tmp/1.$part" "$golden.$part" || exit 2
            echo "updated ${golden#"$root"/}.$part"
        fi
    done
    exit 0
fi

status=0
for part in out err code; do
    if ! cmp -s "$tmp/want.$part" "$tmp/1.$part"; then
        case $part in
            out) what="standard output" ;;
            err) what="standard error" ;;
            code) what="exit code" ;;
        esac
        echo "--- $what of: vas $*"
        diff -u -L "${golden#"$root"/}.$part (expected)" -L "vas $* (actual)" \
            "$tmp/want.$part" "$tmp/1.$part"
        status=1
    fi
done
if [ $status != 0 ]; then
    echo "If the new output is right: tests/cli/update-goldens.sh (tests/cli/README.md)."
fi
exit $status
