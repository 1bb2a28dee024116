/*
 * The receipt notice (PROTOCOL.md section 7): a sender's connections are
 * told that messages they sent were delivered (written to a connection of
 * the recipient not in ack mode, or acked) or read.  Not stored: history
 * gives the same state later.  Many ids go in one packet, split so that
 * each stays far below PACKET_MAX.
 */
#include <inttypes.h>
#include <stdio.h>

#include "fcgi_app.h"
#include "shared.h"

/* 64 ids of 20 digits, quoted, are about 1 400 bytes. */
#define RECEIPT_IDS	64

static cJSON *
receipt_packet(uint64_t recipient, const char *status, cJSON **ids)
{
	cJSON	*p;
	char	 buf[ID_STR_MAX];

	snprintf(buf, sizeof(buf), "%" PRIu64, recipient);
	if ((p = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(p, "command", "receipt") == NULL ||
	    cJSON_AddStringToObject(p, "dst", buf) == NULL ||
	    (*ids = cJSON_AddArrayToObject(p, "msg_ids")) == NULL ||
	    cJSON_AddStringToObject(p, "status", status) == NULL) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

/*
 * Tells every connection of sender that the n messages ids it sent to
 * recipient are status ("delivered" or "read").  0, or -1 when memory ran
 * out (nothing is lost: history still tells).
 */
int
receipt_send(struct reply *r, uint64_t sender, uint64_t recipient,
    const uint64_t *ids, size_t n, const char *status)
{
	cJSON	*p, *list, *id;
	char	 buf[ID_STR_MAX];
	size_t	 i, j;
	int	 rc = 0;

	for (i = 0; i < n && rc == 0; i += RECEIPT_IDS) {
		if ((p = receipt_packet(recipient, status, &list)) == NULL)
			return -1;
		for (j = i; j < n && j < i + RECEIPT_IDS; j++) {
			snprintf(buf, sizeof(buf), "%" PRIu64, ids[j]);
			if ((id = cJSON_CreateString(buf)) == NULL ||
			    !cJSON_AddItemToArray(list, id)) {
				cJSON_Delete(id);
				rc = -1;
				break;
			}
		}
		if (rc == 0)
			rc = reply_account(r, sender, p);
		cJSON_Delete(p);
	}
	return rc;
}
