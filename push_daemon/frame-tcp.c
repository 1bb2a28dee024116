/*
 * The native TCP framing: int32 little-endian Length, then Length bytes of
 * JSON; and the PROXY protocol v1 line nginx's stream proxy puts in front
 * of a connection.  Pure functions over a byte buffer, so the unit tests and
 * the fuzz target see exactly what transport-tcp.c sees.
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "push_daemon.h"

/*
 * Looks at the start of buf.  FRAME_PACKET: the packet is buf[*off] for
 * *len bytes and *used bytes are consumed.  FRAME_BAD: Length is outside
 * 1..PACKET_MAX and the stream cannot be trusted after it.  A single
 * trailing NUL inside Length is dropped: old C clients send one.
 */
enum frame_result
frame_tcp_decode(const uint8_t *buf, size_t buflen, size_t *off, size_t *len,
    size_t *used)
{
	uint32_t	u;
	int32_t		n;

	if (buflen < TCP_LENGTH_BYTES)
		return FRAME_MORE;
	u = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 |
	    (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24;
	memcpy(&n, &u, sizeof(n));
	if (n < 1 || n > PACKET_MAX)
		return FRAME_BAD;
	if (buflen - TCP_LENGTH_BYTES < (size_t)n)
		return FRAME_MORE;
	*off = TCP_LENGTH_BYTES;
	*len = (size_t)n;
	if (buf[TCP_LENGTH_BYTES + n - 1] == '\0')
		(*len)--;
	*used = TCP_LENGTH_BYTES + (size_t)n;
	return FRAME_PACKET;
}

/* Writes the length prefix of a len-byte packet; returns its size. */
size_t
frame_tcp_header(uint8_t out[TCP_LENGTH_BYTES], size_t len)
{
	uint32_t	u = (uint32_t)len;

	out[0] = u & 0xff;
	out[1] = (u >> 8) & 0xff;
	out[2] = (u >> 16) & 0xff;
	out[3] = (u >> 24) & 0xff;
	return TCP_LENGTH_BYTES;
}

/* A port: 1 to 5 digits, at most 65535. */
static int
frame_proxy_port(const char *s)
{
	char	*end;
	long	 n;

	if (*s < '0' || *s > '9' || strlen(s) > 5)
		return -1;
	n = strtol(s, &end, 10);
	if (*end != '\0' || n > 65535)
		return -1;
	return 0;
}

/*
 * Checks the fields after "PROXY ": "TCP4 src dst sport dport" (or TCP6),
 * or "UNKNOWN" followed by anything.  The source address goes to addr.
 */
static int
frame_proxy_fields(char *line, char *addr, size_t addrsz)
{
	char		*f[6], *last;
	int		 n = 0, af;
	uint8_t		 tmp[16];

	for (f[n] = strtok_r(line, " ", &last); f[n] != NULL && n < 5;
	    f[n] = strtok_r(NULL, " ", &last))
		n++;
	if (n >= 1 && strcmp(f[0], "UNKNOWN") == 0) {
		snprintf(addr, addrsz, "unknown");
		return 0;
	}
	if (n != 5 || f[5] != NULL)
		return -1;
	if (strcmp(f[0], "TCP4") == 0)
		af = AF_INET;
	else if (strcmp(f[0], "TCP6") == 0)
		af = AF_INET6;
	else
		return -1;
	if (inet_pton(af, f[1], tmp) != 1 || inet_pton(af, f[2], tmp) != 1)
		return -1;
	if (frame_proxy_port(f[3]) == -1 || frame_proxy_port(f[4]) == -1)
		return -1;
	if ((size_t)snprintf(addr, addrsz, "%s", f[1]) >= addrsz)
		return -1;
	return 0;
}

/*
 * Parses the PROXY v1 line at the start of buf, at most PROXY_LINE_MAX
 * bytes with its CRLF.  FRAME_PACKET: the client address is in addr and
 * *used bytes are the line.
 */
enum frame_result
frame_proxy_parse(const uint8_t *buf, size_t buflen, char *addr,
    size_t addrsz, size_t *used)
{
	char		 line[PROXY_LINE_MAX + 1];
	const uint8_t	*lf;
	size_t		 n, cmp;

	cmp = buflen < 6 ? buflen : 6;
	if (memcmp(buf, "PROXY ", cmp) != 0)
		return FRAME_BAD;
	n = buflen < PROXY_LINE_MAX ? buflen : PROXY_LINE_MAX;
	if ((lf = memchr(buf, '\n', n)) == NULL)
		return buflen < PROXY_LINE_MAX ? FRAME_MORE : FRAME_BAD;
	n = (size_t)(lf - buf) + 1;
	if (n < 8 || buf[n - 2] != '\r')
		return FRAME_BAD;
	memcpy(line, buf + 6, n - 8);
	line[n - 8] = '\0';
	if (memchr(line, '\0', n - 8) != NULL)
		return FRAME_BAD;
	if (frame_proxy_fields(line, addr, addrsz) == -1)
		return FRAME_BAD;
	*used = n;
	return FRAME_PACKET;
}
