#!/bin/bash
# Re-formatting a cluster that holds data: once the operator says yes,
# nothing of the old cluster is served again, not even to a new VDI of the
# same name (same VDI id, same object ids), and the epochs start over at 1;
# a node that was down during the format keeps its old store, is refused
# with the reason, and joins on an empty store.  The new cluster's epoch 2
# (that join, with recovery switched off across the format) is recovered
# and cleaned up although the old cluster had finished and cleaned up an
# epoch 2 too: exactly 2 identical replicas in 2 zones afterwards.
TEST_PORT_OFFSET=200
source "$(dirname "$0")/../lib.sh"
BASE=0

no_vdis() { [ -z "$(dogp "$1" vdi list -r)" ]; }

for i in 0 1 2 3; do
	check "node $i starts" start_sheep $i
done
check "four members" wait_members 0 0 1 2 3
check "format copies 2" dogp 0 cluster format -c 2
head -c $((16 << 20)) /dev/urandom >"$T/old"
check "create and write o" bash -c \
	"'$DOG' vdi create o 16M -p $(port_of 0) && '$DOG' vdi write o -p $(port_of 0) <'$T/old'"
old_vid=$(dogp 0 vdi list -r o | awk '$1 == "=" { print $8 }')
check "o has a VDI id" test -n "$old_vid"
check "snapshot o" dogp 0 vdi snapshot -s before o
check "o reads back" same_data 1 "$T/old" o
check "the old cluster holds data objects" bash -c "ls '$T'/{0,1,2,3}/obj | grep -q '^00'"

kill9_sheep 3
check "three members" wait_members 0 0 1 2
check "the old cluster recovers epoch 2 and cleans up" retry 60 all_recovered 0 1 2
# recovery off across the format: the new cluster reaches epoch 2 (node 3
# joins) before it has recovered epoch 1, as a quick join after a format can
check "disable recovery" dogp 0 cluster recover disable
expect_fail "re-format asks first; no keeps the data" 0 "Caution! The cluster is not empty" \
	bash -c "echo no | '$DOG' cluster format -c 2 -p $(port_of 1)"
check "o still reads back" same_data 0 "$T/old" o
check "re-format: yes" bash -c "echo yes | '$DOG' cluster format -c 2 -p $(port_of 1)"
# every member applies the format in turn: give the others a moment
for i in 0 1 2; do
	check "node $i: epoch 1 again" wait_epoch $i 1
	check "node $i lists no VDI" retry 10 no_vdis $i
done
check "no object of the old cluster is left on the members" retry 10 bash -c \
	"! ls '$T'/{0,1,2}/obj | grep -q '^[0-9a-f]\{16\}\$'"

# the same name hashes to the same VDI id: its objects must start empty
check "create o again" dogp 2 vdi create o 16M
check "the new o has the VDI id the old o had before its snapshot" \
	test "$(dogp 0 vdi list -r o | awk '$1 == "=" { print $8 }')" = "$old_vid"
head -c $((16 << 20)) /dev/zero >"$T/zero"
check "the new o reads zeros, nothing of the old o" same_data 0 "$T/zero" o
# a partial write creates an object: the rest of it must be zeros too
head -c 4096 /dev/urandom >"$T/blk"
cp "$T/zero" "$T/new"
dd if="$T/blk" of="$T/new" bs=4096 seek=300 conv=notrunc status=none
check "a 4 KiB write into the new o" bash -c \
	"'$DOG' vdi write o $((300 * 4096)) 4096 -p $(port_of 1) <'$T/blk'"
check "o reads that block and zeros around it" same_data 2 "$T/new" o
expect_fail "the old snapshot is gone" 1 "Failed to find requested tag" \
	dogp 0 vdi read -s before o 0 512
# fill the rest: objects enough that some must move to node 3 below
head -c $((16 << 20)) /dev/urandom >"$T/new"
check "write all of the new o" bash -c "'$DOG' vdi write o -p $(port_of 0) <'$T/new'"

# the node that missed the format
expect_fail "node 3, with the old cluster's store, is refused" 1 "belongs to another cluster" \
	"$SHEEP" -b 127.0.0.1 -p "$(port_of 3)" -P "$T/3.pid" -c "local:$T/cluster" -z 3 "$T/3"
[ -s "$T/3.pid" ] && PIDS+=("$(cat "$T/3.pid")")	# should it start, cleanup kills it
check "the refused node is not a member" wait_members 0 0 1 2
check "the epoch did not move" test "$(epoch_of 0)" = 1
check "the refused sheep exits" port_free "$(port_of 3)"
rm -rf "${T:?}/3"
check "node 3 joins on an empty store" start_sheep 3
check "four members again" wait_members 0 0 1 2 3
check "node 3 joined at epoch 2" test "$(epoch_of 0)" = 2
check "enable recovery" dogp 0 cluster recover enable
check "recovery completes" retry 60 all_recovered 0 1 2 3
check "node 3 holds objects of the new o" bash -c "ls '$T/3/obj' | grep -q '^00'"
check "2 identical replicas of every object, in 2 zones" retry 30 placement 2 0 1 2 3
check "node 3 reads the new o" same_data 3 "$T/new" o
finish
