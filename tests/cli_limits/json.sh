#!/bin/sh
# json.sh VAS - `vas --json limits` writes one JSON document of the documented shape
# (docs/cli-limits.md): checked with python3 (json.tool, then the fields); skipped (77) without it.
vas=$1
command -v python3 > /dev/null 2>&1 || { echo "json.sh: no python3, skipped"; exit 77; }
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT

# check ARGS... -- PYTHON: the document must parse, then the Python expression on d must hold.
check() {
    args=
    while [ "$1" != "--" ]; do
        args="$args $1"
        shift
    done
    shift
    # shellcheck disable=SC2086 # the arguments are words without spaces
    "$vas" --json limits $args > "$out" || { echo "FAIL: vas --json limits$args exited $?" >&2; exit 1; }
    python3 -m json.tool "$out" > /dev/null || { echo "FAIL: not JSON: vas --json limits$args" >&2; exit 1; }
    python3 - "$out" "$1" <<'PY' || { echo "FAIL: vas --json limits$args: $1" >&2; exit 1; }
import json, sys
d = json.load(open(sys.argv[1]))
keys = ["view", "mode", "machine", "process", "chunk", "max_chunks", "chunks", "bytes", "touched",
        "failure", "limit", "reason", "largest_free_block", "figures"]
assert list(d) == keys, list(d)
assert d["view"] == "limits"
for k in ["virtual_size", "commit_charge", "commit_total", "commit_limit", "avail_commit", "working_set",
          "page_faults", "soft_faults", "hard_faults", "pages_written", "pagefile_used"]:
    assert isinstance(d["figures"][k], int), k
assert d["process"]["user_first"].startswith("0x")
assert eval(sys.argv[2]), sys.argv[2]
PY
}

check --commit --layout x86 --ram 64M --pagefile 64M -- \
    'd["mode"] == "commit" and d["limit"] == "commit_limit" and d["failure"]["error"] == 1455 and d["failure"]["error_name"] == "ERROR_COMMITMENT_LIMIT" and d["chunks"] == 127 and d["bytes"] == 127 << 20'
check --reserve --layout x86 --ram 64M --pagefile 64M -- \
    'd["limit"] == "address_space" and d["failure"]["error"] == 8 and d["largest_free_block"] < d["chunk"] and d["process"]["user_last"] == "0x7ffeffff"'
check --touch --count 4 --layout x86 --ram 64M --pagefile none -- \
    'd["limit"] == "count" and d["failure"] is None and d["max_chunks"] == 4 and d["touched"] == 4 << 20 and d["machine"]["pagefile"] == 0'
exit 0
