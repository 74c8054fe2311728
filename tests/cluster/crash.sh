#!/bin/bash
# kill -9 in the middle of a stream of writes, several times: after each
# restart every acknowledged write reads back (newest generation wins), no
# temp file survives, every object has its full size.
TEST_PORT_OFFSET=40
source "$(dirname "$0")/../lib.sh"
W="$TOP/tests/cluster/writer.py"

check "sheep starts" start_sheep 0
check "format" dogp 0 cluster format -c 1
check "create vdi" dogp 0 vdi create crash 64M
for round in 1 2 3; do
	write_and_kill 0 crash 1.5
	check "round $round: restart after kill -9 during writes" start_sheep 0
	check "round $round: no temp files after restart" bash -c "! ls '$T/0/obj' | grep -q tmp"
	check "round $round: every data object has its full size" bash -c \
		"for f in '$T/0/obj'/00*; do [ \$(stat -c %s \"\$f\") -eq $((4194304 + 16)) ] || exit 1; done"
	check "round $round: every acknowledged write reads back" acked_reads_back 0 crash
done

# the verifier itself must catch a lost write: stop the node, zero one
# written 64 KiB range inside an object file, start again, expect FAIL
pid=$(pid_of 0)
dogp 0 cluster shutdown && wait_dead "$pid"
obj=$(ls "$T/0/obj" | grep '^00' | head -1)
dd if=/dev/zero of="$T/0/obj/$obj" bs=64K count=64 conv=notrunc status=none
check "restart after tampering" start_sheep 0
out=$(python3 "$W" verify "$(port_of 0)" crash "$T/ack")
check "the verifier detects a damaged object" grep -q '^FAIL' <<<"$out"
finish
