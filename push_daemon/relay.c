/*
 * This node among others (docs/ARCHITECTURE.md, "Several nodes"), when
 * redis_host is set.  Two jobs, both on the event loop:
 *
 * - The subscription to "chat:node:<node_name>" (hiredis async, its
 *   libevent adapter): the workers of every node publish there the sends
 *   to accounts this node holds, and each is written as a local send to
 *   the account would be (route_remote()), held back by a running fetch
 *   and dropped if a fetch wrote its track.  Each time the subscription
 *   is (re)made, every bound connection fetches: what was published while
 *   it was down is late, not lost, as Redis holds nothing the database
 *   does not.
 * - The heartbeat: every node_heartbeat seconds an event for a worker,
 *   which renews this node's row and removes the presence of nodes that
 *   stopped renewing theirs (fcgi_app/node.c).  Its answer carries the
 *   presence notices of those accounts, and "fetch_all" when this node
 *   had been taken for dead.
 *
 * It calls route.c, deliver.c and upstream.c; none of them calls it.
 */
#include <sys/time.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "envelope.h"
#include "log.h"
#include "push_daemon.h"

/* Seconds before a lost or refused Redis connection is tried again. */
#define RELAY_RECONNECT_SECS	1

static redisAsyncContext	*relay_ac;	/* NULL while not connected */
static struct event		*relay_retry;	/* reconnects */
static struct event		*relay_beat;	/* the heartbeat */
static int			 relay_beating;	/* one is in flight */
static int			 relay_down_logged;
static int			 relay_stopping;
static char			 relay_channel[sizeof(RELAY_CHANNEL_PREFIX) +
				    sizeof(conf.node_name)];

static void	relay_connect(void);

static void
relay_schedule(void)
{
	struct timeval	tv = { RELAY_RECONNECT_SECS, 0 };

	if (!relay_stopping)
		evtimer_add(relay_retry, &tv);
}

static void
relay_lost(const char *why)
{
	if (!relay_down_logged)
		log_warnx("redis: %s; other nodes' live packets wait for "
		    "fetches until it is back", why);
	relay_down_logged = 1;
	relay_ac = NULL;
	relay_schedule();
}

static void
relay_collect(void *arg, const char *account, u_int n)
{
	struct conn	*c;
	uint64_t	**ids = arg;

	(void)n;
	for (c = online_first(account); c != NULL;
	    c = LIST_NEXT(c, online_entry))
		*(*ids)++ = c->id;
}

/*
 * A fetch for every bound connection.  The ids are gathered first: a
 * fetch may close a connection (its queue full), which changes the lists.
 */
static void
relay_fetch_all(void)
{
	uint64_t	*ids, *end;
	struct conn	*c;
	u_int		 n = conn_count(), i;

	if (n == 0)
		return;
	if ((ids = calloc(n, sizeof(*ids))) == NULL) {
		log_warnx("%s: out of memory", __func__);
		return;
	}
	end = ids;
	online_foreach(relay_collect, &end);
	for (i = 0; ids + i < end; i++)
		if ((c = conn_find(ids[i])) != NULL &&
		    c->state == CONN_LOGGED_IN)
			deliver_fetch(c, "", 0);
	log_info("redis: fetching for %u connections", (u_int)(end - ids));
	free(ids);
}

/* {"sends":[...]} from a worker of some node. */
static void
relay_message(const char *data, size_t len)
{
	cJSON	*root;

	if ((root = cJSON_ParseWithLength(data, len)) == NULL) {
		log_warnx("redis: a message on %s is not JSON", relay_channel);
		return;
	}
	if (route_remote(cJSON_GetObjectItemCaseSensitive(root,
	    RELAY_SENDS)) == -1)
		log_warnx("redis: a message on %s is not a list of sends",
		    relay_channel);
	cJSON_Delete(root);
}

/* Every reply on the subscription: its confirmation, then messages. */
static void
relay_subscribed(redisAsyncContext *ac, void *r, void *arg)
{
	redisReply	*reply = r, **el;

	(void)ac;
	(void)arg;
	if (reply == NULL)		/* the connection is going */
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		log_warnx("redis: SUBSCRIBE: %s", reply->str);
		return;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
		return;
	el = reply->element;
	if (el[0]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(el[0]->str, "subscribe") == 0) {
		log_info("redis: subscribed to %s", relay_channel);
		relay_down_logged = 0;
		relay_fetch_all();
	} else if (strcmp(el[0]->str, "message") == 0 &&
	    el[2]->type == REDIS_REPLY_STRING)
		relay_message(el[2]->str, el[2]->len);
}

static void
relay_auth_done(redisAsyncContext *ac, void *r, void *arg)
{
	redisReply	*reply = r;

	(void)arg;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
		log_warnx("redis: AUTH refused: %s", reply->str);
		/* Nothing will be sent on it: reconnect later. */
		redisAsyncDisconnect(ac);
	}
}

static void
relay_connected(const redisAsyncContext *ac, int status)
{
	if (status != REDIS_OK) {
		/* hiredis frees ac after this. */
		relay_lost(ac->errstr);
		return;
	}
	log_debug("redis: connected");
}

static void
relay_disconnected(const redisAsyncContext *ac, int status)
{
	if (relay_stopping)
		return;
	relay_lost(status == REDIS_OK ? "disconnected" : ac->errstr);
}

static void
relay_connect(void)
{
	redisAsyncContext	*ac;

	if (conf.redis_host[0] == '/')
		ac = redisAsyncConnectUnix(conf.redis_host);
	else
		ac = redisAsyncConnect(conf.redis_host, conf.redis_port);
	if (ac == NULL || ac->err) {
		relay_lost(ac != NULL ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		return;
	}
	if (redisLibeventAttach(ac, base) != REDIS_OK ||
	    redisAsyncSetConnectCallback(ac, relay_connected) != REDIS_OK ||
	    redisAsyncSetDisconnectCallback(ac, relay_disconnected) !=
	    REDIS_OK) {
		redisAsyncFree(ac);
		relay_lost("cannot attach to the event loop");
		return;
	}
	/* Queued now, sent once connected, answered in this order. */
	if ((conf.redis_password[0] != '\0' &&
	    redisAsyncCommand(ac, relay_auth_done, NULL, "AUTH %s",
	    conf.redis_password) != REDIS_OK) ||
	    redisAsyncCommand(ac, relay_subscribed, NULL, "SUBSCRIBE %s",
	    relay_channel) != REDIS_OK) {
		redisAsyncFree(ac);
		relay_lost("cannot queue SUBSCRIBE");
		return;
	}
	relay_ac = ac;
}

static void
relay_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (relay_ac == NULL)
		relay_connect();
}

/* Presence notices of a dead node's accounts; fetch_all if we were one. */
static void
relay_beat_done(struct upstream_event *ev, const cJSON *actions)
{
	const cJSON	*a, *op;

	(void)ev;
	relay_beating = 0;
	if (actions == NULL) {
		log_warnx("heartbeat failed; sent again at the next one");
		return;
	}
	cJSON_ArrayForEach(a, actions) {
		op = cJSON_GetObjectItemCaseSensitive(a, ENV_OP);
		if (cJSON_IsString(op) &&
		    strcmp(op->valuestring, ENV_OP_FETCH_ALL) == 0)
			relay_fetch_all();
	}
	(void)route_remote(actions);
}

static void
relay_beat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_event	*ev;

	(void)fd;
	(void)what;
	(void)arg;
	/* A worker slower than a beat: one at a time is enough. */
	if (relay_beating)
		return;
	ev = upstream_event_new(ENV_EVENT_HEARTBEAT, conn_new_id(), "", 0, "",
	    "", NULL, relay_beat_done);
	if (ev == NULL)
		return;
	relay_beating = 1;
	upstream_submit(LANE_MAIN, ev);
}

/* Nothing to do for a node alone (no redis_host). */
int
relay_init(void)
{
	struct timeval	tv = { conf.node_heartbeat, 0 };

	relay_stopping = 0;
	if (conf.redis_host[0] == '\0')
		return 0;
	snprintf(relay_channel, sizeof(relay_channel), "%s%s",
	    RELAY_CHANNEL_PREFIX, conf.node_name);
	if ((relay_retry = evtimer_new(base, relay_retry_cb, NULL)) == NULL ||
	    (relay_beat = event_new(base, -1, EV_PERSIST, relay_beat_cb,
	    NULL)) == NULL || evtimer_add(relay_beat, &tv) == -1)
		return -1;
	relay_beat_cb(-1, 0, NULL);
	relay_connect();
	return 0;
}

void
relay_shutdown(void)
{
	relay_stopping = 1;
	if (relay_ac != NULL)
		redisAsyncFree(relay_ac);
	relay_ac = NULL;
	if (relay_retry != NULL)
		event_free(relay_retry);
	if (relay_beat != NULL)
		event_free(relay_beat);
	relay_retry = relay_beat = NULL;
}
