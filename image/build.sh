#!/bin/bash
# image/build.sh - the sheep appliance, from Debian packages only, without root.
#
#   image/out/vmlinuz, image/out/sheep-initrd.gz   the PXE pair (and -kernel/-initrd)
#   image/out/tftp/                                a TFTP root: pxelinux.0,
#                                                  ldlinux.c32, pxelinux.cfg/default
#   image/out/sheep.iso                            hybrid ISO: boots as CD and as disk
#
# The .debs are fetched with `apt-get download` into image/cache (kept by
# `make clean`) and unpacked there; nothing is installed on the build host.
# Usage: image/build.sh SHEEP_BINARY (a static one: make static)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SHEEP_BIN=$(realpath "${1:?usage: image/build.sh STATIC_SHEEP_BINARY}")
CACHE=$HERE/cache
OUT=$HERE/out
PKGS="busybox-static pxelinux syslinux-common isolinux"
# Debian's corosync (sheep.cluster=corosync): the daemon, three of its tools,
# and the packages of the libraries they load (found with ldd below; a library
# missing from this list stops the build and names itself)
COROSYNC_PKGS="corosync libcorosync-common4 libqb100 libknet1 libnozzle1 libstatgrab10
	libsystemd0 libcap2 libgcrypt20 libgpg-error0 liblzma5 libzstd1 liblz4-1 libnl-3-200
	libnl-route-3-200 libcfg7 libcmap4 libquorum5 libvotequorum8 libcpg4 libc6"
COROSYNC_BINS="corosync corosync-quorumtool corosync-cfgtool corosync-cpgtool"
# the kernel's NBD client (nbd.ko, in MODULES) is driven by Debian's nbd-client
# (`nbd-client HOST PORT /dev/nbd0 -N VDI`); its libraries come the same way
NBD_PKGS="nbd-client libgnutls30 libnl-genl-3-200 libp11-kit0 libidn2-0 libunistring2
	libtasn1-6 libnettle8 libhogweed6 libgmp10 libffi8"
# a blank store disk gets ext4 with a journal from e2fsprogs' mke2fs (as
# mkfs.ext4): busybox's mke2fs makes ext2, which a power cut can leave with
# broken metadata
E2FS_PKGS="e2fsprogs libext2fs2 libcom-err2 libblkid1 libuuid1"
# the knet plugins (dlopen'ed, so ldd does not see them) whose libraries the
# image has anyway; crypto_nss would add NSS (~1.3 MiB): the ring is unencrypted
KNET_PLUGINS=${KNET_PLUGINS:-"compress_lz4 compress_lz4hc compress_zstd compress_lzma"}
# the NIC and disk drivers the initramfs carries (their dependencies are added)
MODULES="virtio_pci virtio_net e1000 virtio_blk ext4 crc32c_generic nbd"
# console on both the serial line and the screen; the last one is /dev/console
BOOT_ARGS="console=tty0 console=ttyS0"
DEFAULT_ARGS="sheep.cluster=local sheep.store=tmpfs ip=dhcp"

readelf -d "$SHEEP_BIN" 2>&1 | grep -q "no dynamic section" ||
	{ echo "build.sh: $SHEEP_BIN is not statically linked (make static)" >&2; exit 1; }

# ---- packages --------------------------------------------------------------
mkdir -p "$CACHE/debs"
kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$kpkg" ] || { echo "build.sh: apt-cache knows no linux-image-amd64 (apt-get update?)" >&2; exit 1; }
for p in $PKGS $COROSYNC_PKGS $NBD_PKGS $E2FS_PKGS $kpkg; do
	if ! ls "$CACHE/debs/${p}_"*.deb >/dev/null 2>&1; then
		(cd "$CACHE/debs" && apt-get download "$p" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
		ls "$CACHE/debs/${p}_"*.deb >/dev/null 2>&1 ||
			{ echo "build.sh: cannot download $p" >&2; exit 1; }
	fi
done
X=$CACHE/x
mkdir -p "$X/.unpacked"
for d in "$CACHE/debs"/*.deb; do	# each .deb once
	[ -e "$X/.unpacked/${d##*/}" ] && continue
	dpkg-deb -x "$d" "$X"
	touch "$X/.unpacked/${d##*/}"
done
kver=${kpkg#linux-image-}
KMOD=$X/lib/modules/$kver/kernel

# ---- initramfs ---------------------------------------------------------------
R=$(mktemp -d)
trap 'rm -rf "$R"' EXIT
mkdir -p "$R"/{bin,sbin,etc,lib/modules,proc,sys,dev,run,tmp,store}
cp "$X/bin/busybox" "$R/bin/busybox"
cp "$SHEEP_BIN" "$R/sbin/sheep"
ln -s sheep "$R/sbin/dog"
ln -s busybox "$R/bin/sh"

# corosync: the binaries, and the libraries the cached Debian loader resolves
# for them (ldd with the cache's libraries only; none from the build host)
LIBDIRS=$X/lib/x86_64-linux-gnu:$X/usr/lib/x86_64-linux-gnu
LDSO=$X/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
KNET=usr/lib/x86_64-linux-gnu/kronosnet
bins=()
for b in $COROSYNC_BINS; do bins+=("$X/usr/sbin/$b"); done
for p in $KNET_PLUGINS; do bins+=("$X/$KNET/$p.so"); done
bins+=("$X/sbin/nbd-client" "$X/sbin/mke2fs")
mkdir -p "$R/usr/sbin" "$R/$KNET" "$R/lib64" "$R/etc/corosync" "$R/var/lib/corosync" "$R/var/log"
for b in "${bins[@]}"; do
	[ -e "$b" ] || { echo "build.sh: no $b in the unpacked packages" >&2; exit 1; }
	cp "$b" "$R/${b#"$X"/}"
	"$LDSO" --library-path "$LIBDIRS" --list "$b" | awk '/=>/ { print $1, $3 }'
done | sort -u | while read -r lib path; do
	case "$path" in
	"$X"/*) ;;
	*) echo "build.sh: corosync needs $lib ($path), not in the cached packages (add its package to COROSYNC_PKGS, NBD_PKGS or E2FS_PKGS)" >&2
		exit 1 ;;
	esac
	mkdir -p "$R/$(dirname "${path#"$X"/}")"
	cp -L "$path" "$R/${path#"$X"/}"
done
cp -L "$LDSO" "$R/lib/x86_64-linux-gnu/"
ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$R/lib64/ld-linux-x86-64.so.2"
mv "$R/sbin/mke2fs" "$R/usr/sbin/mkfs.ext4"	# busybox --install keeps its own mke2fs
cp "$X/etc/mke2fs.conf" "$R/etc/"
strip --strip-unneeded "$R/usr/sbin/"corosync* "$R/usr/sbin/mkfs.ext4" "$R/sbin/nbd-client" "$R/lib/x86_64-linux-gnu/"* "$R/usr/lib/x86_64-linux-gnu/"*.so* \
	"$R/$KNET/"*.so 2>/dev/null || true
install -m 755 "$HERE/init" "$R/init"
cat >"$R/etc/udhcpc.script" <<'EOF'
#!/bin/sh
# udhcpc calls this with the lease in its environment
case "$1" in
deconfig) ip addr flush dev "$interface" ;;
bound | renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	for r in $router; do ip route add default via "$r" dev "$interface" && break; done
	: >/etc/resolv.conf
	for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
	;;
esac
EOF
chmod 755 "$R/etc/udhcpc.script"

# modules with their dependencies first (from each module's .modinfo)
modpath() { find "$KMOD" -name "$1.ko" | head -1; }
moddeps() { tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | tr ',' ' '; }
declare -A seen=()
order=()
add_mod() {
	local m=$1 f d
	[ -n "${seen[$m]:-}" ] && return
	seen[$m]=1
	f=$(modpath "$m")
	[ -n "$f" ] || { echo "build.sh: no module $m in $kpkg" >&2; exit 1; }
	for d in $(moddeps "$f"); do add_mod "$d"; done
	cp "$f" "$R/lib/modules/$m.ko"
	order+=("$m")
}
for m in $MODULES; do add_mod "$m"; done
printf '%s\n' "${order[@]}" >"$R/lib/modules/order"

mkdir -p "$OUT"
cp "$X/boot/vmlinuz-$kver" "$OUT/vmlinuz"
(cd "$R" && find . | sort | cpio -o -H newc -R 0:0 --quiet | gzip -9) >"$OUT/sheep-initrd.gz"

# ---- PXE -------------------------------------------------------------------
T=$OUT/tftp
rm -rf "$T"
mkdir -p "$T/pxelinux.cfg"
cp "$X/usr/lib/PXELINUX/pxelinux.0" "$X/usr/lib/syslinux/modules/bios/ldlinux.c32" "$T/"
cp "$OUT/vmlinuz" "$OUT/sheep-initrd.gz" "$T/"
syslinux_cfg() {	# syslinux_cfg ARGS: a config that boots the appliance at once
	cat <<EOF
# sheep appliance: edit APPEND (sheep.cluster=, sheep.zone=, ip=, sheep.store=, ...)
SERIAL 0 115200
DEFAULT sheep
PROMPT 0
TIMEOUT 0
LABEL sheep
  KERNEL vmlinuz
  INITRD sheep-initrd.gz
  APPEND $BOOT_ARGS $1
EOF
}
syslinux_cfg "${PXE_ARGS:-$DEFAULT_ARGS}" >"$T/pxelinux.cfg/default"

# ---- hybrid ISO ----------------------------------------------------------------
I=$(mktemp -d)
trap 'rm -rf "$R" "$I"' EXIT
mkdir -p "$I/isolinux"
cp "$X/usr/lib/ISOLINUX/isolinux.bin" "$X/usr/lib/syslinux/modules/bios/ldlinux.c32" "$I/isolinux/"
cp "$OUT/vmlinuz" "$OUT/sheep-initrd.gz" "$I/isolinux/"
syslinux_cfg "${ISO_ARGS:-$DEFAULT_ARGS}" >"$I/isolinux/isolinux.cfg"
xorriso -as mkisofs -quiet -o "$OUT/sheep.iso" -V SHEEP \
	-isohybrid-mbr "$X/usr/lib/ISOLINUX/isohdpfx.bin" \
	-c isolinux/boot.cat -b isolinux/isolinux.bin \
	-no-emul-boot -boot-load-size 4 -boot-info-table "$I" 2>&1 | grep -v "^xorriso : NOTE" || true
[ -s "$OUT/sheep.iso" ] || { echo "build.sh: xorriso made no ISO" >&2; exit 1; }

size() { stat -c %s "$1" | awk '{ printf "%.1f MiB", $1 / 1048576 }'; }
echo "image: $OUT/vmlinuz ($(size "$OUT/vmlinuz")), $OUT/sheep-initrd.gz ($(size "$OUT/sheep-initrd.gz")),"
echo "       $OUT/sheep.iso ($(size "$OUT/sheep.iso")), PXE root $T (kernel $kver)"
