/*
 * logout: unbind this connection.  The gate has already checked that the
 * connection is logged in and that "id" is its account; the connection
 * stays open, logged out.  The logout_return is an extension (the original
 * sent nothing).
 *
 * The connection's presence row goes too: the daemon sends "closed" only
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

static enum cmd_retval
cmd_logout_exec(struct cmd_ctx *ctx)
{
	if (db_presence_delete(ctx->app->db, ctx->session->node,
	    ctx->session->conn_id) == -1)
		log_warnx("%s: conn %" PRIu64 ": presence not removed",
		    __func__, ctx->session->conn_id);
	if (reply_unbind(ctx->reply) == -1)
		return CMD_ERROR;
	log_debug("%s: conn %" PRIu64 " logged out of %" PRIu64, __func__,
	    ctx->session->conn_id, ctx->session->account);
	return cmd_success(ctx);
}
