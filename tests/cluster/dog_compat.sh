#!/bin/bash
# dog as Sheepdog 1.0's dog behaves for its users: its messages and exit codes
# where scripts read them, options anywhere on the line (GNU getopt order),
# a short stdin zero-filled, and `cluster snapshot save|list|load|show`
# (the farm: a whole-cluster backup of the snapshots to a directory) with a
# save, a re-format and a load giving back identical data.
TEST_PORT_OFFSET=330
source "$(dirname "$0")/../lib.sh"

for i in 0 1; do
	check "node $i starts" start_sheep $i
done
check "two members" wait_members 0 0 1
check "format copies 2" dogp 0 cluster format -c 2

# cluster recover: Sheepdog's words
check "recover disable says so" bash -c "[ \"\$('$DOG' cluster recover disable -p $(port_of 0))\" = 'Cluster recovery: disable' ]"
check "recover enable says so" bash -c "[ \"\$('$DOG' cluster recover enable -p $(port_of 0))\" = 'Cluster recovery: enable' ]"
expect_fail "recover with an unknown word: usage, exit 1" 1 "Usage: dog cluster recover" \
	dogp 0 cluster recover bogus
expect_fail "recover without a word: usage, exit 64" 64 "Usage: dog cluster recover" \
	dogp 0 cluster recover

# usage texts: Sheepdog's options line, its order of subcommands
check "vdi create --help: Sheepdog's usage line" test "$("$DOG" vdi create --help | head -1)" = \
	"Usage: dog vdi create [-P] [-y] [-c copies] [-a address] [-p port] [-h] [-r] [-v] [-z block_size_shift] [-T] <vdiname> <size>"
check "vdi create --help: its option lines" bash -c "'$DOG' vdi create --help | grep -qx '  -z, --block_size_shift  specify the bit shift num for data object size'"
check "cluster recover --help lists its subcommands" bash -c "'$DOG' cluster recover -h | grep -qx '  disable                 disable automatic recovery'"
check "dog vdi: the subcommands in Sheepdog's order" bash -c "'$DOG' vdi 2>&1 | sed -n 2,4p | xargs | grep -qx 'vdi check vdi create vdi snapshot'"
check "-r and -v are taken everywhere" dogp 0 vdi tree -r -v
check "vdi create -v: Sheepdog's line with the new vid" test "$(dogp 0 vdi create -v vv 4M)" = "VDI ID of newly created VDI: 7109cd"
check "vdi snapshot -v -r: new vid, then the snapshot's" test "$(dogp 0 vdi snapshot -v -r vv)" = "7109ce 7109cd"

# attributes
check "create t" dogp 0 vdi create t 16M
check "setattr" dogp 0 vdi setattr t k v1
check "setattr of an existing key without -x replaces it" dogp 0 vdi setattr t k v2
check "getattr gives the new value" test "$(dogp 0 vdi getattr t k)" = v2
expect_fail "setattr -x of an existing key" 3 "^The attribute 'k' already exists$" \
	dogp 0 vdi setattr -x t k v3
expect_fail "setattr -x after the operands too" 3 "^The attribute 'k' already exists$" \
	dogp 0 vdi setattr t k v3 -x
expect_fail "setattr of a missing VDI" 5 "^VDI not found$" dogp 0 vdi setattr nope k v
expect_fail "getattr of a missing key" 5 "^Attribute 'x' not found$" dogp 0 vdi getattr t x
expect_fail "getattr without a key" 64 "^Please specify the attribute key$" dogp 0 vdi getattr t
# options after the operands (GNU getopt permutes, as Sheepdog's dog)
check "setattr t k v -d deletes k (the value is ignored)" dogp 0 vdi setattr t k v -d
expect_fail "k is gone" 5 "^Attribute 'k' not found$" dogp 0 vdi getattr t k
check "vdi create NAME SIZE -c 1 -p PORT" "$DOG" vdi create u 8M -c 1 -p "$(port_of 1)"
check "u has 1 copy" bash -c "'$DOG' vdi list -r u -p $(port_of 0) | grep -q '^= u 0 8388608 0 0 [0-9]* [0-9a-f]* 1 '"

# missing VDIs
expect_fail "delete of a missing VDI: Sheepdog's message, exit 5" 5 \
	"^Failed to open VDI nope \\(snapshot id: 0 snapshot tag: \\): No VDI found$" \
	dogp 0 vdi delete nope
expect_fail "read of a missing VDI" 1 \
	"^Failed to open VDI nope \\(snapshot id: 0 snapshot tag: \\): No VDI found$" \
	dogp 0 vdi read nope
expect_fail "a missing snapshot tag" 1 \
	"^Failed to open VDI t \\(snapshot id: 0 snapshot tag: zz\\): Failed to find requested tag$" \
	dogp 0 vdi read -s zz t
expect_fail "snapshot of a missing VDI" 1 "^Failed to create snapshot for nope: No VDI found$" \
	dogp 0 vdi snapshot nope
expect_fail "unlock of a missing VDI" 1 "^Failed to find VDI nope: No VDI found$" \
	dogp 0 vdi lock unlock nope
expect_fail "unlock of a VDI not locked" 1 "^VDI t \\(vid=[0-9a-f]+\\) is not locked$" \
	dogp 0 vdi lock unlock t
expect_fail "clone without -s" 64 "^Please specify the '-s' option$" dogp 0 vdi clone t t2
expect_fail "a bad size" 64 "^You may use B, K, M, G, T or P suffixes" dogp 0 vdi create x 10Q
expect_fail "over 4 TiB" 64 "^VDI size is larger than 4.0 TB bytes, please use '-y'" \
	dogp 0 vdi create x 5T
expect_fail "no cluster listening" 2 "failed to connect to 127.0.0.1:$(port_of 9)" \
	"$DOG" vdi list -p "$(port_of 9)"

# object location: each node, then where the ring puts it
head -c 5M /dev/urandom >"$T/t.data"
check "write t" dogp 0 vdi write t <"$T/t.data"

# clone -P (its own copy of every object) and -n (no parent at all)
check "snapshot t as ts" dogp 0 vdi snapshot -s ts t
check "clone -P" dogp 0 vdi clone -P -s ts t tp
check "clone -n" dogp 1 vdi clone -n -s ts t tn
check "clone -P has the data" cmp -s <(dogp 0 vdi read -s ts t) <(dogp 1 vdi read tp)
check "clone -n has the data" cmp -s <(dogp 0 vdi read -s ts t) <(dogp 0 vdi read tn)
check "clone -P owns all its objects, shares none" bash -c "'$DOG' vdi list -r tp -p $(port_of 0) | grep -qE '^c tp 0 16777216 16777216 0 '"
check "clone -n is no clone: no parent, its own objects" bash -c "'$DOG' vdi list -r tn -p $(port_of 0) | grep -qE '^= tn 0 16777216 [1-9][0-9]* 0 '"
expect_fail "an unknown lock subcommand: usage, exit 1" 1 "Available subcommands:" dogp 0 vdi lock bogus
out=$(dogp 1 vdi object location -i 1 t)
check "object location: the header line" grep -qE '^Looking for the object 00[0-9a-f]{14} \(vid 0x[0-9a-f]+ idx 1, 2 copies\) with 2 nodes$' <<<"$out"
check "object location: both nodes have it" test "$(grep -c ' has the object$' <<<"$out")" = 2
check "object location: the expected holders" bash -c "grep -A1 '^According to sheepdog algorithm, the object should be located at:\$' <<<'$out' | tail -1 | grep -qE '^127.0.0.1:[0-9]+ 127.0.0.1:[0-9]+\$'"
check "object location of the inode" bash -c "'$DOG' vdi object location t -p $(port_of 0) | grep -qE '^Looking for the inode object 0x[0-9a-f]+ with 2 nodes\$'"
check "an index too large" bash -c "'$DOG' vdi object location -i 9999999 t -p $(port_of 0) | grep -qx 'The offset is too large!'; [ \${PIPESTATUS[0]} = 1 ]"

# a short stdin: zeros to the end of that object, silently
check "refill the first object" dogp 0 vdi write t 0 4M <"$T/t.data"
check "write 100 bytes with no length" dogp 0 vdi write t 1000 < <(head -c 100 "$T/t.data")
check "the rest of the object is zeros, the next object untouched" cmp -s \
	<(head -c 1000 "$T/t.data"; head -c 100 "$T/t.data"; head -c $((4194304 - 1100)) /dev/zero
	  tail -c +4194305 "$T/t.data"; head -c $((16 * 1048576 - 5 * 1048576)) /dev/zero) \
	<(dogp 0 vdi read t)

# the farm: save the snapshots, format again, load, same data
head -c 6M /dev/urandom >"$T/a1"
head -c 2M /dev/urandom >"$T/a2"
head -c 3M /dev/urandom >"$T/b1"
check "create a" dogp 0 vdi create a 12M
check "write a" dogp 0 vdi write a <"$T/a1"
check "snapshot a as s1" dogp 0 vdi snapshot -s s1 a
check "overwrite part of a" dogp 0 vdi write a 1M <"$T/a2"
check "snapshot a as s2" dogp 0 vdi snapshot -s s2 a
check "create b" dogp 1 vdi create b 8M
check "write b" dogp 1 vdi write b <"$T/b1"
check "snapshot b" dogp 1 vdi snapshot b
dogp 0 vdi read -s s1 a >"$T/a.s1"
dogp 0 vdi read -s s2 a >"$T/a.s2"
dogp 0 vdi read a >"$T/a.now"
dogp 0 vdi read -s 1 b >"$T/b.s1"
F="$T/farm"
check "save" dogp 0 cluster snapshot save first "$F"
check "the farm's layout: user_snap and 256 object directories" \
	test -s "$F/user_snap" -a "$(ls "$F/objects" | wc -l)" = 256
check "every farm file is named by the SHA-1 of its bytes" bash -c \
	"cd '$F/objects' && for f in */*; do [ \"\$(sha1sum < \$f | cut -c1-40)\" = \"\${f%%/*}\${f#*/}\" ] || exit 1; done"
check "user_snap: Sheepdog's magic, then 296-byte entries" bash -c \
	"[ \"\$(od -An -tx4 -N4 '$F/user_snap' | xargs)\" = fee1c001 ] && [ \$(stat -c %s '$F/user_snap') = \$((32 + 296)) ]"
nfiles=$(find "$F/objects" -type f | wc -l)
check "save again under another tag" dogp 1 cluster snapshot save -m second "$F"
check "the second save shares every object file (dedup): one new trunk at most" \
	test "$(find "$F/objects" -type f | wc -l)" -le $((nfiles + 1))
expect_fail "a tag used already" 2 "Snapshot tag has already been used" \
	dogp 0 cluster snapshot save first "$F"
expect_fail "a tag that starts with a number" 64 "^Tag should not start with number.$" \
	dogp 0 cluster snapshot save 9x "$F"
expect_fail "save a cluster without snapshots of the VDIs named" 2 \
	"^1. The specified VDIs are not found.$" dogp 0 cluster snapshot save third "$F" u
out=$(dogp 0 cluster snapshot list "$F")
check "list: Sheepdog's header" test "$(head -1 <<<"$out")" = "$(printf 'Index\t\tTag\t\tSnapshot Time')"
check "list: both saves" grep -qP '^2\t\tsecond\t\t\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$' <<<"$out"
out=$(dogp 0 cluster snapshot show first "$F")
check "show: the snapshots saved, no working VDI" test "$(grep -c '^[0-9]*\. VDI id: [0-9a-f]*, name: [ab], tag: ' <<<"$out")" = 3
check "show by index, one VDI" test "$(dogp 0 cluster snapshot show 2 "$F" b | grep -c 'name: b, tag: $')" = 1
expect_fail "show of a missing snapshot" 2 "^Snapshot index or tag does not exist.$" \
	dogp 0 cluster snapshot show nosuch "$F"

check "format again (empties the cluster)" dogp 0 cluster format -c 1 -f
check "no VDIs left" test -z "$(dogp 0 vdi list -r)"
check "load (asks first: the cluster is not empty after another create)" dogp 0 vdi create junk 4M
check "load says no on 'no'" bash -c "echo no | '$DOG' cluster snapshot load first '$F' -p $(port_of 0) >/dev/null; '$DOG' vdi list -r -p $(port_of 0) | grep -q '^= junk '"
check "load" bash -c "echo yes | '$DOG' cluster snapshot load first '$F' -p $(port_of 1) >/dev/null"
check "the load formats with the nodes' vnodes strategy (auto)" bash -c \
	"'$DOG' cluster info -v -p $(port_of 0) | grep -qx 'Cluster vnodes strategy: auto'"
check "the farm's copies came back (2)" bash -c "'$DOG' vdi list -r -p $(port_of 0) | grep -q '^s a 1 12582912 [0-9]* [0-9]* [0-9]* [0-9a-f]* 2 s1 '"
check "junk is gone" bash -c "! '$DOG' vdi list -r -p $(port_of 0) | grep -q junk"
check "a s1 identical" cmp -s "$T/a.s1" <(dogp 1 vdi read -s s1 a)
check "a s2 identical" cmp -s "$T/a.s2" <(dogp 0 vdi read -s s2 a)
check "a's working VDI starts as s2" cmp -s "$T/a.s2" <(dogp 0 vdi read a)
check "b identical" cmp -s "$T/b.s1" <(dogp 1 vdi read -s 1 b)
check "the working VDI takes writes; the snapshot keeps its data" bash -c \
	"head -c 4096 /dev/zero | '$DOG' vdi write a 0 -p $(port_of 0) && cmp -s '$T/a.s2' <('$DOG' vdi read -s s2 a -p $(port_of 1))"
check "the tree: two snapshots then a working a" bash -c \
	"'$DOG' vdi tree -p $(port_of 0) | grep -qE '^a---\\[.*\\]---\\[.*\\]---\\(you are here\\)\$'"

check "format again" dogp 0 cluster format -f
check "load by index, b only" bash -c "'$DOG' cluster snapshot load 2 '$F' b -p $(port_of 0) >/dev/null </dev/null"
check "only b came back" test "$(dogp 0 vdi list -r | awk '{print $2}' | sort -u | xargs)" = b
check "b identical after a partial load" cmp -s "$T/b.s1" <(dogp 0 vdi read b)

# an unformatted cluster (node 2, a cluster of its own): Sheepdog's words and exits
CLUSTER="local:$T/other" check "an unformatted sheep starts" start_sheep 2
expect_fail "reweight before format" 1 "^Response's result: Waiting for cluster to be formatted$" \
	dogp 2 cluster reweight
expect_fail "recover enable before format" 1 "^Response's result: Waiting for cluster to be formatted$" \
	dogp 2 cluster recover enable
expect_fail "delete before format: 1, not 5 (the VDI may exist)" 1 \
	"^Failed to open VDI a \(snapshot id: 0 snapshot tag: \): Waiting for cluster to be formatted$" \
	dogp 2 vdi delete a
expect_fail "snapshot save of an unformatted cluster" 2 "^1. The cluster is empty.$" \
	dogp 2 cluster snapshot save x "$T/farm2"

# the checker can fail: a damaged farm file is refused, not loaded
victim=$(find "$F/objects" -type f -size +100k | head -1)
printf 'X' | dd of="$victim" bs=1 seek=7 conv=notrunc 2>/dev/null
expect_fail "a damaged farm file stops the load" 2 "is damaged: its SHA-1 differs from its name" \
	dogp 0 cluster snapshot load first "$F"
check "... before the cluster was formatted: b is still there" cmp -s "$T/b.s1" <(dogp 0 vdi read b)

finish
