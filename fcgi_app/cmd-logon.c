/*
 * logon: register an account.  The checks that cost nothing come first;
 * the per-address throttle (registrations_per_hour, on by default) takes
 * its slot before the slow hash, in one statement that counts and tells
 * the count, so that a flood of registrations, parallel or not, can
 * neither pass the limit nor keep the workers busy hashing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fcgi_app.h"
#include "log.h"

static enum cmd_retval	cmd_logon_exec(struct cmd_ctx *);

static const struct cmd_field cmd_logon_fields[] = {
	{ "username", FIELD_STRING, 0 },
	{ "password", FIELD_STRING, 0 },
	{ NULL, FIELD_STRING, 0 }
};

const struct cmd_entry cmd_logon_entry = {
	.name = "logon",
	.flags = 0,
	.self = NULL,
	.fields = cmd_logon_fields,
	.exec = cmd_logon_exec,
};

/*
 * Whether this address has used up its registrations for the hour.  A
 * refused attempt takes a slot too, which only keeps the address refused
 * until the hour is over.
 */
static int
cmd_logon_throttled(struct cmd_ctx *ctx, int *throttled)
{
	int	limit = ctx->app->cf->registrations_per_hour;
	int	count;

	*throttled = 0;
	/* No address known: all such clients are not one address. */
	if (limit == 0 || ctx->session->remote_addr[0] == '\0')
		return 0;
	if (db_registration_add(ctx->app->db, ctx->session->remote_addr,
	    &count) == -1)
		return -1;
	*throttled = count > limit;
	return 0;
}

/* The success answer carries the new id, as a string. */
static enum cmd_retval
cmd_logon_success(struct cmd_ctx *ctx, uint64_t id)
{
	cJSON	*p;
	char	 buf[ID_STR_MAX];
	int	 rc = -1;

	snprintf(buf, sizeof(buf), "%" PRIu64, id);
	if ((p = cJSON_CreateObject()) == NULL)
		return CMD_ERROR;
	if (cJSON_AddStringToObject(p, "command", "logon_return") == NULL ||
	    cJSON_AddStringToObject(p, "status", "success") == NULL ||
	    cJSON_AddStringToObject(p, "id", buf) == NULL)
		goto fail;
	rc = reply_self(ctx->reply, p);
fail:
	cJSON_Delete(p);
	return rc == 0 ? CMD_OK : CMD_ERROR;
}

static enum cmd_retval
cmd_logon_exec(struct cmd_ctx *ctx)
{
	const char	*username, *password;
	char		 hash[AUTH_HASH_MAX];
	uint64_t	 id;
	size_t		 plen;
	int		 throttled;

	username = packet_get_str(ctx->packet, "username");
	password = packet_get_str(ctx->packet, "password");
	if (packet_check_username(username) != NULL)
		return cmd_fail(ctx, "bad username");
	plen = strlen(password);
	if (plen < PASSWORD_MIN || plen > PASSWORD_MAX)
		return cmd_fail(ctx, "bad password");
	if (cmd_logon_throttled(ctx, &throttled) == -1)
		return CMD_ERROR;
	if (throttled) {
		log_info("registration refused, too many attempts: from %s",
		    *ctx->session->remote_addr != '\0' ?
		    ctx->session->remote_addr : "-");
		return cmd_fail(ctx, "too many attempts");
	}

	if (auth_hash(ctx->app->cf, password, hash) == -1)
		return CMD_ERROR;
	if (db_account_create(ctx->app->db, username, hash, &id) == -1)
		return CMD_ERROR;
	log_info("registered: account %" PRIu64 " from %s", id,
	    *ctx->session->remote_addr != '\0' ? ctx->session->remote_addr :
	    "-");
	return cmd_logon_success(ctx, id);
}
