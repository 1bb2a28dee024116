#!/bin/bash
# make test-cluster: a cluster of its own (scripts/cluster.sh: 3 Galera
# nodes, one Redis, 2 chat nodes, all on loopback, on free ports in a
# temporary folder), every tests/cluster/*.test.mjs against it in order
# (the failure tests kill and restart its parts), then the cluster
# stopped by PID, whatever happened.  A run that passes leaves nothing
# behind; a failing one keeps the folder and prints the ends of the logs.
#
#   tests/cluster/run.sh [--build B] [FILE...]
#
# B (default build/san) holds fcgi_app and push_daemon.  Each failure
# test prints its figures as "# counts NAME: sent=... lost=..." lines,
# which this script repeats at the end.
#
# Last line: "N passed, N failed, N skipped".
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
# shellcheck source=tests/lib/verdict.sh
. tests/lib/verdict.sh

build=build/san
files=()
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=${2:?}; shift 2 ;;
	-*) echo "cluster/run.sh: unknown option $1" >&2; exit 2 ;;
	*) files+=("$1"); shift ;;
	esac
done
[ ${#files[@]} -gt 0 ] || files=(tests/cluster/*.test.mjs)

passed=0
failed=0
skipped=0
work=$(mktemp -d /tmp/chat-cluster-test.XXXXXX)
# The Galera nodes run as mysql (scripts/cluster.sh says why), which must
# pass through; nothing here is listed to others.
chmod 0711 "$work"
cdir=$work/cluster
started=0

fail_step() {	# what, log
	printf 'FAIL cluster: %s\n' "$1"
	failed=$((failed + 1))
	if [ -n "${2:-}" ] && [ -s "$2" ]; then
		echo "--- end of $2"
		tail -n 40 "$2"
		echo "---"
	fi
}

# The ends of the cluster's logs, for a failed run.
show_logs() {
	local f
	for f in "$cdir"/log/*.log "$cdir"/chat*/log/*.log; do
		[ -s "$f" ] || continue
		echo "--- tail of $f"
		case $f in
		*galera*|*mariadb*)
			grep -E '\[(ERROR|Warning)\]' "$f" | tail -n 10 || true ;;
		*nginx*) grep -v ' HTTP/[0-9.]*" [0-9]' "$f" | tail -n 10 || true ;;
		*) tail -n 25 "$f" ;;
		esac
	done
}

# A sanitizer report in a chat node's log fails the run, as in run.sh.
sanitizer_reports() {
	grep -l -E '^(==[0-9]+==ERROR: |.*runtime error: )' \
	    "$cdir"/chat*/log/*.log 2>/dev/null || true
}

finish() {
	local rc=$? bad
	set +e
	trap - EXIT INT TERM
	[ "$rc" -eq 0 ] || [ "$failed" -gt 0 ] ||
	    fail_step "stopped early (status $rc)"
	if [ "$started" -eq 1 ]; then
		bad=$(sanitizer_reports)
		[ -z "$bad" ] || fail_step "sanitizer reports in: $bad"
		[ "$failed" -eq 0 ] || show_logs
		scripts/cluster.sh stop --dir "$cdir" >"$work/stop.log" 2>&1 ||
		    fail_step "cluster.sh stop" "$work/stop.log"
	fi
	if [ -s "$work/counts" ]; then
		echo "cluster: the failure tests' figures"
		sed 's/^# counts /  /' "$work/counts"
	fi
	if [ "$failed" -gt 0 ]; then
		echo "cluster: logs kept in $work"
	else
		rm -rf "$work"
	fi
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}
trap finish EXIT
trap 'exit 130' INT TERM

# A base port whose 50 ports nothing listens on, from a range the kernel
# does not hand out as ephemeral ports.
free_base() {
	local b p used
	for _ in $(seq 50); do
		b=$((20000 + (RANDOM % 240) * 50))
		used=0
		for ((p = b; p < b + 50; p++)); do
			if [ -n "$(ss -Htlun "sport = :$p" 2>/dev/null)" ]; then
				used=1
				break
			fi
		done
		[ "$used" -eq 0 ] && { echo "$b"; return 0; }
	done
	return 1
}

[ -d tests/node_modules ] || { fail_step "tests/node_modules is missing: run make deps"; exit 1; }
base=$(free_base) || { fail_step "no free range of 50 ports"; exit 1; }
# The test limits of tests/run.sh's stack (every client is 127.0.0.1),
# and heartbeats short enough for the dead-node test to wait for.
t=$SECONDS
started=1
if ! scripts/cluster.sh start --dir "$cdir" --base-port "$base" \
    --build "$build" --test-cost \
    --set registrations_per_hour=0 --set connections_per_address=0 \
    --set friend_requests_per_minute=1000000 \
    --set friend_requests_per_day=1000000 \
    --set login_failures_per_minute=1000000 \
    --set login_failures_per_address=1000000 \
    --set packet_rate=100000 --set packet_burst=100000 \
    --set node_heartbeat=1 --set node_timeout=8 \
    >"$work/start.log" 2>&1; then
	fail_step "cluster.sh start" "$work/start.log"
	exit 1
fi
echo "cluster: started on ports $base.. in $((SECONDS - t)) s"

: >"$work/counts"
for file in "${files[@]}"; do
	name=$(basename "$file")
	log=$work/$name.log
	tap=$work/$name.tap
	if CHAT_CLUSTER_JSON=$cdir/cluster.json \
	    node_test "$file" "$log" "$tap" 600; then
		rc=0
	else
		rc=$?
	fi
	[ -f "$tap" ] || : >"$tap"
	verdict_tap "$tap" "$rc"
	passed=$((passed + v_pass))
	failed=$((failed + v_fail))
	skipped=$((skipped + v_skip))
	verdict_line "$file"
	grep -h '^# counts ' "$log" >>"$work/counts" || true
	if [ "$v_fail" -gt 0 ]; then
		echo "--- output of $file"
		cat "$log"
		echo "--- end of $file"
	fi
done
