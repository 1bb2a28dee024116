/*
 * The outbox: what a request asks the push daemon to do, in order
 * (docs/ARCHITECTURE.md, the answer body).  Every packet is serialised here,
 * once, into a PACKET_MAX buffer, so a packet that would not fit is refused
 * before it is queued and the daemon can write the bytes as they are.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "fcgi_app.h"
#include "shared.h"


struct reply {
	cJSON	*actions;	/* owned: the array of action objects */
};

struct reply *
reply_new(void)
{
	struct reply	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->actions = cJSON_CreateArray()) == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

void
reply_free(struct reply *r)
{
	if (r == NULL)
		return;
	cJSON_Delete(r->actions);
	free(r);
}

/* Drops every queued action: a failed request must have done nothing. */
void
reply_clear(struct reply *r)
{
	cJSON	*item;

	while ((item = cJSON_DetachItemFromArray(r->actions, 0)) != NULL)
		cJSON_Delete(item);
}

/* How many actions are queued: a mark for reply_truncate(). */
int
reply_count(const struct reply *r)
{
	return cJSON_GetArraySize(r->actions);
}

/* Drops the actions queued after mark, as a retried transaction must. */
void
reply_truncate(struct reply *r, int mark)
{
	int	n;

	for (n = cJSON_GetArraySize(r->actions); n > mark; n--)
		cJSON_DeleteItemFromArray(r->actions, n - 1);
}

/* A new action object, not yet queued; the caller owns it. */
static cJSON *
reply_action(const char *op)
{
	cJSON	*a;

	if ((a = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(a, ENV_OP, op) == NULL) {
		cJSON_Delete(a);
		return NULL;
	}
	return a;
}

/* Queues a finished action; takes it, even on failure. */
static int
reply_push(struct reply *r, cJSON *a)
{
	if (a == NULL)
		return -1;
	if (!cJSON_AddItemToArray(r->actions, a)) {
		cJSON_Delete(a);
		return -1;
	}
	return 0;
}

static int
reply_add_id(cJSON *a, const char *name, uint64_t id)
{
	char	buf[ID_STR_MAX];

	snprintf(buf, sizeof(buf), "%" PRIu64, id);
	return cJSON_AddStringToObject(a, name, buf) == NULL ? -1 : 0;
}

/* A send action: to account (0: this connection), others: not this one. */
static int
reply_send_to(struct reply *r, uint64_t account, int others, cJSON *packet,
    const char *track)
{
	char	 buf[PACKET_MAX + JSON_SLACK];
	cJSON	*a;

	if (!cJSON_PrintPreallocated(packet, buf, sizeof(buf), 0) ||
	    strlen(buf) > PACKET_MAX)
		return -1;
	if ((a = reply_action(ENV_OP_SEND)) == NULL)
		return -1;
	if ((account != 0 && reply_add_id(a, ENV_ACCOUNT_FIELD, account) == -1) ||
	    (others && cJSON_AddTrueToObject(a, ENV_OTHERS_FIELD) == NULL) ||
	    cJSON_AddStringToObject(a, ENV_DATA, buf) == NULL ||
	    (track != NULL &&
	    cJSON_AddStringToObject(a, ENV_TRACK_FIELD, track) == NULL)) {
		cJSON_Delete(a);
		return -1;
	}
	return reply_push(r, a);
}

/*
 * Queues packet for this connection (account 0) or for every connection of
 * an account, with track (or NULL), so that the daemon reports when it has
 * been written.  -1 if it does not fit in PACKET_MAX bytes or memory ran
 * out; the caller still owns packet.
 */
int
reply_send_track(struct reply *r, uint64_t account, cJSON *packet,
    const char *track)
{
	return reply_send_to(r, account, 0, packet, track);
}

/* The same with the track "<kind><id>" when kind is not 0. */
int
reply_send_tracked(struct reply *r, uint64_t account, cJSON *packet,
    char kind, uint64_t id)
{
	char	track[ID_STR_MAX + 1];

	if (kind == 0)
		return reply_send_track(r, account, packet, NULL);
	snprintf(track, sizeof(track), "%c%" PRIu64, kind, id);
	return reply_send_track(r, account, packet, track);
}

/*
 * Queues packet for every connection of account but this one: a carbon of
 * what this connection sent goes to the account's other devices.
 */
int
reply_others(struct reply *r, uint64_t account, cJSON *packet)
{
	return reply_send_to(r, account, 1, packet, NULL);
}

int
reply_self(struct reply *r, cJSON *packet)
{
	return reply_send_tracked(r, 0, packet, 0, 0);
}

int
reply_account(struct reply *r, uint64_t account, cJSON *packet)
{
	return reply_send_tracked(r, account, packet, 0, 0);
}

/*
 * Asks the daemon for a fetch event next, before the connection's next
 * packet; after is the cursor the event will carry (0: the first page).
 */
int
reply_fetch(struct reply *r, uint64_t after)
{
	cJSON	*a;

	if ((a = reply_action(ENV_OP_FETCH)) == NULL)
		return -1;
	if (after != 0 && reply_add_id(a, ENV_AFTER_FIELD, after) == -1) {
		cJSON_Delete(a);
		return -1;
	}
	return reply_push(r, a);
}

/* The heartbeat's: a fetch for every connection bound on the node. */
int
reply_fetch_all(struct reply *r)
{
	return reply_push(r, reply_action(ENV_OP_FETCH_ALL));
}

int
reply_bind(struct reply *r, uint64_t account, int ack)
{
	cJSON	*a;

	if ((a = reply_action(ENV_OP_BIND)) == NULL)
		return -1;
	if (reply_add_id(a, ENV_ACCOUNT_FIELD, account) == -1 ||
	    cJSON_AddBoolToObject(a, ENV_ACK_FIELD, ack) == NULL) {
		cJSON_Delete(a);
		return -1;
	}
	return reply_push(r, a);
}

int
reply_unbind(struct reply *r)
{
	return reply_push(r, reply_action(ENV_OP_UNBIND));
}

int
reply_close(struct reply *r)
{
	return reply_push(r, reply_action(ENV_OP_CLOSE));
}

/*
 * "<cmd>_return" to this connection: success when detail is NULL, else
 * the fail packet with detail (shared.c, the same as the daemon's).
 */
int
reply_return(struct reply *r, const char *cmd, const char *detail)
{
	cJSON	*p;
	char	 name[64];
	int	 rc = -1;

	if (detail != NULL)
		p = fail_packet(cmd, detail);
	else if ((size_t)snprintf(name, sizeof(name), "%s_return", cmd) >=
	    sizeof(name) || (p = cJSON_CreateObject()) == NULL)
		return -1;
	else if (cJSON_AddStringToObject(p, "command", name) == NULL ||
	    cJSON_AddStringToObject(p, "status", "success") == NULL) {
		cJSON_Delete(p);
		return -1;
	}
	if (p != NULL)
		rc = reply_self(r, p);
	cJSON_Delete(p);
	return rc;
}

/* The "error" packet for a packet that cannot be served at all. */
int
reply_error(struct reply *r, const char *detail)
{
	cJSON	*p;
	int	 rc = -1;

	if ((p = fail_packet(NULL, detail)) != NULL)
		rc = reply_self(r, p);
	cJSON_Delete(p);
	return rc;
}

/* The first packet queued for this connection, for /api; NULL if none. */
const char *
reply_self_data(const struct reply *r)
{
	const cJSON	*a;

	cJSON_ArrayForEach(a, r->actions) {
		if (strcmp(cJSON_GetObjectItem(a, ENV_OP)->valuestring,
		    ENV_OP_SEND) != 0)
			continue;
		if (cJSON_GetObjectItem(a, ENV_ACCOUNT_FIELD) == NULL)
			return cJSON_GetObjectItem(a, ENV_DATA)->valuestring;
	}
	return NULL;
}

/* The answer body for the daemon; the caller frees it. */
char *
reply_render(const struct reply *r)
{
	cJSON	*root;
	char	*out;

	if ((root = cJSON_CreateObject()) == NULL)
		return NULL;
	/* A reference keeps the outbox owning its actions. */
	if (!cJSON_AddItemReferenceToObject(root, ENV_ACTIONS, r->actions)) {
		cJSON_Delete(root);
		return NULL;
	}
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

/* Adds the actions to obj (one answer of a batch); obj does not own them. */
int
reply_attach(const struct reply *r, cJSON *obj)
{
	return cJSON_AddItemReferenceToObject(obj, ENV_ACTIONS, r->actions) ?
	    0 : -1;
}

/* The actions queued, for relay.c to read; r still owns them. */
const cJSON *
reply_actions(const struct reply *r)
{
	return r->actions;
}

/*
 * What the actions do to the connection's session, the last one winning:
 * 1 with *account and *ack for a bind, -1 for an unbind, 0 for neither.
 * A batch runs a connection's later packets as the session is then.
 */
int
reply_binding(const struct reply *r, uint64_t *account, int *ack)
{
	const cJSON	*a, *op;
	uint64_t	 id;
	int		 rc = 0;

	cJSON_ArrayForEach(a, r->actions) {
		op = cJSON_GetObjectItemCaseSensitive(a, ENV_OP);
		if (!cJSON_IsString(op))
			continue;
		if (strcmp(op->valuestring, ENV_OP_UNBIND) == 0)
			rc = -1;
		else if (strcmp(op->valuestring, ENV_OP_BIND) == 0 &&
		    packet_get_id(a, ENV_ACCOUNT_FIELD, &id) == PACKET_ID_OK) {
			*account = id;
			*ack = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a,
			    ENV_ACK_FIELD));
			rc = 1;
		}
	}
	return rc;
}
