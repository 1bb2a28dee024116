/*
 * The client side of a WebSocket connection: the HTTP upgrade request
 * (RFC 6455 section 4.1), the check of the server's Sec-WebSocket-Accept
 * (SHA-1 and base64 from libcrypto), then wslay in client mode, which
 * masks what we send, answers the server's pings and reads its frames.
 * wslay does no I/O: its callbacks move bytes between it and the
 * connection's bufferevent.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "bench.h"

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_HEAD_MAX	4096

static uint64_t	ws_mask_state = 0x9e3779b97f4a7c15ULL;

static ssize_t
ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *arg)
{
	struct bconn	*c = arg;
	int		 n;

	(void)flags;
	if (c->bev == NULL) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	n = evbuffer_remove(bufferevent_get_input(c->bev), buf, len);
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

/* The output buffer takes everything: wslay never waits. */
static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct bconn	*c = arg;

	(void)flags;
	if (c->bev == NULL || bufferevent_write(c->bev, data, len) == -1) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

/*
 * Masks need not be secret here (RFC 6455 wants them unpredictable to
 * defeat proxy cache poisoning, which a benchmark on loopback does not
 * fear): a xorshift keeps the generator's CPU for the measurement.
 */
static int
ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
    void *arg)
{
	size_t	i;

	(void)ctx;
	(void)arg;
	for (i = 0; i < len; i++) {
		ws_mask_state ^= ws_mask_state << 13;
		ws_mask_state ^= ws_mask_state >> 7;
		ws_mask_state ^= ws_mask_state << 17;
		buf[i] = (uint8_t)ws_mask_state;
	}
	return 0;
}

static void
ws_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
	struct bconn	*c = arg;

	(void)ctx;
	if (m->opcode == WSLAY_TEXT_FRAME || m->opcode == WSLAY_BINARY_FRAME)
		bconn_deliver(c, (const char *)m->msg, m->msg_length);
}

static const struct wslay_event_callbacks ws_callbacks = {
	.recv_callback = ws_recv_cb,
	.send_callback = ws_send_cb,
	.genmask_callback = ws_genmask_cb,
	.on_msg_recv_callback = ws_msg_cb,
};

/* base64(SHA-1(key GUID)), as the server must answer. */
static void
ws_accept_of(const char *key, char *out, size_t outlen)
{
	unsigned char	digest[SHA_DIGEST_LENGTH];
	char		buf[128];
	unsigned char	b64[64];

	snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);
	SHA1((const unsigned char *)buf, strlen(buf), digest);
	EVP_EncodeBlock(b64, digest, SHA_DIGEST_LENGTH);
	snprintf(out, outlen, "%s", (const char *)b64);
}

/* Sends the upgrade request with a fresh key. */
int
ws_start(struct bconn *c)
{
	unsigned char	raw[16];
	unsigned char	b64[32];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	EVP_EncodeBlock(b64, raw, sizeof(raw));
	snprintf(c->ws_key, sizeof(c->ws_key), "%s", (const char *)b64);
	return evbuffer_add_printf(bufferevent_get_output(c->bev),
	    "GET /ws HTTP/1.1\r\n"
	    "Host: %s:%d\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "\r\n", opts.host, bconn_port(c), c->ws_key) < 0 ? -1 : 0;
}

/*
 * Checks the server's answer head: status 101 and the right accept
 * value.  Returns 1 when it is whole and good, 0 when more is needed, -1.
 */
static int
ws_check_head(struct bconn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	struct evbuffer_ptr	 end;
	char			 head[WS_HEAD_MAX + 1], want[64], *line, *save;
	char			*v;
	size_t			 len;
	int			 status = 0, accept = 0;

	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos == -1)
		return evbuffer_get_length(in) > WS_HEAD_MAX ? -1 : 0;
	len = (size_t)end.pos + 4;
	if (len > WS_HEAD_MAX)
		return -1;
	evbuffer_remove(in, head, len);
	head[len] = '\0';
	ws_accept_of(c->ws_key, want, sizeof(want));
	for (line = strtok_r(head, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save)) {
		if (strncmp(line, "HTTP/1.1 ", 9) == 0)
			status = atoi(line + 9);
		else if (strncasecmp(line, "Sec-WebSocket-Accept:", 21) == 0) {
			for (v = line + 21; *v == ' ' || *v == '\t'; v++)
				;
			accept = strcmp(v, want) == 0;
		}
	}
	return status == 101 && accept ? 1 : -1;
}

/*
 * Bytes have arrived: the head first, then frames through wslay.  -2: the
 * upgrade was refused, -1: a framing error.
 */
int
ws_read(struct bconn *c)
{
	int	rc;

	if (c->state == BCONN_UPGRADING) {
		if ((rc = ws_check_head(c)) <= 0)
			return rc == 0 ? 0 : -2;
		if (wslay_event_context_client_init(&c->ws, &ws_callbacks,
		    c) != 0)
			return -1;
		wslay_event_config_set_max_recv_msg_length(c->ws,
		    BENCH_PACKET_MAX * 4);
		c->state = BCONN_OPEN;
		c->ops->open(c);
		if (c->state != BCONN_OPEN)
			return 0;
	}
	if (c->ws == NULL)
		return 0;
	c->in_recv = 1;
	rc = wslay_event_recv(c->ws);
	c->in_recv = 0;
	if (c->state == BCONN_CLOSED) {
		/* Closed by a callback of ours. */
		ws_free(c);
		return 0;
	}
	if (rc != 0)
		return -1;
	/* Pongs, and a close answered. */
	if (wslay_event_want_write(c->ws) && wslay_event_send(c->ws) != 0)
		return -1;
	if (!wslay_event_want_read(c->ws))
		return -1;
	return 0;
}

int
ws_send(struct bconn *c, const char *data, size_t len)
{
	struct wslay_event_msg	m;

	m.opcode = WSLAY_TEXT_FRAME;
	m.msg = (const uint8_t *)data;
	m.msg_length = len;
	if (wslay_event_queue_msg(c->ws, &m) != 0)
		return -1;
	return wslay_event_send(c->ws) == 0 ? 0 : -1;
}

void
ws_free(struct bconn *c)
{
	if (c->ws != NULL) {
		wslay_event_context_free(c->ws);
		c->ws = NULL;
	}
}
