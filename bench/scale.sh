#!/bin/bash
# bench/scale.sh (make test-scale) - issue 19's scale rig: N sheep on this
# machine against one ZooKeeper, and again against a 3-server ensemble.
#
# For each size N (SCALE_N, default "100 200 500 1000"; a size whose
# projected memory does not fit in MemAvailable, or that a limit of this
# machine forbids, is skipped and the reason printed):
#   - one ZooKeeper server and N sheep launched at once (a PXE boot storm:
#     every launcher forked first, then released together through a FIFO),
#     SCALE_STORING (3) storing (-w 2), the rest gateways (-g -w 2), with
#     the session timeout SCALE_TIMEOUT (10 s);
#   - the time until every sheep has joined: a sample of sheep (first,
#     middle, last and 10 random ones) lists all N members (`dog node list
#     -r`), and every launcher has returned (it returns when its sheep is
#     accepted); the members must be unique and exactly the N started, and
#     every sheep's log must show one join of its own (no restart);
#   - RSS per sheep (median of the gateways, max) from /proc/PID/status, and
#     the gateways' peak (VmHWM: the boot storm's pending joins included),
#     threads and descriptors, and for one gateway the split heap / thread
#     stacks / rest from /proc/PID/smaps (a thread's stack is the mapping
#     holding the stack pointer of /proc/PID/task/TID/syscall);
#   - the latency of cluster operations through a gateway: cluster format,
#     3 x `dog vdi create` and `dog vdi snapshot` (wall time of dog);
#   - sheep CPU per membership event per member: utime+stime of every sheep
#     (/proc/PID/stat) across the join of one more gateway and across the
#     kill -9 of a storing sheep, less the idle rate measured just before,
#     divided by the members; ZooKeeper's CPU for the same events;
#   - the latency of the leave after that kill -9: until no sampled member
#     lists it (max over the sample), against the timeout + 2 s;
#   - ZooKeeper's znode count, approximate data size, watches (`mntr`) after
#     the boot and after the events, and its JVM's RSS;
#   - the sheep logs: lines per sheep, errors and warnings (the most
#     frequent, digits folded), lines about retries and timeouts;
#   - then (SCALE_ENSEMBLE=1, the default) the same N against a 3-server
#     ensemble: the join time, and after the kill -9 of the ZooKeeper leader
#     the time until a cluster operation succeeds through a gateway, the
#     election, and that no member was dropped (every sampled view still
#     lists N after the timeout + 3 s, no sheep restarted, same epoch).
# Prints a table (one column per size) and the issue's targets as met or
# missed: a benchmark, no pass or fail on speed.  It exits 1 only when the
# rig found something wrong (a lost or duplicate join, a leave never seen, a
# process left after teardown), which tests/cluster/scale_rig.sh checks.
#
# Every process it starts is recorded by PID (the sheep's -P pid files, the
# ZooKeeper servers' $!) and killed by exactly that PID, after checking that
# its command line still names our directory; never by name.
#
# Usage: SCALE_N="100 200" bash bench/scale.sh      (root not needed)
#   SCALE_PORT_BASE   sheep i listens on base+i (default 30000: up to 1000
#                     sheep stay below the ephemeral range)
#   SCALE_ZK_PORT     the single ZooKeeper's client port (default
#                     SHEEP_ZK_SCALE_RIG_PORT, else 21861)
#   SCALE_ZK_ENSEMBLE the ensemble's client ports are this +1..+3 (default
#                     21870), peer and election ports 1010 and 1020 above
#   SCALE_TIMEOUT     ZooKeeper session timeout of the sheep, s (default 10)
#   SCALE_STORING     storing sheep (default 3), the rest are gateways
#   SCALE_ENSEMBLE=0  no ensemble run
#   SCALE_ZK_HEAP     each ZooKeeper's -Xmx (default 1g)
#   SCALE_SEED        seed of the random sample (default: the PID)
#   SCALE_PIDS_OUT    append "PID ARG" of every process started to this file
#                     (ARG: an argument of its command line that is ours)
#   SCALE_KEEP=1      keep the work directory (stores, logs) at the end
SHEEP_TEST_PORT_BASE=${SCALE_PORT_BASE:-30000}
TEST_PORT_OFFSET=0
source "$(dirname "$0")/../tests/lib.sh"
SPB=$PORT_BASE
SIZES=${SCALE_N:-100 200 500 1000}
ZKP=${SCALE_ZK_PORT:-${SHEEP_ZK_SCALE_RIG_PORT:-21861}}
ZEB=${SCALE_ZK_ENSEMBLE:-21870}
TMO=${SCALE_TIMEOUT:-10}
NST=${SCALE_STORING:-3}
ENS=${SCALE_ENSEMBLE:-1}
HEAP=${SCALE_ZK_HEAP:-1g}
RANDOM=${SCALE_SEED:-$$}
TICK=$(getconf CLK_TCK)
PAGE_KB=$(($(getconf PAGESIZE) / 1024))
BAD=0		# something the rig found wrong (not a speed): exit 1

T_START=${EPOCHREALTIME/./}
now_ms() { echo $(((${EPOCHREALTIME/./} - T_START) / 1000)); }
say() { echo "scale: $* ($((($(now_ms) + 500) / 1000)) s)" >&2; }
bad() { BAD=1; echo "scale: WRONG: $*"; }
med() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }
max() { printf '%s\n' "$@" | sort -n | tail -1; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# ---- processes: recorded by PID, killed by PID once checked to be ours ----

OWN=()		# "PID ARG": ARG is one argument of its command line (a store, a zoo.cfg)
LAUNCH=()	# launcher subshells of sheep (children of this shell): they end on their own
WATCH=()	# other helper subshells (children of this shell): killed
HELD=""		# while the boot storm's launchers may wait on its fifo: how many there are
RUNS=()		# run directories: their pid files are read again at teardown
own_add() {
	OWN+=("$1 $2")
	[ -z "${SCALE_PIDS_OUT:-}" ] || echo "$1 $2" >>"$SCALE_PIDS_OUT"
}
# ours PID ARG: PID is alive (not a zombie) and has ARG among its arguments
ours() {
	local a st
	[ -r "/proc/$1/stat" ] || return 1
	read -r _ _ st _ 2>/dev/null <"/proc/$1/stat" || return 1
	[ "$st" = Z ] && return 1
	mapfile -d '' a 2>/dev/null <"/proc/$1/cmdline" || return 1
	for st in "${a[@]}"; do
		[ "$st" = "$2" ] && return 0
	done
	return 1
}
# child_of_us PID: a launcher subshell still running
child_of_us() {
	local s
	read -r s 2>/dev/null <"/proc/$1/stat" || return 1
	s=${s##*) }
	set -- $s
	[ "$1" != Z ] && [ "$2" = $$ ]
}
# kill_own: kill -9 every recorded process and every sheep whose pid file a
# run has written since, until no launcher is left (60 s): a launcher that
# was released starts its sheep, which writes its pid file at once and is
# killed by that PID on the next pass; its launcher then ends, so no sheep is
# ever orphaned by killing the launcher between its fork and the pid file.
# Launchers still waiting for the release get "s" (stop) on the fifo instead
# of "g" (go).
kill_own() {
	local e p a d f i end left
	local -A known=()	# "PID ARG" already in OWN
	for e in "${OWN[@]}"; do known[$e]=1; done
	if [ -n "$HELD" ]; then
		printf 's%.0s' $(seq "$HELD") >&8	# one each, also the one forked but not yet listed
		exec 8<&-
		HELD=""
	fi
	for p in "${WATCH[@]}"; do
		child_of_us "$p" && kill -9 "$p" 2>/dev/null
	done
	end=$(($(now_ms) + 60000))
	while :; do
		for d in "${RUNS[@]}"; do
			for f in "$d"/*.pid; do
				[ -s "$f" ] || continue
				read -r p <"$f" 2>/dev/null || continue
				i=${f##*/} e="$p $d/${i%.pid}"
				[ -n "${known[$e]:-}" ] || { known[$e]=1; OWN+=("$e"); }
			done
		done
		left=0
		for e in "${OWN[@]}"; do
			p=${e%% *} a=${e#* }
			ours "$p" "$a" && { kill -9 "$p" 2>/dev/null; left=$((left + 1)); }
		done
		for p in "${LAUNCH[@]}"; do
			child_of_us "$p" && left=$((left + 1))
		done
		[ "$left" -eq 0 ] && break
		if [ "$(now_ms)" -ge "$end" ]; then
			echo "scale: $left processes still alive 60 s after kill -9" >&2
			for p in "${LAUNCH[@]}"; do	# or the wait below would hang on them
				child_of_us "$p" && kill -9 "$p" 2>/dev/null
			done
			break
		fi
		sleep 0.1
	done
	wait 2>/dev/null
	OWN=() LAUNCH=() WATCH=() RUNS=()
	return "$((left > 0))"
}
# leftovers DIR: how many processes have an argument under DIR (a check, never
# a kill), once none is left or after 10 s (a process killed with its parent
# may still be on its way out); those left are described on stderr (PID,
# state, parent, command line)
leftovers() {
	local p a n s last=0 end=$(($(now_ms) + 10000))
	while :; do
		n=0
		[ "$(now_ms)" -ge "$end" ] && last=1
		for p in /proc/[0-9]*; do
			mapfile -d '' a 2>/dev/null <"$p/cmdline" || continue
			for s in "${a[@]}"; do
				[[ "$s" == "$1"/* ]] || continue
				n=$((n + 1))
				[ "$last" = 1 ] &&
					echo "scale: left under $1: ${p#/proc/} $(cut -d' ' -f3-4 "$p/stat" 2>/dev/null) ${a[*]}" >&2
				break
			done
		done
		[ "$n" -eq 0 ] || [ "$last" = 1 ] && break
		sleep 0.2
	done
	echo "$n"
}
teardown() {
	local left
	kill_own
	left=$(leftovers "$T")
	[ "$left" = 0 ] || echo "scale: WRONG: $left processes with an argument under $T after teardown"
	ZK_PIDS=()	# killed above, by PID, once checked
	[ -z "${SCALE_KEEP:-}" ] || { mv "$T" "$T.kept" && echo "scale: kept the work directory in $T.kept"; }
}
CLEANUP_HOOK=teardown

# ---- ZooKeeper -------------------------------------------------------------

declare -A ZKPID
# zk_up NAME PORT [SERVER_LINES]: a ZooKeeper server in $T/NAME (standalone
# without SERVER_LINES); as lib.sh's zk_start, plus no limit on connections
# from one address (all our sheep are 127.0.0.1) and SCALE_ZK_HEAP
zk_up() {
	local name=$1 port=$2 servers=${3:-} d="$T/$1" main=org.apache.zookeeper.server.ZooKeeperServerMain
	mkdir -p "$d/conf" "$d/data"
	echo "${name#zk}" >"$d/data/myid"
	{
		printf '%s\n' "tickTime=1000" "initLimit=10" "syncLimit=5" "minSessionTimeout=2000" \
			"maxSessionTimeout=60000" "maxClientCnxns=0" "dataDir=$d/data" "clientPort=$port" \
			"clientPortAddress=127.0.0.1" "admin.enableServer=false" "4lw.commands.whitelist=*"
		[ -n "$servers" ] && echo "$servers"
	} >"$d/conf/zoo.cfg"
	[ -n "$servers" ] && main=org.apache.zookeeper.server.quorum.QuorumPeerMain
	printf '%s\n' "log4j.rootLogger=WARN, C" "log4j.appender.C=org.apache.log4j.ConsoleAppender" \
		"log4j.appender.C.layout=org.apache.log4j.PatternLayout" \
		"log4j.appender.C.layout.ConversionPattern=%d %p %c{1}: %m%n" >"$d/conf/log4j.properties"
	java "-Xmx$HEAP" -cp "$d/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar" \
		"$main" "$d/conf/zoo.cfg" >"$d/log" 2>&1 &
	ZKPID[$name]=$!
	own_add $! "$d/conf/zoo.cfg"
	disown $!
}
zk_down() {
	local p=${ZKPID[$1]}
	ours "$p" "$T/$1/conf/zoo.cfg" && kill -9 "$p"
	for _ in $(seq 1 100); do ours "$p" "$T/$1/conf/zoo.cfg" || return 0; sleep 0.05; done
}
# mntr PORT KEY: one figure of ZooKeeper's mntr
mntr() { awk -v k="$2" '$1 == k { print $2 }' <<<"$(zk_cmd "$1" mntr)"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
cpu_ticks() {	# cpu_ticks PID...: utime + stime of these processes, in clock ticks
	local p f s=0
	for p in "$@"; do
		read -r -a f 2>/dev/null <"/proc/$p/stat" || continue
		s=$((s + f[13] + f[14]))
	done
	echo "$s"
}
ms_of() { echo $(($1 * 1000 / TICK)); }

# ---- sheep ------------------------------------------------------------------

# boot D N CLUSTER: launch sheep 0..N-1 in D at once; sets PID_OF[] and T0
# (the release, ms); every launcher records "RC END_US" in D/I.done
declare -a PID_OF
boot() {
	local d=$1 n=$2 cl=$3 i opts
	mkdir -p "$d"
	RUNS+=("$d")
	rm -f "$d/go"
	mkfifo "$d/go"
	exec 8<>"$d/go"
	HELD=$n
	for ((i = 0; i < n; i++)); do
		opts=(-w 2)
		[ "$i" -ge "$NST" ] && opts=(-g -w 2)
		(
			read -r -N 1 go <&8 && [ "$go" = g ] || exit 0	# one byte: readers share the fifo
			"$SHEEP" -b 127.0.0.1 -p $((SPB + i)) -P "$d/$i.pid" -c "$cl" -z "$i" "${opts[@]}" \
				"$d/$i" >"$d/$i.out" 2>&1 8<&-
			echo "$? ${EPOCHREALTIME/./}" >"$d/$i.done"
		) &
		LAUNCH+=($!)
	done
	T0=$(now_ms)
	T0_US=${EPOCHREALTIME/./}
	printf 'g%.0s' $(seq "$n") >&8
	exec 8<&-
	HELD=""
	collect "$d" 0 "$n"
}
# launch_one D I CLUSTER: one more gateway, I, in D (T1 its start, ms)
launch_one() {
	local d=$1 i=$2
	(
		"$SHEEP" -b 127.0.0.1 -p $((SPB + i)) -P "$d/$i.pid" -c "$3" -z "$i" -g -w 2 "$d/$i" \
			>"$d/$i.out" 2>&1
		echo "$? ${EPOCHREALTIME/./}" >"$d/$i.done"
	) &
	LAUNCH+=($!)
	T1=$(now_ms)
	T1_US=${EPOCHREALTIME/./}
	collect "$d" "$i" $((i + 1))
}
# collect D FROM TO: wait for the pid file of every sheep FROM..TO-1 (or its
# launcher's failure), up to 120 s; record each PID
collect() {
	local d=$1 i p left end=$(($(now_ms) + 120000))
	while :; do
		left=0
		for ((i = $2; i < $3; i++)); do
			[ -n "${PID_OF[i]:-}" ] && continue
			if [ -s "$d/$i.pid" ] && read -r p <"$d/$i.pid" && [[ "$p" =~ ^[0-9]+$ ]]; then
				PID_OF[i]=$p
				own_add "$p" "$d/$i"
			elif [ -e "$d/$i.done" ]; then
				PID_OF[i]=0	# the launcher failed before the daemon existed
			else
				left=$((left + 1))
			fi
		done
		[ "$left" -eq 0 ] && return 0
		[ "$(now_ms)" -lt "$end" ] || { echo "scale: $left sheep wrote no pid file in 120 s" >&2; return 1; }
		sleep 0.1
	done
}
port() { echo $((SPB + $1)); }
# view I: the member ports sheep I lists, one a line (nothing if it does not answer)
view() { timeout 20 "$DOG" node list -r -p "$(port "$1")" 2>/dev/null | awk '{ n = split($2, a, ":"); print a[n] }'; }
count_of() { timeout 20 "$DOG" node list -r -p "$(port "$1")" 2>/dev/null | awk 'END { print NR }'; }
has_count() { [ "$(count_of "$1")" = "$2" ]; }
# lacks I P: sheep I answers and does not list port P
lacks() { local v; v=$(view "$1"); [ -n "$v" ] && ! grep -qx "$2" <<<"$v"; }

# until_sample LIMIT_MS T0 PRED ARGS...: poll the sample until PRED I ARGS
# holds for every sampled sheep I (each counted from its first success);
# UNTIL_MAX: the ms from T0 to the last one; UNTIL_LEFT: those that never did
until_sample() {
	local limit=$1 t0=$2 pred=$3 i t
	shift 3
	declare -A at=()
	UNTIL_LEFT=""
	while :; do
		for i in "${SAMPLE[@]}"; do
			[ -n "${at[$i]:-}" ] && continue
			"$pred" "$i" "$@" && at[$i]=$(($(now_ms) - t0))
		done
		[ "${#at[@]}" -eq "${#SAMPLE[@]}" ] && break
		if [ $(($(now_ms) - t0)) -ge "$limit" ]; then
			for i in "${SAMPLE[@]}"; do [ -n "${at[$i]:-}" ] || UNTIL_LEFT+=" $i"; done
			break
		fi
		sleep 0.2
	done
	UNTIL_MAX=$(max 0 "${at[@]}")
	[ -z "$UNTIL_LEFT" ]
}
# pick_sample N: first, middle, last and 10 random others, none of them a
# storing sheep but the first (the storing ones and the gateways outside the
# sample are those whose CPU is counted: polling costs the sampled ones some)
pick_sample() {
	local n=$1 i c mid=$(($1 / 2)) tries=0
	declare -A in=()
	for ((i = 1; i < NST; i++)); do in[$i]=x; done
	SAMPLE=()
	for i in 0 "$mid" $((n - 1)); do
		[ -z "${in[$i]:-}" ] && { SAMPLE+=("$i"); in[$i]=s; }
	done
	c=0
	while [ "$c" -lt 10 ] && [ "$tries" -lt 1000 ]; do
		i=$((RANDOM % n))
		tries=$((tries + 1))
		[ -n "${in[$i]:-}" ] && continue
		in[$i]=s
		SAMPLE+=("$i")
		c=$((c + 1))
	done
}
sampled() { [[ " ${SAMPLE[*]} " == *" $1 "* ]]; }

# joins_ok D N: every sheep of D started once and joined once: launchers that
# returned 0, each sheep's log naming its own join once, no restart; the
# sampled views hold exactly ports SPB..SPB+N-1, no duplicate, all alike
# (sets J_LAUNCH_OK J_LAST_MS J_MED_MS J_DUP J_MISSING J_REJOIN J_VIEWS)
joins_ok() {
	local d=$1 n=$2 i rc end ends=() want v first="" lines
	J_LAUNCH_OK=0 J_DUP=0 J_MISSING=0 J_REJOIN=0 J_VIEWS=0 J_FAILED="" J_SAMPLE=${#SAMPLE[@]}
	for ((i = 0; i < n; i++)); do
		if read -r rc end <"$d/$i.done" 2>/dev/null && [ "$rc" = 0 ]; then
			J_LAUNCH_OK=$((J_LAUNCH_OK + 1))
			ends+=($(((end - T0_US) / 1000)))
		else
			J_FAILED+=" $i"
		fi
		lines=$(grep -c " 127.0.0.1:$(port "$i") joined, " "$d/$i/sheep.log" 2>/dev/null)
		[ "${lines:-0}" = 1 ] || J_REJOIN=$((J_REJOIN + 1))
		grep -q "restarting to rejoin\|was refused" "$d/$i/sheep.log" 2>/dev/null && J_REJOIN=$((J_REJOIN + 1))
	done
	J_LAST_MS=$(max "${ends[@]}")
	J_MED_MS=$(med "${ends[@]}")
	want=$(seq "$SPB" $((SPB + n - 1)))
	for i in "${SAMPLE[@]}"; do
		v=$(view "$i" | sort -n)
		J_DUP=$((J_DUP + $(uniq -d <<<"$v" | grep -c .)))
		J_MISSING=$((J_MISSING + $(comm -23 <(echo "$want") <(uniq <<<"$v") | grep -c .)))
		[ "$v" = "$want" ] && J_VIEWS=$((J_VIEWS + 1))
	done
	[ -n "$J_FAILED" ] && echo "scale: launchers that failed or never returned:$J_FAILED" >&2
	[ "$J_LAUNCH_OK" = "$n" ] && [ "$J_DUP" = 0 ] && [ "$J_MISSING" = 0 ] && [ "$J_REJOIN" = 0 ] &&
		[ "$J_VIEWS" = "${#SAMPLE[@]}" ]
}

# wait_launchers D FROM TO LIMIT_MS: until every launcher FROM..TO-1 returned
wait_launchers() {
	local d=$1 i left end=$(($(now_ms) + $4))
	while :; do
		left=0
		for ((i = $2; i < $3; i++)); do [ -e "$d/$i.done" ] || left=$((left + 1)); done
		[ "$left" -eq 0 ] && return 0
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.2
	done
}

# timed CMD...: run it; TIMED_MS its wall time; returns its status
timed() {
	local t=${EPOCHREALTIME/./} rc
	"$@" >/dev/null 2>"$T/timed.err"
	rc=$?
	TIMED_MS=$(((${EPOCHREALTIME/./} - t) / 1000))
	[ "$rc" -eq 0 ] || echo "scale: '$*' failed ($rc): $(head -c 200 "$T/timed.err")" >&2
	return "$rc"
}

# settle_cpu PID...: wait until these sheep burn no more than their idle
# rate (IDLE_G + IDLE_S ticks/s) + 2 ticks over one second, up to 15 s
settle_cpu() {
	local a b k
	a=$(cpu_ticks "$@")
	for k in $(seq 1 15); do
		sleep 1
		b=$(cpu_ticks "$@")
		awk -v d=$((b - a)) -v i="$IDLE_G" -v j="$IDLE_S" 'BEGIN { exit !(d <= i + j + 2) }' && return 0
		a=$b
	done
}
# idle_rate: IDLE_G and IDLE_S, the ticks per second the gateways (GW) and
# the storing sheep (ST) burn doing nothing (over 3 s)
idle_rate() {
	local g s t
	t=${EPOCHREALTIME/./}
	g=$(cpu_ticks "${GW[@]}") s=$(cpu_ticks "${ST[@]}")
	sleep 3
	t=$(((${EPOCHREALTIME/./} - t) / 1000))
	IDLE_G=$(awk -v d=$(($(cpu_ticks "${GW[@]}") - g)) -v ms="$t" 'BEGIN { printf "%.2f", d / (ms / 1000) }')
	IDLE_S=$(awk -v d=$(($(cpu_ticks "${ST[@]}") - s)) -v ms="$t" 'BEGIN { printf "%.2f", d / (ms / 1000) }')
}
# event_cpu_ms START_TICKS START_US IDLE_TPS PID...: CPU ms they burnt since, less the idle rate
event_cpu_ms() {
	local a=$1 t=$2 i=$3 b
	shift 3
	b=$(cpu_ticks "$@")
	awk -v d=$((b - a)) -v i="$i" -v s="$(((${EPOCHREALTIME/./} - t) / 1000))" -v hz="$TICK" \
		'BEGIN { v = (d - i * s / 1000) * 1000 / hz; if (v < 0) v = 0; printf "%.0f", v }'
}
# event_begin: the CPU counters of GW, ST and ZooKeeper now
event_begin() { EV_G=$(cpu_ticks "${GW[@]}") EV_S=$(cpu_ticks "${ST[@]}") EV_Z=$(cpu_ticks "$1") EV_T=${EPOCHREALTIME/./}; }
# event_end ZKPID: EV_OUT "all gateway storing", the CPU ms per member since
# event_begin; EV_ZMS ZooKeeper's ms
event_end() {
	local g s
	settle_cpu "${GW[@]}" "${ST[@]}"
	g=$(event_cpu_ms "$EV_G" "$EV_T" "$IDLE_G" "${GW[@]}")
	s=$(event_cpu_ms "$EV_S" "$EV_T" "$IDLE_S" "${ST[@]}")
	EV_ZMS=$(ms_of $(($(cpu_ticks "$1") - EV_Z)))
	EV_OUT=$(awk -v g="$g" -v s="$s" -v ng="${#GW[@]}" -v ns="${#ST[@]}" 'BEGIN {
		printf "%.2f %.2f %.2f", (g + s) / (ng + ns), ng ? g / ng : 0, ns ? s / ns : 0 }')
}

# smaps_split PID: "heap_kb anon_kb stacks_kb threads rest_kb" of one sheep:
# heap = [heap] (brk), anon = other private anonymous mappings (malloc's
# thread arenas and large blocks), stacks = the mappings holding a thread's
# stack pointer, plus [stack]; rest = the binary, libraries and the others
smaps_split() {
	python3 - "$1" <<'EOF'
import os, sys
pid = sys.argv[1]
sps = []
for tid in os.listdir("/proc/%s/task" % pid):
    try:
        f = open("/proc/%s/task/%s/syscall" % (pid, tid)).read().split()
        if len(f) >= 3 and f[0] != "running":
            sps.append(int(f[-2], 16))
    except OSError:
        pass
heap = anon = stacks = rest = 0
cur = None
def add(m):
    global heap, anon, stacks, rest
    if m is None:
        return
    lo, hi, name, rss = m
    if name == "[heap]":
        heap += rss
    elif name == "[stack]" or any(lo <= sp < hi for sp in sps):
        stacks += rss
    elif name == "":
        anon += rss
    else:
        rest += rss
for line in open("/proc/%s/smaps" % pid):
    p = line.split()
    if "-" in p[0] and len(p) >= 5 and not p[0].endswith(":"):
        add(cur)
        lo, hi = (int(x, 16) for x in p[0].split("-"))
        cur = [lo, hi, p[5] if len(p) > 5 else "", 0]
    elif p[0] == "Rss:" and cur is not None:
        cur[3] = int(p[1])
add(cur)
print(heap, anon, stacks, len(os.listdir("/proc/%s/task" % pid)), rest)
EOF
}

# log_scan D N LABEL: what the sheep logged (to stdout and LOGSUM)
log_scan() {
	local d=$1 n=$2 label=$3 per=() i l
	for ((i = 0; i <= n; i++)); do
		[ -e "$d/$i/sheep.log" ] || continue
		l=$(grep -c . "$d/$i/sheep.log")
		per+=("$l")
	done
	LOG_MED=$(med "${per[@]}")
	LOG_MAX=$(max "${per[@]}")
	LOG_ERR=$(cat "$d"/*/sheep.log 2>/dev/null | grep -cE '^(emerg|alert|crit|err) ')
	LOG_WARN=$(cat "$d"/*/sheep.log 2>/dev/null | grep -c '^warning ')
	# sheep whose ZooKeeper client gave its server up (IO halted until it reconnected)
	LOG_LINK=$(grep -l "cluster link lost" "$d"/*/sheep.log 2>/dev/null | grep -c .)
	echo "logs $label: lines per sheep median $LOG_MED, max $LOG_MAX; $LOG_ERR errors, $LOG_WARN warnings; $LOG_LINK sheep lost their ZooKeeper link for a while"
	# the most frequent errors and warnings, digits folded; then retries, timeouts, slow paths
	cat "$d"/*/sheep.log 2>/dev/null | grep -E '^(emerg|alert|crit|err|warning) ' |
		cut -d' ' -f1,5- | sed -E 's/[0-9a-f]{8,}/#/g; s/[0-9]+/#/g' | sort | uniq -c | sort -rn | head -6 |
		sed "s/^ */logs $label:   /"
	cat "$d"/*/sheep.log 2>/dev/null | grep -iE 'retr(y|ies|ying)|timed out|slow|try again|busy|too many|EMFILE|EAGAIN' |
		grep -vE '^(emerg|alert|crit|err|warning) ' | cut -d' ' -f1,5- | sed -E 's/[0-9a-f]{8,}/#/g; s/[0-9]+/#/g' |
		sort | uniq -c | sort -rn | head -4 | sed "s/^ */logs $label:   (retry\/timeout) /"
}

# ---- limits of this machine ---------------------------------------------

LIMITED=()	# what limited the run, one line each
mem_avail_kb() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; }
threads_now() { awk '{ split($4, a, "/"); print a[2] }' /proc/loadavg; }
read -r PLO PHI </proc/sys/net/ipv4/ip_local_port_range
PID_MAX=$(cat /proc/sys/kernel/pid_max)
THR_MAX=$(cat /proc/sys/kernel/threads-max)
limits() {
	local was
	was=$(ulimit -Sn)
	ulimit -Sn "$(ulimit -Hn)" 2>/dev/null
	echo "limits: open files: soft $(ulimit -Sn) (was $was), hard $(ulimit -Hn): ZooKeeper holds a connection per sheep, so up to ~$(($(ulimit -Sn) - 200)) sheep"
	was=$(ulimit -Su)
	ulimit -Su "$(ulimit -Hu)" 2>/dev/null
	echo "limits: processes: soft $(ulimit -Su) (was $was), hard $(ulimit -Hu)$([ "$(id -u)" = 0 ] && echo ' (root: not enforced)'); threads now $(threads_now), pid_max $PID_MAX, threads-max $THR_MAX"
	echo "limits: local port range $PLO-$PHI; sheep ports from $SPB: up to $(((SPB < PLO ? PLO : 65536) - SPB - 1)) sheep$([ "$SPB" -ge "$PLO" ] && [ "$SPB" -le "$PHI" ] && echo ' (INSIDE the ephemeral range: a port may be taken)')"
	echo "limits: memory: MemAvailable $(($(mem_avail_kb) / 1024)) MiB of $(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024)) MiB; $(nproc) CPUs"
}

# fits N: may N sheep (+ 1) run here? FIT_WHY says why not; uses the RSS
# measured at earlier sizes (per sheep: a + b x N; before any, 12 MiB +
# 1 KiB per member: a gateway's peak was 12.3-12.4 MiB at 200 and at 500,
# flat in N since issue 19; it was 10 MiB + 130 KiB per member before),
# threads per sheep, ZooKeeper's RSS
EST_A=${SCALE_RSS_BASE_KB:-12288} EST_B=${SCALE_RSS_PER_MEMBER_KB:-1} THR_EACH=12 ZK_KB=307200
fits() {
	local n=$1 need avail thr
	FIT_WHY=""
	if [ $((SPB + n)) -ge 65536 ] || { [ "$SPB" -lt "$PLO" ] && [ $((SPB + n)) -ge "$PLO" ]; }; then
		FIT_WHY="ports $SPB..$((SPB + n)) reach $([ $((SPB + n)) -ge 65536 ] && echo 65535 || echo "the local port range ($PLO-$PHI)")"
		return 1
	fi
	if [ $((n + 200)) -gt "$(ulimit -Sn)" ]; then
		FIT_WHY="open files limit $(ulimit -Sn): ZooKeeper needs one per sheep"
		return 1
	fi
	thr=$(($(threads_now) + (n + 1) * THR_EACH + 300))
	if [ "$thr" -ge "$PID_MAX" ] || [ "$thr" -ge "$THR_MAX" ]; then
		FIT_WHY="about $thr threads ($THR_EACH per sheep) reach pid_max $PID_MAX / threads-max $THR_MAX"
		return 1
	fi
	# sheep + their launchers (until they return) + ZooKeeper servers + 512 MiB spare
	need=$(((n + 1) * (EST_A + EST_B * n) + (n + 1) * 2048 + 3 * ZK_KB + 524288))
	avail=$(mem_avail_kb)
	FIT_NEED=$((need / 1024))
	if [ "$need" -gt "$avail" ]; then
		FIT_WHY="memory: projected $((need / 1024)) MiB ($(((EST_A + EST_B * n) / 1024)) MiB per sheep) > MemAvailable $((avail / 1024)) MiB (SCALE_RSS_BASE_KB, SCALE_RSS_PER_MEMBER_KB override the projection)"
		return 1
	fi
}
# learn N GATEWAY_RSS_KB THREADS: refine the projection from a measured size
declare -A MEAS_RSS
learn() {
	local n1 n=$1 r=$2 b
	MEAS_RSS[$n]=$r
	[ "$3" -gt "$THR_EACH" ] && THR_EACH=$3
	for n1 in "${!MEAS_RSS[@]}"; do
		[ "$n1" -lt "$n" ] || continue
		b=$(((r - MEAS_RSS[$n1]) / (n - n1)))
		[ "$b" -lt 0 ] && b=0
		EST_B=$b EST_A=$((r - b * n))
		return
	done
	EST_A=$((r - EST_B * n))
	[ "$EST_A" -lt 4096 ] && EST_A=4096
}

# ---- one size ------------------------------------------------------------

declare -A R	# R[metric|N]
METRICS=()
put() {	# put METRIC N VALUE
	[[ " ${METRICS[*]} " == *" $1 "* ]] || METRICS+=("$1")
	R["$1|$2"]=$3
}
declare -A LABEL=(
	[start]="sheep started at once (storing+gateway)"
	[join]="all joined: every sampled view lists N (s)"
	[launch]="launchers returned: median / last (s)"
	[joins]="launchers ok / duplicates / missing / rejoins"
	[rss]="RSS per gateway sheep: median / max (MiB)"
	[hwm]="peak RSS (VmHWM) per gateway: median / max"
	[rss_st]="RSS per storing sheep: median (MiB)"
	[split]="1 gateway: heap+anon / stacks / rest (MiB)"
	[thr]="1 gateway: threads / open descriptors"
	[fmt]="cluster format (ms)"
	[create]="vdi create via gateway: median / max (ms)"
	[snap]="vdi snapshot via gateway: median / max (ms)"
	[join1]="one more join: in every sampled view (ms)"
	[idle]="idle CPU per sheep: gateway / storing (ms/s)"
	[cpu_j]="CPU/join/member: all / gateway / storing (ms)"
	[cpu_l]="CPU/leave/member: all / gateway / storing (ms)"
	[cpu_n]="  CPU counted on gw+storing: join / leave"
	[zkcpu]="ZooKeeper CPU per join / leave (ms)"
	[leave]="leave after kill -9: gone from all sampled (ms)"
	[zkn]="ZK znodes: after boot / after events"
	[zkd]="ZK data size: after boot / after events (KiB)"
	[zkw]="ZK watches / connections"
	[zkrss]="ZK JVM RSS (MiB)"
	[logs]="log lines per sheep: median / max"
	[logerr]="log errors / warnings (all sheep)"
	[link]="sheep that lost their ZK link a while"
	[e_join]="ensemble: all joined (s)"
	[e_op]="ensemble: ZK leader kill -9 -> op succeeds (ms)"
	[e_elect]="ensemble: new leader elected (ms)"
	[e_drop]="ensemble: members dropped / restarts"
	[e_rec]="ensemble: members still 'recovering' after"
	[e_link]="ensemble: sheep that lost their ZK link"
)

LEAVE_BOUND=$((TMO * 1000 + 2000))
run_single() {
	local n=$1 d="$T/n$1" cl i g=$(($1 / 2)) a b t k cr=() sn=() zpid v zc j1 r rs=() rst=() hw=() fds
	cl="zookeeper:127.0.0.1:$ZKP,timeout=${TMO}s,id=s$$n$n"
	PID_OF=()
	zk_up zk0 "$ZKP"
	retry 60 zk_ok "$ZKP" || { bad "N=$n: ZooKeeper did not answer"; return 1; }
	zpid=${ZKPID[zk0]}
	pick_sample "$n"
	say "N=$n: $NST storing + $((n - NST)) gateways at once; sample ${SAMPLE[*]}"
	put start "$n" "$NST+$((n - NST))"
	boot "$d" "$n" "$cl"
	if ! until_sample $((120000 + n * 600)) "$T0" has_count "$n"; then
		bad "N=$n: sampled sheep$UNTIL_LEFT never listed $n members (they list: $(for i in $UNTIL_LEFT; do printf '%s ' "$(count_of "$i")"; done))"
		put join "$n" "never"
		log_scan "$d" "$n" "N=$n"
		return 1
	fi
	put join "$n" "$(awk -v m="$UNTIL_MAX" 'BEGIN { printf "%.1f", m / 1000 }')"
	say "N=$n: every sampled view lists $n members after $UNTIL_MAX ms"
	wait_launchers "$d" 0 "$n" 60000 || echo "scale: N=$n: some launchers had not returned 60 s after the views were full" >&2
	joins_ok "$d" "$n" || bad "N=$n: joins: $J_LAUNCH_OK of $n launchers ok, $J_DUP duplicates, $J_MISSING missing, $J_REJOIN rejoins, $J_VIEWS of ${#SAMPLE[@]} views exact"
	put launch "$n" "$(awk -v a="$J_MED_MS" -v b="$J_LAST_MS" 'BEGIN { printf "%.1f / %.1f", a / 1000, b / 1000 }')"
	put joins "$n" "$J_LAUNCH_OK/$J_DUP/$J_MISSING/$J_REJOIN"
	zc="$(mntr "$ZKP" zk_znode_count)"
	put zkn "$n" "$zc"
	put zkd "$n" "$(($(mntr "$ZKP" zk_approximate_data_size) / 1024))"

	# cluster operations through a gateway (sheep N/2)
	timed "$DOG" cluster format -c 2 -p "$(port 0)" || bad "N=$n: cluster format failed"
	put fmt "$n" "$TIMED_MS"
	for k in 1 2 3; do
		timed "$DOG" vdi create "v$k" 1G -p "$(port "$g")" && cr+=("$TIMED_MS")
		timed "$DOG" vdi snapshot -s "s$k" "v$k" -p "$(port "$g")" && sn+=("$TIMED_MS")
	done
	[ "${#cr[@]}" = 3 ] && [ "${#sn[@]}" = 3 ] || bad "N=$n: vdi create or snapshot failed"
	put create "$n" "$(med "${cr[@]}") / $(max "${cr[@]}")"
	put snap "$n" "$(med "${sn[@]}") / $(max "${sn[@]}")"

	# memory, threads, descriptors
	for ((i = 0; i < n; i++)); do
		r=$(rss_kb "${PID_OF[i]}")
		[ -n "$r" ] || continue
		if [ "$i" -lt "$NST" ]; then rst+=("$r"); else rs+=("$r") hw+=("$(hwm_kb "${PID_OF[i]}")"); fi
	done
	put hwm "$n" "$(mib "$(med "${hw[@]}")") / $(mib "$(max "${hw[@]}")")"
	put rss "$n" "$(mib "$(med "${rs[@]}")") / $(mib "$(max "${rs[@]}" "${rst[@]}")")"
	put rss_st "$n" "$(mib "$(med "${rst[@]}")")"
	read -r a b t k v <<<"$(smaps_split "${PID_OF[g]}")"
	put split "$n" "$(mib $((a + b))) / $(mib "$t") / $(mib "$v")"
	fds=(/proc/"${PID_OF[g]}"/fd/*)
	put thr "$n" "$k / ${#fds[@]}"
	learn "$n" "$(med "${rs[@]}")" "$k"
	say "N=$n: gateway RSS median $(mib "$(med "${rs[@]}")") MiB (heap $(mib "$a") + anon $(mib "$b"), stacks $(mib "$t") in $k threads, rest $(mib "$v"))"

	# CPU per membership event: the join of one more gateway (N), then the kill -9 of storing sheep 1
	GW=() ST=()
	for ((i = 0; i < n; i++)); do
		sampled "$i" && continue
		if [ "$i" -lt "$NST" ]; then ST+=("${PID_OF[i]}"); else GW+=("${PID_OF[i]}"); fi
	done
	idle_rate
	put idle "$n" "$(awk -v g="$IDLE_G" -v s="$IDLE_S" -v ng="${#GW[@]}" -v ns="${#ST[@]}" -v hz="$TICK" \
		'BEGIN { printf "%.2f / %.2f", ng ? g * 1000 / hz / ng : 0, ns ? s * 1000 / hz / ns : 0 }')"
	event_begin "$zpid"
	launch_one "$d" "$n" "$cl"
	SAMPLE+=("$n")
	if until_sample $((60000 + n * 100)) "$T1" has_count $((n + 1)); then
		put join1 "$n" "$UNTIL_MAX"
	else
		bad "N=$n: the join of sheep $n was not seen by$UNTIL_LEFT"
		put join1 "$n" "never"
	fi
	wait_launchers "$d" "$n" $((n + 1)) 30000
	event_end "$zpid"
	read -r a b t <<<"$EV_OUT"
	put cpu_j "$n" "$a / $b / $t"
	CPU_ON="${#GW[@]}+${#ST[@]}"
	CPU_J[$n]=$a
	j1=$EV_ZMS
	# the killed one is a member no more (the joiner is sampled)
	ST=()
	for ((i = 2; i < NST; i++)); do ST+=("${PID_OF[i]}"); done
	idle_rate
	event_begin "$zpid"
	k=$(now_ms)
	kill -9 "${PID_OF[1]}"
	if until_sample $((TMO * 1000 + 60000)) "$k" lacks "$(port 1)"; then
		put leave "$n" "$UNTIL_MAX"
		LEAVE_MS[$n]=$UNTIL_MAX
		say "N=$n: the leave of sheep 1 was seen by every sampled member after $UNTIL_MAX ms"
	else
		bad "N=$n: the leave of sheep 1 was never seen by$UNTIL_LEFT"
		put leave "$n" "never"
	fi
	event_end "$zpid"
	read -r a b t <<<"$EV_OUT"
	put cpu_l "$n" "$a / $b / $t"
	put cpu_n "$n" "$CPU_ON / ${#GW[@]}+${#ST[@]}"
	CPU_L[$n]=$a
	put zkcpu "$n" "$j1 / $EV_ZMS"
	put zkn "$n" "${R[zkn|$n]} / $(mntr "$ZKP" zk_znode_count)"
	put zkd "$n" "${R[zkd|$n]} / $(($(mntr "$ZKP" zk_approximate_data_size) / 1024))"
	put zkw "$n" "$(mntr "$ZKP" zk_watch_count) / $(mntr "$ZKP" zk_num_alive_connections)"
	ZK_KB=$(rss_kb "$zpid")
	put zkrss "$n" "$(mib "$ZK_KB")"

	log_scan "$d" "$n" "N=$n"
	put logs "$n" "$LOG_MED / $LOG_MAX"
	put logerr "$n" "$LOG_ERR / $LOG_WARN"
	put link "$n" "$LOG_LINK"
	echo "result N=$n launched=$n launchers_ok=$J_LAUNCH_OK duplicates=$J_DUP missing=$J_MISSING rejoins=$J_REJOIN views_exact=$J_VIEWS/$J_SAMPLE join1=${R[join1|$n]} leave_ms=${R[leave|$n]}"
}

leader_of() {
	local k
	for k in 1 2 3; do
		zk_cmd $((ZEB + k)) srvr | grep -q 'Mode: leader' && { echo "$k"; return 0; }
	done
	return 1
}
run_ensemble() {
	local n=$1 d="$T/e$1" cl servers k L t0 g=$(($1 / 2)) i ep0 ep1 drop=0 rs
	PID_OF=()
	servers=$(for k in 1 2 3; do echo "server.$k=127.0.0.1:$((ZEB + 1010 + k)):$((ZEB + 1020 + k))"; done)
	for k in 1 2 3; do zk_up "zk$k" $((ZEB + k)) "$servers"; done
	retry 60 leader_of || { bad "N=$n: the ensemble elected no leader"; return 1; }
	cl="zookeeper:127.0.0.1:$((ZEB + 1)),127.0.0.1:$((ZEB + 2)),127.0.0.1:$((ZEB + 3)),timeout=${TMO}s,id=e$$n$n"
	pick_sample "$n"
	say "N=$n, ensemble: $n sheep at once"
	boot "$d" "$n" "$cl"
	if ! until_sample $((120000 + n * 600)) "$T0" has_count "$n"; then
		bad "N=$n, ensemble: sampled sheep$UNTIL_LEFT never listed $n members"
		put e_join "$n" never
		return 1
	fi
	put e_join "$n" "$(awk -v m="$UNTIL_MAX" 'BEGIN { printf "%.1f", m / 1000 }')"
	wait_launchers "$d" 0 "$n" 60000
	joins_ok "$d" "$n" || bad "N=$n, ensemble: joins: $J_LAUNCH_OK of $n launchers ok, $J_DUP duplicates, $J_MISSING missing, $J_REJOIN rejoins"
	timed "$DOG" cluster format -c 2 -p "$(port 0)" || bad "N=$n, ensemble: cluster format failed"
	ep0=$(timeout 20 "$DOG" cluster info -r -p "$(port "$g")" | awk '/^[0-9]+ [0-9]+ \[/ { print $2; exit }')
	L=$(leader_of)
	t0=$(now_ms)
	zk_down "zk$L"
	say "N=$n, ensemble: killed ZooKeeper leader $L"
	# the election, watched meanwhile: the ms until a server says leader
	( until leader_of >/dev/null; do [ $(($(now_ms) - t0)) -lt 120000 ] || exit; sleep 0.05; done
	  echo $(($(now_ms) - t0)) >"$T/elected" ) &
	WATCH+=($!)
	k=0
	until timeout 30 "$DOG" vdi create "after$k" 1G -p "$(port "$g")" >/dev/null 2>&1; do
		k=$((k + 1))
		[ $(($(now_ms) - t0)) -lt 120000 ] || break
		sleep 0.1
	done
	if [ $(($(now_ms) - t0)) -lt 120000 ]; then
		put e_op "$n" $(($(now_ms) - t0))
	else
		bad "N=$n, ensemble: no cluster op succeeded within 120 s of the leader's loss"
		put e_op "$n" never
	fi
	retry 60 test -s "$T/elected" && put e_elect "$n" "$(cat "$T/elected")"
	rm -f "$T/elected"
	# no member dropped: after the session timeout + 3 s every sampled view still lists N
	i=$((t0 + TMO * 1000 + 3000 - $(now_ms)))
	[ "$i" -gt 0 ] && sleep "$(awk -v m="$i" 'BEGIN { print m / 1000 }')"
	for i in "${SAMPLE[@]}"; do
		k=$(count_of "$i")
		[ "$k" = "$n" ] || drop=$((drop > n - k ? drop : n - k))
	done
	rs=$(cat "$d"/*/sheep.log 2>/dev/null | grep -c 'restarting to rejoin')
	ep1=$(timeout 20 "$DOG" cluster info -r -p "$(port "$g")" | awk '/^[0-9]+ [0-9]+ \[/ { print $2; exit }')
	put e_drop "$n" "$drop / $rs"
	# every member's end of recovery (of the format's epoch) reached the others
	retry 10 bash -c "[ -z \"\$(timeout 20 '$DOG' node recovery -r -p $(port "$g"))\" ]"
	k=$(timeout 20 "$DOG" node recovery -r -p "$(port "$g")" | grep -c .)
	put e_rec "$n" "$k"
	[ "$drop" = 0 ] && [ "$rs" = 0 ] && [ "$ep0" = "$ep1" ] ||
		bad "N=$n, ensemble: after the leader's loss $drop members dropped, $rs restarts, epoch $ep0 -> $ep1"
	log_scan "$d" "$n" "N=$n ensemble"
	put e_link "$n" "$LOG_LINK"
	echo "result N=$n ensemble launchers_ok=$J_LAUNCH_OK duplicates=$J_DUP dropped=$drop restarts=$rs still_recovering=$k op_after_leader_loss_ms=${R[e_op|$n]}"
}

# ---- main ---------------------------------------------------------------

declare -A LEAVE_MS CPU_J CPU_L
echo "scale: work directory $T; sheep ports from $SPB; ZooKeeper $ZKP, ensemble $((ZEB + 1))-$((ZEB + 3)); session timeout ${TMO}s"
limits
command -v java >/dev/null && [ -e /usr/share/java/zookeeper.jar ] || { echo "scale: needs java and ZooKeeper (deps.sh)"; exit 1; }
RAN=()
for N in $SIZES; do
	if ! fits "$N"; then
		echo "scale: N=$N skipped: $FIT_WHY"
		LIMITED+=("N=$N: $FIT_WHY")
		continue
	fi
	echo "scale: N=$N: projected ${FIT_NEED} MiB of $(($(mem_avail_kb) / 1024)) MiB available"
	RAN+=("$N")
	run_single "$N"
	kill_own || bad "N=$N: processes left after kill -9"
	left=$(leftovers "$T/n$N")
	[ "$left" = 0 ] || bad "N=$N: $left processes with an argument under $T/n$N after teardown"
	echo "result N=$N teardown_left=$left"
	[ -n "${SCALE_KEEP:-}" ] || rm -rf "${T:?}/n$N"
	rm -rf "${T:?}/zk0"
	if [ "$ENS" = 1 ]; then
		if fits "$N"; then
			run_ensemble "$N"
			kill_own || bad "N=$N ensemble: processes left after kill -9"
			left=$(leftovers "$T/e$N")
			[ "$left" = 0 ] || bad "N=$N ensemble: $left processes left under $T/e$N after teardown"
			echo "result N=$N ensemble teardown_left=$left"
		else
			echo "scale: N=$N ensemble run skipped: $FIT_WHY"
			LIMITED+=("N=$N ensemble: $FIT_WHY")
		fi
		[ -n "${SCALE_KEEP:-}" ] || rm -rf "${T:?}/e$N" "$T"/zk[123]
	fi
done

# ---- the table and the targets --------------------------------------------
echo
printf '%-48s' "N (sheep)"
for N in "${RAN[@]}"; do printf ' %16s' "$N"; done
echo
for m in "${METRICS[@]}"; do
	printf '%-48s' "${LABEL[$m]:-$m}"
	for N in "${RAN[@]}"; do printf ' %16s' "${R[$m|$N]:--}"; done
	echo
done
echo
# what grows with N
if [ "${#RAN[@]}" -ge 2 ]; then
	a=${RAN[0]} b=${RAN[-1]}
	if [ -n "${MEAS_RSS[$a]:-}" ] && [ -n "${MEAS_RSS[$b]:-}" ]; then
		echo "growth: gateway RSS $(((MEAS_RSS[$b] - MEAS_RSS[$a]) / (b - a))) KiB per member (N=$a -> $b)"
	fi
	[ -n "${CPU_J[$a]:-}" ] && [ -n "${CPU_J[$b]:-}" ] &&
		echo "growth: CPU per join per member x$(awk -v x="${CPU_J[$b]}" -v y="${CPU_J[$a]}" 'BEGIN { if (y > 0) printf "%.2f", x / y; else print "-" }'), per leave per member x$(awk -v x="${CPU_L[$b]}" -v y="${CPU_L[$a]}" 'BEGIN { if (y > 0) printf "%.2f", x / y; else print "-" }') from N=$a to N=$b (constant: x1)"
fi
# the issue's targets
top=0
[ "${#RAN[@]}" -gt 0 ] && top=${RAN[-1]}
for N in "${RAN[@]}"; do
	ok=missed
	[ "${R[joins|$N]:-}" = "$N/0/0/0" ] && ok=met
	echo "target: N=$N every sheep joined once, no duplicate, no stuck join: $ok (${R[joins|$N]:-not measured})"
	ok=missed
	[ -n "${LEAVE_MS[$N]:-}" ] && [ "${LEAVE_MS[$N]}" -le "$LEAVE_BOUND" ] && ok=met
	echo "target: N=$N leave seen by all within timeout + 2 s ($LEAVE_BOUND ms): $ok (${R[leave|$N]:-not measured} ms)"
done
if [ "$top" -ge 1000 ]; then
	c=${R[create|$top]%% *} s=${R[snap|$top]%% *}
	ok=missed
	[ "${c:-99999}" -le 1000 ] && [ "${s:-99999}" -le 1000 ] && ok=met
	echo "target: a cluster operation at $top members within 1 s: $ok (create ${c:-?} ms, snapshot ${s:-?} ms, medians)"
	g=${R[rss|$top]%% *}
	ok=$(awk -v g="${g:-999}" 'BEGIN { print (g < 20) ? "met" : "missed" }')
	echo "target: a gateway sheep of a $top-member cluster under 20 MiB: $ok (${g:-?} MiB)"
else
	echo "target: 1000 sheep joined and serving, a cluster op within 1 s, a gateway under 20 MiB: not measured (largest size run: ${top})"
fi
if [ "${#LIMITED[@]}" -gt 0 ]; then
	for l in "${LIMITED[@]}"; do echo "limited: $l"; done
else
	echo "limited: nothing: every size asked for ran"
fi
[ "$BAD" = 0 ] || echo "scale: the rig found something wrong (WRONG lines above)"
exit "$BAD"
