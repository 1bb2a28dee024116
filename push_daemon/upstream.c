/*
 * The workers' side: every event for them (a client packet, a fetch, a
 * written report, a closed or started notice) waits in its lane's FIFO
 * until a connection of the lane's pool is free; then everything waiting,
 * up to batch_max, goes in one batch, one FastCGI request, which the
 * worker runs in one transaction (docs/ARCHITECTURE.md, "Batches").
 * Nothing waits to fill a batch: at low load a batch is one event, under
 * load batches grow by themselves, as group commit does.
 *
 * Runs are deferred to the event loop's next turn, so that all that is
 * submitted while one answer is applied goes out together, and no
 * callback re-enters another.  Whatever happens to a batch, each event's
 * done is called once, with its actions or NULL; its submitter decides
 * what that means.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <cJSON.h>

#include "envelope.h"
#include "log.h"
#include "push_daemon.h"

TAILQ_HEAD(upstream_queue, upstream_event);

struct lane {
	const char		*name;
	struct pool		*pool;		/* owned */
	struct upstream_queue	 wait;		/* owned: not yet sent */
	u_int			 waiting;
	int			 batch_max;
	u_int			 in_flight;	/* events in batches sent */
	struct event		*kick;		/* owned: deferred run */
	struct upstream_stats	 stats;
};

/* One batch in flight; owns its events until their done has run. */
struct batch {
	struct lane		*lane;
	struct upstream_queue	 events;
	u_int			 n;
};

static struct lane	lanes[LANE_COUNT];

/* A batch of no events: what a new connection says first (pool.c). */
static const struct fcgi_param upstream_greeting[] = {
	{ "REQUEST_METHOD", "POST" },
	{ "SCRIPT_NAME", ENV_SCRIPT_BATCH },
	{ "CONTENT_LENGTH", "0" },
};
static uint64_t		upstream_batches;	/* for the log */
static int		upstream_stopping;	/* no done from now on */

static void	upstream_kick(void *);

static void
upstream_event_free(struct upstream_event *ev)
{
	if (ev == NULL)
		return;
	packet_free(ev->body);
	free(ev);
}

/* Takes body (NULL: none); NULL if out of memory, body then freed. */
struct upstream_event *
upstream_event_new(const char *name, uint64_t conn_id, const char *account,
    int ack, const char *transport, const char *remote, struct packet *body,
    upstream_done_fn done)
{
	struct upstream_event	*ev;

	if ((ev = calloc(1, sizeof(*ev))) == NULL) {
		log_warn("%s", __func__);
		packet_free(body);
		return NULL;
	}
	ev->name = name;
	ev->conn_id = conn_id;
	snprintf(ev->account, sizeof(ev->account), "%s", account);
	ev->ack = ack;
	ev->transport = transport;
	snprintf(ev->remote, sizeof(ev->remote), "%s", remote);
	ev->body = body;
	ev->done = done;
	return ev;
}

/* Takes ev: it waits its turn in the lane; done is called later. */
void
upstream_submit(enum upstream_lane which, struct upstream_event *ev)
{
	struct lane	*lane = &lanes[which];

	TAILQ_INSERT_TAIL(&lane->wait, ev, entry);
	lane->waiting++;
	event_active(lane->kick, 0, 0);
}

/* Calls every event's done, with its answer or none, and frees them. */
static void
upstream_answer(struct batch *b, const cJSON *answers)
{
	struct upstream_event	*ev;
	const cJSON		*a, *actions;

	a = answers != NULL ? answers->child : NULL;
	while ((ev = TAILQ_FIRST(&b->events)) != NULL) {
		TAILQ_REMOVE(&b->events, ev, entry);
		actions = NULL;
		if (a != NULL && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
		    a, ENV_FAILED)))
			actions = cJSON_GetObjectItemCaseSensitive(a,
			    ENV_ACTIONS);
		if (actions != NULL && !cJSON_IsArray(actions))
			actions = NULL;
		ev->done(ev, actions);
		upstream_event_free(ev);
		if (a != NULL)
			a = a->next;
	}
}

/* The pool's end of a batch: the answer has one entry per event. */
static void
upstream_batch_done(void *arg, const char *body, size_t len,
    const char *errstr)
{
	struct batch		*b = arg;
	struct upstream_event	*ev;
	const cJSON		*answers = NULL;
	cJSON			*root = NULL;

	/*
	 * pool_free() ends the batches in flight: their connections are
	 * gone by then (conn_shutdown() ran first), so no done may run.
	 */
	if (upstream_stopping) {
		while ((ev = TAILQ_FIRST(&b->events)) != NULL) {
			TAILQ_REMOVE(&b->events, ev, entry);
			upstream_event_free(ev);
		}
		free(b);
		return;
	}

	if (errstr == NULL) {
		root = cJSON_ParseWithLength(body, len);
		answers = cJSON_GetObjectItemCaseSensitive(root, ENV_ANSWERS);
		if (!cJSON_IsArray(answers) ||
		    (u_int)cJSON_GetArraySize(answers) != b->n) {
			errstr = "answer does not match the batch";
			answers = NULL;
		}
	}
	if (errstr != NULL) {
		log_warnx("%s lane: a batch of %u failed: %s", b->lane->name,
		    b->n, errstr);
		b->lane->stats.failed++;
	}
	b->lane->in_flight -= b->n;
	upstream_answer(b, answers);
	cJSON_Delete(root);
	free(b);
}

/* One event's header line and bytes, appended to out; -1 if too big. */
static int
upstream_encode(struct evbuffer *out, const struct upstream_event *ev)
{
	char	 id[ID_STR_MAX], line[ENV_BATCH_HEADER_MAX];
	cJSON	*h;
	size_t	 len = ev->body != NULL ? ev->body->len : 0;
	int	 ok;

	snprintf(id, sizeof(id), "%" PRIu64, ev->conn_id);
	if ((h = cJSON_CreateObject()) == NULL)
		return -1;
	ok = cJSON_AddStringToObject(h, ENV_EV_EVENT, ev->name) != NULL &&
	    cJSON_AddStringToObject(h, ENV_EV_CONN, id) != NULL &&
	    cJSON_AddStringToObject(h, ENV_EV_ACCOUNT, ev->account) != NULL &&
	    cJSON_AddBoolToObject(h, ENV_EV_ACK, ev->ack) != NULL &&
	    cJSON_AddStringToObject(h, ENV_EV_TRANSPORT, ev->transport) !=
	    NULL &&
	    cJSON_AddStringToObject(h, ENV_EV_REMOTE, ev->remote) != NULL &&
	    cJSON_AddNumberToObject(h, ENV_EV_LENGTH, (double)len) != NULL &&
	    (ev->detail == NULL ||
	    cJSON_AddStringToObject(h, ENV_EV_DETAIL, ev->detail) != NULL) &&
	    cJSON_PrintPreallocated(h, line, sizeof(line) - 1, 0);
	cJSON_Delete(h);
	if (!ok)
		return -1;
	evbuffer_add_printf(out, "%s\n", line);
	if (len > 0)
		evbuffer_add(out, ev->body->data, len);
	return 0;
}

/* Takes up to batch_max waiting events into b, encoded into out. */
static void
upstream_fill(struct lane *lane, struct batch *b, struct evbuffer *out)
{
	struct upstream_event	*ev;

	/* A group goes whole or waits for the next batch. */
	while ((ev = TAILQ_FIRST(&lane->wait)) != NULL && (b->n == 0 ||
	    b->n + 1 + (u_int)ev->group_rest <= (u_int)lane->batch_max)) {
		TAILQ_REMOVE(&lane->wait, ev, entry);
		lane->waiting--;
		if (upstream_encode(out, ev) == -1) {
			log_warnx("conn %" PRIu64 ": %s event cannot be sent",
			    ev->conn_id, ev->name);
			ev->done(ev, NULL);
			upstream_event_free(ev);
			continue;
		}
		TAILQ_INSERT_TAIL(&b->events, ev, entry);
		b->n++;
	}
}

static void
upstream_count(struct upstream_stats *st, u_int n)
{
	int	i = 0;

	while (i < UPSTREAM_HIST - 1 && n >= (2u << i))
		i++;
	st->batches++;
	st->events += n;
	st->hist[i]++;
}

/* The counts since start (the admin socket's "batches"). */
void
upstream_stats(enum upstream_lane which, struct upstream_stats *st)
{
	*st = lanes[which].stats;
	st->lane = lanes[which].name;
	st->waiting = lanes[which].waiting;
	st->in_flight = lanes[which].in_flight;
	pool_counts(lanes[which].pool, &st->pool);
}

/* Sends one batch on a free connection; -1 if there was none to send. */
static int
upstream_send(struct lane *lane)
{
	char			 len[ID_STR_MAX];
	struct batch		*b;
	struct evbuffer		*out;
	const uint8_t		*body;
	size_t			 bodylen;
	struct fcgi_param	 params[] = {
		{ "REQUEST_METHOD", "POST" },
		{ "SCRIPT_NAME", ENV_SCRIPT_BATCH },
		{ "CONTENT_LENGTH", len },
		{ ENV_NODE, conf.node_name },
	};

	if ((b = calloc(1, sizeof(*b))) == NULL || (out = evbuffer_new()) ==
	    NULL) {
		free(b);
		return -1;
	}
	b->lane = lane;
	TAILQ_INIT(&b->events);
	upstream_fill(lane, b, out);
	bodylen = evbuffer_get_length(out);
	body = evbuffer_pullup(out, -1);
	snprintf(len, sizeof(len), "%zu", bodylen);
	if (b->n == 0 || pool_submit(lane->pool, params,
	    sizeof(params) / sizeof(params[0]), body, bodylen,
	    upstream_batch_done, b) == -1) {
		/* Nothing left, or no connection after all: fail them now. */
		upstream_answer(b, NULL);
		free(b);
		evbuffer_free(out);
		return -1;
	}
	log_debug("%s lane: batch %" PRIu64 " of %u events", lane->name,
	    ++upstream_batches, b->n);
	upstream_count(&lane->stats, b->n);
	lane->in_flight += b->n;
	evbuffer_free(out);
	return 0;
}

/* Fills every free connection of the lane with what waits. */
static void
upstream_run(struct lane *lane)
{
	while (lane->waiting > 0 && pool_idle(lane->pool) > 0)
		if (upstream_send(lane) == -1)
			break;
}

static void
upstream_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	upstream_run(arg);
}

/* The pool has a free connection: run from the loop, never from inside. */
static void
upstream_kick(void *arg)
{
	struct lane	*lane = arg;

	event_active(lane->kick, 0, 0);
}

static void
upstream_lane_init(struct lane *lane, const char *name, const char *path,
    int size, int batch_max)
{
	lane->name = name;
	TAILQ_INIT(&lane->wait);
	lane->batch_max = batch_max;
	if ((lane->kick = event_new(base, -1, 0, upstream_kick_cb,
	    lane)) == NULL)
		fatalx("%s: event_new", __func__);
	lane->pool = pool_new(name, path, size, upstream_greeting,
	    sizeof(upstream_greeting) / sizeof(upstream_greeting[0]),
	    upstream_kick, lane);
}

/*
 * The login lane carries one event per batch: each may hash a password,
 * which takes longer than a commit, and a batch answers only at its end.
 */
void
upstream_init(void)
{
	upstream_stopping = 0;
	upstream_lane_init(&lanes[LANE_MAIN], "main", conf.fcgi_socket,
	    conf.workers, conf.batch_max);
	upstream_lane_init(&lanes[LANE_LOGIN], "login", conf.login_socket,
	    conf.login_workers, 1);
}

/* The "started" event: this node's presence rows are stale. */
static void
upstream_started_done(struct upstream_event *ev, const cJSON *actions)
{
	static int	tries;

	(void)ev;
	if (actions != NULL || ++tries >= 100) {
		if (actions == NULL)
			log_warnx("presence of this node not cleared");
		return;
	}
	upstream_started();
}

/* The event carries an id of its own, since every event names one. */
void
upstream_started(void)
{
	struct upstream_event	*ev;

	ev = upstream_event_new(ENV_EVENT_STARTED, conn_new_id(), "", 0, "", "",
	    NULL, upstream_started_done);
	if (ev != NULL)
		upstream_submit(LANE_MAIN, ev);
}

/* Drops every event, sent or not, without calling done: we are stopping. */
void
upstream_shutdown(void)
{
	struct upstream_event	*ev;
	int			 i;

	upstream_stopping = 1;
	for (i = 0; i < LANE_COUNT; i++) {
		/* Batches in flight are the pool's: freed with their arg. */
		pool_free(lanes[i].pool);
		while ((ev = TAILQ_FIRST(&lanes[i].wait)) != NULL) {
			TAILQ_REMOVE(&lanes[i].wait, ev, entry);
			upstream_event_free(ev);
		}
		event_free(lanes[i].kick);
	}
}
