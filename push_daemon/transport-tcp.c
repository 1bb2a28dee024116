/*
 * The native TCP transport: an optional PROXY v1 line naming the client,
 * then int32 little-endian Length + JSON packets both ways.  The decoding
 * itself is frame-tcp.c's; this file moves bytes between it and the
 * bufferevent.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "envelope.h"
#include "log.h"
#include "push_daemon.h"

struct tcp_state {
	int	broken;		/* a bad Length was seen: read no more */
};

static int
tcp_start(struct conn *c)
{
	if ((c->tp_data = calloc(1, sizeof(struct tcp_state))) == NULL)
		return -1;
	if (!conf.proxy_protocol)
		conn_set_state(c, CONN_LOGGED_OUT);
	return 0;
}

/* The PROXY line; 0 once it has been read, -1 while waiting or closed. */
static int
tcp_proxy(struct conn *c, struct evbuffer *in)
{
	char		 addr[REMOTE_MAX];
	size_t		 n, used;
	uint8_t		*buf;

	if ((n = evbuffer_get_length(in)) == 0)
		return -1;
	if (n > PROXY_LINE_MAX)
		n = PROXY_LINE_MAX;
	buf = evbuffer_pullup(in, (ssize_t)n);
	switch (frame_proxy_parse(buf, n, addr, sizeof(addr), &used)) {
	case FRAME_MORE:
		return -1;
	case FRAME_BAD:
		conn_close(c, "bad PROXY line");
		return -1;
	case FRAME_PACKET:
		break;
	}
	evbuffer_drain(in, used);
	memcpy(c->remote, addr, sizeof(c->remote));
	conn_set_state(c, CONN_LOGGED_OUT);
	return addrlimit_admit(c);
}

/* A bad Length: answered in turn, then closed; the rest is not read. */
static void
tcp_broken(struct conn *c, struct evbuffer *in)
{
	struct tcp_state	*st = c->tp_data;

	st->broken = 1;
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_disable(c->bev, EV_READ);
	conn_packet(c, PACKET_BAD_LENGTH, NULL, 0);
}

static void
tcp_read(struct conn *c)
{
	struct tcp_state	*st = c->tp_data;
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	size_t			 n, off, len, used;
	uint8_t			*buf;

	if (c->state == CONN_HANDSHAKE && tcp_proxy(c, in) == -1)
		return;
	while (c->state < CONN_CLOSING && !st->broken) {
		if (conn_queue_full(c)) {
			conn_pause(c);
			return;
		}
		if ((n = evbuffer_get_length(in)) == 0)
			return;
		if (n > TCP_LENGTH_BYTES + PACKET_MAX)
			n = TCP_LENGTH_BYTES + PACKET_MAX;
		buf = evbuffer_pullup(in, (ssize_t)n);
		switch (frame_tcp_decode(buf, n, &off, &len, &used)) {
		case FRAME_MORE:
			return;
		case FRAME_BAD:
			tcp_broken(c, in);
			return;
		case FRAME_PACKET:
			conn_packet(c, PACKET_DATA, (char *)buf + off, len);
			evbuffer_drain(in, used);
			break;
		}
	}
}

static ssize_t
tcp_write(struct conn *c, const char *data, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	uint8_t		 hdr[TCP_LENGTH_BYTES];

	if (len > PACKET_MAX) {
		log_warnx("conn %llu: %zu-byte packet not sent: over %d",
		    (unsigned long long)c->id, len, PACKET_MAX);
		return (ssize_t)evbuffer_get_length(out);
	}
	frame_tcp_header(hdr, len);
	if (evbuffer_add(out, hdr, sizeof(hdr)) == -1 ||
	    evbuffer_add(out, data, len) == -1)
		return -1;
	return (ssize_t)evbuffer_get_length(out);
}

/* Nothing to say before closing: the stream has no close message. */
static void
tcp_finish(struct conn *c)
{
	(void)c;
}

static void
tcp_free(struct conn *c)
{
	free(c->tp_data);
	c->tp_data = NULL;
}

const struct transport transport_tcp = {
	.name = ENV_TRANSPORT_TCP,
	.start = tcp_start,
	.read = tcp_read,
	.write = tcp_write,
	.finish = tcp_finish,
	.free = tcp_free,
};
