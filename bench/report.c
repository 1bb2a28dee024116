/*
 * `bench report FILE`: the markdown tables of a results file written by
 * bench/run.sh (an object whose "runs" are what the workloads printed).
 * Relay figures are also shown as a share of the two ceilings measured in
 * the same run: the database's (workload db) and the transport's (the
 * run labelled transport-ceiling, workers of make NOSTORE=1).
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const char *const groups[] = {
	"push_daemon", "nginx", "fcgi_app", "mariadbd", "generator"
};
#define NGROUPS	(sizeof(groups) / sizeof(groups[0]))

static double
num(const cJSON *o, const char *path)
{
	char		 buf[128], *name, *save;
	const cJSON	*v = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (name = strtok_r(buf, ".", &save); name != NULL && v != NULL;
	    name = strtok_r(NULL, ".", &save))
		v = cJSON_GetObjectItemCaseSensitive(v, name);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static const char *
str(const cJSON *o, const char *name)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* A number, or "-" when absent. */
static void
cell(double v, int decimals)
{
	if (v < 0)
		printf(" - |");
	else
		printf(" %.*f |", decimals, v);
}

static void
ratio(double v, double of)
{
	if (v < 0 || of <= 0)
		printf(" - |");
	else
		printf(" %.0f %% |", 100 * v / of);
}

static const cJSON *
find_run(const cJSON *runs, const char *workload, const char *label)
{
	const cJSON	*r;

	cJSON_ArrayForEach(r, runs) {
		if (workload != NULL && strcmp(str(r, "workload"), workload))
			continue;
		if (label != NULL && strcmp(str(r, "label"), label))
			continue;
		return r;
	}
	return NULL;
}

static void
report_relay(const cJSON *runs)
{
	const cJSON	*r, *db, *tc;
	double		 dbc, tcc;

	db = find_run(runs, "db", NULL);
	tc = find_run(runs, "relay", "transport-ceiling");
	dbc = db != NULL ? num(db, "messages_per_s") : -1;
	tcc = tc != NULL ? num(tc, "delivered_per_s") : -1;
	printf("\n### Relay (delivered/s as a share of the ceilings)\n\n");
	printf("| run | transport | pairs | offered | delivered/s "
	    "| of db ceiling | of transport ceiling | p50 ms | p90 ms "
	    "| p99 ms | p99.9 ms | max ms | lost | reordered | duplicated "
	    "| failed | generator cores |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---"
	    "|---|---|---|\n");
	cJSON_ArrayForEach(r, runs) {
		if (strcmp(str(r, "workload"), "relay") != 0)
			continue;
		printf("| %s | %s |", str(r, "label"), str(r, "transport"));
		cell(num(r, "pairs"), 0);
		if (strcmp(str(r, "mode"), "rate") == 0)
			printf(" %.0f/s |", num(r, "rate"));
		else
			printf(" saturated, %.0f in flight |",
			    num(r, "inflight"));
		cell(num(r, "delivered_per_s"), 0);
		ratio(num(r, "delivered_per_s"), dbc);
		ratio(num(r, "delivered_per_s"), tcc);
		cell(num(r, "latency.p50_ms"), 2);
		cell(num(r, "latency.p90_ms"), 2);
		cell(num(r, "latency.p99_ms"), 2);
		cell(num(r, "latency.p999_ms"), 2);
		cell(num(r, "latency.max_ms"), 1);
		cell(num(r, "lost"), 0);
		cell(num(r, "reordered"), 0);
		cell(num(r, "duplicated"), 0);
		cell(num(r, "failed"), 0);
		cell(num(r, "generator_cpu_cores"), 2);
		printf("\n");
	}
}

/*
 * Cores each process group used in every run that measured them, of the
 * cores of the machine that ran them (results from before runs recorded
 * it say no number).
 */
static void
report_cpu(const cJSON *runs)
{
	const cJSON	*r;
	char		 path[64];
	double		 ncpu = -1;
	size_t		 i;

	cJSON_ArrayForEach(r, runs)
		if (ncpu < 0)
			ncpu = num(r, "processes.machine.cores");
	if (ncpu > 0)
		printf("\n### CPU during the measured phase (cores of %.0f)"
		    "\n\n", ncpu);
	else
		printf("\n### CPU during the measured phase (cores)\n\n");
	printf("| run |");
	for (i = 0; i < NGROUPS; i++)
		printf(" %s |", groups[i]);
	printf(" other processes | kernel threads | irq+softirq "
	    "| steal | unattributed | machine busy |\n|---|");
	for (i = 0; i < NGROUPS + 6; i++)
		printf("---|");
	printf("\n");
	cJSON_ArrayForEach(r, runs) {
		if (cJSON_GetObjectItemCaseSensitive(r, "processes") == NULL)
			continue;
		printf("| %s |", str(r, "label"));
		for (i = 0; i < NGROUPS; i++) {
			snprintf(path, sizeof(path), "processes.%s.cpu_cores",
			    groups[i]);
			cell(num(r, path), 2);
		}
		cell(num(r, "processes.machine.other_cores"), 2);
		cell(num(r, "processes.machine.kernel_thread_cores"), 2);
		cell(num(r, "processes.machine.irq_softirq_cores"), 2);
		cell(num(r, "processes.machine.steal_cores"), 2);
		cell(num(r, "processes.machine.unattributed_cores"), 2);
		cell(num(r, "processes.machine.busy_cores"), 2);
		printf("\n");
	}
}

/*
 * How many events each commit carried, per run and lane, over the measured
 * window (the daemon's admin socket: bench/batches.c).
 */
static void
report_batches(const cJSON *runs)
{
	const cJSON	*r, *lane, *h;
	int		 i, any = 0;

	cJSON_ArrayForEach(r, runs) {
		cJSON_ArrayForEach(lane, cJSON_GetObjectItemCaseSensitive(r,
		    "batches")) {
			if (num(lane, "batches") <= 0)
				continue;
			if (!any++) {
				printf("\n### Batches: events per commit, measured "
				    "window\n\n| run | lane | batches | events | "
				    "mean |");
				for (i = 0; batches_bucket(i) != NULL; i++)
					printf(" %s |", batches_bucket(i));
				printf(" failed |\n|---|---|---|---|---|");
				for (i = 0; batches_bucket(i) != NULL; i++)
					printf("---|");
				printf("---|\n");
			}
			printf("| %s | %s |", str(r, "label"), lane->string);
			cell(num(lane, "batches"), 0);
			cell(num(lane, "events"), 0);
			cell(num(lane, "mean_events"), 1);
			h = cJSON_GetObjectItemCaseSensitive(lane, "hist");
			for (i = 0; batches_bucket(i) != NULL; i++)
				cell(num(h, batches_bucket(i)), 0);
			cell(num(lane, "failed"), 0);
			printf("\n");
		}
	}
}

/*
 * CPU per delivered message: each process group's cores over the window
 * divided by the messages delivered per second, in microseconds.
 */
static void
report_cost(const cJSON *runs)
{
	const cJSON	*r;
	char		 path[64];
	double		 rate, cores;
	size_t		 i;
	int		 any = 0;

	cJSON_ArrayForEach(r, runs) {
		rate = num(r, "delivered_per_s");
		if (rate <= 0 || cJSON_GetObjectItemCaseSensitive(r,
		    "processes") == NULL)
			continue;
		if (!any++) {
			printf("\n### CPU per delivered message (µs)\n\n| run |");
			for (i = 0; i < NGROUPS; i++)
				printf(" %s |", groups[i]);
			printf(" all four of the service |\n|---|");
			for (i = 0; i < NGROUPS + 1; i++)
				printf("---|");
			printf("\n");
		}
		printf("| %s |", str(r, "label"));
		for (i = 0, cores = 0; i < NGROUPS; i++) {
			snprintf(path, sizeof(path), "processes.%s.cpu_cores",
			    groups[i]);
			cell(num(r, path) < 0 ? -1 : num(r, path) / rate * 1e6,
			    1);
			if (strcmp(groups[i], "generator") != 0 &&
			    num(r, path) > 0)
				cores += num(r, path);
		}
		cell(cores / rate * 1e6, 1);
		printf("\n");
	}
}

static void
report_db_login(const cJSON *runs)
{
	const cJSON	*r;

	printf("\n### Database ceiling (INSERT + delivered_at UPDATE, "
	    "each committed)\n\n");
	printf("| run | connections | messages/s | p50 ms | p99 ms "
	    "| max ms | errors |\n|---|---|---|---|---|---|---|\n");
	cJSON_ArrayForEach(r, runs) {
		if (strcmp(str(r, "workload"), "db") != 0)
			continue;
		printf("| %s |", str(r, "label"));
		cell(num(r, "connections"), 0);
		cell(num(r, "messages_per_s"), 0);
		cell(num(r, "latency.p50_ms"), 2);
		cell(num(r, "latency.p99_ms"), 2);
		cell(num(r, "latency.max_ms"), 1);
		cell(num(r, "errors"), 0);
		printf("\n");
	}
	printf("\n### Login\n\n");
	printf("| run | password-hash cost | concurrency | logins/s "
	    "| p50 ms | p99 ms | failed | fcgi_app cores |\n"
	    "|---|---|---|---|---|---|---|---|\n");
	cJSON_ArrayForEach(r, runs) {
		if (strcmp(str(r, "workload"), "login") != 0)
			continue;
		printf("| %s | %s |", str(r, "label"), str(r, "cost"));
		cell(num(r, "concurrency"), 0);
		cell(num(r, "logins_per_s"), 1);
		cell(num(r, "latency.p50_ms"), 1);
		cell(num(r, "latency.p99_ms"), 1);
		cell(num(r, "failed"), 0);
		cell(num(r, "processes.fcgi_app.cpu_cores"), 2);
		printf("\n");
	}
}

static void
report_idle(const cJSON *runs)
{
	const cJSON	*r;
	char		 path[64];
	size_t		 i;

	printf("\n### Idle connections\n\n");
	printf("| run | transport | wanted | held | stopped by |");
	for (i = 0; i < NGROUPS - 1; i++)
		printf(" %s KiB/conn |", groups[i]);
	printf(" push_daemon RSS after KiB | stack cores while idle |\n"
	    "|---|---|---|---|---|---|---|---|---|---|---|\n");
	cJSON_ArrayForEach(r, runs) {
		if (strcmp(str(r, "workload"), "idle") != 0)
			continue;
		printf("| %s | %s |", str(r, "label"), str(r, "transport"));
		cell(num(r, "conns_wanted"), 0);
		cell(num(r, "conns_held"), 0);
		printf(" %s |", str(r, "stopped_by"));
		for (i = 0; i < NGROUPS - 1; i++) {
			snprintf(path, sizeof(path),
			    "memory.%s.kib_per_conn", groups[i]);
			cell(num(r, path), 1);
		}
		cell(num(r, "memory.push_daemon.rss_kib_after"), 0);
		cell(num(r, "processes.push_daemon.cpu_cores") +
		    num(r, "processes.nginx.cpu_cores") +
		    num(r, "processes.fcgi_app.cpu_cores") +
		    num(r, "processes.mariadbd.cpu_cores"), 3);
		printf("\n");
	}
}

static void
report_warnings(const cJSON *res, const cJSON *runs)
{
	const cJSON	*r, *n;

	printf("\n");
	cJSON_ArrayForEach(r, runs)
		if (*str(r, "warning") != '\0')
			printf("- warning, %s: %s (%.2f cores)\n",
			    str(r, "label"), str(r, "warning"),
			    num(r, "generator_cpu_cores"));
	n = cJSON_GetObjectItemCaseSensitive(res, "notes");
	cJSON_ArrayForEach(r, n)
		if (cJSON_IsString(r))
			printf("- %s\n", r->valuestring);
}

int
report_run(const char *path)
{
	FILE	*fp;
	char	*buf;
	long	 len;
	cJSON	*res;
	const cJSON *runs;

	if ((fp = fopen(path, "r")) == NULL) {
		perror(path);
		return -1;
	}
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	if (len < 0 || (buf = malloc((size_t)len + 1)) == NULL) {
		fclose(fp);
		return -1;
	}
	len = (long)fread(buf, 1, (size_t)len, fp);
	fclose(fp);
	res = cJSON_ParseWithLength(buf, (size_t)len);
	free(buf);
	if (res == NULL) {
		fprintf(stderr, "%s: not JSON\n", path);
		return -1;
	}
	runs = cJSON_GetObjectItemCaseSensitive(res, "runs");
	printf("## Benchmark %s on %s\n", str(res, "date"), str(res, "host"));
	report_relay(runs);
	report_batches(runs);
	report_cost(runs);
	report_db_login(runs);
	report_idle(runs);
	report_cpu(runs);
	report_warnings(res, runs);
	cJSON_Delete(res);
	return 0;
}
