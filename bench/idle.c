/*
 * The idle workload: C connections logged in and held open for T
 * seconds.  A few accounts (--accounts) are registered first and their
 * connections closed; then the C connections log in, spread over those
 * accounts (an account may be online on many connections).  The stack's
 * memory is read before the C connections and after T seconds, its CPU
 * over the T seconds; the server's pings, if any come, are answered by
 * wslay.  When connections fail, the most common reason says which limit
 * was reached.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define IDLE_SETTLE_S	1	/* after closing the registering conns */

struct idle {
	struct bconn	**reg;		/* the registering connections */
	uint64_t	 *ids;
	int		  nreg;
	struct bconn	**conns;
	uint64_t	 *login_as;
	struct setup	 *reg_setup;
	struct setup	 *setup;
	struct procstat	 *ps0;		/* before the C connections */
	struct procstat	 *ps_hold;	/* all of them ready */
	struct procstat	 *ps1;		/* T seconds later */
	int		  closed;	/* lost while held */
	const char	 *closed_why;
	int		  fds;		/* the generator's, while held */
	struct event	 *timer;
};

static struct idle	I;

static void	idle_packet(struct bconn *, cJSON *, const char *);
static void	idle_closed(struct bconn *, const char *);
static void	idle_open_all(evutil_socket_t, short, void *);

static const struct bconn_ops idle_ops = { NULL, idle_packet, idle_closed };

static void
idle_packet(struct bconn *c, cJSON *p, const char *command)
{
	(void)c;
	(void)p;
	(void)command;
}

static void
idle_closed(struct bconn *c, const char *why)
{
	(void)c;
	I.closed++;
	if (I.closed_why == NULL)
		I.closed_why = why;
}

static void
idle_end(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	bench_cpu_stop();
	I.ps1 = procstat_take(opts.stack_dir);
	event_base_loopbreak(base);
}

static void
idle_ready(void *arg)
{
	struct timeval	tv;

	(void)arg;
	setup_handover(I.setup, &idle_ops, NULL);
	I.fds = bconn_open_fds();
	bench_progress("%d connections ready; holding them %.0f s",
	    setup_ready(I.setup), opts.duration);
	I.ps_hold = procstat_take(opts.stack_dir);
	bench_cpu_start();
	tv.tv_sec = (time_t)opts.duration;
	tv.tv_usec = (suseconds_t)((opts.duration - (double)tv.tv_sec) * 1e6);
	evtimer_assign(I.timer, base, idle_end, NULL);
	evtimer_add(I.timer, &tv);
}

/* The accounts exist: their connections go, then the C come. */
static void
idle_close_reg(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	tv = { IDLE_SETTLE_S, 0 };
	int		i;

	(void)fd;
	(void)what;
	(void)arg;
	for (i = 0; i < I.nreg; i++) {
		bconn_free(I.reg[i]);
		I.reg[i] = NULL;
	}
	evtimer_assign(I.timer, base, idle_open_all, NULL);
	evtimer_add(I.timer, &tv);
}

static void
idle_open_all(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	I.ps0 = procstat_take(opts.stack_dir);
	I.setup = setup_start(I.conns, opts.conns, I.login_as, idle_ready,
	    NULL);
	if (I.setup == NULL)
		event_base_loopbreak(base);
}

static void
idle_registered(void *arg)
{
	struct timeval	tv = { 0, 0 };
	int		i, n = 0;

	(void)arg;
	/* Called from a connection's callback: they are freed later. */
	for (i = 0; i < I.nreg; i++)
		if (I.reg[i] != NULL && I.reg[i]->account != 0 &&
		    I.reg[i]->state == BCONN_OPEN)
			I.ids[n++] = I.reg[i]->account;
	if (n == 0) {
		bench_progress("no account could be registered");
		event_base_loopbreak(base);
		return;
	}
	for (i = 0; i < opts.conns; i++)
		I.login_as[i] = I.ids[i % n];
	bench_progress("%d accounts registered", n);
	evtimer_assign(I.timer, base, idle_close_reg, NULL);
	evtimer_add(I.timer, &tv);
}

static cJSON *
idle_result(void)
{
	cJSON		*o, *mem;
	int		 ready = I.setup != NULL ? setup_ready(I.setup) : 0;
	const char	*worst;

	o = bench_result_new();
	cJSON_AddNumberToObject(o, "conns_wanted", opts.conns);
	cJSON_AddNumberToObject(o, "accounts", I.nreg);
	cJSON_AddNumberToObject(o, "duration", opts.duration);
	if (I.setup != NULL)
		cJSON_AddItemToObject(o, "setup", setup_json(I.setup));
	cJSON_AddNumberToObject(o, "conns_held", ready - I.closed);
	cJSON_AddNumberToObject(o, "conns_lost_while_held", I.closed);
	if (I.closed_why != NULL)
		cJSON_AddStringToObject(o, "lost_reason", I.closed_why);
	worst = I.setup != NULL ? setup_worst(I.setup) : NULL;
	cJSON_AddStringToObject(o, "stopped_by", worst != NULL ? worst :
	    "nothing: every connection was made");
	cJSON_AddNumberToObject(o, "generator_fds", I.fds);
	if (I.ps0 != NULL && I.ps1 != NULL) {
		mem = procstat_diff(I.ps0, I.ps1, ready > 0 ? ready : 1);
		cJSON_AddItemToObject(o, "memory", mem);
	}
	if (I.ps_hold != NULL && I.ps1 != NULL)
		cJSON_AddItemToObject(o, "processes",
		    procstat_diff(I.ps_hold, I.ps1, 0));
	bench_cpu_report(o);
	return o;
}

int
idle_run(void)
{
	cJSON	*o;
	int	 i, rc;

	I.nreg = opts.accounts < opts.conns ? opts.accounts : opts.conns;
	I.reg = calloc((size_t)I.nreg, sizeof(*I.reg));
	I.ids = calloc((size_t)I.nreg, sizeof(*I.ids));
	I.conns = calloc((size_t)opts.conns, sizeof(*I.conns));
	I.login_as = calloc((size_t)opts.conns, sizeof(*I.login_as));
	I.timer = evtimer_new(base, idle_end, NULL);
	if (I.reg == NULL || I.ids == NULL || I.conns == NULL ||
	    I.login_as == NULL || I.timer == NULL)
		return -1;
	I.reg_setup = setup_start(I.reg, I.nreg, NULL, idle_registered,
	    NULL);
	if (I.reg_setup == NULL)
		return -1;
	event_base_dispatch(base);
	o = idle_result();
	bench_result_print(o);
	rc = I.ps1 != NULL ? 0 : -1;
	cJSON_Delete(o);
	for (i = 0; i < opts.conns; i++)
		bconn_free(I.conns[i]);
	event_free(I.timer);
	procstat_free(I.ps0);
	procstat_free(I.ps_hold);
	procstat_free(I.ps1);
	setup_free(I.reg_setup);
	setup_free(I.setup);
	free(I.reg);
	free(I.ids);
	free(I.conns);
	free(I.login_as);
	return rc;
}
