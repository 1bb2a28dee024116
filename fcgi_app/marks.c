/*
 * What ack and read share: a list of msg_ids from the recipient, each
 * marked on its own (db_message_ack, db_message_read), and one receipt per
 * sender for the ids whose mark changed something.  Entries that are not
 * ids, name a message to another account, or were marked already are
 * skipped, so a repeated ack or read tells nobody anything twice.
 */
#include <stdlib.h>

#include "fcgi_app.h"

struct marked {
	uint64_t	src;
	uint64_t	id;
};

/* Receipts for the n marks in m, one run per sender, in the ids' order. */
static int
marks_receipts(struct reply *r, uint64_t recipient, struct marked *m,
    size_t n, const char *status)
{
	uint64_t	*ids;
	size_t		 i, j, k;
	int		 rc = 0;

	if (n == 0)
		return 0;
	if ((ids = calloc(n, sizeof(*ids))) == NULL)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		if (m[i].src == 0)
			continue;
		for (k = 0, j = i; j < n; j++)
			if (m[j].src == m[i].src) {
				ids[k++] = m[j].id;
				if (j > i)
					m[j].src = 0;
			}
		rc = receipt_send(r, m[i].src, recipient, ids, k, status);
	}
	free(ids);
	return rc;
}

/*
 * Marks the messages of ids (a JSON array, or anything else: nothing) to
 * account with mark; CMD_ERROR if the database failed.
 */
enum cmd_retval
marks_apply(struct cmd_ctx *ctx, int (*mark)(struct db *, uint64_t,
    uint64_t, uint64_t *), const char *status)
{
	const cJSON	*ids, *item;
	struct marked	*m;
	uint64_t	 id, src;
	size_t		 n = 0;
	int		 rc = 0;

	ids = cJSON_GetObjectItemCaseSensitive(ctx->packet, "msg_ids");
	if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) == 0)
		return CMD_OK;
	if ((m = calloc((size_t)cJSON_GetArraySize(ids), sizeof(*m))) == NULL)
		return CMD_ERROR;
	cJSON_ArrayForEach(item, ids) {
		if (packet_item_id(item, &id) != PACKET_ID_OK)
			continue;
		if ((rc = mark(ctx->app->db, ctx->session->account, id,
		    &src)) == -1)
			break;
		if (rc == 1) {
			m[n].src = src;
			m[n].id = id;
			n++;
		}
	}
	if (rc != -1)
		(void)marks_receipts(ctx->reply, ctx->session->account, m, n,
		    status);
	free(m);
	return rc == -1 ? CMD_ERROR : CMD_OK;
}
