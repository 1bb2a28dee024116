/*
 * add_friend_confirm: B (this connection, "dst") answers A's ("src")
 * request.  The gate has checked the login, the field types and that dst
 * is B.  Details, first wins: no pending request, already friends, bad
 * status.
 *
 * A "message" of "reject" drops the request; anything else confirms it
 * with "status" as B's view of A.  Either way the result is stored for A
 * and sent, tracked, to every connection of A (or at A's next login), and
 * a success goes to every connection of B, this one included: the answer
 * is that account send, not a second copy to this connection.
 *
 * A reject is not refused with "already friends": it only drops a request,
 * and a request that somehow outlived a friendship could otherwise never
 * be got rid of.
 */
#include <string.h>

#include "fcgi_app.h"

static enum cmd_retval	cmd_add_friend_confirm_exec(struct cmd_ctx *);

static const struct cmd_field cmd_add_friend_confirm_fields[] = {
	{ "src", FIELD_ID, 0 },
	{ "status", FIELD_STRING, FIELD_OPTIONAL },
	{ "message", FIELD_STRING, FIELD_OPTIONAL },
	{ NULL, FIELD_STRING, 0 }
};

const struct cmd_entry cmd_add_friend_confirm_entry = {
	.name = "add_friend_confirm",
	.flags = CMD_LOGGED_IN,
	.self = "dst",
	.fields = cmd_add_friend_confirm_fields,
	.exec = cmd_add_friend_confirm_exec,
};

static int
cmd_add_friend_confirm_is_reject(const cJSON *packet)
{
	const char	*message;

	message = packet_get_str(packet, "message");
	return message != NULL && strcmp(message, "reject") == 0;
}

static enum cmd_retval
cmd_add_friend_confirm_reject(struct cmd_ctx *ctx,
    const struct friend_request *q)
{
	struct friend_result	res = { 0, q->from, q->to, 0 };

	if (db_request_delete(ctx->app->db, q->from, q->to) == -1 ||
	    db_result_add(ctx->app->db, q->from, &res, &res.id) == -1 ||
	    friend_notify(ctx->reply, &res, q->to) == -1)
		return CMD_ERROR;
	return CMD_OK;
}

/* Inside the transaction; q.status is A's view, from its request. */
static enum cmd_retval
cmd_add_friend_confirm_tx(struct cmd_ctx *ctx)
{
	struct db		*db = ctx->app->db;
	struct friend_request	 q = { .status = 0 };
	struct friend_result	 res = { 0, 0, 0, 1 };
	int			 found_a, status, blocked, rc;

	q.to = ctx->session->account;
	(void)packet_get_id(ctx->packet, "src", &q.from);
	if ((rc = friend_lock(db, q.to, q.from, &found_a, NULL)) != 1)
		return CMD_ERROR;	/* -1, or a logged-in account gone */
	rc = found_a ? db_request_get(db, q.from, q.to, &q.status) : 0;
	/* A request from an account B blocks was never shown to B. */
	if (rc == 1 && (blocked = db_block_get(db, q.to, q.from)) != 0)
		rc = blocked == 1 ? 0 : -1;
	if (rc == -1)
		return CMD_ERROR;
	if (rc == 0)
		return cmd_fail(ctx, "no pending request");
	if (cmd_add_friend_confirm_is_reject(ctx->packet))
		return cmd_add_friend_confirm_reject(ctx, &q);
	if ((rc = db_friendship_get(db, q.to, q.from, &status)) == -1)
		return CMD_ERROR;
	if (rc == 1)
		return cmd_fail(ctx, "already friends");
	if (friend_status_parse(packet_get_str(ctx->packet, "status"),
	    &status) == -1)
		return cmd_fail(ctx, "bad status");
	res.src = q.from;
	res.dst = q.to;
	if (friend_make(db, &q, status, &res.id) == -1 ||
	    friend_notify(ctx->reply, &res, q.to) == -1)
		return CMD_ERROR;
	return CMD_OK;
}

static enum cmd_retval
cmd_add_friend_confirm_exec(struct cmd_ctx *ctx)
{
	uint64_t	src;

	/* An id naming nobody, or B itself, cannot have asked B. */
	if (packet_get_id(ctx->packet, "src", &src) != PACKET_ID_OK ||
	    src == ctx->session->account)
		return cmd_fail(ctx, "no pending request");
	return cmd_transaction(ctx, cmd_add_friend_confirm_tx);
}
