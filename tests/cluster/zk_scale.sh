#!/bin/bash
# Thirty sheep on one box against one ZooKeeper (3 storing, 27 gateway-only
# to spare memory): every one joins, all agree on the members and the epoch,
# IO works through a gateway-only node, and the kill -9 of a storing node
# reaches the farthest member within the session timeout + 2 s.  Prints the
# join time and the leave-detection latency.
TEST_PORT_OFFSET=260
source "$(dirname "$0")/../lib.sh"
ZK_PORT=${SHEEP_ZK_SCALE_PORT:-21831}
N=30
TIMEOUT_S=4

zk_start 1 "$ZK_PORT"
check "ZooKeeper answers" retry 30 zk_ok "$ZK_PORT"
export CLUSTER="zookeeper:127.0.0.1:$ZK_PORT,timeout=${TIMEOUT_S}s,id=s$$"

t0=$(date +%s%N)
ok=1
for i in $(seq 0 $((N - 1))); do
	if [ "$i" -lt 3 ]; then
		start_sheep "$i" -w 2 || ok=0
	else
		start_sheep "$i" -g -w 2 || ok=0
	fi
done
t1=$(date +%s%N)
check "$N sheep started and joined" test "$ok" = 1
echo "info: $N joins in $(((t1 - t0) / 1000000)) ms ($(((t1 - t0) / 1000000 / N)) ms each)"
all=$(seq 0 $((N - 1)) | xargs)
for i in 0 14 $((N - 1)); do
	check "node $i lists all $N members" wait_members "$i" $all
done
check "format copies 3" dogp 5 cluster format -c 3
check "the last node is at epoch 1" test "$(epoch_of $((N - 1)))" = 1
head -c $((8 << 20)) /dev/urandom >"$T/d"
check "IO through a gateway-only node" bash -c \
	"'$DOG' vdi create d 8M -p $(port_of 20) && '$DOG' vdi write d -p $(port_of 20) <'$T/d'"
check "read back through another" same_data 29 "$T/d" d

ms=$(kill9_timed 1 $((N - 1)))
check "the leave of a storing node reaches the last member" test -n "$ms"
echo "info: leave seen by node $((N - 1)) after $ms ms (session timeout ${TIMEOUT_S}000 ms)"
check "within the session timeout + 2 s" test "${ms:-99999}" -le $((TIMEOUT_S * 1000 + 2000))
check "every survivor agrees on the epoch" bash -c \
	"[ \"\$('$DOG' cluster info -r -p $(port_of 0) | sed -n 2p)\" = \"\$('$DOG' cluster info -r -p $(port_of 25) | sed -n 2p)\" ]"
check "d still reads through a gateway-only node" same_data 12 "$T/d" d
finish
