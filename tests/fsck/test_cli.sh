#!/usr/bin/env bash
# fsck.holdfs end to end on region files: exit codes, -n leaving the file
# byte-identical, --json parsing, refusing a region another process holds,
# a data-path slot a crash left (reported, folded).
#
#   tests/fsck/test_cli.sh FSCK_HOLDFS TEST_FSCK
#
# TEST_FSCK (tests/fsck/test_fsck) writes the populated (and, with
# --corrupt NAME, damaged) images.  Needs python3 and flock (util-linux).
set -uo pipefail

fsck=${1:?usage: test_cli.sh FSCK_HOLDFS TEST_FSCK}
gen=${2:?usage: test_cli.sh FSCK_HOLDFS TEST_FSCK}
work=$(mktemp -d /tmp/fsck-cli.XXXXXX)
holder=
# flock runs sleep as its child, which inherits the lock: stop both
release() {
	[ -n "$holder" ] || return 0
	pkill -P "$holder" 2>/dev/null
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	holder=
}
cleanup() {
	release
	rm -rf "$work"
}
trap cleanup EXIT

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

# expect CODE DESCRIPTION -- COMMAND...: run it, compare the exit code
expect() {
	local want=$1 what=$2
	shift 3
	"$@" >"$work/out" 2>"$work/err"
	local got=$?
	if [ "$got" -eq "$want" ]; then
		ok "$what (exit $got)"
	else
		bad "$what: exit $got, expected $want"
		sed 's/^/    | /' "$work/out" "$work/err" | head -40
	fi
}

# json_ok FILE DESCRIPTION ASSERTIONS: the JSON report in FILE parses and
# the python ASSERTIONS on it (r) hold
json_ok() {
	if python3 -c "import json,sys; r=json.load(sys.stdin); $3" <"$1"; then
		ok "$2"
	else
		bad "$2"
	fi
}

for tool in python3 flock sha256sum pkill; do
	command -v $tool >/dev/null || { echo "test_cli: $tool missing" >&2; exit 1; }
done

"$gen" --write-image "$work/clean.img" || { echo "cannot write image" >&2; exit 1; }
"$gen" --write-image "$work/bad.img" --corrupt inode_crc || exit 1
"$gen" --write-image "$work/unsafe.img" --corrupt inode_mode || exit 1

# usage errors: 16
expect 16 "no region" -- "$fsck"
expect 16 "two modes" -- "$fsck" -n -y "$work/clean.img"
expect 16 "unknown option" -- "$fsck" --bogus "$work/clean.img"
expect 0 "--help" -- "$fsck" --help
grep -q "Exit status" "$work/out" || bad "--help does not list the exit status"
expect 0 "--version" -- "$fsck" -V

# operational errors: 8
expect 8 "missing region" -- "$fsck" -n "$work/nothing.img"
head -c $((16 << 20)) /dev/zero >"$work/zero.img"
expect 8 "not a holdfs" -- "$fsck" -n "$work/zero.img"
grep -q "not a holdfs" "$work/out" "$work/err" || bad "not a holdfs: no message"

# a clean filesystem: quick check, then forced
expect 0 "clean, quick" -- "$fsck" -n "$work/clean.img"
grep -q "clean" "$work/out" || bad "clean: no 'clean' in the output"
expect 0 "clean, forced" -- "$fsck" -n -f "$work/clean.img"
sum=$(sha256sum <"$work/clean.img")
expect 0 "clean, -y forced changes nothing" -- "$fsck" -y -f "$work/clean.img"
[ "$(sha256sum <"$work/clean.img")" = "$sum" ] || bad "-y -f on a clean fs changed it"

# -n on a damaged filesystem: exit 4, and not one byte changed
sum=$(sha256sum <"$work/bad.img")
expect 4 "damaged, -n" -- "$fsck" -n -f "$work/bad.img"
grep -q P1_INODE_CRC "$work/out" || bad "-n did not report P1_INODE_CRC"
[ "$(sha256sum <"$work/bad.img")" = "$sum" ] && ok "-n left the image byte-identical" \
	|| bad "-n changed the image"

# --json parses and says what happened
expect 4 "damaged, --json" -- "$fsck" -n -f --json "$work/bad.img"
json_ok "$work/out" "--json parses and names the problem" \
	'assert r["status"]=="uncorrected", r["status"]; assert any(p["code"]=="P1_INODE_CRC" for p in r["problems"]); assert r["exit_code"]==4'

# a held region: -y refused (8, naming the holder); -n works and says so
flock -x "$work/bad.img" sleep 30 &
holder=$!
for _ in $(seq 50); do
	grep -q FLOCK /proc/locks && [ -n "$(flock -n -x "$work/bad.img" true 2>&1 || echo held)" ] && break
	sleep 0.1
done
expect 8 "held region, -y refused" -- "$fsck" -y "$work/bad.img"
grep -q "held by" "$work/err" || bad "held region: no 'held by' in: $(cat "$work/err")"
grep -q "flock" "$work/err" && ok "held region: the holder is named" \
	|| bad "held region: holder not named"
expect 4 "held region, -n still checks" -- "$fsck" -n -f "$work/bad.img"
grep -q "mounted" "$work/err" && ok "held region: -n says it is mounted" \
	|| bad "held region: -n does not say it is mounted"
release

# repair, then clean
expect 1 "damaged, -y -f" -- "$fsck" -y -f "$work/bad.img"
grep -q "FILESYSTEM WAS MODIFIED" "$work/out" || bad "-y: no MODIFIED line"
expect 0 "repaired, -n -f" -- "$fsck" -n -f "$work/bad.img"
expect 0 "repaired, quick" -- "$fsck" -p "$work/bad.img"

# a data-path slot a crash left: reported by -n (JSON and text), folded by -y
"$gen" --write-image "$work/dslot.img" --corrupt dslot_pending || exit 1
expect 4 "dslot, --json" -- "$fsck" -n -f --json "$work/dslot.img"
json_ok "$work/out" "dslot: --json counts the pending slot" \
	'assert r["dslots_pending"]==1 and r["dslots_stale"]==0, r; assert any(p["code"]=="P1_DSLOT_PENDING" and not p["fixed"] and p["path"]=="/dp" for p in r["problems"])'
expect 4 "dslot, -n" -- "$fsck" -n -f "$work/dslot.img"
grep -q "data-path slots: 1 pending, 0 stale" "$work/out" || bad "dslot -n: no slot summary"
expect 1 "dslot, -y folds it" -- "$fsck" -y "$work/dslot.img"
grep -q "data-path slots: 1 folded, 0 stale cleared" "$work/out" || bad "dslot -y: no slot summary"
expect 0 "dslot, then clean" -- "$fsck" -n -f "$work/dslot.img"
grep -q "data-path" "$work/out" && bad "dslot: slot summary on a clean run"

# preen: a problem it may not fix stops it
expect 4 "-p on an unsafe problem" -- "$fsck" -p -f "$work/unsafe.img"
grep -q "UNEXPECTED INCONSISTENCY" "$work/out" || bad "-p: no UNEXPECTED INCONSISTENCY"
expect 4 "-a is -p" -- "$fsck" -a -f "$work/unsafe.img"
expect 1 "-y fixes it" -- "$fsck" -y -f "$work/unsafe.img"
expect 0 "then clean" -- "$fsck" -n -f "$work/unsafe.img"

echo "$fails failures"
[ $fails -eq 0 ]
