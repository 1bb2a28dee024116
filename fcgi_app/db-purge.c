/*
 * Deleting delivered messages, shared by `chatctl purge` and the service's
 * own message_retention_days (retention.c), so that the two can never
 * disagree on what "delivered" means.
 */
#include <string.h>

#include "db.h"

/*
 * delivered_at < X is never true of a message still waiting (NULL), so
 * nothing a recipient has not had goes.  There is no index on delivered_at
 * (every delivery would pay for it); the scan runs in id order, where the
 * old rows are, and a LIMIT keeps each transaction and its locks short.
 */
static const char sql_purge[] =
    "DELETE FROM messages WHERE delivered_at < ? ORDER BY id LIMIT ?";

/*
 * Deletes at most limit messages delivered before the UTC time before
 * (year, month, day, hour, minute, second); *deleted says how many went.
 */
int
db_messages_purge(struct db *db, const int before[6], int limit,
    uint64_t *deleted)
{
	MYSQL_BIND	 params[2];
	MYSQL_STMT	*st;
	MYSQL_TIME	 t;

	memset(params, 0, sizeof(params));
	memset(&t, 0, sizeof(t));
	t.year = (unsigned int)before[0];
	t.month = (unsigned int)before[1];
	t.day = (unsigned int)before[2];
	t.hour = (unsigned int)before[3];
	t.minute = (unsigned int)before[4];
	t.second = (unsigned int)before[5];
	t.time_type = MYSQL_TIMESTAMP_DATETIME;
	db_bind_time(&params[0], &t);
	db_bind_int(&params[1], &limit);
	if ((st = db_exec(db, DB_PURGE, sql_purge, params, NULL)) == NULL)
		return -1;
	*deleted = mysql_stmt_affected_rows(st);
	db_done(st);
	return 0;
}
