#!/bin/bash
# dog vdi check (verify and repair replicas; -e: existence only), vdi backup
# and restore (Sheepdog's incremental format between two snapshots) and
# vdi snapshot -R, on a 3-node cluster with 3 copies.  Objects are damaged
# and removed on disk; the test's own verifier (placement) must see it first.
TEST_PORT_OFFSET=320
source "$(dirname "$0")/../lib.sh"
BASE=0
# reads IDX FILE VDI [dog options]: the VDI's first bytes (FILE's length) equal FILE
reads() {
	local idx=$1 f=$2 v=$3
	shift 3
	cmp -s "$f" <(dogp "$idx" vdi read "$@" "$v" 0 "$(stat -c %s "$f")")
}

for i in 0 1 2; do
	check "node $i starts" start_sheep $i
done
check "three members" wait_members 0 0 1 2
check "format copies 3" dogp 0 cluster format -c 3

head -c $((12 << 20)) /dev/urandom >"$T/m"
check "create a" dogp 0 vdi create a 16M
check "write a" dogp 0 vdi write a <"$T/m"
vid=$(dogp 0 vdi list -r a | awk '{ print $8 }')
ino=$(printf '80%06x00000000' "$((16#$vid))")
obj() { printf '00%06x%08x' "$((16#$vid))" "$1"; }

out=$(dogp 1 vdi check a 2>&1)
check "check of a healthy VDI: only the closing line" [ "$out" = "finish check&repair a" ]
out=$(dogp 1 vdi check -e a 2>&1)
check "check -e of a healthy VDI" [ "$out" = "a is fine, no object is missing." ]

# damage: node 0's copy of object 0 (4 KiB at 40 KiB, before the trailer),
# node 1's copy of object 1 and node 2's inode removed
dd if=/dev/zero of="$T/0/obj/$(obj 0)" bs=4096 seek=10 count=1 conv=notrunc status=none
rm -f "$T/1/obj/$(obj 1)" "$T/2/obj/$ino"
check "the verifier sees the damage" bash -c "! placement 3 0 1 2 >/dev/null"
expect_fail "check -e lists the two missing copies" 1 \
	"^\[127.0.0.1:$(port_of 1)\] oid $(obj 1) is missing\.$" dogp 0 vdi check -e a
expect_fail "check -e counts them" 1 "^a lost 2 object\(s\)\.$" dogp 0 vdi check -e a
out=$(dogp 0 vdi check a 2>&1)
rc=$?
check "check exits 0" [ $rc -eq 0 ]
check "check fixed the damaged copy" grep -qx "fixed replica $(obj 0)" <<<"$out"
check "check fixed the missing data object" grep -qx "fixed missing $(obj 1)" <<<"$out"
check "check fixed the missing inode" grep -qx "fixed missing $ino" <<<"$out"
check "check closes with Sheepdog's line" bash -c "tail -1 <<<'$out' | grep -qx 'finish check&repair a'"
check "all replicas equal again" placement 3 0 1 2
check "a reads back as written" reads 2 "$T/m" a
out=$(dogp 2 vdi check a 2>&1)
check "a second check has nothing to fix" [ "$out" = "finish check&repair a" ]

# three copies that all differ: no majority, nothing touched
dd if=/dev/urandom of="$T/1/obj/$(obj 2)" bs=512 seek=3 count=1 conv=notrunc status=none
dd if=/dev/urandom of="$T/2/obj/$(obj 2)" bs=512 seek=3 count=1 conv=notrunc status=none
out=$(dogp 0 vdi check a 2>&1)
check "three different copies: no majority" grep -qx "no majority of $(obj 2)" <<<"$out"
check "... and nothing repaired" bash -c "! grep -q fixed <<<'$out'"
cp "$T/0/obj/$(obj 2)" "$T/1/obj/$(obj 2)"
out=$(dogp 0 vdi check a 2>&1)
check "two equal copies win over the third" grep -qx "fixed replica $(obj 2)" <<<"$out"
check "all replicas equal after the vote" placement 3 0 1 2
check "a reads back as written after the vote" reads 0 "$T/m" a
expect_fail "check of a missing VDI" 1 "FATAL: no inode objects" dogp 0 vdi check nosuch
expect_fail "check without a name" 64 "Please specify the VDI name" dogp 0 vdi check

# check -s: a snapshot's objects
check "snapshot a as s1" dogp 0 vdi snapshot -s s1 a
rm -f "$T/2/obj/$(obj 0)"
out=$(dogp 1 vdi check -s s1 a 2>&1)
check "check -s s1 restores the snapshot's object" grep -qx "fixed missing $(obj 0)" <<<"$out"
check "all replicas equal after check -s" placement 3 0 1 2

# backup between s1 and s2, restore onto s1
cp "$T/m" "$T/m2"
patch 1 a "$T/m2" 5000000 1000000 || fail "write after s1"
check "snapshot a as s2" dogp 0 vdi snapshot -s s2 a
patch 1 a "$T/m2" 100 10 || fail "write after s2"
dogp 0 vdi read -s s2 a >"$T/s2.data"
check "backup -F s1 -s s2" bash -c "'$DOG' vdi backup -p $(port_of 0) -F s1 -s s2 a >'$T/b'"
check "the backup starts with Sheepdog's header (version 1, magic 0x11921192)" \
	[ "$(head -c 8 "$T/b" | od -An -tx4 | xargs)" = "00000001 11921192" ]
check "the backup ends with the end record" \
	[ "$(tail -c 16 "$T/b" | od -An -tx4 | xargs)" = "ffffffff 00000000 00000000 00000000" ]
# 1000000 bytes at 5000000 touch sectors 9765..11718 of object 1 (4 MiB objects)
check "the backup holds only the changed sectors (1 record)" \
	[ "$(stat -c %s "$T/b")" -eq $((8 + 16 + (11719 - 9765) * 512 + 16)) ]
expect_fail "backup needs -F and -s" 64 "Please specify snapshots with '-F' and '-s' options" \
	dogp 0 vdi backup -s s2 a
expect_fail "restore needs -s" 64 "We can restore a backup file only to snapshots" \
	dogp 0 vdi restore a
expect_fail "restore of a corrupted file" 2 "The backup file is corrupted" \
	bash -c "head -c 100 /dev/zero | '$DOG' vdi restore -p $(port_of 0) -s s1 a"
check "a survives the refused restore" bash -c "'$DOG' vdi list -r -p $(port_of 0) a | grep -q '^= a 0 '"
check "restore -s s1" bash -c "'$DOG' vdi restore -p $(port_of 1) -s s1 a <'$T/b'"
list=$(dogp 0 vdi list -r a)
check "restore leaves s1, s2, the restored snapshot (id 3) and a working VDI" \
	[ "$(awk '{ print $1, $3 }' <<<"$list" | xargs)" = "s 1 s 2 s 3 = 0" ]
check "... s1 and s2 keep their tags" [ "$(awk '$1 == "s" && $3 < 3 { print $10 }' <<<"$list" | xargs)" = "s1 s2" ]
check "the restored snapshot holds s2's data" cmp -s "$T/s2.data" <(dogp 2 vdi read -s 3 a)
check "the working VDI starts as s2 again" cmp -s "$T/s2.data" <(dogp 2 vdi read a)
check "s1 is unchanged" reads 0 "$T/m" a -s s1
check "replicas equal after restore" placement 3 0 1 2

# snapshot -R: no snapshot while the working VDI owns nothing
check "create e" dogp 0 vdi create e 8M
out=$(dogp 0 vdi snapshot -R e 2>&1)
check "snapshot -R of an empty VDI is skipped silently (Sheepdog's: it says so with -v)" \
	[ $? -eq 0 -a -z "$out" ]
expect_fail "snapshot -R -v says why" 0 \
	"^VDI e doesn't have its own objects, skipping creation of snapshot$" dogp 0 vdi snapshot -R -v e
check "... and no snapshot was made" [ "$(dogp 0 vdi list -r e | wc -l)" -eq 1 ]
echo x | dogp 0 vdi write e 0 1
out=$(dogp 0 vdi snapshot -R -v e)
check "snapshot -R -v of a written VDI snapshots it" \
	grep -qE '^new VID of original VDI: [0-9a-f]+, VDI ID of newly created snapshot: [0-9a-f]+$' <<<"$out"
check "... one snapshot" [ "$(dogp 0 vdi list -r e | grep -c '^s ')" -eq 1 ]
expect_fail "snapshot -R right after a snapshot is skipped" 0 "skipping creation of snapshot" \
	dogp 0 vdi snapshot -R -v e
check "... still one snapshot" [ "$(dogp 0 vdi list -r e | grep -c '^s ')" -eq 1 ]

# hyper volumes: a B-tree index, objects past index 2^20 (4 TiB)
T4=$((4 << 40))
expect_fail "over 4 TiB needs -y" 64 "please use '-y'" dogp 0 vdi create big 5T
expect_fail "-y with -z is refused" 1 "Don't specify both -y and -z options, please" \
	dogp 0 vdi create -y -z 22 big 5T
expect_fail "-y over 16 PiB is refused" 64 "VDI size is too large" dogp 0 vdi create -y big 17P
check "create -y h 5T" dogp 0 vdi create -y h 5T
# a new hyper inode holds an empty B-tree root, as Sheepdog's sheep writes it
# (Sheepdog's dog aborts listing a hyper volume without one)
hvid=$(dogp 0 vdi list -r h | awk '{ print $8 }')
check "a new hyper inode has an empty B-tree root (magic 0x6274, depth 1, 0 entries) on every copy" \
	bash -c "for i in 0 1 2; do [ \"\$(dd if='$T/'\$i'/obj/$(printf '80%06x00000000' "$((16#$hvid))")' bs=1 skip=4664 count=8 status=none | od -An -tx2 | xargs)\" = '6274 0001 0000 0000' ] || exit 1; done"
out=$(dogp 1 vdi check h 2>&1)
check "check of a new, empty hyper volume" [ "$out" = "finish check&repair h" ]
head -c $((5 << 20)) /dev/urandom >"$T/h"
check "write 5 MiB at 4 TiB" bash -c "'$DOG' vdi write -p $(port_of 1) h $T4 $((5 << 20)) <'$T/h'"
check "write 1 MiB at 1 MiB" bash -c "head -c 1M '$T/h' | '$DOG' vdi write -p $(port_of 2) h 1M 1M"
check "read back at 4 TiB" cmp -s "$T/h" <(dogp 0 vdi read h $T4 $((5 << 20)))
check "read back at 1 MiB" cmp -s <(head -c 1M "$T/h") <(dogp 1 vdi read h 1M 1M)
check "a hole reads as zeros" cmp -s <(head -c 4096 /dev/zero) <(dogp 1 vdi read h $((T4 - 4096)) 4096)
hvid=$(dogp 0 vdi list -r h | awk '{ print $8 }')
check "list: 5 TiB, 3 objects used" bash -c "'$DOG' vdi list -r -p $(port_of 0) h | grep -qE '^= h 0 $((5 << 40)) $((12 << 20)) 0 '"
check "object map: indexes 0, 2^20, 2^20+1" \
	[ "$(dogp 0 vdi object map h | awk 'NR > 1 { print $1 + 0 }' | xargs)" = "0 1048576 1048577" ]
check "the objects past 2^20 are on disk" bash -c "ls '$T'/{0,1,2}/obj | grep -qx '$(printf '00%06x00100001' "$((16#$hvid))")'"
check "the inode's index is a B-tree (magic 0x6274, depth 1, 3 entries)" bash -c \
	"[ \"\$(dd if='$T/0/obj/$(printf '80%06x00000000' "$((16#$hvid))")' bs=1 skip=4664 count=8 status=none | od -An -tx2 | xargs)\" = '6274 0001 0003 0000' ]"
out=$(dogp 0 vdi check h 2>&1)
check "check of a hyper volume" [ "$out" = "finish check&repair h" ]
rm -f "$T/1/obj/$(printf '00%06x00100000' "$((16#$hvid))")" "$T/0/obj/$(printf '00%06x00100000' "$((16#$hvid))")" \
	"$T/2/obj/$(printf '00%06x00100000' "$((16#$hvid))")"
expect_fail "check -e finds an object past 2^20 missing" 1 "oid $(printf '00%06x00100000' "$((16#$hvid))") is missing" \
	dogp 0 vdi check -e h
expect_fail "snapshot of a hyper volume is refused" 1 \
	"creating a snapshot of hypervolume is not supported" dogp 0 vdi snapshot h
# DISCARD_OBJ (QEMU's and tgt's unmap) goes through the B-tree too
discard() {
	python3 - "$(port_of 0)" "$TOP/tests/cluster" "$1" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from sdclient import Client
c = Client(int(sys.argv[1]))
res, _, _ = c.call(0x05, Client.obj_body(int(sys.argv[3], 16)))
sys.exit(res)
PY
}
check "discard h's object 2^20+1" discard "$(printf '00%06x00100001' "$((16#$hvid))")"
check "object map after the discard: 0 only (2^20 was removed on disk)" \
	[ "$(dogp 0 vdi object map h | awk 'NR > 1 { print $1 + 0 }' | xargs)" = "0 1048576" ]
check "the discarded object's file is gone" bash -c "! ls '$T'/{0,1,2}/obj | grep -qx '$(printf '00%06x00100001' "$((16#$hvid))")'"
check "the discarded range reads as zeros" cmp -s <(head -c 4096 /dev/zero) <(dogp 1 vdi read h $((T4 + (4 << 20))) 4096)
check "create d (plain)" dogp 0 vdi create d 8M
echo x | dogp 0 vdi write d 0 1
dvid=$(dogp 0 vdi list -r d | awk '{ print $8 }')
check "discard of a plain VDI's object" discard "$(printf '00%06x00000000' "$((16#$dvid))")"
check "... clears its index entry" [ "$(dogp 0 vdi object map d | wc -l)" -eq 1 ]
check "... and removes it" bash -c "! ls '$T'/{0,1,2}/obj | grep -q '^00$(printf '%06x' "$((16#$dvid))")'"
check "resize a hyper volume to 6T" dogp 0 vdi resize h 6T
check "delete h" dogp 0 vdi delete h
check "h's objects are gone" bash -c "! ls '$T'/{0,1,2}/obj | grep -q '^00$(printf '%06x' "$((16#$hvid))")'"

# a two-level B-tree: nodes of 3 entries (a test knob of dog's) split after a few writes
check "create -y t 5T" dogp 0 vdi create -y t 5T
tvid=$(dogp 0 vdi list -r t | awk '{ print $8 }')
for i in 0 5 3 9 1 7 2 8 4 6 11 10; do
	echo "blk$i" | SHEEP_TEST_BTREE_NODE_ENTRIES=3 dogp $((i % 3)) vdi write t $((T4 + i * (4 << 20))) 5 ||
		fail "write block $i of t"
done
check "t's index is two levels (depth 2 in the inode)" bash -c \
	"[ \"\$(dd if='$T/0/obj/$(printf '80%06x00000000' "$((16#$tvid))")' bs=1 skip=4664 count=4 status=none | od -An -tx2 | xargs)\" = '6274 0002' ]"
check "t's leaves are objects of their own" bash -c "ls '$T'/{0,1,2}/obj | grep -q '^10$(printf '%06x' "$((16#$tvid))")'"
for i in 0 5 3 9 1 7 2 8 4 6 11 10; do
	printf 'blk%s\n' $i | head -c 5
done >"$T/tblocks"
check "every block reads back through the two-level tree" cmp -s "$T/tblocks" <(
	for i in 0 5 3 9 1 7 2 8 4 6 11 10; do dogp 1 vdi read t $((T4 + i * (4 << 20))) 5; done)
check "object map lists the 12 objects in order" \
	[ "$(dogp 0 vdi object map t | awk 'NR > 1 { print $1 - 1048576 }' | xargs)" = "0 1 2 3 4 5 6 7 8 9 10 11" ]
out=$(dogp 0 vdi check t 2>&1)
check "check walks the two-level tree" [ "$out" = "finish check&repair t" ]
check "delete t" dogp 0 vdi delete t
check "t's objects and leaves are gone" bash -c "! ls '$T'/{0,1,2}/obj | grep -q '^[01]0$(printf '%06x' "$((16#$tvid))")'"

finish
