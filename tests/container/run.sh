#!/bin/bash
# make test-container: the images of deploy/container/ built with podman and
# run as their pod on free loopback ports, then tested from this host as
# clients see it: integration tests of both transports and the web
# client's browser test (tests/run.sh aimed at the pod), then the restart
# checks of tests/container/restart.test.mjs.  At the end, whatever
# happened, everything the run made is removed: the pod, its containers,
# secret and volumes, and the images.  The base image stays in podman's
# store, so the next run skips the bootstrap (base.sh --force remakes it).
#
#   tests/container/run.sh
#
# podman runs with CONTAINERS_CONF=deploy/container/containers.conf
# unless CONTAINERS_CONF is set.  A failed run keeps its logs (the
# containers' among them) in the folder it names.
#
# Last line: "N passed, N failed, N skipped": tests/run.sh's cases, the
# restart checks', and one failed case for each step that failed (the
# packages, the base image, the build, the pod's start, the clean-up).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
# shellcheck source=tests/lib/verdict.sh
. tests/lib/verdict.sh

export CONTAINERS_CONF=${CONTAINERS_CONF:-$top/deploy/container/containers.conf}
pod=deploy/container/pod.sh
base=localhost/chat-base:bookworm
# Names of this run alone, so that two runs on one machine never meet.
name=chat-test-$$
prefix=localhost/chat-test-$$

# What podman needs here as root: the OCI runtime (runc: crun refuses
# some hosts' cgroups), the network stack that publishes ports, the init
# of the pod's infra container, and the bootstrap of the base image.
packages="podman runc netavark aardvark-dns iptables catatonit
	debootstrap debian-archive-keyring"

# tests/integration files that make sense against a pod reached through
# its published ports.  Left out: 01-session, whose throttle tests connect
# from other loopback addresses (127.x.y.z), which podman's port
# forwarding drops (it masquerades only 127.0.0.1); and the files that
# look inside the stack's folder (processes, a root database client), run
# a stack of their own, or need settings this pod does not have.
files=(02-friend 03-message 04-offline-order 05-http-api 10-web)

# The limits lifted and hashing made cheap as tests/run.sh does for its
# own stack: every client of the pod has one address (podman's gateway).
test_conf() {
	cat <<-EOF
	pwhash_opslimit = 1
	pwhash_memlimit_kib = 8192
	registrations_per_hour = 0
	connections_per_address = 0
	friend_requests_per_minute = 1000000
	friend_requests_per_day = 1000000
	EOF
}

passed=0
failed=0
skipped=0
work=$(mktemp -d /tmp/chat-container-test.XXXXXX)
made_images=0

fail_step() {	# what, log
	printf 'FAIL container: %s\n' "$1"
	failed=$((failed + 1))
	if [ -n "${2:-}" ] && [ -s "$2" ]; then
		echo "--- end of $2"
		tail -n 40 "$2"
		echo "---"
	fi
}

step_done() {	# what, seconds
	printf 'container: %s (%d s)\n' "$1" "$2"
}

# Saves and shows the end of each container's log: once the pod is gone,
# they are gone too.
container_logs() {
	local c
	for c in db chat web; do
		podman logs "$name-$c" >"$work/$name-$c.log" 2>&1 || continue
		echo "--- end of podman logs $name-$c (all of it in $work)"
		# nginx's access lines would hide its errors.
		grep -v ' HTTP/[0-9.]*" [0-9]' "$work/$name-$c.log" | tail -n 20
	done
}

# Removes what this run made and checks that nothing of it is left.
clean_up() {
	local left
	if [ "$failed" -gt 0 ] && podman pod exists "$name" 2>/dev/null; then
		container_logs
	fi
	"$pod" down --name "$name" --purge >"$work/down.log" 2>&1 ||
	    fail_step "pod.sh down" "$work/down.log"
	if [ "$made_images" -eq 1 ]; then
		podman rmi -f "$prefix-db" "$prefix-chat" "$prefix-web" \
		    >"$work/rmi.log" 2>&1 || true
	fi
	left=$( {
		podman ps -a --format '{{.Names}}' --filter "name=^$name"
		podman pod ls --format '{{.Name}}' --filter "name=^$name"
		podman volume ls --format '{{.Name}}' --filter "name=^$name"
		podman secret ls --format '{{.Name}}' | grep "^$name" || true
		podman images --format '{{.Repository}}' | grep "^$prefix-" || true
	} 2>/dev/null | tr '\n' ' ')
	[ -z "$left" ] || fail_step "left behind: $left"
}

finish() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	# A command that stopped the script (set -e) is a failure too, even
	# where no step counted one.
	[ "$rc" -eq 0 ] || [ "$failed" -gt 0 ] ||
	    fail_step "stopped early (status $rc)"
	clean_up
	if [ "$failed" -gt 0 ]; then
		echo "container: logs kept in $work"
	else
		rm -rf "$work"
	fi
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}
trap finish EXIT
trap 'exit 130' INT TERM

start=$SECONDS
if ! DEPS_EXTRA=$packages scripts/deps.sh >"$work/deps.log" 2>&1; then
	fail_step "packages ($packages)" "$work/deps.log"
	exit 1
fi
# A run killed before its clean-up had this name only if it had this PID.
"$pod" down --name "$name" --purge >/dev/null 2>&1 || true

t=$SECONDS
if ! deploy/container/base.sh --image "$base" >"$work/base.log" 2>&1; then
	fail_step "base image $base" "$work/base.log"
	exit 1
fi
step_done "$(tail -n 1 "$work/base.log" | sed 's/^base.sh: //')" $((SECONDS - t))

t=$SECONDS
made_images=1
if ! "$pod" build --prefix "$prefix" --base "$base" >"$work/build.log" 2>&1; then
	fail_step "podman build" "$work/build.log"
	exit 1
fi
step_done "images $prefix-db, -chat, -web built" $((SECONDS - t))

# Free loopback ports, which podman picks (port 0); the pod made again
# by the restart checks takes the same ones.
test_conf >"$work/local.conf"
up=("$pod" up --name "$name" --prefix "$prefix" --conf "$work/local.conf")
t=$SECONDS
if ! "${up[@]}" --http 127.0.0.1:0 --tcp 127.0.0.1:0 >"$work/up.log" 2>&1; then
	fail_step "pod up" "$work/up.log"
	exit 1
fi
http=$(podman port "$name-web" 80/tcp)
tcp=$(podman port "$name-web" 7700/tcp)
up+=(--http "$http" --tcp "$tcp")
step_done "pod $name on $http (HTTP) and $tcp (TCP)" $((SECONDS - t))

# tests/run.sh's own last line is shown indented, so that only this
# script's total reads as a result line (.ci/run adds those up).
t=$SECONDS
paths=()
for f in "${files[@]}"; do
	paths+=("tests/integration/$f.test.mjs")
done
{ tests/run.sh --no-unit --http "$http" --tcp "$tcp" \
    "${paths[@]}" 2>&1 || true; } | tee "$work/integration.log" |
    sed -u -E 's/^([0-9]+ passed, [0-9]+ failed)/  tests\/run.sh: \1/'
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' \
    "$work/integration.log" | tail -n 1 || true)
if [ -n "$summary" ]; then
	read -r p _ f _ s _ <<<"${summary//,/}"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
else
	fail_step "tests/run.sh printed no result line" "$work/integration.log"
fi
step_done "integration tests through the pod" $((SECONDS - t))

t=$SECONDS
recreate="$(printf '%q ' "$pod" down --name "$name")&& $(printf '%q ' "${up[@]}")"
if CHAT_TEST_HTTP=$http CHAT_TEST_TCP=$tcp \
    CHAT_TEST_RESTART="podman restart -t 20 $name-chat" \
    CHAT_TEST_RECREATE="$recreate" \
    node_test tests/container/restart.test.mjs "$work/restart.log" \
    "$work/restart.tap" 600; then
	rc=0
else
	rc=$?
fi
[ -f "$work/restart.tap" ] || : >"$work/restart.tap"
verdict_tap "$work/restart.tap" "$rc"
passed=$((passed + v_pass))
failed=$((failed + v_fail))
skipped=$((skipped + v_skip))
verdict_line tests/container/restart.test.mjs
if [ "$v_fail" -gt 0 ]; then
	echo "--- output of tests/container/restart.test.mjs"
	cat "$work/restart.log"
	echo "--- end of tests/container/restart.test.mjs"
fi
step_done "restart checks" $((SECONDS - t))
echo "container: $((SECONDS - start)) s in all before the clean-up"
