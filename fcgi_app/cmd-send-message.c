/*
 * send_message: A (this connection, "src") sends B ("dst") a message.  The
 * gate has checked the login, the field types and that src is A.
 * Details, first wins: not friends (A has B as a friend: friendships are
 * made in pairs, so that is the same as B having A), empty message,
 * message too long: the packet B gets, or a history_return holding it
 * alone, would be over PACKET_MAX ("rate limited" is the daemon's).
 *
 * In a batch the message waits for the batch's end, where it is stored
 * with the others by a few statements (msgqueue.c); alone (no batch), by
 * one statement that also checks the friendship.  Either way it is
 * committed before A's success, then sent to every
 * connection of B tracked "m<id>": the daemon's written report marks it
 * delivered (event.c); until then, or until acked for a connection in ack
 * mode, every login of B fetches it again.  A's other connections get the
 * "sent" carbon, so that every device of A shows the conversation.
 */
#include <inttypes.h>

#include "fcgi_app.h"
#include "log.h"

static enum cmd_retval	cmd_send_message_exec(struct cmd_ctx *);

static const struct cmd_field cmd_send_message_fields[] = {
	{ "dst", FIELD_ID, 0 },
	{ "message", FIELD_STRING, 0 },
	{ NULL, FIELD_STRING, 0 }
};

const struct cmd_entry cmd_send_message_entry = {
	.name = "send_message",
	.flags = CMD_LOGGED_IN,
	.self = "src",
	.fields = cmd_send_message_fields,
	.exec = cmd_send_message_exec,
};

/* A's success, naming the stored message (notice_sent_return). */
static int
cmd_send_message_success(struct reply *r, const struct message *m)
{
	cJSON	*p;
	int	 rc;

	if ((p = notice_sent_return(m)) == NULL)
		return -1;
	rc = reply_self(r, p);
	cJSON_Delete(p);
	return rc;
}

/* The carbon to A's other connections; history has it if this fails. */
static void
cmd_send_message_carbon(struct reply *r, const struct message *m)
{
	cJSON	*p;

	if ((p = notice_sent(m)) == NULL || reply_others(r, m->src, p) == -1)
		log_warnx("%s: message %" PRIu64 ": no carbon", __func__,
		    m->id);
	cJSON_Delete(p);
}

/*
 * Answers A into r and sends m to B once the batch has stored it (stored
 * 1), or found them not friends (0), or failed (-1: nothing was done).
 */
static void
cmd_send_message_finish(struct reply *r, const struct message *m,
    int stored)
{
	char	 track[MESSAGE_TRACK_SIZE];
	cJSON	*p;

	if (stored != 1) {
		if (reply_return(r, cmd_send_message_entry.name, stored == 0 ?
		    "not friends" : "server error") == -1)
			log_warnx("%s: cannot build the answer", __func__);
		return;
	}
	/* Stored: a lost answer costs a retry, never the message. */
	if (cmd_send_message_success(r, m) == -1 ||
	    (p = notice_message(m)) == NULL) {
		log_warnx("%s: message %" PRIu64 " stored, not announced",
		    __func__, m->id);
		return;
	}
	notice_message_track(m, track, sizeof(track));
	if (reply_send_track(r, m->dst, p, track) == -1)
		log_warnx("%s: message %" PRIu64 " stored, not sent live",
		    __func__, m->id);
	cJSON_Delete(p);
	cmd_send_message_carbon(r, m);
}

/* Stores m if A and B are friends, answers A, and sends m to B. */
static enum cmd_retval
cmd_send_message_deliver(struct cmd_ctx *ctx, struct message *m)
{
	char	 track[MESSAGE_TRACK_SIZE];
	cJSON	*p;
	int	 rc;

	/* In a batch, with the batch's other messages, at its end. */
	if (ctx->app->messages != NULL)
		return msgqueue_add(ctx->app->messages, m, ctx->reply,
		    cmd_send_message_finish) == 0 ? CMD_OK : CMD_ERROR;
	if ((rc = db_message_add(ctx->app->db, m)) == -1)
		return CMD_ERROR;
	else if (rc == 0)
		return cmd_fail(ctx, "not friends");
	if (cmd_send_message_success(ctx->reply, m) == -1)
		return CMD_ERROR;
	if ((p = notice_message(m)) == NULL)
		return CMD_ERROR;
	notice_message_track(m, track, sizeof(track));
	rc = reply_send_track(ctx->reply, m->dst, p, track);
	cJSON_Delete(p);
	if (rc == 0)
		cmd_send_message_carbon(ctx->reply, m);
	return rc == 0 ? CMD_OK : CMD_ERROR;
}

static enum cmd_retval
cmd_send_message_exec(struct cmd_ctx *ctx)
{
	struct message	 m = { 0, 0, 0, "", NULL };
	const char	*problem = NULL;
	int		 status, rc = 1;

	m.src = ctx->session->account;
	m.body = packet_get_str(ctx->packet, "message");
	if (packet_get_id(ctx->packet, "dst", &m.dst) != PACKET_ID_OK)
		return cmd_fail(ctx, "not friends");
	if (m.body[0] == '\0')
		problem = "empty message";
	else if ((rc = notice_message_fits(m.src, m.dst, m.body)) == 1)
		rc = history_fits(m.src, m.dst, m.body);
	if (rc == -1)
		return CMD_ERROR;
	if (problem == NULL && rc == 0)
		problem = "message too long";
	if (problem == NULL)
		return cmd_send_message_deliver(ctx, &m);
	/* "not friends" comes first in the details: only now is it asked. */
	rc = db_friendship_get(ctx->app->db, m.src, m.dst, &status);
	if (rc == -1)
		return CMD_ERROR;
	if (rc == 0)
		return cmd_fail(ctx, "not friends");
	return cmd_fail(ctx, problem);
}
