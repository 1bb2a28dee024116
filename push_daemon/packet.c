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
 * Builds {"command":"<command>_return","status":"fail","detail":...}, or
 * the "error" packet when command is NULL or "".  Returns the length.
 */
int
packet_fail(char *out, size_t outsz, const char *command, const char *detail)
{
	cJSON	*root;
	char	 name[COMMAND_MAX + sizeof("_return")];
	int	 rc = -1;

	if (command != NULL && *command != '\0')
		snprintf(name, sizeof(name), "%s_return", command);
	else
		snprintf(name, sizeof(name), "error");
	if ((root = cJSON_CreateObject()) == NULL)
		return -1;
	if (cJSON_AddStringToObject(root, "command", name) == NULL ||
	    cJSON_AddStringToObject(root, "status", "fail") == NULL ||
	    cJSON_AddStringToObject(root, "detail", detail) == NULL)
		goto fail;
	/* cJSON asks for 5 bytes of slack beyond the printed text. */
	if (outsz < 6 || !cJSON_PrintPreallocated(root, out, (int)outsz - 5, 0))
		goto fail;
	rc = (int)strlen(out);
fail:
	cJSON_Delete(root);
	return rc;
}
