/*
 * Where a client's WebSocket frames end, without decoding them: the frame
 * headers of RFC 6455 section 5.2 are followed through the bytes given to
 * wslay, so that transport-ws.c knows when wslay holds no part of a frame
 * or of a fragmented message and its context can go (ws_rest()).  Pure,
 * so that a unit test can feed it alone.
 *
 * It never judges the bytes: wslay does, and closes the connection on a
 * bad frame; where wslay accepts a header this reads the same lengths.
 */
#include "push_daemon.h"

/* Bytes of the header whose first have bytes are in hdr. */
static size_t
ws_boundary_header_len(const uint8_t *hdr, size_t have)
{
	size_t	len;

	if (have < 2)
		return 2;
	len = 2 + ((hdr[1] & 0x80) ? 4 : 0);
	if ((hdr[1] & 0x7f) == 126)
		len += 2;
	else if ((hdr[1] & 0x7f) == 127)
		len += 8;
	return len;
}

/* A whole header: its payload follows. */
static void
ws_boundary_frame(struct ws_boundary *b)
{
	uint64_t	len = b->hdr[1] & 0x7f;
	uint8_t		opcode = b->hdr[0] & 0x0f;
	size_t		i, n = len == 126 ? 2 : len == 127 ? 8 : 0;

	if (n > 0)
		for (len = 0, i = 0; i < n; i++)
			len = len << 8 | b->hdr[2 + i];
	b->payload_left = len;
	b->hdr_len = 0;
	/* Control frames (opcode 8 up) may come between a message's parts. */
	if (opcode < 8)
		b->in_message = !(b->hdr[0] & 0x80);
}

void
ws_boundary_feed(struct ws_boundary *b, const uint8_t *p, size_t n)
{
	size_t	take;

	while (n > 0) {
		if (b->payload_left > 0) {
			take = n < b->payload_left ? n : (size_t)b->payload_left;
			p += take;
			n -= take;
			b->payload_left -= take;
			continue;
		}
		b->hdr[b->hdr_len++] = *p++;
		n--;
		if (b->hdr_len == ws_boundary_header_len(b->hdr, b->hdr_len))
			ws_boundary_frame(b);
	}
}

/* 1 when the bytes fed so far end a frame and no message is unfinished. */
int
ws_boundary_at_rest(const struct ws_boundary *b)
{
	return b->hdr_len == 0 && b->payload_left == 0 && !b->in_message;
}
