/*
 * The admin socket: how chatctl reaches the running daemon (chatctl.8).
 * A Unix socket of mode 0600 in the run directory, and a check of the
 * peer's credentials on every connection, so that only root and the
 * daemon's own user may use it whatever the directory allows.
 *
 * One request per line, at most ADMIN_LINE_MAX bytes; every answer ends
 * with a line "ok ..." or "error REASON":
 *
 *	kick ACCOUNT	closes every connection of ACCOUNT: "ok N"
 *	disable ACCOUNT	kick, and refuse its binds for a while: "ok N"
 *	enable ACCOUNT	stop refusing them: "ok"
 *	online		"ACCOUNT N" per account logged in here, then "ok N"
 *	stats		"ok connections N accounts N"
 *	batches		per lane "LANE batches N events N failed N hist H..."
 *			(H: batches of 1, 2-3, 4-7 ... 128-255, 256 events),
 *			then "ok": how many events each commit carried
 *	health		per lane "LANE idle N busy N down N" (its pool's
 *			connections to the workers), then "ok"
 *	metrics		"NAME{LABELS} VALUE" per sample, the samples of a
 *			name together, then "ok": what /metrics serves for
 *			this daemon (fcgi_app/metrics.c adds # HELP and
 *			# TYPE; names and labels are fixed, never a
 *			client's bytes)
 *
 * Why disable is more than kick: a login's worker may have read the account
 * just before chatctl disabled it in the database, and its bind then
 * arrives after the kick.  conn_bind() asks admin_refuses() and closes such
 * a connection instead.  A request's answer comes within UPSTREAM_TIMEOUT
 * or is dropped, so an account is held for twice that and then forgotten.
 *
 * The answers are about this node only: other nodes have their own daemon
 * and socket, and the presence table in the database covers them all.
 */
#include <sys/socket.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "push_daemon.h"
#include "sockperm.h"

#define ADMIN_LINE_MAX		128
#define ADMIN_CLIENTS_MAX	16	/* chatctl runs hold one each */
#define ADMIN_IDLE_SECONDS	10	/* a client that sends nothing goes */
#define ADMIN_PAUSE_SECONDS	1	/* after EMFILE and the like */
#define ADMIN_HOLD_SECONDS	60	/* > UPSTREAM_TIMEOUT (upstream.c) */

struct admin_client {
	struct bufferevent		*bev;		/* owned, closes the fd */
	int				 closing;	/* free once written */
	LIST_ENTRY(admin_client)	 entry;
};

/* An account disabled here recently, whose binds are refused. */
struct admin_hold {
	char			 account[ACCOUNT_MAX];
	double			 until;		/* conn_now() */
	TAILQ_ENTRY(admin_hold)	 entry;
};

static char			 admin_path[SOCKET_PATH_MAX];
/* Owned; in the order they were made, so the oldest expire first. */
static TAILQ_HEAD(, admin_hold)	 admin_holds =
    TAILQ_HEAD_INITIALIZER(admin_holds);
static struct evconnlistener	*admin_lev;	/* owned, closes the socket */
static struct event		*admin_resume;	/* owned */
static LIST_HEAD(, admin_client) admin_clients =
    LIST_HEAD_INITIALIZER(admin_clients);
static u_int			 admin_nclients;

static void
admin_free(struct admin_client *a)
{
	LIST_REMOVE(a, entry);
	admin_nclients--;
	bufferevent_free(a->bev);
	free(a);
}

/* Answers, then closes once the answer has gone out. */
static void
admin_finish(struct admin_client *a)
{
	a->closing = 1;
	bufferevent_disable(a->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(a->bev)) == 0)
		admin_free(a);
}

/* An account as the workers name one: decimal digits, and it fits. */
static int
admin_account_ok(const char *s)
{
	size_t	n = strlen(s);

	return n > 0 && n < ACCOUNT_MAX && strspn(s, "0123456789") == n;
}

/*
 * Closes every connection of account, each after what it was already sent
 * (a WebSocket client gets its close frame), and says in *n how many.  Each
 * leaves the online table at once, so nothing more is sent to it while it
 * drains.  The ids are taken first: closing one may run code that changes
 * the account's list.  -1 when out of memory, nothing closed.
 */
static int
admin_kick(const char *verb, const char *account, u_int *n)
{
	struct conn	*c;
	uint64_t	*ids;
	u_int		 i;

	*n = 0;
	for (c = online_first(account); c != NULL;
	    c = LIST_NEXT(c, online_entry))
		(*n)++;
	if (*n == 0) {
		log_info("admin: %s %s: no connection", verb, account);
		return 0;
	}
	if ((ids = calloc(*n, sizeof(*ids))) == NULL)
		return -1;
	i = 0;
	for (c = online_first(account); c != NULL && i < *n;
	    c = LIST_NEXT(c, online_entry))
		ids[i++] = c->id;
	for (i = 0; i < *n; i++) {
		if ((c = conn_find(ids[i])) == NULL)
			continue;
		conn_close_after_write(c, "kicked");
		online_remove(c);
	}
	free(ids);
	log_info("admin: %s %s: %u connection%s closed", verb, account, *n,
	    *n == 1 ? "" : "s");
	return 0;
}

static void
admin_hold_expire(double now)
{
	struct admin_hold	*h;

	while ((h = TAILQ_FIRST(&admin_holds)) != NULL && h->until <= now) {
		TAILQ_REMOVE(&admin_holds, h, entry);
		free(h);
	}
}

static struct admin_hold *
admin_hold_find(const char *account)
{
	struct admin_hold	*h;

	admin_hold_expire(conn_now());
	TAILQ_FOREACH(h, &admin_holds, entry)
		if (strcmp(h->account, account) == 0)
			return h;
	return NULL;
}

/* Forgets account's hold, if it has one. */
static void
admin_hold_drop(const char *account)
{
	struct admin_hold	*h;

	if ((h = admin_hold_find(account)) != NULL) {
		TAILQ_REMOVE(&admin_holds, h, entry);
		free(h);
	}
}

/* Holds account for ADMIN_HOLD_SECONDS from now; -1 if out of memory. */
static int
admin_hold_add(const char *account)
{
	struct admin_hold	*h;

	admin_hold_drop(account);
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	snprintf(h->account, sizeof(h->account), "%s", account);
	h->until = conn_now() + ADMIN_HOLD_SECONDS;
	TAILQ_INSERT_TAIL(&admin_holds, h, entry);
	return 0;
}

/* Whether a bind to account must be refused: chatctl disabled it. */
int
admin_refuses(const char *account)
{
	if (TAILQ_EMPTY(&admin_holds))
		return 0;
	return admin_hold_find(account) != NULL;
}

struct admin_count {
	struct evbuffer	*out;		/* NULL: count only */
	u_int		 accounts;
};

static void
admin_online_cb(void *arg, const char *account, u_int conns)
{
	struct admin_count	*ac = arg;

	ac->accounts++;
	if (ac->out != NULL)
		evbuffer_add_printf(ac->out, "%s %u\n", account, conns);
}

static void
admin_batches(struct evbuffer *out)
{
	struct upstream_stats	st;
	int			lane, i;

	for (lane = 0; lane < LANE_COUNT; lane++) {
		upstream_stats(lane, &st);
		evbuffer_add_printf(out, "%s batches %" PRIu64 " events %"
		    PRIu64 " failed %" PRIu64 " hist", st.lane, st.batches,
		    st.events, st.failed);
		for (i = 0; i < UPSTREAM_HIST; i++)
			evbuffer_add_printf(out, " %" PRIu64, st.hist[i]);
		evbuffer_add_printf(out, "\n");
	}
	evbuffer_add_printf(out, "ok\n");
}

static void
admin_health(struct evbuffer *out)
{
	struct upstream_stats	st;
	int			lane;

	for (lane = 0; lane < LANE_COUNT; lane++) {
		upstream_stats(lane, &st);
		evbuffer_add_printf(out, "%s idle %d busy %d down %d\n",
		    st.lane, st.pool.idle, st.pool.busy, st.pool.down);
	}
	evbuffer_add_printf(out, "ok\n");
}

/* The batch sizes as a Prometheus histogram: cumulative, le = 2^(i+1)-1. */
static void
admin_metrics_hist(struct evbuffer *out, const struct upstream_stats *st)
{
	uint64_t	sum = 0;
	int		i;

	for (i = 0; i < UPSTREAM_HIST; i++) {
		sum += st->hist[i];
		if (i < UPSTREAM_HIST - 1)
			evbuffer_add_printf(out, "chat_batch_size_bucket{lane="
			    "\"%s\",le=\"%u\"} %" PRIu64 "\n", st->lane,
			    (2u << i) - 1, sum);
		else
			evbuffer_add_printf(out, "chat_batch_size_bucket{lane="
			    "\"%s\",le=\"+Inf\"} %" PRIu64 "\n", st->lane, sum);
	}
	evbuffer_add_printf(out, "chat_batch_size_sum{lane=\"%s\"} %" PRIu64
	    "\n", st->lane, st->events);
	evbuffer_add_printf(out, "chat_batch_size_count{lane=\"%s\"} %"
	    PRIu64 "\n", st->lane, st->batches);
}

static void
admin_metrics(struct evbuffer *out)
{
	struct upstream_stats	st[LANE_COUNT];
	struct admin_count	ac = { NULL, 0 };
	int			lane;

	online_foreach(admin_online_cb, &ac);
	counters_print(out);
	evbuffer_add_printf(out, "chat_accounts_online %u\n", ac.accounts);
	for (lane = 0; lane < LANE_COUNT; lane++)
		upstream_stats(lane, &st[lane]);
	for (lane = 0; lane < LANE_COUNT; lane++)
		evbuffer_add_printf(out, "chat_upstream_waiting{lane=\"%s\"} %u"
		    "\n", st[lane].lane, st[lane].waiting);
	for (lane = 0; lane < LANE_COUNT; lane++)
		evbuffer_add_printf(out, "chat_upstream_in_flight{lane=\"%s\"} "
		    "%u\n", st[lane].lane, st[lane].in_flight);
	for (lane = 0; lane < LANE_COUNT; lane++)
		evbuffer_add_printf(out, "chat_pool_connections{lane=\"%s\","
		    "state=\"idle\"} %d\nchat_pool_connections{lane=\"%s\","
		    "state=\"busy\"} %d\nchat_pool_connections{lane=\"%s\","
		    "state=\"down\"} %d\n", st[lane].lane, st[lane].pool.idle,
		    st[lane].lane, st[lane].pool.busy, st[lane].lane,
		    st[lane].pool.down);
	for (lane = 0; lane < LANE_COUNT; lane++)
		evbuffer_add_printf(out, "chat_pool_connections_lost_total{lane="
		    "\"%s\"} %" PRIu64 "\n", st[lane].lane, st[lane].pool.lost);
	for (lane = 0; lane < LANE_COUNT; lane++)
		evbuffer_add_printf(out, "chat_batches_failed_total{lane=\"%s\"}"
		    " %" PRIu64 "\n", st[lane].lane, st[lane].failed);
	for (lane = 0; lane < LANE_COUNT; lane++)
		admin_metrics_hist(out, &st[lane]);
	evbuffer_add_printf(out, "ok\n");
}

static void
admin_command(struct admin_client *a, char *line)
{
	struct evbuffer		*out = bufferevent_get_output(a->bev);
	struct admin_count	 ac = { NULL, 0 };
	char			*arg;
	u_int			 n;

	if ((arg = strchr(line, ' ')) != NULL)
		*arg++ = '\0';
	if (strcmp(line, "kick") == 0 || strcmp(line, "disable") == 0 ||
	    strcmp(line, "enable") == 0) {
		if (arg == NULL || !admin_account_ok(arg))
			evbuffer_add_printf(out, "error bad account\n");
		else if (strcmp(line, "enable") == 0) {
			admin_hold_drop(arg);
			log_info("admin: enable %s", arg);
			evbuffer_add_printf(out, "ok\n");
		} else if ((strcmp(line, "disable") == 0 &&
		    admin_hold_add(arg) == -1) ||
		    admin_kick(line, arg, &n) == -1)
			evbuffer_add_printf(out, "error out of memory\n");
		else
			evbuffer_add_printf(out, "ok %u\n", n);
	} else if (strcmp(line, "online") == 0 && arg == NULL) {
		ac.out = out;
		online_foreach(admin_online_cb, &ac);
		evbuffer_add_printf(out, "ok %u\n", ac.accounts);
	} else if (strcmp(line, "stats") == 0 && arg == NULL) {
		online_foreach(admin_online_cb, &ac);
		evbuffer_add_printf(out, "ok connections %u accounts %u\n",
		    conn_count(), ac.accounts);
	} else if (strcmp(line, "batches") == 0 && arg == NULL)
		admin_batches(out);
	else if (strcmp(line, "health") == 0 && arg == NULL)
		admin_health(out);
	else if (strcmp(line, "metrics") == 0 && arg == NULL)
		admin_metrics(out);
	else
		evbuffer_add_printf(out, "error unknown command\n");
}

static void
admin_read_cb(struct bufferevent *bev, void *arg)
{
	struct admin_client	*a = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	char			*line;
	size_t			 len;

	while (!a->closing &&
	    (line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) != NULL) {
		if (len > ADMIN_LINE_MAX) {
			evbuffer_add_printf(bufferevent_get_output(bev),
			    "error line too long\n");
			admin_finish(a);
		} else
			admin_command(a, line);
		free(line);
	}
	if (!a->closing && evbuffer_get_length(in) > ADMIN_LINE_MAX) {
		evbuffer_add_printf(bufferevent_get_output(bev),
		    "error line too long\n");
		admin_finish(a);
	}
}

static void
admin_write_cb(struct bufferevent *bev, void *arg)
{
	struct admin_client	*a = arg;

	(void)bev;
	if (a->closing)
		admin_free(a);
}

/*
 * A client may send its request and close its side: answer it first.  An
 * error or a timeout ends it at once.
 */
static void
admin_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct admin_client	*a = arg;

	(void)bev;
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    !a->closing)
		admin_finish(a);
	else
		admin_free(a);
}

/* Root, or the user the daemon runs as; anybody else is told and cut. */
static int
admin_peer_ok(int fd)
{
	struct ucred	cr;
	socklen_t	len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1) {
		log_warn("admin: SO_PEERCRED");
		return 0;
	}
	if (cr.uid == 0 || cr.uid == geteuid())
		return 1;
	log_warnx("admin: refused uid %u (pid %ld)", (unsigned)cr.uid,
	    (long)cr.pid);
	return 0;
}

static void
admin_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct timeval		 tv = { ADMIN_IDLE_SECONDS, 0 };
	struct admin_client	*a;
	const char		*refusal = NULL;

	(void)lev;
	(void)sa;
	(void)salen;
	(void)arg;
	if (!admin_peer_ok(fd))
		refusal = "error permission denied\n";
	else if (admin_nclients >= ADMIN_CLIENTS_MAX)
		refusal = "error busy\n";
	if (refusal != NULL) {
		/* A fresh socket's buffer takes one line: no need to wait. */
		if (write(fd, refusal, strlen(refusal)) == -1)
			log_debug("%s: refusal not written", __func__);
		close(fd);
		return;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->bev = bufferevent_socket_new(base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warn("admin: accept");
		free(a);
		close(fd);
		return;
	}
	LIST_INSERT_HEAD(&admin_clients, a, entry);
	admin_nclients++;
	bufferevent_setcb(a->bev, admin_read_cb, admin_write_cb,
	    admin_event_cb, a);
	bufferevent_set_timeouts(a->bev, &tv, &tv);
	bufferevent_enable(a->bev, EV_READ | EV_WRITE);
}

static void
admin_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	evconnlistener_enable(admin_lev);
}

/* Out of descriptors: accepting again at once would spin, so wait. */
static void
admin_error(struct evconnlistener *lev, void *arg)
{
	struct timeval	tv = { ADMIN_PAUSE_SECONDS, 0 };

	(void)arg;
	log_warn("%s: accept", admin_path);
	evconnlistener_disable(lev);
	evtimer_add(admin_resume, &tv);
}

/* Listens on the admin socket; -1 after logging why. */
int
admin_open(void)
{
	const char	*errstr;
	int		 fd;

	if (config_admin_socket(&conf, admin_path, sizeof(admin_path)) == -1) {
		log_warnx("admin_socket: path too long for a Unix socket");
		return -1;
	}
	if ((fd = listen_unix(admin_path, SOCKPERM_PRIVATE, "", &errstr)) == -1) {
		log_warnx("%s: %s", admin_path, errstr);
		return -1;
	}
	admin_lev = evconnlistener_new(base, admin_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (admin_lev == NULL)
		close(fd);
	if (admin_lev == NULL ||
	    (admin_resume = evtimer_new(base, admin_resume_cb, NULL)) == NULL) {
		admin_close();
		unlink(admin_path);
		log_warnx("%s: cannot listen", admin_path);
		return -1;
	}
	evconnlistener_set_error_cb(admin_lev, admin_error);
	log_info("listening on %s (admin)", admin_path);
	return 0;
}

/* Drops every admin client and hold, and removes the socket file. */
void
admin_close(void)
{
	struct admin_client	*a;
	struct admin_hold	*h;

	while ((a = LIST_FIRST(&admin_clients)) != NULL)
		admin_free(a);
	while ((h = TAILQ_FIRST(&admin_holds)) != NULL) {
		TAILQ_REMOVE(&admin_holds, h, entry);
		free(h);
	}
	if (admin_lev != NULL) {
		evconnlistener_free(admin_lev);
		unlink(admin_path);
		admin_lev = NULL;
	}
	if (admin_resume != NULL)
		event_free(admin_resume);
	admin_resume = NULL;
}
