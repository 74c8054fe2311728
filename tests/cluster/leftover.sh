#!/bin/bash
# An older copy left on a node is never taken for the newest when every
# holder of a newer one is gone.  Five nodes, 3 copies: node 0 keeps copies
# of objects it no longer holds after node 4 joins (recovery is off, so
# nothing is cleaned up), the writer changes them through node 1, then
# nodes 1-4 are kill -9'd at once: node 0 alone must refuse IO to the
# objects whose holders all left (IO halted) instead of serving and writing
# its older copies, and once the others are back every acknowledged write
# reads back through every node.
TEST_PORT_OFFSET=500
source "$(dirname "$0")/../lib.sh"
W="$TOP/tests/cluster/writer.py"
all_list() { local k want; want=$(ports "$@"); for k in "$@"; do [ "$(members "$k")" = "$want" ] || return 1; done; }
acks() { grep -c '^A' "$T/ack" 2>/dev/null || echo 0; }

for i in 0 1 2 3; do check "sheep $i starts" start_sheep "$i"; done
check "4 nodes" retry 30 all_list 0 1 2 3
check "format copies 3" dogp 0 cluster format -c 3
check "create VDI w" dogp 0 vdi create w 48M
python3 "$W" write "$(port_of 1)" w "$T/ack" 4 >"$T/writer.out" 2>&1
check "recovery off (nothing is cleaned up)" dogp 0 cluster recover disable
check "sheep 4 joins" start_sheep 4
check "5 nodes" retry 30 all_list 0 1 2 3 4
python3 "$W" write "$(port_of 1)" w "$T/ack" 4 >>"$T/writer.out" 2>&1
held=$(ls "$T/0/obj" | grep -c '^00')
echo "info: node 0 keeps $held data objects, some it no longer holds"

for i in 1 2 3 4; do kill -9 "$(pid_of "$i")"; done
check "node 0 alone" retry 30 all_list 0
a0=$(acks)
# the writer through node 0 alone for 2 s (listed twice: it goes on past refused writes)
python3 "$W" write "$(port_of 0),$(port_of 0)" w "$T/ack" 2 >>"$T/writer.out" 2>&1
echo "info: $(($(acks) - a0)) writes acknowledged by node 0 alone"
check "a whole read of w through node 0 alone fails (nothing older served)" \
	bash -c "! '$DOG' vdi read w -p $(port_of 0) >/dev/null 2>'$T/read.err'"
check "... an object is missing or its IO halted" grep -Eq "IO has halted|No object found" "$T/read.err"
# each object on its own (a whole read stops at the first failure)
for ((o = 0; o < 12; o++)); do
	dogp 0 vdi read w $((o << 22)) 4M >/dev/null 2>&1
done
check "node 0 refused its older copies of objects whose holders all left" \
	grep -q "every holder of epoch [0-9]* is gone" "$T/0/sheep.log"

for i in 1 2 3 4; do check "sheep $i restarts" start_sheep "$i"; done
check "5 nodes again" retry 60 all_list 0 1 2 3 4
check "recovery on" dogp 0 cluster recover enable
check "recovery completes" retry 120 all_recovered 0 1 2 3 4
for i in 0 1 2 3 4; do
	check "every acknowledged write reads back through node $i" acked_reads_back "$i" w
done
finish
