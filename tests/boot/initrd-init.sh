#!/bin/busybox sh
# shellcheck shell=dash
# SPDX-License-Identifier: MIT
# /init of the boot test's small initramfs (tests/boot/boot-test.sh): load
# the modules the Debian kernel needs to reach its root disk (virtio_blk,
# ext4), mount /dev/vda read-write and hand over to systemd.  Every wait
# has a deadline; on failure the guest powers off (the host then reports
# the missing results).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "BOOT-INITRD-FAIL $*" > /dev/console; sleep 1; poweroff -f; }
for m in $(cat /etc/initrd-modules); do
	modprobe "$m" || fail "modprobe $m"
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/vda ] || fail "no /dev/vda after 30 s"
mkdir -p /newroot
mount -t ext4 -o rw /dev/vda /newroot || fail "mount /dev/vda"
umount /proc /sys
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /sbin/init
