# Sourced by the scripts that need root (quickstart.sh, test.sh,
# setup-deps.sh when it has packages to install):
#
#   . "$root/scripts/as-root.sh"; as_root NAME "$@"
#
# As root it returns at once, so the scripts run as written on a machine
# where root is the only user and sudo is not installed.  As anyone else
# it runs the script again through sudo, keeping the HOLDFS_*, BENCH_*,
# PMEM2_* and TMPDIR settings (sudo would reset them), or says how to get
# root when there is no sudo.
as_root() {
	local name=$1 v
	local -a keep=()
	shift
	[ "$(id -u)" -eq 0 ] && return 0
	if ! command -v sudo >/dev/null 2>&1; then
		echo "$name: error: needs root (it installs packages and mounts" \
			"through /dev/fuse); run it as root, e.g. su -c '$0'" >&2
		exit 1
	fi
	for v in $(compgen -e); do
		case "$v" in
		HOLDFS_* | BENCH_* | PMEM2_* | TMPDIR) keep+=("$v=${!v}") ;;
		esac
	done
	echo "$name: not root; running again with sudo" >&2
	exec sudo env "${keep[@]}" "$(readlink -f "$0")" "$@"
}
