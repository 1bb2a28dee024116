/*
 * The idle workload: C connections logged in and held open for T
 * seconds.  A few accounts (--accounts) are registered first and their
 * connections closed; then the C connections log in, spread over those
 * accounts (an account may be online on many connections).  The stack's
 * memory is read before the C connections and after T seconds, its CPU
 * over the T seconds; the server's pings, if any come, are answered by
 * wslay.  When connections fail, the most common reason says which limit
 * was reached.
 *
 * The C connections are held by P generator processes (idle-proc.c;
 * --procs, or as many as the descriptor limit asks for: one holds a
 * descriptor per connection), forked once the accounts exist, each with
 * its share of them and of --concurrency.  This process only conducts: it
 * tells them when the hold starts and ends (a line each on a socketpair),
 * reads /proc at both ends, and merges what each reports in one line of
 * JSON into the one result, in the shape one process gave before.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "bench.h"

#define IDLE_SETTLE_S	1	/* after closing the registering conns */
#define IDLE_FD_SPARE	100	/* a process's descriptors beyond its conns */
#define IDLE_LINE_MAX	65536	/* a process's report */

/* One generator process, as the conductor sees it. */
struct idle_proc {
	pid_t			 pid;
	int			 lo, n;		/* its conns[lo .. lo + n) */
	int			 fd;		/* our end of the socketpair */
	struct bufferevent	*bev;		/* on fd, once all are forked */
	int			 ready;		/* said so, or has gone */
	int			 conns_ready;	/* as it said */
	cJSON			*result;	/* its report, once in */
	int			 gone;
};

struct idle {
	struct bconn	**reg;		/* the registering connections */
	uint64_t	 *ids;
	int		  nreg;
	struct bconn	**conns;
	uint64_t	 *login_as;
	struct setup	 *reg_setup;
	struct event	 *timer;

	/* The conductor. */
	struct idle_proc *procs;
	int		  nprocs;
	int		  holding;	/* the hold has started */
	int		  ended;	/* and ended: reports are due */
	struct procstat	 *ps0;		/* before the C connections */
	struct procstat	 *ps_hold;	/* all of them ready */
	struct procstat	 *ps1;		/* T seconds later */

	/* In a generator process: which, and its socketpair's end. */
	int		  child;
	int		  child_fd;
};

static struct idle	I;

static void	idle_open_all(evutil_socket_t, short, void *);

static void
idle_hold_end(evutil_socket_t fd, short what, void *arg)
{
	int	i;

	(void)fd;
	(void)what;
	(void)arg;
	bench_cpu_stop();
	I.ps1 = procstat_take(opts.stack_dir);
	I.ended = 1;
	for (i = 0; i < I.nprocs; i++)
		if (!I.procs[i].gone)
			idle_proc_tell(bufferevent_getfd(I.procs[i].bev), "end\n");
}

/* Every process is ready (or gone): the hold starts. */
static void
idle_hold_start(void)
{
	struct timeval	tv;
	int		i, ready = 0;

	for (i = 0; i < I.nprocs; i++) {
		if (!I.procs[i].ready)
			return;
		ready += I.procs[i].conns_ready;
	}
	I.holding = 1;
	bench_progress("%d connections ready; holding them %.0f s", ready,
	    opts.duration);
	I.ps_hold = procstat_take(opts.stack_dir);
	bench_cpu_start();
	for (i = 0; i < I.nprocs; i++)
		if (!I.procs[i].gone)
			idle_proc_tell(bufferevent_getfd(I.procs[i].bev), "hold\n");
	tv.tv_sec = (time_t)opts.duration;
	tv.tv_usec = (suseconds_t)((opts.duration - (double)tv.tv_sec) * 1e6);
	evtimer_assign(I.timer, base, idle_hold_end, NULL);
	evtimer_add(I.timer, &tv);
}

/* Once the hold has ended, every process's report is in or it has gone. */
static void
idle_check_done(void)
{
	int	i;

	if (!I.ended)
		return;
	for (i = 0; i < I.nprocs; i++)
		if (I.procs[i].result == NULL && !I.procs[i].gone)
			return;
	event_base_loopbreak(base);
}

static void
idle_proc_read(struct bufferevent *bev, void *arg)
{
	struct idle_proc	*p = arg;
	char			*line;

	while ((line = evbuffer_readln(bufferevent_get_input(bev), NULL,
	    EVBUFFER_EOL_LF)) != NULL) {
		if (!p->ready && sscanf(line, "ready %d", &p->conns_ready) == 1)
			p->ready = 1;
		else if (p->result == NULL)
			p->result = cJSON_Parse(line);
		free(line);
	}
	if (!I.holding)
		idle_hold_start();
	idle_check_done();
}

static void
idle_proc_event(struct bufferevent *bev, short what, void *arg)
{
	struct idle_proc	*p = arg;

	(void)bev;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (p->result == NULL)
		bench_progress("generator process %ld ended without a report",
		    (long)p->pid);
	p->gone = 1;
	p->ready = 1;
	bufferevent_disable(p->bev, EV_READ);
	if (!I.holding)
		idle_hold_start();
	idle_check_done();
}

/*
 * As many processes as --procs, or as the descriptor limit asks for, each
 * with room for its connections and IDLE_FD_SPARE more.
 */
static int
idle_nprocs(void)
{
	struct rlimit	rl;
	rlim_t		per;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return opts.procs > 0 ? opts.procs : 1;
	/* Connections are one descriptor each: take all the kernel allows. */
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (opts.procs > 0)
		return opts.procs < opts.conns ? opts.procs : opts.conns;
	per = rl.rlim_cur > 2 * IDLE_FD_SPARE ? rl.rlim_cur - IDLE_FD_SPARE :
	    IDLE_FD_SPARE;
	return (int)(((rlim_t)opts.conns + per - 1) / per);
}

/*
 * Forks the generator processes, all before any libevent object is made
 * for them, so that none inherits another's.  Returns 1 in a child (which
 * then leaves the loop to run its own), 0 here, -1 if none could start.
 */
static int
idle_fork(void)
{
	int	i, k, sv[2], conc;
	pid_t	pid;

	I.nprocs = idle_nprocs();
	if ((I.procs = calloc((size_t)I.nprocs, sizeof(*I.procs))) == NULL)
		return -1;
	conc = (opts.concurrency + I.nprocs - 1) / I.nprocs;
	for (i = 0; i < I.nprocs; i++) {
		I.procs[i].lo = (int)((long)opts.conns * i / I.nprocs);
		I.procs[i].n = (int)((long)opts.conns * (i + 1) / I.nprocs) -
		    I.procs[i].lo;
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
			break;
		fflush(NULL);
		if ((pid = fork()) == -1) {
			close(sv[0]);
			close(sv[1]);
			break;
		}
		if (pid == 0) {
			for (k = 0; k < i; k++)
				close(I.procs[k].fd);
			close(sv[0]);
			I.child = i + 1;
			I.child_fd = sv[1];
			opts.concurrency = conc;
			return 1;
		}
		close(sv[1]);
		I.procs[i].pid = pid;
		I.procs[i].fd = sv[0];
	}
	I.nprocs = i;
	return i > 0 ? 0 : -1;
}

/* Our ends of the socketpairs, read for each process's lines. */
static int
idle_listen(void)
{
	struct idle_proc	*p;
	int			 i;

	for (i = 0; i < I.nprocs; i++) {
		p = &I.procs[i];
		if (evutil_make_socket_nonblocking(p->fd) == -1 ||
		    (p->bev = bufferevent_socket_new(base, p->fd,
		    BEV_OPT_CLOSE_ON_FREE)) == NULL)
			return -1;
		bufferevent_setcb(p->bev, idle_proc_read, NULL,
		    idle_proc_event, p);
		bufferevent_setwatermark(p->bev, EV_READ, 0, IDLE_LINE_MAX);
		bufferevent_enable(p->bev, EV_READ);
	}
	return 0;
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
	switch (idle_fork()) {
	case 1:
		event_base_loopbreak(base);
		return;
	case 0:
		bench_progress("%d generator process%s", I.nprocs,
		    I.nprocs == 1 ? "" : "es");
		if (idle_listen() == 0)
			return;
		/* FALLTHROUGH */
	default:
		bench_progress("no generator process could start");
		event_base_loopbreak(base);
	}
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

/* Adds a process's setup to the merged one and its failures to fails. */
static void
idle_merge_setup(cJSON *sum, cJSON *fails, const cJSON *s, double *secs)
{
	static const char *const fields[] = { "ready", "failed", "logons" };
	const cJSON	*v, *f;
	cJSON		*have;
	size_t		 i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		v = cJSON_GetObjectItemCaseSensitive(s, fields[i]);
		have = cJSON_GetObjectItemCaseSensitive(sum, fields[i]);
		if (cJSON_IsNumber(v) && have != NULL)
			cJSON_SetNumberValue(have, have->valuedouble +
			    v->valuedouble);
	}
	v = cJSON_GetObjectItemCaseSensitive(s, "seconds");
	if (cJSON_IsNumber(v) && v->valuedouble > *secs)
		*secs = v->valuedouble;
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(s, "failures")) {
		if (!cJSON_IsNumber(f))
			continue;
		if ((have = cJSON_GetObjectItemCaseSensitive(fails,
		    f->string)) != NULL)
			cJSON_SetNumberValue(have, have->valuedouble +
			    f->valuedouble);
		else
			cJSON_AddNumberToObject(fails, f->string,
			    f->valuedouble);
	}
}

/*
 * The processes' setups as one, in setup_json()'s shape: counts added,
 * seconds the longest (they ran side by side), the share of a process
 * that ended without a report failed as "generator process ended".
 */
static cJSON *
idle_setup_json(void)
{
	cJSON	*sum, *fails, *failed;
	double	 secs = 0, ready;
	int	 i, lost = 0;

	if ((sum = cJSON_CreateObject()) == NULL ||
	    (fails = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(sum);
		return NULL;
	}
	cJSON_AddNumberToObject(sum, "connections", opts.conns);
	cJSON_AddNumberToObject(sum, "ready", 0);
	failed = cJSON_AddNumberToObject(sum, "failed", 0);
	cJSON_AddNumberToObject(sum, "logons", 0);
	for (i = 0; i < I.nprocs; i++) {
		if (I.procs[i].result == NULL)
			lost += I.procs[i].n;
		else
			idle_merge_setup(sum, fails,
			    cJSON_GetObjectItemCaseSensitive(I.procs[i].result,
			    "setup"), &secs);
	}
	if (lost > 0) {
		cJSON_SetNumberValue(failed, failed->valuedouble + lost);
		cJSON_AddNumberToObject(fails, "generator process ended",
		    lost);
	}
	ready = cJSON_GetObjectItemCaseSensitive(sum, "ready")->valuedouble;
	cJSON_AddNumberToObject(sum, "seconds", secs);
	cJSON_AddNumberToObject(sum, "ready_per_s", secs > 0 ? ready / secs :
	    0);
	cJSON_AddItemToObject(sum, "failures", fails);
	return sum;
}

/* The most common failure of the merged setup, or NULL. */
static const char *
idle_worst(const cJSON *setup)
{
	const cJSON	*f, *worst = NULL;

	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(setup,
	    "failures"))
		if (cJSON_IsNumber(f) && (worst == NULL ||
		    f->valuedouble > worst->valuedouble))
			worst = f;
	return worst != NULL ? worst->string : NULL;
}

/* A number of process i's report, or 0. */
static double
idle_num(int i, const char *name)
{
	const cJSON	*v;

	v = cJSON_GetObjectItemCaseSensitive(I.procs[i].result, name);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static cJSON *
idle_result(void)
{
	cJSON		*o, *setup, *mem;
	const cJSON	*why = NULL;
	const char	*worst;
	double		 ready = 0, closed = 0, fds = 0, cpu = 0;
	int		 i;

	for (i = 0; i < I.nprocs; i++) {
		if (I.procs[i].result == NULL)
			continue;
		ready += idle_num(i, "ready");
		closed += idle_num(i, "closed");
		fds += idle_num(i, "fds");
		cpu += idle_num(i, "generator_cpu_cores");
		if (why == NULL)
			why = cJSON_GetObjectItemCaseSensitive(
			    I.procs[i].result, "closed_why");
	}
	o = bench_result_new();
	cJSON_AddNumberToObject(o, "conns_wanted", opts.conns);
	cJSON_AddNumberToObject(o, "accounts", I.nreg);
	cJSON_AddNumberToObject(o, "duration", opts.duration);
	setup = idle_setup_json();
	if (setup != NULL)
		cJSON_AddItemToObject(o, "setup", setup);
	cJSON_AddNumberToObject(o, "conns_held", ready - closed);
	cJSON_AddNumberToObject(o, "conns_lost_while_held", closed);
	if (cJSON_IsString(why))
		cJSON_AddStringToObject(o, "lost_reason", why->valuestring);
	worst = setup != NULL ? idle_worst(setup) : NULL;
	cJSON_AddStringToObject(o, "stopped_by", worst != NULL ? worst :
	    "nothing: every connection was made");
	cJSON_AddNumberToObject(o, "generator_processes", I.nprocs);
	cJSON_AddNumberToObject(o, "generator_fds", fds);
	if (I.ps0 != NULL && I.ps1 != NULL) {
		mem = procstat_diff(I.ps0, I.ps1, ready > 0 ? (int)ready : 1);
		cJSON_AddItemToObject(o, "memory", mem);
	}
	if (I.ps_hold != NULL && I.ps1 != NULL)
		cJSON_AddItemToObject(o, "processes",
		    procstat_diff(I.ps_hold, I.ps1, 0));
	bench_cpu_add(cpu);
	bench_cpu_report(o);
	return o;
}

static void
idle_procs_free(void)
{
	int	i, status;

	for (i = 0; i < I.nprocs; i++) {
		if (I.procs[i].bev != NULL)
			bufferevent_free(I.procs[i].bev);
		else
			close(I.procs[i].fd);
		while (waitpid(I.procs[i].pid, &status, 0) == -1 &&
		    errno == EINTR)
			;
		cJSON_Delete(I.procs[i].result);
	}
	free(I.procs);
}

int
idle_run(void)
{
	cJSON	*o;
	int	 i, rc = -1;

	I.nreg = opts.accounts < opts.conns ? opts.accounts : opts.conns;
	I.reg = calloc((size_t)I.nreg, sizeof(*I.reg));
	I.ids = calloc((size_t)I.nreg, sizeof(*I.ids));
	I.conns = calloc((size_t)opts.conns, sizeof(*I.conns));
	I.login_as = calloc((size_t)opts.conns, sizeof(*I.login_as));
	I.timer = evtimer_new(base, idle_hold_end, NULL);
	if (I.reg == NULL || I.ids == NULL || I.conns == NULL ||
	    I.login_as == NULL || I.timer == NULL)
		return -1;
	I.reg_setup = setup_start(I.reg, I.nreg, NULL, idle_registered,
	    NULL);
	if (I.reg_setup == NULL)
		return -1;
	event_base_dispatch(base);
	if (I.child) {
		i = I.procs[I.child - 1].lo;
		rc = idle_proc_run(I.child_fd, I.child, I.conns + i,
		    I.login_as + i, I.procs[I.child - 1].n);
		free(I.procs);
	} else {
		o = idle_result();
		bench_result_print(o);
		rc = I.ps1 != NULL ? 0 : -1;
		cJSON_Delete(o);
		idle_procs_free();
		procstat_free(I.ps0);
		procstat_free(I.ps_hold);
		procstat_free(I.ps1);
	}
	event_free(I.timer);
	setup_free(I.reg_setup);
	free(I.reg);
	free(I.ids);
	free(I.conns);
	free(I.login_as);
	return rc;
}
