#!/bin/bash
# bench/dualnic.sh - the dual-NIC feature (issue 17) measured: how fast IO
# to a node moves off its failed IO NIC and back, and what each path carries.
#
# The rig of tests/cluster/dualnic.sh (tests/netns.sh with NS_IO=1): four
# hosts as network namespaces, eth0 on the cluster bridge, eth1 on the IO
# bridge, ZooKeeper in the hub on the cluster bridge (timeout=5s); sheep 0
# is a gateway (-g: every request crosses the network), sheep 1-3 store, all
# with `-i host=IOADDR`; copies 3.  The verifiable writer writes 64 KiB
# blocks through sheep 0 all along.  Measured, median of 3 rounds each:
#   failover, IO NIC link down:  `ip link set eth1 down` in sheep 2's host ->
#       the timestamp of sheep 0's "IO goes over" line for sheep 2; with the
#       longest gap between two acknowledged writes around it;
#   failover, 100% drop:  the same with nftables dropping every packet of
#       that eth1 (no link event: the TCP user timeout must notice);
#   switch-back:  eth1 up (or the drop lifted) -> "answers again; IO goes
#       back" (both kinds of rounds, 6 in all);
# baseline for failover the issue's aim (2 s), for switch-back the probe's
# 1 s period.  Throughput through the gateway (dog benchmark io, 4 MiB
# requests at random offsets of a written 256 MiB VDI, depth 8, BENCH_SECONDS
# each, default 2; median of 3 rounds, the paths in turn in each): writes and
# reads with the IO path up, then with the IO NICs of sheep 1-3 down (IO
# forced onto the cluster path), twice: the
# client on the gateway's cluster address (one NIC carries client and
# replica traffic) and on its IO address (two NICs, as on the IO path).
# Baselines: iperf3 between two hosts over the same veths and bridge (eth1,
# and eth0), the writes against a third of it (the gateway sends three
# copies), and the cluster path against the IO path.
# Usage: bash bench/dualnic.sh [--rows]  (root; iproute2, nftables, iperf3,
# ZooKeeper; about two minutes).  --rows prints only bench/run.sh's table rows;
# progress goes to stderr.  Ports: SHEEP_BENCH_PORT_BASE (7760) + 40 .. 50,
# inside its own namespaces.
SHEEP_TEST_PORT_BASE=${SHEEP_BENCH_PORT_BASE:-7760}
TEST_PORT_OFFSET=40
source "$(dirname "$0")/../tests/lib.sh"
source "$TOP/tests/netns.sh"
ROWS_ONLY=
[ "${1:-}" = --rows ] && ROWS_ONLY=1
SECS=${BENCH_SECONDS:-2}
ROUNDS=3
export WRITER_TIMES=1

T_START=$(date +%s%N)
say() { echo "dualnic: $* ($((($(date +%s%N) - T_START) / 1000000000)) s)" >&2; }
row() { printf '%-44s %12s %-8s %12s %-10s %7s %s\n' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a ~ /^[0-9.]+$/) printf "%.2f", a / b; else print "-" }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
runs() { local IFS=/; echo "runs $*"; }
skip() {
	row "dualnic: skipped ($*)" "" "" "" "" "" ""
	exit 0
}
[ "$(id -u)" -eq 0 ] || skip "needs root: network namespaces"
for t in ip nft nsenter iperf3 java; do
	command -v $t >/dev/null || skip "$t is missing"
done
[ -e /usr/share/java/zookeeper.jar ] || skip "ZooKeeper is missing"

ZK_PORT=$(port_of 10)
zk_hub_ok() {
	[ "$(echo ruok | on_hub timeout 2 bash -c "exec 3<>/dev/tcp/$NS_NET.254/$ZK_PORT; cat >&3; cat <&3" 2>/dev/null)" = imok ]
}

# over_line I / back_line I: sheep 0's newest "IO goes over" / "IO goes
# back" line about sheep I
over_line() { grep "IO path to $(addr_of "$1"): $(io_ip_of "$1"):$(port_of "$1") failed" "$T/0/sheep.log" | tail -1; }
back_line() { grep "IO path to $(addr_of "$1"): $(io_ip_of "$1"):$(port_of "$1") answers again" "$T/0/sheep.log" | tail -1; }
# new_line FN I OLD T0: wait (30 s) for FN I to differ from OLD; print the
# ms from T0 (ns) to its timestamp
new_line() {
	local fn=$1 i=$2 old=$3 t0=$4 l k ts
	for k in $(seq 1 300); do
		l=$("$fn" "$i")
		if [ -n "$l" ] && [ "$l" != "$old" ]; then
			ts=$(awk '{ print $2 " " $3 }' <<<"$l")
			echo $((($(date -d "$ts" +%s%N) - t0) / 1000000))
			return 0
		fi
		sleep 0.1
	done
	return 1
}
# ack_gap T0: the longest gap between two acknowledged writes (the last one
# to now counting too) from 1 s before T0 (ns) until now, in ms
ack_gap() {
	awk -v t0="$(awk -v t="$1" 'BEGIN { printf "%.3f", t / 1e9 }')" -v now="$(date +%s.%N)" '
		$1 == "A" && NF >= 4 && $4 >= t0 - 1 {
			if (last != "" && $4 - last > g) g = $4 - last
			last = $4
		}
		END { if (last != "" && now - last > g) g = now - last; printf "%d", g * 1000 }' "$T/ack"
}
acks() { local n; n=$(grep -c '^A' "$T/ack" 2>/dev/null); echo "${n:-0}"; }
more_acks() { [ "$(acks)" -ge "$1" ]; }

say "4 hosts, a cluster and an IO network; ZooKeeper in the hub"
NS_IO=1
ns_setup 4 >/dev/null 2>&1 || skip "cannot make network namespaces"
ZK_ADDR=$NS_NET.254 ZK_EXEC="nsenter --net=/run/netns/$NS_HUB --" zk_start 1 "$ZK_PORT"
retry 60 zk_hub_ok || skip "ZooKeeper did not start"
CS_CLUSTER="zookeeper:$NS_NET.254:$ZK_PORT,timeout=5s,id=b$$"
start_sheep 0 -g -i "host=$(io_ip_of 0)" >/dev/null 2>&1 || skip "sheep 0 did not start: $(tail -1 "$T/0/sheep.log")"
for i in 1 2 3; do
	start_sheep "$i" -i "host=$(io_ip_of "$i")" >/dev/null 2>&1 || skip "sheep $i did not start: $(tail -1 "$T/$i/sheep.log")"
done
retry 60 all_list 0 1 2 3 || skip "the four sheep did not form a cluster"
dogp 0 cluster format -c 3 >/dev/null || skip "format failed"
{ dogp 0 vdi create "$WVDI" 64M && dogp 0 vdi create bench 256M; } || skip "vdi create failed"

# ---- baselines: TCP over the same veths ------------------------------------
# iperf_mibs NIC: iperf3 from host 0 to host 1 over eth0 (cluster) or eth1 (IO), MiB/s
iperf_mibs() {
	local to p sp
	if [ "$1" = eth1 ]; then to=$(io_ip_of 1); else to=$(ip_of 1); fi
	p=$(port_of 9)
	on_node 1 iperf3 -s -1 -B "$to" -p "$p" >/dev/null 2>&1 &
	sp=$!
	sleep 0.5
	on_node 0 iperf3 -c "$to" -p "$p" -t 2 -J 2>/dev/null |
		python3 -c 'import json,sys; print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 8 / 1048576))'
	wait "$sp"
}
say "baselines: iperf3 over the IO and the cluster veths"
TCP_IO=$(iperf_mibs eth1)
TCP_CL=$(iperf_mibs eth0)
TCP_IO3=$(awk -v a="$TCP_IO" 'BEGIN { printf "%.0f", a / 3 }')

# bio MODE [ADDR]: dog benchmark io through the gateway (at its cluster
# address, or ADDR), 4 MiB requests at random offsets, depth 8, for SECS;
# prints MiB/s
bio() {
	on_hub "$DOG" benchmark io -r -a "${2:-$(ip_of 0)}" -p "$(port_of 0)" -m "$1" -B 4M -n 8 -T "$SECS" bench |
		awk '{ print $6 }'
}
say "VDI bench written once"
# every object allocated first: then both paths measure the same overwrites
on_hub "$DOG" benchmark io -r -a "$(ip_of 0)" -p "$(port_of 0)" -m write -n 8 bench >/dev/null ||
	skip "the first write of VDI bench failed"

# ---- failover and switch-back, under the writer ------------------------------
writer_start 3600 0
retry 30 more_acks 20 || skip "the writer does not write"
F_DOWN=() F_DROP=() G_DOWN=() G_DROP=() BACK=()
drop100() { io_loss "$1" 100; }
# round KIND DOWN UP: one fault of sheep 2's IO NIC and its end; appends to
# F_KIND, G_KIND (KIND: DOWN or DROP) and BACK
round() {
	local kind=$1 down=$2 up=$3 old t0 ms gap back n
	n=$(acks)
	retry 30 more_acks $((n + 10)) || return 1
	old=$(over_line 2)
	t0=$(date +%s%N)
	"$down" 2
	ms=$(new_line over_line 2 "$old" "$t0") || { say "$kind: no 'IO goes over' line within 30 s"; "$up" 2; return 1; }
	n=$(acks)
	retry 30 more_acks $((n + 10))
	gap=$(ack_gap "$t0")
	old=$(back_line 2)
	t0=$(date +%s%N)
	"$up" 2
	back=$(new_line back_line 2 "$old" "$t0") || { say "$kind: no 'IO goes back' line within 30 s"; return 1; }
	if [ "$kind" = DOWN ]; then F_DOWN+=("$ms") G_DOWN+=("$gap"); else F_DROP+=("$ms") G_DROP+=("$gap"); fi
	BACK+=("$back")
	say "$kind round: failover $ms ms (longest gap between acks $gap ms), switch-back $back ms"
}
FAILED_ROUNDS=0
for _ in $(seq 1 $ROUNDS); do
	round DOWN io_down io_up || FAILED_ROUNDS=$((FAILED_ROUNDS + 1))
	round DROP drop100 io_loss_clear || FAILED_ROUNDS=$((FAILED_ROUNDS + 1))
done
writer_stop

# ---- throughput on each path ----------------------------------------------------
say "throughput: the IO path and the cluster path (IO NICs of sheep 1-3 down) in turn, 3 times"
WI=() RI=() WC=() RC=() WS=() RS=()
for _ in $(seq 1 $ROUNDS); do
	WI+=("$(bio randwrite)") RI+=("$(bio randread)")
	for i in 1 2 3; do io_down "$i"; done
	# the first requests find the IO paths dead; measure once IO went over
	SECS=1 bio randwrite >/dev/null
	WC+=("$(bio randwrite)") RC+=("$(bio randread)")
	# the client on the gateway's IO address: client and replica traffic
	# still on two NICs, only the replica path differs
	WS+=("$(bio randwrite "$(io_ip_of 0)")") RS+=("$(bio randread "$(io_ip_of 0)")")
	for i in 1 2 3; do io_up "$i"; done
	sleep 1.5	# the probe finds them back
	SECS=1 bio randwrite >/dev/null
done
W_IO=$(median "${WI[@]}") R_IO=$(median "${RI[@]}") W_CL=$(median "${WC[@]}") R_CL=$(median "${RC[@]}")
W_CLS=$(median "${WS[@]}") R_CLS=$(median "${RS[@]}")

note=
[ "$FAILED_ROUNDS" -eq 0 ] || note="; $FAILED_ROUNDS of $((2 * ROUNDS)) rounds failed"
OUT=()
OUT+=("$(row "dualnic: failover, IO NIC link down" "$(median "${F_DOWN[@]}")" ms 2000 aim "$(ratio "$(median "${F_DOWN[@]}")" 2000)" "$(runs "${F_DOWN[@]}"); to the 'IO goes over' line")")
OUT+=("$(row "  longest gap between acked writes" "$(median "${G_DOWN[@]}")" ms "" "" "" "$(runs "${G_DOWN[@]}")")")
OUT+=("$(row "dualnic: failover, 100% drop on the IO NIC" "$(median "${F_DROP[@]}")" ms 2000 aim "$(ratio "$(median "${F_DROP[@]}")" 2000)" "$(runs "${F_DROP[@]}"); no link event")")
OUT+=("$(row "  longest gap between acked writes" "$(median "${G_DROP[@]}")" ms "" "" "" "$(runs "${G_DROP[@]}")")")
OUT+=("$(row "dualnic: switch-back, IO NIC answers again" "$(median "${BACK[@]}")" ms 1000 probe "$(ratio "$(median "${BACK[@]}")" 1000)" "$(runs "${BACK[@]}")$note")")
OUT+=("$(row "dualnic: write 4 MiB random, depth 8, IO path" "$W_IO" MiB/s "$TCP_IO3" "tcp-io/3" "$(ratio "$W_IO" "$TCP_IO3")" "$(runs "${WI[@]}"); gateway, copies 3")")
OUT+=("$(row "  the same on the cluster path" "$W_CL" MiB/s "$W_IO" "IO path" "$(ratio "$W_CL" "$W_IO")" "$(runs "${WC[@]}"); IO NICs of sheep 1-3 down: client and replicas on eth0")")
OUT+=("$(row "  cluster path, client on the IO address" "$W_CLS" MiB/s "$W_IO" "IO path" "$(ratio "$W_CLS" "$W_IO")" "$(runs "${WS[@]}"); client on eth1, replicas on eth0")")
OUT+=("$(row "dualnic: read 4 MiB random, depth 8, IO path" "$R_IO" MiB/s "$TCP_IO" "tcp-io" "$(ratio "$R_IO" "$TCP_IO")" "$(runs "${RI[@]}")")")
OUT+=("$(row "  the same on the cluster path" "$R_CL" MiB/s "$R_IO" "IO path" "$(ratio "$R_CL" "$R_IO")" "$(runs "${RC[@]}")")")
OUT+=("$(row "  cluster path, client on the IO address" "$R_CLS" MiB/s "$R_IO" "IO path" "$(ratio "$R_CLS" "$R_IO")" "$(runs "${RS[@]}")")")
OUT+=("$(row "dualnic: TCP over the IO veth (iperf3)" "$TCP_IO" MiB/s "$TCP_CL" "tcp-cl" "$(ratio "$TCP_IO" "$TCP_CL")" "cluster veth $TCP_CL MiB/s")")
say "done"
if [ -z "$ROWS_ONLY" ]; then
	echo
	printf '%-44s %12s %-8s %12s %-10s %7s %s\n' "what" "value" "unit" "baseline" "of" "ratio" ""
fi
printf '%s\n' "${OUT[@]}"
