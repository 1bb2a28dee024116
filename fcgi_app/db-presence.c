/*
 * The presence table (sql/003-friends-messages.sql): one row per logged-in
 * connection, keyed by the node and the daemon's connection id, so that a
 * node's rows can all go when its daemon restarts.  It feeds list_friend's
 * "online" and tells relay.c which nodes hold an account; what waits is
 * fetched from messages, so a stale row delays, never loses.
 */
#include <string.h>

#include "db.h"

static const char sql_presence_put[] =
    "INSERT INTO presence (node, conn_id, account_id, ack_mode, transport)"
    " VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE"
    " account_id = VALUES(account_id), ack_mode = VALUES(ack_mode),"
    " transport = VALUES(transport), since = NOW()";

/*
 * Records p; a connection logged in again replaces its row.  1 when the
 * row is new, 0 when it was there (a fetch after the login made it), -1
 * on error.
 */
int
db_presence_put(struct db *db, const struct presence *p)
{
	MYSQL_BIND	 params[5];
	MYSQL_STMT	*st;
	unsigned long	 nlen, tlen;
	int		 ack = p->ack_mode, inserted;

	memset(params, 0, sizeof(params));
	db_bind_str(&params[0], p->node, &nlen);
	db_bind_u64(&params[1], &p->conn_id);
	db_bind_u64(&params[2], &p->account);
	db_bind_int(&params[3], &ack);
	db_bind_str(&params[4], p->transport, &tlen);
	if ((st = db_exec(db, DB_PRESENCE_PUT, sql_presence_put, params,
	    NULL)) == NULL)
		return -1;
	inserted = mysql_stmt_affected_rows(st) == 1;
	db_done(st);
	return inserted;
}

static const char sql_presence_delete[] =
    "DELETE FROM presence WHERE node = ? AND conn_id = ?";

/* 1 when the row was there, 0 when not, -1 on error. */
int
db_presence_delete(struct db *db, const char *node, uint64_t conn_id)
{
	MYSQL_BIND	 params[2];
	MYSQL_STMT	*st;
	unsigned long	 nlen;
	int		 found;

	memset(params, 0, sizeof(params));
	db_bind_str(&params[0], node, &nlen);
	db_bind_u64(&params[1], &conn_id);
	if ((st = db_exec(db, DB_PRESENCE_DELETE, sql_presence_delete, params,
	    NULL)) == NULL)
		return -1;
	found = mysql_stmt_affected_rows(st) > 0;
	db_done(st);
	return found;
}

static const char sql_presence_count[] =
    "SELECT COUNT(*) FROM presence WHERE account_id = ?";

/* The account's connections logged in now, on every node. */
int
db_presence_count(struct db *db, uint64_t account, int *count)
{
	MYSQL_BIND	params[1], result[1];

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	db_bind_u64(&params[0], &account);
	db_bind_int(&result[0], count);
	return db_row(db, DB_PRESENCE_COUNT, sql_presence_count, params,
	    result) == 1 ? 0 : -1;
}

static const char sql_presence_clear[] =
    "DELETE FROM presence WHERE node = ?";

/* Every connection of node has gone (its daemon has just started). */
int
db_presence_clear(struct db *db, const char *node)
{
	MYSQL_BIND	 params[1];
	MYSQL_STMT	*st;
	unsigned long	 nlen;

	memset(params, 0, sizeof(params));
	db_bind_str(&params[0], node, &nlen);
	st = db_exec(db, DB_PRESENCE_CLEAR, sql_presence_clear, params, NULL);
	db_done(st);
	return st == NULL ? -1 : 0;
}
