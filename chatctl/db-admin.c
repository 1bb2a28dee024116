/*
 * The statements only chatctl runs, on the workers' db.c: setting a
 * password or the disabled flag, erasing an account, reading presence and
 * the counts of stats.  Everything else chatctl needs (creating and
 * reading accounts, friend lists, purging delivered messages) is the
 * workers' own db-*.c, so the tool and the service cannot disagree on SQL.
 */
#include <string.h>

#include "chatctl.h"
#include "db.h"

/* UPDATE users SET <value> WHERE id = account; the caller knows it exists. */
static int
db_admin_update(struct db *db, enum db_stmt_id id, const char *sql,
    MYSQL_BIND *value, uint64_t account)
{
	MYSQL_BIND	 params[2];
	MYSQL_STMT	*st;

	memset(params, 0, sizeof(params));
	params[0] = *value;
	db_bind_u64(&params[1], &account);
	if ((st = db_exec(db, id, sql, params, NULL)) == NULL)
		return -1;
	db_done(st);
	return 0;
}

static const char sql_password[] =
    "UPDATE users SET password_hash = ? WHERE id = ?";

int
db_admin_password(struct db *db, uint64_t account, const char *hash)
{
	MYSQL_BIND	value;
	unsigned long	len;

	memset(&value, 0, sizeof(value));
	db_bind_str(&value, hash, &len);
	return db_admin_update(db, DB_ADMIN_PASSWORD, sql_password, &value,
	    account);
}

static const char sql_disabled[] =
    "UPDATE users SET disabled = ? WHERE id = ?";

int
db_admin_disabled(struct db *db, uint64_t account, int disabled)
{
	MYSQL_BIND	value;

	memset(&value, 0, sizeof(value));
	db_bind_int(&value, &disabled);
	return db_admin_update(db, DB_ADMIN_DISABLED, sql_disabled, &value,
	    account);
}

/* What the cascade is about to take, so that the operator is told. */
static const char sql_delete_count[] =
    "SELECT (SELECT COUNT(*) FROM friendships WHERE account_id = ?),"
    " (SELECT COUNT(*) FROM friend_requests WHERE from_id = ? OR to_id = ?),"
    " (SELECT COUNT(*) FROM messages WHERE sender_id = ? OR recipient_id = ?)";

/* Answers kept for others that name the account: no foreign key there. */
static const char sql_delete_results[] =
    "DELETE FROM friend_results WHERE src = ? OR dst = ?";

/*
 * The foreign keys of sql/006-account-cascade.sql take the friendships
 * (both directions), requests, results kept for it, messages (sent and
 * received) and presence rows with it.
 */
static const char sql_delete_user[] = "DELETE FROM users WHERE id = ?";

/*
 * Inside the caller's transaction, with the account's row locked: erases
 * account and every row that names it; *d says what went.
 */
int
db_admin_delete(struct db *db, uint64_t account, struct deleted *d)
{
	MYSQL_BIND	 params[5], result[3];
	MYSQL_STMT	*st;
	int		 i;

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	for (i = 0; i < 5; i++)
		db_bind_u64(&params[i], &account);
	db_bind_u64(&result[0], &d->friends);
	db_bind_u64(&result[1], &d->requests);
	db_bind_u64(&result[2], &d->messages);
	if (db_row(db, DB_ADMIN_DELETE_COUNT, sql_delete_count, params,
	    result) != 1)
		return -1;
	if (db_run_ids(db, DB_ADMIN_DELETE_RESULTS, sql_delete_results,
	    account, account) == -1)
		return -1;
	if ((st = db_exec(db, DB_ADMIN_DELETE_USER, sql_delete_user, params,
	    NULL)) == NULL)
		return -1;
	db_done(st);
	return 0;
}

static const char sql_presence[] =
    "SELECT node, account_id, COUNT(*) FROM presence"
    " WHERE ? = 0 OR account_id = ?"
    " GROUP BY node, account_id ORDER BY node, account_id";

/*
 * Calls cb for each (node, account) of the presence table, of account only
 * unless it is 0, in node then account order; stops when cb returns -1.
 */
int
db_admin_presence(struct db *db, uint64_t account,
    int (*cb)(void *, const struct presence_row *), void *arg)
{
	MYSQL_BIND		 params[2], result[3];
	MYSQL_STMT		*st;
	struct presence_row	 r;
	unsigned long		 nlen = 0;
	int			 rc;

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	memset(&r, 0, sizeof(r));
	db_bind_u64(&params[0], &account);
	db_bind_u64(&params[1], &account);
	db_bind_buf(&result[0], r.node, sizeof(r.node) - 1, &nlen);
	db_bind_u64(&result[1], &r.account);
	db_bind_u64(&result[2], &r.conns);
	st = db_exec(db, DB_ADMIN_PRESENCE, sql_presence, params, result);
	if (st == NULL)
		return -1;
	while ((rc = db_fetch(st)) == 1) {
		r.node[nlen] = '\0';
		if ((rc = cb(arg, &r)) == -1)
			break;
	}
	db_done(st);
	return rc;
}

/* One statement, so that the counts are of one moment. */
static const char sql_stats[] =
    "SELECT (SELECT COUNT(*) FROM users),"
    " (SELECT COUNT(*) FROM users WHERE disabled),"
    " (SELECT COUNT(*) DIV 2 FROM friendships),"
    " (SELECT COUNT(*) FROM friend_requests),"
    " (SELECT COUNT(*) FROM messages),"
    " (SELECT COUNT(*) FROM messages WHERE delivered_at IS NULL),"
    " (SELECT COUNT(DISTINCT account_id) FROM presence),"
    " (SELECT COUNT(*) FROM presence)";

int
db_admin_stats(struct db *db, struct stats *s)
{
	MYSQL_BIND	result[8];
	uint64_t	*v[8] = { &s->accounts, &s->disabled, &s->friendships,
			    &s->requests, &s->messages, &s->waiting,
			    &s->online_accounts, &s->online_conns };
	int		i;

	memset(result, 0, sizeof(result));
	for (i = 0; i < 8; i++)
		db_bind_u64(&result[i], v[i]);
	return db_row(db, DB_ADMIN_STATS, sql_stats, NULL, result) == 1 ?
	    0 : -1;
}
