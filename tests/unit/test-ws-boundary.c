/*
 * push_daemon/ws-boundary.c: frame ends found through masked and unmasked
 * headers of every length form, fed whole and byte by byte, with
 * fragmented messages and control frames between their parts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <wslay/wslay.h>

#include "../../push_daemon/push_daemon.h"

/* One frame of len payload bytes (zeros) into out; its size. */
static size_t
frame(uint8_t *out, int fin, uint8_t opcode, int masked, uint64_t len)
{
	size_t	n = 0;
	int	i;

	out[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
	if (len < 126)
		out[n++] = (uint8_t)((masked ? 0x80 : 0) | len);
	else if (len < 65536) {
		out[n++] = (uint8_t)((masked ? 0x80 : 0) | 126);
		out[n++] = (uint8_t)(len >> 8);
		out[n++] = (uint8_t)len;
	} else {
		out[n++] = (uint8_t)((masked ? 0x80 : 0) | 127);
		for (i = 7; i >= 0; i--)
			out[n++] = (uint8_t)(len >> (8 * i));
	}
	if (masked) {
		memcpy(out + n, "\x11\x22\x33\x44", 4);
		n += 4;
	}
	memset(out + n, 0, (size_t)len);
	return n + (size_t)len;
}

/* At rest only after the frame's last byte, fed one byte at a time. */
static void
check_bytewise(const uint8_t *buf, size_t n)
{
	struct ws_boundary	b;
	size_t			i;

	memset(&b, 0, sizeof(b));
	assert_true(ws_boundary_at_rest(&b));
	for (i = 0; i < n; i++) {
		ws_boundary_feed(&b, buf + i, 1);
		assert_int_equal(ws_boundary_at_rest(&b), i == n - 1);
	}
}

static void
test_length_forms(void **state)
{
	static uint8_t	buf[70000];
	const uint64_t	lens[] = { 0, 1, 125, 126, 2048, 65535, 65536 };
	size_t		i, n;
	int		masked;

	(void)state;
	for (masked = 0; masked <= 1; masked++)
		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			n = frame(buf, 1, WSLAY_TEXT_FRAME, masked, lens[i]);
			check_bytewise(buf, n);
		}
}

/* Several frames in one piece, then a header cut short. */
static void
test_whole_and_cut(void **state)
{
	struct ws_boundary	b;
	uint8_t			buf[512];
	size_t			n = 0;

	(void)state;
	memset(&b, 0, sizeof(b));
	n += frame(buf + n, 1, WSLAY_TEXT_FRAME, 1, 64);
	n += frame(buf + n, 1, WSLAY_PING, 1, 0);
	n += frame(buf + n, 1, WSLAY_BINARY_FRAME, 1, 300);
	ws_boundary_feed(&b, buf, n);
	assert_true(ws_boundary_at_rest(&b));
	n = frame(buf, 1, WSLAY_TEXT_FRAME, 1, 300);
	ws_boundary_feed(&b, buf, 3);
	assert_false(ws_boundary_at_rest(&b));
	ws_boundary_feed(&b, buf + 3, n - 3);
	assert_true(ws_boundary_at_rest(&b));
}

/* A fragmented message is unfinished until its final part, pings or not. */
static void
test_fragments(void **state)
{
	struct ws_boundary	b;
	uint8_t			buf[256];
	size_t			n;

	(void)state;
	memset(&b, 0, sizeof(b));
	n = frame(buf, 0, WSLAY_TEXT_FRAME, 1, 10);
	ws_boundary_feed(&b, buf, n);
	assert_false(ws_boundary_at_rest(&b));
	n = frame(buf, 1, WSLAY_PING, 1, 4);
	ws_boundary_feed(&b, buf, n);
	assert_false(ws_boundary_at_rest(&b));
	n = frame(buf, 0, WSLAY_CONTINUATION_FRAME, 1, 10);
	ws_boundary_feed(&b, buf, n);
	assert_false(ws_boundary_at_rest(&b));
	n = frame(buf, 1, WSLAY_CONTINUATION_FRAME, 1, 0);
	ws_boundary_feed(&b, buf, n);
	assert_true(ws_boundary_at_rest(&b));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_length_forms),
		cmocka_unit_test(test_whole_and_cut),
		cmocka_unit_test(test_fragments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
