/*
 * message_retention_days: the service deletes delivered messages older than
 * that by itself, so that a host needs no cron job to keep its database
 * from growing forever.  The master forks a child for each purge (main.c):
 * a purge of many rows takes seconds, and the master must stay free to
 * restart workers meanwhile.  It deletes what `chatctl purge` would, with
 * the same statement (db-purge.c): a message still waiting for its
 * recipient stays, however old.
 */
#include <inttypes.h>
#include <time.h>

#include "fcgi_app.h"
#include "log.h"

/* Rows per DELETE: each its own short transaction, as in chatctl purge. */
#define RETENTION_BATCH	10000

/* The UTC time days before now, as db_messages_purge() takes it. */
void
retention_cutoff(time_t now, int days, int before[6])
{
	struct tm	tm;
	time_t		t = now - (time_t)days * 86400;

	gmtime_r(&t, &tm);
	before[0] = tm.tm_year + 1900;
	before[1] = tm.tm_mon + 1;
	before[2] = tm.tm_mday;
	before[3] = tm.tm_hour;
	before[4] = tm.tm_min;
	before[5] = tm.tm_sec;
}

/* One purge, to the end; 0 or -1 (logged).  The database may be down. */
int
retention_purge(const struct config *cf, time_t now)
{
	struct db	*db;
	uint64_t	 n, total = 0;
	int		 before[6], rc = 0;

	retention_cutoff(now, cf->message_retention_days, before);
	if ((db = db_open(cf)) == NULL) {
		log_warnx("retention: out of memory");
		return -1;
	}
	do {
		if (db_messages_purge(db, before, RETENTION_BATCH, &n) == -1) {
			log_warnx("retention: purge failed after %" PRIu64
			    " deleted", total);
			rc = -1;
			break;
		}
		total += n;
	} while (n == RETENTION_BATCH);
	if (rc == 0)
		log_info("retention: %" PRIu64 " message%s delivered before "
		    "%04d-%02d-%02d %02d:%02d:%02d UTC deleted (%d days kept)",
		    total, total == 1 ? "" : "s", before[0], before[1],
		    before[2], before[3], before[4], before[5],
		    cf->message_retention_days);
	db_close(db);
	return rc;
}
