/*
 * Private to db.c and db-*.c: the MariaDB connection and its prepared
 * statements.  Nothing else includes this file, so handlers never see a
 * MYSQL_* type and unit tests can link a stub db instead.
 */
#ifndef FCGI_APP_DB_H
#define FCGI_APP_DB_H

#include <mysql.h>

#include "fcgi_app.h"

/*
 * One slot per statement in the per-connection cache.  The SQL text stays
 * in its db-*.c file, beside the one function that runs it.
 */
enum db_stmt_id {
	DB_PING,
	DB_ACCOUNT_INSERT,
	DB_ACCOUNT_GET,
	DB_LOGIN_ATTEMPT_ID,
	DB_LOGIN_ATTEMPT_ADDR,
	DB_LOGIN_DELAYED,
	DB_LOGIN_FAILED_ADDR,
	DB_LOGIN_BACKOFF,
	DB_LOGIN_CLEAR_ID,
	DB_LOGIN_RELEASE_ADDR,
	DB_LOGIN_FORGET_ATTEMPTS,
	DB_LOGIN_FORGET_BACKOFF,
	DB_REGISTRATION_ADD,
	DB_FRIEND_ASKS_GET,
	DB_FRIEND_ASK_ADD,
	DB_ACCOUNT_LOCK,
	DB_FRIENDSHIP_GET,
	DB_FRIENDSHIP_PUT,
	DB_FRIENDSHIP_DELETE,
	DB_BLOCK_GET,
	DB_BLOCK_PUT,
	DB_BLOCK_DELETE,
	DB_BLOCKS_COUNT,
	DB_BLOCKS_LIST,
	DB_HISTORY,
	DB_PRESENCE_COUNT,
	DB_MESSAGE_SENDER,
	DB_MESSAGE_READ,
	DB_FRIENDS_LIST,
	DB_REQUEST_GET,
	DB_REQUEST_PUT,
	DB_REQUEST_DELETE,
	DB_REQUESTS_SENT,
	DB_REQUESTS_TO,
	DB_RESULT_ADD,
	DB_RESULTS_WAITING,
	DB_RESULT_DELIVERED,
	DB_MESSAGE_ADD,
	DB_MESSAGES_UNDELIVERED,
	DB_MESSAGES_UNACKED,
	DB_MESSAGE_DELIVERED,
	DB_MESSAGE_ACK,
	DB_MESSAGES_DELIVERED,
	DB_FRIENDS_CHECK,
	DB_AUTOINC_STEP,
	DB_MESSAGES_INSERT16,
	DB_MESSAGES_INSERT8,
	DB_MESSAGES_INSERT4,
	DB_MESSAGES_INSERT2,
	DB_MESSAGES_INSERT1,
	DB_PRESENCE_PUT,
	DB_PRESENCE_DELETE,
	DB_PRESENCE_CLEAR,
	DB_NODE_BEAT,
	DB_NODE_AGE,
	DB_NODE_DEAD,
	DB_NODE_FORGET,
	DB_NODE_CONNS,
	DB_NODE_ACCOUNTS,
	DB_MESSAGE_COUNTS,
	/* chatctl/db-admin.c: never prepared by a worker */
	DB_ADMIN_PASSWORD,
	DB_ADMIN_DISABLED,
	DB_ADMIN_DELETE_COUNT,
	DB_ADMIN_DELETE_RESULTS,
	DB_ADMIN_DELETE_USER,
	DB_ADMIN_PRESENCE,
	DB_PURGE,
	DB_ADMIN_STATS,
	DB_STMT_COUNT
};

struct db {
	const struct config	*cf;
	MYSQL			*conn;	/* NULL while disconnected */
	MYSQL_STMT		*stmt[DB_STMT_COUNT];	/* prepared lazily */
	int			 in_tx;		/* between db_begin and end */
	int			 tx_broken;	/* a statement in it failed */
	int			 tx_deadlock;	/* the last one died in a deadlock */
	int			 batch;		/* in_tx is a batch's */
	int			 savepoint;	/* db_begin() inside a batch */
	uint64_t		 autoinc_step;	/* of this session; 0: unread */
	int			 insert_one;	/* ids of one INSERT may not be
						   autoinc_step apart */
	int			 target;	/* db_target() connected last */
	void			(*timer)(void *, int, double); /* or NULL */
	void			*timer_arg;
};

MYSQL_STMT	*db_exec(struct db *, enum db_stmt_id, const char *sql,
		    MYSQL_BIND *params, MYSQL_BIND *result);
int		 db_run_ids(struct db *, enum db_stmt_id, const char *sql,
		    uint64_t, uint64_t);
int		 db_row(struct db *, enum db_stmt_id, const char *sql,
		    MYSQL_BIND *params, MYSQL_BIND *result);
int		 db_fetch(MYSQL_STMT *);
int		 db_plain(struct db *, const char *sql);
void		 db_done(MYSQL_STMT *);
void		 db_bind_u64(MYSQL_BIND *, const uint64_t *);
void		 db_bind_int(MYSQL_BIND *, int *);
void		 db_bind_str(MYSQL_BIND *, const char *, unsigned long *len);
void		 db_bind_buf(MYSQL_BIND *, char *, size_t, unsigned long *len);
void		 db_bind_time(MYSQL_BIND *, MYSQL_TIME *);
void		 db_time_format(const MYSQL_TIME *, char *, size_t);
struct friend;
int		 db_friends_collect(MYSQL_STMT *, struct friend *,
		    unsigned long *nlen, struct friend **, size_t *);

#endif
