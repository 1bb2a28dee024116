/*
 * The heartbeat event (docs/ARCHITECTURE.md, "Several nodes"): the daemon
 * of a node with redis_host sends one every node_heartbeat seconds, and
 * its worker renews the node's row in nodes, then looks for a node that
 * has not renewed its own for node_timeout seconds.  Such a node died
 * without cleaning up (its daemon, or the whole host): its presence rows
 * go, each as a closed connection would (presence_left: the friends of
 * an account that had no other connection are told it is offline), so
 * its accounts stop showing online and no worker relays to it.  What
 * waited for its clients waits in the database for their next login,
 * on whatever node.
 *
 * A node judges the others only when it was heard itself within the last
 * two heartbeats: after a stall of its own, or of the whole cluster (a
 * Galera node dying stops every commit for some seconds), every row is
 * old, and the others' renewals are still on their way.
 *
 * A node that finds its own row gone was taken for dead (a daemon stalled
 * longer than the timeout, a partition): its connections are still
 * there, so the answer asks the daemon to fetch for every one of them,
 * which records their presence again and sends what they missed.
 */
#include <inttypes.h>
#include <string.h>

#include "fcgi_app.h"
#include "log.h"

/* Presence rows of a dead node removed by one heartbeat; the rest next. */
#define NODE_REAP_MAX	500

struct node_reap {
	struct app	*app;
	struct reply	*reply;
	const char	*node;
};

static int
node_reap_conn(void *arg, uint64_t conn_id, uint64_t account)
{
	struct node_reap	*nr = arg;
	struct session		 s;

	memset(&s, 0, sizeof(s));
	s.conn_id = conn_id;
	s.account = account;
	snprintf(s.node, sizeof(s.node), "%s", nr->node);
	return presence_left(nr->app, &s, nr->reply);
}

int
node_heartbeat(struct app *app, const struct batch_event *ev,
    struct reply *r)
{
	const struct config	*cf = app->cf;
	const char		*self = ev->session.node;
	struct node_reap	 nr = { app, r, NULL };
	char			 dead[NODE_NAME_SIZE];
	uint64_t		 age_ms;
	int			 beat, found, n;

	if ((beat = db_node_beat(app->db, self, &age_ms)) == -1)
		return -1;
	if (beat == 1) {
		log_info("node %s: heartbeat row made; fetching for every "
		    "connection", self);
		if (reply_fetch_all(r) == -1)
			return -1;
	}
	if (beat == 1 || age_ms > (uint64_t)cf->node_heartbeat * 2000) {
		log_debug("node %s: last heard %" PRIu64 " ms ago: judges no "
		    "other node this time", self, age_ms);
		return 0;
	}
	if ((found = db_node_dead(app->db, self, cf->node_timeout,
	    dead)) != 1)
		return found;
	nr.node = dead;
	if ((n = db_node_conns(app->db, dead, NODE_REAP_MAX, node_reap_conn,
	    &nr)) == -1)
		return -1;
	log_info("node %s: no heartbeat for %d s; %d of its connections "
	    "taken for closed", dead, cf->node_timeout, n);
	if (n < NODE_REAP_MAX)
		return db_node_forget(app->db, dead, cf->node_timeout);
	return 0;
}
