/*
 * libFuzzer target for the PROXY v1 line (push_daemon/frame-tcp.c): a
 * line accepted is CRLF-ended within PROXY_LINE_MAX bytes, and the address
 * handed on is "unknown" or one that inet_pton() reads back; a prefix of
 * an accepted line asks for more, never for a verdict.
 */
#include <arpa/inet.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../push_daemon/push_daemon.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		addr[REMOTE_MAX], again[REMOTE_MAX];
	uint8_t		tmp[16];
	size_t		used = 0, used2, n;

	memset(addr, 'x', sizeof(addr));
	if (frame_proxy_parse(data, size, addr, sizeof(addr), &used) !=
	    FRAME_PACKET)
		return 0;
	if (used < 8 || used > size || used > PROXY_LINE_MAX ||
	    data[used - 2] != '\r' || data[used - 1] != '\n' ||
	    memchr(addr, '\0', sizeof(addr)) == NULL)
		abort();
	if (strcmp(addr, "unknown") != 0 && inet_pton(AF_INET, addr, tmp) != 1 &&
	    inet_pton(AF_INET6, addr, tmp) != 1)
		abort();
	/* Every proper prefix of the line must ask for more bytes. */
	for (n = 0; n < used; n++)
		if (frame_proxy_parse(data, n, again, sizeof(again), &used2) !=
		    FRAME_MORE)
			abort();
	/* The same line, whatever follows it, is read the same way. */
	if (frame_proxy_parse(data, used, again, sizeof(again), &used2) !=
	    FRAME_PACKET || used2 != used || strcmp(addr, again) != 0)
		abort();
	return 0;
}
