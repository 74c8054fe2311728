#!/bin/bash
# The accord driver against one real Accord conductor (Accord's own server,
# built from its upstream source by tests/accord.sh) on a one-node corosync
# ring, in network namespaces (tests/netns.sh): the conductor in host 0 on
# Accord's default port 9090, sheep in hosts 0-4.
#   Bad input: malformed options, unreachable conductors (each named), servers
#   that are not Accord (silent; talking something else): clear errors.
#   Then 3 sheep (one with Sheepdog's form accord:HOST) join, format with 3
#   copies and locking; replicated IO, snapshots, a clone and VDI locks go
#   through it; the verifiable writer runs all along while a sheep is
#   kill -9'd (its leave seen by every member: measured, bound 5 s), restarts
#   and rejoins; two more join (5); two are kill -9'd at once and come back;
#   a sheep's link goes down (the conductor's keepalive drops it; it starts
#   over, then rejoins when the link is back); the conductor is frozen past
#   the timeout of two sheep (they start over, the same processes, and rejoin
#   when it answers again) and within that of the other three (they stay);
#   a sheep is frozen (SIGSTOP) until the others drop it (its beat stands
#   still), then thawed: it starts over and rejoins.  Afterwards every acknowledged write reads back
#   through every sheep, dog vdi check passes, 3 identical replicas per
#   object.  Times are printed as info: lines.
TEST_PORT_OFFSET=460
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/netns.sh"
AC_PORT=9090	# a private namespace: Accord's own port is ours
source "$TOP/tests/accord.sh"
ns_need
ac_need
BASE=0	# placement: the stores are $T/0 ..

check "5 namespaces" ns_setup 5
CS_NODES=0 cs_start 0
check "a one-node corosync ring for the conductor" cs_wait_members 0 1
check "Accord's conductor starts" ac_start 0
AC=$(ac_addr 0)

# ---- bad input ----------------------------------------------------------
mkdir -p "$T/bad"
bad() { on_node 1 timeout 60 "$SHEEP" -b "$(ip_of 1)" -y "$(ip_of 1)" -p "$(port_of 1)" -c "$1" "$T/bad"; }
expect_fail "accord: with nothing after it" 1 "no conductor given" bad "accord:"
expect_fail "accord alone" 1 "no conductor given" bad accord
expect_fail "a bad port" 1 "bad conductor '$(ip_of 0):99999'" bad "accord:$(ip_of 0):99999"
expect_fail "a bad timeout" 1 "bad timeout 'fast'" bad "accord:$AC,timeout=fast"
expect_fail "an unknown option" 1 "unknown option 'foo=1'" bad "accord:$AC,foo=1"
expect_fail "a bad id" 1 "bad id" bad "accord:$AC,id=a/b"
expect_fail "unreachable conductors: each one named with why" 1 \
	"no conductor answered: $(ip_of 0):9091 \(Connection refused\); $NS_NET.99:9090 \((no answer|No route to host)\)" \
	bad "accord:$(ip_of 0):9091,$NS_NET.99"
# two servers that are not Accord: one says nothing, one speaks HTTP
on_node 0 python3 -c '
import socket, sys, threading, time
def serve(port, reply):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(8)
    while True:
        c, _ = s.accept()
        if reply: c.sendall(reply)
        threading.Thread(target=lambda c=c: (time.sleep(60), c.close()), daemon=True).start()
threading.Thread(target=serve, args=(9092, b""), daemon=True).start()
serve(9093, b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
' >/dev/null 2>&1 &
disown $!
# both listening (python starts slowly on a busy machine)
check "the two fake servers listen" retry 20 bash -c \
	"ip netns exec $(ns_name 0) ss -ltn | grep -q ':9092 ' && ip netns exec $(ns_name 0) ss -ltn | grep -q ':9093 '"
expect_fail "a silent server: not an Accord conductor" 1 \
	"$(ip_of 0):9092 \(accepted the connection but sent no Accord greeting: not an Accord conductor" \
	bad "accord:$(ip_of 0):9092"
expect_fail "an HTTP server: not an Accord conductor" 1 \
	"$(ip_of 0):9093 \(sent something that is not Accord's" bad "accord:$(ip_of 0):9093"
check "the conductor still serves after all that" on_node 0 bash -c "exec 3<>/dev/tcp/$(ip_of 0)/9090"

# ---- a cluster ------------------------------------------------------------
CS_CLUSTER="accord:$(ip_of 0)"	# Sheepdog's form: port 9090
check "sheep 0 joins (-c accord:HOST)" start_sheep 0
CS_CLUSTER="accord:$AC,timeout=5s"
t0=$(date +%s%N)
for i in 1 2; do check "sheep $i joins (-c accord:HOST:PORT,timeout=5s)" start_sheep "$i"; done
check "all 3 list all 3" retry 30 all_list 0 1 2
echo "info: 3 sheep joined $(ms_since "$t0") ms after the second start"
check "format: copies 3, locking" dogp 0 cluster format -c 3 -l
check "create VDI $WVDI" dogp 0 vdi create "$WVDI" 48M
head -c $((4 << 20)) /dev/urandom >"$T/x"
check "create x through sheep 1" dogp 1 vdi create x 4M
check "write x through sheep 1" dogp 1 vdi write x <"$T/x"
for i in 0 1 2; do check "x reads back through sheep $i" same_data "$i" "$T/x" x; done
check "snapshot x (tag s1) through sheep 2" dogp 2 vdi snapshot -s s1 x
cp "$T/x" "$T/x1"
head -c 65536 /dev/urandom | dd of="$T/x" bs=64k seek=3 conv=notrunc status=none
check "overwrite part of x after the snapshot" dogp 0 vdi write x <"$T/x"
check "x has the new data" same_data 1 "$T/x" x
check "the snapshot keeps the old" cmp -s "$T/x1" <(dogp 1 vdi read -s s1 x)
check "clone c from x@s1" dogp 0 vdi clone -s s1 x c
check "the clone reads as the snapshot" same_data 2 "$T/x1" c
check "vdi list through sheep 2 shows x, its snapshot and c" \
	test "$(dogp 2 vdi list -r | awk '{ print $1, $2 }' | LC_ALL=C sort | xargs)" = "= $WVDI = x c c s x"

# VDI locks travel as cluster operations through the driver
lock() {	# lock I NAME TYPE -> result code
	on_hub python3 - "$(ip_of "$1")" "$(port_of "$1")" "$2" "$3" "$TOP/tests/cluster" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[5])
from sdclient import Client
c = Client(int(sys.argv[2]), sys.argv[1])
body = struct.pack("<QIBBBBII8x", 0, 0, 0, 0, 0, 0, 0, int(sys.argv[4]))
res, _, _ = c.call(0x12, body, 1, sys.argv[3].encode().ljust(512, b"\0"))
print("%02x" % res)
PY
}
check "exclusive lock on c through sheep 0" test "$(lock 0 c 0)" = 00
check "exclusive lock on c through sheep 1: VDI_LOCKED" test "$(lock 1 c 0)" = 07
locked_c() { [ "$(on_hub "$DOG" vdi lock list -a "$(ip_of 2)" -p "$(port_of 2)" -r | grep -c '^c ')" = 1 ]; }
check "sheep 2 lists the lock" retry 10 locked_c
check "unlock c through sheep 2" on_hub "$DOG" vdi lock unlock -a "$(ip_of 2)" -p "$(port_of 2)" c
check "now sheep 1 may lock c" test "$(lock 1 c 0)" = 00

# ---- kills, joins, a lost link, a frozen conductor, with the writer -------
rm -f "$T/ack"
writer_start 3600 0 1 2
check "the writer writes" writes_go_on

t0=$(date +%s%N)
kill9_sheep 2
check "kill -9 of sheep 2: its leave is seen by both others" retry 30 gone_from 2 0 1
ms=$(ms_since "$t0")
echo "info: kill -9 of a sheep: leave seen by every member after $ms ms"
check "within 5 s" test "$ms" -le 5000
check "writes go on" writes_go_on
check "sheep 2 restarts" start_sheep 2
check "sheep 2 rejoins, seen by all" retry 30 all_list 0 1 2
check "recovery completes" retry 90 all_recovered 0 1 2

CS_CLUSTER="accord:$AC"	# the default timeout, 10 s
for i in 3 4; do check "sheep $i joins (-c accord:HOST:PORT)" start_sheep "$i"; done
check "all 5 list all 5" retry 30 all_list 0 1 2 3 4
check "writes go on with 5" writes_go_on

t0=$(date +%s%N)
kill9_sheep 1
kill9_sheep 4
both_gone() { gone_from 1 0 2 3 && gone_from 4 0 2 3; }
check "two kill -9'd at once: both leave for the other three" retry 30 both_gone
echo "info: two kill -9 at once: both leaves seen by all after $(ms_since "$t0") ms"
check "writes go on (copies 3, two gone)" writes_go_on
CS_CLUSTER="accord:$AC,timeout=5s" start_sheep 1 || fail "sheep 1 restarts"
CS_CLUSTER="accord:$AC" start_sheep 4 || fail "sheep 4 restarts"
check "all 5 again" retry 30 all_list 0 1 2 3 4

# a sheep's link down: the conductor's keepalive drops it; it starts over
pid=$(pid_of 3)
t0=$(date +%s%N)
link_down 3
check "link down on sheep 3: it leaves for every other member" retry 60 gone_from 3 0 1 2 4
echo "info: a sheep's link down: its leave seen by all after $(ms_since "$t0") ms (conductor keepalive)"
check "writes go on" writes_go_on
check "sheep 3 notices (no answer within its 10 s timeout) and starts over" \
	retry 30 grep -q "no answer within 10000 ms; restarting" "$T/3/sheep.log"
link_up 3
t0=$(date +%s%N)
check "link up: sheep 3 rejoins by itself" retry 60 all_list 0 1 2 3 4
echo "info: link up: sheep 3 back in every list after $(ms_since "$t0") ms"
check "the same process (started over in place)" test "$(pid_of 3)" = "$pid"

# the conductor frozen for 7 s: past the timeout of sheep 1 and 2 (5 s),
# within that of 0, 3 and 4 (10 s), so no more leave than 3 copies allow
restarts() { grep -c 'no answer within 5000 ms; restarting' "$T/$1/sheep.log"; }
restarted_since() { [ "$(restarts "$1")" -gt "${before[$1]}" ]; }
before=()
for i in 1 2; do before[i]=$(restarts "$i"); done
pids=$(for i in 0 1 2 3 4; do pid_of "$i"; done | xargs)
kill -STOP "${AC_PIDS[0]}"
sleep 7
kill -CONT "${AC_PIDS[0]}"
t0=$(date +%s%N)
for i in 1 2; do
	check "frozen conductor: sheep $i gave up on it and started over" \
		retry 10 restarted_since "$i"
done
check "the conductor answers again: all 5 rejoin" retry 90 all_list 0 1 2 3 4
echo "info: frozen conductor: all 5 back $(ms_since "$t0") ms after it resumed"
for i in 0 3 4; do
	check "frozen conductor: sheep $i (10 s) rode it out" test "$(grep -c 'restarting' "$T/$i/sheep.log")" = "$([ "$i" = 3 ] && echo 1 || echo 0)"
done
check "frozen conductor: sheep 0 (10 s) served no IO from half its timeout on, then again" \
	retry 10 bash -c "grep -q 'cluster link lost' '$T/0/sheep.log' && grep -q 'cluster link back' '$T/0/sheep.log'"
check "the same 5 processes" test "$(for i in 0 1 2 3 4; do pid_of "$i"; done | xargs)" = "$pids"
check "writes go on" retry 3 writes_go_on

# a sheep frozen past the others' timeouts: its conductor still lists it
# (the kernel keeps its connection), but its beat stands still, so the others
# drop it; thawed, it finds its own LEAVE in the log and starts over.  The
# writer goes through sheep 0, 2 and 3 from here: one stuck on the frozen
# sheep waits out its 30 s socket timeout (the conductor freeze above halts
# IO through every sheep for a while, so it may have moved to sheep 1)
writer_stop
writer_start 3600 0 2 3
check "the writer runs through sheep 0" writes_go_on
pid=$(pid_of 1)
t0=$(date +%s%N)
kill -STOP "$pid"
check "sheep 1 frozen: the others drop it (its beat stood still)" retry 30 gone_from 1 0 2 3 4
echo "info: a frozen sheep dropped by every other member after $(ms_since "$t0") ms (timeouts 5 and 10 s)"
check "writes go on without it" writes_go_on
kill -CONT "$pid"
check "thawed: sheep 1 sees it was dropped and starts over" \
	retry 30 grep -q "the cluster has dropped this sheep" "$T/1/sheep.log"
check "sheep 1 rejoins, the same process" retry 60 all_list 0 1 2 3 4
check "the same process" test "$(pid_of 1)" = "$pid"
check "writes go on" writes_go_on

writer_stop
echo "info: $(acks) writes acknowledged"
check "recovery completes everywhere" retry 120 all_recovered 0 1 2 3 4
for i in 0 1 2 3 4; do
	check "every acknowledged write reads back through sheep $i" acked_reads_back "$i"
done
check "x reads back" same_data 3 "$T/x" x
check "dog vdi check $WVDI" dogp 0 vdi check "$WVDI"
check "3 identical replicas per object in 3 zones" retry 60 placement 3 0 1 2 3 4
one_history() {
	local i
	# the epoch numbers and their members (each sheep stamps its own times)
	for i in 0 1 2 3 4; do dogp "$i" cluster info -r | awk '/^[0-9]+ [0-9]+ \[/ { $1 = ""; print }' | md5sum; done |
		sort -u | wc -l | grep -qx 1
}
check "every sheep has the same epoch history" one_history
finish
