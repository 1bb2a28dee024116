/*
 * unblock: A (this connection) lifts its block of B (dst).  The gate has
 * checked the login, the field types and that src is A.  One detail of its
 * own, "not blocked" (also for a dst that is no account).  Nothing comes
 * back of what the block ended: no friendship, and the requests B sent
 * while blocked, which A never saw, are deleted rather than shown now.
 */
#include "fcgi_app.h"

static enum cmd_retval	cmd_unblock_exec(struct cmd_ctx *);

static const struct cmd_field cmd_unblock_fields[] = {
	{ "dst", FIELD_ID, 0 },
	{ NULL, FIELD_STRING, 0 }
};

const struct cmd_entry cmd_unblock_entry = {
	.name = "unblock",
	.flags = CMD_LOGGED_IN,
	.self = "src",
	.fields = cmd_unblock_fields,
	.exec = cmd_unblock_exec,
};

static enum cmd_retval
cmd_unblock_tx(struct cmd_ctx *ctx)
{
	struct db	*db = ctx->app->db;
	uint64_t	 a = ctx->session->account, b;
	int		 found_b, status, rc;

	(void)packet_get_id(ctx->packet, "dst", &b);
	if ((rc = friend_lock(db, a, b, &found_b, NULL)) != 1)
		return CMD_ERROR;
	if (!found_b || (rc = db_block_delete(db, a, b)) == 0)
		return cmd_fail(ctx, "not blocked");
	if (rc == -1 || (rc = db_request_get(db, b, a, &status)) == -1 ||
	    (rc == 1 && db_request_delete(db, b, a) == -1))
		return CMD_ERROR;
	return cmd_success(ctx);
}

static enum cmd_retval
cmd_unblock_exec(struct cmd_ctx *ctx)
{
	uint64_t	dst;

	if (packet_get_id(ctx->packet, "dst", &dst) != PACKET_ID_OK ||
	    dst == ctx->session->account)
		return cmd_fail(ctx, "not blocked");
	return cmd_transaction(ctx, cmd_unblock_tx);
}
