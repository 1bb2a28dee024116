/*
 * libFuzzer target for the worker's packet checks (fcgi_app/packet.c,
 * utf8.c): a packet packet_parse() accepts is an object with a string
 * "command", and every string in it, keys included, is valid UTF-8 with no
 * NUL, as utf8.c promises handlers; the typed readers stay in bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../fcgi_app/fcgi_app.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_string(const char *s)
{
	if (s == NULL || !utf8_valid(s, strlen(s)))
		abort();
	(void)packet_check_username(s);
	(void)utf8_count(s);
}

static void
walk(const cJSON *item)
{
	const cJSON	*child;
	uint64_t	 id;

	for (child = item->child; child != NULL; child = child->next) {
		if (child->string != NULL)
			check_string(child->string);
		if (cJSON_IsString(child))
			check_string(child->valuestring);
		if (packet_item_id(child, &id) == PACKET_ID_OK && id == 0)
			abort();
		walk(child);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON		*root;
	const char	*detail = NULL;
	char		*s;
	int		 b;

	/* packet_parse() wants s[len] == '\0', as request.c gives it. */
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	root = packet_parse(s, size, &detail);
	if (root == NULL) {
		if (detail == NULL)
			abort();
		free(s);
		return 0;
	}
	if (!cJSON_IsObject(root) || packet_command(root) == NULL)
		abort();
	walk(root);
	(void)packet_get_bool(root, "ack", &b);
	cJSON_Delete(root);
	free(s);
	return 0;
}
