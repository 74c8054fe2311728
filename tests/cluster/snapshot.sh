#!/bin/bash
# Snapshots, clones, rollback, copy-on-write and shared objects on a 3-node
# cluster (copies 2), VDI attributes and VDI locks.  Deleting snapshots,
# clones and working VDIs in any order never loses data a remaining VDI
# still points at, and the last VDI of a family takes every object with it.
TEST_PORT_OFFSET=190
source "$(dirname "$0")/../lib.sh"

objs() { cat "$T"/{0,1,2}/obj/* 2>/dev/null | wc -c; }	# bytes stored, all nodes
nobjs() { ls "$T"/{0,1,2}/obj | grep -c '^00'; }		# data object files

for i in 0 1 2; do
	check "node $i starts" start_sheep $i
done
check "three members" wait_members 0 0 1 2
check "format copies 2, locking on" dogp 0 cluster format -c 2 -l

head -c $((12 << 20)) /dev/urandom >"$T/v0"
check "create t" dogp 0 vdi create t 12M
check "write t" dogp 0 vdi write t <"$T/v0"
check "snapshot t as s1" dogp 1 vdi snapshot -s s1 t
expect_fail "a second snapshot with the same tag is refused" 1 \
	"^Failed to create snapshot for t, maybe snapshot id \\(0\\) or tag \\(s1\\) is existed$" \
	dogp 1 vdi snapshot -s s1 t
cp "$T/v0" "$T/v1"
patch 2 t "$T/v1" 4000000 1000000 || fail "write after the snapshot"
check "t has the new data" same_data 0 "$T/v1" t
check "s1 keeps the old data" cmp -s "$T/v0" <(dogp 1 vdi read -s s1 t)
check "s1 by snapshot id" cmp -s "$T/v0" <(dogp 2 vdi read -s 1 t)
check "only the written objects were copied (2 of 3)" bash -c \
	"'$DOG' vdi list -r -p $(port_of 0) t | grep -qE '^= t 0 12582912 8388608 4194304 '"

# a write straight to an object of the snapshot is refused: clients must COW
check "a raw write to a snapshot object: READONLY" python3 - "$(port_of 0)" "$TOP/tests/cluster" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from sdclient import Client
c = Client(int(sys.argv[1]))
vid = c.vdi_id("t")        # the working VDI; the snapshot is the vid before it
snap = None
for v in range(vid - 1, 0, -1):
    hdr = c.read_obj(1 << 63 | v << 32, 4664)
    if hdr[:1] == b"t":
        snap = v
        break
res, _, _ = c.call(0x03, Client.obj_body(snap << 32 | 2, 0), 1, b"x" * 512)
print("write to snapshot object: 0x%02x" % res)
sys.exit(0 if res == 0x1A else 1)
PY

check "clone s1 as c1" dogp 0 vdi clone -s s1 t c1
expect_fail "cloning a working VDI is refused" 64 "Only snapshot VDIs can be cloned" \
	dogp 0 vdi clone t c2
check "c1 reads as s1" cmp -s "$T/v0" <(dogp 2 vdi read c1)
cp "$T/v0" "$T/c1"
patch 1 c1 "$T/c1" 9000000 100000 || fail "write to the clone"
check "c1 has its own data" same_data 0 "$T/c1" c1
check "s1 is untouched by the clone's write" cmp -s "$T/v0" <(dogp 1 vdi read -s s1 t)
out=$(dogp 0 vdi list)
check "list: s1 as a snapshot" grep -qE '^s t +1 .* s1 ' <<<"$out"
check "list: t as the working VDI" grep -qE '^  t +0 ' <<<"$out"
check "list: c1 as a clone" grep -qE '^c c1 +0 ' <<<"$out"
out=$(dogp 0 vdi tree)
echo "$out"
check "tree: t's snapshot, then t and the clone c1" bash -c \
	"grep -qE '^t---\[[0-9: -]+\]-\+-\(you are here\)$' <<<'$out' && grep -qE '^ +\`-c1---\(you are here\)$' <<<'$out'"

# rollback: t is s1's data again
check "rollback needs -s" bash -c "! '$DOG' vdi rollback t -p $(port_of 0) </dev/null"
check "rollback -f -s s1 t" dogp 0 vdi rollback -f -s s1 t
check "t reads as s1 after the rollback" same_data 1 "$T/v0" t
cp "$T/v0" "$T/v2"
patch 0 t "$T/v2" 100 5000 || fail "write after the rollback"
check "and takes new writes" same_data 2 "$T/v2" t
check "s1 still holds the old data" cmp -s "$T/v0" <(dogp 1 vdi read -s s1 t)

# delete in an awkward order: the snapshot first, then t, then the clone
check "delete the snapshot s1" dogp 0 vdi delete -s s1 t
check "t still reads after its snapshot is gone" same_data 1 "$T/v2" t
check "c1 still reads after its parent is gone" same_data 2 "$T/c1" c1
check "delete t" dogp 0 vdi delete t
check "c1 still reads after t is gone" same_data 0 "$T/c1" c1
before=$(nobjs)
check "delete c1" dogp 0 vdi delete c1
check "no VDI left" test -z "$(dogp 0 vdi list -r)"
check "the last VDI of the family took every data object ($before before)" test "$(nobjs)" = 0

# attributes
check "create a" dogp 0 vdi create a 4M
check "setattr" dogp 0 vdi setattr a color blue
check "getattr through another node" test "$(dogp 1 vdi getattr a color)" = blue
expect_fail "setattr -x on an existing key" 3 "already exists" dogp 2 vdi setattr -x a color red
check "setattr overwrites" dogp 2 vdi setattr a color red
check "getattr sees the new value" test "$(dogp 0 vdi getattr a color)" = red
check "value from stdin" bash -c "printf 'line1\nline2' | '$DOG' vdi setattr a note -p $(port_of 1)"
check "getattr returns it byte for byte" cmp -s <(printf 'line1\nline2') \
	<(dogp 2 vdi getattr a note)
check "setattr -d" dogp 0 vdi setattr -d a color
expect_fail "a deleted key is not found" 5 "Attribute 'color' not found" dogp 1 vdi getattr a color
check "other keys survive the delete" test "$(dogp 0 vdi getattr a note | head -1)" = line1
expect_fail "getattr of an unknown VDI" 5 "VDI not found" dogp 0 vdi getattr nope k

# locks (the cluster was formatted with -l): exclusive and shared
lock() {	# lock PORT NAME TYPE -> prints the result code
	python3 - "$1" "$2" "$3" "$TOP/tests/cluster" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[4])
from sdclient import Client
c = Client(int(sys.argv[1]))
body = struct.pack("<QIBBBBII8x", 0, 0, 0, 0, 0, 0, 0, int(sys.argv[3]))
res, _, _ = c.call(0x12, body, 1, sys.argv[2].encode().ljust(512, b"\0"))
print("%02x" % res)
PY
}
release() {	# release PORT NAME -> result code (as tgt sends it: proto_ver 0)
	python3 - "$1" "$2" "$TOP/tests/cluster" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[3])
from sdclient import Client
c = Client(int(sys.argv[1]))
vid = c.vdi_id(sys.argv[2])
body = struct.pack("<QIBBBBII8x", 0, vid, 0, 0, 0, 0, 0, 1)
res, _, _ = c.call(0x13, body, 0, b"", ver=0)
print("%02x" % res)
PY
}
check "exclusive lock through node 0" test "$(lock "$(port_of 0)" a 0)" = 00
check "the same holder may lock again" test "$(lock "$(port_of 0)" a 0)" = 00
check "exclusive lock through node 1: VDI_LOCKED" test "$(lock "$(port_of 1)" a 0)" = 07
check "shared lock through node 1: VDI_LOCKED" test "$(lock "$(port_of 1)" a 1)" = 07
check "release by the holder" test "$(release "$(port_of 0)" a)" = 00
check "release again: VDI_NOT_LOCKED" test "$(release "$(port_of 0)" a)" = 10
check "shared lock through node 1" test "$(lock "$(port_of 1)" a 1)" = 00
check "shared lock through node 2" test "$(lock "$(port_of 2)" a 1)" = 00
check "exclusive lock while shared: VDI_LOCKED" test "$(lock "$(port_of 0)" a 0)" = 07
check "lock list shows the two shared holders" test \
	"$(dogp 0 vdi lock list -r | grep -c '^a 127.0.0.1:[0-9]* shared$')" = 2
kill9_sheep 2
check "node 2 leaves" wait_members 0 0 1
check "its lock goes with it" test "$(dogp 0 vdi lock list -r | grep -c '^a ')" = 1
check "node 2 restarts" start_sheep 2
check "the rejoined node has the lock table" test "$(dogp 2 vdi lock list -r | grep -c '^a ')" = 1
check "vdi lock unlock breaks the rest" dogp 2 vdi lock unlock a
check "no lock left anywhere" test -z "$(dogp 1 vdi lock list -r)"
check "exclusive lock works again" test "$(lock "$(port_of 1)" a 0)" = 00
finish
