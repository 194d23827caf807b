#!/usr/bin/env bash
# Build the Debian packages of this tree, check them with lintian, install
# them on this machine and exercise what they promise; then purge them.
#
#   scripts/package-check.sh            build, lintian, install, check, purge
#   scripts/package-check.sh --build    build and lintian only (no install)
#   scripts/package-check.sh --keep     leave the packages installed
#
# Installs the build dependencies debian/control declares (apt-get
# build-dep) and lintian.  The build runs on a copy of the tree (tracked
# and new files) in a temporary directory, so nothing lands beside the
# clone; HOLDFS_PKG_OUT=DIR keeps the .debs there.  Checks after install:
# the files are where the docs say, mkfs.holdfs, fsck -t holdfs, mount -t
# fuse.holdfs, an fstab line (mount --fstab, /etc/fstab is not touched),
# holdfsctl status, the preload shim by its bare name, pkg-config + a
# program linked to libholdfs, the man pages, systemd-analyze verify of
# holdfs@.service.  Refuses (exit 77) to install over holdfs packages that
# are already there, or when a `meson install` in /usr/local would shadow
# them.  About 20 s with the dependencies in place.  Exit 0 only if all
# passed; scripts/test.sh runs it as its last pass.
set -uo pipefail

usage() {
	sed -n '2,20s/^# \{0,1\}//p' "$0"
}

mode=all
keep=0
for a in "$@"; do
	case "$a" in
	--build) mode=build ;;
	--keep) keep=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "package-check: unknown argument: $a" >&2; usage >&2; exit 2 ;;
	esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/as-root.sh
. "$root/scripts/as-root.sh"
as_root package-check "$@"

pkgs=(holdfs libholdfs0 libholdfs-dev)
work=$(mktemp -d /tmp/holdfs-pkg.XXXXXX)
mnt=$work/mnt
installed_here=0
failed=0
start=$SECONDS

say() { printf '\n==> %s\n' "$*"; }
die() { echo "package-check: error: $*" >&2; exit 1; }
cannot() { echo "package-check: cannot run here: $*" >&2; exit 77; }
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
# check NAME CMD...: run CMD (output shown), PASS or FAIL by its status.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

cleanup() {
	if mountpoint -q "$mnt" 2>/dev/null; then
		umount "$mnt" 2>/dev/null || umount -l "$mnt"
		sleep 0.5
	fi
	if [ $installed_here -eq 1 ] && [ $keep -eq 0 ]; then
		echo "package-check: purging ${pkgs[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 purge -y -q "${pkgs[@]}" \
			>"$work/purge.log" 2>&1 </dev/null ||
			{ cat "$work/purge.log" >&2; failed=$((failed + 1)); }
		installed_here=0
	fi
	if [ -n "${HOLDFS_PKG_OUT:-}" ]; then
		mkdir -p "$HOLDFS_PKG_OUT" && cp "$work"/*.deb "$HOLDFS_PKG_OUT"/ 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pkg_installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

if [ "$mode" = all ]; then
	for p in "${pkgs[@]}"; do
		pkg_installed "$p" && cannot "$p is already installed; purge it" \
			"first (this check installs and purges its own build)"
	done
	for f in /usr/local/sbin/holdfs /usr/local/bin/holdfs; do
		[ -e "$f" ] && cannot "$f (a meson install) would be run by" \
			"mount -t fuse.holdfs instead of the package's; remove it first"
	done
fi

say "Build dependencies"
export DEBIAN_FRONTEND=noninteractive
need=()
command -v lintian >/dev/null || need+=(lintian)
if ! (cd "$root" && dpkg-checkbuilddeps) >/dev/null 2>&1 || [ ${#need[@]} -ne 0 ]; then
	apt-get -o DPkg::Lock::Timeout=300 update -q </dev/null >/dev/null
	(cd "$root" && apt-get -o DPkg::Lock::Timeout=300 build-dep -y -q ./) </dev/null >"$work/deps.log" 2>&1 ||
		{ cat "$work/deps.log" >&2; die "apt-get build-dep failed"; }
	[ ${#need[@]} -eq 0 ] ||
		apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${need[@]}" </dev/null \
			>>"$work/deps.log" 2>&1 || die "cannot install ${need[*]}"
fi
echo "build dependencies and lintian present"

say "dpkg-buildpackage -b -us -uc (on a copy of the tree in $work/src)"
mkdir -p "$work/src"
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
	# tracked and new files, not what .gitignore names (build dirs)
	(cd "$root" && git ls-files -co --exclude-standard -z |
		tar --null -cf - -T -) | tar -xf - -C "$work/src"
else
	tar -C "$root" --exclude='./build' --exclude='./build-*' \
		--exclude='./obj-*' -cf - . | tar -xf - -C "$work/src"
fi || die "cannot copy the tree"
t=$SECONDS
if ! (cd "$work/src" && dpkg-buildpackage -b -us -uc) >"$work/build.log" 2>&1; then
	tail -40 "$work/build.log" >&2
	die "dpkg-buildpackage failed"
fi
echo "built in $((SECONDS - t)) s:"
(cd "$work" && ls -1 ./*.deb)

say "lintian"
lintian --pedantic -I "$work"/holdfs_*.changes 2>&1 | grep -v 'root privileges' |
	tee "$work/lintian.log"
if grep -q '^E:' "$work/lintian.log"; then
	fail "lintian: $(grep -c '^E:' "$work/lintian.log") error(s)"
else
	pass "lintian: no errors ($(grep -c '^W:' "$work/lintian.log") warnings)"
fi

if [ "$mode" = build ]; then
	echo "package-check: $failed failed, $((SECONDS - start)) s"
	[ $failed -eq 0 ]
	exit
fi

say "apt-get install ./holdfs*.deb ./libholdfs*.deb"
debs=()
for p in "${pkgs[@]}"; do debs+=("$work/${p}_"*.deb); done
installed_here=1
apt-get -o DPkg::Lock::Timeout=300 install -y -q "${debs[@]}" </dev/null >"$work/install.log" 2>&1 ||
	{ cat "$work/install.log" >&2; die "installing the packages failed"; }
echo "installed ${pkgs[*]}"

say "Files where the docs say"
for f in /usr/sbin/holdfs /usr/sbin/mkfs.holdfs /usr/sbin/fsck.holdfs \
	/usr/sbin/holdfsctl /lib/systemd/system/holdfs@.service \
	/lib/udev/rules.d/70-holdfs-dax.rules /usr/include/holdfs/holdfs.h; do
	check "$f" test -e "$f"
done
check "man pages" man -w holdfs mkfs.holdfs fsck.holdfs holdfsctl \
	libholdfs.3 libholdfs-preload

say "mkfs.holdfs, fsck -t holdfs"
region=$work/region.img
check "mkfs.holdfs" mkfs.holdfs --size 256M -L pkgcheck "$region"
check "fsck -t holdfs" fsck -t holdfs -n "$region"

say "mount -t fuse.holdfs"
mkdir -p "$mnt"
check "mount -t fuse.holdfs" mount -t fuse.holdfs "$region" "$mnt"
check "it is holdfs" test "$(findmnt -n -o FSTYPE "$mnt")" = fuse.holdfs
echo "written through the packaged daemon" >"$mnt/hello.txt"
check "file read back" grep -q packaged "$mnt/hello.txt"
check "holdfsctl status" holdfsctl status "$mnt"

say "The preload shim by its bare name (libholdfs-preload(8))"
truncate -s 1M "$mnt/mapped.bin"
LD_PRELOAD=libholdfs-preload.so HOLDFS_LOG=1 python3 -c '
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 4096)
m[:6] = b"leased"
m.flush()' "$mnt/mapped.bin" 2>"$work/shim.log"
cat "$work/shim.log"
check "shim took a lease" grep -q 'mapped .*lease' "$work/shim.log"
check "stores visible" test "$(head -c 6 "$mnt/mapped.bin")" = leased

say "pkg-config libholdfs and a program linked to it"
cat >"$work/unit.c" <<'EOF'
#include <holdfs/holdfs.h>
#include <fcntl.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	int fd = open(argc > 1 ? argv[1] : ".", O_RDONLY);
	long u = holdfs_alloc_unit(fd);
	printf("allocation unit %ld\n", u);
	return u > 0 ? 0 : 1;
}
EOF
check "pkg-config --cflags --libs libholdfs" pkg-config --cflags --libs libholdfs
check "cc \$(pkg-config ...)" sh -c "cc -o '$work/unit' '$work/unit.c' \$(pkg-config --cflags --libs libholdfs)"
check "the program runs" "$work/unit" "$mnt/mapped.bin"

say "umount, then the fstab form"
check "umount" umount "$mnt"
sleep 0.5
printf '%s %s fuse.holdfs defaults,allow_other,x-systemd.requires-mounts-for=%s 0 0\n' \
	"$region" "$mnt" "$work" >"$work/fstab"
cat "$work/fstab"
check "mount --fstab (the line above)" mount --fstab "$work/fstab" "$mnt"
check "mounted with allow_other" sh -c "findmnt -n -o OPTIONS '$mnt' | grep -q allow_other"
check "data still there" grep -q packaged "$mnt/hello.txt"
check "umount" umount "$mnt"
sleep 0.5
check "fsck -t holdfs after unmount" fsck -t holdfs -n "$region"

say "systemd-analyze verify holdfs@dev-dax0.0.service"
check "systemd-analyze verify" sh -c \
	'out=$(systemd-analyze verify holdfs@dev-dax0.0.service 2>&1); echo "$out"; [ -z "$out" ]'

cleanup
echo
echo "package-check: $failed failed, $((SECONDS - start)) s"
[ $failed -eq 0 ]
