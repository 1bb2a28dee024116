/*
 * libFuzzer target for the WebSocket frame path: push_daemon/transport-ws.c
 * and wslay as it configures them, fed a valid upgrade request and then the
 * fuzzer's bytes, in pieces whose size comes from the first input byte.
 * The conn is a stub (conn_* below) on an in-memory bufferevent pair, so
 * everything the daemon writes can be read back and judged:
 *
 *   - every frame out is whole, FIN, unmasked, text, pong or close, and a
 *     control frame is at most 125 bytes; nothing follows a close;
 *   - a packet handed on is at most PACKET_MAX bytes;
 *   - a connection is never dropped without a close frame (RFC 6455 7.1.7:
 *     fail the connection by sending a close frame first), and one the
 *     daemon ends for an error says why: 1002, 1007, 1009 or 1011.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "../../push_daemon/push_daemon.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct event_base	*base;
struct config		 conf;

static const char	 upgrade[] =
    "GET /ws HTTP/1.1\r\n"
    "Host: localhost\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "X-Real-IP: 127.0.0.1\r\n"
    "\r\n";

/* What the daemon answers to every packet, so that writes are covered. */
static const char	 answer[] = "{\"command\":\"x\",\"status\":\"fail\"}";

/* --- the conn stubs: what transport-ws.c calls in conn.c and log.c --- */

static const char	*close_reason;	/* conn_close_after_write()'s */
static int		 dropped;	/* conn_close() before CLOSING */

void
log_info(const char *fmt, ...)
{
	(void)fmt;
}

double
conn_now(void)
{
	return 0;
}

int
conn_queue_full(const struct conn *c)
{
	(void)c;
	return 0;
}

void
conn_pause(struct conn *c)
{
	c->paused = 1;
}

void
conn_set_state(struct conn *c, enum conn_state state)
{
	c->state = state;
}

void
conn_close(struct conn *c, const char *reason)
{
	(void)reason;
	if (c->state < CONN_CLOSING)
		dropped = 1;
	c->state = CONN_CLOSED;
}

void
conn_close_after_write(struct conn *c, const char *reason)
{
	if (c->state >= CONN_CLOSING)
		return;
	close_reason = reason;
	c->state = CONN_CLOSING;
	c->tp->finish(c);
}

/* Every client address is let in here: addrlimit.c is not under test. */
int
addrlimit_admit(struct conn *c)
{
	(void)c;
	return 0;
}

void
conn_packet(struct conn *c, enum packet_kind kind, const char *data,
    size_t len)
{
	if (kind == PACKET_DATA && (len > PACKET_MAX ||
	    (len > 0 && data == NULL)))
		abort();
	if (kind != PACKET_DATA && kind != PACKET_TOO_LARGE)
		abort();
	if (c->tp->write(c, answer, sizeof(answer) - 1) == -1 &&
	    c->state < CONN_CLOSING)
		abort();
}

/* --- judging what was written --- */

/* A close code a server may send or echo (RFC 6455 7.4.1, 7.4.2). */
static int
code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) ||
	    (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
}

/*
 * Walks the frames in out[0..len).  Returns the close frame's code, 0 for
 * a close without one, or -1 when no close frame came.
 */
static long
check_output(const uint8_t *out, size_t len)
{
	const uint8_t	*end;
	size_t		 off, n, hdr;
	long		 code = -1;
	uint8_t		 op;

	if ((end = memmem(out, len, "\r\n\r\n", 4)) == NULL ||
	    memcmp(out, "HTTP/1.1 101 ", 13) != 0)
		abort();
	for (off = (size_t)(end - out) + 4; off < len; off += hdr + n) {
		if (code != -1 || len - off < 2)
			abort();	/* after the close, or cut short */
		op = out[off] & 0x0f;
		if ((out[off] & 0xf0) != 0x80 || (out[off + 1] & 0x80) != 0)
			abort();	/* not FIN, RSV set, or masked */
		n = out[off + 1] & 0x7f;
		hdr = 2;
		if (n == 126) {
			if (len - off < 4)
				abort();
			n = (size_t)out[off + 2] << 8 | out[off + 3];
			hdr = 4;
		} else if (n == 127)
			abort();	/* nothing we send is that long */
		if (len - off - hdr < n)
			abort();
		if (op == 0x1) {
			if (n != sizeof(answer) - 1 ||
			    memcmp(out + off + hdr, answer, n) != 0)
				abort();
		} else if (op == 0x8 || op == 0xa) {
			if (n > 125 || (op == 0x8 && n == 1))
				abort();
			if (op == 0x8)
				code = n == 0 ? 0 : (long)(out[off + hdr] << 8 |
				    out[off + hdr + 1]);
		} else
			abort();
	}
	return code;
}

static void
check_end(struct conn *c, int finished)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	size_t		 len = evbuffer_get_length(out);
	long		 code;

	if (dropped)
		abort();	/* closed without a close frame */
	code = check_output(evbuffer_pullup(out, -1), len);
	if (c->state < CONN_CLOSING)
		return;
	if (code == -1 || (code != 0 && !code_valid((unsigned)code)))
		abort();
	if (strcmp(close_reason, "client closed") == 0)
		return;		/* an echo: the client's code, or none */
	if (finished && code == 1000)
		return;		/* our own polite close */
	if (code != 1002 && code != 1007 && code != 1009 && code != 1011)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bufferevent	*pair[2];
	struct conn		 c;
	size_t			 step, n;
	int			 finished = 0;

	if (base == NULL) {
		if ((base = event_base_new()) == NULL)
			abort();
		conf.ping_interval = 30;
	}
	if (size < 1)
		return 0;
	step = (size_t)data[0] * 7 + 1;
	data++;
	size--;

	close_reason = NULL;
	dropped = 0;
	memset(&c, 0, sizeof(c));
	c.id = 1;
	c.tp = &transport_ws;
	if (bufferevent_pair_new(base, 0, pair) != 0)
		abort();
	c.bev = pair[0];
	if (c.tp->start(&c) == -1)
		abort();
	/* Bytes written to pair[1] land in the conn's input at once. */
	bufferevent_enable(c.bev, EV_READ);
	bufferevent_write(pair[1], upgrade, sizeof(upgrade) - 1);
	c.tp->read(&c);
	if (c.state != CONN_LOGGED_OUT)
		abort();
	while (size > 0 && c.state < CONN_CLOSING) {
		n = size < step ? size : step;
		bufferevent_write(pair[1], data, n);
		c.tp->read(&c);
		data += n;
		size -= n;
	}
	if (c.state < CONN_CLOSING && !dropped) {
		finished = 1;
		conn_close_after_write(&c, "finished");
	}
	check_end(&c, finished);
	c.tp->free(&c);
	bufferevent_free(pair[0]);
	bufferevent_free(pair[1]);
	/* libevent finishes freeing a bufferevent in the loop. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	return 0;
}
