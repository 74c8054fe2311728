#!/bin/bash
# A full disk: the client gets SD_RES_NO_SPACE ("Server has no space for new
# objects", dog exit 4), the daemon keeps running, no object is left torn or
# half-created, data written before reads back intact, and writes work again
# once space is freed.  Runs in a private mount namespace (as root, or as a
# user through an unprivileged user namespace) so the small tmpfs needs no
# privileges and vanishes with the test.
if [ -z "${SHEEP_IN_MOUNT_NS:-}" ]; then
	SHEEP_IN_MOUNT_NS=1 exec unshare --map-root-user --mount bash "$0" "$@"
fi
TEST_PORT_OFFSET=30
source "$(dirname "$0")/../lib.sh"

MNT="$T/small"
mkdir -p "$MNT" "$T/log"
CLEANUP_HOOK='umount "$MNT" 2>/dev/null'
check "mount a 40 MiB tmpfs" mount -t tmpfs -o size=40m tmpfs "$MNT"

"$SHEEP" -b 127.0.0.1 -p "$(port_of 0)" -P "$T/0.pid" -c "local:$T/c0" -l dir="$T/log" "$MNT/store"
check "sheep starts on the small disk" test "$?" = 0 -a -s "$T/0.pid"
PIDS+=("$(cat "$T/0.pid")")
check "format" dogp 0 cluster format -c 1
check "create big" dogp 0 vdi create big 200M
check "create spare" dogp 0 vdi create spare 20M

head -c $((16 << 20)) /dev/urandom >"$T/first"
check "write 16 MiB" dogp 0 vdi write big 0 $((16 << 20)) <"$T/first"
head -c $((8 << 20)) /dev/urandom >"$T/spare"
check "write 8 MiB to spare" dogp 0 vdi write spare 0 $((8 << 20)) <"$T/spare"

head -c $((64 << 20)) /dev/urandom >"$T/second"
# Sheepdog's two lines ("Failed to write object OID: ..." then "Failed to write VDI")
expect_fail "writing past the disk's capacity fails with NO_SPACE" 1 \
	"^Failed to write object 00[0-9a-f]{14}: Server has no space for new objects$" \
	dogp 0 vdi write big $((16 << 20)) $((64 << 20)) <"$T/second"
check "sheep survives a full disk" kill -0 "$(pid_of 0)"
check "no temp files left behind" bash -c "! ls '$MNT/store/obj' | grep -q tmp"
check "every object has its full size" bash -c \
	"for f in '$MNT/store/obj'/00*; do [ \$(stat -c %s \"\$f\") -eq $((4194304 + 16)) ] || exit 1; done"
check "data written before the disk filled reads back" \
	cmp -s "$T/first" <(dogp 0 vdi read big 0 $((16 << 20)))
check "spare reads back" cmp -s "$T/spare" <(dogp 0 vdi read spare 0 $((8 << 20)))

# every byte of the failed write that was acknowledged per object is either
# the new data or zeros, never garbage: compare object by object
ok=1
for i in $(seq 4 19); do
	off=$((i << 22))
	got=$(dogp 0 vdi read big "$off" 4M | md5sum | cut -d' ' -f1)
	new=$(dd if="$T/second" bs=4M skip=$((i - 4)) count=1 status=none | md5sum | cut -d' ' -f1)
	zero=$(head -c 4M /dev/zero | md5sum | cut -d' ' -f1)
	if [ "$got" != "$new" ] && [ "$got" != "$zero" ]; then
		# a partially written object is allowed only for the object being written
		# when the disk filled: its prefix must match the new data
		ok=$((ok + 1))
	fi
done
check "at most one object holds a partial write" test "$ok" -le 2

check "delete spare to free space" dogp 0 vdi delete spare
head -c $((4 << 20)) /dev/urandom >"$T/third"
check "writes work again after space is freed" \
	dogp 0 vdi write big $((100 << 20)) $((4 << 20)) <"$T/third"
check "and read back" cmp -s "$T/third" <(dogp 0 vdi read big $((100 << 20)) $((4 << 20)))

# The member that accepts joins cannot append to the cluster's log (a file
# size limit on it stands in for a full disk, or a coordinator that timed
# out): the joiner waits, nobody crashes, and the join completes by itself
# once the log can grow again.  The acceptor is stopped while the JOIN goes in,
# so its first try at the ACCEPT is the one that fails.
export CLUSTER="local:$T/clog"
check "node 1 starts a second cluster" start_sheep 1
acceptor=$(pid_of 1)
kill -STOP "$acceptor"
size0=$(stat -c %s "$T/clog/events")
(start_sheep 2; echo $? >"$T/rc2") &
launcher=$!
check "the joiner's JOIN is in the log" retry 10 bash -c "[ \$(stat -c %s '$T/clog/events') -gt $size0 ]"
retry 10 test -s "$T/2.pid" && PIDS+=("$(cat "$T/2.pid")")
size1=$(stat -c %s "$T/clog/events")
check "the acceptor may not grow the log" prlimit --pid "$acceptor" --fsize="$size1:unlimited"
kill -CONT "$acceptor"
sleep 2
check "no ACCEPT went in" test "$(stat -c %s "$T/clog/events")" = "$size1"
check "the joiner still waits" kill -0 "$launcher"
check "the acceptor is still running" kill -0 "$acceptor"
prlimit --pid "$acceptor" --fsize=unlimited:unlimited
check "the join completes once the log can grow" retry 20 bash -c "! kill -0 $launcher"
check "its launcher reports success" test "$(cat "$T/rc2" 2>/dev/null)" = 0
check "node 1 lists both" wait_members 1 1 2
check "node 2 lists both" wait_members 2 1 2
finish
