/*
 * cancel_friend: A (this connection) withdraws its request to B (dst)
 * before B answers.  The gate has checked the login, the field types and
 * that src is A.  One detail of its own, "no pending request".  The
 * request is deleted, so B's later add_friend_confirm fails and B's next
 * login no longer gets it; B's connections get the cancel_friend notice.
 *
 * When B blocks A, A's request is kept but never shown to B (add_friend):
 * its withdrawal answers success as any other and tells B nothing, so that
 * A cannot learn of the block.
 */
#include "fcgi_app.h"

static enum cmd_retval	cmd_cancel_friend_exec(struct cmd_ctx *);

static const struct cmd_field cmd_cancel_friend_fields[] = {
	{ "dst", FIELD_ID, 0 },
	{ NULL, FIELD_STRING, 0 }
};

const struct cmd_entry cmd_cancel_friend_entry = {
	.name = "cancel_friend",
	.flags = CMD_LOGGED_IN,
	.self = "src",
	.fields = cmd_cancel_friend_fields,
	.exec = cmd_cancel_friend_exec,
};

static enum cmd_retval
cmd_cancel_friend_tx(struct cmd_ctx *ctx)
{
	struct db	*db = ctx->app->db;
	uint64_t	 a = ctx->session->account, b;
	int		 found_b, status, blocked, rc;

	(void)packet_get_id(ctx->packet, "dst", &b);
	if ((rc = friend_lock(db, a, b, &found_b, NULL)) != 1)
		return CMD_ERROR;
	if (!found_b)
		return cmd_fail(ctx, "no pending request");
	if ((rc = db_request_get(db, a, b, &status)) == -1)
		return CMD_ERROR;
	if (rc == 0)
		return cmd_fail(ctx, "no pending request");
	if ((blocked = db_block_get(db, b, a)) == -1 ||
	    db_request_delete(db, a, b) == -1 || cmd_success(ctx) != CMD_OK)
		return CMD_ERROR;
	if (!blocked &&
	    friend_notice(ctx->reply, "cancel_friend", a, b, &b, 1) == -1)
		return CMD_ERROR;
	return CMD_OK;
}

static enum cmd_retval
cmd_cancel_friend_exec(struct cmd_ctx *ctx)
{
	uint64_t	dst;

	if (packet_get_id(ctx->packet, "dst", &dst) != PACKET_ID_OK ||
	    dst == ctx->session->account)
		return cmd_fail(ctx, "no pending request");
	return cmd_transaction(ctx, cmd_cancel_friend_tx);
}
