#!/bin/bash
# Starts and stops several nodes of the service on this one machine, all on
# loopback: three Galera nodes (MariaDB with wsrep), one Redis that saves
# nothing, and two chat nodes (scripts/stack.sh --db-socket, each with its
# own nginx), every file of it under one directory.
#
#   cluster.sh start [--dir DIR] [--base-port P] [--build B] [--test-cost]
#                    [--set name=value]...
#   cluster.sh run   (same options)  start, print where each part listens,
#                                    wait; Ctrl-C or SIGTERM stops it all
#   cluster.sh stop  [--dir DIR]     stop what DIR records: the chat nodes,
#                                    Redis, then the Galera nodes one by one
#   cluster.sh kill-galera N | kill-redis | kill-node N      [--dir DIR]
#                                    SIGKILL that part (a chat node: its
#                                    nginx, daemon, workers' master and
#                                    workers) and wait until it is gone
#   cluster.sh start-galera N | start-redis | start-node N   [--dir DIR]
#                                    start it again as start did; a Galera
#                                    node rejoins and is waited for (Synced)
#
# DIR defaults to var/cluster in the checkout and is kept between runs: a
# start on a kept DIR starts the Galera cluster again from the node that
# stopped last.  B, --test-cost and --set are stack.sh's, given to both chat
# nodes; --set lines come after cluster.sh's own, so they win (node_name
# there would give both nodes one name).  The kill- and start- commands
# take only --dir: they reuse what start recorded in DIR/options.
#
# Ports, all on 127.0.0.1, from the base P (default 8100; up to P+40):
#   P+0  P+1     chat node 1: HTTP (/ws, /api/, the web client), TCP
#   P+2  P+3     chat node 2: HTTP, TCP
#   P+10N+0      Galera node N (1-3): clients (what 3306 is on a host)
#   P+10N+1      Galera node N: group communication (4567)
#   P+10N+2      Galera node N: IST, incremental state transfer (4568)
#   P+10N+3      Galera node N: SST, rsync of a whole datadir (4444)
#   P+40         Redis (6379)
# Chat node 1 uses Galera node 1 (then 2, 3: db_fallback), node 2 uses
# Galera node 2 (then 3, 1), both through Unix sockets.
#
# Layout of DIR:
#   options         what start was given, for the kill- and start- commands
#   cluster.json    every port, socket, directory and pid file, for tests
#   db-password     the chat user's password, copied into each chatN/
#   galeraN/        my.cnf, data/ (the datadir), run/ (socket, pid file);
#                   run by the user mysql when root starts them (see
#                   galera_user)
#   galera-last     the Galera node that stop stopped last
#   redis/          Redis's working directory (it writes nothing there)
#   chatN/          chat node N: a stack.sh DIR (chat.conf, log/, pids/)
#   log/            galeraN.log, redis.log, chatN.log (stack.sh's output)
#   pids/           "PID STARTTIME" of each Galera node and of Redis
#
# As in stack.sh, processes are started in the foreground of their own
# (with &), recorded by PID and start time, and stopped by that PID only:
# never a process group, never a process this script did not start (or one
# of its children).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
prog=cluster.sh

die() {
	echo "$prog: $*" >&2
	exit 1
}

usage() {
	sed -n '7,19p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# --- options ---------------------------------------------------------------

cmd=${1:-}
[ $# -gt 0 ] && shift
num=
case $cmd in
kill-galera|start-galera|kill-node|start-node)
	num=${1:-}
	[ $# -gt 0 ] && shift
	case $cmd:$num in
	*-galera:[123]|*-node:[12]) ;;
	*-galera:*) die "$cmd wants a Galera node: 1, 2 or 3" ;;
	*) die "$cmd wants a chat node: 1 or 2" ;;
	esac
	;;
start|run|stop|kill-redis|start-redis) ;;
*) usage ;;
esac

dir=$top/var/cluster
base=8100
build=build
test_cost=0
sets=()
others=0	# options besides --dir

while [ $# -gt 0 ]; do
	case $1 in
	--dir) dir=${2:?}; shift 2 ;;
	--base-port) base=${2:?}; others=1; shift 2 ;;
	--build) build=${2:?}; others=1; shift 2 ;;
	--test-cost) test_cost=1; others=1; shift ;;
	--set) sets+=("${2:?}"); others=1; shift 2 ;;
	*) usage ;;
	esac
done

case $cmd in
start|run)
	case $base in
	''|0*|*[!0-9]*) die "--base-port wants a number" ;;
	esac
	[ "$base" -ge 1024 ] && [ "$base" -le 65495 ] ||
	    die "--base-port: from 1024 to 65495 (the ports go up to P+40)"
	for s in ${sets[@]+"${sets[@]}"}; do
		case $s in
		*$'\n'*) die "--set: no newlines: $s" ;;
		[a-z]*=*) ;;
		*) die "--set wants name=value: $s" ;;
		esac
	done
	;;
*)
	[ "$others" -eq 0 ] ||
	    die "$cmd takes only --dir: the rest is what start recorded"
	;;
esac

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
case $build in
/*) ;;
*) build=$top/$build ;;
esac

# Paths are written into my.cnf, chat.conf and cluster.json unquoted.
case $dir$top$build in
*[!A-Za-z0-9_./+-]*)
	die "paths must hold only letters, digits and _./+-: $dir" ;;
esac

log_dir=$dir/log
pid_dir=$dir/pids
pwfile=$dir/db-password
optfile=$dir/options
redis_dir=$dir/redis
redis_pwfile=$dir/redis-password

# Reads back what start recorded: the kill- and start- commands run the
# parts on the same ports and options.
load_options() {
	local line
	[ -f "$optfile" ] || die "no $optfile: cluster.sh start --dir $dir first"
	sets=()
	while IFS= read -r line; do
		case $line in
		base_port=*) base=${line#*=} ;;
		build=*) build=${line#*=} ;;
		test_cost=*) test_cost=${line#*=} ;;
		set=*) sets+=("${line#*=}") ;;
		esac
	done <"$optfile"
}

save_options() {
	local s
	{
		echo "base_port=$base"
		echo "build=$build"
		echo "test_cost=$test_cost"
		for s in ${sets[@]+"${sets[@]}"}; do
			echo "set=$s"
		done
	} >"$optfile"
}

# --- ports and paths ---------------------------------------------------------

galera_port() {		# N, 0 client, 1 gcomm, 2 IST, 3 SST
	echo $((base + 10 * $1 + $2))
}
redis_port() { echo $((base + 40)); }
http_port() { echo $((base + 2 * ($1 - 1))); }
tcp_port() { echo $((base + 2 * ($1 - 1) + 1)); }

galera_dir() { echo "$dir/galera$1"; }
galera_sock() { echo "$dir/galera$1/run/mysqld.sock"; }
galera_cnf() { echo "$dir/galera$1/my.cnf"; }
chat_dir() { echo "$dir/chat$1"; }

# Chat node N's Galera nodes, first the one it uses.
chat_galeras() {
	case $1 in
	1) echo 1 2 3 ;;
	2) echo 2 3 1 ;;
	esac
}

check_paths() {
	local n s
	for n in 1 2 3; do
		s=$(galera_sock "$n")
		[ "${#s}" -le 107 ] ||
		    die "socket path longer than 107 bytes: $s (use a shorter --dir)"
	done
	# stack.sh's longest: chatN/run/login.sock
	s=$(chat_dir 1)/run/login.sock
	[ "${#s}" -le 107 ] ||
	    die "socket path longer than 107 bytes: $s (use a shorter --dir)"
}

check_port() {
	if command -v ss >/dev/null 2>&1 &&
	    [ -n "$(ss -Htln "sport = :$2" 2>/dev/null)" ]; then
		die "port $2 ($1) is in use"
	fi
}

check_ports() {
	local n
	for n in 1 2; do
		check_port "chat node $n HTTP" "$(http_port "$n")"
		check_port "chat node $n TCP" "$(tcp_port "$n")"
	done
	for n in 1 2 3; do
		check_galera_ports "$n"
	done
	check_port Redis "$(redis_port)"
}

check_galera_ports() {
	check_port "Galera node $1 clients" "$(galera_port "$1" 0)"
	check_port "Galera node $1 group communication" "$(galera_port "$1" 1)"
	check_port "Galera node $1 IST" "$(galera_port "$1" 2)"
	check_port "Galera node $1 SST" "$(galera_port "$1" 3)"
}

# --- processes (as in stack.sh) ----------------------------------------------

# Prints field N (as numbered in proc(5)) of /proc/PID/stat, or nothing.
proc_field() {
	local n=$2 stat
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 0
	# Drop "pid (comm) ": comm may hold spaces and parentheses.
	stat=${stat##*) }
	local -a fields
	read -r -a fields <<<"$stat"
	echo "${fields[n - 3]}"
}

# True when PID runs (a zombie counts as gone) and, if START is given,
# is the process that was started then (not a reused PID).
proc_alive() {
	local pid=$1 start=${2:-} state
	state=$(proc_field "$pid" 3)
	[ -n "$state" ] && [ "$state" != Z ] || return 1
	[ -z "$start" ] || [ "$(proc_field "$pid" 22)" = "$start" ]
}

# Prints "PID STARTTIME" of each child of PID.
proc_children() {
	local p
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$(proc_field "$p" 4)" = "$1" ] || continue
		echo "$p $(proc_field "$p" 22)"
	done
}

# Prints "PID STARTTIME" of PID's children, their children, and so on.
proc_descendants() {
	local kid kstart
	while read -r kid kstart; do
		[ -n "$kid" ] || continue
		echo "$kid $kstart"
		proc_descendants "$kid"
	done < <(proc_children "$1")
}

# Sends SIGTERM to PID (started at START), waits up to SECS for it to go,
# then SIGKILL.
proc_stop() {
	local pid=$1 start=$2 secs=$3 i
	proc_alive "$pid" "$start" || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < secs * 10; i++)); do
		proc_alive "$pid" "$start" || return 0
		sleep 0.1
	done
	echo "$prog: pid $pid still running after ${secs}s: SIGKILL" >&2
	kill -KILL "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		proc_alive "$pid" "$start" || return 0
		sleep 0.1
	done
	echo "$prog: pid $pid survived SIGKILL" >&2
}

# SIGKILL to each "PID STARTTIME" line of $1, then waits until all are gone.
proc_kill_all() {
	local pid start i left
	while read -r pid start; do
		[ -n "$pid" ] && proc_alive "$pid" "$start" &&
		    kill -KILL "$pid" 2>/dev/null || true
	done <<<"$1"
	for ((i = 0; i < 100; i++)); do
		left=0
		while read -r pid start; do
			[ -n "$pid" ] && proc_alive "$pid" "$start" && left=1
		done <<<"$1"
		[ "$left" -eq 0 ] && return 0
		sleep 0.1
	done
	die "still running after SIGKILL: $(echo $1)"
}

# Records a process started by this script: pids/NAME.pid.
record_pid() {
	mkdir -p "$pid_dir"
	echo "$2 $(proc_field "$2" 22)" >"$pid_dir/$1.pid"
}

# True when the process of pids/NAME.pid (or of the file FILE) runs.
recorded_alive() {
	local f=$1 pid='' start=''
	case $f in
	*/*) ;;
	*) f=$pid_dir/$f.pid ;;
	esac
	[ -f "$f" ] || return 1
	read -r pid start <"$f" || true
	[ -n "$pid" ] && proc_alive "$pid" "$start"
}

# "PID STARTTIME" of the process of pids/NAME.pid if it runs, and of every
# descendant of it: what a SIGKILL must reach.
recorded_tree() {
	local pid='' start=''
	recorded_alive "$1" || return 0
	read -r pid start <"$1"
	echo "$pid $start"
	proc_descendants "$pid"
}

# Stops the process of pids/NAME.pid, and whatever children it leaves.
stop_recorded() {
	local f=$pid_dir/$1.pid secs=$2 pid start kids kid kstart
	[ -f "$f" ] || return 0
	if recorded_alive "$f"; then
		read -r pid start <"$f"
		kids=$(proc_children "$pid")
		proc_stop "$pid" "$start" "$secs"
		while read -r kid kstart; do
			[ -n "$kid" ] && proc_stop "$kid" "$kstart" 5
		done <<<"$kids"
	fi
	rm -f "$f"
}

# Waits up to SECS for COMMAND to succeed while pids/NAME.pid runs.
wait_until() {
	local name=$1 secs=$2 what=$3 log=$4 i
	shift 4
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		recorded_alive "$name" ||
		    die "$name exited before $what (see $log)"
		sleep 0.1
	done
	die "$name: no $what after ${secs}s (see $log)"
}

chat_alive() {		# N: true when any of its processes runs
	local f
	for f in "$(chat_dir "$1")"/pids/*.pid; do
		[ -f "$f" ] && recorded_alive "$f" && return 0
	done
	return 1
}

chat_all_alive() {	# N: true when every process stack.sh recorded runs
	local f any=0
	for f in "$(chat_dir "$1")"/pids/*.pid; do
		[ -f "$f" ] || continue
		recorded_alive "$f" || return 1
		any=1
	done
	[ "$any" -eq 1 ]
}

any_running() {
	local n
	for n in 1 2 3; do
		recorded_alive "galera$n" && return 0
	done
	recorded_alive redis && return 0
	chat_alive 1 || chat_alive 2
}

# --- Galera ------------------------------------------------------------------

write_galera_cnf() {
	local n=$1 d addr m
	d=$(galera_dir "$n")
	addr=
	for m in 1 2 3; do
		addr=$addr${addr:+,}127.0.0.1:$(galera_port "$m" 1)
	done
	{
		echo "# Written by scripts/cluster.sh at every start."
		echo "[client]"
		echo "socket = $(galera_sock "$n")"
		echo "default-character-set = utf8mb4"
		echo
		echo "[mysqld]"
		echo "datadir = $d/data"
		echo "socket = $(galera_sock "$n")"
		echo "bind-address = 127.0.0.1"
		echo "port = $(galera_port "$n" 0)"
		echo "pid-file = $d/run/mariadb.pid"
		echo "log-error = $log_dir/galera$n.log"
		[ -z "$(galera_user)" ] || echo "user = $(galera_user)"
		echo "character-set-server = utf8mb4"
		echo "collation-server = utf8mb4_unicode_ci"
		echo "innodb_flush_log_at_trx_commit = 1"
		echo "innodb_buffer_pool_size = 32M"
		echo "innodb_log_file_size = 16M"
		echo "default_storage_engine = InnoDB"
		echo "binlog_format = ROW"
		echo "innodb_autoinc_lock_mode = 2"
		echo
		echo "[galera]"
		echo "wsrep_on = ON"
		echo "wsrep_provider = /usr/lib/galera/libgalera_smm.so"
		echo "wsrep_cluster_name = chat"
		echo "wsrep_cluster_address = gcomm://$addr"
		echo "wsrep_node_name = galera$n"
		echo "wsrep_node_address = 127.0.0.1:$(galera_port "$n" 1)"
		echo "wsrep_node_incoming_address = 127.0.0.1:$(galera_port "$n" 0)"
		echo "wsrep_provider_options =" \
		    "\"gmcast.listen_addr=tcp://127.0.0.1:$(galera_port "$n" 1);" \
		    "ist.recv_addr=127.0.0.1:$(galera_port "$n" 2);" \
		    "gcache.size=32M\""
		echo "wsrep_sst_method = rsync"
		echo "wsrep_sst_receive_address = 127.0.0.1:$(galera_port "$n" 3)"
	} >"$(galera_cnf "$n")"
}

# Prints the value of status variable NAME on Galera node N.
galera_status() {
	mariadb --defaults-file="$(galera_cnf "$1")" -N -B \
	    -e "SHOW GLOBAL STATUS LIKE '$2'" 2>/dev/null | cut -f2
}

galera_synced() {
	[ "$(galera_status "$1" wsrep_local_state_comment)" = Synced ]
}

galera_size3() {
	[ "$(galera_status "$1" wsrep_cluster_size)" = 3 ]
}

grastate() { echo "$(galera_dir "$1")/data/grastate.dat"; }

grastate_field() {	# N, field: prints its value, or nothing
	local f
	f=$(grastate "$1")
	[ -f "$f" ] || return 0
	sed -n "s/^$2:[[:space:]]*//p" "$f"
}

# The position (UUID:SEQNO) InnoDB of Galera node N holds, for a node that
# did not stop cleanly (grastate.dat says seqno -1), as Debian's
# galera_recovery finds it: mariadbd --wsrep-recover logs "Recovered
# position: UUID:SEQNO".  Nothing for a node that never had a datadir.
galera_recover() {
	local n=$1 log
	[ -d "$(galera_dir "$n")/data/mysql" ] || return 0
	log=$log_dir/galera$n-recover.log
	write_galera_cnf "$n"
	galera_own "$n"
	: >"$log"
	mariadbd --defaults-file="$(galera_cnf "$n")" --wsrep-recover \
	    --log-error="$log" >/dev/null 2>&1 || true
	sed -n 's/.*WSREP: Recovered position: *//p' "$log" | tail -n 1
}

# The Galera node to bootstrap the cluster from: on a fresh DIR node 1;
# else the one whose grastate.dat says safe_to_bootstrap: 1 (the last to
# leave a cluster that stopped cleanly), else the one stop stopped last,
# else the one holding the most transactions.
choose_bootstrap() {
	local n best='' best_seq=-2 seq any=0
	for n in 1 2 3; do
		[ -f "$(grastate "$n")" ] && any=1
	done
	if [ "$any" -eq 0 ]; then
		echo 1
		return
	fi
	for n in 1 2 3; do
		if [ "$(grastate_field "$n" safe_to_bootstrap)" = 1 ]; then
			echo "$n"
			return
		fi
	done
	if [ -f "$dir/galera-last" ]; then
		read -r n <"$dir/galera-last" || true
		case $n in
		[123])
			seq=$(grastate_field "$n" seqno)
			if [ -n "$seq" ] && [ "$seq" != -1 ]; then
				echo "$n"
				return
			fi
			;;
		esac
	fi
	for n in 1 2 3; do
		[ -f "$(grastate "$n")" ] || continue
		seq=$(grastate_field "$n" seqno)
		if [ "$seq" = -1 ] || [ -z "$seq" ]; then
			seq=$(galera_recover "$n")
			seq=${seq##*:}
		fi
		case $seq in
		''|*[!0-9-]*) continue ;;
		esac
		if [ "$seq" -gt "$best_seq" ]; then
			best=$n
			best_seq=$seq
		fi
	done
	[ -n "$best" ] ||
	    die "no Galera node of $dir knows its position (see $log_dir)"
	echo "$best"
}

# The SST by rsync starts an rsync daemon on the joiner to receive the
# datadir; started by root, that daemon works as nobody (the default of
# rsyncd.conf's uid, which wsrep_sst_rsync writes itself), who may not
# write root's datadir, and the SST fails ("mkdir ... Permission denied").
# So under root the Galera nodes run as mysql, Debian's user for MariaDB,
# and own galeraN/ and their logs; under any other user, as that user.
galera_user() {
	[ "$(id -u)" -eq 0 ] && echo mysql
	return 0
}

# Makes galeraN/ and the logs of node N its user's, and checks that the
# user reaches them (every folder above DIR must let it through).
galera_own() {
	local n=$1 u d f
	u=$(galera_user)
	[ -n "$u" ] || return 0
	id -u "$u" >/dev/null 2>&1 ||
	    die "no user $u to run the Galera nodes (mariadb-server's package" \
	        "makes it)"
	d=$(galera_dir "$n")
	for f in "$log_dir/galera$n.log" "$log_dir/galera$n-recover.log"; do
		[ -e "$f" ] || : >"$f"
	done
	chown -R "$u:" "$d" "$log_dir/galera$n.log" \
	    "$log_dir/galera$n-recover.log"
	if command -v runuser >/dev/null 2>&1 &&
	    ! runuser -u "$u" -- test -w "$d/data" -a -w "$log_dir/galera$n.log"
	then
		die "the user $u cannot reach $d: use a --dir it can (e.g." \
		    "under /tmp)"
	fi
}

# Starts Galera node N: "bootstrap" makes a new cluster of it (after
# mariadb-install-db on a fresh datadir), "join" joins the running ones,
# by IST when their gcache still holds what it missed, else by SST.  A
# node that was killed starts from the position InnoDB recovered, or it
# would ask for a whole SST, during which its donor takes no writes.
start_galera() {
	local n=$1 how=$2 d log secs=180 pos
	d=$(galera_dir "$n")
	log=$log_dir/galera$n.log
	mkdir -p "$d/data" "$d/run"
	chmod 0700 "$d/run"
	write_galera_cnf "$n"
	galera_own "$n"
	local -a args=(--defaults-file="$(galera_cnf "$n")")
	if [ "$how" = bootstrap ]; then
		if [ ! -d "$d/data/mysql" ]; then
			mariadb-install-db --defaults-file="$(galera_cnf "$n")" \
			    --auth-root-authentication-method=socket \
			    --skip-test-db >"$log_dir/galera$n-install.log" 2>&1 ||
			    die "mariadb-install-db failed (see" \
			        "$log_dir/galera$n-install.log)"
		fi
		# The one to bootstrap from may say 0 (see choose_bootstrap).
		[ ! -f "$(grastate "$n")" ] ||
		    sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' \
		        "$(grastate "$n")"
		args+=(--wsrep-new-cluster)
		secs=60
	elif [ "$(grastate_field "$n" seqno)" = -1 ]; then
		pos=$(galera_recover "$n")
		[ -z "$pos" ] || args+=(--wsrep-start-position="$pos")
	fi
	mariadbd "${args[@]}" >>"$log" 2>&1 &
	record_pid "galera$n" $!
	wait_until "galera$n" "$secs" "wsrep_local_state_comment Synced" \
	    "$log" galera_synced "$n"
}

start_cluster_db() {
	local first n
	first=$(choose_bootstrap)
	# Only the next stop says which stopped last.
	rm -f "$dir/galera-last"
	echo "$prog: Galera node $first bootstraps the cluster"
	start_galera "$first" bootstrap
	for n in 1 2 3; do
		[ "$n" = "$first" ] && continue
		echo "$prog: Galera node $n joins"
		start_galera "$n" join
	done
	for n in 1 2 3; do
		wait_until "galera$n" 30 "wsrep_cluster_size 3" \
		    "$log_dir/galera$n.log" galera_size3 "$n"
	done
}

# --- Redis -------------------------------------------------------------------

redis_ping() {
	[ "$(REDISCLI_AUTH=$(cat "$redis_pwfile") \
	    redis-cli -h 127.0.0.1 -p "$(redis_port)" ping)" = PONG ]
}

# Any local user can reach a port on loopback, and what it publishes on a
# node's channel would reach that node's clients: Redis asks for a
# password, kept in files of mode 0600 (redis-password, redis.conf, the
# chat nodes' chat.conf).  It is on stack.sh's command line for the second
# that writes chat.conf: good enough on a test machine, which is all this
# script is for (INSTALL.md, "Several hosts", for a real one).
redis_password() {
	if [ ! -s "$redis_pwfile" ]; then
		(umask 077 &&
		    od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$redis_pwfile")
	fi
	chmod 0600 "$redis_pwfile"
}

start_redis() {
	mkdir -p "$redis_dir"
	redis_password
	(umask 077 && {
		echo "# Written by scripts/cluster.sh at every start."
		echo "bind 127.0.0.1"
		echo "port $(redis_port)"
		echo "requirepass $(cat "$redis_pwfile")"
		echo "save \"\""
		echo "appendonly no"
		echo "daemonize no"
		echo "dir $redis_dir"
		echo "logfile $log_dir/redis.log"
	} >"$redis_dir/redis.conf")
	redis-server "$redis_dir/redis.conf" \
	    >>"$log_dir/redis.log" 2>&1 &
	record_pid redis $!
	wait_until redis 30 "PONG" "$log_dir/redis.log" redis_ping
}

# --- chat nodes --------------------------------------------------------------

db_password() {
	if [ ! -s "$pwfile" ]; then
		(umask 077 &&
		    od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$pwfile")
	fi
	chmod 0600 "$pwfile"
}

# Starts chat node N through stack.sh on the first of its Galera nodes that
# answers (so that a node can start while its own Galera node is down), the
# others its db_fallback in their order.
start_chat() {
	local n=$1 d m sock first='' rest='' log
	d=$(chat_dir "$n")
	log=$log_dir/chat$n.log
	for m in $(chat_galeras "$n") $(chat_galeras "$n"); do
		sock=$(galera_sock "$m")
		if [ -z "$first" ]; then
			mariadb --defaults-file="$(galera_cnf "$m")" \
			    -e 'SELECT 1' >/dev/null 2>&1 && first=$m
			continue
		fi
		[ "$m" = "$first" ] && break
		rest=$rest${rest:+ }$sock
	done
	[ -n "$first" ] || die "chat node $n: no Galera node answers"
	[ "$first" = "$(chat_galeras "$n" | cut -d' ' -f1)" ] ||
	    echo "$prog: chat node $n: its Galera node is down; uses $first"
	mkdir -p "$d"
	db_password
	(umask 077 && cp "$pwfile" "$d/db-password")
	local -a args=(start --dir "$d" --build "$build"
	    --http-port "$(http_port "$n")" --tcp-port "$(tcp_port "$n")"
	    --db-socket "$(galera_sock "$first")"
	    --set "node_name=node$n"
	    --set "db_fallback=$rest"
	    --set "redis_host=127.0.0.1" --set "redis_port=$(redis_port)")
	# stack.sh writes it into chat.conf (0600) before anything reads it.
	redis_password
	args+=(--set "redis_password=$(cat "$redis_pwfile")")
	[ "$test_cost" -eq 1 ] && args+=(--test-cost)
	local s from
	for s in ${sets[@]+"${sets[@]}"}; do
		args+=(--set "$s")
	done
	from=$(($(stat -c %s "$log" 2>/dev/null || echo 0) + 1))
	if ! "$top/scripts/stack.sh" "${args[@]}" >>"$log" 2>&1; then
		# What stack.sh said this time, but the tail of migrate.log.
		tail -c "+$from" "$log" | awk '
		    /^--- tail of .*\/migrate\.log$/ { skip = 1; next }
		    /^--- tail of / { skip = 0 }
		    !skip' >&2
		die "chat node $n did not start (see $log and $d/log)"
	fi
}

# The last value chat node N's chat.conf gives NAME.
chat_conf_value() {
	local f
	f=$(chat_dir "$1")/chat.conf
	[ -f "$f" ] || return 0
	sed -n "s/^$2 = //p" "$f" | tail -n 1
}

# --- what runs where ---------------------------------------------------------

write_json() {
	local n sep s fb
	{
		echo "{"
		echo "  \"dir\": \"$dir\","
		echo "  \"base_port\": $base,"
		echo "  \"db_password_file\": \"$pwfile\","
		echo "  \"galera\": ["
		for n in 1 2 3; do
			sep=,
			[ "$n" = 3 ] && sep=
			echo "    {\"name\": \"galera$n\", \"host\": \"127.0.0.1\"," \
			    "\"port\": $(galera_port "$n" 0)," \
			    "\"socket\": \"$(galera_sock "$n")\","
			echo "     \"gcomm_port\": $(galera_port "$n" 1)," \
			    "\"ist_port\": $(galera_port "$n" 2)," \
			    "\"sst_port\": $(galera_port "$n" 3),"
			echo "     \"my_cnf\": \"$(galera_cnf "$n")\"," \
			    "\"datadir\": \"$(galera_dir "$n")/data\","
			echo "     \"log\": \"$log_dir/galera$n.log\"," \
			    "\"pid_file\": \"$pid_dir/galera$n.pid\"}$sep"
		done
		echo "  ],"
		echo "  \"redis\": {\"host\": \"127.0.0.1\", \"port\": $(redis_port),"
		echo "    \"password_file\": \"$redis_pwfile\","
		echo "    \"log\": \"$log_dir/redis.log\"," \
		    "\"pid_file\": \"$pid_dir/redis.pid\"},"
		echo "  \"nodes\": ["
		for n in 1 2; do
			sep=,
			[ "$n" = 2 ] && sep=
			s=$(chat_dir "$n")
			fb=
			for m in $(chat_conf_value "$n" db_fallback); do
				fb=$fb${fb:+, }\"$m\"
			done
			echo "    {\"name\": \"node$n\", \"http_port\": $(http_port "$n")," \
			    "\"tcp_port\": $(tcp_port "$n"),"
			echo "     \"ws_url\": \"ws://127.0.0.1:$(http_port "$n")/ws\","
			echo "     \"web_url\": \"http://127.0.0.1:$(http_port "$n")/\","
			echo "     \"health_url\":" \
			    "\"http://127.0.0.1:$(http_port "$n")/api/health\","
			echo "     \"dir\": \"$s\", \"chat_conf\": \"$s/chat.conf\","
			echo "     \"admin_socket\": \"$s/run/admin.sock\","
			echo "     \"log_dir\": \"$s/log\", \"pids_dir\": \"$s/pids\","
			echo "     \"pid_files\": {\"fcgi_app\": \"$s/pids/2-fcgi_app.pid\","
			echo "       \"push_daemon\": \"$s/pids/3-push_daemon.pid\","
			echo "       \"nginx\": \"$s/pids/4-nginx.pid\"},"
			echo "     \"db_socket\": \"$(chat_conf_value "$n" db_socket)\","
			echo "     \"db_fallback\": [$fb]}$sep"
		done
		echo "  ]"
		echo "}"
	} >"$dir/cluster.json.tmp"
	mv "$dir/cluster.json.tmp" "$dir/cluster.json"
}

where() {
	local n
	for n in 1 2; do
		echo "chat node $n (node$n): WebSocket" \
		    "ws://127.0.0.1:$(http_port "$n")/ws," \
		    "TCP 127.0.0.1:$(tcp_port "$n")," \
		    "web http://127.0.0.1:$(http_port "$n")/"
	done
	for n in 1 2 3; do
		echo "Galera node $n: 127.0.0.1:$(galera_port "$n" 0)," \
		    "socket $(galera_sock "$n")"
	done
	echo "Redis: 127.0.0.1:$(redis_port)"
	echo "Every port, socket and pid file: $dir/cluster.json"
}

# --- start and stop ----------------------------------------------------------

# Chat nodes first, then Redis, then the Galera nodes one at a time, so
# that the last one knows it was the last (safe_to_bootstrap: 1 in its
# grastate.dat), and galera-last names it too.
stop_all() {
	local n last=
	for n in 2 1; do
		if [ -d "$(chat_dir "$n")/pids" ]; then
			"$top/scripts/stack.sh" stop --dir "$(chat_dir "$n")" ||
			    echo "$prog: stack.sh stop of chat node $n failed" >&2
		fi
	done
	stop_recorded redis 10
	for n in 3 2 1; do
		recorded_alive "galera$n" && last=$n
		stop_recorded "galera$n" 60
	done
	[ -z "$last" ] || echo "$last" >"$dir/galera-last"
}

# On a failed start, the errors of the Galera logs, then stop what started.
start_failed() {
	local f errors
	for f in "$log_dir"/galera?.log; do
		[ -s "$f" ] || continue
		errors=$(grep -E '\[ERROR\]' "$f" | tail -n 10) || continue
		echo "--- errors in $f" >&2
		echo "$errors" >&2
	done
	stop_all
}

start() {
	local b t0=$SECONDS
	for b in fcgi_app push_daemon; do
		[ -x "$build/$b" ] || die "$build/$b is missing: run make first"
	done
	for b in mariadbd mariadb-install-db redis-server redis-cli rsync; do
		command -v "$b" >/dev/null ||
		    die "$b is missing: make deps installs it"
	done
	[ -f /usr/lib/galera/libgalera_smm.so ] ||
	    die "/usr/lib/galera/libgalera_smm.so is missing: make deps" \
	        "installs galera-4"
	check_paths
	if any_running; then
		die "a cluster already runs in $dir: cluster.sh stop --dir $dir"
	fi
	check_ports
	rm -rf "$pid_dir"
	mkdir -p "$log_dir" "$pid_dir"
	save_options
	db_password

	trap 'start_failed' EXIT
	trap 'exit 130' INT TERM HUP
	start_cluster_db
	start_redis
	start_chat 1
	start_chat 2
	write_json
	trap - EXIT
	echo "$prog: started in $((SECONDS - t0)) s"
}

# --- the kill- and start- commands -------------------------------------------

kill_galera() {
	local tree
	tree=$(recorded_tree "$pid_dir/galera$1.pid")
	if [ -z "$tree" ]; then
		echo "$prog: Galera node $1 does not run"
		return 0
	fi
	proc_kill_all "$tree"
	echo "$prog: Galera node $1 killed"
	galera_settle
}

# Waits until each Galera node still running counts only the running ones
# (wsrep_cluster_size; the others evict a killed node after a few seconds
# of silence, evs.suspect_timeout), so that what comes next meets the
# cluster as it now is.  Two nodes killed leave the third alone and
# non-Primary: it takes no queries until one rejoins.
galera_settle() {
	local n up=() want i ok
	for n in 1 2 3; do
		recorded_alive "galera$n" && up+=("$n")
	done
	want=${#up[@]}
	[ "$want" -gt 0 ] || return 0
	for ((i = 0; i < 300; i++)); do
		ok=1
		for n in "${up[@]}"; do
			[ "$(galera_status "$n" wsrep_cluster_size)" = "$want" ] ||
			    ok=0
		done
		if [ "$ok" -eq 1 ]; then
			echo "$prog: Galera nodes ${up[*]} count $want;" \
			    "wsrep_cluster_status" \
			    "$(galera_status "${up[0]}" wsrep_cluster_status)"
			return 0
		fi
		sleep 0.1
	done
	echo "$prog: Galera nodes ${up[*]} do not count $want after 30s" >&2
}

rejoin_galera() {
	local n=$1 m ok=0
	if recorded_alive "galera$n"; then
		echo "$prog: Galera node $n already runs"
		return 0
	fi
	for m in 1 2 3; do
		[ "$m" != "$n" ] && recorded_alive "galera$m" &&
		    galera_synced "$m" && ok=1
	done
	[ "$ok" -eq 1 ] ||
	    die "no other Galera node is Synced, so node $n has nobody to" \
	        "join: cluster.sh stop --dir $dir, then start"
	check_galera_ports "$n"
	start_galera "$n" join
	echo "$prog: Galera node $n is Synced;" \
	    "wsrep_cluster_size $(galera_status "$n" wsrep_cluster_size)"
}

kill_redis() {
	local tree
	tree=$(recorded_tree "$pid_dir/redis.pid")
	if [ -z "$tree" ]; then
		echo "$prog: Redis does not run"
		return 0
	fi
	proc_kill_all "$tree"
	echo "$prog: Redis killed"
}

restart_redis() {
	if recorded_alive redis; then
		echo "$prog: Redis already runs"
		return 0
	fi
	check_port Redis "$(redis_port)"
	start_redis
	echo "$prog: Redis answers on 127.0.0.1:$(redis_port)"
}

# Every process of chat node N and every descendant of each, all recorded
# before the first SIGKILL: the workers of a killed master are children of
# nobody we know afterwards.
kill_chat() {
	local f tree=
	for f in "$(chat_dir "$1")"/pids/*.pid; do
		[ -f "$f" ] || continue
		tree=$tree$(recorded_tree "$f")$'\n'
	done
	if [ -z "${tree//$'\n'/}" ]; then
		echo "$prog: chat node $1 does not run"
		return 0
	fi
	proc_kill_all "$tree"
	echo "$prog: chat node $1 killed ($(echo "$tree" | grep -c .)" \
	    "processes)"
}

restart_chat() {
	if chat_all_alive "$1"; then
		echo "$prog: chat node $1 already runs"
		return 0
	fi
	chat_alive "$1" &&
	    die "chat node $1 runs only in part: cluster.sh kill-node $1" \
	        "--dir $dir first"
	start_chat "$1"
	write_json
	echo "$prog: chat node $1 answers on" \
	    "http://127.0.0.1:$(http_port "$1")/api/health"
}

# --- run's watch ---------------------------------------------------------------

# What runs, one word per part, for run to report changes.
parts_state() {
	local n s=
	for n in 1 2 3; do
		recorded_alive "galera$n" && s="$s galera$n:up" || s="$s galera$n:down"
	done
	recorded_alive redis && s="$s redis:up" || s="$s redis:down"
	for n in 1 2; do
		chat_all_alive "$n" && s="$s node$n:up" || s="$s node$n:down"
	done
	echo "$s"
}

# A part that goes down is reported, not a reason to stop the rest: a
# cluster is meant to outlive one node (and the kill- commands do that on
# purpose).  run ends when nothing runs any more.
watch_parts() {
	local now before p
	before=$(parts_state)
	while :; do
		sleep 1 &
		wait $! || true
		now=$(parts_state)
		[ "$now" = "$before" ] && continue
		for p in $now; do
			case " $before " in
			*" $p "*) continue ;;
			esac
			echo "$prog: ${p%:*} is ${p#*:}"
		done
		before=$now
		case $now in
		*:up*) ;;
		*)
			echo "$prog: nothing runs any more" >&2
			exit 1
			;;
		esac
	done
}

case $cmd in
start)
	start
	where
	;;
run)
	start
	trap 'echo; echo "$prog: stopping"; stop_all; exit 0' INT TERM HUP
	where
	echo "Logs in $log_dir and in each chat node's log/; Ctrl-C stops" \
	    "everything."
	watch_parts
	;;
stop)
	stop_all
	;;
kill-galera) kill_galera "$num" ;;
start-galera) load_options; rejoin_galera "$num" ;;
kill-redis) kill_redis ;;
start-redis) load_options; restart_redis ;;
kill-node) kill_chat "$num" ;;
start-node) load_options; restart_chat "$num" ;;
esac
