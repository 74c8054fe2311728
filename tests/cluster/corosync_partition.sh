#!/bin/bash
# The corosync driver across a network partition (nftables drops between two
# groups of namespaces, tests/netns.sh): 2|1 on three nodes, then 3|2 on
# five, copies 3.  The verifiable writer writes through the majority all
# along.  While cut off, the majority keeps a quorate ring, drops the
# minority's sheep and goes on writing; the minority's corosync loses quorum
# and writes through a minority sheep fail or block, never succeed (probes
# to VDI x, one sent as the partition starts, before anyone noticed), while
# the majority writes the same bytes of x, acknowledged: after healing x
# must hold the majority's write everywhere.  After healing: one cluster again,
# recovery, every acknowledged write reads back through every node, dog vdi
# check passes, 3 identical replicas per object.  Times are printed (info:).
TEST_PORT_OFFSET=420
source "$(dirname "$0")/../lib.sh"
CS_TOKEN=${CS_TOKEN:-1000}
source "$TOP/tests/netns.sh"
ns_need
BASE=0

# minority_quorumless NODES...: each one's corosync is up but not quorate
minority_quorumless() {
	local k
	for k in "$@"; do
		[ "$(cs_members "$k" | cut -d' ' -f2)" = no ] || return 1
	done
}

# round "MAJORITY" "MINORITY"
round() {
	local maj=$1 min=$2 all n m t0 i k probes=()
	all=$(echo "$maj $min" | xargs -n1 | sort -n | xargs)
	n=$(wc -w <<<"$all")
	m=$(wc -w <<<"$maj")
	local what
	what="$(wc -w <<<"$maj")|$(wc -w <<<"$min")"
	check "$what: $n namespaces" ns_setup "$n"
	for i in $all; do cs_start "$i"; done
	# shellcheck disable=SC2086
	check "$what: a quorate ring of $n" cs_wait_ring "$n" $all
	if [ "$HAVE_DRIVER" = 1 ]; then
		for i in $all; do check "$what: sheep $i starts" start_sheep "$i"; done
		# shellcheck disable=SC2086
		check "$what: every sheep lists all $n" retry 60 all_list $all
		check "$what: format copies 3" dogp 0 cluster format -c 3
		check "$what: create VDI w" dogp 0 vdi create "$WVDI" 32M
		head -c $((4 << 20)) /dev/urandom >"$T/x"
		check "$what: create VDI x" dogp 0 vdi create x 4M
		check "$what: write x" dogp 0 vdi write x <"$T/x"
		rm -f "$T/ack"
		# shellcheck disable=SC2086
		writer_start 3600 $maj
		check "$what: the writer writes" writes_go_on
	fi

	t0=$(date +%s%N)
	check "$what: partition" partition "$maj" "$min"
	if [ "$HAVE_DRIVER" = 1 ]; then
		# sent at once, before any side has noticed: must not succeed either
		for k in $min; do
			(write_refused "$k" || echo succeeded >"$T/probe.$k") &
			probes+=($!)
		done
	fi
	# shellcheck disable=SC2086
	check "$what: the majority keeps a quorate ring of $m" cs_wait_ring "$m" $maj
	echo "info: $what: majority ring of $m after $(ms_since "$t0") ms (token $(cs_token 0) ms)"
	# shellcheck disable=SC2086
	check "$what: the minority's corosync has no quorum" retry 30 minority_quorumless $min
	if [ "$HAVE_DRIVER" = 1 ]; then
		for k in $min; do
			# shellcheck disable=SC2086
			check "$what: the majority drops minority sheep $k" retry 60 gone_from "$k" $maj
		done
		echo "info: $what: minority sheep gone from the majority after $(ms_since "$t0") ms"
		check "$what: the majority goes on writing" writes_go_on
		# the same bytes the minority probes aim at, written (acknowledged) by the majority
		check "$what: the majority writes x's first 4 KiB" patch 0 x "$T/x" 0 4096
		for k in $min; do
			check "$what: a write through minority sheep $k fails or blocks" write_refused "$k"
		done
		for i in "${probes[@]}"; do wait "$i"; done
		for k in $min; do
			check "$what: the write sent to sheep $k as the partition began did not succeed" \
				test ! -e "$T/probe.$k"
		done
		check "$what: the majority still goes on" writes_go_on
	fi

	t0=$(date +%s%N)
	heal
	# shellcheck disable=SC2086
	check "$what: healed: a quorate ring of $n" cs_wait_ring "$n" $all
	echo "info: $what: healed: ring of $n after $(ms_since "$t0") ms"
	[ "$HAVE_DRIVER" = 1 ] || return 0
	# shellcheck disable=SC2086
	check "$what: healed: one cluster, every sheep lists all $n" retry 90 all_list $all
	echo "info: $what: healed: one cluster after $(ms_since "$t0") ms"
	check "$what: writes go on" writes_go_on
	writer_stop
	echo "info: $what: $(acks) writes acknowledged"
	# shellcheck disable=SC2086
	check "$what: recovery completes everywhere" retry 120 all_recovered $all
	for i in $all; do
		check "$what: every acknowledged write reads back through node $i" acked_reads_back "$i"
	done
	for i in $all; do
		check "$what: x through sheep $i holds the majority's write, not a minority probe" \
			same_data "$i" "$T/x" x
	done
	check "$what: dog vdi check w" dogp 0 vdi check "$WVDI"
	# shellcheck disable=SC2086
	check "$what: 3 identical replicas per object" retry 60 placement 3 $all
}

round "0 1" "2"
reset
round "0 1 2" "3 4"
[ "$HAVE_DRIVER" = 0 ] && echo "SKIP: $TEST_NAME: sheep has no corosync driver (sheep -v); only the rings were checked"
finish
