/*
 * push_daemon: the one event loop that holds every client connection and
 * forwards each packet to the FastCGI workers (docs/ARCHITECTURE.md).  All
 * types and prototypes, grouped by the file that defines them.
 *
 * frame-tcp.c, ws-handshake.c, ws-boundary.c, fcgi-client.c and
 * ratelimit.c are pure (no libevent) so that unit tests and fuzz targets
 * can link them alone.
 */
#ifndef PUSH_DAEMON_H
#define PUSH_DAEMON_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "limits.h"

struct event_base;
struct bufferevent;
struct event;
struct conn;
struct upstream_event;
struct pool;
struct online_entry;
struct evbuffer;
struct evbuffer_cb_entry;
struct cJSON;

/* An account id as the workers name it; longer ones are refused. */
#define ACCOUNT_MAX		64

/* A client address: an IPv6 text form fits with room to spare. */
#define REMOTE_MAX		64

/* A send's "track": an opaque id reported back once written. */
#define TRACK_MAX		64

/* Packets one connection may have waiting before we stop reading it. */
#define CONN_QUEUE_MAX		32

/* Packets of one logged-in connection that may share a batch. */
#define CONN_GROUP_MAX		16

/* Runs of a refusal before the daemon words it itself. */
#define REFUSAL_TRIES		3

/* main.c */
extern struct event_base	*base;
extern struct config		 conf;

/* ratelimit.c: a token bucket, refilled continuously */
struct ratelimit {
	double	rate;			/* tokens per second */
	double	burst;			/* bucket size */
	double	tokens;
	double	last;			/* time of the last refill, seconds */
};
void	 ratelimit_init(struct ratelimit *, double rate, double burst,
	    double now);
int	 ratelimit_take(struct ratelimit *, double now);

/* frame-tcp.c: native TCP framing and the PROXY v1 line, no I/O */
enum frame_result {
	FRAME_MORE,			/* need more bytes */
	FRAME_PACKET,			/* one packet decoded */
	FRAME_BAD,			/* bad length / bad PROXY line */
};
#define PROXY_LINE_MAX		107	/* PROXY v1 line, CRLF included */
enum frame_result frame_tcp_decode(const uint8_t *, size_t, size_t *off,
	    size_t *len, size_t *used);
size_t	 frame_tcp_header(uint8_t [TCP_LENGTH_BYTES], size_t);
enum frame_result frame_proxy_parse(const uint8_t *, size_t, char *addr,
	    size_t addrsz, size_t *used);

/* ws-handshake.c: the HTTP side of a WebSocket upgrade, no I/O */
#define WS_REQUEST_MAX		8192	/* the upgrade request's headers */
#define WS_ACCEPT_LEN		28	/* base64 of a SHA-1 */
struct ws_handshake {
	char	key[WS_ACCEPT_LEN + 1];	/* Sec-WebSocket-Key */
	char	real_ip[REMOTE_MAX];	/* X-Real-IP, or "" */
};
int	 ws_handshake_parse(const char *, size_t, struct ws_handshake *,
	    const char **errstr);
int	 ws_handshake_accept(const char *key, char out[WS_ACCEPT_LEN + 1]);

/* ws-boundary.c: where the client's frames end, no I/O */
struct ws_boundary {
	uint8_t		hdr[14];	/* the frame header so far */
	size_t		hdr_len;
	uint64_t	payload_left;	/* of the frame under way */
	int		in_message;	/* a fragmented message is unfinished */
};
void	 ws_boundary_feed(struct ws_boundary *, const uint8_t *, size_t);
int	 ws_boundary_at_rest(const struct ws_boundary *);

/* fcgi-client.c: FastCGI records out and in, no I/O */
#define FCGI_VERSION_1		1
#define FCGI_HEADER_LEN		8
#define FCGI_BEGIN_REQUEST	1
#define FCGI_ABORT_REQUEST	2
#define FCGI_END_REQUEST	3
#define FCGI_PARAMS		4
#define FCGI_STDIN		5
#define FCGI_STDOUT		6
#define FCGI_STDERR		7
#define FCGI_DATA		8
#define FCGI_UNKNOWN_TYPE	11
#define FCGI_RESPONDER		1
#define FCGI_KEEP_CONN		1
#define FCGI_REQUEST_COMPLETE	0

struct fcgi_param {
	const char	*name;
	const char	*value;
};

/* One piece of a record's content; data points into the caller's input. */
struct fcgi_chunk {
	uint8_t		 type;
	uint16_t	 id;
	const uint8_t	*data;
	size_t		 len;
	int		 last;		/* the record's content ends here */
};

struct fcgi_decoder {
	uint8_t		 hdr[FCGI_HEADER_LEN];
	size_t		 hdr_len;	/* header bytes collected */
	uint8_t		 type;
	uint16_t	 id;
	size_t		 content_left;
	size_t		 padding_left;
	uint8_t		 small[8];	/* whole content of a non-stream type */
	size_t		 small_len;
	int		 in_record;	/* header read, content pending */
};

enum fcgi_result {
	FCGI_MORE,			/* input used up */
	FCGI_CHUNK,			/* *chunk filled */
	FCGI_ERROR,			/* the stream is broken; *errstr */
};

ssize_t	 fcgi_request_encode(uint8_t *, size_t, uint16_t id,
	    const struct fcgi_param *, size_t, const uint8_t *body,
	    size_t bodylen);
ssize_t	 fcgi_request_encode_flags(uint8_t *, size_t, uint16_t id,
	    uint8_t flags, const struct fcgi_param *, size_t,
	    const uint8_t *body, size_t bodylen);
size_t	 fcgi_request_bound(size_t bodylen);
void	 fcgi_decoder_init(struct fcgi_decoder *);
enum fcgi_result fcgi_decode(struct fcgi_decoder *, const uint8_t *, size_t,
	    size_t *used, struct fcgi_chunk *, const char **errstr);
int	 fcgi_pair_decode(const uint8_t *, size_t, size_t *used,
	    const uint8_t **name, size_t *namelen, const uint8_t **value,
	    size_t *valuelen);
int	 fcgi_end_request_parse(const struct fcgi_chunk *, uint32_t *app,
	    uint8_t *proto);

/* packet.c: the answers the daemon gives without a worker */
enum packet_kind {
	PACKET_DATA,			/* forward to a worker */
	PACKET_RATE_LIMITED,		/* answer "rate limited" */
	PACKET_TOO_LARGE,		/* answer "packet too large" */
	PACKET_BAD_LENGTH,		/* answer "bad length", then close */
	PACKET_FETCH,			/* a fetch event; data is its body */
};

struct packet {
	TAILQ_ENTRY(packet)	 entry;
	enum packet_kind	 kind;
	size_t			 len;
	char			 data[];	/* len bytes, then a NUL */
};
TAILQ_HEAD(packet_queue, packet);

struct packet	*packet_new(enum packet_kind, const char *, size_t);
void		 packet_free(struct packet *);
int		 packet_command(const char *, size_t, char *, size_t);
int		 packet_fail(char *, size_t, const char *command,
		    const char *detail);

/*
 * deliver.c: what goes out to one connection (docs/ARCHITECTURE.md,
 * "Delivery").  struct delivery sits in struct conn so that it lives as
 * long as the conn does, but its fields are deliver.c's alone: conn.c and
 * route.c only call the deliver_*() functions below.
 */

/* Tracks a connection's fetches wrote, remembered to drop late sends. */
#define FETCHED_MAX		1024

/* Runs of one fetch, the first included, before the hold-back ends. */
#define FETCH_TRIES		3

/* deliver_send() flags */
#define DELIVER_ACCOUNT		0x1	/* sent to c's account, not to c */
#define DELIVER_FETCHED		0x2	/* one of a fetch's own packets */

struct outbound;
TAILQ_HEAD(outbound_list, outbound);

struct delivery {
	uint64_t		 out_sent;	/* bytes the socket ever took */
	struct evbuffer_cb_entry *out_cb;	/* counts out_sent */
	u_int			 fetches;	/* asked for or running */
	u_int			 fetch_failures; /* in a row, for FETCH_TRIES */
	struct outbound_list	 held;		/* owned: held by fetches */
	size_t			 held_bytes;	/* theirs, for output_max */
	struct outbound_list	 tracked;	/* owned: written, not out */
	struct cJSON		*written;	/* owned: tracks to report */
	int			 written_busy;	/* a report is in flight */
	uint64_t		*fetched;	/* owned: a ring of hashes */
	u_int			 fetched_len;	/* FETCHED_MAX at most */
	u_int			 fetched_pos;	/* the oldest, once full */
};

int	 deliver_init(struct conn *);
void	 deliver_send(struct conn *, const char *, size_t, const char *track,
	    int flags);
void	 deliver_fetch(struct conn *, const char *, size_t);
void	 deliver_fetch_end(struct conn *, const struct packet *, int failed);
void	 deliver_flush(struct conn *);
void	 deliver_close(struct conn *, int report);
/*
 * Where the answer of a written report goes (its receipts): route.c's
 * route_report, set by main.c, so that deliver.c, which route.c calls,
 * does not call route.c back.
 */
typedef void	(*deliver_route_fn)(uint64_t conn_id, const struct cJSON *);
void	 deliver_set_route(deliver_route_fn);

/* transport-tcp.c, transport-ws.c: one struct each */
struct transport {
	const char	*name;			/* ENV_TRANSPORT_* */
	int		 (*start)(struct conn *);
	void		 (*read)(struct conn *);	/* decode input */
	/* one packet out; returns the bytes now waiting to go, or -1 */
	ssize_t		 (*write)(struct conn *, const char *, size_t);
	void		 (*finish)(struct conn *);	/* polite close */
	void		 (*free)(struct conn *);
};
extern const struct transport	transport_tcp;
extern const struct transport	transport_ws;

/* conn.c */
enum conn_state {
	CONN_HANDSHAKE,			/* PROXY line or HTTP upgrade */
	CONN_LOGGED_OUT,
	CONN_LOGGED_IN,
	CONN_CLOSING,			/* output drains, then close */
	CONN_CLOSED,			/* gone; freed by the reaper */
};

struct conn {
	uint64_t		 id;		/* from 1, never reused */
	const struct transport	*tp;
	void			*tp_data;	/* owned by tp, freed by tp->free */
	enum conn_state		 state;		/* only via conn_set_state() */
	struct bufferevent	*bev;		/* owned; fd closed by linger */
	int			 fd;
	char			 remote[REMOTE_MAX];	/* client address */
	char			 account[ACCOUNT_MAX];	/* bound account or "" */
	int			 ack;		/* bound with "ack": true */
	struct packet_queue	 queue;		/* owned: packets not yet sent */
	u_int			 queue_len;
	int			 paused;	/* reading off: queue full */
	int			 eof;		/* client half-closed */
	struct upstream_event	*req;		/* its event in flight, if any */
	struct ratelimit	 bucket;
	struct event		*login_timer;	/* owned */
	const char		*close_reason;	/* static; once CLOSING */
	struct online_entry	*online;	/* online.c's entry, if bound */
	int			 addr_counted;	/* addrlimit.c counts remote */

	struct delivery		 dl;		/* deliver.c's, see there */

	LIST_ENTRY(conn)	 id_entry;	/* conn.c id table */
	LIST_ENTRY(conn)	 online_entry;	/* online.c account list */
	TAILQ_ENTRY(conn)	 dead_entry;	/* conn.c reaper list */
};
LIST_HEAD(conn_list, conn);

void		 conn_init(int max);
void		 conn_shutdown(void);
struct conn	*conn_new(int fd, const struct transport *, const char *remote);
struct conn	*conn_find(uint64_t);
uint64_t	 conn_new_id(void);
u_int		 conn_count(void);
void		 conn_set_state(struct conn *, enum conn_state);
void		 conn_close(struct conn *, const char *reason);
void		 conn_close_after_write(struct conn *, const char *reason);
int		 conn_queue_full(const struct conn *);
void		 conn_pause(struct conn *);
void		 conn_packet(struct conn *, enum packet_kind, const char *,
		    size_t);
void		 conn_dispatch(struct conn *);
void		 conn_request_done(struct conn *);
void		 conn_write(struct conn *, const char *, size_t);
void		 conn_fail(struct conn *, const struct packet *, const char *);
void		 conn_bind(struct conn *, const char *, int);
void		 conn_unbind(struct conn *);
double		 conn_now(void);

int		 conn_fetch(struct conn *, const char *, size_t);

/* linger.c */
void	 linger_fd(int);
void	 linger_shutdown(void);

/* online.c */
void		 online_init(int max);
void		 online_shutdown(void);
int		 online_add(struct conn *);
void		 online_remove(struct conn *);
int		 online_take(const struct conn *, double now);
struct conn	*online_first(const char *account);
void		 online_foreach(void (*)(void *, const char *, u_int), void *);

/* addrlimit.c: connections per client address */
void	 addrlimit_init(int max);
void	 addrlimit_shutdown(void);
u_int	 addrlimit_count(const char *);
int	 addrlimit_add(const char *, int limit);
void	 addrlimit_remove(const char *);
int	 addrlimit_admit(struct conn *);
void	 addrlimit_release(struct conn *);

/* listen.c */
int	 listen_unix(const char *path, mode_t, const char *group,
	    const char **errstr);
int	 listen_open(const char *path, const struct transport *);
void	 listen_close_all(void);

/*
 * pool.c: kept FastCGI connections to the workers, one request at a time
 * on each.  It knows nothing of clients: a request is params and a body,
 * its end is one call of done(arg, body, len, errstr) with the answer's
 * CGI body or, errstr set, why there is none.
 */
typedef void	(*pool_done_fn)(void *arg, const char *body, size_t len,
		    const char *errstr);
struct pool	*pool_new(const char *name, const char *path, int size,
		    const struct fcgi_param *greeting, size_t ngreeting,
		    void (*ready)(void *), void *ready_arg);
void		 pool_free(struct pool *);
int		 pool_idle(const struct pool *);
/* A pool's connections by state, for the admin socket's "health". */
struct pool_counts {
	int	idle;			/* up, free */
	int	busy;			/* up, a request in flight */
	int	down;			/* not connected, or not yet greeted */
	uint64_t lost;			/* connections that failed, ever */
};
void		 pool_counts(const struct pool *, struct pool_counts *);
int		 pool_submit(struct pool *, const struct fcgi_param *, size_t,
		    const uint8_t *body, size_t bodylen, pool_done_fn,
		    void *arg);

/*
 * upstream.c: events for the workers, gathered into batches.  Each lane
 * has its own pool; whatever waits when one of its connections is free
 * goes in one batch.  done(ev, actions) is called once per event: actions
 * is the worker's action list, or NULL when the event failed; the event
 * is freed after it returns.
 */
enum upstream_lane {
	LANE_MAIN,			/* logged-in connections, events */
	LANE_LOGIN,			/* logged-out connections: hashing */
	LANE_COUNT
};
typedef void	(*upstream_done_fn)(struct upstream_event *,
		    const struct cJSON *actions);
struct upstream_event {
	const char		*name;		/* ENV_EVENT_*, static */
	uint64_t		 conn_id;
	char			 account[ACCOUNT_MAX];
	int			 ack;
	const char		*transport;	/* static */
	char			 remote[REMOTE_MAX];
	struct packet		*body;		/* owned; NULL: empty */
	const char		*detail;	/* refused: static; else NULL */
	int			 tries;		/* refused: runs so far */
	upstream_done_fn	 done;
	int			 group_rest;	/* next ones in the same batch */
	/* The submitter's, untouched here: a conn's request that outlived it. */
	int			 orphan;
	char			 gone[ACCOUNT_MAX];
	int			 gone_ack;
	TAILQ_ENTRY(upstream_event) entry;
};
void	 upstream_init(void);
void	 upstream_shutdown(void);
struct upstream_event *upstream_event_new(const char *name, uint64_t conn_id,
	    const char *account, int ack, const char *transport,
	    const char *remote, struct packet *body, upstream_done_fn);
void	 upstream_submit(enum upstream_lane, struct upstream_event *);

/* How big the batches of a lane have been: hist[i] counts sizes 2^i.. */
#define UPSTREAM_HIST		9	/* 1, 2-3, 4-7, ..., 128-255, 256 */
struct upstream_stats {
	const char	*lane;
	uint64_t	 batches;		/* sent */
	uint64_t	 events;		/* in them */
	uint64_t	 failed;		/* batches with no answer */
	uint64_t	 hist[UPSTREAM_HIST];
	u_int		 waiting;		/* events queued, not sent */
	u_int		 in_flight;		/* events in batches sent */
	struct pool_counts pool;
};
void	 upstream_stats(enum upstream_lane, struct upstream_stats *);
void	 upstream_started(void);

/* counters.c: what the admin socket's "metrics" reports */
void	 counters_conn(const struct transport *, int delta);
void	 counters_packet_in(const struct transport *);
void	 counters_packet_out(const struct transport *);
void	 counters_fail(const char *detail);
void	 counters_print(struct evbuffer *);

/* admin.c: chatctl's line protocol on admin_socket */
int	 admin_open(void);
void	 admin_close(void);
int	 admin_refuses(const char *account);

/* route.c */
int	 route_answer(uint64_t conn_id, const struct cJSON *actions,
	    char *account, size_t accountsz, int fetch);
void	 route_report(uint64_t conn_id, const struct cJSON *actions);
int	 route_remote(const struct cJSON *sends);

/* relay.c: other nodes' packets through Redis, and the heartbeat */
int	 relay_init(void);
void	 relay_shutdown(void);

#endif
