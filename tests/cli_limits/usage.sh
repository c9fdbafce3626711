#!/bin/sh
# usage.sh VAS - bad command lines of `vas limits`: each must exit 2 (EXIT_USAGE) and say on
# stderr what was wrong, naming the option and what was expected; nothing goes to stdout.
vas=$1
failures=0
err=$(mktemp) || exit 1
out=$(mktemp) || exit 1
trap 'rm -f "$err" "$out"' EXIT

# expect MESSAGE ARGS...: `vas limits ARGS...` exits 2 with MESSAGE (a fixed string) on stderr.
expect() {
    message=$1
    shift
    "$vas" limits "$@" > "$out" 2> "$err"
    status=$?
    if [ "$status" -ne 2 ]; then
        echo "FAIL: vas limits $*: exit $status, expected 2" >&2
        failures=$((failures + 1))
    elif ! grep -qF -- "$message" "$err"; then
        echo "FAIL: vas limits $*: stderr lacks '$message':" >&2
        cat "$err" >&2
        failures=$((failures + 1))
    elif [ -s "$out" ]; then
        echo "FAIL: vas limits $*: wrote to stdout" >&2
        failures=$((failures + 1))
    fi
}

expect "expected a mode: --reserve, --commit or --touch"
expect "expected a mode" --layout x86
expect "--commit and --reserve: expected only one" --commit --reserve
expect "unknown option '--frobnicate'" --commit --frobnicate
expect "unexpected argument 'extra'" --touch extra
expect "--ram '12Q': expected a size" --commit --ram 12Q
expect "--ram: expected a value after it" --commit --ram
expect "--pagefile 'lots': expected a size such as 512M, or none" --commit --pagefile lots
expect "--chunk '0': expected a size from 1 to 256T" --commit --chunk 0
expect "--chunk '1024T': expected a size from 1 to 256T" --reserve --chunk 1024T
expect "--count 'many': expected a number of chunks" --commit --count many
expect "--layout 'vax': expected x64, x64-win7, x86, ia64 or win9x" --commit --layout vax
expect "--bits '48': expected 32 or 64" --commit --bits 48
expect "--policy 'lifo': expected aging, fifo, clock or lru" --commit --policy lifo
expect "--increase-user-va '4096': expected megabytes from 2048 to 3072" --commit --layout x86 --increase-user-va 4096
expect "--increase-user-va: expected --layout x86" --commit --increase-user-va 3072
expect "--commit '1': expected no value" --commit=1
# Values the options accept but the library refuses: the Windows error's name.
expect "cannot create the machine: ERROR_INVALID_PARAMETER (87)" --commit --ram 1000
expect "cannot create the process: ERROR_NOT_SUPPORTED (50)" --commit --layout x86 --bits 64

if [ "$failures" -ne 0 ]; then
    echo "usage.sh: $failures failures" >&2
    exit 1
fi
exit 0
