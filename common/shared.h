/*
 * What push_daemon and fcgi_app both need, compiled into both from
 * common/ (shared.c): the fail packet every answer shares, a string hash,
 * the monotonic clock.
 */
#ifndef COMMON_SHARED_H
#define COMMON_SHARED_H

#include <stdint.h>

struct cJSON;

/*
 * cJSON_PrintPreallocated() wants this many bytes beyond the text it
 * prints: a PACKET_MAX packet needs a buffer of PACKET_MAX + JSON_SLACK.
 */
#define JSON_SLACK	5

struct cJSON	*fail_packet(const char *command, const char *detail);
uint64_t	 hash_string(const char *);
double		 clock_now(void);

#endif
