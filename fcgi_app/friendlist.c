/*
 * A friend list as list_friend_return packets (PROTOCOL.md, list_friend),
 * and a list of blocked accounts as list_blocked_return ones, which page
 * the same way: as many entries per packet as fit in PACKET_MAX bytes, in
 * order, every packet but the last marked "more": true.  Pure functions of
 * the list, so that the unit tests can take them apart.
 *
 * Sizes are added up rather than measured by printing the packet again at
 * each friend: cJSON prints an array as "[" a "," b ... "]" and an object
 * always the same way, so the packet's length is that of the packet with
 * an empty list plus each entry and its comma.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fcgi_app.h"
#include "shared.h"


/* Printed length of item, or 0 if it is longer than a packet. */
static size_t
friendlist_len(cJSON *item)
{
	char	buf[PACKET_MAX + JSON_SLACK];

	if (!cJSON_PrintPreallocated(item, buf,
	    sizeof(buf), 0))
		return 0;
	return strlen(buf) > PACKET_MAX ? 0 : strlen(buf);
}

/* What differs between the two lists. */
struct list_kind {
	const char	*command;		/* of the answer */
	const char	*array;			/* its list's name */
	cJSON		*(*entry)(const struct friend *);
};

static cJSON *
friendlist_entry(const struct friend *f)
{
	cJSON	*e;
	char	 id[ID_STR_MAX];

	snprintf(id, sizeof(id), "%" PRIu64, f->id);
	if ((e = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(e, "id", id) == NULL ||
	    cJSON_AddStringToObject(e, "username", f->username) == NULL ||
	    cJSON_AddStringToObject(e, "status", f->status ? "1" : "0") ==
	    NULL ||
	    cJSON_AddBoolToObject(e, "online", f->online) == NULL) {
		cJSON_Delete(e);
		return NULL;
	}
	return e;
}

/* A blocked account: its id and name, nothing of a friend's. */
static cJSON *
blocklist_entry(const struct friend *f)
{
	cJSON	*e;
	char	 id[ID_STR_MAX];

	snprintf(id, sizeof(id), "%" PRIu64, f->id);
	if ((e = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(e, "id", id) == NULL ||
	    cJSON_AddStringToObject(e, "username", f->username) == NULL) {
		cJSON_Delete(e);
		return NULL;
	}
	return e;
}

static const struct list_kind friend_kind = {
	"list_friend_return", "friends", friendlist_entry
};
static const struct list_kind block_kind = {
	"list_blocked_return", "blocked", blocklist_entry
};

/* An empty packet, "more": true, and its list in *list. */
static cJSON *
friendlist_packet(const struct list_kind *k, uint64_t id, cJSON **list)
{
	cJSON	*p;
	char	 buf[ID_STR_MAX];

	snprintf(buf, sizeof(buf), "%" PRIu64, id);
	if ((p = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(p, "command", k->command) == NULL ||
	    cJSON_AddStringToObject(p, "id", buf) == NULL ||
	    cJSON_AddStringToObject(p, "status", "success") == NULL ||
	    (*list = cJSON_AddArrayToObject(p, k->array)) == NULL ||
	    cJSON_AddTrueToObject(p, "more") == NULL) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

/*
 * Calls emit with each packet of id's list of n entries, in order.
 * -1 if memory ran out or emit failed.
 */
static int
list_packets(const struct list_kind *k, uint64_t id, const struct friend *f,
    size_t n, int (*emit)(void *, cJSON *), void *arg)
{
	cJSON	*p, *list, *e;
	size_t	 i, base, len, elen, count = 0;

	if ((p = friendlist_packet(k, id, &list)) == NULL ||
	    (base = friendlist_len(p)) == 0)
		goto fail;
	for (len = base, i = 0; i < n; i++) {
		if ((e = k->entry(&f[i])) == NULL)
			goto fail;
		if ((elen = friendlist_len(e)) == 0 || base + elen > PACKET_MAX)
			goto fail_entry;	/* cannot fit even alone */
		if (count > 0 && len + 1 + elen > PACKET_MAX) {
			if (emit(arg, p) == -1)
				goto fail_entry;
			cJSON_Delete(p);
			if ((p = friendlist_packet(k, id, &list)) == NULL)
				goto fail_entry;
			len = base;
			count = 0;
		}
		if (!cJSON_AddItemToArray(list, e))
			goto fail_entry;
		len += elen + (count > 0);
		count++;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(p, "more");
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

int
friendlist_packets(uint64_t id, const struct friend *f, size_t n,
    int (*emit)(void *, cJSON *), void *arg)
{
	return list_packets(&friend_kind, id, f, n, emit, arg);
}

int
blocklist_packets(uint64_t id, const struct friend *f, size_t n,
    int (*emit)(void *, cJSON *), void *arg)
{
	return list_packets(&block_kind, id, f, n, emit, arg);
}
