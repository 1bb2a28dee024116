/*
 * Delivery bookkeeping of one connection (docs/ARCHITECTURE.md,
 * "Delivery"): sends to its account are held back while a fetch is asked
 * for or in flight, then written unless a fetch already wrote their
 * track; a tracked packet is reported in a "written" event once its last
 * byte has left for the socket, one report in flight per connection and
 * the tracks that finish meanwhile batched into the next.
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

void
deliver_init(struct conn *c)
{
	TAILQ_INIT(&c->held);
	TAILQ_INIT(&c->tracked);
}

/* FNV-1a; the ring keeps hashes so that 1024 tracks cost 8 KiB at most. */
static uint64_t
deliver_hash(const char *s)
{
	uint64_t	h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static int
deliver_fetched(const struct conn *c, const char *track)
{
	uint64_t	h = deliver_hash(track);
	u_int		i;

	for (i = 0; i < c->fetched_len; i++)
		if (c->fetched[i] == h)
			return 1;
	return 0;
}

/* Remembers a track a fetch wrote; the ring grows as it is used. */
static void
deliver_remember(struct conn *c, const char *track)
{
	uint64_t	*p;
	u_int		 size;

	if (c->fetched_len < FETCHED_MAX && c->fetched_len % 64 == 0) {
		size = c->fetched_len + 64;
		if ((p = reallocarray(c->fetched, size, sizeof(*p))) == NULL)
			return;
		c->fetched = p;
	}
	if (c->fetched_len < FETCHED_MAX)
		c->fetched[c->fetched_len++] = deliver_hash(track);
	else {
		c->fetched[c->fetched_pos] = deliver_hash(track);
		c->fetched_pos = (c->fetched_pos + 1) % FETCHED_MAX;
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
	struct outbound	*o;

	if ((o = deliver_outbound(data, len, track)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	TAILQ_INSERT_TAIL(&c->held, o, entry);
	c->held_bytes += len;
	if (c->held_bytes > (size_t)conf.output_max_kib * 1024)
		conn_close(c, "slow client");
}

/*
 * Writes one packet to c.  via_account: it was sent to c's account, so it
 * waits for a running fetch and is dropped if a fetch wrote it already.
 * from_fetch: it is a fetch's own packet, whose track is remembered.
 */
void
deliver_send(struct conn *c, const char *data, size_t len, const char *track,
    int via_account, int from_fetch)
{
	struct outbound	*o;

	if (c->state >= CONN_CLOSING)
		return;
	if (via_account && c->fetching) {
		deliver_hold(c, data, len, track);
		return;
	}
	if (via_account && track != NULL && deliver_fetched(c, track)) {
		log_debug("conn %" PRIu64 ": track %s already fetched", c->id,
		    track);
		return;
	}
	conn_write(c, data, len);
	if (c->state >= CONN_CLOSING || track == NULL)
		return;
	if (from_fetch)
		deliver_remember(c, track);
	if ((o = deliver_outbound("", 0, track)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	/* Its last byte is the output buffer's last byte now. */
	o->end = c->out_sent +
	    evbuffer_get_length(bufferevent_get_output(c->bev));
	TAILQ_INSERT_TAIL(&c->tracked, o, entry);
	deliver_output(c, 0);
}

/* The fetches are over: what was held goes out, in order. */
void
deliver_fetch_done(struct conn *c)
{
	struct outbound	*o;

	c->fetching = 0;
	while ((o = TAILQ_FIRST(&c->held)) != NULL) {
		TAILQ_REMOVE(&c->held, o, entry);
		c->held_bytes -= o->len;
		if (c->state < CONN_CLOSING)
			deliver_send(c, o->data, o->len,
			    o->track[0] != '\0' ? o->track : NULL, 1, 0);
		free(o);
	}
}

static void	deliver_report(struct conn *, int);

/* The report for a connection was answered: send what gathered since. */
static void
deliver_report_done(struct upstream_event *ev, const cJSON *actions)
{
	struct conn	*c;

	if (actions == NULL)
		log_warnx("conn %" PRIu64 ": written report failed; its "
		    "messages will be sent again", ev->conn_id);
	if ((c = conn_find(ev->conn_id)) == NULL)
		return;
	c->written_busy = 0;
	deliver_report(c, 0);
}

/* Sends the tracks gathered so far, unless a report is in flight. */
static void
deliver_report(struct conn *c, int force)
{
	struct upstream_event	*ev;
	struct packet		*p;
	cJSON			*root;
	char			*body;

	if (c->written == NULL || (c->written_busy && !force))
		return;
	if ((root = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddItemToObject(root, "tracks", c->written);
	c->written = NULL;
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
	c->written_busy = 1;
	upstream_submit(LANE_MAIN, ev);
}

/*
 * The socket took sent more bytes of the output: the tracks whose last
 * byte is out are due for a report.
 */
void
deliver_output(struct conn *c, size_t sent)
{
	struct outbound	*o;

	c->out_sent += sent;
	while ((o = TAILQ_FIRST(&c->tracked)) != NULL && o->end <= c->out_sent) {
		TAILQ_REMOVE(&c->tracked, o, entry);
		if (c->written == NULL)
			c->written = cJSON_CreateArray();
		if (c->written != NULL)
			cJSON_AddItemToArray(c->written,
			    cJSON_CreateString(o->track));
		free(o);
	}
	deliver_report(c, 0);
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

/* c is ending: report what went out, forget the rest. */
void
deliver_close(struct conn *c)
{
	struct outbound	*o;

	deliver_report(c, 1);
	while ((o = TAILQ_FIRST(&c->held)) != NULL) {
		TAILQ_REMOVE(&c->held, o, entry);
		free(o);
	}
	while ((o = TAILQ_FIRST(&c->tracked)) != NULL) {
		TAILQ_REMOVE(&c->tracked, o, entry);
		free(o);
	}
	cJSON_Delete(c->written);
	c->written = NULL;
	free(c->fetched);
	c->fetched = NULL;
	c->held_bytes = 0;
}
