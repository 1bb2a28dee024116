/*
 * The command table and the gate.  Every packet passes cmd_dispatch(),
 * which makes the checks that are the same for every command (a JSON
 * object, a known command, logged in if needed, fields of the right JSON
 * type, the self field naming the session's account) before a handler runs,
 * and turns a handler's CMD_ERROR into the client's "server error", so no
 * request goes unanswered.
 */
#include <inttypes.h>
#include <string.h>

#include "fcgi_app.h"

/* Runs of a transaction that deadlocks before the client is told. */
#define CMD_TX_TRIES	3
#include "log.h"

static const struct cmd_entry *cmd_table[] = {
	&cmd_logon_entry,
	&cmd_login_entry,
	&cmd_logout_entry,
	&cmd_add_friend_entry,
	&cmd_add_friend_confirm_entry,
	&cmd_list_friend_entry,
	&cmd_send_message_entry,
	&cmd_ack_entry,
	&cmd_remove_friend_entry,
	&cmd_cancel_friend_entry,
	&cmd_block_entry,
	&cmd_unblock_entry,
	&cmd_list_blocked_entry,
	&cmd_history_entry,
	&cmd_read_entry,
	NULL
};

const struct cmd_entry *
cmd_find(const char *name)
{
	const struct cmd_entry	**e;

	for (e = cmd_table; *e != NULL; e++)
		if (strcmp((*e)->name, name) == 0)
			return *e;
	return NULL;
}

/* Whether field f of packet has the JSON type the entry declares. */
static int
cmd_field_ok(const cJSON *packet, const struct cmd_field *f)
{
	uint64_t	id;
	int		b;

	if ((f->flags & FIELD_OPTIONAL) &&
	    cJSON_GetObjectItemCaseSensitive(packet, f->name) == NULL)
		return 1;
	switch (f->type) {
	case FIELD_STRING:
		return packet_get_str(packet, f->name) != NULL;
	case FIELD_ID:
		return packet_get_id(packet, f->name, &id) != PACKET_ID_BAD_TYPE;
	case FIELD_BOOL:
		return packet_get_bool(packet, f->name, &b) == 0;
	}
	return 0;
}

static int
cmd_fields_ok(const struct cmd_entry *entry, const cJSON *packet)
{
	const struct cmd_field	*f;
	uint64_t		 id;

	if (entry->self != NULL &&
	    packet_get_id(packet, entry->self, &id) == PACKET_ID_BAD_TYPE)
		return 0;
	for (f = entry->fields; f != NULL && f->name != NULL; f++)
		if (!cmd_field_ok(packet, f))
			return 0;
	return 1;
}

/*
 * The gate for a parsed packet naming a known command.  Order: login, then
 * JSON types (a malformed packet is an error whoever sends it), then the
 * self field, then the handler.  A CMD_SILENT command is never answered:
 * whatever would refuse it drops it instead (CMD_OK, nothing queued).
 */
enum cmd_retval
cmd_run(struct app *app, const struct session *s,
    const struct cmd_entry *entry, const cJSON *packet, struct reply *r)
{
	struct cmd_ctx	 ctx = { entry, s, packet, r, app };
	enum cmd_retval	 rv;
	uint64_t	 id;
	int		 silent = entry->flags & CMD_SILENT;

	if ((entry->flags & CMD_LOGGED_IN) && s->account == 0)
		return silent ? CMD_OK : cmd_fail(&ctx, "not logged in");
	if (!cmd_fields_ok(entry, packet))
		goto reject;
	if (entry->self != NULL &&
	    (packet_get_id(packet, entry->self, &id) != PACKET_ID_OK ||
	    id != s->account))
		return silent ? CMD_OK : cmd_fail(&ctx, "src is not you");
	/*
	 * A batch stores its messages at its end (msgqueue.c); a command
	 * that ends a friendship stores those sent before it first, outside
	 * its own savepoint, so that it never overtakes them: what was sent
	 * before a removal is delivered, what comes after it fails.
	 */
	if ((entry->flags & CMD_AFTER_SENDS) && app->messages != NULL)
		(void)msgqueue_flush(app->messages, app->db);

	rv = entry->exec(&ctx);
	if (rv != CMD_ERROR)
		return rv;
	log_warnx("conn %" PRIu64 " account %" PRIu64 ": %s failed",
	    s->conn_id, s->account, entry->name);
	reply_clear(r);
	if (!silent && reply_return(r, entry->name, "server error") == -1)
		log_warnx("%s: cannot build the answer", __func__);
	return CMD_ERROR;

reject:
	if (silent)
		return CMD_OK;
	if (reply_error(r, "bad request") == -1)
		return CMD_ERROR;
	return CMD_REJECT;
}

/*
 * Reads one client packet and runs it.  Returns what was answered:
 * CMD_REJECT for an error packet.
 */
enum cmd_retval
cmd_dispatch(struct app *app, const struct session *s, const char *body,
    size_t len, struct reply *r)
{
	const struct cmd_entry	*entry;
	const char		*detail;
	cJSON			*packet;
	enum cmd_retval		 rv;

	if ((packet = packet_parse(body, len, &detail)) == NULL)
		goto reject;
	if ((entry = cmd_find(packet_command(packet))) == NULL) {
		detail = "unknown command";
		cJSON_Delete(packet);
		goto reject;
	}
	log_debug("%s: conn %" PRIu64 " account %" PRIu64 ": %s", __func__,
	    s->conn_id, s->account, entry->name);
	rv = cmd_run(app, s, entry, packet, r);
	cJSON_Delete(packet);
	return rv;

reject:
	log_debug("%s: conn %" PRIu64 ": %s", __func__, s->conn_id, detail);
	if (reply_error(r, detail) == -1)
		return CMD_ERROR;
	return CMD_REJECT;
}

/*
 * A packet the daemon refuses before any handler (rate limited, or server
 * error once its batch failed), answered in its turn: as its command's
 * fail, not at all for a command that is never answered (ack), and with
 * the error packet when it has no readable command.
 */
void
cmd_refuse(const char *body, size_t len, const char *detail, struct reply *r)
{
	const struct cmd_entry	*entry;
	const char		*name, *why;
	cJSON			*packet;

	if ((packet = packet_parse(body, len, &why)) == NULL) {
		if (reply_error(r, detail) == -1)
			log_warnx("%s: cannot build the answer", __func__);
		return;
	}
	name = packet_command(packet);
	entry = cmd_find(name);
	if ((entry == NULL || !(entry->flags & CMD_SILENT)) &&
	    reply_return(r, name, detail) == -1 && reply_error(r, detail) == -1)
		log_warnx("%s: cannot build the answer", __func__);
	cJSON_Delete(packet);
}

/* A handler's success answer: "<cmd>_return" with status success. */
enum cmd_retval
cmd_success(struct cmd_ctx *ctx)
{
	if (reply_return(ctx->reply, ctx->entry->name, NULL) == -1)
		return CMD_ERROR;
	return CMD_OK;
}

/* A handler's fail answer with one of the command's PROTOCOL.md details. */
enum cmd_retval
cmd_fail(struct cmd_ctx *ctx, const char *detail)
{
	if (reply_return(ctx->reply, ctx->entry->name, detail) == -1)
		return CMD_ERROR;
	return CMD_FAIL;
}

/*
 * Runs fn inside one database transaction: committed only if fn answered
 * CMD_OK, rolled back otherwise.  What fn queued for the daemon before a
 * failed commit is dropped by the gate with the CMD_ERROR, so nothing is
 * announced that was not stored.
 */
enum cmd_retval
cmd_transaction(struct cmd_ctx *ctx, enum cmd_retval (*fn)(struct cmd_ctx *))
{
	struct db	*db = ctx->app->db;
	enum cmd_retval	 rv;
	int		 mark = reply_count(ctx->reply), tries;

	for (tries = 1;; tries++) {
		if (db_begin(db) == -1)
			return CMD_ERROR;
		rv = fn(ctx);
		if (rv == CMD_OK && db_commit(db) == -1)
			rv = CMD_ERROR;
		if (rv == CMD_OK)
			return rv;
		db_rollback(db);
		/*
		 * A deadlock's victim was rolled back whole; running it
		 * again is the cure InnoDB expects of its clients.
		 */
		if (rv != CMD_ERROR || !db_tx_deadlocked(db) ||
		    tries == CMD_TX_TRIES)
			return rv;
		log_info("deadlock: transaction run again (%d)", tries);
		reply_truncate(ctx->reply, mark);
	}
}
