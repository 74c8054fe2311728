#!/bin/bash
# bench/membership.sh - how fast each cluster driver sees sheep come and go:
# local, zookeeper and corosync, in one run on this machine.
#
# Three test hosts are network namespaces joined by a bridge in a hub
# namespace (10.211.0.0/24, hub 10.211.0.254; nothing on the host's own
# network).  Each host runs one sheep; with -c corosync each also runs its
# corosync (knet, token 1000 ms, votequorum, a nodelist of the three, socket
# IPC, its own /run); with -c zookeeper one ZooKeeper server runs in the hub
# (timeout=5s); -c local uses a directory of this machine.  Measured three
# times per driver (median printed, polling `dog node list -r` from the hub
# every 50 ms):
#   join:    from launching the three sheep at once until all three list 3;
#   leave:   from kill -9 of one sheep until both survivors list 2;
#   node lost (zookeeper, corosync): from `ip link set eth0 down` in one
#            host until both survivors list 2.
# Baseline, where the driver has a bound of its own, and the ratio
# measured/bound: local, its 100 ms probe of the members' lock files;
# zookeeper, the session timeout (its server expires sessions on a 1 s
# tick: up to timeout + 1 s); corosync, the token timeout it runs with
# (runtime.config.totem.token: token + 650 ms token_coefficient per node
# over 2) plus the consensus timeout (1.2 x that), after which a node that
# lost the token and answers no join is declared failed.  A sheep killed
# with corosync alive leaves at once (CPG sees its IPC close): no bound.
# Usage: bash bench/membership.sh [--rows]  (root; iproute2, corosync and
# ZooKeeper from deps.sh; about a minute).  --rows prints only the table
# rows (bench/run.sh adds them to its table); progress goes to stderr.
# Ports: SHEEP_TEST_PORT_BASE (+ 0..2 for sheep, + 10 for ZooKeeper), but
# only inside its own namespaces.
TEST_PORT_OFFSET=0
source "$(dirname "$0")/../tests/lib.sh"
ROWS_ONLY=
[ "${1:-}" = --rows ] && ROWS_ONLY=1
RUNS=${MEMBERSHIP_RUNS:-3}
TOKEN=1000
ZK_TIMEOUT=5000
NET=10.211.0
PFX=sbm$$
HUB=${PFX}hub
NS_MADE=()
CS_PIDS=()

T_START=$(date +%s%N)
say() { echo "membership: $* ($((($(date +%s%N) - T_START) / 1000000000)) s)" >&2; }
# row WHAT VALUE UNIT BASELINE OF RATIO NOTE: one line of bench/run.sh's table
row() { printf '%-44s %12s %-8s %12s %-10s %7s %s\n' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
runs() { local IFS=/; echo "runs $*"; }

skip() {
	row "membership: skipped ($*)" "" "" "" "" "" ""
	exit 0
}
[ "$(id -u)" -eq 0 ] || skip "needs root: network namespaces"
for t in ip nsenter unshare; do
	command -v $t >/dev/null || skip "$t is missing"
done
HAVE_CS=1
for t in corosync corosync-quorumtool corosync-cmapctl; do
	command -v $t >/dev/null || HAVE_CS=
done
HAVE_ZK=1
{ command -v java >/dev/null && [ -e /usr/share/java/zookeeper.jar ]; } || HAVE_ZK=

ns_of() { echo "${PFX}n$1"; }
ip_of() { echo "$NET.$(($1 + 1))"; }
in_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}
on_node() { local i=$1; shift; in_ns "$(ns_of "$i")" "$@"; }

teardown() {
	local p ns
	for p in "${CS_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	# anything else still running in our namespaces (a dog, a restarted sheep)
	for ns in "${NS_MADE[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	done
	for p in "${CS_PIDS[@]}"; do wait_gone "$p"; done
	for ns in "${NS_MADE[@]}"; do ip netns del "$ns" 2>/dev/null; done
	NS_MADE=()
}
CLEANUP_HOOK=teardown

# the hub with its bridge, hosts 0..2 with eth0 on it
setup_net() {
	local i ns
	ip netns add "$HUB" && NS_MADE+=("$HUB") || return 1
	in_ns "$HUB" ip link set lo up
	in_ns "$HUB" ip link add br0 type bridge || return 1
	in_ns "$HUB" ip addr add "$NET.254/24" dev br0
	in_ns "$HUB" ip link set br0 up
	for i in 0 1 2; do
		ns=$(ns_of "$i")
		ip netns add "$ns" && NS_MADE+=("$ns") || return 1
		on_node "$i" ip link set lo up
		in_ns "$HUB" ip link add "h$i" type veth peer name "e$i" || return 1
		in_ns "$HUB" ip link set "e$i" netns "$ns" || return 1
		on_node "$i" ip link set "e$i" name eth0
		on_node "$i" ip addr add "$(ip_of "$i")/24" dev eth0
		on_node "$i" ip link set eth0 up
		in_ns "$HUB" ip link set "h$i" master br0
		in_ns "$HUB" ip link set "h$i" up
	done
}

# ---- corosync, one per host ----------------------------------------------

cs_start() {
	local i=$1 d="$T/cs$1" k
	mkdir -p "$d"
	{
		printf 'totem {\n\tversion: 2\n\tcluster_name: %s\n\ttransport: knet\n' "$PFX"
		printf '\ttoken: %d\n\tcrypto_cipher: none\n\tcrypto_hash: none\n}\nnodelist {\n' "$TOKEN"
		for k in 0 1 2; do
			printf 'node {\n\tring0_addr: %s\n\tnodeid: %d\n\tname: n%d\n}\n' "$(ip_of "$k")" $((k + 1)) "$k"
		done
		printf '}\nquorum {\n\tprovider: corosync_votequorum\n}\n'
		printf 'logging {\n\tto_stderr: no\n\tto_syslog: no\n\tto_logfile: yes\n\tlogfile: %s\n\ttimestamp: on\n}\n' "$d/log"
		printf 'system {\n\tqb_ipc_type: socket\n\tstate_dir: %s\n}\n' "$d"
	} >"$d/corosync.conf"
	# its own /run: the pid lock /run/corosync.pid is per machine
	ip netns exec "$(ns_of "$i")" unshare --mount --propagation private \
		sh -c "mount -t tmpfs tmpfs /run && exec corosync -f -c '$d/corosync.conf'" >"$d/out" 2>&1 &
	CS_PIDS[i]=$!
	disown $!
}

# cs_ring_ok: every host's corosync sees 3 nodes and is quorate
cs_ring_ok() {
	local i
	for i in 0 1 2; do
		on_node "$i" timeout 5 corosync-quorumtool -s 2>/dev/null |
			awk '/^Quorate:/ { q = $2 } /^Nodes:/ { n = $2 } END { exit !(q == "Yes" && n == 3) }' ||
			return 1
	done
}

cmap() { on_node 0 corosync-cmapctl -g "$1" 2>/dev/null | awk '{ print $NF }'; }

# ---- ZooKeeper in the hub (as lib.sh's zk_start, on the hub's address) ----

zk_hub_start() {
	local d="$T/zk"
	mkdir -p "$d/conf" "$d/data"
	printf '%s\n' "tickTime=1000" "minSessionTimeout=2000" "dataDir=$d/data" \
		"clientPort=$ZK_PORT" "clientPortAddress=$NET.254" "admin.enableServer=false" \
		"4lw.commands.whitelist=*" >"$d/conf/zoo.cfg"
	printf '%s\n' "log4j.rootLogger=WARN, C" "log4j.appender.C=org.apache.log4j.ConsoleAppender" \
		"log4j.appender.C.layout=org.apache.log4j.PatternLayout" \
		"log4j.appender.C.layout.ConversionPattern=%d %p %c{1}: %m%n" >"$d/conf/log4j.properties"
	# nsenter execs java: $! is the server
	nsenter --net="/run/netns/$HUB" java -Xmx128m \
		-cp "$d/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar" \
		org.apache.zookeeper.server.ZooKeeperServerMain "$d/conf/zoo.cfg" >"$d/log" 2>&1 &
	ZK_PIDS[1]=$!
	disown $!
}
zk_hub_ok() {
	[ "$(echo ruok | in_ns "$HUB" timeout 2 bash -c "exec 3<>/dev/tcp/$NET.254/$ZK_PORT; cat >&3; cat <&3" 2>/dev/null)" = imok ]
}

# ---- sheep in the hosts, and the measurements ---------------------------

# launch I DRIVER: sheep I in host I (returns when the daemon is up)
launch() {
	local ip
	ip=$(ip_of "$1")
	rm -f "$T/$1.pid"
	on_node "$1" "$SHEEP" -b "$ip" -y "$ip" -p "$(port_of "$1")" -P "$T/$1.pid" -c "$2" \
		-z "$1" "$T/$1" >>"$T/launch.out" 2>&1
}
record() { [ -s "$T/$1.pid" ] && PIDS+=("$(cat "$T/$1.pid")"); }

# listing I: how many members sheep I lists (0 when it does not answer)
listing() {
	in_ns "$HUB" "$DOG" node list -r -a "$(ip_of "$1")" -p "$(port_of "$1")" 2>/dev/null | grep -c .
}

# until_all N T0 NODES...: poll every 50 ms until each of NODES lists N
# members; prints the ms from T0 (date +%s%N) to that poll; fails after 60 s
until_all() {
	local n=$1 t0=$2 i ok now
	shift 2
	while :; do
		ok=1
		for i in "$@"; do
			[ "$(listing "$i")" = "$n" ] || { ok=; break; }
		done
		now=$(date +%s%N)
		[ -n "$ok" ] && { echo $(((now - t0) / 1000000)); return 0; }
		[ $((now - t0)) -lt 60000000000 ] || return 1
		sleep 0.05
	done
}

# gone PID: exited (a zombie counts: nobody here reaps a daemon's zombie at once)
gone() { [ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" = Z ] || ! kill -0 "$1" 2>/dev/null; }
wait_gone() {
	local i
	for i in $(seq 1 100); do
		gone "$1" && return 0
		sleep 0.05
	done
	return 1
}

# stop_all: kill -9 the three sheep, wait until they are gone, empty their stores
stop_all() {
	local i p
	for i in 0 1 2; do
		[ -s "$T/$i.pid" ] || continue
		p=$(cat "$T/$i.pid")
		kill -9 "$p" 2>/dev/null
		wait_gone "$p"
		rm -rf "${T:?}/$i" "$T/$i.pid"
	done
	PIDS=()	# all gone: nothing left for lib.sh's cleanup to wait for
}

# diag: the last lines of each sheep's log (a round that did not converge)
diag() {
	local i
	for i in 0 1 2; do
		[ -e "$T/$i/sheep.log" ] && tail -4 "$T/$i/sheep.log" | sed "s/^/membership: sheep $i: /" >&2
	done
}

# measure NAME DRIVER LOSS: RUNS rounds of join, leave (kill -9 of sheep 2)
# and, with LOSS, node lost (sheep 2 restarted, then its host's eth0 down);
# fills J, L and N with the milliseconds of each round
measure() {
	local name=$1 drv=$2 loss=$3 r i t0 ms lp=()
	J=() L=() N=()
	for ((r = 1; r <= RUNS; r++)); do
		t0=$(date +%s%N)
		for i in 0 1 2; do
			launch "$i" "${drv//%d/$r}" &
			lp+=($!)
		done
		ms=$(until_all 3 "$t0" 0 1 2) || { wait "${lp[@]}"; for i in 0 1 2; do record $i; done; return 1; }
		wait "${lp[@]}"
		lp=()
		for i in 0 1 2; do record $i; done
		J+=("$ms")
		t0=$(date +%s%N)
		kill -9 "$(cat "$T/2.pid")"
		ms=$(until_all 2 "$t0" 0 1) || return 1
		L+=("$ms")
		if [ -n "$loss" ]; then
			launch 2 "${drv//%d/$r}" || return 1
			record 2
			RJ=$(until_all 3 "$(date +%s%N)" 0 1 2) || return 1
			t0=$(date +%s%N)
			on_node 2 ip link set eth0 down
			ms=$(until_all 2 "$t0" 0 1) || return 1
			N+=("$ms")
		fi
		say "$name round $r: join ${J[-1]} ms, leave ${L[-1]} ms${loss:+, rejoin $RJ ms, node lost ${N[-1]} ms}"
		stop_all
		on_node 2 ip link set eth0 up
		# corosync: the ring of three, quorate, again before the next round
		[ -z "${AFTER_ROUND:-}" ] || retry 30 "$AFTER_ROUND" || return 1
	done
}

ZK_PORT=$(port_of 10)
setup_net || skip "cannot make network namespaces"
if [ -n "$HAVE_CS" ]; then
	for i in 0 1 2; do cs_start "$i"; done
fi
[ -n "$HAVE_ZK" ] && zk_hub_start
OUT=()
J=() L=() N=()

# ---- local: flock'd files in one directory of this machine ----------------
if measure local "local:$T/local%d" ""; then
	OUT+=("$(row "membership: local join 3 sheep" "$(median "${J[@]}")" ms "" "" "" "$(runs "${J[@]}")")")
	m=$(median "${L[@]}")
	OUT+=("$(row "membership: local leave after kill -9" "$m" ms 100 probe "$(ratio "$m" 100)" "$(runs "${L[@]}")")")
else
	say "local: a round did not converge within 60 s"
	diag
	OUT+=("$(row "membership: local failed (no convergence in 60 s)" "" "" "" "" "" "")")
fi
stop_all

# ---- zookeeper: one server in the hub --------------------------------------
if [ -z "$HAVE_ZK" ]; then
	OUT+=("$(row "membership: zookeeper skipped (no java/zookeeper)" "" "" "" "" "" "")")
elif ! retry 30 zk_hub_ok; then
	OUT+=("$(row "membership: zookeeper skipped (server down)" "" "" "" "" "" "")")
elif measure zookeeper "zookeeper:$NET.254:$ZK_PORT/m$$r%d,timeout=$((ZK_TIMEOUT / 1000))s" loss; then
	OUT+=("$(row "membership: zookeeper join 3 sheep" "$(median "${J[@]}")" ms "" "" "" "$(runs "${J[@]}")")")
	m=$(median "${L[@]}")
	OUT+=("$(row "membership: zookeeper leave after kill -9" "$m" ms "$ZK_TIMEOUT" session "$(ratio "$m" "$ZK_TIMEOUT")" "$(runs "${L[@]}")")")
	m=$(median "${N[@]}")
	OUT+=("$(row "membership: zookeeper node lost (link down)" "$m" ms "$ZK_TIMEOUT" session "$(ratio "$m" "$ZK_TIMEOUT")" "$(runs "${N[@]}")")")
else
	say "zookeeper: a round did not converge within 60 s"
	diag
	OUT+=("$(row "membership: zookeeper failed (no convergence in 60 s)" "" "" "" "" "" "")")
fi
stop_all
[ -n "$HAVE_ZK" ] && { kill -9 "${ZK_PIDS[1]}" 2>/dev/null; wait_gone "${ZK_PIDS[1]}"; }

# ---- corosync: one per host --------------------------------------------------
if [ -z "$HAVE_CS" ]; then
	OUT+=("$(row "membership: corosync skipped (not installed)" "" "" "" "" "" "")")
elif ! retry 30 cs_ring_ok; then
	OUT+=("$(row "membership: corosync skipped (no quorate ring)" "" "" "" "" "" "")")
else
	RT=$(cmap runtime.config.totem.token)
	CONS=$(cmap runtime.config.totem.consensus)
	if AFTER_ROUND=cs_ring_ok measure corosync "corosync:m$$r%d" loss; then
		# a lost node is declared failed once the token is lost and then
		# the consensus timeout expires without it: that sum is the bound
		BOUND=$((RT + CONS))
		note="token $TOKEN ms, runtime.config.totem.token $RT + consensus $CONS"
		OUT+=("$(row "membership: corosync join 3 sheep" "$(median "${J[@]}")" ms "" "" "" "$(runs "${J[@]}")")")
		m=$(median "${L[@]}")
		OUT+=("$(row "membership: corosync leave after kill -9" "$m" ms "" "" "" "$(runs "${L[@]}"); CPG sees the exit")")
		m=$(median "${N[@]}")
		OUT+=("$(row "membership: corosync node lost (link down)" "$m" ms "$BOUND" tok+cons "$(ratio "$m" "$BOUND")" "$(runs "${N[@]}"); $note; $(ratio "$m" "$RT")x token")")
	else
		say "corosync: a round did not converge within 60 s"
		diag
		OUT+=("$(row "membership: corosync failed (no convergence in 60 s)" "" "" "" "" "" "")")
	fi
fi

if [ -z "$ROWS_ONLY" ]; then
	echo
	printf '%-44s %12s %-8s %12s %-10s %7s %s\n' "what" "value" "unit" "baseline" "of" "ratio" ""
fi
printf '%s\n' "${OUT[@]}"
