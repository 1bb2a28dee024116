# shellcheck shell=bash
# How tests/run.sh counts a test program's cases and decides its verdict;
# sourced by run.sh and by tests/runner/check.sh, which holds these rules
# to fake test files so that a runner that stops seeing a failure fails.
#
# Each verdict_* function reads one program's output and exit status and
# sets
#	v_pass v_fail v_skip	cases passed, failed, skipped
#	v_why			why the program failed beyond its cases, or ""
# A program that fails without a failed case (it crashed, exited early,
# ran nothing) counts one failed case, so that the total cannot stay at
# 0 failed.  Under CI=true a skip for a missing dependency counts as a
# failed case: CI installs every dependency (make deps), so such a skip
# there means a test that never runs.
#
# A missing dependency is what a skip's reason names with the make
# command that supplies it in parentheses at the end, "(make deps)" or
# "(make SAN=1 all)"; every SKIP of scripts/check-deploy.sh is one (a tool
# that make deps installs).

# The node test runner, run on one file the way run.sh runs them: in this
# process rather than under `node --test`, whose parent reports a file
# that printed no test, or exited early, as one passing test.  Run
# directly, a file that stops before its last test never prints its TAP
# plan and summary, which verdict_tap checks.  Spec output to $2, TAP to $3;
# killed after $4 seconds.
node_test() {	# file, log, tap, seconds
	timeout "$4" node --test-reporter=spec --test-reporter-destination=stdout \
	    --test-reporter=tap --test-reporter-destination="$3" \
	    "$1" </dev/null >"$2" 2>&1
}

# Counts of a TAP stream of node's test runner, as "pass fail skip depskip
# bad": every test point at any depth except suites, whose points only sum
# up their tests; a skipped suite counts as one skip (its tests never ran,
# so node does not list them); a TODO counts as a skip.  bad names what is
# wrong with the stream itself: a level whose plan is missing or differs
# from the points it has, no summary.
tap_counts() {	# tap file
	awk '
	function flush() {
		if (!pending)
			return
		pending = 0
		if (p_suite) {
			if (p_dir == "skip") {
				skip++
				if (p_dep)
					dep++
			} else if (!p_ok)
				suite_fail++
			return
		}
		if (p_dir == "skip" || p_dir == "todo") {
			skip++
			if (p_dep)
				dep++
		} else if (p_ok)
			pass++
		else
			fail++
	}
	function depth(line) {
		match(line, /^ */)
		return RLENGTH
	}
	/^ *---$/ && pending { yaml = 1; yi = depth($0); next }
	yaml && /^ *\.\.\.$/ && depth($0) == yi { yaml = 0; next }
	yaml {
		if ($0 ~ /^ *type: .suite.$/)
			p_suite = 1
		next
	}
	/^ *(not )?ok [0-9]+/ {
		flush()
		d = depth($0)
		points[d]++
		pending = 1
		p_ok = $0 !~ /^ *not ok/
		p_suite = 0
		p_dir = ""
		p_dep = 0
		if ($0 ~ / # [Ss][Kk][Ii][Pp]( |$)/)
			p_dir = "skip"
		else if ($0 ~ / # [Tt][Oo][Dd][Oo]( |$)/)
			p_dir = "todo"
		if (p_dir == "skip" && $0 ~ /\(make [^)]*\)$/)
			p_dep = 1
		next
	}
	/^ *1\.\.[0-9]+$/ {
		flush()
		d = depth($0)
		n = substr($0, d + 4) + 0
		if (n != points[d] + 0)
			bad = bad "plan 1.." n " for " points[d] + 0 " tests; "
		if (d == 0)
			plan = 1
		points[d] = 0
		next
	}
	/^# tests [0-9]+$/ { summary = 1 }
	END {
		flush()
		for (d in points)
			if (points[d] > 0)
				bad = bad points[d] " tests after the last plan; "
		if (!plan)
			bad = bad "no plan; "
		if (!summary)
			bad = bad "no summary; "
		if (suite_fail && !fail)
			fail = 1
		sub(/; $/, "", bad)
		printf "%d %d %d %d %s\n", pass, fail, skip, dep, bad
	}' "$1"
}

# Applies the CI rule and the "failed without a failed case" rule.
_verdict_end() {	# depskip
	if [ "${CI:-}" = true ] && [ "$1" -gt 0 ]; then
		v_fail=$((v_fail + $1))
		v_skip=$((v_skip - $1))
		v_why=${v_why:+$v_why; }"CI=true: $1 skipped for a missing dependency"
	fi
	if [ -n "$v_why" ] && [ "$v_fail" -eq 0 ]; then
		v_fail=1
	fi
}

verdict_tap() {	# tap file, exit status
	local dep bad
	read -r v_pass v_fail v_skip dep bad < <(tap_counts "$1")
	v_why=$bad
	if [ "$2" -ne 0 ]; then
		v_why=${v_why:+$v_why; }"exit status $2"
	fi
	if [ $((v_pass + v_fail + v_skip)) -eq 0 ]; then
		v_why=${v_why:+$v_why; }"ran no test"
	fi
	_verdict_end "$dep"
}

# A cmocka program's log: its summary lines, which must add up to the
# number of tests it says it ran, at least one of which passed.
verdict_unit() {	# log, exit status
	local total
	total=$(sed -n 's/^\[==========\] \([0-9]*\) test(s) run\.$/\1/p' "$1" |
	    tail -n 1)
	v_pass=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" |
	    tail -n 1)
	v_fail=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" |
	    tail -n 1)
	v_skip=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$1" |
	    tail -n 1)
	v_pass=${v_pass:-0}
	v_fail=${v_fail:-0}
	v_skip=${v_skip:-0}
	v_why=
	if [ -z "$total" ]; then
		# crashed or timed out: what passed before still counts
		v_pass=$(grep -c '^\[       OK \]' "$1" || true)
		v_why="no summary (crashed or timed out)"
	elif [ $((v_pass + v_fail + v_skip)) -ne "$total" ]; then
		v_why="$v_pass passed, $v_fail failed, $v_skip skipped of $total"
	fi
	if [ "$2" -ne 0 ]; then
		v_why=${v_why:+$v_why; }"exit status $2"
	fi
	if [ "$v_pass" -eq 0 ]; then
		v_why=${v_why:+$v_why; }"no test passed"
	fi
	_verdict_end 0
}

# Output of a checker that prints one PASS, FAIL or SKIP line per check
# (scripts/check-deploy.sh, tests/runner/check.sh); every SKIP is for a
# missing tool.
verdict_checks() {	# log, exit status
	v_pass=$(grep -c '^PASS' "$1" || true)
	v_fail=$(grep -c '^FAIL' "$1" || true)
	v_skip=$(grep -c '^SKIP' "$1" || true)
	v_why=
	if [ "$2" -ne 0 ]; then
		v_why="exit status $2"
	fi
	if [ $((v_pass + v_fail + v_skip)) -eq 0 ]; then
		v_why=${v_why:+$v_why; }"ran no check"
	fi
	_verdict_end "$v_skip"
}

# The result line of one program from the v_* of its verdict: PASS, FAIL,
# or SKIP when nothing passed and nothing failed.
verdict_line() {	# name
	local what=
	if [ "$v_fail" -gt 0 ]; then
		what="$v_pass passed, $v_fail failed"
		[ "$v_skip" -eq 0 ] || what="$what, $v_skip skipped"
		printf 'FAIL %s (%s)%s\n' "$1" "$what" "${v_why:+: $v_why}"
	elif [ "$v_pass" -eq 0 ]; then
		printf 'SKIP %s (%s skipped)\n' "$1" "$v_skip"
	elif [ "$v_skip" -gt 0 ]; then
		printf 'PASS %s (%s, %s skipped)\n' "$1" "$v_pass" "$v_skip"
	else
		printf 'PASS %s (%s)\n' "$1" "$v_pass"
	fi
}
