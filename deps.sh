#!/bin/bash
# deps.sh - install, from Debian's packages, everything sheep's build, tests,
# `make bench`, `make image` and CI need. Runs as root, or through sudo when
# there is one.  Used by the README's first command and by .ci/run.
set -euo pipefail
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
packages=(
	# build, static binary, checks
	build-essential musl-tools libzookeeper-mt-dev clang libclang-rt-14-dev cppcheck binutils
	# make static builds musl corosync client libs from Debian's sources (musl-corosync.sh)
	dpkg-dev patch xz-utils
	# the corosync driver: its client libraries, and corosync itself for the tests
	corosync libcpg-dev libquorum-dev libcfg-dev nftables
	# cluster tests: ZooKeeper, tgt + libiscsi, QEMU's sheepdog/iSCSI clients, network namespaces
	python3 util-linux iproute2 zookeeper tgt libiscsi-bin qemu-utils qemu-block-extra
	# the appliance and its boot tests
	qemu-system-x86 seabios ipxe-qemu xorriso cpio
	# make bench's baselines
	fio iperf3
	# the NBD export's clients (tests/cluster/nbd.sh, fio's nbd engine), the NBD baselines,
	# dumpe2fs for appliance_nbd.sh
	nbdkit libnbd-bin python3-libnbd nbd-client e2fsprogs
	# tests/cluster/compat.sh builds Sheepdog 1.0 itself as the other side
	autoconf automake libtool pkg-config liburcu-dev yasm
	# the accord tests build Accord's conductor (BerkeleyDB, CPG) as the other side
	libdb-dev
)
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
