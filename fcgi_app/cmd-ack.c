/*
 * ack: a connection confirms that it has messages (PROTOCOL.md, ack).  It
 * is never answered: the gate drops it silently before login or when
 * malformed (CMD_SILENT), and an entry of msg_ids that is not an id, or
 * names a message that is not to this account or already acked, changes
 * nothing (marks.c).  Each id is its own UPDATE, which may safely be
 * retried, and a packet holds at most some hundreds of ids.  Each sender
 * whose messages it acked gets a receipt, "delivered".
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
	return marks_apply(ctx, db_message_ack, "delivered");
}
