/*
 * Applies a worker's answer to one event: its actions, in order (docs/
 * ARCHITECTURE.md).  The sender is looked up by id for every action,
 * because an earlier action (a send that overflows its output) may have
 * closed it; when it has gone, its own sends are dropped, sends to
 * accounts still go out, and bind/unbind are tracked in *gone so that
 * conn.c can tell the workers the binding has ended.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "envelope.h"
#include "log.h"
#include "push_daemon.h"

/*
 * Sends data to every connection of account on this node but skip (0:
 * none): a carbon goes to the sender's other connections.
 */
static void
route_fanout(const char *account, const char *data, size_t len,
    const char *track, uint64_t skip)
{
	struct conn	*c, *next;

	/* A write may close c (slow client), which unlinks only c. */
	for (c = online_first(account); c != NULL; c = next) {
		next = LIST_NEXT(c, online_entry);
		if (c->id != skip)
			deliver_send(c, data, len, track, DELIVER_ACCOUNT);
	}
}

/* A "track" is 1..TRACK_MAX characters; anything else is no track. */
static const char *
route_track(const cJSON *action)
{
	const cJSON	*track;
	size_t		 len;

	track = cJSON_GetObjectItemCaseSensitive(action, ENV_TRACK_FIELD);
	if (!cJSON_IsString(track))
		return NULL;
	len = strlen(track->valuestring);
	return len > 0 && len <= TRACK_MAX ? track->valuestring : NULL;
}

static int
route_send(uint64_t id, const cJSON *action, int fetch)
{
	const cJSON	*data, *account;
	const char	*track = route_track(action);
	struct conn	*c;
	int		 others;

	data = cJSON_GetObjectItemCaseSensitive(action, ENV_DATA);
	account = cJSON_GetObjectItemCaseSensitive(action, ENV_ACCOUNT_FIELD);
	others = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(action,
	    ENV_OTHERS_FIELD));
	if (!cJSON_IsString(data))
		return -1;
	if (cJSON_IsString(account))
		route_fanout(account->valuestring, data->valuestring,
		    strlen(data->valuestring), track, others ? id : 0);
	else if (account != NULL && !cJSON_IsNull(account))
		return -1;
	else if ((c = conn_find(id)) != NULL)
		deliver_send(c, data->valuestring, strlen(data->valuestring),
		    track, fetch ? DELIVER_FETCHED : 0);
	return 0;
}

/* The body of the fetch event: {"after": <the action's after>} or empty. */
static int
route_fetch(uint64_t id, const cJSON *action)
{
	const cJSON	*after;
	cJSON		*root = NULL, *dup;
	char		*body = NULL;
	struct conn	*c;

	if ((c = conn_find(id)) == NULL)
		return 0;
	after = cJSON_GetObjectItemCaseSensitive(action, ENV_AFTER_FIELD);
	if (after == NULL) {
		deliver_fetch(c, "", 0);
		return 0;
	}
	if ((root = cJSON_CreateObject()) == NULL ||
	    (dup = cJSON_Duplicate(after, 1)) == NULL)
		goto fail;
	cJSON_AddItemToObject(root, ENV_AFTER_FIELD, dup);
	if ((body = cJSON_PrintUnformatted(root)) == NULL)
		goto fail;
	deliver_fetch(c, body, strlen(body));
	free(body);
	cJSON_Delete(root);
	return 0;
fail:
	cJSON_Delete(root);
	conn_close(c, "out of memory");
	return 0;
}

static int
route_bind(uint64_t id, const cJSON *action, char *gone, size_t gonesz)
{
	const cJSON	*account, *ack;
	struct conn	*c;
	size_t		 len;

	account = cJSON_GetObjectItemCaseSensitive(action, ENV_ACCOUNT_FIELD);
	ack = cJSON_GetObjectItemCaseSensitive(action, ENV_ACK_FIELD);
	if (!cJSON_IsString(account))
		return -1;
	len = strlen(account->valuestring);
	if (len == 0 || len >= ACCOUNT_MAX || len >= gonesz)
		return -1;
	if ((c = conn_find(id)) != NULL)
		conn_bind(c, account->valuestring, cJSON_IsTrue(ack));
	else
		memcpy(gone, account->valuestring, len + 1);
	return 0;
}

static int
route_action(uint64_t id, const cJSON *action, char *gone, size_t gonesz,
    int fetch)
{
	const cJSON	*op;
	struct conn	*c;

	op = cJSON_GetObjectItemCaseSensitive(action, ENV_OP);
	if (!cJSON_IsString(op))
		return -1;
	if (strcmp(op->valuestring, ENV_OP_SEND) == 0)
		return route_send(id, action, fetch);
	if (strcmp(op->valuestring, ENV_OP_FETCH) == 0)
		return route_fetch(id, action);
	if (strcmp(op->valuestring, ENV_OP_BIND) == 0)
		return route_bind(id, action, gone, gonesz);
	if (strcmp(op->valuestring, ENV_OP_UNBIND) == 0) {
		if ((c = conn_find(id)) != NULL)
			conn_unbind(c);
		else
			gone[0] = '\0';
		return 0;
	}
	if (strcmp(op->valuestring, ENV_OP_CLOSE) == 0) {
		if ((c = conn_find(id)) != NULL)
			conn_close_after_write(c, "closed by worker");
		return 0;
	}
	return -1;
}

/*
 * Applies the action list of one event for connection id.  Returns -1 if
 * it is not a list (nothing was applied then); a bad action is logged and
 * skipped, the others still apply.
 */
int
route_answer(uint64_t id, const cJSON *actions, char *gone, size_t gonesz,
    int fetch)
{
	const cJSON	*action;
	int		 i = 0;

	if (!cJSON_IsArray(actions))
		return -1;
	cJSON_ArrayForEach(action, actions) {
		if (route_action(id, action, gone, gonesz, fetch) == -1)
			log_warnx("conn %" PRIu64 ": bad action %d in a worker "
			    "answer, skipped", id, i);
		i++;
	}
	return 0;
}

/*
 * Sends from another node's worker (relay.c), or a heartbeat's answer:
 * only sends to an account apply, each as a local send to that account
 * would; anything else is skipped.  What Redis brings is checked as what
 * a worker answers is: a packet longer than PACKET_MAX, an account or a
 * track out of bounds is dropped.  -1 if sends is not a list.
 */
int
route_remote(const cJSON *sends)
{
	const cJSON	*action, *op, *data, *account;
	size_t		 len;

	if (!cJSON_IsArray(sends))
		return -1;
	cJSON_ArrayForEach(action, sends) {
		op = cJSON_GetObjectItemCaseSensitive(action, ENV_OP);
		data = cJSON_GetObjectItemCaseSensitive(action, ENV_DATA);
		account = cJSON_GetObjectItemCaseSensitive(action,
		    ENV_ACCOUNT_FIELD);
		if (!cJSON_IsString(op) ||
		    strcmp(op->valuestring, ENV_OP_SEND) != 0)
			continue;
		if (!cJSON_IsString(data) || !cJSON_IsString(account) ||
		    (len = strlen(data->valuestring)) == 0 ||
		    len > PACKET_MAX ||
		    strlen(account->valuestring) >= ACCOUNT_MAX) {
			log_warnx("a relayed send is malformed, dropped");
			continue;
		}
		route_fanout(account->valuestring, data->valuestring, len,
		    route_track(action), 0);
	}
	return 0;
}

/*
 * The answer to an event that is no packet of a client's (a written
 * report, a closed connection): sends to accounts, the receipts and
 * presence notices it carries.  Such an answer binds nothing, so what
 * route_answer would note of a binding is dropped.
 */
void
route_report(uint64_t id, const cJSON *actions)
{
	char	gone[ACCOUNT_MAX] = "";

	if (route_answer(id, actions, gone, sizeof(gone), 0) == -1)
		log_warnx("conn %" PRIu64 ": bad answer to a report", id);
}
