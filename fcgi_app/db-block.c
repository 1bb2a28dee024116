/*
 * The blocks table (sql/007-blocks.sql): block, unblock and list_blocked,
 * and the checks add_friend and cancel_friend make.  Like db-friend.c, run
 * inside the command's transaction after friend_lock() on both accounts.
 */
#include <string.h>

#include "db.h"

static const char sql_block_get[] =
    "SELECT 1 FROM blocks WHERE account_id = ? AND blocked_id = ?";

/* 1 when account blocks blocked, 0 when not, -1 on error. */
int
db_block_get(struct db *db, uint64_t account, uint64_t blocked)
{
	MYSQL_BIND	params[2], result[1];
	int		one;

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	db_bind_u64(&params[0], &account);
	db_bind_u64(&params[1], &blocked);
	db_bind_int(&result[0], &one);
	return db_row(db, DB_BLOCK_GET, sql_block_get, params, result);
}

static const char sql_block_put[] =
    "INSERT INTO blocks (account_id, blocked_id, created_at)"
    " VALUES (?, ?, UTC_TIMESTAMP(3))";

int
db_block_put(struct db *db, uint64_t account, uint64_t blocked)
{
	return db_run_ids(db, DB_BLOCK_PUT, sql_block_put, account, blocked);
}

static const char sql_block_delete[] =
    "DELETE FROM blocks WHERE account_id = ? AND blocked_id = ?";

/* 1 when a block was lifted, 0 when there was none, -1 on error. */
int
db_block_delete(struct db *db, uint64_t account, uint64_t blocked)
{
	MYSQL_BIND	 params[2];
	MYSQL_STMT	*st;
	int		 rc;

	memset(params, 0, sizeof(params));
	db_bind_u64(&params[0], &account);
	db_bind_u64(&params[1], &blocked);
	if ((st = db_exec(db, DB_BLOCK_DELETE, sql_block_delete, params,
	    NULL)) == NULL)
		return -1;
	rc = mysql_stmt_affected_rows(st) > 0;
	db_done(st);
	return rc;
}

static const char sql_blocks_count[] =
    "SELECT COUNT(*) FROM blocks WHERE account_id = ?";

int
db_blocks_count(struct db *db, uint64_t account, int *count)
{
	MYSQL_BIND	params[1], result[1];

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	db_bind_u64(&params[0], &account);
	db_bind_int(&result[0], count);
	return db_row(db, DB_BLOCKS_COUNT, sql_blocks_count, params,
	    result) == 1 ? 0 : -1;
}

static const char sql_blocks_list[] =
    "SELECT b.blocked_id, u.username FROM blocks b"
    " JOIN users u ON u.id = b.blocked_id"
    " WHERE b.account_id = ? ORDER BY b.blocked_id";

/* account's blocked accounts sorted by id, in *list (the caller frees). */
int
db_blocks_list(struct db *db, uint64_t account, struct friend **list,
    size_t *n)
{
	MYSQL_BIND	 params[1], result[2];
	MYSQL_STMT	*st;
	struct friend	 f;
	unsigned long	 nlen = 0;

	*list = NULL;
	*n = 0;
	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	memset(&f, 0, sizeof(f));
	db_bind_u64(&params[0], &account);
	db_bind_u64(&result[0], &f.id);
	db_bind_buf(&result[1], f.username, sizeof(f.username) - 1, &nlen);
	if ((st = db_exec(db, DB_BLOCKS_LIST, sql_blocks_list, params,
	    result)) == NULL)
		return -1;
	return db_friends_collect(st, &f, &nlen, list, n);
}
