/*
 * The daemon's connection events (docs/ARCHITECTURE.md, the envelope and
 * Delivery): fetch sends this connection what waits for its account,
 * written records what its socket has been given, closed and started keep
 * the presence table true.  Each answers a list of actions, often empty.
 *
 * A fetch's first page (no "after") runs in one transaction with the
 * account's users row locked, so it is ordered against add_friend and
 * add_friend_confirm on the same account: it records the connection in
 * presence, then sends every pending friend request, every undelivered
 * confirm result (tracked "c<id>"), and the first page of messages
 * (tracked "m<id>").  A full page asks for another fetch after its last
 * id.  Requests are tracked "q<id>" only so that the daemon drops a live
 * copy the fetch has already written: a written report of one changes
 * nothing, as a request waits until it is answered.  A stored item whose
 * packet cannot be built is skipped, not lost: it stays waiting in the
 * database.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "fcgi_app.h"
#include "log.h"

/* Messages per fetch; a full page asks for the next. */
#define EVENT_FETCH_PAGE	100

struct event_page {
	struct reply	*reply;
	uint64_t	 last;		/* id of the last message sent */
};

/* Queues packet p (taken) for this connection with track kind/id. */
static int
event_send(struct reply *r, cJSON *p, char kind, uint64_t id)
{
	if (p == NULL || reply_send_tracked(r, 0, p, kind, id) == -1)
		log_warnx("%s: %c%" PRIu64 " skipped", __func__, kind, id);
	cJSON_Delete(p);
	return 0;
}

static int
event_send_request(void *arg, const struct friend_request *q)
{
	return event_send(arg, notice_friend_request(q), 'q', q->id);
}

static int
event_send_result(void *arg, const struct friend_result *res)
{
	return event_send(arg, notice_friend_result(res), 'c', res->id);
}

static int
event_send_message(void *arg, const struct message *m)
{
	struct event_page	*pg = arg;
	char			 track[MESSAGE_TRACK_SIZE];
	cJSON			*p;

	pg->last = m->id;
	notice_message_track(m, track, sizeof(track));
	if ((p = notice_message(m)) == NULL ||
	    reply_send_track(pg->reply, 0, p, track) == -1)
		log_warnx("%s: %s skipped", __func__, track);
	cJSON_Delete(p);
	return 0;
}

/* One page of messages after id after; a full page asks for more. */
static int
event_messages(struct app *app, const struct session *s, struct reply *r,
    uint64_t after)
{
	struct event_page	pg = { r, after };
	int			n;

	n = db_messages_waiting(app->db, s->account, s->ack_mode, after,
	    EVENT_FETCH_PAGE, event_send_message, &pg);
	if (n == -1)
		return -1;
	if (n == EVENT_FETCH_PAGE)
		return reply_fetch(r, pg.last);
	return 0;
}

/* The first page, inside its transaction. */
static int
event_first_page(struct app *app, const struct session *s,
    struct reply *r)
{
	if (presence_record(app, s, r) == -1 ||
	    db_requests_to(app->db, s->account, event_send_request, r) == -1 ||
	    db_results_waiting(app->db, s->account, event_send_result,
	    r) == -1)
		return -1;
	return event_messages(app, s, r, 0);
}

/* The fetch body's cursor: 0 for an empty body or no "after". */
static int
event_after(const struct batch_event *ev, uint64_t *after)
{
	cJSON	*root;
	int	 rc = 0;

	*after = 0;
	if (ev->body_len == 0)
		return 0;
	if ((root = cJSON_ParseWithLength(ev->body, ev->body_len)) == NULL)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(root, ENV_AFTER_FIELD) != NULL &&
	    packet_get_id(root, ENV_AFTER_FIELD, after) != PACKET_ID_OK)
		rc = -1;
	cJSON_Delete(root);
	return rc;
}

static int
event_fetch(struct app *app, const struct batch_event *ev, struct reply *r)
{
	const struct session	*s = &ev->session;
	uint64_t		 after;
	int			 rc;

	/* Unbound since it was asked for: nothing is this connection's. */
	if (s->account == 0)
		return 0;
	if (event_after(ev, &after) == -1) {
		log_warnx("conn %" PRIu64 ": bad fetch body", s->conn_id);
		return -1;
	}
	if (after != 0)
		return event_messages(app, s, r, after);
	if (db_begin(app->db) == -1)
		return -1;
	rc = event_first_page(app, s, r);
	if (rc == 0 && db_commit(app->db) == -1)
		rc = -1;
	if (rc == -1)
		db_rollback(app->db);
	return rc;
}

/*
 * The table a track ("m42.10000", "c7") of this connection's account marks
 * as written, with its id and, for a message, its sender (0 for a track
 * without one, as workers before receipts wrote): 'm' or 'c', or 0 when it
 * marks nothing (a request, a message to a connection in ack mode, a
 * malformed entry).
 */
static char
event_track(const struct session *s, const cJSON *item, uint64_t *id,
    uint64_t *src)
{
	char		 buf[MESSAGE_TRACK_SIZE], *dot;
	const char	*t;

	*src = 0;
	if (!cJSON_IsString(item) || (t = item->valuestring) == NULL ||
	    t[0] == '\0' || strlen(t) >= sizeof(buf))
		return 0;
	snprintf(buf, sizeof(buf), "%s", t + 1);
	if (t[0] == 'm' && (dot = strchr(buf, '.')) != NULL) {
		*dot = '\0';
		if (packet_id_parse(dot + 1, src) == -1)
			return 0;
	}
	if (packet_id_parse(buf, id) == -1)
		return 0;
	if ((t[0] == 'm' && !s->ack_mode) || t[0] == 'c')
		return t[0];
	return 0;
}

/*
 * A message mark waits for the end of the batch, where all of them are
 * made by a few statements (db_messages_delivered()); a confirm result
 * is marked at once, as they are rare.
 */
static int
event_mark(struct app *app, const struct session *s, const cJSON *tracks,
    struct reply *r)
{
	const cJSON	*item;
	struct mark	*m;
	uint64_t	 id, src;
	size_t		 size;

	cJSON_ArrayForEach(item, tracks) {
		switch (event_track(s, item, &id, &src)) {
		case 'm':
			if (app->nmarks == app->marks_size) {
				size = app->marks_size ? app->marks_size * 2 :
				    256;
				if ((m = reallocarray(app->marks, size,
				    sizeof(*m))) == NULL)
					return -1;
				app->marks = m;
				app->marks_size = size;
			}
			app->marks[app->nmarks].id = id;
			app->marks[app->nmarks].account = s->account;
			app->marks[app->nmarks].src = src;
			app->marks[app->nmarks].reply = r;
			app->nmarks++;
			break;
		case 'c':
			if (db_result_delivered(app->db, s->account, id) == -1)
				return -1;
			break;
		}
	}
	return 0;
}

/*
 * A report for a connection no longer bound marks nothing: what it was
 * written stays waiting and is sent again, at least once.
 */
static int
event_written(struct app *app, const struct batch_event *ev, struct reply *r)
{
	const struct session	*s = &ev->session;
	const cJSON		*tracks;
	cJSON			*root;
	int			 rc;

	if (s->account == 0)
		return 0;
	if ((root = cJSON_ParseWithLength(ev->body, ev->body_len)) == NULL)
		return -1;
	tracks = cJSON_GetObjectItemCaseSensitive(root, ENV_TRACKS_FIELD);
	rc = cJSON_IsArray(tracks) ? event_mark(app, s, tracks, r) : 0;
	cJSON_Delete(root);
	return rc;
}

static int
event_mark_cmp(const void *a, const void *b)
{
	const struct mark	*x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Groups marks by the reply they go out in, then sender, then recipient. */
static int
event_receipt_cmp(const void *a, const void *b)
{
	const struct mark	*x = a, *y = b;

	if (x->reply != y->reply)
		return (uintptr_t)x->reply < (uintptr_t)y->reply ? -1 : 1;
	if (x->src != y->src)
		return x->src < y->src ? -1 : 1;
	if (x->account != y->account)
		return x->account < y->account ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * The senders' receipts for marks that were made: one run of ids per
 * (reply, sender, recipient).  A repeated report (a message written twice)
 * tells its sender again, which changes nothing it shows.
 */
static void
event_receipts(struct mark *marks, size_t n)
{
	uint64_t	*ids;
	size_t		 i, j;

	qsort(marks, n, sizeof(*marks), event_receipt_cmp);
	if ((ids = calloc(n, sizeof(*ids))) == NULL) {
		log_warnx("%s: no memory; receipts not sent", __func__);
		return;
	}
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && marks[j].reply == marks[i].reply &&
		    marks[j].src == marks[i].src &&
		    marks[j].account == marks[i].account; j++)
			ids[j - i] = marks[j].id;
		if (marks[i].src != 0 && receipt_send(marks[i].reply,
		    marks[i].src, marks[i].account, ids, j - i,
		    "delivered") == -1)
			log_warnx("%s: receipts to %" PRIu64 " not sent",
			    __func__, marks[i].src);
	}
	free(ids);
}

/*
 * Makes the message marks the batch's written reports gathered, in id
 * order (see db_messages_delivered()), then queues the receipts in the
 * reports' replies, which go out after the batch's commit.  A mark that
 * fails is no loss: the message is sent again, with its msg_id, at the
 * next login, and no receipt is sent for it.
 */
int
event_marks_flush(struct app *app)
{
	int	rc;

	if (app->nmarks == 0)
		return 0;
	qsort(app->marks, app->nmarks, sizeof(*app->marks), event_mark_cmp);
	rc = db_messages_delivered(app->db, app->marks, app->nmarks);
	if (rc == 0)
		event_receipts(app->marks, app->nmarks);
	app->nmarks = 0;
	return rc;
}

/* Runs the event ev names; -1 if it failed and nothing was done. */
int
event_handle(struct app *app, const struct batch_event *ev, struct reply *r)
{
	const struct session	*s = &ev->session;

	log_debug("%s: conn %" PRIu64 " account %" PRIu64 ": %s", __func__,
	    s->conn_id, s->account, ev->name);
	if (strcmp(ev->name, ENV_EVENT_FETCH) == 0)
		return event_fetch(app, ev, r);
	if (strcmp(ev->name, ENV_EVENT_WRITTEN) == 0)
		return event_written(app, ev, r);
	if (strcmp(ev->name, ENV_EVENT_CLOSED) == 0)
		return presence_left(app, s, r);
	if (strcmp(ev->name, ENV_EVENT_STARTED) == 0)
		return db_presence_clear(app->db, s->node);
	if (strcmp(ev->name, ENV_EVENT_HEARTBEAT) == 0)
		return node_heartbeat(app, ev, r);
	log_warnx("conn %" PRIu64 ": unknown event %s", s->conn_id, ev->name);
	return 0;
}
