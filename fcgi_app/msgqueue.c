/*
 * The messages of one batch, stored together at its end (batch.c): one
 * statement checks up to 16 friendships, one multi-row INSERT stores up to
 * 16 messages, instead of a statement per message.  A handler queues its
 * message with the reply it answers into and a finish callback, which is
 * called once the rows are in (or known not to be), still before the
 * batch's commit; so a success is still sent only after the commit that
 * holds the message, and each reply is filled in its event's place.
 */
#include <stdlib.h>
#include <string.h>

#include "fcgi_app.h"
#include "log.h"

struct msgqueue_entry {
	struct message	 m;		/* body: owned copy */
	struct reply	*reply;		/* the event's, not owned */
	msgqueue_finish_fn finish;
};

struct msgqueue {
	struct msgqueue_entry	*entries;	/* owned */
	size_t			 n;
	size_t			 size;
};

struct msgqueue *
msgqueue_new(void)
{
	return calloc(1, sizeof(struct msgqueue));
}

/* Forgets what was queued: a batch that runs again queues it anew. */
void
msgqueue_reset(struct msgqueue *q)
{
	size_t	i;

	for (i = 0; i < q->n; i++)
		free((char *)q->entries[i].m.body);
	q->n = 0;
}

void
msgqueue_free(struct msgqueue *q)
{
	if (q == NULL)
		return;
	msgqueue_reset(q);
	free(q->entries);
	free(q);
}

/* Queues m (src, dst, body copied); finish(r, m, stored) comes later. */
int
msgqueue_add(struct msgqueue *q, const struct message *m, struct reply *r,
    msgqueue_finish_fn finish)
{
	struct msgqueue_entry	*e;
	size_t			 size;

	if (q->n == q->size) {
		size = q->size ? q->size * 2 : 64;
		if ((e = reallocarray(q->entries, size, sizeof(*e))) == NULL)
			return -1;
		q->entries = e;
		q->size = size;
	}
	e = &q->entries[q->n];
	memset(e, 0, sizeof(*e));
	e->m = *m;
	if ((e->m.body = strdup(m->body)) == NULL)
		return -1;
	e->reply = r;
	e->finish = finish;
	q->n++;
	return 0;
}

/*
 * Stores what was queued and calls each finish in order.  -1 if the
 * database failed: every finish is then told stored -1 (a server error),
 * and the batch's transaction decides the rest.
 */
int
msgqueue_flush(struct msgqueue *q, struct db *db)
{
	struct message	*ms = NULL;
	int		*stored = NULL, rc = -1;
	size_t		 i;

	if (q->n == 0)
		return 0;
	if ((ms = calloc(q->n, sizeof(*ms))) != NULL &&
	    (stored = calloc(q->n, sizeof(*stored))) != NULL) {
		for (i = 0; i < q->n; i++)
			ms[i] = q->entries[i].m;
		rc = db_messages_add(db, ms, stored, q->n);
	}
	if (rc == -1)
		log_warnx("%s: %zu messages not stored", __func__, q->n);
	for (i = 0; i < q->n; i++)
		q->entries[i].finish(q->entries[i].reply,
		    ms != NULL ? &ms[i] : &q->entries[i].m,
		    rc == -1 ? -1 : stored[i]);
	free(stored);
	free(ms);
	msgqueue_reset(q);
	return rc;
}
