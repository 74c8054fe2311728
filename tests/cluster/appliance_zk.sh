#!/bin/bash
# Three appliance VMs (QEMU, software emulation) and a ZooKeeper on the host
# (127.0.0.1:SHEEP_ZK_APPLIANCE_PORT, default 21851; 10.0.2.2 from the
# guests) form one cluster.  Each VM has two NICs: eth0 (QEMU user network:
# ZooKeeper, and dog from the host through a forwarded port) and eth1 on a
# LAN the three share (a QEMU multicast socket, 192.168.77.0/24, static
# addresses from ip=), which carries replication.  The cluster is formatted
# with 2 copies, a VDI written through one VM reads back through every VM;
# one VM is killed (kill -9 QEMU: power loss); the survivors see it leave,
# and the VDI still reads back and takes writes.
TEST_PORT_OFFSET=290
source "$(dirname "$0")/../lib.sh"
once_only
ZK_PORT=${SHEEP_ZK_APPLIANCE_PORT:-21851}
MCAST_PORT=$(port_of 9)

check "make image" need_image
zk_start 1 "$ZK_PORT"
check "ZooKeeper answers" retry 30 zk_ok "$ZK_PORT"

for i in 1 2 3; do
	vm_start "vm$i" -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" \
		-nic "user,model=virtio,hostfwd=tcp:127.0.0.1:$(port_of "$i")-:7000" \
		-netdev "socket,id=lan,mcast=230.0.0.1:$MCAST_PORT,localaddr=127.0.0.1" \
		-device "virtio-net-pci,netdev=lan,mac=52:54:00:77:00:0$i" \
		-append "console=ttyS0 panic=-1 ip=eth0:dhcp ip=eth1:192.168.77.$i/24 \
sheep.myaddr=192.168.77.$i sheep.zone=$i sheep.cluster=zookeeper:10.0.2.2:$ZK_PORT,timeout=5s,id=a$$"
done
for i in 1 2 3; do
	check "vm$i: serving" vm_serving "vm$i"
done
check "vm1 lists the three" retry 60 bash -c \
	"[ \$('$DOG' node list -r -p $(port_of 1) | grep -c '192.168.77.') = 3 ]"
check "format copies 2" dogp 1 cluster format -c 2
head -c $((16 << 20)) /dev/urandom >"$T/d"
check "write 16 MiB through vm1" bash -c \
	"'$DOG' vdi create d 16M -p $(port_of 1) && '$DOG' vdi write d -p $(port_of 1) <'$T/d'"
for i in 1 2 3; do
	check "vm$i reads it back" same_data "$i" "$T/d" d
done

t0=$(date +%s%N)
vm_kill vm3
check "the survivors see vm3 leave" retry 60 bash -c \
	"[ \$('$DOG' node list -r -p $(port_of 1) | grep -c '192.168.77.') = 2 ]"
echo "info: vm3's loss seen by vm1 after $((($(date +%s%N) - t0) / 1000000)) ms (session timeout 5000 ms)"
check "vm2 agrees" retry 30 bash -c \
	"[ \$('$DOG' node list -r -p $(port_of 2) | grep -c '192.168.77.') = 2 ]"
for i in 1 2; do
	check "after the loss of vm3, vm$i reads the VDI" retry 30 same_data "$i" "$T/d" d
done
patch 2 d "$T/d" 3000000 5000000 || fail "write through vm2 after the loss"
check "vm1 reads the new data" same_data 1 "$T/d" d
# dog asks every member, at its cluster address: ask from vm1's console
console_recovered() {
	vm_send vm1 'r=$(dog node recovery -r) && [ -z "$r" ] && echo "recovery done: $((40 + 2))"'
	vm_wait vm1 "recovery done: 42" 3 >/dev/null
}
check "recovery finishes on the survivors (asked on vm1's console)" retry 120 console_recovered
check "vm2 still reads the VDI" same_data 2 "$T/d" d
finish
