#!/bin/bash
# The zookeeper driver against a real ZooKeeper (standalone, started here on
# 127.0.0.1:SHEEP_ZK_PORT, default 21811): three sheep form a cluster, format,
# replicated IO; a kill -9'd member leaves for everyone within the session
# timeout + 2 s; a quick restart at the same address waits for its old
# session and rejoins; a member frozen (SIGSTOP) past the timeout stops as
# soon as it runs again instead of serving as a stale member: it starts over
# in place and rejoins as a new member, also when frozen while still joining;
# data is verified after each step; when ZooKeeper goes away, a sheep
# waiting to be accepted and one waiting for its old session both fail to
# start, saying why, after twice the session timeout + 2 s.  ZooKeeper and the
# sheep are killed by PID at the end.
TEST_PORT_OFFSET=220
source "$(dirname "$0")/../lib.sh"
ZK_PORT=${SHEEP_ZK_PORT:-21811}
TIMEOUT_S=4

zk_start 1 "$ZK_PORT"
check "ZooKeeper answers" retry 30 zk_ok "$ZK_PORT"

CLUSTER="zookeeper:127.0.0.1:$ZK_PORT,timeout=${TIMEOUT_S}s,id=t$$"
export CLUSTER
expect_fail "a bad timeout is refused" 1 "cannot start the cluster driver .*timeout=abc" \
	"$SHEEP" -c "zookeeper:127.0.0.1:$ZK_PORT,timeout=abc" -p "$(port_of 9)" "$T/9"
# the guide's line names no address (no -y, no -b): a zookeeper sheep advertises
# the first address of an interface that is up and not loopback, as Sheepdog's
# (127.0.0.1 would send other machines to themselves).  Only asked for, over
# loopback: nothing is sent to that address.
want=$(ip -o -4 addr show up scope global 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }')
"$SHEEP" -c "zookeeper:127.0.0.1:$ZK_PORT,timeout=${TIMEOUT_S}s,id=addr$$" -p "$(port_of 8)" \
	-P "$T/8.pid" "$T/8" && PIDS+=("$(cat "$T/8.pid")")
check "a sheep without -y advertises ${want:-127.0.0.1}" bash -c \
	"'$DOG' node list -r -p $(port_of 8) | grep -q ' ${want:-127.0.0.1}:$(port_of 8) '"
kill9_sheep 8
for i in 0 1 2; do
	check "node $i joins through ZooKeeper" start_sheep $i
done
check "three members" wait_members 0 0 1 2
check "format copies 2" dogp 1 cluster format -c 2
head -c $((24 << 20)) /dev/urandom >"$T/d"
check "create and write d" bash -c "'$DOG' vdi create d 24M -p $(port_of 0) && '$DOG' vdi write d -p $(port_of 0) <'$T/d'"
for i in 0 1 2; do
	check "node $i reads d" same_data $i "$T/d" d
	check "node $i: epoch 1" test "$(epoch_of $i)" = 1
done

# kill -9: the others see the leave within the session timeout + 2 s
ms=$(kill9_timed 2 0)
check "the leave of a kill -9'd member reaches node 0" test -n "$ms"
echo "info: leave seen after $ms ms (session timeout ${TIMEOUT_S}000 ms)"
check "within the session timeout + 2 s" test "${ms:-99999}" -le $((TIMEOUT_S * 1000 + 2000))
check "node 1 agrees" wait_members 1 0 1
check "d reads through the survivors" same_data 1 "$T/d" d
check "node 2 restarts and rejoins" start_sheep 2
check "three members again" wait_members 0 0 1 2
check "node 2 reads d" same_data 2 "$T/d" d

# a quick restart: the old session is still open
kill9_sheep 1	# gone, but its ZooKeeper session lives on for a while
check "node 1 restarts at once (waits for its old session)" start_sheep 1
check "three members after the quick restart" wait_members 0 0 1 2
check "the old incarnation is gone everywhere" wait_members 2 0 1 2
check "node 1 reads d" same_data 1 "$T/d" d
patch 1 d "$T/d" 5000000 3000000 || fail "write through node 1"
check "node 0 reads the new data" same_data 0 "$T/d" d

# frozen past the session timeout: it must stop, not serve as a stale member
pid=$(pid_of 0)
kill -STOP "$pid"
check "the others drop the frozen node" retry 30 bash -c \
	"! '$DOG' node list -r -p $(port_of 1) | grep -q ':$(port_of 0) '"
patch 1 d "$T/d" 12000000 2000000 || fail "write while node 0 is frozen"
kill -CONT "$pid"
check "the frozen node starts over at once and rejoins by itself" retry 30 bash -c \
	"'$DOG' node list -r -p $(port_of 1) | grep -q ':$(port_of 0) '"
check "its log says why" grep -qE "longer than the session timeout|session expired" "$T/0/sheep.log"
check "it is the same process (restarted in place)" test "$(pid_of 0)" = "$pid"
check "three members again" wait_members 2 0 1 2
check "node 0 serves the current data, not its stale copy" same_data 0 "$T/d" d
check "node 2 too" same_data 2 "$T/d" d

# frozen while still joining (waiting for its old session): it starts over
# in place, and the command that started it still hears that it joined
kill9_sheep 2
rm -f "$T/2.pid"
(start_sheep 2; echo $? >"$T/rc2") &
launcher=$!
check "node 2 waits for its old session" retry 20 grep -q "still has a session" "$T/2/sheep.log"
pid=$(pid_of 2)
kill -STOP "$pid"
sleep $((TIMEOUT_S + 2))
kill -CONT "$pid"
wait "$launcher"
PIDS+=("$pid")
check "the launcher reports the join of the restarted image" test "$(cat "$T/rc2")" = 0
check "it restarted in place while joining" grep -qE "longer than the session timeout|session expired" "$T/2/sheep.log"
check "three members after a freeze while joining" wait_members 0 0 1 2
check "node 2 reads d" same_data 2 "$T/d" d

# node 2 again, with a session of 15 s that outlives its kill -9 below
start15() { CLUSTER=${CLUSTER/timeout=${TIMEOUT_S}s/timeout=15s} start_sheep "$@"; }
kill9_sheep 2
check "node 2 rejoins with a 15 s session" start15 2
check "three members with it" wait_members 0 0 1 2
kill9_sheep 2

# ZooKeeper goes away while a sheep waits to be accepted (every member is
# stopped, so none can accept), and while node 2, restarted, waits for its
# old session: both starts fail with a reason within twice the session
# timeout (+2 s), instead of leaving their launchers waiting for good
members=("$(pid_of 0)" "$(pid_of 1)")
kill -STOP "${members[@]}"
rm -f "$T/3.pid" "$T/2.pid"
waits=$(grep -c 'still has a session' "$T/2/sheep.log")
(start_sheep 3 2>"$T/err3"; echo $? >"$T/rc3") &
launcher=$!
(start_sheep 2 2>"$T/err2"; echo $? >"$T/rc2") &
launcher2=$!
check "node 3 connects and asks to join" retry 20 grep -q "zookeeper: connected" "$T/3/sheep.log"
check "node 2 waits for its old session" retry 20 bash -c \
	"[ \$(grep -c 'still has a session' '$T/2/sheep.log') -gt $waits ]"
retry 10 test -s "$T/3.pid" && pid3=$(cat "$T/3.pid") && PIDS+=("$pid3")
retry 10 test -s "$T/2.pid" && pid2=$(cat "$T/2.pid") && PIDS+=("$pid2")
sleep 1
zk_kill 1
t0=$(date +%s)
check "its launcher returns" retry $((4 * TIMEOUT_S + 10)) bash -c "! kill -0 $launcher"
echo "info: the start failed $(($(date +%s) - t0)) s after ZooKeeper went (session timeout ${TIMEOUT_S} s)"
check "with exit status 1" test "$(cat "$T/rc3" 2>/dev/null)" = 1
check "saying why" grep -q "cannot join: no ZooKeeper server of 127.0.0.1:$ZK_PORT answered" "$T/err3"
check "and the daemon is gone" retry 10 bash -c "[ -n '${pid3:-}' ] && ! kill -0 ${pid3:-0}"
check "node 2's launcher returns too" retry $((4 * TIMEOUT_S + 10)) bash -c "! kill -0 $launcher2"
echo "info: node 2's start failed $(($(date +%s) - t0)) s after ZooKeeper went"
check "with exit status 1, saying why" bash -c "[ \"\$(cat '$T/rc2')\" = 1 ] &&
	grep -q 'cannot join: no ZooKeeper server of 127.0.0.1:$ZK_PORT answered while we waited for our old session' '$T/err2'"
check "node 2's daemon is gone" retry 10 bash -c "[ -n '${pid2:-}' ] && ! kill -0 ${pid2:-0}"
kill -CONT "${members[@]}"
finish
