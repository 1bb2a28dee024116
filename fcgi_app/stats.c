/*
 * Counts the workers share with the master: one page mapped MAP_SHARED
 * before the first fork, so that every worker adds to the same counters
 * and a scrape of /metrics, whichever /api/ worker takes it, sees them
 * all.  A per-process count would seem to reset at each scrape that
 * lands on another worker, which Prometheus takes for a restart.
 *
 * The master counts the workers it replaced; every worker times its own
 * database statements and commits (db_set_timer()).  Relaxed atomics: no
 * count orders anything else, and a scrape may see one a moment late.
 */
#include <sys/mman.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>

#include "fcgi_app.h"
#include "log.h"

/* Upper bounds in seconds; the last bucket is +Inf. */
static const double stats_db_le[STATS_DB_BUCKETS - 1] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
	2.5, 5,
};

static const char *const stats_db_kinds[STATS_DB_KINDS] = {
	"statement", "commit",
};

static const char *const stats_role_names[STATS_ROLES] = {
	"main", "login", "api",
};

struct stats {
	_Atomic uint64_t	restarts[STATS_ROLES];
	_Atomic uint64_t	db_buckets[STATS_DB_KINDS][STATS_DB_BUCKETS];
	_Atomic uint64_t	db_sum_ns[STATS_DB_KINDS];
};

/* In the master, before any fork; NULL if the page cannot be had. */
struct stats *
stats_new(void)
{
	struct stats	*st;

	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED) {
		log_warn("%s: mmap", __func__);
		return NULL;
	}
	return st;
}

void
stats_free(struct stats *st)
{
	if (st != NULL)
		munmap(st, sizeof(*st));
}

/* The master replaced a worker of role. */
void
stats_restart(struct stats *st, enum stats_role role)
{
	if (st != NULL)
		atomic_fetch_add_explicit(&st->restarts[role], 1,
		    memory_order_relaxed);
}

/* db.c's timer (db_set_timer()): one statement or commit took secs. */
void
stats_db_time(void *arg, int kind, double secs)
{
	struct stats	*st = arg;
	int		 i;

	if (st == NULL || kind < 0 || kind >= STATS_DB_KINDS)
		return;
	for (i = 0; i < STATS_DB_BUCKETS - 1 && secs > stats_db_le[i]; i++)
		;
	atomic_fetch_add_explicit(&st->db_buckets[kind][i], 1,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&st->db_sum_ns[kind],
	    (uint64_t)(secs * 1e9), memory_order_relaxed);
}

/*
 * Writes the shared counts in the Prometheus text format; -1 when out
 * of memory (fp is a memstream).
 */
int
stats_print(const struct stats *st, FILE *fp)
{
	uint64_t	cum;
	int		k, i;

	if (st == NULL)
		return 0;
	fprintf(fp, "# HELP chat_worker_restarts_total Workers the master "
	    "replaced after one died, per socket they serve.\n"
	    "# TYPE chat_worker_restarts_total counter\n");
	for (i = 0; i < STATS_ROLES; i++)
		fprintf(fp, "chat_worker_restarts_total{role=\"%s\"} %" PRIu64
		    "\n", stats_role_names[i], atomic_load_explicit(
		    &st->restarts[i], memory_order_relaxed));
	fprintf(fp, "# HELP chat_db_query_duration_seconds Time of the "
	    "workers' database statements and commits.\n"
	    "# TYPE chat_db_query_duration_seconds histogram\n");
	for (k = 0; k < STATS_DB_KINDS; k++) {
		cum = 0;
		for (i = 0; i < STATS_DB_BUCKETS; i++) {
			cum += atomic_load_explicit(&st->db_buckets[k][i],
			    memory_order_relaxed);
			if (i < STATS_DB_BUCKETS - 1)
				fprintf(fp, "chat_db_query_duration_seconds_bucket"
				    "{kind=\"%s\",le=\"%g\"} %" PRIu64 "\n",
				    stats_db_kinds[k], stats_db_le[i], cum);
			else
				fprintf(fp, "chat_db_query_duration_seconds_bucket"
				    "{kind=\"%s\",le=\"+Inf\"} %" PRIu64 "\n",
				    stats_db_kinds[k], cum);
		}
		/* The count is the +Inf bucket's, so the two always agree. */
		fprintf(fp, "chat_db_query_duration_seconds_sum{kind=\"%s\"} "
		    "%.9f\n", stats_db_kinds[k], (double)atomic_load_explicit(
		    &st->db_sum_ns[k], memory_order_relaxed) / 1e9);
		fprintf(fp, "chat_db_query_duration_seconds_count{kind=\"%s\"} "
		    "%" PRIu64 "\n", stats_db_kinds[k], cum);
	}
	return ferror(fp) ? -1 : 0;
}
