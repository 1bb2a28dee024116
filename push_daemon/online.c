/*
 * Who is online here: account id -> the connections bound to it.  A hash
 * table sized once for max_connections, chained, with one entry per
 * account holding its list; an entry goes when its last connection does.
 *
 * The entry also holds the account's token bucket (account_packet_rate),
 * which every packet of its connections takes from beside its own
 * connection's: opening more connections then buys no more throughput.
 * It starts full when the account's first connection binds; an account
 * that leaves and comes back gets a new one, but only through a login,
 * which costs a password hash and is throttled itself.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "push_daemon.h"
#include "shared.h"

struct online_entry {
	char			 account[ACCOUNT_MAX];
	struct conn_list	 conns;		/* not owned */
	struct ratelimit	 bucket;	/* all its packets */
	LIST_ENTRY(online_entry) chain;
};
LIST_HEAD(online_bucket, online_entry);

static struct online_bucket	*online_table;	/* owns the entries */
static size_t			 online_mask;

void
online_init(int max)
{
	size_t	size = 1024;

	while (size < (size_t)max)
		size <<= 1;
	if ((online_table = calloc(size, sizeof(*online_table))) == NULL)
		fatal("%s", __func__);
	online_mask = size - 1;
}

/* Chains of the table by the string hash every table of ours uses. */
static size_t
online_hash(const char *s)
{
	return (size_t)hash_string(s) & online_mask;
}

static struct online_entry *
online_find(const char *account)
{
	struct online_entry	*e;

	LIST_FOREACH(e, &online_table[online_hash(account)], chain)
		if (strcmp(e->account, account) == 0)
			return e;
	return NULL;
}

/* Adds c under c->account; -1 if out of memory. */
int
online_add(struct conn *c)
{
	struct online_entry	*e;

	if ((e = online_find(c->account)) == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return -1;
		memcpy(e->account, c->account, sizeof(e->account));
		LIST_INIT(&e->conns);
		ratelimit_init(&e->bucket, conf.account_packet_rate != 0 ?
		    conf.account_packet_rate : conf.packet_rate,
		    conf.account_packet_burst != 0 ?
		    conf.account_packet_burst : conf.packet_burst, conn_now());
		LIST_INSERT_HEAD(&online_table[online_hash(e->account)], e,
		    chain);
	}
	LIST_INSERT_HEAD(&e->conns, c, online_entry);
	c->online = e;
	return 0;
}

/* Takes c out, if it is in; safe to call on any conn. */
void
online_remove(struct conn *c)
{
	struct online_entry	*e = c->online;

	if (e == NULL)
		return;
	LIST_REMOVE(c, online_entry);
	c->online = NULL;
	if (LIST_EMPTY(&e->conns)) {
		LIST_REMOVE(e, chain);
		free(e);
	}
}

/*
 * One token of the bucket of c's account: 1 if the packet may go on.  A
 * connection that is not bound has no account to count against.
 */
int
online_take(const struct conn *c, double now)
{
	if (c->online == NULL)
		return 1;
	return ratelimit_take(&c->online->bucket, now);
}

/* The first connection of account; walk on with LIST_NEXT(c, online_entry). */
struct conn *
online_first(const char *account)
{
	struct online_entry	*e;

	if ((e = online_find(account)) == NULL)
		return NULL;
	return LIST_FIRST(&e->conns);
}

/*
 * Calls cb once per account online here, with how many connections it has
 * (admin.c's "online").  cb must not bind, unbind or close anything.
 */
void
online_foreach(void (*cb)(void *, const char *, u_int), void *arg)
{
	struct online_entry	*e;
	struct conn		*c;
	size_t			 i;
	u_int			 n;

	for (i = 0; i <= online_mask; i++)
		LIST_FOREACH(e, &online_table[i], chain) {
			n = 0;
			LIST_FOREACH(c, &e->conns, online_entry)
				n++;
			cb(arg, e->account, n);
		}
}

/* Every conn has been closed by now, so the table is empty. */
void
online_shutdown(void)
{
	free(online_table);
	online_table = NULL;
}
