#!/bin/bash
# SPDX-License-Identifier: MIT
#
# boot-test.sh: holdfs mounted at boot by a real systemd.  Boots a Debian 12
# root filesystem (systemd as PID 1, the holdfs .debs installed) under qemu
# (TCG) with Debian's 6.1 kernel and an emulated NVDIMM, three times:
#
#   setup  NVDIMM -> /dev/dax0.0 (ndctl), mkfs.holdfs on it and on a file
#          region on a second disk mounted at /var/lib/holdfs
#   run    holdfs@dev-dax0.0.service (enabled) and an fstab fuse.holdfs
#          line with x-systemd.requires-mounts-for= mount it at boot;
#          units active, ordering, journal lines, a file written on each;
#          then systemctl poweroff
#   check  the previous boot's journal (units stopped cleanly, the daemons
#          logged their clean unmounts, shutdown order); fsck.holdfs -n of
#          both regions clean; the files there
#
# The guest (tests/boot/guest-test.sh) prints "BOOT-RESULT stage=S name=N
# ok=0|1 detail=..." lines on its serial console; this script collects
# them and exits 0 only if every expected line is there with ok=1.
# See docs/boot.md, "Tested".
#
# Usage: sudo tests/boot/boot-test.sh [-k] [-t SECS]
#   -k        keep the work dir (images, serial logs) and print its path
#   -t SECS   per-boot timeout (default $HOLDFS_BOOT_TIMEOUT or 400)
# Environment:
#   HOLDFS_BOOT_DEBS  a dir with holdfs_*.deb and libholdfs0_*.deb to
#                     install (default: build them from this tree with
#                     scripts/package-check.sh --build, about 20 s)
#   HOLDFS_RIG_CACHE  cache shared with tests/devdax/rig.sh (default
#                     /var/tmp/holdfs-rig): the kernel, and here the
#                     Debian root filesystem tarball (rootfs/)
#   HOLDFS_RIG_KERNEL linux-image package (as for rig.sh)
#   HOLDFS_RIG_NO_APT=1  never run apt-get install (skip if a tool is missing)
#
# Exit status: 0 all ok, 1 some result not ok or missing, 2 test failure
# (could not build or boot), 77 skipped (not root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcroot=$(cd "$here/../.." && pwd)
cache=${HOLDFS_RIG_CACHE:-/var/tmp/holdfs-rig}
boot_timeout=${HOLDFS_BOOT_TIMEOUT:-400}
keep=0
while getopts "kt:h" o; do
	case $o in
	k) keep=1 ;;
	t) boot_timeout=$OPTARG ;;
	h) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//;/^set -e/d'; exit 0 ;;
	*) exit 2 ;;
	esac
done

log() { printf 'boot-test: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }
t_start=$(date +%s)
elapsed() { echo $(( $(date +%s) - t_start )); }

[ "$(id -u)" = 0 ] || { log "must run as root (apt-get, chroot, images); SKIP"; exit 77; }

# --- host tools -------------------------------------------------------
# shellcheck source=tests/devdax/host-tools.sh
. "$here/../devdax/host-tools.sh"
ensure_host_tools qemu-system-x86_64:qemu-system-x86 busybox:busybox-static \
	mmdebstrap:mmdebstrap mkfs.ext4:e2fsprogs cpio:cpio depmod:kmod \
	modprobe:kmod

work=$(mktemp -d /var/tmp/holdfs-boot.XXXXXX)
qpid=
cleanup() {
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill -KILL "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
	if [ "$keep" = 1 ]; then log "work dir kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the packages -----------------------------------------------------------
debs=${HOLDFS_BOOT_DEBS:-}
if [ -z "$debs" ]; then
	debs=$work/debs
	log "building the .debs (scripts/package-check.sh --build)"
	HOLDFS_PKG_OUT=$debs "$srcroot/scripts/package-check.sh" --build >"$work/package.log" 2>&1 ||
		{ tail -n 30 "$work/package.log" >&2; die "scripts/package-check.sh --build failed"; }
fi
hdeb=$(ls "$debs"/holdfs_*.deb 2>/dev/null | tail -n 1)
ldeb=$(ls "$debs"/libholdfs0_*.deb 2>/dev/null | tail -n 1)
[ -n "$hdeb" ] && [ -n "$ldeb" ] || die "no holdfs_*.deb and libholdfs0_*.deb in $debs"

# --- guest kernel (the rig's cache; the same choice as tests/devdax/rig.sh)
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
kpkg=${HOLDFS_RIG_KERNEL:-}
[ -n "$kpkg" ] || kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.1\.0-[0-9]+-amd64$/ && !k {k = $2} END {print k}')
[ -n "$kpkg" ] || kpkg=$(ls -d "$cache"/kernel/linux-image-* 2>/dev/null | sort -V | tail -n 1 | xargs -r basename)
[ -n "$kpkg" ] || die "cannot find a linux-image-6.1.0-*-amd64 package (apt-get update?)"
kroot=$cache/kernel/$kpkg
if [ ! -e "$kroot/.done" ]; then
	log "downloading $kpkg (once; cached in $cache)"
	rm -rf "$kroot" "$cache/dl"
	mkdir -p "$cache/dl" "$kroot"
	chmod 777 "$cache/dl"  # apt-get download drops to _apt
	( cd "$cache/dl" && apt-get download "$kpkg" >&2 ) ||
		{ apt-get update -q >&2 && ( cd "$cache/dl" && apt-get download "$kpkg" >&2 ); } ||
		die "apt-get download $kpkg failed"
	dpkg-deb -x "$cache"/dl/"$kpkg"_*.deb "$kroot"
	depmod -b "$kroot" "$(ls "$kroot/lib/modules" | sed -n 1p)"
	rm -rf "$cache/dl"
	touch "$kroot/.done"
fi
kver=$(ls "$kroot/lib/modules" | sed -n 1p)
vmlinuz=$kroot/boot/vmlinuz-$kver
[ -f "$vmlinuz" ] || die "no $vmlinuz in $kpkg"

# --- the Debian root (cached tarball) -------------------------------------
# minbase + systemd + what the guest test uses + the holdfs packages'
# dependencies (read from the .debs, so that dpkg -i needs no network).
deps=$(for d in "$hdeb" "$ldeb"; do dpkg-deb -f "$d" Depends; done | tr ',' '\n' |
	sed 's/(.*)//;s/|.*//;s/ //g' | grep -v -E '^(holdfs|libholdfs0)$' | grep . | sort -u)
inc=$(printf '%s\n' systemd systemd-sysv udev kmod ndctl daxctl fuse3 $deps | sort -u | paste -sd, -)
tag=$(printf '%s' "$inc" | md5sum | cut -c1-12)
rootfs_tar=$cache/rootfs/bookworm-systemd-$tag.tar
if [ ! -s "$rootfs_tar" ]; then
	log "building the Debian 12 root filesystem with mmdebstrap (once; $rootfs_tar): $inc"
	mkdir -p "$cache/rootfs"
	tb=$(date +%s)
	# (the output name's .tar suffix makes mmdebstrap write a tarball)
	tmp_tar=$cache/rootfs/.building-$tag.tar
	mmdebstrap --variant=minbase --include="$inc" bookworm "$tmp_tar" \
		http://deb.debian.org/debian >"$cache/rootfs/mmdebstrap.log" 2>&1 ||
		{ tail -n 30 "$cache/rootfs/mmdebstrap.log" >&2; rm -rf "$tmp_tar"; die "mmdebstrap failed"; }
	[ -f "$tmp_tar" ] || die "mmdebstrap wrote no tarball $tmp_tar"
	mv "$tmp_tar" "$rootfs_tar"
	log "root filesystem built in $(( $(date +%s) - tb )) s ($(du -h "$rootfs_tar" | cut -f1))"
fi
flock -u 9

# --- the guest root --------------------------------------------------------
root=$work/root
mkdir -p "$root"
tar -C "$root" -xf "$rootfs_tar"
mkdir -p "$root/tmp/debs"
cp "$hdeb" "$ldeb" "$root/tmp/debs/"
chroot "$root" dpkg -i /tmp/debs/"$(basename "$ldeb")" /tmp/debs/"$(basename "$hdeb")" >"$work/dpkg.log" 2>&1 ||
	{ cat "$work/dpkg.log" >&2; die "dpkg -i of the holdfs packages in the guest root failed"; }
rm -rf "$root/tmp/debs"
# the kernel modules the guest needs (as rig.sh: the wanted ones and their
# dependencies, with a fresh modules.dep)
mkdir -p "$work/empty-modprobe.d"
modlist=()
for m in libnvdimm nfit nd_btt nd_pmem device_dax dax_pmem fuse virtio_pci virtio_blk ext4; do
	out=$(modprobe -C "$work/empty-modprobe.d" -d "$kroot" -S "$kver" --show-depends "$m" 2>&1) ||
		die "modprobe --show-depends $m: $out"
	while read -r kind path _; do [ "$kind" = insmod ] && modlist+=("$path"); done <<<"$out"
done
copy_mods() { # copy_mods DESTROOT
	local p rel
	for p in $(printf '%s\n' "${modlist[@]}" | sort -u); do
		rel=/lib/modules/${p#"$kroot"/lib/modules/}
		mkdir -p "$1$(dirname "$rel")"
		cp "$p" "$1$rel"
	done
	cp "$kroot/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$1/lib/modules/$kver/" 2>/dev/null || true
	depmod -b "$1" "$kver"
}
copy_mods "$root"
# what a machine with NVDIMMs loads by its ACPI/nd modaliases; loaded
# explicitly so that the device appears without depending on coldplug order
printf '%s\n' nfit dax_pmem device_dax fuse > "$root/etc/modules-load.d/holdfs-boot-test.conf"
cat > "$root/etc/fstab" <<'FSTAB'
/dev/vda                    /                ext4         rw  0 0
/dev/vdb                    /var/lib/holdfs  ext4         defaults  0 0
/var/lib/holdfs/region.img  /mnt/holdfs      fuse.holdfs  nofail,x-systemd.requires-mounts-for=/var/lib/holdfs  0 0
FSTAB
mkdir -p "$root/etc/holdfs" "$root/var/lib/holdfs" "$root/mnt/pmem" "$root/mnt/holdfs" "$root/var/log/journal"
printf 'MOUNTPOINT=/mnt/pmem\n' > "$root/etc/holdfs/dev-dax0.0.conf"
chroot "$root" systemctl enable holdfs@dev-dax0.0.service >>"$work/dpkg.log" 2>&1 ||
	{ cat "$work/dpkg.log" >&2; die "systemctl enable holdfs@dev-dax0.0.service in the guest root failed"; }
install -m 755 "$here/guest-test.sh" "$root/usr/local/sbin/holdfs-boot-test"
cat > "$root/etc/systemd/system/holdfs-boot-test.service" <<'UNIT'
[Unit]
Description=holdfs boot test (tests/boot/guest-test.sh)
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/holdfs-boot-test
TimeoutStartSec=600
StandardOutput=journal
[Install]
WantedBy=multi-user.target
UNIT
chroot "$root" systemctl enable holdfs-boot-test.service >>"$work/dpkg.log" 2>&1 ||
	{ cat "$work/dpkg.log" >&2; die "systemctl enable holdfs-boot-test.service failed"; }
od -An -tx1 -N16 /dev/urandom | tr -d ' \n' > "$root/etc/machine-id"
echo >> "$root/etc/machine-id"
echo holdfs-boot > "$root/etc/hostname"
# the fuse.holdfs fstab line is mounted by mount.fuse3, which wants
# /etc/mtab
[ -e "$root/etc/mtab" ] || [ -L "$root/etc/mtab" ] || ln -s ../proc/self/mounts "$root/etc/mtab"

rootimg=$work/root.img dataimg=$work/data.img nvimg=$work/nvdimm.img
truncate -s 2G "$rootimg"
mkfs.ext4 -q -F -L holdfs-root -d "$root" "$rootimg" || die "mkfs.ext4 -d $root failed"
rm -rf "$root"
truncate -s 256M "$dataimg"
mkfs.ext4 -q -F -L holdfs-data "$dataimg" || die "mkfs.ext4 $dataimg failed"
truncate -s 1G "$nvimg"

# --- initramfs: busybox, virtio_blk + ext4, mount /dev/vda, switch_root ---
ird=$work/initrd
mkdir -p "$ird"/{bin,dev,proc,sys,etc,newroot}
cp "$busybox_bin" "$ird/bin/busybox"
cp "$here/initrd-init.sh" "$ird/init"
chmod 755 "$ird/init"
modlist=()
for m in virtio_pci virtio_blk crc32c_generic ext4; do
	out=$(modprobe -C "$work/empty-modprobe.d" -d "$kroot" -S "$kver" --show-depends "$m" 2>&1) ||
		die "modprobe --show-depends $m: $out"
	while read -r kind path _; do [ "$kind" = insmod ] && modlist+=("$path"); done <<<"$out"
done
copy_mods "$ird"
# crc32c_generic first: ext4 wants it by a soft dependency (busybox
# modprobe ignores those)
printf '%s\n' virtio_pci virtio_blk crc32c_generic ext4 > "$ird/etc/initrd-modules"
( cd "$ird" && find . -print0 | cpio --null -o -H newc --quiet ) > "$work/initrd.cpio"
log "images ready: root $(du -h "$rootimg" | cut -f1), initrd $(du -h "$work/initrd.cpio" | cut -f1), kernel $kver, $(basename "$hdeb") [$(elapsed) s]"

# --- boots --------------------------------------------------------------
masks="systemd.mask=holdfs@dev-dax0.0.service systemd.mask=mnt-holdfs.mount"
declare -A cmd expect
cmd[setup]=$masks
cmd[run]=
cmd[check]=$masks
expect[setup]="setup.namespace setup.mkfs_dax setup.mkfs_file"
expect[run]="run.active.holdfs@dev-dax0.0.service run.active.mnt-holdfs.mount run.findmnt./mnt/pmem run.findmnt./mnt/holdfs run.order.unit run.order.fstab run.order.actual run.journal run.journal_unit run.write run.stop run.restart"
expect[check]="check.stopped.holdfs@dev-dax0.0.service check.stopped.mnt-holdfs.mount check.daemon_unmounted check.shutdown_order check.fsck./dev/dax0.0 check.fsck./var/lib/holdfs/region.img check.file"
fail=0
summary=()
for s in setup run check; do
	serial=$work/serial-$s.log
	: > "$serial"
	tb=$(date +%s)
	qemu-system-x86_64 \
		-accel tcg,thread=multi -cpu max -smp 2 \
		-machine pc,nvdimm=on -m 2G,slots=2,maxmem=4G \
		-object memory-backend-file,id=mem1,share=on,mem-path="$nvimg",size=1G,align=2M \
		-device nvdimm,memdev=mem1,id=nv1,label-size=128K \
		-drive file="$rootimg",if=virtio,format=raw \
		-drive file="$dataimg",if=virtio,format=raw \
		-kernel "$vmlinuz" -initrd "$work/initrd.cpio" \
		-append "console=ttyS0 panic=-1 loglevel=4 holdfs.boottest=$s ${cmd[$s]}" \
		-nic none -display none -serial file:"$serial" -monitor none -no-reboot \
		</dev/null >"$work/qemu-$s.out" 2>&1 &
	qpid=$!
	deadline=$(( $(date +%s) + boot_timeout ))
	timed_out=0
	while kill -0 "$qpid" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			timed_out=1
			kill -KILL "$qpid" 2>/dev/null || true
			break
		fi
		sleep 1
	done
	wait "$qpid" 2>/dev/null || true
	qpid=
	log "boot $s: $(( $(date +%s) - tb )) s$([ $timed_out = 1 ] && echo " (TIMEOUT after ${boot_timeout} s, killed)")"
	tr -d '\r' < "$serial" > "$serial.txt"
	grep -o 'BOOT-RESULT .*' "$serial.txt" || true
	if [ "${HOLDFS_BOOT_VERBOSE:-0}" = 1 ]; then grep -o 'BOOT-LOG .*' "$serial.txt" >&2 || true; fi
	if ! grep -q "BOOT-DONE stage=$s" "$serial.txt"; then
		fail=1
		summary+=("stage=$s: guest did not finish$([ $timed_out = 1 ] && echo " (timeout ${boot_timeout} s)")")
		log "serial log tail ($serial):"
		tail -n 40 "$serial.txt" | sed 's/^/  | /' >&2
		if [ -s "$work/qemu-$s.out" ]; then sed 's/^/  qemu| /' "$work/qemu-$s.out" >&2; fi
	elif [ $timed_out = 1 ]; then
		fail=1
		summary+=("stage=$s: no poweroff within ${boot_timeout} s (shutdown hung?)")
		tail -n 40 "$serial.txt" | sed 's/^/  | /' >&2
	fi
	for n in ${expect[$s]}; do
		line=$(grep -o "BOOT-RESULT stage=$s name=$n ok=[01].*" "$serial.txt" | tail -n 1 || true)
		if [ -z "$line" ]; then
			fail=1; summary+=("stage=$s name=$n MISSING")
		elif [ "${line#*ok=1}" = "$line" ]; then
			fail=1; summary+=("stage=$s name=$n NOT OK: ${line#*detail=}")
		fi
	done
	# a failed setup makes the later boots meaningless
	if [ $s = setup ] && [ $fail = 1 ]; then break; fi
done

log "total $(elapsed) s"
if [ $fail = 0 ]; then
	log "all results ok"
	exit 0
fi
log "FAILED:"
printf '  %s\n' "${summary[@]}" >&2
exit 1
