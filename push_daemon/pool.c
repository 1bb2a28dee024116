/*
 * A pool of kept FastCGI connections to one socket (FCGI_KEEP_CONN).  A
 * blocking libfcgi worker serves one connection at a time, so the pool has
 * exactly as many connections as the workers it is meant for, and each
 * stays with one worker: no connect, accept and close per request.  One
 * request at a time runs on a connection; the pool's user decides what to
 * send when one is free (the ready callback) and what an answer means
 * (each request's done callback).
 *
 * libfcgi drops an accepted Unix connection that stays silent for 2 s
 * (is_af_unix_keeper()), but never a kept one between requests: so each
 * new connection first carries a greeting, a request of the pool user's
 * choosing whose answer is dropped, and only then counts as free.
 *
 * A connection that fails (its worker died, answered nonsense or took
 * longer than POOL_TIMEOUT) fails its request, is closed, and is made
 * again; the master has replaced the worker by then or soon will, and the
 * new connection waits in the socket's backlog until it does.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "push_daemon.h"

#define POOL_TIMEOUT		30		/* seconds for one request */
#define POOL_RETRY_MS		100		/* between connect attempts */
#define POOL_ANSWER_MAX		(16 * 1024 * 1024)
#define POOL_FCGI_ID		1		/* one request at a time */

enum pool_state {
	POOL_DOWN,			/* waiting to connect again */
	POOL_GREETING,			/* the greeting is in flight */
	POOL_IDLE,
	POOL_BUSY,
};

struct pool_conn {
	struct pool		*pool;
	int			 index;		/* for the log */
	enum pool_state		 state;
	struct bufferevent	*bev;		/* owned, closes the socket */
	struct event		*timer;		/* owned: reconnect, timeout */
	struct fcgi_decoder	 dec;
	struct evbuffer		*answer;	/* owned: FCGI_STDOUT */
	pool_done_fn		 done;		/* while busy */
	void			*arg;
	int			 failing;	/* connects failed in a row */
	int			 finishing;	/* in done: its answer is in use */
};

struct pool {
	const char		*name;		/* for the log, static */
	char			 path[SOCKET_PATH_MAX];
	int			 size;
	struct pool_conn	*conns;		/* owned, size of them */
	void			(*ready)(void *);
	void			*ready_arg;
	uint64_t		 lost;		/* connections failed, ever */
	const struct fcgi_param	*greeting;	/* static, the user's */
	size_t			 ngreeting;
};

static void	pool_connect(struct pool_conn *);
static int	pool_send(struct pool_conn *, const struct fcgi_param *,
		    size_t, const uint8_t *, size_t);
static void	pool_read_cb(struct bufferevent *, void *);
static void	pool_event_cb(struct bufferevent *, short, void *);

static void
pool_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool_conn	*pc = arg;

	(void)fd;
	(void)what;
	if (pc->state == POOL_DOWN)
		pool_connect(pc);
	else if (pc->state == POOL_BUSY || pc->state == POOL_GREETING)
		pool_event_cb(pc->bev, BEV_EVENT_TIMEOUT, pc);
}

static void
pool_retry(struct pool_conn *pc, int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	pc->state = POOL_DOWN;
	evtimer_add(pc->timer, &tv);
}

/* A free connection: the pool's user may send on it now. */
static void
pool_ready(struct pool_conn *pc)
{
	pc->state = POOL_IDLE;
	pc->pool->ready(pc->pool->ready_arg);
}

static void
pool_connect(struct pool_conn *pc)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", pc->pool->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		/* Once per outage in the log, not ten times a second. */
		if (pc->failing++ == 0)
			log_warn("%s pool: connect %s", pc->pool->name,
			    pc->pool->path);
		if (fd != -1)
			close(fd);
		pool_retry(pc, POOL_RETRY_MS);
		return;
	}
	if ((pc->bev = bufferevent_socket_new(base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		pool_retry(pc, POOL_RETRY_MS);
		return;
	}
	if (pc->failing > 0)
		log_info("%s pool: connection %d is back", pc->pool->name,
		    pc->index);
	pc->failing = 0;
	bufferevent_setcb(pc->bev, pool_read_cb, NULL, pool_event_cb, pc);
	bufferevent_enable(pc->bev, EV_READ | EV_WRITE);
	if (pool_send(pc, pc->pool->greeting, pc->pool->ngreeting, NULL,
	    0) == -1) {
		bufferevent_free(pc->bev);
		pc->bev = NULL;
		pool_retry(pc, POOL_RETRY_MS);
		return;
	}
	pc->state = POOL_GREETING;
}

/*
 * The end of pc's request: done is called with the answer or why there is
 * none; a broken connection is made again first, so that done may submit.
 */
static void
pool_finish(struct pool_conn *pc, const char *errstr)
{
	pool_done_fn	 done = pc->done;
	void		*arg = pc->arg;
	const char	*body = NULL;
	size_t		 len = 0;

	evtimer_del(pc->timer);
	pc->done = NULL;
	pc->arg = NULL;
	if (pc->state == POOL_GREETING && errstr == NULL) {
		evbuffer_drain(pc->answer, evbuffer_get_length(pc->answer));
		fcgi_decoder_init(&pc->dec);
		pool_ready(pc);
		return;
	}
	if (errstr != NULL) {
		log_warnx("%s pool: connection %d: %s", pc->pool->name,
		    pc->index, errstr);
		pc->pool->lost++;
		bufferevent_free(pc->bev);
		pc->bev = NULL;
		pool_retry(pc, 0);
	} else {
		len = evbuffer_get_length(pc->answer);
		body = (const char *)evbuffer_pullup(pc->answer, -1);
		pc->state = POOL_IDLE;
	}
	pc->finishing = 1;
	if (done != NULL)
		done(arg, body, len, errstr);
	pc->finishing = 0;
	evbuffer_drain(pc->answer, evbuffer_get_length(pc->answer));
	fcgi_decoder_init(&pc->dec);
	if (pc->state == POOL_IDLE)
		pool_ready(pc);
}

/* The CGI header block ends at the first blank line. */
static const char *
pool_cgi_body(const char *p, size_t len, size_t *bodylen, int *status)
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

/* END_REQUEST: the body is handed over without its CGI headers. */
static const char *
pool_complete(struct pool_conn *pc)
{
	const char	*p, *body;
	size_t		 len, bodylen;
	int		 status;

	if ((len = evbuffer_get_length(pc->answer)) == 0 ||
	    (p = (const char *)evbuffer_pullup(pc->answer, -1)) == NULL ||
	    (body = pool_cgi_body(p, len, &bodylen, &status)) == NULL)
		return "answer has no CGI headers";
	if (status < 200 || status > 299)
		return "worker answered with an error status";
	evbuffer_drain(pc->answer, len - bodylen);
	return NULL;
}

/* Worker log lines are escaped before they reach ours. */
static void
pool_stderr(struct pool_conn *pc, const uint8_t *p, size_t len)
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
		log_warnx("%s pool: worker stderr: %s", pc->pool->name, line);
}

/* One piece of the answer; 1 at END_REQUEST, -1 with *errstr. */
static int
pool_chunk(struct pool_conn *pc, const struct fcgi_chunk *ch,
    const char **errstr)
{
	uint32_t	app;
	uint8_t		proto;

	if (ch->id != POOL_FCGI_ID)
		return 0;
	switch (ch->type) {
	case FCGI_STDOUT:
		if (evbuffer_get_length(pc->answer) + ch->len >
		    POOL_ANSWER_MAX) {
			*errstr = "answer too large";
			return -1;
		}
		evbuffer_add(pc->answer, ch->data, ch->len);
		return 0;
	case FCGI_STDERR:
		pool_stderr(pc, ch->data, ch->len);
		return 0;
	case FCGI_END_REQUEST:
		if (fcgi_end_request_parse(ch, &app, &proto) == -1 ||
		    proto != FCGI_REQUEST_COMPLETE) {
			*errstr = "request not completed";
			return -1;
		}
		*errstr = pool_complete(pc);
		return *errstr == NULL ? 1 : -1;
	}
	return 0;
}

static void
pool_read_cb(struct bufferevent *bev, void *arg)
{
	struct pool_conn	*pc = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct fcgi_chunk	 ch;
	const char		*errstr = NULL;
	uint8_t			 buf[16384];
	size_t			 off, used;
	int			 n, rc;

	if (pc->state != POOL_BUSY && pc->state != POOL_GREETING) {
		/* Nothing was asked: a worker talking now is broken. */
		pool_event_cb(bev, BEV_EVENT_ERROR, pc);
		return;
	}
	while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		for (off = 0; off < (size_t)n; off += used) {
			switch (fcgi_decode(&pc->dec, buf + off, (size_t)n - off,
			    &used, &ch, &errstr)) {
			case FCGI_MORE:
				continue;
			case FCGI_ERROR:
				pool_finish(pc, errstr);
				return;
			case FCGI_CHUNK:
				if ((rc = pool_chunk(pc, &ch, &errstr)) == 0)
					break;
				/* A kept connection sends nothing after. */
				pool_finish(pc, rc == 1 ? NULL : errstr);
				return;
			}
		}
	}
}

static void
pool_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct pool_conn	*pc = arg;
	const char		*why;

	(void)bev;
	if (pc->state == POOL_GREETING && (what & BEV_EVENT_TIMEOUT) == 0)
		what |= BEV_EVENT_ERROR;
	if (what & BEV_EVENT_TIMEOUT)
		why = "timed out";
	else if (what & BEV_EVENT_EOF)
		why = "worker closed the connection";
	else
		why = strerror(EVUTIL_SOCKET_ERROR());
	if (pc->state == POOL_BUSY || pc->state == POOL_GREETING) {
		pool_finish(pc, why);
		return;
	}
	/* An idle connection whose worker went away: make it again. */
	pc->pool->lost++;
	log_info("%s pool: connection %d: %s", pc->pool->name, pc->index, why);
	bufferevent_free(pc->bev);
	pc->bev = NULL;
	pool_retry(pc, 0);
}

/*
 * A pool of size connections to the FastCGI socket at path; ready(arg) is
 * called each time one is free.  greeting (kept by the caller) is the
 * params of the request each new connection carries first, with no body.
 * Connections are made from the event loop.
 */
struct pool *
pool_new(const char *name, const char *path, int size,
    const struct fcgi_param *greeting, size_t ngreeting,
    void (*ready)(void *), void *ready_arg)
{
	struct pool	*p;
	int		 i;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->conns = calloc((size_t)size, sizeof(*p->conns))) == NULL)
		fatal("%s", __func__);
	p->name = name;
	snprintf(p->path, sizeof(p->path), "%s", path);
	p->size = size;
	p->ready = ready;
	p->ready_arg = ready_arg;
	p->greeting = greeting;
	p->ngreeting = ngreeting;
	for (i = 0; i < size; i++) {
		p->conns[i].pool = p;
		p->conns[i].index = i;
		p->conns[i].timer = evtimer_new(base, pool_timer_cb,
		    &p->conns[i]);
		p->conns[i].answer = evbuffer_new();
		if (p->conns[i].timer == NULL || p->conns[i].answer == NULL)
			fatalx("%s: out of memory", __func__);
		fcgi_decoder_init(&p->conns[i].dec);
		pool_retry(&p->conns[i], 0);
	}
	return p;
}

/* Frees p; requests in flight end first, with errstr "stopping". */
void
pool_free(struct pool *p)
{
	pool_done_fn	 done;
	int		 i;

	if (p == NULL)
		return;
	for (i = 0; i < p->size; i++) {
		if ((done = p->conns[i].done) != NULL) {
			p->conns[i].done = NULL;
			done(p->conns[i].arg, NULL, 0, "stopping");
		}
		if (p->conns[i].bev != NULL)
			bufferevent_free(p->conns[i].bev);
		event_free(p->conns[i].timer);
		evbuffer_free(p->conns[i].answer);
	}
	free(p->conns);
	free(p);
}

int
pool_idle(const struct pool *p)
{
	int	i, n = 0;

	for (i = 0; i < p->size; i++)
		n += p->conns[i].state == POOL_IDLE;
	return n;
}

/*
 * A connection still greeting counts as down: its worker has not answered
 * yet (after a crash the new connection waits in the backlog until the
 * master has forked a new worker).
 */
void
pool_counts(const struct pool *p, struct pool_counts *pc)
{
	int	i;

	memset(pc, 0, sizeof(*pc));
	pc->lost = p->lost;
	for (i = 0; i < p->size; i++) {
		switch (p->conns[i].state) {
		case POOL_IDLE:
			pc->idle++;
			break;
		case POOL_BUSY:
			pc->busy++;
			break;
		case POOL_DOWN:
		case POOL_GREETING:
			pc->down++;
			break;
		}
	}
}

/* Encodes and queues one request on pc; the caller sets the state. */
static int
pool_send(struct pool_conn *pc, const struct fcgi_param *params,
    size_t nparams, const uint8_t *body, size_t bodylen)
{
	struct timeval	 tv = { POOL_TIMEOUT, 0 };
	uint8_t		*buf;
	size_t		 size = fcgi_request_bound(bodylen);
	ssize_t		 len;

	if ((buf = malloc(size)) == NULL)
		return -1;
	len = fcgi_request_encode_flags(buf, size, POOL_FCGI_ID,
	    FCGI_KEEP_CONN, params, nparams, body, bodylen);
	if (len == -1 || bufferevent_write(pc->bev, buf, (size_t)len) == -1) {
		free(buf);
		return -1;
	}
	free(buf);
	evtimer_add(pc->timer, &tv);
	return 0;
}

/*
 * Sends a request on a free connection.  Returns -1 when none is free or
 * the request cannot be made (done is not called then), else 0: done will
 * be called once, later, from the event loop.
 */
int
pool_submit(struct pool *p, const struct fcgi_param *params, size_t nparams,
    const uint8_t *body, size_t bodylen, pool_done_fn done, void *arg)
{
	struct pool_conn	*pc = NULL;
	int			 i;

	for (i = 0; i < p->size && pc == NULL; i++)
		if (p->conns[i].state == POOL_IDLE && !p->conns[i].finishing)
			pc = &p->conns[i];
	if (pc == NULL || pool_send(pc, params, nparams, body, bodylen) == -1)
		return -1;
	pc->state = POOL_BUSY;
	pc->done = done;
	pc->arg = arg;
	return 0;
}
