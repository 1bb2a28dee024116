/*
 * One batch from the daemon: every event in order, inside one database
 * transaction, then one commit, then the answers (docs/ARCHITECTURE.md,
 * "Batches").  So a success the client hears always follows the commit
 * that holds its message, and many messages share that commit.
 *
 * One event's failure is its own: a packet refused by the gate or a
 * handler (bad request, not friends, too long) wrote nothing, or undid
 * its part through its savepoint (db.c), and the others go on.  Only what
 * ends the whole transaction (a deadlock, a lost database) touches them
 * all: a deadlock's victim runs again whole, as InnoDB expects; anything
 * else, or a third deadlock, answers every event "failed", and the daemon
 * tells each client "server error".  Nothing was acknowledged then.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "fcgi_app.h"
#include "log.h"

/* Runs of a batch that deadlocks before every event is failed. */
#define BATCH_TRIES	3

/* A connection whose session an earlier packet of the batch changed. */
struct batch_session {
	uint64_t	conn_id;
	uint64_t	account;		/* 0: logged out */
	int		ack;
};

struct batch {
	struct batch_event	 evs[ENV_BATCH_MAX];
	struct reply		*replies[ENV_BATCH_MAX];	/* owned */
	int			 failed[ENV_BATCH_MAX];
	size_t			 n;
	struct batch_session	 changed[ENV_BATCH_MAX];
	size_t			 nchanged;
};

/*
 * The session ev runs as: the daemon's, unless an earlier packet of the
 * same connection in this batch logged it in or out (a client may send
 * logout and more without waiting).
 */
static struct session
batch_session(const struct batch *b, const struct batch_event *ev)
{
	struct session	s = ev->session;
	size_t		i;

	for (i = 0; i < b->nchanged; i++)
		if (b->changed[i].conn_id == s.conn_id) {
			s.account = b->changed[i].account;
			s.ack_mode = b->changed[i].ack;
		}
	return s;
}

/* Notes the session change the answer to ev makes, if any. */
static void
batch_note_session(struct batch *b, const struct batch_event *ev,
    const struct reply *r)
{
	struct batch_session	*c;
	uint64_t		 account = 0;
	int			 ack = 0, rc;

	if ((rc = reply_binding(r, &account, &ack)) == 0 ||
	    b->nchanged == ENV_BATCH_MAX)
		return;
	c = &b->changed[b->nchanged++];
	c->conn_id = ev->session.conn_id;
	c->account = rc == 1 ? account : 0;
	c->ack = rc == 1 ? ack : 0;
}

/* A client packet through the gate; its answer is in r whatever happens. */
static void
batch_packet(struct app *app, const struct batch *b,
    const struct batch_event *ev, struct reply *r)
{
	struct session	s = batch_session(b, ev);
	char		data[PACKET_MAX + 1];

	if (ev->body_len > PACKET_MAX) {
		(void)reply_error(r, "packet too large");
		return;
	}
	/* packet_parse() wants the NUL after the bytes. */
	memcpy(data, ev->body, ev->body_len);
	data[ev->body_len] = '\0';
	if (strcmp(ev->name, ENV_EVENT_REFUSED) == 0)
		cmd_refuse(data, ev->body_len, ev->detail, r);
	else
		(void)cmd_dispatch(app, &s, data, ev->body_len, r);
}

/* One try of the whole batch; 0 if it was committed. */
static int
batch_try(struct app *app, struct batch *b)
{
	const struct batch_event	*ev;
	size_t				 i;

	app->nmarks = 0;
	msgqueue_reset(app->messages);
	b->nchanged = 0;
	if (db_batch_begin(app->db) == -1)
		return -1;
	for (i = 0; i < b->n; i++) {
		ev = &b->evs[i];
		reply_clear(b->replies[i]);
		b->failed[i] = 0;
		/*
		 * A fetch must see the marks of the reports before it, or a
		 * login right after another one would get again what the
		 * first one was written.
		 */
		if (strcmp(ev->name, ENV_EVENT_FETCH) == 0 &&
		    event_marks_flush(app) == -1)
			log_warnx("delivery marks before a fetch failed");
		if (strcmp(ev->name, ENV_EVENT_PACKET) == 0 ||
		    strcmp(ev->name, ENV_EVENT_REFUSED) == 0) {
			batch_packet(app, b, ev, b->replies[i]);
			batch_note_session(b, ev, b->replies[i]);
		} else if (event_handle(app, ev, b->replies[i]) == -1) {
			log_warnx("conn %" PRIu64 ": %s event failed",
			    ev->session.conn_id, ev->name);
			reply_clear(b->replies[i]);
			b->failed[i] = 1;
		}
	}
	(void)msgqueue_flush(app->messages, app->db);
	if (event_marks_flush(app) == -1)
		log_warnx("delivery marks of a batch failed; sent again later");
	return db_batch_commit(app->db);
}

/* Runs b, again after a deadlock; -1 if nothing of it was committed. */
static int
batch_execute(struct app *app, struct batch *b)
{
	int	tries;

	for (tries = 1;; tries++) {
		if (batch_try(app, b) == 0)
			return 0;
		if (!db_batch_deadlocked(app->db) || tries == BATCH_TRIES)
			break;
		log_info("deadlock: batch of %zu run again (%d)", b->n, tries);
		db_batch_rollback(app->db);
	}
	db_batch_rollback(app->db);
	log_warnx("a batch of %zu events failed", b->n);
	return -1;
}

/* {"answers":[...]}: each event's actions, or failed. */
static char *
batch_render(struct batch *b, int all_failed)
{
	cJSON	*root, *answers, *a;
	char	*out = NULL;
	size_t	 i;

	if ((root = cJSON_CreateObject()) == NULL ||
	    (answers = cJSON_AddArrayToObject(root, ENV_ANSWERS)) == NULL)
		goto done;
	for (i = 0; i < b->n; i++) {
		if ((a = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddItemToArray(answers, a))
			goto done;
		if (all_failed || b->failed[i]) {
			if (cJSON_AddTrueToObject(a, ENV_FAILED) == NULL)
				goto done;
		} else if (reply_attach(b->replies[i], a) == -1)
			goto done;
	}
	out = cJSON_PrintUnformatted(root);
done:
	cJSON_Delete(root);
	return out;
}

/*
 * Runs the batch in buf (len bytes) for the daemon of node.  Returns the
 * answer body, which the caller frees, or NULL with *errstr when the batch
 * cannot be read or answered (nothing of it was committed then).
 */
char *
batch_run(struct app *app, const char *node, const char *buf, size_t len,
    const char **errstr)
{
	struct batch	*b;
	char		*out = NULL;
	size_t		 i;
	int		 rc;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		*errstr = "out of memory";
		return NULL;
	}
	if (batch_parse(buf, len, node, b->evs, ENV_BATCH_MAX, &b->n,
	    errstr) == -1)
		goto done;
	for (i = 0; i < b->n; i++)
		if ((b->replies[i] = reply_new()) == NULL) {
			*errstr = "out of memory";
			goto done;
		}
	log_debug("%s: %zu events", __func__, b->n);
	/* The daemon's greeting on a new connection touches nothing. */
	rc = b->n > 0 ? batch_execute(app, b) : 0;
	if (rc == 0 && b->n > 0)
		relay_batch(app, node, b->replies, b->failed, b->n);
	if ((out = batch_render(b, rc == -1)) == NULL)
		*errstr = "cannot build the answer";
done:
	for (i = 0; i < b->n; i++)
		reply_free(b->replies[i]);
	free(b);
	return out;
}
