/*
 * Applies a worker's answer: {"actions":[...]} in order (docs/
 * ARCHITECTURE.md).  The sender is looked up by id for every action,
 * because an earlier action (a send that overflows its output) may have
 * closed it; when it has gone, its own sends are dropped, sends to
 * accounts still go out, and bind/unbind are tracked in *gone so that
 * upstream.c can tell the workers the binding has ended.
 */
#include <inttypes.h>
#include <string.h>

#include <cJSON.h>

#include "envelope.h"
#include "log.h"
#include "push_daemon.h"

/* Sends data to every connection of account on this node. */
static void
route_fanout(const char *account, const char *data, size_t len)
{
	struct conn	*c, *next;

	/* A write may close c (slow client), which unlinks only c. */
	for (c = online_first(account); c != NULL; c = next) {
		next = LIST_NEXT(c, online_entry);
		conn_write(c, data, len);
	}
}

static int
route_send(uint64_t id, const cJSON *action)
{
	const cJSON	*data, *account;
	struct conn	*c;

	data = cJSON_GetObjectItemCaseSensitive(action, ENV_DATA);
	account = cJSON_GetObjectItemCaseSensitive(action, ENV_ACCOUNT_FIELD);
	if (!cJSON_IsString(data))
		return -1;
	if (cJSON_IsString(account))
		route_fanout(account->valuestring, data->valuestring,
		    strlen(data->valuestring));
	else if (account != NULL && !cJSON_IsNull(account))
		return -1;
	else if ((c = conn_find(id)) != NULL)
		conn_write(c, data->valuestring, strlen(data->valuestring));
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
route_action(uint64_t id, const cJSON *action, char *gone, size_t gonesz)
{
	const cJSON	*op;
	struct conn	*c;

	op = cJSON_GetObjectItemCaseSensitive(action, ENV_OP);
	if (!cJSON_IsString(op))
		return -1;
	if (strcmp(op->valuestring, ENV_OP_SEND) == 0)
		return route_send(id, action);
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
 * Applies the JSON answer body of len bytes for connection id.  Returns
 * -1 if the body is not an action list (nothing was applied then); a bad
 * action is logged and skipped, the others still apply.
 */
int
route_answer(uint64_t id, const char *body, size_t len, char *gone,
    size_t gonesz)
{
	cJSON		*root;
	const cJSON	*actions, *action;
	int		 i = 0;

	if ((root = cJSON_ParseWithLength(body, len)) == NULL)
		return -1;
	actions = cJSON_GetObjectItemCaseSensitive(root, ENV_ACTIONS);
	if (!cJSON_IsObject(root) || !cJSON_IsArray(actions)) {
		cJSON_Delete(root);
		return -1;
	}
	cJSON_ArrayForEach(action, actions) {
		if (route_action(id, action, gone, gonesz) == -1)
			log_warnx("conn %" PRIu64 ": bad action %d in a worker "
			    "answer, skipped", id, i);
		i++;
	}
	cJSON_Delete(root);
	return 0;
}
