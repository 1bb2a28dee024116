#!/bin/bash
# The test runner: every unit test binary, then the integration tests on a
# private stack started on free ports.
#
#   tests/run.sh [--build B] [--unit-only | --no-unit] [FILE...]
#
# B (default build/san) holds fcgi_app, push_daemon and tests/<unit tests>.
# FILE... runs only these integration test files.  The stack lives in a
# temporary directory and is stopped on exit, whatever happens; a run that
# passes leaves nothing behind, a failing one keeps the logs and prints the
# failing file's output and the tails of the stack's logs.
#
# CHAT_TEST_HTTP=host:port and CHAT_TEST_TCP=host:port aim the integration
# tests at a stack that already runs (e.g. `make run`) instead; add
# CHAT_TEST_DIR=var for the tests that look inside it (worker crash).
#
# Sanitizers: the first ASan or UBSan report stops the program
# (halt_on_error) and is written to its log; any report in a unit test's
# output or in the stack's logs fails the run.  Leak checking is on: the
# programs free what they own at exit, and memory libfcgi keeps in globals
# is still reachable, so LeakSanitizer does not report it.  Set
# ASAN_OPTIONS=detect_leaks=0 to silence it when chasing something else.
#
# Last line: "N passed, N failed", counting test cases.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

build=build/san
unit=1
integration=1
files=()
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=${2:?}; shift 2 ;;
	--unit-only) integration=0; shift ;;
	--no-unit) unit=0; shift ;;
	-h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) files+=("$(realpath "$1")"); shift ;;
	esac
done
cd "$top"

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

result() {
	printf '%-4s %s%s\n' "$1" "$2" "${3:+ ($3)}"
}

fail_output() {
	keep=1
	echo "--- output of $1"
	cat "$2"
	echo "--- end of $1"
}

# --- unit tests ------------------------------------------------------------

run_unit() {
	local t name log rc p f
	[ -d "$build/tests" ] || { echo "run.sh: no unit tests in $build/tests"; return 0; }
	for t in "$build"/tests/*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		name=${t#"$build"/}
		log=$work/unit-${t##*/}.log
		if timeout 300 "$t" >"$log" 2>&1; then
			rc=0
		else
			rc=$?
		fi
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
		p=${p:-0}
		f=${f:-0}
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1	# crashed or timed out before cmocka could count
		fi
		if [ "$rc" -eq 0 ] && grep -Eq "$sanitizer_re" "$log"; then
			f=$((f + 1))
		fi
		passed=$((passed + p))
		failed=$((failed + f))
		if [ "$f" -eq 0 ]; then
			result PASS "$name" "$p"
		else
			result FAIL "$name" "$p passed, $f failed"
			fail_output "$name" "$log"
		fi
	done
}

# The production nginx files and systemd units, checked by nginx -t and
# systemd-analyze verify; each check counts as one case.
run_deploy_checks() {
	local log=$work/check-deploy.log p f
	scripts/check-deploy.sh --build "$build" >"$log" 2>&1 || true
	p=$(grep -c '^PASS' "$log" || true)
	f=$(grep -c '^FAIL' "$log" || true)
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -eq 0 ]; then
		result PASS scripts/check-deploy.sh "$p"
	else
		result FAIL scripts/check-deploy.sh "$p passed, $f failed"
		fail_output scripts/check-deploy.sh "$log"
	fi
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

# Runs one test file; counts its cases from node's TAP summary.
run_file() {
	local file=$1 name log tap rc p f c s
	name=${file#"$top"/}
	log=$work/$(basename "$file").log
	tap=$work/$(basename "$file").tap
	if timeout 600 node --test --test-concurrency=1 \
	    --test-reporter=spec --test-reporter-destination=stdout \
	    --test-reporter=tap --test-reporter-destination="$tap" \
	    "$file" </dev/null >"$log" 2>&1; then
		rc=0
	else
		rc=$?
	fi
	[ -f "$tap" ] || : >"$tap"
	p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -n 1)
	f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" | tail -n 1)
	c=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$tap" | tail -n 1)
	s=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$tap" | tail -n 1)
	p=${p:-0}
	f=$(( ${f:-0} + ${c:-0} ))
	s=${s:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1	# node itself failed (syntax error, timeout)
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	if [ "$f" -eq 0 ]; then
		if [ "$s" -gt 0 ]; then
			result PASS "$name" "$p, $s skipped"
		else
			result PASS "$name" "$p"
		fi
	else
		result FAIL "$name" "$p passed, $f failed"
		fail_output "$name" "$log"
	fi
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
		echo "run.sh: tests/node_modules is missing: run make deps" >&2
		failed=$((failed + 1))
		return
	fi
	if [ -n "${CHAT_TEST_HTTP:-}" ]; then
		: "${CHAT_TEST_TCP:?CHAT_TEST_HTTP is set, CHAT_TEST_TCP too please}"
		export CHAT_TEST_HTTP CHAT_TEST_TCP
		export CHAT_TEST_DIR=${CHAT_TEST_DIR:-}
		echo "run.sh: testing the stack at $CHAT_TEST_HTTP and $CHAT_TEST_TCP"
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
			result FAIL "stack start"
			fail_output "scripts/stack.sh start" "$work/stack-start.log"
			failed=$((failed + 1))
			stack_dir=
			return
		fi
		export CHAT_TEST_HTTP=127.0.0.1:$http
		export CHAT_TEST_TCP=127.0.0.1:$tcp
		export CHAT_TEST_DIR=$stack_dir
		export CHAT_TEST_WORKERS=4
		export CHAT_TEST_LOGIN_TIMEOUT=5
		export CHAT_TEST_PING_INTERVAL=2
	fi
	for file in "${files[@]}"; do
		run_file "$file"
		if [ -n "$stack_dir" ] && ! gone=$(stack_alive); then
			result FAIL "stack: ${gone%.pid} died during $file"
			failed=$((failed + 1))
			keep=1
			stack_logs
			return
		fi
	done
	[ -n "$stack_dir" ] || return 0
	scripts/stack.sh stop --dir "$stack_dir" >"$work/stack-stop.log" 2>&1 || true
	if grep -Elq "$sanitizer_re" "$stack_dir"/log/*.log; then
		result FAIL "sanitizer reports in the stack's logs"
		failed=$((failed + 1))
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

[ "$unit" -eq 1 ] && run_unit && run_deploy_checks
[ "$integration" -eq 1 ] && run_integration

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
