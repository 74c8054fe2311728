#!/bin/bash
# Wire protocol conformance and robustness (tests/cluster/wire.py) against a
# real one-node cluster.
TEST_PORT_OFFSET=10
source "$(dirname "$0")/../lib.sh"

check "sheep starts" start_sheep 0
check "format" dogp 0 cluster format -c 1
# Sheepdog's nodes do not recover at format: its dog printed -nan% for ours
check "a freshly formatted node is not shown recovering" test -z "$(dogp 0 node recovery -r)"
check "create test" dogp 0 vdi create test 1G
python3 "$TOP/tests/cluster/wire.py" "$(port_of 0)" "$T/0" >"$T/wire.out" 2>&1
rc=$?
while IFS= read -r line; do
	case "$line" in
	PASS:*) echo "$line"; PASSED=$((PASSED + 1)) ;;
	FAIL:*) echo "$line"; FAILED=$((FAILED + 1)) ;;
	esac
done <"$T/wire.out"
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL' "$T/wire.out"; then
	fail "wire.py crashed: $(tail -5 "$T/wire.out")"
fi
check "sheep still running" kill -0 "$(pid_of 0)"

start_pair() {
	CLUSTER="local:$T/pair" start_sheep 7 && CLUSTER="local:$T/pair" start_sheep 8
}

# recovery throttling at run time, with Sheepdog's dog's output and errors
check "node recovery set-throttle 3 100" dogp 0 node recovery set-throttle 3 100
check "get-throttle prints it on stderr as Sheepdog's dog" \
	test "$(dogp 0 node recovery get-throttle 2>&1 >/dev/null)" = "max (3), interval (100)"
check "set-throttle 0 0 turns it off" dogp 0 node recovery set-throttle 0 0
check "get-throttle: off" test "$(dogp 0 node recovery get-throttle 2>&1)" = "max (0), interval (0)"
expect_fail "set-throttle with a max only" 64 '^Invalid interval max \(1\), interval \(\(null\)\)' \
	dogp 0 node recovery set-throttle 1
expect_fail "set-throttle 1 0" 64 '^Invalid interval max \(1\), interval \(0\)' \
	dogp 0 node recovery set-throttle 1 0
expect_fail "set-throttle x 5" 64 '^Invalid max \(x\)' dogp 0 node recovery set-throttle x 5
expect_fail "set-throttle 5 x" 64 '^Invalid interval \(x\)' dogp 0 node recovery set-throttle 5 x
expect_fail "set-throttle over 32 bits" 64 '^Invalid max \(4294967296\)' \
	dogp 0 node recovery set-throttle 4294967296 1
check "node recovery info: the table" test "$(dogp 0 node recovery info | head -1)" = \
	"Nodes In Recovery:"

# node md info: our one store directory, as Sheepdog's md shows one disk
check "node md info -r: the store's obj directory" bash -c "'$DOG' node md info -r -p $(port_of 0) |
	grep -qE '^127.0.0.1:$(port_of 0) 0 [0-9]+ [0-9]+ [0-9]+ [0-9]+% $T/0/obj\$'"
check "node md info -A: a header, then each node" test \
	"$(dogp 0 node md info -A | sed -n '1p;2p' | tr '\t\n' '|;')" = "Id|Size|Used|Avail|Use%|Path;Node 0:;"
expect_fail "node md plug: not supported" 1 'Failed to execute request, look for sheep.log' \
	dogp 0 node md plug -f /tmp/nowhere

# a cluster of gateways only: creating a VDI answers VDI_WRITE, as Sheepdog's
CLUSTER="local:$T/gw" check "gateway 5 starts in a cluster of its own" start_sheep 5 -g
make_fs() {	# make_fs IDX COPIES STORE -> MAKE_FS's result, then the cluster's default copies
	python3 - "$(port_of "$1")" "$2" "$3" "$TOP/tests/cluster" <<'PY'
import struct, sys, time
sys.path.insert(0, sys.argv[4])
from sdclient import Client
c = Client(int(sys.argv[1]))
body = struct.pack("<QQBBHII4x", 0, int(time.time()) << 32, int(sys.argv[2]), 0, 0, 0, 0)
res, _, _ = c.call(0x84, body, 1, sys.argv[3].encode() + b"\0", ver=0x0a)
_, rbody, _ = c.call(0x18, b"\0" * 32)
print("%02x %d" % (res, rbody[4]))
PY
}
check "MAKE_FS without copies (Sheepdog's dog without -c): 3 copies" \
	test "$(make_fs 5 0 plain)" = "00 3"
check "MAKE_FS of an unknown store: NO_STORE" test "$(make_fs 5 2 foo | cut -d' ' -f1)" = 8a
check "format the gateways" dogp 5 cluster format -c 1
expect_fail "vdi create on gateways only" 1 'Failed to create VDI a: Failed to write to requested VDI' \
	dogp 5 vdi create a 1M
# Sheepdog's vdi check: GET_HASH finds a damaged replica, REPAIR_REPLICA copies a good one
check "nodes 7 and 8 start a cluster of their own" start_pair
check "format them with 2 copies" dogp 7 cluster format -c 2
check "create v" dogp 7 vdi create v 4M
head -c 4194304 /dev/urandom >"$T/v.data"
check "fill it" dogp 7 vdi write v 0 4194304 <"$T/v.data"
obj=$(ls "$T/8/obj" | grep -v '^80' | head -1)
hash_of() {	# hash_of IDX OID -> the SHA-1 GET_HASH answers
	python3 - "$(port_of "$1")" "$2" "$TOP/tests/cluster" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[3])
from sdclient import Client
res, body, _ = Client(int(sys.argv[1])).call(0xB4, Client.obj_body(int(sys.argv[2], 16)), ver=0x0a)
print("%02x %s" % (res, body[8:28].hex()))
PY
}
check "both replicas hash the same" test "$(hash_of 7 "$obj")" = "$(hash_of 8 "$obj")"
printf 'damage' | dd of="$T/8/obj/$obj" bs=1 seek=4096 conv=notrunc 2>/dev/null
check "a damaged replica hashes differently" test "$(hash_of 7 "$obj")" != "$(hash_of 8 "$obj")"
repair() {	# repair IDX FROM_IDX OID -> the result REPAIR_REPLICA answers
	python3 - "$(port_of "$1")" "$(port_of "$2")" "$3" "$TOP/tests/cluster" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[4])
from sdclient import Client
c = Client(int(sys.argv[1]))
c.s.sendall(struct.pack("<BBHIII32s", 2, 0x18, 0, 0, 0, 0, b"\0" * 32))
epoch = struct.unpack_from("<I", c._recv(48), 4)[0]	# any response carries the epoch
body = struct.pack("<Q12x4sH6x", int(sys.argv[3], 16), bytes([127, 0, 0, 1]), int(sys.argv[2]))
res, _, _ = c.call(0xC5, body, ver=0x0a, epoch=epoch)
print("%02x" % res)
PY
}
stat_cluster() {	# stat_cluster IDX NODES_NR -> result and bytes of STAT_CLUSTER
	python3 - "$(port_of "$1")" "$2" "$TOP/tests/cluster" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[3])
from sdclient import Client
nn = int(sys.argv[2])
body = struct.pack("<QQBBHII4x", 0, 0, 0, 0, 0, 0, nn)
res, _, data = Client(int(sys.argv[1])).call(0x87, body, dlen=4 * (48 + nn * 80), ver=0x0a)
print("%02x %d" % (res, len(data)))
PY
}
check "STAT_CLUSTER with room for 1 node of 2: BUFFER_SMALL" test "$(stat_cluster 7 1)" = "88 0"
check "STAT_CLUSTER with room for 2: one entry of 48 + 2 x 80 bytes" test "$(stat_cluster 7 2)" = "00 208"
alter_copy() {	# alter_copy IDX COPIES -> ALTER_CLUSTER_COPY's result
	python3 - "$(port_of "$1")" "$2" "$TOP/tests/cluster" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[3])
from sdclient import Client
body = struct.pack("<QQBBHII4x", 0, 0, int(sys.argv[2]), 0, 0, 0, 0)
res, _, _ = Client(int(sys.argv[1])).call(0xBF, body, ver=0x0a)
print("%02x" % res)
PY
}
check "ALTER_CLUSTER_COPY to 1" test "$(alter_copy 7 1)" = 00
check "a VDI created through the other node gets 1 copy" bash -c "'$DOG' vdi create w 4M \
	-p $(port_of 8) && test \"\$('$DOG' vdi list -r -p $(port_of 7) | awk '\$2 == \"w\" {print \$9}')\" = 1"
check "the other node's config says 1 copy" test "$(od -An -tu1 -j10 -N1 "$T/8/config")" -eq 1
check "ALTER_CLUSTER_COPY to 0: INVALID_PARMS" test "$(alter_copy 7 0)" = 05
check "REPAIR_REPLICA on node 8 from node 7" test "$(repair 8 7 "$obj")" = 00
check "the replicas hash the same again" test "$(hash_of 7 "$obj")" = "$(hash_of 8 "$obj")"
check "node 8's copy is the data again" cmp -s <(dogp 8 vdi read v 0 4194304) "$T/v.data"

# locks as Sheepdog's dog sees and breaks them: VDI states (GET_VDI_COPIES), RELEASE_VDI
check "format the pair with locks" dogp 7 cluster format -l -c 2 -f
check "create l" dogp 7 vdi create l 4M
lock_op() {	# lock_op IDX OPCODE TYPE -> the result of LOCK_VDI/RELEASE_VDI of l
	python3 - "$(port_of "$1")" "$2" "$3" "$TOP/tests/cluster" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[4])
from sdclient import Client
c = Client(int(sys.argv[1]))
op, typ = int(sys.argv[2], 16), int(sys.argv[3])
vid = c.vdi_id("l") if op == 0x13 else 0
body = struct.pack("<QIBBBBII8x", 0, vid, 0, 0, 0, 0, 0, typ)
res, _, _ = c.call(op, body, 1 if op == 0x12 else 0, b"l".ljust(512, b"\0") if op == 0x12 else b"")
print("%02x" % res)
PY
}
check "exclusive lock through node 7" test "$(lock_op 7 12 0)" = 00
check "the VDI state shows it locked by node 7" test "$(dogp 8 vdi lock list -r)" = \
	"l 127.0.0.1:$(port_of 7) exclusive"
check "a normal release through node 8 ends it (Sheepdog's vdi lock unlock)" \
	test "$(lock_op 8 13 0)" = 00
check "no lock left" test -z "$(dogp 7 vdi lock list -r)"
check "shared lock through node 8" test "$(lock_op 8 12 1)" = 00
check "a shared release through node 7 is not node 8's" test "$(lock_op 7 13 1)" = 10
check "dog vdi lock unlock through node 7 releases it at node 8" dogp 7 vdi lock unlock l
check "no lock left again" test -z "$(dogp 8 vdi lock list -r)"
expect_fail "unlock of an unlocked VDI" 1 '^VDI l \(vid=[0-9a-f]+\) is not locked' dogp 7 vdi lock unlock l
finish
