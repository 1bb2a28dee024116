/*
 * The counters behind "too many attempts" and the friend-request limit
 * (sql/002-throttles.sql, sql/005-abuse-limits.sql): fixed windows that
 * start at their first event; an expired window reads as zero and
 * restarts at the next event.
 *
 * A limit that a burst of parallel requests must not pass takes its slot
 * before the slow work, in one statement that both counts and tells the
 * count: the upsert sets the column to LAST_INSERT_ID(new value), which
 * mysql_stmt_insert_id() then reads for this connection alone.  Two
 * workers racing on one row are serialised by its row lock, and each
 * sees its own number, so exactly the limit gets through.
 *
 * In the upserts, assignments run left to right and a column read after
 * its own assignment sees the new value: window_start is read by the
 * count's IF before it is itself reassigned.
 */
#include <string.h>

#include "db.h"

/* Runs an upsert that counts; *count is the value it set. */
static int
db_count(struct db *db, enum db_stmt_id id, const char *sql,
    MYSQL_BIND *params, int *count)
{
	MYSQL_STMT	*st;

	if ((st = db_exec(db, id, sql, params, NULL)) == NULL)
		return -1;
	*count = (int)mysql_stmt_insert_id(st);
	db_done(st);
	return 0;
}

static const char sql_login_attempt_id[] =
    "INSERT INTO login_attempts (account_id, address, window_start,"
    " attempts) VALUES (?, ?, NOW(), LAST_INSERT_ID(1))"
    " ON DUPLICATE KEY UPDATE"
    " attempts = LAST_INSERT_ID(IF(window_start > NOW() - INTERVAL 1 MINUTE,"
    "  attempts + 1, 1)),"
    " window_start = IF(window_start > NOW() - INTERVAL 1 MINUTE,"
    "  window_start, NOW())";

static const char sql_login_attempt_addr[] =
    "INSERT INTO login_address_attempts (address, window_start, attempts)"
    " VALUES (?, NOW(), LAST_INSERT_ID(1)) ON DUPLICATE KEY UPDATE"
    " attempts = LAST_INSERT_ID(IF(window_start > NOW() - INTERVAL 1 MINUTE,"
    "  attempts + 1, 1)),"
    " window_start = IF(window_start > NOW() - INTERVAL 1 MINUTE,"
    "  window_start, NOW())";

/* A row only when addr failed for the id within the hour. */
static const char sql_login_delayed[] =
    "SELECT b.delayed_until > NOW(3) FROM login_backoff b"
    " JOIN login_attempts a ON a.account_id = b.account_id"
    " WHERE b.account_id = ? AND a.address = ?"
    " AND a.last_failure > NOW() - INTERVAL 1 HOUR";

/*
 * Takes the slots of one login attempt of id from addr and reads what it
 * is up against.  The empty address (none known) has no count of its own:
 * counting every such client as one would let any of them shut out all.
 */
int
db_login_attempt(struct db *db, uint64_t id, const char *addr,
    struct login_count *lc)
{
	MYSQL_BIND	 params[2], result[1];
	unsigned long	 alen;
	int		 found;

	memset(lc, 0, sizeof(*lc));
	memset(params, 0, sizeof(params));
	db_bind_u64(&params[0], &id);
	db_bind_str(&params[1], addr, &alen);
	if (db_count(db, DB_LOGIN_ATTEMPT_ID, sql_login_attempt_id, params,
	    &lc->id_addr) == -1)
		return -1;
	if (*addr != '\0' && db_count(db, DB_LOGIN_ATTEMPT_ADDR,
	    sql_login_attempt_addr, &params[1], &lc->addr) == -1)
		return -1;
	memset(result, 0, sizeof(result));
	db_bind_int(&result[0], &lc->delayed);
	found = db_row(db, DB_LOGIN_DELAYED, sql_login_delayed, params,
	    result);
	if (found == 0)
		lc->delayed = 0;
	return found == -1 ? -1 : 0;
}

static const char sql_login_failed_addr[] =
    "UPDATE login_attempts SET last_failure = NOW()"
    " WHERE account_id = ? AND address = ?";

/*
 * The id's failures of the last hour; from the limit on, each one moves
 * delayed_until to 2^(failures - limit) seconds from now, at most max.
 * The shift's operand is kept small and signed so that it cannot wrap.
 */
static const char sql_login_backoff[] =
    "INSERT INTO login_backoff (account_id, failures, last_failure,"
    " delayed_until) VALUES (?, 1, NOW(),"
    " IF(? <= 1, NOW(3) + INTERVAL 1 SECOND, NOW(3)))"
    " ON DUPLICATE KEY UPDATE"
    " failures = IF(last_failure > NOW() - INTERVAL 1 HOUR, failures + 1, 1),"
    " last_failure = NOW(),"
    " delayed_until = IF(failures >= ?, NOW(3) + INTERVAL"
    "  LEAST(1 << LEAST(CAST(failures AS SIGNED) - ?, 30), ?) SECOND,"
    "  delayed_until)";

/* The attempt's password was wrong (or the id names nobody). */
int
db_login_failed(struct db *db, uint64_t id, const char *addr)
{
	MYSQL_BIND	 params[5];
	MYSQL_STMT	*st;
	unsigned long	 alen;
	int		 limit = db->cf->login_failures_per_id;
	int		 max = db->cf->login_backoff_max;

	memset(params, 0, sizeof(params));
	db_bind_u64(&params[0], &id);
	db_bind_str(&params[1], addr, &alen);
	st = db_exec(db, DB_LOGIN_FAILED_ADDR, sql_login_failed_addr, params,
	    NULL);
	db_done(st);
	if (st == NULL)
		return -1;
	memset(params, 0, sizeof(params));
	db_bind_u64(&params[0], &id);
	db_bind_int(&params[1], &limit);
	db_bind_int(&params[2], &limit);
	db_bind_int(&params[3], &limit);
	db_bind_int(&params[4], &max);
	st = db_exec(db, DB_LOGIN_BACKOFF, sql_login_backoff, params, NULL);
	db_done(st);
	return st == NULL ? -1 : 0;
}

static const char sql_login_clear_id[] =
    "DELETE FROM login_attempts WHERE account_id = ? AND address = ?";

static const char sql_login_release_addr[] =
    "UPDATE login_address_attempts SET attempts = attempts - 1"
    " WHERE address = ? AND attempts > 0";

/*
 * The owner logged in from addr: its failures there are forgotten and its
 * slot given back.  The id's backoff stays: an attacker elsewhere is not
 * let off by the owner's success.
 */
int
db_login_succeeded(struct db *db, uint64_t id, const char *addr)
{
	MYSQL_BIND	 params[2];
	MYSQL_STMT	*st;
	unsigned long	 alen;

	memset(params, 0, sizeof(params));
	db_bind_u64(&params[0], &id);
	db_bind_str(&params[1], addr, &alen);
	st = db_exec(db, DB_LOGIN_CLEAR_ID, sql_login_clear_id, params, NULL);
	db_done(st);
	if (st == NULL)
		return -1;
	if (*addr == '\0')
		return 0;
	st = db_exec(db, DB_LOGIN_RELEASE_ADDR, sql_login_release_addr,
	    &params[1], NULL);
	db_done(st);
	return st == NULL ? -1 : 0;
}

static const char sql_login_forget_attempts[] =
    "DELETE FROM login_attempts WHERE account_id = ?";

static const char sql_login_forget_backoff[] =
    "DELETE FROM login_backoff WHERE account_id = ?";

/*
 * An operator has set a new password (chatctl passwd): the id's failures
 * from every address and its backoff are forgotten, so that its owner may
 * log in at once.  The addresses' own counts stay: they are about the
 * addresses, not about this account.
 */
int
db_login_failures_clear(struct db *db, uint64_t id)
{
	MYSQL_BIND	 params[1];
	MYSQL_STMT	*st;

	memset(params, 0, sizeof(params));
	db_bind_u64(&params[0], &id);
	st = db_exec(db, DB_LOGIN_FORGET_ATTEMPTS, sql_login_forget_attempts,
	    params, NULL);
	db_done(st);
	if (st == NULL)
		return -1;
	st = db_exec(db, DB_LOGIN_FORGET_BACKOFF, sql_login_forget_backoff,
	    params, NULL);
	db_done(st);
	return st == NULL ? -1 : 0;
}

static const char sql_registration_add[] =
    "INSERT INTO registrations (address, window_start, registrations)"
    " VALUES (?, NOW(), LAST_INSERT_ID(1)) ON DUPLICATE KEY UPDATE"
    " registrations = LAST_INSERT_ID(IF(window_start > NOW() - INTERVAL 1 HOUR,"
    "  registrations + 1, 1)),"
    " window_start = IF(window_start > NOW() - INTERVAL 1 HOUR,"
    "  window_start, NOW())";

/*
 * Takes a registration slot of addr before the hash; *count is this one's
 * number in the hour.  A registration that then fails keeps its slot,
 * which only tightens the limit by one.
 */
int
db_registration_add(struct db *db, const char *addr, int *count)
{
	MYSQL_BIND	 params[1];
	unsigned long	 alen;

	memset(params, 0, sizeof(params));
	db_bind_str(&params[0], addr, &alen);
	return db_count(db, DB_REGISTRATION_ADD, sql_registration_add, params,
	    count);
}

static const char sql_friend_asks_get[] =
    "SELECT IF(minute_start > NOW() - INTERVAL 1 MINUTE, minute_asks, 0),"
    " IF(day_start > NOW() - INTERVAL 1 DAY, day_asks, 0)"
    " FROM friend_asks WHERE account_id = ?";

/*
 * Friend requests from has sent this minute and this day.  Called inside the
 * add_friend transaction, which holds from's users row: asks of one
 * account are serialised by it, so the check and db_friend_ask_add()
 * cannot race.
 */
int
db_friend_asks(struct db *db, uint64_t from, int *minute, int *day)
{
	MYSQL_BIND	 params[1], result[2];
	int		 found;

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	db_bind_u64(&params[0], &from);
	db_bind_int(&result[0], minute);
	db_bind_int(&result[1], day);
	found = db_row(db, DB_FRIEND_ASKS_GET, sql_friend_asks_get, params,
	    result);
	if (found == 0)
		*minute = *day = 0;
	return found == -1 ? -1 : 0;
}

static const char sql_friend_ask_add[] =
    "INSERT INTO friend_asks (account_id, minute_start, minute_asks,"
    " day_start, day_asks) VALUES (?, NOW(), 1, NOW(), 1)"
    " ON DUPLICATE KEY UPDATE"
    " minute_asks = IF(minute_start > NOW() - INTERVAL 1 MINUTE,"
    "  minute_asks + 1, 1),"
    " minute_start = IF(minute_start > NOW() - INTERVAL 1 MINUTE,"
    "  minute_start, NOW()),"
    " day_asks = IF(day_start > NOW() - INTERVAL 1 DAY, day_asks + 1, 1),"
    " day_start = IF(day_start > NOW() - INTERVAL 1 DAY, day_start, NOW())";

int
db_friend_ask_add(struct db *db, uint64_t from)
{
	MYSQL_BIND	 params[1];
	MYSQL_STMT	*st;

	memset(params, 0, sizeof(params));
	db_bind_u64(&params[0], &from);
	st = db_exec(db, DB_FRIEND_ASK_ADD, sql_friend_ask_add, params, NULL);
	db_done(st);
	return st == NULL ? -1 : 0;
}
