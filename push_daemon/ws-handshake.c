/*
 * The HTTP half of a WebSocket connection (RFC 6455 section 4.2): check
 * the upgrade request nginx forwards and compute Sec-WebSocket-Accept.  No
 * extension is offered back, so permessage-deflate is never on.  No I/O:
 * transport-ws.c feeds the request and writes the answer.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "push_daemon.h"

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN	24	/* base64 of 16 bytes */

struct ws_fields {
	int	upgrade;		/* Upgrade names websocket */
	int	connection;		/* Connection lists upgrade */
	int	version;		/* Sec-WebSocket-Version is 13 */
	int	key;			/* a well-formed key was seen */
};

/* Is token one of the comma-separated, case-insensitive items of list? */
static int
ws_has_token(const char *list, const char *token)
{
	size_t		 n = strlen(token), len;
	const char	*p = list;

	while (*p != '\0') {
		p += strspn(p, " \t,");
		len = strcspn(p, ",");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == n && strncasecmp(p, token, n) == 0)
			return 1;
		p += strcspn(p, ",");
	}
	return 0;
}

static int
ws_key_ok(const char *v)
{
	static const char	b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";

	return strlen(v) == WS_KEY_LEN && strspn(v, b64) == WS_KEY_LEN - 2 &&
	    strcmp(v + WS_KEY_LEN - 2, "==") == 0;
}

/* An address nginx wrote: IPv4 or IPv6 text, nothing else is kept. */
static void
ws_real_ip(const char *v, struct ws_handshake *hs)
{
	size_t	n = strlen(v);

	if (n > 0 && n < sizeof(hs->real_ip) &&
	    strspn(v, "0123456789abcdefABCDEF:.") == n)
		memcpy(hs->real_ip, v, n + 1);
}

static void
ws_header(char *name, char *value, struct ws_handshake *hs,
    struct ws_fields *f)
{
	if (strcasecmp(name, "Upgrade") == 0)
		f->upgrade = ws_has_token(value, "websocket");
	else if (strcasecmp(name, "Connection") == 0)
		f->connection = ws_has_token(value, "upgrade");
	else if (strcasecmp(name, "Sec-WebSocket-Version") == 0)
		f->version = strcmp(value, "13") == 0;
	else if (strcasecmp(name, "Sec-WebSocket-Key") == 0) {
		if ((f->key = ws_key_ok(value)))
			memcpy(hs->key, value, WS_KEY_LEN + 1);
	} else if (strcasecmp(name, "X-Real-IP") == 0)
		ws_real_ip(value, hs);
}

/* Splits "Name: value" in place; -1 if the line is not a header. */
static int
ws_split(char *line, char **name, char **value)
{
	char	*colon, *end;

	if ((colon = strchr(line, ':')) == NULL || colon == line)
		return -1;
	*colon = '\0';
	*name = line;
	*value = colon + 1 + strspn(colon + 1, " \t");
	end = *value + strlen(*value);
	while (end > *value && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return 0;
}

static int
ws_request_line(const char *line)
{
	const char	*sp;

	if (strncmp(line, "GET ", 4) != 0)
		return -1;
	if ((sp = strchr(line + 4, ' ')) == NULL || sp == line + 4)
		return -1;
	return strcmp(sp + 1, "HTTP/1.1") == 0 ? 0 : -1;
}

/*
 * Checks an upgrade request: req is len bytes ending with the blank line.
 * Returns 0 with hs filled, or -1 with *errstr saying why.
 */
int
ws_handshake_parse(const char *req, size_t len, struct ws_handshake *hs,
    const char **errstr)
{
	char			 buf[WS_REQUEST_MAX + 1], *line, *next, *name;
	char			*value;
	struct ws_fields	 f = { 0, 0, 0, 0 };

	memset(hs, 0, sizeof(*hs));
	*errstr = "request too long";
	if (len > WS_REQUEST_MAX)
		return -1;
	*errstr = "bad request";
	memcpy(buf, req, len);
	buf[len] = '\0';
	if (strlen(buf) != len)
		return -1;
	for (line = buf; (next = strstr(line, "\r\n")) != NULL;
	    line = next + 2) {
		*next = '\0';
		if (line == buf) {
			if (ws_request_line(line) == -1)
				return -1;
		} else if (*line != '\0') {
			if (ws_split(line, &name, &value) == -1)
				return -1;
			ws_header(name, value, hs, &f);
		}
	}
	if (!f.upgrade || !f.connection)
		*errstr = "not a websocket upgrade";
	else if (!f.version)
		*errstr = "bad Sec-WebSocket-Version";
	else if (!f.key)
		*errstr = "bad Sec-WebSocket-Key";
	else
		return 0;
	return -1;
}

/* base64(SHA-1(key + GUID)) into out; 0 or -1. */
int
ws_handshake_accept(const char *key, char out[WS_ACCEPT_LEN + 1])
{
	unsigned char	 md[SHA_DIGEST_LENGTH];
	char		 buf[WS_KEY_LEN + sizeof(WS_GUID)];
	unsigned int	 mdlen;

	if (strlen(key) != WS_KEY_LEN)
		return -1;
	snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);
	if (!EVP_Digest(buf, strlen(buf), md, &mdlen, EVP_sha1(), NULL) ||
	    mdlen != SHA_DIGEST_LENGTH)
		return -1;
	if (EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH) !=
	    WS_ACCEPT_LEN)
		return -1;
	return 0;
}
