#!/usr/bin/env bash
# Set everything up and run every holdfs test suite; what .ci/run calls.
#
#   scripts/test.sh           deps, the plain and the ASan/UBSan builds,
#                             all suites of both at once, fuzzing, and
#                             the Debian packages (scripts/package-check.sh)
#   scripts/test.sh --quick   skip the sanitizer, fuzz and package passes
#
# Arguments after `--` go to both `meson test` runs (e.g. -- --suite unit).
# Ends with one line `N passed, N failed, N skipped` totalled over all
# passes, and exits non-zero if anything failed: a test, a build, a pass
# that ran no test, or a holdfs mount/daemon left behind under a temp dir.
set -uo pipefail

args=("$@")
usage() {
	sed -n '2,12s/^# \{0,1\}//p' "$0"
}

quick=0
test_args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; test_args=("$@"); break ;;
	*) echo "test.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

root=$(cd "$(dirname "$0")/.." && pwd)
# Root for the packages and the mounts (/dev/fuse); sudo only when not root.
# shellcheck source=scripts/as-root.sh
. "$root/scripts/as-root.sh"
as_root test.sh "${args[@]}"

cd "$root" || exit 1

passed=0
failed=0
skipped=0
report=()        # one line per pass / check, printed before the total

note() {
	report+=("$1")
	echo "test.sh: $1"
}

# Where the tests put their mounts and regions.  A fuse.holdfs mount or a
# holdfs daemon still there is a test that did not clean up after itself.
# (The quickstart demo mount lives outside these and is not counted.)
scratch_dirs=(/tmp /var/tmp /dev/shm "$root/build" "$root/build-asan")
if [ -n "${TMPDIR:-}" ]; then
	scratch_dirs+=("${TMPDIR%/}")
fi

in_scratch() {
	local p=$1 d
	for d in "${scratch_dirs[@]}"; do
		case "$p" in "$d"/*) return 0 ;; esac
	done
	return 1
}

declare -A seen_leftover=()

# leftover KEY MESSAGE: report one leftover; count it only the first time
# (one that was there before the tests is not blamed on them twice).
leftover() {
	if [ -n "${seen_leftover[$1]:-}" ]; then
		echo "test.sh: still there: ${*:2}" >&2
		return 1
	fi
	seen_leftover[$1]=1
	echo "test.sh: leftover ${*:2}" >&2
}

# The MOUNTPOINT of `holdfs REGION MOUNTPOINT [options]`: the second
# argument that is neither an option nor the value of -o.
daemon_mountpoint() {
	local pos=0
	while [ $# -gt 0 ]; do
		case "$1" in
		-o) shift ;;
		-*) ;;
		*) pos=$((pos + 1)); [ $pos -eq 2 ] && { echo "$1"; return; } ;;
		esac
		shift
	done
}

check_leftovers() {
	local when=$1 n=0 src mnt type rest pid args
	while read -r src mnt type rest; do
		case "$type" in
		fuse.holdfs) ;;
		fuse | fuseblk) case "$src" in *holdfs*) ;; *) continue ;; esac ;;
		*) continue ;;
		esac
		in_scratch "$mnt" || continue
		leftover "mount $mnt" "holdfs mount $mnt (from $src);" \
			"remove with: fusermount3 -u $mnt" && n=$((n + 1))
	done </proc/mounts
	for pid in $(pgrep -x holdfs 2>/dev/null); do
		mapfile -d '' args 2>/dev/null <"/proc/$pid/cmdline" || continue
		mnt=$(daemon_mountpoint "${args[@]:1}")
		in_scratch "$mnt" || continue
		# the daemon of a leftover mount is that same leftover
		[ -z "${seen_leftover[mount $mnt]:-}" ] || continue
		leftover "pid $pid" "holdfs daemon, pid $pid: ${args[*]}" &&
			n=$((n + 1))
	done
	if [ $n -gt 0 ]; then
		failed=$((failed + n))
		note "leftovers $when tests: $n FAILED"
	else
		note "leftovers $when tests: none"
	fi
}

# Count the results of the last `meson test` in $1 from its testlog.json.
# Prints "ok fail skip".
count_results() {
	python3 - "$1/meson-logs/testlog.json" <<'EOF'
import json, sys
ok = bad = skip = 0
with open(sys.argv[1]) as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            ok += 1
        elif r == "SKIP":
            skip += 1
        else:  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, ...
            bad += 1
print(ok, bad, skip)
EOF
}

# build_pass NAME BUILDDIR [build.sh args...]: configure and build;
# non-zero (counted as one failure) when the build fails.
build_pass() {
	local name=$1 dir=$2
	shift 2
	echo
	echo "==== test.sh: $name pass: build ($dir/) ===="
	if ! scripts/build.sh "$@"; then
		failed=$((failed + 1))
		note "$name: build FAILED (counted as 1 failure; no tests run)"
		return 1
	fi
}

# test_run NAME BUILDDIR [meson test args...]: run every suite of a
# built tree; its exit status and seconds go to
# BUILDDIR/meson-logs/test.sh.rc.
# Output lines start with "[NAME] " so that the plain and sanitizer runs,
# which go at the same time, can be told apart.
test_run() {
	local name=$1 dir=$2 rc t0=$SECONDS
	shift 2
	rm -f "$dir/meson-logs/testlog.json" "$dir/meson-logs/test.sh.rc"
	meson test -C "$dir" --print-errorlogs "$@" "${test_args[@]}" \
		</dev/null 2>&1 | sed -u "s/^/[$name] /"
	rc=${PIPESTATUS[0]}
	mkdir -p "$dir/meson-logs"
	echo "$rc $((SECONDS - t0))" >"$dir/meson-logs/test.sh.rc"
}

# count_pass NAME BUILDDIR: add the results of test_run's run to the
# totals.
count_pass() {
	local name=$1 dir=$2 rc=? secs=? ok bad skip counts
	read -r rc secs <"$dir/meson-logs/test.sh.rc" 2>/dev/null
	if [ ! -f "$dir/meson-logs/testlog.json" ]; then
		failed=$((failed + 1))
		note "$name: meson test exited $rc without a test log (counted as 1 failure)"
		return
	fi
	if ! counts=$(count_results "$dir"); then
		failed=$((failed + 1))
		note "$name: could not read $dir/meson-logs/testlog.json (counted as 1 failure)"
		return
	fi
	read -r ok bad skip <<<"$counts"
	if [ $((ok + bad + skip)) -eq 0 ]; then
		bad=1
		note "$name: no test ran (counted as 1 failure)"
	elif [ "$rc" != 0 ] && [ "$bad" -eq 0 ]; then
		bad=1
		note "$name: meson test exited $rc with no failing test (counted as 1 failure)"
	fi
	passed=$((passed + ok))
	failed=$((failed + bad))
	skipped=$((skipped + skip))
	note "$name: $ok passed, $bad failed, $skip skipped (${secs} s)"
}

# fuzz_pass: every libFuzzer harness (fsck, mount-time parsing, control
# messages) for a bounded time over its seed corpus, clang build in
# build-fuzz/.  One result: passed, or failed with the crash files named.
# HOLDFS_FUZZ_SECONDS sets the time per fuzzer (default 30: a smoke run
# that keeps the whole of CI within its 20 minutes; a long run is
# `tests/fuzz/run-fuzz.sh 3600`, README "Tests").
fuzz_pass() {
	local secs=${HOLDFS_FUZZ_SECONDS:-30}

	echo
	echo "==== test.sh: fuzz pass: tests/fuzz/run-fuzz.sh $secs ===="
	if tests/fuzz/run-fuzz.sh "$secs" </dev/null; then
		passed=$((passed + 1))
		note "fuzz: every harness ran ${secs}s without a crash"
	else
		failed=$((failed + 1))
		note "fuzz: FAILED (see build-fuzz/artifacts/)"
	fi
}

# package_pass: build the Debian packages, lintian, install them, exercise
# mkfs/fsck -t/mount -t/fstab/shim/pkg-config/unit, purge (~20 s once the
# build dependencies are in).  Exit 77 from it: it cannot run on this
# machine (holdfs already installed, a meson install shadowing it); that
# is a loud skip, not a pass.
package_pass() {
	local rc
	echo
	echo "==== test.sh: package pass: scripts/package-check.sh ===="
	scripts/package-check.sh </dev/null
	rc=$?
	case $rc in
	0) passed=$((passed + 1)); note "packages: built, lintian clean, installed, checked, purged" ;;
	77) skipped=$((skipped + 1)); note "packages: SKIPPED, cannot run here (see its message above)" ;;
	*) failed=$((failed + 1)); note "packages: FAILED (exit $rc)" ;;
	esac
}

check_leftovers before

echo
echo "==== test.sh: dependencies ===="
if ! scripts/setup-deps.sh; then
	failed=$((failed + 1))
	note "setup-deps FAILED; not building"
else
	# The boot test (tests/boot: three systemd boots under qemu, several
	# minutes) is its own command, not part of this run.
	plain_args=(--no-suite boot)
	if [ $quick -eq 1 ]; then
		if build_pass plain build; then
			echo
			echo "==== test.sh: plain pass: meson test -C build ===="
			test_run plain build "${plain_args[@]}"
			count_pass plain build
		fi
		note "sanitizer, fuzz and package passes skipped (--quick)"
	else
		# The plain and sanitizer passes test at the same time: their
		# tests run one at a time (they mount) and mostly wait -- on
		# deadlines, revocations, a qemu guest -- using about a tenth of
		# one core on average, so together they take little longer than
		# the longer one alone.  They share nothing: separate build
		# trees, temporary directories, regions and mount points.
		# handle_sigbus=0: the daemon and clients handle SIGBUS (lost or
		# revoked memory) themselves; ASan must not take it over.
		# Instrumented code is slower; keep the per-test deadlines honest
		# rather than flaky.  The devdax rig (a qemu guest running the
		# plain build on a real /dev/dax0.0) runs in the plain pass; a
		# sanitizer build needs libasan in the guest and tests nothing
		# new there.
		san_args=(--timeout-multiplier 3 --no-suite devdax --no-suite boot)
		plain_ok=0 san_ok=0
		build_pass plain build && plain_ok=1
		build_pass sanitizer build-asan --sanitize && san_ok=1
		echo
		echo "==== test.sh: plain and sanitizer passes: meson test -C build, -C build-asan, at once ===="
		if [ $plain_ok = 1 ]; then
			test_run plain build "${plain_args[@]}" &
			plain_pid=$!
		fi
		if [ $san_ok = 1 ]; then
			(
				export ASAN_OPTIONS=handle_sigbus=0:detect_leaks=1
				export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
				test_run sanitizer build-asan "${san_args[@]}"
			) &
			san_pid=$!
		fi
		[ $plain_ok = 1 ] && wait "$plain_pid"
		[ $san_ok = 1 ] && wait "$san_pid"
		[ $plain_ok = 1 ] && count_pass plain build
		[ $san_ok = 1 ] && count_pass sanitizer build-asan
		fuzz_pass
		package_pass
	fi
fi

check_leftovers after

echo
echo "==== test.sh: summary ===="
for line in "${report[@]}"; do
	echo "  $line"
done
echo "  whole run: $SECONDS s"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
