#!/bin/bash
# The scale rig itself (bench/scale.sh, make test-scale) at N=20, so that
# it keeps working: 20 sheep launched at once on one ZooKeeper (session
# timeout 4 s) and again on a 3-server ensemble; every join counted, no
# duplicate member, the extra join and the kill -9'd member's leave seen by
# every sampled member, the leader's loss survived, and its teardown kills
# every process it started, also when it is stopped by SIGTERM mid-boot
# (as soon as its first sheep is recorded: the rest may not have written
# their pid files yet).
# Ports: sheep on base+550..570; ZooKeeper SHEEP_ZK_SCALE_RIG_SMOKE_PORT
# (21881), the ensemble's clients 4 above it +1..+3 (21886-21888), their
# peer and election ports 1010 and 1020 above those.
TEST_PORT_OFFSET=550
source "$(dirname "$0")/../lib.sh"
once_only	# its subject is the rig (bench/scale.sh), not the build
ZK1=${SHEEP_ZK_SCALE_RIG_SMOKE_PORT:-21881}
command -v java >/dev/null && [ -e /usr/share/java/zookeeper.jar ] || { echo "SKIP: $TEST_NAME: no java/ZooKeeper"; exit 0; }

# rig PIDS_FILE: RIG is the command line of bench/scale.sh at N=20 on our
# ports (env execs the rig's bash: "${RIG[@]} &" leaves the rig itself in $!)
rig() {
	RIG=(env SCALE_N=20 SCALE_PORT_BASE="$PORT_BASE" SCALE_ZK_PORT="$ZK1" SCALE_ZK_ENSEMBLE=$((ZK1 + 4))
		SCALE_TIMEOUT=4 SCALE_PIDS_OUT="$1" bash "$TOP/bench/scale.sh")
}
# alive PID ARG: PID runs with ARG among its arguments (the rig's own check)
alive() {
	local a s st
	read -r _ _ st _ 2>/dev/null <"/proc/$1/stat" || return 1
	[ "$st" = Z ] && return 1
	mapfile -d '' a 2>/dev/null <"/proc/$1/cmdline" || return 1
	for s in "${a[@]}"; do [ "$s" = "$2" ] && return 0; done
	return 1
}
# none_left FILE: no process of FILE ("PID ARG" lines) is alive
none_left() {
	local p a n=0
	while read -r p a; do
		alive "$p" "$a" && { echo "still alive: $p ($a)"; n=$((n + 1)); }
	done <"$1"
	[ "$n" -eq 0 ]
}
# nothing_under DIR: no process at all has an argument under DIR
nothing_under() {
	local p a s
	for p in /proc/[0-9]*; do
		mapfile -d '' a 2>/dev/null <"$p/cmdline" || continue
		for s in "${a[@]}"; do
			[[ "$s" == "$1"/* ]] && { echo "info: left: ${p#/proc/} $(cut -d' ' -f3-4 "$p/stat" 2>/dev/null) ${a[*]}"; return 1; }
		done
	done
	return 0	# not the status of the last [[ ]] above: that failed whenever the
		# last process in /proc had an argument not under DIR (CI)
}
# if the rig failed to, kill what it recorded (checked by argument: ours)
kill_left() {
	local f p a
	for f in "$T/pids" "$T/pids2"; do
		[ -e "$f" ] || continue
		while read -r p a; do alive "$p" "$a" && kill -9 "$p"; done <"$f"
	done
	# the rig itself, if still our child (stopped before it was waited for)
	[ -n "${rpid:-}" ] && [ "$(cut -d' ' -f4 "/proc/$rpid/stat" 2>/dev/null)" = $$ ] && kill -9 "$rpid"
}
CLEANUP_HOOK=kill_left

rig "$T/pids"
"${RIG[@]}" >"$T/out" 2>"$T/err"
rc=$?
grep -E '^(result|target|scale: WRONG)' "$T/out" | sed 's/^/info: /'
check "the rig ran and found nothing wrong (exit 0; was $rc)" test "$rc" = 0
check "20 launched, 20 launchers returned 0, no duplicate, none missing, no rejoin, 13 of 13 views exact" \
	grep -q '^result N=20 launched=20 launchers_ok=20 duplicates=0 missing=0 rejoins=0 views_exact=13/13 ' "$T/out"
check "the join of a 21st sheep was seen by every sampled member" grep -qE '^result N=20 .* join1=[0-9]+ ' "$T/out"
check "the leave of the kill -9'd sheep was seen by every sampled member" grep -qE '^result N=20 .* leave_ms=[0-9]+$' "$T/out"
check "ensemble: 20 joined once, none dropped or restarted after the leader's loss, a cluster op went through" \
	grep -qE '^result N=20 ensemble launchers_ok=20 duplicates=0 dropped=0 restarts=0 .* op_after_leader_loss_ms=[0-9]+$' "$T/out"
check "teardown left nothing, both runs" test "$(grep -c '^result N=20 .*teardown_left=0$' "$T/out")" = 2
check "the table has its rows" bash -c "grep -q '^all joined: every sampled view lists N (s) *[0-9.]*$' '$T/out' &&
	grep -q '^RSS per gateway sheep: median / max (MiB) *[0-9.]* / [0-9.]*$' '$T/out' &&
	grep -q '^CPU/join/member: all / gateway / storing (ms) *[0-9.]* / ' '$T/out' &&
	grep -q '^ZK znodes: after boot / after events *[0-9]* / [0-9]*$' '$T/out' &&
	grep -q '^target: N=20 leave seen by all within timeout + 2 s' '$T/out'"
check "it recorded 21 + 20 sheep and 4 ZooKeeper servers" test "$(grep -c . "$T/pids")" = 45
check "every one of them is gone" none_left "$T/pids"
W=$(sed -n 's/^scale: work directory \([^;]*\);.*/\1/p' "$T/out")
# (10 s: one killed with its parent may still be on its way out)
check "no process left with an argument under its work directory" retry 10 nothing_under "${W:-/nonexistent}"
check "its work directory is removed" test ! -e "${W:-/nonexistent}"

# stopped by SIGTERM in the middle of the boot storm: as soon as the first
# sheep is recorded, while the others are still starting
rig "$T/pids2"
"${RIG[@]}" >"$T/out2" 2>"$T/err2" &
rpid=$!
retry 60 bash -c "test \"\$(grep -c . '$T/pids2' 2>/dev/null)\" -ge 2"
info_n=$(grep -c . "$T/pids2")
echo "info: SIGTERM with $info_n processes recorded"
kill -TERM "$rpid"
wait "$rpid"
check "stopped mid-boot, it had recorded its ZooKeeper and a sheep" test "$info_n" -ge 2
check "and killed every one it recorded" none_left "$T/pids2"
W=$(sed -n 's/^scale: work directory \([^;]*\);.*/\1/p' "$T/out2")
check "no process left under its work directory (a sheep whose pid file came after the signal included)" \
	retry 10 nothing_under "${W:-/nonexistent}"
check "its own check after teardown found nothing left" bash -c "! grep -q 'after teardown' '$T/out' '$T/out2'"
finish
