#!/bin/bash
# musl-corosync.sh - the corosync client libraries for the static (musl) sheep.
#
# Debian ships libcpg, libquorum, libcfg and libqb only as shared glibc libraries, so this builds static
# musl ones from Debian's source packages (libqb, corosync) into DIR:
#   DIR/lib/libqb.a                   libqb: its own configure with CC=musl-gcc, only lib/ is built
#   DIR/lib/libcpg.a libquorum.a libcfg.a libcorosync_common.a
#                                     corosync's lib/cpg.c, lib/quorum.c, lib/cfg.c, common_lib/error_conversion.c
#   DIR/include/qb, DIR/include/corosync   their headers, nothing else (a musl build must never see glibc's
#                                     /usr/include; the Makefile reaches these through symlinks in static/inc)
# The sources come from `apt-get source --download-only` run with a private apt configuration in DIR/apt: it
# holds deb-src entries for the Debian suites and mirrors this machine's apt already uses, so the system's apt
# is left as it is and no root is needed. Downloads are checked against the .dsc (itself checked by apt);
# Debian's patches are applied when the mirror has the debian tarball.
# DIR is kept by `make clean` and removed by `make distclean`; a second run with the same script does nothing.
# Usage: musl-corosync.sh DIR     (make static calls it with DIR=static-cache)
set -euo pipefail
DIR=${1:?usage: musl-corosync.sh DIR}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
SELF=$(sha256sum "$0" | cut -d' ' -f1)
STAMP=$DIR/.done
MUSL_CC=${MUSL_CC:-musl-gcc}
LIBS="libqb.a libcpg.a libquorum.a libcfg.a libcorosync_common.a"

say() { echo "musl-corosync.sh: $*" >&2; }
die() { say "$*"; exit 1; }

built() {
	[ "$(cat "$STAMP" 2>/dev/null)" = "$SELF" ] || return 1
	for l in $LIBS; do [ -e "$DIR/lib/$l" ] || return 1; done
	[ -e "$DIR/include/qb/qbipcc.h" ] && [ -e "$DIR/include/corosync/cpg.h" ]
}
if built; then
	touch "$STAMP"
	exit 0
fi
command -v "$MUSL_CC" >/dev/null || die "no $MUSL_CC (apt-get install musl-tools, or run deps.sh)"
start=$(date +%s)

# ---- sources -------------------------------------------------------------------------------------
APTD=$DIR/apt
SRC=$DIR/src
APT=(-o Dir::Etc::SourceList="$APTD/sources.list" -o Dir::Etc::SourceParts="$APTD/parts"
	-o Dir::State::Lists="$APTD/lists" -o Dir::Cache="$APTD/cache" -o Acquire::Languages=none
	-o APT::Sandbox::User=root -q)

# deb-src lines for every Debian suite this machine's apt knows (same mirror, same suite names)
write_sources() {
	local key=/usr/share/keyrings/debian-archive-keyring.gpg opt=
	[ -e "$key" ] && opt="[signed-by=$key] "
	mkdir -p "$APTD/parts" "$APTD/lists/partial" "$APTD/cache/archives/partial"
	# shellcheck disable=SC2016 # apt's own $(FIELD) syntax
	apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' \
		'Created-By: Packages' 'Origin: Debian' | sort -u |
		awk -v o="$opt" 'NF == 3 { print "deb-src " o $1 " " $2 " " $3 }' >"$APTD/sources.all"
	if [ ! -s "$APTD/sources.all" ]; then
		local codename
		# shellcheck disable=SC1091
		codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
		say "apt knows no Debian suite (apt-get update?): using deb.debian.org $codename"
		echo "deb-src ${opt}http://deb.debian.org/debian $codename main" >"$APTD/sources.all"
	fi
	# a mirror that carries the security suite's index but not its pool: the main suites alone
	grep -v -- '-security ' "$APTD/sources.all" >"$APTD/sources.main" || true
}

# the upstream tarball in directory $1 (not its .asc signature), or nothing
orig_in() {
	local f
	for f in "$1"/*.orig.tar.*; do
		case $f in *.asc) ;; *) [ -e "$f" ] && echo "$f" && return 0 ;; esac
	done
	return 1
}

# the files a .dsc names, with their sha256: "HASH SIZE NAME" lines
dsc_files() {
	awk '/^Checksums-Sha256:/ { on = 1; next } /^[^ ]/ { on = 0 } on && NF == 3 { print }' "$1"
}

# fetch PKG into $SRC/PKG: the .dsc and every file it names that the mirror has; the orig tarball must
# be there and every file present must match its hash. Returns 1 when that does not hold.
fetch_with() {
	local list=$1 pkg=$2 dl dsc h _size name
	dl=$SRC/$pkg.dl
	if ! cmp -s "$list" "$APTD/sources.list"; then
		cp "$list" "$APTD/sources.list"
		apt-get "${APT[@]}" update >"$APTD/update.log" 2>&1 ||
			say "apt-get update said: $(tail -1 "$APTD/update.log")"
	fi
	rm -rf "$dl"
	mkdir -p "$dl"
	(cd "$dl" && apt-get "${APT[@]}" source --download-only "$pkg") >"$dl.log" 2>&1 || true
	dsc=$(find "$dl" -maxdepth 1 -name '*.dsc' | head -1)
	[ -n "$dsc" ] || return 1
	orig_in "$dl" >/dev/null || return 1
	while read -r h _size name; do
		[ -e "$dl/$name" ] || continue
		echo "$h  $dl/$name" | sha256sum -c --quiet - >/dev/null 2>&1 || { say "$name: bad sha256"; return 1; }
	done < <(dsc_files "$dsc")
	rm -rf "${SRC:?}/$pkg"
	mv "$dl" "$SRC/$pkg"
}

fetch() {
	local pkg=$1
	ls "$SRC/$pkg"/*.dsc >/dev/null 2>&1 && return 0
	mkdir -p "$SRC"
	write_sources
	fetch_with "$APTD/sources.all" "$pkg" || fetch_with "$APTD/sources.main" "$pkg" ||
		die "cannot download Debian's source of $pkg: $(grep '^E:' "$SRC/$pkg.dl.log" | head -2)"
	say "downloaded $(basename "$SRC/$pkg"/*.dsc .dsc)"
}

# unpack PKG's orig tarball into $B/PKG and apply Debian's patches when its debian tarball is there
unpack() {
	local pkg=$1 d=$B/$1 orig deb p opt
	orig=$(orig_in "$SRC/$pkg")
	mkdir -p "$d"
	tar -xf "$orig" -C "$d" --strip-components=1 --no-same-owner
	deb=$(find "$SRC/$pkg" -maxdepth 1 -name '*.debian.tar.*' | head -1)
	if [ -z "$deb" ]; then
		say "$pkg: the mirror has no debian tarball: building the upstream source without Debian's patches"
		return 0
	fi
	tar -xf "$deb" -C "$d" --no-same-owner
	[ -e "$d/debian/patches/series" ] || return 0
	while read -r p opt; do
		case $p in '' | '#'*) continue ;; esac
		patch -d "$d" -s -N --no-backup-if-mismatch "${opt:--p1}" <"$d/debian/patches/$p" ||
			die "$pkg: Debian's patch $p does not apply"
	done <"$d/debian/patches/series"
}

fetch libqb
fetch corosync
# the Sources indexes (~20 MB) served only these downloads
rm -rf "$APTD/lists" "$APTD/cache" "$APTD/sources.list"

# ---- build ----------------------------------------------------------------------------------------
B=$DIR/build
rm -rf "${B:?}" "${DIR:?}/lib" "$DIR/include" "$STAMP"
mkdir -p "$B" "$DIR/lib" "$DIR/include/qb" "$DIR/include/corosync"
unpack libqb
unpack corosync

say "building libqb with $MUSL_CC"
(cd "$B/libqb" && CC=$MUSL_CC ./configure --enable-static --disable-shared --disable-systemd-journal \
	--disable-dependency-tracking && make -j2 -C lib) >"$B/libqb.log" 2>&1 ||
	die "libqb build failed: see $B/libqb.log"
cp "$B/libqb/lib/.libs/libqb.a" "$DIR/lib/"
cp "$B/libqb/include/qb/"*.h "$DIR/include/qb/"

say "building libcpg, libquorum, libcfg with $MUSL_CC"
C=$B/corosync
# all the client libraries want from corosync's configure: where the daemon keeps its run files
mkdir -p "$B/cs-config"
echo '#define LOCALSTATEDIR "/var"' >"$B/cs-config/config.h"
cc_cs() {
	$MUSL_CC -std=gnu11 -O2 -D_GNU_SOURCE -pthread -I"$B/cs-config" -I"$C/include" -I"$C/lib" \
		-I"$DIR/include" -c -o "$B/$(basename "$1" .c).o" "$C/$1" 2>>"$B/corosync.log" ||
		die "corosync: $1 does not compile: see $B/corosync.log"
}
for f in lib/cpg.c lib/quorum.c lib/cfg.c common_lib/error_conversion.c; do
	cc_cs "$f"
done
ar rcs "$DIR/lib/libcpg.a" "$B/cpg.o"
ar rcs "$DIR/lib/libquorum.a" "$B/quorum.o"
ar rcs "$DIR/lib/libcfg.a" "$B/cfg.o"
ar rcs "$DIR/lib/libcorosync_common.a" "$B/error_conversion.o"
for h in "$C/include/corosync/"*.h; do
	cp "$h" "$DIR/include/corosync/"
done

echo "$SELF" >"$STAMP"
built || die "the build left something out"
rm -rf "$B"
say "done in $(($(date +%s) - start)) s: $DIR/lib"
