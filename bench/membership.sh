#!/bin/bash
# bench/membership.sh - how fast each cluster driver sees sheep come and go:
# local, zookeeper, corosync and accord, in one run on this machine.
#
# Three test hosts are network namespaces joined by a bridge in a hub
# namespace (10.211.0.0/24, hub 10.211.0.254; nothing on the host's own
# network).  Each host runs one sheep; with -c corosync each also runs its
# corosync (knet, token 1000 ms, votequorum, a nodelist of the three, socket
# IPC, its own /run); with -c zookeeper one ZooKeeper server runs in the hub
# (timeout=5s); with -c accord one Accord conductor runs in a fourth host
# (its own one-node corosync; built from ../shared by tests/accord.sh, the
# row says skipped without it); -c local uses a directory of this machine.
# Measured three times per driver (median printed, polling `dog node list
# -r` from the hub every 50 ms):
#   join:    from launching the three sheep at once until all three list 3;
#   leave:   from kill -9 of one sheep until both survivors list 2;
#   node lost (zookeeper, corosync, accord): from `ip link set eth0 down`
#            in one host until both survivors list 2.
# Baseline, where the driver has a bound of its own, and the ratio
# measured/bound: local, its 100 ms probe of the members' lock files;
# zookeeper, the session timeout (its server expires sessions on a 1 s
# tick: up to timeout + 1 s); corosync, the token timeout it runs with
# (runtime.config.totem.token: token + 650 ms token_coefficient per node
# over 2) plus the consensus timeout (1.2 x that), after which a node that
# lost the token and answers no join is declared failed; accord, the
# conductor's TCP keepalive (Accord's defaults: 1 s idle, then 2 probes 1 s
# apart) after which it closes the lost sheep's connection and sends LEFT.
# A sheep killed with corosync alive leaves at once (CPG sees its IPC
# close), as it does with accord (the conductor sees its connection reset):
# no bound.
# Usage: bash bench/membership.sh [--rows]  (root; iproute2, corosync and
# ZooKeeper from deps.sh; one to two minutes).  --rows prints only
# the table rows (bench/run.sh adds them to its table); progress goes to
# stderr.  MEMBERSHIP_DRIVERS="local zookeeper corosync accord" (the
# default) picks the rows; MEMBERSHIP_RUNS (3) the rounds;
# MEMBERSHIP_SETTLE=S waits S seconds between the rejoin and the link down
# (default 0: at once, as a host lost while the cluster is busy).
# Ports: SHEEP_TEST_PORT_BASE (+ 0..2 for sheep, + 10 for ZooKeeper, + 90
# for the conductor), but only inside its own namespaces.
TEST_PORT_OFFSET=0
source "$(dirname "$0")/../tests/lib.sh"
source "$TOP/tests/accord.sh"
ROWS_ONLY=
[ "${1:-}" = --rows ] && ROWS_ONLY=1
RUNS=${MEMBERSHIP_RUNS:-3}
SETTLE=${MEMBERSHIP_SETTLE:-0}
DRIVERS=${MEMBERSHIP_DRIVERS:-local zookeeper corosync accord}
want() { [[ " $DRIVERS " == *" $1 "* ]]; }
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
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a ~ /^[0-9.]+$/) printf "%.2f", a / b; else print "-" }'; }
# median V...: a round that did not converge within its limit L counts as ">L"
median() { printf '%s\n' "$@" | sed 's/^>\(.*\)/\1 >/' | sort -n | awk '{ v[NR] = $2 $1 } END { print v[int((NR + 1) / 2)] }'; }
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
ns_name() { ns_of "$1"; }	# tests/netns.sh's name for it (accord.sh's ac_start)
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
	local i
	ip netns add "$HUB" && NS_MADE+=("$HUB") || return 1
	in_ns "$HUB" ip link set lo up
	in_ns "$HUB" ip link add br0 type bridge || return 1
	in_ns "$HUB" ip addr add "$NET.254/24" dev br0
	in_ns "$HUB" ip link set br0 up
	for i in 0 1 2; do
		add_host "$i" || return 1
	done
}

# add_host I: host I, its eth0 on the hub's bridge (accord's conductor gets host 3)
add_host() {
	local i=$1 ns
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
}

# ---- corosync, one per host ----------------------------------------------

# cs_start I: corosync in host I; its nodelist hosts 0..2, or CS_NODES="I ..."
cs_start() {
	local i=$1 d="$T/cs$1" k
	mkdir -p "$d"
	{
		printf 'totem {\n\tversion: 2\n\tcluster_name: %s\n\ttransport: knet\n' "$PFX"
		printf '\ttoken: %d\n\tcrypto_cipher: none\n\tcrypto_hash: none\n}\nnodelist {\n' "$TOKEN"
		for k in ${CS_NODES:-0 1 2}; do
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
		cs_quorate "$i" 3 || return 1
	done
}
# cs_quorate I N: host I's corosync sees N nodes and is quorate
cs_quorate() {
	on_node "$1" timeout 5 corosync-quorumtool -s 2>/dev/null |
		awk -v want="$2" '/^Quorate:/ { q = $2 } /^Nodes:/ { n = $2 } END { exit !(q == "Yes" && n == want) }'
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
# members; prints the ms from T0 (date +%s%N) to that poll; fails after
# LIMIT_MS (60 s)
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
		[ $((now - t0)) -lt $((${LIMIT_MS:-60000} * 1000000)) ] || return 1
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
# fills J, L and N with the milliseconds of each round.  With LOST_LIMIT_MS
# a node lost that the survivors do not see within it is recorded as
# ">LOST_LIMIT_MS" (after LOST_DIAG, if set, says why) and the rounds go on
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
			sleep "$SETTLE"
			t0=$(date +%s%N)
			on_node 2 ip link set eth0 down
			if ! ms=$(LIMIT_MS=${LOST_LIMIT_MS:-60000} until_all 2 "$t0" 0 1); then
				[ -n "${LOST_LIMIT_MS:-}" ] || return 1
				ms=">$LOST_LIMIT_MS"
				[ -z "${LOST_DIAG:-}" ] || "$LOST_DIAG" "$r"
			fi
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
if [ -n "$HAVE_CS" ] && want corosync; then
	for i in 0 1 2; do cs_start "$i"; done
fi
[ -n "$HAVE_ZK" ] && want zookeeper && zk_hub_start
OUT=()
J=() L=() N=()

# ---- local: flock'd files in one directory of this machine ----------------
if ! want local; then
	:
elif measure local "local:$T/local%d" ""; then
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
if ! want zookeeper; then
	:
elif [ -z "$HAVE_ZK" ]; then
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
[ -n "$HAVE_ZK" ] && want zookeeper && { kill -9 "${ZK_PIDS[1]}" 2>/dev/null; wait_gone "${ZK_PIDS[1]}"; }

# ---- corosync: one per host --------------------------------------------------
if ! want corosync; then
	:
elif [ -z "$HAVE_CS" ]; then
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
stop_all
# the ring is done with: accord's conductor runs on a corosync of its own
for i in 0 1 2; do
	[ -n "${CS_PIDS[i]:-}" ] || continue
	kill -9 "${CS_PIDS[i]}" 2>/dev/null
	wait_gone "${CS_PIDS[i]}"
	unset "CS_PIDS[i]"
done

# ---- accord: one conductor in host 3, on a one-node corosync there ---------
# ac_need (tests/accord.sh) builds the conductor from ../shared once, or says
# SKIP and exits: run it in a subshell, the other rows stand either way.
# A node lost is seen when the conductor closes the lost sheep's connection
# or when its beat count stops for the driver's timeout (timeout=5s here, as
# zookeeper's row), whichever comes first.  The conductor's keepalive closes
# it only while nothing it sent is unacknowledged; with a reply in flight
# when the link went down the kernel retransmits instead and the connection
# lives until net.ipv4.tcp_retries2 gives up (about 15 minutes): the beat is
# what bounds it.  A round not seen within LOST_LIMIT_MS (20 s) counts as
# ">20000" and ac_lost_diag shows the socket.
# MEMBERSHIP_AC_RETRIES2=N sets tcp_retries2 in the conductor's host.
# Between rounds such a connection (its sheep long killed) is closed with
# `ss -K` in the conductor's host, so that every round starts with none.
AC=3
# ac_lost_diag ROUND: the conductor's connection to sheep 2 (Send-Q, timer);
# AC_UNACKED counts the rounds where it held unacknowledged bytes
AC_UNACKED=0
ac_lost_diag() {
	local s
	s=$(on_node $AC ss -tnoH state established "( sport = :$AC_PORT and dst $(ip_of 2) )" 2>/dev/null)
	awk '$2 > 0 { f = 1 } END { exit !f }' <<<"$s" && AC_UNACKED=$((AC_UNACKED + 1))
	s=$(awk '{ printf "%sSend-Q %s %s", sep, $2, $NF; sep = "; " }' <<<"$s")
	say "accord round $1: node lost not seen within $LOST_LIMIT_MS ms; the conductor's connection to it: ${s:-none}"
}
# ac_no_clients: the conductor holds no client connection (closing any
# left to host 2)
ac_no_clients() {
	on_node $AC ss -K -tn "( sport = :$AC_PORT and dst $(ip_of 2) )" >/dev/null 2>&1
	! on_node $AC ss -tnH state established "( sport = :$AC_PORT )" | grep -q .
}
if ! want accord; then
	:
elif [ -z "$HAVE_CS" ]; then
	OUT+=("$(row "membership: accord skipped (no corosync for its conductor)" "" "" "" "" "" "")")
elif ! "$SHEEP" -v 2>&1 | grep -q accord; then
	OUT+=("$(row "membership: accord skipped (this sheep has no accord driver)" "" "" "" "" "" "")")
elif ! AC_NEED=$(ac_need 2>&1 && echo "conductor $CONDUCTOR") || [ "${AC_NEED#conductor }" = "$AC_NEED" ]; then
	case $AC_NEED in
	SKIP:*)	why=$(sed -n 's/.*no Accord source here (\(.*\))$/\1/p' <<<"$AC_NEED" | head -1)
		OUT+=("$(row "membership: accord skipped (no Accord source: ${why:-$AC_NEED})" "" "" "" "" "" "")") ;;
	*)	say "accord: $(tail -3 <<<"$AC_NEED" | tr '\n' ' ')"
		OUT+=("$(row "membership: accord failed (conductor build failed)" "" "" "" "" "" "")") ;;
	esac
elif ! { CONDUCTOR=${AC_NEED#conductor } && add_host $AC && CS_NODES=$AC cs_start $AC &&
	{ [ -z "${MEMBERSHIP_AC_RETRIES2:-}" ] ||
		on_node $AC sysctl -qw net.ipv4.tcp_retries2="$MEMBERSHIP_AC_RETRIES2"; } &&
	retry 30 cs_quorate $AC 1 && ac_start $AC >"$T/ac-start.out" 2>&1; }; then
	say "accord: $(cat "$T/ac-start.out" 2>/dev/null)"
	OUT+=("$(row "membership: accord failed (conductor did not start)" "" "" "" "" "" "")")
elif AFTER_ROUND=ac_no_clients LOST_LIMIT_MS=20000 LOST_DIAG=ac_lost_diag measure accord "accord:$(ac_addr $AC),timeout=5s,id=m$$r%d" loss; then
	# the beat timeout (5 s) and the 1 s tick that reads the beats; the
	# conductor's keepalive (1 s idle + 2 x 1 s probes) is sooner when
	# nothing to the lost sheep is in flight
	BOUND=6000
	note="beat timeout 5 s + 1 s tick; conductor keepalive 1 s idle + 2 x 1 s probes, tcp_retries2 $(on_node $AC sysctl -n net.ipv4.tcp_retries2)"
	late=$(printf '%s\n' "${N[@]}" | grep -c '^>')
	[ "$late" -eq 0 ] || note="$note; $late of ${#N[@]} not seen within 20 s, $AC_UNACKED of them with bytes unacknowledged (retransmitting: keepalive waits)"
	OUT+=("$(row "membership: accord join 3 sheep" "$(median "${J[@]}")" ms "" "" "" "$(runs "${J[@]}")")")
	m=$(median "${L[@]}")
	OUT+=("$(row "membership: accord leave after kill -9" "$m" ms "" "" "" "$(runs "${L[@]}"); the conductor sees the reset")")
	m=$(median "${N[@]}")
	OUT+=("$(row "membership: accord node lost (link down)" "$m" ms "$BOUND" "timeout+tick" "$(ratio "$m" "$BOUND")" "$(runs "${N[@]}"); $note")")
else
	say "accord: a round did not converge within 60 s"
	diag
	tail -3 "$T/ac/n$AC/acrd.log" 2>/dev/null | sed 's/^/membership: conductor: /' >&2
	OUT+=("$(row "membership: accord failed (no convergence in 60 s)" "" "" "" "" "" "")")
fi

if [ -z "$ROWS_ONLY" ]; then
	echo
	printf '%-44s %12s %-8s %12s %-10s %7s %s\n' "what" "value" "unit" "baseline" "of" "ratio" ""
fi
printf '%s\n' "${OUT[@]}"
