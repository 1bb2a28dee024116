/*
 * block: A (this connection) blocks B (dst), enforced by the server and
 * never revealed to B.  The gate has checked the login, the field types
 * and that src is A.  Details, first wins: no such user, cannot block
 * yourself, already blocked, too many blocked (blocked_max).
 *
 * Everything between them ends as if by the commands B could see: their
 * friendship as by remove_friend (both get its notice), A's request to B
 * as by cancel_friend (B gets its notice); B's request to A is deleted
 * without a word, as an unanswered one looks.  From then on B's requests
 * to A are stored unseen (add_friend) and B's messages fail "not friends".
 * Like remove_friend, the batch's earlier messages are stored first.
 */
#include "fcgi_app.h"

static enum cmd_retval	cmd_block_exec(struct cmd_ctx *);

static const struct cmd_field cmd_block_fields[] = {
	{ "dst", FIELD_ID, 0 },
	{ NULL, FIELD_STRING, 0 }
};

const struct cmd_entry cmd_block_entry = {
	.name = "block",
	.flags = CMD_LOGGED_IN | CMD_AFTER_SENDS,
	.self = "src",
	.fields = cmd_block_fields,
	.exec = cmd_block_exec,
};

/* Ends the friendship and the requests between a and b, as above. */
static int
cmd_block_sever(struct cmd_ctx *ctx, uint64_t a, uint64_t b)
{
	struct db	*db = ctx->app->db;
	int		 status, rc;

	if ((rc = db_friendship_get(db, a, b, &status)) == -1 ||
	    (rc == 1 && friend_end(db, ctx->reply, a, b) == -1))
		return -1;
	if ((rc = db_request_get(db, a, b, &status)) == -1 ||
	    (rc == 1 && (db_request_delete(db, a, b) == -1 ||
	    friend_notice(ctx->reply, "cancel_friend", a, b, &b, 1) == -1)))
		return -1;
	if ((rc = db_request_get(db, b, a, &status)) == -1 ||
	    (rc == 1 && db_request_delete(db, b, a) == -1))
		return -1;
	return 0;
}

static enum cmd_retval
cmd_block_tx(struct cmd_ctx *ctx)
{
	struct db	*db = ctx->app->db;
	uint64_t	 a = ctx->session->account, b;
	int		 found_b, count, rc;

	(void)packet_get_id(ctx->packet, "dst", &b);
	if ((rc = friend_lock(db, a, b, &found_b, NULL)) != 1)
		return CMD_ERROR;
	if (!found_b)
		return cmd_fail(ctx, "no such user");
	if ((rc = db_block_get(db, a, b)) == -1)
		return CMD_ERROR;
	if (rc == 1)
		return cmd_fail(ctx, "already blocked");
	if (db_blocks_count(db, a, &count) == -1)
		return CMD_ERROR;
	if (count >= ctx->app->cf->blocked_max)
		return cmd_fail(ctx, "too many blocked");
	/* The answer first: the notices follow it on A's connection. */
	if (cmd_success(ctx) != CMD_OK || cmd_block_sever(ctx, a, b) == -1 ||
	    db_block_put(db, a, b) == -1)
		return CMD_ERROR;
	return CMD_OK;
}

static enum cmd_retval
cmd_block_exec(struct cmd_ctx *ctx)
{
	uint64_t	dst;

	if (packet_get_id(ctx->packet, "dst", &dst) != PACKET_ID_OK)
		return cmd_fail(ctx, "no such user");
	/* A exists (it is logged in), so this is after "no such user". */
	if (dst == ctx->session->account)
		return cmd_fail(ctx, "cannot block yourself");
	return cmd_transaction(ctx, cmd_block_tx);
}
