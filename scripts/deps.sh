#!/bin/bash
# Installs what building, running and testing the service needs: the Debian
# packages (only those missing, so a second run is a quick no-op) and the
# npm packages of the integration tests (tests/node_modules, from the
# lockfile).  Runs as root, or through sudo when that is available.
#
#   scripts/deps.sh            install what is missing
#   scripts/deps.sh --dry-run  print what would be installed, change nothing
#   DEPS_EXTRA="pkg ..."       also require these packages (for checking)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dry_run=0
[ "${1:-}" = "--dry-run" ] && dry_run=1

packages=(
	build-essential pkg-config curl
	nginx libnginx-mod-stream
	apache2		# deploy/apache/chat.conf, tested by 23-apache
	mariadb-server mariadb-client
	libfcgi-dev libcjson-dev libmariadb-dev libevent-dev libwslay-dev
	libssl-dev libsodium-dev
	libhiredis-dev	# the chat nodes' Redis client (several nodes)
	galera-4	# make cluster's Galera nodes (scripts/cluster.sh)
	rsync		# their state transfers (wsrep_sst_rsync)
	iproute2 procps	# ss and ps, which wsrep_sst_rsync calls
	redis-server redis-tools	# make cluster's Redis; redis-cli
	openssl		# throwaway certificates (24-tls-stream, check-deploy)
	libcmocka-dev clang
	systemd		# systemd-analyze, for scripts/check-deploy.sh
	mandoc		# lints chatctl.8 (scripts/check-deploy.sh)
	logrotate	# rotates deploy/logrotate/chat (scripts/check-deploy.sh)
	chromium	# the web client's end-to-end tests (playwright-core drives it)
	prometheus	# promtool checks /metrics (22-health-metrics).  Large;
			# on a host running systemd, Debian also starts its
			# server on :9090 (systemctl disable --now prometheus)
)
# Node is needed for the integration tests; a machine that already has a
# node (of any origin) keeps it.
if ! command -v node >/dev/null 2>&1; then
	packages+=(nodejs npm)
fi
# shellcheck disable=SC2206
packages+=(${DEPS_EXTRA:-})

# Prints the packages of $@ that dpkg does not list as installed.
missing_packages() {
	local p status
	for p in "$@"; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null ||
		    true)
		[ "$status" = "installed" ] || printf '%s\n' "$p"
	done
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "deps.sh: not root and no sudo: cannot run $*" >&2
		exit 1
	fi
}

# Debian's maintainer scripts start what they install through invoke-rc.d,
# which on a machine without systemd as PID 1 runs the init script at
# once: nginx or apache2 on :80 (whichever comes first; the other then
# does not start), a mariadbd, a prometheus, none of which the private
# stacks use.  A policy-rc.d answering 101 (refused) stops every such
# start; a machine that has its own keeps it.  Under systemd the units
# stay enabled and start at the next boot: systemctl disable nginx
# apache2 mariadb prometheus.
policy=/usr/sbin/policy-rc.d
policy_ours=0
policy_drop() {
	if [ "$policy_ours" -eq 1 ]; then
		as_root rm -f "$policy"
		policy_ours=0
	fi
}
policy_hold() {
	[ -e "$policy" ] && return 0
	trap policy_drop EXIT
	trap 'exit 130' INT TERM HUP
	as_root sh -c "printf '#!/bin/sh\n# scripts/deps.sh, for the length of its install\nexit 101\n' >$policy && chmod 0755 $policy"
	policy_ours=1
}

mapfile -t missing < <(missing_packages "${packages[@]}")
if [ "${#missing[@]}" -gt 0 ]; then
	echo "deps.sh: installing ${missing[*]}"
	if [ "$dry_run" -eq 0 ]; then
		as_root apt-get update
		policy_hold
		as_root env DEBIAN_FRONTEND=noninteractive \
		    apt-get install -y --no-install-recommends "${missing[@]}"
		policy_drop
	fi
fi

# npm packages of the tests: again when the lockfile is newer than what
# was installed from it.
tests="$top/tests"
if [ -f "$tests/package.json" ]; then
	if [ ! -d "$tests/node_modules" ] ||
	    { [ -f "$tests/package-lock.json" ] &&
	    [ "$tests/package-lock.json" -nt "$tests/node_modules" ]; }; then
		echo "deps.sh: installing the npm packages of tests/"
		if [ "$dry_run" -eq 0 ]; then
			if [ -f "$tests/package-lock.json" ]; then
				(cd "$tests" && npm ci --no-audit --no-fund)
			else
				(cd "$tests" && npm install --no-audit --no-fund)
			fi
			touch "$tests/node_modules"
		fi
	fi
fi
exit 0
