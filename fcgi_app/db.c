/*
 * The worker's one MariaDB connection: connect, reconnect, and running a
 * cached prepared statement.  Reconnection is explicit, not the client
 * library's: when the server has gone, every statement handle is dead, so
 * all are closed, the connection is made again, the statement re-prepared
 * and run once more.
 *
 * The retry is safe for single statements under autocommit only.  Inside
 * an explicit transaction (db_begin() .. db_commit()) a lost connection
 * takes the transaction's earlier statements with it, so nothing is
 * retried: the transaction is marked broken, every later statement and the
 * commit fail, and the caller answers "server error" (nothing was done).
 *
 * A batch (db_batch_begin() .. db_batch_commit()) is one transaction
 * around the handlers of many events, so that they share one commit.  A
 * handler's own db_begin() inside it is a savepoint, so the handler can
 * still undo its part alone.  Only an error that ends the whole
 * transaction (a deadlock, a lost connection) breaks a batch: any other
 * failed statement did nothing, and fails only the handler that ran it.
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "db.h"
#include "log.h"
#include "shared.h"

/* Seconds; a hung server must not hold a worker forever. */
#define DB_CONNECT_TIMEOUT	5
#define DB_IO_TIMEOUT		30

static const char db_init_sql[] = "SET time_zone = '+00:00'";

static const char sql_ping[] = "SELECT 1";

/* Texts without values, so plain queries rather than prepared ones. */
static const char sql_begin[] = "START TRANSACTION";
static const char sql_savepoint[] = "SAVEPOINT handler";
static const char sql_savepoint_release[] = "RELEASE SAVEPOINT handler";
static const char sql_savepoint_rollback[] = "ROLLBACK TO SAVEPOINT handler";

/* Once in the master, before any fork. */
int
db_library_init(void)
{
	return mysql_library_init(0, NULL, NULL) == 0 ? 0 : -1;
}

void
db_library_end(void)
{
	mysql_library_end();
}

static void
db_disconnect(struct db *db)
{
	int	i;

	for (i = 0; i < DB_STMT_COUNT; i++) {
		if (db->stmt[i] != NULL)
			mysql_stmt_close(db->stmt[i]);
		db->stmt[i] = NULL;
	}
	if (db->conn != NULL)
		mysql_close(db->conn);
	db->conn = NULL;
	db->autoinc_step = 0;
}

/*
 * The n-th server a worker may use: db_socket (or db_host:db_port), then
 * each word of db_fallback, a socket path or host:port.  0 when there is
 * no n-th.
 */
static int
db_target(const struct config *cf, int n, char *host, size_t hostsz,
    unsigned int *port, const char **sock, char *sockbuf, size_t socksz)
{
	const char	*p = cf->db_fallback, *colon;
	size_t		 len;
	int		 i;

	*sock = NULL;
	*port = 0;
	if (n == 0) {
		if (cf->db_socket[0] != '\0')
			*sock = cf->db_socket;
		else {
			snprintf(host, hostsz, "%s", cf->db_host);
			*port = (unsigned int)cf->db_port;
		}
		return 1;
	}
	for (i = 0;; i++) {
		p += strspn(p, " \t");
		if (*p == '\0')
			return 0;
		len = strcspn(p, " \t");
		if (i + 1 == n)
			break;
		p += len;
	}
	if (*p == '/') {
		if (len >= socksz)
			return 0;
		memcpy(sockbuf, p, len);
		sockbuf[len] = '\0';
		*sock = sockbuf;
		return 1;
	}
	colon = memchr(p, ':', len);
	if (colon == NULL || (size_t)(colon - p) >= hostsz)
		return 0;
	memcpy(host, p, colon - p);
	host[colon - p] = '\0';
	*port = (unsigned int)strtoul(colon + 1, NULL, 10);
	return *port > 0 && *port <= 65535;
}

/*
 * On a Galera node: the session waits for the cluster's earlier commits
 * (db_sync_wait), and a node that is not part of the primary component
 * (wsrep_ready OFF: it refuses every statement) is no use.  -1 for such
 * a node; a server without wsrep passes.
 */
static int
db_galera_session(struct db *db)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	char		 sql[64];
	int		 on = 0, ready = 1;

	if (mysql_query(db->conn, "SELECT @@wsrep_on") != 0) {
		/* No such variable: not a MariaDB with wsrep. */
		return 0;
	}
	if ((res = mysql_store_result(db->conn)) == NULL)
		return -1;
	if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL)
		on = strcmp(row[0], "1") == 0;
	mysql_free_result(res);
	if (!on)
		return 0;
	if (mysql_query(db->conn, "SHOW STATUS LIKE 'wsrep_ready'") != 0 ||
	    (res = mysql_store_result(db->conn)) == NULL)
		return -1;
	if ((row = mysql_fetch_row(res)) != NULL && row[1] != NULL)
		ready = strcmp(row[1], "ON") == 0;
	mysql_free_result(res);
	if (!ready) {
		log_warnx("database: this Galera node is not ready");
		return -1;
	}
	/*
	 * A plain query: SET takes no placeholder in every server version,
	 * and the value is an int the config table bounds to 0..15.
	 */
	snprintf(sql, sizeof(sql), "SET SESSION wsrep_sync_wait = %d",
	    db->cf->db_sync_wait);
	return mysql_query(db->conn, sql) == 0 ? 0 : -1;
}

/* Connects to server n (db_target()); -1 if it cannot be used. */
static int
db_connect_to(struct db *db, int n)
{
	const struct config	*cf = db->cf;
	unsigned int		 timeout = DB_CONNECT_TIMEOUT;
	unsigned int		 io = DB_IO_TIMEOUT;
	unsigned int		 port;
	my_bool			 no = 0;
	const char		*sock;
	char			 host[256], sockbuf[SOCKET_PATH_MAX];

	if (!db_target(cf, n, host, sizeof(host), &port, &sock, sockbuf,
	    sizeof(sockbuf)))
		return -1;
	if ((db->conn = mysql_init(NULL)) == NULL)
		return -1;
	mysql_options(db->conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* Times are UTC in every session, whatever the server's zone. */
	mysql_options(db->conn, MYSQL_INIT_COMMAND, db_init_sql);
	mysql_options(db->conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(db->conn, MYSQL_OPT_READ_TIMEOUT, &io);
	mysql_options(db->conn, MYSQL_OPT_WRITE_TIMEOUT, &io);
	mysql_options(db->conn, MYSQL_OPT_RECONNECT, &no);
	if (mysql_real_connect(db->conn, sock != NULL ? NULL : host,
	    cf->db_user, cf->db_password, cf->db_name, port, sock, 0) == NULL ||
	    db_galera_session(db) == -1) {
		log_warnx("database %s: %s", sock != NULL ? sock : host,
		    mysql_error(db->conn));
		mysql_close(db->conn);
		db->conn = NULL;
		return -1;
	}
	if (n != db->target)
		log_info("database: now on %s", sock != NULL ? sock : host);
	db->target = n;
	return 0;
}

/* How many servers db_target() names: 1 and the words of db_fallback. */
static int
db_targets(const struct config *cf)
{
	const char	*p = cf->db_fallback;
	int		 n = 1;

	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			return n;
		p += strcspn(p, " \t");
		n++;
	}
}

/*
 * The server used last first, then the others in their order: a worker
 * whose Galera node has gone goes on with the next and stays there.
 */
static int
db_connect(struct db *db)
{
	int	count = db_targets(db->cf), i;

	for (i = 0; i < count; i++)
		if (db_connect_to(db, (db->target + i) % count) == 0)
			return 0;
	return -1;
}

/*
 * Never fails for a database that is down: the worker starts anyway and
 * connects at its first request (and /api/health says 503 meanwhile).
 */
struct db *
db_open(const struct config *cf)
{
	struct db	*db;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	db->cf = cf;
	(void)db_connect(db);
	return db;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	db_disconnect(db);
	free(db);
}

/*
 * Whether err means the connection is gone and a new one may work: also
 * a Galera node that has left the primary component, which answers every
 * statement with 1047 until it is back (another node may serve now).
 */
static int
db_lost(unsigned int err)
{
	return err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST ||
	    err == ER_CONNECTION_KILLED || err == ER_UNKNOWN_COM_ERROR;
}

/* Whether err ended the whole transaction, not only its statement. */
static int
db_tx_ended(unsigned int err)
{
	return err == ER_LOCK_DEADLOCK || db_lost(err) ||
	    err == CR_CONNECTION_ERROR;
}

/*
 * One attempt: connect if needed, prepare if needed, bind, execute, and
 * buffer the result.  Returns the mysql error number, 0 on success.
 */
static int	db_savepoint(struct db *, const char *);

static unsigned int
db_try(struct db *db, enum db_stmt_id id, const char *sql,
    MYSQL_BIND *params, MYSQL_BIND *result)
{
	MYSQL_STMT	*st;

	if (db->conn == NULL && db_connect(db) == -1)
		return CR_CONNECTION_ERROR;
	if ((st = db->stmt[id]) == NULL) {
		if ((st = mysql_stmt_init(db->conn)) == NULL)
			return CR_OUT_OF_MEMORY;
		db->stmt[id] = st;
		if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0)
			goto fail;
	}
	if (params != NULL && mysql_stmt_bind_param(st, params) != 0)
		goto fail;
	if (mysql_stmt_execute(st) != 0)
		goto fail;
	if (result != NULL && (mysql_stmt_bind_result(st, result) != 0 ||
	    mysql_stmt_store_result(st) != 0))
		goto fail;
	return 0;
fail:
	log_warnx("database: %s", mysql_stmt_error(st));
	return mysql_stmt_errno(st) != 0 ? mysql_stmt_errno(st) : CR_UNKNOWN_ERROR;
}

/*
 * Whoever wants the time each statement and commit took (the workers'
 * /metrics) is called with it; chatctl and the benchmark set none.
 */
void
db_set_timer(struct db *db, void (*timer)(void *, int, double), void *arg)
{
	db->timer = timer;
	db->timer_arg = arg;
}

static void
db_timed(struct db *db, int kind, double start)
{
	if (db->timer != NULL)
		db->timer(db->timer_arg, kind, clock_now() - start);
}

static MYSQL_STMT *
db_exec_untimed(struct db *db, enum db_stmt_id id, const char *sql,
    MYSQL_BIND *params, MYSQL_BIND *result)
{
	unsigned int	err;
	int		tries;

	if (db->in_tx && (db->tx_broken || db->conn == NULL))
		return NULL;
	for (tries = 0; tries < 2; tries++) {
		if ((err = db_try(db, id, sql, params, result)) == 0)
			return db->stmt[id];
		if (!db_lost(err) || db->in_tx) {
			if (db->in_tx && (!db->batch || db_tx_ended(err)))
				db->tx_broken = 1;
			if (db->in_tx && err == ER_LOCK_DEADLOCK)
				db->tx_deadlock = 1;
			/* Prepared again next time, in case it is the cause. */
			if (db->stmt[id] != NULL)
				mysql_stmt_close(db->stmt[id]);
			db->stmt[id] = NULL;
			if (db_lost(err))
				db_disconnect(db);
			return NULL;
		}
		log_info("database connection lost");
		db_disconnect(db);
	}
	return NULL;
}

/*
 * Runs statement id (text sql) with params bound; with result, binds it
 * and buffers the rows for db_fetch().  A lost connection is made again and
 * the statement run once more.  Returns the statement, or NULL on failure.
 * The caller ends with db_done().
 */
MYSQL_STMT *
db_exec(struct db *db, enum db_stmt_id id, const char *sql,
    MYSQL_BIND *params, MYSQL_BIND *result)
{
	MYSQL_STMT	*st;
	double		 start = clock_now();

	st = db_exec_untimed(db, id, sql, params, result);
	db_timed(db, DB_TIME_STATEMENT, start);
	return st;
}

/*
 * Starts a transaction.  Nothing has been done in it yet, so a lost
 * connection is made again and the start tried once more.
 */
int
db_begin(struct db *db)
{
	unsigned int	err = 0;
	int		tries;

	if (db->batch)
		return db_savepoint(db, sql_savepoint);
	/* START TRANSACTION would silently commit a transaction left open. */
	if (db->in_tx) {
		log_warnx("%s: a transaction was left open", __func__);
		db_rollback(db);
	}
	for (tries = 0; tries < 2; tries++) {
		if (db->conn == NULL && db_connect(db) == -1)
			return -1;
		if (mysql_real_query(db->conn, sql_begin,
		    sizeof(sql_begin) - 1) == 0) {
			db->in_tx = 1;
			db->tx_broken = 0;
			db->tx_deadlock = 0;
			return 0;
		}
		err = mysql_errno(db->conn);
		log_warnx("database: %s", mysql_error(db->conn));
		db_disconnect(db);
		if (!db_lost(err))
			return -1;
	}
	return -1;
}

/*
 * Commits; -1 if the transaction broke or the commit failed, in which case
 * it has been rolled back (or its connection is gone, which also rolls it
 * back, unless the server committed just before losing us: a retrying
 * client may then store a message twice, as at-least-once allows).
 */
int
db_commit(struct db *db)
{
	int	broken = db->tx_broken, rc;
	double	start;

	if (db->batch) {
		if (!db->savepoint)
			return -1;
		db->savepoint = 0;
		return db_savepoint(db, sql_savepoint_release);
	}
	if (!db->in_tx)
		return -1;
	if (!broken && db->conn != NULL) {
		start = clock_now();
		rc = mysql_commit(db->conn);
		db_timed(db, DB_TIME_COMMIT, start);
		if (rc == 0) {
			db->in_tx = 0;
			return 0;
		}
	}
	if (!broken && db->conn != NULL) {
		log_warnx("database: commit: %s", mysql_error(db->conn));
		db->tx_deadlock = mysql_errno(db->conn) == ER_LOCK_DEADLOCK;
	}
	db_rollback(db);
	return -1;
}

/* Ends a transaction without its changes; safe after a failed commit. */
void
db_rollback(struct db *db)
{
	if (db->batch) {
		if (db->savepoint)
			(void)db_savepoint(db, sql_savepoint_rollback);
		db->savepoint = 0;
		return;
	}
	if (!db->in_tx)
		return;
	db->in_tx = 0;
	db->tx_broken = 0;
	if (db->conn == NULL || mysql_rollback(db->conn) == 0)
		return;
	log_warnx("database: rollback: %s", mysql_error(db->conn));
	/* A connection in an unknown state is not used again. */
	db_disconnect(db);
}

/*
 * Whether the transaction just ended failed because InnoDB chose it as a
 * deadlock's victim: it was rolled back whole and may simply run again.
 */
int
db_tx_deadlocked(const struct db *db)
{
	/* Inside a batch the whole batch runs again, not one handler. */
	return db->tx_deadlock && !db->batch;
}

/*
 * A plain statement of the batch's transaction (a savepoint's).  A
 * failure breaks the batch: its savepoint may no longer exist.
 */
static int
db_savepoint(struct db *db, const char *sql_text)
{
	if (db->tx_broken || db->conn == NULL)
		return -1;
	if (sql_text == sql_savepoint)
		db->savepoint = 1;
	if (mysql_real_query(db->conn, sql_text, strlen(sql_text)) == 0)
		return 0;
	log_warnx("database: %s", mysql_error(db->conn));
	db->tx_broken = 1;
	db->tx_deadlock = mysql_errno(db->conn) == ER_LOCK_DEADLOCK;
	return -1;
}

/*
 * A statement without values or result (a session setting) on the
 * connection as it is: 0, or -1.  Inside a transaction a failure that
 * ended it breaks it, as any statement's would.
 */
int
db_plain(struct db *db, const char *sql_text)
{
	unsigned int	err;

	if (db->conn == NULL || (db->in_tx && db->tx_broken))
		return -1;
	if (mysql_real_query(db->conn, sql_text, strlen(sql_text)) == 0)
		return 0;
	err = mysql_errno(db->conn);
	log_warnx("database: %s", mysql_error(db->conn));
	if (db->in_tx && db_tx_ended(err))
		db->tx_broken = 1;
	if (err == ER_LOCK_DEADLOCK)
		db->tx_deadlock = 1;
	return -1;
}

/* Starts the one transaction of a batch. */
int
db_batch_begin(struct db *db)
{
	db->batch = 0;
	db->savepoint = 0;
	if (db_begin(db) == -1)
		return -1;
	db->batch = 1;
	return 0;
}

/* Commits a batch; -1 (rolled back) if it broke or the commit failed. */
int
db_batch_commit(struct db *db)
{
	db->batch = 0;
	db->savepoint = 0;
	return db_commit(db);
}

/* Ends a batch without its changes; db_batch_deadlocked() says why. */
void
db_batch_rollback(struct db *db)
{
	db->batch = 0;
	db->savepoint = 0;
	db_rollback(db);
}

/* Whether the batch just ended was a deadlock's victim: run it again. */
int
db_batch_deadlocked(const struct db *db)
{
	return db->tx_deadlock;
}

/*
 * db_exec() of a statement with two id parameters and no result (most
 * UPDATEs and DELETEs name a row and the account it must belong to):
 * 0, or -1 on error.
 */
int
db_run_ids(struct db *db, enum db_stmt_id id, const char *sql, uint64_t a,
    uint64_t b)
{
	MYSQL_BIND	 params[2];
	MYSQL_STMT	*st;

	memset(params, 0, sizeof(params));
	db_bind_u64(&params[0], &a);
	db_bind_u64(&params[1], &b);
	st = db_exec(db, id, sql, params, NULL);
	db_done(st);
	return st == NULL ? -1 : 0;
}

/*
 * db_exec() of a statement that yields at most one row, fetched into
 * result: 1 for a row, 0 for none, -1 on error.
 */
int
db_row(struct db *db, enum db_stmt_id id, const char *sql, MYSQL_BIND *params,
    MYSQL_BIND *result)
{
	MYSQL_STMT	*st;
	int		 found;

	if ((st = db_exec(db, id, sql, params, result)) == NULL)
		return -1;
	found = db_fetch(st);
	db_done(st);
	return found;
}

/* 1 for a row, 0 at the end, -1 on error. */
int
db_fetch(MYSQL_STMT *st)
{
	switch (mysql_stmt_fetch(st)) {
	case 0:
		return 1;
	case MYSQL_NO_DATA:
		return 0;
	case MYSQL_DATA_TRUNCATED:
		log_warnx("database: a column did not fit its buffer");
		return -1;
	default:
		log_warnx("database: %s", mysql_stmt_error(st));
		return -1;
	}
}

/* Releases a statement's buffered result, keeping it prepared. */
void
db_done(MYSQL_STMT *st)
{
	if (st == NULL)
		return;
	mysql_stmt_free_result(st);
}

/* 0 when the database answers a query. */
int
db_ping(struct db *db)
{
	MYSQL_BIND	 result[1];
	MYSQL_STMT	*st;
	int		 one = 0, rc;

	memset(result, 0, sizeof(result));
	db_bind_int(&result[0], &one);
	if ((st = db_exec(db, DB_PING, sql_ping, NULL, result)) == NULL)
		return -1;
	rc = db_fetch(st) == 1 && one == 1 ? 0 : -1;
	db_done(st);
	return rc;
}

void
db_bind_u64(MYSQL_BIND *b, const uint64_t *v)
{
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = (void *)(uintptr_t)v;
	b->is_unsigned = 1;
}

void
db_bind_int(MYSQL_BIND *b, int *v)
{
	b->buffer_type = MYSQL_TYPE_LONG;
	b->buffer = v;
}

/* An input string; *len must hold its length when the statement runs. */
void
db_bind_str(MYSQL_BIND *b, const char *s, unsigned long *len)
{
	*len = strlen(s);
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = (void *)(uintptr_t)s;
	b->buffer_length = *len;
	b->length = len;
}

/* An output string into buf; the caller NUL-ends it at *len. */
void
db_bind_buf(MYSQL_BIND *b, char *buf, size_t size, unsigned long *len)
{
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = buf;
	b->buffer_length = size;
	b->length = len;
}

/* A DATETIME input or output. */
void
db_bind_time(MYSQL_BIND *b, MYSQL_TIME *t)
{
	b->buffer_type = MYSQL_TYPE_DATETIME;
	b->buffer = t;
	b->buffer_length = sizeof(*t);
}

/* t (UTC, as every session's time zone is) in ISO 8601: TIME_STR_SIZE. */
void
db_time_format(const MYSQL_TIME *t, char *buf, size_t size)
{
	snprintf(buf, size, "%04u-%02u-%02uT%02u:%02u:%02uZ", t->year % 10000,
	    t->month % 100, t->day % 100, t->hour % 100, t->minute % 100,
	    t->second % 100);
}
