/*
 * The friendships, friend_requests and friend_results tables
 * (sql/003-friends-messages.sql).  add_friend and add_friend_confirm run
 * these inside one transaction, after locking both users rows
 * (db_account_lock), so two commands about the same pair never interleave.
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"

static const char sql_friendship_get[] =
    "SELECT status FROM friendships WHERE account_id = ? AND friend_id = ?";

/* 1 and *status when a has b as a friend, 0 when not, -1 on error. */
int
db_friendship_get(struct db *db, uint64_t a, uint64_t b, int *status)
{
	MYSQL_BIND	 params[2], result[1];

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	db_bind_u64(&params[0], &a);
	db_bind_u64(&params[1], &b);
	db_bind_int(&result[0], status);
	return db_row(db, DB_FRIENDSHIP_GET, sql_friendship_get, params,
	    result);
}

static const char sql_friendship_put[] =
    "INSERT INTO friendships (account_id, friend_id, status)"
    " VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE status = VALUES(status)";

/* Makes b a friend of a (one direction), with a's view of b. */
int
db_friendship_put(struct db *db, uint64_t a, uint64_t b, int status)
{
	MYSQL_BIND	 params[3];
	MYSQL_STMT	*st;

	memset(params, 0, sizeof(params));
	db_bind_u64(&params[0], &a);
	db_bind_u64(&params[1], &b);
	db_bind_int(&params[2], &status);
	st = db_exec(db, DB_FRIENDSHIP_PUT, sql_friendship_put, params, NULL);
	db_done(st);
	return st == NULL ? -1 : 0;
}

/*
 * Both directions at once: a friendship never stays one-sided.  Callers
 * check that it exists first (db_friendship_get): a DELETE that finds
 * nothing would take a gap lock (see cmd-add-friend.c).
 */
static const char sql_friendship_delete[] =
    "DELETE FROM friendships WHERE (account_id = ? AND friend_id = ?)"
    " OR (account_id = ? AND friend_id = ?)";

int
db_friendship_delete(struct db *db, uint64_t a, uint64_t b)
{
	MYSQL_BIND	 params[4];
	MYSQL_STMT	*st;

	memset(params, 0, sizeof(params));
	db_bind_u64(&params[0], &a);
	db_bind_u64(&params[1], &b);
	db_bind_u64(&params[2], &b);
	db_bind_u64(&params[3], &a);
	st = db_exec(db, DB_FRIENDSHIP_DELETE, sql_friendship_delete, params,
	    NULL);
	db_done(st);
	return st == NULL ? -1 : 0;
}

static const char sql_friends_list[] =
    "SELECT f.friend_id, u.username, f.status,"
    " EXISTS (SELECT 1 FROM presence p WHERE p.account_id = f.friend_id)"
    " FROM friendships f JOIN users u ON u.id = f.friend_id"
    " WHERE f.account_id = ? ORDER BY f.friend_id";

/* Appends one row to a growing array; -1 when memory ran out. */
static int
db_friends_append(struct friend **list, size_t *n, size_t *cap,
    const struct friend *f)
{
	struct friend	*p;
	size_t		 ncap;

	if (*n == *cap) {
		ncap = *cap == 0 ? 16 : *cap * 2;
		if ((p = reallocarray(*list, ncap, sizeof(*p))) == NULL)
			return -1;
		*list = p;
		*cap = ncap;
	}
	(*list)[(*n)++] = *f;
	return 0;
}

/* a's friends sorted by id, in *list (the caller frees it). */
int
db_friends_list(struct db *db, uint64_t a, struct friend **list, size_t *n)
{
	MYSQL_BIND	 params[1], result[4];
	MYSQL_STMT	*st;
	struct friend	 f;
	unsigned long	 nlen = 0;

	*list = NULL;
	*n = 0;
	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	memset(&f, 0, sizeof(f));
	db_bind_u64(&params[0], &a);
	db_bind_u64(&result[0], &f.id);
	db_bind_buf(&result[1], f.username, sizeof(f.username) - 1, &nlen);
	db_bind_int(&result[2], &f.status);
	db_bind_int(&result[3], &f.online);
	if ((st = db_exec(db, DB_FRIENDS_LIST, sql_friends_list, params,
	    result)) == NULL)
		return -1;
	return db_friends_collect(st, &f, &nlen, list, n);
}

/*
 * The rows of st, fetched into f (its username nlen bytes long), as a list
 * in *list (the caller frees it): a friend list, or a list of blocked
 * accounts (db-block.c).  0, or -1 with nothing in *list.
 */
int
db_friends_collect(MYSQL_STMT *st, struct friend *f, unsigned long *nlen,
    struct friend **list, size_t *n)
{
	size_t	cap = 0;
	int	rc;

	while ((rc = db_fetch(st)) == 1) {
		f->username[*nlen] = '\0';
		if ((rc = db_friends_append(list, n, &cap, f)) == -1)
			break;
	}
	db_done(st);
	if (rc == 0)
		return 0;
	free(*list);
	*list = NULL;
	*n = 0;
	return -1;
}

static const char sql_request_get[] =
    "SELECT status FROM friend_requests WHERE from_id = ? AND to_id = ?";

/* 1 and *status when from has a request pending to to, else 0; -1. */
int
db_request_get(struct db *db, uint64_t from, uint64_t to, int *status)
{
	MYSQL_BIND	 params[2], result[1];

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	db_bind_u64(&params[0], &from);
	db_bind_u64(&params[1], &to);
	db_bind_int(&result[0], status);
	return db_row(db, DB_REQUEST_GET, sql_request_get, params, result);
}

static const char sql_request_put[] =
    "INSERT INTO friend_requests (from_id, to_id, status) VALUES (?, ?, ?)";

/*
 * Stores request q, of which none is pending between the same two (the
 * caller deletes the one it replaces), and sets q->id to its new id.
 */
int
db_request_put(struct db *db, struct friend_request *q)
{
	MYSQL_BIND	 params[3];
	MYSQL_STMT	*st;

	memset(params, 0, sizeof(params));
	db_bind_u64(&params[0], &q->from);
	db_bind_u64(&params[1], &q->to);
	db_bind_int(&params[2], &q->status);
	st = db_exec(db, DB_REQUEST_PUT, sql_request_put, params, NULL);
	if (st == NULL)
		return -1;
	q->id = mysql_stmt_insert_id(st);
	db_done(st);
	return 0;
}

static const char sql_request_delete[] =
    "DELETE FROM friend_requests WHERE from_id = ? AND to_id = ?";

int
db_request_delete(struct db *db, uint64_t from, uint64_t to)
{
	return db_run_ids(db, DB_REQUEST_DELETE, sql_request_delete,
	    from, to);
}

static const char sql_requests_sent[] =
    "SELECT COUNT(*) FROM friend_requests WHERE from_id = ?";

/* How many requests from has pending. */
int
db_requests_sent(struct db *db, uint64_t from, int *count)
{
	MYSQL_BIND	 params[1], result[1];
	int		 found;

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	db_bind_u64(&params[0], &from);
	db_bind_int(&result[0], count);
	found = db_row(db, DB_REQUESTS_SENT, sql_requests_sent, params, result);
	return found == 1 ? 0 : -1;
}

/*
 * A request from an account the recipient blocks stays stored for its
 * sender's sake (cancel_friend answers as for any other) but is never
 * shown to the recipient.
 */
static const char sql_requests_to[] =
    "SELECT r.id, r.from_id, r.status, u.username"
    " FROM friend_requests r JOIN users u ON u.id = r.from_id"
    " WHERE r.to_id = ? AND NOT EXISTS (SELECT 1 FROM blocks b"
    "  WHERE b.account_id = r.to_id AND b.blocked_id = r.from_id)"
    " ORDER BY r.id";

/* Calls cb for each request pending to to, latest ask last; stops at -1. */
int
db_requests_to(struct db *db, uint64_t to,
    int (*cb)(void *, const struct friend_request *), void *arg)
{
	MYSQL_BIND		 params[1], result[4];
	MYSQL_STMT		*st;
	struct friend_request	 q;
	unsigned long		 nlen = 0;
	int			 rc;

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	memset(&q, 0, sizeof(q));
	q.to = to;
	db_bind_u64(&params[0], &to);
	db_bind_u64(&result[0], &q.id);
	db_bind_u64(&result[1], &q.from);
	db_bind_int(&result[2], &q.status);
	db_bind_buf(&result[3], q.username, sizeof(q.username) - 1, &nlen);
	st = db_exec(db, DB_REQUESTS_TO, sql_requests_to, params, result);
	if (st == NULL)
		return -1;
	while ((rc = db_fetch(st)) == 1) {
		q.username[nlen] = '\0';
		if ((rc = cb(arg, &q)) == -1)
			break;
	}
	db_done(st);
	return rc;
}

static const char sql_result_add[] =
    "INSERT INTO friend_results (to_id, src, dst, outcome)"
    " VALUES (?, ?, ?, ?)";

/* Stores res for account to; *id is its id (the track "c<id>"). */
int
db_result_add(struct db *db, uint64_t to, const struct friend_result *res,
    uint64_t *id)
{
	MYSQL_BIND	 params[4];
	MYSQL_STMT	*st;
	unsigned long	 olen;

	memset(params, 0, sizeof(params));
	db_bind_u64(&params[0], &to);
	db_bind_u64(&params[1], &res->src);
	db_bind_u64(&params[2], &res->dst);
	db_bind_str(&params[3], res->confirmed ? "confirmed" : "rejected",
	    &olen);
	st = db_exec(db, DB_RESULT_ADD, sql_result_add, params, NULL);
	if (st == NULL)
		return -1;
	*id = mysql_stmt_insert_id(st);
	db_done(st);
	return 0;
}

static const char sql_results_waiting[] =
    "SELECT id, src, dst, outcome = 'confirmed' FROM friend_results"
    " WHERE to_id = ? AND delivered_at IS NULL ORDER BY id";

/* Calls cb for each result not yet delivered to to; stops at -1. */
int
db_results_waiting(struct db *db, uint64_t to,
    int (*cb)(void *, const struct friend_result *), void *arg)
{
	MYSQL_BIND		 params[1], result[4];
	MYSQL_STMT		*st;
	struct friend_result	 res;
	int			 rc;

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	memset(&res, 0, sizeof(res));
	db_bind_u64(&params[0], &to);
	db_bind_u64(&result[0], &res.id);
	db_bind_u64(&result[1], &res.src);
	db_bind_u64(&result[2], &res.dst);
	db_bind_int(&result[3], &res.confirmed);
	st = db_exec(db, DB_RESULTS_WAITING, sql_results_waiting, params,
	    result);
	if (st == NULL)
		return -1;
	while ((rc = db_fetch(st)) == 1)
		if ((rc = cb(arg, &res)) == -1)
			break;
	db_done(st);
	return rc;
}

static const char sql_result_delivered[] =
    "UPDATE friend_results SET delivered_at = NOW()"
    " WHERE id = ? AND to_id = ? AND delivered_at IS NULL";

/* Marks result id delivered, if it is to's; anything else is ignored. */
int
db_result_delivered(struct db *db, uint64_t to, uint64_t id)
{
	return db_run_ids(db, DB_RESULT_DELIVERED, sql_result_delivered,
	    id, to);
}
