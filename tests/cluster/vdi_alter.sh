#!/bin/bash
# dog vdi alter-copy (Sheepdog's checks and words; the sheep really bring the
# VDI's objects to the new number of copies, up and down), vdi graph, vdi
# track, vdi object dump-inode, vdi lock list (Sheepdog's table) and the
# silence of vdi snapshot -R without -v, on a 3-node cluster with 2 copies.
TEST_PORT_OFFSET=380
source "$(dirname "$0")/../lib.sh"
BASE=0

for i in 0 1 2; do
	check "node $i starts" start_sheep $i
done
check "three members" wait_members 0 0 1 2
check "format copies 2" dogp 0 cluster format -c 2

# copies_of VID: how many nodes hold each of the VDI's objects (inode and
# data), one number per object, sorted and unique
copies_of() {
	local v
	v=$(printf '%06x' "$((16#$1))")
	for i in 0 1 2; do ls "$T/$i/obj"; done | grep -E "^(80|00)$v" | sort | uniq -c |
		awk '{ print $1 }' | sort -u | xargs
}
copies_are() { [ "$(copies_of "$1")" = "$2" ]; }
# same_copies VID: every copy of each of its objects holds the same bytes
# (the 16-byte version trailer aside)
same_copies() {
	local v o a b i
	v=$(printf '%06x' "$((16#$1))")
	for o in $(ls "$T"/0/obj | grep -E "^(80|00)$v"); do
		a=$(head -c -16 "$T/0/obj/$o" | sha1sum)
		for i in 1 2; do
			b=$(head -c -16 "$T/$i/obj/$o" 2>/dev/null | sha1sum)
			[ "$a" = "$b" ] || return 1
		done
	done
}
# inode_copies IDX VID: the number of copies node IDX's copy of the inode says
inode_copies() { od -An -tu1 -j 554 -N1 "$T/$1/obj/$(printf '80%06x00000000' "$((16#$2))")" | xargs; }
reads_back() { cmp -s "$T/m" <(dogp "$1" vdi read odd); }

head -c $((12 << 20)) /dev/urandom >"$T/m"
check "create odd" dogp 0 vdi create odd 12M
check "write odd" dogp 0 vdi write odd <"$T/m"
vid=$(dogp 0 vdi list -r odd | awk '{ print $8 }')
check "odd's 4 objects have 2 copies each" copies_are "$vid" 2

# ---- alter-copy: Sheepdog's prompt and checks ----
out=$(dogp 0 vdi alter-copy -c 3 odd </dev/null)
rc=$?
check "without -f: no answer leaves it (exit 0)" [ $rc -eq 0 ]
check "... after Sheepdog's caution" grep -q "Caution! Changing VDI's redundancy level will affect" <<<"$out"
check "... nothing changed" [ "$(dogp 0 vdi list -r odd | awk '{ print $9 }')" = 2 ]
out=$(dogp 0 vdi alter-copy -c 5 odd </dev/null)
check "more copies than nodes: asked first" grep -qx \
	'Number of copies (5) is larger than number of nodes (3).' <<<"$out"
expect_fail "the same number: nothing changed" 1 \
	"^odd's redundancy level is already set to 2, nothing changed\.$" dogp 0 vdi alter-copy -c 2 -f odd
expect_fail "a missing VDI" 1 "^Reading nosuch's vdi object failure\.$" \
	dogp 0 vdi alter-copy -c 3 -f nosuch
check "create s" dogp 0 vdi create s 8M
check "snapshot it" dogp 0 vdi snapshot -s one s
check "clone it" dogp 0 vdi clone -s one s sc
expect_fail "a clone is not standalone" 1 "^Please clone sc with -n \(--no-share\) option first\.$" \
	dogp 0 vdi alter-copy -c 3 -f sc
expect_fail "a VDI with a snapshot is not standalone" 1 \
	"^Only standalone vdi supports changing redundancy level\.$" dogp 0 vdi alter-copy -c 3 -f s
out=$(dogp 0 vdi alter-copy -f odd 2>&1)
check "no -c: Sheepdog's default of 3, said" grep -qx \
	"The vdi's redundancy level is not specified, use 3 as default." <<<"$out"
check "... and done" grep -qx "odd's redundancy level is set to 3, the old one was 2." <<<"$out"

# ---- the sheep: the copies are real ----
check "vdi list says 3 copies" [ "$(dogp 1 vdi list -r odd | awk '{ print $9 }')" = 3 ]
check "recovery put every object of odd on all 3 nodes" retry 20 copies_are "$vid" 3
check "all nodes recovered" retry 20 all_recovered 0 1 2
for i in 0 1 2; do
	check "node $i's copy of the inode says 3" [ "$(inode_copies $i "$vid")" = 3 ]
	check "odd reads back through node $i" reads_back $i
done
head -c 4096 /dev/urandom >"$T/p"
dd if="$T/p" of="$T/m" bs=4096 seek=5 conv=notrunc status=none
check "a write after the change" dogp 2 vdi write odd 20480 4096 <"$T/p"
check "... reaches all 3 copies, which stay equal" same_copies "$vid"
check "... and reads back" reads_back 1

# node 0 restarts: it reads odd's copies from the inode
kill9_sheep 0
check "node 0 restarts" start_sheep 0
check "three members again" wait_members 1 0 1 2
check "node 0 says 3 copies" [ "$(dogp 0 vdi list -r odd | awk '{ print $9 }')" = 3 ]

# fewer copies: the extra copies go once every node recovered
check "alter-copy to 1" dogp 0 vdi alter-copy -c 1 -f odd
check "each of odd's objects ends on one node" retry 30 copies_are "$vid" 1
check "odd still reads back" reads_back 2
expect_fail "erasure coding is refused" 1 "not supported" dogp 0 vdi alter-copy -c 2:1 -f odd

# ---- vdi graph ----
out=$(dogp 0 vdi graph)
check "graph: Graphviz header" bash -c "head -1 <<<'$out' | grep -qx 'digraph G {'"
check "graph: odd hangs from the root" grep -qx "  \"0\" -> \"$vid\";" <<<"$out"
check "graph: odd's label in Sheepdog's layout" grep -q \
	"label = \"Name:        odd\\\\nTag:           0\\\\nSize:      12 MB\\\\nDate: " <<<"$out"
check "graph: a working VDI is red, a snapshot is not" \
	[ "$(grep -c 'color="red"' <<<"$out")" = 3 ]
check "graph: closing brace" bash -c "tail -1 <<<'$out' | grep -qx '}'"

# ---- vdi track ----
out=$(dogp 0 vdi track odd)
check "track: the inode object" bash -c "head -1 <<<'$out' | grep -qx 'Tracking the inode object 0x$vid with 3 nodes'"
check "track: one block per epoch (3 epochs), newest first" \
	[ "$(grep -c '^obj 80.* locations at epoch' <<<"$out")" = 3 ]
check "track: the newest epoch first" bash -c "grep -m1 '^obj' <<<'$out' | grep -q 'epoch 3, copies = 1'"
out=$(dogp 0 vdi track -i 2 odd)
check "track -i 2: its data object" bash -c "head -1 <<<'$out' | grep -qx \
	'Tracking the object $(printf '00%06x00000002' "$((16#$vid))") (the inode vid 0x$vid idx 2) with 3 nodes'"
check "track -i 2: as many holders as copies in each epoch" \
	[ "$(grep -c '^127.0.0.1:' <<<"$out")" = 3 ]
out=$(dogp 0 vdi track -o 12345 odd)
check "track -o: the given object" bash -c "head -1 <<<'$out' | grep -qx \
	'Tracking the object 0000000000012345 (the inode vid 0x$vid) with 3 nodes'"
expect_fail "track -o of no hex number" 1 "^object id must be a hex integer$" dogp 0 vdi track -o zz odd
expect_fail "track of a missing VDI" 1 "^FATAL: no inode objects$" dogp 0 vdi track nosuch

# ---- vdi object dump-inode ----
f=$(ls "$T"/[012]/obj/$(printf '80%06x00000000' "$((16#$vid))") | head -1)
out=$(dogp 0 vdi object dump-inode "$f")
check "dump-inode: name, copies, vid" bash -c "grep -qx 'name: odd' <<<'$out' &&
	grep -qx 'nr_copies: 1' <<<'$out' && grep -qx 'vdi_id: $vid' <<<'$out'"
check "dump-inode: the index" [ "$(sed -n '/^data_vdi_id:/,/^gref:/p' <<<"$out" | grep -c ": $vid$")" = 3 ]
check "dump-inode: gref lines" [ "$(sed -n '/^gref:/,$p' <<<"$out" | grep -c ": $vid, 0, 0$")" = 3 ]
expect_fail "dump-inode of a missing file" 1 "^failed to open inode object file: No such file or directory$" \
	dogp 0 vdi object dump-inode "$T/nosuch"

expect_fail "dump-inode without its file: its usage" 64 "^Usage: dog vdi object dump-inode " \
	dogp 0 vdi object dump-inode
expect_fail "object map without a VDI: its usage" 64 "^Usage: dog vdi object map " dogp 0 vdi object map

# ---- vdi lock list ----
out=$(dogp 0 vdi lock list)
check "lock list: Sheepdog's header, no lock" [ "$out" = "  Name         Id  VDI id  Tag            Owner node(s)" ]

# ---- vdi snapshot -R: silent without -v ----
check "snapshot -R of odd" dogp 0 vdi snapshot -R -s r1 odd
out=$(dogp 0 vdi snapshot -R -s r2 odd 2>&1)
rc=$?
check "snapshot -R again: nothing of its own, silent, exit 0" [ "$rc" = 0 -a -z "$out" ]
out=$(dogp 0 vdi snapshot -v -R -s r2 odd 2>&1)
check "... with -v it says why" [ "$out" = "VDI odd doesn't have its own objects, skipping creation of snapshot" ]
check "no snapshot r2" bash -c "! $DOG vdi list -r -p $(port_of 0) | grep -q ' r2 '"

# ---- help: Sheepdog's order ----
out=$(dogp 0 vdi bogus 2>&1)
check "vdi subcommands in Sheepdog's order" [ "$(grep '^  vdi ' <<<"$out" | xargs)" = \
	"vdi check vdi create vdi snapshot vdi clone vdi delete vdi rollback vdi list vdi tree vdi graph vdi object vdi track vdi setattr vdi getattr vdi resize vdi read vdi write vdi backup vdi restore vdi alter-copy vdi lock" ]

# ---- alter-copy under writes: nothing acknowledged is lost, the copies end equal ----
check "create w" dogp 0 vdi create w 32M
wvid=$(dogp 0 vdi list -r w | awk '{ print $8 }')
python3 "$TOP/tests/cluster/writer.py" write "$(port_of 1)" w "$T/ack" 4 &
wpid=$!
sleep 1
check "alter-copy of w to 3 while it is written" dogp 2 vdi alter-copy -c 3 -f w
wait "$wpid"
check "the writer wrote" grep -q '^A ' "$T/ack"
check "every acknowledged write reads back" acked_reads_back 2 w
check "w's objects reach 3 copies" retry 20 copies_are "$wvid" 3
check "all nodes recovered again" retry 20 all_recovered 0 1 2
check "... and the 3 copies of each are equal" same_copies "$wvid"

finish
