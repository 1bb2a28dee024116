#!/bin/bash
# The test runner: every unit test binary, the checks of the deployed files
# and of this runner itself, then the integration tests on a private stack
# started on free ports.
#
#   tests/run.sh [--build B] [--unit-only | --no-unit]
#       [--http HOST:PORT --tcp HOST:PORT [--stack-dir DIR]] [--plan]
#       [FILE...]
#
# B (default build/san) holds fcgi_app, push_daemon and tests/<unit tests>.
# FILE... runs only these integration test files.  The stack lives in a
# temporary directory and is stopped on exit, whatever happens; a run that
# passes leaves nothing behind, a failing one keeps the logs and prints the
# failing file's output and the tails of the stack's logs.
#
# --http and --tcp aim the integration tests at a stack that already runs
# (e.g. `make run`) instead; add --stack-dir var for the tests that look
# inside it (worker crash).  Only these options do: the CHAT_TEST_*
# variables that tell the tests where the stack is are cleared at start,
# so that one left in the environment never sends `make test` elsewhere.
# --plan prints what would run, and where, and exits.
#
# Sanitizers: the first ASan or UBSan report stops the program
# (halt_on_error) and is written to its log; any report in a unit test's
# output or in the stack's logs fails the run.  Leak checking is on: the
# programs free what they own at exit, and memory libfcgi keeps in globals
# is still reachable, so LeakSanitizer does not report it.  Set
# ASAN_OPTIONS=detect_leaks=0 to silence it when chasing something else.
#
# Counting (tests/lib/verdict.sh): test cases, with skips from node's TAP
# (skip, todo, skipped suites), cmocka and check-deploy's SKIP lines.  A
# program that exits non-zero, runs no test, or stops before its TAP plan
# and summary (an early process.exit) fails; so does a unit test with none
# passed.  Under CI=true a skip for a missing dependency is a failure.
#
# Last line: "N passed, N failed, N skipped".
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

build=build/san
unit=1
integration=1
files=()
ext_http=
ext_tcp=
ext_dir=
plan=0
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=${2:?}; shift 2 ;;
	--unit-only) integration=0; shift ;;
	--no-unit) unit=0; shift ;;
	--http) ext_http=${2:?}; shift 2 ;;
	--tcp) ext_tcp=${2:?}; shift 2 ;;
	--stack-dir) ext_dir=$(realpath "${2:?}"); shift 2 ;;
	--plan) plan=1; shift ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" |
	    sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) files+=("$(realpath "$1")"); shift ;;
	esac
done
if { [ -n "$ext_http$ext_dir" ] && [ -z "$ext_tcp" ]; } ||
    { [ -n "$ext_tcp$ext_dir" ] && [ -z "$ext_http" ]; }; then
	echo "run.sh: --http and --tcp go together (--stack-dir with them)" >&2
	exit 2
fi
cd "$top"
unset CHAT_TEST_HTTP CHAT_TEST_TCP CHAT_TEST_DIR CHAT_TEST_BUILD \
    CHAT_TEST_WORKERS CHAT_TEST_LOGIN_TIMEOUT CHAT_TEST_PING_INTERVAL
# shellcheck source=tests/lib/verdict.sh
. tests/lib/verdict.sh

export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
sanitizer_re='ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer'

passed=0
failed=0
skipped=0
work=$(mktemp -d /tmp/chat-test.XXXXXX)
stack_dir=
keep=0

cleanup() {
	if [ -n "$stack_dir" ]; then
		scripts/stack.sh stop --dir "$stack_dir" || true
		stack_dir=
	fi
	if [ "$keep" -eq 1 ]; then
		rm -rf "$work/mysql"
		echo "run.sh: logs kept in $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Adds the v_* of a verdict to the totals and prints the result line; the
# output of a program that did not pass is shown, and the logs kept.
count() {	# name, log
	passed=$((passed + v_pass))
	failed=$((failed + v_fail))
	skipped=$((skipped + v_skip))
	verdict_line "$1"
	if [ "$v_fail" -gt 0 ]; then
		fail_output "$1" "$2"
	fi
}

fail_output() {
	keep=1
	echo "--- output of $1"
	cat "$2"
	echo "--- end of $1"
}

# A line of its own for a failure that is not a program's (the stack).
fail_line() {
	printf 'FAIL %s\n' "$1"
	failed=$((failed + 1))
}

# --- unit tests ------------------------------------------------------------

run_unit() {
	local t name log rc n=0
	for t in "$build"/tests/*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		n=$((n + 1))
		name=${t#"$build"/}
		log=$work/unit-${t##*/}.log
		if timeout 300 "$t" >"$log" 2>&1; then
			rc=0
		else
			rc=$?
		fi
		verdict_unit "$log" "$rc"
		if [ "$rc" -eq 0 ] && grep -Eq "$sanitizer_re" "$log"; then
			v_fail=$((v_fail + 1))
			v_why=${v_why:+$v_why; }"sanitizer report"
		fi
		count "$name" "$log"
	done
	[ "$n" -gt 0 ] || fail_line "no unit tests in $build/tests (make SAN=1 unit-bin)"
}

# A program that prints one PASS/FAIL/SKIP line per check: the production
# nginx files and systemd units (nginx -t, systemd-analyze verify), and the
# runner's own rules held to fake test files.
run_checks() {	# name, command...
	local name=$1 log rc
	shift
	log=$work/${name##*/}.log
	if "$@" >"$log" 2>&1; then
		rc=0
	else
		rc=$?
	fi
	verdict_checks "$log" "$rc"
	count "$name" "$log"
}

# --- integration tests -----------------------------------------------------

# Two free loopback ports, from the kernel (never 8080 or 9000).
free_ports() {
	node -e '
	const net = require("net");
	const a = net.createServer().listen(0, "127.0.0.1", () => {
		const b = net.createServer().listen(0, "127.0.0.1", () => {
			console.log(a.address().port, b.address().port);
			a.close(); b.close();
		});
	});'
}

stack_logs() {
	local f
	for f in "$stack_dir"/log/*.log; do
		[ -s "$f" ] || continue
		case $f in
		*/mariadb-install.log|*/nginx-access.log) continue ;;
		esac
		echo "--- tail of ${f#"$work"/}"
		case $f in
		*/mariadb.log) grep -E '\[(ERROR|Warning)\]' "$f" |
		    grep -v max_open_files | tail -n 10 || true ;;
		*) tail -n 30 "$f" ;;
		esac
	done
}

# Runs one test file; counts its cases from node's TAP.
run_file() {
	local file=$1 name log tap rc
	name=${file#"$top"/}
	log=$work/$(basename "$file").log
	tap=$work/$(basename "$file").tap
	if node_test "$file" "$log" "$tap" 600; then
		rc=0
	else
		rc=$?
	fi
	[ -f "$tap" ] || : >"$tap"
	verdict_tap "$tap" "$rc"
	count "$name" "$log"
}

# True when every process stack.sh recorded still runs.
stack_alive() {
	local f pid start
	for f in "$stack_dir"/pids/*.pid; do
		read -r pid start <"$f"
		[ -d "/proc/$pid" ] && ! grep -q '^[^)]*) Z' "/proc/$pid/stat" ||
		    { echo "${f##*/}"; return 1; }
	done
}

run_integration() {
	local http tcp file gone
	if [ ${#files[@]} -eq 0 ]; then
		files=(tests/integration/*.test.mjs)
	fi
	if [ ! -d tests/node_modules ]; then
		fail_line "tests/node_modules is missing: run make deps"
		return
	fi
	if [ -n "$ext_http" ]; then
		export CHAT_TEST_HTTP=$ext_http CHAT_TEST_TCP=$ext_tcp
		export CHAT_TEST_DIR=$ext_dir
		echo "run.sh: testing the stack at $ext_http and $ext_tcp"
	else
		read -r http tcp < <(free_ports)
		stack_dir=$work
		# Short timeouts so that the tests of login_timeout and pings
		# are quick.  Most tests connect from 127.0.0.1 and make
		# accounts, friends and connections by the hundred, so the
		# volume limits per address and per account are lifted here;
		# 15-abuse-limits tests their defaults on a stack of its own.
		# Every other limit the tests count keeps its default.
		if ! scripts/stack.sh start --dir "$stack_dir" \
		    --http-port "$http" --tcp-port "$tcp" --build "$build" \
		    --workers 4 --test-cost \
		    --set login_timeout=5 --set ping_interval=2 \
		    --set registrations_per_hour=0 \
		    --set connections_per_address=0 \
		    --set friend_requests_per_minute=1000000 \
		    --set friend_requests_per_day=1000000 \
		    >"$work/stack-start.log" 2>&1; then
			fail_line "stack start"
			fail_output "scripts/stack.sh start" "$work/stack-start.log"
			stack_dir=
			return
		fi
		export CHAT_TEST_HTTP=127.0.0.1:$http
		export CHAT_TEST_TCP=127.0.0.1:$tcp
		export CHAT_TEST_DIR=$stack_dir
		export CHAT_TEST_BUILD=$build
		export CHAT_TEST_WORKERS=4
		export CHAT_TEST_LOGIN_TIMEOUT=5
		export CHAT_TEST_PING_INTERVAL=2
	fi
	for file in "${files[@]}"; do
		run_file "$file"
		if [ -n "$stack_dir" ] && ! gone=$(stack_alive); then
			fail_line "stack: ${gone%.pid} died during $file"
			keep=1
			stack_logs
			return
		fi
	done
	[ -n "$stack_dir" ] || return 0
	scripts/stack.sh stop --dir "$stack_dir" >"$work/stack-stop.log" 2>&1 || true
	if grep -Elq "$sanitizer_re" "$stack_dir"/log/*.log; then
		fail_line "sanitizer reports in the stack's logs"
		keep=1
		grep -El "$sanitizer_re" "$stack_dir"/log/*.log | while read -r f; do
			echo "--- $f"
			grep -E -A 30 "$sanitizer_re" "$f" | head -n 80
		done
	elif [ "$keep" -eq 1 ]; then
		stack_logs
	fi
	stack_dir=
}

# What would run, and against which stack.
print_plan() {
	local t
	if [ "$unit" -eq 1 ]; then
		for t in "$build"/tests/*; do
			[ -f "$t" ] && [ -x "$t" ] && echo "unit ${t#"$build"/}"
		done
		echo "checks scripts/check-deploy.sh tests/runner/check.sh"
	fi
	[ "$integration" -eq 1 ] || return 0
	if [ -n "$ext_http" ]; then
		echo "stack $ext_http $ext_tcp${ext_dir:+ $ext_dir}"
	else
		echo "stack own $build"
	fi
	[ ${#files[@]} -gt 0 ] || files=(tests/integration/*.test.mjs)
	for t in "${files[@]}"; do
		echo "file ${t#"$top"/}"
	done
}

if [ "$plan" -eq 1 ]; then
	print_plan
	exit 0
fi
if [ "$unit" -eq 1 ]; then
	run_unit
	run_checks scripts/check-deploy.sh scripts/check-deploy.sh --build "$build"
	run_checks tests/runner/check.sh tests/runner/check.sh
fi
[ "$integration" -eq 1 ] && run_integration

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
