#!/bin/bash
# Dual NIC (issue 17): IO on its own network, failover and switch-back, no
# split brain.  Five hosts in network namespaces (tests/netns.sh, NS_IO=1):
# eth0 on the cluster bridge, eth1 on the IO bridge; ZooKeeper in the hub on
# the cluster bridge (timeout=5s).  Sheep 0 runs the guide's form `-i host=IP`
# with its main listener on all addresses (-b 0.0.0.0), sheep 1 and 2 the same
# form on their cluster address, sheep 3 `-i host=IP,port=P` (P another port
# than its main one), sheep 4 no -i at all (a mixed cluster); copies 3.  The
# verifiable writer (WRITER_TIMES=1: acks carry their time) writes to VDI w
# through sheep 0 (then 4) all along.  Checked:
#   - both -i forms start; `dog node list -i` (and -r -i) shows each IO
#     address ("-" for sheep 4); the default `dog node list` is unchanged;
#   - the traffic splits: a 32 MiB write through sheep 0 reaches sheep 1-3
#     on eth1 (at least the data written), while their eth0 takes far less;
#   - sheep 2's IO NIC link down, then sheep 3's IO NIC dropping 100% of its
#     packets (no link event): a peer logs "IO goes over", the writes go on,
#     no write of the writer fails, nobody leaves the membership; the NIC
#     back: a peer logs "answers again; IO goes back" and the node's
#     replication traffic is on eth1 again.  Times printed (info: lines):
#     fault -> "IO goes over" (by the log line's own timestamp), the longest
#     gap between two acknowledged writes around the fault, NIC back ->
#     "IO goes back"; then the same for the IO NIC of the writer's gateway
#     (sheep 0's own lines about its peers, its sent traffic);
#   - sheep 2's IO NIC dropping every packet it sends (requests arrive and
#     are applied, replies are lost: the resends must not apply them again);
#   - after those: every object's replicas are identical, version trailers
#     included (no write applied twice);
#   - sheep 1's cluster NIC down: it logs "cluster link lost", leaves every
#     other member's list, a write sent to it through its IO address is not
#     acknowledged, a read of data rewritten meanwhile through sheep 0 never
#     returns the old bytes through it, the others go on; eth0 back: it
#     rejoins with the same PID, catches up, and reads back what was written;
#     the log times show it halted before any member dropped it;
#   - both at once: sheep 2's IO NIC down while sheep 1's cluster NIC is down;
#   - at the end every acknowledged write reads back through each sheep, dog
#     vdi check passes, every object has 3 identical replicas in 3 zones.
TEST_PORT_OFFSET=510
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/netns.sh"
ns_need zookeeper
BASE=0	# placement: the stores are $T/0 ..
ALL="0 1 2 3 4"
export WRITER_TIMES=1
ZK_PORT=$(port_of 10)
M=$((1 << 20))

# io_port_of I: sheep I's IO port (sheep 3 has its own); io_addr_of I: IP:PORT
io_port_of() { if [ "$1" = 3 ]; then port_of 23; else port_of "$1"; fi; }
io_addr_of() { echo "$(io_ip_of "$1"):$(io_port_of "$1")"; }
# dogio I args...: dog, from the hub, against sheep I's IO address (given
# up after 15 s: a sheep that halts IO may leave it waiting)
dogio() {
	local idx=$1 sub=$2 cmd=$3
	shift 3
	on_hub timeout 15 "$DOG" "$sub" "$cmd" -a "$(io_ip_of "$idx")" -p "$(io_port_of "$idx")" "$@"
}
zk_hub_ok() {
	[ "$(echo ruok | on_hub timeout 2 bash -c "exec 3<>/dev/tcp/$NS_NET.254/$ZK_PORT; cat >&3; cat <&3" 2>/dev/null)" = imok ]
}
no() { ! "$@"; }

# writer_errors: writes the writer sent and saw fail (a "P" line followed by
# another "P"; not the last line, in flight, nor one in flight when
# writer_pause killed the writer: CUTS holds their line numbers)
CUTS=" "
writer_errors() {
	awk -v cuts="$CUTS" '$1 == "P" && p == "P" && index(cuts, " " (NR - 1) " ") == 0 { n++ }
		{ p = $1 } END { print n + 0 }' "$T/ack" 2>/dev/null
}
# writer_pause: stop the writer (for a check that needs it still)
writer_pause() { writer_stop; CUTS="$CUTS$(grep -c . "$T/ack") "; }

# ack_gap T0: the longest gap between two acknowledged writes (the last one
# to now counting too) from 1 s before T0 (ns) until now, in ms
ack_gap() {
	awk -v t0="$(awk -v t="$1" 'BEGIN { printf "%.3f", t / 1e9 }')" -v now="$(date +%s.%N)" '
		$1 == "A" && NF >= 4 && $4 >= t0 - 1 {
			if (last != "" && $4 - last > g) { g = $4 - last; at = last - t0 }
			last = $4
		}
		END {
			if (last != "" && now - last > g) { g = now - last; at = last - t0 }
			printf "%d ms (from %+d ms of the fault)", g * 1000, at * 1000
		}' "$T/ack"
}

# logs_but I: the sheep.log of every sheep but I
logs_but() { local k; for k in $(all_but "$1" 5); do echo "$T/$k/sheep.log"; done; }
# over_lines I / back_lines I: the peers' "IO goes over" / "IO goes back"
# lines about sheep I's IO path
over_lines() {
	# shellcheck disable=SC2046
	grep -h "IO path to $(addr_of "$1"): $(io_addr_of "$1") failed (.*); IO goes over $(addr_of "$1")" $(logs_but "$1") 2>/dev/null
}
back_lines() {
	# shellcheck disable=SC2046
	grep -h "IO path to $(addr_of "$1"): $(io_addr_of "$1") answers again; IO goes back to it" $(logs_but "$1") 2>/dev/null
}
# gw_over I / gw_back I: sheep I's own lines about any peer
gw_over() { grep -h "IO path to .*: .* failed (.*); IO goes over " "$T/$1/sheep.log"; }
gw_back() { grep -h "IO path to .*: .* answers again; IO goes back to it" "$T/$1/sheep.log"; }
count() { "$@" | grep -c .; }
# absorbed I: resent writes sheep I had applied already and answered without
# applying them again (gateway.c's notice)
absorbed() { grep -c "a write resent over another path was taken here already" "$T/$1/sheep.log"; }
more_than() { local n=$1; shift; [ "$(count "$@")" -gt "$n" ]; }
# wait_line N T0 WHAT FN I: wait (60 s) for FN I to print more than N lines;
# print an info line with the ms from T0 to the first new line's timestamp
wait_line() {
	local n=$1 t0=$2 what=$3 fn=$4 i=$5 l ts
	retry 60 more_than "$n" "$fn" "$i" || return 1
	l=$("$fn" "$i" | sort -k2,3 | sed -n "$((n + 1))p")
	ts=$(awk '{ print $2 " " $3 }' <<<"$l")
	echo "info: $what after $((($(date -d "$ts" +%s%N) - t0) / 1000000)) ms (seen by polling after $(ms_since "$t0") ms): ${l#* * * }"
}

# io_rx I: "eth0_rx eth1_rx" of host I; traffic_on_io I...: while the
# writer writes for 5 s, each of sheep I... receives at least 256 KiB on eth1
# and less than a quarter of that on eth0
io_rx() { echo "$(nic_bytes "$1" eth0 rx) $(nic_bytes "$1" eth1 rx)"; }
traffic_on_io() {
	local i a b c d ok=0
	local -A before
	for i in "$@"; do before[$i]=$(io_rx "$i"); done
	sleep 5
	for i in "$@"; do
		read -r a b <<<"${before[$i]}"
		read -r c d <<<"$(io_rx "$i")"
		echo "info: sheep $i received in 5 s of writes: eth0 $(((c - a) / 1024)) KiB, eth1 $(((d - b) / 1024)) KiB"
		[ $((d - b)) -ge $((256 << 10)) ] && [ $(((c - a) * 4)) -lt $((d - b)) ] || ok=1
	done
	return $ok
}

# traffic_out_io I: the same for what sheep I (the writer's gateway) sends,
# less what sheep 4 (no IO NIC: its replicas go over eth0) receives
traffic_out_io() {
	local a b c d e f
	a=$(nic_bytes "$1" eth0 tx) b=$(nic_bytes "$1" eth1 tx) e=$(nic_bytes 4 eth0 rx)
	sleep 5
	c=$(nic_bytes "$1" eth0 tx) d=$(nic_bytes "$1" eth1 tx) f=$(nic_bytes 4 eth0 rx)
	echo "info: sheep $1 sent in 5 s of writes: eth0 $(((c - a) / 1024)) KiB ($(((f - e) / 1024)) KiB of it to sheep 4, which has no IO NIC), eth1 $(((d - b) / 1024)) KiB"
	[ $((d - b)) -ge $((256 << 10)) ] && [ $(((c - a - f + e) * 4)) -lt $((d - b)) ]
}

# placement_strict COPIES ZONE0 ...: lib.sh's placement, but replicas must
# be identical with their 16-byte version trailers: a write applied twice on
# one replica bumps its counter once more than on the others
placement_strict() { PLACEMENT_STRICT=1 placement "$@"; }

# io_write_ok I / io_write_refused I: a 4 KiB write to VDI x through sheep
# I's IO address is acknowledged / fails or hangs (15 s)
io_write_ok() { head -c 4096 /dev/urandom >"$T/probe" && dogio "$1" vdi write x 0 4096 <"$T/probe"; }
io_write_refused() { [ -s "$T/probe" ] || head -c 4096 /dev/urandom >"$T/probe"; ! dogio "$1" vdi write x 0 4096 <"$T/probe"; }
# not_stale I FILE: reading x's first MiB through sheep I's IO address
# fails, or returns FILE (never older bytes)
not_stale() {
	local rc
	dogio "$1" vdi read x 0 "$M" >"$T/read" 2>"$T/read.err"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "info: the read through sheep $1's IO address failed (exit $rc: $(head -c 200 "$T/read.err"))"
		return 0
	fi
	cmp -s "$T/read" "$2" && { echo "info: the read through sheep $1's IO address returned the new bytes"; return 0; }
	cmp -s "$T/read" "$T/x.old" && echo "info: sheep $1 served the OLD bytes of x"
	return 1
}

# io_scenario NAME I DOWN UP: the IO NIC fault DOWN I and its end UP I under
# writes.  The lines looked for: the peers' about sheep I, or with GW=1
# (I is the writer's gateway, sheep 0) its own about any peer
io_scenario() {
	local name=$1 i=$2 down=$3 up=$4 e0 o0 b0 a0 t0 over=over_lines back=back_lines
	local who="a peer logs that IO to sheep $i" traffic=traffic_on_io
	[ -n "${GW:-}" ] && over=gw_over back=gw_back traffic=traffic_out_io who="sheep $i logs that its IO to a peer"
	writer_ensure 3600 0 4
	e0=$(writer_errors) o0=$(count "$over" "$i") b0=$(count "$back" "$i") a0=$(absorbed "$i")
	check "$name: the writer writes" writes_go_on 5 30
	t0=$(date +%s%N)
	check "$name on sheep $i: set" "$down" "$i"
	check "$name: $who goes over the cluster address" \
		wait_line "$o0" "$t0" "$name: fault -> 'IO goes over'" "$over" "$i"
	check "$name: writes go on" writes_go_on 10 60
	echo "info: $name: longest gap between acknowledged writes: $(ack_gap "$t0")"
	check "$name: no write of the writer failed" test "$(writer_errors)" = "$e0"
	echo "info: $name: resent writes sheep $i had taken already (not applied again): $(($(absorbed "$i") - a0))"
	# shellcheck disable=SC2086
	check "$name: nobody left the membership" all_list $ALL
	t0=$(date +%s%N)
	check "$name: ended" "$up" "$i"
	check "$name ended: $who goes back to the IO address" \
		wait_line "$b0" "$t0" "$name ended: NIC back -> 'IO goes back'" "$back" "$i"
	check "$name ended: sheep $i's replication traffic is on eth1 again" "$traffic" "$i"
	check "$name ended: writes go on" writes_go_on 5 30
	check "$name ended: no write of the writer failed" test "$(writer_errors)" = "$e0"
}

# ---- the rig -------------------------------------------------------------
NS_IO=1
check "5 hosts with a cluster and an IO network" ns_setup 5
ZK_ADDR=$NS_NET.254 ZK_EXEC="nsenter --net=/run/netns/$NS_HUB --" zk_start 1 "$ZK_PORT"
check "ZooKeeper answers in the hub" retry 60 zk_hub_ok
CS_CLUSTER="zookeeper:$NS_NET.254:$ZK_PORT,timeout=5s,id=d$$"

what="sheep 0 starts: -i host=IP (the guide's form), main listener on all addresses"
if start_sheep 0 -b 0.0.0.0 -i "host=$(io_ip_of 0)"; then
	pass "$what"
else
	fail "$what"
	grep -h "cannot listen" "$T/0/sheep.log" 2>/dev/null | tail -1 | sed 's/^/info: /'
	start_sheep 0 -i "host=$(io_ip_of 0)" || fail "sheep 0 starts on its cluster address"
fi
check "sheep 1 starts: -i host=IP" start_sheep 1 -i "host=$(io_ip_of 1)"
check "sheep 2 starts: -i host=IP" start_sheep 2 -i "host=$(io_ip_of 2)"
check "sheep 3 starts: -i host=IP,port=P, P not its main port" \
	start_sheep 3 -i "host=$(io_ip_of 3),port=$(io_port_of 3)"
check "sheep 4 starts without -i (a mixed cluster)" start_sheep 4
# shellcheck disable=SC2086
check "every sheep lists all five" retry 60 all_list $ALL
check "format copies 3" dogp 0 cluster format -c 3
check "create VDI w" dogp 0 vdi create "$WVDI" 64M
check "create VDI x" dogp 0 vdi create x 4M
check "create VDI t" dogp 0 vdi create t 32M
head -c "$M" /dev/urandom >"$T/x.old"
check "x written through sheep 0" dogp 0 vdi write x 0 "$M" <"$T/x.old"

# ---- what dog shows ---------------------------------------------------------
dogp 0 node list >"$T/nl" 2>&1
dogp 0 node list -r >"$T/nlr" 2>&1
check "dog node list: Sheepdog's header" test "$(head -1 "$T/nl")" = "  Id   Host:Port         V-Nodes       Zone"
check "dog node list: no IO address in the default output" no grep -q "$NS_IONET" "$T/nl" "$T/nlr"
check "dog node list -r: 5 lines of 4 fields" test "$(awk 'NF == 4' "$T/nlr" | grep -c .)" = 5
io_shown() {
	local raw=$1 i want
	dogp 0 node list ${raw:+"$raw"} -i >"$T/nli" 2>&1 || { cat "$T/nli"; return 1; }
	for i in $ALL; do
		want=$(io_addr_of "$i")
		[ "$i" = 4 ] && want=-
		if ! grep -q " $(addr_of "$i") " "$T/nli" ||
			! grep " $(addr_of "$i") " "$T/nli" | awk -v w="$want" '$NF != w { exit 1 }'; then
			echo "sheep $i: want $want in: $(cat "$T/nli")"
			return 1
		fi
	done
}
check "dog node list -i: each sheep's IO address, - for the one without" io_shown ""
check "dog node list -r -i: the IO address as a last field" io_shown -r
check "dog node list -r -i: 5 lines of 5 fields" test "$(awk 'NF == 5' "$T/nli" | grep -c .)" = 5
check "a write through sheep 1's IO address is acknowledged" io_write_ok 1
check "a write through sheep 3's IO address (its own port) is acknowledged" io_write_ok 3

writer_start 3600 0 4
check "the writer writes" writes_go_on

# ---- the traffic splits --------------------------------------------------
declare -A RX0
for i in 1 2 3; do RX0[$i]=$(io_rx "$i"); done
head -c $((32 * M)) /dev/urandom >"$T/t"
check "32 MiB written to t through sheep 0" dogp 0 vdi write t 0 $((32 * M)) <"$T/t"
e0=0 e1=0
for i in 1 2 3; do
	read -r a b <<<"${RX0[$i]}"
	read -r c d <<<"$(io_rx "$i")"
	e0=$((e0 + c - a)) e1=$((e1 + d - b))
done
echo "info: 32 MiB through sheep 0: sheep 1-3 received $((e0 / 1024)) KiB on eth0, $((e1 / 1024)) KiB on eth1"
check "replication goes over the IO network: sheep 1-3 got >= 32 MiB on eth1" test "$e1" -ge $((32 * M))
check "and far less on the cluster network (< 4 MiB)" test "$e0" -lt $((4 * M))
check "t reads back through sheep 2's IO address" cmp -s "$T/t" <(dogio 2 vdi read t)

# ---- IO NIC faults -------------------------------------------------------
io_scenario "IO NIC link down" 2 io_down io_up
io_loss100() { io_loss "$1" 100; }
io_scenario "IO NIC dropping 100%" 3 io_loss100 io_loss_clear
# requests arrive and are applied, the replies and ACKs are lost: the
# gateway sends them again over the cluster path, and the replica must not
# apply them twice (checked below, trailers included)
io_out100() { io_loss "$1" 100 out; }
io_scenario "IO NIC dropping 100% of what it sends" 2 io_out100 io_loss_clear
GW=1 io_scenario "the gateway's IO NIC link down" 0 io_down io_up

# no membership change so far: every write reached every replica exactly once
writer_pause
sleep 1
# shellcheck disable=SC2086
check "after the IO NIC faults: replicas identical, version trailers included" placement_strict 3 $ALL
check "every acknowledged write reads back through sheep 2" acked_reads_back 2
writer_start 3600 0 4

# ---- the cluster NIC -----------------------------------------------------
# left_ms T0: ms from T0 (ns) to the newest "sheep 1 left" line in the others' logs
left_ms() {
	local ts
	# shellcheck disable=SC2046
	ts=$(grep -h "$(addr_of 1) left" $(logs_but 1) | sort -k2,3 | tail -1 | awk '{ print $2 " " $3 }')
	echo $((($(date -d "$ts" +%s%N) - $1) / 1000000))
}
# halted_first: sheep 1's newest "cluster link lost" line is older than each
# other member's newest "sheep 1 left": it stopped IO before anyone dropped it
halted_first() {
	local lost l k first=
	lost=$(grep "cluster link lost" "$T/1/sheep.log" | tail -1 | awk '{ print $2 " " $3 }')
	[ -n "$lost" ] || return 1
	for k in $(all_but 1 5); do
		l=$(grep -h "$(addr_of 1) left" "$T/$k/sheep.log" | tail -1 | awk '{ print $2 " " $3 }')
		if [ -z "$l" ] || [[ ! "$lost" < "$l" ]]; then
			echo "sheep 1 halted at '$lost', sheep $k dropped it at '$l'"
			return 1
		fi
		if [ -z "$first" ] || [[ "$l" < "$first" ]]; then first=$l; fi
	done
	echo "info: sheep 1 halted IO $((($(date -d "$first" +%s%N) - $(date -d "$lost" +%s%N)) / 1000000)) ms before the first member dropped it"
}
lost_more() { [ "$(grep -c "cluster link lost" "$T/1/sheep.log")" -gt "$1" ]; }
# cluster_scenario NAME [IO_DOWN_NODE]: sheep 1's eth0 down (and the IO NIC
# of IO_DOWN_NODE at the same time), then back
cluster_scenario() {
	local name=$1 other=${2:-} pid t0 e0 o0 b0 l0
	writer_ensure 3600 0 4
	pid=$(pid_of 1)
	e0=$(writer_errors)
	l0=$(grep -c "cluster link lost" "$T/1/sheep.log")
	[ -n "$other" ] && o0=$(count over_lines "$other") b0=$(count back_lines "$other")
	check "$name: the writer writes" writes_go_on 5 30
	t0=$(date +%s%N)
	check "$name: sheep 1's cluster NIC down" link_down 1
	[ -n "$other" ] && check "$name: sheep $other's IO NIC down" io_down "$other"
	# it may take writes until it knows (its peers still count it in): ask after
	if retry 30 lost_more "$l0"; then
		pass "$name: sheep 1 logs 'cluster link lost'"
		echo "info: $name: 'cluster link lost' seen $(ms_since "$t0") ms after the NIC went down: $(grep "cluster link lost" "$T/1/sheep.log" | tail -1)"
	else
		fail "$name: sheep 1 logs 'cluster link lost'"
	fi
	check "$name: sheep 1 refuses a write sent to its IO address" io_write_refused 1
	check "$name: sheep 1 drops out of every other member's list" retry 60 gone_from 1 0 2 3 4
	echo "info: $name: sheep 1 gone from all lists $(left_ms "$t0") ms after the NIC went down (the last 'left' line)"
	check "$name: sheep 1 halted IO before any member dropped it (log times)" halted_first
	check "$name: and still refuses writes through its IO address" io_write_refused 1
	head -c "$M" /dev/urandom >"$T/x.new"
	check "$name: x rewritten through sheep 0" dogp 0 vdi write x 0 "$M" <"$T/x.new"
	check "$name: a read of x through sheep 1's IO address never returns the old bytes" not_stale 1 "$T/x.new"
	cp "$T/x.new" "$T/x.old"
	[ -n "$other" ] && check "$name: a peer logs that IO to sheep $other goes over" \
		wait_line "$o0" "$t0" "$name: fault -> 'IO goes over'" over_lines "$other"
	check "$name: the others go on" writes_go_on 10 60
	echo "info: $name: longest gap between acknowledged writes: $(ack_gap "$t0")"
	echo "info: $name: writes of the writer that failed: $(($(writer_errors) - e0))"
	sleep 5	# past the session timeout: sheep 1 restarts in place and waits
	t0=$(date +%s%N)
	check "$name: sheep 1's cluster NIC up" link_up 1
	[ -n "$other" ] && check "$name: sheep $other's IO NIC up" io_up "$other"
	# shellcheck disable=SC2086
	check "$name: sheep 1 rejoins: every sheep lists all five" retry 120 all_list $ALL
	echo "info: $name: membership whole again $(ms_since "$t0") ms after the NIC came back"
	check "$name: sheep 1 is the same process (restarted in place)" test "$(pid_of 1)" = "$pid" -a -d "/proc/$pid"
	# shellcheck disable=SC2086
	check "$name: recovery completes everywhere" retry 180 all_recovered $ALL
	echo "info: $name: recovered $(ms_since "$t0") ms after the NIC came back"
	[ -n "$other" ] && check "$name: a peer logs that IO to sheep $other goes back" \
		wait_line "$b0" "$t0" "$name ended: NIC back -> 'IO goes back'" back_lines "$other"
	check "$name: x reads back the new bytes through sheep 1" cmp -s "$T/x.new" <(dogp 1 vdi read x 0 "$M")
	writer_pause
	check "$name: every acknowledged write reads back through sheep 1" acked_reads_back 1
	writer_start 3600 0 4
	check "$name: writes go on" writes_go_on 5 30
}
cluster_scenario "cluster NIC down"
cluster_scenario "cluster NIC down on 1 with IO NIC down on 2" 2

# ---- the end ----------------------------------------------------------------
writer_stop
echo "info: $(acks) writes acknowledged, $(writer_errors) failed, writer restarts $WRITER_RESTARTS"
for i in $ALL; do
	check "every acknowledged write reads back through sheep $i" acked_reads_back "$i"
done
check "t reads back through sheep 4" cmp -s "$T/t" <(dogp 4 vdi read t)
check "dog vdi check $WVDI" dogp 0 vdi check "$WVDI"
# shellcheck disable=SC2086
check "3 identical replicas per object in 3 zones" retry 60 placement 3 $ALL
# shellcheck disable=SC2086
placement_strict 3 $ALL | sed 's/^/info: after the cluster NIC scenarios: /'
finish
