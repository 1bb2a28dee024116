/*
 * The FastCGI client's records, after the shape of OpenBSD httpd's
 * server_fcgi.c: a request is BEGIN_REQUEST (RESPONDER, KEEP_CONN or not),
 * PARAMS name-value pairs, an empty PARAMS, STDIN, an empty STDIN.  The
 * answer is read by a streaming decoder that hands out record content in
 * pieces pointing into the caller's bytes, so a record split across reads
 * needs no buffering.  No I/O here: upstream.c owns the sockets.
 */
#include <stdio.h>
#include <string.h>

#include "push_daemon.h"

/* A record's content is at most 65535 bytes; we pad to 8. */
#define FCGI_CONTENT_MAX	65535
#define FCGI_PAD(n)		((8 - ((n) & 7)) & 7)

/* Room for the encoded params of one request. */
#define FCGI_PAIRS_MAX		8192

struct fcgi_out {
	uint8_t	*buf;
	size_t	 size;
	size_t	 len;
	int	 overflow;
};

static void
fcgi_out_add(struct fcgi_out *o, const void *p, size_t n)
{
	if (o->overflow || o->size - o->len < n) {
		o->overflow = 1;
		return;
	}
	if (n == 0)
		return;
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void
fcgi_out_record(struct fcgi_out *o, uint8_t type, uint16_t id,
    const uint8_t *content, size_t len)
{
	static const uint8_t	zero[8];
	uint8_t			hdr[FCGI_HEADER_LEN];
	size_t			pad = FCGI_PAD(len);

	hdr[0] = FCGI_VERSION_1;
	hdr[1] = type;
	hdr[2] = id >> 8;
	hdr[3] = id & 0xff;
	hdr[4] = (len >> 8) & 0xff;
	hdr[5] = len & 0xff;
	hdr[6] = (uint8_t)pad;
	hdr[7] = 0;
	fcgi_out_add(o, hdr, sizeof(hdr));
	fcgi_out_add(o, content, len);
	fcgi_out_add(o, zero, pad);
}

/* A stream (PARAMS, STDIN): records of at most 65535 bytes, then empty. */
static void
fcgi_out_stream(struct fcgi_out *o, uint8_t type, uint16_t id,
    const uint8_t *p, size_t len)
{
	size_t	n;

	while (len > 0) {
		n = len > FCGI_CONTENT_MAX ? FCGI_CONTENT_MAX : len;
		fcgi_out_record(o, type, id, p, n);
		p += n;
		len -= n;
	}
	fcgi_out_record(o, type, id, NULL, 0);
}

/* A name or value length: one byte below 128, else four with the top bit. */
static void
fcgi_out_length(struct fcgi_out *o, size_t n)
{
	uint8_t	b[4];

	if (n < 128) {
		b[0] = (uint8_t)n;
		fcgi_out_add(o, b, 1);
		return;
	}
	b[0] = ((n >> 24) & 0x7f) | 0x80;
	b[1] = (n >> 16) & 0xff;
	b[2] = (n >> 8) & 0xff;
	b[3] = n & 0xff;
	fcgi_out_add(o, b, 4);
}

/*
 * Encodes a whole request into out.  Returns its length, or -1 if it does
 * not fit in outsz or its pairs exceed FCGI_PAIRS_MAX (ours are a few
 * hundred bytes: names are fixed, values are ids and addresses).
 */
ssize_t
fcgi_request_encode(uint8_t *out, size_t outsz, uint16_t id,
    const struct fcgi_param *params, size_t nparams, const uint8_t *body,
    size_t bodylen)
{
	return fcgi_request_encode_flags(out, outsz, id, 0, params, nparams,
	    body, bodylen);
}

/*
 * The same with BEGIN_REQUEST's flags: FCGI_KEEP_CONN asks the worker to
 * keep the connection open for the next request.
 */
ssize_t
fcgi_request_encode_flags(uint8_t *out, size_t outsz, uint16_t id,
    uint8_t flags, const struct fcgi_param *params, size_t nparams,
    const uint8_t *body, size_t bodylen)
{
	uint8_t		 pairbuf[FCGI_PAIRS_MAX];
	struct fcgi_out	 o = { out, outsz, 0, 0 };
	struct fcgi_out	 pairs = { pairbuf, sizeof(pairbuf), 0, 0 };
	uint8_t		 begin[8] = { 0, FCGI_RESPONDER, 0, 0, 0, 0, 0, 0 };
	size_t		 i, nl, vl;

	begin[2] = flags;

	for (i = 0; i < nparams; i++) {
		nl = strlen(params[i].name);
		vl = strlen(params[i].value);
		fcgi_out_length(&pairs, nl);
		fcgi_out_length(&pairs, vl);
		fcgi_out_add(&pairs, params[i].name, nl);
		fcgi_out_add(&pairs, params[i].value, vl);
	}
	if (pairs.overflow)
		return -1;
	fcgi_out_record(&o, FCGI_BEGIN_REQUEST, id, begin, sizeof(begin));
	fcgi_out_stream(&o, FCGI_PARAMS, id, pairbuf, pairs.len);
	fcgi_out_stream(&o, FCGI_STDIN, id, body, bodylen);
	return o.overflow ? -1 : (ssize_t)o.len;
}

/* Room enough for a request with bodylen bytes of STDIN. */
size_t
fcgi_request_bound(size_t bodylen)
{
	size_t	pieces = bodylen / FCGI_CONTENT_MAX + 1;

	return FCGI_HEADER_LEN + 8 +			/* BEGIN_REQUEST */
	    2 * FCGI_HEADER_LEN + FCGI_PAIRS_MAX + 7 +	/* PARAMS, end */
	    pieces * (FCGI_HEADER_LEN + 7) + bodylen +	/* STDIN */
	    FCGI_HEADER_LEN;				/* its end */
}

void
fcgi_decoder_init(struct fcgi_decoder *d)
{
	memset(d, 0, sizeof(*d));
}

/* Types whose content is a stream handed out in pieces. */
static int
fcgi_is_stream(uint8_t type)
{
	return type == FCGI_PARAMS || type == FCGI_STDIN ||
	    type == FCGI_STDOUT || type == FCGI_STDERR || type == FCGI_DATA;
}

/* A complete header was collected: check it and start the record. */
static int
fcgi_decode_header(struct fcgi_decoder *d, const char **errstr)
{
	const uint8_t	*h = d->hdr;

	if (h[0] != FCGI_VERSION_1) {
		*errstr = "bad FastCGI version";
		return -1;
	}
	d->type = h[1];
	d->id = (uint16_t)(h[2] << 8 | h[3]);
	d->content_left = (size_t)(h[4] << 8 | h[5]);
	d->padding_left = h[6];
	d->small_len = 0;
	d->hdr_len = 0;
	d->in_record = 1;
	if (d->type == 0 || d->type > FCGI_UNKNOWN_TYPE) {
		*errstr = "bad FastCGI record type";
		return -1;
	}
	if (!fcgi_is_stream(d->type) && d->content_left > sizeof(d->small)) {
		*errstr = "FastCGI record too long for its type";
		return -1;
	}
	return 0;
}

/*
 * Content of the current record.  Stream records come out as they arrive
 * (an empty one once, with last set); the small fixed-size records are
 * collected and come out whole.  Returns 1 when *c was filled.
 */
static int
fcgi_decode_content(struct fcgi_decoder *d, const uint8_t *p, size_t len,
    size_t *used, struct fcgi_chunk *c)
{
	size_t	n = len < d->content_left ? len : d->content_left;
	int	stream = fcgi_is_stream(d->type);

	if (!stream) {
		memcpy(d->small + d->small_len, p, n);
		d->small_len += n;
	}
	d->content_left -= n;
	*used += n;
	if (stream && n == 0 && d->content_left > 0)
		return 0;
	if (!stream && d->content_left > 0)
		return 0;
	c->type = d->type;
	c->id = d->id;
	c->data = stream ? p : d->small;
	c->len = stream ? n : d->small_len;
	c->last = d->content_left == 0;
	return 1;
}

/*
 * Feeds len bytes.  *used says how many were consumed; call again with the
 * rest while the result is FCGI_CHUNK.  A chunk's data stays valid until
 * the caller's bytes (or the decoder, for small records) change.
 */
enum fcgi_result
fcgi_decode(struct fcgi_decoder *d, const uint8_t *p, size_t len,
    size_t *used, struct fcgi_chunk *c, const char **errstr)
{
	size_t	n;

	*used = 0;
	for (;;) {
		if (d->in_record && d->content_left == 0 &&
		    d->padding_left == 0) {
			d->in_record = 0;
			continue;
		}
		if (!d->in_record) {
			if (*used == len)
				return FCGI_MORE;
			n = FCGI_HEADER_LEN - d->hdr_len;
			if (n > len - *used)
				n = len - *used;
			memcpy(d->hdr + d->hdr_len, p + *used, n);
			d->hdr_len += n;
			*used += n;
			if (d->hdr_len < FCGI_HEADER_LEN)
				return FCGI_MORE;
			if (fcgi_decode_header(d, errstr) == -1)
				return FCGI_ERROR;
			if (d->content_left == 0) {
				fcgi_decode_content(d, p, 0, used, c);
				return FCGI_CHUNK;
			}
			continue;
		}
		if (d->content_left > 0) {
			if (*used == len)
				return FCGI_MORE;
			if (fcgi_decode_content(d, p + *used, len - *used,
			    used, c))
				return FCGI_CHUNK;
			continue;
		}
		if (*used == len)
			return FCGI_MORE;
		n = d->padding_left < len - *used ? d->padding_left :
		    len - *used;
		d->padding_left -= n;
		*used += n;
	}
}

/* Reads one name-value pair's length, 1 or 4 bytes. */
static int
fcgi_pair_length(const uint8_t *p, size_t len, size_t *off, size_t *n)
{
	if (*off >= len)
		return -1;
	if ((p[*off] & 0x80) == 0) {
		*n = p[(*off)++];
		return 0;
	}
	if (len - *off < 4)
		return -1;
	*n = (size_t)(p[*off] & 0x7f) << 24 | (size_t)p[*off + 1] << 16 |
	    (size_t)p[*off + 2] << 8 | p[*off + 3];
	*off += 4;
	return 0;
}

/* Decodes one PARAMS pair at the start of p; -1 if it is cut short. */
int
fcgi_pair_decode(const uint8_t *p, size_t len, size_t *used,
    const uint8_t **name, size_t *namelen, const uint8_t **value,
    size_t *valuelen)
{
	size_t	off = 0;

	if (fcgi_pair_length(p, len, &off, namelen) == -1 ||
	    fcgi_pair_length(p, len, &off, valuelen) == -1)
		return -1;
	if (len - off < *namelen || len - off - *namelen < *valuelen)
		return -1;
	*name = p + off;
	*value = p + off + *namelen;
	*used = off + *namelen + *valuelen;
	return 0;
}

/* An END_REQUEST body: appStatus (4 bytes), protocolStatus, 3 reserved. */
int
fcgi_end_request_parse(const struct fcgi_chunk *c, uint32_t *app,
    uint8_t *proto)
{
	if (c->type != FCGI_END_REQUEST || c->len != 8)
		return -1;
	*app = (uint32_t)c->data[0] << 24 | (uint32_t)c->data[1] << 16 |
	    (uint32_t)c->data[2] << 8 | c->data[3];
	*proto = c->data[4];
	return 0;
}
