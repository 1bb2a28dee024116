/*
 * list_blocked: the accounts this connection's account blocks, sorted by
 * id, with their names.  The gate has checked the login and that "id" is
 * this account.  A long list goes out as several packets, as list_friend's
 * does (friendlist.c).
 */
#include <stdlib.h>

#include "fcgi_app.h"

static enum cmd_retval	cmd_list_blocked_exec(struct cmd_ctx *);

const struct cmd_entry cmd_list_blocked_entry = {
	.name = "list_blocked",
	.flags = CMD_LOGGED_IN,
	.self = "id",
	.fields = NULL,
	.exec = cmd_list_blocked_exec,
};

static int
cmd_list_blocked_emit(void *arg, cJSON *packet)
{
	return reply_self(arg, packet);
}

static enum cmd_retval
cmd_list_blocked_exec(struct cmd_ctx *ctx)
{
	struct friend	*list;
	size_t		 n;
	int		 rc;

	if (db_blocks_list(ctx->app->db, ctx->session->account, &list,
	    &n) == -1)
		return CMD_ERROR;
	rc = blocklist_packets(ctx->session->account, list, n,
	    cmd_list_blocked_emit, ctx->reply);
	free(list);
	return rc == 0 ? CMD_OK : CMD_ERROR;
}
