#!/bin/bash
# Builds the images of deploy/container/Containerfile and runs them as one
# podman pod: MariaDB, the chat programs and nginx, each in a container of
# its own, their Unix sockets shared through volumes.
#
#   pod.sh build [--prefix P] [--base IMAGE]
#   pod.sh up    [--name N] [--prefix P] [--http [ADDR:]PORT]
#                [--tcp [ADDR:]PORT] [--conf FILE] [--wait SECS]
#   pod.sh down  [--name N] [--purge]
#
# build makes P-db, P-chat and P-web (P: localhost/chat) from IMAGE, by
# default localhost/chat-base:bookworm, which base.sh makes from this
# host's apt mirror when it is not in the store yet (any Debian 12 image
# will do, e.g. --base debian:12 where a registry is reachable).
#
# up creates the pod N (chat) publishing nginx's HTTP port and native TCP
# port at ADDR:PORT (127.0.0.1:8080 and 127.0.0.1:7700; PORT 0 is a free
# one that podman picks, `podman port N-web` tells which), a new random
# database password as the podman secret N-db-password (one made
# beforehand is used as it is), the volumes
# N-data (the database), N-mysqld and N-sockets (sockets), starts the
# three containers N-db, N-chat, N-web, and waits up to SECS (120) for
# /api/health to answer 200.  FILE holds chat.conf lines of the site's
# own (the chat container reads it as /etc/chat/local.conf).
#
# down removes the pod and its containers, the secret and the socket
# volumes; N-data (every account and message) stays for the next up
# unless --purge.
#
# CONTAINERS_CONF=deploy/container/containers.conf for hosts whose podman
# fails its default ulimits or crun (see that file).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
prog=pod.sh
podman=${PODMAN:-podman}

die() {
	echo "$prog: $*" >&2
	exit 1
}

usage() {
	sed -n '6,10p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

cmd=${1:-}
[ $# -gt 0 ] && shift
name=chat
prefix=localhost/chat
base=
http=127.0.0.1:8080
tcp=127.0.0.1:7700
conf=
wait_secs=120
purge=0
while [ $# -gt 0 ]; do
	case $1 in
	--name) name=${2:?}; shift 2 ;;
	--prefix) prefix=${2:?}; shift 2 ;;
	--base) base=${2:?}; shift 2 ;;
	--http) http=${2:?}; shift 2 ;;
	--tcp) tcp=${2:?}; shift 2 ;;
	--conf) conf=$(realpath "${2:?}"); shift 2 ;;
	--wait) wait_secs=${2:?}; shift 2 ;;
	--purge) purge=1; shift ;;
	*) usage ;;
	esac
done
case $name in
[a-z]*[a-z0-9]) ;;
*) die "--name: lower-case letters, digits and - only: $name" ;;
esac
case $name in
*[!a-z0-9-]*) die "--name: lower-case letters, digits and - only: $name" ;;
esac

# --- build -----------------------------------------------------------------

# The three images at once: their package downloads and the compilation
# overlap, and each target builds only the stages it uses.
build() {
	local logs t pid failed=0
	local -A pids=()
	if [ -z "$base" ]; then
		base=localhost/chat-base:bookworm
		"$here/base.sh" --image "$base"
	fi
	logs=$(mktemp -d /tmp/chat-build.XXXXXX)
	for t in db chat web; do
		"$podman" build --pull=never --layers=false \
		    --build-arg BASE="$base" \
		    -f "$here/Containerfile" \
		    --ignorefile "$here/Containerfile.dockerignore" \
		    --target "$t" -t "$prefix-$t" "$top" \
		    >"$logs/$t.log" 2>&1 &
		pids[$t]=$!
	done
	for t in db chat web; do
		pid=${pids[$t]}
		if wait "$pid"; then
			echo "$prog: built $prefix-$t"
		else
			echo "$prog: $prefix-$t failed; the end of its log:" >&2
			tail -n 30 "$logs/$t.log" >&2
			failed=1
		fi
	done
	rm -rf "$logs"
	[ "$failed" -eq 0 ]
}

# --- up --------------------------------------------------------------------

# [ADDR:]PORT with ADDR 127.0.0.1 by default: nothing is published beyond
# this host unless asked.  Port 0 becomes podman's "ADDR:" (any free one).
publish() {
	local p=$1
	case $p in
	*:*) ;;
	*) p=127.0.0.1:$p ;;
	esac
	case $p in
	*:0) p=${p%0} ;;
	esac
	echo "$p"
}

# Where the running pod publishes a port of its own: ADDR:PORT.
published() {
	local infra
	infra=$("$podman" pod inspect -f '{{.InfraContainerID}}' "$name")
	"$podman" port "$infra" "$1" | head -n 1
}

health_ok() {
	local addr=${http%:*} port=${http##*:}
	case $addr in
	0.0.0.0|'') addr=127.0.0.1 ;;
	esac
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
	    "http://$addr:$port/api/health")" = 200 ]
}

running() {
	[ "$("$podman" container inspect -f '{{.State.Running}}' "$1" \
	    2>/dev/null)" = true ]
}

show_logs() {
	local c
	for c in db chat web; do
		echo "--- podman logs $name-$c (last lines)" >&2
		"$podman" logs --tail 20 "$name-$c" >&2 2>&1 || true
	done
}

up() {
	local c i
	http=$(publish "$http")
	tcp=$(publish "$tcp")
	! "$podman" pod exists "$name" ||
	    die "pod $name exists already: $prog down --name $name"
	for c in db chat web; do
		"$podman" image exists "$prefix-$c" ||
		    die "no image $prefix-$c: $prog build --prefix $prefix"
	done
	[ -z "$conf" ] || [ -r "$conf" ] || die "cannot read $conf"

	# What was made stays for its logs; the operator removes it.
	trap 'echo "$prog: up failed: $prog down --name $name removes" \
	    "what it made" >&2' EXIT
	if ! "$podman" secret inspect "$name-db-password" >/dev/null 2>&1; then
		od -An -tx1 -N24 /dev/urandom | tr -d ' \n' |
		    "$podman" secret create "$name-db-password" - >/dev/null
	fi
	for c in data mysqld sockets; do
		"$podman" volume exists "$name-$c" ||
		    "$podman" volume create "$name-$c" >/dev/null
	done
	"$podman" pod create --name "$name" \
	    -p "$http:80" -p "$tcp:7700" >/dev/null

	# The secret is a file in each container, never an environment
	# variable (which podman inspect shows).
	local secret=$name-db-password,target=chat_db_password
	"$podman" run -d --pod "$name" --name "$name-db" \
	    --restart on-failure --secret "$secret" \
	    -v "$name-data:/var/lib/mysql" -v "$name-mysqld:/run/mysqld" \
	    "$prefix-db" >/dev/null
	"$podman" run -d --pod "$name" --name "$name-chat" \
	    --restart on-failure --secret "$secret" \
	    -v "$name-mysqld:/run/mysqld" -v "$name-sockets:/run/chat" \
	    ${conf:+-v "$conf:/etc/chat/local.conf:ro"} \
	    "$prefix-chat" >/dev/null
	"$podman" run -d --pod "$name" --name "$name-web" \
	    --restart on-failure \
	    -v "$name-sockets:/run/chat" \
	    "$prefix-web" >/dev/null
	http=$(published 80/tcp)
	tcp=$(published 7700/tcp)

	for ((i = 0; i < wait_secs * 5; i++)); do
		health_ok && break
		for c in db chat web; do
			running "$name-$c" || {
				show_logs
				die "$name-$c stopped while starting"
			}
		done
		sleep 0.2
	done
	if [ "$i" -ge $((wait_secs * 5)) ]; then
		show_logs
		die "no 200 from /api/health after ${wait_secs}s"
	fi
	trap - EXIT
	echo "$prog: pod $name: web http://$http/, WebSocket ws://$http/ws," \
	    "native TCP $tcp"
}

# --- down ------------------------------------------------------------------

down() {
	local c
	if "$podman" pod exists "$name"; then
		# Stopped first, each within 20 s: MariaDB shuts down cleanly.
		"$podman" pod stop -t 20 "$name" >/dev/null
		"$podman" pod rm -f "$name" >/dev/null
	fi
	"$podman" secret rm "$name-db-password" >/dev/null 2>&1 || true
	for c in mysqld sockets; do
		"$podman" volume rm -f "$name-$c" >/dev/null 2>&1 || true
	done
	if [ "$purge" -eq 1 ]; then
		"$podman" volume rm -f "$name-data" >/dev/null 2>&1 || true
	fi
}

case $cmd in
build) build ;;
up) up ;;
down) down ;;
*) usage ;;
esac
