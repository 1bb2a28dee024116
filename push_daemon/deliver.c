/*
 * Delivery to one connection (docs/ARCHITECTURE.md, "Delivery"), and all
 * the state it needs, kept in the conn's struct delivery:
 *
 * - sends to its account are held back while a fetch is asked for or in
 *   flight, then written unless a fetch already wrote their track; the
 *   last FETCHED_MAX tracks the fetches wrote are remembered, so that a
 *   late send of one of them is dropped;
 * - a fetch that fails runs again, FETCH_TRIES runs in all, before the
 *   hold-back ends;
 * - a tracked packet is reported in a "written" event once its last byte
 *   has left for the socket, one report in flight per connection and the
 *   tracks that finish meanwhile batched into the next.
 *
 * route.c hands it what to send and the fetches a worker asks for; conn.c
 * tells it when a fetch's answer has been applied and when the conn is
 * unbound or ends.  It writes through conn_write(), queues fetches with
 * conn_fetch() and sends its reports through upstream.c, whose answers
 * come back to deliver_report_done().
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "envelope.h"
#include "log.h"
#include "push_daemon.h"
#include "shared.h"

/* An outgoing packet held back, or a track waiting to go out. */
struct outbound {
	TAILQ_ENTRY(outbound)	 entry;
	uint64_t		 end;		/* tracked: out_sent when out */
	char			 track[TRACK_MAX + 1];	/* or "" */
	size_t			 len;
	char			 data[];	/* held: the packet */
};

static deliver_route_fn	deliver_route;

static void	deliver_output_cb(struct evbuffer *,
		    const struct evbuffer_cb_info *, void *);
static void	deliver_report(struct conn *, int);

/*
 * Once c->bev exists: from here on every byte the socket takes is
 * counted.  A zeroed struct delivery (a conn that never got here) is
 * still safe to close.
 */
int
deliver_init(struct conn *c)
{
	struct delivery	*d = &c->dl;

	TAILQ_INIT(&d->held);
	TAILQ_INIT(&d->tracked);
	d->out_cb = evbuffer_add_cb(bufferevent_get_output(c->bev),
	    deliver_output_cb, c);
	return d->out_cb == NULL ? -1 : 0;
}

/* The ring keeps hashes so that 1024 tracks cost 8 KiB at most. */
static uint64_t
deliver_hash(const char *s)
{
	return hash_string(s);
}

static int
deliver_fetched(const struct delivery *d, const char *track)
{
	uint64_t	h = deliver_hash(track);
	u_int		i;

	for (i = 0; i < d->fetched_len; i++)
		if (d->fetched[i] == h)
			return 1;
	return 0;
}

/* Remembers a track a fetch wrote; the ring grows as it is used. */
static void
deliver_remember(struct delivery *d, const char *track)
{
	uint64_t	*p;
	u_int		 size;

	if (d->fetched_len < FETCHED_MAX && d->fetched_len % 64 == 0) {
		size = d->fetched_len + 64;
		if ((p = reallocarray(d->fetched, size, sizeof(*p))) == NULL)
			return;
		d->fetched = p;
	}
	if (d->fetched_len < FETCHED_MAX)
		d->fetched[d->fetched_len++] = deliver_hash(track);
	else {
		d->fetched[d->fetched_pos] = deliver_hash(track);
		d->fetched_pos = (d->fetched_pos + 1) % FETCHED_MAX;
	}
}

static struct outbound *
deliver_outbound(const char *data, size_t len, const char *track)
{
	struct outbound	*o;

	if ((o = calloc(1, sizeof(*o) + len)) == NULL)
		return NULL;
	memcpy(o->data, data, len);
	o->len = len;
	snprintf(o->track, sizeof(o->track), "%s", track != NULL ? track : "");
	return o;
}

/* Held back during a fetch; a client that piles up too much is cut off. */
static void
deliver_hold(struct conn *c, const char *data, size_t len, const char *track)
{
	struct delivery	*d = &c->dl;
	struct outbound	*o;

	if ((o = deliver_outbound(data, len, track)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	TAILQ_INSERT_TAIL(&d->held, o, entry);
	d->held_bytes += len;
	if (d->held_bytes > (size_t)conf.output_max_kib * 1024)
		conn_close(c, "slow client");
}

/*
 * The socket took sent more bytes of the output: the tracks whose last
 * byte is out are due for a report.
 */
static void
deliver_output(struct conn *c, size_t sent)
{
	struct delivery	*d = &c->dl;
	struct outbound	*o;

	d->out_sent += sent;
	while ((o = TAILQ_FIRST(&d->tracked)) != NULL &&
	    o->end <= d->out_sent) {
		TAILQ_REMOVE(&d->tracked, o, entry);
		if (d->written == NULL)
			d->written = cJSON_CreateArray();
		if (d->written != NULL)
			cJSON_AddItemToArray(d->written,
			    cJSON_CreateString(o->track));
		free(o);
	}
	deliver_report(c, 0);
}

static void
deliver_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn	*c = arg;

	(void)buf;
	if (info->n_deleted > 0 && c->state != CONN_CLOSED)
		deliver_output(c, info->n_deleted);
}

/*
 * Writes one packet to c.  DELIVER_ACCOUNT: it was sent to c's account,
 * so it waits for a running fetch and is dropped if a fetch wrote it
 * already.  DELIVER_FETCHED: it is a fetch's own, whose track is
 * remembered.
 */
void
deliver_send(struct conn *c, const char *data, size_t len, const char *track,
    int flags)
{
	struct delivery	*d = &c->dl;
	struct outbound	*o;

	if (c->state >= CONN_CLOSING)
		return;
	if ((flags & DELIVER_ACCOUNT) && d->fetches > 0) {
		deliver_hold(c, data, len, track);
		return;
	}
	if ((flags & DELIVER_ACCOUNT) && track != NULL &&
	    deliver_fetched(d, track)) {
		log_debug("conn %" PRIu64 ": track %s already fetched", c->id,
		    track);
		return;
	}
	conn_write(c, data, len);
	if (c->state >= CONN_CLOSING || track == NULL)
		return;
	if (flags & DELIVER_FETCHED)
		deliver_remember(d, track);
	if ((o = deliver_outbound("", 0, track)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	/* Its last byte is the output buffer's last byte now. */
	o->end = d->out_sent +
	    evbuffer_get_length(bufferevent_get_output(c->bev));
	TAILQ_INSERT_TAIL(&d->tracked, o, entry);
	deliver_output(c, 0);
}

/*
 * A worker asked for a fetch (body: the event's, possibly empty): sends to
 * c's account are held back until every fetch asked for is over.
 */
void
deliver_fetch(struct conn *c, const char *body, size_t len)
{
	/*
	 * Counted before it is queued, so that nothing it sets off finds it
	 * uncounted; touching c after is safe, as a close never frees it.
	 */
	c->dl.fetches++;
	if (conn_fetch(c, body, len) == -1)
		c->dl.fetches--;
}

/* The fetches are over: what was held goes out, in order. */
static void
deliver_release(struct conn *c)
{
	struct delivery	*d = &c->dl;
	struct outbound	*o;

	while ((o = TAILQ_FIRST(&d->held)) != NULL) {
		TAILQ_REMOVE(&d->held, o, entry);
		d->held_bytes -= o->len;
		if (c->state < CONN_CLOSING)
			deliver_send(c, o->data, o->len,
			    o->track[0] != '\0' ? o->track : NULL,
			    DELIVER_ACCOUNT);
		free(o);
	}
}

/*
 * The answer to one of c's fetches (body: that fetch's, or NULL if empty)
 * has been applied, or failed.  A failed one (a worker died, the database
 * hiccuped) runs again a few times first: otherwise what waits for the
 * account would wait for its next login.  The hold-back ends with the
 * last fetch asked for, including those its answer asked for.
 */
void
deliver_fetch_end(struct conn *c, const struct packet *body, int failed)
{
	struct delivery	*d = &c->dl;

	if (d->fetches > 0)
		d->fetches--;
	if (!failed)
		d->fetch_failures = 0;
	else if (++d->fetch_failures < FETCH_TRIES) {
		log_info("conn %" PRIu64 ": fetch failed, running it again",
		    c->id);
		deliver_fetch(c, body != NULL ? body->data : "",
		    body != NULL ? body->len : 0);
	}
	if (d->fetches == 0)
		deliver_release(c);
}

/* The report for a connection was answered: send what gathered since. */
static void
deliver_report_done(struct upstream_event *ev, const cJSON *actions)
{
	struct conn	*c;

	if (actions == NULL)
		log_warnx("conn %" PRIu64 ": written report failed; its "
		    "messages will be sent again", ev->conn_id);
	else if (deliver_route != NULL)
		deliver_route(ev->conn_id, actions);
	if ((c = conn_find(ev->conn_id)) == NULL)
		return;
	c->dl.written_busy = 0;
	deliver_report(c, 0);
}

/* Sends the tracks gathered so far, unless a report is in flight. */
static void
deliver_report(struct conn *c, int force)
{
	struct delivery		*d = &c->dl;
	struct upstream_event	*ev;
	struct packet		*p;
	cJSON			*root;
	char			*body;

	if (d->written == NULL || (d->written_busy && !force))
		return;
	if ((root = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddItemToObject(root, ENV_TRACKS_FIELD, d->written);
	d->written = NULL;
	body = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (body == NULL || (p = packet_new(PACKET_DATA, body,
	    strlen(body))) == NULL) {
		log_warnx("conn %" PRIu64 ": written report lost", c->id);
		free(body);
		return;
	}
	free(body);
	ev = upstream_event_new(ENV_EVENT_WRITTEN, c->id, c->account, c->ack,
	    c->tp->name, c->remote, p, deliver_report_done);
	if (ev == NULL)
		return;
	d->written_busy = 1;
	upstream_submit(LANE_MAIN, ev);
}

void
deliver_set_route(deliver_route_fn fn)
{
	deliver_route = fn;
}

/*
 * c is about to be unbound: a report sent later would name no account, and
 * the worker could not mark what the old account received.
 */
void
deliver_flush(struct conn *c)
{
	deliver_report(c, 1);
}

/*
 * c is ending: stop counting its output, report what went out unless we
 * are stopping (report 0), forget the rest.
 */
void
deliver_close(struct conn *c, int report)
{
	struct delivery	*d = &c->dl;
	struct outbound	*o;

	if (d->out_cb != NULL) {
		evbuffer_remove_cb_entry(bufferevent_get_output(c->bev),
		    d->out_cb);
		d->out_cb = NULL;
	}
	if (report)
		deliver_report(c, 1);
	while ((o = TAILQ_FIRST(&d->held)) != NULL) {
		TAILQ_REMOVE(&d->held, o, entry);
		free(o);
	}
	while ((o = TAILQ_FIRST(&d->tracked)) != NULL) {
		TAILQ_REMOVE(&d->tracked, o, entry);
		free(o);
	}
	cJSON_Delete(d->written);
	d->written = NULL;
	free(d->fetched);
	d->fetched = NULL;
	d->fetched_len = d->fetched_pos = 0;
	d->held_bytes = 0;
	d->fetches = 0;
}
