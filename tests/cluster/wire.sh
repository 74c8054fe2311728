#!/bin/bash
# Wire protocol conformance and robustness (tests/cluster/wire.py) against a
# real one-node cluster.
TEST_PORT_OFFSET=10
source "$(dirname "$0")/../lib.sh"

check "sheep starts" start_sheep 0
check "format" dogp 0 cluster format -c 1
# Sheepdog's nodes do not recover at format: its dog printed -nan% for ours
check "a freshly formatted node is not shown recovering" test -z "$(dogp 0 node recovery -r)"
check "create test" dogp 0 vdi create test 1G
python3 "$TOP/tests/cluster/wire.py" "$(port_of 0)" "$T/0" >"$T/wire.out" 2>&1
rc=$?
while IFS= read -r line; do
	case "$line" in
	PASS:*) echo "$line"; PASSED=$((PASSED + 1)) ;;
	FAIL:*) echo "$line"; FAILED=$((FAILED + 1)) ;;
	esac
done <"$T/wire.out"
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL' "$T/wire.out"; then
	fail "wire.py crashed: $(tail -5 "$T/wire.out")"
fi
check "sheep still running" kill -0 "$(pid_of 0)"

# recovery throttling at run time, with Sheepdog's dog's output and errors
check "node recovery set-throttle 3 100" dogp 0 node recovery set-throttle 3 100
check "get-throttle prints it on stderr as Sheepdog's dog" \
	test "$(dogp 0 node recovery get-throttle 2>&1 >/dev/null)" = "max (3), interval (100)"
check "set-throttle 0 0 turns it off" dogp 0 node recovery set-throttle 0 0
check "get-throttle: off" test "$(dogp 0 node recovery get-throttle 2>&1)" = "max (0), interval (0)"
expect_fail "set-throttle with a max only" 64 '^Invalid interval max \(1\), interval \(\(null\)\)' \
	dogp 0 node recovery set-throttle 1
expect_fail "set-throttle 1 0" 64 '^Invalid interval max \(1\), interval \(0\)' \
	dogp 0 node recovery set-throttle 1 0
expect_fail "set-throttle x 5" 64 '^Invalid max \(x\)' dogp 0 node recovery set-throttle x 5
expect_fail "set-throttle 5 x" 64 '^Invalid interval \(x\)' dogp 0 node recovery set-throttle 5 x
expect_fail "set-throttle over 32 bits" 64 '^Invalid max \(4294967296\)' \
	dogp 0 node recovery set-throttle 4294967296 1
check "node recovery info: the table" test "$(dogp 0 node recovery info | head -1)" = \
	"Nodes In Recovery:"

# a cluster of gateways only: creating a VDI answers VDI_WRITE, as Sheepdog's
CLUSTER="local:$T/gw" check "gateway 5 starts in a cluster of its own" start_sheep 5 -g
check "format the gateways" dogp 5 cluster format -c 1
expect_fail "vdi create on gateways only" 1 'Failed to create VDI a: Failed to write to requested VDI' \
	dogp 5 vdi create a 1M
finish
