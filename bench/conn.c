/*
 * One client connection through nginx: its socket, bound to one of
 * several loopback source addresses so that thousands of connections are
 * not limited by one address's ephemeral ports, its bufferevent, and the
 * native TCP framing (int32 little-endian length, then the JSON).  The
 * WebSocket framing is ws.c's.  Every packet read is parsed once and given
 * to the owner's ops->packet.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/resource.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "bench.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

static unsigned int	conn_next_source;

static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);

/* A socket bound to the next source address, port left to connect(2). */
static int
conn_socket(struct sockaddr_in *src)
{
	int	fd, one = 1;

	memset(src, 0, sizeof(*src));
	src->sin_family = AF_INET;
	src->sin_addr.s_addr = htonl(0x7f000002u +
	    conn_next_source++ % (unsigned int)opts.sources);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
	    sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)src, sizeof(*src)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The port c connects to: the second node's for odd ones, if given. */
int
bconn_port(const struct bconn *c)
{
	int	second = c->idx % 2 == 1;

	if (c->tp == TRANSPORT_WS)
		return second && opts.http_port2 != 0 ? opts.http_port2 :
		    opts.http_port;
	return second && opts.tcp_port2 != 0 ? opts.tcp_port2 : opts.tcp_port;
}

/*
 * A new connection to nginx's WebSocket or TCP port; ops->open is called
 * once packets can flow, ops->closed if that never happens.  NULL only
 * when no socket could be made (file descriptors ran out).
 */
struct bconn *
bconn_new(int idx, const struct bconn_ops *ops, void *arg)
{
	struct bconn		*c;
	struct sockaddr_in	 src, dst;
	int			 fd;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->idx = idx;
	c->tp = opts.tp;
	c->ops = ops;
	c->arg = arg;
	c->state = BCONN_CONNECTING;
	if ((fd = conn_socket(&src)) == -1)
		goto fail;
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)bconn_port(c));
	if (inet_pton(AF_INET, opts.host, &dst.sin_addr) != 1) {
		close(fd);
		goto fail;
	}
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		goto fail;
	}
	bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&dst,
	    sizeof(dst)) == -1)
		goto fail;
	bufferevent_enable(c->bev, EV_READ);
	return c;
fail:
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	free(c);
	return NULL;
}

void
bconn_free(struct bconn *c)
{
	if (c == NULL)
		return;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	ws_free(c);
	free(c);
}

/*
 * Ends c (safe twice) and tells its owner why.  Safe inside c's own
 * callbacks: libevent defers the bufferevent's free, and ws.c frees the
 * wslay context once wslay_event_recv has returned.  c itself stays
 * until its owner's bconn_free, which must not run inside them.
 */
void
bconn_close(struct bconn *c, const char *reason)
{
	if (c->state == BCONN_CLOSED)
		return;
	c->state = BCONN_CLOSED;
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (!c->in_recv)
		ws_free(c);
	if (c->ops->closed != NULL)
		c->ops->closed(c, reason);
}

/* Sends one packet of len bytes of JSON. */
int
bconn_send(struct bconn *c, const char *data, size_t len)
{
	unsigned char	hdr[4];

	if (c->state != BCONN_OPEN || len == 0 || len > BENCH_PACKET_MAX)
		return -1;
	c->packets_out++;
	if (c->tp == TRANSPORT_WS)
		return ws_send(c, data, len);
	hdr[0] = (unsigned char)(len & 0xff);
	hdr[1] = (unsigned char)((len >> 8) & 0xff);
	hdr[2] = (unsigned char)((len >> 16) & 0xff);
	hdr[3] = (unsigned char)((len >> 24) & 0xff);
	if (bufferevent_write(c->bev, hdr, sizeof(hdr)) == -1 ||
	    bufferevent_write(c->bev, data, len) == -1)
		return -1;
	return 0;
}

int
bconn_send_json(struct bconn *c, cJSON *p)
{
	char	buf[BENCH_PACKET_MAX + 5];

	if (!cJSON_PrintPreallocated(p, buf, sizeof(buf), 0))
		return -1;
	return bconn_send(c, buf, strlen(buf));
}

/* One packet read: parsed, then the owner's. */
void
bconn_deliver(struct bconn *c, const char *data, size_t len)
{
	cJSON		*root;
	const cJSON	*cmd;

	c->packets_in++;
	if ((root = cJSON_ParseWithLength(data, len)) == NULL)
		return;
	cmd = cJSON_GetObjectItemCaseSensitive(root, "command");
	if (cJSON_IsString(cmd) && cmd->valuestring != NULL)
		c->ops->packet(c, root, cmd->valuestring);
	cJSON_Delete(root);
}

/* TCP: every complete frame in the input buffer. */
static void
conn_read_tcp(struct bconn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	unsigned char	 hdr[4];
	char		 buf[BENCH_PACKET_MAX];
	uint32_t	 len;

	while (c->state == BCONN_OPEN &&
	    evbuffer_copyout(in, hdr, sizeof(hdr)) == sizeof(hdr)) {
		len = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 |
		    (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
		if (len == 0 || len > sizeof(buf)) {
			bconn_close(c, "bad frame length from server");
			return;
		}
		if (evbuffer_get_length(in) < sizeof(hdr) + len)
			return;
		evbuffer_drain(in, sizeof(hdr));
		evbuffer_remove(in, buf, len);
		bconn_deliver(c, buf, len);
	}
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct bconn	*c = arg;

	int		 rc;

	(void)bev;
	if (c->tp == TRANSPORT_TCP)
		conn_read_tcp(c);
	else if ((rc = ws_read(c)) < 0)
		bconn_close(c, rc == -2 ? "websocket upgrade refused" :
		    "websocket error");
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct bconn	*c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->tp == TRANSPORT_WS) {
			c->state = BCONN_UPGRADING;
			if (ws_start(c) == -1)
				bconn_close(c, "websocket upgrade not sent");
			return;
		}
		c->state = BCONN_OPEN;
		c->ops->open(c);
		return;
	}
	if (what & BEV_EVENT_EOF)
		bconn_close(c, "closed by server");
	else if (what & BEV_EVENT_ERROR)
		bconn_close(c, c->state == BCONN_CONNECTING ?
		    "connect failed" : "socket error");
}

/* Descriptors this process holds now, for the reports. */
int
bconn_open_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own */
}
