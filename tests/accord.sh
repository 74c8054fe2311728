# tests/accord.sh - real Accord conductors for the accord driver's suites;
# source it after tests/lib.sh and tests/netns.sh.
#
#   ac_need          the conductor built from ../shared (tools/build-accord.sh,
#                    Accord's untouched upstream source in vendor/) into
#                    /tmp/sheep-accord-<checksum>, reused while the tarball and
#                    the script are unchanged; a failed build fails the suite.
#                    Without ../shared (a user's own clone) it prints SKIP with
#                    the reason and exits; ACCORD_SHARED=DIR points elsewhere.
#   ac_start I       a conductor in host I (corosync must run there: cs_start),
#                    in-memory store, port AC_PORT; log in $T/ac/nI
#   ac_kill I        kill -9 it;  ac_addr I: "IP:PORT" of host I's conductor
#
# The conductors are killed by the EXIT trap with everything else in the
# namespaces (netns.sh); nothing here kills by name.

AC_PORT=${AC_PORT:-$((PORT_BASE + 90))}
AC_PIDS=()

ac_need() {
	local shared=${ACCORD_SHARED:-$TOP/../shared} common sum dir
	if [ -z "${ACCORD_SHARED:-}" ] && [ ! -d "$shared" ] &&
		common=$(git -C "$TOP" rev-parse --path-format=absolute --git-common-dir 2>/dev/null); then
		shared=$(dirname "$common")/../shared	# a git worktree: beside the main checkout
	fi
	local builder=$shared/tools/build-accord.sh tarball=$shared/vendor/accord-1ee1b41.tar.gz
	if [ ! -f "$builder" ] || [ ! -f "$tarball" ]; then
		echo "SKIP: $TEST_NAME: no Accord source here ($builder and $tarball are missing)"
		exit 0
	fi
	sum=$(cat "$builder" "$tarball" | sha1sum | cut -c1-12)
	dir=/tmp/sheep-accord-$sum
	CONDUCTOR=$dir/accord/conductor/conductor
	if [ ! -x "$CONDUCTOR" ]; then
		rm -rf "$dir.tmp"
		if ! bash "$builder" "$dir.tmp" >"$T/accord-build.log" 2>&1; then
			fail "build Accord's conductor ($builder): $(tail -5 "$T/accord-build.log")"
			finish
			exit 1
		fi
		rm -rf "$dir" && mv "$dir.tmp" "$dir"
	fi
}

ac_addr() { echo "$(ip_of "$1"):$AC_PORT"; }

# ac_start I: the conductor of host I, answering once it listens
ac_start() {
	local i=$1 d="$T/ac/n$1" k
	mkdir -p "$d"
	# nsenter execs the conductor: $! is the conductor itself
	nsenter --net="/run/netns/$(ns_name "$i")" -- "$CONDUCTOR" -f -m -p "$AC_PORT" "$d" \
		>>"$d/stdout" 2>&1 &
	AC_PIDS[i]=$!
	CS_PIDS+=("$!")	# netns.sh's teardown kills it with the corosyncs
	disown "$!"
	for k in $(seq 1 100); do
		on_node "$i" bash -c "exec 3<>/dev/tcp/$(ip_of "$i")/$AC_PORT" 2>/dev/null && return 0
		kill -0 "${AC_PIDS[i]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "conductor $i did not start: $(tail -3 "$d/acrd.log" "$d/stdout" 2>/dev/null)"
	return 1
}

ac_kill() {
	local p=${AC_PIDS[$1]:-}
	[ -n "$p" ] || return 1
	kill -9 "$p" 2>/dev/null
	wait_dead "$p"
}
