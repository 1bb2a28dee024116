/*
 * read: the recipient's client has shown messages to its person
 * (PROTOCOL.md section 7, read).  Never answered, like ack: dropped
 * silently before login or when malformed.  Marks those of msg_ids that
 * were sent to this account read, and delivered and acked with it; unknown,
 * foreign or already read ids change nothing (marks.c).  Each sender whose
 * messages it marked gets a receipt, "read".
 */
#include "fcgi_app.h"

static enum cmd_retval	cmd_read_exec(struct cmd_ctx *);

const struct cmd_entry cmd_read_entry = {
	.name = "read",
	.flags = CMD_LOGGED_IN | CMD_SILENT,
	.self = NULL,
	.fields = NULL,		/* msg_ids is read in marks.c: an array */
	.exec = cmd_read_exec,
};

static enum cmd_retval
cmd_read_exec(struct cmd_ctx *ctx)
{
	return marks_apply(ctx, db_message_read, "read");
}
