/*
 * Live packets for connections on other nodes (docs/ARCHITECTURE.md,
 * "Several nodes").  After a batch has committed, every send it answers
 * to an account is also published, through Redis, to each other live
 * node holding a connection of that account (presence rows), on the
 * channel "chat:node:<node_name>", whose daemon writes it as its own.
 *
 * Redis carries nothing the database does not hold: a publish that does
 * not happen (Redis away, this worker's connection broken) delays that
 * packet until the recipient's daemon fetches again, which it does for
 * every connection when its subscription comes back, and at every login.
 * So a failure here is logged, never an error of the batch.
 */
#include <sys/time.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "envelope.h"
#include "fcgi_app.h"
#include "log.h"
#include "shared.h"

/* A Redis that does not answer in this long is taken for gone. */
#define RELAY_TIMEOUT_MS	500
/* And not asked again for this long, so batches do not wait on it. */
#define RELAY_RETRY_SECS	1.0
/* Nodes one batch may relay to; more are a configuration to question. */
#define RELAY_NODES_MAX		64

struct relay {
	redisContext	*redis;		/* NULL while not connected */
	double		 retry_at;	/* clock_now() before which not */
	int		 down;		/* logged as down */
};

/* One (account, node) pair: a node other than ours holds the account. */
struct relay_pair {
	uint64_t	account;
	char		node[NODE_NAME_SIZE];
};

struct relay_pairs {
	struct relay_pair	*v;
	size_t			 n, size;
};

struct relay *
relay_new(void)
{
	return calloc(1, sizeof(struct relay));
}

void
relay_free(struct relay *rl)
{
	if (rl == NULL)
		return;
	if (rl->redis != NULL)
		redisFree(rl->redis);
	free(rl);
}

static void
relay_down(struct relay *rl, const char *why)
{
	if (!rl->down)
		log_warnx("redis: %s; live packets for other nodes wait for "
		    "their fetches", why);
	rl->down = 1;
	rl->retry_at = clock_now() + RELAY_RETRY_SECS;
	if (rl->redis != NULL)
		redisFree(rl->redis);
	rl->redis = NULL;
}

static int
relay_connect(struct relay *rl, const struct config *cf)
{
	struct timeval	 tv = { 0, RELAY_TIMEOUT_MS * 1000 };
	redisReply	*reply;

	if (rl->redis != NULL)
		return 0;
	if (clock_now() < rl->retry_at)
		return -1;
	if (cf->redis_host[0] == '/')
		rl->redis = redisConnectUnixWithTimeout(cf->redis_host, tv);
	else
		rl->redis = redisConnectWithTimeout(cf->redis_host,
		    cf->redis_port, tv);
	if (rl->redis == NULL || rl->redis->err) {
		relay_down(rl, rl->redis != NULL ? rl->redis->errstr :
		    "cannot connect");
		return -1;
	}
	if (redisSetTimeout(rl->redis, tv) != REDIS_OK) {
		relay_down(rl, "cannot set a timeout");
		return -1;
	}
	if (cf->redis_password[0] != '\0') {
		reply = redisCommand(rl->redis, "AUTH %s", cf->redis_password);
		if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
			relay_down(rl, reply != NULL ? "AUTH refused" :
			    rl->redis->errstr);
			if (reply != NULL)
				freeReplyObject(reply);
			return -1;
		}
		freeReplyObject(reply);
	}
	if (rl->down)
		log_info("redis: connected again");
	rl->down = 0;
	return 0;
}

/* The account a send action is for, or 0 (this connection's own). */
static uint64_t
relay_account(const cJSON *action)
{
	const cJSON	*op, *account;
	uint64_t	 id;

	op = cJSON_GetObjectItemCaseSensitive(action, ENV_OP);
	account = cJSON_GetObjectItemCaseSensitive(action, ENV_ACCOUNT_FIELD);
	if (!cJSON_IsString(op) || strcmp(op->valuestring, ENV_OP_SEND) != 0 ||
	    !cJSON_IsString(account) ||
	    packet_id_parse(account->valuestring, &id) == -1)
		return 0;
	return id;
}

static int
relay_u64_cmp(const void *a, const void *b)
{
	const uint64_t	*x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

static int
relay_pair_cmp(const void *a, const void *b)
{
	const struct relay_pair	*x = a, *y = b;

	if (x->account != y->account)
		return x->account < y->account ? -1 : 1;
	return strcmp(x->node, y->node);
}

static int
relay_pair_add(void *arg, uint64_t account, const char *node)
{
	struct relay_pairs	*ps = arg;
	struct relay_pair	*v;
	size_t			 size;

	if (ps->n == ps->size) {
		size = ps->size ? ps->size * 2 : 64;
		if ((v = reallocarray(ps->v, size, sizeof(*v))) == NULL)
			return -1;
		ps->v = v;
		ps->size = size;
	}
	ps->v[ps->n].account = account;
	snprintf(ps->v[ps->n].node, sizeof(ps->v[ps->n].node), "%s", node);
	ps->n++;
	return 0;
}

/*
 * The distinct accounts the n replies send to, sorted, into *out (the
 * caller frees it); their number, or -1 when memory ran out.
 */
static ssize_t
relay_accounts(struct reply **replies, const int *failed, size_t n,
    uint64_t **out)
{
	const cJSON	*action;
	uint64_t	*v = NULL, *nv, id;
	size_t		 i, count = 0, size = 0, j, k;

	for (i = 0; i < n; i++) {
		if (failed[i])
			continue;
		cJSON_ArrayForEach(action, reply_actions(replies[i])) {
			if ((id = relay_account(action)) == 0)
				continue;
			if (count == size) {
				size = size ? size * 2 : 64;
				if ((nv = reallocarray(v, size,
				    sizeof(*v))) == NULL) {
					free(v);
					return -1;
				}
				v = nv;
			}
			v[count++] = id;
		}
	}
	if (count > 0)
		qsort(v, count, sizeof(*v), relay_u64_cmp);
	for (j = 0, k = 0; j < count; j++)
		if (k == 0 || v[k - 1] != v[j])
			v[k++] = v[j];
	*out = v;
	return (ssize_t)k;
}

/* Whether node holds a connection of account, by the sorted pairs. */
static int
relay_wanted(const struct relay_pairs *ps, uint64_t account,
    const char *node)
{
	struct relay_pair	key;

	key.account = account;
	snprintf(key.node, sizeof(key.node), "%s", node);
	return bsearch(&key, ps->v, ps->n, sizeof(key), relay_pair_cmp) !=
	    NULL;
}

/*
 * {"sends":[...]} for node: the batch's sends to its accounts, in the
 * batch's order (so a sender's messages stay in order), without "others"
 * (on another node, every connection of the account is another one).
 */
static char *
relay_message(const struct relay_pairs *ps, const char *node,
    struct reply **replies, const int *failed, size_t n)
{
	const cJSON	*action;
	cJSON		*root, *sends, *copy;
	char		*out = NULL;
	uint64_t	 id;
	size_t		 i;

	if ((root = cJSON_CreateObject()) == NULL ||
	    (sends = cJSON_AddArrayToObject(root, RELAY_SENDS)) == NULL)
		goto done;
	for (i = 0; i < n; i++) {
		if (failed[i])
			continue;
		cJSON_ArrayForEach(action, reply_actions(replies[i])) {
			if ((id = relay_account(action)) == 0 ||
			    !relay_wanted(ps, id, node))
				continue;
			if ((copy = cJSON_Duplicate(action, 1)) == NULL ||
			    !cJSON_AddItemToArray(sends, copy)) {
				cJSON_Delete(copy);
				goto done;
			}
			cJSON_DeleteItemFromObjectCaseSensitive(copy,
			    ENV_OTHERS_FIELD);
		}
	}
	out = cJSON_PrintUnformatted(root);
done:
	cJSON_Delete(root);
	return out;
}

/* PUBLISHes each node's message, pipelined; -1 if Redis failed. */
static int
relay_send(struct relay *rl, char **names, char **msgs, size_t nodes)
{
	redisReply	*reply;
	size_t		 i;
	int		 rc = 0;

	for (i = 0; i < nodes; i++)
		if (redisAppendCommand(rl->redis, "PUBLISH %s%s %s",
		    RELAY_CHANNEL_PREFIX, names[i], msgs[i]) != REDIS_OK)
			return -1;
	for (i = 0; i < nodes; i++) {
		if (redisGetReply(rl->redis, (void **)&reply) != REDIS_OK)
			return -1;
		if (reply->type == REDIS_REPLY_ERROR)
			rc = -1;
		freeReplyObject(reply);
	}
	return rc;
}

/*
 * Publishes, on the connection kept or a new one.  A kept one may have
 * died with a Redis restarted since: the daemons have subscribed again
 * by now and will not fetch again, so the packets go once more on a new
 * connection at once rather than waiting for a fetch.
 */
static void
relay_publish(struct relay *rl, const struct config *cf, char **names,
    char **msgs, size_t nodes)
{
	int	kept = rl->redis != NULL;

	if (relay_connect(rl, cf) == -1)
		return;
	if (relay_send(rl, names, msgs, nodes) == 0)
		return;
	if (kept) {
		redisFree(rl->redis);
		rl->redis = NULL;
		if (relay_connect(rl, cf) == 0 &&
		    relay_send(rl, names, msgs, nodes) == 0)
			return;
	}
	if (rl->redis != NULL)
		relay_down(rl, rl->redis->err ? rl->redis->errstr :
		    "PUBLISH refused");
}

/*
 * After the batch's commit: relays what its n replies send to accounts
 * that other nodes hold.  Nothing when this node is alone (no redis_host).
 */
void
relay_batch(struct app *app, const char *node, struct reply **replies,
    const int *failed, size_t n)
{
	const struct config	*cf = app->cf;
	struct relay_pairs	 ps = { NULL, 0, 0 };
	char			*names[RELAY_NODES_MAX], *msgs[RELAY_NODES_MAX];
	uint64_t		*accounts = NULL;
	ssize_t			 na;
	size_t			 nodes = 0, i;

	if (cf->redis_host[0] == '\0' || app->relay == NULL)
		return;
	if ((na = relay_accounts(replies, failed, n, &accounts)) <= 0)
		goto done;
	if (db_node_accounts(app->db, node, cf->node_timeout, accounts,
	    (size_t)na, relay_pair_add, &ps) == -1) {
		log_warnx("relay: presence not read; live packets for other "
		    "nodes wait for their fetches");
		goto done;
	}
	if (ps.n == 0)
		goto done;
	qsort(ps.v, ps.n, sizeof(*ps.v), relay_pair_cmp);
	for (i = 0; i < ps.n && nodes < RELAY_NODES_MAX; i++) {
		size_t	j;

		for (j = 0; j < nodes; j++)
			if (strcmp(names[j], ps.v[i].node) == 0)
				break;
		if (j < nodes)
			continue;
		if ((names[nodes] = strdup(ps.v[i].node)) == NULL)
			goto done;
		if ((msgs[nodes] = relay_message(&ps, names[nodes], replies,
		    failed, n)) == NULL) {
			free(names[nodes]);
			goto done;
		}
		nodes++;
	}
	relay_publish(app->relay, cf, names, msgs, nodes);
done:
	for (i = 0; i < nodes; i++) {
		free(names[i]);
		free(msgs[i]);
	}
	free(ps.v);
	free(accounts);
}
