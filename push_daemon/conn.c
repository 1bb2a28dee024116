/*
 * struct conn: one client connection, whatever its transport.  Owns the
 * connection table (id -> conn), each conn's queue of packets waiting for
 * a worker, its login timer and its bufferevent, and the one way to end a
 * connection, conn_close().  A closed conn leaves every index at once but
 * is freed later by the reaper, because conn_close() is often called from
 * deep inside a callback (wslay's, a bufferevent's) that still holds it.
 */
#include <sys/socket.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <cJSON.h>

#include "envelope.h"
#include "log.h"
#include "push_daemon.h"
#include "shared.h"

/* Bytes read ahead per connection; a packet or a WS frame fits easily. */
#define CONN_READ_HIGH		(128 * 1024)

/* How long a closing connection may take to write what it was sent. */
#define CONN_CLOSE_TIMEOUT	10

static struct conn_list	*conn_table;	/* buckets, indexed by id & mask */
static uint64_t		 conn_mask;
static uint64_t		 conn_next_id = 1;
static u_int		 conn_live;
static int		 conn_stopping;	/* no closed events at shutdown */
static struct event	*conn_reaper;
static TAILQ_HEAD(, conn) conn_dead = TAILQ_HEAD_INITIALIZER(conn_dead);

static const char *const conn_state_names[] = {
	"handshake", "logged-out", "logged-in", "closing", "closed"
};

static void	conn_reap(evutil_socket_t, short, void *);
static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_write_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);
static void	conn_login_timeout(evutil_socket_t, short, void *);

/* Sizes the table for max connections so that chains stay short. */
void
conn_init(int max)
{
	uint64_t	size = 1024;

	conn_stopping = 0;
	while (size < (uint64_t)max)
		size <<= 1;
	if ((conn_table = calloc(size, sizeof(*conn_table))) == NULL)
		fatal("%s", __func__);
	conn_mask = size - 1;
	if ((conn_reaper = event_new(base, -1, 0, conn_reap, NULL)) == NULL)
		fatalx("%s: event_new", __func__);
}

double
conn_now(void)
{
	return clock_now();
}

/* Ids come from one counter, never reused; events that need one take one. */
uint64_t
conn_new_id(void)
{
	return conn_next_id++;
}

u_int
conn_count(void)
{
	return conn_live;
}

struct conn *
conn_find(uint64_t id)
{
	struct conn	*c;

	LIST_FOREACH(c, &conn_table[id & conn_mask], id_entry)
		if (c->id == id)
			return c;
	return NULL;
}

static int
conn_setup(struct conn *c)
{
	struct timeval	tv = { conf.login_timeout, 0 };

	c->bev = bufferevent_socket_new(base, c->fd, 0);
	c->login_timer = evtimer_new(base, conn_login_timeout, c);
	if (c->bev == NULL || c->login_timer == NULL)
		return -1;
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, CONN_READ_HIGH);
	if (deliver_init(c) == -1)
		return -1;
	evtimer_add(c->login_timer, &tv);
	ratelimit_init(&c->bucket, conf.packet_rate, conf.packet_burst,
	    conn_now());
	if (c->tp->start(c) == -1)
		return -1;
	return bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/*
 * Takes fd (accepted, non-blocking).  Returns the new conn, or NULL after
 * closing fd.
 */
struct conn *
conn_new(int fd, const struct transport *tp, const char *remote)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s", __func__);
		close(fd);
		return NULL;
	}
	c->id = conn_new_id();
	c->fd = fd;
	c->tp = tp;
	c->state = CONN_HANDSHAKE;
	TAILQ_INIT(&c->queue);
	snprintf(c->remote, sizeof(c->remote), "%s", remote);
	LIST_INSERT_HEAD(&conn_table[c->id & conn_mask], c, id_entry);
	conn_live++;
	counters_conn(tp, 1);
	log_debug("%s: conn %" PRIu64 " (%s)", __func__, c->id, tp->name);
	if (conn_setup(c) == -1) {
		conn_close(c, "cannot set up");
		return NULL;
	}
	return c;
}

/* The one place a state changes, so that it can be logged. */
void
conn_set_state(struct conn *c, enum conn_state state)
{
	struct timeval	tv = { conf.login_timeout, 0 };

	if (c->state == state)
		return;
	log_debug("conn %" PRIu64 ": %s -> %s", c->id,
	    conn_state_names[c->state], conn_state_names[state]);
	/* A logout gives the connection a new login_timeout to log in. */
	if (state == CONN_LOGGED_IN && c->login_timer != NULL)
		evtimer_del(c->login_timer);
	if (c->state == CONN_LOGGED_IN && state == CONN_LOGGED_OUT &&
	    c->login_timer != NULL)
		evtimer_add(c->login_timer, &tv);
	c->state = state;
}

static void
conn_drop_queue(struct conn *c)
{
	struct packet	*p;

	while ((p = TAILQ_FIRST(&c->queue)) != NULL) {
		TAILQ_REMOVE(&c->queue, p, entry);
		packet_free(p);
	}
	c->queue_len = 0;
}

static void
conn_closed_done(struct upstream_event *ev, const cJSON *actions)
{
	if (actions == NULL)
		log_warnx("conn %" PRIu64 ": closed event failed; its presence "
		    "row stays until the node restarts", ev->conn_id);
	else
		route_report(ev->conn_id, actions);	/* friends told */
}

/* The workers are told a binding has ended: presence forgets it. */
static void
conn_closed_event(uint64_t id, const char *account, int ack,
    const char *transport, const char *remote)
{
	struct upstream_event	*ev;

	ev = upstream_event_new(ENV_EVENT_CLOSED, id, account, ack, transport,
	    remote, NULL, conn_closed_done);
	if (ev != NULL)
		upstream_submit(LANE_MAIN, ev);
}

/*
 * Tells the workers a bound connection has gone.  If a request is in
 * flight its answer may still bind or unbind, so the event is sent once
 * that answer is in (conn_answered()).
 */
static void
conn_notify_closed(struct conn *c)
{
	if (conn_stopping)
		return;
	if (c->req != NULL) {
		c->req->orphan = 1;
		memcpy(c->req->gone, c->account, sizeof(c->req->gone));
		c->req->gone_ack = c->ack;
	} else if (c->account[0] != '\0')
		conn_closed_event(c->id, c->account, c->ack, c->tp->name,
		    c->remote);
	c->req = NULL;
}

/*
 * Ends c now: it leaves every index, so lookups by id fail from here on,
 * and is freed by the reaper.  Safe on a half-built conn and when called
 * twice.  reason is for the log.
 */
void
conn_close(struct conn *c, const char *reason)
{
	if (c == NULL || c->state == CONN_CLOSED)
		return;
	log_info("conn %" PRIu64 "%s%s (%s %s): closed: %s", c->id,
	    c->account[0] != '\0' ? " account " : "", c->account, c->tp->name,
	    c->remote[0] != '\0' ? c->remote : "-", reason);
	deliver_close(c, !conn_stopping);
	conn_notify_closed(c);
	online_remove(c);
	addrlimit_release(c);
	conn_set_state(c, CONN_CLOSED);
	conn_drop_queue(c);
	if (c->login_timer != NULL)
		evtimer_del(c->login_timer);
	if (c->bev != NULL) {
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	}
	LIST_REMOVE(c, id_entry);
	conn_live--;
	counters_conn(c->tp, -1);
	TAILQ_INSERT_TAIL(&conn_dead, c, dead_entry);
	event_active(conn_reaper, 0, 0);
}

/* Frees closed conns, outside any callback that could still use them. */
static void
conn_reap(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c;

	(void)fd;
	(void)what;
	(void)arg;
	while ((c = TAILQ_FIRST(&conn_dead)) != NULL) {
		TAILQ_REMOVE(&conn_dead, c, dead_entry);
		if (c->tp_data != NULL)
			c->tp->free(c);
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		if (c->login_timer != NULL)
			event_free(c->login_timer);
		linger_fd(c->fd);
		free(c);
	}
}

/*
 * Answer, then close (Redis CLOSE_AFTER_REPLY): nothing more is read or
 * forwarded, what was written goes out, then conn_close(c, reason).
 */
void
conn_close_after_write(struct conn *c, const char *reason)
{
	struct timeval	tv = { CONN_CLOSE_TIMEOUT, 0 };

	if (c->state >= CONN_CLOSING)
		return;
	c->close_reason = reason;
	conn_set_state(c, CONN_CLOSING);
	conn_drop_queue(c);
	bufferevent_disable(c->bev, EV_READ);
	c->tp->finish(c);
	if (c->state == CONN_CLOSED)
		return;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_close(c, reason);
		return;
	}
	bufferevent_set_timeouts(c->bev, NULL, &tv);
}

/* Writes one packet; a client that does not read is cut off. */
void
conn_write(struct conn *c, const char *data, size_t len)
{
	ssize_t	queued;

	if (c->state == CONN_CLOSING || c->state == CONN_CLOSED) {
		log_debug("conn %" PRIu64 ": closing, %zu bytes dropped",
		    c->id, len);
		return;
	}
	if ((queued = c->tp->write(c, data, len)) == -1) {
		conn_close(c, "cannot write");
		return;
	}
	counters_packet_out(c->tp);
	if ((size_t)queued > (size_t)conf.output_max_kib * 1024)
		conn_close(c, "slow client");
}

/* Answers p (or, with p NULL, any packet) with a fail the daemon makes. */
void
conn_fail(struct conn *c, const struct packet *p, const char *detail)
{
	char	cmd[64], out[PACKET_MAX + JSON_SLACK];
	int	len;

	counters_fail(detail);
	cmd[0] = '\0';
	if (p != NULL)
		packet_command(p->data, p->len, cmd, sizeof(cmd));
	if ((len = packet_fail(out, sizeof(out), cmd, detail)) == -1) {
		conn_close(c, "out of memory");
		return;
	}
	conn_write(c, out, (size_t)len);
}

int
conn_queue_full(const struct conn *c)
{
	return c->queue_len >= CONN_QUEUE_MAX;
}

/* Stops reading until the queue has room: the kernel then slows the client. */
void
conn_pause(struct conn *c)
{
	c->paused = 1;
	bufferevent_disable(c->bev, EV_READ);
}

/*
 * A decoded packet: it waits its turn, rate limited on arrival, per
 * connection and, once logged in, per account.
 */
void
conn_packet(struct conn *c, enum packet_kind kind, const char *data,
    size_t len)
{
	struct packet	*p;
	double		 now = conn_now();

	if (c->state >= CONN_CLOSING)
		return;
	counters_packet_in(c->tp);
	/* The account's bucket is shared by all its connections here. */
	if (kind == PACKET_DATA && (!ratelimit_take(&c->bucket, now) ||
	    !online_take(c, now)))
		kind = PACKET_RATE_LIMITED;
	if ((p = packet_new(kind, data, len)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	log_debug("conn %" PRIu64 ": packet of %zu bytes, kind %d", c->id,
	    len, kind);
	TAILQ_INSERT_TAIL(&c->queue, p, entry);
	c->queue_len++;
	conn_dispatch(c);
}

/* A packet the daemon answers itself; 0, or -1 if c is closing. */
static int
conn_answer_local(struct conn *c, struct packet *p)
{
	switch (p->kind) {
	case PACKET_TOO_LARGE:
		conn_fail(c, NULL, "packet too large");
		break;
	case PACKET_BAD_LENGTH:
		conn_fail(c, NULL, "bad length");
		conn_close_after_write(c, "bad length");
		break;
	case PACKET_DATA:
	case PACKET_FETCH:
	case PACKET_RATE_LIMITED:
		break;
	}
	return c->state >= CONN_CLOSING ? -1 : 0;
}

static int
conn_idle(const struct conn *c)
{
	return c->req == NULL && TAILQ_EMPTY(&c->queue);
}

static int
conn_is_fetch(const struct upstream_event *ev)
{
	return strcmp(ev->name, ENV_EVENT_FETCH) == 0;
}

/*
 * The worker's answer to a packet or fetch of connection ev->conn_id, or
 * NULL if there is none: the client is told "server error" for a packet,
 * and a fetch runs again.  The connection may have gone meanwhile: its
 * own packets are then dropped, the others still go out.
 */
static void	conn_answered(struct upstream_event *, const cJSON *);

static enum upstream_lane
conn_lane(const struct conn *c)
{
	return c->state == CONN_LOGGED_IN ? LANE_MAIN : LANE_LOGIN;
}

/*
 * A packet to refuse with detail (rate limited; server error after its
 * batch failed): the workers' gate words the refusal, or says nothing for
 * a command that is never answered, so the daemon needs to know no
 * command.  Takes p.  group_rest keeps the refusals of one failed group
 * together, in order.
 */
static struct upstream_event *
conn_refusal(struct conn *c, struct packet *p, const char *detail,
    int group_rest)
{
	struct upstream_event	*ev;

	ev = upstream_event_new(ENV_EVENT_REFUSED, c->id, c->account, c->ack,
	    c->tp->name, c->remote, p, conn_answered);
	if (ev == NULL)
		return NULL;
	ev->detail = detail;
	ev->group_rest = group_rest;
	upstream_submit(conn_lane(c), ev);
	return ev;
}

/*
 * A packet's batch failed: its refusal takes its place, so that c's later
 * packets still wait behind it; a refusal whose own batch failed (a
 * connection found dead only when used) runs again, a few times.  0, or
 * -1 if it could not be made.
 */
static int
conn_refuse_failed(struct conn *c, const struct upstream_event *ev)
{
	struct upstream_event	*r;
	struct packet		*p;

	if (ev->detail != NULL && ev->tries + 1 >= REFUSAL_TRIES)
		return -1;
	if ((p = packet_new(PACKET_DATA, ev->body->data,
	    ev->body->len)) == NULL ||
	    (r = conn_refusal(c, p, ev->detail != NULL ? ev->detail :
	    "server error", ev->group_rest)) == NULL)
		return -1;
	r->tries = ev->detail != NULL ? ev->tries + 1 : 0;
	if (c->req == ev)
		c->req = r;
	return 0;
}

static void
conn_answered(struct upstream_event *ev, const cJSON *actions)
{
	struct conn	*c;
	int		 fetch = conn_is_fetch(ev);

	if (actions != NULL && route_answer(ev->conn_id, actions, ev->gone,
	    sizeof(ev->gone), fetch) == -1)
		actions = NULL;
	if (actions == NULL && !fetch &&
	    (c = conn_find(ev->conn_id)) != NULL) {
		log_warnx("conn %" PRIu64 ": %s failed", ev->conn_id,
		    ev->name);
		if (conn_refuse_failed(c, ev) == 0)
			return;
		/* Not even a refusal got through: say it without a worker. */
		conn_fail(c, ev->body, ev->detail != NULL ? ev->detail :
		    "server error");
	}
	if (ev->orphan && ev->gone[0] != '\0')
		conn_closed_event(ev->conn_id, ev->gone, ev->gone_ack,
		    ev->transport, ev->remote);
	if ((c = conn_find(ev->conn_id)) != NULL && c->req == ev) {
		if (fetch)
			deliver_fetch_end(c, ev->body, actions == NULL);
		conn_request_done(c);
	}
}

/*
 * Sends c's next packets to the workers; c waits for their answers.  A
 * logged-in connection's run of packets (up to CONN_GROUP_MAX, stopping
 * at anything the daemon answers itself) goes as one group, which a batch
 * never splits: the worker runs them in order in one transaction, so a
 * pipelining client is not held to one packet per commit.  A fetch goes
 * alone, as its answer may ask for the next.  A logged-out connection can
 * only log in or register, whose password hashes must not hold up
 * messages: its packets go one by one in their own lane.
 */
static void
conn_submit(struct conn *c)
{
	struct upstream_event	*evs[CONN_GROUP_MAX], *ev;
	struct packet		*p = TAILQ_FIRST(&c->queue);
	int			 fetch = p->kind == PACKET_FETCH;
	int			 bound = c->state == CONN_LOGGED_IN;
	int			 i, n = 0, max = 1;

	if (bound && !fetch)
		max = conf.batch_max < CONN_GROUP_MAX ? conf.batch_max :
		    CONN_GROUP_MAX;
	while (n < max && (p = TAILQ_FIRST(&c->queue)) != NULL &&
	    (n == 0 || p->kind == PACKET_DATA)) {
		TAILQ_REMOVE(&c->queue, p, entry);
		c->queue_len--;
		ev = upstream_event_new(fetch ? ENV_EVENT_FETCH :
		    ENV_EVENT_PACKET, c->id, c->account, c->ack, c->tp->name,
		    c->remote, p, conn_answered);
		if (ev == NULL) {
			conn_fail(c, NULL, "server error");
			break;
		}
		evs[n++] = ev;
	}
	for (i = 0; i < n; i++) {
		evs[i]->group_rest = n - 1 - i;
		upstream_submit(fetch || bound ? LANE_MAIN : LANE_LOGIN,
		    evs[i]);
	}
	/* The last answer of the group is the one c waits for. */
	if (n > 0)
		c->req = evs[n - 1];
}

/*
 * Sends the next queued packets on their way unless some are in flight:
 * one group at a time keeps a connection's packets in order.
 */
void
conn_dispatch(struct conn *c)
{
	struct packet	*p;

	while (c->state < CONN_CLOSING && c->req == NULL &&
	    (p = TAILQ_FIRST(&c->queue)) != NULL) {
		if (p->kind == PACKET_DATA || p->kind == PACKET_FETCH) {
			conn_submit(c);
			continue;
		}
		TAILQ_REMOVE(&c->queue, p, entry);
		c->queue_len--;
		if (p->kind == PACKET_RATE_LIMITED) {
			/* Answered in its turn, by the workers' gate. */
			if ((c->req = conn_refusal(c, p, "rate limited",
			    0)) == NULL)
				conn_fail(c, NULL, "rate limited");
			continue;
		}
		conn_answer_local(c, p);
		packet_free(p);
	}
	if (c->eof && c->state < CONN_CLOSING && conn_idle(c))
		conn_close_after_write(c, "client closed");
}

/* The answer to c's request was applied: on to its next packet. */
void
conn_request_done(struct conn *c)
{
	c->req = NULL;
	conn_dispatch(c);
	if (c->paused && c->state < CONN_CLOSING && !conn_queue_full(c)) {
		c->paused = 0;
		bufferevent_enable(c->bev, EV_READ);
		c->tp->read(c);
	}
}

/*
 * A fetch for deliver.c: it runs next, before the packets already
 * waiting.  Returns -1 if it will not run (c is closing).
 */
int
conn_fetch(struct conn *c, const char *body, size_t len)
{
	struct packet	*p;

	if (c->state >= CONN_CLOSING)
		return -1;
	if ((p = packet_new(PACKET_FETCH, body, len)) == NULL) {
		conn_close(c, "out of memory");
		return -1;
	}
	TAILQ_INSERT_HEAD(&c->queue, p, entry);
	c->queue_len++;
	if (c->req == NULL)
		conn_dispatch(c);
	return 0;
}

void
conn_bind(struct conn *c, const char *account, int ack)
{
	if (c->state != CONN_LOGGED_OUT && c->state != CONN_LOGGED_IN)
		return;
	/*
	 * A login that raced chatctl disable (admin.c).  The account is
	 * noted, not bound, so that the closed event removes the presence
	 * row the login made.
	 */
	if (admin_refuses(account)) {
		snprintf(c->account, sizeof(c->account), "%s", account);
		c->ack = ack;
		conn_close_after_write(c, "account disabled");
		return;
	}
	online_remove(c);
	snprintf(c->account, sizeof(c->account), "%s", account);
	c->ack = ack;
	if (online_add(c) == -1) {
		conn_close(c, "out of memory");
		return;
	}
	conn_set_state(c, CONN_LOGGED_IN);
}

void
conn_unbind(struct conn *c)
{
	/* The tracks written so far are the old account's: report them now. */
	deliver_flush(c);
	online_remove(c);
	c->account[0] = '\0';
	c->ack = 0;
	if (c->state == CONN_LOGGED_IN)
		conn_set_state(c, CONN_LOGGED_OUT);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->state >= CONN_CLOSING) {
		evbuffer_drain(bufferevent_get_input(bev), (size_t)-1);
		return;
	}
	/* Paused: what was read waits for the queue to have room. */
	if (!c->paused)
		c->tp->read(c);
}

/* The output buffer is empty: a closing connection is done. */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	(void)bev;
	if (c->state == CONN_CLOSING)
		conn_close(c, c->close_reason);
}

/*
 * End of file: a client may half-close after its last packet and still
 * wait for the answers, so those are sent before closing.
 */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		conn_close(c, "write timeout");
	else if (what & BEV_EVENT_ERROR)
		conn_close(c, (what & BEV_EVENT_READING) ? "read error" :
		    "write error");
	else if ((what & BEV_EVENT_EOF) && c->state >= CONN_CLOSING)
		conn_close(c, c->close_reason);
	else if (what & BEV_EVENT_EOF) {
		c->eof = 1;
		if (c->state == CONN_HANDSHAKE)
			conn_close(c, "client closed");
		else if (conn_idle(c))
			conn_close_after_write(c, "client closed");
	}
}

static void
conn_login_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)what;
	if (c->state != CONN_LOGGED_IN)
		conn_close_after_write(c, "login timeout");
}

/* Ends every connection without telling the workers: we are stopping. */
void
conn_shutdown(void)
{
	struct conn	*c;
	uint64_t	 i;

	conn_stopping = 1;
	for (i = 0; i <= conn_mask; i++)
		while ((c = LIST_FIRST(&conn_table[i])) != NULL)
			conn_close(c, "shutting down");
	conn_reap(-1, 0, NULL);
	event_free(conn_reaper);
	free(conn_table);
}
