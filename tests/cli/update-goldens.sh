#!/bin/sh
# update-goldens.sh [VAS [PATTERN]]
#
# Regenerates the golden files of the vas command-line tests from the tool as it is now:
#   every examples/*.vas            -> tests/cli/golden/run-NAME.{out,err,code}
#   every tests/cli/cases.txt line  -> tests/cli/golden/NAME.{out,err,code}
#   every tests/cli/malformed/*.vas -> tests/cli/malformed/NAME.{out,err,code}
# Each command runs twice and must print the same both times (run-golden.sh). Only files whose
# contents change are rewritten, and each is named, so `git diff tests/cli` shows what moved.
#
# VAS: the vas binary (default: build/debug/vas, else build/release/vas, else the newest
# build/*/vas). PATTERN: a shell pattern; only tests whose ctest name (cli_...) matches it are
# updated, e.g. 'cli_map*'.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd) || exit 2
here=$root/tests/cli

vas=${1:-}
pattern=${2:-*}
if [ -z "$vas" ]; then
    for candidate in "$root/build/debug/vas" "$root/build/release/vas"; do
        if [ -x "$candidate" ]; then
            vas=$candidate
            break
        fi
    done
fi
if [ -z "$vas" ]; then
    # shellcheck disable=SC2012 # build directory names are plain
    vas=$(ls -t "$root"/build/*/vas 2>/dev/null | head -n 1)
fi
if [ -z "$vas" ] || [ ! -x "$vas" ]; then
    echo "update-goldens.sh: no vas binary found; give its path: update-goldens.sh build/DIR/vas" >&2
    exit 2
fi
case $vas in
    /*) ;;
    *) vas=$(pwd)/$vas ;;
esac
echo "update-goldens.sh: goldens from $vas"

failed=0
count=0
# one TEST-NAME GOLDEN ARGS...: regenerates one test's goldens when its name matches.
one() {
    name=$1
    golden=$2
    shift 2
    # shellcheck disable=SC2254 # PATTERN is a pattern
    case $name in
        $pattern) ;;
        *) return 0 ;;
    esac
    count=$((count + 1))
    VAS_UPDATE_GOLDENS=1 sh "$here/run-golden.sh" "$vas" "$golden" -- "$@" || failed=1
}

for script in "$root"/examples/*.vas; do
    [ -f "$script" ] || continue
    base=$(basename "$script" .vas)
    one "cli_run_$base" "tests/cli/golden/run-$base" run "examples/$base.vas"
done

set -f # no globbing of the cases' arguments
while read -r name arguments; do
    case $name in
        '' | '#'*) continue ;;
    esac
    # shellcheck disable=SC2086 # the arguments split at blanks, as in tests/CMakeLists.txt
    one "cli_$name" "tests/cli/golden/$name" $arguments
done <"$here/cases.txt"
set +f

for script in "$here"/malformed/*.vas; do
    [ -f "$script" ] || continue
    base=$(basename "$script" .vas)
    one "cli_malformed_$base" "tests/cli/malformed/$base" run "tests/cli/malformed/$base.vas"
done

# Goldens that no test uses any more (a renamed example, a removed case): named, not deleted.
for file in "$here"/golden/* "$here"/malformed/*; do
    [ -f "$file" ] || continue
    stem=${file%.*}
    base=$(basename "$stem")
    case $file in
        *.vas) continue ;;
        "$here"/malformed/*) [ -f "$stem.vas" ] && continue ;;
        "$here"/golden/run-*) [ -f "$root/examples/${base#run-}.vas" ] && continue ;;
    esac
    case $file in
        "$here"/golden/*)
            grep -q "^$base\( \|$\)" "$here/cases.txt" && continue ;;
    esac
    echo "update-goldens.sh: ${file#"$root"/} belongs to no test (remove it?)" >&2
done

echo "update-goldens.sh: $count test(s) looked at"
exit $failed
