/*
 * history's query (sql/008-history-read.sql): one conversation, newest
 * first.  The messages each way are a range of messages_conversation
 * (sender_id, recipient_id, id) read backwards from "before"; each side is
 * cut to the page's length before the two are merged, so a page reads at
 * most twice its length of rows whatever the table holds.
 */
#include <string.h>

#include "db.h"

#define HISTORY_COLUMNS \
	"id, sender_id, recipient_id, created_at, body, delivered_at," \
	" acked_at, read_at"

static const char sql_history[] =
    "SELECT id, sender_id, recipient_id, created_at, body,"
    " delivered_at IS NOT NULL OR acked_at IS NOT NULL, read_at IS NOT NULL"
    " FROM ("
    "  (SELECT " HISTORY_COLUMNS " FROM messages"
    "   FORCE INDEX (messages_conversation)"
    "   WHERE sender_id = ? AND recipient_id = ? AND id < ?"
    "   ORDER BY id DESC LIMIT ?)"
    "  UNION ALL"
    "  (SELECT " HISTORY_COLUMNS " FROM messages"
    "   FORCE INDEX (messages_conversation)"
    "   WHERE sender_id = ? AND recipient_id = ? AND id < ?"
    "   ORDER BY id DESC LIMIT ?)"
    " ) AS conversation ORDER BY id DESC LIMIT ?";

/*
 * The at most limit messages between account and with below before (0:
 * from the newest), newest first, into h; their bodies into bodies, limit
 * slots of PACKET_MAX + 1 bytes.  *n says how many; 0 or -1.
 */
int
db_history(struct db *db, uint64_t account, uint64_t with, uint64_t before,
    int limit, struct history_item *h, char *bodies, int *n)
{
	MYSQL_BIND	 params[9], result[7];
	MYSQL_STMT	*st;
	MYSQL_TIME	 created;
	struct message	 m;
	char		 body[PACKET_MAX + 1];
	unsigned long	 blen = 0;
	uint64_t	 below = before != 0 ? before : UINT64_MAX;
	int		 delivered, read, rc;

	*n = 0;
	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	memset(&m, 0, sizeof(m));
	db_bind_u64(&params[0], &account);
	db_bind_u64(&params[1], &with);
	db_bind_u64(&params[2], &below);
	db_bind_int(&params[3], &limit);
	db_bind_u64(&params[4], &with);
	db_bind_u64(&params[5], &account);
	db_bind_u64(&params[6], &below);
	db_bind_int(&params[7], &limit);
	db_bind_int(&params[8], &limit);
	db_bind_u64(&result[0], &m.id);
	db_bind_u64(&result[1], &m.src);
	db_bind_u64(&result[2], &m.dst);
	db_bind_time(&result[3], &created);
	db_bind_buf(&result[4], body, sizeof(body) - 1, &blen);
	db_bind_int(&result[5], &delivered);
	db_bind_int(&result[6], &read);
	if ((st = db_exec(db, DB_HISTORY, sql_history, params, result)) ==
	    NULL)
		return -1;
	while ((rc = db_fetch(st)) == 1 && *n < limit) {
		h[*n].m = m;
		h[*n].m.body = bodies + (size_t)*n * (PACKET_MAX + 1);
		memcpy(bodies + (size_t)*n * (PACKET_MAX + 1), body, blen);
		bodies[(size_t)*n * (PACKET_MAX + 1) + blen] = '\0';
		db_time_format(&created, h[*n].m.time, sizeof(h[*n].m.time));
		h[*n].delivered = delivered;
		h[*n].read = read;
		(*n)++;
	}
	db_done(st);
	return rc == -1 ? -1 : 0;
}
