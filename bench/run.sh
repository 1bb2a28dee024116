#!/bin/bash
# Runs the benchmark against a private stack of its own: starts it on free
# ports in a temporary directory, runs the standard suite (or the one
# workload BENCH names), writes bench/results/<date>-<host>[-BENCH].json,
# prints the markdown tables, and stops the stack by PID even on failure.
#
#   bench/run.sh [--build B]        (make bench; knobs in the environment)
#
# Knobs (bench/README.md says more): BENCH=suite|relay|transport|idle|
# login|db|cluster, PAIRS, RATE (0: saturated), INFLIGHT, SIZE, DURATION,
# TRANSPORT=ws|tcp, CONNS, IDLE_PROCS, ACCOUNTS, LOGINS, CONCURRENCY,
# WORKERS, SOURCES, COST=test|production, SET="name=value ...", OUT=file.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
prog=bench/run.sh

build=build
nostore_build=build/nostore
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=${2:?}; shift 2 ;;
	--nostore-build) nostore_build=${2:?}; shift 2 ;;
	*) echo "usage: $prog [--build B] [--nostore-build B]" >&2; exit 2 ;;
	esac
done

BENCH=${BENCH:-suite}
PAIRS=${PAIRS:-200}
RATE=${RATE:-0}
INFLIGHT=${INFLIGHT:-8}
SIZE=${SIZE:-64}
DURATION=${DURATION:-10}
TRANSPORT=${TRANSPORT:-ws}
CONNS=${CONNS:-5000}
IDLE_PROCS=${IDLE_PROCS:-0}
ACCOUNTS=${ACCOUNTS:-100}
LOGINS=${LOGINS:-100000}
CONCURRENCY=${CONCURRENCY:-64}
WORKERS=${WORKERS:-4}
SOURCES=${SOURCES:-8}
COST=${COST:-test}
SET=${SET:-}

# Limits meant for people, raised so that the benchmark measures the
# service and not them; the results file lists them.
raised=(packet_rate=1000000 packet_burst=1000000
    login_failures_per_minute=1000000 login_failures_per_address=1000000
    registrations_per_hour=0 connections_per_address=0)

gen=$build/bench
for b in "$gen" "$build/fcgi_app" "$build/push_daemon"; do
	[ -x "$b" ] || { echo "$prog: $b is missing: make all $b" >&2; exit 1; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/chat-bench.XXXXXX")
runs=$dir/runs.jsonl
: >"$runs"
stack_up=0
cluster_up=0
# The cluster's Galera nodes run as mysql, which must pass through.
chmod 0711 "$dir"

cleanup() {
	if [ "$stack_up" -eq 1 ]; then
		scripts/stack.sh stop --dir "$dir/stack" >/dev/null 2>&1 || true
	fi
	if [ "$cluster_up" -eq 1 ]; then
		scripts/cluster.sh stop --dir "$dir/cluster" >/dev/null 2>&1 ||
		    true
	fi
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "$prog: kept $dir" >&2
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# A port nothing listens on, from a range the kernel does not hand out.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		[ "$p" -ne "${1:-0}" ] || continue
		[ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ] && break
	done
	echo "$p"
}
http_port=$(free_port)
tcp_port=$(free_port "$http_port")

# stack_start COST [name=value...]: (re)starts the stack on the same
# directory, so accounts and messages stay between the restarts.
stack_start() {
	local cost=$1 s args=() from=$build
	shift
	# nostore: the workers of make NOSTORE=1, which store no message.
	if [ "${1:-}" = nostore ]; then
		from=$nostore_build
		shift
	fi
	if [ "$stack_up" -eq 1 ]; then
		scripts/stack.sh stop --dir "$dir/stack" >/dev/null
		stack_up=0
	fi
	[ "$cost" = test ] && args+=(--test-cost)
	for s in "${raised[@]}" $SET "$@"; do
		args+=(--set "$s")
	done
	echo "== stack: $cost password-hash cost, $WORKERS workers, $from${*:+, $*}" >&2
	stack_up=1
	scripts/stack.sh start --dir "$dir/stack" --build "$from" \
	    --http-port "$http_port" --tcp-port "$tcp_port" \
	    --workers "$WORKERS" "${args[@]}" >/dev/null
}

# gen WORKLOAD LABEL [options]: one generator run, its JSON kept.
gen() {
	local w=$1 label=$2
	shift 2
	echo "== $label" >&2
	"$gen" "$w" --label "$label" --http-port "$http_port" \
	    --tcp-port "$tcp_port" --stack-dir "$dir/stack" \
	    --sources "$SOURCES" --size "$SIZE" --duration "$DURATION" \
	    "$@" >>"$runs" || echo "$prog: $label failed" >&2
}

# The same relay on scripts/cluster.sh's two chat nodes (3 Galera nodes,
# Redis), beside each other in one run: every pair on node 1, then every
# pair split, its sender on node 1 and its receiver on node 2, so that
# each message crosses nodes through Redis.  The single stack is stopped
# first: the two would share the 2 cores.
cluster_relays() {
	local base s args=() h1 t1 h2 t2
	if [ "$stack_up" -eq 1 ]; then
		scripts/stack.sh stop --dir "$dir/stack" >/dev/null
		stack_up=0
	fi
	base=$(free_port)
	base=$((base - base % 50))
	for s in "${raised[@]}" $SET; do
		args+=(--set "$s")
	done
	echo "== cluster: 3 Galera nodes, Redis, 2 chat nodes, $build" >&2
	cluster_up=1
	scripts/cluster.sh start --dir "$dir/cluster" --base-port "$base" \
	    --build "$build" --test-cost "${args[@]}" >/dev/null
	h1=$base t1=$((base + 1)) h2=$((base + 2)) t2=$((base + 3))
	for tp in ws tcp; do
		gen_at "$h1" "$t1" relay "relay-$tp-cluster-one-node" \
		    $(relay_opts) --transport "$tp"
		gen_at "$h1" "$t1" relay "relay-$tp-cluster-cross-node" \
		    $(relay_opts) --transport "$tp" \
		    --http-port2 "$h2" --tcp-port2 "$t2"
	done
	gen_at "$h1" "$t1" relay relay-ws-1000-cluster-cross-node \
	    $(relay_opts) --transport ws --rate 1000 \
	    --http-port2 "$h2" --tcp-port2 "$t2"
	scripts/cluster.sh stop --dir "$dir/cluster" >/dev/null
	cluster_up=0
}

# gen_at HTTP TCP WORKLOAD LABEL [options]: gen on the cluster's node 1.
gen_at() {
	local h=$1 t=$2 w=$3 label=$4
	shift 4
	echo "== $label" >&2
	"$gen" "$w" --label "$label" --http-port "$h" --tcp-port "$t" \
	    --stack-dir "$dir/cluster/chat1" \
	    --sources "$SOURCES" --size "$SIZE" --duration "$DURATION" \
	    "$@" >>"$runs" || echo "$prog: $label failed" >&2
}

relay_opts() {
	echo --pairs "$PAIRS" --inflight "$INFLIGHT" --concurrency "$CONCURRENCY"
}

suite() {
	stack_start test
	gen relay relay-ws-saturated $(relay_opts) --transport ws
	gen relay relay-ws-1000 $(relay_opts) --transport ws --rate 1000
	login_flood
	gen relay relay-ws-5000 $(relay_opts) --transport ws --rate 5000
	gen relay relay-tcp-saturated $(relay_opts) --transport tcp
	gen db db-ceiling
	gen login login-test-cost --cost "test (1 pass, 8 MiB)" \
	    --concurrency 8 --logins 3000 --duration 5
	gen idle idle-$CONNS --conns "$CONNS" --procs "$IDLE_PROCS" \
	    --accounts "$ACCOUNTS" --concurrency "$CONCURRENCY"
	stack_start test nostore
	gen relay transport-ceiling $(relay_opts) --transport ws
	gen relay transport-5000 $(relay_opts) --transport ws --rate 5000
	stack_start production
	gen login login-production-cost \
	    --cost "production (2 passes, 64 MiB)" --concurrency 8 \
	    --logins 300 --duration 5
	cluster_relays
}

# A flood of logins while an honest relay runs at 1 000/s: the relay's
# latency against relay-ws-1000, the same relay without the flood, on the
# same stack (the login lane, its nice 10 and the throttles are what it
# measures).  The flood's logins succeed: the throttles do not stop them.
login_flood() {
	local flood=$dir/flood.jsonl
	echo "== login-flood (in the background)" >&2
	"$gen" login --label login-flood --http-port "$http_port" \
	    --tcp-port "$tcp_port" --stack-dir "$dir/stack" \
	    --sources "$SOURCES" --duration $((DURATION + 8)) \
	    --cost "test (1 pass, 8 MiB)" --concurrency 16 \
	    --logins 1000000 >"$flood" &
	flood_pid=$!
	gen relay relay-ws-1000-login-flood $(relay_opts) --transport ws \
	    --rate 1000
	wait "$flood_pid" || echo "$prog: login-flood failed" >&2
	cat "$flood" >>"$runs"
}

single() {
	case $BENCH in
	relay|transport)
		if [ "$BENCH" = transport ]; then
			stack_start "$COST" nostore
		else
			stack_start "$COST"
		fi
		gen relay "$BENCH-$TRANSPORT" $(relay_opts) \
		    --transport "$TRANSPORT" --rate "$RATE"
		;;
	idle)
		stack_start "$COST"
		gen idle "idle-$CONNS" --transport "$TRANSPORT" \
		    --conns "$CONNS" --procs "$IDLE_PROCS" --accounts "$ACCOUNTS" \
		    --concurrency "$CONCURRENCY"
		;;
	login)
		stack_start "$COST"
		gen login "login-$COST-cost" --transport "$TRANSPORT" \
		    --cost "$COST" --concurrency "$CONCURRENCY" \
		    --logins "$LOGINS"
		;;
	cluster)
		cluster_relays
		;;
	db)
		stack_start "$COST"
		# The ceiling writes between two existing accounts.
		"$gen" login --label accounts --http-port "$http_port" \
		    --tcp-port "$tcp_port" --concurrency 2 --logins 1 \
		    --duration 1 >/dev/null 2>&1 || true
		gen db db-ceiling
		;;
	*)
		echo "$prog: BENCH: suite, relay, transport, idle, login, db or" \
		    "cluster" >&2
		exit 2
		;;
	esac
}

json_str() {
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}

# The results file: the machine, the stack's settings, notes, the runs.
write_results() {
	local out=$1 first=1 line s
	{
		printf '{"date": %s, "host": %s,\n' \
		    "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" \
		    "$(json_str "$(hostname)")"
		printf ' "machine": {"cores": %s, "nofile_hard": %s, ' \
		    "$(nproc)" "$(ulimit -Hn)"
		printf '"cpu": %s, "kernel": %s},\n' \
		    "$(json_str "$(sed -n 's/^model name[[:space:]]*: //p' \
		    /proc/cpuinfo | head -n 1)")" \
		    "$(json_str "$(uname -r)")"
		printf ' "stack": {"workers": %s, "raised": [' "$WORKERS"
		for s in "${raised[@]}" $SET; do
			[ "$first" -eq 1 ] || printf ', '
			first=0
			json_str "$s"
		done
		printf '], "knobs": %s},\n' "$(json_str "BENCH=$BENCH \
PAIRS=$PAIRS RATE=$RATE INFLIGHT=$INFLIGHT SIZE=$SIZE DURATION=$DURATION \
TRANSPORT=$TRANSPORT CONNS=$CONNS IDLE_PROCS=$IDLE_PROCS ACCOUNTS=$ACCOUNTS \
WORKERS=$WORKERS \
SOURCES=$SOURCES COST=$COST")"
		printf ' "notes": [%s, %s, %s],\n' \
		    "$(json_str "raised for the benchmark: ${raised[*]} $SET")" \
		    "$(json_str "one machine of $(nproc) cores runs nginx, \
push_daemon, the workers, MariaDB and the generator; colleagues' jobs \
share it, so figures are noisy (see 'other processes')")" \
		    "$(json_str "a process may hold $(ulimit -Hn) descriptors: \
about 9900 proxied WebSockets per nginx worker, 19900 connections for \
push_daemon and for each idle generator process")"
		printf ' "runs": [\n'
		first=1
		while IFS= read -r line; do
			[ -n "$line" ] || continue
			[ "$first" -eq 1 ] || printf ',\n'
			first=0
			printf '  %s' "$line"
		done <"$runs"
		printf '\n]}\n'
	} >"$out"
}

if [ "$BENCH" = suite ]; then
	suite
	suffix=
else
	single
	suffix=-$BENCH
fi
scripts/stack.sh stop --dir "$dir/stack" >/dev/null
stack_up=0

mkdir -p bench/results
out=${OUT:-bench/results/$(date -u +%Y-%m-%d)-$(hostname -s)$suffix.json}
write_results "$out"
echo "== results: $out" >&2
"$gen" report "$out"
[ -s "$runs" ]
