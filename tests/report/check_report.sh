#!/bin/sh
# check_report.sh REPORT.html... - opens each HTML report (test_report writes them) in headless
# Chromium, as someone opening the file offline would, and fails unless for every one of them:
#   1. Chromium logs no console message at all. The page has no script, so any message (an
#      uncaught exception, a console.error, a parse complaint) is a fault. Chromium writes them
#      to stderr with --enable-logging=stderr as lines holding ":CONSOLE";
#   2. the screenshot (1280x2000, the top of the page) is not blank: png_check.py decodes it
#      and wants at least 16 colours and 1 % of pixels that are not white;
#   3. the DOM Chromium built (--dump-dom) has as many <svg> elements as the file: the parser
#      took the page as it was meant, so no stray '<' from a name broke it.
# Two controls keep the checks honest: a copy of the first report with a broken script must
# trip check 1, and an empty page must trip check 2; if either passes, the check is blind (a
# Chromium whose log format changed, say) and the test fails.
# Exits 77 (skipped) without chromium or python3; .ci/deps installs both on Debian.
set -u

chromium=$(command -v chromium || command -v chromium-browser || command -v google-chrome) || {
  echo "check_report: chromium not installed (Debian: apt-get install chromium); skipped"
  exit 77
}
command -v python3 >/dev/null 2>&1 || {
  echo "check_report: python3 not installed; skipped"
  exit 77
}
[ $# -ge 1 ] || { echo "usage: check_report.sh REPORT.html..." >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
runs=0
failed=0

# chromium_run MODE FILE OUT: one headless run on FILE, a fresh profile each time so that runs
# never wait on each other's lock; background networking off, as the page needs none. MODE is
# "screenshot" (a PNG in OUT.png, the log in OUT.log) or "dom" (the DOM in OUT.dom).
chromium_run() {
  runs=$((runs + 1))
  set -- "$1" "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")" "$3"
  flags="--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --disable-extensions
         --disable-background-networking --disable-component-update --disable-sync --disable-default-apps
         --user-data-dir=$work/profile-$runs --window-size=1280,2000"
  if [ "$1" = screenshot ]; then
    # shellcheck disable=SC2086
    timeout 60 "$chromium" $flags --enable-logging=stderr --v=0 --screenshot="$3.png" "file://$2" \
      >"$3.log" 2>&1
  else
    # shellcheck disable=SC2086
    timeout 60 "$chromium" $flags --dump-dom "file://$2" >"$3.dom" 2>/dev/null
  fi
}

# console_messages LOG: the console lines of a run, if any (exit 0 when there are some).
console_messages() {
  grep ':CONSOLE' "$1"
}

fail() {
  echo "check_report: FAIL: $*"
  failed=$((failed + 1))
}

n=0
for report in "$@"; do
  n=$((n + 1))
  failed_before=$failed
  [ -s "$report" ] || { fail "$report: missing or empty"; continue; }
  out=$work/report-$n
  if ! chromium_run screenshot "$report" "$out" || [ ! -s "$out.png" ]; then
    fail "$report: chromium did not write a screenshot"
    sed 's/^/  /' "$out.log"
    continue
  fi
  if console_messages "$out.log"; then
    fail "$report: console messages (above)"
  fi
  python3 "$here/png_check.py" "$out.png" || fail "$report: the screenshot is blank"
  chromium_run dom "$report" "$out"
  in_file=$(grep -o '<svg ' "$report" | wc -l)
  in_dom=$(grep -o '<svg ' "$out.dom" | wc -l)
  if [ "$in_file" -eq 0 ] || [ "$in_file" -ne "$in_dom" ]; then
    fail "$report: $in_file <svg> in the file, $in_dom in Chromium's DOM"
  fi
  [ "$failed" -eq "$failed_before" ] &&
    echo "check_report: $report: drawn, $in_dom <svg> in the DOM, no console message"
done

# The controls.
sed 's#</body>#<script>undefinedFunction();</script></body>#' "$1" >"$work/broken.html"
chromium_run screenshot "$work/broken.html" "$work/broken"
if console_messages "$work/broken.log" >/dev/null; then
  echo "check_report: control: a broken script is seen"
else
  fail "control: a page with a broken script logged no console message; the console check is blind"
fi
printf '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>blank</title></head><body></body></html>\n' \
  >"$work/blank.html"
chromium_run screenshot "$work/blank.html" "$work/blank"
if python3 "$here/png_check.py" "$work/blank.png" >/dev/null; then
  fail "control: an empty page passed the screenshot check; it is blind"
else
  echo "check_report: control: an empty page is seen as blank"
fi

[ "$failed" -eq 0 ] || { echo "check_report: $failed failure(s)"; exit 1; }
echo "check_report: $# report(s) passed"
