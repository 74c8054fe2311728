#!/bin/bash
# Larger corosync rings, for `make test-long` only (SHEEP_TEST_LONG=1; else
# SKIP): for each ring size in COROSYNC_SCALE_SIZES (default 5 10 15 20 30; 15
# is the guide's "only reliable with less than 15 nodes"), fresh namespaces
# with a corosync each (tests/netns.sh, token CS_TOKEN ms plus corosync's
# 650 ms per node beyond two), the ring forms with quorum, N-1 sheep form a
# cluster and format it; then the latencies against node count are measured
# and printed (info: lines): the ring's formation, the last sheep's join
# (until node 0 lists it, until every member does), the leave of a kill -9'd
# sheep (until every member drops it), and the leave of a sheep whose
# corosync was killed (until every member drops it; bound: 2.2 x token +
# 5 s).  Data is written before and read back after through another node.
TEST_PORT_OFFSET=450
source "$(dirname "$0")/../lib.sh"
CS_TOKEN=${CS_TOKEN:-1000}
source "$TOP/tests/netns.sh"
if [ -z "${SHEEP_TEST_LONG:-}" ]; then
	echo "SKIP: $TEST_NAME: a long test (make test-long, or SHEEP_TEST_LONG=1)"
	exit 0
fi
ns_need
"$SHEEP" -v 2>&1 | grep -q corosync || { echo "SKIP: $TEST_NAME: sheep has no corosync driver"; exit 0; }
SIZES=${COROSYNC_SCALE_SIZES:-5 10 15 20 30}
BASE=0
TABLE=()

for n in $SIZES; do
	all=$(seq 0 $((n - 1)) | xargs)
	last=$((n - 1))
	first=$(seq 0 $((n - 2)) | xargs)
	check "$n nodes: namespaces" ns_setup "$n"
	t0=$(date +%s%N)
	for i in $all; do cs_start "$i"; done
	# shellcheck disable=SC2086
	check "$n nodes: a quorate ring" retry 120 cs_wait_ring "$n" $all
	ring=$(ms_since "$t0")
	tok=$(cs_token 0)
	for i in $first; do
		start_sheep "$i" || fail "$n nodes: sheep $i starts"
	done
	# shellcheck disable=SC2086
	check "$n nodes: $((n - 1)) sheep form a cluster" retry 120 all_list $first
	check "$n nodes: format copies 3" dogp 0 cluster format -c 3
	head -c $((8 << 20)) /dev/urandom >"$T/d"
	check "$n nodes: create d" dogp 0 vdi create d 8M
	check "$n nodes: write d" dogp 0 vdi write d <"$T/d"

	t0=$(date +%s%N)
	check "$n nodes: sheep $last starts" start_sheep "$last"
	check "$n nodes: node 0 lists the joiner" retry 60 listed "$last" 0
	join0=$(ms_since "$t0")
	# shellcheck disable=SC2086
	check "$n nodes: every member lists the joiner" retry 60 in_all "$last" $all
	join_all=$(ms_since "$t0")
	check "$n nodes: the joiner reads d" same_data "$last" "$T/d" d

	t0=$(date +%s%N)
	kill9_sheep "$last"
	# shellcheck disable=SC2086
	check "$n nodes: a kill -9'd sheep leaves for every member" retry 60 gone_from "$last" $first
	leave=$(ms_since "$t0")
	check "$n nodes: sheep $last restarts" start_sheep "$last"
	# shellcheck disable=SC2086
	check "$n nodes: and rejoins" retry 60 in_all "$last" $all

	t0=$(date +%s%N)
	cs_kill "$last"
	# shellcheck disable=SC2086
	check "$n nodes: corosync killed: its sheep leaves for every member" retry 120 gone_from "$last" $first
	csleave=$(ms_since "$t0")
	check "$n nodes: within 2.2 x token + 5 s" test "$csleave" -le $((tok * 22 / 10 + 5000))
	# shellcheck disable=SC2086
	check "$n nodes: recovery completes" retry 120 all_recovered $first
	check "$n nodes: d reads back through node 1" same_data 1 "$T/d" d
	line="$n nodes (token $tok ms): ring $ring ms, join seen by node 0 $join0 ms / by all $join_all ms, kill -9 leave $leave ms, corosync death leave $csleave ms"
	echo "info: $line"
	TABLE+=("$line")
	reset
done
for line in "${TABLE[@]}"; do echo "info: $line"; done
finish
