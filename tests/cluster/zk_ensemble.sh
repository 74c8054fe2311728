#!/bin/bash
# The zookeeper driver against a 3-server ZooKeeper ensemble on 127.0.0.1
# (client ports SHEEP_ZK_ENSEMBLE_PORT+1..3, default 21821-21823; peer and
# election ports 1010 and 1020 above those).  Losing one server, the leader, changes
# nothing for the sheep; losing quorum stalls cluster changes and IO (a sheep
# that cannot reach ZooKeeper cannot tell a lost quorum from its own link
# cut, after which the others would drop it: it serves nothing meanwhile),
# data are untouched, and the cluster goes on when quorum returns.
TEST_PORT_OFFSET=240
source "$(dirname "$0")/../lib.sh"
ZB=${SHEEP_ZK_ENSEMBLE_PORT:-21820}
SERVERS=$(for n in 1 2 3; do echo "server.$n=127.0.0.1:$((ZB + 1010 + n)):$((ZB + 1020 + n))"; done)

for n in 1 2 3; do
	zk_start $n $((ZB + n)) "$SERVERS"
done
leader() {
	local n
	for n in 1 2 3; do
		zk_cmd $((ZB + n)) srvr | grep -q 'Mode: leader' && { echo $n; return 0; }
	done
	return 1
}
check "the ensemble elects a leader" retry 30 leader

export CLUSTER="zookeeper:127.0.0.1:$((ZB + 1)),127.0.0.1:$((ZB + 2)),127.0.0.1:$((ZB + 3)),timeout=8s,id=e$$"
for i in 0 1 2; do
	check "node $i joins" start_sheep $i
done
check "three members" wait_members 0 0 1 2
check "format copies 2" dogp 0 cluster format -c 2
head -c $((16 << 20)) /dev/urandom >"$T/d"
check "create and write d" bash -c "'$DOG' vdi create d 16M -p $(port_of 0) && '$DOG' vdi write d -p $(port_of 1) <'$T/d'"

# the leader dies: nothing changes for the sheep
L=$(leader)
zk_kill "$L"
echo "info: killed ZooKeeper leader $L"
check "a new leader" retry 30 leader
check "a cluster op goes through after the election" retry 30 dogp 0 vdi create after-leader 4M
sleep 2
check "still three members" wait_members 2 0 1 2
check "still epoch 1 (no membership change)" test "$(epoch_of 1)" = 1
patch 2 d "$T/d" 1000000 2000000 || fail "write after the leader died"
check "d reads back" same_data 0 "$T/d" d

# quorum lost: cluster changes and IO stall, nothing is corrupted
L2=$(leader)
zk_kill "$L2"
echo "info: killed ZooKeeper leader $L2 too: no quorum"
sleep 2
check "a cluster op fails without quorum" bash -c \
	"! timeout 30 '$DOG' vdi create no-quorum 4M -p $(port_of 1)"
head -c 4096 /dev/urandom >"$T/probe"
check "a write without quorum is not acknowledged" bash -c \
	"! timeout 30 '$DOG' vdi write d 7000000 4096 -p $(port_of 0) <'$T/probe'"
check "node 1 logged its cluster link lost" retry 10 grep -q "cluster link lost" "$T/1/sheep.log"
check "a read without quorum is refused too" bash -c \
	"! timeout 30 '$DOG' vdi read d 0 4096 -p $(port_of 2) >/dev/null"

# quorum returns
zk_start "$L" $((ZB + L)) "$SERVERS"
zk_start "$L2" $((ZB + L2)) "$SERVERS"
check "quorum returns" retry 60 leader
check "cluster ops work again" retry 60 dogp 2 vdi create back 4M
check "node 1 logged its cluster link back" retry 10 grep -q "cluster link back" "$T/1/sheep.log"
patch 0 d "$T/d" 7000000 3000000 || fail "write after quorum returned"
check "all three sheep are still members" wait_members 0 0 1 2
check "and agree on the epoch" bash -c "[ \"\$('$DOG' cluster info -r -p $(port_of 0) | sed -n 2p)\" = \"\$('$DOG' cluster info -r -p $(port_of 2) | sed -n 2p)\" ]"
check "vdi list has after-leader and back" bash -c \
	"'$DOG' vdi list -r -p $(port_of 1) | grep -q '^= after-leader ' && '$DOG' vdi list -r -p $(port_of 1) | grep -q '^= back '"
for i in 0 1 2; do
	check "node $i reads d after quorum returned" same_data $i "$T/d" d
done
finish
