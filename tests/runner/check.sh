#!/bin/bash
# The runner's own test: tests/lib/verdict.sh, which tests/run.sh counts
# with, held to fake programs whose verdict is known.  fakes/*.mjs are node
# test files (run the way run.sh runs them); the cmocka and check-deploy
# outputs are written here.  Prints PASS or FAIL per case, as
# scripts/check-deploy.sh does; exits non-zero if any failed.  run.sh runs
# it with the unit tests, so that `make test` fails if the runner stops
# seeing a failure.
#
#   tests/runner/check.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/lib/verdict.sh
. "$top/tests/lib/verdict.sh"
work=$(mktemp -d /tmp/chat-runner.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0

# Compares the verdict of the last verdict_* call, as "WORD pass fail
# skip", with want.
expect() {	# case, want
	local got
	got="$(verdict_line x | cut -d' ' -f1) $v_pass $v_fail $v_skip"
	if [ "$got" = "$2" ]; then
		echo "PASS $1: $2"
	else
		echo "FAIL $1: want $2, got $got${v_why:+ ($v_why)}"
		failed=1
	fi
}

# A fake node test file, run as run.sh runs one.
fake() {	# file, want, [CI value]
	local rc=0
	node_test "$here/fakes/$1" "$work/log" "$work/tap" 60 || rc=$?
	[ -f "$work/tap" ] || : >"$work/tap"
	CI=${3:-} verdict_tap "$work/tap" "$rc"
	expect "fakes/$1${3:+ (CI=$3)}" "$2"
	rm -f "$work/tap"
}

fake pass.mjs		"PASS 2 0 0"
fake nested.mjs		"PASS 3 0 0"
fake fail.mjs		"FAIL 1 1 0"
fake empty.mjs		"FAIL 0 1 0"
fake exit-early.mjs	"FAIL 1 1 0"
fake exit-first.mjs	"FAIL 0 1 0"
fake exit-status.mjs	"FAIL 1 1 0"
fake syntax-error.mjs	"FAIL 0 1 0"
fake hook-fails.mjs	"FAIL 1 1 0"
fake skipped-suite.mjs	"SKIP 0 0 1"
fake skipped-suite.mjs	"SKIP 0 0 1" true
fake skips.mjs		"PASS 1 0 3"
fake missing-dep.mjs	"PASS 1 0 1"
fake missing-dep.mjs	"FAIL 1 1 0" true

# A cmocka program's output and exit status.
unit() {	# case, exit status, want, [CI value]; output on stdin
	cat >"$work/unit.log"
	CI=${4:-} verdict_unit "$work/unit.log" "$2"
	expect "unit: $1${4:+ (CI=$4)}" "$3"
}

unit "all pass" 0 "PASS 2 0 0" <<'EOF'
[==========] Running 2 test(s).
[ RUN      ] a
[       OK ] a
[ RUN      ] b
[       OK ] b
[==========] 2 test(s) run.
[  PASSED  ] 2 test(s).
EOF
unit "one fails" 1 "FAIL 1 1 0" <<'EOF'
[==========] 2 test(s) run.
[  PASSED  ] 1 test(s).
[  FAILED  ] 1 test(s), listed below:
[  FAILED  ] b
EOF
unit "a skip" 0 "PASS 1 0 1" <<'EOF'
[==========] 2 test(s) run.
[  PASSED  ] 1 test(s).
[  SKIPPED ] 1 test(s), listed below:
[  SKIPPED ] b
EOF
unit "none passed" 0 "FAIL 0 1 1" <<'EOF'
[==========] 1 test(s) run.
[  PASSED  ] 0 test(s).
[  SKIPPED ] 1 test(s), listed below:
[  SKIPPED ] a
EOF
unit "no test at all" 0 "FAIL 0 1 0" <<'EOF'
[==========] Running 0 test(s).
[==========] 0 test(s) run.
[  PASSED  ] 0 test(s).
EOF
unit "crashed in a test" 134 "FAIL 1 1 0" <<'EOF'
[==========] Running 3 test(s).
[ RUN      ] a
[       OK ] a
[ RUN      ] b
EOF
unit "summary short of the count" 0 "FAIL 1 1 0" <<'EOF'
[==========] 3 test(s) run.
[  PASSED  ] 1 test(s).
EOF

# A checker's output (scripts/check-deploy.sh) and exit status.
checks() {	# case, exit status, want, [CI value]; output on stdin
	cat >"$work/checks.log"
	CI=${4:-} verdict_checks "$work/checks.log" "$2"
	expect "checks: $1${4:+ (CI=$4)}" "$3"
}

printf 'PASS a\nPASS b\n' | checks "all pass" 0 "PASS 2 0 0"
printf 'PASS a\nSKIP b: no nginx (make deps)\n' |
    checks "a skip" 0 "PASS 1 0 1"
printf 'PASS a\nSKIP b: no nginx (make deps)\n' |
    checks "a skip" 0 "FAIL 1 1 0" true
printf 'SKIP a: no nginx (make deps)\n' | checks "only skips" 0 "SKIP 0 0 1"
# set -e stopped it (a failing cp) before it printed a FAIL line.
printf 'PASS a\ncp: cannot stat x: No such file or directory\n' |
    checks "stopped by set -e" 1 "FAIL 1 1 0"
: | checks "nothing printed" 0 "FAIL 0 1 0"

# A stack named by a variable left in the environment is not the one
# `make test` tests; an option names it.
plan=$(CHAT_TEST_HTTP=127.0.0.1:1 CHAT_TEST_TCP=127.0.0.1:2 \
    CHAT_TEST_DIR=no-such-stack "$top/tests/run.sh" --no-unit --plan |
    grep '^stack')
if [ "${plan%% *}" = stack ] && [ "${plan#stack }" = "own build/san" ]; then
	echo "PASS run.sh ignores CHAT_TEST_HTTP in the environment"
else
	echo "FAIL run.sh ignores CHAT_TEST_HTTP in the environment: $plan"
	failed=1
fi
plan=$("$top/tests/run.sh" --no-unit --plan --http 127.0.0.1:1 \
    --tcp 127.0.0.1:2 | grep '^stack')
if [ "$plan" = "stack 127.0.0.1:1 127.0.0.1:2" ]; then
	echo "PASS run.sh --http --tcp names the stack"
else
	echo "FAIL run.sh --http --tcp names the stack: $plan"
	failed=1
fi
exit "$failed"
