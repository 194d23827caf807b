#!/usr/bin/env bash
# Install the Debian 12 packages needed to build, test and benchmark holdfs.
#
# Idempotent: installs only what is missing, and runs `apt-get update` only
# when something is.  Needs root for that (not root: it re-runs itself with
# sudo); when nothing is missing it succeeds for any user.
set -euo pipefail

# What each group is for, so a package can be traced to its user.
build_pkgs=(build-essential gcc clang libclang-rt-14-dev meson ninja-build pkg-config)
lib_pkgs=(libfuse3-dev libpmem2-dev liburing-dev libsysfs-dev libjson-c-dev libisal-dev libbsd-dev)
# fuse3: fusermount3 and mount.fuse3; attr/acl: getfattr/setfattr/getfacl in
# tests; util-linux: findmnt, mountpoint; procps: pgrep; python3: test-log and bench parsing;
# gzip: the packaged libfuse examples may be compressed; fio: benchmarks;
# gdb: a test reads a crash's core (test_datapath.py).
# libclang-rt-14-dev: the libFuzzer runtime (only recommended by clang).
run_pkgs=(fuse3 python3 fio attr acl util-linux procps coreutils gzip gdb)
pkgs=("${build_pkgs[@]}" "${lib_pkgs[@]}" "${run_pkgs[@]}")

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

missing=()
for p in "${pkgs[@]}"; do
	installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "setup-deps: all ${#pkgs[@]} packages already installed"
else
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup-deps: missing packages: ${missing[*]}" >&2
		. "$(dirname "$0")/as-root.sh"
		as_root setup-deps "$@"
	fi
	echo "setup-deps: installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q </dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
	still=()
	for p in "${missing[@]}"; do
		installed "$p" || still+=("$p")
	done
	if [ ${#still[@]} -ne 0 ]; then
		echo "setup-deps: error: still not installed: ${still[*]}" >&2
		exit 1
	fi
	echo "setup-deps: installed ${#missing[@]} package(s)"
fi

# Mounting needs the FUSE device; say so here rather than in a failing test.
if [ ! -c /dev/fuse ]; then
	if [ "$(id -u)" -eq 0 ] && command -v modprobe >/dev/null 2>&1; then
		modprobe fuse 2>/dev/null || true
	fi
	if [ ! -c /dev/fuse ]; then
		echo "setup-deps: warning: /dev/fuse is missing; mounting (quickstart," \
			"integration tests, benchmarks) will not work on this machine" >&2
	fi
fi
