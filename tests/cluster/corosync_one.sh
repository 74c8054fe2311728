#!/bin/bash
# The corosync driver against one real corosync (3.x, knet, votequorum) in a
# network namespace of this test's own, so it runs on every build (glibc,
# ASan, the static musl binary): how a sheep fails without corosync, with a
# bad option, without a quorum provider and (musl only) over corosync's
# shared-memory IPC; five sheep started at once form one cluster, again and
# again; cluster operations from every node at once; kill -9 of a sheep and
# its restart as a new member; corosync itself killed: every sheep starts
# over in place and serves nothing as a member until corosync is back, then
# rejoins with the data intact.  Several-node rings, loss and partitions:
# corosync.sh, corosync_loss.sh, corosync_partition.sh.
TEST_PORT_OFFSET=440
source "$(dirname "$0")/../lib.sh"
NS=sheep-cs1-$$
REAL_SHEEP=$SHEEP
REAL_DOG=$DOG
CS_PID=
CLEANUP_HOOK='[ -n "$CS_PID" ] && kill -9 "$CS_PID" 2>/dev/null && wait_dead "$CS_PID" && cs_shm_gone "$CS_PID"; ip netns del "$NS" 2>/dev/null'

ip netns add "$NS" && ip netns exec "$NS" ip link set lo up || { fail "cannot make a namespace"; finish; exit 1; }
# sheep and dog run inside the namespace, where the test's corosync is
for t in sheep dog; do
	real=REAL_${t^^}
	printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NS" "${!real}" >"$T/$t"
	chmod +x "$T/$t"
done
SHEEP=$T/sheep
DOG=$T/dog
STATIC=false
ldd "$REAL_SHEEP" >/dev/null 2>&1 || STATIC=true

# cs_start NAME [QUORUM=votequorum|none] [IPC=socket|shm]: one corosync in NS
cs_start() {
	local name=$1 quorum=${2:-votequorum} ipc=${3:-socket} i
	mkdir -p "$T/$name"
	{
		printf 'totem {\n\tversion: 2\n\tcluster_name: %s\n\ttransport: knet\n\ttoken: 1000\n}\n' "$name"
		printf 'nodelist {\n\tnode {\n\t\tring0_addr: 127.0.0.1\n\t\tnodeid: 1\n\t}\n}\n'
		[ "$quorum" = votequorum ] && printf 'quorum {\n\tprovider: corosync_votequorum\n}\n'
		printf 'system {\n\tstate_dir: %s\n' "$T/$name"
		[ "$ipc" = socket ] && printf '\tqb_ipc_type: socket\n'
		printf '}\nlogging {\n\tto_logfile: yes\n\tlogfile: %s/corosync.log\n\tto_syslog: no\n\tto_stderr: no\n}\n' "$T/$name"
	} >"$T/$name.conf"
	ip netns exec "$NS" unshare --mount --propagation private sh -c \
		"mount -t tmpfs tmpfs /run && exec corosync -f -c $T/$name.conf" >"$T/$name/out" 2>&1 &
	CS_PID=$!
	disown "$CS_PID"
	for i in $(seq 1 100); do
		ip netns exec "$NS" corosync-cpgtool >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "corosync $name did not come up: $(tail -3 "$T/$name/out")"
	return 1
}
cs_stop() { kill -9 "$CS_PID" 2>/dev/null; wait_dead "$CS_PID"; cs_shm_gone "$CS_PID"; CS_PID=; }

# stop_all IDX...: kill -9 these sheep and wait until they are gone
stop_all() {
	local i
	for i in "$@"; do kill -9 "$(pid_of "$i")" 2>/dev/null; done
	for i in "$@"; do wait_dead "$(pid_of "$i")"; done
}

# ---- how a sheep fails -------------------------------------------------------
expect_fail "no -c and no corosync: sheep exits at once, naming both fixes" 1 \
	"no corosync answered.*Start corosync.*-c local.*-c zookeeper" \
	timeout 20 "$SHEEP" -b 127.0.0.1 -p "$(port_of 0)" "$T/0"
check "and nothing is left listening" port_free "$(port_of 0)"
expect_fail "a bad corosync option is refused" 1 "invalid corosync option 'a/b'" \
	timeout 20 "$SHEEP" -b 127.0.0.1 -p "$(port_of 0)" -c corosync:a/b "$T/0"

check "corosync without a quorum provider starts" cs_start noquorum none
expect_fail "no quorum provider: refused, naming votequorum" 1 \
	"without a quorum provider.*corosync_votequorum" \
	timeout 20 "$SHEEP" -b 127.0.0.1 -p "$(port_of 0)" -c corosync "$T/0"
cs_stop

check "corosync on its default shared-memory IPC starts" cs_start shm votequorum shm
if $STATIC; then
	expect_fail "musl sheep on shared-memory IPC: refused, naming qb_ipc_type: socket" 1 \
		"qb_ipc_type: socket" timeout 30 "$SHEEP" -b 127.0.0.1 -p "$(port_of 0)" "$T/0"
else
	CLUSTER=corosync check "glibc sheep on shared-memory IPC joins" start_sheep 0
	check "and serves" wait_members 0 0
	stop_all 0
fi
cs_stop
rm -rf "$T/0"

# ---- five sheep at once, three times ----------------------------------------
check "corosync (votequorum, socket IPC) starts" cs_start main
for round in 1 2 3; do
	jobs=()
	for i in 1 2 3 4 5; do
		CLUSTER=corosync:r$round start_sheep "$i" &
		jobs+=($!)
	done
	wait "${jobs[@]}"	# not corosync, also our child
	for i in 1 2 3 4 5; do
		check "round $round: node $i lists all five" wait_members "$i" 1 2 3 4 5
	done
	check "round $round: all five list the members in one order" test \
		"$(for i in 1 2 3 4 5; do dogp "$i" node list -r | md5sum; done | sort -u | wc -l)" = 1
	stop_all 1 2 3 4 5
	rm -rf "$T"/[1-5]
done

# ---- a cluster, its operations, kill -9 and restart --------------------------
export CLUSTER=corosync:data
for i in 1 2 3; do
	check "node $i starts" start_sheep "$i"
done
check "three members" wait_members 1 1 2 3
check "format, 2 copies" dogp 1 cluster format -c 2
head -c $((8 << 20)) /dev/urandom >"$T/d"
check "a VDI written through node 1" bash -c \
	"'$DOG' vdi create d 8M -p $(port_of 1) && '$DOG' vdi write d -p $(port_of 1) <'$T/d'"
check "reads back through node 3" same_data 3 "$T/d" d
# the block path from every node at once: VDI creation, then snapshots
jobs=()
for i in 1 2 3; do
	dogp "$i" vdi create "v$i" 8M &
	jobs+=($!)
done
wait "${jobs[@]}"
jobs=()
for i in 1 2 3; do
	dogp "$i" vdi snapshot -s "s$i" "v$i" &
	jobs+=($!)
done
wait "${jobs[@]}"
for i in 1 2 3; do
	check "node $i lists 4 VDIs and the 3 snapshots" test "$(dogp "$i" vdi list -r |
		awk '$1 == "=" { print "working" } $1 == "s" { print $2 ":" $10 }' | sort | uniq -c | xargs)" = \
		"1 v1:s1 1 v2:s2 1 v3:s3 4 working"
done
check "the three nodes list the same VDIs" test "$(for i in 1 2 3; do
	dogp "$i" vdi list -r | awk '{ print $1, $2, $3, $4, $10 }' | sort | md5sum; done | sort -u | wc -l)" = 1

old=$(pid_of 2)
kill -9 "$old"
check "kill -9 of node 2: node 1 sees it leave" wait_members 1 1 3
check "node 3 sees it leave" wait_members 3 1 3
check "d reads back through node 3" same_data 3 "$T/d" d
wait_dead "$old"
check "node 2 restarts" start_sheep 2
check "as a new member" test "$(pid_of 2)" != "$old"
check "node 1 lists three again" wait_members 1 1 2 3
check "the three agree on the epoch" test \
	"$(for i in 1 2 3; do epoch_of "$i"; done | sort -u | wc -l)" = 1
check "every node recovers" retry 30 all_recovered 1 2 3
check "d reads back through node 2" same_data 2 "$T/d" d

# ---- corosync killed under the sheep -----------------------------------------
pids=$(for i in 1 2 3; do pid_of "$i"; done | xargs)
cs_stop
starts_over() { grep -q "corosync is gone; restarting" "$T/$1/sheep.log"; }
for i in 1 2 3; do
	check "node $i starts over when corosync dies" retry 10 starts_over "$i"
done
check "in place: the same processes live on" bash -c "kill -0 $pids"
check "node 1 serves no IO as a member" bash -c \
	"! '$DOG' vdi read d 0 4096 -p $(port_of 1) >/dev/null 2>&1"
check "and lists no members" test -z "$(members 1)"
check "corosync comes back" cs_start main
for i in 1 2 3; do
	check "node $i rejoins" wait_members "$i" 1 2 3
done
check "d reads back through node 1" same_data 1 "$T/d" d
check "the VDIs are all there" test "$(dogp 2 vdi list -r | wc -l)" = 7

finish
