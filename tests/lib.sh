# tests/lib.sh - helpers shared by the cluster tests; source it first.
#
# Every sheep a test starts is recorded by PID and killed (-9) by the EXIT
# trap, with its scratch directory removed, whether the test passed or not.
# Nothing here kills by name.  Ports: SHEEP_TEST_PORT_BASE (default 17300)
# plus a per-test offset, so several suites can share a machine; keep it
# below the ephemeral range (32768 and up), where outgoing connections may
# already hold a port.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHEEP=${SHEEP:-$TOP/sheep}
DOG=${DOG:-$TOP/dog}
PORT_BASE=$(( ${SHEEP_TEST_PORT_BASE:-17300} + ${TEST_PORT_OFFSET:-0} ))
T=$(mktemp -d /tmp/sheep-test.XXXXXX)
PIDS=()
# sanitizer builds (make asan): reports go to files the test checks at the end
export ASAN_OPTIONS="log_path=$T/asan:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="log_path=$T/ubsan:print_stacktrace=1:${UBSAN_OPTIONS:-}"
PASSED=0
FAILED=0
TEST_NAME=$(basename "$0" .sh)

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait_dead "$p"
	done
	for p in "${ZK_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	[ -n "${CLEANUP_HOOK:-}" ] && eval "$CLEANUP_HOOK"
	if [ -n "${SHEEP_TEST_KEEP:-}" ] && [ "$FAILED" -gt 0 ]; then
		echo "kept $T for a look (SHEEP_TEST_KEEP)"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
# stopped by tests/run.sh's time limit (or ^C): still tear everything down
trap 'echo "FAIL: $TEST_NAME: stopped by signal"; exit 143' TERM INT

# once_only: suites whose subject does not change with the build (the
# appliance VMs boot the static binary whatever SHEEP is; the network-namespace
# rings) run once per CI run: with SHEEP_TEST_ONCE=skip (set by .ci/run for the
# sanitizer and static passes) they say SKIP and stop
once_only() {
	[ "${SHEEP_TEST_ONCE:-}" = skip ] || return 0
	echo "SKIP: $TEST_NAME: runs once, on the normal build (SHEEP_TEST_ONCE=skip)"
	exit 0
}

pass() { echo "PASS: $TEST_NAME: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $TEST_NAME: $*"; FAILED=$((FAILED + 1)); }

# check DESCRIPTION COMMAND...: pass if the command succeeds
check() {
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}

# expect_fail DESCRIPTION EXIT_CODE PATTERN COMMAND...: the command must exit
# with EXIT_CODE and print PATTERN (grep -E) on stderr or stdout
expect_fail() {
	local desc=$1 code=$2 pat=$3 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ] && grep -qE -- "$pat" <<<"$out"; then
		pass "$desc"
	else
		fail "$desc (exit $rc, want $code; output: $(head -c 300 <<<"$out"))"
	fi
}

port_of() { echo $((PORT_BASE + $1)); }

wait_dead() {
	local i
	for i in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# cs_shm_gone PID: what a killed corosync PID left in /dev/shm (libqb's 8 MB
# blackbox and its IPC rings); a day of test runs filled 7.7 GB of it
cs_shm_gone() {
	rm -rf "/dev/shm/qb-corosync-$1-"* "/dev/shm/qb-$1-"*
}

# start_sheep IDX [options...]: sheep IDX on 127.0.0.1:PORT_BASE+IDX, store $T/IDX
start_sheep() {
	local idx=$1
	shift
	local rc=0
	rm -f "$T/$idx.pid"
	"$SHEEP" -b 127.0.0.1 -p "$(port_of "$idx")" -P "$T/$idx.pid" -c "${CLUSTER:-local:$T/cluster}" \
		-z "$idx" "$@" "$T/$idx" || rc=1
	# record the daemon even if the launcher failed, so cleanup kills it
	[ -s "$T/$idx.pid" ] && PIDS+=("$(cat "$T/$idx.pid")")
	return $rc
}

pid_of() { cat "$T/$1.pid"; }

# kill -9 sheep IDX and wait until it is gone
kill9_sheep() {
	local pid
	pid=$(pid_of "$1")
	kill -9 "$pid"
	wait_dead "$pid"
}

# write_and_kill IDX VDI SECONDS: tests/cluster/writer.py writes to VDI through
# sheep IDX (acknowledgements logged in $T/ack); after SECONDS the sheep is killed -9
write_and_kill() {
	local wpid
	python3 "$TOP/tests/cluster/writer.py" write "$(port_of "$1")" "$2" "$T/ack" 30 &
	wpid=$!
	sleep "$3"
	kill9_sheep "$1"
	wait "$wpid"
}

# acked_reads_back IDX VDI: every write acknowledged in $T/ack reads back through sheep IDX
acked_reads_back() {
	local out
	out=$(python3 "$TOP/tests/cluster/writer.py" verify "$(port_of "$1")" "$2" "$T/ack")
	grep -v '^PASS\|^FAIL' <<<"$out"
	grep -q '^PASS' <<<"$out"
}

dog() { "$DOG" "$@"; }

# dogp IDX args...: dog against sheep IDX
dogp() {
	local idx=$1
	shift
	local sub=$1 cmd=$2
	shift 2
	"$DOG" "$sub" "$cmd" -p "$(port_of "$idx")" "$@"
}

# ---- multi-node helpers -------------------------------------------------

# epoch_of IDX: the newest epoch in node IDX's cluster info
epoch_of() { dogp "$1" cluster info -r | awk '/^[0-9]+ [0-9]+ \[/ { print $2; exit }'; }

# members IDX: the ports node IDX lists as members, sorted, one line
members() { dogp "$1" node list -r | awk '{ split($2, a, ":"); print a[2] }' | sort -n | xargs; }

# wait_epoch IDX N: node IDX reaches epoch N (up to 10 s)
wait_epoch() {
	local i
	for i in $(seq 1 200); do
		[ "$(epoch_of "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	echo "node $1 is at epoch $(epoch_of "$1"), want $2"
	return 1
}

ports() { local i; for i in "$@"; do port_of "$i"; done | sort -n | xargs; }

# wait_members IDX NODES...: node IDX lists exactly NODES (up to 10 s)
wait_members() {
	local idx=$1 want i
	shift
	want=$(ports "$@")
	for i in $(seq 1 200); do
		[ "$(members "$idx")" = "$want" ] && return 0
		sleep 0.05
	done
	echo "node $idx lists [$(members "$idx")], want [$want]"
	return 1
}

# placement COPIES ZONE0 ZONE1 ... (zone of node index BASE+k is ZONEk):
# every object on disk under nodes BASE.. has exactly COPIES replicas, all
# in different zones, and all replicas of an object hold the same data (with
# PLACEMENT_STRICT=1 the same version trailer too: no write applied twice)
placement() {
	python3 - "$T" "$BASE" "${PLACEMENT_STRICT:-0}" "$@" <<'EOF'
import collections, hashlib, os, sys
top, base, strict = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
want, zones = int(sys.argv[4]), sys.argv[5:]
where = collections.defaultdict(list)
sums = collections.defaultdict(set)
for k, z in enumerate(zones):
    d = os.path.join(top, str(base + k), "obj")
    if not os.path.isdir(d):
        continue
    for f in os.listdir(d):
        if len(f) == 16:
            where[f].append(z)
            with open(os.path.join(d, f), "rb") as fh:
                # the data; the version trailer may differ by retried writes,
                # unless PLACEMENT_STRICT=1 (no write may be applied twice)
                data = fh.read()
                sums[f].add(hashlib.sha1(data if strict else data[:-16]).hexdigest())
bad = [(o, z) for o, z in where.items() if len(z) != want or len(set(z)) != want]
diff = [o for o, s in sums.items() if len(s) != 1]
print("%d objects, %d misplaced, %d with differing replicas%s" % (
    len(where), len(bad), len(diff), " (trailers included)" if strict else ""))
for o, z in bad[:5]:
    print("  %s in zones %s" % (o, z))
for o in diff[:5]:
    for k in range(len(zones)):
        f = os.path.join(top, str(base + k), "obj", o)
        if os.path.exists(f):
            with open(f, "rb") as fh:
                data = fh.read()
            print("  %s on node %d: version %s, sha1 %s" % (
                o, base + k, data[-16:].hex(), hashlib.sha1(data[:-16]).hexdigest()[:12]))
sys.exit(0 if where and not bad and not diff else 1)
EOF
}

# patch IDX VDI MODEL OFFSET LEN: write LEN random bytes at OFFSET through
# node IDX, and the same bytes into the model file
patch() {
	head -c "$5" /dev/urandom >"$T/patch"
	dd if="$T/patch" of="$3" bs=1M conv=notrunc status=none oflag=seek_bytes seek="$4"
	dogp "$1" vdi write "$2" "$4" "$5" <"$T/patch"
}

# same_data IDX FILE VDI: the whole VDI read through node IDX equals FILE
same_data() { cmp -s "$2" <(dogp "$1" vdi read "$3"); }

# port_free PORT: nothing listens on PORT (waits up to 5 s)
port_free() {
	local i
	for i in $(seq 1 100); do
		[ -z "$(ss -ltnH "sport = :$1")" ] && return 0
		sleep 0.05
	done
	return 1
}

# ---- ZooKeeper ------------------------------------------------------------

ZK_PIDS=()
# zk_start N CLIENT_PORT [SERVER_LINES]: ZooKeeper server N under $T/zkN;
# standalone without SERVER_LINES, else a member of that ensemble
# (ZK_ADDR: the address it listens on, default 127.0.0.1; ZK_EXEC: a command
# prefix that execs java, e.g. "nsenter --net=/run/netns/NS --")
zk_start() {
	local n=$1 port=$2 servers=${3:-} d="$T/zk$1" main=org.apache.zookeeper.server.ZooKeeperServerMain
	mkdir -p "$d/conf" "$d/data"
	echo "$n" >"$d/data/myid"
	{
		echo "tickTime=1000"
		echo "initLimit=5"
		echo "syncLimit=2"
		echo "minSessionTimeout=2000"
		echo "dataDir=$d/data"
		echo "clientPort=$port"
		echo "clientPortAddress=${ZK_ADDR:-127.0.0.1}"
		echo "admin.enableServer=false"
		echo "4lw.commands.whitelist=*"
		# every sheep is a client of one address here: Debian's default of 60 per address refuses the rest
		echo "maxClientCnxns=0"
		[ -n "$servers" ] && echo "$servers"
	} >"$d/conf/zoo.cfg"
	[ -n "$servers" ] && main=org.apache.zookeeper.server.quorum.QuorumPeerMain
	# its warnings and errors (an OutOfMemoryError, say) go to $d/log
	printf '%s\n' "log4j.rootLogger=WARN, C" "log4j.appender.C=org.apache.log4j.ConsoleAppender" \
		"log4j.appender.C.layout=org.apache.log4j.PatternLayout" \
		"log4j.appender.C.layout.ConversionPattern=%d %p %c{1}: %m%n" >"$d/conf/log4j.properties"
	${ZK_EXEC:-} java -Xmx${ZK_HEAP:-128m} -cp "$d/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar" \
		"$main" "$d/conf/zoo.cfg" >"$d/log" 2>&1 &
	ZK_PIDS[$n]=$!
	echo "$!" >"$d/pid"
	disown "$!"
}

zk_kill() { kill -9 "${ZK_PIDS[$1]}" 2>/dev/null; }

# zk_cmd PORT WORD: a four-letter command's answer
zk_cmd() { echo "$2" | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1; cat >&3; cat <&3" 2>/dev/null; }
zk_ok() { [ "$(zk_cmd "$1" ruok)" = imok ]; }

# retry SECONDS COMMAND...: run COMMAND until it succeeds, for up to SECONDS
retry() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$end" ] && { "$@"; return 1; }
		sleep 0.2
	done
}

# kill9_timed IDX WATCHER: kill -9 node IDX and print the milliseconds until
# node WATCHER no longer lists it (fails after 30 s)
kill9_timed() {
	local t0 pid
	pid=$(pid_of "$1")
	t0=$(date +%s%N)
	kill -9 "$pid"
	retry 30 bash -c "! '$DOG' node list -r -p $(port_of "$2") | grep -q ':$(port_of "$1") '" ||
		return 1
	echo $((($(date +%s%N) - t0) / 1000000))
}

# recovered IDX: node IDX sees no member still recovering
recovered() { [ -z "$(dogp "$1" node recovery -r)" ] && dogp "$1" node recovery -r >/dev/null; }
# all_recovered IDX...: every one of these nodes has recovered
all_recovered() {
	local i
	for i in "$@"; do
		recovered "$i" || return 1
	done
}

finish() {
	local f
	for f in "$T"/asan.* "$T"/ubsan.*; do
		[ -e "$f" ] || continue
		fail "sanitizer report $(basename "$f"): $(head -c 600 "$f")"
	done
	echo "$TEST_NAME: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}

# ---- appliance VMs (QEMU, software emulation) -----------------------------

IMG=${SHEEP_IMAGE_DIR:-$TOP/image/out}
# need_image: build the appliance (make image) unless it is up to date
need_image() { make -s -C "$TOP" image >"$T/image-build.log" 2>&1 || { cat "$T/image-build.log"; return 1; }; }

# vm_start NAME QEMU_ARGS...: a VM whose serial console is logged to
# $T/NAME/console.log and reachable on $T/NAME/con.sock (vm_send); killed
# with the sheep at the end.  VM_EXEC, if set, is a command prefix that execs
# QEMU (e.g. "nsenter --net=/run/netns/NS --": QEMU in a network namespace)
# VM_MONITOR=1: a human monitor on $T/NAME/mon.sock too (vm_monitor)
vm_start() {
	local name=$1
	shift
	[ -n "${VM_MONITOR:-}" ] && set -- -chardev "socket,id=mon,path=$T/$name/mon.sock,server=on,wait=off" \
		-mon chardev=mon,mode=readline "$@"
	mkdir -p "$T/$name"
	: >"$T/$name/console.log"
	date +%s%N >"$T/$name/t0"
	${VM_EXEC:-} qemu-system-x86_64 -accel tcg -m "${VM_MEM:-512}" -display none -monitor none -no-reboot \
		-chardev "socket,id=con,path=$T/$name/con.sock,server=on,wait=off,logfile=$T/$name/console.log" \
		-serial chardev:con "$@" >"$T/$name/qemu.out" 2>&1 &
	echo $! >"$T/$name/pid"
	PIDS+=($!)
	disown $!
}

# vm_wait NAME PATTERN [SECONDS]: the console printed PATTERN (grep -E)
vm_wait() {
	local i
	for i in $(seq 1 $((${3:-180} * 5))); do
		grep -aqE -- "$2" "$T/$1/console.log" && return 0
		kill -0 "$(cat "$T/$1/pid")" 2>/dev/null || break
		sleep 0.2
	done
	echo "vm $1: no '$2' on the console; its last lines:"
	grep -av '^\[' "$T/$1/console.log" | tail -8 | sed 's/^/    /'
	cat "$T/$1/qemu.out"
	return 1
}

# vm_serving NAME: wait for the appliance's marker; print the wall time from
# the start of QEMU to it, in ms
vm_serving() {
	vm_wait "$1" "sheep-appliance: serving on port" || return 1
	echo "info: vm $1 serving $((($(date +%s%N) - $(cat "$T/$1/t0")) / 1000000)) ms after QEMU started ($(grep -ao 'serving on port.*' "$T/$1/console.log" | tail -1))"
}

# vm_send NAME LINE: type LINE on the VM's console
vm_send() {
	python3 - "$T/$1/con.sock" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
time.sleep(0.3)
s.close()
PY
}

vm_kill() { kill -9 "$(cat "$T/$1/pid")"; wait_dead "$(cat "$T/$1/pid")"; }

# vm_monitor NAME COMMAND: run COMMAND on the human monitor of VM NAME (started
# with VM_MONITOR=1), e.g. "set_link io off"; print its answer; fail if it
# answered an error (a command that acts, like set_link, says nothing when it succeeds)
vm_monitor() {
	python3 - "$T/$1/mon.sock" "$2" <<'PY'
import re, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
def prompt():
    buf = b""
    while not buf.endswith(b"(qemu) "):
        d = s.recv(4096)
        if not d:
            break
        buf += d
    return buf.decode(errors="replace")
prompt()
s.sendall(sys.argv[2].encode() + b"\r\n")
out = prompt()
s.close()
# the monitor echoes the line (with terminal escapes) before its answer
out = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out).replace("\r", "")
out = out.split("\n", 1)[1] if "\n" in out else ""
out = out.replace("(qemu) ", "")
print(out, end="")
sys.exit(1 if re.search(r"^(Error|Device .* not found|unknown command)", out, re.M | re.I) else 0)
PY
}

# fio_side JSON: "IOPS MiB/s p50-us" of the side (write, else read) a fio job measured (benches)
fio_side() {
	python3 - "$1" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
side = j["write"] if j["write"]["io_bytes"] else j["read"]
p50 = side["clat_ns"]["percentile"].get("50.000000", 0) / 1000
print("%.0f %.1f %.0f" % (side["iops"], side["bw_bytes"] / 1048576, p50))
EOF
}
