#!/bin/bash
# bench/nbd.sh - the NBD export (issue 18) measured with fio's nbd engine
# (--ioengine=nbd --uri=nbd://127.0.0.1:PORT/bench), against baselines of the
# same run on the same disk.
#
# Three servers in turn, never two at once (the machine is small):
#   nbdkit memory         the protocol's own limit (RAM, no disk);
#   qemu-nbd              a raw file on the disk under $TMPDIR (-f raw
#                         --cache=writeback --aio=threads -t): the local
#                         limit for one copy (targets divide by 3 for three);
#   sheep                 three sheep on that disk, copies 3, --nbd on node 0.
# Each gets the same fio jobs (one connection each): first a prefill of the
# whole export (4 MiB, depth 8, one FLUSH at its end: reads find data, not
# holes), then 4 MiB sequential write at depth 8 without and with a FLUSH at
# the end (--end_fsync=1: one NBD_CMD_FLUSH, its time counted in the rate),
# 4 MiB sequential read at depth 8, 4 KiB random write and read at depth 1
# and 16.  `sync` after every writing job, so the next one does not pay for
# the page cache the last one left.  Nothing drops the page cache: every
# server reads the same data, which fits in it.
# The disk itself: fio, 4 MiB sequential writes to a file of the same size
# with no fsync: O_DIRECT at depth 8 (the disk's unflushed sequential write,
# what the device takes into its volatile cache: the write-back target's
# baseline), and buffered (the page cache, where a replica's unflushed
# write lands: memory speed while it fits under the dirty limit).
# Targets (issue 18), printed as PASS/MISS lines:
#   seq write 4 MiB, write-back (no flush)  >= 0.9 x disk unflushed / 3
#   rand write 4 KiB, depth 16              >= 0.5 x qemu-nbd / 3
#   rand read 4 KiB, depth 16               >= 0.5 x qemu-nbd
# Before measuring, the write jobs' own command lines (small) run against
# nbdkit --filter=log and the FLUSH requests it logged are counted: the jobs
# must send exactly the flushes described above, and no write with FUA
# (row "flushes sent").  After the measurements, if strace is there, it
# counts the three sheep's fsync/fdatasync/syncfs calls during 1 s of the
# 4 MiB write without and with the final FLUSH: write-back makes the first
# 0 (else the no-flush rows measured durable writes: the row says so).
# Usage: bash bench/nbd.sh [--rows]  (about 3 minutes; fio with its nbd
# engine, qemu-utils, nbdkit).  --rows prints only bench/run.sh's table rows;
# progress goes to stderr.  NBD_BENCH_SIZE (default 1G: the export, the file, the VDI) and
# NBD_BENCH_RUNTIME (seconds per job, default BENCH_SECONDS or 5).
# Ports: SHEEP_BENCH_PORT_BASE (7760) + 60..62 sheep, + 69 sheep's NBD,
# + 70 qemu-nbd, + 71 nbdkit, + 72 nbdkit with the log filter.
SHEEP_TEST_PORT_BASE=${SHEEP_BENCH_PORT_BASE:-7760}
TEST_PORT_OFFSET=60
source "$(dirname "$0")/../tests/lib.sh"
ROWS_ONLY=
[ "${1:-}" = --rows ] && ROWS_ONLY=1
SIZE=${NBD_BENCH_SIZE:-1G}
SECS=${NBD_BENCH_RUNTIME:-${BENCH_SECONDS:-5}}
NBD_PORT=$(port_of 9)
QEMU_PORT=$(port_of 10)
KIT_PORT=$(port_of 11)
LOG_PORT=$(port_of 12)

T_START=$(date +%s%N)
say() { echo "nbd: $* ($((($(date +%s%N) - T_START) / 1000000000)) s)" >&2; }
row() { printf '%-44s %12s %-8s %12s %-10s %7s %s\n' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a ~ /^[0-9.]+$/) printf "%.2f", a / b; else print "-" }'; }
div() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { printf f, a / b }'; }
# verdict RATIO MIN: PASS or MISS
verdict() { awk -v r="$1" -v m="$2" 'BEGIN { print (r ~ /^[0-9.]+$/ && r + 0 >= m + 0) ? "PASS" : "MISS" }'; }
skip() {
	row "nbd: skipped ($*)" "" "" "" "" "" ""
	exit 0
}
die() {
	say "$*"
	row "nbd: failed ($*)" "" "" "" "" "" ""
	exit 1
}
for t in fio qemu-nbd nbdkit; do
	command -v $t >/dev/null || skip "$t is missing (apt-get install -y fio qemu-utils nbdkit)"
done
fio --enghelp=nbd >/dev/null 2>&1 || skip "this fio has no nbd engine"

# the jobs, by name: fio options after the common ones
JOBS=(seqw seqwf seqr rw1 rw16 rr1 rr16)
declare -A ARGS=(
	[fill]="--rw=write --bs=4M --iodepth=8 --end_fsync=1"
	[seqw]="--rw=write --bs=4M --iodepth=8 --time_based --runtime=$SECS"
	[seqwf]="--rw=write --bs=4M --iodepth=8 --time_based --runtime=$SECS --end_fsync=1"
	[seqr]="--rw=read --bs=4M --iodepth=8 --time_based --runtime=$SECS"
	[rw1]="--rw=randwrite --bs=4k --iodepth=1 --time_based --runtime=$SECS"
	[rw16]="--rw=randwrite --bs=4k --iodepth=16 --time_based --runtime=$SECS"
	[rr1]="--rw=randread --bs=4k --iodepth=1 --time_based --runtime=$SECS"
	[rr16]="--rw=randread --bs=4k --iodepth=16 --time_based --runtime=$SECS"
)
# how many FLUSH requests each job sends (checked against nbdkit's log)
declare -A FLUSHES=([fill]=1 [seqw]=0 [seqwf]=1 [rw1]=0 [rw16]=0)

# nbd_fio TAG URI JOB [EXTRA...]: run JOB through fio's nbd engine; prints
# "iops MiB/s clat_p50_us" of its write or read side
nbd_fio() {
	local tag=$1 uri=$2 job=$3
	shift 3
	# shellcheck disable=SC2086 # ARGS hold several options each
	fio --name="$job" --ioengine=nbd --uri="$uri" --size="$SIZE" ${ARGS[$job]} "$@" \
		--output-format=json --output="$T/fio-$tag-$job.json" >"$T/fio-$tag-$job.out" 2>&1 || {
		echo "fio $job against $tag failed: $(tail -3 "$T/fio-$tag-$job.out")" >&2
		return 1
	}
	fio_side "$T/fio-$tag-$job.json"
}

# server_pid PIDFILE: wait for a daemon's pid file, record the daemon for cleanup
server_pid() {
	local i
	for i in $(seq 1 100); do
		[ -s "$1" ] && { PIDS+=("$(cat "$1")"); return 0; }
		sleep 0.05
	done
	return 1
}
stop_server() {
	local p q keep=()
	p=$(cat "$1")
	kill "$p" 2>/dev/null
	wait_dead "$p" || kill -9 "$p" 2>/dev/null
	wait_dead "$p"
	# gone: the cleanup must not signal its number again
	for q in "${PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
	PIDS=("${keep[@]}")
}

declare -A R	# R[server-job] = "iops MiB/s p50"
# measure TAG URI: the prefill, then every job, against one server
measure() {
	local tag=$1 uri=$2 job
	say "$tag: prefill of $SIZE"
	R[$tag-fill]=$(nbd_fio "$tag" "$uri" fill) || die "fio fill against $tag failed"
	sync
	for job in "${JOBS[@]}"; do
		say "$tag: $job"
		R[$tag-$job]=$(nbd_fio "$tag" "$uri" "$job") || die "fio $job against $tag failed"
		case $job in seqw*|rw*) sync ;; esac
	done
}
get() { awk -v f="$2" '{ print $f }' <<<"${R[$1]}"; }	# get SERVER-JOB FIELD (1 iops, 2 MiB/s, 3 p50)

# ---- do the jobs send the flushes we count on? -----------------------------
say "flush check: the write jobs against nbdkit --filter=log"
nbdkit -P "$T/log.pid" -i 127.0.0.1 -p "$LOG_PORT" --filter=log memory 64M logfile="$T/nbdkit.log" ||
	die "nbdkit (log filter) did not start"
server_pid "$T/log.pid" || die "no nbdkit pid file"
FLUSH_SEEN=() FLUSH_OK=1
for job in fill seqw seqwf rw1 rw16; do
	: >"$T/nbdkit.log"
	SIZE=16M nbd_fio log "nbd://127.0.0.1:$LOG_PORT/bench" "$job" --runtime=1 >/dev/null ||
		die "fio $job against nbdkit --filter=log failed"
	# one line per request and one per reply: count the requests
	n=$(grep -c ' Flush id=' "$T/nbdkit.log")
	FLUSH_SEEN+=("$job $n")
	[ "$n" = "${FLUSHES[$job]}" ] || FLUSH_OK=
	# and no write carries FUA (fio's nbd engine sends none)
	if ! grep -q ' Write id=.* fua=0' "$T/nbdkit.log" || grep -q ' Write id=.* fua=1' "$T/nbdkit.log"; then
		FLUSH_OK=
		FLUSH_SEEN+=("($job: FUA writes, or none logged)")
	fi
done
stop_server "$T/log.pid"
[ -n "$FLUSH_OK" ] || die "fio sent other flushes than counted on (job count): ${FLUSH_SEEN[*]}"

# ---- the disk ----------------------------------------------------------------
say "disk: 4 MiB sequential write to a $SIZE file, no fsync: direct (depth 8) and buffered"
# disk_fio JOB FIO_ARGS...: 4 MiB sequential writes to a file, for SECS; prints "iops MiB/s p50"
disk_fio() {
	local job=$1
	shift
	fio --name="$job" --filename="$T/disk.bin" --size="$SIZE" --rw=write --bs=4M \
		--time_based --runtime="$SECS" "$@" --output-format=json --output="$T/fio-disk-$job.json" \
		>"$T/fio-disk-$job.out" 2>&1 || { tail -3 "$T/fio-disk-$job.out" >&2; return 1; }
	fio_side "$T/fio-disk-$job.json"
}
# the disk's unflushed sequential write: O_DIRECT, no fsync (what the device
# takes into its volatile cache); the write-back target's baseline
r=$(disk_fio direct --ioengine=libaio --direct=1 --iodepth=8) || die "fio on the disk failed"
DISK_W=$(awk '{ print $2 }' <<<"$r")
# the same through the page cache, never flushed: where an unflushed write
# to a replica lands (memory speed while it fits under the dirty limit)
r=$(disk_fio buffered --ioengine=psync) || die "fio on the disk failed"
DISK_BUF=$(awk '{ print $2 }' <<<"$r")
rm -f "$T/disk.bin"
sync

# ---- nbdkit memory -------------------------------------------------------------
nbdkit -P "$T/kit.pid" -i 127.0.0.1 -p "$KIT_PORT" memory "$SIZE" || die "nbdkit did not start"
server_pid "$T/kit.pid" || die "no nbdkit pid file"
measure kit "nbd://127.0.0.1:$KIT_PORT/bench"
stop_server "$T/kit.pid"

# ---- qemu-nbd on a raw file ------------------------------------------------------
fallocate -l "$SIZE" "$T/qemu.raw" 2>/dev/null || truncate -s "$SIZE" "$T/qemu.raw"
qemu-nbd -f raw --cache=writeback --aio=threads -x bench -b 127.0.0.1 -p "$QEMU_PORT" -t -e 0 \
	--fork --pid-file="$T/qemu.pid" "$T/qemu.raw" 2>"$T/qemu-nbd.err" ||
	die "qemu-nbd did not start: $(cat "$T/qemu-nbd.err")"
server_pid "$T/qemu.pid" || die "no qemu-nbd pid file"
measure qemu "nbd://127.0.0.1:$QEMU_PORT/bench"
stop_server "$T/qemu.pid"
rm -f "$T/qemu.raw"
sync

# ---- sheep ----------------------------------------------------------------------
say "sheep: 3 nodes, copies 3, --nbd on node 0"
start_sheep 0 --nbd "127.0.0.1:$NBD_PORT" >/dev/null || die "sheep 0 did not start: $(tail -1 "$T/0/sheep.log")"
for i in 1 2; do start_sheep "$i" >/dev/null || die "sheep $i did not start"; done
wait_members 0 0 1 2 >/dev/null || die "no cluster"
dogp 0 cluster format -c 3 >/dev/null || die "format failed"
dogp 0 vdi create bench "$SIZE" || die "vdi create failed"
measure sheep "nbd://127.0.0.1:$NBD_PORT/bench"

# what the sheep did with the flush: strace (when there is one) counts the
# fdatasyncs of the three sheep during a short seqw and seqwf (write-back:
# none without the flush, the dirty objects' with it)
SYNCS=()
# sheep_syncs JOB: the fdatasync/fsync/syncfs calls of the three sheep while JOB runs 1 s
sheep_syncs() {
	local p sp=() n=0 c
	for p in "${PIDS[@]: -3}"; do
		strace -f -qq -c -e trace=fsync,fdatasync,syncfs -o "$T/strace-$1.$p" -p "$p" 2>/dev/null &
		sp+=($!)
	done
	sleep 1
	nbd_fio sheep-strace "nbd://127.0.0.1:$NBD_PORT/bench" "$1" --runtime=1 >/dev/null || return 1
	sleep 0.5
	kill -INT "${sp[@]}" 2>/dev/null
	wait "${sp[@]}" 2>/dev/null
	for p in "${PIDS[@]: -3}"; do
		c=$(awk '$NF ~ /^(fsync|fdatasync|syncfs)$/ { s += $4 } END { print s + 0 }' "$T/strace-$1.$p" 2>/dev/null)
		n=$((n + ${c:-0}))
	done
	echo "$n"
}
if command -v strace >/dev/null && strace -qq -e trace=none true 2>/dev/null; then
	say "sheep: fdatasyncs with and without the flush (strace)"
	for job in seqw seqwf; do SYNCS+=("$job $(sheep_syncs "$job" || echo '?')"); done
fi

# ---- the table ---------------------------------------------------------------------
OUT=() VERDICTS=()
# line TITLE JOB FIELD UNIT BASE_TAG BASE_VALUE NOTE...
line() {
	local s
	s=$(get "sheep-$2" "$3")
	OUT+=("$(row "$1" "$s" "$4" "$6" "$5" "$(ratio "$s" "$6")" "$7")")
}
# others JOB FIELD: the note "qemu-nbd Q, nbdkit K"
others() { echo "qemu-nbd $(get "qemu-$1" "$2"), nbdkit memory $(get "kit-$1" "$2")"; }
# target NAME VALUE BASE MIN: a PASS/MISS line; TGT = the note "target >= MIN PASS|MISS"
target() {
	local r v
	r=$(ratio "$2" "$3")
	v=$(verdict "$r" "$4")
	VERDICTS+=("$(printf '%s: nbd target: %s: %s = %s of %s (target >= %s)' "$v" "$1" "$r" "$2" "$3" "$4")")
	TGT="target >= $4 $v"
}

DISK_W3=$(div "$DISK_W" 3 %.1f)
declare -A Q3	# qemu-nbd's figure of a writing job / 3
for j in fill seqw seqwf; do Q3[$j]=$(div "$(get "qemu-$j" 2)" 3 %.1f); done
for j in rw1 rw16; do Q3[$j]=$(div "$(get "qemu-$j" 1)" 3 %.0f); done

line "nbd: seq write 4 MiB, depth 8, first write" fill 2 MiB/s qemu/3 "${Q3[fill]}" "$(others fill 2); + flush"
line "nbd: seq write 4 MiB, depth 8, no flush" seqw 2 MiB/s qemu/3 "${Q3[seqw]}" "$(others seqw 2)"
target "seq write 4 MiB, write-back, MiB/s against the disk's unflushed write/3" "$(get sheep-seqw 2)" "$DISK_W3" 0.9
line "  against the disk's unflushed write / 3" seqw 2 MiB/s disk/3 "$DISK_W3" "$TGT"
line "nbd: seq write 4 MiB, depth 8, + flush" seqwf 2 MiB/s qemu/3 "${Q3[seqwf]}" "$(others seqwf 2)"
line "  against the disk's unflushed write / 3" seqwf 2 MiB/s disk/3 "$DISK_W3" ""
line "nbd: seq read 4 MiB, depth 8" seqr 2 MiB/s qemu "$(get qemu-seqr 2)" "$(others seqr 2)"
line "nbd: rand write 4 KiB, depth 1" rw1 1 IOPS qemu/3 "${Q3[rw1]}" "$(others rw1 1); p50 $(get sheep-rw1 3) us (qemu $(get qemu-rw1 3))"
target "rand write 4 KiB, depth 16, IOPS against qemu-nbd/3" "$(get sheep-rw16 1)" "${Q3[rw16]}" 0.5
line "nbd: rand write 4 KiB, depth 16" rw16 1 IOPS qemu/3 "${Q3[rw16]}" "$TGT; $(others rw16 1)"
line "nbd: rand read 4 KiB, depth 1" rr1 1 IOPS qemu "$(get qemu-rr1 1)" "$(others rr1 1); p50 $(get sheep-rr1 3) us (qemu $(get qemu-rr1 3))"
target "rand read 4 KiB, depth 16, IOPS against qemu-nbd" "$(get sheep-rr16 1)" "$(get qemu-rr16 1)" 0.5
line "nbd: rand read 4 KiB, depth 16" rr16 1 IOPS qemu "$(get qemu-rr16 1)" "$TGT; $(others rr16 1)"
OUT+=("$(row "nbd: disk seq write 4 MiB, no fsync" "$DISK_W" MiB/s "" "" "" "disk; O_DIRECT, depth 8, a $SIZE file")")
OUT+=("$(row "  the same buffered (page cache)" "$DISK_BUF" MiB/s "$DISK_W" disk "$(ratio "$DISK_BUF" "$DISK_W")" "psync, never flushed")")
OUT+=("$(row "nbd: flushes sent per job (nbdkit log)" "ok" "" "" "" "" "$(IFS=,; echo "${FLUSH_SEEN[*]}")")")
if [ ${#SYNCS[@]} -gt 0 ]; then
	note="write-back"
	[ "${SYNCS[0]#seqw }" = 0 ] || note="seqw fsyncs: its writes were not write-back"
	OUT+=("$(row "nbd: sheep fdatasyncs, 1 s seqw / seqwf" "${SYNCS[0]#seqw }/${SYNCS[1]#seqwf }" "calls" "" "" "" "$note; 3 sheep, strace")")
fi
OUT+=("$(row "nbd: export $SIZE, ${SECS} s per job" "" "" "" "" "" "one connection; sync between writing jobs")")
say "done"

if [ -z "$ROWS_ONLY" ]; then
	echo
	printf '%-44s %12s %-8s %12s %-10s %7s %s\n' "what" "value" "unit" "baseline" "of" "ratio" ""
fi
printf '%s\n' "${OUT[@]}" "${VERDICTS[@]}"
finish >/dev/null
