/*
 * login: bind this connection to an account.
 *
 * The order of the checks is chosen, not PROTOCOL.md's list order, which
 * cannot be followed literally (the throttle must act before the slow
 * hash, so it cannot wait to learn whether the password is right):
 *
 *   1. already logged in  -- needs neither the database nor a hash, and a
 *                            bound connection then cannot guess passwords;
 *   2. too many attempts  -- decided before hashing, on counters in the
 *                            database so that all workers share them;
 *   3. wrong id or password -- an unknown id is verified against a dummy
 *                            hash, so it costs and answers the same;
 *   4. account disabled   -- only told to who knows the password.
 *
 * The throttle stops attackers without locking owners out (OWASP): the
 * attempt takes a slot per (id, client address) and per address before
 * the hash, atomically, so parallel tries get exactly the limit, and
 * spraying many ids from one address is cut off too.  Failures of an id
 * from every address add up to a backoff that holds back only the
 * addresses that failed for it: the owner, from an address that has not,
 * is never refused because of another's.  Ids are counted known or not,
 * so the answers never tell which exist.  Success forgets the failures
 * of that id from that address.
 *
 * Success records the connection in presence (presence.c says why before
 * the fetch) and answers, in order (docs/ARCHITECTURE.md, Delivery): bind,
 * login_return, fetch.  What waits for the account is sent by that fetch
 * (event.c), after the bind, so that nothing sent meanwhile is missed.
 */
#include <inttypes.h>
#include <string.h>

#include "fcgi_app.h"
#include "log.h"

static enum cmd_retval	cmd_login_exec(struct cmd_ctx *);

static const struct cmd_field cmd_login_fields[] = {
	{ "id", FIELD_ID, 0 },
	{ "password", FIELD_STRING, 0 },
	{ "ack", FIELD_BOOL, FIELD_OPTIONAL },
	{ NULL, FIELD_STRING, 0 }
};

const struct cmd_entry cmd_login_entry = {
	.name = "login",
	.flags = 0,
	.self = NULL,
	.fields = cmd_login_fields,
	.exec = cmd_login_exec,
};

static enum cmd_retval
cmd_login_success(struct cmd_ctx *ctx, const struct account *a)
{
	struct session	 s = *ctx->session;
	cJSON		*p;
	int		 ack = 0, rc = -1;

	(void)packet_get_bool(ctx->packet, "ack", &ack);
	s.account = a->id;
	s.ack_mode = ack;
	if (presence_record(ctx->app, &s, ctx->reply) == -1 ||
	    reply_bind(ctx->reply, a->id, ack) == -1)
		return CMD_ERROR;
	if ((p = cJSON_CreateObject()) == NULL)
		return CMD_ERROR;
	if (cJSON_AddStringToObject(p, "command", "login_return") == NULL ||
	    cJSON_AddStringToObject(p, "status", "success") == NULL ||
	    cJSON_AddStringToObject(p, "username", a->username) == NULL)
		goto fail;
	if ((rc = reply_self(ctx->reply, p)) == 0)
		rc = reply_fetch(ctx->reply, 0);
fail:
	cJSON_Delete(p);
	return rc == 0 ? CMD_OK : CMD_ERROR;
}

/*
 * Looks up the account and checks the password; *ok says whether both
 * matched.  Whatever is found, one hash is verified.
 */
static int
cmd_login_check(struct cmd_ctx *ctx, uint64_t id, int valid_id,
    struct account *a, int *ok)
{
	const char	*password;
	int		 found = 0;

	password = packet_get_str(ctx->packet, "password");
	if (valid_id &&
	    (found = db_account_get(ctx->app->db, id, a)) == -1)
		return -1;
	*ok = auth_verify(found ? a->hash : NULL, password);
	memset(a->hash, 0, sizeof(a->hash));
	return 0;
}

/* Whether this attempt is refused before the hash; either way it counts. */
static int
cmd_login_throttled(struct cmd_ctx *ctx, uint64_t id, int *throttled)
{
	const struct config	*cf = ctx->app->cf;
	struct login_count	 lc;

	if (db_login_attempt(ctx->app->db, id, ctx->session->remote_addr,
	    &lc) == -1)
		return -1;
	*throttled = lc.id_addr > cf->login_failures_per_minute ||
	    lc.addr > cf->login_failures_per_address || lc.delayed;
	if (*throttled)
		log_debug("%s: conn %" PRIu64 ": login to %" PRIu64 " held back"
		    " (%d, %d, %d)", __func__, ctx->session->conn_id, id,
		    lc.id_addr, lc.addr, lc.delayed);
	return 0;
}

static enum cmd_retval
cmd_login_exec(struct cmd_ctx *ctx)
{
	struct db	*db = ctx->app->db;
	const char	*addr = ctx->session->remote_addr;
	struct account	 a;
	uint64_t	 id = 0;
	int		 valid_id, throttled, ok;

	memset(&a, 0, sizeof(a));
	if (ctx->session->account != 0)
		return cmd_fail(ctx, "already logged in");
	valid_id = packet_get_id(ctx->packet, "id", &id) == PACKET_ID_OK;

	/* A malformed id names nobody; it is counted as id 0. */
	if (cmd_login_throttled(ctx, id, &throttled) == -1)
		return CMD_ERROR;
	if (throttled) {
		log_info("login refused, too many attempts: id %" PRIu64
		    " from %s", id, *addr != '\0' ? addr : "-");
		return cmd_fail(ctx, "too many attempts");
	}

	if (cmd_login_check(ctx, id, valid_id, &a, &ok) == -1)
		return CMD_ERROR;
	if (!ok) {
		if (db_login_failed(db, id, addr) == -1)
			return CMD_ERROR;
		log_info("login failed: id %" PRIu64 " from %s", id,
		    *addr != '\0' ? addr : "-");
		return cmd_fail(ctx, "wrong id or password");
	}
	/* The password was right: whoever typed it is no attacker. */
	if (db_login_succeeded(db, id, addr) == -1)
		log_warnx("%s: attempts of %" PRIu64 " not cleared", __func__,
		    id);
	if (a.disabled) {
		log_info("login refused, account disabled: %" PRIu64 " from %s",
		    id, *addr != '\0' ? addr : "-");
		return cmd_fail(ctx, "account disabled");
	}
	log_info("login: account %" PRIu64 " from %s (conn %" PRIu64 ", %s)",
	    id, *addr != '\0' ? addr : "-", ctx->session->conn_id,
	    *ctx->session->transport != '\0' ? ctx->session->transport :
	    "http");
	return cmd_login_success(ctx, &a);
}
