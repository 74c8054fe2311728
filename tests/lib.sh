# tests/lib.sh - helpers shared by the cluster tests; source it first.
#
# Every sheep a test starts is recorded by PID and killed (-9) by the EXIT
# trap, with its scratch directory removed, whether the test passed or not.
# Nothing here kills by name.  Ports: SHEEP_TEST_PORT_BASE (default 17300)
# plus a per-test offset, so several suites can share a machine.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHEEP=${SHEEP:-$TOP/sheep}
DOG=${DOG:-$TOP/dog}
PORT_BASE=$(( ${SHEEP_TEST_PORT_BASE:-17300} + ${TEST_PORT_OFFSET:-0} ))
T=$(mktemp -d /tmp/sheep-test.XXXXXX)
PIDS=()
# sanitizer builds (make asan): reports go to files the test checks at the end
export ASAN_OPTIONS="log_path=$T/asan:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="log_path=$T/ubsan:print_stacktrace=1:${UBSAN_OPTIONS:-}"
PASSED=0
FAILED=0
TEST_NAME=$(basename "$0" .sh)

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait_dead "$p"
	done
	[ -n "${CLEANUP_HOOK:-}" ] && eval "$CLEANUP_HOOK"
	rm -rf "$T"
}
trap cleanup EXIT

pass() { echo "PASS: $TEST_NAME: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $TEST_NAME: $*"; FAILED=$((FAILED + 1)); }

# check DESCRIPTION COMMAND...: pass if the command succeeds
check() {
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}

# expect_fail DESCRIPTION EXIT_CODE PATTERN COMMAND...: the command must exit
# with EXIT_CODE and print PATTERN (grep -E) on stderr or stdout
expect_fail() {
	local desc=$1 code=$2 pat=$3 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ] && grep -qE -- "$pat" <<<"$out"; then
		pass "$desc"
	else
		fail "$desc (exit $rc, want $code; output: $(head -c 300 <<<"$out"))"
	fi
}

port_of() { echo $((PORT_BASE + $1)); }

wait_dead() {
	local i
	for i in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# start_sheep IDX [options...]: sheep IDX on 127.0.0.1:PORT_BASE+IDX, store $T/IDX
start_sheep() {
	local idx=$1
	shift
	local rc=0
	rm -f "$T/$idx.pid"
	"$SHEEP" -b 127.0.0.1 -p "$(port_of "$idx")" -P "$T/$idx.pid" -c "${CLUSTER:-local:$T/cluster}" \
		-z "$idx" "$@" "$T/$idx" || rc=1
	# record the daemon even if the launcher failed, so cleanup kills it
	[ -s "$T/$idx.pid" ] && PIDS+=("$(cat "$T/$idx.pid")")
	return $rc
}

pid_of() { cat "$T/$1.pid"; }

# kill -9 sheep IDX and wait until it is gone
kill9_sheep() {
	local pid
	pid=$(pid_of "$1")
	kill -9 "$pid"
	wait_dead "$pid"
}

dog() { "$DOG" "$@"; }

# dogp IDX args...: dog against sheep IDX
dogp() {
	local idx=$1
	shift
	local sub=$1 cmd=$2
	shift 2
	"$DOG" "$sub" "$cmd" -p "$(port_of "$idx")" "$@"
}

finish() {
	local f
	for f in "$T"/asan.* "$T"/ubsan.*; do
		[ -e "$f" ] || continue
		fail "sanitizer report $(basename "$f"): $(head -c 600 "$f")"
	done
	echo "$TEST_NAME: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}
