/*
 * libFuzzer target for the daemon's reading of a worker's answer: the
 * {"answers":[...]} body as upstream.c takes it apart, each entry's action
 * list through route.c's route_answer().  No connection exists here, so
 * every action takes the path of a connection that has gone (its own sends
 * dropped, bind and unbind noted for its closed event): what is checked is
 * that no answer, however it is made, crashes the daemon or overflows the
 * account it notes.  A body with "sends" goes through route_remote() as
 * a message from another node through Redis does (push_daemon/relay.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "../../common/envelope.h"
#include "../../push_daemon/push_daemon.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct config	conf;

struct conn *
conn_find(uint64_t id)
{
	(void)id;
	return NULL;
}

struct conn *
online_first(const char *account)
{
	if (account == NULL)
		abort();
	return NULL;
}

/* Never reached without a connection: each is a bug if it is. */
void
deliver_send(struct conn *c, const char *d, size_t l, const char *t, int f)
{
	(void)c; (void)d; (void)l; (void)t; (void)f;
	abort();
}

void
deliver_fetch(struct conn *c, const char *b, size_t l)
{
	(void)c; (void)b; (void)l;
	abort();
}

void
conn_bind(struct conn *c, const char *a, int ack)
{
	(void)c; (void)a; (void)ack;
	abort();
}

void
conn_unbind(struct conn *c)
{
	(void)c;
	abort();
}

void
conn_close(struct conn *c, const char *r)
{
	(void)c; (void)r;
	abort();
}

void
conn_close_after_write(struct conn *c, const char *r)
{
	(void)c; (void)r;
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const cJSON	*answers, *a, *actions;
	cJSON		*root;
	char		 gone[ACCOUNT_MAX];

	if ((root = cJSON_ParseWithLength((const char *)data, size)) == NULL)
		return 0;
	(void)route_remote(cJSON_GetObjectItemCaseSensitive(root,
	    RELAY_SENDS));
	answers = cJSON_GetObjectItemCaseSensitive(root, ENV_ANSWERS);
	if (!cJSON_IsArray(answers))
		answers = NULL;
	cJSON_ArrayForEach(a, answers) {
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a,
		    ENV_FAILED)))
			continue;
		actions = cJSON_GetObjectItemCaseSensitive(a, ENV_ACTIONS);
		memcpy(gone, "10000", 6);
		(void)route_answer(1, actions, gone, sizeof(gone), 0);
		if (memchr(gone, '\0', sizeof(gone)) == NULL)
			abort();
	}
	cJSON_Delete(root);
	return 0;
}
