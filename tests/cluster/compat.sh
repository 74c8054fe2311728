#!/bin/bash
# Compatibility with Sheepdog 1.0: one script of dog commands (the table
# below) runs four times, each time against a fresh 3-node local cluster:
#   R  Sheepdog's dog against Sheepdog's sheep (the reference output)
#   1  Sheepdog's dog against our sheep
#   2  our dog against our sheep
#   3  our dog against Sheepdog's sheep
# Each command's stdout+stderr and exit code in runs 1-3 must equal the
# reference's once what legitimately differs is masked (dates, times, ports,
# paths, version strings, unix times, and disk sizes in the rows marked
# "sizes"). One check per command and run; a mismatch prints a short
# unified diff. Differences we keep on purpose are listed in KEEP below.
#
# Sheepdog is built from ../shared (tools/build-sheepdog.sh and the upstream
# tarball in vendor/) into /tmp/sheep-sdref-<checksum>, reused while the
# tarball and the script are unchanged; a failed build fails the test.
# Without ../shared (a user's own clone) the test prints SKIP and passes. In
# a git worktree it looks beside the main checkout; SHEEPDOG_SHARED=DIR
# points it elsewhere. Raw and masked outputs: $T/run{R,1,2,3}/{raw,masked}/
# NNN-NAME, the comparison in $T/runN/compare.out (kept with SHEEP_TEST_KEEP=1
# when a check fails).
# Ports: PORT_BASE+0 .. +2 for the nodes of each run in turn (the runs go one
# after the other), +9 stays free (a "no daemon there" row).
TEST_PORT_OFFSET=350
source "$(dirname "$0")/../lib.sh"

SHARED=${SHEEPDOG_SHARED:-$TOP/../shared}
# in a git worktree, ../shared sits beside the main checkout
if [ -z "${SHEEPDOG_SHARED:-}" ] && [ ! -d "$SHARED" ] &&
	common=$(git -C "$TOP" rev-parse --path-format=absolute --git-common-dir 2>/dev/null); then
	SHARED=$(dirname "$common")/../shared
fi
BUILDER=$SHARED/tools/build-sheepdog.sh
TARBALL=$SHARED/vendor/sheepdog-3ebe5ea7.tar.gz
if [ ! -f "$BUILDER" ] || [ ! -f "$TARBALL" ]; then
	echo "SKIP: $TEST_NAME: no Sheepdog source here ($BUILDER and $TARBALL are missing)"
	exit 0
fi

# ---- the table ------------------------------------------------------------
# NAME  MASK  COMMAND: COMMAND is bash, run in order with `dog` being the
# run's dog, $P0 $P1 $P2 the ports of its nodes 0-2 ($P9: nothing), $S the
# run's directory (node i's store is $S/i), $D the inputs (the same for every
# run) and $W a scratch directory of the run; stdin is /dev/null
# unless the command pipes. MASK: - (the common masks only) or sizes (also
# every size, percentage and big number, for output that depends on the disk).
# A row whose NAME starts with ~ is set-up: run, not compared.
read -r -d '' TABLE <<'EOF'
pre-node-list      -      dog node list -p $P0
pre-cluster-info   -      dog cluster info -p $P0
pre-vdi-create     -      dog vdi create -p $P0 early 1G
pre-vdi-list       -      dog vdi list -p $P0
format             -      dog cluster format -p $P0 -c 2
cluster-info       -      dog cluster info -p $P0
cluster-info-v     -      dog cluster info -v -p $P1
cluster-info-r     -      dog cluster info -r -p $P2
node-list          -      dog node list -p $P0
node-list-r        -      dog node list -r -p $P1
node-info          sizes  dog node info -p $P0
node-info-r        sizes  dog node info -r -p $P0
node-recovery      -      dog node recovery -p $P0
node-recovery-P    -      dog node recovery -P -p $P0
node-recovery-r    -      dog node recovery -r -p $P0
node-md-info       sizes  dog node md info -p $P0
node-md-info-A     sizes  dog node md info -A -p $P0
get-throttle       -      dog node recovery get-throttle -p $P0
set-throttle       -      dog node recovery set-throttle -p $P0 10 100
get-throttle-after -      dog node recovery get-throttle -p $P0
log-level-get      -      dog node log level get -p $P0
log-level-set      -      dog node log level set debug -p $P0
log-level-after    -      dog node log level get -p $P0
log-level-bad      -      dog node log level set loud -p $P0
log-level-list     -      dog node log level list -p $P0
node-vnodes-auto   -      dog node vnodes set -p $P0 64
create             -      dog vdi create -p $P0 alpha 1G
create-P           -      dog vdi create -P -p $P0 pre 12M
create-c3          -      dog vdi create -c 3 -p $P1 three 100M
create-c-too-many  -      dog vdi create -c 9 -p $P0 nine 1G
create-exists      -      dog vdi create -p $P0 alpha 1G
create-no-size     -      dog vdi create -p $P0 nosize
create-bad-size    -      dog vdi create -p $P0 bad 12Q
create-too-big     -      dog vdi create -p $P0 huge 5T
create-odd         -      dog vdi create -p $P0 odd 12345678
create-v           -      dog vdi create -v -p $P0 vee 10M
create-r           -      dog vdi create -r -p $P0 arr 10M
delete-v           -      dog vdi delete -p $P0 vee
delete-r           -      dog vdi delete -p $P0 arr
create-bss         -      dog vdi create -z 23 -p $P0 bss 100M
list-bss           -      dog vdi list -r -p $P0 bss
delete-bss         -      dog vdi delete -p $P0 bss
list               -      dog vdi list -p $P0
list-r             -      dog vdi list -r -p $P1
list-one           -      dog vdi list -p $P0 alpha
list-missing       -      dog vdi list -p $P0 nosuch
write              -      dog vdi write -p $P0 alpha 1000 3M < $D/3m
write-whole-obj    -      dog vdi write -p $P1 alpha 8M 4M < $D/4m
write-short-stdin  -      printf abc | dog vdi write -p $P0 alpha 20M 10
write-at-end       -      dog vdi write -p $P0 alpha 1G 1 < $D/3m
write-past-end     -      dog vdi write -p $P0 alpha 2G 1 < $D/3m
write-missing      -      dog vdi write -p $P0 nosuch 0 1 < $D/3m
read               -      dog vdi read -p $P2 alpha 1000 3M | md5sum
read-whole-obj     -      dog vdi read -p $P0 alpha 8M 4M | md5sum
read-short-stdin   -      dog vdi read -p $P0 alpha 20M 10 | od -An -c
read-hole          -      dog vdi read -p $P0 alpha 100M 4K | md5sum
read-past-end      -      dog vdi read -p $P0 alpha 2G 1
read-missing       -      dog vdi read -p $P0 nosuch
read-P             -      dog vdi read -p $P0 pre | md5sum
list-used          -      dog vdi list -p $P0
setattr            -      dog vdi setattr -p $P0 alpha color blue
setattr-stdin      -      echo red | dog vdi setattr -p $P0 alpha shade
setattr-exists-x   -      dog vdi setattr -x -p $P0 alpha color green
setattr-exists     -      dog vdi setattr -p $P0 alpha color green
getattr            -      dog vdi getattr -p $P0 alpha color
getattr-stdin      -      dog vdi getattr -p $P1 alpha shade
getattr-missing    -      dog vdi getattr -p $P0 alpha nokey
setattr-d-after    -      dog vdi setattr alpha color -d -p $P0
getattr-deleted    -      dog vdi getattr -p $P0 alpha color
snapshot           -      dog vdi snapshot -s snap1 -p $P0 alpha
snapshot-same-tag  -      dog vdi snapshot -s snap1 -p $P0 alpha
snapshot-missing   -      dog vdi snapshot -s s -p $P0 nosuch
write-2            -      dog vdi write -p $P0 alpha 0 3M < $D/3m
snapshot-R         -      dog vdi snapshot -R -s snap2 -p $P0 alpha
snapshot-R-again   -      dog vdi snapshot -R -s snap3 -p $P0 alpha
list-snapshots     -      dog vdi list -p $P0
read-snapshot      -      dog vdi read -s snap1 -p $P0 alpha 0 3M | md5sum
read-snapshot-id   -      dog vdi read -s 1 -p $P0 alpha 1000 3M | md5sum
clone              -      dog vdi clone -s snap1 -p $P0 alpha beta
clone-P            -      dog vdi clone -s snap1 -P -p $P0 alpha gamma
clone-no-snap      -      dog vdi clone -p $P0 alpha delta
clone-bad-snap     -      dog vdi clone -s nosnap -p $P0 alpha delta
clone-exists       -      dog vdi clone -s snap1 -p $P0 alpha beta
read-clone         -      dog vdi read -p $P0 beta 1000 3M | md5sum
read-clone-P       -      dog vdi read -p $P0 gamma 1000 3M | md5sum
list-clone-P       -      dog vdi list -r -p $P0 gamma
delete-clone-P     -      dog vdi delete -p $P0 gamma
tree               -      dog vdi tree -p $P0
graph              -      dog vdi graph -p $P0
list-clones        -      dog vdi list -p $P0
list-clones-r      -      dog vdi list -r -p $P0
object-location    -      dog vdi object location -p $P0 alpha
object-location-i  -      dog vdi object location -i 2 -p $P0 alpha
object-location-no -      dog vdi object location -i 200 -p $P0 alpha
object-map         -      dog vdi object map -p $P0 alpha
object-map-snap    -      dog vdi object map -s snap1 -p $P0 alpha
dump-inode         -      dog vdi object dump-inode -p $P0 $(ls $S/[012]/obj/80ed202b00000000 | head -1)
track              -      dog vdi track -i 0 -p $P0 alpha
track-inode        -      dog vdi track -p $P0 alpha
lock-list          -      dog vdi lock list -p $P0
lock-unlock        -      dog vdi lock unlock -p $P0 alpha
check              -      dog vdi check -p $P0 alpha
check-e            -      dog vdi check -e -p $P0 alpha
check-snapshot     -      dog vdi check -s snap1 -p $P0 alpha
check-missing      -      dog vdi check -p $P0 nosuch
backup             -      dog vdi backup -F snap1 -s snap2 -p $P0 alpha > $W/incr && md5sum < $W/incr
backup-one-snap    -      dog vdi backup -s snap1 -p $P0 alpha
rollback-no-f      -      dog vdi rollback -s snap1 -p $P0 alpha
rollback           -      dog vdi rollback -f -s snap1 -p $P0 alpha
read-rolled-back   -      dog vdi read -p $P0 alpha 0 3M | md5sum
restore            -      dog vdi restore -s snap2 -p $P0 alpha < $W/incr
read-restored      -      dog vdi read -p $P0 alpha 0 3M | md5sum
list-restored      -      dog vdi list -p $P0 alpha
resize             -      dog vdi resize -p $P0 alpha 2G
resize-shrink      -      dog vdi resize -p $P0 alpha 1G
resize-too-big     -      dog vdi resize -p $P0 alpha 5T
resize-missing     -      dog vdi resize -p $P0 nosuch 2G
list-resized       -      dog vdi list -p $P0 alpha
alter-copy-prompt  -      dog vdi alter-copy -c 3 -p $P0 odd
alter-copy         -      dog vdi alter-copy -c 3 -f -p $P0 odd
alter-copy-clone   -      dog vdi alter-copy -c 3 -f -p $P0 beta
cl-alter-prompt    -      dog cluster alter-copy -c 3 -p $P0
cl-alter-copy      -      dog cluster alter-copy -c 3 -f -p $P0
list-copies        -      dog vdi list -p $P0
cluster-check      -      dog cluster check -p $P0
recover-disable    -      dog cluster recover disable -p $P0
info-disabled      -      dog cluster info -p $P0
recover-enable     -      dog cluster recover enable -p $P0
recover-bogus      -      dog cluster recover bogus -p $P0
recover-force-ask  -      dog cluster recover force -p $P0
recover-force      -      dog cluster recover force -f -p $P0
cl-snapshot-save   -      dog cluster snapshot save tag1 $W/farm -p $P0
cl-snapshot-list   -      dog cluster snapshot list $W/farm -p $P0
cl-snapshot-show   -      dog cluster snapshot show 1 $W/farm -p $P0
delete             -      dog vdi delete -p $P0 beta
delete-missing     -      dog vdi delete -p $P0 nosuch
delete-snapshot    -      dog vdi delete -s snap2 -p $P0 alpha
delete-bad-snap    -      dog vdi delete -s nosnap -p $P0 alpha
delete-parent      -      dog vdi delete -p $P0 three
list-after-delete  -      dog vdi list -p $P0
create-junk        -      dog vdi create -c 2 -p $P0 junk 12M
snapshot-junk      -      dog vdi snapshot -s js -p $P0 junk
restore-garbage    -      dog vdi restore -s js -p $P0 junk < $D/3m
list-junk          -      dog vdi list -p $P0 junk
create-y           -      dog vdi create -y -p $P0 hyper 5T
list-hyper         -      dog vdi list -r -p $P0 hyper
write-hyper        -      dog vdi write -p $P0 hyper 4T 1M < $D/3m
read-hyper         -      dog vdi read -p $P0 hyper 4T 1M | md5sum
help               -      dog --help
help-vdi-create    -      dog vdi create --help
help-node          -      dog node
unknown-command    -      dog bogus -p $P0
unknown-subcommand -      dog vdi bogus -p $P0
unknown-option     -      dog vdi list --bogus -p $P0
missing-operand    -      dog vdi delete -p $P0
no-daemon          -      dog vdi list -p $P9
format-not-empty   -      dog cluster format -p $P0 -c 2
format-fixed       -      dog cluster format -f -V -c 2 -p $P0
format-force       -      dog cluster format -f -c 2 -p $P0
cluster-info-force -      dog cluster info -v -p $P0
cl-snapshot-load   -      dog cluster snapshot load 1 $W/farm -p $P0
list-loaded        -      dog vdi list -p $P0
read-loaded        -      dog vdi read -s snap1 -p $P0 alpha 0 3M | md5sum
list-reformatted   -      dog vdi list -p $P0
create-reformatted -      dog vdi create -p $P0 alpha 1G
node-kill          -      dog node kill -p $P0 2
~settle            -      for i in $(seq 1 100); do [ "$(dog node list -r -p $P0 | wc -l)" -le 2 ] && break; sleep 0.2; done
node-list-killed   -      dog node list -p $P0
cluster-info-after -      dog cluster info -p $P1
node-kill-missing  -      dog node kill -p $P0 7
cluster-reweight   -      dog cluster reweight -p $P0
shutdown           -      dog cluster shutdown -p $P0
EOF

# Differences kept on purpose, one a line: NAME | RUNS | SED | REASON.
# RUNS: a list like 2,3. SED: a sed -E script that turns our masked output
# into the reference's where it differs on purpose; any other difference in
# the command still fails. Shown as info, not failed. Keep it short: only
# what README's "Differences from Sheepdog" explains.
read -r -d '' KEEP <<'EOF'
delete-missing  | 2,3 | s/^\[exit 5\]$/[exit 0]/ | ours exits 5 (missing); Sheepdog's dog exits 0 from every failed delete (its do_vdi_delete always returns success)
delete-bad-snap | 2,3 | s/^\[exit 5\]$/[exit 0]/ | ours exits 5 (missing); Sheepdog's dog exits 0 from every failed delete (its do_vdi_delete always returns success)
restore-garbage | 2,3 | s/^\[exit 2\]$/Failed to create VDI junk: No VDI found\nfailed to resume the current vdi\n[exit 1]/ | ours checks the backup file before it drops the working VDI; Sheepdog's dog has dropped it and cannot bring it back
list-junk       | 2,3 | /^  junk /d | ours keeps the working VDI through a restore from a bad file; Sheepdog's dog loses it
create-bss      | 1 | s/^Failed to create VDI bss: Invalid parameters$//; s/^\[exit 1\]$/[exit 0]/ | objects are 1-4 MiB (block size shift 20-22): -z 23 is refused, so bss is never made
create-bss      | 2,3 | s/^Invalid block size shift '23': objects of 1-4 MiB \(shift 20-22\) only$//; s/^\[exit 1\]$/[exit 0]/ | objects are 1-4 MiB (block size shift 20-22): -z 23 is refused, so bss is never made (our dog says why before it asks the sheep)
list-bss        | 1,2,3 | s/^$/= bss 0 104857600 0 0 <time> 6ccd23 2  23/ | objects are 1-4 MiB (block size shift 20-22): -z 23 is refused, so bss is never made
delete-bss      | 1 | s/^Failed to open VDI bss .*$// | objects are 1-4 MiB (block size shift 20-22): -z 23 is refused, so bss is never made
delete-bss      | 2,3 | s/^Failed to open VDI bss .*$//; s/^\[exit 5\]$/[exit 0]/ | objects are 1-4 MiB (block size shift 20-22): -z 23 is refused, so bss is never made (and ours exits 5 for a missing VDI)
dump-inode      | 1,2 | /^gref:$/,$ s/^([0-9]+: [0-9a-f]+, [0-9]+), 0$/\1, 3/ | our sheep keeps no generational reference counts (deletes reclaim by scanning the VDI's family), so every gref count reads 0
tree            | 2,3 | 1s/^/beta---(you are here)\n/; s/^alpha---\[<date>\]-\+-beta---\(you are here\)$/alpha---[<date>]---[<date>]---(you are here)/; /^ +`-\[<date>\]---\(you are here\)$/d | ours draws a clone under the snapshot it came from; Sheepdog's dog starts a separate tree for each name
help            | 2,3 | s/^(  cluster alter-copy      set the cluster's redundancy level)$/\1\n  upgrade inode-convert   upgrade inode object file\n  upgrade epoch-convert   upgrade epoch log file\n  upgrade config-convert  upgrade config file\n  upgrade object-location print object location/ | our dog has no upgrade commands: they convert Sheepdog's older on-disk formats, which our sheep does not use
no-daemon       | 2,3 | 1p | ours says failed to connect once; Sheepdog's vdi list tries a second request after the first failed and says it twice
EOF

# ---- build Sheepdog -------------------------------------------------------
sum=$(cat "$TARBALL" "$BUILDER" | sha256sum | cut -c1-16)
SD=${SHEEPDOG_BUILD_DIR:-/tmp/sheep-sdref-$sum}
if [ ! -x "$SD/sheepdog/dog/dog" ] || [ ! -x "$SD/sheepdog/sheep/sheep" ]; then
	# build beside the cache and move it in whole, so a build that fails or
	# runs twice at once never leaves a half-built cache behind
	tmp=$(mktemp -d "$SD.build.XXXXXX")
	if ! bash "$BUILDER" "$tmp" >"$T/build.log" 2>&1; then
		fail "building Sheepdog with $BUILDER failed; the end of its log:"
		for f in "$T/build.log" "$tmp/sheepdog/build.log"; do
			# info: lines, so that tests/run.sh's summary shows them too
			[ -s "$f" ] && tail -8 "$f" | sed "s/^/info: $TEST_NAME: build log: /"
		done
		rm -rf "$tmp"
		finish
		exit
	fi
	mv -T "$tmp" "$SD" 2>/dev/null || rm -rf "$tmp"
fi
SD_DOG=$SD/sheepdog/dog/dog
SD_SHEEP=$SD/sheepdog/sheep/sheep
check "Sheepdog's dog and sheep are built ($SD)" test -x "$SD_DOG" -a -x "$SD_SHEEP"

# ---- one run --------------------------------------------------------------
RUNS=(R 1 2 3)
declare -A RUN_DOG=([R]=$SD_DOG [1]=$SD_DOG [2]=$DOG [3]=$DOG)
declare -A RUN_SHEEP=([R]=$SD_SHEEP [1]=$SHEEP [2]=$SHEEP [3]=$SD_SHEEP)
declare -A RUN_TITLE=([R]="their dog, their sheep" [1]="their dog, our sheep"
	[2]="our dog, our sheep" [3]="our dog, their sheep")

# the inputs every run reads: the same bytes each time
mkdir -p "$T/data"
head -c 3M /dev/urandom >"$T/data/3m"
head -c 4M /dev/urandom >"$T/data/4m"

# every run uses the same ports: Sheepdog places objects by a hash of each
# node's address and port, so other ports would move the objects
run_port() { echo $((PORT_BASE + $2)); }

# start_node RUN IDX: a sheep of the run's kind; both kinds daemonize and
# take the same command line. Their pids (and that of Sheepdog's logger
# child) go to PIDS for the EXIT trap.
start_node() {
	local run=$1 i=$2 dir=$T/run$1 p kids
	"${RUN_SHEEP[$run]}" -b 127.0.0.1 -y 127.0.0.1 -c "local:$dir/cluster" \
		-p "$(run_port "$run" "$i")" -z "$i" -P "$dir/$i.pid" "$dir/$i" >>"$dir/sheep.out" 2>&1
	# Sheepdog's sheep writes its pidfile late in its start
	for _ in $(seq 1 100); do
		[ -s "$dir/$i.pid" ] && break
		sleep 0.1
	done
	[ -s "$dir/$i.pid" ] || { echo "run $run: sheep $i wrote no pidfile"; cat "$dir/sheep.out"; return 1; }
	p=$(cat "$dir/$i.pid")
	kids=$(pgrep -P "$p" | xargs)	# Sheepdog's logger process
	read -ra kids <<<"$kids"
	PIDS+=("$p" "${kids[@]}")
	echo "$p ${kids[*]}" >>"$dir/pids"
}

# members_ok RUN: the dog of the sheep's own kind lists all three nodes
members_ok() {
	local dog=$SD_DOG out i
	[ "${RUN_SHEEP[$1]}" = "$SHEEP" ] && dog=$DOG
	out=$("$dog" node list -p "$(run_port "$1" 0)" 2>/dev/null) || return 1
	for i in 0 1 2; do
		grep -q ":$(run_port "$1" "$i") " <<<"$out" || return 1
	done
}

# mask_output RUN MASK: stdin with what legitimately differs replaced
mask_output() {
	local run=$1 mask=$2 i e=()
	for i in 0 1 2 9; do
		e+=(-e "s/\b$(run_port "$run" "$i")\b/<port$i>/g")
	done
	e+=(-e "s#${RUN_DOG[$run]}#dog#g" -e "s#$T/run$run#<run>#g" -e "s#$T#<T>#g"
		-e 's/\b1[6-9][0-9]{8}\b/<time>/g' -e 's/(create_time|snap_ctime): [0-9a-f]+/\1: <time>/'
		-e 's/Date: [0-9-]{10}/Date: <date>/g' -e 's/Time: +[0-9:]{8}/Time: <time>/g'
		-e 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(:[0-9]{2})?/<date>/g'
		-e 's/(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0-9][0-9] [0-9:]{8} [0-9]{4}/<date>/g'
		-e 's/\b[0-9]+\.[0-9]+_[0-9]+_g[0-9a-f]+\b/<version>/g'
		-e 's/\(version [^)]*\)/(version <version>)/g')
	if [ "$mask" = sizes ]; then
		e+=(-e 's/\b[0-9]+(\.[0-9]+)? ?[KMGTPE]?B\b/<size>/g' -e 's/\b[0-9]+%/<pct>/g'
			-e 's/\b[0-9]{5,}\b/<n>/g')
	fi
	sed -E "${e[@]}"
}

# run_table RUN: the whole table in order; raw/NNN-NAME holds each
# command's output and exit code, masked/NNN-NAME the same masked
run_table() {
	local run=$1 dir=$T/run$1 n=0 name mask cmd out rc f
	mkdir -p "$dir/raw" "$dir/masked" "$dir/work"
	cat >"$dir/env.sh" <<-EOF
		set -o pipefail
		P0=$(run_port "$run" 0) P1=$(run_port "$run" 1) P2=$(run_port "$run" 2) P9=$(run_port "$run" 9)
		S=$dir D=$T/data W=$dir/work
		dog() { timeout 30 "${RUN_DOG[$run]}" "\$@"; }
	EOF
	while read -r name mask cmd; do
		[ -z "$name" ] && continue
		n=$((n + 1))
		f=$(printf %03d "$n")-$name
		# in the run's work directory: Sheepdog's crash handler leaves gdb.txt there
		out=$(cd "$dir/work" && timeout 60 bash -c "source '$dir/env.sh'; $cmd" </dev/null 2>&1)
		rc=$?
		printf '%s\n[exit %d]\n' "$out" "$rc" >"$dir/raw/$f"
		mask_output "$run" "$mask" <"$dir/raw/$f" >"$dir/masked/$f"
	done <<<"$TABLE"
}

# do_run RUN: a fresh cluster of the run's sheep, the table, then the sheep go
do_run() {
	local run=$1 i t0=$SECONDS p
	mkdir -p "$T/run$run"
	for i in 0 1 2; do
		port_free "$(run_port "$run" "$i")" ||
			{ fail "run $run: port $(run_port "$run" "$i") is free"; return 1; }
		start_node "$run" "$i" || { fail "run $run (${RUN_TITLE[$run]}): sheep $i starts"; return 1; }
	done
	retry 10 members_ok "$run" >/dev/null ||
		{ fail "run $run (${RUN_TITLE[$run]}): the three nodes join"; return 1; }
	run_table "$run"
	for p in $(cat "$T/run$run/pids"); do
		kill -9 "$p" 2>/dev/null
		wait_dead "$p"
	done
	echo "info: $TEST_NAME: run $run (${RUN_TITLE[$run]}) took $((SECONDS - t0)) s"
}

# ---- compare ----------------------------------------------------------------

# kept RUN NAME: if KEEP has this command for this run, print its SED and
# REASON on two lines
kept() {
	local name runs sed reason
	while IFS='|' read -r name runs sed reason; do
		name=$(xargs <<<"$name") runs=$(xargs <<<"$runs")
		[ "$name" = "$2" ] && [[ ",$runs," == *",$1,"* ]] || continue
		sed=${sed# } sed=${sed% } reason=${reason# }
		printf '%s\n%s\n' "$sed" "$reason"
		return 0
	done <<<"$KEEP"
	return 1
}

# compare RUN: one check per compared command of the table
compare() {
	local run=$1 f name match=0 total=0 kept=0 why d
	for f in "$T/runR/masked"/*; do
		name=$(basename "$f")
		name=${name#*-}
		[[ "$name" == "~"* ]] && continue
		total=$((total + 1))
		d=$(diff -u --label "run R" --label "run $run" "$f" "$T/run$run/masked/$(basename "$f")" 2>&1)
		if [ -z "$d" ]; then
			match=$((match + 1))
			pass "run $run: $name matches"
		elif why=$(kept "$run" "$name") &&
			sed -E "$(head -1 <<<"$why")" "$T/run$run/masked/$(basename "$f")" | cmp -s "$f" -; then
			kept=$((kept + 1))
			echo "info: $TEST_NAME: run $run: $name differs on purpose: $(tail -1 <<<"$why")"
		else
			fail "run $run (${RUN_TITLE[$run]}): $name differs:"
			tail -n +3 <<<"$d" | head -16 | sed 's/^/    /'
		fi
	done
	why=""
	[ "$kept" -gt 0 ] && why=", $kept more differ on purpose"
	echo "info: $TEST_NAME: run $run (${RUN_TITLE[$run]}): $match/$total commands match$why"
}

for run in "${RUNS[@]}"; do
	do_run "$run"
done

# the reference must have done the script's work, or matching it means little
ref=$T/runR/raw
check "reference: cluster format succeeded" grep -qx '\[exit 0\]' "$ref"/[0-9][0-9][0-9]-format
check "reference: vdi list shows the VDIs" grep -q '^  alpha ' "$ref"/[0-9][0-9][0-9]-list
check "reference: a read gives the written data" \
	grep -q "$(md5sum <"$T/data/3m" | cut -d' ' -f1)" "$ref"/[0-9][0-9][0-9]-read
# a reference sheep that crashed (Sheepdog has such bugs) would make the rest
# of the reference meaningless: every command before node-kill reached its sheep
lost=$(for f in "$T/runR/masked"/*; do
	[[ "$f" == *-node-kill ]] && break
	[[ "$f" == *-no-daemon ]] && continue
	grep -lE 'failed to (connect to 127.0.0.1:<port[012]>|read a response)' "$f"
done)
check "reference: its sheep served every command before node-kill${lost:+ (not: $(basename -a $lost | xargs))}" \
	test -z "$lost"

# self-check: the comparison finds a difference planted in a copy of the
# reference, and only that one
mkdir -p "$T/runX/masked"
cp "$T/runR/masked/"* "$T/runX/masked/"
sed -i 's/alpha/alpHa/' "$T/runX/masked/"[0-9][0-9][0-9]-list
RUN_TITLE[X]="the reference with a planted difference"
out=$(compare X 2>&1)
check "self-check: the comparison reports a planted difference" grep -q "^FAIL: .*: list differs" <<<"$out"
check "self-check: and only that one" test "$(grep -c '^FAIL: ' <<<"$out")" -eq 1
# ... and KEEP excuses exactly the difference its sed undoes, nothing more
KEEP_SAVED=$KEEP
KEEP="list | X | s/alpHa/alpha/ | planted on purpose"
out=$(compare X 2>&1)
check "self-check: a KEEP line that undoes the difference excuses it" \
	grep -q "^info: .*: list differs on purpose: planted on purpose" <<<"$out"
check "self-check: ... and leaves no failure" test "$(grep -c '^FAIL: ' <<<"$out")" -eq 0
KEEP="list | X | s/alpHa/alpHA/ | does not undo it"
out=$(compare X 2>&1)
check "self-check: a KEEP line that does not undo the difference still fails" \
	grep -q "^FAIL: .*: list differs" <<<"$out"
KEEP=$KEEP_SAVED

for run in 1 2 3; do
	compare "$run" >"$T/run$run/compare.out"	# not a pipe: the counts live in this shell
	cat "$T/run$run/compare.out"
done
# the counts again, last, where tests/run.sh's summary shows them
grep -h '^info: .* commands match' "$T"/run[123]/compare.out
finish
