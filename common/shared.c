/*
 * The pieces both programs share (shared.h): so that the daemon's own
 * answers and the workers' read the same, and nothing is written twice.
 */
#include <stdio.h>
#include <time.h>

#include <cJSON.h>

#include "shared.h"

/*
 * {"command":"<command>_return","status":"fail","detail":...}, or the
 * "error" packet when command is NULL or "" (PROTOCOL.md).  The caller
 * owns the result; NULL when out of memory or command is too long.
 */
cJSON *
fail_packet(const char *command, const char *detail)
{
	cJSON	*p;
	char	 name[80];

	if (command == NULL || *command == '\0')
		snprintf(name, sizeof(name), "error");
	else if ((size_t)snprintf(name, sizeof(name), "%s_return", command) >=
	    sizeof(name))
		return NULL;
	if ((p = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(p, "command", name) == NULL ||
	    cJSON_AddStringToObject(p, "status", "fail") == NULL ||
	    cJSON_AddStringToObject(p, "detail", detail) == NULL) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

/* FNV-1a: our keys are short strings (ids, addresses, tracks). */
uint64_t
hash_string(const char *s)
{
	uint64_t	h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Seconds on a clock that never jumps, for timeouts and rates. */
double
clock_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
