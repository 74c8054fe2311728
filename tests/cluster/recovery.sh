#!/bin/bash
# Recovery: no acknowledged write is ever lost and no stale copy is ever
# served.  Four nodes, copies 3, zones 0-3.  A node that missed writes comes
# back and serves only current data; a writer keeps writing verifiable
# blocks (through any node, failing over) while nodes are kill -9'd and
# restarted one at a time (RECOVERY_ROUNDS, default 3; `make test-long`
# runs 20), a fifth node joins and dies; then every acknowledged write reads
# back through two different nodes, and once recovery and the clean-up are
# done every object has exactly 3 identical replicas in 3 zones.  Then a
# power cut (all nodes kill -9), a clean cluster restart, recovery switched
# off and on, and a throttled node.  Writes made right after a restart
# (racing every node's check of its objects) leave every replica of an
# object with one version.
TEST_PORT_OFFSET=150
source "$(dirname "$0")/../lib.sh"
W="$TOP/tests/cluster/writer.py"
ROUNDS=${RECOVERY_ROUNDS:-3}
BASE=0

start_all() {
	local i
	for i in "$@"; do
		start_sheep "$i" || return 1
	done
}

verify() {	# verify IDX: the writer's log against the VDI, through node IDX
	local out
	out=$(python3 "$W" verify "$(port_of "$1")" w "$T/ack")
	echo "$out" | grep -v '^PASS'
	grep -q '^PASS' <<<"$out"
}

check "four nodes start" start_all 0 1 2 3
check "four members" wait_members 3 0 1 2 3
check "format copies 3" dogp 0 cluster format -c 3

# same_versions VDI: every replica of every object of VDI carries one version
same_versions() {
	local vid
	vid=$(dogp 0 vdi list -r "$1" | awk '{ print $8 }')
	python3 - "$T" "$vid" 0 1 2 3 <<'EOF2'
import collections, os, sys
top, vid, idx = sys.argv[1], int(sys.argv[2], 16), sys.argv[3:]
vers = collections.defaultdict(set)
for i in idx:
    d = os.path.join(top, i, "obj")
    for f in os.listdir(d):
        if len(f) == 16 and (int(f, 16) >> 32) & 0xffffff == vid:
            with open(os.path.join(d, f), "rb") as fh:
                fh.seek(-16, 2)
                vers[f].add(fh.read(16))
bad = [o for o, v in vers.items() if len(v) != 1]
print("%d objects, %d with differing versions %s" % (len(vers), len(bad), bad[:3]))
sys.exit(1 if bad or not vers else 0)
EOF2
}

# ---- a node that missed writes never serves its stale copy ---------------
head -c $((32 << 20)) /dev/urandom >"$T/s.data"
check "create s" dogp 0 vdi create s 32M
check "write s" dogp 0 vdi write s <"$T/s.data"
kill9_sheep 3
check "three left" wait_members 0 0 1 2
head -c $((32 << 20)) /dev/urandom >"$T/s.data"
check "overwrite all of s while node 3 is down" dogp 1 vdi write s <"$T/s.data"
check "node 3 restarts" start_sheep 3
check "node 3 is a member again" wait_members 0 0 1 2 3
check "node 3 serves the new data at once, never its stale copy" same_data 3 "$T/s.data" s
check "recovery completes on every node" retry 60 all_recovered 0 1 2 3
check "after the clean-up: 3 identical replicas per object, 3 zones" retry 30 placement 3 0 1 2 3
check "node 2 reads s" same_data 2 "$T/s.data" s

# ---- kill -9 and restart one node at a time while a writer writes ---------
check "create w (64M)" dogp 0 vdi create w 64M
python3 "$W" write "$(port_of 0),$(port_of 1),$(port_of 2),$(port_of 3)" w "$T/ack" 3600 \
	>"$T/writer.log" 2>&1 &
WPID=$!
CLEANUP_HOOK='kill $WPID 2>/dev/null'
sleep 1
for r in $(seq 1 "$ROUNDS"); do
	k=$(((r - 1) % 4))
	kill9_sheep "$k"
	sleep 1
	start_sheep "$k" || fail "round $r: node $k restarts"
	wait_members $(((k + 1) % 4)) 0 1 2 3 >/dev/null || fail "round $r: node $k rejoins"
	sleep 1
done
pass "$ROUNDS kill -9/restart rounds under writes"
# a node joins and dies while the writer goes on
check "a fifth node joins under writes" start_sheep 4
check "five members" wait_members 0 0 1 2 3 4
sleep 1
kill9_sheep 4
check "the fifth node's leave is seen" wait_members 0 0 1 2 3
sleep 1
kill "$WPID"
wait "$WPID" 2>/dev/null
check "the writer got acknowledgements" grep -q '^A ' "$T/ack"
echo "info: $(grep -c '^A ' "$T/ack") acknowledged writes"
check "every acknowledged write reads back through node 1" verify 1
check "and through node 3" verify 3
check "recovery completes after the rounds" retry 120 all_recovered 0 1 2 3
check "3 identical replicas per object after the rounds" retry 60 placement 3 0 1 2 3
check "still every acknowledged write after the clean-up" verify 2

# ---- power cut: every node kill -9, then all come back -------------------
for i in 0 1 2 3; do kill9_sheep $i; done
check "all four restart after a power cut" start_all 0 1 2 3
check "running again" retry 20 bash -c "'$DOG' cluster info -p $(port_of 0) | grep -q 'Cluster status: running'"
check "every acknowledged write survives the power cut" verify 0
check "s survives the power cut" same_data 1 "$T/s.data" s

# ---- a clean shutdown and restart -----------------------------------------
check "create g (64M)" dogp 0 vdi create g 64M
check "g written" dog benchmark io -n 8 -p "$(port_of 0)" g
pids=$(for i in 0 1 2 3; do pid_of $i; done)
check "cluster shutdown" dogp 0 cluster shutdown
for p in $pids; do wait_dead "$p"; done
check "all four restart after shutdown" start_all 0 1 2 3
check "running after the restart" retry 20 bash -c "'$DOG' cluster info -p $(port_of 0) | grep -q 'Cluster status: running'"
# at once, while every node checks its objects with the others: a node that
# fetches an object a peer has just written must not apply that write again
check "g written again while the restart's recovery runs" \
	dog benchmark io -n 8 -p "$(port_of 0)" g
check "recovery completes after the restart" retry 60 all_recovered 0 1 2 3
check "every replica of g has one version" same_versions g
check "every acknowledged write after the restart" verify 3

# ---- recovery off: IO still correct; on: redundancy comes back -----------
check "disable recovery" dogp 0 cluster recover disable
check "cluster info says so" bash -c "'$DOG' cluster info -p $(port_of 2) | grep -q 'auto-recovery disabled'"
kill9_sheep 3
check "three left" wait_members 0 0 1 2
sleep 1
check "with recovery off, the nodes wait in recovery" bash -c \
	"'$DOG' node recovery -r -p $(port_of 0) | grep -q recovering"
check "reads stay correct with recovery off" verify 1
# a node that joins while recovery is off learns it (it recovered anyway, saying 'enabled')
check "node 3 rejoins while recovery is off" start_sheep 3
check "the joiner says recovery is off" bash -c \
	"'$DOG' cluster info -p $(port_of 3) | grep -q 'auto-recovery disabled'"
check "the joiner waits in recovery" bash -c \
	"'$DOG' node recovery -r -p $(port_of 3) | grep -q recovering"
kill9_sheep 3
check "three left again" wait_members 0 0 1 2
check "enable recovery" dogp 1 cluster recover enable
check "recovery completes once enabled" retry 60 all_recovered 0 1 2
check "three nodes, copies 3: every object on all three" retry 30 placement 3 0 1 2

# ---- throttling: a node limited to 1 object per second stays in recovery --
expect_fail "a bad --recovery option is refused" 1 "invalid --recovery option" \
	"$SHEEP" -R max=0,interval=10 -p "$(port_of 9)" "$T/9"
check "node 3 restarts throttled to 1 object/s" start_sheep 3 -R max=1,interval=1000
sleep 2
check "the throttled node is still recovering after 2 s" bash -c \
	"'$DOG' node recovery -r -p $(port_of 0) | grep -q '^3 .* recovering'"
check "reads through the throttled node are current" verify 3
finish
