#!/bin/bash
# bench/iscsi.sh - run by bench/run.sh inside a private user and mount
# namespace (its own /run, so tgtd needs no root): tgtd serves the VDI
# "bench" of the sheep on 127.0.0.1:SHEEP_BENCH_NODE_PORT over iSCSI, and
# qemu-img bench drives it.  Prints "write|read DEPTH BYTES COUNT SECONDS"
# per run; tgtd is killed at the end.
set -u
mount -t tmpfs tmpfs /run && mkdir -p /run/tgtd || exit 1
ISCSI_PORT=${SHEEP_BENCH_ISCSI_PORT:-13271}
CTL=${SHEEP_BENCH_TGT_CONTROL:-42}
IQN=iqn.2026-11.sheep.bench:b1
URL=iscsi://127.0.0.1:$ISCSI_PORT/$IQN/1
T=$(mktemp -d)
tgtd -f -C "$CTL" --iscsi portal=127.0.0.1:"$ISCSI_PORT" >"$T/tgtd.log" 2>&1 &
TGTPID=$!
trap 'kill -9 $TGTPID 2>/dev/null; rm -rf "$T"' EXIT
adm() { timeout 20 tgtadm -C "$CTL" --lld iscsi "$@" >&2; }
for i in $(seq 1 50); do tgtadm -C "$CTL" --mode target --op show >/dev/null 2>&1 && break; sleep 0.2; done
adm --mode target --op new --tid 1 --targetname "$IQN" &&
	adm --mode logicalunit --op new --tid 1 --lun 1 --bstype sheepdog \
		--backing-store "tcp:127.0.0.1:$SHEEP_BENCH_NODE_PORT:bench" &&
	adm --mode target --op bind --tid 1 --initiator-address ALL || exit 1

# qb NAME DEPTH BYTES COUNT [-w]
qb() {
	local out secs
	out=$(qemu-img bench -f raw -n -d "$2" -s "$3" -c "$4" ${5:-} "$URL" 2>&1) ||
		{ echo "qemu-img bench failed: $out" >&2; exit 1; }
	secs=$(sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p' <<<"$out")
	echo "$1 $2 $3 $4 $secs"
}
qb write 1 4194304 128 -w
qb write 8 4194304 256 -w
qb read 8 4194304 256
qb write 1 4096 2000 -w
qb write 16 4096 8000 -w
qb read 16 4096 20000
