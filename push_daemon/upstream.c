/*
 * The workers' side: one FastCGI request per packet or connection event,
 * each on a new connection to fcgi_socket (no FCGI_KEEP_CONN: a kept
 * connection pins a blocking libfcgi worker).  At most
 * upstream_max_inflight run at once; the others wait in one FIFO, so ready
 * connections take turns.  A request holds its connection's id, never a
 * pointer: the answer is routed by id, and a connection that has gone by
 * then just misses its own packets.  A worker that dies, hangs or answers
 * nonsense costs its one client a "server error".
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "envelope.h"
#include "log.h"
#include "push_daemon.h"

#define UPSTREAM_TIMEOUT	30		/* seconds for one request */
#define UPSTREAM_RETRY_MS	100		/* between connect attempts */
#define UPSTREAM_TRIES		10		/* a restarting master: 1 s */
#define UPSTREAM_TRIES_STARTED	100		/* workers still starting */
#define UPSTREAM_ANSWER_MAX	(4 * 1024 * 1024)
#define UPSTREAM_REQUEST_MAX	(PACKET_MAX + 8192)
#define UPSTREAM_FCGI_ID	1		/* one request per connection */

struct upstream_req {
	uint64_t		 id;		/* for the log */
	uint64_t		 conn_id;	/* whose packet or event */
	const char		*event;		/* ENV_EVENT_*, static */
	struct packet		*pkt;		/* owned; NULL for events */
	char			 account[ACCOUNT_MAX];	/* params, as sent */
	int			 ack;
	const char		*transport;	/* static */
	char			 remote[REMOTE_MAX];
	int			 orphan;	/* conn closed while in flight */
	char			 gone[ACCOUNT_MAX];	/* then: its account */
	int			 gone_ack;
	int			 tries;		/* connect attempts */
	int			 max_tries;
	int			 error;		/* errno of the last connect */
	int			 fd;		/* until bev owns it */
	struct bufferevent	*bev;		/* owned, closes fd */
	struct event		*timer;		/* owned: retry, then timeout */
	struct fcgi_decoder	 dec;
	struct evbuffer		*body;		/* owned: FCGI_STDOUT */
	TAILQ_ENTRY(upstream_req) entry;	/* upstream_wait or _run */
};
TAILQ_HEAD(upstream_list, upstream_req);

static struct upstream_list	upstream_wait =
				    TAILQ_HEAD_INITIALIZER(upstream_wait);
static struct upstream_list	upstream_run =
				    TAILQ_HEAD_INITIALIZER(upstream_run);
static int			upstream_running;
static uint64_t			upstream_next_id = 1;

static void	upstream_connect(struct upstream_req *);
static void	upstream_finish(struct upstream_req *, const char *);

static int
upstream_is(const struct upstream_req *req, const char *event)
{
	return strcmp(req->event, event) == 0;
}

void
upstream_init(void)
{
}

static void
upstream_req_free(struct upstream_req *req)
{
	if (req == NULL)
		return;
	if (req->bev != NULL)
		bufferevent_free(req->bev);
	else if (req->fd != -1)
		close(req->fd);
	if (req->timer != NULL)
		event_free(req->timer);
	if (req->body != NULL)
		evbuffer_free(req->body);
	packet_free(req->pkt);
	free(req);
}

static void
upstream_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_req	*req = arg;

	(void)fd;
	(void)what;
	if (req->bev == NULL)
		upstream_connect(req);
	else
		upstream_finish(req, "timed out");
}

/* Takes pkt (NULL for an event); NULL if out of memory, pkt then freed. */
static struct upstream_req *
upstream_req_new(uint64_t conn_id, const char *event, struct packet *pkt,
    const char *account, int ack, const char *transport, const char *remote)
{
	struct upstream_req	*req;

	if ((req = calloc(1, sizeof(*req))) == NULL)
		goto fail;
	req->fd = -1;
	req->pkt = pkt;
	if ((req->timer = evtimer_new(base, upstream_timer_cb, req)) == NULL ||
	    (req->body = evbuffer_new()) == NULL)
		goto fail;
	req->id = upstream_next_id++;
	req->conn_id = conn_id;
	req->event = event;
	snprintf(req->account, sizeof(req->account), "%s", account);
	req->ack = ack;
	req->transport = transport;
	snprintf(req->remote, sizeof(req->remote), "%s", remote);
	req->max_tries = UPSTREAM_TRIES;
	fcgi_decoder_init(&req->dec);
	return req;
fail:
	log_warn("%s", __func__);
	if (req != NULL)
		upstream_req_free(req);
	else
		packet_free(pkt);
	return NULL;
}

static void
upstream_start(struct upstream_req *req)
{
	TAILQ_INSERT_TAIL(&upstream_run, req, entry);
	upstream_running++;
	upstream_connect(req);
}

/*
 * Runs req now if a slot is free and nothing waits, else it waits its
 * turn.  A request submitted while an answer is applied (the same
 * connection's next packet, a written report) must not take the slot that
 * answer has just freed ahead of those waiting: the connections with a
 * request in flight would keep every slot and the others starve.
 */
static void
upstream_submit(struct upstream_req *req)
{
	if (upstream_running < conf.upstream_max_inflight &&
	    TAILQ_EMPTY(&upstream_wait))
		upstream_start(req);
	else
		TAILQ_INSERT_TAIL(&upstream_wait, req, entry);
}

static void
upstream_next(void)
{
	struct upstream_req	*req;

	while (upstream_running < conf.upstream_max_inflight &&
	    (req = TAILQ_FIRST(&upstream_wait)) != NULL) {
		TAILQ_REMOVE(&upstream_wait, req, entry);
		upstream_start(req);
	}
}

/* Takes pkt, c's next packet; c is busy until the answer is applied. */
void
upstream_packet(struct conn *c, struct packet *pkt)
{
	struct upstream_req	*req;

	req = upstream_req_new(c->id, pkt->kind == PACKET_FETCH ?
	    ENV_EVENT_FETCH : ENV_EVENT_PACKET, pkt, c->account, c->ack,
	    c->tp->name, c->remote);
	if (req == NULL) {
		conn_fail(c, NULL, "server error");
		return;
	}
	c->req = req;
	upstream_submit(req);
}

void
upstream_closed(uint64_t conn_id, const char *account, int ack,
    const char *transport, const char *remote)
{
	struct upstream_req	*req;

	req = upstream_req_new(conn_id, ENV_EVENT_CLOSED, NULL, account, ack,
	    transport, remote);
	if (req != NULL)
		upstream_submit(req);
}

/*
 * The daemon has (re)started: workers may clear this node's presence.
 * The event carries an id of its own, since every request names one.
 */
void
upstream_started(void)
{
	struct upstream_req	*req;

	req = upstream_req_new(conn_new_id(), ENV_EVENT_STARTED, NULL, "", 0,
	    "", "");
	if (req == NULL)
		return;
	req->max_tries = UPSTREAM_TRIES_STARTED;
	upstream_submit(req);
}

/* Takes p, the body: tracks that have reached c's socket. */
void
upstream_written(const struct conn *c, struct packet *p)
{
	struct upstream_req	*req;

	req = upstream_req_new(c->id, ENV_EVENT_WRITTEN, p, c->account,
	    c->ack, c->tp->name, c->remote);
	if (req != NULL)
		upstream_submit(req);
}

/* c closes while req is in flight: send "closed" after the answer. */
void
upstream_orphan(struct upstream_req *req, const struct conn *c)
{
	req->orphan = 1;
	memcpy(req->gone, c->account, sizeof(req->gone));
	req->gone_ack = c->ack;
}

static int
upstream_encode(struct upstream_req *req, uint8_t *out, size_t outsz)
{
	char			 id[ID_STR_MAX], len[ID_STR_MAX];
	const uint8_t		*body = NULL;
	size_t			 bodylen = 0;
	struct fcgi_param	 params[] = {
		{ "REQUEST_METHOD", "POST" },
		{ "SCRIPT_NAME", "/packet" },
		{ "CONTENT_TYPE", "application/json" },
		{ "CONTENT_LENGTH", len },
		{ ENV_EVENT, req->event },
		{ ENV_CONN_ID, id },
		{ ENV_ACCOUNT, req->account },
		{ ENV_ACK_MODE, req->ack ? "1" : "0" },
		{ ENV_TRANSPORT, req->transport },
		{ ENV_NODE, conf.node_name },
		{ ENV_REMOTE_ADDR, req->remote },
	};

	if (req->pkt != NULL) {
		body = (const uint8_t *)req->pkt->data;
		bodylen = req->pkt->len;
	}
	snprintf(id, sizeof(id), "%" PRIu64, req->conn_id);
	snprintf(len, sizeof(len), "%zu", bodylen);
	return (int)fcgi_request_encode(out, outsz, UPSTREAM_FCGI_ID, params,
	    sizeof(params) / sizeof(params[0]), body, bodylen);
}

static void	upstream_read_cb(struct bufferevent *, void *);
static void	upstream_event_cb(struct bufferevent *, short, void *);

/* Connected: the whole request goes into the output at once. */
static void
upstream_send(struct upstream_req *req)
{
	struct timeval	tv = { UPSTREAM_TIMEOUT, 0 };
	uint8_t		buf[UPSTREAM_REQUEST_MAX];
	int		len;

	struct timeval	now = { 0, 0 };

	if ((req->bev = bufferevent_socket_new(base, req->fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		goto fail;
	req->fd = -1;
	if ((len = upstream_encode(req, buf, sizeof(buf))) == -1 ||
	    bufferevent_write(req->bev, buf, (size_t)len) == -1)
		goto fail;
	bufferevent_setcb(req->bev, upstream_read_cb, NULL, upstream_event_cb,
	    req);
	bufferevent_enable(req->bev, EV_READ | EV_WRITE);
	evtimer_add(req->timer, &tv);
	return;
fail:
	/* Given up through the timer, like a failed connect. */
	if (req->bev != NULL)
		bufferevent_free(req->bev);
	else
		close(req->fd);
	req->bev = NULL;
	req->fd = -1;
	req->error = ENOMEM;
	req->tries = req->max_tries;
	evtimer_add(req->timer, &now);
}

/* A full backlog or a master restarting its socket passes soon. */
static int
upstream_retryable(int error)
{
	return error == ECONNREFUSED || error == EAGAIN || error == ENOENT;
}

static void
upstream_connect(struct upstream_req *req)
{
	struct sockaddr_un	sun;
	struct timeval		tv = { 0, UPSTREAM_RETRY_MS * 1000 };
	int			fd;

	if (req->tries > 0 && (!upstream_retryable(req->error) ||
	    req->tries >= req->max_tries)) {
		upstream_finish(req, strerror(req->error));
		return;
	}
	req->tries++;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", conf.fcgi_socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd != -1 &&
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		req->fd = fd;
		upstream_send(req);
		return;
	}
	/* Even a hopeless failure goes through the timer: never re-enter. */
	req->error = errno;
	if (fd != -1)
		close(fd);
	log_debug("%s: request %" PRIu64 ": %s", __func__, req->id,
	    strerror(req->error));
	if (!upstream_retryable(req->error))
		tv.tv_usec = 0;
	evtimer_add(req->timer, &tv);
}

/* Worker log lines are escaped before they reach ours. */
static void
upstream_stderr(struct upstream_req *req, const uint8_t *p, size_t len)
{
	char	line[256];
	size_t	i, n = 0;

	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	for (i = 0; i < len && n + 5 < sizeof(line); i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f)
			line[n++] = (char)p[i];
		else
			n += (size_t)snprintf(line + n, sizeof(line) - n,
			    "\\x%02x", p[i]);
	}
	line[n] = '\0';
	if (n > 0)
		log_warnx("request %" PRIu64 ": worker stderr: %s", req->id,
		    line);
}

/* One piece of the answer; 1 at END_REQUEST, -1 with *errstr. */
static int
upstream_chunk(struct upstream_req *req, const struct fcgi_chunk *ch,
    const char **errstr)
{
	uint32_t	app;
	uint8_t		proto;

	if (ch->id != UPSTREAM_FCGI_ID)
		return 0;
	switch (ch->type) {
	case FCGI_STDOUT:
		if (evbuffer_get_length(req->body) + ch->len >
		    UPSTREAM_ANSWER_MAX) {
			*errstr = "answer too large";
			return -1;
		}
		evbuffer_add(req->body, ch->data, ch->len);
		return 0;
	case FCGI_STDERR:
		upstream_stderr(req, ch->data, ch->len);
		return 0;
	case FCGI_END_REQUEST:
		if (fcgi_end_request_parse(ch, &app, &proto) == -1 ||
		    proto != FCGI_REQUEST_COMPLETE) {
			*errstr = "request not completed";
			return -1;
		}
		return 1;
	}
	return 0;
}

static void
upstream_read_cb(struct bufferevent *bev, void *arg)
{
	struct upstream_req	*req = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct fcgi_chunk	 ch;
	const char		*errstr = NULL;
	uint8_t			 buf[16384];
	size_t			 off, used;
	int			 n, rc;

	while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		for (off = 0; off < (size_t)n; off += used) {
			switch (fcgi_decode(&req->dec, buf + off, (size_t)n - off,
			    &used, &ch, &errstr)) {
			case FCGI_MORE:
				continue;
			case FCGI_ERROR:
				upstream_finish(req, errstr);
				return;
			case FCGI_CHUNK:
				if ((rc = upstream_chunk(req, &ch, &errstr)) != 0) {
					upstream_finish(req, rc == 1 ? NULL :
					    errstr);
					return;
				}
				break;
			}
		}
	}
}

static void
upstream_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream_req	*req = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF)
		upstream_finish(req, "worker closed the connection early");
	else if (what & BEV_EVENT_ERROR)
		upstream_finish(req, strerror(EVUTIL_SOCKET_ERROR()));
}

/* The CGI header block ends at the first blank line. */
static const char *
upstream_body(const char *p, size_t len, size_t *bodylen, int *status)
{
	const char	*end, *line, *s;
	size_t		 skip = 4;

	if ((end = memmem(p, len, "\r\n\r\n", 4)) == NULL) {
		if ((end = memmem(p, len, "\n\n", 2)) == NULL)
			return NULL;
		skip = 2;
	}
	*status = 200;
	for (line = p; line < end; line = s + 1) {
		if ((s = memchr(line, '\n', (size_t)(end - line))) == NULL)
			s = end;
		if ((size_t)(s - line) > 7 && strncasecmp(line, "Status:", 7) == 0)
			*status = atoi(line + 7);
	}
	*bodylen = len - (size_t)(end - p) - skip;
	return end + skip;
}

/* Applies a complete answer; an error string if it cannot be applied. */
static const char *
upstream_apply(struct upstream_req *req)
{
	const char	*p, *body;
	size_t		 len, bodylen;
	int		 status;

	if ((len = evbuffer_get_length(req->body)) == 0 ||
	    (p = (const char *)evbuffer_pullup(req->body, -1)) == NULL ||
	    (body = upstream_body(p, len, &bodylen, &status)) == NULL)
		return "answer has no CGI headers";
	if (status < 200 || status > 299)
		return "worker answered with an error status";
	if (route_answer(req->conn_id, body, bodylen, req->gone,
	    sizeof(req->gone), upstream_is(req, ENV_EVENT_FETCH)) == -1)
		return "answer is not an action list";
	return NULL;
}

/*
 * A fetch that asks for no further fetch ends the hold-back.  A failed one
 * (a worker died, the database hiccuped) runs again a few times first:
 * otherwise what waits for the account would wait for its next login.
 */
static void
upstream_fetch_end(struct upstream_req *req, struct conn *c, int failed)
{
	struct packet	*next;

	if (!upstream_is(req, ENV_EVENT_FETCH))
		return;
	if (!failed)
		c->fetch_failures = 0;
	else if (++c->fetch_failures < FETCH_TRIES) {
		log_info("conn %" PRIu64 ": fetch failed, running it again",
		    c->id);
		conn_fetch(c, req->pkt->data, req->pkt->len);
	}
	next = TAILQ_FIRST(&c->queue);
	if (next == NULL || next->kind != PACKET_FETCH)
		deliver_fetch_done(c);
}

/*
 * The end of a request, answered or not (errstr says why not).  Frees req
 * and lets the next waiting request run.
 */
static void
upstream_finish(struct upstream_req *req, const char *errstr)
{
	struct conn	*c;

	TAILQ_REMOVE(&upstream_run, req, entry);
	upstream_running--;
	evtimer_del(req->timer);
	if (req->bev != NULL) {
		bufferevent_free(req->bev);
		req->bev = NULL;
	}
	if (errstr == NULL)
		errstr = upstream_apply(req);
	if (errstr != NULL) {
		log_warnx("request %" PRIu64 " (%s, conn %" PRIu64 "): %s",
		    req->id, req->event, req->conn_id, errstr);
		if (upstream_is(req, ENV_EVENT_PACKET) &&
		    (c = conn_find(req->conn_id)) != NULL)
			conn_fail(c, req->pkt, "server error");
	} else
		log_debug("request %" PRIu64 " (%s, conn %" PRIu64 "): done",
		    req->id, req->event, req->conn_id);
	if (req->orphan && req->gone[0] != '\0')
		upstream_closed(req->conn_id, req->gone, req->gone_ack,
		    req->transport, req->remote);
	if (upstream_is(req, ENV_EVENT_WRITTEN))
		deliver_report_done(req->conn_id);
	if ((c = conn_find(req->conn_id)) != NULL && c->req == req) {
		upstream_fetch_end(req, c, errstr != NULL);
		conn_request_done(c);
	}
	upstream_req_free(req);
	upstream_next();
}

/* Drops every request, sent or not: we are stopping. */
void
upstream_shutdown(void)
{
	struct upstream_req	*req;

	while ((req = TAILQ_FIRST(&upstream_run)) != NULL) {
		TAILQ_REMOVE(&upstream_run, req, entry);
		upstream_req_free(req);
	}
	while ((req = TAILQ_FIRST(&upstream_wait)) != NULL) {
		TAILQ_REMOVE(&upstream_wait, req, entry);
		upstream_req_free(req);
	}
	upstream_running = 0;
}
