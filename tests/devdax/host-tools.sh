# shellcheck shell=bash
# Sourced by the qemu scripts (tests/devdax/rig.sh, tests/boot/boot-test.sh):
# make sure the host has the commands they run, installing the Debian
# packages that provide them when it does not.  The caller defines log()
# and die().
#
#   ensure_host_tools COMMAND:PACKAGE ...
#
# busybox must be the static build (it goes into a guest); a dynamic one
# on the PATH pulls in busybox-static.  HOLDFS_RIG_NO_APT=1: never run
# apt-get; exit 77 (SKIP) naming what is missing instead.  Sets
# busybox_bin to the static busybox.

is_static() { case $(ldd "$1" 2>&1 || true) in *"not a dynamic"*) return 0 ;; esac; return 1; }

ensure_host_tools() {
	local need_pkgs=() pair
	for pair in "$@"; do
		command -v "${pair%%:*}" >/dev/null 2>&1 || need_pkgs+=("${pair#*:}")
	done
	if command -v busybox >/dev/null && ! is_static "$(command -v busybox)"; then
		need_pkgs+=(busybox-static)
	fi
	if [ ${#need_pkgs[@]} -gt 0 ]; then
		[ "${HOLDFS_RIG_NO_APT:-0}" = 1 ] && { log "missing host packages: ${need_pkgs[*]}; SKIP"; exit 77; }
		log "installing host packages: ${need_pkgs[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >&2 ||
			{ apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >&2; } ||
			die "apt-get install ${need_pkgs[*]} failed"
	fi
	busybox_bin=$(command -v busybox)
	is_static "$busybox_bin" || die "$busybox_bin is not static (install busybox-static)"
}
