#!/bin/bash
# bench/run.sh (make bench) - how fast sheep is, against the limits of this
# machine measured in the same run.
#
# Baselines: the local disk under $TMPDIR (fio: 4 KiB fsync'd writes at
# queue depth 1 and from 16 writers, 4 KiB direct random writes at depth 16,
# 1 MiB direct sequential writes and reads; 4 MiB direct writes fdatasync'd
# each from 24 writers; dd: 1 GiB buffered + fdatasync; the filesystem's
# CPU to write 3 x 1 GiB) and loopback TCP (iperf3).  Then a 3-node local
# cluster with 3 copies on that disk:
# `dog benchmark io` (Sheepdog protocol, pipelined) for 1 GiB sequential
# writes and reads of 4 MiB at depth 1 and 8, and 4 KiB random writes and
# reads at depth 1 and 16; the same VDI through tgt + iSCSI with
# `qemu-img bench`; sheep's peak RSS and CPU seconds per GiB written; the
# 4 MiB writes again with the static (musl) binary, the one we ship; the
# 4 KiB writes again with a write journal on every node (-j).
# bench/membership.sh: join and leave detection with each cluster driver.
# bench/dualnic.sh: failover and switch-back of a dedicated IO NIC, and
# throughput on the IO and on the cluster path.
# bench/nbd.sh: the NBD export (sheep --nbd) through fio's nbd engine,
# against qemu-nbd on a file and nbdkit memory, with the issue's targets.
# Every figure is printed with its baseline and the ratio.
# Ports: SHEEP_BENCH_PORT_BASE (default 7760; tgt keeps only 4 digits), the
# iSCSI portal SHEEP_BENCH_ISCSI_PORT (13271), iperf3 on base + 9.
SHEEP_TEST_PORT_BASE=${SHEEP_BENCH_PORT_BASE:-7760}
TEST_PORT_OFFSET=0
source "$(dirname "$0")/../tests/lib.sh"
SECS=${BENCH_SECONDS:-5}
SIZE=1G
ROWS=()

die() { echo "bench: $*" >&2; exit 1; }
for t in fio iperf3 qemu-img tgtd; do
	command -v $t >/dev/null || die "$t is missing (apt-get install -y fio iperf3 qemu-utils qemu-block-extra tgt)"
done

# fio_run NAME FIO_ARGS...: prints "iops MiB/s clat_p50_us" of the job's write or read side
fio_run() {
	local name=$1
	shift
	fio --name="$name" --directory="$T" --size=1g --runtime="$SECS" --time_based \
		--output-format=json "$@" >"$T/fio-$name.json" 2>"$T/fio-$name.err" ||
		die "fio $name failed: $(cat "$T/fio-$name.err")"
	rm -f "$T/$name".*
	fio_side "$T/fio-$name.json"
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || CACHE_NOTE=" (page cache not dropped: not root)"
}

# sheep_cpu [PID...]: user+sys seconds of these sheep (default: every one so far)
sheep_cpu() {
	local p tick
	tick=$(getconf CLK_TCK)
	[ $# -gt 0 ] || set -- "${PIDS[@]}"
	for p in "$@"; do awk '{ print $14 + $15 }' "/proc/$p/stat"; done |
		awk -v t="$tick" '{ s += $1 } END { printf "%.2f", s / t }'
}

row() { ROWS+=("$(printf '%-44s %12s %-8s %12s %-10s %7s %s' "$@")"); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "bench: baselines (fio on $T, ${SECS} s each; iperf3 on loopback)"
read -r FSYNC_IOPS _ _ < <(fio_run fsync4k --rw=randwrite --bs=4k --ioengine=psync --fsync=1)
# one fsync'd 4 KiB write at depth 1 takes 1/IOPS (fio's clat leaves the fsync out)
FSYNC_P50=$(awk -v i="$FSYNC_IOPS" 'BEGIN { printf "%.0f", 1e6 / i }')
read -r QD16_IOPS _ _ < <(fio_run qd16 --rw=randwrite --bs=4k --ioengine=libaio --direct=1 --iodepth=16)
# what 16 writers that each fdatasync every write get (sheep's durability rule)
read -r SYNC16_IOPS _ _ < <(fio_run sync16 --rw=randwrite --bs=4k --ioengine=psync --fsync=1 --numjobs=16 --group_reporting --size=64m)
read -r _ SEQW_DIRECT _ < <(fio_run seqwd --rw=write --bs=1m --ioengine=libaio --direct=1 --iodepth=4)
# what sheep's durability rule asks of the disk for 4 MiB writes at depth 8
# with 3 copies: 24 writers (8 on each of 3 nodes), 4 MiB direct, each
# write fdatasync'd before it is acknowledged
read -r _ SEQW_SYNC _ < <(fio_run seqws --rw=write --bs=4m --ioengine=psync --direct=1 --fdatasync=1 --numjobs=24 --group_reporting --size=64m)
# buffered: 1 GiB through the page cache, timed to the end of its fdatasync
t0=$(date +%s%N)
dd if=/dev/zero of="$T/dd.bin" bs=4M count=256 conv=fdatasync status=none || die "dd failed"
SEQW_BUF=$(awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.1f", 1024 / (ns / 1e9) }')
rm -f "$T/dd.bin"
read -r _ SEQR_DIRECT _ < <(fio_run seqrd --rw=read --bs=1m --ioengine=libaio --direct=1 --iodepth=4)
SEQW=$(awk -v a="$SEQW_DIRECT" -v b="$SEQW_BUF" 'BEGIN { print (a > b ? a : b) }')
SEQW3=$(awk -v a="$SEQW" 'BEGIN { printf "%.1f", a / 3 }')
QD16_3=$(awk -v a="$QD16_IOPS" 'BEGIN { printf "%.0f", a / 3 }')
SEQW_SYNC3=$(awk -v a="$SEQW_SYNC" 'BEGIN { printf "%.1f", a / 3 }')
SYNC16_3=$(awk -v a="$SYNC16_IOPS" 'BEGIN { printf "%.0f", a / 3 }')
# the filesystem's own CPU for what 1 GiB with 3 copies asks of it: three
# times dd's CPU for 1 GiB into new blocks, and for 1 GiB overwritten
fs_cpu() {
	local TIMEFORMAT='%U %S'
	{ time dd if=/dev/zero of="$T/fs.bin" bs=4M count=256 conv="$1" status=none; } 2>&1 |
		awk '{ printf "%.2f", ($1 + $2) * 3 }'
}
FS_NEW=$(fs_cpu fdatasync)
FS_OVER=$(fs_cpu notrunc,fdatasync)
rm -f "$T/fs.bin"
iperf3 -s -1 -p "$(port_of 9)" >/dev/null 2>&1 &
IPERF=$!
CLEANUP_HOOK='kill "$IPERF" 2>/dev/null'	# even if the client fails
sleep 0.5
TCP=$(iperf3 -c 127.0.0.1 -p "$(port_of 9)" -t 3 -J 2>/dev/null |
	python3 -c 'import json,sys; print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 8 / 1048576))')
kill "$IPERF" 2>/dev/null

echo "bench: a 3-node cluster, 3 copies, on the same disk"
for i in 0 1 2; do start_sheep "$i" || die "sheep $i did not start"; done
wait_members 0 0 1 2 >/dev/null || die "no cluster"
dogp 0 cluster format -c 3 >/dev/null || die "format failed"
dogp 0 vdi create bench "$SIZE" || die "vdi create failed"

# bio ARGS...: dog benchmark io -r through node 0; prints its raw line
bio() { "$DOG" benchmark io -r -p "$(port_of 0)" "$@" bench || die "dog benchmark io $* failed"; }
field() { awk -v f="$1" '{ print $f }' <<<"$2"; }	# raw: mode bs depth n secs MiB/s IOPS p50 p99

cpu0=$(sheep_cpu)
r=$(bio -m write -n 1)
cpu1=$(sheep_cpu)
CPU_NEW=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')
row "seq write 4 MiB, depth 1 (allocating)" "$(field 6 "$r")" "MiB/s" "$SEQW3" "disk/3" "$(ratio "$(field 6 "$r")" "$SEQW3")" ""
cpu0=$(sheep_cpu)
r=$(bio -m write -n 8)
cpu1=$(sheep_cpu)
CPU_OVER=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')
row "seq write 4 MiB, depth 8" "$(field 6 "$r")" "MiB/s" "$SEQW3" "disk/3" "$(ratio "$(field 6 "$r")" "$SEQW3")" "target >= 0.90"
row "  against durable 4 MiB writes" "$(field 6 "$r")" "MiB/s" "$SEQW_SYNC3" "seqws/3" "$(ratio "$(field 6 "$r")" "$SEQW_SYNC3")" ""
drop_caches
r=$(bio -m read -n 1)
row "seq read 4 MiB, depth 1$CACHE_NOTE" "$(field 6 "$r")" "MiB/s" "$SEQR_DIRECT" "disk" "$(ratio "$(field 6 "$r")" "$SEQR_DIRECT")" ""
drop_caches
r=$(bio -m read -n 8)
row "seq read 4 MiB, depth 8" "$(field 6 "$r")" "MiB/s" "$SEQR_DIRECT" "disk" "$(ratio "$(field 6 "$r")" "$SEQR_DIRECT")" "target >= 0.70"
r=$(bio -m randwrite -B 4K -n 1 -T "$SECS")
row "rand write 4 KiB, depth 1" "$(field 7 "$r")" "IOPS" "$FSYNC_IOPS" "fsync4k" "$(ratio "$(field 7 "$r")" "$FSYNC_IOPS")" ""
row "  latency p50" "$(field 8 "$r")" "us" "$FSYNC_P50" "fsync4k" "$(ratio "$(field 8 "$r")" "$FSYNC_P50")" "target <= 3"
row "  latency p99" "$(field 9 "$r")" "us" "" "" "" ""
r=$(bio -m randwrite -B 4K -n 16 -T "$SECS")
row "rand write 4 KiB, depth 16" "$(field 7 "$r")" "IOPS" "$QD16_3" "qd16/3" "$(ratio "$(field 7 "$r")" "$QD16_3")" "target >= 0.30"
row "  the same against fsync'd writes" "$(field 7 "$r")" "IOPS" "$SYNC16_3" "sync16/3" "$(ratio "$(field 7 "$r")" "$SYNC16_3")" ""
r=$(bio -m randread -B 4K -n 1 -T "$SECS")
row "rand read 4 KiB, depth 1" "$(field 7 "$r")" "IOPS" "" "" "" ""
row "  latency p50 / p99" "$(field 8 "$r")/$(field 9 "$r")" "us" "" "" "" ""
r=$(bio -m randread -B 4K -n 16 -T "$SECS")
row "rand read 4 KiB, depth 16" "$(field 7 "$r")" "IOPS" "" "" "" ""

# the real-client path: tgt's sheepdog backing store, qemu-img bench over iSCSI
ISCSI=$(SHEEP_BENCH_NODE_PORT=$(port_of 0) unshare --map-root-user --mount bash "$TOP/bench/iscsi.sh" 2>"$T/iscsi.err") ||
	die "the iSCSI part failed: $(tail -5 "$T/iscsi.err")"
while read -r name depth bs count secs; do
	[ -n "$secs" ] || continue
	mibs=$(awk -v b="$bs" -v c="$count" -v s="$secs" 'BEGIN { printf "%.1f", b * c / s / 1048576 }')
	iops=$(awk -v c="$count" -v s="$secs" 'BEGIN { printf "%.0f", c / s }')
	case "$name-$bs" in
	write-4194304) row "iSCSI seq write 4 MiB, depth $depth" "$mibs" "MiB/s" "$SEQW3" "disk/3" "$(ratio "$mibs" "$SEQW3")" "" ;;
	read-4194304) row "iSCSI seq read 4 MiB, depth $depth" "$mibs" "MiB/s" "$SEQR_DIRECT" "disk" "$(ratio "$mibs" "$SEQR_DIRECT")" "" ;;
	write-4096) row "iSCSI write 4 KiB, depth $depth" "$iops" "IOPS" "$FSYNC_IOPS" "fsync4k" "$(ratio "$iops" "$FSYNC_IOPS")" "" ;;
	read-4096) row "iSCSI read 4 KiB, depth $depth" "$iops" "IOPS" "" "" "" "" ;;
	esac
done <<<"$ISCSI"

rss=$(for p in "${PIDS[@]}"; do awk '/^VmHWM/ { printf "%d ", $2 / 1024 }' "/proc/$p/status"; done)

# restart_cluster ARGS...: clean shutdown, then the three nodes again with
# ARGS (SHEEP picks the binary), recovered; NODE_PIDS are the new daemons
restart_cluster() {
	local p pids=("${NODE_PIDS[@]}")
	dogp 0 cluster shutdown >/dev/null || die "cluster shutdown failed"
	for p in "${pids[@]}"; do wait_dead "$p"; done
	for i in 0 1 2; do start_sheep "$i" "$@" || die "sheep $i did not start (${SHEEP##*/} $*)"; done
	wait_members 0 0 1 2 >/dev/null || die "no cluster after the restart"
	NODE_PIDS=("${PIDS[@]: -3}")
	# a restarted cluster checks every object with its peers first: measure after
	for i in 0 1 2; do retry 300 recovered "$i" || die "node $i did not finish recovering"; done
}
NODE_PIDS=("${PIDS[@]}")

# the binary we ship: the static (musl) build, same store, same writes
SHEEP=$TOP/static/sheep restart_cluster
cpu0=$(sheep_cpu "${NODE_PIDS[@]}")
r=$(bio -m write -n 8)
cpu1=$(sheep_cpu "${NODE_PIDS[@]}")
row "static (musl) binary: seq write 4 MiB, depth 8" "$(field 6 "$r")" "MiB/s" "$SEQW3" "disk/3" "$(ratio "$(field 6 "$r")" "$SEQW3")" ""
CPU_STATIC=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')

# the same cluster restarted with a write journal: small writes group-commit
# to one file per node instead of an fdatasync of their object each
JSIZE=256M
restart_cluster -j size=$JSIZE
r=$(bio -m randwrite -B 4K -n 1 -T "$SECS")
row "rand write 4 KiB, depth 1, -j size=$JSIZE" "$(field 7 "$r")" "IOPS" "$FSYNC_IOPS" "fsync4k" "$(ratio "$(field 7 "$r")" "$FSYNC_IOPS")" ""
row "  latency p50" "$(field 8 "$r")" "us" "$FSYNC_P50" "fsync4k" "$(ratio "$(field 8 "$r")" "$FSYNC_P50")" ""
r=$(bio -m randwrite -B 4K -n 16 -T "$SECS")
row "rand write 4 KiB, depth 16, -j size=$JSIZE" "$(field 7 "$r")" "IOPS" "$QD16_3" "qd16/3" "$(ratio "$(field 7 "$r")" "$QD16_3")" ""
row "sheep peak RSS per node" "${rss% }" "MiB" "" "" "" ""
row "sheep CPU per GiB written, 3 copies" "$CPU_OVER" "s" "$FS_OVER" "dd x3" "$(ratio "$CPU_OVER" "$FS_OVER")" "target <= 3 s (overwrite)"
row "  the same, allocating (new objects)" "$CPU_NEW" "s" "$FS_NEW" "dd x3" "$(ratio "$CPU_NEW" "$FS_NEW")" ""
row "  the same, static (musl) binary, overwrite" "$CPU_STATIC" "s" "$FS_OVER" "dd x3" "$(ratio "$CPU_STATIC" "$FS_OVER")" "target <= 3 s"
row "loopback TCP (iperf3)" "$TCP" "MiB/s" "" "" "" ""
row "disk: 4 KiB fsync'd write, depth 1" "$FSYNC_IOPS" "IOPS" "" "" "" "${FSYNC_P50} us each"
row "disk: 4 KiB direct random write, depth 16" "$QD16_IOPS" "IOPS" "" "" "" ""
row "disk: 4 KiB fsync'd write, 16 writers" "$SYNC16_IOPS" "IOPS" "" "" "" ""
row "disk: seq write 1 MiB direct / dd+fdatasync" "$SEQW_DIRECT/$SEQW_BUF" "MiB/s" "" "" "" "disk = the better one"
row "disk: 4 MiB direct + fdatasync, 24 writers" "$SEQW_SYNC" "MiB/s" "" "" "" "seqws"
row "disk: 1 MiB seq read direct" "$SEQR_DIRECT" "MiB/s" "" "" "" ""

# the NBD export with fio's nbd engine, against qemu-nbd and nbdkit (bench/nbd.sh)
echo "bench: nbd: fio's nbd engine: sheep --nbd, qemu-nbd on a file, nbdkit memory"
mapfile -t NBD < <(bash "$TOP/bench/nbd.sh" --rows)
ROWS+=("${NBD[@]}")

# join and leave detection of local, zookeeper, corosync and accord (bench/membership.sh)
echo "bench: membership: 3 sheep with each cluster driver, in network namespaces"
mapfile -t MEMBERSHIP < <(bash "$TOP/bench/membership.sh" --rows)
ROWS+=("${MEMBERSHIP[@]}")

# failover to the cluster NIC and back, and each path's throughput (bench/dualnic.sh)
echo "bench: dualnic: 4 sheep with an IO NIC each, in network namespaces"
mapfile -t DUALNIC < <(bash "$TOP/bench/dualnic.sh" --rows)
ROWS+=("${DUALNIC[@]}")

echo
printf '%-44s %12s %-8s %12s %-10s %7s %s\n' "what" "value" "unit" "baseline" "of" "ratio" ""
printf '%s\n' "${ROWS[@]}"
finish >/dev/null
