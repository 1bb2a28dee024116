/*
 * Reading client packets: the checks before and around cJSON_Parse, and the
 * typed field readers handlers use.  Readers return NULL / an error value
 * for a missing field or a wrong JSON type; deciding whether that is
 * "bad request" is the gate's job (cmd.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_app.h"

/* Ids sent as JSON numbers must be exact in a double. */
#define PACKET_ID_NUMBER_MAX	9007199254740992.0	/* 2^53 */

#define USERNAME_MAX		32	/* code points */

/*
 * Parses one packet; on failure *detail is the error packet's detail, in
 * docs/ARCHITECTURE.md's order: encoding, then JSON, then "command".  s
 * must be NUL-ended at s[len].  The caller owns the result.
 */
cJSON *
packet_parse(const char *s, size_t len, const char **detail)
{
	cJSON	*root;

	if (len > PACKET_MAX) {
		*detail = "packet too large";
		return NULL;
	}
	if (!utf8_valid(s, len) || !utf8_escapes_valid(s, len)) {
		*detail = "bad encoding";
		return NULL;
	}
	/* len + 1 takes in the NUL, which cJSON needs to refuse trailers. */
	root = cJSON_ParseWithLengthOpts(s, len + 1, NULL, 1);
	if (root == NULL || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		*detail = "bad json";
		return NULL;
	}
	if (packet_command(root) == NULL) {
		cJSON_Delete(root);
		*detail = "no command";
		return NULL;
	}
	return root;
}

const char *
packet_command(const cJSON *root)
{
	return packet_get_str(root, "command");
}

/* A string field, or NULL if it is missing or not a string. */
const char *
packet_get_str(const cJSON *root, const char *name)
{
	const cJSON	*item;

	item = cJSON_GetObjectItemCaseSensitive(root, name);
	if (!cJSON_IsString(item) || item->valuestring == NULL)
		return NULL;
	return item->valuestring;
}

/* A boolean field: 0 with *v set, or -1 if missing or not a boolean. */
int
packet_get_bool(const cJSON *root, const char *name, int *v)
{
	const cJSON	*item;

	item = cJSON_GetObjectItemCaseSensitive(root, name);
	if (!cJSON_IsBool(item))
		return -1;
	*v = cJSON_IsTrue(item);
	return 0;
}

/*
 * An account id in its string form: decimal digits, no sign, no leading
 * zero, not 0, fits in 64 bits.
 */
int
packet_id_parse(const char *s, uint64_t *id)
{
	unsigned long long	 v;
	char			*end;

	if (s[0] < '1' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0' || errno != 0)
		return -1;
	*id = v;
	return 0;
}

/*
 * An id, sent as a string (the original clients) or a number.  A number
 * must be a positive integer small enough to be exact.
 */
enum packet_id
packet_item_id(const cJSON *item, uint64_t *id)
{
	double	d;

	if (cJSON_IsString(item) && item->valuestring != NULL) {
		if (packet_id_parse(item->valuestring, id) == -1)
			return PACKET_ID_BAD_VALUE;
		return PACKET_ID_OK;
	}
	if (!cJSON_IsNumber(item))
		return PACKET_ID_BAD_TYPE;
	d = item->valuedouble;
	if (!(d >= 1 && d <= PACKET_ID_NUMBER_MAX) || d != (double)(uint64_t)d)
		return PACKET_ID_BAD_VALUE;
	*id = (uint64_t)d;
	return PACKET_ID_OK;
}

/* The id field name of root (see packet_item_id()). */
enum packet_id
packet_get_id(const cJSON *root, const char *name, uint64_t *id)
{
	return packet_item_id(cJSON_GetObjectItemCaseSensitive(root, name),
	    id);
}

/*
 * The logon rules for a username (already valid UTF-8): 1-32 code points,
 * no control characters.  NULL if it is fine, else the fail detail.
 */
const char *
packet_check_username(const char *name)
{
	size_t	n;

	n = utf8_count(name);
	if (n < 1 || n > USERNAME_MAX || utf8_has_control(name))
		return "bad username";
	return NULL;
}
