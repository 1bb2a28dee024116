/*
 * Queued client packets, and the few answers the daemon writes itself
 * (docs/ARCHITECTURE.md: "server error", "rate limited", "packet too
 * large", "bad length").  They are built with cJSON like every other
 * packet, into the caller's PACKET_MAX buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "push_daemon.h"
#include "shared.h"

/* Longest command name we echo back in "<command>_return". */
#define COMMAND_MAX	32

/* A copy of len bytes with a NUL after them; NULL if out of memory. */
struct packet *
packet_new(enum packet_kind kind, const char *data, size_t len)
{
	struct packet	*p;

	if ((p = malloc(sizeof(*p) + len + 1)) == NULL)
		return NULL;
	p->kind = kind;
	p->len = len;
	if (len > 0)
		memcpy(p->data, data, len);
	p->data[len] = '\0';
	return p;
}

void
packet_free(struct packet *p)
{
	free(p);
}

static int
packet_command_ok(const char *s)
{
	size_t	n = strlen(s);

	if (n < 1 || n > COMMAND_MAX)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz_") == n;
}

/*
 * Copies the packet's "command" into out if the packet is a JSON object
 * whose command is 1..32 of [a-z_]: only then is it safe to echo.
 * Returns 0, or -1 (out is then "").
 */
int
packet_command(const char *data, size_t len, char *out, size_t outsz)
{
	cJSON	*root, *cmd;
	int	 rc = -1;

	out[0] = '\0';
	if ((root = cJSON_ParseWithLength(data, len)) == NULL)
		return -1;
	cmd = cJSON_GetObjectItemCaseSensitive(root, "command");
	if (cJSON_IsObject(root) && cJSON_IsString(cmd) &&
	    packet_command_ok(cmd->valuestring) &&
	    strlen(cmd->valuestring) < outsz) {
		snprintf(out, outsz, "%s", cmd->valuestring);
		rc = 0;
	}
	cJSON_Delete(root);
	return rc;
}

/*
 * The fail packet (shared.c) as text in out, for the answers the daemon
 * makes itself.  Returns the length, or -1.
 */
int
packet_fail(char *out, size_t outsz, const char *command, const char *detail)
{
	cJSON	*root;
	int	 rc = -1;

	if ((root = fail_packet(command, detail)) == NULL)
		return -1;
	if (outsz > JSON_SLACK && cJSON_PrintPreallocated(root, out,
	    (int)(outsz - JSON_SLACK), 0))
		rc = (int)strlen(out);
	cJSON_Delete(root);
	return rc;
}
