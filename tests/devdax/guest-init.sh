#!/bin/busybox sh
# SPDX-License-Identifier: MIT
#
# /init of the device-dax rig's guest (tests/devdax/rig.sh builds the
# initramfs around it).  Runs the scenario named by rig.scenario= on the
# kernel command line, prints
#   RIG-RESULT scenario=S name=N ok=0|1 detail=FREE TEXT
# lines on the console (plus RIG-LOG lines for humans), then
#   RIG-DONE scenario=S
# and powers off.  Every command that touches holdfs or the device runs
# under 'timeout' so that a hang becomes a result line, never a stuck rig.

/bin/busybox mkdir -p /proc /sys /dev /run /tmp /mnt
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
/bin/busybox --install -s
export PATH=/opt/holdfs/bin:/usr/bin:/usr/sbin:/bin:/sbin
export HOME=/ TERM=dumb
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs tmpfs /dev/shm
exec </dev/null >/dev/console 2>&1

SCEN=unknown
DEVS=/dev/dax0.0     # what mkfs.holdfs formats (multidev: both devices)
MOUNT_OPTS=          # extra holdfs arguments (multidev: -o device=...)
REGION=/dev/dax0.0   # what holdfs mounts (multidev0 at the end: dax1.0)
for a in $(cat /proc/cmdline); do
	case $a in rig.scenario=*) SCEN=${a#rig.scenario=} ;; esac
done

now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
result() { # result NAME OK DETAIL...
	n=$1 ok=$2
	shift 2
	echo "RIG-RESULT scenario=$SCEN name=$n ok=$ok t=$(now_ms) detail=$*"
}
rlog() { echo "RIG-LOG $*"; }
logfile() { # logfile TAG FILE [MAXLINES]
	[ -f "$2" ] || return 0
	tail -n "${3:-40}" "$2" | while IFS= read -r l; do echo "RIG-LOG [$1] $l"; done
}
# T SECS CMD...: run with a deadline; rc 137 (SIGKILL) means it hung.
T() { s=$1; shift; timeout -s KILL "$s" "$@"; }
finish() {
	dmesg | grep -iE 'dax|nvdimm|nd_|pmem|fuse|holdfs|nfs|rpc|lockd|segfault|bus error|BUG|Oops|WARNING|blocked for|fatal signal|RIP:|Comm:' |
		grep -v 'Command line' | tail -n 40 | while IFS= read -r l; do echo "RIG-LOG [dmesg] $l"; done
	echo "RIG-DONE scenario=$SCEN"
	sync
	poweroff -f
	sleep 10
}

echo 0 > /proc/sys/kernel/randomize_va_space
rlog "scenario $SCEN, kernel $(uname -r) ($(cat /etc/rig-kernel)), $(nproc) cpus"
# Record uevents (the failure pipeline is expected to listen to them).
uevent sh -c 'echo "$(awk "{ printf \"%d\", \$1 * 1000 }" /proc/uptime) $ACTION $SUBSYSTEM $DEVPATH" >> /tmp/uevents' &

# --- setup: modules, namespace, mkfs, mount, I/O -------------------------
setup() {
	bad=
	for m in libnvdimm nfit nd_btt nd_pmem device_dax dax_pmem fuse; do
		modprobe "$m" 2>/tmp/modprobe.err || bad="$bad $m($(head -c 80 /tmp/modprobe.err))"
	done
	[ -c /dev/fuse ] || mknod /dev/fuse c 10 229
	if [ -n "$bad" ]; then result setup.modules 0 "modprobe failed:$bad"; return 1; fi
	result setup.modules 1 "$(lsmod | awk 'NR > 1 { printf "%s ", $1 }')"

	i=0
	while [ ! -e /sys/bus/nd/devices/region0/align ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if [ ! -e /sys/bus/nd/devices/region0 ]; then
		result setup.namespace 0 "no nd region0 after 10s (nfit did not find the NVDIMM)"
		return 1
	fi
	ralign_before=$(cat /sys/bus/nd/devices/region0/align)
	echo 0x200000 > /sys/bus/nd/devices/region0/align 2>/tmp/align.err
	ralign=$(cat /sys/bus/nd/devices/region0/align)
	rsize=$(cat /sys/bus/nd/devices/region0/size)
	DAXALIGN=2M
	# poison4k: a 4 KiB-aligned device, so that mappings are by page
	# (PTEs) and the kernel reports poison per page (si_addr_lsb 12).
	if [ "$SCEN" = poison4k ] ||
	   ! T 60 ndctl create-namespace -f -e namespace0.0 -m devdax -a 2M >/tmp/ns.json 2>/tmp/ns.err; then
		[ "$SCEN" = poison4k ] || rlog "create-namespace -a 2M failed: $(head -c 200 /tmp/ns.err)"
		DAXALIGN=4K
		if ! T 60 ndctl create-namespace -f -e namespace0.0 -m devdax -a 4K >/tmp/ns.json 2>/tmp/ns.err; then
			result setup.namespace 0 "create-namespace failed with -a 2M and -a 4K: $(head -c 200 /tmp/ns.err | tr '\n' ' ')"
			return 1
		fi
	fi
	i=0
	while [ ! -c /dev/dax0.0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	if [ ! -c /dev/dax0.0 ]; then
		result setup.namespace 0 "namespace created (-a $DAXALIGN) but no /dev/dax0.0"
		return 1
	fi
	result setup.namespace 1 "devdax -a $DAXALIGN; region0 size=$rsize align=$ralign (was $ralign_before); /dev/dax0.0 $(stat -c '%t:%T' /dev/dax0.0)"

	d=/sys/bus/dax/devices/dax0.0
	dsize=$(cat $d/size 2>/dev/null) dalign=$(cat $d/align 2>/dev/null)
	drv=$(basename "$(readlink $d/driver 2>/dev/null)" 2>/dev/null)
	want=2097152; [ $DAXALIGN = 4K ] && want=4096
	if [ -n "$dsize" ] && [ "$dsize" -gt 0 ] && [ "$dalign" = "$want" ] && [ "$drv" = device_dax ]; then
		result setup.sysfs 1 "size=$dsize align=$dalign driver=$drv resource=$(cat $d/resource 2>/dev/null) target_node=$(cat $d/target_node 2>/dev/null)"
	else
		result setup.sysfs 0 "size=$dsize align=$dalign (want $want) driver=$drv"
		return 1
	fi
	DSIZE=$dsize
	ALLOC_LEN=$want
	# multidev: the second NVDIMM (region1) becomes /dev/dax1.0, set up
	# the same way (its own result line), and the volume spans both.
	case $SCEN in multidev|multidev0|remirror)
		setup_member 1 || return 1
		DEVS="/dev/dax0.0 /dev/dax1.0"
		MOUNT_OPTS="-o device=/dev/dax1.0" ;;
	esac
	if [ "$SCEN" = remirror ]; then
		setup_member 2 || return 1
	fi

	t0=$(now_ms)
	T 120 mkfs.holdfs $DEVS >/tmp/mkfs.out 2>&1
	rc=$?
	t1=$(now_ms)
	logfile mkfs /tmp/mkfs.out 30
	if [ $rc != 0 ]; then
		result setup.mkfs 0 "mkfs.holdfs $DEVS rc=$rc after $((t1 - t0))ms: $(tail -n 3 /tmp/mkfs.out | tr '\n' ' ')"
		return 1
	fi
	bs=$(grep -iE 'alloc unit|block.?size' /tmp/mkfs.out | head -n 1 | tr -s ' ')
	result setup.mkfs 1 "rc=0 in $((t1 - t0))ms; $bs"

	mount_holdfs || return 1

	dd if=/dev/urandom of=/tmp/ref bs=1M count=8 2>/dev/null
	err=
	T 30 cp /tmp/ref /mnt/f1 || err="$err cp-rc=$?"
	T 30 cmp /tmp/ref /mnt/f1 >/dev/null 2>&1 || err="$err cmp-mismatch"
	T 10 mkdir /mnt/dir || err="$err mkdir"
	for k in 1 2 3 4 5 6 7 8 9 10; do
		echo "small file $k" > /mnt/dir/s$k || err="$err small$k"
	done
	[ "$(T 10 cat /mnt/dir/s7)" = "small file 7" ] || err="$err small-readback"
	[ "$(T 10 ls /mnt/dir | wc -l)" = 10 ] || err="$err readdir"
	T 10 sync || err="$err sync"
	if [ -z "$err" ]; then
		result setup.io 1 "8 MiB file + 10 small files written and read back"
	else
		result setup.io 0 "errors:$err"
	fi
	return 0
}

# Another device of the multidev scenarios: regionN -> namespaceN.0 ->
# /dev/daxN.0, with region0's alignment settings (setup_member 1: the
# second device, result setup.namespace1; 2: the third, remirror only).
setup_member() {
	n=$1
	i=0
	while [ ! -e /sys/bus/nd/devices/region$n/align ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if [ ! -e /sys/bus/nd/devices/region$n ]; then
		result setup.namespace$n 0 "no nd region$n after 10s (nfit did not find NVDIMM $n): $(ls /sys/bus/nd/devices | tr '\n' ' ')"
		return 1
	fi
	ralignn_before=$(cat /sys/bus/nd/devices/region$n/align)
	echo 0x200000 > /sys/bus/nd/devices/region$n/align 2>/tmp/align$n.err
	if ! T 60 ndctl create-namespace -f -e namespace$n.0 -m devdax -a $DAXALIGN >/tmp/ns$n.json 2>/tmp/ns$n.err; then
		result setup.namespace$n 0 "create-namespace -e namespace$n.0 -a $DAXALIGN failed: $(head -c 200 /tmp/ns$n.err | tr '\n' ' ')"
		return 1
	fi
	i=0
	while [ ! -c /dev/dax$n.0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	d=/sys/bus/dax/devices/dax$n.0
	dsizen=$(cat $d/size 2>/dev/null) dalignn=$(cat $d/align 2>/dev/null)
	drvn=$(basename "$(readlink $d/driver 2>/dev/null)" 2>/dev/null)
	if [ -c /dev/dax$n.0 ] && [ -n "$dsizen" ] && [ "$dsizen" -gt 0 ] && [ "$dalignn" = "$ALLOC_LEN" ] && [ "$drvn" = device_dax ]; then
		result setup.namespace$n 1 "devdax -a $DAXALIGN; region$n size=$(cat /sys/bus/nd/devices/region$n/size) align=$(cat /sys/bus/nd/devices/region$n/align) (was $ralignn_before); /dev/dax$n.0 $(stat -c '%t:%T' /dev/dax$n.0) size=$dsizen align=$dalignn driver=$drvn"
	else
		result setup.namespace$n 0 "/dev/dax$n.0 $([ -c /dev/dax$n.0 ] && echo present || echo missing) size=$dsizen align=$dalignn (want $ALLOC_LEN) driver=$drvn"
		return 1
	fi
	return 0
}

mount_holdfs() {
	: > /tmp/holdfs.log
	t0=$(now_ms)
	# Not with the scenario's fds (5-9): a daemon holding an NFS file
	# open would hang at exit in that file's NFS CLOSE once nfsd is gone.
	holdfs -f $REGION /mnt $MOUNT_OPTS >>/tmp/holdfs.log 2>&1 5<&- 6<&- 7<&- 8<&- 9<&- &
	DPID=$!
	i=0
	while ! grep -q ' /mnt fuse' /proc/mounts && kill -0 $DPID 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1; i=$((i + 1))
	done
	t1=$(now_ms)
	if grep -q ' /mnt fuse' /proc/mounts; then
		# For post-mortems (print_fatal_signals prints the faulting RIP;
		# ASLR is off in the guest): where the daemon's code is mapped.
		grep ' r-xp ' /proc/$DPID/maps 2>/dev/null | awk '{ print "RIG-LOG [maps] " $1 " " $3 " " $6 }'
		DSTATUS=
		result setup.mount 1 "holdfs -f $REGION /mnt${MOUNT_OPTS:+ $MOUNT_OPTS} up in $((t1 - t0))ms, pid $DPID: $(grep ' /mnt ' /proc/mounts)"
		return 0
	fi
	logfile holdfs /tmp/holdfs.log
	if kill -0 $DPID 2>/dev/null; then
		result setup.mount 0 "no mount after 30s (daemon still running): $(tail -n 2 /tmp/holdfs.log | tr '\n' ' ')"
		kill -9 $DPID
	else
		wait $DPID; rc=$?
		result setup.mount 0 "daemon exited rc=$rc: $(tail -n 3 /tmp/holdfs.log | tr '\n' ' ')"
	fi
	return 1
}

# Unmount (with fallbacks), then wait for the daemon to exit.  NAME is the
# result prefix.
unmount_holdfs() { # unmount_holdfs PREFIX [any-rc]
	pfx=$1 anyrc=${2:-}
	t0=$(now_ms)
	how=
	if T 15 umount /mnt 2>/tmp/umount.err; then how="umount"
	elif T 15 fusermount3 -u /mnt 2>>/tmp/umount.err; then how="fusermount3 -u (umount failed: $(head -c 120 /tmp/umount.err | tr '\n' ' '))"
	fi
	t1=$(now_ms)
	if [ -n "$how" ] && ! grep -q ' /mnt fuse' /proc/mounts; then
		result $pfx.unmount 1 "$how in $((t1 - t0))ms"
	else
		result $pfx.unmount 0 "unmount failed or hung ($((t1 - t0))ms): $(head -c 200 /tmp/umount.err | tr '\n' ' '); aborting the connection"
		# who keeps /mnt busy: open fds and cwds below it
		for p in /proc/[0-9]*; do
			for l in $p/cwd $p/fd/*; do
				case $(readlink $l 2>/dev/null) in /mnt*) rlog "busy: pid ${p#/proc/} ($(cat $p/comm 2>/dev/null)) ${l#$p/} -> $(readlink $l)" ;; esac
			done
		done
		mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null
		for c in /sys/fs/fuse/connections/*/abort; do echo 1 > "$c"; done 2>/dev/null
		umount -l /mnt 2>/dev/null
	fi
	i=0
	while kill -0 $DPID 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if [ -n "$DSTATUS" ]; then
		result $pfx.daemon_exit 0 "daemon had already died before the unmount (status $DSTATUS$([ $DSTATUS -gt 128 ] && echo ", signal $((DSTATUS - 128))"))"
	elif kill -0 $DPID 2>/dev/null; then
		result $pfx.daemon_exit 0 "daemon pid $DPID still running 10s after unmount; killed"
		for t in /proc/$DPID/task/*; do
			rlog "daemon thread ${t##*/} $(awk '{ print $2, $3 }' $t/stat 2>/dev/null) wchan=$(cat $t/wchan 2>/dev/null)"
			cat $t/stack 2>/dev/null | head -n 12 | while IFS= read -r l; do rlog "  $l"; done
		done
		logfile holdfs /tmp/holdfs.log 30
		kill -9 $DPID
		# A task stuck in the kernel does not die: do not wait for it forever.
		i=0
		while kill -0 $DPID 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -0 $DPID 2>/dev/null && rlog "daemon pid $DPID survived SIGKILL for 5s (stuck in the kernel)" || wait $DPID
	else
		wait $DPID; rc=$?
		if [ $rc = 0 ] || { [ -n "$anyrc" ] && [ $rc -lt 128 ]; }; then
			result $pfx.daemon_exit 1 "daemon exited rc=$rc $(( $(now_ms) - t1 ))ms after unmount$([ $rc != 0 ] && echo ": $(tail -n 1 /tmp/holdfs.log)")"
		else
			result $pfx.daemon_exit 0 "daemon exited rc=$rc$([ $rc -gt 128 ] && echo " (signal $((rc - 128)))"): $(tail -n 2 /tmp/holdfs.log | tr '\n' ' ')"
			logfile holdfs /tmp/holdfs.log 30
		fi
	fi
}

# --- basic: persistence across remount, fsck, clean unmount ---------------
scenario_basic() {
	df_line=$(T 10 df -k /mnt | tail -n 1)
	total_k=$(echo "$df_line" | awk '{ print $2 }')
	if [ -n "$total_k" ] && [ "$total_k" -gt $((DSIZE / 1024 * 80 / 100)) ] && [ "$total_k" -le $((DSIZE / 1024)) ]; then
		result setup.df 1 "$df_line (device $((DSIZE / 1024)) KiB)"
	else
		result setup.df 0 "df says '$df_line', device is $((DSIZE / 1024)) KiB"
	fi
	unmount_holdfs basic.first
	if mount_holdfs; then
		if T 30 cmp /tmp/ref /mnt/f1 >/dev/null 2>&1 && [ "$(T 10 cat /mnt/dir/s3)" = "small file 3" ]; then
			result basic.remount 1 "data intact after unmount + mount"
		else
			result basic.remount 0 "data differs after remount"
		fi
		unmount_holdfs basic
	else
		result basic.remount 0 "remount failed"
		result basic.unmount 0 "not mounted"
	fi
	if [ -x /opt/holdfs/bin/fsck.holdfs ]; then
		T 120 fsck.holdfs -n /dev/dax0.0 >/tmp/fsck.out 2>&1
		rc=$?
		logfile fsck /tmp/fsck.out 20
		if [ $rc = 0 ] || { [ -n "$anyrc" ] && [ $rc -lt 128 ]; }; then
			result basic.fsck 1 "fsck.holdfs -n clean"
		else
			result basic.fsck 0 "fsck.holdfs -n rc=$rc: $(tail -n 3 /tmp/fsck.out | tr '\n' ' ')"
		fi
	else
		result basic.fsck 1 "fsck.holdfs not built; skipped"
	fi
}

# --- removal under load -----------------------------------------------------
# dax client helpers: a libholdfs client fed through a FIFO.  Its write end
# is opened read-write (<>), which never blocks: a write-only open waits
# for the client to open the other end, and a SIGCHLD of some background
# job meanwhile fails it with EINTR -- a redirection error of `exec`, which
# ends this shell, PID 1, and panics the guest (seen in CI, poison4k, with
# the guest slowed by the host's load).  A client that died is then seen
# by its pid (client-dead), not by a failed write.
dc_cmd() { # dc_cmd SECS LINE: send LINE, wait for one more answer line
	n0=$(wc -l < /tmp/dc.out)
	echo "$2" >&8 2>/dev/null || { echo "pipe-closed"; return; }
	i=0
	while [ "$(wc -l < /tmp/dc.out)" -le "$n0" ] && [ $i -lt $(($1 * 10)) ]; do
		sleep 0.1; i=$((i + 1))
	done
	if [ "$(wc -l < /tmp/dc.out)" -le "$n0" ]; then
		if kill -0 $DCPID 2>/dev/null; then echo "no-answer-${1}s"; else echo "client-dead"; fi
	else
		sed -n "$((n0 + 1))p" /tmp/dc.out
	fi
}

# stop_writer: ask the background writer ($WPID, a loop that watches
# /tmp/writer.stop) to end, wait up to 5 s, then kill it and any child
# stuck in the mount, noting the hang in $hangs.  A writer left running
# would keep /mnt busy.
stop_writer() {
	touch /tmp/writer.stop
	i=0
	while kill -0 $WPID 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 $WPID 2>/dev/null; then
		hangs="$hangs writer-stuck"
		for p in /proc/[0-9]*; do
			[ "$(awk '{ print $4 }' $p/stat 2>/dev/null)" = "$WPID" ] && kill -9 ${p#/proc/}
		done
		kill -9 $WPID
	fi
	wait $WPID 2>/dev/null
}

scenario_remove() {
	method=$1
	T 10 df -k /mnt | tail -n 1 | while IFS= read -r l; do rlog "df: $l"; done
	# A held-open file (1 MiB, 0xAB pattern is not needed: compare with ref).
	dd if=/tmp/ref of=/mnt/held bs=1M count=1 2>/dev/null
	sync
	exec 7</mnt/held
	# The DAX mapping client.
	DCPID=
	if [ -x /opt/holdfs/bin/dax_client ]; then
		dd if=/dev/zero of=/mnt/dx bs=1M count=4 2>/dev/null
		mkfifo /tmp/dc.in
		: > /tmp/dc.out
		dax_client < /tmp/dc.in > /tmp/dc.out 2>/tmp/dc.err &
		DCPID=$!
		exec 8<>/tmp/dc.in
		a=$(dc_cmd 10 "map /mnt/dx 0 2097152 rw")
		b=$(dc_cmd 10 "fill 0 4096 171")
		c=$(dc_cmd 10 "persist 0 4096")
		d=$(dc_cmd 10 "touch 0")
		rlog "dax_client before removal: map=[$a] fill=[$b] persist=[$c] touch=[$d]"
		case $a in ok*) DC_MAPPED=1 ;; *) DC_MAPPED=0 ;; esac
	fi
	# The writer loop: one line per write, with its time.
	( i=0
	  while [ ! -e /tmp/writer.stop ]; do
		if dd if=/dev/zero of=/mnt/w.$((i % 4)) bs=64k count=4 conv=fsync 2>/dev/null; then
			echo "$(now_ms) ok"
		else
			echo "$(now_ms) err"
		fi
		i=$((i + 1))
	  done ) > /tmp/writer.log 2>&1 &
	WPID=$!
	sleep 2
	nlog=$(wc -l < /tmp/holdfs.log)
	nwr=$(wc -l < /tmp/writer.log)

	t0=$(now_ms)
	case $method in
	daxctl) cmd="daxctl disable-device dax0.0" ;;
	ndctl) cmd="ndctl disable-namespace namespace0.0" ;;
	esac
	T 30 $cmd >/tmp/remove.out 2>&1
	rc=$?
	t1=$(now_ms)
	if [ $rc = 0 ]; then
		result remove.command 1 "'$cmd' rc=0 in $((t1 - t0))ms (writer did $nwr writes before); /dev/dax0.0 $([ -e /dev/dax0.0 ] && echo present || echo gone)"
	else
		result remove.command 0 "'$cmd' rc=$rc after $((t1 - t0))ms: $(head -c 200 /tmp/remove.out | tr '\n' ' ')"
	fi

	# Observe for up to 10 s: held fd, new open, stat of the root.
	held_eio= held_stale=0 open_eio= open_ok=0 hangs= daemon_gone=
	while [ $(($(now_ms) - t0)) -lt 10000 ]; do
		t=$(($(now_ms) - t0))
		if [ -z "$daemon_gone" ] && ! kill -0 $DPID 2>/dev/null; then daemon_gone=$t; fi
		if [ -z "$held_eio" ]; then
			T 3 dd bs=4096 count=1 skip=0 of=/dev/null <&7 2>/tmp/held.err
			r=$?
			if [ $r = 137 ]; then hangs="$hangs held-read@${t}ms"
			elif [ $r = 0 ]; then held_stale=$((held_stale + 1))
			else held_eio=$t held_err=$(head -n 1 /tmp/held.err | sed 's/^dd: //')
			fi
		fi
		if [ -z "$open_eio" ]; then
			T 3 cat /mnt/f1 > /dev/null 2>/tmp/open.err
			r=$?
			if [ $r = 137 ]; then hangs="$hangs open-read@${t}ms"
			elif [ $r != 0 ]; then open_eio=$t open_err=$(head -n 1 /tmp/open.err | sed 's/^cat: //')
			else open_ok=$((open_ok + 1))
			fi
		fi
		T 3 stat /mnt >/dev/null 2>&1
		[ $? = 137 ] && hangs="$hangs stat-root@${t}ms"
		[ -n "$held_eio" ] && [ -n "$open_eio" ] && break
		sleep 0.1
	done
	t_obs=$(($(now_ms) - t0))
	# The shutdown state must still answer on the root (DESIGN: ls, stat
	# of the root and unmount work promptly).
	T 3 stat -c '%i %F' /mnt >/tmp/stat.out 2>&1; rs=$?
	T 3 ls /mnt >/tmp/ls.out 2>&1; r=$?
	[ $r = 137 ] && hangs="$hangs ls-root"
	[ $rs = 137 ] && hangs="$hangs stat-root"
	if [ $rs = 0 ] && [ $r = 0 ]; then
		result remove.root_answers 1 "stat /mnt: $(cat /tmp/stat.out); ls /mnt: $(cat /tmp/ls.out | tr '\n' ' ')"
	else
		result remove.root_answers 0 "stat /mnt rc=$rs: $(head -c 100 /tmp/stat.out | tr '\n' ' '); ls /mnt rc=$r: $(head -c 100 /tmp/ls.out | tr '\n' ' ')"
	fi

	if [ -z "$daemon_gone" ] && kill -0 $DPID 2>/dev/null; then
		result remove.daemon_alive 1 "daemon pid $DPID still running ${t_obs}ms after removal"
	else
		wait $DPID; rc=$?; DSTATUS=$rc
		result remove.daemon_alive 0 "daemon died ${daemon_gone:-?}ms after removal, status $rc$([ $rc -gt 128 ] && echo " (signal $((rc - 128)))")"
	fi

	# Did holdfs notice?  Its log after the removal, and holdfsctl status.
	tail -n +$((nlog + 1)) /tmp/holdfs.log > /tmp/holdfs.new
	status=
	if [ -x /opt/holdfs/bin/holdfsctl ]; then
		T 5 holdfsctl status /mnt >/tmp/status.out 2>&1; src=$?
		status="holdfsctl status rc=$src: $(head -c 160 /tmp/status.out | tr '\n' ' ')"
		logfile holdfsctl /tmp/status.out 20
	fi
	logfile holdfs /tmp/holdfs.new 40
	first=$(grep -iE 'lost|remov|unbind|gone|device|shut|fail|sigbus|enxio|revok|error' /tmp/holdfs.new | head -n 1)
	if [ -n "$first" ] || { [ "${src:-1}" = 0 ] && grep -qiE 'shut|lost|fail|remov' /tmp/status.out; }; then
		result remove.notice 1 "daemon log: ${first:-(none)}; $status"
	else
		result remove.notice 0 "no daemon log line after the removal ($(wc -l < /tmp/holdfs.new) new lines); $status"
	fi

	if [ -n "$held_eio" ]; then
		case $held_err in
		*Input/output*) result remove.eio_held_fd 1 "read on a file opened before the removal failed at +${held_eio}ms (command returned at +$((t1 - t0))ms): $held_err; $held_stale reads returned data before" ;;
		*) result remove.eio_held_fd 0 "read on a file opened before the removal failed at +${held_eio}ms, not with EIO: $held_err" ;;
		esac
	else
		result remove.eio_held_fd 0 "read on a file opened before the removal kept returning data for ${t_obs}ms ($held_stale reads; stale, no EIO)"
	fi
	if [ -n "$open_eio" ]; then
		case $open_err in
		*Input/output*) result remove.eio_new_open 1 "open+read of an existing file failed at +${open_eio}ms: $open_err; $open_ok successful reads before" ;;
		*) result remove.eio_new_open 0 "open+read of an existing file failed at +${open_eio}ms, not with EIO: $open_err" ;;
		esac
	else
		result remove.eio_new_open 0 "open+read of an existing file kept succeeding for ${t_obs}ms ($open_ok reads; stale data served)"
	fi

	# Writer: stop it, then look at what its writes did after the removal.
	# Stop it and wait (a dd left running would keep /mnt busy).
	stop_writer
	tail -n +$((nwr + 1)) /tmp/writer.log > /tmp/writer.new
	w_ok=$(grep -c ' ok$' /tmp/writer.new) w_err=$(grep -c ' err$' /tmp/writer.new)
	w_first=$(awk '$2 == "err" { print $1; exit }' /tmp/writer.new)
	w_last=$(tail -n 1 /tmp/writer.new | awk '{ print $1 }')
	if [ -n "$w_first" ]; then
		result remove.eio_write 1 "writes fail from +$((w_first - t0))ms ($w_ok ok / $w_err failed after the removal)"
	elif [ "$w_ok" -gt 0 ]; then
		result remove.eio_write 0 "all $w_ok writes after the removal succeeded (no EIO)"
	else
		result remove.eio_write 0 "writer made no progress after the removal (blocked? last line at ${w_last:-never})"
	fi

	if [ -n "$DCPID" ]; then
		if [ "$DC_MAPPED" = 1 ]; then
			a=$(dc_cmd 10 "touch 0")
			e=$(dc_cmd 10 "events")
			i=$(dc_cmd 10 "info")
			rlog "dax_client after removal: touch=[$a] events=[$e] info=[$i]"
			case "$a $e" in
			*revoked=1*|*"ok n="[1-9]*) result remove.dax_client 1 "lease revoked: touch=[$a] events=[$e]" ;;
			*) result remove.dax_client 0 "lease not revoked by holdfs: touch=[$a] events=[$e]" ;;
			esac
		else
			result remove.dax_client 0 "could not map before the removal: $(head -n 1 /tmp/dc.out) $(head -c 120 /tmp/dc.err)"
		fi
		exec 8>&-
		i=0
		while kill -0 $DCPID 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 $DCPID 2>/dev/null
		wait $DCPID 2>/dev/null
		logfile dax_client.err /tmp/dc.err 10
	else
		result remove.dax_client 1 "dax_client not built; skipped"
	fi
	exec 7<&-

	if [ -z "$hangs" ]; then
		result remove.nohang 1 "every access after the removal answered within 3s"
	else
		result remove.nohang 0 "timed out (3s):$hangs"
	fi
	unmount_holdfs remove any-rc
	logfile uevents /tmp/uevents 20
}

# --- nfs: holdfs exported by the kernel's nfsd (NFSv4 over loopback) -------
NFS_EXPORT="/mnt *(rw,no_root_squash,fsid=1018,sync,no_subtree_check)"
# NFS_OPTS: the first client view; NFS2_OPTS: a second superblock that
# revalidates everything on every access.
NFS_OPTS="vers=4.2,addr=127.0.0.1,clientaddr=127.0.0.1,timeo=50,retrans=2"
NFS2_OPTS="$NFS_OPTS,nosharecache,actimeo=0,lookupcache=none"

# md5 of FILE, or "timeout"/"error" (a 10 s deadline, as for every access).
sum() {
	T 10 md5sum < "$1" > /tmp/sum.out 2>/dev/null
	case $? in 0) awk '{ print $1 }' /tmp/sum.out ;; 137) echo timeout ;; *) echo error ;; esac
}

nfsd_start() { # nfsd_start END_GRACE(0|1)
	T 10 exportfs -ra >/tmp/exportfs.out 2>&1 || { rlog "exportfs -ra: $(cat /tmp/exportfs.out)"; return 1; }
	# Shortest allowed grace and lease (10 s); settable only while nfsd is down.
	echo 10 > /proc/fs/nfsd/nfsv4leasetime 2>/dev/null
	echo 10 > /proc/fs/nfsd/nfsv4gracetime 2>/dev/null
	T 20 rpc.nfsd -N 3 -V 4 -U 4 >/tmp/nfsd.out 2>&1 || { rlog "rpc.nfsd: $(cat /tmp/nfsd.out)"; return 1; }
	# With no client state to reclaim there is nothing to wait for.
	[ "$1" = 1 ] && echo Y > /proc/fs/nfsd/v4_end_grace 2>/dev/null
	return 0
}

nfs_up() {
	bad=
	for m in nfsd nfsv4; do
		modprobe "$m" 2>/tmp/modprobe.err || bad="$bad $m($(head -c 80 /tmp/modprobe.err))"
	done
	ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
	mkdir -p /proc/fs/nfsd /var/lib/nfs/v4recovery /run/rpc_pipefs /nfs1 /nfs2 /etc/exports.d
	mount -t nfsd nfsd /proc/fs/nfsd 2>/tmp/nfsdfs.err || bad="$bad mount-nfsd($(head -c 80 /tmp/nfsdfs.err))"
	mount -t rpc_pipefs sunrpc /run/rpc_pipefs 2>/dev/null
	echo 1 > /proc/sys/fs/leases-enable
	: > /var/lib/nfs/etab; : > /var/lib/nfs/rmtab
	echo "$NFS_EXPORT" > /etc/exports
	# v4 only: mountd serves just the kernel's export cache, no rpcbind.
	rpc.mountd -N 2 -N 3 -F >/tmp/mountd.log 2>&1 &
	MOUNTD=$!
	sleep 0.5
	kill -0 $MOUNTD 2>/dev/null || bad="$bad rpc.mountd-exited($(head -c 120 /tmp/mountd.log | tr '\n' ' '))"
	[ -z "$bad" ] && { nfsd_start 1 || bad="$bad nfsd-start"; }
	rlog "exportfs -v: $(T 5 exportfs -v 2>&1 | tr '\n\t' '  ')"
	rlog "nfsd versions: $(cat /proc/fs/nfsd/versions 2>&1) threads: $(cat /proc/fs/nfsd/threads 2>&1)"
	if [ -n "$bad" ]; then
		result nfs.server 0 "$bad"
		return 1
	fi
	t0=$(now_ms)
	T 30 mount.nfs4 127.0.0.1:/mnt /nfs1 -o "$NFS_OPTS" >/tmp/nfsmount.err 2>&1; r1=$?
	T 30 mount.nfs4 127.0.0.1:/mnt /nfs2 -o "$NFS2_OPTS" >>/tmp/nfsmount.err 2>&1; r2=$?
	t1=$(now_ms)
	if [ $r1 = 0 ] && [ $r2 = 0 ] && grep -q ' /nfs1 nfs4' /proc/mounts && grep -q ' /nfs2 nfs4' /proc/mounts; then
		result nfs.server 1 "exported '$NFS_EXPORT'; nfsd $(cat /proc/fs/nfsd/versions); two NFSv4 mounts in $((t1 - t0))ms, st_dev $(stat -c %d /nfs1) and $(stat -c %d /nfs2): $(grep ' /nfs[12] ' /proc/mounts | cut -d' ' -f1-4 | tr '\n' ';')"
		return 0
	fi
	result nfs.server 0 "mount.nfs4 rc=$r1/$r2: $(head -c 300 /tmp/nfsmount.err | tr '\n' ' ')"
	logfile mountd /tmp/mountd.log 20
	return 1
}

nfs_down() {
	for m in /nfs2 /nfs1; do
		grep -q " $m nfs" /proc/mounts || continue
		T 15 umount $m 2>/dev/null || T 10 umount -f $m 2>/dev/null || umount -l $m
	done
	T 20 rpc.nfsd 0 >/dev/null 2>&1
	T 10 exportfs -ua >/dev/null 2>&1
	kill $MOUNTD 2>/dev/null
	wait $MOUNTD 2>/dev/null
}

scenario_nfs() {
	nfs_up || { nfs_down; unmount_holdfs nfs any-rc; return; }

	# Write through NFS, read back through NFS and through holdfs.
	dd if=/dev/urandom of=/tmp/nref bs=64k count=50 2>/dev/null
	want=$(sum /tmp/nref)
	T 30 cp /tmp/nref /nfs1/a; rc=$?
	T 10 sync
	s1=$(sum /nfs1/a) s2=$(sum /mnt/a) s3=$(sum /nfs2/a)
	if [ $rc = 0 ] && [ "$s1" = "$want" ] && [ "$s2" = "$want" ] && [ "$s3" = "$want" ]; then
		result nfs.write_read 1 "3.1 MiB written on /nfs1; md5 $want on /nfs1, /nfs2 and the holdfs mount"
	else
		result nfs.write_read 0 "cp rc=$rc; md5 want $want, /nfs1 $s1, /mnt $s2, /nfs2 $s3"
	fi

	T 10 mv /nfs1/a /nfs1/b; rc=$?
	if [ $rc = 0 ] && [ ! -e /mnt/a ] && [ "$(sum /mnt/b)" = "$want" ] && [ "$(sum /nfs1/b)" = "$want" ]; then
		result nfs.rename 1 "a -> b through NFS; holdfs has b with the same data and no a"
	else
		result nfs.rename 0 "mv rc=$rc; /mnt/a $([ -e /mnt/a ] && echo exists || echo gone); /mnt/b md5 $(sum /mnt/b)"
	fi

	T 10 ln /nfs1/b /nfs1/c; rc=$?
	n1=$(T 10 stat -c %h /nfs1/b) n2=$(T 10 stat -c %h /mnt/c)
	i1=$(T 10 stat -c %i /mnt/b) i2=$(T 10 stat -c %i /mnt/c)
	if [ $rc = 0 ] && [ "$n1" = 2 ] && [ "$n2" = 2 ] && [ "$i1" = "$i2" ] && [ "$(sum /nfs1/c)" = "$want" ]; then
		result nfs.link 1 "hard link c of b through NFS: nlink 2 on NFS and holdfs, one inode ($i1)"
	else
		result nfs.link 0 "ln rc=$rc; nlink nfs=$n1 holdfs=$n2; inodes $i1 $i2"
	fi

	# Unlink while open: the client keeps the file alive (silly rename).
	cp /tmp/nref /nfs1/u
	exec 6</nfs1/u
	T 10 rm /nfs1/u; rc=$?
	gone=0; [ ! -e /nfs1/u ] && [ ! -e /mnt/u ] && gone=1
	s=$(T 10 md5sum <&6 | awk '{ print $1 }')
	hidden=$(ls -a /mnt | grep -c '^\.nfs')
	exec 6<&-
	sleep 1
	left=$(ls -a /mnt | grep -c '^\.nfs')
	if [ $rc = 0 ] && [ $gone = 1 ] && [ "$s" = "$want" ] && [ "$left" = 0 ]; then
		result nfs.unlink_open 1 "rm of an open file: the name is gone, the open fd still reads the data (md5 ok); $hidden silly-renamed .nfs file(s) while open, $left after close"
	else
		result nfs.unlink_open 0 "rm rc=$rc gone=$gone; md5 through the fd '$s' (want $want); .nfs files while open $hidden, after close $left"
	fi

	T 10 truncate -s 100000 /nfs1/b; rc=$?
	head -c 100000 /tmp/nref > /tmp/nref.t
	z1=$(T 10 stat -c %s /nfs1/b) z2=$(T 10 stat -c %s /mnt/b) z3=$(T 10 stat -c %s /nfs1/c)
	if [ $rc = 0 ] && [ "$z1" = 100000 ] && [ "$z2" = 100000 ] && [ "$z3" = 100000 ] && [ "$(sum /mnt/b)" = "$(sum /tmp/nref.t)" ]; then
		result nfs.truncate 1 "truncate to 100000 through NFS: size on NFS, on holdfs and of the link; the kept bytes intact"
	else
		result nfs.truncate 0 "truncate rc=$rc; sizes nfs=$z1 holdfs=$z2 link=$z3"
	fi

	# The second client view sees the first one's changes.  Both mounts
	# are one NFSv4 client to nfsd (one client id), and nfsd does not
	# recall a read delegation for an open by the client that holds it:
	# /nfs2 may keep serving its delegated copy.  Shown once (log only),
	# then the check runs with delegations off (fs.leases-enable=0), as
	# between two real client machines, where the delegation is recalled.
	echo one > /nfs1/d
	r1=$(T 10 cat /nfs2/d)
	deleg=$(cat /proc/fs/nfsd/clients/*/states 2>/dev/null | grep -c deleg)
	echo two > /nfs1/d
	r2=$(T 10 cat /nfs2/d)
	rlog "second view with delegations on: /nfs2 read '$r1' then '$r2' (/nfs1 wrote one, two); $deleg delegation(s) in /proc/fs/nfsd/clients/*/states"
	echo 0 > /proc/sys/fs/leases-enable
	echo one > /nfs1/v
	r1=$(T 10 cat /nfs2/v)
	echo two > /nfs1/v
	r2=$(T 10 cat /nfs2/v)
	echo three > /nfs2/w
	r3=$(T 10 cat /nfs1/w)
	T 10 rm /nfs1/v
	gone=0; T 10 cat /nfs2/v >/dev/null 2>&1 || gone=1
	if [ "$r1" = one ] && [ "$r2" = two ] && [ "$r3" = three ] && [ $gone = 1 ]; then
		result nfs.second_view 1 "/nfs2 (nosharecache, actimeo=0, lookupcache=none) read one then two as /nfs1 wrote them and saw its unlink; /nfs1 read a file /nfs2 created"
	else
		result nfs.second_view 0 "/nfs2 read '$r1' then '$r2' (want one, two), unlink seen: $gone; /nfs1 read '$r3' (want three)"
	fi

	l1=$(T 10 ls /nfs1/dir | tr '\n' ' ') l2=$(T 10 ls /mnt/dir | tr '\n' ' ') l3=$(T 10 ls /nfs2/dir | tr '\n' ' ')
	n=$(echo $l1 | wc -w)
	if [ "$n" = 10 ] && [ "$l1" = "$l2" ] && [ "$l1" = "$l3" ] && [ "$(T 10 cat /nfs1/dir/s4)" = "small file 4" ]; then
		result nfs.readdir 1 "ls of a 10-file directory: the same on /nfs1, /nfs2 and holdfs"
	else
		result nfs.readdir 0 "ls /nfs1/dir: $l1; /mnt/dir: $l2; /nfs2/dir: $l3"
	fi

	nfs_restart
	nfs_range_failure
	nfs_device_loss

	nfs_down
	unmount_holdfs nfs any-rc
}

# Restart holdfs under the export.  An NFSv4 open keeps a file of holdfs
# open in nfsd, so holdfs cannot be unmounted while nfsd holds state: try
# with only the export removed first (evidence for docs/nfs.md), then stop
# nfsd (the state goes), unmount, mount, export, start nfsd; the client
# then reclaims its opens in the grace period.
nfs_restart() {
	cp /tmp/nref /nfs1/keep; cp /tmp/nref /nfs1/keep2
	want=$(sum /tmp/nref)
	tail -c +65537 /tmp/nref > /tmp/nref.rest
	want_rest=$(sum /tmp/nref.rest)
	# Read the first 64 KiB through the fd now, the rest after the restart.
	exec 5</nfs1/keep
	s0=$(T 10 dd bs=64k count=1 <&5 2>/dev/null | md5sum | awk '{ print $1 }')
	cat /nfs1/keep2 > /dev/null
	ino_before=$(stat -c %i /mnt/keep)
	t0=$(now_ms)
	T 10 exportfs -ua >/dev/null 2>&1
	if T 15 umount /mnt 2>/tmp/umount.err; then
		how="unmounted with only the export removed"
	else
		how="umount with only the export removed: $(head -c 100 /tmp/umount.err | tr '\n' ' '); stopped nfsd"
		T 20 rpc.nfsd 0 >/dev/null 2>&1
		if T 15 umount /mnt 2>/tmp/umount.err; then how="$how, then unmounted"
		else how="$how, umount still failed: $(head -c 100 /tmp/umount.err | tr '\n' ' ')"
		fi
	fi
	i=0
	while kill -0 $DPID 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	wait $DPID; drc=$?
	if grep -q ' /mnt fuse' /proc/mounts || ! mount_holdfs; then
		result nfs.restart 0 "$how; daemon rc=$drc; holdfs could not be mounted again"
		return
	fi
	stopped=0
	[ "$(cat /proc/fs/nfsd/threads 2>/dev/null)" = 0 ] && stopped=1
	T 10 exportfs -ra >/dev/null 2>&1
	[ $stopped = 1 ] && nfsd_start 0
	t1=$(now_ms)
	result nfs.restart 1 "$how; daemon exited rc=$drc; holdfs mounted again and re-exported in $((t1 - t0))ms (nfsd $([ $stopped = 1 ] && echo restarted || echo 'kept running'))"

	# Every access with a deadline: a reclaim waits for the grace period.
	echo 3 > /proc/sys/vm/drop_caches
	t2=$(now_ms)
	s1=$(T 40 cat <&5 2>/tmp/fd5.err | md5sum | awk '{ print $1 }')
	t3=$(now_ms)
	# The one client has reclaimed what it held (the read above needed
	# it): end the grace period rather than wait 10 s for it, as nfsdcld
	# would once every known client said RECLAIM_COMPLETE.
	echo Y > /proc/fs/nfsd/v4_end_grace 2>/dev/null
	s2=$(T 40 md5sum < /nfs1/keep2 2>/tmp/keep2.err | awk '{ print $1 }')
	echo fresh > /nfs1/fresh 2>/tmp/fresh.err
	s3=$(T 20 cat /nfs1/fresh 2>&1)
	s4=$(T 20 cat /nfs2/fresh 2>&1)
	t4=$(now_ms)
	ino_after=$(stat -c %i /mnt/keep)
	exec 5<&-
	if [ "$s1" = "$want_rest" ]; then fd_how="the fd opened before the restart reads on (the rest of the file, md5 ok, after $((t3 - t2))ms: its open was reclaimed in the grace period)"; s1=$want
	else fd_how="the fd opened before the restart fails after $((t3 - t2))ms: $(head -c 100 /tmp/fd5.err | tr '\n' ' ') (md5 $s1, want $want_rest; first 64 KiB before the restart: $([ "$s0" = "$(head -c 65536 /tmp/nref | md5sum | awk '{ print $1 }')" ] && echo ok || echo "bad $s0"))"
	fi
	if [ "$s2" = "$want" ]; then h_how="the cached handle of keep2 works"
	else h_how="the cached handle of keep2: $(head -c 100 /tmp/keep2.err | tr '\n' ' ')"
	fi
	rlog "restart: $fd_how; $h_how; holdfs inode $ino_before -> $ino_after"
	if [ "$s3" = fresh ] && [ "$s4" = fresh ]; then
		result nfs.restart_new_open 1 "after the restart new files work on both mounts ($((t4 - t2))ms for all accesses)"
	else
		result nfs.restart_new_open 0 "after the restart: /nfs1/fresh '$s3' /nfs2/fresh '$s4': $(head -c 100 /tmp/fresh.err)"
	fi
	case "$s1|$s2" in
	"$want|$want") result nfs.restart_old_handles 1 "old handles survive: $fd_how; $h_how" ;;
	*) case "$(cat /tmp/fd5.err /tmp/keep2.err)" in
	   *"Stale file handle"*|*"Input/output"*) result nfs.restart_old_handles 1 "old handles fail cleanly: $fd_how; $h_how" ;;
	   *) result nfs.restart_old_handles 0 "old handles: $fd_how; $h_how" ;;
	   esac ;;
	esac
}

# The device taken away under the export: NFS clients get EIO, no hang.
nfs_device_loss() {
	t0=$(now_ms)
	T 30 daxctl disable-device dax0.0 >/tmp/remove.out 2>&1; rrc=$?
	t1=$(now_ms)
	sleep 0.5
	T 10 dd if=/nfs1/other of=/dev/null bs=64k count=1 iflag=direct 2>/tmp/l1.err; r1=$?
	T 10 dd if=/nfs2/f1 of=/dev/null bs=64k count=1 2>/tmp/l2.err; r2=$?
	T 10 sh -c 'echo x > /nfs1/after-loss' 2>/tmp/l3.err; r3=$?
	T 10 ls /nfs2 >/tmp/l4.out 2>&1; r4=$?
	t2=$(now_ms)
	e1=$(head -n 1 /tmp/l1.err) e2=$(head -n 1 /tmp/l2.err) e3=$(head -n 1 /tmp/l3.err)
	rlog "device loss under the export: daxctl rc=$rrc in $((t1 - t0))ms; read /nfs1 rc=$r1 $e1; read /nfs2 rc=$r2 $e2; create rc=$r3 $e3; ls /nfs2 rc=$r4 $(head -c 100 /tmp/l4.out | tr '\n' ' '); $((t2 - t1))ms"
	hung=
	for r in $r1 $r2 $r3 $r4; do [ $r = 137 ] && hung=1; done
	case "$e1|$e2|$e3" in
	*Input/output*"|"*Input/output*"|"*Input/output*)
		[ -z "$hung" ] && result nfs.loss_eio 1 "after daxctl disable-device: reads on both NFS mounts and a create fail with EIO within $((t2 - t1))ms; ls rc=$r4" ||
			result nfs.loss_eio 0 "EIO, but something hung (rc 137): $r1 $r2 $r3 $r4" ;;
	*) result nfs.loss_eio 0 "daxctl rc=$rrc; /nfs1 read rc=$r1 $e1; /nfs2 read rc=$r2 $e2; create rc=$r3 $e3; ls rc=$r4" ;;
	esac
}

# A media error on the first block of one file, injected under the export:
# NFS readers of that block get EIO, the rest reads, nothing hangs.
nfs_range_failure() {
	dd if=/tmp/nref of=/mnt/victim bs=64k 2>/dev/null
	head -c 1048576 /tmp/nref > /mnt/other
	T 10 sync
	want_o=$(sum /mnt/other)
	off=
	if [ -x /opt/holdfs/bin/dax_client ] && [ -x /opt/holdfs/bin/holdfsctl ]; then
		mkfifo /tmp/dv.in
		: > /tmp/dc.out
		dax_client < /tmp/dv.in > /tmp/dc.out 2>/tmp/dc.err &
		DCPID=$!
		exec 8<>/tmp/dv.in
		a=$(dc_cmd 10 "map /mnt/victim 0 $ALLOC_LEN ro")
		T 10 holdfsctl leases --json /mnt > /tmp/leases.json 2>&1
		off=$(tr -d ' \n' < /tmp/leases.json | grep -o '"region_off":[0-9]*' | head -n 1 | cut -d: -f2)
		exec 8>&-
		i=0
		while kill -0 $DCPID 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 $DCPID 2>/dev/null; wait $DCPID 2>/dev/null
		rlog "victim lease: map=[$a] region_off=$off"
	fi
	if [ -z "$off" ]; then
		result nfs.range_eio 0 "could not find the victim's region offset: $(head -c 200 /tmp/leases.json)"
		return
	fi
	echo 3 > /proc/sys/vm/drop_caches
	t0=$(now_ms)
	T 10 holdfsctl inject --range "$off,4096" --media /mnt >/tmp/inject.out 2>&1; irc=$?
	logfile inject /tmp/inject.out 10
	hangs=
	ta=$(now_ms)
	T 10 dd if=/nfs1/victim of=/dev/null bs=4096 count=1 iflag=direct 2>/tmp/v1.err; r1=$?
	tb=$(now_ms)
	T 10 dd if=/nfs2/victim of=/dev/null bs=4096 count=1 2>/tmp/v2.err; r2=$?
	tc=$(now_ms)
	T 10 dd if=/mnt/victim of=/dev/null bs=4096 count=1 2>/tmp/v3.err; r3=$?
	td=$(now_ms)
	T 10 dd if=/nfs1/victim of=/dev/null bs=64k skip=40 count=1 iflag=direct 2>/tmp/v4.err; r4=$?
	te=$(now_ms)
	so=$(sum /nfs1/other) so2=$(sum /nfs2/other)
	T 10 ls /nfs1 >/dev/null 2>&1; rl=$?
	rlog "range failure access times (ms): inject $((ta - t0)) /nfs1 $((tb - ta)) /nfs2 $((tc - tb)) holdfs $((td - tc)) /nfs1-rest $((te - td)) other+ls $(($(now_ms) - te))"
	t1=$(now_ms)
	for r in $r1 $r2 $r3 $r4 $rl; do [ $r = 137 ] && hangs=1; done
	case "$so $so2" in *timeout*) hangs=1 ;; esac
	e1=$(head -n 1 /tmp/v1.err) e2=$(head -n 1 /tmp/v2.err) e3=$(head -n 1 /tmp/v3.err)
	rlog "after inject at region offset $off (rc=$irc): /nfs1 rc=$r1 $e1; /nfs2 rc=$r2 $e2; holdfs rc=$r3 $e3; /nfs1 past the block rc=$r4; other md5 $so/$so2; ls rc=$rl; $((t1 - t0))ms"
	case "$e1|$e2" in
	*Input/output*"|"*Input/output*) result nfs.range_eio 1 "media error injected on victim's first 4 KiB (region offset $off): both NFS mounts read EIO there, like holdfs itself ($e3)" ;;
	*) result nfs.range_eio 0 "inject rc=$irc; /nfs1: rc=$r1 $e1; /nfs2: rc=$r2 $e2; holdfs: rc=$r3 $e3" ;;
	esac
	if [ $r4 = 0 ] && [ "$so" = "$want_o" ] && [ "$so2" = "$want_o" ] && [ $rl = 0 ]; then
		result nfs.range_unaffected 1 "the rest of victim and another file read back through NFS (md5 ok), ls works"
	else
		result nfs.range_unaffected 0 "victim past the block rc=$r4 ($(head -n 1 /tmp/v4.err)); other md5 $so / $so2 (want $want_o); ls rc=$rl"
	fi
	if [ -z "$hangs" ]; then
		result nfs.nohang 1 "every NFS access after the failure answered within 10s ($((t1 - t0))ms in all)"
	else
		result nfs.nohang 0 "an access hung (rc 137): $r1 $r2 $r3 $r4 ls=$rl"
	fi
}

# --- poison: a real memory failure on a DAX-mapped page ---------------------
# Several dax clients, each on fds/files of its own: dcn NAME SECS LINE.
dcn_start() { # dcn_start NAME FD
	mkfifo /tmp/dc$1.in
	: > /tmp/dc$1.out
	dax_client < /tmp/dc$1.in > /tmp/dc$1.out 2>/tmp/dc$1.err 5<&- 6<&- 7<&- 8<&- 9<&- &
	eval "DC_$1=\$!"
	eval "exec $2<>/tmp/dc$1.in"
	eval "DCFD_$1=$2"
}
dcn() { # dcn NAME SECS LINE: one answer line, or no-answer/client-dead
	eval "fd=\$DCFD_$1 pid=\$DC_$1"
	n0=$(wc -l < /tmp/dc$1.out)
	eval "echo \"\$3\" >&$fd" 2>/dev/null || { echo "pipe-closed"; return; }
	i=0
	while [ "$(wc -l < /tmp/dc$1.out)" -le "$n0" ] && [ $i -lt $(($2 * 10)) ]; do
		sleep 0.1; i=$((i + 1))
	done
	if [ "$(wc -l < /tmp/dc$1.out)" -gt "$n0" ]; then sed -n "$((n0 + 1))p" /tmp/dc$1.out
	elif kill -0 $pid 2>/dev/null; then echo "no-answer-${2}s"
	else wait $pid; echo "client-dead status=$?"
	fi
}
dcn_stop() { # dcn_stop NAME
	eval "fd=\$DCFD_$1 pid=\$DC_$1"
	eval "exec $fd>&-"
	i=0
	while kill -0 $pid 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
}

scenario_poison() {
	if [ ! -x /opt/holdfs/bin/dax_client ]; then
		result poison.sigbus 0 "dax_client not built"
		unmount_holdfs poison any-rc
		return
	fi
	dd if=/dev/urandom of=/tmp/pref bs=1M count=4 2>/dev/null
	cp /tmp/pref /mnt/pz
	T 10 sync
	# Two holders of pz's first allocation unit: A poisons, B is the
	# other holder that must be revoked.
	dcn_start A 8
	dcn_start B 9
	ma=$(dcn A 10 "map /mnt/pz 0 2097152 r") ta=$(dcn A 10 "touch 4096")
	mb=$(dcn B 10 "map /mnt/pz 0 2097152 r") tb=$(dcn B 10 "touch 4096")
	ia=$(dcn A 10 info)
	rlog "holders before: A map=[$ma] touch=[$ta] info=[$ia]; B map=[$mb] touch=[$tb]"
	T 10 holdfsctl leases /mnt 2>&1 | while IFS= read -r l; do rlog "[leases] $l"; done
	nlog=$(wc -l < /tmp/holdfs.log)
	dmesg -c > /dev/null

	t0=$(now_ms)
	hp=$(dcn A 10 "hwpoison 4096")
	t1=$(now_ms)
	ta2=$(dcn A 10 "touch 4096")
	dmesg | grep -iE 'memory failure|hwpoison|poison|mce|inject' | head -n 20 | while IFS= read -r l; do rlog "[dmesg] $l"; done
	rlog "A: hwpoison=[$hp] in $((t1 - t0))ms, touch after=[$ta2]"
	code=
	case "$hp $ta2" in
	*"sigbus code=4 "*) code=BUS_MCEERR_AR ;;
	*"sigbus code=5 "*) code=BUS_MCEERR_AO ;;
	esac
	if [ -n "$code" ]; then
		result poison.sigbus 1 "madvise(MADV_HWPOISON) on A's lease page at file offset 4096: A got SIGBUS $code: hwpoison=[$hp] touch=[$ta2]"
	else
		result poison.sigbus 0 "no machine-check SIGBUS in A: hwpoison=[$hp] touch=[$ta2]"
	fi

	# The daemon learns (libholdfs's report, or its own AO notice).
	i=0
	while [ $i -lt 50 ]; do
		tail -n +$((nlog + 1)) /tmp/holdfs.log > /tmp/holdfs.new
		grep -qiE 'poison|media error|lost bytes' /tmp/holdfs.new && break
		sleep 0.1; i=$((i + 1))
	done
	sleep 0.5
	tail -n +$((nlog + 1)) /tmp/holdfs.log > /tmp/holdfs.new
	logfile holdfs /tmp/holdfs.new 30
	T 10 holdfsctl status /mnt > /tmp/status.out 2>&1
	logfile status /tmp/status.out 30
	first=$(grep -iE 'poison|media error' /tmp/holdfs.new | head -n 1)
	# Which source told it: its own AO (the kernel signals the daemon, which
	# asked for early kill) and/or libholdfs's report from A's handler (none
	# if the daemon had already revoked A's range when the handler ran).
	src=
	grep -q 'sigbus (machine check)' /tmp/holdfs.new && src="$src daemon-AO"
	grep -q 'reports poison' /tmp/holdfs.new && src="$src client-report"
	if [ -n "$first" ] && grep -qiE 'degraded' /tmp/status.out; then
		result poison.daemon_learned 1 "sources:${src:- ?}; $first; status $(grep -iE '^ *state' /tmp/status.out | head -n 1)"
	else
		result poison.daemon_learned 0 "daemon log: ${first:-(nothing about poison)}; status: $(head -c 200 /tmp/status.out | tr '\n' ' ')"
	fi

	eb=$(dcn B 10 events) tb2=$(dcn B 10 "touch 4096") aob=$(dcn B 10 ao)
	ea=$(dcn A 10 events)
	rlog "B after: events=[$eb] touch=[$tb2] ao=[$aob]; A events=[$ea]"
	case "$eb $tb2" in
	*"ok n="[1-9]*|*revoked=1*) result poison.holders_revoked 1 "the other holder B lost the range: events=[$eb] touch=[$tb2] (kernel AO to B: $aob)" ;;
	*) result poison.holders_revoked 0 "B still maps the poisoned range: events=[$eb] touch=[$tb2] ao=[$aob]" ;;
	esac
	dcn_stop A
	dcn_stop B

	echo 3 > /proc/sys/vm/drop_caches
	T 10 dd if=/mnt/pz of=/dev/null bs=4096 skip=1 count=1 2>/tmp/pz.err; r1=$?
	e1=$(head -n 1 /tmp/pz.err)
	dd if=/tmp/pref bs=1M skip=2 count=2 2>/dev/null | md5sum > /tmp/pz.want
	T 10 dd if=/mnt/pz bs=1M skip=2 count=2 2>/dev/null | md5sum > /tmp/pz.got
	case $e1 in
	*Input/output*) result poison.range_eio 1 "read of the poisoned page through the mount: $e1; the file's second allocation unit reads back $(cmp -s /tmp/pz.want /tmp/pz.got && echo intact || echo DIFFERENT)" ;;
	*) result poison.range_eio 0 "read of the poisoned page through the mount rc=$r1: ${e1:-no error (data served)}" ;;
	esac
	err=
	T 30 cmp /tmp/ref /mnt/f1 >/dev/null 2>&1 || err="$err f1"
	for k in 1 2 3 4 5 6 7 8 9 10; do
		[ "$(T 10 cat /mnt/dir/s$k)" = "small file $k" ] || err="$err s$k"
	done
	cmp -s /tmp/pz.want /tmp/pz.got || err="$err pz-second-unit"
	if [ -z "$err" ]; then result poison.others_intact 1 "the 8 MiB file, ten small files and pz's unpoisoned unit read back byte for byte"
	else result poison.others_intact 0 "differ or fail:$err"
	fi

	# The bad extents the daemon recorded ("0xOFF+0xLEN" lines).
	badx=$(sed -n '/^bad extents/,/^[a-z]/p' /tmp/status.out | grep -o '0x[0-9a-f]*+0x[0-9a-f]*' | tr '\n' ' ')
	T 10 rm /mnt/pz
	unmount_holdfs poison.first any-rc
	T 120 fsck.holdfs -n -f --json /dev/dax0.0 >/tmp/fsck.json 2>/tmp/fsck.err; frc=$?
	nbad=$(tr -d ' \n' < /tmp/fsck.json | grep -o '"bad_extents":[0-9]*' | cut -d: -f2)
	bbad=$(tr -d ' \n' < /tmp/fsck.json | grep -o '"blocks_bad":[0-9]*' | cut -d: -f2)
	rlog "fsck.holdfs -n -f --json rc=$frc: bad_extents=$nbad blocks_bad=$bbad $(head -c 200 /tmp/fsck.err)"
	if [ "${nbad:-0}" -ge 1 ] 2>/dev/null; then
		result poison.fsck_bad 1 "fsck.holdfs -n -f rc=$frc: $nbad bad extent(s), $bbad bad block(s); the daemon had recorded: $badx"
	else
		result poison.fsck_bad 0 "fsck.holdfs -n -f rc=$frc reports bad_extents=${nbad:-?}; the daemon had recorded: ${badx:-nothing}"
	fi

	# Remount: the bad range stays on the list, and new data (after pz,
	# which owned the block, was removed) is never placed on it.
	if mount_holdfs; then
		T 10 holdfsctl status /mnt > /tmp/status2.out 2>&1
		logfile status2 /tmp/status2.out 12
		badx2=$(sed -n '/^bad extents/,/^[a-z]/p' /tmp/status2.out | grep -o '0x[0-9a-f]*+0x[0-9a-f]*' | tr '\n' ' ')
		dd if=/dev/urandom of=/tmp/nref bs=1M count=16 2>/dev/null
		T 30 cp /tmp/nref /mnt/new
		T 10 sync
		dcn_start N 8
		mn=$(dcn N 10 "map /mnt/new 0 16777216 r")
		T 10 holdfsctl leases /mnt > /tmp/leases2.out 2>&1
		dcn_stop N
		ext=$(grep -o '[0-9a-fx]*+0x[0-9a-f]*@0x[0-9a-f]*' /tmp/leases2.out | tr '\n' ' ')
		over=
		for b in $badx; do
			bo=$((${b%%+*})) bl=$((${b#*+}))
			for e in $ext; do
				el=${e#*+}; el=$((${el%%@*})) eo=$((${e#*@}))
				[ $bo -lt $((eo + el)) ] && [ $eo -lt $((bo + bl)) ] && over="$over $e"
			done
		done
		echo 3 > /proc/sys/vm/drop_caches
		T 30 cmp /tmp/nref /mnt/new >/dev/null 2>&1; crc=$?
		if [ -n "$badx" ] && [ "$badx2" = "$badx" ] && [ -n "$ext" ] && [ -z "$over" ] && [ $crc = 0 ]; then
			result poison.remount 1 "after remount the bad list is still $badx2; a new 16 MiB file (map=[$mn]) lies at $ext, none on it, and reads back"
		else
			result poison.remount 0 "bad list before '$badx' after '$badx2'; new file extents '$ext' (map=[$mn]) overlapping:${over:- none}; cmp rc=$crc"
		fi
		scenario_offline
	else
		result poison.remount 0 "remount failed"
	fi
}

# Planned removal: holdfsctl offline under load, then disable the device.
scenario_offline() {
	dd if=/dev/urandom of=/tmp/oref bs=1M count=4 2>/dev/null
	cp /tmp/oref /mnt/held
	T 10 sync
	exec 7</mnt/held
	dd if=/dev/zero of=/mnt/dx bs=1M count=4 2>/dev/null
	dcn_start C 8
	mc=$(dcn C 10 "map /mnt/dx 0 2097152 rw") fc=$(dcn C 10 "fill 0 4096 171") pc=$(dcn C 10 "persist 0 4096")
	rlog "offline: client C map=[$mc] fill=[$fc] persist=[$pc]"
	( i=0
	  while [ ! -e /tmp/writer.stop ]; do
		if dd if=/dev/zero of=/mnt/w.$((i % 4)) bs=64k count=4 conv=fsync 2>/dev/null; then
			echo "$(now_ms) ok"
		else
			echo "$(now_ms) err"
		fi
		i=$((i + 1))
		sleep 0.05
	  done ) > /tmp/writer.log 2>&1 5<&- 6<&- 7<&- 8<&- 9<&- &
	WPID=$!
	sleep 1
	t0=$(now_ms)
	T 60 holdfsctl offline --deadline-ms 2000 /mnt > /tmp/offline.out 2>&1; orc=$?
	t1=$(now_ms)
	logfile offline /tmp/offline.out 20
	i=0
	while kill -0 $DPID 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 $DPID 2>/dev/null; then drc=running; else wait $DPID; drc=$?; fi
	if [ $orc = 0 ] && [ "$drc" = 0 ] && ! grep -q ' /mnt fuse' /proc/mounts; then
		result offline.command 1 "holdfsctl offline rc=0 in $((t1 - t0))ms; the daemon unmounted and exited 0: $(head -n 1 /tmp/offline.out)"
	else
		result offline.command 0 "holdfsctl offline rc=$orc; daemon $drc; $(grep ' /mnt ' /proc/mounts | cut -d' ' -f1-3)"
	fi
	ec=$(dcn C 10 events)
	T 20 daxctl disable-device dax0.0 >/tmp/remove.out 2>&1; rrc=$?
	sleep 1
	ec2=$(dcn C 10 events) tc=$(dcn C 10 "touch 0")
	touch /tmp/writer.stop
	i=0
	while kill -0 $WPID 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	kill -9 $WPID 2>/dev/null; wait $WPID 2>/dev/null
	alive=0; kill -0 $DC_C 2>/dev/null && alive=1
	rlog "offline: client C events before disable=[$ec] after=[$ec2] touch=[$tc] alive=$alive; writer $(grep -c ok /tmp/writer.log) ok / $(grep -c err /tmp/writer.log) err"
	killed=$(dmesg | grep -ciE 'killed|potentially unexpected fatal signal')
	if [ $rrc = 0 ] && [ $alive = 1 ] && [ "$killed" = 0 ]; then
		result offline.no_kill 1 "daxctl disable-device after offline rc=0; the client is alive (lease revoked before: events=[$ec]), no process killed"
	else
		result offline.no_kill 0 "disable rc=$rrc ($(head -c 100 /tmp/remove.out)); client alive=$alive ($tc); $killed kill lines in dmesg"
	fi
	dcn_stop C
	exec 7<&-
	T 20 daxctl enable-device dax0.0 >/tmp/enable.out 2>&1; erc=$?
	i=0
	while [ ! -c /dev/dax0.0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	T 120 fsck.holdfs -n /dev/dax0.0 >/tmp/fsck2.out 2>&1; frc=$?
	logfile fsck2 /tmp/fsck2.out 8
	lost=
	if [ $erc = 0 ] && mount_holdfs; then
		T 30 cmp /tmp/oref /mnt/held >/dev/null 2>&1 || lost="$lost held"
		T 30 cmp /tmp/ref /mnt/f1 >/dev/null 2>&1 || lost="$lost f1"
		T 30 cmp /tmp/nref /mnt/new >/dev/null 2>&1 || lost="$lost new"
		[ "$(T 10 dd if=/mnt/dx bs=4096 count=1 2>/dev/null | tr -d '\253' | wc -c)" = 0 ] || lost="$lost dx-persisted-fill"
		if [ $frc = 0 ] && [ -z "$lost" ]; then
			result offline.nothing_lost 1 "after daxctl enable-device: fsck.holdfs -n clean (no replay), and every file, the client's persisted store included, reads back"
		else
			result offline.nothing_lost 0 "fsck rc=$frc: $(tail -n 1 /tmp/fsck2.out); lost or different:$lost"
		fi
		unmount_holdfs offline
	else
		result offline.nothing_lost 0 "daxctl enable-device rc=$erc ($(head -c 100 /tmp/enable.out)) or mount failed; fsck rc=$frc"
	fi
}

# --- multidev: a volume over two devices, one taken away (multidev: the
# second; multidev0: the first, whose metadata its mirror then serves) -----
# dev_blocks PATH: "BLOCKS_ON_DEV0 BLOCKS_ON_DEV1" (holdfsctl devices --json)
dev_blocks() {
	T 3 holdfsctl devices --json "$1" 2>/dev/null | tr -d ' \n' |
		grep -o '"file_blocks":[0-9]*' | cut -d: -f2 | tr '\n' ' '
}
# dev_state N: device N's state in holdfsctl devices --json /mnt
# (the holdfsctl exit status goes to /tmp/devs.rc: 137 means it hung)
dev_state() {
	T 3 holdfsctl devices --json /mnt >/tmp/devs.json 2>/dev/null; echo $? > /tmp/devs.rc
	tr -d ' \n' < /tmp/devs.json |
		grep -o "\"device\":$1,[^}]*" | grep -o '"state":"[a-z]*"' | cut -d'"' -f4
}
# vol_state: the volume's state in holdfsctl status --json /mnt
vol_state() {
	T 3 holdfsctl status --json /mnt 2>/dev/null | tr -d ' \n' |
		grep -o '"state":"[a-z]*"' | head -n 1 | cut -d'"' -f4
}
# md_classify PATH: append PATH to /tmp/files0 (data on device 0 only, or
# none), /tmp/files1 (on device 1 only) or /tmp/filesx (on both)
md_classify() {
	b=$(dev_blocks "$1")
	b0=$(echo $b | awk '{ print $1 + 0 }') b1=$(echo $b | awk '{ print $2 + 0 }')
	if [ -z "$b" ]; then echo "$1" >> /tmp/filesx; rlog "placement $1: holdfsctl devices failed"
	elif [ "$b1" = 0 ]; then echo "$1" >> /tmp/files0
	elif [ "$b0" = 0 ]; then echo "$1" >> /tmp/files1
	else echo "$1" >> /tmp/filesx
	fi
	rlog "placement $1: dev0 $b0 blocks, dev1 $b1 blocks"
}
# md_check LIST: every file in LIST reads back with its checksum from
# /tmp/sums (3 s each); prints what differs or hangs, nothing if all match
md_check() {
	while read -r f; do
		want=$(awk -v f="$f" '$2 == f { print $1 }' /tmp/sums)
		got=$(T 3 md5sum "$f" 2>/tmp/md5.err); r=$?
		if [ $r = 137 ]; then echo -n " $f:hang"
		elif [ $r != 0 ]; then echo -n " $f:$(head -n 1 /tmp/md5.err | sed 's/^md5sum: //')"
		elif [ "${got%% *}" != "$want" ]; then echo -n " $f:checksum"
		fi
	done < "$1"
}
# md_eio LIST: every file in LIST must fail to read with EIO (3 s each);
# prints the ones that do not
md_eio() {
	while read -r f; do
		T 3 cat "$f" >/dev/null 2>/tmp/eio.err; r=$?
		if [ $r = 137 ]; then echo -n " $f:hang"
		elif [ $r = 0 ]; then echo -n " $f:read-ok"
		elif ! grep -q 'Input/output' /tmp/eio.err; then echo -n " $f:$(head -n 1 /tmp/eio.err | sed 's/^cat: //')"
		fi
	done < "$1"
}

# busybox timeout leaves its watcher process, with the caller's fds, for
# up to 1 s after the command ended: before an unmount, wait (3 s at
# most) until no process holds a file below /mnt
mnt_settle() {
	i=0
	while [ $i -lt 30 ]; do
		busy=
		for p in /proc/[0-9]*; do
			for l in $p/fd/*; do
				case $(readlink $l 2>/dev/null) in /mnt/*) busy=1; break 2 ;; esac
			done
		done
		[ -z "$busy" ] && return 0
		sleep 0.1; i=$((i + 1))
	done
}

# multidev0, before device 0 goes: real poison (madvise(MADV_HWPOISON))
# on the first page of device 0's inode table, under the writer's load.
# The kernel sends the daemon a machine-check SIGBUS for the page's
# mapping (2 MiB here); with the mirror working only that range must be
# served from device 1 from then on -- no shutdown, every file reads back,
# a new file can be made, status says degraded with one copy of the range.
md_meta_poison() {
	itab=$(sed -n 's/^ *inodes .*table .* at \(0x[0-9a-f]*\)).*/\1/p' /tmp/mkfs.out)
	if [ -z "$itab" ]; then
		result multidev0.meta_poison 0 "no inode table offset in the mkfs output: $(grep inodes /tmp/mkfs.out)"
		return
	fi
	nl=$(wc -l < /tmp/holdfs.log)
	t0=$(now_ms)
	pd=$(T 10 poisondev /dev/dax0.0 $itab 2>&1 | head -n 1)
	# up to 5 s for the daemon to take the range from the mirror
	ob=0 vs=
	while [ $(($(now_ms) - t0)) -lt 5000 ]; do
		T 3 holdfsctl status --json /mnt 2>/dev/null | tr -d ' \n' > /tmp/mp.json
		ob=$(grep -o '"one_copy_bytes":[0-9]*' /tmp/mp.json | cut -d: -f2)
		vs=$(grep -o '"state":"[a-z]*"' /tmp/mp.json | head -n 1 | cut -d'"' -f4)
		[ "${ob:-0}" -gt 0 ] && break
		kill -0 $DPID 2>/dev/null || break
		sleep 0.2
	done
	t1=$(now_ms)
	tail -n +$((nl + 1)) /tmp/holdfs.log > /tmp/holdfs.mp
	logfile holdfs-poison /tmp/holdfs.mp 12
	# (not the file the writer grows: its checksum changes)
	grep -vxF "$fgrow" /tmp/files0 > /tmp/files0.still
	bad=$(md_check /tmp/files0.still)$(md_check /tmp/files1)
	T 3 ls /mnt/dir >/tmp/lsd.out 2>&1 || bad="$bad ls-dir:rc=$?"
	dd if=/dev/urandom of=/tmp/pref bs=64k count=4 2>/dev/null
	T 3 cp /tmp/pref /mnt/after-poison 2>/tmp/pc.err || bad="$bad create:$(head -n 1 /tmp/pc.err)"
	T 3 cmp /tmp/pref /mnt/after-poison >/dev/null 2>&1 || bad="$bad create-readback"
	kill -0 $DPID 2>/dev/null || bad="$bad daemon-died"
	if [ "${ob:-0}" -gt 0 ] && [ "$vs" = degraded ] && [ -z "$bad" ]; then
		result multidev0.meta_poison 1 "poisondev /dev/dax0.0 $itab: [$pd]; $ob bytes served from the mirror after $((t1 - t0))ms, status $vs; every file reads back, a new file made"
	else
		result multidev0.meta_poison 0 "poisondev /dev/dax0.0 $itab: [$pd]; one_copy_bytes=${ob:-?} status=${vs:-?} after $((t1 - t0))ms;${bad:- files fine}"
	fi
}

scenario_multidev() {
	# LOSE: the device taken away (multidev: 1, multidev0: 0, the
	# metadata's own, whose mirror on device 1 then serves it); KEEP the
	# other.  Result names start with the scenario's.
	P=$SCEN LOSE=1 KEEP=0
	[ "$SCEN" = multidev0 ] && LOSE=0 KEEP=1
	hangs=
	: > /tmp/files0; : > /tmp/files1; : > /tmp/filesx; : > /tmp/sums
	# Files until both devices hold at least three (a new file goes to
	# the device with the most free space, so they end up alternating).
	k=0
	while [ $k -lt 24 ]; do
		k=$((k + 1))
		dd if=/dev/urandom of=/tmp/mf bs=1M count=4 2>/dev/null
		T 10 cp /tmp/mf /mnt/mf$k || rlog "cp /mnt/mf$k rc=$?"
		md_classify /mnt/mf$k
		[ $(grep -c mf /tmp/files0) -ge 3 ] && [ $(wc -l < /tmp/files1) -ge 3 ] && break
	done
	rm -f /tmp/mf
	md_classify /mnt/f1
	for f in /mnt/dir/s*; do md_classify "$f"; done
	for f in $(cat /tmp/files0 /tmp/files1 /tmp/filesx); do
		T 10 md5sum "$f" >> /tmp/sums
	done
	n0=$(wc -l < /tmp/files0) n1=$(wc -l < /tmp/files1) nx=$(wc -l < /tmp/filesx)
	T 10 holdfsctl devices /mnt 2>&1 | while IFS= read -r l; do rlog "devices: $l"; done
	if [ $n1 -ge 1 ] && [ $(grep -c mf /tmp/files0) -ge 1 ]; then
		result $P.placement 1 "$k files of 4 MiB written: $n0 files on device 0 only, $n1 on device 1 only, $nx on both"
	else
		result $P.placement 0 "$k files of 4 MiB written: $n0 files on device 0 only, $n1 on device 1 only, $nx on both"
	fi

	# The mirror of device 0's metadata on device 1 is kept: after a
	# clean unmount fsck of both devices finds it up to date.
	T 10 sync
	mnt_settle
	unmount_holdfs $P.first
	T 120 fsck.holdfs -n -f /dev/dax0.0 /dev/dax1.0 >/tmp/fsck1.out 2>&1; frc=$?
	logfile fsck1 /tmp/fsck1.out 12
	if [ $frc = 0 ] && ! grep -q MIRROR_STALE /tmp/fsck1.out; then
		result $P.mirror_before 1 "fsck.holdfs -n -f /dev/dax0.0 /dev/dax1.0 rc=0, no P5_MIRROR_STALE: $(tail -n 1 /tmp/fsck1.out)"
	else
		result $P.mirror_before 0 "fsck.holdfs -n -f /dev/dax0.0 /dev/dax1.0 rc=$frc: $(grep -m 3 -E 'P[0-9]_|error|stale' /tmp/fsck1.out | tr '\n' ' ')"
	fi
	# multidev: this mount names only /dev/dax0.0, so device 1 must be
	# found among /dev/dax* by the UUID in its header -- what happens to
	# a member that got another number since mkfs (lib/members.c
	# find_renamed)
	opts=$MOUNT_OPTS
	[ "$SCEN" = multidev ] && MOUNT_OPTS=
	if ! mount_holdfs; then
		MOUNT_OPTS=$opts
		result $P.command 0 "mount with '$opts' failed after fsck; nothing else run"
		return
	fi
	MOUNT_OPTS=$opts
	if [ "$SCEN" = multidev ]; then
		st1=$(dev_state 1)
		# (json-c writes / as \/)
		p1=$(tr -d ' \n\\' < /tmp/devs.json | grep -o '"device":1,[^}]*' |
			grep -o '"path":"[^"]*"' | cut -d'"' -f4)
		if [ "$st1" = active ] && [ "$p1" = /dev/dax1.0 ]; then
			result $P.by_uuid 1 "holdfs /dev/dax0.0 /mnt without -o device=: device 1 found by UUID at $p1 ($st1)"
		else
			result $P.by_uuid 0 "holdfs /dev/dax0.0 /mnt without -o device=: device 1 state '$st1' path '$p1' (want active, /dev/dax1.0)"
		fi
	fi

	# Load: held-open files on each device and the writer loop, which
	# rewrites four files (placed anew each time: device 0 or 1) and
	# grows a file on device 1 (a new unit every 8 writes, allocated on
	# the device its data is on).
	# fd 7 is held on a file of the device taken away, fd 6 on one of
	# the device that stays
	f1held=$(grep -m 1 mf /tmp/files$LOSE) f0held=$(grep -m 1 mf /tmp/files$KEEP)
	fgrow=$(grep mf /tmp/files$LOSE | tail -n 1)
	exec 7<"$f1held"
	exec 6<"$f0held"
	( i=0
	  while [ ! -e /tmp/writer.stop ]; do
		if dd if=/dev/zero of=/mnt/w.$((i % 4)) bs=64k count=4 conv=fsync 2>/dev/null; then
			echo "$(now_ms) ok rewrite"
		else
			echo "$(now_ms) err rewrite"
		fi
		if dd if=/dev/zero of=$fgrow bs=64k count=4 seek=$((64 + i * 4)) conv=notrunc,fsync 2>/dev/null; then
			echo "$(now_ms) ok grow"
		else
			echo "$(now_ms) err grow"
		fi
		i=$((i + 1))
	  done 6<&- 7<&- ) > /tmp/writer.log 2>&1 &
	WPID=$!
	sleep 2
	[ $LOSE = 0 ] && md_meta_poison
	nlog=$(wc -l < /tmp/holdfs.log)
	nwr=$(wc -l < /tmp/writer.log)

	t0=$(now_ms)
	T 30 daxctl disable-device dax$LOSE.0 >/tmp/remove.out 2>&1; rc=$?
	t1=$(now_ms)
	if [ $rc = 0 ]; then
		result $P.command 1 "'daxctl disable-device dax$LOSE.0' rc=0 in $((t1 - t0))ms (writer did $nwr writes before)"
	else
		result $P.command 0 "'daxctl disable-device dax$LOSE.0' rc=$rc after $((t1 - t0))ms: $(head -c 200 /tmp/remove.out | tr '\n' ' ')"
	fi

	# Up to 15 s for holdfsctl to say device 1 lost and the volume degraded.
	t_lost= t_deg= st1= vs=
	while [ $(($(now_ms) - t0)) -lt 15000 ]; do
		t=$(($(now_ms) - t0))
		st1=$(dev_state $LOSE); [ "$(cat /tmp/devs.rc)" = 137 ] && hangs="$hangs devices@${t}ms"
		vs=$(vol_state)
		[ -z "$t_lost" ] && [ "$st1" = lost ] && t_lost=$t
		[ -z "$t_deg" ] && [ "$vs" = degraded ] && t_deg=$t
		[ -n "$t_lost" ] && [ -n "$t_deg" ] && break
		kill -0 $DPID 2>/dev/null || break
		sleep 0.2
	done
	if [ -n "$t_lost" ]; then
		result $P.lost 1 "holdfsctl devices: device $LOSE lost at +${t_lost}ms; device $KEEP $(dev_state $KEEP)"
	else
		result $P.lost 0 "holdfsctl devices: device $LOSE '${st1:-no answer}' after $(($(now_ms) - t0))ms"
	fi
	if [ $LOSE = 0 ]; then
		# the metadata now comes from the mirror on device 1, one copy
		T 3 holdfsctl status --json /mnt 2>/dev/null | tr -d ' \n' > /tmp/md.json
		if grep -q '"served_from":"mirror"' /tmp/md.json && grep -q '"copies":1' /tmp/md.json &&
		   grep -q '"failover":"whilemounted"' /tmp/md.json; then
			result $P.metadata 1 "holdfsctl status: metadata served from the mirror, one copy, failover while mounted"
		else
			result $P.metadata 0 "holdfsctl status: $(grep -o '"metadata":{[^}]*}' /tmp/md.json | head -c 300)"
		fi
	fi
	if [ -n "$t_deg" ]; then
		result $P.degraded 1 "holdfsctl status: degraded at +${t_deg}ms"
	else
		result $P.degraded 0 "holdfsctl status: '${vs:-no answer}' after $(($(now_ms) - t0))ms"
	fi

	# Files with data on device 1 fail with EIO, the held fd included.
	bad1=$(md_eio /tmp/files$LOSE)
	T 3 dd bs=4096 count=1 of=/dev/null <&7 2>/tmp/held.err; r=$?
	case $r in
	137) bad1="$bad1 held-fd:hang" ;;
	0) bad1="$bad1 held-fd:read-ok" ;;
	*) grep -q 'Input/output' /tmp/held.err || bad1="$bad1 held-fd:$(head -n 1 /tmp/held.err)" ;;
	esac
	if [ -z "$bad1" ]; then
		result $P.eio_dev$LOSE 1 "the $(wc -l < /tmp/files$LOSE) files on device $LOSE and the fd held on $f1held read EIO"
	else
		result $P.eio_dev$LOSE 0 "not EIO:$bad1"
	fi
	case $bad1 in *hang*) hangs="$hangs eio-read" ;; esac

	# Files on device 0 read back intact, the held fd included.
	bad0=$(md_check /tmp/files$KEEP)
	T 3 dd bs=4096 count=1 of=/dev/null <&6 2>/tmp/held0.err; r=$?
	[ $r = 0 ] || bad0="$bad0 held-fd:rc=$r:$(head -n 1 /tmp/held0.err)"
	if [ -z "$bad0" ]; then
		result $P.dev${KEEP}_intact 1 "the $(wc -l < /tmp/files$KEEP) files on device $KEEP read back with their checksums; the fd held on $f0held reads"
	else
		result $P.dev${KEEP}_intact 0 "differ or fail:$bad0"
	fi
	case $bad0 in *hang*|*rc=137*) hangs="$hangs dev0-read" ;; esac
	[ $nx -gt 0 ] && rlog "files on both devices (not checked): $(cat /tmp/filesx | tr '\n' ' ')"

	# A new file: written, read back, and not placed on the lost device.
	dd if=/dev/urandom of=/tmp/nref bs=1M count=4 2>/dev/null
	T 3 cp /tmp/nref /mnt/new1 2>/tmp/new.err; r=$?
	[ $r = 137 ] && hangs="$hangs new-write"
	T 3 cmp /tmp/nref /mnt/new1 >/dev/null 2>&1; c=$?
	[ $c = 137 ] && hangs="$hangs new-read"
	nb=$(dev_blocks /mnt/new1)
	if [ $r = 0 ] && [ $c = 0 ] && [ "$(echo $nb | awk -v f=$((LOSE + 1)) '{ print $f + 0 }')" = 0 ]; then
		result $P.new_file 1 "4 MiB written and read back; blocks on device 0/1: $nb"
	else
		result $P.new_file 0 "cp rc=$r ($(head -n 1 /tmp/new.err)), cmp rc=$c, blocks on device 0/1: $nb"
	fi

	# Directories still list.
	T 3 ls /mnt >/tmp/ls.out 2>&1; r=$?
	T 3 ls /mnt/dir >/tmp/lsd.out 2>&1; rd=$?
	[ $r = 137 ] || [ $rd = 137 ] && hangs="$hangs ls"
	if [ $r = 0 ] && [ $rd = 0 ] && [ "$(wc -l < /tmp/lsd.out)" = 10 ] && grep -qx new1 /tmp/ls.out; then
		result $P.readdir 1 "ls /mnt: $(wc -l < /tmp/ls.out) entries, ls /mnt/dir: 10"
	else
		result $P.readdir 0 "ls /mnt rc=$r ($(head -c 120 /tmp/ls.out | tr '\n' ' ')), ls /mnt/dir rc=$rd ($(wc -l < /tmp/lsd.out) entries)"
	fi

	if kill -0 $DPID 2>/dev/null; then
		result $P.daemon_alive 1 "daemon pid $DPID still running $(($(now_ms) - t0))ms after the removal"
	else
		wait $DPID; rc=$?; DSTATUS=$rc
		result $P.daemon_alive 0 "daemon died after the removal, status $rc$([ $rc -gt 128 ] && echo " (signal $((rc - 128)))")"
	fi

	# The writer: stop it; what its writes did is logged, not judged
	# (a rewritten w.N may land on device 0 and succeed).
	stop_writer
	tail -n +$((nwr + 1)) /tmp/writer.log > /tmp/writer.new
	rlog "writer after the removal: rewrites $(grep -c ' ok rewrite$' /tmp/writer.new) ok, $(grep -c ' err rewrite$' /tmp/writer.new) failed; growing $fgrow (device $LOSE) $(grep -c ' ok grow$' /tmp/writer.new) ok, $(grep -c ' err grow$' /tmp/writer.new) failed"
	exec 6<&- 7<&-
	mnt_settle

	tail -n +$((nlog + 1)) /tmp/holdfs.log > /tmp/holdfs.new
	logfile holdfs /tmp/holdfs.new 30
	T 5 holdfsctl devices /mnt >/tmp/devices.out 2>&1
	logfile devices /tmp/devices.out 5
	T 5 holdfsctl status /mnt >/tmp/status.out 2>&1
	logfile holdfsctl /tmp/status.out 20

	if [ -z "$hangs" ]; then
		result $P.nohang 1 "every access after the removal answered within its deadline"
	else
		result $P.nohang 0 "timed out:$hangs"
	fi
	unmount_holdfs $P

	# fsck of the device that stays alone: the lost one is recorded
	# lost, not asked for (device 0 lost: device 1, holding the mirror,
	# is the volume now).
	T 120 fsck.holdfs -n -f /dev/dax$KEEP.0 >/tmp/fsck2.out 2>&1; frc=$?
	logfile fsck2 /tmp/fsck2.out 12
	if [ $frc = 0 ]; then
		result $P.fsck_degraded 1 "fsck.holdfs -n -f /dev/dax$KEEP.0 rc=0: $(tail -n 1 /tmp/fsck2.out)"
	else
		result $P.fsck_degraded 0 "fsck.holdfs -n -f /dev/dax$KEEP.0 rc=$frc: $(grep -m 4 -E 'P[0-9]_|error|lost|device' /tmp/fsck2.out | tr '\n' ' ')"
	fi

	# A second mount of the device that stays alone, without options:
	# its files still intact.
	MOUNT_OPTS= REGION=/dev/dax$KEEP.0
	if mount_holdfs; then
		bad0=$(md_check /tmp/files$KEEP)
		T 3 cmp /tmp/nref /mnt/new1 >/dev/null 2>&1 || bad0="$bad0 /mnt/new1:rc=$?"
		still1=$(md_eio /tmp/files$LOSE)
		vs=$(vol_state) st1=$(dev_state $LOSE)
		if [ -z "$bad0" ] && [ -z "$still1" ] && [ "$vs" = degraded ] && [ "$st1" = lost ]; then
			result $P.remount 1 "mounted $REGION without -o device=: the files on device $KEEP and new1 intact, the ones on device $LOSE EIO; status $vs, device $LOSE $st1"
		else
			result $P.remount 0 "device $KEEP files differ or fail:${bad0:- none}; device $LOSE files not EIO:${still1:- none}; status ${vs:-?}, device $LOSE ${st1:-?}"
		fi
		mnt_settle
		unmount_holdfs $P.second
	else
		result $P.remount 0 "holdfs -f $REGION /mnt (no -o device=) failed: $(tail -n 2 /tmp/holdfs.log | tr '\n' ' ')"
	fi
	REGION=/dev/dax0.0
	logfile uevents /tmp/uevents 20
}

# --- remirror: the mirror's device lost, a new mirror on a third device
# (mkfs.holdfs --add-mirror), then device 0 lost: the new mirror serves
md_json() { # md_json: holdfsctl status --json /mnt, spaces stripped
	T 3 holdfsctl status --json /mnt 2>/dev/null | tr -d ' \n'
}
scenario_remirror() {
	P=remirror
	: > /tmp/files0; : > /tmp/files1; : > /tmp/filesx; : > /tmp/sums
	k=0
	while [ $k -lt 24 ]; do
		k=$((k + 1))
		dd if=/dev/urandom of=/tmp/mf bs=1M count=4 2>/dev/null
		T 10 cp /tmp/mf /mnt/mf$k || rlog "cp /mnt/mf$k rc=$?"
		md_classify /mnt/mf$k
		[ $(wc -l < /tmp/files0) -ge 2 ] && [ $(wc -l < /tmp/files1) -ge 2 ] && break
	done
	rm -f /tmp/mf
	for f in $(cat /tmp/files0 /tmp/files1); do T 10 md5sum "$f" >> /tmp/sums; done

	# 1. the mirror's device goes
	T 30 daxctl disable-device dax1.0 >/tmp/remove.out 2>&1; rc=$?
	t0=$(now_ms) st1=
	while [ $(($(now_ms) - t0)) -lt 15000 ]; do
		st1=$(dev_state 1); [ "$st1" = lost ] && break
		sleep 0.2
	done
	md=$(md_json)
	if [ $rc = 0 ] && [ "$st1" = lost ] && echo "$md" | grep -q '"copies":1'; then
		result $P.mirror_lost 1 "daxctl disable-device dax1.0: device 1 lost, the metadata has one copy"
	else
		result $P.mirror_lost 0 "disable rc=$rc, device 1 '$st1', metadata $(echo "$md" | grep -o '"metadata":{[^}]*}' | head -c 200)"
	fi
	T 10 holdfsctl retire --device 1 /mnt >/tmp/retire.out 2>&1; rc=$?
	logfile retire /tmp/retire.out 5
	mnt_settle
	unmount_holdfs $P.first

	# 2. a new mirror on /dev/dax2.0, offline
	T 120 mkfs.holdfs --add-mirror /dev/dax2.0 /dev/dax0.0 >/tmp/add.out 2>&1; arc=$?
	logfile add-mirror /tmp/add.out 20
	T 120 fsck.holdfs -n -f /dev/dax0.0 /dev/dax2.0 >/tmp/fsck1.out 2>&1; frc=$?
	logfile fsck1 /tmp/fsck1.out 12
	if [ $rc = 0 ] && [ $arc = 0 ] && [ $frc = 0 ] && ! grep -q MIRROR_STALE /tmp/fsck1.out; then
		result $P.add 1 "retire rc=0; mkfs.holdfs --add-mirror /dev/dax2.0 /dev/dax0.0 rc=0; fsck.holdfs -n -f /dev/dax0.0 /dev/dax2.0 rc=0: $(tail -n 1 /tmp/fsck1.out)"
	else
		result $P.add 0 "retire rc=$rc; --add-mirror rc=$arc: $(tail -n 2 /tmp/add.out | tr '\n' ' '); fsck rc=$frc: $(grep -m 3 -E 'P[0-9]_|error|stale' /tmp/fsck1.out | tr '\n' ' ')"
		return
	fi

	# 3. mounted with it: two copies again, the mirror on device 2
	MOUNT_OPTS="-o device=/dev/dax2.0"
	if ! mount_holdfs; then
		result $P.two_copies 0 "mount with $MOUNT_OPTS failed: $(tail -n 2 /tmp/holdfs.log | tr '\n' ' ')"
		return
	fi
	md=$(md_json)
	bad=$(md_check /tmp/files0)
	dd if=/dev/urandom of=/tmp/nref bs=1M count=4 2>/dev/null
	T 10 cp /tmp/nref /mnt/new1 2>/tmp/new.err || bad="$bad new1:$(head -n 1 /tmp/new.err)"
	if echo "$md" | grep -q '"copies":2' && echo "$md" | grep -q '"mirror_device":2' && [ -z "$bad" ]; then
		result $P.two_copies 1 "holdfsctl status: two copies, the mirror on device 2; device 0's files intact, a new file written"
	else
		result $P.two_copies 0 "metadata $(echo "$md" | grep -o '"metadata":{[^}]*}' | head -c 200);${bad:- files fine}"
	fi

	# 4. device 0 goes: the new mirror serves the metadata, live
	T 10 sync
	T 30 daxctl disable-device dax0.0 >/tmp/remove0.out 2>&1; rc=$?
	t0=$(now_ms) st0=
	while [ $(($(now_ms) - t0)) -lt 15000 ]; do
		st0=$(dev_state 0); [ "$st0" = lost ] && break
		kill -0 $DPID 2>/dev/null || break
		sleep 0.2
	done
	md=$(md_json)
	bad=
	T 3 ls /mnt/dir >/tmp/lsd.out 2>&1 || bad="$bad ls:rc=$?"
	dd if=/dev/urandom of=/tmp/n2 bs=64k count=4 2>/dev/null
	T 3 cp /tmp/n2 /mnt/new2 2>/tmp/new.err || bad="$bad new2:$(head -n 1 /tmp/new.err)"
	T 3 cmp /tmp/n2 /mnt/new2 >/dev/null 2>&1 || bad="$bad new2-readback"
	kill -0 $DPID 2>/dev/null || bad="$bad daemon-died"
	if [ $rc = 0 ] && [ "$st0" = lost ] && echo "$md" | grep -q '"served_from":"mirror"' && [ -z "$bad" ]; then
		result $P.failover 1 "daxctl disable-device dax0.0: device 0 lost, the metadata served from the new mirror; ls, a new file, the daemon lives"
	else
		result $P.failover 0 "disable rc=$rc, device 0 '$st0', metadata $(echo "$md" | grep -o '"metadata":{[^}]*}' | head -c 200);${bad:- fine}"
	fi
	mnt_settle
	unmount_holdfs $P.second
	T 120 fsck.holdfs -n -f /dev/dax2.0 >/tmp/fsck2.out 2>&1; frc=$?
	logfile fsck2 /tmp/fsck2.out 12
	if [ $frc = 0 ]; then
		result $P.fsck_after 1 "fsck.holdfs -n -f /dev/dax2.0 alone rc=0: $(tail -n 1 /tmp/fsck2.out)"
	else
		result $P.fsck_after 0 "fsck.holdfs -n -f /dev/dax2.0 rc=$frc: $(grep -m 4 -E 'P[0-9]_|error|lost|device' /tmp/fsck2.out | tr '\n' ' ')"
	fi
}

case $SCEN in
basic)
	if setup; then scenario_basic; fi ;;
daxctl|ndctl)
	if setup; then scenario_remove $SCEN; fi ;;
nfs)
	if setup; then scenario_nfs; fi ;;
poison|poison4k)
	if setup; then scenario_poison; fi ;;
multidev|multidev0)
	if setup; then scenario_multidev; fi ;;
remirror)
	if setup; then scenario_remirror; fi ;;
*)
	result scenario 0 "unknown scenario '$SCEN'" ;;
esac
finish
