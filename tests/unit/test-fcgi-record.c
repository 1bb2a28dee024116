/*
 * push_daemon/fcgi-client.c: a request encoded and decoded back, and an
 * answer (STDOUT, STDERR, END_REQUEST, with padding) decoded whole and
 * split at every byte boundary; broken streams are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../push_daemon/push_daemon.h"

/* What a decoded stream adds up to. */
struct seen {
	uint8_t	params[4096];
	size_t	params_len;
	uint8_t	in[4096];
	size_t	in_len;
	uint8_t	out[4096];
	size_t	out_len;
	uint8_t	err[256];
	size_t	err_len;
	int	begin;		/* BEGIN_REQUEST seen, RESPONDER */
	int	params_end;	/* empty PARAMS seen */
	int	in_end;		/* empty STDIN seen */
	int	end;		/* END_REQUEST seen */
	uint32_t app;
	uint8_t	proto;
};

static void
add(uint8_t *buf, size_t *len, const struct fcgi_chunk *c)
{
	memcpy(buf + *len, c->data, c->len);
	*len += c->len;
}

static void
seen_chunk(struct seen *s, const struct fcgi_chunk *c)
{
	assert_int_equal(c->id, 1);
	switch (c->type) {
	case FCGI_BEGIN_REQUEST:
		assert_int_equal(c->len, 8);
		assert_int_equal(c->data[0] << 8 | c->data[1], FCGI_RESPONDER);
		assert_int_equal(c->data[2], 0);	/* no KEEP_CONN */
		s->begin = 1;
		break;
	case FCGI_PARAMS:
		if (c->len == 0 && c->last)
			s->params_end = 1;
		add(s->params, &s->params_len, c);
		break;
	case FCGI_STDIN:
		if (c->len == 0 && c->last)
			s->in_end = 1;
		add(s->in, &s->in_len, c);
		break;
	case FCGI_STDOUT:
		add(s->out, &s->out_len, c);
		break;
	case FCGI_STDERR:
		add(s->err, &s->err_len, c);
		break;
	case FCGI_END_REQUEST:
		assert_int_equal(fcgi_end_request_parse(c, &s->app,
		    &s->proto), 0);
		s->end = 1;
		break;
	default:
		fail_msg("unexpected record type %d", c->type);
	}
}

/* Feeds buf in pieces of step bytes (0: whole); FCGI_ERROR or FCGI_MORE. */
static enum fcgi_result
feed(const uint8_t *buf, size_t len, size_t step, struct seen *s)
{
	struct fcgi_decoder	 d;
	struct fcgi_chunk	 c;
	const char		*errstr;
	size_t			 off = 0, n, used, pos;

	memset(s, 0, sizeof(*s));
	fcgi_decoder_init(&d);
	while (off < len) {
		n = step == 0 || len - off < step ? len - off : step;
		for (pos = 0; pos < n; pos += used) {
			switch (fcgi_decode(&d, buf + off + pos, n - pos, &used,
			    &c, &errstr)) {
			case FCGI_ERROR:
				return FCGI_ERROR;
			case FCGI_MORE:
				break;
			case FCGI_CHUNK:
				seen_chunk(s, &c);
				break;
			}
		}
		off += n;
	}
	return FCGI_MORE;
}

/* A record by hand, with padding; returns its length. */
static size_t
record(uint8_t *out, uint8_t version, uint8_t type, const void *p,
    size_t len, uint8_t pad)
{
	out[0] = version;
	out[1] = type;
	out[2] = 0;
	out[3] = 1;
	out[4] = (len >> 8) & 0xff;
	out[5] = len & 0xff;
	out[6] = pad;
	out[7] = 0;
	memcpy(out + 8, p, len);
	memset(out + 8 + len, 0xee, pad);
	return 8 + len + pad;
}

static const char	answer_body[] =
    "Status: 200 OK\r\nContent-Type: application/json\r\n\r\n"
    "{\"actions\":[]}";

static size_t
answer(uint8_t *buf)
{
	static const uint8_t	end[8] = { 0, 0, 0, 7, 0, 0, 0, 0 };
	size_t			n = 0;

	n += record(buf + n, 1, FCGI_STDOUT, answer_body, 20, 4);
	n += record(buf + n, 1, FCGI_STDERR, "oops\n", 5, 3);
	n += record(buf + n, 1, FCGI_STDOUT, answer_body + 20,
	    sizeof(answer_body) - 1 - 20, 0);
	n += record(buf + n, 1, FCGI_STDOUT, "", 0, 0);
	n += record(buf + n, 1, FCGI_END_REQUEST, end, 8, 0);
	return n;
}

static void
check_answer(const struct seen *s)
{
	assert_int_equal(s->out_len, sizeof(answer_body) - 1);
	assert_memory_equal(s->out, answer_body, s->out_len);
	assert_int_equal(s->err_len, 5);
	assert_true(s->end);
	assert_int_equal(s->app, 7);
	assert_int_equal(s->proto, FCGI_REQUEST_COMPLETE);
}

static void
test_answer_whole(void **state)
{
	uint8_t		buf[512];
	struct seen	s;
	size_t		n;

	(void)state;
	n = answer(buf);
	assert_int_equal(feed(buf, n, 0, &s), FCGI_MORE);
	check_answer(&s);
}

/* Split at every boundary, and fed one byte at a time. */
static void
test_answer_split(void **state)
{
	struct fcgi_decoder	 d;
	struct fcgi_chunk	 c;
	struct seen		 s;
	const char		*errstr;
	uint8_t			 buf[512];
	size_t			 n, cut, pos, used, lo, hi;

	(void)state;
	n = answer(buf);
	for (cut = 0; cut <= n; cut++) {
		memset(&s, 0, sizeof(s));
		fcgi_decoder_init(&d);
		for (lo = 0; lo < n; lo = hi) {
			hi = lo < cut ? cut : n;
			for (pos = lo; pos < hi; pos += used) {
				if (fcgi_decode(&d, buf + pos, hi - pos, &used,
				    &c, &errstr) != FCGI_CHUNK)
					break;
				seen_chunk(&s, &c);
			}
		}
		check_answer(&s);
	}
	assert_int_equal(feed(buf, n, 1, &s), FCGI_MORE);
	check_answer(&s);
}

static void
check_pair(const uint8_t *p, size_t len, size_t *off, const char *name,
    const char *value)
{
	const uint8_t	*n, *v;
	size_t		 nl, vl, used;

	assert_int_equal(fcgi_pair_decode(p + *off, len - *off, &used, &n, &nl,
	    &v, &vl), 0);
	assert_int_equal(nl, strlen(name));
	assert_memory_equal(n, name, nl);
	assert_int_equal(vl, strlen(value));
	assert_memory_equal(v, value, vl);
	*off += used;
}

/* A request decodes back to its params (1- and 4-byte lengths) and body. */
static void
test_request_roundtrip(void **state)
{
	static uint8_t		 out[16384];
	static char		 longv[300];
	const char		 body[] = "{\"command\":\"login\"}";
	struct fcgi_param	 params[] = {
		{ "CHAT_EVENT", "packet" },
		{ "EMPTY", "" },
		{ "LONG", longv },
	};
	struct seen		 s;
	ssize_t			 n;
	size_t			 off = 0;

	(void)state;
	memset(longv, 'v', sizeof(longv) - 1);
	n = fcgi_request_encode(out, sizeof(out), 1, params, 3,
	    (const uint8_t *)body, sizeof(body) - 1);
	assert_true(n > 0);
	assert_int_equal(n % 8, 0);	/* every record padded */
	assert_int_equal(feed(out, (size_t)n, 0, &s), FCGI_MORE);
	assert_true(s.begin && s.params_end && s.in_end);
	check_pair(s.params, s.params_len, &off, "CHAT_EVENT", "packet");
	check_pair(s.params, s.params_len, &off, "EMPTY", "");
	check_pair(s.params, s.params_len, &off, "LONG", longv);
	assert_int_equal(off, s.params_len);
	assert_int_equal(s.in_len, sizeof(body) - 1);
	assert_memory_equal(s.in, body, s.in_len);
	/* Too small a buffer is refused, not overrun. */
	assert_int_equal(fcgi_request_encode(out, 40, 1, params, 3,
	    (const uint8_t *)body, sizeof(body) - 1), -1);
}

/* An empty body still ends STDIN with an empty record. */
static void
test_request_empty_body(void **state)
{
	uint8_t			out[512];
	struct fcgi_param	params[] = { { "CHAT_EVENT", "closed" } };
	struct seen		s;
	ssize_t			n;
	size_t			off = 0;

	(void)state;
	n = fcgi_request_encode(out, sizeof(out), 1, params, 1, NULL, 0);
	assert_true(n > 0);
	assert_int_equal(n % 8, 0);
	assert_int_equal(feed(out, (size_t)n, 0, &s), FCGI_MORE);
	assert_true(s.begin && s.params_end && s.in_end);
	check_pair(s.params, s.params_len, &off, "CHAT_EVENT", "closed");
	assert_int_equal(off, s.params_len);
	assert_int_equal(s.in_len, 0);
}

static void
test_bad_records(void **state)
{
	uint8_t		buf[64];
	struct seen	s;
	size_t		n;

	(void)state;
	n = record(buf, 2, FCGI_STDOUT, "x", 1, 0);
	assert_int_equal(feed(buf, n, 0, &s), FCGI_ERROR);
	n = record(buf, 0, FCGI_STDOUT, "x", 1, 0);
	assert_int_equal(feed(buf, n, 0, &s), FCGI_ERROR);
	n = record(buf, 1, 0, "x", 1, 0);
	assert_int_equal(feed(buf, n, 0, &s), FCGI_ERROR);
	n = record(buf, 1, 42, "x", 1, 0);
	assert_int_equal(feed(buf, n, 0, &s), FCGI_ERROR);
	/* END_REQUEST is 8 bytes; 9 is a broken stream. */
	n = record(buf, 1, FCGI_END_REQUEST, "123456789", 9, 0);
	assert_int_equal(feed(buf, n, 0, &s), FCGI_ERROR);
}

static void
test_bad_pairs(void **state)
{
	static const uint8_t	cut[] = { 4, 10, 'N', 'A', 'M', 'E', 'v' };
	static const uint8_t	cutlen[] = { 0x80, 0, 1 };
	const uint8_t		*n, *v;
	size_t			 nl, vl, used;

	(void)state;
	assert_int_equal(fcgi_pair_decode(cut, sizeof(cut), &used, &n, &nl,
	    &v, &vl), -1);
	assert_int_equal(fcgi_pair_decode(cutlen, sizeof(cutlen), &used, &n,
	    &nl, &v, &vl), -1);
	assert_int_equal(fcgi_pair_decode(cut, 0, &used, &n, &nl, &v, &vl),
	    -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_whole),
		cmocka_unit_test(test_answer_split),
		cmocka_unit_test(test_request_roundtrip),
		cmocka_unit_test(test_request_empty_body),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_bad_pairs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
