#!/bin/sh
# check.sh VAS SOURCE_DIR OUT_DIR - the man_pages test: makes vas.1 and vas-scenario.5 with
# tools/md2man into OUT_DIR, renders them with groff (or man), and fails on any warning, on a
# vas.1 that does not show `vas NAME` for every command of `vas help`, and on a vas-scenario.5
# without an entry for every command of the scenario language (`help` in `vas shell`).
# Exits 77 (skipped) when neither groff nor man is installed.
vas=$1 src=$2 out=$3
if [ $# -ne 3 ]; then
    echo "usage: check.sh VAS SOURCE_DIR OUT_DIR" >&2
    exit 2
fi
mkdir -p "$out" || exit 1
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

for page in vas.1 vas-scenario.5; do
    sh "$src/tools/md2man" -C "$src" -v "vas $("$vas" version | sed 's/^vas //')" -o "$out/$page" \
        "$src/man/$page.md" || fail "md2man could not make $page"
done
[ $failures -eq 0 ] || exit 1

# render PAGE: the page as plain text on stdout, warnings on stderr.
if command -v groff >/dev/null 2>&1; then
    render() { groff -man -Tutf8 -ww -k -P-cbou "$1"; }
elif command -v man >/dev/null 2>&1; then
    render() { MANWIDTH=80 man --warnings -E UTF-8 -l "$1"; }
else
    echo "SKIP: neither groff nor man is installed" >&2
    exit 77
fi

for page in vas.1 vas-scenario.5; do
    render "$out/$page" > "$out/$page.txt" 2> "$out/$page.warnings"
    if [ -s "$out/$page.warnings" ]; then
        fail "$page: the formatter warns:"
        sed 's/^/    /' "$out/$page.warnings" >&2
    fi
    lines=$(wc -l < "$out/$page.txt")
    [ "$lines" -gt 50 ] || fail "$page: only $lines lines of text"
done

# vas.1 shows every command of the usage as "vas NAME" (options may stand between).
flat=$(tr '\n' ' ' < "$out/vas.1.txt" | tr -s ' ')
commands=$("$vas" help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p')
[ -n "$commands" ] || fail "no command found in the output of '$vas help'"
for name in $commands; do
    printf '%s\n' "$flat" | grep -Eq "vas( \[[^]]*\]| --?[a-z][a-z=|]*)* $name([^a-z_]|$)" ||
        fail "vas.1 never shows 'vas $name'"
done

# vas-scenario.5 has an entry for every scenario command: a line holding its name alone, or
# names separated by ", " ("lock, unlock").
statements=$(printf 'help\n' | "$vas" shell 2>/dev/null | sed -n 's/^    \([a-z_][a-z_]*\)\( .*\)\{0,1\}$/\1/p')
[ -n "$statements" ] || fail "no command found in the shell's help"
for name in $statements; do
    grep -Eq "^ *($name|([a-z_]+, )+$name|$name(, [a-z_]+)+|([a-z_]+, )+$name(, [a-z_]+)+) *\$" \
        "$out/vas-scenario.5.txt" || fail "vas-scenario.5 has no entry for '$name'"
done

if [ $failures -ne 0 ]; then
    echo "$failures failed" >&2
    exit 1
fi
echo "man pages: vas.1 ($(echo $commands | wc -w) commands), vas-scenario.5 ($(echo $statements | wc -w) commands): 0 warnings"
