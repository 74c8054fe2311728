#!/bin/bash
# The accord driver against three real Accord conductors, each on its own
# corosync node (network namespaces, tests/netns.sh; hosts 0-2 run corosync
# and a conductor, hosts 3-4 only sheep).  Five sheep are spread over the
# conductors, each listing all three in its own order.  With the verifiable
# writer running: one conductor is kill -9'd (its sheep start over in place,
# the same processes, and rejoin through the next conductor they list), then
# a whole corosync node is kill -9'd (its conductor exits with it; its sheep
# move on again).  Throughout, every sheep keeps one membership and one
# order: the same member lists and the same epoch history everywhere.
# Afterwards every acknowledged write reads back through every sheep, and
# every object has 3 identical replicas.  Times are printed as info: lines.
TEST_PORT_OFFSET=470
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/netns.sh"
source "$TOP/tests/accord.sh"
ns_need
ac_need
BASE=0	# placement: the stores are $T/0 ..
ALL="0 1 2 3 4"

check "5 namespaces" ns_setup 5
for i in 0 1 2; do CS_NODES="0 1 2" cs_start "$i"; done
check "hosts 0-2 form a 3-node corosync ring" cs_wait_ring 3 0 1 2
# Accord has no state transfer: its conductors start together, on empty stores
for i in 0 1 2; do check "conductor $i starts" ac_start "$i"; done
C=("$(ac_addr 0)" "$(ac_addr 1)" "$(ac_addr 2)")
# sheep I lists the conductors in its own order: its first one is ORDER[I]'s head
ORDER=("0 1 2" "1 2 0" "2 0 1" "0 2 1" "1 0 2")
conductors_of() {
	local k list=
	for k in ${ORDER[$1]}; do list=${list:+$list,}${C[k]}; done
	echo "$list"
}
# on I: the conductor sheep I last connected to (its log)
on() { grep -o 'accord: connected to [0-9.:]*' "$T/$1/sheep.log" | tail -1 | awk '{ print $4 }'; }
one_view() {
	local i
	for i in $ALL; do
		dogp "$i" cluster info -r | awk '/^[0-9]+ [0-9]+ \[/ { $1 = ""; print }' | md5sum
	done | sort -u | wc -l | grep -qx 1
}

t0=$(date +%s%N)
for i in $ALL; do
	CS_CLUSTER="accord:$(conductors_of "$i"),timeout=5s" start_sheep "$i" ||
		fail "sheep $i starts"
done
check "all 5 list all 5" retry 30 all_list $ALL
echo "info: 5 sheep over 3 conductors joined $(ms_since "$t0") ms after the first start"
for i in $ALL; do
	first=${ORDER[$i]%% *}
	check "sheep $i talks to its first conductor ($first)" test "$(on "$i")" = "${C[first]}"
done
check "format copies 3" dogp 0 cluster format -c 3
check "create VDI $WVDI" dogp 3 vdi create "$WVDI" 48M
head -c $((4 << 20)) /dev/urandom >"$T/x"
check "create x through sheep 4" dogp 4 vdi create x 4M
check "write x through sheep 4" dogp 4 vdi write x <"$T/x"
for i in $ALL; do check "x reads back through sheep $i" same_data "$i" "$T/x" x; done
rm -f "$T/ack"
writer_start 3600 0 3 2 1 4
check "the writer writes" writes_go_on

on_is() { [ "$(on "$1")" = "${C[$2]}" ]; }
same_pids() { test "$(for i in $ALL; do pid_of "$i"; done | xargs)" = "$pids"; }
pids=$(for i in $ALL; do pid_of "$i"; done | xargs)

# a conductor killed (its corosync stays): sheep 1 and 4 talk to it
t0=$(date +%s%N)
ac_kill 1
check "conductor 1 killed: sheep 1 moves on to conductor 2 (its next)" retry 30 on_is 1 2
check "conductor 1 killed: sheep 4 moves on to conductor 0 (its next)" retry 30 on_is 4 0
check "all 5 list all 5 again" retry 60 all_list $ALL
echo "info: a conductor killed: its 2 sheep back in every list after $(ms_since "$t0") ms"
check "the same 5 processes (started over in place)" same_pids
check "one membership and one order" one_view
check "writes go on" writes_go_on
for i in 0 2 3; do check "sheep $i stayed on its conductor" on_is "$i" "${ORDER[$i]%% *}"; done

# a whole corosync node killed; sheep 2 and 1 talk to its conductor, which
# stays up, cut off: it answers reads from its frozen store and drops writes
# (Accord's conductor notices no dead corosync over socket IPC).  The
# sheep's beat (a write every second) goes unanswered: they start over.
t0=$(date +%s%N)
cs_kill 2
check "hosts 0-1 keep a ring" cs_wait_ring 2 0 1
check "sheep 2 moves on to conductor 0" retry 30 on_is 2 0
check "sheep 1 moves on to conductor 0 (1 and 2 are gone)" retry 30 on_is 1 0
check "all 5 list all 5 again" retry 60 all_list $ALL
echo "info: a corosync node killed: its sheep back in every list after $(ms_since "$t0") ms (timeout 5 s)"
if kill -0 "${AC_PIDS[2]}" 2>/dev/null; then
	echo "info: conductor 2 is still running, cut off from the order"
fi
check "the same 5 processes" same_pids
check "one membership and one order" one_view
check "writes go on" writes_go_on

writer_stop
echo "info: $(acks) writes acknowledged"
check "recovery completes everywhere" retry 120 all_recovered $ALL
for i in $ALL; do
	check "every acknowledged write reads back through sheep $i" acked_reads_back "$i"
done
check "x reads back" same_data 2 "$T/x" x
check "dog vdi check $WVDI" dogp 0 vdi check "$WVDI"
check "3 identical replicas per object in 3 zones" retry 60 placement 3 $ALL
check "one membership and one order at the end" one_view
finish
