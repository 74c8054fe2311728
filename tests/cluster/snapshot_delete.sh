#!/bin/bash
# Deleting VDIs the way Sheepdog's dog does (issue 14): zero the inode's data
# index in batches (-B, -I, at most -m entries), then DEL_VDI.  The sheep
# reclaims an object as the index write drops its entry, once no remaining
# VDI points at it: a deleted VDI leaves no object file, a deleted snapshot
# leaves what the working VDI and the clones share, -m leaves the VDI with
# fewer objects, and a client's raw zeroing (Sheepdog's dog) does the same.
# A delete racing copy-on-write writes to a clone loses nothing and leaks
# nothing.  3 nodes, copies 2.
TEST_PORT_OFFSET=360
source "$(dirname "$0")/../lib.sh"

nobjs() { ls "$T"/{0,1,2}/obj | grep -c '^00'; }	# data object files, all nodes
has_vdi() { dogp 0 vdi list -r | grep -q "^[=sc] $1 "; }
no_vdi() { ! has_vdi "$1"; }
no() { ! "$@"; }
M=$((1 << 20))

for i in 0 1 2; do
	check "node $i starts" start_sheep $i
done
check "three members" wait_members 0 0 1 2
check "format copies 2" dogp 0 cluster format -c 2

# a written VDI: every object goes
head -c $((32 * M)) /dev/urandom >"$T/d"
check "create a" dogp 0 vdi create a 32M
check "write a (8 objects)" dogp 0 vdi write a 0 $((32 * M)) <"$T/d"
check "16 object files" test "$(nobjs)" = 16
check "delete a" dogp 1 vdi delete a
check "a is gone" no_vdi a
check "no data object file is left" test "$(nobjs)" = 0

# -m: that many entries zeroed (their objects go), no DEL_VDI
check "create m" dogp 0 vdi create m 32M
check "write m" dogp 0 vdi write m 0 $((32 * M)) <"$T/d"
check "delete -m 3 -B 2 m" dogp 0 vdi delete -m 3 -B 2 m
check "m is still listed (no DEL_VDI)" has_vdi m
check "3 of its 8 objects went" test "$(nobjs)" = 10
check "m reads zeros where its index was zeroed, its data elsewhere" bash -c \
	"cmp -s <(head -c $((12 * M)) /dev/zero; tail -c +$((12 * M + 1)) '$T/d') \
	<('$DOG' vdi read m -p $(port_of 2))"
expect_fail "-m 0 is refused with Sheepdog's words" 1 \
	"^The maximum number of reclamation must bepositive integer$" dogp 0 vdi delete -m 0 m
expect_fail "-B x is refused with Sheepdog's words" 1 \
	"^The number of batched reclamation is invalid: x$" dogp 0 vdi delete -B x m
expect_fail "-I -1 is refused with Sheepdog's words" 1 \
	"^The interval of batched reclamation must bepositive integer$" dogp 0 vdi delete -I -1 m
start=$(date +%s%N)
check "delete -B 2 -I 1 m (5 objects: 3 writes, 2 pauses)" dogp 2 vdi delete -B 2 -I 1 m
check "the pauses were taken" test $(( ($(date +%s%N) - start) / 1000000 )) -ge 1900
check "m is gone" no_vdi m
check "and every object with it" test "$(nobjs)" = 0

# a family: a snapshot and two clones share objects
check "create t" dogp 0 vdi create t 32M
check "write t" dogp 0 vdi write t 0 $((32 * M)) <"$T/d"
check "snapshot s1" dogp 1 vdi snapshot -s s1 t
head -c $((8 * M)) /dev/urandom >"$T/p"
cp "$T/d" "$T/t"
dd if="$T/p" of="$T/t" conv=notrunc status=none
check "t writes its objects 0-1" dogp 2 vdi write t 0 $((8 * M)) <"$T/p"
check "clone c1" dogp 0 vdi clone -s s1 t c1
cp "$T/d" "$T/c1"
dd if="$T/p" of="$T/c1" bs=1M seek=8 count=4 conv=notrunc status=none
check "c1 writes its object 2" bash -c "head -c $((4 * M)) '$T/p' | \
	'$DOG' vdi write c1 $((8 * M)) $((4 * M)) -p $(port_of 1)"
check "clone c2 (writes nothing)" dogp 0 vdi clone -s s1 t c2
check "11 objects (22 files)" test "$(nobjs)" = 22
check "delete the snapshot s1 (-B 3)" dogp 0 vdi delete -B 3 -s s1 t
check "every s1 object is still used: 22 files" test "$(nobjs)" = 22
check "t reads back" same_data 1 "$T/t" t
check "c1 reads back" same_data 2 "$T/c1" c1
check "c2 reads back" same_data 0 "$T/d" c2
check "delete c2" dogp 1 vdi delete c2
check "still 22 files" test "$(nobjs)" = 22
check "delete t" dogp 2 vdi delete t
check "t's 2 and s1's object 2 went: 16 files" test "$(nobjs)" = 16
check "c1 still reads back" same_data 0 "$T/c1" c1
check "delete c1" dogp 0 vdi delete c1
check "the family left no data object" test "$(nobjs)" = 0
check "no VDI left" test -z "$(dogp 0 vdi list -r)"

# rollback and restore drop the working VDI the same way
check "create r" dogp 0 vdi create r 16M
check "write r" dogp 0 vdi write r 0 $((16 * M)) <"$T/d"
check "snapshot r as a" dogp 0 vdi snapshot -s a r
check "r writes 2 objects of its own" dogp 0 vdi write r 0 $((8 * M)) <"$T/p"
check "rollback -B 1 -s a r" dogp 1 vdi rollback -f -B 1 -s a r
check "the old working VDI's objects went (a's 4 stay)" test "$(nobjs)" = 8
check "r reads as a" cmp -s <(head -c $((16 * M)) "$T/d") <(dogp 2 vdi read r)

# a client zeroing an index itself, as Sheepdog's dog does before DEL_VDI
check "raw index writes: zeroing a snapshot's entries, a vid refused, reclaim" \
	python3 - "$(port_of 1)" "$TOP/tests/cluster" "$(port_of 2)" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[2])
from sdclient import Client, SheepError
c = Client(int(sys.argv[1]))
work = c.vdi_id("r")
hdr = c.read_obj(1 << 63 | work << 32, 4664 + 16)
snap = struct.unpack_from("<I", hdr, 564)[0]                  # parent_vdi_id: the snapshot a
idx = struct.unpack_from("<4I", hdr, 4664)
assert idx == (snap,) * 4, idx
try:
    c.write_obj(1 << 63 | snap << 32, struct.pack("<I", snap), 4664)
    sys.exit("a non-zero write to a snapshot's index was taken")
except SheepError as e:
    assert e.result == 0x1A, e
c.write_obj(1 << 63 | snap << 32, bytes(16), 4664)            # the snapshot lets go
sn = struct.unpack_from("<4I", c.read_obj(1 << 63 | snap << 32, 16, 4664))
assert sn == (0,) * 4, sn
c2 = Client(int(sys.argv[3]))
c2.write_obj(1 << 63 | work << 32, bytes(8), 4664 + 8)         # r drops objects 2-3
print("zeroed")
PY
check "objects 2-3 went, 0-1 stay for r" test "$(nobjs)" = 4
check "r reads zeros where it let go" bash -c "cmp -s <(head -c $((8 * M)) '$T/d'; \
	head -c $((8 * M)) /dev/zero) <('$DOG' vdi read r -p $(port_of 0))"
check "delete r (its snapshot's entries are gone already)" dogp 0 vdi delete r
check "delete a" dogp 0 vdi delete -s a r
check "nothing left" test "$(nobjs)" = 0

# a delete racing copy-on-write writes to a clone of the snapshot it drops
head -c $((128 * M)) /dev/urandom >"$T/b"
check "create b" dogp 0 vdi create b 128M
check "write b" dogp 0 vdi write b 0 $((128 * M)) <"$T/b"
check "snapshot s" dogp 0 vdi snapshot -s s b
check "clone x" dogp 0 vdi clone -s s b x
python3 "$TOP/tests/cluster/writer.py" write "$(port_of 1)" x "$T/ack" 2 &
wpid=$!
sleep 0.3
check "delete -B 1 the snapshot s during the writes" dogp 0 vdi delete -B 1 -s s b
check "delete -B 1 b during the writes" dogp 1 vdi delete -B 1 b
check "(the writer was still writing)" kill -0 $wpid
wait $wpid
check "the writer ran to its end (no write failed)" \
	test "$(tail -1 "$T/ack" | cut -c1)" = A -a "$(grep -c '^A' "$T/ack")" -gt 20
check "every acknowledged write reads back" acked_reads_back 2 x
# untouched FILE: x's bytes the writer never covered are FILE's
untouched() {
	python3 - "$(port_of 0)" "$TOP/tests/cluster" "$T/ack" "$1" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from sdclient import Client, Vdi
HALF = 32 << 10
touched = set()
for line in open(sys.argv[3]):
    off = int(line.split()[1])
    touched |= {off // HALF, off // HALF + 1}
v = Vdi(Client(int(sys.argv[1])), "x")
orig = open(sys.argv[4], "rb").read()
left = [h for h in range(v.size // HALF) if h not in touched]
bad = [h for h in left if v.read(h * HALF, HALF) != orig[h * HALF:(h + 1) * HALF]]
print("%d of %d untouched halves differ" % (len(bad), len(left)))
sys.exit(1 if bad or len(left) < 50 else 0)
PY
}
check "what the writer did not touch (50 halves at least) is still the snapshot's data" \
	untouched "$T/b"
check "(and that check fails against other data)" no untouched "$T/d"
check "delete x" dogp 2 vdi delete x
check "the race leaked nothing: no data object left" test "$(nobjs)" = 0
finish
