#!/bin/bash
# SPDX-License-Identifier: MIT
#
# rig.sh: run holdfs on a real /dev/dax0.0.  Boots Debian's own kernel under
# qemu (TCG) with an emulated NVDIMM, turns the NVDIMM into a device-dax
# namespace inside the guest, formats and mounts it with holdfs, and drives
# one scenario per boot:
#
#   basic    namespace + sysfs checks, mkfs, mount, I/O, df, remount, fsck
#   daxctl   as basic up to I/O, then 'daxctl disable-device dax0.0' under
#            load (writer loop, a held-open file, a libholdfs DAX mapping)
#   ndctl    the same with 'ndctl disable-namespace namespace0.0'
#   nfs      export the holdfs mount with the guest kernel's nfsd (NFSv4
#            over loopback), file operations through two NFS mounts, a
#            restart of holdfs under the export, a range failure
#   poison   madvise(MADV_HWPOISON) on a page a DAX client maps (a real
#            memory failure in the guest kernel), then 'holdfsctl offline'
#            and 'daxctl disable-device' under load
#   poison4k the same on a 4 KiB-aligned device-dax (page-sized mappings)
#   multidev two NVDIMMs, one volume over /dev/dax0.0 and /dev/dax1.0
#            (metadata mirrored on the second), 'daxctl disable-device
#            dax1.0' under load: only device 1's files fail, the volume
#            goes on degraded
#   multidev0 the same, 'daxctl disable-device dax0.0' (the metadata's
#            device): the volume goes on from the mirror on dax1.0, then
#            /dev/dax1.0 mounts alone
#   remirror three NVDIMMs: a volume over dax0.0 and dax1.0 loses its
#            mirror (dax1.0 disabled), 'mkfs.holdfs --add-mirror
#            /dev/dax2.0' gives it a new one, then dax0.0 is disabled:
#            the new mirror serves
#
# The guest prints "RIG-RESULT scenario=S name=N ok=0|1 detail=..." lines on
# its serial console; this script collects them and exits 0 only if every
# expected line is present and says ok=1.  See docs/devdax-rig.md.
#
# Usage: sudo tests/devdax/rig.sh [-k] [-t SECS] [SCENARIO...]
#   -k        keep the work dir (serial logs, initramfs) and print its path
#   -t SECS   per-boot timeout (default $HOLDFS_RIG_TIMEOUT or 120)
# Environment:
#   HOLDFS_BUILD      meson build dir with the holdfs binaries (default: build)
#   HOLDFS_RIG_CACHE  download/extract cache (default /var/tmp/holdfs-rig)
#   HOLDFS_RIG_KERNEL linux-image package to use (default: the one
#                     linux-image-amd64 depends on, else the newest 6.1.0-N)
#   HOLDFS_RIG_NO_APT=1  never run apt-get install (fail if a tool is missing)
#
# Exit status: 0 all ok, 1 some result not ok or missing, 2 rig failure
# (could not build or boot), 77 skipped (not root / no qemu and no apt).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcroot=$(cd "$here/../.." && pwd)
build=${HOLDFS_BUILD:-build}
case $build in /*) ;; *) build=$PWD/$build ;; esac
[ -d "$build" ] || build=$srcroot/${HOLDFS_BUILD:-build}
cache=${HOLDFS_RIG_CACHE:-/var/tmp/holdfs-rig}
boot_timeout=${HOLDFS_RIG_TIMEOUT:-120}
keep=0

while getopts "kt:h" o; do
	case $o in
	k) keep=1 ;;
	t) boot_timeout=$OPTARG ;;
	h) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//;/^set -e/d'; exit 0 ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(basic daxctl ndctl nfs poison4k poison multidev multidev0 remirror)
for s in "${scenarios[@]}"; do
	case $s in basic|daxctl|ndctl|nfs|poison|poison4k|multidev|multidev0|remirror) ;; *) echo "rig: unknown scenario '$s'" >&2; exit 2 ;; esac
done

log() { printf 'rig: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }
t_start=$(date +%s.%N)
elapsed() { awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

[ "$(id -u)" = 0 ] || { log "must run as root (apt-get, depmod into the cache); SKIP"; exit 77; }
[ -x "$build/fs/holdfs" ] && [ -x "$build/mkfs/mkfs.holdfs" ] ||
	die "no holdfs build in $build (set HOLDFS_BUILD or run meson/ninja first)"

# --- host tools -------------------------------------------------------
# shellcheck source=tests/devdax/host-tools.sh
. "$here/host-tools.sh"
ensure_host_tools qemu-system-x86_64:qemu-system-x86 busybox:busybox-static \
	ndctl:ndctl daxctl:daxctl cpio:cpio depmod:kmod modprobe:kmod \
	fusermount3:fuse3

# --- guest kernel (cached) -------------------------------------------
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
kpkg=${HOLDFS_RIG_KERNEL:-}
if [ -z "$kpkg" ]; then
	# awk reads to the end: an early exit would SIGPIPE apt-cache,
	# and pipefail would make that the script's death.
	kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.1\.0-[0-9]+-amd64$/ && !k {k = $2} END {print k}')
fi
if [ -z "$kpkg" ]; then
	kpkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
		awk '{print $1}' | sort -V | tail -n 1)
fi
if [ -z "$kpkg" ]; then
	# No apt metadata (offline?): reuse whatever the cache holds.
	kpkg=$(ls -d "$cache"/kernel/linux-image-* 2>/dev/null | sort -V | tail -n 1 | xargs -r basename)
	[ -n "$kpkg" ] || die "cannot find a linux-image-6.1.0-*-amd64 package (apt-get update?)"
	log "apt knows no kernel; using cached $kpkg"
fi
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
	kver=$(ls "$kroot/lib/modules" | sed -n 1p)
	depmod -b "$kroot" "$kver"
	rm -rf "$cache/dl"
	touch "$kroot/.done"
fi
kver=$(ls "$kroot/lib/modules" | sed -n 1p)
vmlinuz=$kroot/boot/vmlinuz-$kver
[ -f "$vmlinuz" ] || die "no $vmlinuz in $kpkg"

# NFS server and client tools for the nfs scenario: the packages are
# downloaded and unpacked into the cache, never installed (installing
# nfs-kernel-server would pull in rpcbind and try to start both services on
# a host whose kernel may have no nfsd).  Libraries the host lacks come from
# the same unpacked tree.
nfsroot=
case " ${scenarios[*]} " in *" nfs "*)
	nfsroot=$cache/nfs-utils
	nfs_pkgs="nfs-kernel-server nfs-common libwrap0 libnfsidmap1 libtirpc3 libtirpc-common"
	if [ ! -e "$nfsroot/.done" ]; then
		log "downloading $nfs_pkgs (once; unpacked in $nfsroot, not installed)"
		rm -rf "$nfsroot" "$cache/dl"
		mkdir -p "$cache/dl" "$nfsroot"
		chmod 777 "$cache/dl"
		# shellcheck disable=SC2086
		( cd "$cache/dl" && apt-get download $nfs_pkgs >&2 ) ||
			{ apt-get update -q >&2 && ( cd "$cache/dl" && apt-get download $nfs_pkgs >&2 ); } ||
			die "apt-get download $nfs_pkgs failed"
		for d in "$cache"/dl/*.deb; do dpkg-deb -x "$d" "$nfsroot"; done
		rm -rf "$cache/dl"
		touch "$nfsroot/.done"
	fi ;;
esac
flock -u 9

# --- initramfs ------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/holdfs-rig.XXXXXX")
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

root=$work/root
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,run,tmp,mnt,opt/holdfs/bin,usr/bin,usr/sbin,usr/lib/x86_64-linux-gnu,usr/lib64}
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
cp "$busybox_bin" "$root/bin/busybox"

# ELF files and every shared library they need, flattened into the
# multiarch dir (rpaths pointing into the build dir then simply miss and
# the default path finds the copy).
copied_libs=" "
add_libs() {
	local f lib
	for f in "$@"; do
		while read -r lib; do
			case $copied_libs in *" $lib "*) continue ;; esac
			copied_libs="$copied_libs$lib "
			case $lib in
			*/ld-linux-x86-64.so.2) cp -L "$lib" "$root/usr/lib64/ld-linux-x86-64.so.2" ;;
			*) cp -L "$lib" "$root/usr/lib/x86_64-linux-gnu/$(basename "$lib")" ;;
			esac
		done < <(ldd "$f" 2>/dev/null | awk '
			/=> not found/ { print "MISSING " $1 > "/dev/stderr"; next }
			$2 == "=>" && $3 ~ /^\// { print $3; next }
			$1 ~ /^\// { print $1 }')
	done
}
add_bin() { # add_bin SRC DESTDIR [NAME]
	[ -e "$1" ] || return 0
	cp -L "$1" "$root/$2/${3:-$(basename "$1")}"
	add_libs "$1"
}
add_bin "$(command -v ndctl)" usr/bin
add_bin "$(command -v daxctl)" usr/bin
add_bin "$(command -v fusermount3)" usr/bin
for b in fs/holdfs mkfs/mkfs.holdfs ctl/holdfsctl fsck/fsck.holdfs \
	 tests/dax/client/dax_client tests/dax/rawclient tests/devdax/poisondev; do
	add_bin "$build/$b" opt/holdfs/bin
done
for l in "$build"/client/libholdfs.so*; do
	[ -f "$l" ] || continue
	cp -L "$l" "$root/usr/lib/x86_64-linux-gnu/$(basename "$l")"
	add_libs "$l"
done
if [ -n "$nfsroot" ]; then
	nfslib=$nfsroot/usr/lib/x86_64-linux-gnu:$nfsroot/lib/x86_64-linux-gnu
	for b in usr/sbin/rpc.nfsd usr/sbin/rpc.mountd usr/sbin/exportfs sbin/mount.nfs; do
		[ -x "$nfsroot/$b" ] || die "no $b in the unpacked nfs packages ($nfsroot)"
		missing=$(LD_LIBRARY_PATH=$nfslib ldd "$nfsroot/$b" | awk '/not found/ { print $1 }')
		[ -z "$missing" ] || die "$b needs libraries neither the host nor $nfsroot has: $missing"
		LD_LIBRARY_PATH=$nfslib add_bin "$nfsroot/$b" usr/sbin
	done
	ln -s mount.nfs "$root/usr/sbin/mount.nfs4"
	cp "$nfsroot/etc/netconfig" "$root/etc/netconfig"
	printf '127.0.0.1 localhost\n::1 localhost\n' > "$root/etc/hosts"
	printf 'passwd: files\ngroup: files\nhosts: files\nservices: files\nprotocols: files\n' > "$root/etc/nsswitch.conf"
	# what netbase would provide: rpc.nfsd looks up the "nfs" service
	printf 'sunrpc 111/tcp\nsunrpc 111/udp\nnfs 2049/tcp\nnfs 2049/udp\n' > "$root/etc/services"
	printf 'ip 0 IP\ntcp 6 TCP\nudp 17 UDP\n' > "$root/etc/protocols"
fi
# dlopen()ed by glibc, invisible to ldd: pthread_cancel (libfuse's worker
# threads at unmount) aborts without libgcc_s.
# (awk reads to the end: an early exit could SIGPIPE ldconfig, and pipefail
# made that the rig's silent death, exit 141.)
for l in libgcc_s.so.1; do
	p=$(ldconfig -p | awk -v l="$l" '$1 == l && /x86-64/ && !p { p = $NF } END { print p }')
	[ -n "$p" ] && cp -L "$p" "$root/usr/lib/x86_64-linux-gnu/$l"
done
cp "$here/guest-init.sh" "$root/init"
chmod 755 "$root/init"
printf 'root:x:0:0:root:/:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
ln -s /proc/self/mounts "$root/etc/mtab"
printf '%s\n' "$kpkg" > "$root/etc/rig-kernel"

# Modules: the wanted ones and their dependencies, in the kernel tree's
# layout, with a fresh modules.dep for busybox modprobe.
modlist=()
mkdir -p "$work/empty-modprobe.d"  # ignore the host's modprobe.d (ndctl adds an install rule)
mods="libnvdimm nfit nd_btt nd_pmem device_dax dax_pmem fuse"
[ -n "$nfsroot" ] && mods="$mods nfsd nfsv4"
for m in $mods; do
	out=$(modprobe -C "$work/empty-modprobe.d" -d "$kroot" -S "$kver" --show-depends "$m" 2>&1) ||
		die "modprobe --show-depends $m: $out"
	while read -r kind path _; do
		[ "$kind" = insmod ] && modlist+=("$path")
	done <<<"$out"
done
for p in $(printf '%s\n' "${modlist[@]}" | sort -u); do
	rel=${p#"$kroot"}
	mkdir -p "$root$(dirname "$rel")"
	cp "$p" "$root$rel"
done
cp "$kroot/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$kver/" 2>/dev/null || true
depmod -b "$root" "$kver"

initrd=$work/initrd.cpio
( cd "$root" && find . -print0 | cpio --null -o -H newc --quiet ) > "$initrd"
log "initramfs $(du -h "$initrd" | cut -f1), kernel $kver ($kpkg), build $build [$(elapsed)s]"

# --- boots ------------------------------------------------------------------
fail=0
summary=()
declare -A expect=(
	[basic]="setup.modules setup.namespace setup.sysfs setup.mkfs setup.mount setup.io setup.df basic.remount basic.fsck basic.unmount"
	[daxctl]="setup.modules setup.namespace setup.sysfs setup.mkfs setup.mount setup.io remove.command remove.daemon_alive remove.notice remove.eio_held_fd remove.eio_new_open remove.eio_write remove.root_answers remove.dax_client remove.nohang remove.unmount remove.daemon_exit"
)
expect[ndctl]=${expect[daxctl]}
expect[poison]="setup.modules setup.namespace setup.sysfs setup.mkfs setup.mount setup.io poison.sigbus poison.daemon_learned poison.holders_revoked poison.range_eio poison.others_intact poison.first.unmount poison.fsck_bad poison.remount offline.command offline.no_kill offline.nothing_lost offline.unmount offline.daemon_exit"
expect[poison4k]=${expect[poison]}
expect[multidev]="setup.modules setup.namespace setup.sysfs setup.namespace1 setup.mkfs setup.mount setup.io multidev.placement multidev.first.unmount multidev.first.daemon_exit multidev.mirror_before multidev.by_uuid multidev.command multidev.lost multidev.degraded multidev.eio_dev1 multidev.dev0_intact multidev.new_file multidev.readdir multidev.daemon_alive multidev.nohang multidev.unmount multidev.daemon_exit multidev.fsck_degraded multidev.remount multidev.second.unmount multidev.second.daemon_exit"
expect[multidev0]="setup.modules setup.namespace setup.sysfs setup.namespace1 setup.mkfs setup.mount setup.io multidev0.placement multidev0.first.unmount multidev0.first.daemon_exit multidev0.mirror_before multidev0.meta_poison multidev0.command multidev0.lost multidev0.metadata multidev0.degraded multidev0.eio_dev0 multidev0.dev1_intact multidev0.new_file multidev0.readdir multidev0.daemon_alive multidev0.nohang multidev0.unmount multidev0.daemon_exit multidev0.fsck_degraded multidev0.remount multidev0.second.unmount multidev0.second.daemon_exit"
expect[remirror]="setup.modules setup.namespace setup.sysfs setup.namespace1 setup.namespace2 setup.mkfs setup.mount setup.io remirror.mirror_lost remirror.first.unmount remirror.first.daemon_exit remirror.add remirror.two_copies remirror.failover remirror.second.unmount remirror.second.daemon_exit remirror.fsck_after"
expect[nfs]="setup.modules setup.namespace setup.sysfs setup.mkfs setup.mount setup.io nfs.server nfs.write_read nfs.rename nfs.link nfs.unlink_open nfs.truncate nfs.second_view nfs.readdir nfs.restart nfs.restart_new_open nfs.restart_old_handles nfs.range_eio nfs.range_unaffected nfs.nohang nfs.loss_eio nfs.unmount nfs.daemon_exit"


for s in "${scenarios[@]}"; do
	failed_before=${#summary[@]}
	img=$work/nvdimm-$s.img
	serial=$work/serial-$s.log
	rm -f "$img"; truncate -s 1G "$img"
	# multidev: a second NVDIMM of the same size (guest: region1 ->
	# /dev/dax1.0); 2 GiB of RAM + 2 x 1 GiB fill maxmem's 4 GiB exactly.
	nv2=() mem=(-m 2G,slots=2,maxmem=4G)
	if [ "$s" = multidev ] || [ "$s" = multidev0 ] || [ "$s" = remirror ]; then
		rm -f "$img.2"; truncate -s 1G "$img.2"
		nv2=(-object memory-backend-file,id=mem2,share=on,mem-path="$img.2",size=1G,align=2M
		     -device nvdimm,memdev=mem2,id=nv2,label-size=128K)
	fi
	# remirror: a third, the new mirror's device (maxmem 5 GiB, 3 slots)
	if [ "$s" = remirror ]; then
		rm -f "$img.3"; truncate -s 1G "$img.3"
		nv2+=(-object memory-backend-file,id=mem3,share=on,mem-path="$img.3",size=1G,align=2M
		      -device nvdimm,memdev=mem3,id=nv3,label-size=128K)
		mem=(-m 2G,slots=3,maxmem=5G)
	fi
	: > "$serial"
	tb=$(date +%s.%N)
	qemu-system-x86_64 \
		-accel tcg,thread=multi -cpu max -smp 2 \
		-machine pc,nvdimm=on "${mem[@]}" \
		-object memory-backend-file,id=mem1,share=on,mem-path="$img",size=1G,align=2M \
		-device nvdimm,memdev=mem1,id=nv1,label-size=128K \
		"${nv2[@]}" \
		-kernel "$vmlinuz" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 loglevel=4 print_fatal_signals=1 rig.scenario=$s" \
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
		sleep 0.2
	done
	wait "$qpid" 2>/dev/null || true
	qpid=
	dt=$(awk -v a="$tb" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
	# (no "$(test && echo)" in an assignment: under set -e its status
	# ends the script, silently, which it did for a guest that died early)
	timeout_note=
	if [ $timed_out = 1 ]; then
		timeout_note=" (TIMEOUT after ${boot_timeout}s, killed)"
	fi
	log "scenario $s: guest ran ${dt}s$timeout_note"
	# Strip CRs and pick the result lines wherever they start on a line
	# (kernel messages may share the console).
	tr -d '\r' < "$serial" > "$serial.txt"
	grep -o 'RIG-RESULT .*' "$serial.txt" || true
	if ! grep -q "RIG-DONE scenario=$s" "$serial.txt"; then
		fail=1
		summary+=("scenario=$s rig: guest did not finish$timeout_note")
		log "serial log tail ($serial):"
		tail -n 40 "$serial.txt" | sed 's/^/  | /' >&2
		if [ -s "$work/qemu-$s.out" ]; then
			sed 's/^/  qemu| /' "$work/qemu-$s.out" >&2
		fi
	fi
	for n in ${expect[$s]}; do
		line=$(grep -o "RIG-RESULT scenario=$s name=$n ok=[01].*" "$serial.txt" | tail -n 1 || true)
		if [ -z "$line" ]; then
			fail=1; summary+=("scenario=$s name=$n MISSING")
		elif [ "${line#*ok=1}" = "$line" ]; then
			fail=1; summary+=("scenario=$s name=$n NOT OK: ${line#*detail=}")
		fi
	done
	# Anything the guest reported beyond the expected set must be ok too.
	while read -r line; do
		case $line in *" ok=0 "*|*" ok=0") fail=1; summary+=("${line#RIG-RESULT }") ;; esac
	done < <(grep -o 'RIG-RESULT .*' "$serial.txt" | grep -v -E "name=($(echo ${expect[$s]} | tr ' ' '|')) " || true)
	if [ "${HOLDFS_RIG_VERBOSE:-0}" = 1 ]; then
		grep -o 'RIG-LOG .*' "$serial.txt" >&2 || true
	fi
	# A failed scenario's whole console outlives the work dir, next to
	# meson's logs (CI keeps those).
	if [ ${#summary[@]} -gt "$failed_before" ] && [ -d "$build/meson-logs" ]; then
		cp "$serial.txt" "$build/meson-logs/devdax-rig-$s.serial.txt" &&
			log "scenario $s failed; its console: $build/meson-logs/devdax-rig-$s.serial.txt"
	fi
done

log "total $(elapsed)s"
if [ $fail = 0 ]; then
	log "all results ok"
	exit 0
fi
log "FAILED:"
printf '  %s\n' "${summary[@]}" >&2
exit 1
