#!/bin/bash
# One node: format, VDIs of several sizes, random data at unaligned offsets
# across object boundaries, byte-identical reads, clean restart and kill -9
# restart with everything still there.
TEST_PORT_OFFSET=0
source "$(dirname "$0")/../lib.sh"

check "sheep starts" start_sheep 0
expect_fail "ops before format are refused" 1 "Waiting for cluster to be formatted" \
	dogp 0 vdi create early 1G
check "format" dogp 0 cluster format -c 1
out=$(dogp 0 cluster info)
check "cluster info says running" grep -q "Cluster status: running" <<<"$out"
check "cluster info lists epoch 1" grep -qE "^[0-9-]+ [0-9:]+ +1 \[127.0.0.1:$(port_of 0):[0-9]+\]" <<<"$out"
out=$(dogp 0 node list)
check "node list shows the node" grep -qE "^ +0 +127.0.0.1:$(port_of 0) " <<<"$out"

# VDIs of several sizes, one not a multiple of the object size
for spec in "small 4M" "medium 100M" "big 10G" "odd 12345678"; do
	set -- $spec
	check "create $1 ($2)" dogp 0 vdi create "$1" "$2"
done
out=$(dogp 0 vdi list -r)
for n in small medium big odd; do
	check "list shows $n" grep -qE "^= $n " <<<"$out"
done
check "raw list gives the exact size of odd" grep -qE "^= odd 0 12345678 0 0 [0-9]+ [0-9a-f]+ 1  22$" <<<"$out"
check "test vid is the FNV-1a hash" bash -c "'$DOG' vdi create test 1G -p $(port_of 0) && '$DOG' vdi list -r -p $(port_of 0) test | grep -q ' 7c2b25 '"

out=$(dogp 0 node info -r)
want=$(( (4 << 20) + (100 << 20) + (10 << 30) + 12345678 + (1 << 30) ))
check "node info -r: one node line and a total" grep -qE "^0 [0-9]+ [0-9]+ [0-9]+ [0-9]+%$" <<<"$out"
check "node info -r: total virtual image size is the sum of the VDIs" \
	grep -qE "^Total [0-9]+ [0-9]+ [0-9]+ [0-9]+% $want$" <<<"$out"
check "node info (human) prints a total" bash -c "'$DOG' node info -p $(port_of 0) | grep -q '^Total virtual image size'"
check "cluster info -r: raw epoch line" bash -c "'$DOG' cluster info -r -p $(port_of 0) | grep -qE '^[0-9]+ 1 \[127.0.0.1:$(port_of 0):[0-9]+\]$'"

# random data at unaligned offsets, crossing object boundaries
declare -A OFFS=( [medium]="4194000 7" [big]="8388607 5000000" [odd]="12000000 345678" [small]="0 4194304" )
for v in small medium big odd; do
	set -- ${OFFS[$v]}
	head -c "$2" /dev/urandom >"$T/$v.data"
	check "write $v at $1 (+$2)" dogp 0 vdi write "$v" "$1" "$2" <"$T/$v.data"
done
verify_all() {
	local when=$1 v
	for v in small medium big odd; do
		set -- ${OFFS[$v]}
		check "$when: $v reads back identical" \
			cmp -s "$T/$v.data" <(dogp 0 vdi read "$v" "$1" "$2")
	done
	# holes read as zeros
	check "$when: unwritten range of big reads as zeros" \
		cmp -s <(head -c 65536 /dev/zero) <(dogp 0 vdi read big 1G 64K)
	# overwrite in the middle, then read the whole range
	check "$when: vdi list still has 5 VDIs" \
		test "$(dogp 0 vdi list -r | wc -l)" -eq 5
}
verify_all "before restart"

# rewrite part of an object that already exists
head -c 1000 /dev/urandom >"$T/patch"
dd if="$T/patch" of="$T/big.data" bs=1 seek=100 conv=notrunc status=none
check "overwrite inside big" dogp 0 vdi write big $((8388607 + 100)) 1000 <"$T/patch"

pid=$(pid_of 0)
check "clean shutdown" dogp 0 cluster shutdown
check "sheep exits after shutdown" wait_dead "$pid"
check "pidfile removed on clean exit" test ! -e "$T/0.pid"
check "restart after shutdown" start_sheep 0
verify_all "after shutdown+restart"
check "epoch unchanged by a restart of the same node" \
	bash -c "'$DOG' cluster info -p $(port_of 0) | grep -cE '^[0-9-]+ [0-9:]+ +[0-9]+ \[' | grep -qx 1"

# kill -9 right after acknowledged writes
head -c 3000000 /dev/urandom >"$T/late"
check "write before kill -9" dogp 0 vdi write medium 50000000 3000000 <"$T/late"
kill9_sheep 0
check "restart after kill -9" start_sheep 0
check "acknowledged write survives kill -9" \
	cmp -s "$T/late" <(dogp 0 vdi read medium 50000000 3000000)
verify_all "after kill -9"

# resize and delete
check "resize grows" dogp 0 vdi resize odd 20M
check "resized size visible" bash -c "'$DOG' vdi list -r odd -p $(port_of 0) | grep -qE '^= odd 0 20971520 '"
check "old data intact after resize" cmp -s "$T/odd.data" <(dogp 0 vdi read odd 12000000 345678)
small_vid=$(printf %06x "0x$(dogp 0 vdi list -r small | awk '{print $8}')")
check "small has a data object on disk" test -e "$T/0/obj/00${small_vid}00000000"
check "delete small" dogp 0 vdi delete small
check "deleted VDI is gone from the list" bash -c "! '$DOG' vdi list -r -p $(port_of 0) | grep -q '^= small '"
check "deleted VDI's data objects are removed" test ! -e "$T/0/obj/00${small_vid}00000000"
check "name can be reused" dogp 0 vdi create small 8M
check "reused VDI reads zeros" cmp -s <(head -c 4096 /dev/zero) <(dogp 0 vdi read small 0 4096)
check "unix socket exists" test -S "$T/0/sock"

finish
