#!/bin/bash
# The appliance (make image) under QEMU, software emulation: booted from
# vmlinuz + sheep-initrd.gz, by PXE (QEMU's TFTP and pxelinux) and from the
# hybrid ISO both as a CD and as a raw disk.  Each time dog on the host, through
# a forwarded port, formats the node, writes a VDI and reads it back.  Also:
# a crashed sheep is restarted by the appliance; a store on a blank virtio
# disk is formatted, and its data survives a power cycle; a disk holding
# something else is refused; bad kernel parameters print why on the console
# and leave a shell, never a silent hang.  Prints boot-to-serving times.
TEST_PORT_OFFSET=280
source "$(dirname "$0")/../lib.sh"
once_only

check "make image" need_image
KARGS="console=ttyS0 panic=-1"
nic() { echo "user,model=virtio,hostfwd=tcp:127.0.0.1:$(port_of "$1")-:7000$2"; }
head -c $((12 << 20)) /dev/urandom >"$T/d"

# io IDX: format, create d, write, read back through the VM at port IDX
io() {
	dogp "$1" cluster format -c 1 >/dev/null &&
		dogp "$1" vdi create d 12M &&
		dogp "$1" vdi write d <"$T/d" &&
		same_data "$1" "$T/d" d
}

# ---- bad parameters and a disk that is not ours: all four VMs at once -----------
head -c $((1 << 20)) /dev/urandom >"$T/junk.img"
truncate -s 64M "$T/junk.img"
cp "$T/junk.img" "$T/junk.orig"
vm_start junk -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic "$(nic 5)" \
	-drive "file=$T/junk.img,if=virtio,format=raw" \
	-append "$KARGS sheep.cluster=local sheep.store=/dev/vda"
vm_start bad1 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic none \
	-append "$KARGS sheep.store=tmpfs"
vm_start bad2 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic none \
	-append "$KARGS sheep.cluster=corosnyc"
vm_start bad3 -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic "$(nic 9)" \
	-append "$KARGS sheep.cluster=local sheep.copies=many sheep.format=1"
check "no sheep.cluster: says so" vm_wait bad1 "ERROR: no sheep.cluster="
check "an unknown driver: says so" vm_wait bad2 "ERROR: unsupported cluster driver in sheep.cluster=corosnyc"
check "a bad copies: says so" vm_wait bad3 "ERROR: sheep.copies=many is not a number"
for v in bad1 bad2 bad3; do
	check "$v leaves a shell on the console" vm_wait $v "built-in shell"
done
vm_send bad1 'echo shell-works-$((6 * 7))'
check "and the shell answers" vm_wait bad1 "shell-works-42" 30
check "a disk holding something else is refused" vm_wait junk "refusing to format it"
for v in bad1 bad2 bad3 junk; do vm_kill $v; done
check "and left as it was" cmp -s "$T/junk.img" "$T/junk.orig"

# ---- kernel + initrd; a crashed sheep is restarted -----------------------------
vm_start k -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic "$(nic 0)" \
	-append "$KARGS sheep.cluster=local sheep.zone=5"
check "kernel + initrd: serving" vm_serving k
check "kernel + initrd: dog formats, writes, reads back" io 0
check "the node has zone 5" bash -c "'$DOG' node list -r -p $(port_of 0) | grep -q ' 5\$'"

# supervision: kill -9 sheep inside the VM; the appliance restarts it
vm_send k 'kill -9 $(cat /run/sheep.pid)'
check "a killed sheep is seen" vm_wait k "sheep \(pid [0-9]+\) exited; restarting it" 60
check "and restarted" vm_wait k "sheep restarted" 60
check "the data is still there" retry 30 same_data 0 "$T/d" d
vm_kill k

# ---- store on a virtio disk: formatted when blank, kept across a power cycle ------
truncate -s 256M "$T/disk.img"
disk() {
	vm_start "$1" -kernel "$IMG/vmlinuz" -initrd "$IMG/sheep-initrd.gz" -nic "$(nic 1)" \
		-drive "file=$T/disk.img,if=virtio,format=raw" \
		-append "$KARGS sheep.cluster=local sheep.store=/dev/vda sheep.format=1 sheep.copies=1"
}
disk disk1
check "a blank disk is formatted" vm_wait disk1 "store: /dev/vda is blank; formatting it"
check "disk store: serving" vm_serving disk1
check "sheep.format=1 formatted the cluster" bash -c "'$DOG' cluster info -p $(port_of 1) | grep -q 'running'"
check "disk store: write and read back" bash -c \
	"'$DOG' vdi create d 12M -p $(port_of 1) && '$DOG' vdi write d -p $(port_of 1) <'$T/d'"
vm_kill disk1	# power off, no shutdown
disk disk2
check "after a power cycle: serving" vm_serving disk2
check "the disk was not formatted again" bash -c "! grep -aq 'is blank' '$T/disk2/console.log'"
check "sheep.format=1 on a formatted cluster does nothing" vm_wait disk2 "already formatted"
check "the data survived the power cycle" retry 30 same_data 1 "$T/d" d
vm_kill disk2


# ---- PXE: QEMU's TFTP serves pxelinux, the kernel and the initrd ----------------
# ---- and the hybrid ISO, as a CD and as a raw disk (USB stick); all at once ---------
vm_start pxe -boot n -nic "$(nic 2 ",tftp=$IMG/tftp,bootfile=pxelinux.0")"
vm_start cd -cdrom "$IMG/sheep.iso" -boot d -nic "$(nic 3)"
cp "$IMG/sheep.iso" "$T/stick.img"
vm_start stick -drive "file=$T/stick.img,format=raw,if=ide" -boot c -nic "$(nic 4)"
check "PXE: pxelinux loaded the kernel" vm_wait pxe "Linux version"
check "PXE: serving" vm_serving pxe
check "PXE: dog formats, writes, reads back" io 2
check "ISO as a CD: serving" vm_serving cd
check "ISO as a CD: dog formats, writes, reads back" io 3
check "ISO as a disk: serving" vm_serving stick
check "ISO as a disk: dog formats, writes, reads back" io 4
finish
