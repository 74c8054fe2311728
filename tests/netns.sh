# tests/netns.sh - test hosts as network namespaces, one corosync each, for the
# corosync driver's suites; source it after tests/lib.sh.
#
#   ns_setup N            N hosts: namespaces ${NS_PFX}nI (I = 0..N-1) plus a
#                         hub namespace ${NS_PFX}hub holding a bridge, one veth
#                         per host (eth0 inside the host), addresses
#                         $NS_NET.(I+1)/24 and $NS_NET.254 on the hub's bridge
#                         (tests' clients run there: dog, writer.py).
#   cs_start I / cs_kill I      corosync on host I (knet, nodelist of all N
#                         hosts, votequorum, socket IPC; token CS_TOKEN ms,
#                         token_coefficient CS_TOKEN_COEFF ms, more totem
#                         lines in CS_TOTEM_EXTRA; CS_NODES="I J ..." limits
#                         the nodelist to those hosts); its state dir
#                         and log under $T/cs/nI.
#   cs_wait_members I K [S]     host I's corosync sees K members, quorate (up
#                         to S seconds, default 30); cs_wait_ring K HOSTS...
#                         the same on every one of HOSTS.
#   start_sheep I [opts]  sheep I in host I: -c ${CS_CLUSTER:-corosync}, -b/-y
#                         its address, port port_of I, store $T/I, zone I
#                         (replaces lib.sh's start_sheep; kill9_sheep, pid_of
#                         work as before).  dogp I ... runs dog from the hub
#                         against sheep I, so members, wait_members, epoch_of,
#                         same_data, patch, recovered all work unchanged.
#   writer_start SECONDS I...   tests/cluster/writer.py (from the hub) writes
#                         to VDI $WVDI through sheep I... (failing over in that
#                         order), acks in $T/ack; writer_wait waits for it,
#                         writer_stop kills it.
#   acks, writes_go_on, gone_from, in_all, all_list, write_refused, all_but,
#                         reset: see each one's comment below.
#   link_down I / link_up I     eth0 in host I.
#   loss I PCT [in|out|both]    drop PCT % of the packets entering and/or
#                         leaving host I's eth0 (nftables, default both);
#                         loss_clear I.
#   partition "I J" "K L M"     hosts of one group drop every packet from and
#                         to the other group's addresses (nftables; the hub
#                         still reaches both); heal clears it.
#   NS_IO=1 ns_setup N    also a second bridge br1 in the hub for IO: one more
#                         veth per host (eth1 inside the host), addresses
#                         $NS_IONET.(I+1)/24 and $NS_IONET.254 on br1 (the
#                         hub reaches both networks); io_ip_of I, io_down I /
#                         io_up I (eth1), io_loss I PCT [in|out|both] (its own
#                         nftables table: loss and io_loss can both be set),
#                         io_loss_clear I; nic_bytes I NIC rx|tx: bytes the
#                         host's NIC counted.  start_sheep does not add -i.
#
# Nothing is done in the host's own network namespace.  Names carry the
# test's PID and addresses its TEST_PORT_OFFSET, so suites can run at once.
# The EXIT trap (lib.sh's cleanup, through CLEANUP_HOOK) kills -9 the
# corosyncs and sheep started here, then anything still running inside these
# namespaces, and deletes the namespaces.  Needs root, iproute2, nftables and
# corosync; a test calls ns_need first, which prints SKIP and exits without them
# (and under SHEEP_TEST_ONCE=skip: lib.sh's once_only).

NS_PFX=sdt$$
NS_HUB=${NS_PFX}hub
# a private /24 per suite: 10.(180 + base/1000 % 60).(offset/10 % 256).0
NS_NET=10.$((180 + ${SHEEP_TEST_PORT_BASE:-17300} / 1000 % 60)).$(((${TEST_PORT_OFFSET:-0} / 10) % 256))
# the IO network (NS_IO=1): the same /24 in 10.120-179.x, never an NS_NET
NS_IONET=10.$((120 + ${SHEEP_TEST_PORT_BASE:-17300} / 1000 % 60)).$(((${TEST_PORT_OFFSET:-0} / 10) % 256))
NS_N=0
NS_MADE=()
CS_PIDS=()
CS_TOKEN=${CS_TOKEN:-2000}
CS_TOKEN_COEFF=${CS_TOKEN_COEFF:-650}
WVDI=${WVDI:-w}
CLEANUP_HOOK="ns_teardown${CLEANUP_HOOK:+; $CLEANUP_HOOK}"

# ns_need [zookeeper]: root, ip, nft, corosync and its tools here (with
# zookeeper: java and ZooKeeper instead of corosync); else SKIP and exit 0
ns_need() {
	local t tools="corosync corosync-quorumtool corosync-cpgtool corosync-cmapctl"
	once_only	# the rings run once per CI run, on the normal build
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: $TEST_NAME: needs root (network namespaces)"; exit 0; }
	[ "${1:-}" = zookeeper ] && tools=java
	for t in ip nft nsenter unshare $tools; do
		command -v "$t" >/dev/null ||
			{ echo "SKIP: $TEST_NAME: $t is missing (deps.sh installs it)"; exit 0; }
	done
	[ "${1:-}" != zookeeper ] || [ -e /usr/share/java/zookeeper.jar ] ||
		{ echo "SKIP: $TEST_NAME: ZooKeeper is missing (deps.sh installs it)"; exit 0; }
}

ns_name() { echo "${NS_PFX}n$1"; }
ip_of() { echo "$NS_NET.$(($1 + 1))"; }
# in_ns NS COMMAND...: run COMMAND in namespace NS (lighter than ip netns exec)
in_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}
on_hub() { in_ns "$NS_HUB" "$@"; }
on_node() { local i=$1; shift; in_ns "$(ns_name "$i")" "$@"; }

ns_add() { ip netns add "$1" && NS_MADE+=("$1"); }

# ns_setup N: the hub and N host namespaces, wired to the hub's bridge
ns_setup() {
	local n=$1 i ns
	NS_N=$n
	mkdir -p "$T/cs"
	ns_add "$NS_HUB" || return 1
	on_hub ip link set lo up
	on_hub ip link add br0 type bridge || return 1
	on_hub ip addr add "$NS_NET.254/24" dev br0
	on_hub ip link set br0 up
	for ((i = 0; i < n; i++)); do
		ns=$(ns_name "$i")
		ns_add "$ns" || return 1
		on_node "$i" ip link set lo up
		# the pair is made in the hub; one end moves into the host as eth0
		on_hub ip link add "h$i" type veth peer name "e$i" || return 1
		on_hub ip link set "e$i" netns "$ns" || return 1
		on_node "$i" ip link set "e$i" name eth0
		on_node "$i" ip addr add "$(ip_of "$i")/24" dev eth0
		on_node "$i" ip link set eth0 up
		on_hub ip link set "h$i" master br0
		on_hub ip link set "h$i" up
	done
	[ -z "${NS_IO:-}" ] || ns_setup_io "$n"
}

# ns_setup_io N: br1 in the hub, eth1 in hosts 0..N-1 on it (NS_IO=1 ns_setup)
ns_setup_io() {
	local n=$1 i
	on_hub ip link add br1 type bridge || return 1
	on_hub ip addr add "$NS_IONET.254/24" dev br1
	on_hub ip link set br1 up
	for ((i = 0; i < n; i++)); do
		on_hub ip link add "i$i" type veth peer name "f$i" || return 1
		on_hub ip link set "f$i" netns "$(ns_name "$i")" || return 1
		on_node "$i" ip link set "f$i" name eth1
		on_node "$i" ip addr add "$(io_ip_of "$i")/24" dev eth1
		on_node "$i" ip link set eth1 up
		on_hub ip link set "i$i" master br1
		on_hub ip link set "i$i" up
	done
}
io_ip_of() { echo "$NS_IONET.$(($1 + 1))"; }

ns_teardown() {
	local p ns
	for p in "${CS_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	# anything else still running in our namespaces (a writer, a dog)
	for ns in "${NS_MADE[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$p" 2>/dev/null
		done
	done
	for p in "${CS_PIDS[@]}"; do
		wait_dead "$p"
		cs_shm_gone "$p"
	done
	for ns in "${NS_MADE[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	NS_MADE=()
}

# cs_conf I: corosync.conf for host I
cs_conf() {
	local i=$1 d="$T/cs/n$1" k
	mkdir -p "$d"
	cat <<EOF
totem {
	version: 2
	cluster_name: sdt$$
	transport: knet
	token: $CS_TOKEN
	token_coefficient: $CS_TOKEN_COEFF
	crypto_cipher: none
	crypto_hash: none
${CS_TOTEM_EXTRA:-}
}
nodelist {
EOF
	for k in ${CS_NODES:-$(seq 0 $((NS_N - 1)))}; do
		printf 'node {\n\tring0_addr: %s\n\tnodeid: %d\n\tname: n%d\n}\n' "$(ip_of "$k")" $((k + 1)) "$k"
	done
	cat <<EOF
}
quorum {
	provider: corosync_votequorum
}
logging {
	to_stderr: no
	to_syslog: no
	to_logfile: yes
	logfile: $d/corosync.log
	timestamp: on
}
system {
	qb_ipc_type: socket
	state_dir: $d
}
EOF
}

# cs_start I: corosync in host I (foreground, its own /run)
cs_start() {
	local i=$1 d="$T/cs/n$1"
	cs_conf "$i" >"$T/cs/n$i.conf"
	ip netns exec "$(ns_name "$i")" unshare --mount --propagation private \
		sh -c "mount -t tmpfs tmpfs /run && exec corosync -f -c '$T/cs/n$i.conf'" \
		>>"$d/stdout" 2>&1 &
	CS_PIDS[i]=$!
	echo "$!" >"$d/pid"
	disown "$!"
}

cs_kill() {
	local p=${CS_PIDS[$1]:-}
	[ -n "$p" ] || return 1
	kill -9 "$p" 2>/dev/null
	wait_dead "$p"
	cs_shm_gone "$p"
}

# cs_ring_id I: host I's corosync ring id (changes with every membership change)
cs_ring_id() { on_node "$1" timeout 5 corosync-quorumtool -s 2>/dev/null | awk '/^Ring ID:/ { print $3 }'; }

# cs_members I: the number of members host I's corosync has, and whether it
# is quorate: "K yes" or "K no" (nothing when it does not answer)
cs_members() {
	on_node "$1" timeout 5 corosync-quorumtool -s 2>/dev/null |
		awk '/^Quorate:/ { q = ($2 == "Yes") ? "yes" : "no" } /^Nodes:/ { n = $2 }
			END { if (n != "") print n, q }'
}

# cs_wait_members I K [SECONDS]: host I's corosync sees K members, quorate
cs_wait_members() {
	local i end=$(($(date +%s) + ${3:-30}))
	while :; do
		[ "$(cs_members "$1")" = "$2 yes" ] && return 0
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "corosync n$1: members/quorate '$(cs_members "$1")', want '$2 yes'"
			return 1
		fi
		sleep 0.2
	done
}

# cs_wait_ring K HOSTS...: every one of HOSTS sees K members, quorate
cs_wait_ring() {
	local k=$1 i
	shift
	for i in "$@"; do
		cs_wait_members "$i" "$k" || return 1
	done
}

# cs_token I: the token timeout host I's corosync runs with, in ms (after
# token_coefficient)
cs_token() {
	on_node "$1" corosync-cmapctl -g runtime.config.totem.token 2>/dev/null | awk '{ print $NF }'
}

# cs_cpg_members I [GROUP]: the number of processes in CPG group GROUP
# (default sheep) seen from host I
cs_cpg_members() {
	on_node "$1" timeout 5 corosync-cpgtool -e 2>/dev/null |
		awk -v g="${2:-sheep}" 'NR > 1 && /^[^ \t]/ { in_g = ($1 == g) } in_g && /^[ \t]+[0-9]/ { n++ }
			END { print n + 0 }'
}

# cpg_count_is I K [GROUP]: host I sees K processes in the CPG group
cpg_count_is() { [ "$(cs_cpg_members "$1" "${3:-sheep}")" = "$2" ]; }

# ---- sheep in the hosts ---------------------------------------------------

# start_sheep I [options...]: sheep I in host I (lib.sh's, moved into a namespace)
start_sheep() {
	local idx=$1
	shift
	local rc=0
	rm -f "$T/$idx.pid"
	ip netns exec "$(ns_name "$idx")" "$SHEEP" -b "$(ip_of "$idx")" -y "$(ip_of "$idx")" \
		-p "$(port_of "$idx")" -P "$T/$idx.pid" -c "${CS_CLUSTER:-corosync}" \
		-z "$idx" "$@" "$T/$idx" || rc=1
	[ -s "$T/$idx.pid" ] && PIDS+=("$(cat "$T/$idx.pid")")
	return $rc
}

# dogp I args...: dog, from the hub, against sheep I
dogp() {
	local idx=$1
	shift
	local sub=$1 cmd=$2
	shift 2
	on_hub "$DOG" "$sub" "$cmd" -a "$(ip_of "$idx")" -p "$(port_of "$idx")" "$@"
}

# addr_of I: "IP:PORT" of sheep I
addr_of() { echo "$(ip_of "$1"):$(port_of "$1")"; }

# listed I BY: sheep I is a member in sheep BY's node list
listed() { dogp "$2" node list -r 2>/dev/null | grep -q " $(addr_of "$1") "; }

# writer_start SECONDS I...: the verifiable writer through sheep I... (first
# one first; fails over in that order), from the hub; acks in $T/ack
writer_start() {
	local secs=$1 i list=
	shift
	for i in "$@"; do list=${list:+$list,}$(addr_of "$i"); done
	# nsenter execs python: $! is the writer itself
	nsenter --net="/run/netns/$NS_HUB" python3 "$TOP/tests/cluster/writer.py" write "$list" \
		"$WVDI" "$T/ack" "$secs" >>"$T/writer.out" 2>&1 &
	WRITER_PID=$!
}
writer_wait() { wait "$WRITER_PID"; }
# writer_ensure SECONDS I...: start the writer again if it gave up (no write
# taken for 60 s); counted in WRITER_RESTARTS
WRITER_RESTARTS=0
writer_ensure() {
	kill -0 "$WRITER_PID" 2>/dev/null && return 0
	WRITER_RESTARTS=$((WRITER_RESTARTS + 1))
	writer_start "$@"
}
# writer_stop: the writer is killed (its last write may stay in flight)
writer_stop() { kill "$WRITER_PID" 2>/dev/null; wait "$WRITER_PID" 2>/dev/null; return 0; }

# acked_reads_back I [VDI]: every write acknowledged in $T/ack reads back
# through sheep I
acked_reads_back() {
	local out
	out=$(on_hub python3 "$TOP/tests/cluster/writer.py" verify "$(addr_of "$1")" "${2:-$WVDI}" "$T/ack")
	grep -v '^PASS\|^FAIL' <<<"$out"
	grep '^PASS\|^FAIL' <<<"$out" | sed 's/^/info: /'
	grep -q '^PASS' <<<"$out"
}

# ms_since T0_NS: milliseconds since T0_NS (date +%s%N)
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# ---- checks the suites share -------------------------------------------

# acks: writes the writer got acknowledged so far
acks() { local n; n=$(grep -c '^A' "$T/ack" 2>/dev/null); echo "${n:-0}"; }
# writes_go_on [K [SECONDS]]: the writer gets at least K (5) more writes
# acknowledged within SECONDS (30)
writes_go_on() {
	local n
	n=$(acks)
	retry "${2:-30}" acks_at_least $((n + ${1:-5}))
}
acks_at_least() { [ "$(acks)" -ge "$1" ]; }
# gone_from I NODES...: none of NODES lists sheep I
gone_from() {
	local i=$1 k
	shift
	for k in "$@"; do
		listed "$i" "$k" && return 1
	done
	return 0
}
# in_all I NODES...: every one of NODES lists sheep I
in_all() {
	local i=$1 k
	shift
	for k in "$@"; do
		listed "$i" "$k" || return 1
	done
}
# all_list NODES...: every one of NODES lists exactly NODES
all_list() {
	local k want
	want=$(ports "$@")
	for k in "$@"; do
		[ "$(members "$k")" = "$want" ] || return 1
	done
}
# write_refused I [VDI]: a 4 KiB write (of $T/probe) to VDI (default x) through sheep I fails or hangs (15 s)
write_refused() {
	[ -s "$T/probe" ] || head -c 4096 /dev/urandom >"$T/probe"
	! timeout 15 nsenter --net="/run/netns/$NS_HUB" "$DOG" vdi write "${2:-x}" 0 4096 \
		-a "$(ip_of "$1")" -p "$(port_of "$1")" <"$T/probe"
}
# all_but I N: 0..N-1 without I
all_but() { seq 0 $(($2 - 1)) | grep -vx "$1" | xargs; }

# reset: everything of the round gone (sheep, corosyncs, namespaces, stores)
reset() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait_dead "$p"; done
	PIDS=()
	ns_teardown
	rm -rf "$T"/[0-9]* "$T/cs" "$T/ack"
}

# ---- faults -----------------------------------------------------------------

link_down() { on_node "$1" ip link set eth0 down; }
link_up() { on_node "$1" ip link set eth0 up; }

# nic_loss TABLE NIC I PCT [in|out|both]: nftables (table TABLE) drops PCT %
# of the packets of host I's NIC (100: every one; nft's numgen takes < 100 only)
nic_loss() {
	local table=$1 nic=$2 i=$3 pct=$4 dir=${5:-both} some=
	[ "$pct" -lt 100 ] && some="numgen random mod 100 < $pct"
	on_node "$i" nft delete table inet "$table" 2>/dev/null
	on_node "$i" nft -f - <<EOF || return 1
table inet $table {
	chain in {
		type filter hook input priority 0; policy accept;
	}
	chain out {
		type filter hook output priority 0; policy accept;
	}
}
EOF
	if [ "$dir" != out ]; then
		# shellcheck disable=SC2086
		on_node "$i" nft add rule inet "$table" in iifname "$nic" $some drop || return 1
	fi
	if [ "$dir" != in ]; then
		# shellcheck disable=SC2086
		on_node "$i" nft add rule inet "$table" out oifname "$nic" $some drop || return 1
	fi
}
# loss I PCT [in|out|both]: drops PCT % of host I's eth0 packets
loss() { nic_loss lossy eth0 "$@"; }
loss_clear() { on_node "$1" nft delete table inet lossy 2>/dev/null; return 0; }

# the IO network's faults (NS_IO=1): eth1 down/up, and loss on eth1 in a
# table of its own (iolossy), so that loss on eth0 can be set at the same time
io_down() { on_node "$1" ip link set eth1 down; }
io_up() { on_node "$1" ip link set eth1 up; }
# io_loss I PCT [in|out|both]: drops PCT % of host I's eth1 packets
io_loss() { nic_loss iolossy eth1 "$@"; }
io_loss_clear() { on_node "$1" nft delete table inet iolossy 2>/dev/null; return 0; }
# nic_bytes I NIC rx|tx: the bytes host I's NIC (eth0, eth1) received or sent
# (/proc/net/dev is the reader's namespace's)
nic_bytes() {
	on_node "$1" cat /proc/net/dev | awk -v nic="$2:" -v f="$3" \
		'$1 == nic { print (f == "rx" ? $2 : $10) }'
}

# partition "A..." "B...": hosts in A drop all packets from and to B's
# addresses and the other way round
partition() {
	local a=$1 b=$2
	_part_side "$a" "$b" && _part_side "$b" "$a"
}
_part_side() {
	local i k set=
	for k in $2; do set=${set:+$set, }$(ip_of "$k"); done
	for i in $1; do
		on_node "$i" nft -f - <<EOF || return 1
table inet part {
	chain in {
		type filter hook input priority 0; policy accept;
		ip saddr { $set } drop
	}
	chain out {
		type filter hook output priority 0; policy accept;
		ip daddr { $set } drop
	}
}
EOF
	done
}
# heal: no partition anywhere
heal() {
	local i
	for ((i = 0; i < NS_N; i++)); do
		on_node "$i" nft delete table inet part 2>/dev/null
	done
	return 0
}

# HAVE_DRIVER: 1 if this sheep carries the corosync driver (`sheep -v`);
# without it the suites check the bare corosync rings and skip the rest
HAVE_DRIVER=1
"$SHEEP" -v 2>&1 | grep -q corosync || HAVE_DRIVER=0
