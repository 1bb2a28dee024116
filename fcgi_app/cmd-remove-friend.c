/*
 * remove_friend: A (this connection) ends its friendship with B (dst).
 * The gate has checked the login, the field types and that src is A.  One
 * detail of its own, "not friends" (also for a dst that is no account).
 * Both directions go at once, and both accounts' connections get the
 * remove_friend notice; an offline B sees it in its next list_friend, as
 * nothing is queued for it.  Messages the batch accepted before this are
 * stored first (CMD_AFTER_SENDS), so they are still delivered; a message
 * after it fails "not friends".
 */
#include "fcgi_app.h"

static enum cmd_retval	cmd_remove_friend_exec(struct cmd_ctx *);

static const struct cmd_field cmd_remove_friend_fields[] = {
	{ "dst", FIELD_ID, 0 },
	{ NULL, FIELD_STRING, 0 }
};

const struct cmd_entry cmd_remove_friend_entry = {
	.name = "remove_friend",
	.flags = CMD_LOGGED_IN | CMD_AFTER_SENDS,
	.self = "src",
	.fields = cmd_remove_friend_fields,
	.exec = cmd_remove_friend_exec,
};

static enum cmd_retval
cmd_remove_friend_tx(struct cmd_ctx *ctx)
{
	struct db	*db = ctx->app->db;
	uint64_t	 a = ctx->session->account, b;
	int		 found_b, status, rc;

	(void)packet_get_id(ctx->packet, "dst", &b);
	if ((rc = friend_lock(db, a, b, &found_b, NULL)) != 1)
		return CMD_ERROR;
	if (!found_b)
		return cmd_fail(ctx, "not friends");
	if ((rc = db_friendship_get(db, a, b, &status)) == -1)
		return CMD_ERROR;
	if (rc == 0)
		return cmd_fail(ctx, "not friends");
	if (cmd_success(ctx) != CMD_OK || friend_end(db, ctx->reply, a, b) == -1)
		return CMD_ERROR;
	return CMD_OK;
}

static enum cmd_retval
cmd_remove_friend_exec(struct cmd_ctx *ctx)
{
	uint64_t	dst;

	if (packet_get_id(ctx->packet, "dst", &dst) != PACKET_ID_OK ||
	    dst == ctx->session->account)
		return cmd_fail(ctx, "not friends");
	return cmd_transaction(ctx, cmd_remove_friend_tx);
}
