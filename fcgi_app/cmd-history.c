/*
 * history: a page of the stored conversation between this connection's
 * account ("id") and "with", newest first, below "before" if given, at
 * most "limit" messages (HISTORY_DEFAULT, capped at HISTORY_MAX).  The gate
 * has checked the login, the field types and that id is this account; a
 * "limit" that is not a positive whole number, or a "with" or "before"
 * that is not an id, is a bad request.  Friends or not, blocked or not: it shows what the
 * two exchanged and never anything of a third account.  One row more than
 * the page is read to tell whether older ones exist ("oldest").
 */
#include <stdlib.h>

#include "fcgi_app.h"

static enum cmd_retval	cmd_history_exec(struct cmd_ctx *);

static const struct cmd_field cmd_history_fields[] = {
	{ "with", FIELD_ID, 0 },
	{ "before", FIELD_ID, FIELD_OPTIONAL },
	{ NULL, FIELD_STRING, 0 }
};

const struct cmd_entry cmd_history_entry = {
	.name = "history",
	.flags = CMD_LOGGED_IN,
	.self = "id",
	.fields = cmd_history_fields,
	.exec = cmd_history_exec,
};

/* "limit": absent, or a JSON whole number >= 1; -1 otherwise. */
static int
cmd_history_limit(const cJSON *packet, int *limit)
{
	const cJSON	*l = cJSON_GetObjectItemCaseSensitive(packet, "limit");
	double		 d;

	*limit = HISTORY_DEFAULT;
	if (l == NULL)
		return 0;
	if (!cJSON_IsNumber(l) || (d = l->valuedouble) < 1)
		return -1;
	/* A double past 2^53 is whole; casting a huge one is undefined. */
	if (d >= 9007199254740992.0) {
		*limit = HISTORY_MAX;
		return 0;
	}
	if (d != (double)(long long)d)
		return -1;
	*limit = d > HISTORY_MAX ? HISTORY_MAX : (int)d;
	return 0;
}

static int
cmd_history_emit(void *arg, cJSON *packet)
{
	return reply_self(arg, packet);
}

static enum cmd_retval
cmd_history_exec(struct cmd_ctx *ctx)
{
	struct history_item	*h = NULL;
	char			*bodies = NULL;
	uint64_t		 with, before = 0;
	enum cmd_retval		 rv = CMD_ERROR;
	int			 limit, n;

	if (cmd_history_limit(ctx->packet, &limit) == -1 ||
	    packet_get_id(ctx->packet, "with", &with) != PACKET_ID_OK ||
	    (cJSON_GetObjectItemCaseSensitive(ctx->packet, "before") != NULL &&
	    packet_get_id(ctx->packet, "before", &before) != PACKET_ID_OK))
		return reply_error(ctx->reply, "bad request") == -1 ?
		    CMD_ERROR : CMD_REJECT;
	/* An id naming nobody has exchanged nothing with anybody. */
	if ((h = calloc((size_t)limit + 1, sizeof(*h))) == NULL ||
	    (bodies = malloc(((size_t)limit + 1) * (PACKET_MAX + 1))) ==
	    NULL)
		goto done;
	n = 0;
	if (db_history(ctx->app->db, ctx->session->account, with,
	    before, limit + 1, h, bodies, &n) == -1)
		goto done;
	if (history_packets(ctx->session->account, with, h,
	    (size_t)(n > limit ? limit : n), n <= limit, cmd_history_emit,
	    ctx->reply) == 0)
		rv = CMD_OK;
done:
	free(bodies);
	free(h);
	return rv;
}
