#!/bin/bash
# Bad input gets a clear error and an operator-friendly exit code, never a
# crash or a hang: bad daemon flags, bad sizes and names, unknown VDIs,
# operations on an unformatted cluster, out-of-range reads and writes.
TEST_PORT_OFFSET=20
source "$(dirname "$0")/../lib.sh"

# daemon flags
expect_fail "sheep rejects a bad port" 1 "^Invalid port number '99999'$" "$SHEEP" -p 99999 "$T/x"
expect_fail "sheep rejects port 0" 1 "^Invalid port number '0'$" "$SHEEP" -p 0 "$T/x"
expect_fail "sheep rejects an unknown driver" 1 "cannot start the cluster driver|unknown cluster driver" \
	"$SHEEP" -f -o -b 127.0.0.1 -p "$(port_of 9)" -c nosuchdriver "$T/x"
expect_fail "sheep rejects a bad zone" 1 "^Invalid zone id 'abc': must be an integer between 0 and 4294967295$" "$SHEEP" -z abc "$T/x"
expect_fail "sheep rejects a bad log level" 1 "invalid log level" "$SHEEP" -l level=loud "$T/x"
expect_fail "sheep rejects an unknown option" 64 "Usage" "$SHEEP" --frobnicate "$T/x"
expect_fail "sheep rejects two store dirs" 1 "unexpected argument" "$SHEEP" "$T/x" "$T/y"
check "sheep --help exits 0" bash -c "'$SHEEP' --help | grep -q Usage"
check "sheep -v lists the local driver" bash -c "'$SHEEP' -v | grep -q 'Cluster drivers:.*local'"

check "sheep starts (with an IO address)" start_sheep 0 -i host=127.0.0.1,port=$(port_of 5)
check "the IO address serves the protocol too" dogp 5 node list
expect_fail "sheep rejects a bad IO address" 1 "invalid IO address" "$SHEEP" -i host=300.1.2.3 "$T/x"
expect_fail "sheep rejects a bad IO option" 1 "invalid --ioaddr option" "$SHEEP" -i nic=eth1 "$T/x"
expect_fail "sheep rejects an IO port without an IO host" 1 "needs host=IP" "$SHEEP" -i port=7100 "$T/x"
expect_fail "sheep rejects an IO address that is not this host's" 1 \
	"IO address 192.0.2.1: not an address of this host" "$SHEEP" -i host=192.0.2.1 "$T/x"
expect_fail "... also with an IO port of its own" 1 \
	"IO address 192.0.2.1: not an address of this host" "$SHEEP" -i host=192.0.2.1,port=7100 "$T/x"
# the guide's `-i host=IP` (no port) with the main listener on every address:
# the main one serves the IO address (Sheepdog: "Address already in use")
check "sheep -i host=127.0.0.2 without -b starts" "$SHEEP" -p "$(port_of 6)" -P "$T/6.pid" \
	-c "local:$T/c6" -i host=127.0.0.2 "$T/6"
[ -s "$T/6.pid" ] && PIDS+=("$(cat "$T/6.pid")")
check "... and answers on its IO address" "$DOG" node list -a 127.0.0.2 -p "$(port_of 6)"
check "... which dog node list -i shows" bash -c \
	"'$DOG' node list -i -p $(port_of 6) | grep -q '127.0.0.2:$(port_of 6)\$'"
check "... and dog node list -r -i as a last field" bash -c \
	"'$DOG' node list -r -i -p $(port_of 6) | grep -qx '0 [0-9.]*:$(port_of 6) [0-9]* [0-9]* 127.0.0.2:$(port_of 6)'"
check "... and --ioaddr, as its help says" bash -c \
	"'$DOG' node list -h | grep -q -- '-i, --ioaddr' && '$DOG' node list --ioaddr -p $(port_of 6) | grep -q '127.0.0.2:$(port_of 6)\$'"
check "dog node list without -i is unchanged" bash -c \
	"'$DOG' node list -p $(port_of 6) | head -1 | grep -qx '  Id   Host:Port         V-Nodes       Zone'"
kill "$(cat "$T/6.pid")"
expect_fail "a second sheep on the same store is refused" 1 "already using" \
	"$SHEEP" -b 127.0.0.1 -p "$(port_of 1)" "$T/0"
expect_fail "a second sheep on the same port is refused" 1 "cannot listen" \
	"$SHEEP" -b 127.0.0.1 -p "$(port_of 0)" "$T/other"

# unformatted cluster
expect_fail "vdi create before format" 1 "Waiting for cluster to be formatted" dogp 0 vdi create a 1G
check "vdi list before format lists nothing" test "$(dogp 0 vdi list -r | wc -l)" -eq 0
check "cluster info before format says waiting" \
	bash -c "'$DOG' cluster info -p $(port_of 0) | grep -q 'Waiting for cluster to be formatted'"
expect_fail "format with 0 copies" 1 "^Invalid parameter 0$" dogp 0 cluster format -c 0
expect_fail "format with 99 copies" 1 "x\(1 to 31\)" dogp 0 cluster format -c 99
check "format" dogp 0 cluster format -c 1

# dog usage
# (Sheepdog's words and exits: the help and 0 without a command)
check "dog without a command prints the help, exit 0" bash -c "'$DOG' | grep -q '^  vdi create  *create an image'"
expect_fail "dog with an unknown command" 64 "Invalid command 'frob'" "$DOG" frob
expect_fail "dog with an unknown subcommand" 64 "Invalid command 'vdi frob'" "$DOG" vdi frob
expect_fail "dog with a command but no subcommand" 64 "Available vdi commands:" "$DOG" vdi
expect_fail "dog with an unknown option" 64 "unrecognized option '--frob'" dogp 0 vdi list --frob
expect_fail "dog with an unknown short option" 64 "invalid option -- 'q'" dogp 0 vdi list -q
expect_fail "dog with an option missing its argument" 64 "option requires an argument -- 'c'" \
	dogp 0 vdi create -c
expect_fail "dog to a port nobody listens on" 2 "failed to connect" "$DOG" vdi list -p "$(port_of 8)"
expect_fail "dog with a bad port" 64 "Invalid port" "$DOG" vdi list -p 70000

# sizes and names
expect_fail "vdi create without a size" 64 "specify the VDI size" dogp 0 vdi create a
expect_fail "vdi create with size 0" 64 "Invalid size" dogp 0 vdi create a 0
expect_fail "vdi create with a negative size" 64 "Invalid size|invalid option" dogp 0 vdi create a -5G
expect_fail "vdi create with a negative size after --" 64 "Invalid size" dogp 0 vdi create -- a -5G
expect_fail "vdi create with a junk size" 64 "Invalid size" dogp 0 vdi create a 10Q
expect_fail "vdi create with a fraction of a byte" 64 "Invalid size" dogp 0 vdi create a 1.5
expect_fail "vdi create over 4 TiB" 64 "larger than" dogp 0 vdi create a 5T
expect_fail "vdi create with a 300-character name" 64 "Invalid VDI name" \
	dogp 0 vdi create "$(printf 'n%.0s' $(seq 300))" 1G
check "vdi create exactly 4 TiB" dogp 0 vdi create max 4T
check "vdi create a" dogp 0 vdi create a 10M
check "vdi create with a fractional size" dogp 0 vdi create frac 1.5M
check "fractional size is exact" bash -c "'$DOG' vdi list -r frac -p $(port_of 0) | grep -q '^= frac 0 1572864 '"
# as Sheepdog: more copies than nodes is allowed (placement takes min(copies, zones))
check "vdi create with more copies than nodes" dogp 0 vdi create c2 1G -c 2
expect_fail "vdi create -c 0: Sheepdog's help on -c" 1 "^  x\(1 to 31\)   - number of replicated copies$" \
	dogp 0 vdi create c0 1G -c 0
expect_fail "vdi create -c 2:1 (erasure coding) is not supported" 1 "Erasure coded redundancy" \
	dogp 0 vdi create c0 1G -c 2:1
expect_fail "vdi create -z 19" 1 "^Object Size is larger than 2\^20. Please set shift bit larger than 20$" \
	dogp 0 vdi create z19 1G -z 19
expect_fail "a bad port in SHEEPDOG_DOG_PORT" 64 "^Invalid port number 'x'$" \
	env SHEEPDOG_DOG_PORT=x "$DOG" vdi list
check "SHEEPDOG_DOG_PORT names the sheep" bash -c "SHEEPDOG_DOG_PORT=$(port_of 0) '$DOG' vdi list -r | grep -q '^= c2 '"
expect_fail "a bad address" 1 "^Invalid ip address no.such.host.invalid$" \
	dogp 0 vdi list -a no.such.host.invalid
check "-T prints the elapsed time" bash -c "'$DOG' vdi list -T -p $(port_of 0) | grep -qE '^Elapsed time: [0-9]+\.[0-9]{3} seconds$'"
expect_fail "snapshot id 0" 1 "^The snapshot id must be larger than zero$" dogp 0 vdi read -s 0 a
expect_fail "format of a cluster with VDIs asks first; no means no" 0 "Caution! The cluster is not empty" \
	bash -c "echo no | '$DOG' cluster format -c 1 -p $(port_of 0)"
check "the VDIs survive a refused format" bash -c "'$DOG' vdi list -r a -p $(port_of 0) | grep -q '^= a '"
expect_fail "format with an unknown backend store" 2 "No targeted backend store" \
	dogp 0 cluster format -b weird -f
expect_fail "vdi create of an existing name" 1 "Failed to create VDI a: VDI exists already" dogp 0 vdi create a 10M

# unknown VDIs
expect_fail "read an unknown VDI" 1 "No VDI found" dogp 0 vdi read nope
expect_fail "write an unknown VDI" 1 "Failed to open VDI nope" dogp 0 vdi write nope </dev/null
# Sheepdog's message; its dog means EXIT_MISSING (5) there but exits 0
expect_fail "delete an unknown VDI" 5 \
	"^Failed to open VDI nope \\(snapshot id: 0 snapshot tag: \\): No VDI found$" dogp 0 vdi delete nope
expect_fail "resize an unknown VDI" 1 "No VDI found" dogp 0 vdi resize nope 1G

# ranges
expect_fail "read starting past the end" 1 "Read offset is beyond the end of the VDI" dogp 0 vdi read a 11M
check "read at the very end gives nothing" test "$(dogp 0 vdi read a 10M 1 | wc -c)" -eq 0
check "a read length past the end is clamped" test "$(dogp 0 vdi read a 9M 5M | wc -c)" -eq $((1 << 20))
expect_fail "read at a bad offset" 64 "Invalid size 'xyz'" dogp 0 vdi read a xyz
expect_fail "write starting past the end" 1 "Write offset is beyond the end of the VDI" \
	dogp 0 vdi write a 11M 1M </dev/null
head -c 2M /dev/urandom >"$T/two"
check "a write length past the end is clamped" dogp 0 vdi write a 9M 2M <"$T/two"
check "the clamped write stored the first part" cmp -s <(head -c 1M "$T/two") <(dogp 0 vdi read a 9M)
# short input: zeros for the rest of the piece, silently, as Sheepdog's dog
head -c 1000 /dev/urandom >"$T/k"
check "fill the first MiB" dogp 0 vdi write a 0 1M <"$T/two"
check "write with short input succeeds" dogp 0 vdi write a 0 1M <"$T/k"
check "the short write kept what it got and zero-filled the rest" \
	cmp -s <(cat "$T/k"; head -c $((1048576 - 1000)) /dev/zero) <(dogp 0 vdi read a 0 1M)
expect_fail "resize smaller" 64 "Shrinking VDIs is not implemented" dogp 0 vdi resize a 1M
expect_fail "resize over 4 TiB" 64 "too large" dogp 0 vdi resize a 5T
check "read of the whole VDI gives its size" \
	test "$(dogp 0 vdi read a | wc -c)" -eq $((10 * 1024 * 1024))

check "sheep still running" kill -0 "$(pid_of 0)"
finish
