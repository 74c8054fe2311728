#!/bin/bash
# Many sheep, one cluster, on the local driver: membership and epochs on
# every node, replicas placed on `copies` distinct zones (checked on disk),
# writes through one node read back through every other, kill -9 of
# copies-1 nodes loses nothing, a restarted node rejoins, a node of another
# cluster is refused, and a second local cluster stays independent.
TEST_PORT_OFFSET=100
source "$(dirname "$0")/../lib.sh"

# kill_and_time IDX WATCHER...: kill -9 node IDX, wait until every
# WATCHER lists it no more; prints the milliseconds that took
kill_and_time() {
	local idx=$1 t0 w pid
	shift
	pid=$(pid_of "$idx")
	t0=$(date +%s%N)
	kill -9 "$pid"
	for w in "$@"; do
		local i gone=0
		for i in $(seq 1 400); do
			if ! members "$w" | grep -qw "$(port_of "$idx")"; then gone=1; break; fi
			sleep 0.025
		done
		[ $gone = 1 ] || return 1
	done
	echo "leave of node $idx seen by nodes $* after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
	wait_dead "$pid"
}

# ---- three nodes, copies 2 ----------------------------------------------
BASE=0
# fixed vnodes (-V, as format -V below needs: Sheepdog's dog checks every node's strategy)
for i in 0 1 2; do
	check "node $i starts" start_sheep $i -V 128
done
for i in 0 1 2; do
	check "node $i lists all three members" wait_members $i 0 1 2
done
expect_fail "IO before format is refused on a member" 1 "Waiting for cluster to be formatted" \
	dogp 2 vdi create early 1G
# fixed vnodes (-V): the weights section below sets node 1's own
check "format through node 1" dogp 1 cluster format -c 2 -V
for i in 0 1 2; do
	check "node $i: running at epoch 1" test "$(epoch_of $i)" = 1
done
check "cluster info: epoch 1 lists the three nodes" bash -c \
	"'$DOG' cluster info -p $(port_of 2) | grep -qE ' 1 \[127.0.0.1:$(port_of 0):[0-9]+, 127.0.0.1:$(port_of 1):[0-9]+, 127.0.0.1:$(port_of 2):[0-9]+\]'"
check "node info covers the three nodes" test "$(dogp 0 node info -r | grep -cE '^[0-2] ')" = 3

head -c $((64 << 20)) /dev/urandom >"$T/v.data"
check "create v (64M) through node 0" dogp 0 vdi create v 64M
check "write 64 MiB through node 0" dogp 0 vdi write v <"$T/v.data"
# unaligned patches across object boundaries, through different nodes
check "unaligned write across objects through node 2" patch 2 v "$T/v.data" 4190000 5000000
for i in 1 2 0; do
	check "node $i reads v byte-identical" same_data $i "$T/v.data" v
done
check "vdi list is the same on every node" bash -c \
	"a=\$('$DOG' vdi list -r -p $(port_of 0)); b=\$('$DOG' vdi list -r -p $(port_of 2)); [ \"\$a\" = \"\$b\" ] && grep -q '^= v ' <<<\"\$a\""
check "every object has 2 replicas in distinct zones, all identical" placement 2 0 1 2

out=$(dogp 1 vdi object -i 5 v)
check "vdi object -i 5: two holders" test "$(grep -c 'has the object$' <<<"$out")" = 2
check "vdi object -i 5: one node without it" test "$(grep -c "doesn't have the object" <<<"$out")" = 1
oid=$(grep -o 'Looking for the object [0-9a-f]\{16\}' <<<"$out" | awk '{print $5}')
holders=$(for i in 0 1 2; do [ -e "$T/$i/obj/$oid" ] && echo "127.0.0.1:$(port_of $i)"; done | xargs)
check "vdi object agrees with the disk" test "$(grep 'has the object' <<<"$out" | awk '{print $1}' | xargs)" = "$holders"
# Sheepdog's closing lines: where the ring puts it, which is where it is
check "vdi object: the expected holders are the holders" test \
	"$(grep -A1 'According to sheepdog algorithm' <<<"$out" | tail -1 | tr ' ' '\n' | sort | xargs)" = "$holders"
out=$(dogp 0 vdi object v)
check "vdi object: the inode has two holders" test "$(grep -c 'has the object' <<<"$out")" = 2

# a peer request from a stale epoch is refused; from the future too
check "peer op with a stale epoch: OLD_NODE_VER; future: NEW_NODE_VER" python3 - "$(port_of 0)" "$TOP/tests/cluster" <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
from sdclient import Client
c = Client(int(sys.argv[1]))
body = Client.obj_body(0x123)
old, _, _ = c.call(0xA4, body, dlen=4096, ver=0x0a, epoch=0)
new, _, _ = c.call(0xA4, body, dlen=4096, ver=0x0a, epoch=99)
print("stale -> 0x%02x, future -> 0x%02x" % (old, new))
sys.exit(0 if (old, new) == (0x81, 0x82) else 1)
EOF

# kill -9 one node (copies - 1): everything stays readable
lat=$(kill_and_time 2 0 1)
check "the leave of a kill -9'd node reaches both survivors" test -n "$lat"
echo "info: $lat"
for i in 0 1; do
	check "node $i: epoch 2 after the leave" test "$(epoch_of $i)" = 2
	check "node $i reads v byte-identical with node 2 dead" same_data $i "$T/v.data" v
done
# restart: the node rejoins at a new epoch and serves reads
check "node 2 restarts" start_sheep 2
for i in 0 1 2; do
	check "node $i lists three members again" wait_members $i 0 1 2
	check "node $i: epoch 3 after the rejoin" test "$(epoch_of $i)" = 3
done
check "restarted node 2 reads v byte-identical" same_data 2 "$T/v.data" v
history() { [ "$(dogp 2 cluster info -r | grep -cE '^[0-9]+ [0-9]+ \[')" = 3 ]; }
check "restarted node 2 learns the epoch it missed (history 1-3)" retry 10 history
# (writes while a replica is down, and the stale replica it comes back
# with, are the recovery tests' subject: tests/cluster/recovery.sh)
check "write through the restarted node" patch 2 v "$T/v.data" 30000000 3000000
for i in 0 1 2; do
	check "node $i reads the new data" same_data $i "$T/v.data" v
done
check "a VDI created after the rejoin is seen by all" dogp 2 vdi create late 8M
for i in 0 1; do
	check "node $i sees late" bash -c "'$DOG' vdi list -r -p $(port_of $i) | grep -q '^= late '"
done

# weights: a node's vnodes change through the total order, as a new epoch
check "node 1 shows its vnodes" test "$(dogp 1 node vnodes)" -gt 0
check "set node 1's vnodes to 50" dogp 1 node vnodes set 50
for i in 0 1 2; do
	check "node $i: epoch 4 after the weight change" wait_epoch $i 4
	check "node $i lists node 1 with 50 vnodes" bash -c \
		"'$DOG' node list -r -p $(port_of $i) | grep -qx '1 127.0.0.1:$(port_of 1) 50 1'"
done
check "reweight leaves a fixed node alone" dogp 0 cluster reweight
check "node 1 still has 50 vnodes" test "$(dogp 1 node vnodes)" = 50
expect_fail "vnodes set 0 is refused" 64 "must be an integer between 1 and 65535" dogp 1 node vnodes set 0
check "v still reads byte-identical after the ring changed" same_data 1 "$T/v.data" v
E1=$(epoch_of 0)

# ---- a second local cluster on the same machine stays apart --------------
CLUSTER=local:$T/cluster2 check "node 10 starts" start_sheep 10
CLUSTER=local:$T/cluster2 check "node 11 starts" start_sheep 11
check "cluster 2 has its own two members" wait_members 10 10 11
check "cluster 1 still lists its three" wait_members 0 0 1 2
check "format cluster 2" dogp 10 cluster format -c 2
check "cluster 2 starts empty" test -z "$(dogp 11 vdi list -r)"
check "create in cluster 2" dogp 11 vdi create other 4M
check "cluster 1 does not see cluster 2's VDI" bash -c \
	"! '$DOG' vdi list -r -p $(port_of 0) | grep -q '^= other '"
check "cluster 1 epoch unchanged" test "$(epoch_of 0)" = "$E1"

# a node that belongs to another cluster is refused with a clear error
kill9_sheep 11
check "cluster 2 sees node 11 go" wait_members 10 10
expect_fail "a store of another cluster is refused" 1 "belongs to another cluster" \
	"$SHEEP" -b 127.0.0.1 -p "$(port_of 11)" -c "local:$T/cluster" -z 11 "$T/11"
check "the refused node is not a member" wait_members 0 0 1 2
check "the refused node does not change the epoch" test "$(epoch_of 0)" = "$E1"
check "the refused sheep exits" port_free "$(port_of 11)"

# ---- five nodes, copies 3, zones 0 0 1 1 2 -------------------------------
BASE=20
Z=(0 0 1 1 2)
for k in 0 1 2 3 4; do
	CLUSTER=local:$T/cluster5 check "node $((20 + k)) starts" start_sheep $((20 + k)) -z "${Z[$k]}"
done
check "five members" wait_members 24 20 21 22 23 24
check "format copies 3" dogp 22 cluster format -c 3
head -c $((40 << 20)) /dev/urandom >"$T/w.data"
check "create w through node 23" dogp 23 vdi create w 40M
check "write 40 MiB through node 23" dogp 23 vdi write w <"$T/w.data"
for k in 0 1 2 4; do
	check "node $((20 + k)) reads w byte-identical" same_data $((20 + k)) "$T/w.data" w
done
check "every object has 3 replicas, one per zone" placement 3 "${Z[@]}"
lat=$(kill_and_time 20 21 22 23 24)
check "leave of node 20 seen by all four" test -n "$lat"
echo "info: $lat"
lat=$(kill_and_time 23 21 22 24)
check "leave of node 23 seen by the three left" test -n "$lat"
echo "info: $lat"
for k in 1 2 4; do
	check "survivor node $((20 + k)) reads w byte-identical" same_data $((20 + k)) "$T/w.data" w
	check "survivor node $((20 + k)) is at epoch 3" test "$(epoch_of $((20 + k)))" = 3
done

# writes keep working: holders that lack an object get it copied first
check "write through survivor node 22 after two kills" patch 22 w "$T/w.data" 10000000 6000000
for k in 1 4; do
	check "survivor node $((20 + k)) reads the new data" same_data $((20 + k)) "$T/w.data" w
done

# ---- copies are limited by zones: 3 nodes in 2 zones keep 2 copies ------
BASE=30
CLUSTER=local:$T/cluster3 check "node 30 starts" start_sheep 30 -z 7
CLUSTER=local:$T/cluster3 check "node 31 starts" start_sheep 31 -z 7
CLUSTER=local:$T/cluster3 check "node 32 starts" start_sheep 32 -z 9
check "three members in two zones" wait_members 30 30 31 32
check "format copies 3" dogp 30 cluster format -c 3
head -c $((20 << 20)) /dev/urandom >"$T/z.data"
check "write through node 31" bash -c "'$DOG' vdi create z 20M -p $(port_of 31) && '$DOG' vdi write z -p $(port_of 31) <'$T/z.data'"
check "two zones hold two copies of everything" placement 2 7 7 9
check "node 32 reads z byte-identical" same_data 32 "$T/z.data" z

# ---- a whole-cluster restart waits for the nodes of the last epoch ------
E3=$(epoch_of 30)
pids=("$(pid_of 30)" "$(pid_of 31)" "$(pid_of 32)")
check "cluster shutdown" dogp 30 cluster shutdown
for p in "${pids[@]}"; do
	check "sheep $p exits after the shutdown" wait_dead "$p"
done
CLUSTER=local:$T/cluster3 check "node 30 restarts" start_sheep 30 -z 7
CLUSTER=local:$T/cluster3 check "node 32 restarts" start_sheep 32 -z 9
check "two of three back: waiting for the third" bash -c \
	"'$DOG' cluster info -p $(port_of 30) | grep -q 'Waiting for other nodes to join cluster'"
expect_fail "IO waits for the third" 1 "Waiting for other nodes to join cluster" \
	dogp 32 vdi read z 0 512
CLUSTER=local:$T/cluster3 check "node 31 restarts" start_sheep 31 -z 7
check "all back: running" bash -c \
	"'$DOG' cluster info -p $(port_of 30) | grep -q 'Cluster status: running'"
check "the same nodes come back at the same epoch" test "$(epoch_of 31)" = "$E3"
check "z reads byte-identical after the restart" same_data 31 "$T/z.data" z

finish
