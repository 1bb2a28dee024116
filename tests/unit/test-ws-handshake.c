/*
 * push_daemon/ws-handshake.c: the upgrade request nginx forwards, checked,
 * and Sec-WebSocket-Accept computed (RFC 6455 section 1.3's example).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../push_daemon/push_daemon.h"

#define KEY	"dGhlIHNhbXBsZSBub25jZQ=="

static int
parse(const char *req, struct ws_handshake *hs, const char **errstr)
{
	return ws_handshake_parse(req, strlen(req), hs, errstr);
}

static void
test_accept(void **state)
{
	char	out[WS_ACCEPT_LEN + 1];

	(void)state;
	assert_int_equal(ws_handshake_accept(KEY, out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(ws_handshake_accept("short", out), -1);
}

static void
test_good_request(void **state)
{
	struct ws_handshake	 hs;
	const char		*errstr;

	(void)state;
	assert_int_equal(parse("GET /ws HTTP/1.1\r\n"
	    "Host: chat.example\r\n"
	    "upgrade: WebSocket\r\n"
	    "Connection: keep-alive, Upgrade\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	    "X-Real-IP: 2001:db8::7\r\n"
	    "\r\n", &hs, &errstr), 0);
	assert_string_equal(hs.key, KEY);
	assert_string_equal(hs.real_ip, "2001:db8::7");
}

/* X-Real-IP is kept only if it looks like an address. */
static void
test_real_ip_checked(void **state)
{
	struct ws_handshake	 hs;
	const char		*errstr;

	(void)state;
	assert_int_equal(parse("GET /ws HTTP/1.1\r\n"
	    "Upgrade: websocket\r\nConnection: upgrade\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"
	    "X-Real-IP: 1.2.3.4\x1b[31m\r\n\r\n", &hs, &errstr), 0);
	assert_string_equal(hs.real_ip, "");
}

static void
test_bad_requests(void **state)
{
	static const char *const bad[] = {
		/* no Upgrade */
		"GET /ws HTTP/1.1\r\nConnection: upgrade\r\n"
		"Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
		/* Connection without upgrade */
		"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: close\r\n"
		"Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
		/* version 8 */
		"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
		"Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 8\r\n\r\n",
		/* no key, then a malformed key */
		"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
		"Sec-WebSocket-Version: 13\r\n\r\n",
		"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
		"Sec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n\r\n",
		/* POST, HTTP/1.0, a header without a colon */
		"POST /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
		"Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
		"GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
		"Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
		"GET /ws HTTP/1.1\r\nUpgrade websocket\r\n\r\n",
	};
	struct ws_handshake	 hs;
	const char		*errstr;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errstr = NULL;
		assert_int_equal(parse(bad[i], &hs, &errstr), -1);
		assert_non_null(errstr);
	}
}

/* A NUL inside the request, or one longer than WS_REQUEST_MAX, is refused. */
static void
test_nul_and_long(void **state)
{
	static char		 big[WS_REQUEST_MAX + 2];
	const char		 nul[] = "GET /ws HTTP/1.1\r\nX: a\0b\r\n\r\n";
	struct ws_handshake	 hs;
	const char		*errstr;

	(void)state;
	assert_int_equal(ws_handshake_parse(nul, sizeof(nul) - 1, &hs,
	    &errstr), -1);
	memset(big, 'a', sizeof(big) - 1);
	assert_int_equal(ws_handshake_parse(big, sizeof(big) - 1, &hs,
	    &errstr), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_good_request),
		cmocka_unit_test(test_real_ip_checked),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_nul_and_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
