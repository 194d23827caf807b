#!/bin/bash
# SPDX-License-Identifier: MIT
#
# guest-test.sh: the checks of tests/boot/boot-test.sh, run inside the
# guest by holdfs-boottest.service (a oneshot ordered after
# multi-user.target), once per boot.  The host picks the stage on the
# kernel command line (holdfs.boottest=setup|run|check) and collects the
# "BOOT-RESULT stage=S name=N ok=0|1 detail=..." lines this prints on the
# serial console, then "BOOT-DONE stage=S".  Each stage ends with a
# poweroff.
#
#   setup  (holdfs@dev-dax0.0.service and mnt-holdfs.mount masked on the
#          command line) make the NVDIMM a device-dax namespace with
#          ndctl, mkfs.holdfs /dev/dax0.0 and the file region
#   run    both mounted by the boot itself: units active, mounts there,
#          ordering as docs/boot.md says, the daemons' journal lines;
#          a file written on each; then poweroff (the shutdown stops them)
#   check  (both masked again) the previous boot's journal: both units
#          stopped cleanly, each daemon logged its clean unmount;
#          fsck.holdfs -n of both regions says clean; mounted by hand, the
#          files are there
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
stage=$(sed -n 's/.*holdfs\.boottest=\([a-z]*\).*/\1/p' /proc/cmdline)
DAX=/dev/dax0.0
FILE=/var/lib/holdfs/region.img
PMEM=/mnt/pmem
FMNT=/mnt/holdfs
UNIT=holdfs@dev-dax0.0.service
MUNIT=mnt-holdfs.mount

con() { printf '%s\n' "$*" > /dev/ttyS0; }
result() { # result NAME OK DETAIL
	con "BOOT-RESULT stage=$stage name=$1 ok=$2 detail=$(printf '%s' "$3" | tr '\n' ' ' | head -c 900)"
}
blog() { printf '%s\n' "$@" | sed 's/^/BOOT-LOG /' > /dev/ttyS0; }
# T SECS CMD...: a command with a deadline
T() { timeout -k 5 "$@"; }
# waitfor SECS CMD...: poll until CMD succeeds or the deadline passes
waitfor() {
	local end=$(( $(date +%s) + $1 )); shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.5
	done
}
has() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }

finish() {
	con "BOOT-DONE stage=$stage"
	sync
	systemctl poweroff --no-block
	exit 0
}

blog "stage=$stage kernel=$(uname -r) systemd=$(systemctl --version | head -n 1)"

case $stage in
setup)
	for m in nfit dax_pmem device_dax fuse; do modprobe "$m"; done
	if ! waitfor 30 test -e /sys/bus/nd/devices/region0/align; then
		result setup.namespace 0 "no nd region0 after 30 s ($(ls /sys/bus/nd/devices 2>&1 | tr '\n' ' '))"
		finish
	fi
	# as tests/devdax/rig.sh: qemu's region is 1 GiB - 2 MiB, the default
	# 16 MiB alignment makes create-namespace fail
	echo 0x200000 > /sys/bus/nd/devices/region0/align
	if T 60 ndctl create-namespace -f -e namespace0.0 -m devdax -a 2M >/tmp/ns.json 2>/tmp/ns.err ||
	   T 60 ndctl create-namespace -f -e namespace0.0 -m devdax -a 4K >/tmp/ns.json 2>/tmp/ns.err; then
		if waitfor 30 test -c $DAX; then
			result setup.namespace 1 "$(tr -d ' \n' < /tmp/ns.json | head -c 300)"
		else
			result setup.namespace 0 "namespace created, no $DAX after 30 s"
			finish
		fi
	else
		result setup.namespace 0 "create-namespace: $(head -c 300 /tmp/ns.err)"
		finish
	fi
	if out=$(T 120 mkfs.holdfs $DAX 2>&1); then
		result setup.mkfs_dax 1 "$(echo "$out" | tail -n 2)"
	else
		result setup.mkfs_dax 0 "$out"
	fi
	if ! findmnt -n /var/lib/holdfs >/dev/null; then
		result setup.mkfs_file 0 "/var/lib/holdfs (the second disk) is not mounted"
	elif out=$(T 120 mkfs.holdfs -s 64M $FILE 2>&1); then
		result setup.mkfs_file 1 "$(echo "$out" | tail -n 2)"
	else
		result setup.mkfs_file 0 "$out"
	fi
	finish
	;;

run)
	# both should be up already: the boot mounted them before
	# local-fs.target, which this unit runs after
	for u in $UNIT $MUNIT; do
		st=$(systemctl is-active $u)
		if [ "$st" = active ]; then
			result "run.active.$u" 1 "$(systemctl show -p ActiveEnterTimestampMonotonic,MainPID --value $u | tr '\n' ' ')"
		else
			result "run.active.$u" 0 "is-active: $st; $(systemctl status --no-pager -l $u 2>&1 | tail -n 15)"
		fi
	done
	for m in $PMEM $FMNT; do
		line=$(findmnt -n -o SOURCE,FSTYPE,OPTIONS "$m")
		case $line in
		*fuse.holdfs*) result "run.findmnt.$m" 1 "$line" ;;
		*) result "run.findmnt.$m" 0 "findmnt $m: '$line'" ;;
		esac
	done
	# ordering, as docs/boot.md documents it
	after=$(systemctl show -p After --value $UNIT)
	before=$(systemctl show -p Before --value $UNIT)
	wantedby=$(systemctl show -p WantedBy --value $UNIT)
	bindsto=$(systemctl show -p BindsTo --value $UNIT)
	conflicts=$(systemctl show -p Conflicts --value $UNIT)
	miss=
	for u in dev-dax0.0.device local-fs-pre.target; do has "$after" $u || miss="$miss After=$u"; done
	for u in local-fs.target umount.target; do has "$before" $u || miss="$miss Before=$u"; done
	has "$wantedby" local-fs.target || miss="$miss WantedBy=local-fs.target"
	has "$bindsto" dev-dax0.0.device || miss="$miss BindsTo=dev-dax0.0.device"
	has "$conflicts" umount.target || miss="$miss Conflicts=umount.target"
	result run.order.unit "$([ -z "$miss" ] && echo 1 || echo 0)" \
		"${miss:+missing:$miss; }After=$after Before=$before WantedBy=$wantedby"
	mafter=$(systemctl show -p After --value $MUNIT)
	mbefore=$(systemctl show -p Before --value $MUNIT)
	mreq=$(systemctl show -p RequiresMountsFor --value $MUNIT)
	miss=
	has "$mafter" var-lib-holdfs.mount || miss="$miss After=var-lib-holdfs.mount"
	# nofail (as docs/boot.md's line): wanted by local-fs.target but not
	# ordered before it (systemd.mount(5)); the boot does not wait
	mwb=$(systemctl show -p WantedBy --value $MUNIT)
	has "$mwb" local-fs.target || miss="$miss WantedBy=local-fs.target"
	has "$mbefore" local-fs.target && miss="$miss (unexpected: Before=local-fs.target with nofail)"
	has "$mbefore" umount.target || miss="$miss Before=umount.target"
	result run.order.fstab "$([ -z "$miss" ] && echo 1 || echo 0)" \
		"${miss:+missing:$miss; }After=$mafter Before=$mbefore WantedBy=$mwb RequiresMountsFor=$mreq"
	# the actual start order of this boot: the device before the unit,
	# the unit before local-fs.target, the holding filesystem before the
	# fstab mount
	ts() { systemctl show -p "$2" --value "$1"; }
	d=$(ts dev-dax0.0.device ActiveEnterTimestampMonotonic)
	s=$(ts $UNIT ActiveEnterTimestampMonotonic)
	si=$(ts $UNIT InactiveExitTimestampMonotonic)
	v=$(ts var-lib-holdfs.mount ActiveEnterTimestampMonotonic)
	mi=$(ts $MUNIT InactiveExitTimestampMonotonic)
	m=$(ts $MUNIT ActiveEnterTimestampMonotonic)
	l=$(ts local-fs.target ActiveEnterTimestampMonotonic)
	if [ "${d:-0}" -gt 0 ] && [ "$d" -le "$si" ] && [ "$s" -le "$l" ] &&
	   [ "${v:-0}" -gt 0 ] && [ "$v" -le "$mi" ]; then
		ok=1
	else
		ok=0
	fi
	result run.order.actual $ok "us since boot: dev-dax0.0.device active $d, $UNIT starting $si active $s; var-lib-holdfs.mount active $v, $MUNIT starting $mi active $m; local-fs.target $l"
	blog "critical-chain:" "$(T 60 systemd-analyze critical-chain $UNIT $MUNIT 2>&1)"
	# the daemons' own lines, under the syslog identifier docs/boot.md names
	j=$(journalctl -b -t holdfs -o short-monotonic --no-pager 2>&1)
	blog "journalctl -b -t holdfs:" "$j"
	if echo "$j" | grep -q "$DAX mounted on $PMEM" && echo "$j" | grep -q "$FILE mounted on $FMNT"; then
		result run.journal 1 "$(echo "$j" | grep 'mounted on' | tr '\n' ';')"
	else
		result run.journal 0 "no 'mounted on' lines for both regions under -t holdfs: $j"
	fi
	ju=$(journalctl -b -u $UNIT -t holdfs -o cat --no-pager 2>&1)
	if echo "$ju" | grep -q "mounted on $PMEM"; then
		result run.journal_unit 1 "journalctl -u $UNIT -t holdfs: $ju"
	else
		result run.journal_unit 0 "journalctl -u $UNIT -t holdfs has no 'mounted on': $ju"
	fi
	ok=1 det=
	for m in $PMEM $FMNT; do
		if echo "boot-test $m $(cat /proc/sys/kernel/random/boot_id)" > "$m/boot-test.txt" && sync -f "$m/boot-test.txt"; then
			det="$det $m/boot-test.txt written;"
		else
			ok=0 det="$det $m/boot-test.txt: write failed;"
		fi
	done
	cat /proc/sys/kernel/random/boot_id > /var/lib/boot-test-id
	result run.write $ok "$det"
	# stop and start the unit on the running system: the daemon must
	# exit 0 after a clean unmount (the clean flag written: fsck says
	# clean, the next mount replays nothing)
	T 60 systemctl stop $UNIT
	st=$(systemctl is-active $UNIT)
	res=$(systemctl show -p Result,ExecMainCode,ExecMainStatus $UNIT | tr '\n' ' ')
	out=$(T 120 fsck.holdfs -n $DAX 2>&1); rc=$?
	ju=$(journalctl -b -u $UNIT -o cat --no-pager | tail -n 6)
	# ExecMainCode 1: CLD_EXITED
	if [ "$st" = inactive ] && ! findmnt -n $PMEM >/dev/null &&
	   [ "$res" = "Result=success ExecMainCode=1 ExecMainStatus=0 " ] &&
	   [ $rc = 0 ] && echo "$out" | grep -q "^$DAX: clean,"; then
		result run.stop $ok "is-active $st; $res; fsck: $out"
	else
		result run.stop 0 "is-active $st; $res; fsck exit $rc: $out; journal: $ju"
	fi
	T 60 systemctl start $UNIT
	st=$(systemctl is-active $UNIT)
	c=$(cat $PMEM/boot-test.txt 2>&1)
	if [ "$st" = active ] && [ "$c" = "boot-test $PMEM $(cat /proc/sys/kernel/random/boot_id)" ] &&
	   ! journalctl -b -t holdfs --no-pager | grep -q 'not cleanly unmounted'; then
		result run.restart 1 "is-active $st; $PMEM/boot-test.txt: '$c'"
	else
		result run.restart 0 "is-active $st; $PMEM/boot-test.txt: '$c'; $(journalctl -b -t holdfs -o cat --no-pager | tail -n 4)"
	fi
	finish
	;;

check)
	prev=$(cat /var/lib/boot-test-id 2>/dev/null)
	blog "previous boot: $prev" "$(journalctl --list-boots --no-pager 2>&1)"
	for u in $UNIT $MUNIT; do
		j=$(journalctl -b -1 -u $u -o short-monotonic --no-pager 2>&1)
		blog "journalctl -b -1 -u $u:" "$j"
		# the shutdown only: what follows the last start (the run
		# stage stops and starts the service once itself)
		j=$(echo "$j" | awk '/systemd\[1\]: (Started|Mounted) /{b=""} {b=b $0 "\n"} END{printf "%s", b}')
		# systemd 252: "Deactivated successfully" once the unit stopped
		# and every process in it exited 0 (or by the stop signal);
		# "Failed with result" or "status=" otherwise
		if echo "$j" | grep -q 'Deactivated successfully' &&
		   ! echo "$j" | grep -Eq 'Failed with result|status=[1-9]|code=killed|Killing process'; then
			result "check.stopped.$u" 1 "$(echo "$j" | grep -E 'Stopp|Unmount|Deactivated' | tr '\n' ';')"
		else
			result "check.stopped.$u" 0 "$(echo "$j" | tail -n 12 | tr '\n' ';')"
		fi
	done
	j=$(journalctl -b -1 -t holdfs -o short-monotonic --no-pager 2>&1)
	blog "journalctl -b -1 -t holdfs:" "$j"
	# the last line each region's daemon logged in that boot (the run
	# stage restarted the dax one: its last daemon is the one the
	# shutdown stopped) must be its clean unmount; a daemon killed by
	# the stop's SIGTERM logs none
	ok=1 det=
	for pair in "$DAX:$PMEM" "$FILE:$FMNT"; do
		r=${pair%%:*} m=${pair#*:}
		last=$(echo "$j" | grep -E "$r (mounted on|unmounted from) $m" | tail -n 1)
		case $last in
		*"$r unmounted from $m") det="$det $last;" ;;
		*) ok=0 det="$det $r: last line '$last', no clean unmount after it;" ;;
		esac
	done
	result check.daemon_unmounted $ok "$det"
	# the order of the shutdown: each holdfs mount gone before the
	# filesystem under it / the device
	js=$(journalctl -b -1 -o short-monotonic --no-pager -u $MUNIT -u var-lib-holdfs.mount -u $UNIT 2>&1 |
		grep -E 'Unmount|Stopp|Deactivated' )
	blog "shutdown order:" "$js"
	a=$(echo "$js" | grep -n "$MUNIT: Deactivated\|Unmounted .*holdfs\b" | head -n 1 | cut -d: -f1)
	b=$(echo "$js" | grep -n "Unmounting .*/var/lib/holdfs\|var-lib-holdfs.mount: Deactivated" | head -n 1 | cut -d: -f1)
	if [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]; then
		result check.shutdown_order 1 "$MUNIT stopped (line $a) before var-lib-holdfs.mount began (line $b)"
	else
		result check.shutdown_order 0 "$MUNIT line '$a', var-lib-holdfs.mount line '$b': $js"
	fi
	for r in $DAX $FILE; do
		if findmnt -n -S "$r" >/dev/null; then
			result "check.fsck.$r" 0 "$r is mounted (the mask on the command line did not hold)"
			continue
		fi
		out=$(T 120 fsck.holdfs -n "$r" 2>&1); rc=$?
		if [ $rc = 0 ] && echo "$out" | grep -q "^$r: clean," && ! echo "$out" | grep -qi 'replay\|pending'; then
			result "check.fsck.$r" 1 "$out"
		else
			result "check.fsck.$r" 0 "exit $rc: $out"
		fi
	done
	ok=1 det=
	for pair in "$DAX:$PMEM" "$FILE:$FMNT"; do
		r=${pair%%:*} m=${pair#*:}
		mkdir -p "$m"
		if ! out=$(T 60 holdfs "$r" "$m" 2>&1); then
			ok=0 det="$det holdfs $r $m: $out;"; continue
		fi
		c=$(cat "$m/boot-test.txt" 2>&1)
		if [ "$c" = "boot-test $m $prev" ]; then
			det="$det $m/boot-test.txt: '$c';"
		else
			ok=0 det="$det $m/boot-test.txt: '$c' (want 'boot-test $m $prev');"
		fi
		T 30 umount "$m" || { ok=0 det="$det umount $m failed;"; }
	done
	# the remount must not have found an unclean filesystem
	if journalctl -b -t holdfs --no-pager | grep -q 'not cleanly unmounted'; then
		ok=0 det="$det the daemon said 'not cleanly unmounted';"
	fi
	result check.file $ok "$det"
	finish
	;;

*)
	con "BOOT-LOG no holdfs.boottest= stage on the command line; doing nothing"
	;;
esac
