#!/bin/bash
# A real client: tgtd's sheepdog backing store serves a VDI of a 3-node,
# copies 3 cluster over iSCSI; libiscsi's tools and qemu-io use it.  Checks
# INQUIRY, the capacity, pattern writes across an object boundary verified
# through dog, a snapshot taken under tgt (the snapshot keeps the old bytes,
# the VDI gets the new ones: READONLY, re-lock, COW create, inode update),
# and libiscsi's compliance suite (at least 222 of 230; the 8 failures are
# tgt's own and show with a plain file-backed LU too: GetLBAStatus.BeyondEol,
# PrinServiceactionRange.Range, ProutReserve.Ownership (EA, WE, EARO, WERO),
# Reserve6.2Initiators and iSCSIdatasn.iSCSIDataSnInvalid).
# tgt's backing-store parser keeps only 4 digits of a port, so the sheep
# here listen on SHEEP_TGT_PORT_BASE (default 7730) and up; the iSCSI portal
# is SHEEP_ISCSI_PORT (default 13261), tgtd's control port SHEEP_TGT_CONTROL
# (default 41).  tgtd is always SIGKILLed at the end.  Runs in a private user
# and mount namespace with its own /run, so tgtd needs no root and a system
# tgtd is never touched.
if [ -z "${SHEEP_IN_MOUNT_NS:-}" ]; then
	SHEEP_IN_MOUNT_NS=1 exec unshare --map-root-user --mount bash "$0" "$@"
fi
mount -t tmpfs tmpfs /run && mkdir -p /run/tgtd || { echo "FAIL: tgt: a private /run"; exit 1; }
SHEEP_TEST_PORT_BASE=${SHEEP_TGT_PORT_BASE:-7730}
TEST_PORT_OFFSET=0
source "$(dirname "$0")/../lib.sh"
ISCSI_PORT=${SHEEP_ISCSI_PORT:-13261}
CTL=${SHEEP_TGT_CONTROL:-41}
IQN=iqn.2026-11.sheep.test:t1
URL=iscsi://127.0.0.1:$ISCSI_PORT/$IQN/1
TGTPID=

tgtadm_() { timeout 20 tgtadm -C "$CTL" --lld iscsi "$@"; }

for i in 0 1 2; do
	check "node $i starts" start_sheep $i
done
check "three members" wait_members 0 0 1 2
check "format copies 3" dogp 0 cluster format -c 3
check "create vol (256M)" dogp 0 vdi create vol 256M

tgtd -f -C "$CTL" --iscsi portal=127.0.0.1:"$ISCSI_PORT" >"$T/tgtd.log" 2>&1 &
TGTPID=$!
disown "$TGTPID"	# its SIGKILL at the end is expected: no job notice
CLEANUP_HOOK='[ -n "$TGTPID" ] && kill -9 $TGTPID 2>/dev/null'
check "tgtd answers" retry 10 tgtadm -C "$CTL" --mode target --op show
check "target" tgtadm_ --mode target --op new --tid 1 --targetname "$IQN"
check "LUN on the sheepdog backing store" tgtadm_ --mode logicalunit --op new --tid 1 --lun 1 \
	--bstype sheepdog --backing-store "tcp:127.0.0.1:$(port_of 0):vol"
check "bind" tgtadm_ --mode target --op bind --tid 1 --initiator-address ALL

out=$(iscsi-inq "$URL" 2>&1)
check "iscsi-inq: a direct-access device" grep -q "Peripheral Device Type:DIRECT_ACCESS" <<<"$out"
out=$(iscsi-readcapacity16 "$URL" 2>&1)
lba=$(sed -n 's/^RETURNED LOGICAL BLOCK ADDRESS:\([0-9]*\)/\1/p' <<<"$out")
bl=$(sed -n 's/^LOGICAL BLOCK LENGTH IN BYTES:\([0-9]*\)/\1/p' <<<"$out")
check "iscsi-readcapacity16: the size is the VDI's" test "$(((lba + 1) * bl))" = $((256 << 20))

# a pattern across the boundary of objects 0 and 1
check "qemu-io writes 0xab across an object boundary" \
	qemu-io -f raw -c 'write -P 0xab 4190208 8192' -c 'read -P 0xab 4190208 8192' "$URL"
check "dog reads the same bytes" cmp -s <(head -c 8192 /dev/zero | tr '\0' '\253') \
	<(dogp 1 vdi read vol 4190208 8192)
check "the bytes before it are still zero" cmp -s <(head -c 4096 /dev/zero) \
	<(dogp 2 vdi read vol 4186112 4096)

# snapshot under tgt, then write: copy-on-write
check "qemu-io writes 0x11" qemu-io -f raw -c 'write -P 0x11 0 1M' "$URL"
check "snapshot vol while tgt serves it" dogp 0 vdi snapshot -s snap1 vol
check "qemu-io writes 0x22 after the snapshot" \
	qemu-io -f raw -c 'write -P 0x22 0 1M' -c 'read -P 0x22 0 1M' "$URL"
check "the snapshot keeps 0x11" cmp -s <(head -c 1M /dev/zero | tr '\0' '\021') \
	<(dogp 1 vdi read -s snap1 vol 0 1M)
check "the VDI has 0x22" cmp -s <(head -c 1M /dev/zero | tr '\0' '\042') \
	<(dogp 2 vdi read vol 0 1M)
check "the boundary pattern survived the snapshot" \
	qemu-io -f raw -c 'read -P 0xab 4190208 8192' "$URL"
check "vdi list shows the snapshot" bash -c \
	"'$DOG' vdi list -r -p $(port_of 0) | grep -q '^s vol 1 .* snap1 22$'"

# libiscsi's compliance suite
timeout 600 iscsi-test-cu -d -t ALL "$URL" >"$T/cu.log" 2>&1
passed=$(awk '$1 == "tests" { print $4 }' "$T/cu.log")
echo "info: iscsi-test-cu: ${passed:-?} of 230 tests passed"
grep -E '\[FAILED\]|\.\.\.FAILED' "$T/cu.log" | sed 's/^/info:   /'
check "iscsi-test-cu -d -t ALL: at least 222 of 230 pass" test "${passed:-0}" -ge 222
check "the VDI still reads through dog after the suite" bash -c \
	"'$DOG' vdi read vol 0 4096 -p $(port_of 1) >/dev/null"

check "LUN removed" tgtadm_ --mode logicalunit --op delete --tid 1 --lun 1
finish
