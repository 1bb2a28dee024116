/*
 * ack: a connection confirms that it has messages (PROTOCOL.md, ack).  It
 * is never answered: the gate drops it silently before login or when
 * malformed (CMD_SILENT), and here an entry of msg_ids that is not an id,
 * or names a message that is not to this account or already acked,
 * changes nothing.  Each id is its own autocommitted UPDATE, which may
 * safely be retried, and a packet holds at most some hundreds of ids.
 */
#include "fcgi_app.h"

static enum cmd_retval	cmd_ack_exec(struct cmd_ctx *);

const struct cmd_entry cmd_ack_entry = {
	.name = "ack",
	.flags = CMD_LOGGED_IN | CMD_SILENT,
	.self = NULL,
	.fields = NULL,		/* msg_ids is read here: an array */
	.exec = cmd_ack_exec,
};

static enum cmd_retval
cmd_ack_exec(struct cmd_ctx *ctx)
{
	const cJSON	*ids, *item;
	uint64_t	 id;

	ids = cJSON_GetObjectItemCaseSensitive(ctx->packet, "msg_ids");
	if (!cJSON_IsArray(ids))
		return CMD_OK;
	cJSON_ArrayForEach(item, ids) {
		if (packet_item_id(item, &id) != PACKET_ID_OK)
			continue;
		if (db_message_ack(ctx->app->db, ctx->session->account,
		    id) == -1)
			return CMD_ERROR;
	}
	return CMD_OK;
}
