/*
 * logout: unbind this connection.  The gate has already checked that the
 * connection is logged in and that "id" is its account; the connection
 * stays open, logged out.  The logout_return is an extension (the original
 * sent nothing).
 *
 * The connection's presence row goes too (presence.c, which tells the
 * friends when it was the account's last): the daemon sends "closed" only
 * for a connection still bound, so nothing else would remove it.  Failing
 * to do so only leaves a friend shown online; the logout still happens.
 */
#include <inttypes.h>

#include "fcgi_app.h"
#include "log.h"

static enum cmd_retval	cmd_logout_exec(struct cmd_ctx *);

const struct cmd_entry cmd_logout_entry = {
	.name = "logout",
	.flags = CMD_LOGGED_IN,
	.self = "id",
	.fields = NULL,
	.exec = cmd_logout_exec,
};

/* In a transaction: presence_left() locks the account's users row. */
static enum cmd_retval
cmd_logout_presence(struct cmd_ctx *ctx)
{
	return presence_left(ctx->app, ctx->session, ctx->reply) == 0 ?
	    CMD_OK : CMD_ERROR;
}

/* The logout happens whatever the database says. */
static enum cmd_retval
cmd_logout_exec(struct cmd_ctx *ctx)
{
	int	mark = reply_count(ctx->reply);

	if (cmd_transaction(ctx, cmd_logout_presence) != CMD_OK) {
		log_warnx("%s: conn %" PRIu64 ": presence not removed",
		    __func__, ctx->session->conn_id);
		reply_truncate(ctx->reply, mark);
	}
	if (reply_unbind(ctx->reply) == -1)
		return CMD_ERROR;
	log_debug("%s: conn %" PRIu64 " logged out of %" PRIu64, __func__,
	    ctx->session->conn_id, ctx->session->account);
	return cmd_success(ctx);
}
