#!/bin/bash
# Starts and stops the whole private stack: MariaDB, the FastCGI workers, the
# push daemon and nginx, every file of it under one directory.
#
#   stack.sh start --http-port P --tcp-port Q [--dir DIR] [--build B]
#                  [--workers N] [--test-cost] [--db-socket SOCK]
#                  [--set name=value]...
#   stack.sh run   (same options) [--log-max KIB] [--log-check SECS]
#                                   start, print where it listens, wait;
#                                   Ctrl-C or SIGTERM stops it all.  Each
#                                   log past KIB (10240) is moved to
#                                   NAME.log.1, checked every SECS (10)
#   stack.sh stop  [--dir DIR]      stop what start recorded in DIR/pids
#   stack.sh restart-daemon [--dir DIR] [--signal SIG] [--build B]
#                                   stop the push daemon (SIGTERM, or SIG:
#                                   KILL for a crash) and start the same
#                                   program again on DIR's chat.conf and log
#
# DIR defaults to var/ in the checkout and is kept between runs, so the
# database persists.  B is the build directory holding fcgi_app and
# push_daemon (build, or build/san for the ASan/UBSan build).  --test-cost
# makes password hashing cheap for tests (the login and registration limits
# keep their defaults); --set adds a line to chat.conf, overriding what the
# script wrote (e.g. --set login_timeout=5).  --db-socket starts no MariaDB:
# the server already listening on the Unix socket SOCK (a Galera node of
# scripts/cluster.sh) gets the database, its user and the migrations, made
# through SOCK as this user (root, by unix_socket authentication), and
# chat.conf's db_socket names SOCK.  An existing DIR/db-password is kept,
# so that several stacks can share one database with one password.
#
# Layout of DIR:
#   my.cnf chat.conf db-password   generated (the latter two mode 0600)
#   mysql/                         the MariaDB datadir (none with --db-socket)
#   run/                           Unix sockets and MariaDB's pid file
#   nginx/                         nginx's prefix: nginx.conf, pid, temp
#   log/                           one log per program
#   pids/                          "PID STARTTIME" of each process started
#
# Processes are started in the foreground of their own (with &), recorded by
# PID and start time, and stopped by that PID only: never a process group,
# never a process this script did not start (or one of its children).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
prog=stack.sh

die() {
	echo "$prog: $*" >&2
	exit 1
}

usage() {
	sed -n '4,18p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# --- options ---------------------------------------------------------------

cmd=${1:-}
[ $# -gt 0 ] && shift
dir=$top/var
http_port=
tcp_port=
build=build
workers=4
test_cost=0
signal=TERM
sets=()
ext_db_sock=
log_max=10240
log_check=10

while [ $# -gt 0 ]; do
	case $1 in
	--dir) dir=${2:?}; shift 2 ;;
	--http-port) http_port=${2:?}; shift 2 ;;
	--tcp-port) tcp_port=${2:?}; shift 2 ;;
	--build) build=${2:?}; shift 2 ;;
	--workers) workers=${2:?}; shift 2 ;;
	--test-cost) test_cost=1; shift ;;
	--set) sets+=("${2:?}"); shift 2 ;;
	--db-socket) ext_db_sock=${2:?}; shift 2 ;;
	--signal) signal=${2:?}; shift 2 ;;
	--log-max) log_max=${2?}; shift 2 ;;
	--log-check) log_check=${2?}; shift 2 ;;
	*) usage ;;
	esac
done

case $cmd in
start|run|stop|restart-daemon) ;;
*) usage ;;
esac
case "$log_max:$log_check" in
:*|*:|*[!0-9:]*) die "--log-max and --log-check take whole numbers" ;;
esac
[ "$log_max" -gt 0 ] && [ "$log_check" -gt 0 ] ||
    die "--log-max and --log-check must be over 0"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
case $build in
/*) ;;
*) build=$top/$build ;;
esac

# Paths are written into nginx.conf and my.cnf unquoted.
case $dir$top in
*[!A-Za-z0-9_./+-]*)
	die "paths must hold only letters, digits and _./+-: $dir" ;;
esac
case $ext_db_sock in
''|/*) ;;
*) die "--db-socket wants an absolute path: $ext_db_sock" ;;
esac
case $ext_db_sock in
*[!A-Za-z0-9_./+-]*)
	die "--db-socket: the path must hold only letters, digits and _./+-" ;;
esac

run_dir=$dir/run
log_dir=$dir/log
pid_dir=$dir/pids
nginx_dir=$dir/nginx
db_dir=$dir/mysql
mycnf=$dir/my.cnf
conf=$dir/chat.conf
pwfile=$dir/db-password
db_sock=${ext_db_sock:-$run_dir/mysqld.sock}
fcgi_sock=$run_dir/fcgi.sock
login_sock=$run_dir/login.sock
api_sock=$run_dir/api.sock
ws_sock=$run_dir/ws.sock
tcp_sock=$run_dir/tcp.sock

# --- processes -------------------------------------------------------------

# Prints field N (as numbered in proc(5)) of /proc/PID/stat, or nothing.
proc_field() {
	local n=$2 stat
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 0
	# Drop "pid (comm) ": comm may hold spaces and parentheses.
	stat=${stat##*) }
	local -a f=($stat)
	echo "${f[n - 3]}"
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

# Records a process started by this script: pids/NAME.pid.
record_pid() {
	mkdir -p "$pid_dir"
	echo "$2 $(proc_field "$2" 22)" >"$pid_dir/$1.pid"
}

# Stops every recorded process, last started first, and whatever children
# it leaves behind (the workers of a killed master).
stop_all() {
	local f pid start secs kids kid kstart
	[ -d "$pid_dir" ] || return 0
	for f in $(ls -r "$pid_dir"/*.pid 2>/dev/null); do
		read -r pid start <"$f" || true
		if [ -n "$pid" ] && proc_alive "$pid" "$start"; then
			case $f in
			*mariadb*) secs=60 ;;
			*) secs=10 ;;
			esac
			kids=$(proc_children "$pid")
			proc_stop "$pid" "$start" "$secs"
			while read -r kid kstart; do
				[ -n "$kid" ] && proc_stop "$kid" "$kstart" 5
			done <<<"$kids"
		fi
		rm -f "$f"
	done
}

# True when some recorded process still runs.
any_running() {
	local f pid start
	for f in "$pid_dir"/*.pid; do
		[ -f "$f" ] || continue
		read -r pid start <"$f" || true
		[ -n "$pid" ] && proc_alive "$pid" "$start" && return 0
	done
	return 1
}

# Waits up to SECS for COMMAND to succeed while pids/NAME.pid runs.
wait_until() {
	local name=$1 secs=$2 what=$3 pid start i
	shift 3
	read -r pid start <"$pid_dir/$name.pid"
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		proc_alive "$pid" "$start" ||
		    die "$name exited before $what (see $log_dir/$name.log)"
		sleep 0.1
	done
	die "$name: no $what after ${secs}s (see $log_dir/$name.log)"
}

# --- configuration ---------------------------------------------------------

check_socket_paths() {
	local s
	for s in "$db_sock" "$fcgi_sock" "$login_sock" "$api_sock" "$ws_sock" \
	    "$tcp_sock"; do
		[ "${#s}" -le 107 ] ||
		    die "socket path longer than 107 bytes: $s (use a shorter --dir)"
	done
}

check_port() {
	case $2 in
	''|*[!0-9]*) die "$1: a port number is required" ;;
	esac
	[ "$2" -ge 1 ] && [ "$2" -le 65535 ] || die "$1: bad port $2"
	if command -v ss >/dev/null 2>&1 &&
	    [ -n "$(ss -Htln "sport = :$2" 2>/dev/null)" ]; then
		die "port $2 is in use"
	fi
}

write_mycnf() {
	if [ -n "$ext_db_sock" ]; then
		write_client_mycnf
		return
	fi
	{
		echo "# Written by scripts/stack.sh at every start."
		echo "[client]"
		echo "socket = $db_sock"
		echo "default-character-set = utf8mb4"
		echo
		echo "[mysqld]"
		echo "datadir = $db_dir"
		echo "socket = $db_sock"
		echo "pid-file = $run_dir/mariadb.pid"
		echo "log-error = $log_dir/mariadb.log"
		[ "$(id -u)" -eq 0 ] && echo "user = root"
		echo "skip-networking"
		echo "character-set-server = utf8mb4"
		echo "collation-server = utf8mb4_unicode_ci"
		echo "innodb_flush_log_at_trx_commit = 1"
		echo "innodb_buffer_pool_size = 64M"
	} >"$mycnf"
}

# --db-socket: the client's half alone, for setup_database and migrate.sh.
write_client_mycnf() {
	{
		echo "# Written by scripts/stack.sh at every start (--db-socket)."
		echo "[client]"
		echo "socket = $db_sock"
		echo "default-character-set = utf8mb4"
	} >"$mycnf"
}

db_password() {
	if [ ! -s "$pwfile" ]; then
		(umask 077 &&
		    od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$pwfile")
	fi
	chmod 0600 "$pwfile"
	cat "$pwfile"
}

write_chat_conf() {
	local s
	(umask 077 && : >"$conf")
	{
		echo "# Written by scripts/stack.sh at every start;"
		echo "# common/config.c lists every setting."
		echo "fcgi_socket = $fcgi_sock"
		echo "login_socket = $login_sock"
		echo "api_socket = $api_sock"
		echo "ws_socket = $ws_sock"
		echo "tcp_socket = $tcp_sock"
		echo "node_name = node1"
		echo "db_socket = $db_sock"
		echo "db_user = chat"
		echo "db_password = $1"
		echo "db_name = chat"
		echo "workers = $workers"
		if [ "$test_cost" -eq 1 ]; then
			echo "# --test-cost: cheap password hashing"
			echo "pwhash_opslimit = 1"
			echo "pwhash_memlimit_kib = 8192"
		fi
		for s in ${sets[@]+"${sets[@]}"}; do
			case $s in
			[a-z]*=*) echo "${s%%=*} = ${s#*=}" ;;
			*) die "--set wants name=value: $s" ;;
			esac
		done
	} >>"$conf"
}

render_nginx_conf() {
	local user_line=
	[ "$(id -u)" -eq 0 ] && user_line="user root root;"
	mkdir -p "$nginx_dir/tmp"
	sed -e "s|@USER_LINE@|$user_line|" \
	    -e "s|@NGINX_DIR@|$nginx_dir|g" \
	    -e "s|@LOG_DIR@|$log_dir|g" \
	    -e "s|@HTTP_PORT@|$http_port|g" \
	    -e "s|@TCP_PORT@|$tcp_port|g" \
	    -e "s|@WS_SOCK@|$ws_sock|g" \
	    -e "s|@TCP_SOCK@|$tcp_sock|g" \
	    -e "s|@API_SOCK@|$api_sock|g" \
	    -e "s|@WEB_ROOT@|$top/web|g" \
	    "$top/nginx/chat-dev.conf.in" >"$nginx_dir/nginx.conf"
	! grep -n '^[^#]*@[A-Z_]*@' "$nginx_dir/nginx.conf" >&2 ||
	    die "nginx.conf: placeholder left unrendered"
}

# --- start -----------------------------------------------------------------

db_ready() {
	mariadb --defaults-file="$mycnf" -e 'SELECT 1'
}

health_ok() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
	    "http://127.0.0.1:$http_port/api/health")" = 200 ]
}

start_mariadb() {
	write_mycnf
	if [ ! -d "$db_dir/mysql" ]; then
		mkdir -p "$db_dir"
		mariadb-install-db --defaults-file="$mycnf" \
		    --auth-root-authentication-method=socket --skip-test-db \
		    >"$log_dir/mariadb-install.log" 2>&1 ||
		    die "mariadb-install-db failed (see $log_dir/mariadb-install.log)"
	fi
	mariadbd --defaults-file="$mycnf" >>"$log_dir/mariadb.log" 2>&1 &
	record_pid 1-mariadb $!
	wait_until 1-mariadb 60 "answer to SELECT 1" db_ready
}

# --db-socket: the server is somebody else's; it must answer now.
use_external_db() {
	local out
	write_mycnf
	[ -S "$db_sock" ] || die "--db-socket: no socket $db_sock"
	out=$(db_ready 2>&1) ||
	    die "--db-socket: no answer to SELECT 1 on $db_sock as" \
	        "$(id -un): $out"
}

setup_database() {
	local pw=$1
	mariadb --defaults-file="$mycnf" <<-EOF
	CREATE DATABASE IF NOT EXISTS chat
	    CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
	CREATE USER IF NOT EXISTS 'chat'@'localhost' IDENTIFIED BY '$pw';
	ALTER USER 'chat'@'localhost' IDENTIFIED BY '$pw';
	GRANT SELECT, INSERT, UPDATE, DELETE ON chat.* TO 'chat'@'localhost';
	EOF
	[ -x "$top/scripts/migrate.sh" ] ||
	    die "scripts/migrate.sh is missing or not executable"
	"$top/scripts/migrate.sh" --defaults-file "$mycnf" --database chat \
	    >>"$log_dir/migrate.log" 2>&1 ||
	    die "migrations failed (see $log_dir/migrate.log)"
}

start_programs() {
	"$build/fcgi_app" -f "$conf" >>"$log_dir/2-fcgi_app.log" 2>&1 &
	record_pid 2-fcgi_app $!
	wait_until 2-fcgi_app 30 "sockets $fcgi_sock" \
	    test -S "$fcgi_sock" -a -S "$login_sock" -a -S "$api_sock"

	"$build/push_daemon" -f "$conf" >>"$log_dir/3-push_daemon.log" 2>&1 &
	record_pid 3-push_daemon $!
	wait_until 3-push_daemon 30 "sockets" \
	    test -S "$ws_sock" -a -S "$tcp_sock"

	render_nginx_conf
	nginx -t -q -p "$nginx_dir/" -c "$nginx_dir/nginx.conf" -e stderr \
	    >>"$log_dir/4-nginx.log" 2>&1 ||
	    die "nginx.conf does not check (see $log_dir/4-nginx.log)"
	nginx -p "$nginx_dir/" -c "$nginx_dir/nginx.conf" -e stderr \
	    >>"$log_dir/4-nginx.log" 2>&1 &
	record_pid 4-nginx $!
	wait_until 4-nginx 30 "200 from /api/health" health_ok
}

# On a failed start, print the tails of the logs and stop what did start.
start_failed() {
	local f
	for f in "$log_dir"/*.log; do
		case $f in
		*/mariadb-install.log) continue ;;
		esac
		[ -s "$f" ] || continue
		echo "--- tail of $f" >&2
		case $f in
		*/mariadb.log)	# only what went wrong
			grep -E '\[ERROR\]' "$f" | tail -n 10 >&2 || true ;;
		*) tail -n 20 "$f" >&2 ;;
		esac
	done
	stop_all
}

start() {
	local b pw
	[ -n "$http_port" ] && [ -n "$tcp_port" ] ||
	    die "--http-port and --tcp-port are required"
	[ "$http_port" != "$tcp_port" ] || die "the two ports must differ"
	case $workers in
	''|*[!0-9]*) die "--workers wants a number" ;;
	esac
	check_port --http-port "$http_port"
	check_port --tcp-port "$tcp_port"
	for b in fcgi_app push_daemon; do
		[ -x "$build/$b" ] || die "$build/$b is missing: run make first"
	done
	check_socket_paths
	if any_running; then
		die "a stack already runs in $dir: stack.sh stop --dir $dir"
	fi
	rm -rf "$pid_dir"
	mkdir -p "$run_dir" "$log_dir" "$pid_dir"
	# Ours alone: nothing in it is for other local users (nginx runs
	# as this user here).
	chmod 0700 "$run_dir"
	# Leftovers of a stack that did not stop cleanly.
	rm -f "$fcgi_sock" "$login_sock" "$api_sock" "$ws_sock" "$tcp_sock"

	# Sanitizer builds: stop at the first report, which lands in the
	# program's log (tests/run.sh fails a run whose logs hold one).
	export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

	trap 'start_failed' EXIT
	trap 'exit 130' INT TERM HUP
	if [ -n "$ext_db_sock" ]; then
		use_external_db
	else
		start_mariadb
	fi
	pw=$(db_password)
	setup_database "$pw"
	write_chat_conf "$pw"
	start_programs
	trap - EXIT
}

# --- run's logs -------------------------------------------------------------

# make run may be left running for weeks: a log past log_max KiB is copied
# to NAME.log.1 (replacing the one before) and emptied in place, so each
# log holds at most about twice log_max.  Every program here writes its log
# with O_APPEND (the >> of start_programs, nginx's and MariaDB's own
# opens), so its next line lands at the new end; the lines written between
# the copy and the truncation are lost, as with logrotate's copytruncate.
log_cap() {
	local f size
	while sleep "$log_check"; do
		for f in "$log_dir"/*.log; do
			[ -f "$f" ] || continue
			size=$(stat -c %s -- "$f") || continue
			if [ "$size" -gt $((log_max * 1024)) ]; then
				cp -- "$f" "$f.1" && : >"$f"
			fi
		done
	done
}

# --- restart-daemon --------------------------------------------------------

# The push daemon alone goes down (a crash with --signal KILL) and comes
# back as start_programs started it: the same program (the one running, or
# B's), chat.conf, sockets and log.  nginx reconnects to the new sockets by
# itself; the clients of the old daemon have lost their connections.
restart_daemon() {
	local f=$pid_dir/3-push_daemon.pid pid= start= exe=$build/push_daemon i
	[ -f "$conf" ] || die "no $conf: start the stack first"
	[ -f "$f" ] && read -r pid start <"$f"
	if [ -n "$pid" ] && proc_alive "$pid" "$start"; then
		exe=$(readlink "/proc/$pid/exe")
		exe=${exe% (deleted)}
		if [ "$signal" = TERM ]; then
			proc_stop "$pid" "$start" 10
		else
			kill -s "$signal" "$pid" || die "kill -s $signal $pid failed"
			for ((i = 0; i < 100; i++)); do
				proc_alive "$pid" "$start" || break
				sleep 0.1
			done
			! proc_alive "$pid" "$start" ||
			    die "push_daemon $pid still runs after SIG$signal"
		fi
	fi
	[ -x "$exe" ] || die "$exe is missing"
	export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
	rm -f "$ws_sock" "$tcp_sock"
	"$exe" -f "$conf" >>"$log_dir/3-push_daemon.log" 2>&1 &
	record_pid 3-push_daemon $!
	wait_until 3-push_daemon 30 "sockets" \
	    test -S "$ws_sock" -a -S "$tcp_sock"
}

where() {
	echo "WebSocket ws://127.0.0.1:$http_port/ws, TCP 127.0.0.1:$tcp_port," \
	    "web http://127.0.0.1:$http_port/"
}

case $cmd in
start)
	start
	where
	;;
run)
	start
	trap 'echo; echo "$prog: stopping"; stop_all; exit 0' INT TERM HUP
	# Recorded last, so stop_all stops it first.
	log_cap &
	record_pid 9-log_cap $!
	where
	echo "Logs in $log_dir (each kept under ${log_max} KiB, the rest" \
	    "in NAME.log.1); Ctrl-C stops everything."
	# Returns when a signal arrives or one of the programs exits.
	wait -n || true
	echo "$prog: a program exited; stopping (see $log_dir)" >&2
	stop_all
	exit 1
	;;
stop)
	stop_all
	;;
restart-daemon)
	restart_daemon
	;;
esac
