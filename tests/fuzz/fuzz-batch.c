/*
 * libFuzzer target for the worker's reading of a batch (fcgi_app/
 * batch-parse.c): whatever the bytes, batch_parse() either refuses them or
 * hands out at most the events it may, each of a known kind, each body
 * lying inside the input, and sessions whose strings end inside their
 * buffers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/envelope.h"
#include "../../fcgi_app/fcgi_app.h"

#define MAX_EVENTS	16

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_str(const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct batch_event	 evs[MAX_EVENTS];
	const char			*buf = (const char *)data, *errstr;
	size_t				 n, i;

	if (batch_parse(buf, size, "node1", evs, MAX_EVENTS, &n,
	    &errstr) == -1) {
		if (errstr == NULL)
			abort();
		return 0;
	}
	if (n > MAX_EVENTS)
		abort();
	for (i = 0; i < n; i++) {
		if (evs[i].body < buf || evs[i].body_len > size ||
		    evs[i].body + evs[i].body_len > buf + size)
			abort();
		if (strcmp(evs[i].name, ENV_EVENT_PACKET) != 0 &&
		    strcmp(evs[i].name, ENV_EVENT_FETCH) != 0 &&
		    strcmp(evs[i].name, ENV_EVENT_WRITTEN) != 0 &&
		    strcmp(evs[i].name, ENV_EVENT_CLOSED) != 0 &&
		    strcmp(evs[i].name, ENV_EVENT_STARTED) != 0 &&
		    strcmp(evs[i].name, ENV_EVENT_REFUSED) != 0)
			abort();
		if (evs[i].session.conn_id == 0)
			abort();
		check_str(evs[i].session.transport,
		    sizeof(evs[i].session.transport));
		check_str(evs[i].session.remote_addr,
		    sizeof(evs[i].session.remote_addr));
		check_str(evs[i].detail, sizeof(evs[i].detail));
	}
	return 0;
}
