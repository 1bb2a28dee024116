#!/bin/bash
# Checks the files a production host installs, with the tools that will read
# them there: nginx -t on nginx/chat-site.conf and nginx/chat-stream.conf
# inside a minimal nginx.conf like Debian's, and on
# nginx/chat-stream-tls.conf (with a throwaway certificate), systemd-analyze verify on
# deploy/systemd/*.service (pointed at this checkout's binaries, since
# verify wants the ExecStart programs to exist), that etc/chat.conf.example
# is the one the programs write, and mandoc -T lint on the man pages.
#
#   scripts/check-deploy.sh [--build B]
#
# Prints PASS/FAIL per check; exits non-zero if any failed.  A check whose
# tool is missing is reported as SKIP, with the make command that installs
# it (tests/run.sh counts it as skipped, and under CI=true as failed).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=build
[ "${1:-}" = --build ] && build=${2:?}
work=$(mktemp -d /tmp/chat-deploy.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0

check() {	# name, command...
	local name=$1
	shift
	if "$@" >"$work/out" 2>&1; then
		echo "PASS $name"
	else
		echo "FAIL $name"
		sed 's/^/    /' "$work/out"
		failed=1
	fi
}

# Returns non-zero when a step fails: it runs inside check's "if", where
# set -e does not stop it.
nginx_conf() {
	cp /etc/nginx/fastcgi_params /etc/nginx/mime.types "$work/" || return
	cat >"$work/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
pid $work/nginx.pid;
error_log stderr;
events {}
http {
	include mime.types;
	access_log off;
	include $top/nginx/chat-site.conf;
}
include $top/nginx/chat-stream.conf;
CONF
}

# Writing the configuration is part of the check: a file it copies that is
# missing fails the check rather than stopping the script unreported.
nginx_check() {
	nginx_conf && nginx -t -q -p "$work" -c "$work/nginx.conf"
}

# nginx takes one stream {} block, so the TLS stream file is checked in a
# configuration of its own, with a throwaway certificate in the place of
# the one it names (nginx -t loads it).
nginx_tls_check() {
	mkdir -p "$work/tls" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" \
	    -days 1 -subj /CN=check-deploy 2>&1 &&
	sed -e "s|ssl_certificate /etc/ssl/[^;]*;|ssl_certificate $work/tls/cert.pem;|" \
	    -e "s|ssl_certificate_key /etc/ssl/[^;]*;|ssl_certificate_key $work/tls/key.pem;|" \
	    "$top/nginx/chat-stream-tls.conf" >"$work/tls/chat-stream-tls.conf" &&
	grep -q "ssl_certificate $work/tls/cert.pem;" "$work/tls/chat-stream-tls.conf" &&
	grep -q "ssl_certificate_key $work/tls/key.pem;" "$work/tls/chat-stream-tls.conf" &&
	cat >"$work/tls/nginx.conf" <<CONF &&
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
pid $work/tls/nginx.pid;
error_log stderr;
events {}
include $work/tls/chat-stream-tls.conf;
CONF
	nginx -t -q -p "$work/tls" -c "$work/tls/nginx.conf"
}

if command -v nginx >/dev/null && [ -f /etc/nginx/fastcgi_params ]; then
	check "nginx -t: nginx/chat-site.conf, nginx/chat-stream.conf" \
	    nginx_check
	if command -v openssl >/dev/null; then
		check "nginx -t: nginx/chat-stream-tls.conf" nginx_tls_check
	else
		echo "SKIP nginx -t: nginx/chat-stream-tls.conf: no openssl (make deps)"
	fi
else
	echo "SKIP nginx -t: no nginx (make deps)"
fi

# verify exits 0 on a unit it only warns about (an unknown value is
# ignored at run time): any word from it counts as a failure here.
verify_units() {
	local out
	out=$(systemd-analyze verify "$@" 2>&1) || { echo "$out"; return 1; }
	[ -z "$out" ] || { echo "$out"; return 1; }
}

if command -v systemd-analyze >/dev/null; then
	mkdir "$work/units"
	for unit in "$top"/deploy/systemd/*.service; do
		sed "s|/usr/local/sbin/|$top/$build/|g" "$unit" \
		    >"$work/units/${unit##*/}"
	done
	[ -x "$top/$build/fcgi_app" ] && [ -x "$top/$build/push_daemon" ] ||
	    { echo "FAIL systemd units: build $build first"; exit 1; }
	check "systemd-analyze verify: deploy/systemd/*.service" \
	    verify_units "$work"/units/*.service
else
	echo "SKIP systemd-analyze verify: no systemd-analyze (make deps)"
fi
# etc/chat.conf.example is what `fcgi_app -e` writes from the settings
# table: a setting added, renamed or re-bounded in common/config.c without
# `make example-config` fails here, so the example cannot drift.
example_matches() {
	"$top/$build/fcgi_app" -e >"$work/example" &&
	    diff -u "$top/etc/chat.conf.example" "$work/example" ||
	    { echo "run make example-config"; return 1; }
}
check "etc/chat.conf.example is fcgi_app -e's" example_matches

# The repository stands alone: a Markdown link of README, INSTALL or docs/
# that is not a web address names a file of the checkout, and none of them
# points above it (a reader who cloned it has nothing else).
docs_stand_alone() {
	local f target bad=0
	for f in "$top"/README.md "$top"/INSTALL.md "$top"/docs/*.md \
	    "$top"/bench/README.md "$top"/sql/README.md; do
		if grep -n '\.\./shared\|(\.\./' "$f"; then
			echo "$f: names a path outside the repository"
			bad=1
		fi
		while read -r target; do
			case $target in
			http://*|https://*|mailto:*|\#*) continue ;;
			esac
			target=${target%%#*}
			[ -e "$(dirname "$f")/$target" ] && continue
			echo "$f: link to $target, which is not in the checkout"
			bad=1
		done < <(grep -o '\]([^)]*)' "$f" | sed 's/^](//; s/)$//')
	done
	return "$bad"
}
check "README, INSTALL and docs link only into the repository" \
    docs_stand_alone

# deploy/logrotate/chat, rotated for real on a scratch copy of its folder
# while a writer holds the log open in append mode, as systemd's append:
# does: the copy keeps what was written, the next line lands at the start
# of the emptied file (no hole of zeros), and a second run with nothing new
# rotates nothing (notifempty).
logrotate_works() {
	local d=$work/logrotate
	mkdir -p "$d/log" || return
	sed "s|/var/log/chat/|$d/log/|g" "$top/deploy/logrotate/chat" \
	    >"$d/chat" || return
	exec 7>>"$d/log/chat-fcgi.log" || return
	printf 'line before\n' >&7
	logrotate -f -s "$d/state" "$d/chat" || return
	printf 'line after\n' >&7
	exec 7>&-
	grep -qx 'line before' "$d/log/chat-fcgi.log.1" || return
	[ "$(cat "$d/log/chat-fcgi.log")" = 'line after' ] ||
	    { echo "after rotation: $(od -c "$d/log/chat-fcgi.log" | head -3)"
	      return 1; }
	logrotate -s "$d/state" "$d/chat" || return
	[ ! -e "$d/log/chat-fcgi.log.2" ] && [ ! -e "$d/log/chat-fcgi.log.2.gz" ]
}
if command -v logrotate >/dev/null; then
	check "logrotate: deploy/logrotate/chat rotates an open log" \
	    logrotate_works
else
	echo "SKIP logrotate: no logrotate (make deps)"
fi

# Warnings count: man(1) renders a page with them, but not as meant.
if command -v mandoc >/dev/null; then
	check "mandoc -T lint: chatctl/chatctl.8" \
	    mandoc -T lint -W warning "$top/chatctl/chatctl.8"
else
	echo "SKIP mandoc -T lint (no mandoc)"
fi
exit "$failed"
