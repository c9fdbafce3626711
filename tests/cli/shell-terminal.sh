#!/bin/sh
# shell-terminal.sh VAS: `vas shell` on a terminal, through script(1)'s pseudo-terminal: the
# banner, prompts that name the current process, Tab completion (when vas has libedit: its banner
# says so), outcomes without the typed line repeated, views in colour with their legend, `quit`.
# Skips (77) without script(1).
vas=$1
command -v script >/dev/null 2>&1 || { echo "script(1) not found: skipped"; exit 77; }
run_shell() {
    printf "$1" | HOME=$(mktemp -d) timeout 20 script -qec "$vas shell" /dev/null | tr -d '\r'
}
if run_shell 'quit\n' | grep -q 'Tab completes'; then
    input='proc\t p\nalloc 0 64K MEM_COMMIT|MEM_RESERVE PAGE_READW\t\nmap\nquit\n' # completes
else
    echo "no line editing in this build: completion not checked"
    input='process p\nalloc 0 64K MEM_COMMIT|MEM_RESERVE PAGE_READWRITE\nmap\nquit\n'
fi
out=$(run_shell "$input")
fail=0
check() {
    printf '%s\n' "$out" | grep -qF -- "$1" || { echo "missing: $1"; fail=1; }
}
check 'shell: the scenario language, a line at a time'
check 'vas> '
check '  p: pid 4, 64-bit'
check 'p> '
check '  0x00000000`00010000'
check 'Legend:'
check "$(printf '\033[33mPrivate Data')"
[ "$(printf '%s\n' "$out" | grep -c '^> ')" -eq 0 ] || { echo "the typed line was repeated"; fail=1; }
[ $fail -eq 0 ] && echo "shell on a terminal: ok"
exit $fail
