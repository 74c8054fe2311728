#!/bin/bash
# A failed disk takes its node's store out of service; the cluster carries on.
# Writers keep writing through a healthy node and through the failing node
# itself while (1) node 3's object directory is removed (rm -rf STORE/obj)
# and (2) node 4's object directory, an ext4 loop filesystem, is shut down
# (the shutdown ioctl of xfs_io: from then on every IO on it returns EIO).
# No client write may fail, every acknowledged write reads back, the node
# turns gateway (0 vnodes, a new epoch; dog node info says why), recovery
# gives every object its 3 copies on the remaining nodes, the directory
# coming back serves nothing, and a restart on a good store brings the node
# back as a holder.  Part (2) needs root for the loop mount (skipped without).
if [ -z "${SHEEP_IN_MOUNT_NS:-}" ] && [ "$(id -u)" = 0 ] && unshare --mount true 2>/dev/null; then
	SHEEP_IN_MOUNT_NS=1 exec unshare --mount bash "$0" "$@"
fi
TEST_PORT_OFFSET=340
source "$(dirname "$0")/../lib.sh"
BASE=0

# writers IDX VDI SECONDS [IDX VDI]...: one writer per pair, acks in $T/ack.VDI
start_writers() {
	local secs=$1
	shift
	WPIDS=()
	while [ $# -gt 0 ]; do
		python3 "$TOP/tests/cluster/writer.py" write "$(port_of "$1")" "$2" "$T/ack.$2" \
			"$secs" &
		WPIDS+=($!)
		shift 2
	done
}

wait_writers() { local p; for p in "${WPIDS[@]}"; do wait "$p"; done; }

# no_failed_write VDI: every write the writer began was acknowledged (it stops
# at its first failed write, leaving a P line without its A)
no_failed_write() {
	local p a
	p=$(grep -c '^P' "$T/ack.$1")
	a=$(grep -c '^A' "$T/ack.$1")
	echo "info: $1: $a of $p writes acknowledged"
	[ "$p" -gt 0 ] && [ "$p" = "$a" ]
}

# reads_back IDX VDI: every acknowledged write of VDI reads back through IDX
reads_back() { cp "$T/ack.$2" "$T/ack" && acked_reads_back "$1" "$2"; }

vnodes_of() { dogp 0 node list -r | awk -v p=":$(port_of "$1")" 'index($2, p) { print $3 }'; }

# node_info_says IDX TEXT: dog node info's line for node IDX (listed IDX-th) holds TEXT
node_info_says() { dogp 0 node info | grep -E "^ *$1	" | grep -qF -- "$2"; }

for i in 0 1 2 3; do
	check "node $i starts" start_sheep $i
done
check "format copies 3" dogp 0 cluster format -c 3
check "create a" dogp 0 vdi create a 48M
check "create b" dogp 0 vdi create b 48M

# ---- (1) the object directory vanishes while writes run --------------------
e0=$(epoch_of 0)
head -c $((20 << 20)) /dev/urandom >"$T/c.data"
check "create c (written only after the failure: new objects)" dogp 0 vdi create c 20M
start_writers 8 0 a 3 b
sleep 2
# (both inodes may be placed elsewhere: checked once the writers made data objects)
check "node 3 holds objects before" bash -c "ls '$T/3/obj' | grep -q ."
rm -rf "$T/3/obj"
check "c written whole through node 0 after the removal" dogp 0 vdi write c <"$T/c.data"
wait_writers
check "no write through a healthy node failed" no_failed_write a
check "no write through the failing node failed" no_failed_write b
check "node 3 still runs" kill -0 "$(pid_of 3)"
check "its log says why" grep -q "the store .* failed (the object directory is gone" \
	"$T/3/sheep.log"
check "node 3 is a gateway: 0 vnodes" retry 10 test "$(vnodes_of 3)" = 0
check "the epoch moved on" test "$(epoch_of 0)" -gt "$e0"
check "dog node info: node 3's store failed" node_info_says 3 "store failed, gateway now"
check "dog node info -r: node 3 store-failed" bash -c \
	"'$DOG' node info -r -p $(port_of 0) | grep -q '^3 .* store-failed\$'"
check "dog node info: the others are fine" bash -c \
	"! '$DOG' node info -p $(port_of 0) | grep -E '^ *[012]	' | grep -q failed"
check "node 3 refuses a vnodes change (gateway)" bash -c \
	"! '$DOG' node vnodes set 64 -p $(port_of 3)"
check "recovery completes" retry 60 all_recovered 0 1 2 3
check "every object has 3 copies on nodes 0-2" placement 3 0 1 2 3
for v in a b; do
	for i in 0 3; do
		check "$v: acknowledged writes read back through node $i" reads_back $i $v
	done
done
check "c reads back byte-identical through node 3" same_data 3 "$T/c.data" c
# the directory comes back: the node still stores nothing, serves nothing
mkdir "$T/3/obj"
start_writers 3 3 b
wait_writers
check "writes through the gateway go on" no_failed_write b
check "nothing lands in the returned directory" test -z "$(ls "$T/3/obj")"
check "still a gateway" test "$(vnodes_of 3)" = 0
# the operator's way back: restart the sheep on a good store
e1=$(epoch_of 0)
kill9_sheep 3
check "node 3 restarts on its store" start_sheep 3
check "it holds objects again" retry 20 test "$(vnodes_of 3)" -gt 0
check "the epoch moved on again" test "$(epoch_of 0)" -gt "$e1"
check "dog node info: no failed store" bash -c "! '$DOG' node info -p $(port_of 0) | grep -q failed"
check "recovery completes" retry 60 all_recovered 0 1 2 3
check "every object has 3 copies on 4 nodes" placement 3 0 1 2 3
check "a: acknowledged writes read back through node 3" reads_back 3 a
check "b: acknowledged writes read back through node 3" reads_back 3 b
check "c reads back byte-identical through node 3" same_data 3 "$T/c.data" c

# ---- (2) the disk returns EIO ------------------------------------------------
if [ -z "${SHEEP_IN_MOUNT_NS:-}" ]; then
	echo "info: part 2 (EIO from a loop filesystem) skipped: needs root and unshare --mount"
	finish
	exit
fi
truncate -s 256M "$T/disk4.img"
mkdir -p "$T/4/obj"
if ! out=$(mkfs.ext4 -q -F "$T/disk4.img" 2>&1 && mount -o loop "$T/disk4.img" "$T/4/obj" 2>&1); then
	echo "info: part 2 (EIO from a loop filesystem) skipped: no ext4 loop mount here: $out"
	finish
	exit
fi
CLEANUP_HOOK='umount -l "$T/4/obj" 2>/dev/null'
check "node 4 starts" start_sheep 4
check "recovery completes" retry 60 all_recovered 0 1 2 3 4
check "node 4 holds objects" bash -c "ls '$T/4/obj' | grep -q '^[0-9a-f]\{16\}\$'"
e2=$(epoch_of 0)
start_writers 8 0 a 4 b
sleep 2
# xfs_io -c shutdown's ioctl (XFS_IOC_GOINGDOWN = EXT4_IOC_SHUTDOWN), no log flush
check "the filesystem is shut down" python3 -c '
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.ioctl(fd, 0x8004587d, struct.pack("I", 2))' "$T/4/obj"
check "IO on it returns EIO" python3 -c '
import errno, os, sys
try:
    os.close(os.open(sys.argv[1] + "/probe", os.O_CREAT | os.O_WRONLY))
except OSError as e:
    sys.exit(e.errno != errno.EIO)
sys.exit(1)' "$T/4/obj"
wait_writers
check "no write through a healthy node failed" no_failed_write a
check "no write through the failing node failed" no_failed_write b
check "node 4 still runs" kill -0 "$(pid_of 4)"
# (glibc says "Input/output error", musl "I/O error")
check "its log says why" grep -qE "the store .* failed \(object IO: (Input/output|I/O) error\)" \
	"$T/4/sheep.log"
check "node 4 is a gateway: 0 vnodes" retry 10 test "$(vnodes_of 4)" = 0
check "the epoch moved on" test "$(epoch_of 0)" -gt "$e2"
check "dog node info: node 4's store failed" node_info_says 4 "store failed, gateway now"
check "recovery completes" retry 60 all_recovered 0 1 2 3 4
check "every object has 3 copies on nodes 0-3" placement 3 0 1 2 3
for v in a b; do
	for i in 0 4; do
		check "$v: acknowledged writes read back through node $i" reads_back $i $v
	done
done
# the disk comes back with the objects it had (older than the others' now):
# the restarted sheep holds again and recovery brings its copies up to date
kill9_sheep 4
check "the disk comes back (mounted again)" bash -c \
	"umount '$T/4/obj' && mount -o loop '$T/disk4.img' '$T/4/obj'"
check "it still has old objects" bash -c "ls '$T/4/obj' | grep -q '^[0-9a-f]\{16\}\$'"
check "node 4 restarts on it" start_sheep 4
check "it holds objects again" retry 20 test "$(vnodes_of 4)" -gt 0
check "recovery completes" retry 60 all_recovered 0 1 2 3 4
check "every object has 3 copies, all alike, on 5 nodes" retry 30 placement 3 0 1 2 3 4
for v in a b; do
	check "$v: acknowledged writes read back through node 4" reads_back 4 $v
done
check "c reads back byte-identical through node 4" same_data 4 "$T/c.data" c
finish
