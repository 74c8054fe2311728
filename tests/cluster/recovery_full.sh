#!/bin/bash
# A disk that fills up during recovery: the new node's recovery stops with
# a clear error ("stopped: disk full" in dog node recovery, the reason in its
# log), its peers keep running, nothing is removed anywhere (the old holders
# keep every copy because recovery never completed cluster-wide), and every
# byte still reads back, through every node.  The small disk is a tmpfs in a
# private mount namespace, as in disk_full.sh.
if [ -z "${SHEEP_IN_MOUNT_NS:-}" ]; then
	SHEEP_IN_MOUNT_NS=1 exec unshare --map-root-user --mount bash "$0" "$@"
fi
TEST_PORT_OFFSET=170
source "$(dirname "$0")/../lib.sh"

MNT="$T/small"
mkdir -p "$MNT"
CLEANUP_HOOK='umount "$MNT" 2>/dev/null'
check "mount a 10 MiB tmpfs" mount -t tmpfs -o size=10m tmpfs "$MNT"

# equal weights, so the small node is asked for about 2/3 of the objects (20 of
# them: 10 fit a node 2 placed on few objects, at some port bases, in the disk)
check "node 0 starts" start_sheep 0 -V 128
check "node 1 starts" start_sheep 1 -V 128
check "format copies 2, fixed vnodes (-V)" dogp 0 cluster format -c 2 -V
head -c $((80 << 20)) /dev/urandom >"$T/d.data"
check "create d" dogp 0 vdi create d 80M
check "write 80 MiB" dogp 0 vdi write d <"$T/d.data"
n0=$(ls "$T/0/obj" | wc -l)
n1=$(ls "$T/1/obj" | wc -l)

"$SHEEP" -b 127.0.0.1 -p "$(port_of 2)" -P "$T/2.pid" -c "local:$T/cluster" -z 2 -V 128 \
	-l dir="$T" "$MNT/store"
check "a node with a 10 MiB disk joins" test "$?" = 0 -a -s "$T/2.pid"
PIDS+=("$(cat "$T/2.pid")")
check "three members" wait_members 0 0 1 2
check "its recovery stops: disk full" retry 60 bash -c \
	"'$DOG' node recovery -p $(port_of 0) | grep -qE '^ +2 .*stopped: disk full'"
check "its log says why" grep -q "recovery of epoch .* stopped: the disk is full" "$T/sheep.log"
check "node 0 still runs" kill -0 "$(pid_of 0)"
check "node 1 still runs" kill -0 "$(pid_of 1)"
check "node 2 still runs" kill -0 "$(pid_of 2)"
check "no temp file left on the full disk" bash -c "! ls '$MNT/store/obj' | grep -q tmp"
check "node 0 removed nothing" test "$(ls "$T/0/obj" | wc -l)" -ge "$n0"
check "node 1 removed nothing" test "$(ls "$T/1/obj" | wc -l)" -ge "$n1"
for i in 0 1 2; do
	check "d reads back byte-identical through node $i" same_data $i "$T/d.data" d
done
finish
