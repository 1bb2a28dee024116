/*
 * list_friend: this connection's friends, sorted by id, with their names,
 * this account's view of each and whether each is online (a presence row,
 * on any node).  The gate has checked the login and that "id" is this
 * account.  A long list goes out as several packets (friendlist.c).
 */
#include <stdlib.h>

#include "fcgi_app.h"

static enum cmd_retval	cmd_list_friend_exec(struct cmd_ctx *);

const struct cmd_entry cmd_list_friend_entry = {
	.name = "list_friend",
	.flags = CMD_LOGGED_IN,
	.self = "id",
	.fields = NULL,
	.exec = cmd_list_friend_exec,
};

/* friendlist_packets()'s emit: each packet to this connection. */
static int
cmd_list_friend_emit(void *arg, cJSON *packet)
{
	return reply_self(arg, packet);
}

static enum cmd_retval
cmd_list_friend_exec(struct cmd_ctx *ctx)
{
	struct friend	*list;
	size_t		 n;
	int		 rc;

	if (db_friends_list(ctx->app->db, ctx->session->account, &list,
	    &n) == -1)
		return CMD_ERROR;
	rc = friendlist_packets(ctx->session->account, list, n,
	    cmd_list_friend_emit, ctx->reply);
	free(list);
	return rc == 0 ? CMD_OK : CMD_ERROR;
}
