#!/bin/bash
# local-cluster.sh - start (or stop) a local sheep cluster for trying things out.
#   ./local-cluster.sh [start]   start nodes on 127.0.0.1:7000.., stores under ./run/
#   ./local-cluster.sh stop      shut the cluster down (dog cluster shutdown)
# NODES (default 3) and PORT (default 7000) may be set in the environment;
# NBD=PORT makes node 0 export the VDIs over NBD on 127.0.0.1:PORT.
# A store is formatted once (copies = min(3, NODES)); later starts keep the data.
set -u
cd "$(dirname "$0")" || exit 1
NODES=${NODES:-3}
PORT=${PORT:-7000}
RUN=${RUN:-$PWD/run}
NBD=${NBD:-}

if [ "${1:-start}" = stop ]; then
	exec ./dog cluster shutdown -p "$PORT"
fi
[ -x ./sheep ] || make || exit 1
for i in $(seq 0 $((NODES - 1))); do
	p=$((PORT + i))
	if ./dog node list -p "$p" >/dev/null 2>&1; then
		echo "sheep on port $p is already running"
		continue
	fi
	nbd=()
	[ "$i" = 0 ] && [ -n "$NBD" ] && nbd=(--nbd "127.0.0.1:$NBD")
	./sheep -b 127.0.0.1 -p "$p" -z "$i" -c local:"$RUN/cluster" "${nbd[@]}" "$RUN/$i" || exit 1
	echo "started sheep $i on 127.0.0.1:$p (store $RUN/$i, log $RUN/$i/sheep.log)"
done
if ./dog cluster info -p "$PORT" | grep -q "Waiting for cluster to be formatted"; then
	copies=$(( NODES < 3 ? NODES : 3 ))
	./dog cluster format -c "$copies" -p "$PORT" || exit 1
fi
./dog cluster info -p "$PORT"
echo
./dog node list -p "$PORT"
echo
echo "Try:  ./dog vdi create disk0 1G -p $PORT && echo hello | ./dog vdi write disk0 -p $PORT"
echo "      ./dog vdi read disk0 0 6 -p $PORT && ./dog vdi list -p $PORT"
[ -n "$NBD" ] && echo "NBD:  qemu-img info -f raw nbd://127.0.0.1:$NBD/disk0; nbdinfo --list nbd://127.0.0.1:$NBD"
echo "Stop: ./local-cluster.sh stop"
