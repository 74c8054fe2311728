#!/bin/bash
# Sheepdog's own command lines and cluster behaviours, as its users meet them:
# the cluster guide's local one-liner (-c local without a directory, -d),
# the zookeeper form with several servers and timeout=10s, -i host=,port=;
# sheep's option errors in Sheepdog's words; auto vnodes (128 x space /
# average: 55/110/219 for 2/4/8 GB, at join, leave, restart and reweight),
# cluster format -V (fixed vnodes) and dog cluster info -v's lines; format
# -R (vids from 1 up, a wholly deleted family's vids reused); the
# epoch history of a node that was down while the cluster went on, or that
# joined later.
TEST_PORT_OFFSET=310
source "$(dirname "$0")/../lib.sh"

# near_128 IDX N [REST]: node IDX lists N nodes of 126-130 vnodes, then REST
near_128() {
	local v
	v=$("$DOG" node list -r -p "$(port_of "$1")" | awk '{print $3}' | xargs)
	awk -v n="$2" -v rest="${3:-}" '{
		for (i = 1; i <= n; i++) if ($i < 126 || $i > 130) exit 1
		r = ""; for (i = n + 1; i <= NF; i++) r = r (r == "" ? "" : " ") $i
		exit !(NF >= n && r == rest) }' <<<"$v" || { echo "node $1 lists vnodes [$v]"; return 1; }
}

# ---- the guide's local one-liner, verbatim but for our ports and paths ----
# -c local with no directory means /tmp/sheep-local, one per machine: skip
# if another cluster lives there now.
LOCAL_DIR=/tmp/sheep-local
local_busy() {
	local f
	[ -d "$LOCAL_DIR" ] || return 1
	[ -w "$LOCAL_DIR" ] || return 0
	for f in "$LOCAL_DIR"/alive.*; do
		[ -e "$f" ] || continue
		flock -n "$f" true || return 0
	done
	return 1
}
if local_busy; then
	echo "SKIP: another sheep cluster uses $LOCAL_DIR: the one-liner check needs it idle"
else
	S=$T/store
	for i in 0 1 2; do "$SHEEP" -c local -d $S/$i -z $i -p $(port_of $i); sleep 1; done
	for i in 0 1 2; do
		p=$(pgrep -f -- "-d $S/$i -z $i ")	# our own stores' daemons, for cleanup
		[ -n "$p" ] && PIDS+=($p)
	done
	check "the one-liner starts three sheep" test "${#PIDS[@]}" = 3
	check "they find each other through -c local's default" wait_members 0 0 1 2
	check "node 2 lists the three too" wait_members 2 0 1 2
	check "-d logs at level debug" grep -q '^debug ' "$S/0/sheep.log"
	check "-z sets each zone" bash -c "'$DOG' node list -r -p $(port_of 1) | awk '{print \$4}' | xargs | grep -qx '0 1 2'"
	check "format the one-liner's cluster" dogp 0 cluster format -c 2
	# equal disks: 128 each; the three measure one busy file system a second
	# apart, so allow the 1-2% its free space may move meanwhile
	check "equal disks: about 128 vnodes each" near_128 2 3
	for p in "${PIDS[@]}"; do kill "$p"; wait_dead "$p"; done
	PIDS=()
fi

# ---- zookeeper:IP1:2181,IP2:2181,IP3:2181,timeout=10s ----------------------
# No ZooKeeper here: the form must parse (three servers, the timeout) and the
# start must fail after the timeout, saying so, not on the option.
ZK="zookeeper:127.0.0.1:$(port_of 40),127.0.0.1:$(port_of 41),127.0.0.1:$(port_of 42),timeout=10s"
t0=$(date +%s)
expect_fail "the guide's zookeeper form: no server answers" 1 \
	"cannot start the cluster driver '$ZK': no server answered" "$SHEEP" "$T/zk" -c "$ZK" -p "$(port_of 43)"
t1=$(date +%s)
check "it gave up after the 10 s timeout" test $((t1 - t0)) -ge 9 -a $((t1 - t0)) -le 20
check "all three servers and the timeout were taken" grep -q \
	"no server of 127.0.0.1:$(port_of 40),127.0.0.1:$(port_of 41),127.0.0.1:$(port_of 42) answered within 10000 ms" \
	"$T/zk/sheep.log"

# Sheepdog's own help form: a /cluster_id after the servers, timeout in ms
ZK="zookeeper:127.0.0.1:$(port_of 40),127.0.0.1:$(port_of 41)/mycluster,timeout=1000"
t0=$(date +%s)
expect_fail "sheepdog's 'IP:PORT,IP:PORT/cluster_id,timeout=1000' form parses" 1 \
	"no server answered" "$SHEEP" "$T/zk2" -c "$ZK" -p "$(port_of 43)"
t1=$(date +%s)
check "timeout=1000 is 1000 ms, as Sheepdog's" grep -q "answered within 1000 ms" "$T/zk2/sheep.log"
check "so it gave up within a few seconds" test $((t1 - t0)) -le 5
expect_fail "an empty cluster id is refused" 1 "invalid driver options" \
	"$SHEEP" "$T/zk3" -c "zookeeper:127.0.0.1:$(port_of 40)/,timeout=1000" -p "$(port_of 43)"

# ---- -i host=yyy,port=xxx ---------------------------------------------------
CLUSTER=local:$T/ci check "sheep -i host=127.0.0.1,port=N starts" start_sheep 5 -i "host=127.0.0.1,port=$(port_of 6)"
check "it serves on the IO address too" bash -c "[ -n \"\$(ss -ltnH 'sport = :$(port_of 6)')\" ]"
check "dog reaches it there" "$DOG" node list -p "$(port_of 6)"
expect_fail "-i with a bad host is refused" 1 "invalid IO address 'zz'" "$SHEEP" -i host=zz "$T/x"

# ---- option errors in Sheepdog's words (exit 1) ---------------------------
expect_fail "-p 0" 1 "^Invalid port number '0'$" "$SHEEP" -p 0 "$T/x"
expect_fail "-z abc" 1 "^Invalid zone id 'abc': must be an integer between 0 and 4294967295$" \
	"$SHEEP" -z abc "$T/x"
expect_fail "-V 0" 1 "^Invalid number of vnodes '0': must be an integer between 1 and 65535$" \
	"$SHEEP" -V 0 "$T/x"
expect_fail "-V 70000" 1 "^Invalid number of vnodes '70000': must be an integer between 1 and 65535$" \
	"$SHEEP" -V 70000 "$T/x"
expect_fail "-g with -V" 1 "^Options '-g' and '-V' can not be both specified$" "$SHEEP" -g -V 3 "$T/x"

# ---- auto vnodes: 128 x space / average --------------------------------------
# A store keeps its space in its config (Sheepdog's layout: the u64 at 32),
# measured at its first start; seed 2, 4 and 8 GB to stand for three disks.
seed_space() {
	mkdir -p "$T/$1"
	python3 -c "import struct,sys; open(sys.argv[1],'wb').write(bytes(32)+struct.pack('<Q',int(sys.argv[2])))" \
		"$T/$1/config" "$2"
}
vnodes_of() { "$DOG" node list -r -p "$(port_of "$1")" | awk '{print $3}' | xargs; }
seed_space 10 2000000000
seed_space 11 4000000000
seed_space 12 8000000000
export CLUSTER=local:$T/c2
for i in 10 11 12; do check "node $i starts" start_sheep $i; done
check "three members" wait_members 10 10 11 12
check "format (auto vnodes)" dogp 10 cluster format -c 2
check "2/4/8 GB get 55/110/219 vnodes (Sheepdog's formula)" test "$(vnodes_of 11)" = "55 110 219"
check "the epoch log holds the weights in use" bash -c \
	"'$DOG' cluster info -p $(port_of 12) | grep -q ':$(port_of 10):55, 127.0.0.1:$(port_of 11):110, 127.0.0.1:$(port_of 12):219\]'"
info=$(dogp 10 cluster info -v)
check "info -v: Cluster store" grep -qx "Cluster store: plain with 2 redundancy policy" <<<"$info"
check "info -v: auto strategy" grep -qx "Cluster vnodes strategy: auto" <<<"$info"
check "info -v: node mode" grep -qx "Cluster vnode mode: node" <<<"$info"
check "info -v: 'Cluster created' follows at once" bash -c "sed -n 5p <<<'$info' | grep -q '^Cluster created at '"
check "info -v -r: the bare values" bash -c \
	"'$DOG' cluster info -v -r -p $(port_of 10) | sed -n 2,4p | xargs | grep -qx 'plain with 2 redundancy policy auto node'"
expect_fail "node vnodes set in an auto cluster: Sheepdog's words, exit 255" 255 "^Failed to execute request$" dogp 10 node vnodes set 50
head -c 8M /dev/urandom >"$T/v"
check "create and write v" bash -c "'$DOG' vdi create v 8M -p $(port_of 10) && '$DOG' vdi write v -p $(port_of 10) <'$T/v'"
# a gateway stores nothing and does not count in the average
check "a gateway joins" start_sheep 13 -g
check "four members" wait_members 10 10 11 12 13
check "the gateway has 0, the others keep 55/110/219" test "$(vnodes_of 10)" = "55 110 219 0"
# a leave weighs the rest again: 2 and 4 GB average 3 GB
kill9_sheep 12
check "node 12 left" wait_members 10 10 11 13
check "after the leave: 85/171 (2 and 4 GB over a 3 GB average)" test "$(vnodes_of 11)" = "85 171 0"
expect_fail "a new node with -V is refused by an auto cluster, saying why" 1 \
	"weighs vnodes automatically \(formatted without -V\): start this node without -V" \
	start_sheep 14 -V 10
check "node 12 restarts" start_sheep 12
check "four members again" wait_members 11 10 11 12 13
check "a restart weighs the same (space kept in the config)" test "$(vnodes_of 13)" = "55 110 219 0"
check "v reads back through the gateway" same_data 13 "$T/v" v
# reweight measures the disks again: here one file system, so equal weights
e=$(epoch_of 10)
check "cluster reweight" dogp 10 cluster reweight
check "equal disks after reweight: about 128 each, the gateway 0" retry 10 near_128 11 3 0
check "the reweight made new epochs" test "$(epoch_of 10)" -gt "$e"
check "v reads back after the reweight" same_data 11 "$T/v" v
# format -V: a fixed-vnodes cluster. Sheepdog's dog refuses it on nodes that
# run auto vnodes, so the nodes start again, empty, with -V 128
expect_fail "format -V of the auto cluster: refused, as Sheepdog's dog does" 1 \
	"^Can not apply the option of '-V', because there are vnode strategy of sheep is auto in the cluster$" \
	dogp 10 cluster format -c 2 -V -f
for i in 10 11 12 13; do kill9_sheep $i; rm -rf "${T:?}/$i"; done
export CLUSTER=local:$T/c2b
for i in 10 11 12; do check "node $i starts again, empty, with -V 128" start_sheep $i -V 128; done
check "the gateway starts again" start_sheep 13 -g
check "four members" wait_members 10 10 11 12 13
check "format -V" dogp 10 cluster format -c 2 -V -f
check "info -v: fixed strategy" bash -c "'$DOG' cluster info -v -p $(port_of 11) | grep -qx 'Cluster vnodes strategy: fixed'"
check "fixed: each node its own default 128" test "$(vnodes_of 12)" = "128 128 128 0"
expect_fail "a new node without -V is refused by a fixed cluster, saying why" 1 \
	"fixed vnodes \(formatted with -V\): start this node with -V N" start_sheep 14
check "a new node with -V joins the fixed cluster" start_sheep 15 -V 64
check "five members" wait_members 10 10 11 12 13 15
check "it has its own 64" test "$(vnodes_of 10)" = "128 128 128 0 64"
kill9_sheep 15
check "node 15 left" wait_members 10 10 11 12 13
check "node vnodes set 50 in a fixed cluster" dogp 10 node vnodes set 50
check "node 10 now has 50" retry 10 bash -c "[ \"\$('$DOG' node list -r -p $(port_of 12) | awk '{print \$3}' | xargs)\" = '50 128 128 0' ]"
kill9_sheep 10
check "node 10 restarts without -V" start_sheep 10
check "four members" wait_members 11 10 11 12 13
check "it keeps its 50 vnodes (no data moves)" test "$(vnodes_of 11)" = "50 128 128 0"
kill9_sheep 11
check "node 11 restarts with -V 100" start_sheep 11 -V 100
check "four members" wait_members 12 10 11 12 13
check "a -V given at restart wins" test "$(vnodes_of 12)" = "50 100 128 0"
unset CLUSTER

# ---- format -R: vids recycled as Sheepdog's (output checked against it) -----
export CLUSTER=local:$T/c4
for i in 30 31 32; do check "node $i starts" start_sheep $i; done
check "three members" wait_members 30 30 31 32
check "format -R" dogp 30 cluster format -R -c 2
# has_vids IDX WANT: node IDX lists NAME=VID (s: a snapshot), sorted, as WANT
vids() { "$DOG" vdi list -r -p "$(port_of "$1")" | awk '{print $2 "=" $8 ($1 == "s" ? "s" : "")}' | sort | xargs; }
has_vids() { [ "$(vids "$1")" = "$2" ] || { echo "node $1 lists [$(vids "$1")]"; return 1; }; }
for v in a b; do check "create $v" dogp 30 vdi create $v 8M; done
check "snapshot a" dogp 30 vdi snapshot a
check "vids from 1 up: a's snapshot 1, b 2, a 3" has_vids 31 "a=1s a=3 b=2"
check "write a" bash -c "head -c 4M /dev/urandom | '$DOG' vdi write a -p $(port_of 30)"
check "delete b" dogp 30 vdi delete b
check "c takes b's vid 2" dogp 31 vdi create c 8M
check "vids: a 1s/3, c 2" has_vids 32 "a=1s a=3 c=2"
check "delete the working a (its snapshot lives on: nothing to recycle)" dogp 30 vdi delete a
check "a's snapshot still reads" bash -c "'$DOG' vdi read -s 1 a 0 4096 -p $(port_of 32) >/dev/null"
check "delete a's snapshot: the whole family is gone" dogp 30 vdi delete -s 1 a
check "d takes vid 1" dogp 32 vdi create d 4M
check "e takes vid 3" dogp 32 vdi create e 4M
for i in 30 31 32; do check "node $i: c 2, d 1, e 3" has_vids $i "c=2 d=1 e=3"; done
check "d reads as zeros (nothing of a's left)" bash -c "cmp -s <('$DOG' vdi read d -p $(port_of 31)) <(head -c 4M /dev/zero)"
check "info -v: still auto vnodes" bash -c "'$DOG' cluster info -v -p $(port_of 30) | grep -qx 'Cluster vnodes strategy: auto'"
unset CLUSTER

# ---- epoch history: every node shows every epoch ----------------------------
export CLUSTER=local:$T/c3
history_of() { dogp "$1" cluster info -r | awk '/^[0-9]+ [0-9]+ \[/ {print $2}' | xargs; }
# has_history IDX EPOCHS: node IDX shows exactly EPOCHS (newest first)
has_history() { [ "$(history_of "$1")" = "$2" ] || { echo "node $1 shows epochs [$(history_of "$1")]"; return 1; }; }
for i in 20 21 22; do check "node $i starts" start_sheep $i; done
check "three members" wait_members 20 20 21 22
check "format" dogp 20 cluster format -c 2
kill9_sheep 22
check "epoch 2 without node 22" wait_epoch 20 2
p20=$(pid_of 20) p21=$(pid_of 21)
check "shut the cluster down" dogp 20 cluster shutdown
check "nodes 20 and 21 stop" bash -c "$(declare -f wait_dead); wait_dead $p20 && wait_dead $p21"
# node 22, down at epoch 2, comes back first and waits for the others
check "node 22 starts first" start_sheep 22
for i in 20 21; do check "node $i starts" start_sheep $i; done
check "epoch 3 with all three" wait_epoch 22 3
check "node 22 shows the epoch it missed (3 2 1)" retry 10 has_history 22 "3 2 1"
for i in 20 21; do check "node $i shows 3 2 1" has_history $i "3 2 1"; done
check "a node that joins later" start_sheep 23
check "epoch 4" wait_epoch 23 4
check "it shows the whole history (4 3 2 1)" retry 10 has_history 23 "4 3 2 1"
check "with the same nodes as the others" bash -c \
	"diff <('$DOG' cluster info -r -p $(port_of 23) | cut -d' ' -f2-) <('$DOG' cluster info -r -p $(port_of 20) | cut -d' ' -f2-)"
unset CLUSTER

finish
