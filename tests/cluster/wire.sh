#!/bin/bash
# Wire protocol conformance and robustness (tests/cluster/wire.py) against a
# real one-node cluster.
TEST_PORT_OFFSET=10
source "$(dirname "$0")/../lib.sh"

check "sheep starts" start_sheep 0
check "format" dogp 0 cluster format -c 1
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
finish
