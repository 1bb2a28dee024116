#!/bin/bash
# Applies the schema migrations (sql/NNN-name.sql) that a database has not
# had yet, in order, each once, and records each in schema_migrations.
# Running it again applies only what is new, so it belongs in every upgrade.
#
#   scripts/migrate.sh --defaults-file FILE --database NAME [--sql-dir DIR]
#   scripts/migrate.sh ... --status      list what is applied and pending
#
# FILE is a MariaDB option file naming an administrator ([client] user,
# socket or host, password): migrations create and alter tables, which the
# application's own user may not.  The database must exist.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
defaults=
database=
status_only=0
# Installed, the migrations sit in ../sql beside this script's folder.
sql_dir="$here/../sql"

usage() {
	echo "usage: $0 --defaults-file FILE --database NAME [--sql-dir DIR]" \
	    "[--status]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--defaults-file) defaults=${2:-}; shift 2 || usage ;;
	--database) database=${2:-}; shift 2 || usage ;;
	--sql-dir) sql_dir=${2:-}; shift 2 || usage ;;
	--status) status_only=1; shift ;;
	*) usage ;;
	esac
done
[ -n "$defaults" ] && [ -n "$database" ] || usage
[ -r "$defaults" ] || { echo "$0: cannot read $defaults" >&2; exit 1; }
[ -d "$sql_dir" ] || { echo "$0: no folder $sql_dir" >&2; exit 1; }
case "$database" in
*[!A-Za-z0-9_]*) echo "$0: bad database name: $database" >&2; exit 1 ;;
esac

# The option file must be the client's first option, or it is ignored.
sql() {
	mariadb --defaults-file="$defaults" --batch --skip-column-names \
	    "$database" "$@"
}

sql -e "CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INT UNSIGNED NOT NULL PRIMARY KEY,
	name       VARCHAR(255) NOT NULL,
	applied_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"

applied=$(sql -e "SELECT version FROM schema_migrations")

is_applied() {
	local v
	for v in $applied; do
		[ "$v" -eq "$1" ] && return 0
	done
	return 1
}

count=0
shopt -s nullglob
for file in "$sql_dir"/[0-9][0-9][0-9]-*.sql; do
	name=$(basename "$file")
	case "$name" in
	*[!A-Za-z0-9._-]*) echo "$0: bad file name: $name" >&2; exit 1 ;;
	esac
	version=$((10#${name%%-*}))
	if is_applied "$version"; then
		[ "$status_only" -eq 1 ] && echo "applied  $name"
		continue
	fi
	if [ "$status_only" -eq 1 ]; then
		echo "pending  $name"
		continue
	fi
	echo "applying $name"
	# DDL commits on its own in MariaDB, so a file that fails half-way
	# is not rolled back: the version is recorded only after the whole
	# file ran, and the error stops the script for an operator to look.
	sql <"$file"
	sql -e "INSERT INTO schema_migrations (version, name)
	    VALUES ($version, '$name')"
	count=$((count + 1))
done
[ "$status_only" -eq 1 ] || echo "$count migration(s) applied"
