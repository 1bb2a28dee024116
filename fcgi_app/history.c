/*
 * A page of history as history_return packets (PROTOCOL.md section 7,
 * history): newest first, as many messages per packet as fit in PACKET_MAX
 * bytes, every packet but the last marked "more": true, the last "oldest":
 * true when nothing older exists.  The account's own messages carry
 * "delivered" and "read", what a client shows as ticks.  A pure function
 * of the page, like friendlist.c.
 *
 * Packets are measured with "oldest": true in them, the longer of the two
 * marks, so that swapping it for "more" or dropping it never makes one too
 * long.  history_fits() is send_message's promise that every stored
 * message fits a packet of its own; one stored before that promise (up to
 * 1919 bytes were taken then) goes out cut to fit, marked "truncated", so
 * that no page fails and no msg_id is left out.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_app.h"
#include "shared.h"

static int
history_add_id(cJSON *o, const char *name, uint64_t id)
{
	char	buf[ID_STR_MAX];

	snprintf(buf, sizeof(buf), "%" PRIu64, id);
	return cJSON_AddStringToObject(o, name, buf) == NULL ? -1 : 0;
}

static size_t
history_len(cJSON *item)
{
	char	buf[PACKET_MAX + JSON_SLACK];

	if (!cJSON_PrintPreallocated(item, buf, sizeof(buf), 0))
		return 0;
	return strlen(buf) > PACKET_MAX ? 0 : strlen(buf);
}

static cJSON *
history_entry(uint64_t account, const struct history_item *h)
{
	cJSON	*e;

	if ((e = cJSON_CreateObject()) == NULL)
		return NULL;
	if (history_add_id(e, "msg_id", h->m.id) == -1 ||
	    history_add_id(e, "src", h->m.src) == -1 ||
	    history_add_id(e, "dst", h->m.dst) == -1 ||
	    cJSON_AddStringToObject(e, "message", h->m.body) == NULL ||
	    cJSON_AddStringToObject(e, "time", h->m.time) == NULL)
		goto fail;
	if (h->m.src == account &&
	    (cJSON_AddBoolToObject(e, "delivered", h->delivered) == NULL ||
	    cJSON_AddBoolToObject(e, "read", h->read) == NULL))
		goto fail;
	return e;
fail:
	cJSON_Delete(e);
	return NULL;
}

/*
 * h's entry cut to fit a packet whose other bytes are base: its body ends
 * at a character boundary, and "truncated": true says so.  NULL when
 * memory ran out.
 */
static cJSON *
history_entry_cut(uint64_t account, const struct history_item *h, size_t base)
{
	struct history_item	 cut = *h;
	char			 body[PACKET_MAX + 1];
	cJSON			*e;
	char			*text;
	size_t			 n, len;

	n = strnlen(h->m.body, PACKET_MAX);
	memcpy(body, h->m.body, n);
	body[n] = '\0';
	cut.m.body = body;
	for (;;) {
		if ((e = history_entry(account, &cut)) == NULL)
			return NULL;
		if (cJSON_AddTrueToObject(e, "truncated") == NULL ||
		    (text = cJSON_PrintUnformatted(e)) == NULL) {
			cJSON_Delete(e);
			return NULL;
		}
		len = strlen(text);
		free(text);
		if (base + len <= PACKET_MAX || n == 0)
			return e;
		cJSON_Delete(e);
		/* An escape is longer than its byte: cutting this is enough. */
		n = base + len - PACKET_MAX < n ? n - (base + len - PACKET_MAX) : 0;
		while (n > 0 && ((unsigned char)body[n] & 0xc0) == 0x80)
			n--;
		body[n] = '\0';
	}
}

/* An empty packet with "oldest": true, its "messages" in *list. */
static cJSON *
history_packet(uint64_t with, cJSON **list)
{
	cJSON	*p;

	if ((p = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(p, "command", "history_return") == NULL ||
	    cJSON_AddStringToObject(p, "status", "success") == NULL ||
	    history_add_id(p, "with", with) == -1 ||
	    (*list = cJSON_AddArrayToObject(p, "messages")) == NULL ||
	    cJSON_AddTrueToObject(p, "oldest") == NULL) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

/* A full packet goes out with "more" in place of "oldest". */
static int
history_emit_more(cJSON *p, int (*emit)(void *, cJSON *), void *arg)
{
	cJSON_DeleteItemFromObjectCaseSensitive(p, "oldest");
	if (cJSON_AddTrueToObject(p, "more") == NULL)
		return -1;
	return emit(arg, p);
}

/*
 * Calls emit with each packet of account's page of n messages with with,
 * newest first; oldest: nothing older exists.  -1 if memory ran out, a
 * message cannot fit a packet, or emit failed.
 */
int
history_packets(uint64_t account, uint64_t with,
    const struct history_item *h, size_t n, int oldest,
    int (*emit)(void *, cJSON *), void *arg)
{
	cJSON	*p, *list, *e;
	size_t	 i, base, len, elen, count = 0;

	if ((p = history_packet(with, &list)) == NULL ||
	    (base = history_len(p)) == 0)
		goto fail;
	for (len = base, i = 0; i < n; i++) {
		if ((e = history_entry(account, &h[i])) == NULL)
			goto fail;
		if ((elen = history_len(e)) == 0 || base + elen > PACKET_MAX) {
			cJSON_Delete(e);
			if ((e = history_entry_cut(account, &h[i], base)) ==
			    NULL || (elen = history_len(e)) == 0 ||
			    base + elen > PACKET_MAX)
				goto fail_entry;
		}
		if (count > 0 && len + 1 + elen > PACKET_MAX) {
			if (history_emit_more(p, emit, arg) == -1)
				goto fail_entry;
			cJSON_Delete(p);
			if ((p = history_packet(with, &list)) == NULL)
				goto fail_entry;
			len = base;
			count = 0;
		}
		if (!cJSON_AddItemToArray(list, e))
			goto fail_entry;
		len += elen + (count > 0);
		count++;
	}
	if (!oldest)
		cJSON_DeleteItemFromObjectCaseSensitive(p, "oldest");
	if (emit(arg, p) == -1)
		goto fail;
	cJSON_Delete(p);
	return 0;
fail_entry:
	cJSON_Delete(e);
fail:
	cJSON_Delete(p);
	return -1;
}

/*
 * Whether body from src to dst fits a history_return of its own whoever
 * asks, with the longest msg_id, both flags false (their longer spelling)
 * and "oldest": 1 if it fits, 0 if not, -1 when memory ran out.
 */
int
history_fits(uint64_t src, uint64_t dst, const char *body)
{
	struct history_item	 h;
	cJSON			*p, *list, *e;
	size_t			 len;

	memset(&h, 0, sizeof(h));
	h.m.id = UINT64_MAX;
	h.m.src = src;
	h.m.dst = dst;
	h.m.body = body;
	snprintf(h.m.time, sizeof(h.m.time), "0000-00-00T00:00:00Z");
	if ((p = history_packet(src > dst ? src : dst, &list)) == NULL)
		return -1;
	if ((e = history_entry(src, &h)) == NULL ||
	    !cJSON_AddItemToArray(list, e)) {
		cJSON_Delete(e);
		cJSON_Delete(p);
		return -1;
	}
	len = history_len(p);
	cJSON_Delete(p);
	return len != 0;
}
