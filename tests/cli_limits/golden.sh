#!/bin/sh
# golden.sh VAS GOLDEN ARGS... - runs `VAS limits ARGS...` and compares its standard output with
# the golden file GOLDEN; passes when vas exits 0 and the bytes are the same.
# After a deliberate change of the output, regenerate a golden file with
#   vas --color=never limits ARGS... > tests/cli_limits/NAME.txt
# and read the diff before committing it.
vas=$1
golden=$2
shift 2
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
"$vas" --color=never limits "$@" > "$out"
status=$?
if [ "$status" -ne 0 ]; then
    echo "golden.sh: vas limits $* exited with $status" >&2
    exit 1
fi
if ! diff -u "$golden" "$out"; then
    echo "golden.sh: vas limits $* differs from $golden" >&2
    exit 1
fi
exit 0
