/*
 * The messages table replaced by nothing, for a build that stores no
 * message (make NOSTORE=1): the benchmark's transport ceiling measures the
 * relay without the database's share, and the durability tests' negative
 * control must see such a service fail them.  Every message "is stored"
 * under an id of its own and none ever waits: a recipient who is offline
 * loses it.  Never for a real service.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fcgi_app.h"

/* Unique enough across the workers: the pid, then a counter. */
static void
db_message_fake(struct message *m)
{
	static uint64_t	counter;
	struct tm	tm;
	time_t		now = time(NULL);

	m->id = ((uint64_t)getpid() << 32) | ++counter;
	gmtime_r(&now, &tm);
	strftime(m->time, sizeof(m->time), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
db_message_add(struct db *db, struct message *m)
{
	(void)db;
	db_message_fake(m);
	return 1;
}

int
db_messages_add(struct db *db, struct message *ms, int *stored, size_t n)
{
	size_t	i;

	(void)db;
	for (i = 0; i < n; i++) {
		db_message_fake(&ms[i]);
		stored[i] = 1;
	}
	return 0;
}

int
db_messages_waiting(struct db *db, uint64_t to, int acked, uint64_t after,
    int limit, int (*cb)(void *, const struct message *), void *arg)
{
	(void)db;
	(void)to;
	(void)acked;
	(void)after;
	(void)limit;
	(void)cb;
	(void)arg;
	return 0;
}

int
db_message_delivered(struct db *db, uint64_t to, uint64_t id)
{
	(void)db;
	(void)to;
	(void)id;
	return 0;
}

int
db_messages_delivered(struct db *db, const struct mark *marks, size_t n)
{
	(void)db;
	(void)marks;
	(void)n;
	return 0;
}

int
db_message_ack(struct db *db, uint64_t to, uint64_t id, uint64_t *src)
{
	(void)db;
	(void)to;
	(void)id;
	(void)src;
	return 0;
}

int
db_message_read(struct db *db, uint64_t to, uint64_t id, uint64_t *src)
{
	(void)db;
	(void)to;
	(void)id;
	(void)src;
	return 0;
}
