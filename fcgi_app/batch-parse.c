/*
 * Reading a batch from the daemon (common/envelope.h): a run of events,
 * each a one-line JSON header and the bytes it announces.  No I/O and no
 * database, so unit tests and a fuzz target can drive it alone.  A batch
 * that breaks the format is refused whole: only the daemon writes them,
 * so a broken one is a bug there, and guessing where the next event
 * starts could hand one connection's bytes to another.
 */
#include <stdio.h>
#include <string.h>

#include "envelope.h"
#include "fcgi_app.h"

static const char *const batch_event_names[] = {
	ENV_EVENT_PACKET, ENV_EVENT_FETCH, ENV_EVENT_WRITTEN, ENV_EVENT_CLOSED,
	ENV_EVENT_STARTED, ENV_EVENT_REFUSED, ENV_EVENT_HEARTBEAT, NULL
};

/* A string field of at most size - 1 bytes into buf; -1 otherwise. */
static int
batch_str(const cJSON *h, const char *name, char *buf, size_t size)
{
	const char	*v;

	if ((v = packet_get_str(h, name)) == NULL || strlen(v) >= size)
		return -1;
	snprintf(buf, size, "%s", v);
	return 0;
}

static int
batch_known(const char *name)
{
	const char *const	*n;

	for (n = batch_event_names; *n != NULL; n++)
		if (strcmp(*n, name) == 0)
			return 1;
	return 0;
}

/* The header h into ev; the body's length into *length. */
static int
batch_header(const cJSON *h, struct batch_event *ev, size_t *length,
    const char **errstr)
{
	struct session	*s = &ev->session;
	const cJSON	*len;
	char		 account[ID_STR_MAX];
	int		 ack;

	if (batch_str(h, ENV_EV_EVENT, ev->name, sizeof(ev->name)) == -1 ||
	    !batch_known(ev->name)) {
		*errstr = "unknown event";
		return -1;
	}
	if (packet_get_id(h, ENV_EV_CONN, &s->conn_id) != PACKET_ID_OK) {
		*errstr = "bad conn";
		return -1;
	}
	if (batch_str(h, ENV_EV_ACCOUNT, account, sizeof(account)) == -1 ||
	    (account[0] != '\0' && packet_id_parse(account, &s->account) == -1)) {
		*errstr = "bad account";
		return -1;
	}
	if (packet_get_bool(h, ENV_EV_ACK, &ack) == -1 ||
	    batch_str(h, ENV_EV_TRANSPORT, s->transport,
	    sizeof(s->transport)) == -1 ||
	    batch_str(h, ENV_EV_REMOTE, s->remote_addr,
	    sizeof(s->remote_addr)) == -1) {
		*errstr = "bad session";
		return -1;
	}
	s->ack_mode = ack;
	if (strcmp(ev->name, ENV_EVENT_REFUSED) == 0 &&
	    batch_str(h, ENV_EV_DETAIL, ev->detail, sizeof(ev->detail)) == -1) {
		*errstr = "refused without a detail";
		return -1;
	}
	len = cJSON_GetObjectItemCaseSensitive(h, ENV_EV_LENGTH);
	if (!cJSON_IsNumber(len) || len->valuedouble < 0 ||
	    len->valuedouble > ENV_BATCH_BODY_MAX ||
	    len->valuedouble != (double)(size_t)len->valuedouble) {
		*errstr = "bad length";
		return -1;
	}
	*length = (size_t)len->valuedouble;
	return 0;
}

/*
 * Splits buf (len bytes) into at most max events.  Every event's session
 * names node (the batch's CHAT_NODE); bodies point into buf.  Returns 0
 * with *n set, or -1 with *errstr.
 */
int
batch_parse(const char *buf, size_t len, const char *node,
    struct batch_event *evs, size_t max, size_t *n, const char **errstr)
{
	const char	*nl;
	cJSON		*h;
	size_t		 pos = 0, hlen, blen;
	int		 rc;

	*n = 0;
	while (pos < len) {
		if (*n == max) {
			*errstr = "too many events";
			return -1;
		}
		hlen = len - pos < ENV_BATCH_HEADER_MAX ? len - pos :
		    ENV_BATCH_HEADER_MAX;
		if ((nl = memchr(buf + pos, '\n', hlen)) == NULL) {
			*errstr = "no header line";
			return -1;
		}
		hlen = (size_t)(nl - (buf + pos));
		if ((h = cJSON_ParseWithLength(buf + pos, hlen)) == NULL ||
		    !cJSON_IsObject(h)) {
			cJSON_Delete(h);
			*errstr = "header is not a JSON object";
			return -1;
		}
		memset(&evs[*n], 0, sizeof(evs[*n]));
		rc = batch_header(h, &evs[*n], &blen, errstr);
		cJSON_Delete(h);
		if (rc == -1)
			return -1;
		pos += hlen + 1;
		if (blen > len - pos) {
			*errstr = "body cut short";
			return -1;
		}
		snprintf(evs[*n].session.node, sizeof(evs[*n].session.node),
		    "%s", node);
		evs[*n].body = buf + pos;
		evs[*n].body_len = blen;
		pos += blen;
		(*n)++;
	}
	return 0;
}
