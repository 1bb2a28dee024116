/*
 * The login_failures and registrations tables (sql/002-throttles.sql):
 * fixed-window counters.  A window starts at the first event counted and
 * lasts a minute (failures) or an hour (registrations); an expired window
 * reads as zero and restarts at the next event.  Checks and increments are
 * separate statements, so workers racing on one id may let a few extra
 * attempts through; that is fine for a throttle.
 *
 * In the upserts, assignments run left to right and a column read after
 * its own assignment sees the new value: window_start is read by the
 * count's IF before it is itself reassigned.
 */
#include <string.h>

#include "db.h"

static const char sql_login_failures_get[] =
    "SELECT failures FROM login_failures"
    " WHERE account_id = ? AND window_start > NOW() - INTERVAL 1 MINUTE";

/* Failed logins of id in its current window. */
int
db_login_failures(struct db *db, uint64_t id, int *count)
{
	MYSQL_BIND	 params[1], result[1];
	int		 found;

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	db_bind_u64(&params[0], &id);
	*count = 0;
	db_bind_int(&result[0], count);
	found = db_row(db, DB_LOGIN_FAILURES_GET, sql_login_failures_get,
	    params, result);
	if (found == 0)
		*count = 0;
	return found == -1 ? -1 : 0;
}

static const char sql_login_failure_add[] =
    "INSERT INTO login_failures (account_id, window_start, failures)"
    " VALUES (?, NOW(), 1) ON DUPLICATE KEY UPDATE"
    " failures = IF(window_start > NOW() - INTERVAL 1 MINUTE,"
    "  failures + 1, 1),"
    " window_start = IF(window_start > NOW() - INTERVAL 1 MINUTE,"
    "  window_start, NOW())";

int
db_login_failure_add(struct db *db, uint64_t id)
{
	MYSQL_BIND	 params[1];
	MYSQL_STMT	*st;

	memset(params, 0, sizeof(params));
	db_bind_u64(&params[0], &id);
	st = db_exec(db, DB_LOGIN_FAILURE_ADD, sql_login_failure_add, params,
	    NULL);
	db_done(st);
	return st == NULL ? -1 : 0;
}

static const char sql_login_failures_clear[] =
    "DELETE FROM login_failures WHERE account_id = ?";

int
db_login_failures_clear(struct db *db, uint64_t id)
{
	MYSQL_BIND	 params[1];
	MYSQL_STMT	*st;

	memset(params, 0, sizeof(params));
	db_bind_u64(&params[0], &id);
	st = db_exec(db, DB_LOGIN_FAILURES_CLEAR, sql_login_failures_clear,
	    params, NULL);
	db_done(st);
	return st == NULL ? -1 : 0;
}

static const char sql_registrations_get[] =
    "SELECT registrations FROM registrations"
    " WHERE address = ? AND window_start > NOW() - INTERVAL 1 HOUR";

/* Accounts registered from addr in its current window. */
int
db_registrations(struct db *db, const char *addr, int *count)
{
	MYSQL_BIND	 params[1], result[1];
	unsigned long	 alen;
	int		 found;

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	db_bind_str(&params[0], addr, &alen);
	*count = 0;
	db_bind_int(&result[0], count);
	found = db_row(db, DB_REGISTRATIONS_GET, sql_registrations_get, params,
	    result);
	if (found == 0)
		*count = 0;
	return found == -1 ? -1 : 0;
}

static const char sql_registration_add[] =
    "INSERT INTO registrations (address, window_start, registrations)"
    " VALUES (?, NOW(), 1) ON DUPLICATE KEY UPDATE"
    " registrations = IF(window_start > NOW() - INTERVAL 1 HOUR,"
    "  registrations + 1, 1),"
    " window_start = IF(window_start > NOW() - INTERVAL 1 HOUR,"
    "  window_start, NOW())";

int
db_registration_add(struct db *db, const char *addr)
{
	MYSQL_BIND	 params[1];
	MYSQL_STMT	*st;
	unsigned long	 alen;

	memset(params, 0, sizeof(params));
	db_bind_str(&params[0], addr, &alen);
	st = db_exec(db, DB_REGISTRATION_ADD, sql_registration_add, params,
	    NULL);
	db_done(st);
	return st == NULL ? -1 : 0;
}
