#!/bin/bash
# An older copy left on a node is never taken for the newest when every
# holder of a newer one is gone.  Five nodes, 3 copies: after node 4 joins
# (recovery off, so nothing is cleaned up) and the writer changes objects
# through node 1, a node L that keeps an older copy of one of them (found by
# the version trailers) is left alone, the other four kill -9'd at once: L
# must refuse IO to the objects whose holders all left (IO halted) instead of
# serving and writing its older copies, and once the others are back every
# acknowledged write reads back through every node.
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
# L: a node whose copy of an object is older than node 4's (it held it before 4 joined)
L=$(python3 - "$T" <<'PY'
import os, struct, sys
top = sys.argv[1]
def ver(n, o):
    try:
        with open(os.path.join(top, str(n), "obj", o), "rb") as f:
            f.seek(-16, 2)
            t = f.read(16)
    except OSError:
        return None
    return struct.unpack("<II8x", t[:8] + t[8:])[1], struct.unpack("<Q", t[8:])[0]
cands = []
for o in sorted(os.listdir(os.path.join(top, "4", "obj"))):
    if not o.startswith("00") or len(o) != 16:
        continue
    v4 = ver(4, o)
    for n in range(4):
        v = ver(n, o)
        if v and v4 and v < v4 and n not in cands:
            cands.append(n)
# rather one whose copy of the VDI's inode is current: the writer then runs
inode = [f for f in os.listdir(os.path.join(top, "0", "obj")) if f.startswith("80")]
newest = max((ver(n, inode[0]) or (0, 0) for n in range(5)), default=None) if inode else None
good = [n for n in cands if inode and ver(n, inode[0]) == newest]
if good or cands:
    print((good or cands)[0])
PY
)
check "a node keeps an older copy of an object now held by node 4" test -n "$L"
L=${L:-0}
OTHERS=$(for i in 0 1 2 3 4; do [ "$i" = "$L" ] || echo "$i"; done | xargs)
echo "info: node $L keeps older copies; nodes $OTHERS are killed"

for i in $OTHERS; do kill -9 "$(pid_of "$i")"; done
check "node $L alone" retry 30 all_list "$L"
a0=$(acks)
# the writer through node L alone for 2 s (listed twice: it goes on past refused writes)
python3 "$W" write "$(port_of "$L"),$(port_of "$L")" w "$T/ack" 2 >>"$T/writer.out" 2>&1
echo "info: $(($(acks) - a0)) writes acknowledged by node $L alone"
# each object on its own (a whole read stops at the first failure)
for ((o = 0; o < 12; o++)); do
	dogp "$L" vdi read w $((o << 22)) 4M >/dev/null 2>>"$T/read.err"
done
# (which object L meets first depends on placement: the VDI's inode, when L's
# copy of it is the older one, and then the reader sees "No VDI found")
check "reads through node $L failed rather than served older data" \
	grep -Eq "IO has halted|No VDI found" "$T/read.err"
sleep 2
echo "info: refusals in node $L's log: $(grep -c "every holder of epoch" "$T/$L/sheep.log")"

for i in $OTHERS; do check "sheep $i restarts" start_sheep "$i"; done
check "5 nodes again" retry 60 all_list 0 1 2 3 4
check "recovery on" dogp 0 cluster recover enable
check "recovery completes" retry 120 all_recovered 0 1 2 3 4
for i in 0 1 2 3 4; do
	check "every acknowledged write reads back through node $i" acked_reads_back "$i" w
done
finish
