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
# the NIC and disk drivers the initramfs carries (their dependencies are added)
MODULES="virtio_pci virtio_net e1000 virtio_blk ext4 crc32c_generic"
# console on both the serial line and the screen; the last one is /dev/console
BOOT_ARGS="console=tty0 console=ttyS0"
DEFAULT_ARGS="sheep.cluster=local sheep.store=tmpfs ip=dhcp"

readelf -d "$SHEEP_BIN" 2>&1 | grep -q "no dynamic section" ||
	{ echo "build.sh: $SHEEP_BIN is not statically linked (make static)" >&2; exit 1; }

# ---- packages --------------------------------------------------------------
mkdir -p "$CACHE/debs"
kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$kpkg" ] || { echo "build.sh: apt-cache knows no linux-image-amd64 (apt-get update?)" >&2; exit 1; }
for p in $PKGS $kpkg; do
	if ! ls "$CACHE/debs/${p}_"*.deb >/dev/null 2>&1; then
		(cd "$CACHE/debs" && apt-get download "$p" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
		ls "$CACHE/debs/${p}_"*.deb >/dev/null 2>&1 ||
			{ echo "build.sh: cannot download $p" >&2; exit 1; }
	fi
done
X=$CACHE/x
if [ ! -e "$X/.done-$kpkg" ]; then
	rm -rf "$X"
	mkdir -p "$X"
	for d in "$CACHE/debs"/*.deb; do
		dpkg-deb -x "$d" "$X"
	done
	touch "$X/.done-$kpkg"
fi
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
