/*
 * The packets the server sends without being asked: a friend request
 * forwarded to its recipient, the answer to a request, a message.  Each is
 * built here once, so that the live send (by the command) and the send
 * again (by a fetch, event.c) are the same bytes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fcgi_app.h"
#include "shared.h"


static int
notice_add_id(cJSON *p, const char *name, uint64_t id)
{
	char	buf[ID_STR_MAX];

	snprintf(buf, sizeof(buf), "%" PRIu64, id);
	return cJSON_AddStringToObject(p, name, buf) == NULL ? -1 : 0;
}

/* {"command":cmd,"src":...,"dst":...}, the start of every notice. */
static cJSON *
notice_new(const char *cmd, uint64_t src, uint64_t dst)
{
	cJSON	*p;

	if ((p = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(p, "command", cmd) == NULL ||
	    notice_add_id(p, "src", src) == -1 ||
	    notice_add_id(p, "dst", dst) == -1) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

/*
 * {"command":cmd,"src":src,"dst":dst}: remove_friend and cancel_friend, which
 * say no more than who ended what.  The caller owns the packet.
 */
cJSON *
notice_pair(const char *cmd, uint64_t src, uint64_t dst)
{
	return notice_new(cmd, src, dst);
}

/* What the recipient of q sees; the caller owns the packet. */
cJSON *
notice_friend_request(const struct friend_request *q)
{
	cJSON	*p;

	if ((p = notice_new("add_friend", q->from, q->to)) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(p, "status", q->status ? "1" : "0") ==
	    NULL ||
	    cJSON_AddStringToObject(p, "message", "confirm_one_way") == NULL ||
	    cJSON_AddStringToObject(p, "username", q->username) == NULL) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

/*
 * add_friend_confirm_return for both sides of a confirm; the requester's
 * copy of a reject is a fail with detail "rejected".
 */
cJSON *
notice_friend_result(const struct friend_result *res)
{
	cJSON	*p;

	if ((p = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(p, "command",
	    "add_friend_confirm_return") == NULL ||
	    cJSON_AddStringToObject(p, "status",
	    res->confirmed ? "success" : "fail") == NULL ||
	    (!res->confirmed &&
	    cJSON_AddStringToObject(p, "detail", "rejected") == NULL) ||
	    notice_add_id(p, "src", res->src) == -1 ||
	    notice_add_id(p, "dst", res->dst) == -1) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

/* m under the name cmd: what the recipient, or the sender's carbon, gets. */
static cJSON *
notice_message_as(const char *cmd, const struct message *m)
{
	cJSON	*p;

	if ((p = notice_new(cmd, m->src, m->dst)) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(p, "message", m->body) == NULL ||
	    notice_add_id(p, "msg_id", m->id) == -1 ||
	    cJSON_AddStringToObject(p, "time", m->time) == NULL) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

/* The send_message packet as the recipient gets it. */
cJSON *
notice_message(const struct message *m)
{
	return notice_message_as("send_message", m);
}

/*
 * The sender's success for m, with the msg_id and time the recipient sees:
 * an extension of the original answer (whose clients ignore the extra
 * fields), so that a client can tick the message it sent, and page
 * history, without guessing which stored message is its own.
 */
cJSON *
notice_sent_return(const struct message *m)
{
	cJSON	*p;

	if ((p = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(p, "command", "send_message_return") ==
	    NULL ||
	    cJSON_AddStringToObject(p, "status", "success") == NULL ||
	    notice_add_id(p, "msg_id", m->id) == -1 ||
	    cJSON_AddStringToObject(p, "time", m->time) == NULL) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

/*
 * The carbon of m for its sender's other connections: the same fields as
 * the recipient's packet, under its own name, so that a client tells what
 * its person sent from another device from what it was sent.
 */
cJSON *
notice_sent(const struct message *m)
{
	return notice_message_as("sent", m);
}

/*
 * A message's track, "m<id>.<src>": its written report marks it delivered
 * (event.c) and names whom to send the receipt, with no query.  The live
 * send and a fetch use the same, so that the daemon drops a live copy a
 * fetch has written (deliver.c).
 */
void
notice_message_track(const struct message *m, char *buf, size_t size)
{
	snprintf(buf, size, "m%" PRIu64 ".%" PRIu64, m->id, m->src);
}

/*
 * Whether the packet delivering body from src to dst fits in PACKET_MAX
 * bytes whatever id and time it will get: measured, before the message is
 * stored, with the longest id there is and a time of the fixed length.
 * cJSON writes non-ASCII as raw UTF-8, so bytes are what is counted.
 * 1 if it fits, 0 if not, -1 when memory ran out.
 */
int
notice_message_fits(uint64_t src, uint64_t dst, const char *body)
{
	struct message	 m;
	char		 buf[PACKET_MAX + JSON_SLACK];
	cJSON		*p;
	int		 fits;

	memset(&m, 0, sizeof(m));
	m.id = UINT64_MAX;
	m.src = src;
	m.dst = dst;
	m.body = body;
	snprintf(m.time, sizeof(m.time), "0000-00-00T00:00:00Z");
	if ((p = notice_message(&m)) == NULL)
		return -1;
	fits = cJSON_PrintPreallocated(p, buf, sizeof(buf), 0) &&
	    strlen(buf) <= PACKET_MAX;
	cJSON_Delete(p);
	return fits;
}
