#!/bin/bash
# The corosync driver against real corosync: every node is a network
# namespace with its own corosync (knet, votequorum; tests/netns.sh), 3 nodes
# and then 5.  Each round: the ring forms with quorum, the sheep form a
# cluster, format with 3 copies, and the verifiable writer (through node 0,
# failing over) writes all along while: a sheep is kill -9'd (its leave is
# seen by every member; recovery completes), restarts and rejoins; corosync
# is killed on one node (its sheep leaves for everyone within the token
# timeout + consensus + 4 s, stays alive but takes no IO meanwhile, and
# rejoins, the same process, when corosync is back); a node's link goes down
# (the rest keep quorum and go on writing) and comes back.  Afterwards every
# acknowledged write reads back through every node, dog vdi check passes and
# every object has 3 identical replicas in 3 zones.  Times are printed as
# info: lines.  Without the corosync driver in sheep (sheep -v) only the
# rings are checked and the rest is skipped.
TEST_PORT_OFFSET=400
source "$(dirname "$0")/../lib.sh"
CS_TOKEN=${CS_TOKEN:-1000}
source "$TOP/tests/netns.sh"
ns_need
BASE=0

# round N: the whole scenario on N fresh nodes
round() {
	local n=$1 all others t0 ms tok bound pid i a0
	all=$(seq 0 $((n - 1)) | xargs)
	check "$n namespaces" ns_setup "$n"
	t0=$(date +%s%N)
	for i in $all; do cs_start "$i"; done
	# shellcheck disable=SC2086
	check "$n corosyncs form a quorate ring" cs_wait_ring "$n" $all
	tok=$(cs_token 0)
	echo "info: $n nodes: ring with quorum after $(ms_since "$t0") ms (token ${tok} ms)"
	# the leave of a dead corosync: token timeout, consensus (1.2 token), margin
	bound=$((tok * 22 / 10 + 4000))

	if [ "$HAVE_DRIVER" = 0 ]; then
		link_down 1
		# shellcheck disable=SC2086,SC2046
		check "$n nodes: a link down drops that node, quorum holds" cs_wait_ring $((n - 1)) $(all_but 1 "$n")
		link_up 1
		# shellcheck disable=SC2086
		check "$n nodes: back after link up" cs_wait_ring "$n" $all
		return
	fi

	t0=$(date +%s%N)
	for i in $all; do
		check "$n nodes: sheep $i starts" start_sheep "$i"
	done
	# shellcheck disable=SC2086
	check "$n nodes: every sheep lists all $n" retry 60 all_list $all
	echo "info: $n nodes: sheep cluster formed $(ms_since "$t0") ms after the first start"
	check "$n nodes: $n processes in CPG group sheep" cpg_count_is 0 "$n"
	check "$n nodes: format copies 3" dogp 0 cluster format -c 3
	check "$n nodes: create VDI w" dogp 0 vdi create "$WVDI" 48M
	head -c $((4 << 20)) /dev/urandom >"$T/x"
	check "$n nodes: create VDI x" dogp 1 vdi create x 4M
	check "$n nodes: write x" dogp 1 vdi write x <"$T/x"
	rm -f "$T/ack"
	# shellcheck disable=SC2086
	writer_start 3600 $all
	check "$n nodes: the writer writes" writes_go_on

	# kill -9 of a sheep: every member sees it leave; recovery
	i=$((n - 1))
	others=$(all_but "$i" "$n")
	t0=$(date +%s%N)
	kill9_sheep "$i"
	# shellcheck disable=SC2086
	check "$n nodes: the kill -9'd sheep $i leaves for every member" retry 30 gone_from "$i" $others
	ms=$(ms_since "$t0")
	echo "info: $n nodes: kill -9 of a sheep: leave seen by all members after $ms ms"
	check "$n nodes: its CPG member is gone" retry 10 cpg_count_is 0 $((n - 1))
	check "$n nodes: writes go on" writes_go_on
	# shellcheck disable=SC2086
	check "$n nodes: recovery completes" retry 90 all_recovered $others
	check "$n nodes: sheep $i restarts" start_sheep "$i"
	# shellcheck disable=SC2086
	check "$n nodes: sheep $i rejoins, seen by all" retry 60 in_all "$i" $all
	check "$n nodes: sheep $i reads x" same_data "$i" "$T/x" x

	# corosync killed on node 1: its sheep leaves for everyone, serves no IO
	i=1
	others=$(all_but "$i" "$n")
	pid=$(pid_of "$i")
	t0=$(date +%s%N)
	cs_kill "$i"
	# shellcheck disable=SC2086
	check "$n nodes: corosync killed on node $i: its sheep leaves for every member" \
		retry 60 gone_from "$i" $others
	ms=$(ms_since "$t0")
	echo "info: $n nodes: corosync kill -9: sheep leave seen by all after $ms ms (bound $bound ms)"
	check "$n nodes: within token + consensus + 4 s" test "$ms" -le "$bound"
	check "$n nodes: sheep $i is still running (waiting)" kill -0 "$pid"
	check "$n nodes: a write through sheep $i fails meanwhile" write_refused "$i"
	check "$n nodes: writes go on through the others" writes_go_on
	t0=$(date +%s%N)
	cs_start "$i"
	# shellcheck disable=SC2086
	check "$n nodes: corosync on node $i back in the ring" cs_wait_ring "$n" $all
	# shellcheck disable=SC2086
	check "$n nodes: sheep $i rejoins by itself" retry 90 in_all "$i" $all
	echo "info: $n nodes: sheep rejoined $(ms_since "$t0") ms after corosync restarted"
	check "$n nodes: the same process (restarted in place)" test "$(pid_of "$i")" = "$pid"
	check "$n nodes: x is unchanged (the refused write left nothing)" same_data 0 "$T/x" x

	# a node's link down and back
	i=2
	others=$(all_but "$i" "$n")
	t0=$(date +%s%N)
	a0=$(acks)
	link_down "$i"
	# shellcheck disable=SC2086
	check "$n nodes: link down on node $i: the rest keep a quorate ring" cs_wait_ring $((n - 1)) $others
	# shellcheck disable=SC2086
	check "$n nodes: sheep $i leaves for every other member" retry 60 gone_from "$i" $others
	echo "info: $n nodes: link down: sheep leave seen by all after $(ms_since "$t0") ms"
	# the writer sends through every node, the cut one too: its request
	# there waits for the writer's own 30 s socket timeout (between sheep,
	# a new epoch cuts requests to departed nodes at once)
	check "$n nodes: writes resume" retry 60 acks_at_least $((a0 + 5))
	echo "info: $n nodes: link down: writes resumed $(ms_since "$t0") ms after it"
	t0=$(date +%s%N)
	link_up "$i"
	# shellcheck disable=SC2086
	check "$n nodes: link up: sheep $i rejoins" retry 90 in_all "$i" $all
	echo "info: $n nodes: link up: sheep back in every list after $(ms_since "$t0") ms"
	check "$n nodes: writes go on" writes_go_on

	writer_stop
	echo "info: $n nodes: $(acks) writes acknowledged"
	# shellcheck disable=SC2086
	check "$n nodes: recovery completes everywhere" retry 120 all_recovered $all
	for i in $all; do
		check "$n nodes: every acknowledged write reads back through node $i" acked_reads_back "$i"
	done
	check "$n nodes: x reads back" same_data 0 "$T/x" x
	check "$n nodes: dog vdi check w" dogp 0 vdi check "$WVDI"
	# shellcheck disable=SC2086
	check "$n nodes: 3 identical replicas per object in 3 zones" retry 60 placement 3 $all
}

round 3
reset
check "teardown leaves no namespace of ours" bash -c "! ip netns list | grep -q '^$NS_PFX'"
round 5
[ "$HAVE_DRIVER" = 0 ] && echo "SKIP: $TEST_NAME: sheep has no corosync driver (sheep -v); only the rings were checked"
finish
