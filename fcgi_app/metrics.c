/*
 * GET /metrics: the Prometheus text format (version 0.0.4), for a scraper
 * on the host (nginx serves it to loopback only).  Three sources:
 *
 *	the push daemon	its admin socket's "metrics" samples (connections,
 *			packets, its own fails, lanes, batches), to which
 *			daemon_families adds # HELP and # TYPE;
 *	the database	message counts (db-metrics.c);
 *	stats.c		what the master and all workers count together
 *			(worker restarts, database latency).
 *
 * chat_push_daemon_up and chat_database_up say whether a source answered,
 * so that a missing series is never the only sign of an outage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_app.h"
#include "log.h"

#define METRICS_DAEMON_MAX	(256 * 1024)	/* its answer's bytes */

struct metrics_family {
	const char	*name;
	const char	*type;
	const char	*help;
};

static const struct metrics_family daemon_families[] = {
	{ "chat_connections", "gauge",
	    "Client connections open on this node, per transport." },
	{ "chat_connections_opened_total", "counter",
	    "Client connections accepted since the daemon started." },
	{ "chat_packets_received_total", "counter",
	    "Packets received from clients, per transport." },
	{ "chat_packets_sent_total", "counter",
	    "Packets written to clients, per transport." },
	{ "chat_daemon_fails_total", "counter",
	    "Fails the daemon answered without a worker, per detail." },
	{ "chat_accounts_online", "gauge",
	    "Accounts logged in on this node." },
	{ "chat_upstream_waiting", "gauge",
	    "Events waiting in a lane for a free worker connection." },
	{ "chat_upstream_in_flight", "gauge",
	    "Events in batches sent to the workers, not yet answered." },
	{ "chat_pool_connections", "gauge",
	    "The daemon's kept connections to its workers, per state." },
	{ "chat_pool_connections_lost_total", "counter",
	    "Kept worker connections that failed (a worker died or hung)." },
	{ "chat_batches_failed_total", "counter",
	    "Batches the workers did not answer; their clients got "
	    "server error." },
	{ "chat_batch_size", "histogram",
	    "Events per batch, one commit each." },
	{ NULL, NULL, NULL },
};

/* The family a sample line belongs to, histogram suffixes dropped. */
static const struct metrics_family *
metrics_family(const char *line, size_t namelen)
{
	const struct metrics_family	*f;
	static const char *const	 suffixes[] = {
		"_bucket", "_sum", "_count", NULL
	};
	size_t				 n, i;

	for (f = daemon_families; f->name != NULL; f++) {
		n = strlen(f->name);
		if (n > namelen || strncmp(line, f->name, n) != 0)
			continue;
		if (n == namelen)
			return f;
		if (strcmp(f->type, "histogram") != 0)
			continue;
		for (i = 0; suffixes[i] != NULL; i++)
			if (namelen - n == strlen(suffixes[i]) &&
			    strncmp(line + n, suffixes[i], namelen - n) == 0)
				return f;
	}
	return NULL;
}

/*
 * Copies the daemon's samples, each family after its HELP and TYPE.  A
 * line of a family this worker does not know (a newer daemon) is left
 * out rather than served without a type.
 */
static void
metrics_daemon(FILE *fp, char *answer)
{
	const struct metrics_family	*f, *last = NULL;
	char				*line, *next;
	size_t				 namelen;

	for (line = answer; *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) == NULL)
			break;
		*next++ = '\0';
		if (strncmp(line, "ok", 2) == 0)
			break;
		namelen = strcspn(line, "{ ");
		if ((f = metrics_family(line, namelen)) == NULL) {
			log_debug("%s: unknown sample %.64s", __func__, line);
			continue;
		}
		if (f != last)
			fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", f->name,
			    f->help, f->name, f->type);
		last = f;
		fprintf(fp, "%s\n", line);
	}
}

static void
metrics_up(FILE *fp, const char *name, const char *help, int up)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help,
	    name, name, up);
}

static void
metrics_messages(FILE *fp, uint64_t stored, uint64_t waiting)
{
	fprintf(fp, "# HELP chat_messages_stored Messages in the database.\n"
	    "# TYPE chat_messages_stored gauge\n"
	    "chat_messages_stored %" PRIu64 "\n"
	    "# HELP chat_messages_delivered Stored messages written to a "
	    "connection of their recipient.\n"
	    "# TYPE chat_messages_delivered gauge\n"
	    "chat_messages_delivered %" PRIu64 "\n"
	    "# HELP chat_messages_waiting Stored messages not yet delivered.\n"
	    "# TYPE chat_messages_waiting gauge\n"
	    "chat_messages_waiting %" PRIu64 "\n", stored, stored - waiting,
	    waiting);
}

/* The whole body (malloc'd, *len bytes), or NULL when out of memory. */
char *
metrics_render(struct app *app, size_t *len)
{
	const char	*errstr;
	char		*answer, *body = NULL;
	uint64_t	 stored = 0, waiting = 0;
	FILE		*fp;
	int		 db_up, rc;

	if ((fp = open_memstream(&body, len)) == NULL)
		return NULL;
	answer = daemon_ask(app->cf, "metrics", METRICS_DAEMON_MAX, &errstr);
	if (answer == NULL)
		log_warnx("metrics: push daemon: %s", errstr);
	metrics_up(fp, "chat_push_daemon_up",
	    "Whether the push daemon answered on its admin socket.",
	    answer != NULL);
	if (answer != NULL)
		metrics_daemon(fp, answer);
	free(answer);

	db_up = db_message_counts(app->db, &stored, &waiting) == 0;
	metrics_up(fp, "chat_database_up",
	    "Whether the database answered the message counts.", db_up);
	if (db_up)
		metrics_messages(fp, stored, waiting);
	rc = stats_print(app->stats, fp);
	if (fclose(fp) == EOF || rc == -1) {
		free(body);
		return NULL;
	}
	return body;
}
