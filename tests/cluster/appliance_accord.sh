#!/bin/bash
# Three appliance VMs (QEMU, software emulation) with sheep.cluster=accord
# join one real Accord conductor (built from ../shared by tests/accord.sh)
# running outside the VMs, like a ZooKeeper would.  The conductor needs a
# corosync in its own network namespace, so the conductor, its one-node
# corosync and the QEMUs all run in one test namespace (host 0 of
# tests/netns.sh): the guests reach the conductor at 10.0.2.2 (QEMU user
# networking: 127.0.0.1 of that namespace), dog reaches the guests through
# ports forwarded there, and the guests' shared LAN (eth1, a QEMU multicast
# socket on lo, 192.168.77.0/24) carries replication.  Nothing runs in the
# host's own network namespace but the build.  The cluster is formatted with
# 2 copies, a VDI written through one VM reads back through every VM; one
# VM is killed (kill -9 QEMU: power loss); the survivors see it leave (its
# conductor connection closes), and the VDI still reads back and takes
# writes.  Bad accord parameters print the ERROR line and leave a shell; an
# unreachable conductor is named in sheep's error and takes the same path.
TEST_PORT_OFFSET=480
source "$(dirname "$0")/../lib.sh"
once_only
source "$TOP/tests/netns.sh"
source "$TOP/tests/accord.sh"
ns_need
ac_need
MCAST_PORT=$(port_of 9)
KARGS="console=ttyS0 panic=-1"

# dog runs in host 0's namespace, where the QEMUs forward the guests' port 7000
dogp() {
	local idx=$1
	shift
	local sub=$1 cmd=$2
	shift 2
	on_node 0 "$DOG" "$sub" "$cmd" -p "$(port_of "$idx")" "$@"
}

check "make image" need_image

# ---- the conductor: host 0, its one-node corosync ------------------------
check "namespaces" ns_setup 1
# A QEMU killed -9 leaves its user-network sockets to the kernel: a FIN, and
# an orphan that still answers the conductor's keepalive probes for
# tcp_fin_timeout (60 s); Accord's conductor marks a client dead on EOF but
# sends LEFT only at the socket's next event, here that orphan's RST.  A
# machine that loses power answers nothing: keepalive (1 s, 1 s x 2) finds it
# in ~3 s.  Orphans that live 1 s model that (a sysctl of this namespace only).
on_node 0 sysctl -qw net.ipv4.tcp_fin_timeout=1
CS_NODES=0 cs_start 0
check "corosync in host 0: one member, quorate" cs_wait_members 0 1
check "the Accord conductor listens" ac_start 0
VM_EXEC="nsenter --net=/run/netns/$(ns_name 0) --"

# ---- bad parameters: four VMs at once ------------------------------------
vm_start bad1 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic none \
	-append "$KARGS sheep.cluster=accord:"
vm_start bad2 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic none \
	-append "$KARGS sheep.cluster=accord:10.0.2.2:$AC_PORT,10.0.2.3:70000"
vm_start bad4 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic none \
	-append "$KARGS sheep.cluster=accord:10.0.2.2,timeout=500ms"
# well formed, but nothing listens at that port: sheep names the conductor
NOPORT=$(port_of 8)
vm_start bad3 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic user,model=virtio \
	-append "$KARGS sheep.cluster=accord:10.0.2.2:$NOPORT"
check "accord: with no conductor: says so" vm_wait bad1 \
	"sheep-appliance: ERROR: sheep.cluster=accord: names no conductor"
check "a bad conductor port: says so" vm_wait bad2 \
	"sheep-appliance: ERROR: accord conductor '10.0.2.3:70000': '70000' is not a port \(1-65535\)"
check "a timeout below 1 s: says so" vm_wait bad4 \
	"sheep-appliance: ERROR: accord option 'timeout=500ms': a timeout is 1s to 600s"
check "an unreachable conductor: sheep names it" vm_wait bad3 \
	"accord: no conductor answered: .*10.0.2.2:$NOPORT"
check "an unreachable conductor: the ERROR path" vm_wait bad3 \
	"sheep-appliance: ERROR: sheep did not start"
for v in bad1 bad2 bad3 bad4; do
	check "$v leaves a shell on the console" vm_wait $v "built-in shell"
	vm_kill $v
done
for v in bad1 bad2 bad4; do
	check "$v started no sheep" bash -c "! grep -aq 'starting sheep' '$T/$v/console.log'"
done

# n_members IDX N: the sheep at IDX lists N members
n_members() { [ "$(dogp "$1" node list -r | grep -c '192.168.77.')" = "$2" ]; }

# ---- three members ---------------------------------------------------------
CL="accord:10.0.2.2:$AC_PORT,timeout=5s,id=a$$"
for i in 1 2 3; do
	vm_start "vm$i" -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" \
		-nic "user,model=virtio,hostfwd=tcp:127.0.0.1:$(port_of "$i")-:7000" \
		-netdev "socket,id=lan,mcast=230.0.0.1:$MCAST_PORT,localaddr=127.0.0.1" \
		-device "virtio-net-pci,netdev=lan,mac=52:54:00:77:00:0$i" \
		-append "$KARGS ip=eth0:dhcp ip=eth1:192.168.77.$i/24 \
sheep.myaddr=192.168.77.$i sheep.zone=$i sheep.cluster=$CL"
done
for i in 1 2 3; do
	check "vm$i: serving" vm_serving "vm$i"
	check "vm$i: sheep -c $CL" vm_wait "vm$i" "starting sheep .*-c $CL " 1
done
check "vm1 lists the three" retry 60 n_members 1 3
check "format copies 2" dogp 1 cluster format -c 2
head -c $((16 << 20)) /dev/urandom >"$T/d"
check "write 16 MiB through vm1" eval 'dogp 1 vdi create d 16M && dogp 1 vdi write d <"$T/d"'
for i in 1 2 3; do
	check "vm$i reads it back" same_data "$i" "$T/d" d
done

# ---- power loss of vm3 ------------------------------------------------------
t0=$(date +%s%N)
vm_kill vm3
check "the survivors see vm3 leave" retry 60 n_members 1 2
echo "info: vm3's loss seen by vm1 after $(ms_since "$t0") ms (the conductor's keepalive 1 s + 1 s x 2)"
check "vm2 agrees" retry 30 n_members 2 2
for i in 1 2; do
	check "after the loss of vm3, vm$i reads the VDI" retry 30 same_data "$i" "$T/d" d
done
patch 2 d "$T/d" 3000000 5000000 || fail "write through vm2 after the loss"
check "vm1 reads the new data" same_data 1 "$T/d" d
finish
