#!/bin/bash
# bench/recovery.sh - how fast the cluster gets back to full redundancy.
#
# Four nodes on this machine, copies 3, SIZE (default 1G) of random data.
# One node is killed (-9); we time from the kill until every survivor reports
# its recovery complete, and count the bytes the survivors copied in.  The
# baseline, measured in the same run on the same filesystem: sequential
# write bandwidth of dd with fdatasync.  Prints both and their ratio.
# Usage: bash bench/recovery.sh   (SIZE=256M for a quick run; ports from
# SHEEP_TEST_PORT_BASE, default 17300, + 300)
TEST_PORT_OFFSET=300
source "$(dirname "$0")/../tests/lib.sh"
SIZE=${SIZE:-1G}
BYTES=$(numfmt --from=iec "$SIZE")
MB=$((BYTES >> 20))

mibs() { awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.1f", b / 1048576 / (ns / 1e9) }'; }

echo "== baseline: dd $MB MiB to $T with fdatasync"
t0=$(date +%s%N)
dd if=/dev/zero of="$T/dd.bin" bs=4M count=$((MB / 4)) conv=fdatasync status=none
t1=$(date +%s%N)
rm -f "$T/dd.bin"
DD=$(mibs "$BYTES" $((t1 - t0)))
echo "dd sequential write: $DD MiB/s"

for i in 0 1 2 3; do start_sheep $i || exit 1; done
wait_members 0 0 1 2 3 >/dev/null || exit 1
dogp 0 cluster format -c 3 >/dev/null || exit 1
dogp 0 vdi create bench "$SIZE" || exit 1
head -c "$BYTES" /dev/urandom >"$T/data"
echo "== writing $MB MiB through node 0 (3 copies)"
t0=$(date +%s%N)
dogp 0 vdi write bench <"$T/data" || exit 1
t1=$(date +%s%N)
echo "dog vdi write, 3 copies: $(mibs "$BYTES" $((t1 - t0))) MiB/s of client data"
retry 60 recovered 0 >/dev/null || exit 1

echo "== kill -9 node 3, wait until every survivor has recovered"
t0=$(date +%s%N)
kill -9 "$(pid_of 3)"
wait_members 0 0 1 2 >/dev/null || exit 1
for i in 0 1 2; do retry 600 recovered $i >/dev/null || exit 1; done
t1=$(date +%s%N)
epoch=$(epoch_of 0)
copied=0
for i in 0 1 2; do
	b=$(grep -h "recovery of epoch $epoch complete" "$T/$i/sheep.log" | tail -1 |
		sed -n 's/.*(\([0-9]*\) bytes).*/\1/p')
	copied=$((copied + ${b:-0}))
done
ms=$(((t1 - t0) / 1000000))
REC=$(mibs "$copied" $((t1 - t0)))
check "all data reads back after recovery" cmp -s "$T/data" <(dogp 1 vdi read bench)
echo "time from kill to full redundancy: $ms ms for $MB MiB of data"
echo "copied by the survivors: $((copied >> 20)) MiB at $REC MiB/s"
echo "recovery throughput / dd sequential write: $(awk -v a="$REC" -v b="$DD" 'BEGIN { printf "%.2f", a / b }')"
finish
