/*
 * add_friend: A (this connection) asks B (dst).  The gate has checked the
 * login, the field types and that src is A.  Details, first wins: no such
 * user, cannot add yourself, blocked (A blocks B: A unblocks first),
 * already friends, bad status, too many pending requests, and "rate
 * limited" past friend_requests_per_minute or
 * friend_requests_per_day (asking the same account again counts too: a
 * repeat is delivered again, so it is as much spam as a new one).
 *
 * The request is stored and forwarded to every connection of B, which gets
 * it again at each login until it answers.  If B has already asked A, the
 * two become friends at once, as if A had confirmed B's request.  All of it
 * is one transaction with both users rows locked (friend_lock), so two
 * crossing requests are seen one after the other and cannot both stay
 * pending.
 *
 * When B blocks A, A is told success as for any request and the request is
 * stored, but B never sees it: not now, not at login (db_requests_to), and
 * A's cancel_friend of it answers as for any other.  Nothing tells A.
 */
#include "fcgi_app.h"

static enum cmd_retval	cmd_add_friend_exec(struct cmd_ctx *);

static const struct cmd_field cmd_add_friend_fields[] = {
	{ "dst", FIELD_ID, 0 },
	{ "status", FIELD_STRING, 0 },
	{ NULL, FIELD_STRING, 0 }
};

const struct cmd_entry cmd_add_friend_entry = {
	.name = "add_friend",
	.flags = CMD_LOGGED_IN,
	.self = "src",
	.fields = cmd_add_friend_fields,
	.exec = cmd_add_friend_exec,
};

/*
 * B had asked A: confirm B's request with A's status as B's view.  The
 * result is stored for B, the original asker.
 */
static enum cmd_retval
cmd_add_friend_mutual(struct cmd_ctx *ctx, const struct friend_request *a,
    int b_status)
{
	struct friend_request	q = { .from = a->to, .to = a->from,
				    .status = b_status };
	struct friend_result	res = { 0, a->to, a->from, 1 };

	if (friend_make(ctx->app->db, &q, a->status, &res.id) == -1)
		return CMD_ERROR;
	if (cmd_success(ctx) != CMD_OK)
		return CMD_ERROR;
	if (friend_notify(ctx->reply, &res, a->from) == -1)
		return CMD_ERROR;
	return CMD_OK;
}

/*
 * Whether A has used up its friend requests for the minute or the day.
 * A's users row is locked (friend_lock), so A's asks are counted one
 * after the other.
 */
static int
cmd_add_friend_limited(struct cmd_ctx *ctx, uint64_t from, int *limited)
{
	const struct config	*cf = ctx->app->cf;
	int			 minute, day;

	if (db_friend_asks(ctx->app->db, from, &minute, &day) == -1)
		return -1;
	*limited = minute >= cf->friend_requests_per_minute ||
	    day >= cf->friend_requests_per_day;
	return 0;
}

/*
 * Stores or replaces A's request and forwards it to B, tracked by the
 * request's new id: a login fetch of B that already wrote it drops this
 * copy, and only this one.
 */
static enum cmd_retval
cmd_add_friend_ask(struct cmd_ctx *ctx, struct friend_request *q,
    int unseen)
{
	struct db	*db = ctx->app->db;
	cJSON		*p;
	int		 found, old, count, limited, rc;

	if ((found = db_request_get(db, q->from, q->to, &old)) == -1)
		return CMD_ERROR;
	/* Asking again replaces the pending request: not one more. */
	if (!found) {
		if (db_requests_sent(db, q->from, &count) == -1)
			return CMD_ERROR;
		if (count >= ctx->app->cf->pending_requests_max)
			return cmd_fail(ctx, "too many pending requests");
	}
	if (cmd_add_friend_limited(ctx, q->from, &limited) == -1)
		return CMD_ERROR;
	if (limited)
		return cmd_fail(ctx, "rate limited");
	/*
	 * Delete only a request that is there: a DELETE that finds nothing
	 * takes a gap lock, and two add_friend transactions holding one on
	 * the same gap then deadlock on their INSERTs (InnoDB), even for
	 * unrelated pairs (new ids share the gap at the end of the index).
	 */
	if ((found && db_request_delete(db, q->from, q->to) == -1) ||
	    db_request_put(db, q) == -1 ||
	    db_friend_ask_add(db, q->from) == -1 ||
	    cmd_success(ctx) != CMD_OK)
		return CMD_ERROR;
	if (unseen)
		return CMD_OK;
	if ((p = notice_friend_request(q)) == NULL)
		return CMD_ERROR;
	rc = reply_send_tracked(ctx->reply, q->to, p, 'q', q->id);
	cJSON_Delete(p);
	return rc == 0 ? CMD_OK : CMD_ERROR;
}

/* Inside the transaction. */
static enum cmd_retval
cmd_add_friend_tx(struct cmd_ctx *ctx)
{
	struct db		*db = ctx->app->db;
	struct friend_request	 q = { .status = 0 };
	int			 found_b, status, unseen, rc;

	q.from = ctx->session->account;
	(void)packet_get_id(ctx->packet, "dst", &q.to);
	if ((rc = friend_lock(db, q.from, q.to, &found_b, q.username)) != 1)
		return CMD_ERROR;	/* -1, or a logged-in account gone */
	if (!found_b)
		return cmd_fail(ctx, "no such user");
	if ((rc = db_block_get(db, q.from, q.to)) == -1)
		return CMD_ERROR;
	if (rc == 1)
		return cmd_fail(ctx, "blocked");
	if ((unseen = db_block_get(db, q.to, q.from)) == -1)
		return CMD_ERROR;
	if ((rc = db_friendship_get(db, q.from, q.to, &status)) == -1)
		return CMD_ERROR;
	if (rc == 1)
		return cmd_fail(ctx, "already friends");
	if (friend_status_parse(packet_get_str(ctx->packet, "status"),
	    &q.status) == -1)
		return cmd_fail(ctx, "bad status");
	if ((rc = db_request_get(db, q.to, q.from, &status)) == -1)
		return CMD_ERROR;
	if (rc == 1)
		return cmd_add_friend_mutual(ctx, &q, status);
	return cmd_add_friend_ask(ctx, &q, unseen);
}

static enum cmd_retval
cmd_add_friend_exec(struct cmd_ctx *ctx)
{
	uint64_t	dst;

	if (packet_get_id(ctx->packet, "dst", &dst) != PACKET_ID_OK)
		return cmd_fail(ctx, "no such user");
	/* A exists (it is logged in), so this is after "no such user". */
	if (dst == ctx->session->account)
		return cmd_fail(ctx, "cannot add yourself");
	return cmd_transaction(ctx, cmd_add_friend_tx);
}
