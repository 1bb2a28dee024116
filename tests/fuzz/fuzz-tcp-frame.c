/*
 * libFuzzer target for push_daemon/frame-tcp.c: the PROXY line, then
 * frames, decoded the way transport-tcp.c does, must never read past the
 * input nor return a packet outside 0..PACKET_MAX bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../push_daemon/push_daemon.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	addr[REMOTE_MAX];
	size_t	off, len, used;

	if (frame_proxy_parse(data, size, addr, sizeof(addr), &used) ==
	    FRAME_PACKET) {
		if (used > size || used > PROXY_LINE_MAX ||
		    strlen(addr) >= sizeof(addr))
			abort();
		data += used;
		size -= used;
	}
	while (frame_tcp_decode(data, size, &off, &len, &used) ==
	    FRAME_PACKET) {
		if (used > size || off + len > used || len > PACKET_MAX)
			abort();
		data += used;
		size -= used;
	}
	return 0;
}
