/*
 * The database's part of /metrics (metrics.c): how many messages are
 * stored and how many wait for delivery, exact.  Both come from one scan
 * of messages_undelivered, the narrowest index holding delivered_at (three
 * ids and a time per row: at a million messages some 40 MB, read from the
 * buffer pool in about a tenth of a second), rather than from the table's
 * rows.  The InnoDB estimate (SHOW TABLE STATUS) would be free but can be
 * off by half, and a count that moves both ways for no reason makes a
 * useless graph.
 */
#include <string.h>

#include "db.h"

static const char sql_message_counts[] =
    "SELECT COUNT(*), COUNT(*) - COUNT(delivered_at)"
    " FROM messages FORCE INDEX (messages_undelivered)";

int
db_message_counts(struct db *db, uint64_t *stored, uint64_t *waiting)
{
	MYSQL_BIND	result[2];

	memset(result, 0, sizeof(result));
	db_bind_u64(&result[0], stored);
	db_bind_u64(&result[1], waiting);
	return db_row(db, DB_MESSAGE_COUNTS, sql_message_counts, NULL,
	    result) == 1 ? 0 : -1;
}
