#!/bin/bash
# tests/run.sh - run every unit test and every cluster test; print each
# result and close with "N passed, N failed" (and ", N skipped" when a test
# printed "SKIP: NAME: reason": it could not run here, e.g. compat where
# Sheepdog's source is not provided).  Exit non-zero on any failure.
# A test still running after SHEEP_TEST_TIMEOUT seconds (default 900) is
# stopped (its EXIT trap still tears down what it started) and fails.
# Usage: tests/run.sh [test-name-substring]
cd "$(dirname "$0")/.." || exit 1
filter=${1:-}
limit=${SHEEP_TEST_TIMEOUT:-900}
passed=0
failed=0
skipped=0
failures=()

tally() {	# tally LOGFILE: count ok/PASS and FAIL lines
	local p f
	p=$(grep -cE '^(ok |PASS: )' "$1")
	f=$(grep -cE '^(FAIL |FAIL: )' "$1")
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + $(grep -c '^SKIP: ' "$1")))
	grep -E '^(FAIL |FAIL: )' "$1" | while read -r l; do echo "  $l"; done
}

run_one() {	# run_one NAME COMMAND...
	local name=$1 log rc
	shift
	[ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && return
	log=$(mktemp /tmp/sheep-run.XXXXXX)
	printf '%-28s ' "$name"
	timeout -k 30 "$limit" "$@" >"$log" 2>&1
	rc=$?
	tally "$log"
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		grep -qE '^(FAIL |FAIL: )' "$log" || failed=$((failed + 1))
		failures+=("$name")
		echo "timed out after $limit s:"
		tail -20 "$log" | sed 's/^/    /'
	elif [ $rc -ne 0 ] && ! grep -qE '^(FAIL |FAIL: )' "$log"; then
		# a crash or an unexpected exit counts as a failure of its own
		failed=$((failed + 1))
		failures+=("$name")
		echo "exited $rc without reporting a failure:"
		tail -20 "$log" | sed 's/^/    /'
	elif [ $rc -ne 0 ]; then
		failures+=("$name")
		echo "FAILED"
		grep -E '^(FAIL|info:)' "$log" | tail -10 | sed 's/^/    /'
	elif grep -q '^SKIP: ' "$log"; then
		echo "skipped: $(grep -m1 '^SKIP: ' "$log" | cut -d' ' -f3-)"
	else
		echo "ok ($(grep -cE '^(ok |PASS: )' "$log") checks)"
	fi
	rm -f "$log"
}

for t in tests/unit/test_*; do
	[ -x "$t" ] && [[ "$t" != *.c ]] && run_one "unit/$(basename "$t")" "$t"
done
for t in tests/cluster/*.sh; do
	run_one "cluster/$(basename "$t" .sh)" bash "$t"
done

[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
