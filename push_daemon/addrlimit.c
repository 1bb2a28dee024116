/*
 * Connections per client address (config connections_per_address): a hash
 * table of address -> how many connections of it are open, sized once for
 * max_connections like online.c's, with an entry per address that goes
 * when its last connection does.
 *
 * A connection is counted once its address is known, which is after the
 * PROXY line (TCP) or the WebSocket upgrade's X-Real-IP: before that it
 * has none, and the handshake's own timeouts bound it.  The empty address
 * (proxy_protocol off, or a header nginx did not set) is never limited:
 * counting every unknown client as one address would let one of them shut
 * out all the others.
 *
 * The table functions are pure, so that the unit test links this file
 * with stubs of conn_fail() and conn_close_after_write() alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "push_daemon.h"
#include "shared.h"

struct addrlimit_entry {
	char			 addr[REMOTE_MAX];
	u_int			 count;		/* open connections */
	LIST_ENTRY(addrlimit_entry) chain;
};
LIST_HEAD(addrlimit_bucket, addrlimit_entry);

static struct addrlimit_bucket	*addrlimit_table;	/* owns the entries */
static size_t			 addrlimit_mask;

void
addrlimit_init(int max)
{
	size_t	size = 1024;

	while (size < (size_t)max)
		size <<= 1;
	if ((addrlimit_table = calloc(size, sizeof(*addrlimit_table))) == NULL)
		fatal("%s", __func__);
	addrlimit_mask = size - 1;
}

/* Every entry has gone with its connections by now; frees the rest. */
void
addrlimit_shutdown(void)
{
	struct addrlimit_entry	*e;
	size_t			 i;

	if (addrlimit_table == NULL)
		return;
	for (i = 0; i <= addrlimit_mask; i++)
		while ((e = LIST_FIRST(&addrlimit_table[i])) != NULL) {
			LIST_REMOVE(e, chain);
			free(e);
		}
	free(addrlimit_table);
	addrlimit_table = NULL;
}

/* Chains of the table by the string hash every table of ours uses. */
static size_t
addrlimit_hash(const char *s)
{
	return (size_t)hash_string(s) & addrlimit_mask;
}

static struct addrlimit_entry *
addrlimit_find(const char *addr)
{
	struct addrlimit_entry	*e;

	LIST_FOREACH(e, &addrlimit_table[addrlimit_hash(addr)], chain)
		if (strcmp(e->addr, addr) == 0)
			return e;
	return NULL;
}

/* Open connections counted for addr. */
u_int
addrlimit_count(const char *addr)
{
	struct addrlimit_entry	*e;

	return (e = addrlimit_find(addr)) == NULL ? 0 : e->count;
}

/*
 * Counts one more connection of addr unless limit (0: none) are open
 * already: 1 if counted, 0 if over the limit, -1 if out of memory.
 */
int
addrlimit_add(const char *addr, int limit)
{
	struct addrlimit_entry	*e;

	if ((e = addrlimit_find(addr)) == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return -1;
		snprintf(e->addr, sizeof(e->addr), "%s", addr);
		LIST_INSERT_HEAD(&addrlimit_table[addrlimit_hash(addr)], e,
		    chain);
	}
	if (limit > 0 && e->count >= (u_int)limit)
		return 0;
	e->count++;
	return 1;
}

/* Counts one connection of addr less; the entry goes with its last. */
void
addrlimit_remove(const char *addr)
{
	struct addrlimit_entry	*e;

	if ((e = addrlimit_find(addr)) == NULL)
		return;
	if (--e->count == 0) {
		LIST_REMOVE(e, chain);
		free(e);
	}
}

/*
 * c's address has just been learnt: count it.  Over the limit, c gets an
 * error packet and is closed once it has been written.  Returns -1 when c
 * is closing.
 */
int
addrlimit_admit(struct conn *c)
{
	if (c->remote[0] == '\0' || conf.connections_per_address == 0)
		return 0;
	switch (addrlimit_add(c->remote, conf.connections_per_address)) {
	case 1:
		c->addr_counted = 1;
		return 0;
	case 0:
		log_info("conn %llu: %s has %d connections open",
		    (unsigned long long)c->id, c->remote,
		    conf.connections_per_address);
		conn_fail(c, NULL, "too many connections");
		conn_close_after_write(c, "too many connections");
		return -1;
	default:
		conn_close(c, "out of memory");
		return -1;
	}
}

/* c has ended: it no longer counts.  Safe to call more than once. */
void
addrlimit_release(struct conn *c)
{
	if (!c->addr_counted)
		return;
	c->addr_counted = 0;
	addrlimit_remove(c->remote);
}
