#!/bin/bash
# dog benchmark io: a sequential write of whole objects allocates the VDI
# (the index is updated, the data reads back as what was written: every
# object the same pattern), reads and random IO then work at any depth, raw
# output has its nine fields, and bad input is refused with exit 64 or a
# clear message, never a crash.
TEST_PORT_OFFSET=50
source "$(dirname "$0")/../lib.sh"

check "node 0 starts" start_sheep 0
check "format" dogp 0 cluster format -c 1
check "create b (16M)" dogp 0 vdi create b 16M
expect_fail "reads need an allocated VDI" 1 "VDI has unallocated data" \
	dog benchmark io -m read -p "$(port_of 0)" b
expect_fail "so do random writes" 1 "VDI has unallocated data" \
	dog benchmark io -m randwrite -B 4K -p "$(port_of 0)" b
out=$(dog benchmark io -n 4 -p "$(port_of 0)" b)
check "a sequential write allocates as it goes" grep -qE "^write: 4 requests of 4194304 bytes, queue depth 4" <<<"$out"
check "the index points at every object" bash -c \
	"for i in 0 1 2 3; do '$DOG' vdi object -i \$i -p $(port_of 0) b | grep -q 'has the object' || exit 1; done"
dogp 0 vdi read b >"$T/all"
check "every object holds the same 4 MiB pattern" bash -c \
	"[ \$(split -b 4M --filter=sha1sum '$T/all' | sort -u | wc -l) = 1 ] && [ \$(stat -c %s '$T/all') = $((16 << 20)) ]"
check "sequential reads, depth 8" dog benchmark io -m read -n 8 -p "$(port_of 0)" b
check "random reads of 4 KiB, depth 16, for 1 s" dog benchmark io -m randread -B 4K -n 16 -T 1 -p "$(port_of 0)" b
raw=$(dog benchmark io -r -m randwrite -B 4K -n 2 -t 1M -p "$(port_of 0)" b)
check "raw output: mode bs depth n secs MiB/s IOPS p50 p99" \
	awk '$1 == "randwrite" && $2 == 4096 && $3 == 2 && $4 == 256 && NF == 9 { ok = 1 } END { exit !ok }' <<<"$raw"
expect_fail "an unknown mode" 64 "Invalid mode 'sideways'" dog benchmark io -m sideways -p "$(port_of 0)" b
expect_fail "a block size that does not divide the object" 64 "Invalid block size" \
	dog benchmark io -B 3000 -p "$(port_of 0)" b
expect_fail "a zero depth" 64 "Invalid number of requests in flight" dog benchmark io -n 0 -p "$(port_of 0)" b
expect_fail "a total smaller than one request" 64 "less than one request" \
	dog benchmark io -t 1K -p "$(port_of 0)" b
expect_fail "no such VDI" 1 "No VDI found" dog benchmark io -p "$(port_of 0)" nosuch
check "the sheep is still fine" dogp 0 node list
finish
