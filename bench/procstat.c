/*
 * CPU time and resident memory of the stack's processes, read from /proc:
 * the ones scripts/stack.sh recorded in DIR/pids (mariadbd, the fcgi_app
 * master, push_daemon, the nginx master) and their children (the workers),
 * plus this generator and the whole machine (/proc/stat), so that what
 * colleagues' processes and the kernel took is visible too (interrupt
 * and softirq time, loopback TCP for one, is charged to no process, as
 * are processes that came and went between the snapshots).  Two snapshots make a diff:
 * cores used per group over the interval, RSS before and after.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

enum {
	GROUP_MARIADB,
	GROUP_FCGI,
	GROUP_DAEMON,
	GROUP_NGINX,
	GROUP_GENERATOR,
	GROUP_COUNT
};

static const char *const group_names[GROUP_COUNT] = {
	"mariadbd", "fcgi_app", "push_daemon", "nginx", "generator"
};

/* The pid files stack.sh writes, in group order. */
static const char *const group_files[GROUP_GENERATOR] = {
	"1-mariadb.pid", "2-fcgi_app.pid", "3-push_daemon.pid", "4-nginx.pid"
};

struct group {
	unsigned long long	ticks;		/* utime + stime */
	unsigned long long	rss_kib;
	int			procs;
};

/* Every process seen, to tell colleagues' processes from the kernel's. */
struct proc_ticks {
	long			pid;
	int			kernel;		/* a kernel thread */
	unsigned long long	ticks;
};

#define PROCSTAT_MAX	4096

struct procstat {
	struct group		g[GROUP_COUNT];
	long			roots[GROUP_COUNT];
	struct proc_ticks	all[PROCSTAT_MAX];	/* sorted by pid */
	int			nall;
	unsigned long long	machine_busy;	/* /proc/stat, ticks */
	unsigned long long	machine_all;
	unsigned long long	machine_irq;	/* irq + softirq */
	unsigned long long	machine_steal;	/* the hypervisor's */
	double			t;		/* now_s() halfway through */
};

/* Reads ppid, utime+stime and RSS of pid; -1 if it has gone. */
static int
proc_read(long pid, long *ppid, unsigned long long *ticks,
    unsigned long long *rss_kib)
{
	char		 path[64], buf[1024], *p;
	FILE		*fp;
	unsigned long	 ut, st;
	long		 rss;
	int		 n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(buf, sizeof(buf), fp);
	fclose(fp);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL)
		return -1;
	/* Fields from 3 (state): ppid is 4, utime 14, stime 15, rss 24. */
	n = sscanf(p + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%lu %lu %*d %*d %*d %*d %*d %*d %*u %*u %ld", ppid, &ut, &st,
	    &rss);
	if (n != 4)
		return -1;
	*ticks = (unsigned long long)ut + st;
	*rss_kib = (unsigned long long)rss * (unsigned long long)
	    (sysconf(_SC_PAGESIZE) / 1024);
	return 0;
}

static void
group_add(struct group *g, long pid)
{
	unsigned long long	ticks, rss;
	long			ppid;

	if (proc_read(pid, &ppid, &ticks, &rss) == -1)
		return;
	g->ticks += ticks;
	g->rss_kib += rss;
	g->procs++;
}

/* The recorded pid of group i, or 0. */
static long
group_pid(const char *dir, int i)
{
	char	 path[1024];
	FILE	*fp;
	long	 pid = 0;

	snprintf(path, sizeof(path), "%s/pids/%s", dir, group_files[i]);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(fp, "%ld", &pid) != 1)
		pid = 0;
	fclose(fp);
	return pid;
}

/* Adds every process whose parent is one of the recorded ones. */
static void
procstat_children(struct procstat *ps, const long *roots)
{
	DIR			*d;
	struct dirent		*de;
	unsigned long long	 ticks, rss;
	long			 pid, ppid;
	int			 i;

	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atol(de->d_name);
		if (proc_read(pid, &ppid, &ticks, &rss) == -1)
			continue;
		if (ps->nall < PROCSTAT_MAX) {
			ps->all[ps->nall].pid = pid;
			ps->all[ps->nall].kernel = pid == 2 || ppid == 2;
			ps->all[ps->nall++].ticks = ticks;
		}
		/* The generator's children: the idle workload's processes. */
		for (i = 0; i < GROUP_COUNT; i++) {
			if (roots[i] == 0 || ppid != roots[i])
				continue;
			ps->g[i].ticks += ticks;
			ps->g[i].rss_kib += rss;
			ps->g[i].procs++;
		}
	}
	closedir(d);
}

static void
procstat_machine(struct procstat *ps)
{
	FILE			*fp;
	unsigned long long	 v[8];

	if ((fp = fopen("/proc/stat", "r")) == NULL)
		return;
	if (fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		ps->machine_all = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] +
		    v[6] + v[7];
		ps->machine_busy = ps->machine_all - v[3] - v[4];
		ps->machine_irq = v[5] + v[6];
		ps->machine_steal = v[7];
	}
	fclose(fp);
}

static int
proc_cmp(const void *a, const void *b)
{
	const struct proc_ticks	*x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Is pid one of the groups' roots or a child of one? */
static int
procstat_ours(const struct procstat *ps, long pid)
{
	unsigned long long	ticks, rss;
	long			ppid;
	int			i;

	if (proc_read(pid, &ppid, &ticks, &rss) == -1)
		return 1;	/* gone: not counted either way */
	for (i = 0; i < GROUP_COUNT; i++)
		if (ps->roots[i] != 0 && (pid == ps->roots[i] ||
		    ppid == ps->roots[i]))
			return 1;
	return 0;
}

/*
 * Ticks between a and b of the processes in both that are not ours:
 * kernel threads (ppid 2: journal flushes, workqueues) and the rest
 * (colleagues' jobs).
 */
static void
procstat_others(const struct procstat *a, const struct procstat *b,
    double *kernel, double *others)
{
	const struct proc_ticks	*p, *q;
	int			 i;

	*kernel = *others = 0;
	for (i = 0; i < b->nall; i++) {
		q = &b->all[i];
		p = bsearch(q, a->all, (size_t)a->nall, sizeof(*p), proc_cmp);
		if (p == NULL || q->ticks < p->ticks ||
		    procstat_ours(b, q->pid))
			continue;
		if (q->kernel)
			*kernel += (double)(q->ticks - p->ticks);
		else
			*others += (double)(q->ticks - p->ticks);
	}
}

struct procstat *
procstat_take(const char *dir)
{
	struct procstat	*ps;
	long		 roots[GROUP_COUNT];
	double		 t0 = now_s();
	int		 i;

	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return NULL;
	memset(roots, 0, sizeof(roots));
	for (i = 0; dir != NULL && i < GROUP_GENERATOR; i++)
		if ((roots[i] = group_pid(dir, i)) != 0)
			group_add(&ps->g[i], roots[i]);
	roots[GROUP_GENERATOR] = (long)getpid();
	memcpy(ps->roots, roots, sizeof(roots));
	procstat_children(ps, roots);
	qsort(ps->all, (size_t)ps->nall, sizeof(ps->all[0]), proc_cmp);
	group_add(&ps->g[GROUP_GENERATOR], (long)getpid());
	procstat_machine(ps);
	/*
	 * Walking /proc takes a while on a busy machine; each snapshot is
	 * stamped at the middle of its walk, so that two of them read the
	 * same way are as far apart as their stamps.
	 */
	ps->t = (t0 + now_s()) / 2;
	return ps;
}

void
procstat_free(struct procstat *ps)
{
	free(ps);
}

/*
 * Per group: cores used between a and b, RSS at both, and, when conns > 0,
 * the RSS growth per connection.  "other" is what the machine was busy
 * with beyond these groups: colleagues' processes.  The interval is the
 * one between the snapshots, not the one a workload meant to measure: the
 * ticks were counted over it, as was the machine's busy share, so both
 * come out in the same cores.
 */
cJSON *
procstat_diff(const struct procstat *a, const struct procstat *b, int conns)
{
	cJSON		*o, *g;
	double		 hz = (double)sysconf(_SC_CLK_TCK), cores, sum = 0;
	double		 all, busy, kernel, others, rest, irq, steal;
	double		 secs = b->t - a->t;
	double		 ncpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
	int		 i;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddNumberToObject(o, "seconds", secs);
	if (secs <= 0)
		return o;
	for (i = 0; i < GROUP_COUNT; i++) {
		if (b->g[i].procs == 0)
			continue;
		g = cJSON_AddObjectToObject(o, group_names[i]);
		cores = (double)(b->g[i].ticks - a->g[i].ticks) / hz / secs;
		sum += cores;
		cJSON_AddNumberToObject(g, "processes", b->g[i].procs);
		cJSON_AddNumberToObject(g, "cpu_cores", cores);
		cJSON_AddNumberToObject(g, "rss_kib_before",
		    (double)a->g[i].rss_kib);
		cJSON_AddNumberToObject(g, "rss_kib_after",
		    (double)b->g[i].rss_kib);
		if (conns > 0)
			cJSON_AddNumberToObject(g, "kib_per_conn",
			    ((double)b->g[i].rss_kib -
			    (double)a->g[i].rss_kib) / conns);
	}
	all = (double)(b->machine_all - a->machine_all);
	busy = (double)(b->machine_busy - a->machine_busy);
	if (all > 0) {
		g = cJSON_AddObjectToObject(o, "machine");
		cores = busy / all * ncpu;
		procstat_others(a, b, &kernel, &others);
		kernel /= hz * secs;
		others /= hz * secs;
		irq = (double)(b->machine_irq - a->machine_irq) / all * ncpu;
		steal = (double)(b->machine_steal - a->machine_steal) / all *
		    ncpu;
		rest = cores - sum - kernel - others - irq - steal;
		cJSON_AddNumberToObject(g, "cores", ncpu);
		/*
		 * /proc/stat samples the CPUs at each tick, and on this VM a
		 * mostly idle machine whose work comes in short bursts between
		 * ticks reads as idle (0.06 cores against 0.6 that the
		 * processes' own times add up to, in a 1 000/s relay).  The
		 * processes' times are exact, so the machine was at least as
		 * busy as they add up to.
		 */
		cJSON_AddNumberToObject(g, "busy_ticks_cores", cores);
		if (sum + kernel + others + irq + steal > cores)
			cores = sum + kernel + others + irq + steal;
		cJSON_AddNumberToObject(g, "busy_cores", cores);
		cJSON_AddNumberToObject(g, "other_cores", others);
		cJSON_AddNumberToObject(g, "kernel_thread_cores", kernel);
		cJSON_AddNumberToObject(g, "irq_softirq_cores", irq);
		cJSON_AddNumberToObject(g, "steal_cores", steal);
		cJSON_AddNumberToObject(g, "unattributed_cores",
		    rest > 0 ? rest : 0);
	}
	return o;
}
