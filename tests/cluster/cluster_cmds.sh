#!/bin/bash
# Sheepdog's cluster commands and what they rely on, on a 3-node cluster of
# 2 copies: a VDI created with other copies than the cluster's has its inode
# on that many nodes from the start; `cluster check` (vdi check of every VDI
# and snapshot, Sheepdog's lines); `cluster alter-copy [-c N] [-f]` and
# `cluster recover force [-f]` with Sheepdog's questions and messages.
TEST_PORT_OFFSET=390
source "$(dirname "$0")/../lib.sh"

for i in 0 1 2; do
	check "node $i starts" start_sheep $i
done
check "three members" wait_members 0 0 1 2
check "format copies 2" dogp 0 cluster format -c 2

# vid_of VDI: its vid (hex); ino VID: its inode's oid; on_nodes OID: how many stores hold it
vid_of() { dogp 0 vdi list -r "$1" | awk '$1 != "s" { print $8 }'; }
ino() { printf '80%06x00000000' "$((16#$1))"; }
on_nodes() { ls "$T"/[012]/obj/"$1" 2>/dev/null | wc -l; }

# inode copies: the new VDI's, not the cluster's
check "create -c 3 three" dogp 0 vdi create -c 3 three 12M
check "create -c 9 nine (3 zones: 3 copies)" dogp 1 vdi create -c 9 nine 12M
check "create -c 1 one" dogp 2 vdi create -c 1 one 12M
check "the inode of a 3-copy VDI is on 3 nodes" [ "$(on_nodes "$(ino "$(vid_of three)")")" -eq 3 ]
check "the inode of a 9-copy VDI is on 3 nodes" [ "$(on_nodes "$(ino "$(vid_of nine)")")" -eq 3 ]
check "the inode of a 1-copy VDI is on 1 node" [ "$(on_nodes "$(ino "$(vid_of one)")")" -eq 1 ]
head -c 5M /dev/urandom >"$T/d"
check "write three" dogp 0 vdi write three <"$T/d"
check "snapshot three" dogp 0 vdi snapshot -s s1 three
check "the new working inode of three's snapshot is on 3 nodes" \
	[ "$(on_nodes "$(ino "$(vid_of three)")")" -eq 3 ]
check "clone of three's snapshot" dogp 0 vdi clone -s s1 three cl
check "the clone's inode (3 copies, as its parent) is on 3 nodes" \
	[ "$(on_nodes "$(ino "$(vid_of cl)")")" -eq 3 ]

# cluster check: every VDI and snapshot, in vid order, Sheepdog's lines
want=$(dogp 0 vdi list -r | sort -k8 | awk '{
	if ($1 == "s") printf "fix snapshot %s (id: %s, tag: \"%s\")\n", $2, $3, $10;
	else printf "fix vdi %s\n", $2;
	printf "finish check&repair %s\n", $2 }')
out=$(dogp 1 cluster check 2>&1)
check "cluster check of a healthy cluster: fix/finish lines only, in vid order" [ "$out" = "$want" ]
check "... and the snapshot's line is Sheepdog's" \
	bash -c "grep -qx 'fix snapshot three (id: 1, tag: \"s1\")' <<<'$out'"
data0=$(printf '00%06x00000000' "$((16#$(dogp 0 vdi list -r three | awk '$1 == "s" { print $8 }')))")
victim=$(ls "$T"/[012]/obj/"$data0" | head -1)
rm -f "$victim" "$T/2/obj/$(ino "$(vid_of one)")"
out=$(dogp 0 cluster check 2>&1)
check "cluster check repairs a missing data replica" bash -c "grep -qx 'fixed missing $data0' <<<'$out' && [ -e '$victim' ]"
check "... and goes on to the other VDIs" bash -c "grep -qx 'finish check&repair nine' <<<'$out'"
expect_fail "cluster check takes no operand" 64 "" dogp 0 cluster check extra

# cluster alter-copy
out=$(echo no | dogp 0 cluster alter-copy -c 3 2>&1)
check "alter-copy asks first, Sheepdog's caution" bash -c "grep -qF \"Caution! Changing cluster's redundancy level will affect\" <<<\"\$1\"" _ "$out"
check "... a no changes nothing: a new VDI has 2 copies" dogp 0 vdi create t1 4M
check "... listed with 2" [ "$(dogp 0 vdi list -r t1 | awk '{ print $9 }')" = 2 ]
check "alter-copy -c 3 -f: Sheepdog's message" \
	[ "$(dogp 0 cluster alter-copy -c 3 -f)" = "The cluster's redundancy level is set to 3, the old one was 2." ]
check "a VDI created now has 3 copies" dogp 1 vdi create t3 4M
check "... listed with 3" [ "$(dogp 0 vdi list -r t3 | awk '{ print $9 }')" = 3 ]
expect_fail "alter-copy to the same level" 1 \
	"^The cluster's redundancy level is already set to 3, nothing changed\.$" \
	dogp 0 cluster alter-copy -c 3 -f
out=$(echo no | dogp 0 cluster alter-copy -c 5 2>&1)
check "more copies than nodes: Sheepdog's question" bash -c "grep -qx 'Number of copies (5) is larger than number of nodes (3).' <<<'$out'"
out=$(echo yes | dogp 0 cluster alter-copy -f 2>&1)
check "alter-copy without -c: the default (3), already set" \
	bash -c "grep -qx \"The cluster's redundancy level is not specified, use 3 as default.\" <<<\"\$1\"" _ "$out"
expect_fail "alter-copy to erasure coding is refused" 1 "not supported" \
	dogp 0 cluster alter-copy -c 2:1 -f

# cluster recover force
out=$(echo no | dogp 0 cluster recover force 2>&1)
check "recover force asks first (Sheepdog's caution), a no does nothing" \
	bash -c "grep -qx 'Caution! Please try starting all the cluster nodes normally before' <<<'$out' && ! grep -q failed <<<'$out'"
expect_fail "recover force -f on a running cluster: Sheepdog's refusal" 1 \
	"^failed to execute request, Cluster is running/halted and cannot be force recovered$" \
	dogp 0 cluster recover force -f
expect_fail "recover force answered yes: the same" 1 \
	"failed to execute request, Cluster is running/halted and cannot be force recovered$" \
	bash -c "echo yes | '$DOG' cluster recover force -p $(port_of 1)"
# a cluster waiting for a node of its latest epoch: force recover runs it
# with the nodes present, a new epoch; the missing node joins later
e=$(epoch_of 0)
check "shutdown" dogp 0 cluster shutdown
for p in "${PIDS[@]}"; do wait_dead "$p"; done
for i in 0 1; do
	check "node $i restarts" start_sheep $i
done
check "two members wait" wait_members 0 0 1
expect_fail "the cluster waits for node 2" 2 "Waiting for other nodes to join cluster" dogp 0 vdi list
check "recover force -f on a waiting cluster succeeds, silently" \
	bash -c "[ -z \"\$('$DOG' cluster recover force -f -p $(port_of 1) 2>&1)\" ]"
check "the cluster runs with two nodes" retry 10 dogp 0 vdi list three
check "... in a new epoch of the two" bash -c "[ \"\$('$DOG' cluster info -r -p $(port_of 1) | awk '/^[0-9]+ [0-9]+ \\[/ { print \$2; exit }')\" = $((e + 1)) ]"
check "... both nodes agree" [ "$(epoch_of 0)" = "$((e + 1))" ]
check "three reads back on the two" cmp -s "$T/d" <(dogp 1 vdi read three 0 5M)
check "a write on the two" dogp 0 vdi write t3 0 1M <"$T/d"
expect_fail "recover force again: the cluster runs now" 1 "cannot be force recovered" \
	dogp 0 cluster recover force -f
check "node 2 restarts" start_sheep 2
check "three members" wait_members 0 0 1 2
check "node 2 joins in the next epoch" retry 20 test "$(epoch_of 2)" = "$((e + 2))"
check "three reads back through node 2" cmp -s "$T/d" <(dogp 2 vdi read three 0 5M)
check "t3 reads back through node 2" cmp -s <(head -c 1M "$T/d") <(dogp 2 vdi read t3 0 1M)
check "recovery ends" retry 60 all_recovered 0 1 2

finish
