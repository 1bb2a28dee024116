/*
 * The login workload: K connections (--concurrency), each with its own
 * fresh account, log out and in again until N logins (--logins) have been
 * answered or the duration has passed.  Every login verifies the password
 * hash, at whatever cost the stack's workers run (--cost only labels it),
 * and runs the login's fetch.  Reports logins/s and the login latency.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct loginw {
	struct bconn	**conns;
	int		  n;
	struct setup	 *setup;
	struct lat	 *lat;
	uint64_t	 *sent_at;	/* per conn: the login's send time */
	int		  done;		/* logins answered success */
	int		  failed;
	int		  started;	/* logins sent */
	int		  running;
	double		  t0, t1;
	struct procstat	 *ps0, *ps1;
	struct event	 *timer;
	const char	 *fail_detail;
};

static struct loginw	L;

static void	login_packet(struct bconn *, cJSON *, const char *);
static void	login_closed(struct bconn *, const char *);

static const struct bconn_ops login_ops = {
	NULL, login_packet, login_closed
};

static void
login_stop(void)
{
	if (!L.running)
		return;
	L.running = 0;
	L.t1 = now_s();
	bench_cpu_stop();
	L.ps1 = procstat_take(opts.stack_dir);
	event_base_loopbreak(base);
}

/* Starts c's next cycle, or ends the run when enough were sent. */
static void
login_next(struct bconn *c)
{
	if (!L.running || L.started >= opts.logins ||
	    now_s() - L.t0 >= opts.duration) {
		if (L.done + L.failed >= L.started)
			login_stop();
		return;
	}
	if (session_logout(c) == -1)
		login_stop();
}

static void
login_packet(struct bconn *c, cJSON *p, const char *command)
{
	if (!L.running)
		return;
	if (strcmp(command, "logout_return") == 0) {
		L.started++;
		L.sent_at[c->idx] = now_us();
		if (session_login(c, c->account) == -1)
			login_stop();
	} else if (strcmp(command, "login_return") == 0) {
		lat_add(L.lat, now_us() - L.sent_at[c->idx]);
		if (session_ok(p))
			L.done++;
		else {
			L.failed++;
			L.fail_detail = strcmp(session_detail(p),
			    "too many attempts") == 0 ? "too many attempts" :
			    "other";
		}
		login_next(c);
	}
}

static void
login_closed(struct bconn *c, const char *why)
{
	(void)c;
	(void)why;
	login_stop();
}

static void
login_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	login_stop();
}

static void
login_ready(void *arg)
{
	struct timeval	tv;
	int		i;

	(void)arg;
	setup_handover(L.setup, &login_ops, NULL);
	bench_progress("%d connections logged in; measuring",
	    setup_ready(L.setup));
	L.running = 1;
	L.ps0 = procstat_take(opts.stack_dir);
	bench_cpu_start();
	L.t0 = now_s();
	for (i = 0; i < L.n; i++)
		if (L.conns[i] != NULL && L.conns[i]->state == BCONN_OPEN)
			login_next(L.conns[i]);
	/* A stuck login must not hang the run. */
	tv.tv_sec = (time_t)opts.duration + 30;
	tv.tv_usec = 0;
	evtimer_add(L.timer, &tv);
	if (setup_ready(L.setup) == 0)
		login_stop();
}

static cJSON *
login_result(void)
{
	cJSON	*o;
	double	 t = L.t1 - L.t0;

	o = bench_result_new();
	cJSON_AddStringToObject(o, "cost", opts.cost);
	cJSON_AddNumberToObject(o, "concurrency", L.n);
	cJSON_AddItemToObject(o, "setup", setup_json(L.setup));
	cJSON_AddNumberToObject(o, "logins", L.done);
	cJSON_AddNumberToObject(o, "failed", L.failed);
	if (L.fail_detail != NULL)
		cJSON_AddStringToObject(o, "fail_detail", L.fail_detail);
	cJSON_AddNumberToObject(o, "seconds", t);
	cJSON_AddNumberToObject(o, "logins_per_s", t > 0 ? L.done / t : 0);
	cJSON_AddItemToObject(o, "latency", lat_json(L.lat));
	if (L.ps0 != NULL && L.ps1 != NULL && t > 0)
		cJSON_AddItemToObject(o, "processes",
		    procstat_diff(L.ps0, L.ps1, 0));
	bench_cpu_report(o);
	return o;
}

int
login_run(void)
{
	cJSON	*o;
	int	 i;

	L.n = opts.concurrency;
	L.conns = calloc((size_t)L.n, sizeof(*L.conns));
	L.sent_at = calloc((size_t)L.n, sizeof(*L.sent_at));
	L.lat = lat_new();
	L.timer = evtimer_new(base, login_timeout, NULL);
	if (L.conns == NULL || L.sent_at == NULL || L.lat == NULL ||
	    L.timer == NULL)
		return -1;
	if ((L.setup = setup_start(L.conns, L.n, NULL, login_ready,
	    NULL)) == NULL)
		return -1;
	event_base_dispatch(base);
	bench_progress("%d logins in %.1f s", L.done, L.t1 - L.t0);
	o = login_result();
	bench_result_print(o);
	cJSON_Delete(o);
	for (i = 0; i < L.n; i++)
		bconn_free(L.conns[i]);
	event_free(L.timer);
	procstat_free(L.ps0);
	procstat_free(L.ps1);
	lat_free(L.lat);
	setup_free(L.setup);
	free(L.conns);
	free(L.sent_at);
	return L.done > 0 ? 0 : -1;
}
