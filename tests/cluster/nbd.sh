#!/bin/bash
# The NBD export (sheep --nbd) against real clients, all Debian packages:
# qemu-img / qemu-io, libnbd's nbdinfo / nbdcopy, fio's nbd engine, and
# python3-libnbd plus raw sockets for the protocol corners
# (tests/cluster/nbd_client.py).  A 4-node cluster, copies 3, sheep 0 the
# gateway with --nbd.  Every write is checked against a model file, read
# back through NBD and through dog; snapshots stay frozen, a clone is
# copy-on-write, also for a client attached while dog snapshots the VDI; a
# VDI deleted under a client leaves nothing behind; kill -9 of a replica and
# of the gateway mid-stream lose no flushed write and return no wrong data;
# bad --nbd arguments are refused.  About 30 s.
TEST_PORT_OFFSET=530
source "$(dirname "$0")/../lib.sh"
# Debian's python3 has the nbd module (nbdinfo --list/--map, nbdsh use it too)
export PATH=/usr/bin:$PATH
PY=/usr/bin/python3
CLIENT=$TOP/tests/cluster/nbd_client.py
NP=$(port_of 9)
U=nbd://127.0.0.1:$NP
M=$T/model	# what v must hold

# ---- bad --nbd arguments: the sheep refuses to start, saying why ----------
bad_nbd() { "$SHEEP" -b 127.0.0.1 -p "$(port_of 8)" -c "local:$T/bad" --nbd "$1" "$T/bad"; }
for a in 99999 0 abc 127.0.0.1: ""; do
	expect_fail "--nbd '$a': refused" 1 "^sheep: cannot serve NBD on '$a': want \[ADDR:\]PORT$" bad_nbd "$a"
done
expect_fail "--nbd with a bad address: refused" 1 "cannot serve NBD on '300.1.2.3:$NP': " bad_nbd "300.1.2.3:$NP"
expect_fail "--nbd with an address not of this host: refused" 1 \
	"cannot serve NBD on '192.0.2.1:$NP': (Cannot assign requested address|Address not available)" \
	bad_nbd "192.0.2.1:$NP"	# glibc's and musl's words for EADDRNOTAVAIL
expect_fail "--nbd on the sheep's own port: refused" 1 \
	"cannot serve NBD on '127.0.0.1:$(port_of 8)': Address (already )?in use" bad_nbd "127.0.0.1:$(port_of 8)"
check "none of them left a listener behind" port_free "$(port_of 8)"

check "sheep 0 with --nbd" start_sheep 0 --nbd "127.0.0.1:$NP"
expect_fail "--nbd on a port in use: refused" 1 "cannot serve NBD on '$NP': Address (already )?in use" bad_nbd "$NP"
for i in 1 2 3; do
	check "sheep $i" start_sheep $i
done
check "four members" wait_members 0 0 1 2 3
check "format copies 3" dogp 0 cluster format -c 3
check "vdi v 64M" dogp 0 vdi create v 64M
truncate -s 64M "$M"

# mput OFF LEN BYTE: the model gets LEN bytes BYTE at OFF (mzero OFF LEN: zeros)
mput() {
	$PY -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); f.write(bytes([int(sys.argv[4], 0)]) * int(sys.argv[3]))' \
		"$M" "$1" "$2" "$3"
}
mzero() { mput "$1" "$2" 0; }
# vdi_is FILE VDI [-s TAG]: dog reads VDI (through sheep 2, not the gateway) and it equals FILE
vdi_is() { local f=$1; shift; cmp "$f" <(dogp 2 vdi read "$@"); }
# data_objects URI: the objects qemu-img map says hold data, e.g. "1 2 7"
data_objects() {
	qemu-img map -f raw --output=json "$1" | $PY -c '
import json, sys
s = set()
for e in json.load(sys.stdin):
    if e["data"]:
        s.update(range(e["start"] >> 22, (e["start"] + e["length"] - 1 >> 22) + 1))
print(*sorted(s))'
}

# ---- 1. qemu-img and qemu-io ------------------------------------------------
check "qemu-img info: the size" bash -c "qemu-img info -f raw $U/v | grep -q 'virtual size: 64 MiB (67108864 bytes)'"
check "a fresh VDI: no data (qemu-img map)" test -z "$(data_objects $U/v)"
# odd sizes at odd offsets, across the boundaries of objects 0/1, 1/2, 2..4
W=(0xab 4194000 1000  0x11 3 5  0x22 8388607 2  0x33 12582911 4194306  0x44 25000001 77777  0x55 33554431 1)
args=()
for ((i = 0; i < ${#W[@]}; i += 3)); do
	args+=(-c "write -P ${W[i]} ${W[i+1]} ${W[i+2]}")
	mput "${W[i+1]}" "${W[i+2]}" "${W[i]}"
done
for ((i = 0; i < ${#W[@]}; i += 3)); do
	args+=(-c "read -P ${W[i]} ${W[i+1]} ${W[i+2]}")
done
check "qemu-io: 6 writes at odd sizes and offsets across objects, read back" \
	qemu-io -f raw -t writeback "$U/v" "${args[@]}" -c flush
check "dog reads what NBD wrote (the whole VDI equals the model)" vdi_is "$M" v
check "qemu-img compare: equal" qemu-img compare -f raw -F raw "$M" "$U/v"
cp "$M" "$T/m2"
printf '\x01' | dd of="$T/m2" bs=1 seek=25000100 conv=notrunc status=none
expect_fail "qemu-img compare: one byte differs at 25000100 (in the sector at 24999936)" 1 "Content mismatch at offset 24999936!" \
	qemu-img compare -f raw -F raw "$T/m2" "$U/v"
check "qemu-io: FUA writes, read back" qemu-io -f raw "$U/v" -c 'write -f -P 0x66 40000000 12345' \
	-c 'read -P 0x66 40000000 12345'
mput 40000000 12345 0x66
# write -z (NO_HOLE), write -z -u over whole object 1 (unmapped), discard of object 4 and of a piece
check "qemu-io: write -z, write -z -u, discard" qemu-io -f raw -t writeback "$U/v" \
	-c 'write -z 25000011 7' -c 'write -z -u 4194304 4194304' -c 'discard 16777216 4194304' \
	-c 'discard 25001000 100' -c 'read -P 0 25000011 7' -c 'read -P 0 4194304 4194304' \
	-c 'read -P 0 16777216 4194304' -c 'read -P 0x44 25000018 77760' -c flush
mzero 25000011 7
mzero 4194304 4194304
mzero 16777216 4194304
check "... the model again (through dog)" vdi_is "$M" v
check "qemu-img map: objects 0, 2, 3, 5, 7, 9 hold data (1 and 4 unmapped)" \
	test "$(data_objects "$U/v")" = "0 2 3 5 7 9"
# dog writes, NBD reads
head -c 5000000 /dev/urandom >"$T/rnd"
check "dog writes 5000000 bytes at 45000001" dogp 1 vdi write v 45000001 5000000 <"$T/rnd"
dd if="$T/rnd" of="$M" bs=1M conv=notrunc status=none oflag=seek_bytes seek=45000001
check "NBD reads what dog wrote (qemu-img compare)" qemu-img compare -f raw -F raw "$M" "$U/v"
check "qemu-img convert out: equals the model" bash -c "qemu-img convert -f raw -O raw $U/v $T/out && cmp $M $T/out"
check "... sparse: under 12 MiB on disk" \
	test "$(du -k "$T/out" | cut -f1)" -lt 12288
# convert in: a sparse source whose holes lie over data the VDI has now
truncate -s 64M "$T/src"
head -c 3145728 /dev/urandom | dd of="$T/src" bs=1M conv=notrunc status=none oflag=seek_bytes seek=5242887
head -c 200 /dev/urandom | dd of="$T/src" conv=notrunc status=none oflag=seek_bytes seek=34603008
check "qemu-img convert -n in (WRITE_ZEROES over the holes), then a FLUSH" \
	qemu-img convert -n -f raw -O raw "$T/src" "$U/v"
check "qemu-img compare: the VDI equals the source" qemu-img compare -f raw -F raw "$T/src" "$U/v"
check "dog reads the source" vdi_is "$T/src" v
check "qemu-img map: only objects 1, 2 and 8 hold data" test "$(data_objects "$U/v")" = "1 2 8"
cp "$T/src" "$M"

# ---- 2. nbdinfo, nbdcopy, snapshots, a clone --------------------------------
check "vdi w 128M, a snapshot of it" bash -c "'$DOG' vdi create w 128M -p $(port_of 0) && '$DOG' vdi snapshot -s ws w -p $(port_of 0)"
check "nbdinfo --list: the working VDIs (v, w), not the snapshot" \
	test "$(nbdinfo --list --json "$U" | $PY -c 'import json,sys; print(*sorted(e["export-name"] for e in json.load(sys.stdin)["exports"]))')" = "v w"
check "nbd-client -l (the kernel client's tool) lists v and w" bash -c "timeout 10 nbd-client -l 127.0.0.1 $NP | tail -n +2 | sort | xargs | grep -qx 'v w'"
check "nbdsh: size, a write, a read" timeout 10 nbdsh -u "$U/w" -c 'assert h.get_size() == 128 << 20' \
	-c 'h.pwrite(b"q" * 10, 5)' -c 'assert h.pread(12, 4) == b"\0" + b"q" * 10 + b"\0"' -c 'h.trim(4 << 20, 0)'
check "nbdinfo --json: flags and block sizes" bash -c "nbdinfo --json $U/v > $T/info && grep -q '\"can_multi_conn\": true' $T/info &&
	grep -q '\"can_fast_zero\": true' $T/info && grep -q '\"block_size_maximum\": 33554432' $T/info && grep -q '\"export-size\": 67108864' $T/info"
check "qemu-io: two writes into w" qemu-io -f raw -t writeback "$U/w" -c 'write -P 7 4194310 10' -c 'write -P 8 100M 1'
check "nbdinfo --map: holes for the never-written objects" bash -c "nbdinfo --map $U/w > $T/map && cat $T/map &&
	test \"\$(awk '{print \$1, \$2, \$3}' $T/map | xargs)\" = '0 4194304 3 4194304 4194304 0 8388608 96468992 3 104857600 4194304 0 109051904 25165824 3'"
check "nbdinfo --map --totals: 8 MiB data (6.2%)" bash -c "nbdinfo --map --totals $U/w | grep -q '^ *8388608 *6.2% *0 *data'"
# nbdcopy in: a sparse source over the current data (large WRITE_ZEROES), then out
truncate -s 64M "$T/src2"
head -c 1234567 /dev/urandom | dd of="$T/src2" conv=notrunc status=none oflag=seek_bytes seek=3000000
head -c 9000000 /dev/urandom | dd of="$T/src2" conv=notrunc status=none oflag=seek_bytes seek=50000000
check "nbdcopy --flush in (multi-conn)" nbdcopy --flush "$T/src2" "$U/v"
check "nbdcopy out equals the source" bash -c "nbdcopy $U/v - | cmp - $T/src2"
check "dog reads the source" vdi_is "$T/src2" v
check "nbdcopy's zeroes unmapped the source's holes: data in objects 0, 1, 11..14 only" \
	test "$(data_objects "$U/v")" = "0 1 11 12 13 14"
cp "$T/src2" "$M"
check "snapshot v as t1" dogp 0 vdi snapshot -s t1 v
SNAPID=$(dogp 0 vdi list -r | awk '$1 == "s" && $2 == "v" && $10 == "t1" { print $3 }')
cp "$M" "$T/t1"
check "the base changes (qemu-io over 3 objects)" qemu-io -f raw -t writeback "$U/v" -c 'write -P 0x99 2000000 9000000'
mput 2000000 9000000 0x99
check "v has the change" qemu-img compare -f raw -F raw "$M" "$U/v"
check "v@t1 is read-only (nbdinfo --is read-only)" nbdinfo --is read-only "$U/v@t1"
check "v@t1 is frozen" qemu-img compare -f raw -F raw "$T/t1" "$U/v@t1"
check "v:$SNAPID (the snapshot id) is frozen" qemu-img compare -f raw -F raw "$T/t1" "$U/v:$SNAPID"
check "qemu-io cannot open v@t1 for writing" bash -c "! qemu-io -f raw $U/v@t1 -c 'write 0 512' 2>&1 | grep -q '^wrote'"
check "nbdcopy out of v@t1" bash -c "nbdcopy $U/v@t1 - | cmp - $T/t1"
check "clone t1 as c" dogp 0 vdi clone -s t1 v c
check "c reads the parent's data" qemu-img compare -f raw -F raw "$T/t1" "$U/c"
check "qemu-io writes into c (3 objects)" qemu-io -f raw -t writeback "$U/c" -c 'write -P 0x77 49000000 6000000' -c 'read -P 0x77 49000000 6000000'
cp "$T/t1" "$T/c"
$PY -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(49000000); f.write(b"\x77" * 6000000)' "$T/c"
check "c has its write and the parent's data elsewhere" qemu-img compare -f raw -F raw "$T/c" "$U/c"
check "copy-on-write: v@t1 unchanged" qemu-img compare -f raw -F raw "$T/t1" "$U/v@t1"
check "... and v unchanged" qemu-img compare -f raw -F raw "$M" "$U/v"
# TRIM of objects shared with the snapshot: unmapped for the VDI that trims, kept for the others
check "discard of c's object 14 (inherited from t1) and v's object 12 (shared with t1)" bash -c \
	"qemu-io -f raw -t writeback $U/c -c 'discard 58720256 4M' && qemu-io -f raw -t writeback $U/v -c 'discard 50331648 4M'"
mzero 50331648 4194304
$PY -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(58720256); f.write(bytes(4194304))' "$T/c"
check "... c and v read zeros there, the rest as before" bash -c \
	"qemu-img compare -f raw -F raw $T/c $U/c && qemu-img compare -f raw -F raw $M $U/v"
check "... v@t1 unchanged" qemu-img compare -f raw -F raw "$T/t1" "$U/v@t1"
check "... and through dog" vdi_is "$T/t1" v -s t1
check "nbdinfo --list: v, w, c" \
	test "$(nbdinfo --list --json "$U" | $PY -c 'import json,sys; print(*sorted(e["export-name"] for e in json.load(sys.stdin)["exports"]))')" = "c v w"

# a snapshot taken through the serving sheep while two connections are open: writes go on in
# the new working VDI on both, the snapshot keeps what was there
snap_attached() {
	$PY - "$U/a" "$DOG" "$(port_of 0)" <<'PYEOF'
import nbd, subprocess, sys
uri, dog, port = sys.argv[1:4]
h, h2 = nbd.NBD(), nbd.NBD()
h.connect_uri(uri)
h2.connect_uri(uri)
h.pwrite(b"A" * 4096, 0)
h.pwrite(b"A" * 4096, 4 << 20)
h.flush()
subprocess.run([dog, "vdi", "snapshot", "-s", "live", "a", "-p", port], check=True)
h.pwrite(b"B" * 4096, 0)                 # an object shared with the snapshot: copied
h2.pwrite(b"C" * 4096, 8 << 20)          # a new object, on the other connection
assert h.pread(4096, 0) == b"B" * 4096 and h2.pread(4096, 0) == b"B" * 4096
assert h.pread(4096, 8 << 20) == b"C" * 4096 and h2.pread(4096, 4 << 20) == b"A" * 4096
h.flush()
s = nbd.NBD()
s.connect_uri(uri + "@live")
assert s.pread(4096, 0) == b"A" * 4096 and s.pread(4096, 8 << 20) == bytes(4096)
PYEOF
}
check "vdi a 32M" dogp 0 vdi create a 32M
check "a snapshot taken while attached: both connections go on in the new VDI, the snapshot keeps the old data" snap_attached
# only_bytes BYTE VDI-READ-ARGS...: dog (through sheep 2) reads 4096 bytes of BYTE
only_bytes() { local b=$1; shift; cmp <(dogp 2 vdi read "$@") <(head -c 4096 /dev/zero | tr '\0' "$b"); }
check "... and dog reads the same" only_bytes B a 0 4096
check "... in the snapshot too" only_bytes A -s live a 0 4096

# a hyper volume (its index a B-tree) is exported like any VDI
check "hyper volume h 8T" dogp 0 vdi create -y h 8T
check "h: writes at 0 and at 7 TiB, across an object boundary, read back" qemu-io -f raw -t writeback "$U/h" \
	-c 'write -P 0x61 7T 5M' -c 'write -P 0x62 4190208 8192' -c 'read -P 0x61 7T 5M' \
	-c 'read -P 0x62 4190208 8192' -c 'read -P 0 0 4096' -c flush
check "h: dog reads the same" only_bytes a h $((7 << 40)) 4096
check "h: four objects hold data (0, 1 and two at 7 TiB), the rest are holes" \
	test "$(data_objects "$U/h")" = "0 1 1835008 1835009"

# ---- 3. fio's nbd engine ---------------------------------------------------
check "vdi f 16M" dogp 0 vdi create f 16M
FIO=(fio --name=nbd --ioengine=nbd --uri="$U/f" --rw=randwrite --bsrange=512-70000 --bs_unaligned
	--size=6M --iodepth=16 --verify=crc32c --verify_fatal=1 --randseed=18 --verify_state_save=0 --output-format=terse)
check "fio randwrite, depth 16, unaligned 512..70000 bytes, verify crc32c" "${FIO[@]}" --do_verify=1 --output="$T/fio1"
check "fio verify-only pass on a new connection" "${FIO[@]}" --verify_only=1 --output="$T/fio2"
check "qemu-io spoils 4 KiB of it" qemu-io -f raw "$U/f" -c 'write -P 0 1M 4k'
check "... and fio's verify-only pass catches it" bash -c "! ${FIO[*]} --verify_only=1 --output=$T/fio3 2>/dev/null"

# ---- 4. protocol corners: libnbd and raw sockets (nbd_client.py) ------------
$PY "$CLIENT" proto 127.0.0.1 "$NP" "$DOG" "$(port_of 1)" >"$T/proto.out" 2>&1
rc=$?
while IFS= read -r line; do
	case "$line" in
	PASS:*) echo "$line"; PASSED=$((PASSED + 1)) ;;
	FAIL:*) echo "$line"; FAILED=$((FAILED + 1)) ;;
	info:*) echo "$line" ;;
	esac
done <"$T/proto.out"
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL' "$T/proto.out"; then
	fail "nbd_client.py proto crashed: $(tail -5 "$T/proto.out")"
fi
check "every sheep still running" bash -c "kill -0 $(pid_of 0) $(pid_of 1) $(pid_of 2) $(pid_of 3)"

# a VDI deleted while a client has it open: whatever its writes answer, nothing of it stays behind
check "vdi x 16M" dogp 0 vdi create x 16M
XVID=$(dogp 0 vdi list -r x | awk '{ print $8 }')
$PY - "$U/x" "$DOG" "$(port_of 1)" >"$T/del.out" 2>&1 <<'PYEOF'
import nbd, subprocess, sys
h = nbd.NBD()
h.connect_uri(sys.argv[1])
h.pwrite(b"A" * 4096, 0)
h.flush()
subprocess.run([sys.argv[2], "vdi", "delete", "x", "-p", sys.argv[3]], check=True)
for off in (0, 8 << 20):
    try:
        h.pwrite(b"Z" * 4096, off)
        h.flush()
        print("a write at %d after the delete: acknowledged" % off)
    except nbd.Error as e:
        print("a write at %d after the delete: %s" % (off, e.errno))
h.shutdown()
PYEOF
sed 's/^/info: nbd: /' "$T/del.out"
# data objects of x: 00 + its vid (6 hex digits) + the index
xobjs() {
	local left
	left=$(ls "$T"/{0,1,2,3}/obj | grep "^00$(printf %06x "0x$XVID")" | sort | uniq -c | xargs)
	[ -z "$left" ] || { echo "left behind (copies, object): $left"; return 1; }
}
check "x (vid $XVID) deleted under an open connection: no data object of it left on any node" retry 5 xobjs

# ---- 5. kill -9 mid-stream -------------------------------------------------
check "vdi k 32M" dogp 0 vdi create k 32M
timeout 30 $PY "$CLIENT" write "$U/k" "$T/w1" 4 >"$T/w1.out" 2>&1 &
wp=$!
sleep 1.5
tk=$(date +%s.%N)
kill9_sheep 3
wait "$wp"
rc=$?
cat "$T/w1.out"
check "a replica (sheep 3) killed mid-stream: the writer saw no error" test "$rc" = 0
check "... members 0 1 2" wait_members 0 0 1 2
check "... every acknowledged write reads back, no wrong data; FLUSHes went on after the kill" \
	$PY "$CLIENT" verify "$U/k" "$T/w1" acked "$tk"
# a node joining mid-stream (recovery moves objects onto it) under writes never flushed
timeout 30 $PY "$CLIENT" write "$U/k" "$T/w3" 4 0 >"$T/w3.out" 2>&1 &
wp=$!
sleep 1.5
check "sheep 3 rejoins mid-stream" start_sheep 3
wait "$wp"
rc=$?
cat "$T/w3.out"
check "... the writer (never a FLUSH) saw no error" test "$rc" = 0
check "... members 0 1 2 3" wait_members 0 0 1 2 3
# recovery_idle: dog answers and lists no node still recovering
recovery_idle() { local out; out=$(dogp 0 node recovery -r) && [ -z "$out" ]; }
check "... recovery done" retry 30 recovery_idle
check "... every acknowledged, never flushed write reads back" $PY "$CLIENT" verify "$U/k" "$T/w3" acked
timeout 30 $PY "$CLIENT" write "$U/k" "$T/w2" 20 >"$T/w2.out" 2>&1 &
wp=$!
sleep 1.5
kill9_sheep 0
wait "$wp"
rc=$?
cat "$T/w2.out"
check "the gateway (sheep 0) killed mid-stream: the client gets an error at once, not a hang" test "$rc" = 2
check "sheep 0 restarts with --nbd" start_sheep 0 --nbd "127.0.0.1:$NP"
check "... members 0 1 2 3" wait_members 1 0 1 2 3
check "... NBD serves again" retry 10 nbdinfo --size "$U/k"
check "... every flushed write reads back, no wrong data" $PY "$CLIENT" verify "$U/k" "$T/w2" flushed
# not promised (the gateway did not stay up), but kill -9 keeps the page cache: say what happened
echo "info: nbd: after the gateway's kill, acknowledged but unflushed writes: $($PY "$CLIENT" verify "$U/k" "$T/w2" acked | head -1)"
finish
