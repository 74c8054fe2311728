#!/bin/bash
# Three appliance VMs (QEMU, software emulation) with two LANs each and a
# ZooKeeper on the host (port SHEEP_TEST_PORT_BASE + 539; 10.0.2.2 from the
# guests).  Each VM has three NICs: eth0 (QEMU user network: ZooKeeper, and
# dog from the host through a forwarded port), eth1 on the cluster LAN
# (192.168.77.0/24, sheep.myaddr) and eth2 on the IO LAN (192.168.78.0/24,
# sheep.ionic=host=...; vm2 names a port too), both QEMU multicast sockets,
# and a QEMU monitor.  Copies 3; the verifiable writer (writer.py) writes
# through vm1 all along while vm2's IO LAN is cut (QEMU's set_link off on
# its netdev: the guest sees its carrier go, the others see silence): vm1,
# and vm3 for a write through it, log that IO to vm2 goes over its cluster
# address, the writes go on, vm2 receives them on eth1; set_link on: they
# log that IO goes back, and vm2 receives them on eth2 again.  No write
# fails, every acknowledged write reads back through every VM and the
# replicas agree.  Then vm2's ZooKeeper link (its eth0) is cut for longer
# than the session timeout while its IO LAN still reaches the others: it
# halts IO at once (no write acknowledged, no read served on its console),
# vm1 and vm3 drop it and the writes go on; back, it starts over in place
# (same process), rejoins and recovers, and every acknowledged write still
# reads back through every VM.  Bad sheep.ionic values take /init's ERROR
# path.  Times (failover, switch-back, halt, drop, rejoin, recovery, the
# longest write stall and writes/s in each phase) are info: lines.
TEST_PORT_OFFSET=520
source "$(dirname "$0")/../lib.sh"
once_only
ZK_PORT=$(port_of 19)
CL_MCAST=$(port_of 10)	# the cluster LAN
IO_MCAST=$(port_of 11)	# the IO LAN
KARGS="console=ttyS0 panic=-1"
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
# running PID: a child that has not exited (a zombie has)
running() { local s; s=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null); [ -n "$s" ] && [ "$s" != Z ]; }

check "make image" need_image
zk_start 1 "$ZK_PORT"

# ---- bad sheep.ionic: the ERROR line and a shell, five VMs at once -------------
vm_start bad1 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic none \
	-append "$KARGS sheep.cluster=local sheep.ionic=host=192.168.78.300"
vm_start bad2 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic none \
	-append "$KARGS sheep.cluster=local sheep.ionic=host=192.168.78.1,port=70000"
vm_start bad3 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic none \
	-append "$KARGS sheep.cluster=local sheep.ionic=host=192.168.78.1,nic=eth2"
vm_start bad4 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic user,model=virtio \
	-append "$KARGS sheep.cluster=local ip=eth0:10.0.2.15/24 sheep.ionic=host=192.168.78.4"
vm_start bad5 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic user,model=virtio \
	-append "$KARGS sheep.cluster=local ip=eth0:10.0.2.15/24 sheep.ionic=host=10.0.2.15"
check "sheep.ionic: a bad IP: says so" vm_wait bad1 \
	"sheep-appliance: ERROR: sheep.ionic=host=192.168.78.300: '192.168.78.300' is not an IPv4 address"
check "sheep.ionic: a bad port: says so" vm_wait bad2 \
	"sheep-appliance: ERROR: sheep.ionic=.*: '70000' is not a port \(1-65535\)"
check "sheep.ionic: an unknown key: says so" vm_wait bad3 \
	"sheep-appliance: ERROR: sheep.ionic=.*: unknown option 'nic=eth2'"
check "sheep.ionic: not this node's address: says so" vm_wait bad4 \
	"sheep-appliance: ERROR: sheep.ionic=host=192.168.78.4: 192.168.78.4 is not an address of this node \(10.0.2.15\)"
check "sheep.ionic: the cluster address itself: says so" vm_wait bad5 \
	"sheep-appliance: ERROR: sheep.ionic=host=10.0.2.15: 10.0.2.15:7000 is the cluster address itself"
for v in bad1 bad2 bad3 bad4 bad5; do
	check "$v leaves a shell on the console" vm_wait $v "built-in shell"
	vm_kill $v
	check "$v started no sheep" bash -c "! grep -aq 'starting sheep' '$T/$v/console.log'"
done

# ---- three VMs, three NICs each --------------------------------------------------
check "ZooKeeper answers" retry 30 zk_ok "$ZK_PORT"
CL="zookeeper:10.0.2.2:$ZK_PORT,timeout=5s,id=d$$"
VM_MONITOR=1
for i in 1 2 3; do
	ionic[i]=host=192.168.78.$i
	[ $i = 2 ] && ionic[i]=host=192.168.78.$i,port=7001	# the other form: a port of its own
	vm_start "vm$i" -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" \
		-netdev "user,id=up,hostfwd=tcp:127.0.0.1:$(port_of "$i")-:7000" -device virtio-net-pci,netdev=up \
		-netdev "socket,id=cl,mcast=230.0.0.1:$CL_MCAST,localaddr=127.0.0.1" \
		-device "virtio-net-pci,netdev=cl,mac=52:54:00:77:00:0$i" \
		-netdev "socket,id=io,mcast=230.0.0.1:$IO_MCAST,localaddr=127.0.0.1" \
		-device "virtio-net-pci,netdev=io,mac=52:54:00:78:00:0$i" \
		-append "$KARGS ip=eth0:dhcp ip=eth1:192.168.77.$i/24 ip=eth2:192.168.78.$i/24 \
sheep.myaddr=192.168.77.$i sheep.ionic=${ionic[i]} sheep.zone=$i sheep.cluster=$CL"
done
unset VM_MONITOR
IOP=(- 7000 7001 7000)	# each VM's IO port

# console VM COMMAND [SECONDS]: run a shell command on VM's console, print its
# output and errors on one line; the echo of the typed line carries $((...)),
# so it never matches
console() {
	local tag=$((RANDOM * 32768 + RANDOM))
	vm_send "$1" "echo \"out-\$((0+$tag)): \$({ $2; } 2>&1 | tr '\\n' ' ')\""
	vm_wait "$1" "out-$tag: " "${3:-20}" >/dev/null || return 1
	grep -ao "out-$tag: .*" "$T/$1/console.log" | tail -1 | cut -d' ' -f2- | tr -d '\r' | sed 's/ *$//'
}
# rx VM: bytes received on eth1 and eth2
rx() { console "$1" "cat /sys/class/net/eth1/statistics/rx_bytes /sys/class/net/eth2/statistics/rx_bytes | xargs"; }
n_members() { [ "$(dogp "$1" node list -r | grep -c '192.168.77.')" = "$2" ]; }

for i in 1 2 3; do
	check "vm$i: serving" vm_serving "vm$i"
	check "vm$i: sheep -y 192.168.77.$i -i ${ionic[i]}" \
		vm_wait "vm$i" "starting sheep .*-y 192.168.77.$i -i ${ionic[i]} " 1
	check "vm$i: /init names the IO NIC" \
		vm_wait "vm$i" "IO NIC: 192.168.78.$i:${IOP[i]} \(object IO between sheep; cluster address 192.168.77.$i:7000\)" 1
	check "vm$i: eth1 is the cluster LAN's NIC, eth2 the IO LAN's" \
		eval "[ \"\$(console vm$i 'cat /sys/class/net/eth1/address /sys/class/net/eth2/address | xargs')\" = '52:54:00:77:00:0$i 52:54:00:78:00:0$i' ]"
done
check "vm1 lists the three" retry 60 n_members 1 3
check "dog node list -i: each node's IO address" bash -c \
	"[ \$('$DOG' node list -r -i -p $(port_of 1) | grep -cE '192\.168\.77\.[123]:7000 .*192\.168\.78\.[123](:700[01])?\$') = 3 ]"
echo "info: $(dogp 1 node list -i 2>&1 | tr '\n' '|')"
check "format copies 3" dogp 1 cluster format -c 3

# ---- IO on the IO LAN --------------------------------------------------------------
head -c $((16 << 20)) /dev/urandom >"$T/d"
read -r a1 a2 <<<"$(rx vm2)"
t0=$(date +%s%N)
check "write 16 MiB through vm1" eval 'dogp 1 vdi create d 16M && dogp 1 vdi write d <"$T/d"'
echo "info: 16 MiB written through vm1 (copies 3) in $(ms_since "$t0") ms"
read -r b1 b2 <<<"$(rx vm2)"
echo "info: vm2 received $(((b1 - a1) >> 10)) KiB on eth1 (cluster), $(((b2 - a2) >> 10)) KiB on eth2 (IO)"
check "its replicas reach vm2 over the IO LAN (eth2), not the cluster LAN" \
	eval "[ $((b2 - a2)) -gt $((16 << 20)) ] && [ $((b1 - a1)) -lt $((1 << 20)) ]"
for i in 1 2 3; do
	check "vm$i reads it back" same_data "$i" "$T/d" d
done

# ---- the writer; vm2's IO LAN cut ---------------------------------------------------
check "create the writer's VDI" dogp 1 vdi create w 32M
python3 "$TOP/tests/cluster/writer.py" write "$(port_of 1)" w "$T/ack" 3600 >"$T/writer.out" 2>&1 &
wpid=$!
PIDS+=("$wpid")
# acknowledged writes, sampled every 0.2 s: "TIME_NS COUNT"
(while :; do echo "$(date +%s%N) $(grep -c '^A' "$T/ack" 2>/dev/null)"; sleep 0.2; done) >"$T/acks" &
PIDS+=("$!")
disown "$!"
acked() { grep -c '^A' "$T/ack"; }
check "the writer writes through vm1" retry 60 eval '[ "$(acked)" -gt 20 ]'
sleep 8

check "no IO failover before the cut" bash -c "! grep -a 'IO goes over' '$T'/vm[123]/console.log"
T_CUT=$(date +%s%N)
check "set_link io off on vm2's monitor" vm_monitor vm2 "set_link io off"
read -r a1 a2 <<<"$(rx vm2)"
OVER="IO path to 192.168.77.2:7000: 192.168.78.2:7001 failed \(.*\); IO goes over 192.168.77.2:7000"
check "vm1: IO to vm2 goes over its cluster address" vm_wait vm1 "$OVER" 60
T_OVER=$(date +%s%N)
echo "info: vm1 logged the failover $(ms_since "$T_CUT") ms after the cut: $(grep -aoE 'IO path to 192.168.77.2:7000: .*' "$T/vm1/console.log" | head -1)"
n0=$(acked)
check "a write through vm3 while vm2's IO LAN is cut" patch 3 d "$T/d" 5000000 1000000
check "vm3: IO to vm2 goes over its cluster address" vm_wait vm3 "$OVER" 30
sleep 8
n1=$(acked)
read -r b1 b2 <<<"$(rx vm2)"
check "writes go on over the cluster LAN ($((n1 - n0)) acknowledged since the failover)" \
	eval "[ $((n1 - n0)) -gt 10 ]"
check "the writer has not failed" running "$wpid"
echo "info: during the cut vm2 received $(((b1 - a1) >> 10)) KiB on eth1 (cluster), $(((b2 - a2) >> 10)) KiB on eth2 (IO)"
check "vm2 receives the IO on eth1 during the cut" eval "[ $((b1 - a1)) -gt $((4 << 20)) ]"
check "and nothing on eth2 (its link is down)" eval "[ $((b2 - a2)) -lt 4096 ]"

# ---- and restored ----------------------------------------------------------------------
T_ON=$(date +%s%N)
check "set_link io on on vm2's monitor" vm_monitor vm2 "set_link io on"
BACK="IO path to 192.168.77.2:7000: 192.168.78.2:7001 answers again; IO goes back to it"
check "vm1: IO to vm2 goes back to its IO address" vm_wait vm1 "$BACK" 60
echo "info: vm1 switched back $(ms_since "$T_ON") ms after set_link on"
check "vm3: IO to vm2 goes back to its IO address" vm_wait vm3 "$BACK" 60
echo "info: vm3 switched back within $(ms_since "$T_ON") ms after set_link on"
T_BACK=$(date +%s%N)
read -r a1 a2 <<<"$(rx vm2)"
sleep 8
read -r b1 b2 <<<"$(rx vm2)"
echo "info: after the switch-back vm2 received $(((b1 - a1) >> 10)) KiB on eth1 (cluster), $(((b2 - a2) >> 10)) KiB on eth2 (IO)"
check "vm2 receives the IO on eth2 again" eval "[ $((b2 - a2)) -gt $((1 << 20)) ] && [ $((4 * (b1 - a1))) -lt $((b2 - a2)) ]"
check "the writer has not failed (it ran through the cut and back)" running "$wpid"
for i in 1 3; do
	check "vm$i: one failover and one switch-back, no flapping" bash -c \
		"[ \$(grep -ac 'IO goes over' '$T/vm$i/console.log') = 1 ] && [ \$(grep -ac 'IO goes back' '$T/vm$i/console.log') = 1 ]"
done
kill "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
T_END=$(date +%s%N)
sleep 0.3

# writes/s and the longest stall in each phase, from the samples
rates() {
	awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b {
		if (n == 0) { c0 = $2; t0 = $1; last = $1; lc = $2 }
		if ($2 != lc) { if ($1 - last > stall) stall = $1 - last; last = $1; lc = $2 }
		n++; c1 = $2; t1 = $1 }
		END { if (t1 - last > stall) stall = t1 - last
		      printf "%d acknowledged writes (64 KiB) in %.1f s: %.1f/s, longest stall %d ms",
			c1 - c0, (t1 - t0) / 1e9, (c1 - c0) / ((t1 - t0) / 1e9 + 1e-9), stall / 1e6 }' "$T/acks"
}
echo "info: before the cut: $(rates 0 "$T_CUT")"
echo "info: cut, until vm1's failover line: $(rates "$T_CUT" "$T_OVER")"
echo "info: cut, over the cluster LAN: $(rates "$T_OVER" "$T_ON")"
echo "info: restored, until the switch-back: $(rates "$T_ON" "$T_BACK")"
echo "info: back on the IO LAN: $(rates "$T_BACK" "$T_END")"

# ---- every acknowledged write, through every VM; the replicas agree -------------------
check "no VM lost its cluster link while only IO was cut" \
	bash -c "! grep -a 'cluster link lost' '$T'/vm[123]/console.log"
for i in 1 2 3; do
	check "vm$i: every acknowledged write reads back" acked_reads_back "$i" w
	check "vm$i reads d back (with the write through vm3)" same_data "$i" "$T/d" d
done

# ---- vm2 cut from ZooKeeper (its eth0) longer than the session timeout ----------------
# its IO LAN still reaches the others: it must stop serving IO at once, the
# others drop it and go on; back, it starts over in place, rejoins, recovers
check "create VDI s" dogp 1 vdi create s 4M
python3 "$TOP/tests/cluster/writer.py" write "$(port_of 1)" w "$T/ack" 3600 >>"$T/writer.out" 2>&1 &
wpid=$!
PIDS+=("$wpid")
n0=$(acked)
check "the writer writes through vm1 again" retry 60 eval '[ $(($(acked) - n0)) -gt 20 ]'
sleep 3
T_ZK=$(date +%s%N)
check "set_link up off on vm2's monitor (its ZooKeeper link)" vm_monitor vm2 "set_link up off"
# when vm1 drops vm2, noted in the background (the checks on vm2 take a while)
(retry 60 n_members 1 2 && date +%s%N >"$T/left_at") &
wlpid=$!
check "vm2: cluster link lost, IO halted" vm_wait vm2 "cluster link lost: IO halted" 60
T_LOST=$(date +%s%N)
echo "info: vm2 halted its IO $(ms_since "$T_ZK") ms after its ZooKeeper link was cut"
# clients on vm2's side of the cut (its console) get no write acknowledged, no read served
w_out=$(console vm2 "printf halted | timeout 5 dog vdi write s 0 6 >/tmp/o 2>&1; echo rc=\$? \$(head -c 200 /tmp/o)" 30)
echo "info: a write through vm2 while it is cut off: $w_out"
check "vm2 acknowledges no write while it is cut off" eval '[[ "$w_out" =~ rc=([0-9]+) && ${BASH_REMATCH[1]} != 0 ]]'
r_out=$(console vm2 "timeout 5 dog vdi read w 0 65536 >/tmp/r 2>/tmp/o; echo rc=\$? \$(wc -c </tmp/r) bytes \$(head -c 200 /tmp/o)" 30)
echo "info: a read through vm2 while it is cut off: $r_out"
check "vm2 serves no read while it is cut off" eval '[[ "$r_out" =~ rc=([0-9]+) && ${BASH_REMATCH[1]} != 0 ]]'
check "vm1 sees vm2 leave" retry 60 n_members 1 2
wait "$wlpid"
T_LEFT=$(cat "$T/left_at" 2>/dev/null || date +%s%N)
echo "info: vm1 dropped vm2 $(((T_LEFT - T_ZK) / 1000000)) ms after the cut (session timeout 5000 ms)"
n0=$(acked)
sleep 8
check "writes go on without vm2 ($(($(acked) - n0)) acknowledged in 8 s)" eval '[ $(($(acked) - n0)) -gt 10 ]'
check "the writer has not failed (vm2 cut from ZooKeeper)" running "$wpid"
T_ZKON=$(date +%s%N)
check "set_link up on on vm2's monitor" vm_monitor vm2 "set_link up on"
check "vm2 starts over in place" vm_wait vm2 "restarting to rejoin the cluster" 60
echo "info: vm2 started over $(ms_since "$T_ZKON") ms after its ZooKeeper link came back"
check "vm1 lists the three again" retry 120 n_members 1 3
echo "info: vm2 rejoined (vm1 lists it) $(ms_since "$T_ZKON") ms after its ZooKeeper link came back"
check "vm2's sheep was not restarted by /init (same process)" \
	bash -c "! grep -aq 'sheep (pid [0-9]*) exited' '$T/vm2/console.log'"
console_recovered() { [ "$(console vm1 'dog node recovery -r | wc -l' 10)" = 0 ]; }
check "recovery finishes (asked on vm1's console)" retry 180 console_recovered
echo "info: recovery done $(ms_since "$T_ZKON") ms after vm2's ZooKeeper link came back"
check "the writer has not failed (vm2 back)" running "$wpid"
kill "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
T_END2=$(date +%s%N)
echo "info: cut from ZooKeeper, until vm2 halted: $(rates "$T_ZK" "$T_LOST")"
echo "info: until vm1 dropped vm2: $(rates "$T_LOST" "$T_LEFT")"
echo "info: without vm2: $(rates "$T_LEFT" "$T_ZKON")"
echo "info: vm2 back, rejoining and recovering: $(rates "$T_ZKON" "$T_END2")"
for i in 1 2 3; do
	check "vm$i: every acknowledged write reads back (after vm2's return)" acked_reads_back "$i" w
	check "vm$i reads d back (after vm2's return)" same_data "$i" "$T/d" d
done
# dog vdi check reads every replica at the members' cluster addresses: on vm1
vdi_check() {
	local out
	out=$(console vm1 "dog vdi check $1 2>&1 | tr '\\n' '|'" 120) || return 1
	echo "info: dog vdi check $1 on vm1: $out"
	[[ "$out" == "finish check&repair $1|" ]]
}
for v in w d; do
	check "dog vdi check $v (on vm1): the replicas agree" vdi_check $v
done
check "vm1 still lists the three" n_members 1 3
check "neither vm1 nor vm3 lost its cluster link" \
	bash -c "! grep -a 'cluster link lost' '$T'/vm[13]/console.log"
for i in 1 2 3; do
	echo "info: vm$i's sheep logged $(grep -ac '^err ' "$T/vm$i/console.log") err and $(grep -ac '^warning ' "$T/vm$i/console.log") warning lines; IO path lines: $(grep -ao 'IO path to .*' "$T/vm$i/console.log" | tr -d '\r' | tr '\n' '|')"
done
finish
