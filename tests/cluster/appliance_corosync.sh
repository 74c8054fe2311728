#!/bin/bash
# Three appliance VMs (QEMU, software emulation) with sheep.cluster=corosync:
# each runs Debian's corosync from the image, configured by /init from
# sheep.corosync= (knet over eth1, a LAN the three share through a QEMU
# multicast socket, 192.168.77.0/24), then sheep -c corosync:app.  The ring forms
# with quorum on every VM; a corosync killed inside a VM is restarted and
# rejoins; dog from the host (forwarded ports) sees three sheep, formats with
# 2 copies, writes a VDI through one VM and reads it back through each; one VM
# is killed (kill -9 QEMU: power loss): the two survivors keep quorum, see it
# leave, and the VDI still reads back and takes writes.  Bad corosync
# parameters print the ERROR line and leave a shell.
TEST_PORT_OFFSET=430
source "$(dirname "$0")/../lib.sh"
once_only
MCAST_PORT=$(port_of 9)
KARGS="console=ttyS0 panic=-1"
RING=192.168.77.1,192.168.77.2,192.168.77.3

check "make image" need_image

# ---- bad parameters: all four VMs at once ---------------------------------------
vm_start bad1 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic none \
	-append "$KARGS sheep.cluster=corosync"
vm_start bad2 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic none \
	-append "$KARGS sheep.cluster=corosync sheep.corosync=192.168.77.1,192.168.77.256"
vm_start bad3 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic user,model=virtio \
	-append "$KARGS sheep.cluster=corosync:a sheep.corosync=$RING ip=eth0:10.9.9.9/24"
vm_start bad4 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic user,model=virtio \
	-append "$KARGS sheep.cluster=corosync sheep.corosync=$RING sheep.myaddr=192.168.77.2 ip=eth0:10.9.9.9/24"
check "corosync without sheep.corosync: says so" vm_wait bad1 \
	"sheep-appliance: ERROR: sheep.cluster=corosync needs sheep.corosync=IP1,IP2"
check "a malformed member address: says so" vm_wait bad2 \
	"sheep-appliance: ERROR: sheep.corosync=.*'192.168.77.256' is not an IPv4 address"
check "this node not in the list: says so" vm_wait bad3 \
	"sheep-appliance: ERROR: none of this node's addresses \(10.9.9.9\) is in sheep.corosync="
check "sheep.myaddr in the list but not this node's: says so" vm_wait bad4 \
	"sheep-appliance: ERROR: sheep.myaddr=192.168.77.2 is in sheep.corosync= but is not an address of this node \(10.9.9.9\)"
for v in bad1 bad2 bad3 bad4; do
	check "$v leaves a shell on the console" vm_wait $v "built-in shell"
	check "$v started no corosync" bash -c "! grep -aq 'starting corosync' '$T/$v/console.log'"
	vm_kill $v
done

# count VM PATTERN: how many of VM's console lines match
count() { grep -acE -- "$2" "$T/$1/console.log"; }
# n_members IDX N: the sheep at IDX lists N members
n_members() { [ "$(dogp "$1" node list -r | grep -c '192.168.77.')" = "$2" ]; }
# epoch_ge IDX N: the sheep at IDX is at epoch N or later
epoch_ge() { local e; e=$(epoch_of "$1"); [ -n "$e" ] && [ "$e" -ge "$2" ]; }
# more VM PATTERN N: more than N of VM's console lines match
more() { [ "$(count "$1" "$2")" -gt "$3" ]; }

# ---- three members (vm1 names its ring address, vm2 and vm3 are found by theirs) -----------------------------------------------------------
for i in 1 2 3; do
	vm_start "vm$i" -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" \
		-nic "user,model=virtio,hostfwd=tcp:127.0.0.1:$(port_of "$i")-:7000" \
		-netdev "socket,id=lan,mcast=230.0.0.1:$MCAST_PORT,localaddr=127.0.0.1" \
		-device "virtio-net-pci,netdev=lan,mac=52:54:00:77:00:0$i" \
		-append "$KARGS ip=eth0:dhcp ip=eth1:192.168.77.$i/24 sheep.zone=$i \
sheep.cluster=corosync:app sheep.corosync=$RING $([ $i = 1 ] && echo sheep.myaddr=192.168.77.1)"
done
for i in 1 2 3; do
	check "vm$i: corosync started as node $i (its address in the list)" \
		vm_wait "vm$i" "starting corosync: node $i of 3, ring address 192.168.77.$i"
done
for i in 1 2 3; do
	check "vm$i: the ring has the three members" vm_wait "vm$i" "corosync: Members\[3\]: 1 2 3" 90
	check "vm$i: quorate" vm_wait "vm$i" "corosync: This node is within the primary component" 30
done
# quorate VM VOTES: corosync-quorumtool, typed on VM's console, says quorate
# with VOTES votes (a few of its lines go to the log as info: lines)
QT=0
quorate() {
	QT=$((QT + 1))
	local tag="qt$QT-$$"
	vm_send "$1" "corosync-quorumtool -s | sed 's/^/$tag: /'"
	vm_wait "$1" "^$tag: Quorate: +Yes" 30 && vm_wait "$1" "^$tag: Total votes: +$2" 5 || return 1
	grep -a "^$tag: " "$T/$1/console.log" | sed "s/^$tag: /info: $1: /" | grep -E "Nodes|Quorate|votes"
}
check "corosync-quorumtool on vm1: quorate, 3 votes" quorate vm1 3

for i in 1 2 3; do
	check "vm$i: serving" vm_serving "vm$i"
	check "vm$i: sheep -c corosync:app, its ring address advertised" \
		vm_wait "vm$i" "starting sheep .*-c corosync:app -z $i -y 192.168.77.$i " 1
done
check "vm1 lists the three" retry 60 n_members 1 3
check "format copies 2" dogp 1 cluster format -c 2
head -c $((16 << 20)) /dev/urandom >"$T/d"
check "write 16 MiB through vm1" bash -c \
	"'$DOG' vdi create d 16M -p $(port_of 1) && '$DOG' vdi write d -p $(port_of 1) <'$T/d'"
for i in 1 2 3; do
	check "vm$i reads it back" same_data "$i" "$T/d" d
done

# ---- corosync killed inside vm3: restarted, the ring has three again ---------------
e0=$(epoch_of 1) c0=$(count vm1 "corosync: Members\[3\]")
t0=$(date +%s%N)
vm_send vm3 'kill -9 $(cat /run/corosync.sup)'
check "vm3: the dead corosync is seen" vm_wait vm3 "corosync \(pid [0-9]+\) exited; restarting it" 60
check "vm3: and restarted" vm_wait vm3 "sheep-appliance: corosync restarted" 60
# (back within the token timeout: vm1 sees a new membership of three)
check "vm1 sees vm3 rejoin the ring" retry 90 more vm1 "corosync: Members\[3\]" "$c0"
# vm3's sheep left with its corosync and came back: two epochs later, three
check "vm3's sheep left and is a member again" retry 90 \
	eval "epoch_ge 1 $((e0 + 2)) && n_members 1 3"
echo "info: corosync killed in vm3: its sheep back in the cluster after $((($(date +%s%N) - t0) / 1000000)) ms"
check "vm3 reads the VDI" retry 60 same_data 3 "$T/d" d

# ---- power loss of vm3: 2 of 3 keep quorum --------------------------------------
n1=$(count vm1 "corosync: Members\[2\]: 1 2")
t0=$(date +%s%N)
vm_kill vm3
check "vm1's corosync: two members" retry 60 more vm1 "corosync: Members\[2\]: 1 2" "$n1"
echo "info: vm3's loss seen by vm1's corosync after $((($(date +%s%N) - t0) / 1000000)) ms (token 3000 ms)"
check "the survivors see vm3 leave" retry 60 n_members 1 2
echo "info: and by vm1's sheep (dog node list) after $((($(date +%s%N) - t0) / 1000000)) ms"
check "vm2 agrees" retry 30 n_members 2 2
check "vm2 keeps quorum (2 of 3 votes)" quorate vm2 2
for i in 1 2; do
	check "after the loss of vm3, vm$i reads the VDI" retry 30 same_data "$i" "$T/d" d
done
patch 2 d "$T/d" 3000000 5000000 || fail "write through vm2 after the loss"
check "vm1 reads the new data" same_data 1 "$T/d" d
finish
