/*
 * libFuzzer target for push_daemon/ws-handshake.c: any request either is
 * refused with a reason or yields a key that Sec-WebSocket-Accept can be
 * computed from and an X-Real-IP of address characters only.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../push_daemon/push_daemon.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_handshake	 hs;
	const char		*errstr = NULL;
	char			 accept[WS_ACCEPT_LEN + 1];
	size_t			 n;

	if (ws_handshake_parse((const char *)data, size, &hs, &errstr) ==
	    -1) {
		if (errstr == NULL)
			abort();
		return 0;
	}
	if (memchr(hs.key, '\0', sizeof(hs.key)) == NULL ||
	    memchr(hs.real_ip, '\0', sizeof(hs.real_ip)) == NULL)
		abort();
	n = strlen(hs.real_ip);
	if (strspn(hs.real_ip, "0123456789abcdefABCDEF:.") != n)
		abort();
	if (ws_handshake_accept(hs.key, accept) == -1 ||
	    strlen(accept) != WS_ACCEPT_LEN)
		abort();
	return 0;
}
