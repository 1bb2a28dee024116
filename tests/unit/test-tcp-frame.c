/*
 * push_daemon/frame-tcp.c: the native TCP framing (int32 little-endian
 * Length + JSON) and the PROXY v1 line, fed whole, split byte by byte and
 * with the bad lengths PROTOCOL.md names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../push_daemon/push_daemon.h"

/* Frames len bytes of data with an explicit Length n into out. */
static size_t
frame(uint8_t *out, int32_t n, const char *data, size_t len)
{
	uint32_t	u;

	memcpy(&u, &n, sizeof(u));
	out[0] = u & 0xff;
	out[1] = (u >> 8) & 0xff;
	out[2] = (u >> 16) & 0xff;
	out[3] = (u >> 24) & 0xff;
	memcpy(out + 4, data, len);
	return 4 + len;
}

static void
test_whole_packet(void **state)
{
	uint8_t		buf[64];
	const char	json[] = "{\"command\":\"x\"}";
	size_t		n, off, len, used;

	(void)state;
	n = frame(buf, sizeof(json) - 1, json, sizeof(json) - 1);
	assert_int_equal(frame_tcp_decode(buf, n, &off, &len, &used),
	    FRAME_PACKET);
	assert_int_equal(off, 4);
	assert_int_equal(len, sizeof(json) - 1);
	assert_int_equal(used, n);
	assert_memory_equal(buf + off, json, len);
}

/* Every prefix of a frame asks for more; the whole one is a packet. */
static void
test_split_byte_by_byte(void **state)
{
	uint8_t		buf[64];
	const char	json[] = "{\"a\":1}";
	size_t		n, i, off, len, used;

	(void)state;
	n = frame(buf, sizeof(json) - 1, json, sizeof(json) - 1);
	for (i = 0; i < n; i++)
		assert_int_equal(frame_tcp_decode(buf, i, &off, &len, &used),
		    FRAME_MORE);
	assert_int_equal(frame_tcp_decode(buf, n, &off, &len, &used),
	    FRAME_PACKET);
	assert_int_equal(len, sizeof(json) - 1);
}

/* Two packets in one read come out one at a time. */
static void
test_two_packets(void **state)
{
	uint8_t	buf[64];
	size_t	n, off, len, used;

	(void)state;
	n = frame(buf, 3, "abc", 3);
	n += frame(buf + n, 2, "de", 2);
	assert_int_equal(frame_tcp_decode(buf, n, &off, &len, &used),
	    FRAME_PACKET);
	assert_int_equal(used, 7);
	assert_int_equal(frame_tcp_decode(buf + used, n - used, &off, &len,
	    &used), FRAME_PACKET);
	assert_int_equal(len, 2);
	assert_memory_equal(buf + 7 + off, "de", 2);
}

static void
test_trailing_nul(void **state)
{
	uint8_t	buf[64];
	size_t	n, off, len, used;

	(void)state;
	n = frame(buf, 4, "{}\0\0", 4);
	assert_int_equal(frame_tcp_decode(buf, n, &off, &len, &used),
	    FRAME_PACKET);
	/* Only one NUL is dropped. */
	assert_int_equal(len, 3);
	assert_int_equal(used, 8);
	n = frame(buf, 3, "{}\0", 3);
	assert_int_equal(frame_tcp_decode(buf, n, &off, &len, &used),
	    FRAME_PACKET);
	assert_int_equal(len, 2);
}

static void
test_bad_lengths(void **state)
{
	static const int32_t	bad[] = { 0, -1, PACKET_MAX + 1, 100000,
				    INT32_MIN, INT32_MAX };
	uint8_t			buf[16];
	size_t			i, off, len, used;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		frame(buf, bad[i], "", 0);
		/* Known bad from the 4 length bytes alone. */
		assert_int_equal(frame_tcp_decode(buf, 4, &off, &len, &used),
		    FRAME_BAD);
	}
}

static void
test_largest_length(void **state)
{
	static uint8_t	buf[4 + PACKET_MAX];
	static char	data[PACKET_MAX];
	size_t		off, len, used;

	(void)state;
	memset(data, 'x', sizeof(data));
	frame(buf, PACKET_MAX, data, sizeof(data));
	assert_int_equal(frame_tcp_decode(buf, sizeof(buf) - 1, &off, &len,
	    &used), FRAME_MORE);
	assert_int_equal(frame_tcp_decode(buf, sizeof(buf), &off, &len, &used),
	    FRAME_PACKET);
	assert_int_equal(len, PACKET_MAX);
}

static void
test_header(void **state)
{
	uint8_t	hdr[TCP_LENGTH_BYTES];

	(void)state;
	assert_int_equal(frame_tcp_header(hdr, 0x0102), 4);
	assert_int_equal(hdr[0], 0x02);
	assert_int_equal(hdr[1], 0x01);
	assert_int_equal(hdr[2], 0);
	assert_int_equal(hdr[3], 0);
}

#define PROXY(s, r, a) do {						\
	char	addr_[REMOTE_MAX] = "";					\
	size_t	used_ = 0;						\
	assert_int_equal(frame_proxy_parse((const uint8_t *)(s),	\
	    sizeof(s) - 1, addr_, sizeof(addr_), &used_), (r));		\
	if ((r) == FRAME_PACKET) {					\
		assert_string_equal(addr_, (a));			\
		assert_int_equal(used_, strcspn((s), "\n") + 1);	\
	}								\
} while (0)

static void
test_proxy_good(void **state)
{
	(void)state;
	PROXY("PROXY TCP4 192.0.2.7 192.0.2.1 5555 9000\r\n", FRAME_PACKET,
	    "192.0.2.7");
	PROXY("PROXY TCP6 2001:db8::1 ::1 65535 9000\r\nrest", FRAME_PACKET,
	    "2001:db8::1");
	PROXY("PROXY UNKNOWN\r\n", FRAME_PACKET, "unknown");
	PROXY("PROXY UNKNOWN ffff::1 ::1 1 2\r\n", FRAME_PACKET, "unknown");
}

static void
test_proxy_bad(void **state)
{
	(void)state;
	PROXY("GET / HTTP/1.1\r\n", FRAME_BAD, NULL);
	PROXY("PROXY TCP4 192.0.2.7 192.0.2.1 5555\r\n", FRAME_BAD, NULL);
	PROXY("PROXY TCP4 192.0.2.7 192.0.2.1 5555 9000 x\r\n", FRAME_BAD,
	    NULL);
	PROXY("PROXY TCP4 2001:db8::1 ::1 1 2\r\n", FRAME_BAD, NULL);
	PROXY("PROXY TCP6 192.0.2.7 192.0.2.1 1 2\r\n", FRAME_BAD, NULL);
	PROXY("PROXY TCP4 192.0.2.7 192.0.2.1 65536 1\r\n", FRAME_BAD, NULL);
	PROXY("PROXY TCP4 192.0.2.7 192.0.2.1 -1 1\r\n", FRAME_BAD, NULL);
	PROXY("PROXY TCP4 192.0.2.7 192.0.2.1 1 2\n", FRAME_BAD, NULL);
	PROXY("PROXY TCP5 192.0.2.7 192.0.2.1 1 2\r\n", FRAME_BAD, NULL);
	PROXY("PROXY \r\n", FRAME_BAD, NULL);
}

/* A line cut anywhere asks for more; one past 107 bytes is refused. */
static void
test_proxy_split_and_long(void **state)
{
	const char	line[] = "PROXY TCP4 192.0.2.7 192.0.2.1 5555 9000\r\n";
	uint8_t		buf[200];
	char		addr[REMOTE_MAX];
	size_t		i, used;

	(void)state;
	for (i = 0; i < sizeof(line) - 1; i++)
		assert_int_equal(frame_proxy_parse((const uint8_t *)line, i,
		    addr, sizeof(addr), &used), FRAME_MORE);
	memset(buf, ' ', sizeof(buf));
	memcpy(buf, "PROXY UNKNOWN", 13);
	assert_int_equal(frame_proxy_parse(buf, PROXY_LINE_MAX - 1, addr,
	    sizeof(addr), &used), FRAME_MORE);
	assert_int_equal(frame_proxy_parse(buf, sizeof(buf), addr,
	    sizeof(addr), &used), FRAME_BAD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_packet),
		cmocka_unit_test(test_split_byte_by_byte),
		cmocka_unit_test(test_two_packets),
		cmocka_unit_test(test_trailing_nul),
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_largest_length),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_proxy_good),
		cmocka_unit_test(test_proxy_bad),
		cmocka_unit_test(test_proxy_split_and_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
