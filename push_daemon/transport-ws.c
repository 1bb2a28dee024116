/*
 * The WebSocket transport: the HTTP upgrade (ws-handshake.c), then RFC 6455
 * framing by wslay, fed from and writing to the conn's bufferevent.  Each
 * text or binary message is one packet.  Idle connections are pinged and
 * closed if they stay silent for another interval.  Every protocol error
 * is answered with a Close frame saying why (1002, 1007, 1009) before the
 * TCP close, as RFC 6455 7.1.7 asks: wslay does so itself for most, and
 * ws_fail() for the few it does not.
 *
 * A wslay context holds two 4 KiB buffers, more than everything else a
 * connection costs, and an idle connection needs neither: once the
 * client's frames are whole (ws-boundary.c) and nothing waits to be sent,
 * the context goes (ws_rest()), and ws_ctx() makes a fresh one, which
 * starts in the same state, when bytes come or go again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <wslay/wslay.h>

#include "envelope.h"
#include "log.h"
#include "push_daemon.h"

struct ws_state {
	wslay_event_context_ptr	 ctx;		/* owned; NULL while at rest */
	int			 upgraded;	/* the 101 is sent */
	struct ws_boundary	 in;		/* the frames wslay was given */
	struct event		*ping_timer;	/* owned */
	double			 last_rx;	/* when bytes last came in */
	int			 ping_sent;	/* unanswered ping out */
	int			 in_recv;	/* inside wslay_event_recv() */
	int			 bad_close;	/* a Close of 1 byte came in */
	int			 failed;	/* ws_fail() wrote our Close */
};

static ssize_t	ws_recv_cb(wslay_event_context_ptr, uint8_t *, size_t, int,
		    void *);
static ssize_t	ws_send_cb(wslay_event_context_ptr, const uint8_t *, size_t,
		    int, void *);
static void	ws_msg_cb(wslay_event_context_ptr,
		    const struct wslay_event_on_msg_recv_arg *, void *);

static const struct wslay_event_callbacks ws_callbacks = {
	.recv_callback = ws_recv_cb,
	.send_callback = ws_send_cb,
	.on_msg_recv_callback = ws_msg_cb,
};

static const char ws_bad_request[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 12\r\n"
    "Connection: close\r\n"
    "\r\n"
    "bad request\n";

static int
ws_start(struct conn *c)
{
	if ((c->tp_data = calloc(1, sizeof(struct ws_state))) == NULL)
		return -1;
	return 0;
}

static ssize_t
ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *arg)
{
	struct conn	*c = arg;
	struct ws_state	*st = c->tp_data;
	int		 n;

	(void)flags;
	if (c->state < CONN_CLOSING && conn_queue_full(c))
		conn_pause(c);
	if (c->state >= CONN_CLOSING || c->paused)
		goto wouldblock;
	n = evbuffer_remove(bufferevent_get_input(c->bev), buf, len);
	if (n <= 0)
		goto wouldblock;
	ws_boundary_feed(&st->in, buf, (size_t)n);
	st->last_rx = conn_now();
	st->ping_sent = 0;
	return n;
wouldblock:
	wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	return -1;
}

/* The bufferevent takes everything; conn_write() caps what piles up. */
static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct conn	*c = arg;

	(void)flags;
	if (bufferevent_write(c->bev, data, len) == -1) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static void
ws_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
	struct conn	*c = arg;
	struct ws_state	*st = c->tp_data;

	(void)ctx;
	/* A code is two bytes: wslay answers one byte like no code at all. */
	if (m->opcode == WSLAY_CONNECTION_CLOSE && m->msg_length == 1)
		st->bad_close = 1;
	if (m->opcode != WSLAY_TEXT_FRAME && m->opcode != WSLAY_BINARY_FRAME)
		return;
	if (m->msg_length > PACKET_MAX)
		conn_packet(c, PACKET_TOO_LARGE, NULL, 0);
	else
		conn_packet(c, PACKET_DATA, (const char *)m->msg,
		    m->msg_length);
}

/* c's wslay context, made if it was at rest; NULL before the 101. */
static wslay_event_context_ptr
ws_ctx(struct conn *c)
{
	struct ws_state		*st = c->tp_data;
	wslay_event_context_ptr	 ctx;

	if (st->ctx != NULL || !st->upgraded)
		return st->ctx;
	if (wslay_event_context_server_init(&ctx, &ws_callbacks, c) != 0)
		return NULL;
	wslay_event_config_set_max_recv_msg_length(ctx, WS_MESSAGE_MAX);
	st->ctx = ctx;
	return ctx;
}

/*
 * Frees the context if wslay holds nothing of c's: no part of a frame or
 * message read, nothing to send, no close under way.
 */
static void
ws_rest(struct conn *c)
{
	struct ws_state	*st = c->tp_data;

	if (st->ctx == NULL || st->in_recv || c->state >= CONN_CLOSING ||
	    !ws_boundary_at_rest(&st->in) || wslay_event_want_write(st->ctx) ||
	    wslay_event_get_close_sent(st->ctx) ||
	    wslay_event_get_close_received(st->ctx))
		return;
	wslay_event_context_free(st->ctx);
	st->ctx = NULL;
}

/*
 * Once wslay has sent a close frame (its own, after a protocol error or a
 * too-long message, or the answer to the client's) the rest is draining.
 */
static void
ws_check_close(struct conn *c)
{
	struct ws_state	*st = c->tp_data;

	if (c->state >= CONN_CLOSING || !wslay_event_get_close_sent(st->ctx))
		return;
	if (wslay_event_get_close_received(st->ctx))
		conn_close_after_write(c, "client closed");
	else {
		log_info("conn %llu: websocket close %u sent",
		    (unsigned long long)c->id,
		    wslay_event_get_status_code_sent(st->ctx));
		conn_close_after_write(c, "websocket error");
	}
}

/*
 * Fails the connection with a Close frame carrying code, for the errors
 * wslay does not answer with one: its frame layer refuses a control frame
 * over 125 bytes or fragmented, or a length not in its shortest form, by
 * making wslay_event_recv() fail after queueing a Close without a code,
 * and a 1-byte Close body is echoed as an empty Close.  wslay may not
 * write again, so that its own Close never goes out, and ours is written
 * here: ws_send_cb() takes every byte it is given, so the output always
 * ends on a frame boundary.  Data still queued in wslay is dropped, as
 * wslay drops it behind its own Close.
 */
static void
ws_fail(struct conn *c, uint16_t code, const char *reason)
{
	struct ws_state	*st = c->tp_data;
	uint8_t		 frame[4] = { 0x88, 2, code >> 8, code & 0xff };

	if (c->state >= CONN_CLOSING)
		return;
	wslay_event_shutdown_write(st->ctx);
	st->failed = 1;
	log_info("conn %llu: websocket close %u sent",
	    (unsigned long long)c->id, code);
	if (bufferevent_write(c->bev, frame, sizeof(frame)) == -1) {
		conn_close(c, "websocket send failed");
		return;
	}
	conn_close_after_write(c, reason);
}

static void
ws_flush(struct conn *c)
{
	struct ws_state	*st = c->tp_data;

	if (wslay_event_send(st->ctx) != 0) {
		conn_close(c, "websocket send failed");
		return;
	}
	ws_check_close(c);
}

static void
ws_recv(struct conn *c)
{
	struct ws_state	*st = c->tp_data;
	int		 rc;

	if (ws_ctx(c) == NULL) {
		conn_close(c, "cannot set up websocket");
		return;
	}
	st->in_recv = 1;
	rc = wslay_event_recv(st->ctx);
	st->in_recv = 0;
	if (c->state == CONN_CLOSED)
		return;
	/* ws_recv_cb() never fails: the frame layer refused a frame. */
	if (rc == WSLAY_ERR_CALLBACK_FAILURE || st->bad_close)
		ws_fail(c, WSLAY_CODE_PROTOCOL_ERROR, "websocket error");
	else if (rc != 0)
		ws_fail(c, WSLAY_CODE_INTERNAL_SERVER_ERROR,
		    "websocket receive failed");
	else {
		ws_flush(c);
		ws_rest(c);
	}
}

static void
ws_ping(evutil_socket_t fd, short what, void *arg)
{
	struct conn		*c = arg;
	struct ws_state		*st = c->tp_data;
	struct wslay_event_msg	 m = { WSLAY_PING, NULL, 0 };

	(void)fd;
	(void)what;
	/* A paused conn is not read, so its silence means nothing. */
	if (c->state >= CONN_CLOSING || c->paused ||
	    conn_now() - st->last_rx < conf.ping_interval)
		return;
	if (st->ping_sent) {
		conn_close(c, "ping timeout");
		return;
	}
	st->ping_sent = 1;
	if (ws_ctx(c) == NULL || wslay_event_queue_msg(st->ctx, &m) != 0) {
		conn_close(c, "cannot ping");
		return;
	}
	ws_flush(c);
	ws_rest(c);
}

/* A bad upgrade request gets a 400 and the connection is closed. */
static void
ws_reject(struct conn *c, const char *why)
{
	log_info("conn %llu: bad websocket handshake: %s",
	    (unsigned long long)c->id, why);
	bufferevent_write(c->bev, ws_bad_request, sizeof(ws_bad_request) - 1);
	conn_close_after_write(c, "bad handshake");
}

/* The 101 answer and wslay; -1 if c was closed. */
static int
ws_upgrade(struct conn *c, const struct ws_handshake *hs)
{
	struct ws_state	*st = c->tp_data;
	struct timeval	 tv = { conf.ping_interval, 0 };
	char		 accept[WS_ACCEPT_LEN + 1];

	if (ws_handshake_accept(hs->key, accept) == -1 ||
	    (st->ping_timer = event_new(base, -1, EV_PERSIST, ws_ping,
	    c)) == NULL) {
		conn_close(c, "cannot set up websocket");
		return -1;
	}
	st->upgraded = 1;
	evbuffer_add_printf(bufferevent_get_output(c->bev),
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n"
	    "\r\n", accept);
	snprintf(c->remote, sizeof(c->remote), "%s", hs->real_ip);
	st->last_rx = conn_now();
	evtimer_add(st->ping_timer, &tv);
	conn_set_state(c, CONN_LOGGED_OUT);
	/* After the 101, so that a refusal can be sent as a packet. */
	return addrlimit_admit(c);
}

/* The upgrade request; 0 once done, -1 while waiting or closed. */
static int
ws_handshake(struct conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	struct evbuffer_ptr	 end;
	struct ws_handshake	 hs;
	const char		*errstr;
	size_t			 len;

	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos == -1) {
		if (evbuffer_get_length(in) > WS_REQUEST_MAX)
			ws_reject(c, "request too long");
		return -1;
	}
	len = (size_t)end.pos + 4;
	if (len > WS_REQUEST_MAX) {
		ws_reject(c, "request too long");
		return -1;
	}
	if (ws_handshake_parse((char *)evbuffer_pullup(in, (ssize_t)len), len,
	    &hs, &errstr) == -1) {
		ws_reject(c, errstr);
		return -1;
	}
	evbuffer_drain(in, len);
	return ws_upgrade(c, &hs);
}

static void
ws_read(struct conn *c)
{
	if (c->state == CONN_HANDSHAKE && ws_handshake(c) == -1)
		return;
	if (c->state < CONN_CLOSING)
		ws_recv(c);
}

/*
 * One text message.  Inside wslay_event_recv() (an answer the daemon
 * makes itself) it is only queued: ws_recv() sends it on return.
 */
static ssize_t
ws_write(struct conn *c, const char *data, size_t len)
{
	struct ws_state		*st = c->tp_data;
	struct wslay_event_msg	 m = { WSLAY_TEXT_FRAME,
				    (const uint8_t *)data, len };
	ssize_t			 queued;

	if (ws_ctx(c) == NULL || wslay_event_queue_msg(st->ctx, &m) != 0)
		return -1;
	if (!st->in_recv && wslay_event_send(st->ctx) != 0)
		return -1;
	queued = (ssize_t)(evbuffer_get_length(bufferevent_get_output(c->bev)) +
	    wslay_event_get_queued_msg_length(st->ctx));
	ws_rest(c);
	return queued;
}

/*
 * A polite close: wslay drops data still queued once a close is queued,
 * so what is queued goes out first, then the close frame.
 */
static void
ws_finish(struct conn *c)
{
	struct ws_state	*st = c->tp_data;

	if (!st->upgraded || st->failed)
		return;
	if (ws_ctx(c) == NULL) {
		conn_close(c, "websocket send failed");
		return;
	}
	if (wslay_event_get_close_sent(st->ctx))
		return;
	if (wslay_event_send(st->ctx) != 0 ||
	    wslay_event_queue_close(st->ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL,
	    0) != 0 || wslay_event_send(st->ctx) != 0)
		conn_close(c, "websocket send failed");
}

static void
ws_free(struct conn *c)
{
	struct ws_state	*st = c->tp_data;

	if (st->ctx != NULL)
		wslay_event_context_free(st->ctx);
	if (st->ping_timer != NULL)
		event_free(st->ping_timer);
	free(st);
	c->tp_data = NULL;
}

const struct transport transport_ws = {
	.name = ENV_TRANSPORT_WS,
	.start = ws_start,
	.read = ws_read,
	.write = ws_write,
	.finish = ws_finish,
	.free = ws_free,
};
