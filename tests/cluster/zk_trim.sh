#!/bin/bash
# The zookeeper driver's log does not grow with the cluster's history: the
# oldest member writes a snapshot of the membership state (BASE/snap) and
# deletes the records a snapshot has covered for keep= (2 s here).  Many
# cluster operations later the queue holds a bounded tail, a sheep that
# joins starts from the snapshot and knows every member (the kill -9 of one
# reaches it), the oldest member's own death hands the job on, and a
# snapshot that is not ours is ignored.  Against a real ZooKeeper.
TEST_PORT_OFFSET=560
source "$(dirname "$0")/../lib.sh"
ZK_PORT=${SHEEP_ZK_TRIM_PORT:-21841}
ID=trim$$
command -v java >/dev/null && [ -e /usr/share/java/zookeeper.jar ] || { echo "SKIP: $TEST_NAME: no java/ZooKeeper"; exit 0; }

# zk PATH COMMAND...: ZooKeeper's own command line client, once
zk() {
	java -cp "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar" \
		org.apache.zookeeper.ZooKeeperMain -server "127.0.0.1:$ZK_PORT" "$@" 2>/dev/null
}
# records: the queue's record numbers, one per line, sorted
records() { zk ls "/sheep/$ID/queue" | grep '^\[' | tr -d '[] ' | tr ',' '\n' | sed 's/^ev-0*//; s/^$/0/' | sort -n; }
# ops N FROM: N vdi creates through node 0 (two records each), names from FROM on
ops() {
	local i
	for i in $(seq "$2" $(($2 + $1 - 1))); do
		"$DOG" vdi create "v$i" 4M -p "$(port_of 0)" || return 1
	done
}

zk_start 1 "$ZK_PORT"
check "ZooKeeper answers" retry 30 zk_ok "$ZK_PORT"
export CLUSTER="zookeeper:127.0.0.1:$ZK_PORT,timeout=4s,keep=2s,id=$ID"
check "a bad keep= fails the start, saying why" bash -c \
	"! '$SHEEP' -c 'zookeeper:127.0.0.1:$ZK_PORT,keep=0s' -p $(port_of 9) '$T/9' 2>'$T/err9' &&
	 grep -q 'invalid driver options' '$T/err9' && grep -q \"bad keep '0s'\" '$T/9/sheep.log'"

for i in 0 1 2; do start_sheep "$i"; done
check "three members" wait_members 0 0 1 2
check "format copies 2" dogp 0 cluster format -c 2
check "150 cluster operations" ops 150 1
snap_there() { zk ls "/sheep/$ID" | grep -q snap; }
check "the oldest member wrote a snapshot" retry 20 snap_there
sleep 3	# keep= passes
check "150 more" ops 150 151
check "and deleted the records the first one covered" retry 20 grep -q "records of the log up to [0-9]* deleted" "$T/0/sheep.log"
low=$(records | head -1)
high=$(records | tail -1)
echo "info: the queue holds records $low-$high after 300 operations"
check "the first record is gone" test "${low:-0}" -gt 0
check "fewer records than the log had" test "$(records | wc -l)" -lt "$((high + 1))"

check "a fourth sheep joins" start_sheep 3
check "from the snapshot" grep -q "starting from the snapshot of the log at" "$T/3/sheep.log"
check "it lists all four" wait_members 3 0 1 2 3
check "at the members' epoch" test "$(epoch_of 3)" = "$(epoch_of 0)"
check "it sees all 300 VDIs" test "$(dogp 3 vdi list -r | wc -l)" = 300
check "a VDI created through it" dogp 3 vdi create w1 4M
check "is seen by the first" retry 10 bash -c "'$DOG' vdi list -r -p $(port_of 0) | grep -q ' w1 '"
check "the kill -9 of a member reaches the new one" test -n "$(kill9_timed 1 3)"
check "three members there" wait_members 3 0 2 3

# many more operations, in rounds a snapshot apart: the queue stays a tail
# (a snapshot is taken at most every 5 s, once 256 records came after the
# last; a trim drops what the one before covered: about two rounds are kept)
for r in 0 1 2 3; do
	check "round $r: 150 more" ops 150 $((301 + r * 150))
	sleep 6
done
low2=$(records | head -1)
n2=$(records | wc -l)
high2=$(records | tail -1)
echo "info: after 900 operations (1800 records) the queue holds $n2 records ($low2-$high2)"
check "the tail moved on" test "${low2:-0}" -gt "${low:-0}"
check "and holds about two rounds (under 800 records)" test "$n2" -lt 800

# the oldest member dies: the next one snapshots and trims
kill9_sheep 0
check "node 2 drops node 0" wait_members 2 2 3
sleep 3
check "150 more through node 2" bash -c "for i in \$(seq 901 1050); do '$DOG' vdi create v\$i 4M -p $(port_of 2) || exit 1; done"
sleep 3
check "50 more" bash -c "for i in \$(seq 1051 1100); do '$DOG' vdi create v\$i 4M -p $(port_of 2) || exit 1; done"
check "node 2 (the oldest now) trims" retry 20 grep -q "records of the log up to [0-9]* deleted" "$T/2/sheep.log"
check "node 0 rejoins" start_sheep 0
check "from the snapshot" grep -q "starting from the snapshot of the log at" "$T/0/sheep.log"
check "three members" wait_members 0 0 2 3
check "it sees 1101 VDIs" test "$(dogp 0 vdi list -r | wc -l)" = 1101

# a snapshot that is not ours: ignored, the join still works
zk set "/sheep/$ID/snap" garbage >/dev/null
check "a sheep joins past a garbage snapshot" start_sheep 1
# the joiner says so, unless the oldest member replaced it first (its next
# check, every 5 s: a slow start, e.g. under ASan, comes after it)
check "saying so" bash -c "grep -q 'is not a snapshot of ours' '$T'/[0-3]/sheep.log"
check "and a snapshot of ours is there again" retry 20 bash -c "grep -q 'is not a snapshot of ours: replaced' '$T'/[0-3]/sheep.log"
check "four members" wait_members 1 0 1 2 3
finish
