#!/bin/sh
# Runs libFuzzer targets built by `make fuzz-bin`, one after the other:
#
#   tests/fuzz/run.sh [--seconds N | --runs N] TARGET...
#
# Each starts from its seeds in tests/fuzz/corpus/TARGET/ (and with the
# tokens of tests/fuzz/TARGET.dict, if there is one) and from what
# earlier runs found (build/fuzz/corpus/TARGET/, where new inputs go: the
# seeds in the repository are never written).  A crash, a leak or a
# sanitizer report stops the target; its input is left as
# build/fuzz/TARGET-crash-*, its log as build/fuzz/TARGET.log.  Prints a
# line per target with the executions done, and exits 1 if any failed.
set -eu
cd "$(dirname "$0")/../.."

limit="-max_total_time=30"
case ${1:-} in
--seconds) limit="-max_total_time=${2:?}"; shift 2 ;;
--runs) limit="-runs=${2:?}"; shift 2 ;;
esac

failed=0
npass=0
nfail=0
for t in "$@"; do
	bin=build/fuzz/$t
	log=build/fuzz/$t.log
	mkdir -p "build/fuzz/corpus/$t"
	# The upgrade request may be up to WS_REQUEST_MAX (8192) bytes.
	case $t in
	fuzz-ws-handshake) len=-max_len=9000 ;;
	*) len=-max_len=4096 ;;
	esac
	dict=
	[ -f "tests/fuzz/$t.dict" ] && dict=-dict=tests/fuzz/$t.dict
	start=$(date +%s)
	if "$bin" "$limit" "$len" ${dict:+"$dict"} -print_final_stats=1 \
	    -artifact_prefix="build/fuzz/$t-" \
	    "build/fuzz/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
		rc=0
	else
		rc=$?
	fi
	secs=$(( $(date +%s) - start ))
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -n 1)
	if [ "$rc" -eq 0 ]; then
		echo "PASS $t (${runs:-?} executions, ${secs} s)"
		npass=$((npass + 1))
	else
		echo "FAIL $t (exit $rc after ${runs:-?} executions, ${secs} s)"
		grep -E 'ERROR:|SUMMARY:|runtime error|Test unit written|#[0-9]+ +in ' \
		    "$log" | head -n 20 || true
		echo "full log: $log"
		failed=1
		nfail=$((nfail + 1))
	fi
done
echo "fuzz: $npass passed, $nfail failed"
exit "$failed"
