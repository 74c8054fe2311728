#!/bin/bash
# `dog node ...` as Sheepdog 1.0's dog: node info's space (the bytes the store's
# objects take, plus the free space), node kill, node log level, node stat,
# node format, node recovery -P, node vnodes set's words, the subcommand list,
# and cluster format's check of the nodes' vnodes strategy (-V).
TEST_PORT_OFFSET=370
source "$(dirname "$0")/../lib.sh"

# out_is DESC WANT COMMAND...: the command's stdout and stderr together are WANT, exit 0
out_is() {
	local desc=$1 want=$2 out
	shift 2
	out=$("$@" 2>&1) && [ "$out" = "$want" ] && { pass "$desc"; return; }
	fail "$desc (exit $?; got: $(head -c 300 <<<"$out"))"
}

for i in 0 1 2; do
	check "node $i starts" start_sheep $i
done
check "three members" wait_members 0 0 1 2

# ---- format: the nodes' vnodes strategy (auto: started without -V) ----------
expect_fail "format -V on auto-vnodes nodes: Sheepdog's refusal" 1 \
	"^Can not apply the option of '-V', because there are vnode strategy of sheep is auto in the cluster$" \
	dogp 0 cluster format -c 2 -V
check "format without -V" dogp 0 cluster format -c 2
expect_fail "format -f -V of the formatted auto cluster: refused too" 1 "^Can not apply the option of '-V'" \
	dogp 1 cluster format -f -V -c 2

# ---- node info: Used is what the objects take, Size that plus the free space --
# used_of IDX: the bytes node IDX's object files take on disk (Sheepdog: st_blocks x 512)
used_of() { find "$T/$1/obj" -maxdepth 1 -type f ! -name '.*' -printf '%b\n' | awk '{s += $1 * 512} END {print s + 0}'; }
check "node info -r on an empty store: Used 0 on every node, and in the total" bash -c \
	"[ \"\$('$DOG' node info -r -p $(port_of 0) | awk '{print \$3}' | xargs)\" = '0 0 0 0' ]"
check "node info: Use% 0 on empty stores" bash -c "'$DOG' node info -p $(port_of 0) | grep -qE '^Total	.*	  0%$'"
check "create v" dogp 0 vdi create v 64M
check "write 8 MB to v" bash -c "head -c 8M /dev/urandom | '$DOG' vdi write v -p $(port_of 0)"
for i in 0 1 2; do
	check "node info -r: node $i's Used is its objects' bytes ($(used_of $i)), Size = Used + Avail" bash -c \
		"'$DOG' node info -r -p $(port_of 1) | awk -v u=$(used_of $i) '\$1 == $i {exit !(\$3 == u && \$2 == \$3 + \$4)}'"
done
check "node info -r: Total Used is the sum (16 MB of objects and the inode at 2 copies)" bash -c \
	"'$DOG' node info -r -p $(port_of 2) | awk -v u=$(($(used_of 0) + $(used_of 1) + $(used_of 2))) '\$1 == \"Total\" {exit !(\$3 == u && u >= 16777216)}'"

# ---- node recovery -P: nothing to follow on a settled cluster ---------------
out_is "node recovery -P on a settled node: no output, exit 0" "" dogp 0 node recovery -P

# ---- node log level --------------------------------------------------------
LEVELS=$(printf 'emerg\t(0)\nalert\t(1)\ncrit\t(2)\nerr\t(3)\nwarning\t(4)\nnotice\t(5)\ninfo\t(6)\ndebug\t(7)')
out_is "node log level get: 'info (6)'" "info (6)" dogp 0 node log level get
out_is "node log level set debug: silent" "" dogp 0 node log level set debug
out_is "... and get says 'debug (7)'" "debug (7)" dogp 0 node log level get
out_is "node log level list" "$LEVELS" dogp 0 node log level list
check "node log level list: on stderr, as Sheepdog's" test -z "$(dogp 0 node log level list 2>/dev/null)"
out=$(dogp 0 node log level set loud 2>&1); rc=$?
check "node log level set loud: exit 255" test "$rc" = 255
check "... Sheepdog's words and the levels" test "$out" = "$(printf 'invalid loglevel: loud\navailable loglevels:\n%s' "$LEVELS")"
check "node log level set info (back)" dogp 0 node log level set info

# ---- node vnodes set: Sheepdog's words --------------------------------------
expect_fail "node vnodes set in an auto cluster: 'Failed to execute request', exit 255" 255 \
	"^Failed to execute request$" dogp 0 node vnodes set 64
expect_fail "node vnodes set 0: Sheepdog's words, exit 64" 64 \
	"^Invalid number of vnodes '0': must be an integer between 1 and 65535$" dogp 0 node vnodes set 0

# ---- the subcommand list, in Sheepdog's order ------------------------------
expect_fail "dog node: the list, exit 64" 64 "Available node commands" "$DOG" node
check "dog node: kill list info recovery md stat log vnodes format" bash -c \
	"[ \"\$('$DOG' node 2>&1 | sed -n 's/^  node //p' | xargs)\" = 'kill list info recovery md stat log vnodes format' ]"
check "dog --help: node stat's line" bash -c "'$DOG' --help | grep -qx '  node stat               show stat information about the node'"

# ---- node stat ---------------------------------------------------------------
out=$(dogp 0 node stat)
check "node stat: Sheepdog's header" test "$(head -1 <<<"$out")" = \
	"$(printf 'Request\tActive\tTotal\tWrite\tRead\tRemove\tFlush\tAll WR\tAll RD')"
check "node stat: client requests counted (the writes through node 0)" bash -c \
	"awk -F'\t' '\$1 == \"Client\" {exit !(\$3 > 0)}' <<<'$out'"
check "node stat: a Peer line" grep -q "^Peer	" <<<"$out"
check "node stat -r: two lines of 8 fields" bash -c \
	"[ \"\$('$DOG' node stat -r -p $(port_of 0) | awk -F'\t' '{print NF}' | xargs)\" = '8 8' ]"
check "node stat -w: a header and two lines every second" bash -c \
	"timeout 1.5 '$DOG' node stat -w -p $(port_of 0) | grep -c '^Client	' | grep -qx '[12]'"

# ---- node format: Sheepdog's node_config file --------------------------------
mkdir -p "$T/nf"
check "node format DIR plain" "$DOG" node format "$T/nf" plain
check "... writes node_config: the store's name in 16 bytes" \
	cmp -s "$T/nf/node_config" <(printf 'plain'; head -c 11 /dev/zero)
expect_fail "node format again: the file exists, exit 2" 2 "^config file already exists: $T/nf/node_config$" \
	"$DOG" node format "$T/nf" tree
expect_fail "node format with a bad store: exit 2" 2 "^expected store format: plain, tree$" \
	"$DOG" node format "$T/nf" bogus
expect_fail "node format without a store: usage, exit 64" 64 "specify store format" "$DOG" node format "$T/nf"

# ---- node kill -----------------------------------------------------------------
expect_fail "node kill 7 (3 nodes): Sheepdog's words, exit 64" 64 "^Invalid node id '7'$" dogp 0 node kill 7
check "... and no usage after them" test "$(dogp 0 node kill 7 2>&1 | wc -l)" = 1
expect_fail "node kill x: not a number" 64 "^Invalid node id 'x', please specify a numeric value$" \
	dogp 0 node kill x
expect_fail "node kill without an id or -l" 64 "^please specify -l option or node id$" dogp 0 node kill
expect_fail "node kill -l with an id" 64 "^don't use -l option and specify node id at the same time$" \
	dogp 0 node kill -l 1
pid2=$(pid_of 2)
out_is "node kill 2: silent, exit 0" "" dogp 0 node kill 2
check "node 2's sheep exits" wait_dead "$pid2"
check "the others list two nodes" wait_members 0 0 1
check "cluster info: a new epoch of the two" retry 10 bash -c \
	"'$DOG' cluster info -p $(port_of 1) | grep -qE ' 2 \[127.0.0.1:$(port_of 0):[0-9]+, 127.0.0.1:$(port_of 1):[0-9]+\]$'"
pid1=$(pid_of 1)
out_is "node kill -l: the node addressed" "" dogp 1 node kill -l
check "node 1's sheep exits" wait_dead "$pid1"

# ---- a gateway offers no space (Sheepdog: Size 0) ------------------------------
check "a gateway (-g) joins" start_sheep 3 -g
check "two members" wait_members 0 0 3
check "node info -r: the gateway's line is 0 0 0" bash -c \
	"'$DOG' node info -r -p $(port_of 0) | grep -qx '1 0 0 0 0%'"

# ---- fixed vnodes (-V): format must say -V -------------------------------------
export CLUSTER=local:$T/c2
for i in 4 5; do check "node $i starts with -V 100" start_sheep $i -V 100; done
check "two members" wait_members 4 4 5
expect_fail "format without -V on fixed-vnodes nodes: Sheepdog's refusal" 1 \
	"^Need to specify the option of '-V', because there are vnode strategy of sheep is fixed in the cluster$" \
	dogp 4 cluster format -c 2
check "format -V" dogp 4 cluster format -c 2 -V
check "info -v: fixed strategy" bash -c "'$DOG' cluster info -v -p $(port_of 5) | grep -qx 'Cluster vnodes strategy: fixed'"
check "node vnodes set 50 in the fixed cluster" dogp 4 node vnodes set 50

finish
