/*
 * fcgi_app: the FastCGI workers that run every command.  All types and
 * prototypes, grouped by the file that defines them.
 *
 * A request comes from the push daemon (one client packet or a connection
 * event, docs/ARCHITECTURE.md) or from nginx (/api).  A packet goes through
 * cmd_dispatch(), the one gate, to a handler in cmd-*.c; handlers read
 * fields with packet_get_*(), touch the database only through db_*() and
 * answer only through reply_*().
 */
#ifndef FCGI_APP_H
#define FCGI_APP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <cJSON.h>

#include "config.h"
#include "limits.h"

struct db;
struct friend_request;
struct friend_result;

/*
 * Who sent a packet, as the daemon told us (CHAT_* params).  For /api
 * requests conn_id and account are 0 and remote_addr is nginx's
 * REMOTE_ADDR.
 */
struct session {
	uint64_t	 conn_id;		/* 0: an HTTP request */
	uint64_t	 account;		/* bound account, 0 if none */
	int		 ack_mode;		/* bound with "ack": true */
	char		 remote_addr[64];	/* client address, may be "" */
	char		 node[64];		/* the daemon's node_name */
	char		 transport[8];		/* "ws", "tcp", or "" */
};

struct mark;
struct stats;
struct relay;

/* A node_name, NUL included. */
#define NODE_NAME_SIZE		64

/* What one worker process holds; owned by worker.c. */
struct app {
	const struct config	*cf;
	struct stats		*stats;		/* the master's shared page */
	struct db		*db;		/* one connection per worker */
	struct msgqueue		*messages;	/* owned; NULL: no batch */
	struct relay		*relay;		/* owned; NULL: not a batch
						   worker */
	struct mark		*marks;		/* owned: the batch's marks */
	size_t			 nmarks;
	size_t			 marks_size;
};

/* request.c: an HTTP request from nginx (/api/) */
struct request {
	struct session		 session;	/* no conn, no account */
	char			 method[16];	/* REQUEST_METHOD */
	char			 path[256];	/* DOCUMENT_URI or SCRIPT_NAME */
	char			 body[PACKET_MAX + 2]; /* NUL-ended */
	size_t			 body_len;
	int			 body_too_large; /* more than PACKET_MAX */
};

struct FCGX_Request;
int	 request_read(struct FCGX_Request *, struct request *,
	    const char **errstr);
char	*request_read_batch(struct FCGX_Request *, size_t *len,
	    const char **errstr);
int	 request_answer(struct FCGX_Request *, int status, const char *allow,
	    const char *type, const char *body, size_t len);

/* utf8.c */
int	 utf8_valid(const char *, size_t);
int	 utf8_escapes_valid(const char *, size_t);
size_t	 utf8_count(const char *);
int	 utf8_has_control(const char *);

/* packet.c */
enum packet_id {
	PACKET_ID_OK,
	PACKET_ID_BAD_VALUE,		/* right type, not an account id */
	PACKET_ID_BAD_TYPE,		/* missing, or not a string/number */
};
cJSON		*packet_parse(const char *, size_t, const char **detail);
enum packet_id	 packet_item_id(const cJSON *, uint64_t *);
const char	*packet_command(const cJSON *);
const char	*packet_get_str(const cJSON *, const char *name);
enum packet_id	 packet_get_id(const cJSON *, const char *name, uint64_t *);
int		 packet_get_bool(const cJSON *, const char *name, int *);
int		 packet_id_parse(const char *, uint64_t *);
const char	*packet_check_username(const char *);

/* reply.c: the outbox, turned into the daemon's {"actions":[...]} */
struct reply;
struct reply	*reply_new(void);
void		 reply_free(struct reply *);
void		 reply_clear(struct reply *);
int		 reply_count(const struct reply *);
void		 reply_truncate(struct reply *, int mark);
int		 reply_self(struct reply *, cJSON *);
int		 reply_account(struct reply *, uint64_t, cJSON *);
int		 reply_others(struct reply *, uint64_t, cJSON *);
int		 reply_send_track(struct reply *, uint64_t account, cJSON *,
		    const char *track);
int		 reply_send_tracked(struct reply *, uint64_t account, cJSON *,
		    char kind, uint64_t id);
int		 reply_fetch(struct reply *, uint64_t after);
int		 reply_fetch_all(struct reply *);
int		 reply_bind(struct reply *, uint64_t, int ack);
int		 reply_unbind(struct reply *);
int		 reply_close(struct reply *);
int		 reply_return(struct reply *, const char *cmd,
		    const char *detail);
int		 reply_error(struct reply *, const char *detail);
const char	*reply_self_data(const struct reply *);
char		*reply_render(const struct reply *);
int		 reply_attach(const struct reply *, cJSON *);
const cJSON	*reply_actions(const struct reply *);
int		 reply_binding(const struct reply *, uint64_t *account,
		    int *ack);

/* cmd.c: the command table and the gate */
enum cmd_retval {
	CMD_OK,				/* answered: success */
	CMD_FAIL,			/* answered: a PROTOCOL.md detail */
	CMD_ERROR,			/* internal fault, logged, unanswered */
	CMD_REJECT,			/* gate only: an error packet sent */
};

#define CMD_LOGGED_IN	0x1		/* refused before login */
#define CMD_SILENT	0x2		/* never answered, even to refuse */
#define CMD_AFTER_SENDS	0x4		/* the batch's earlier sends first */

enum cmd_field_type {
	FIELD_STRING,
	FIELD_ID,			/* decimal string or integer number */
	FIELD_BOOL,
};

#define FIELD_OPTIONAL	0x1

struct cmd_field {
	const char		*name;
	enum cmd_field_type	 type;
	int			 flags;
};

struct cmd_ctx;
struct cmd_entry {
	const char		*name;
	int			 flags;
	const char		*self;	/* field that must be the session's */
	const struct cmd_field	*fields; /* typed by the gate; NULL-ended */
	enum cmd_retval		(*exec)(struct cmd_ctx *);
};

struct cmd_ctx {
	const struct cmd_entry	*entry;
	const struct session	*session;
	const cJSON		*packet;	/* owned by the caller */
	struct reply		*reply;		/* owned by the caller */
	struct app		*app;
};

extern const struct cmd_entry	cmd_logon_entry;
extern const struct cmd_entry	cmd_login_entry;
extern const struct cmd_entry	cmd_logout_entry;
extern const struct cmd_entry	cmd_add_friend_entry;
extern const struct cmd_entry	cmd_add_friend_confirm_entry;
extern const struct cmd_entry	cmd_list_friend_entry;
extern const struct cmd_entry	cmd_send_message_entry;
extern const struct cmd_entry	cmd_ack_entry;
extern const struct cmd_entry	cmd_remove_friend_entry;
extern const struct cmd_entry	cmd_cancel_friend_entry;
extern const struct cmd_entry	cmd_block_entry;
extern const struct cmd_entry	cmd_unblock_entry;
extern const struct cmd_entry	cmd_list_blocked_entry;
extern const struct cmd_entry	cmd_history_entry;
extern const struct cmd_entry	cmd_read_entry;

const struct cmd_entry	*cmd_find(const char *);
enum cmd_retval	 cmd_dispatch(struct app *, const struct session *,
		    const char *body, size_t len, struct reply *);
enum cmd_retval	 cmd_run(struct app *, const struct session *,
		    const struct cmd_entry *, const cJSON *, struct reply *);
void		 cmd_refuse(const char *body, size_t len, const char *detail,
		    struct reply *);
enum cmd_retval	 cmd_success(struct cmd_ctx *);
enum cmd_retval	 cmd_fail(struct cmd_ctx *, const char *detail);
enum cmd_retval	 cmd_transaction(struct cmd_ctx *,
		    enum cmd_retval (*)(struct cmd_ctx *));

/* friend.c: what add_friend and add_friend_confirm share */
int		 friend_status_parse(const char *, int *);
int		 friend_lock(struct db *, uint64_t, uint64_t, int *found_b,
		    char *username_a);
int		 friend_make(struct db *, const struct friend_request *,
		    int answer_status, uint64_t *result_id);
int		 friend_notify(struct reply *, const struct friend_result *,
		    uint64_t answerer);
int		 friend_notice(struct reply *, const char *cmd, uint64_t src,
		    uint64_t dst, const uint64_t *to, size_t n);
int		 friend_end(struct db *, struct reply *, uint64_t, uint64_t);

/* api.c: an HTTP answer; body is owned by the caller of api_handle() */
struct api_answer {
	int		 status;
	const char	*allow;		/* methods, for a 405 */
	const char	*type;		/* Content-Type; NULL: JSON */
	char		*body;
	size_t		 len;		/* 0: strlen(body) */
};
int	 api_handle(struct app *, const struct request *,
	    struct api_answer *);

/* auth.c: argon2id and the checks around it */
#define AUTH_HASH_MAX	128		/* crypto_pwhash_STRBYTES */
int	 auth_init(const struct config *);
int	 auth_hash(const struct config *, const char *, char *out);
int	 auth_verify(const char *hash, const char *password);

/* db.c, db-*.c: handlers see nothing but these */
#define USERNAME_SIZE	(32 * 4 + 1)	/* 32 code points of UTF-8, NUL */
#define TIME_STR_SIZE	21		/* "YYYY-MM-DDTHH:MM:SSZ", NUL */

struct account {
	uint64_t	id;
	char		username[USERNAME_SIZE];
	char		hash[AUTH_HASH_MAX];
	int		disabled;
};

/* db_set_timer(): what a timing is of */
#define DB_TIME_STATEMENT	0
#define DB_TIME_COMMIT		1

int		 db_library_init(void);
void		 db_library_end(void);
/*
 * What one login attempt is up against (db-throttle.c): counts of the
 * current minute, this attempt included.
 */
struct login_count {
	int		id_addr;		/* this id from this address */
	int		addr;			/* this address, any id; 0: "" */
	int		delayed;		/* held back by the id's backoff */
};

struct db	*db_open(const struct config *);
void		 db_close(struct db *);
void		 db_set_timer(struct db *, void (*)(void *, int, double),
		    void *);
int		 db_message_counts(struct db *, uint64_t *stored,
		    uint64_t *waiting);
int		 db_ping(struct db *);
/* db-purge.c: chatctl purge and message_retention_days (retention.c). */
int		 db_messages_purge(struct db *, const int before[6], int limit,
		    uint64_t *deleted);
int		 db_account_create(struct db *, const char *username,
		    const char *hash, uint64_t *id);
int		 db_account_get(struct db *, uint64_t, struct account *);
int		 db_login_attempt(struct db *, uint64_t, const char *addr,
		    struct login_count *);
int		 db_login_failed(struct db *, uint64_t, const char *addr);
int		 db_login_succeeded(struct db *, uint64_t, const char *addr);
int		 db_login_failures_clear(struct db *, uint64_t);
int		 db_registration_add(struct db *, const char *addr,
		    int *count);
int		 db_friend_asks(struct db *, uint64_t from, int *minute,
		    int *day);
int		 db_friend_ask_add(struct db *, uint64_t from);
int		 db_begin(struct db *);
int		 db_commit(struct db *);
void		 db_rollback(struct db *);
int		 db_tx_deadlocked(const struct db *);
int		 db_batch_begin(struct db *);
int		 db_batch_commit(struct db *);
void		 db_batch_rollback(struct db *);
int		 db_batch_deadlocked(const struct db *);
int		 db_account_lock(struct db *, uint64_t, char *username);

/* One entry of a friend list; friendlist.c splits them into packets. */
struct friend {
	uint64_t	id;
	char		username[USERNAME_SIZE];
	int		status;			/* 0 normal, 1 special follow */
	int		online;			/* a presence row exists */
};

/* A pending request, as its recipient is sent it. */
struct friend_request {
	uint64_t	id;			/* new at each ask: "q<id>" */
	uint64_t	from;
	uint64_t	to;
	int		status;			/* from's view of to */
	char		username[USERNAME_SIZE]; /* from's */
};

/* The answer to a request, stored for the requester (src). */
struct friend_result {
	uint64_t	id;
	uint64_t	src;			/* who asked */
	uint64_t	dst;			/* who answered */
	int		confirmed;		/* 0: rejected */
};

/* A message; body is owned by whoever fills the struct. */
struct message {
	uint64_t	 id;
	uint64_t	 src;
	uint64_t	 dst;
	char		 time[TIME_STR_SIZE];
	const char	*body;
};

/* A connection logged in at node, as list_friend's "online" sees it. */
struct presence {
	const char	*node;
	uint64_t	 conn_id;
	uint64_t	 account;
	int		 ack_mode;
	const char	*transport;
};

int	 db_friendship_get(struct db *, uint64_t, uint64_t, int *status);
int	 db_friendship_put(struct db *, uint64_t, uint64_t, int status);
int	 db_friendship_delete(struct db *, uint64_t, uint64_t);
int	 db_friends_list(struct db *, uint64_t, struct friend **, size_t *);
/* db-block.c: who blocks whom (sql/007-blocks.sql) */
int	 db_block_get(struct db *, uint64_t account, uint64_t blocked);
int	 db_block_put(struct db *, uint64_t account, uint64_t blocked);
int	 db_block_delete(struct db *, uint64_t account, uint64_t blocked);
int	 db_blocks_count(struct db *, uint64_t account, int *count);
int	 db_blocks_list(struct db *, uint64_t account, struct friend **,
	    size_t *);
int	 db_request_get(struct db *, uint64_t from, uint64_t to, int *status);
int	 db_request_put(struct db *, struct friend_request *);
int	 db_request_delete(struct db *, uint64_t from, uint64_t to);
int	 db_requests_sent(struct db *, uint64_t from, int *count);
int	 db_requests_to(struct db *, uint64_t to,
	    int (*)(void *, const struct friend_request *), void *);
int	 db_result_add(struct db *, uint64_t to, const struct friend_result *,
	    uint64_t *id);
int	 db_results_waiting(struct db *, uint64_t to,
	    int (*)(void *, const struct friend_result *), void *);
int	 db_result_delivered(struct db *, uint64_t to, uint64_t id);
int	 db_message_add(struct db *, struct message *);
int	 db_messages_add(struct db *, struct message *, int *stored,
	    size_t);
int	 db_messages_waiting(struct db *, uint64_t to, int acked,
	    uint64_t after, int limit,
	    int (*)(void *, const struct message *), void *);
int	 db_message_delivered(struct db *, uint64_t to, uint64_t id);
int	 db_message_ack(struct db *, uint64_t to, uint64_t id,
	    uint64_t *src);
int	 db_message_read(struct db *, uint64_t to, uint64_t id,
	    uint64_t *src);
/* db-history.c */
struct history_item;
int	 db_history(struct db *, uint64_t account, uint64_t with,
	    uint64_t before, int limit, struct history_item *, char *bodies,
	    int *n);

/*
 * A message written to a connection of account: to be marked delivered,
 * and src told so in reply (the written event's) once it is.
 */
struct mark {
	uint64_t	 id;
	uint64_t	 account;
	uint64_t	 src;			/* 0: not known, no receipt */
	struct reply	*reply;
};
#define DB_MARKS_PER_STATEMENT	16
int	 db_messages_delivered(struct db *, const struct mark *, size_t);
int	 db_presence_put(struct db *, const struct presence *);
int	 db_presence_delete(struct db *, const char *node, uint64_t conn_id);
int	 db_presence_count(struct db *, uint64_t account, int *count);
int	 db_presence_clear(struct db *, const char *node);

/* db-node.c: the nodes alive, and where accounts are connected */
int	 db_node_beat(struct db *, const char *node, uint64_t *age_ms);
int	 db_node_dead(struct db *, const char *self, int timeout, char *name);
int	 db_node_forget(struct db *, const char *node, int timeout);
int	 db_node_conns(struct db *, const char *node, int max,
	    int (*)(void *, uint64_t conn_id, uint64_t account), void *);
int	 db_node_accounts(struct db *, const char *self, int timeout,
	    const uint64_t *accounts, size_t,
	    int (*)(void *, uint64_t account, const char *node), void *);

/* notice.c: packets the server sends unasked, live or by a fetch */
cJSON	*notice_pair(const char *cmd, uint64_t src, uint64_t dst);
cJSON	*notice_friend_request(const struct friend_request *);
cJSON	*notice_friend_result(const struct friend_result *);
cJSON	*notice_message(const struct message *);
cJSON	*notice_sent(const struct message *);
cJSON	*notice_sent_return(const struct message *);
#define MESSAGE_TRACK_SIZE	(2 * ID_STR_MAX + 2)
void	 notice_message_track(const struct message *, char *,
	    size_t);
int	 notice_message_fits(uint64_t src, uint64_t dst, const char *body);

/* friendlist.c: a friend list as list_friend_return packets, a list of
 * blocked accounts as list_blocked_return ones */
int	 friendlist_packets(uint64_t id, const struct friend *, size_t,
	    int (*emit)(void *, cJSON *), void *);
int	 blocklist_packets(uint64_t id, const struct friend *, size_t,
	    int (*emit)(void *, cJSON *), void *);

/* marks.c: ack and read, and their receipts */
enum cmd_retval	 marks_apply(struct cmd_ctx *, int (*)(struct db *, uint64_t,
		    uint64_t, uint64_t *), const char *status);

/* presence.c: friends told of a first login and a last logout */
int	 presence_record(struct app *, const struct session *,
	    struct reply *);
int	 presence_left(struct app *, const struct session *, struct reply *);

/* receipt.c: the receipt notice to a sender */
int	 receipt_send(struct reply *, uint64_t sender, uint64_t recipient,
	    const uint64_t *ids, size_t, const char *status);

/* history.c: a page of one conversation as history_return packets */
#define HISTORY_DEFAULT	20		/* messages when "limit" is absent */
#define HISTORY_MAX	100		/* a larger "limit" is capped */
struct history_item {
	struct message	 m;		/* body: the caller's */
	int		 delivered;	/* delivered or acked */
	int		 read;
};
int	 history_packets(uint64_t account, uint64_t with,
	    const struct history_item *, size_t, int oldest,
	    int (*emit)(void *, cJSON *), void *);
int	 history_fits(uint64_t src, uint64_t dst, const char *body);

/* batch-parse.c: one event of a batch from the daemon (envelope.h) */
struct batch_event {
	char		 name[16];		/* ENV_EVENT_* */
	char		 detail[32];		/* refused: why */
	struct session	 session;
	const char	*body;			/* into the batch; no NUL */
	size_t		 body_len;
};
int	 batch_parse(const char *, size_t, const char *node,
	    struct batch_event *, size_t max, size_t *n, const char **errstr);

/* batch.c: running a batch in one transaction */
char	*batch_run(struct app *, const char *node, const char *, size_t,
	    const char **errstr);

/* msgqueue.c: a batch's messages, stored together at its end */
struct msgqueue;
typedef void	(*msgqueue_finish_fn)(struct reply *, const struct message *,
		    int stored);
struct msgqueue	*msgqueue_new(void);
void		 msgqueue_free(struct msgqueue *);
void		 msgqueue_reset(struct msgqueue *);
int		 msgqueue_add(struct msgqueue *, const struct message *,
		    struct reply *, msgqueue_finish_fn);
int		 msgqueue_flush(struct msgqueue *, struct db *);

/* relay.c: live packets for the connections of other nodes */
struct relay	*relay_new(void);
void		 relay_free(struct relay *);
void		 relay_batch(struct app *, const char *node, struct reply **,
		    const int *failed, size_t);

/* node.c: the heartbeat event, and the presence dead nodes leave */
int	 node_heartbeat(struct app *, const struct batch_event *,
	    struct reply *);

/* event.c: the daemon's connection events */
int	 event_handle(struct app *, const struct batch_event *,
	    struct reply *);
int	 event_marks_flush(struct app *);

/* stats.c: counts shared by the master and every worker, for /metrics */
#define STATS_DB_BUCKETS	14	/* 0.5 ms .. 5 s, then +Inf */
#define STATS_DB_KINDS		2	/* DB_TIME_STATEMENT, DB_TIME_COMMIT */
enum stats_role {
	STATS_MAIN,			/* the daemon's batches */
	STATS_LOGIN,			/* its logged-out packets */
	STATS_API,			/* nginx's /api/ and /metrics */
	STATS_ROLES
};
struct stats	*stats_new(void);
void		 stats_free(struct stats *);
void		 stats_restart(struct stats *, enum stats_role);
void		 stats_db_time(void *, int kind, double secs);
int		 stats_print(const struct stats *, FILE *);

/* daemon.c: the push daemon's admin socket, asked by the /api/ workers */
char	*daemon_ask(const struct config *, const char *line, size_t max,
	    const char **errstr);

/* metrics.c: the body of /metrics */
char	*metrics_render(struct app *, size_t *len);

/* worker.c: a worker serves the daemon's batches or nginx's /api/ */
enum worker_role {
	WORKER_BATCH,
	WORKER_API,
};
void	 worker_main(const struct config *, struct stats *, int listen_fd,
	    enum worker_role);

/* retention.c: message_retention_days, run in a child of the master. */
#define RETENTION_INTERVAL	3600	/* s between two purges */
void	 retention_cutoff(time_t now, int days, int before[6]);
int	 retention_purge(const struct config *, time_t now);

#endif
