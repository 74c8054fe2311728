#!/bin/bash
# The NBD export of the appliance (sheep.nbd=), under QEMU, software emulation.
# Three VMs with sheep.cluster=corosync (as in appliance_corosync.sh: a LAN
# the three share through a QEMU multicast socket, 192.168.77.0/24) keep
# their stores on virtio disks: files on the host that QEMU opens with
# cache=writeback, so a write the guest has handed to its disk survives a
# kill of QEMU while what is still in the guest's page cache dies with it.
# vm1 exports the VDIs over NBD (sheep.nbd=10809, forwarded to the host).
#  - the kernel client: vm2 attaches VDI fs over the LAN with the image's
#    nbd-client (/dev/nbd0, the kernel's nbd module), makes an ext4 on it,
#    writes files, syncs, unmounts, detaches;
#  - a power cut: a client on the host (python3-libnbd, nbd_powercut.py)
#    writes VDI pc on two connections and FLUSHes on one of them, writes
#    more with FUA, writes more without a flush, and keeps its connections
#    open while every QEMU is killed -9 at once;
#  - the three boot again on the same disk files: every write acknowledged
#    before the FLUSH and every FUA write reads back, every block holds its
#    last durable data or a later unflushed one (never garbage); vm2 attaches
#    fs again and its files have the same checksums.
# Bad sheep.nbd= values print the ERROR line and leave a shell.
TEST_PORT_OFFSET=540
source "$(dirname "$0")/../lib.sh"
once_only
MCAST_PORT=$(port_of 9)
NBD_FWD=$(port_of 4)	# the host's way to vm1's NBD port
NBDP=10809
KARGS="console=ttyS0 panic=-1"
RING=192.168.77.1,192.168.77.2,192.168.77.3
PY=/usr/bin/python3	# Debian's, with the nbd module (python3-libnbd)
PC="$TOP/tests/cluster/nbd_powercut.py"

check "make image" need_image
check "python3-libnbd on the host" "$PY" -c "import nbd"

# ---- bad sheep.nbd= values: four VMs at once --------------------------------------
vm_start bad1 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic none \
	-append "$KARGS sheep.cluster=local sheep.nbd=70000"
vm_start bad2 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic none \
	-append "$KARGS sheep.cluster=local sheep.nbd=7000"
vm_start bad3 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic none \
	-append "$KARGS sheep.cluster=local sheep.nbd=nbd.example:10809"
vm_start bad4 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic user,model=virtio \
	-append "$KARGS sheep.cluster=local sheep.nbd=10.9.9.9:$NBDP"
check "sheep.nbd= a port out of range: says so" vm_wait bad1 \
	"sheep-appliance: ERROR: sheep.nbd=70000: '70000' is not a port \(1-65535\)"
check "sheep.nbd= sheep's own port: says so" vm_wait bad2 \
	"sheep-appliance: ERROR: sheep.nbd=7000: port 7000 is sheep.port too"
check "sheep.nbd= a host name: says so" vm_wait bad3 \
	"sheep-appliance: ERROR: sheep.nbd=nbd.example:10809: 'nbd.example' is not an IPv4 address"
check "sheep.nbd= an address not this node's: says so" vm_wait bad4 \
	"sheep-appliance: ERROR: sheep.nbd=10.9.9.9:$NBDP: 10.9.9.9 is not an address of this node \(10.0.2.15\)"
for v in bad1 bad2 bad3 bad4; do
	check "$v leaves a shell on the console" vm_wait $v "built-in shell"
	check "$v started no sheep" bash -c "! grep -aq 'starting sheep' '$T/$v/console.log'"
	vm_kill $v
done

# ---- three VMs, stores on virtio disks, vm1 exporting NBD --------------------------
for i in 1 2 3; do truncate -s 256M "$T/disk$i.img"; done
# boot SUFFIX: vm1SUFFIX vm2SUFFIX vm3SUFFIX on the same three disks
boot() {
	local i fwd nbd
	for i in 1 2 3; do
		fwd="hostfwd=tcp:127.0.0.1:$(port_of "$i")-:7000" nbd=
		[ "$i" = 1 ] && fwd="$fwd,hostfwd=tcp:127.0.0.1:$NBD_FWD-:$NBDP" nbd="sheep.nbd=$NBDP"
		vm_start "vm$i$1" -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" \
			-drive "file=$T/disk$i.img,if=virtio,format=raw,cache=writeback" \
			-nic "user,model=virtio,$fwd" \
			-netdev "socket,id=lan,mcast=230.0.0.1:$MCAST_PORT,localaddr=127.0.0.1" \
			-device "virtio-net-pci,netdev=lan,mac=52:54:00:77:00:0$i" \
			-append "$KARGS ip=eth0:dhcp ip=eth1:192.168.77.$i/24 sheep.zone=$i \
sheep.store=/dev/vda sheep.cluster=corosync:nbd sheep.corosync=$RING $nbd"
	done
	for i in 1 2 3; do
		check "vm$i$1: serving" vm_serving "vm$i$1"
	done
}
n_members() { [ "$(dogp 1 cluster info 2>/dev/null | grep -c 'running')" -ge 1 ] &&
	[ "$(dogp 1 node list -r | grep -c '192.168.77.')" = 3 ]; }
U=nbd://127.0.0.1:$NBD_FWD

boot a
for i in 1 2 3; do
	check "vm$i: its blank store disk got a journaled ext4" bash -c \
		"grep -aq 'store: /dev/vda is blank; formatting it' '$T/vm${i}a/console.log' &&
		dumpe2fs -h '$T/disk$i.img' 2>/dev/null | grep -q '^Filesystem features:.*has_journal'"
done
check "vm1: sheep started with -N $NBDP" vm_wait vm1a "starting sheep .* -N $NBDP /store/sheep" 1
check "vm1: says where NBD is served" vm_wait vm1a \
	"sheep-appliance: NBD: the VDIs are exported on every address:$NBDP" 1
check "vm2: no NBD without sheep.nbd=" bash -c "! grep -aq -- '-N $NBDP' '$T/vm2a/console.log'"
check "vm1 lists the three" retry 90 bash -c \
	"[ \$('$DOG' node list -r -p $(port_of 1) | grep -c '192.168.77.') = 3 ]"
check "format copies 3" dogp 1 cluster format -c 3
check "create pc 16M and fs 64M" bash -c \
	"'$DOG' vdi create pc 16M -p $(port_of 1) && '$DOG' vdi create fs 64M -p $(port_of 1)"
check "the host lists both exports (NBD_OPT_LIST through vm1)" bash -c \
	"PATH=/usr/bin:\$PATH nbdinfo --list '$U' | grep -c '^export=\"\(pc\|fs\)\"' | grep -qx 2"

# ---- the kernel client: vm2 makes a filesystem on fs through vm1's NBD ------------------
# ksend VM TAG LINE: type LINE, then an echo of TAG-42 once it succeeded; wait for that
ksend() {
	vm_send "$1" "$3 && echo $2-\$((40 + 2))"
	vm_wait "$1" "$2-42" "${4:-120}"
}
attach() { ksend "$1" attached "nbd-client 192.168.77.1 $NBDP /dev/nbd0 -N fs -b 4096"; }
check "vm2: nbd-client attaches fs to /dev/nbd0" attach vm2a
check "vm2: the kernel sees a write-back cache (FLUSH advertised)" \
	ksend vm2a wcache "grep -q 'write back' /sys/block/nbd0/queue/write_cache" 30
check "vm2: mkfs.ext4 and mount" ksend vm2a mounted \
	"mkfs.ext4 -q /dev/nbd0 && mkdir -p /mnt && mount -t ext4 /dev/nbd0 /mnt"
# their checksums (taken from the page cache) go into the filesystem too: the
# console can garble a character now and then, the disk must not
check "vm2: write files, sync, checksums" ksend vm2a written \
	"for n in 1 2 3; do head -c \$((n * 900000)) /dev/urandom >/mnt/f\$n; done && mkdir /mnt/d && cp /init /mnt/d/ && sync && md5sum /mnt/f1 /mnt/f2 /mnt/f3 /mnt/d/init >/mnt/SUMS && sync && [ \$(wc -l </mnt/SUMS) = 4 ]" 300
check "vm2: umount, nbd-client -d" ksend vm2a detached "umount /mnt && nbd-client -d /dev/nbd0"
# replicas SUFFIX: dog reads fs through each VM (each has a copy of every
# object and reads its own first): the three copies are the same
replicas() {
	local i
	for i in 1 2 3; do
		"$DOG" vdi read fs -p "$(port_of "$i")" >"$T/fs.$i" || return 1
	done
	cmp "$T/fs.1" "$T/fs.2" && cmp "$T/fs.1" "$T/fs.3"
}
check "the three copies of fs agree, before the power cut" replicas

# ---- the power cut: write, FLUSH, FUA, more without a flush, kill every QEMU -----------
"$PY" "$PC" write "$U/pc" "$T/pc.log" >"$T/writer.out" 2>&1 &
WPID=$!
PIDS+=("$WPID")
ready() { grep -q '^READY' "$T/writer.out"; }
retry 600 eval 'ready || ! kill -0 $WPID'
check "host: every write acknowledged (FLUSH, FUA, plain)" ready
ready || cat "$T/writer.out"
grep '^info:' "$T/writer.out"
pids=$(for i in 1 2 3; do cat "$T/vm${i}a/pid"; done)
kill -9 $pids	# every VM at once, the writer's connections still open
for p in $pids; do wait_dead "$p"; done
kill -9 "$WPID"
gone() { local p; for p in $pids; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
check "every QEMU is gone" gone

# ---- boot again on the same disks --------------------------------------------------
boot b
for i in 1 2 3; do
	check "vm$i: its store was kept, not formatted again" bash -c "! grep -aq 'is blank' '$T/vm${i}b/console.log'"
done
check "the cluster runs with the three again" retry 180 n_members
for i in 1 2 3; do
	check "vm$i: its store came through the cut without filesystem errors" bash -c \
		"! grep -a 'EXT4-fs error' '$T/vm${i}b/console.log'"
done
verify() { "$PY" "$PC" verify "$U/pc" "$T/pc.log" >"$T/verify.out" 2>&1; }
check "the export is back" retry 120 bash -c "PATH=/usr/bin:\$PATH nbdinfo '$U/pc' >/dev/null"
verify
cat "$T/verify.out"
check "flushed and FUA writes read back; unflushed ones old or new, never garbage" \
	grep -q '^PASS' "$T/verify.out"

check "the three copies of fs agree, after it" replicas
check "vm2: attaches fs again" attach vm2b
check "vm2: mounts it" ksend vm2b mounted "mkdir -p /mnt && mount -t ext4 /dev/nbd0 /mnt"
check "vm2: the files read back with the same checksums" ksend vm2b verified \
	"[ \$(wc -l </mnt/SUMS) = 4 ] && md5sum -c /mnt/SUMS" 120
check "vm2: umount, detach" ksend vm2b detached "umount /mnt && nbd-client -d /dev/nbd0"
finish
