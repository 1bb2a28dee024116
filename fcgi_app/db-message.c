/*
 * The messages table (sql/003-friends-messages.sql): storing a message,
 * reading what waits for an account a page at a time, and the two marks
 * that end the waiting: delivered_at (written to a connection not in ack
 * mode) and acked_at (acked).  Every mark names the recipient too, so an
 * id of somebody else's message changes nothing.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"

/*
 * The friendship check and the insert in one statement: one round trip and
 * one commit for the message every relayed packet costs.
 */
static const char sql_message_add[] =
    "INSERT INTO messages (sender_id, recipient_id, body, created_at)"
    " SELECT account_id, friend_id, ?, ? FROM friendships"
    " WHERE account_id = ? AND friend_id = ?";

/* Now, UTC, to the millisecond. */
static void
db_message_now(MYSQL_TIME *t)
{
	struct timespec	ts;
	struct tm	tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	memset(t, 0, sizeof(*t));
	t->year = (unsigned int)tm.tm_year + 1900;
	t->month = (unsigned int)tm.tm_mon + 1;
	t->day = (unsigned int)tm.tm_mday;
	t->hour = (unsigned int)tm.tm_hour;
	t->minute = (unsigned int)tm.tm_min;
	t->second = (unsigned int)tm.tm_sec;
	t->second_part = (unsigned long)(ts.tv_nsec / 1000000) * 1000;
	t->time_type = MYSQL_TIMESTAMP_DATETIME;
}

/*
 * Stores m (src, dst, body) if src has dst as a friend, and fills in m->id
 * and m->time.  The time is taken here, not by the server, so that the
 * live packet and the row agree without reading the row back.  Returns 1
 * when stored, 0 when they are not friends (nothing stored), -1 on error.
 */
int
db_message_add(struct db *db, struct message *m)
{
	MYSQL_BIND	 params[4];
	MYSQL_STMT	*st;
	MYSQL_TIME	 now;
	unsigned long	 blen;
	int		 stored;

	db_message_now(&now);
	memset(params, 0, sizeof(params));
	db_bind_str(&params[0], m->body, &blen);
	db_bind_time(&params[1], &now);
	db_bind_u64(&params[2], &m->src);
	db_bind_u64(&params[3], &m->dst);
	st = db_exec(db, DB_MESSAGE_ADD, sql_message_add, params, NULL);
	if (st == NULL)
		return -1;
	if ((stored = mysql_stmt_affected_rows(st) == 1))
		m->id = mysql_stmt_insert_id(st);
	db_done(st);
	db_time_format(&now, m->time, sizeof(m->time));
	return stored;
}

static const char sql_messages_undelivered[] =
    "SELECT id, sender_id, created_at, body FROM messages"
    " WHERE recipient_id = ? AND delivered_at IS NULL AND id > ?"
    " ORDER BY id LIMIT ?";

static const char sql_messages_unacked[] =
    "SELECT id, sender_id, created_at, body FROM messages"
    " WHERE recipient_id = ? AND acked_at IS NULL AND id > ?"
    " ORDER BY id LIMIT ?";

/*
 * Calls cb, in id order, for at most limit messages to account to with an
 * id above after that are not yet delivered (acked: not yet acked).
 * Returns how many there were, or -1 (also when cb returns -1).
 */
int
db_messages_waiting(struct db *db, uint64_t to, int acked, uint64_t after,
    int limit, int (*cb)(void *, const struct message *), void *arg)
{
	MYSQL_BIND	 params[3], result[4];
	MYSQL_STMT	*st;
	MYSQL_TIME	 created;
	struct message	 m;
	char		 body[PACKET_MAX + 1];
	unsigned long	 blen = 0;
	int		 rc, n = 0;

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	memset(&m, 0, sizeof(m));
	m.dst = to;
	m.body = body;
	db_bind_u64(&params[0], &to);
	db_bind_u64(&params[1], &after);
	db_bind_int(&params[2], &limit);
	db_bind_u64(&result[0], &m.id);
	db_bind_u64(&result[1], &m.src);
	db_bind_time(&result[2], &created);
	db_bind_buf(&result[3], body, sizeof(body) - 1, &blen);
	st = acked ? db_exec(db, DB_MESSAGES_UNACKED, sql_messages_unacked,
	    params, result) : db_exec(db, DB_MESSAGES_UNDELIVERED,
	    sql_messages_undelivered, params, result);
	if (st == NULL)
		return -1;
	while ((rc = db_fetch(st)) == 1) {
		body[blen] = '\0';
		db_time_format(&created, m.time, sizeof(m.time));
		n++;
		if ((rc = cb(arg, &m)) == -1)
			break;
	}
	db_done(st);
	return rc == -1 ? -1 : n;
}

static const char sql_message_delivered[] =
    "UPDATE messages SET delivered_at = NOW(3)"
    " WHERE id = ? AND recipient_id = ? AND delivered_at IS NULL";

/* Message id has been written to a connection of to not in ack mode. */
int
db_message_delivered(struct db *db, uint64_t to, uint64_t id)
{
	return db_run_ids(db, DB_MESSAGE_DELIVERED, sql_message_delivered,
	    id, to);
}

static const char sql_message_ack[] =
    "UPDATE messages SET acked_at = NOW(3),"
    " delivered_at = COALESCE(delivered_at, NOW(3))"
    " WHERE id = ? AND recipient_id = ? AND acked_at IS NULL";

static const char sql_message_sender[] =
    "SELECT sender_id FROM messages WHERE id = ?";

/*
 * Runs a mark (ack, read) on message id to to; 1 and *src, its sender,
 * when it changed the row, 0 when it did not (unknown, foreign, marked
 * already), -1 on error.  The row is locked by the UPDATE, so the sender
 * read after it is that row's.
 */
static int
db_message_mark(struct db *db, enum db_stmt_id mark_id, const char *mark_sql,
    uint64_t to, uint64_t id, uint64_t *src)
{
	MYSQL_BIND	 params[2], result[1];
	MYSQL_STMT	*st;
	int		 changed;

	memset(params, 0, sizeof(params));
	db_bind_u64(&params[0], &id);
	db_bind_u64(&params[1], &to);
	if ((st = db_exec(db, mark_id, mark_sql, params, NULL)) == NULL)
		return -1;
	changed = mysql_stmt_affected_rows(st) == 1;
	db_done(st);
	if (!changed)
		return 0;
	memset(result, 0, sizeof(result));
	db_bind_u64(&result[0], src);
	/* params[0] is the id, the one placeholder. */
	return db_row(db, DB_MESSAGE_SENDER, sql_message_sender, params,
	    result);
}

/* A connection of to has acked message id. */
int
db_message_ack(struct db *db, uint64_t to, uint64_t id, uint64_t *src)
{
	return db_message_mark(db, DB_MESSAGE_ACK, sql_message_ack, to, id,
	    src);
}

/* Read is delivered and acked too: the person saw it. */
static const char sql_message_read[] =
    "UPDATE messages SET read_at = NOW(3),"
    " acked_at = COALESCE(acked_at, NOW(3)),"
    " delivered_at = COALESCE(delivered_at, NOW(3))"
    " WHERE id = ? AND recipient_id = ? AND read_at IS NULL";

/* The person of to has seen message id (read). */
int
db_message_read(struct db *db, uint64_t to, uint64_t id, uint64_t *src)
{
	return db_message_mark(db, DB_MESSAGE_READ, sql_message_read, to, id,
	    src);
}

/*
 * Many delivery marks in one statement: a batch's written reports name
 * messages of many recipients, and one UPDATE by primary key ranges costs
 * about what one row does.  Every pair still names the recipient, so a
 * track of somebody else's message marks nothing.  Unused pairs repeat
 * the last one; ids are sorted by the caller so that two batches lock
 * rows in the same order and cannot deadlock on them.  The primary key
 * it must be: through messages_undelivered, the statement would take gap
 * locks where other batches insert their recipients' new messages, and
 * each batch would wait for the other (seen under load).
 */
#define MARK_PAIR	"(id = ? AND recipient_id = ?)"
#define MARK_PAIRS4	MARK_PAIR " OR " MARK_PAIR " OR " MARK_PAIR " OR " \
			MARK_PAIR
#define MARK_PAIRS16	MARK_PAIRS4 " OR " MARK_PAIRS4 " OR " MARK_PAIRS4 \
			" OR " MARK_PAIRS4
static const char sql_messages_delivered[] =
    "UPDATE messages FORCE INDEX (PRIMARY) SET delivered_at = NOW(3)"
    " WHERE delivered_at IS NULL AND (" MARK_PAIRS16 ")";

int
db_messages_delivered(struct db *db, const struct mark *marks, size_t n)
{
	MYSQL_BIND	 params[2 * DB_MARKS_PER_STATEMENT];
	MYSQL_STMT	*st;
	size_t		 i, j, k;

	for (i = 0; i < n; i += DB_MARKS_PER_STATEMENT) {
		memset(params, 0, sizeof(params));
		for (j = 0; j < DB_MARKS_PER_STATEMENT; j++) {
			k = i + j < n ? i + j : n - 1;
			db_bind_u64(&params[2 * j], &marks[k].id);
			db_bind_u64(&params[2 * j + 1], &marks[k].account);
		}
		st = db_exec(db, DB_MESSAGES_DELIVERED, sql_messages_delivered,
		    params, NULL);
		if (st == NULL)
			return -1;
		db_done(st);
	}
	return 0;
}

/*
 * A batch's messages, stored together (msgqueue.c): which of the pairs are
 * friends, then the friends' messages by multi-row INSERTs.  Statements
 * have fixed sizes (16, 8, 4, 2, 1 rows), so that each is prepared once;
 * a simple INSERT gets consecutive ids, auto_increment_increment apart,
 * in every lock mode, so the first id names the others.  The friendship
 * rows are share-locked, as INSERT ... SELECT would lock them.
 */
#define FRIEND_PAIR	"(account_id = ? AND friend_id = ?)"
#define FRIEND_PAIRS4	FRIEND_PAIR " OR " FRIEND_PAIR " OR " FRIEND_PAIR \
			" OR " FRIEND_PAIR
#define FRIEND_PAIRS16	FRIEND_PAIRS4 " OR " FRIEND_PAIRS4 " OR " \
			FRIEND_PAIRS4 " OR " FRIEND_PAIRS4
static const char sql_friends_check[] =
    "SELECT account_id, friend_id FROM friendships WHERE " FRIEND_PAIRS16
    " LOCK IN SHARE MODE";

#define MSG_ROW		"(?, ?, ?, ?)"
#define MSG_ROWS2	MSG_ROW ", " MSG_ROW
#define MSG_ROWS4	MSG_ROWS2 ", " MSG_ROWS2
#define MSG_ROWS8	MSG_ROWS4 ", " MSG_ROWS4
#define MSG_ROWS16	MSG_ROWS8 ", " MSG_ROWS8
#define MSG_INSERT	"INSERT INTO messages" \
			" (sender_id, recipient_id, body, created_at) VALUES "
static const struct {
	size_t		 rows;
	enum db_stmt_id	 id;
	const char	*sql;
} sql_messages_insert[] = {
	{ 16, DB_MESSAGES_INSERT16, MSG_INSERT MSG_ROWS16 },
	{ 8, DB_MESSAGES_INSERT8, MSG_INSERT MSG_ROWS8 },
	{ 4, DB_MESSAGES_INSERT4, MSG_INSERT MSG_ROWS4 },
	{ 2, DB_MESSAGES_INSERT2, MSG_INSERT MSG_ROWS2 },
	{ 1, DB_MESSAGES_INSERT1, MSG_INSERT MSG_ROW },
};

static const char sql_autoinc_step[] =
    "SELECT @@auto_increment_increment, @@innodb_autoinc_lock_mode";

/*
 * The rows' foreign keys to users need no check here: the friendship
 * rows just share-locked reference both accounts, and an account can only
 * go (chatctl deluser) through them.  Checking costs two lookups and locks
 * per message.
 */
static const char sql_fk_off[] = "SET SESSION foreign_key_checks = 0";
static const char sql_fk_on[] = "SET SESSION foreign_key_checks = 1";

/*
 * How far apart the ids of one INSERT are (Galera sets it per node), and
 * whether they are that far apart at all: with innodb_autoinc_lock_mode 2
 * (interleaved, which Galera requires) concurrent inserts may take ids in
 * between, so each row goes in by a statement of its own.
 */
static int
db_autoinc_step(struct db *db, uint64_t *step)
{
	MYSQL_BIND	result[2];
	int		mode = 0;

	if (db->autoinc_step == 0) {
		memset(result, 0, sizeof(result));
		db_bind_u64(&result[0], &db->autoinc_step);
		db_bind_int(&result[1], &mode);
		if (db_row(db, DB_AUTOINC_STEP, sql_autoinc_step, NULL,
		    result) != 1)
			db->autoinc_step = 0;
		db->insert_one = mode == 2;
	}
	*step = db->autoinc_step;
	return *step > 0 ? 0 : -1;
}

/* Sets stored[i] for the pairs of ms[off .. off + n) that are friends. */
static int
db_friends_check(struct db *db, const struct message *ms, int *stored,
    size_t n)
{
	MYSQL_BIND	 params[2 * DB_MARKS_PER_STATEMENT], result[2];
	MYSQL_STMT	*st;
	uint64_t	 a = 0, f = 0;
	size_t		 i, j, k;
	int		 rc;

	memset(result, 0, sizeof(result));
	db_bind_u64(&result[0], &a);
	db_bind_u64(&result[1], &f);
	for (i = 0; i < n; i += DB_MARKS_PER_STATEMENT) {
		memset(params, 0, sizeof(params));
		for (j = 0; j < DB_MARKS_PER_STATEMENT; j++) {
			k = i + j < n ? i + j : n - 1;
			db_bind_u64(&params[2 * j], &ms[k].src);
			db_bind_u64(&params[2 * j + 1], &ms[k].dst);
		}
		if ((st = db_exec(db, DB_FRIENDS_CHECK, sql_friends_check,
		    params, result)) == NULL)
			return -1;
		while ((rc = db_fetch(st)) == 1)
			for (k = i; k < n && k < i + DB_MARKS_PER_STATEMENT; k++)
				if (ms[k].src == a && ms[k].dst == f)
					stored[k] = 1;
		db_done(st);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* Inserts rows ms[idx[0..rows)] by one statement; fills their ids. */
static int
db_messages_insert(struct db *db, size_t which, struct message *ms,
    const size_t *idx, const MYSQL_TIME *now, uint64_t step)
{
	MYSQL_BIND	 params[4 * 16];
	MYSQL_TIME	 t = *now;
	MYSQL_STMT	*st;
	unsigned long	 lens[16];
	size_t		 rows = sql_messages_insert[which].rows, r;
	uint64_t	 first;

	memset(params, 0, sizeof(params));
	for (r = 0; r < rows; r++) {
		db_bind_u64(&params[4 * r], &ms[idx[r]].src);
		db_bind_u64(&params[4 * r + 1], &ms[idx[r]].dst);
		db_bind_str(&params[4 * r + 2], ms[idx[r]].body, &lens[r]);
		db_bind_time(&params[4 * r + 3], &t);
	}
	if ((st = db_exec(db, sql_messages_insert[which].id,
	    sql_messages_insert[which].sql, params, NULL)) == NULL)
		return -1;
	first = mysql_stmt_insert_id(st);
	if (mysql_stmt_affected_rows(st) != rows || first == 0) {
		db_done(st);
		log_warnx("%s: %zu rows, not %zu", __func__,
		    (size_t)mysql_stmt_affected_rows(st), rows);
		return -1;
	}
	db_done(st);
	for (r = 0; r < rows; r++) {
		ms[idx[r]].id = first + r * step;
		db_time_format(now, ms[idx[r]].time, sizeof(ms[idx[r]].time));
	}
	return 0;
}

/*
 * Stores each of the n messages ms (src, dst, body) whose sender has its
 * recipient as a friend, in order, filling id and time; stored[i] is 1
 * for those, 0 for the others.  0, or -1 on error.
 */
int
db_messages_add(struct db *db, struct message *ms, int *stored, size_t n)
{
	MYSQL_TIME	 now;
	uint64_t	 step;
	size_t		*idx, friends = 0, done, which, i;
	int		 rc = -1;

	if (n == 0)
		return 0;
	memset(stored, 0, n * sizeof(*stored));
	if (db_autoinc_step(db, &step) == -1 ||
	    db_friends_check(db, ms, stored, n) == -1)
		return -1;
	if ((idx = calloc(n, sizeof(*idx))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (stored[i])
			idx[friends++] = i;
	db_message_now(&now);
	if (friends > 0 && db_plain(db, sql_fk_off) == -1)
		goto fail;
	for (done = 0, which = 0; done < friends;) {
		while (sql_messages_insert[which].rows > friends - done ||
		    (db->insert_one && sql_messages_insert[which].rows > 1))
			which++;
		if (db_messages_insert(db, which, ms, idx + done, &now,
		    step) == -1)
			goto fail;
		done += sql_messages_insert[which].rows;
	}
	rc = 0;
fail:
	if (friends > 0 && db_plain(db, sql_fk_on) == -1)
		rc = -1;
	free(idx);
	return rc;
}
