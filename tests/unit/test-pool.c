/*
 * push_daemon/pool.c on a real event loop, against a fake FastCGI worker
 * in the same loop: a Unix socket in a temporary directory whose
 * connections are read with a parser of its own (not fcgi-client.c's, so
 * that the two are checked against each other) and answered with STDOUT
 * and END_REQUEST, or closed, or left waiting, as a test asks.  A test
 * runs the loop until what it waits for has happened; a 10 s deadline
 * fails it instead of hanging.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "../../push_daemon/push_daemon.h"

struct event_base	*base;
struct config		 conf;

#define FW_CONNS	8
#define FW_TEXT_MAX	256

/* What the worker does with a request that is not a greeting. */
enum fw_mode {
	FW_ANSWER,		/* "pong:" and the body */
	FW_CLOSE,		/* close the connection instead */
	FW_CLOSE_HALFWAY,	/* close it after half an answer */
	FW_HOLD,		/* never answer */
	FW_STATUS_500,		/* answer with Status: 500 */
};

struct fw_conn {
	struct bufferevent	*bev;		/* NULL: slot free */
	u_int			 requests;	/* whole ones read on it */
	uint16_t		 id;		/* of the request being read */
	uint8_t			 flags;		/* its BEGIN_REQUEST flags */
	uint8_t			 params[FW_TEXT_MAX];
	size_t			 params_len;
	char			 body[FW_TEXT_MAX];	/* its STDIN */
	size_t			 body_len;
};

/* The fake worker, and what it saw. */
static struct {
	char		 dir[SOCKET_PATH_MAX - 16];	/* room for the name */
	char		 path[SOCKET_PATH_MAX];
	int		 fd;
	struct event	*accept_ev;
	struct fw_conn	 conns[FW_CONNS];
	enum fw_mode	 mode;
	u_int		 accepted;	/* connections */
	u_int		 greetings;	/* first requests that were greetings */
	u_int		 not_greeting_first; /* first requests that were not */
	u_int		 requests;	/* requests after the greeting */
	u_int		 no_keep_conn;	/* requests without FCGI_KEEP_CONN */
	u_int		 held;		/* requests left unanswered */
	char		 script[FW_TEXT_MAX];	/* the last SCRIPT_NAME */
	char		 body[FW_TEXT_MAX];	/* the last request's body */
} fw;

/* One request's end, as done() saw it. */
struct result {
	u_int	calls;
	int	got_body;		/* body was not NULL */
	char	body[FW_TEXT_MAX];
	char	errstr[64];		/* "" if none */
};

static const struct fcgi_param	greeting[] = {
	{ "REQUEST_METHOD", "POST" },
	{ "SCRIPT_NAME", "/hello" },
	{ "CONTENT_LENGTH", "0" },
};

static struct pool	*tp;		/* the pool under test */
static u_int		 readies;	/* ready() calls */
static int		 timed_out;
static struct event	*deadline;

/* The value of name among FastCGI name-value pairs, or NULL. */
static const char *
fw_param(const uint8_t *p, size_t len, const char *name, char *out,
    size_t outsz)
{
	size_t	off = 0, nl, vl;

	while (off < len) {
		nl = p[off] & 0x80 ? 0 : p[off++];
		vl = p[off] & 0x80 ? 0 : p[off++];
		/* The pool sends short pairs only: 4-byte lengths are wrong. */
		if (nl == 0 || off + nl + vl > len)
			return NULL;
		if (nl == strlen(name) && memcmp(p + off, name, nl) == 0) {
			snprintf(out, outsz, "%.*s", (int)vl, p + off + nl);
			return out;
		}
		off += nl + vl;
	}
	return NULL;
}

static void
fw_record(struct fw_conn *fc, uint8_t type, const void *data, size_t len)
{
	uint8_t	h[8] = { 1, type, fc->id >> 8, fc->id & 0xff, len >> 8,
		    len & 0xff, 0, 0 };

	bufferevent_write(fc->bev, h, sizeof(h));
	if (len > 0)
		bufferevent_write(fc->bev, data, len);
}

static void
fw_answer(struct fw_conn *fc, const char *status, const char *text)
{
	static const uint8_t	end[8];	/* app status 0, REQUEST_COMPLETE */
	char			out[FW_TEXT_MAX * 2];
	int			n;

	n = snprintf(out, sizeof(out), "Status: %s\r\nContent-Type: "
	    "application/json\r\n\r\n%s", status, text);
	fw_record(fc, FCGI_STDOUT, out, (size_t)n);
	fw_record(fc, FCGI_STDOUT, NULL, 0);
	fw_record(fc, FCGI_END_REQUEST, end, sizeof(end));
}

/* Written now, not queued: the connection is closed right after. */
static void
fw_half_answer(struct fw_conn *fc)
{
	static const char	text[] = "Status: 200 OK\r\n\r\n{\"half";
	uint8_t			rec[8 + sizeof(text) - 1] = { 1, FCGI_STDOUT };

	rec[2] = fc->id >> 8;
	rec[3] = fc->id & 0xff;
	rec[5] = sizeof(text) - 1;
	memcpy(rec + 8, text, sizeof(text) - 1);
	assert_int_equal(write(bufferevent_getfd(fc->bev), rec, sizeof(rec)),
	    (ssize_t)sizeof(rec));
}

static void
fw_close(struct fw_conn *fc)
{
	bufferevent_free(fc->bev);
	memset(fc, 0, sizeof(*fc));
}

/* A whole request has been read: the first on a connection is a greeting. */
static void
fw_request(struct fw_conn *fc)
{
	char	script[FW_TEXT_MAX], pong[FW_TEXT_MAX + 8];

	if (fw_param(fc->params, fc->params_len, "SCRIPT_NAME", script,
	    sizeof(script)) == NULL)
		script[0] = '\0';
	if ((fc->flags & FCGI_KEEP_CONN) == 0)
		fw.no_keep_conn++;
	if (fc->requests++ == 0) {
		if (strcmp(script, "/hello") == 0 && fc->body_len == 0)
			fw.greetings++;
		else
			fw.not_greeting_first++;
		fw_answer(fc, "200 OK", "{}");
		return;
	}
	fw.requests++;
	snprintf(fw.script, sizeof(fw.script), "%s", script);
	snprintf(fw.body, sizeof(fw.body), "%.*s", (int)fc->body_len,
	    fc->body);
	switch (fw.mode) {
	case FW_ANSWER:
		snprintf(pong, sizeof(pong), "pong:%.*s", (int)fc->body_len,
		    fc->body);
		fw_answer(fc, "200 OK", pong);
		break;
	case FW_CLOSE:
		fw_close(fc);
		break;
	case FW_CLOSE_HALFWAY:
		fw_half_answer(fc);
		fw_close(fc);
		break;
	case FW_HOLD:
		fw.held++;
		break;
	case FW_STATUS_500:
		fw_answer(fc, "500 Internal Server Error", "oops");
		break;
	}
}

/* Reads whole records: BEGIN_REQUEST, then PARAMS and STDIN to their ends. */
static void
fw_read_cb(struct bufferevent *bev, void *arg)
{
	struct fw_conn	*fc = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	uint8_t		 h[8], content[65535];
	size_t		 clen;

	while (fc->bev != NULL && evbuffer_copyout(in, h, 8) == 8) {
		clen = (size_t)h[4] << 8 | h[5];
		if (evbuffer_get_length(in) < 8 + clen + h[6])
			return;
		evbuffer_drain(in, 8);
		evbuffer_remove(in, content, clen);
		evbuffer_drain(in, h[6]);
		assert_int_equal(h[0], FCGI_VERSION_1);
		switch (h[1]) {
		case FCGI_BEGIN_REQUEST:
			assert_int_equal(clen, 8);
			assert_int_equal(content[1], FCGI_RESPONDER);
			fc->id = (uint16_t)(h[2] << 8 | h[3]);
			fc->flags = content[2];
			fc->params_len = fc->body_len = 0;
			break;
		case FCGI_PARAMS:
			assert_true(fc->params_len + clen <=
			    sizeof(fc->params));
			memcpy(fc->params + fc->params_len, content, clen);
			fc->params_len += clen;
			break;
		case FCGI_STDIN:
			if (clen == 0) {
				fw_request(fc);
				break;
			}
			assert_true(fc->body_len + clen <= sizeof(fc->body));
			memcpy(fc->body + fc->body_len, content, clen);
			fc->body_len += clen;
			break;
		default:
			fail_msg("record type %u from the pool", h[1]);
		}
	}
}

static void
fw_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	fw_close(arg);
}

static void
fw_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct fw_conn	*fc = NULL;
	int		 fd, i;

	(void)what;
	(void)arg;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1)
		return;
	for (i = 0; i < FW_CONNS && fc == NULL; i++)
		if (fw.conns[i].bev == NULL)
			fc = &fw.conns[i];
	assert_non_null(fc);
	fc->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(fc->bev);
	bufferevent_setcb(fc->bev, fw_read_cb, NULL, fw_event_cb, fc);
	bufferevent_enable(fc->bev, EV_READ | EV_WRITE);
	fw.accepted++;
}

static void
fw_start(void)
{
	struct sockaddr_un	 sun;
	const char		*tmp = getenv("TMPDIR");
	int			 n;

	n = snprintf(fw.dir, sizeof(fw.dir), "%s/test-pool.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : P_tmpdir);
	assert_true(n > 0 && (size_t)n < sizeof(fw.dir));
	assert_non_null(mkdtemp(fw.dir));
	snprintf(fw.path, sizeof(fw.path), "%s/fcgi.sock", fw.dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fw.path);
	fw.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fw.fd != -1);
	assert_int_equal(bind(fw.fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fw.fd, 16), 0);
	fw.accept_ev = event_new(base, fw.fd, EV_READ | EV_PERSIST,
	    fw_accept_cb, NULL);
	assert_non_null(fw.accept_ev);
	event_add(fw.accept_ev, NULL);
}

static void
fw_stop(void)
{
	int	i;

	for (i = 0; i < FW_CONNS; i++)
		if (fw.conns[i].bev != NULL)
			fw_close(&fw.conns[i]);
	event_free(fw.accept_ev);
	close(fw.fd);
	unlink(fw.path);
	rmdir(fw.dir);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	timed_out = 1;
}

/* Runs the loop until cond holds; the deadline fails the test. */
#define RUN_UNTIL(cond) do {						\
	struct timeval	tv_ = { 10, 0 };				\
									\
	timed_out = 0;							\
	evtimer_add(deadline, &tv_);					\
	while (!(cond)) {						\
		if (timed_out)						\
			fail_msg("timed out waiting for %s", #cond);	\
		event_base_loop(base, EVLOOP_ONCE);			\
	}								\
	evtimer_del(deadline);						\
} while (0)

static void
ready_cb(void *arg)
{
	(void)arg;
	readies++;
}

static void
done_cb(void *arg, const char *body, size_t len, const char *errstr)
{
	struct result	*r = arg;

	r->calls++;
	r->got_body = body != NULL;
	snprintf(r->body, sizeof(r->body), "%.*s", (int)len,
	    body != NULL ? body : "");
	snprintf(r->errstr, sizeof(r->errstr), "%s",
	    errstr != NULL ? errstr : "");
}

/* A request to /work carrying text as its body. */
static int
submit(const char *text, struct result *r)
{
	static const struct fcgi_param	params[] = {
		{ "REQUEST_METHOD", "POST" },
		{ "SCRIPT_NAME", "/work" },
	};

	return pool_submit(tp, params, sizeof(params) / sizeof(params[0]),
	    (const uint8_t *)text, strlen(text), done_cb, r);
}

static void
new_pool(int size)
{
	tp = pool_new("test", fw.path, size, greeting,
	    sizeof(greeting) / sizeof(greeting[0]), ready_cb, NULL);
	assert_non_null(tp);
}

static int
setup(void **state)
{
	(void)state;
	memset(&fw, 0, sizeof(fw));
	memset(&conf, 0, sizeof(conf));
	readies = 0;
	tp = NULL;
	assert_non_null(base = event_base_new());
	assert_non_null(deadline = evtimer_new(base, deadline_cb, NULL));
	fw_start();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	pool_free(tp);
	fw_stop();
	event_free(deadline);
	event_base_free(base);
	base = NULL;
	return 0;
}

static void
test_greeting_first_on_each_connection(void **state)
{
	(void)state;
	new_pool(3);
	/* Connections are made from the loop, not by pool_new(). */
	assert_int_equal(pool_idle(tp), 0);
	RUN_UNTIL(pool_idle(tp) == 3);
	assert_int_equal(fw.accepted, 3);
	assert_int_equal(fw.greetings, 3);
	assert_int_equal(fw.not_greeting_first, 0);
	assert_int_equal(fw.requests, 0);
	/* Each counts as free once its greeting is answered, not before. */
	assert_int_equal(readies, 3);
}

static void
test_request_answered_with_the_cgi_body(void **state)
{
	struct result	r = { 0 };

	(void)state;
	new_pool(1);
	RUN_UNTIL(pool_idle(tp) == 1);
	assert_int_equal(submit("ping 1", &r), 0);
	assert_int_equal(r.calls, 0);
	RUN_UNTIL(r.calls > 0);
	assert_int_equal(r.calls, 1);
	assert_true(r.got_body);
	/* The CGI headers are gone: only what follows the blank line. */
	assert_string_equal(r.body, "pong:ping 1");
	assert_string_equal(r.errstr, "");
	assert_string_equal(fw.script, "/work");
	assert_string_equal(fw.body, "ping 1");
	assert_int_equal(pool_idle(tp), 1);
}

/* Kept connections: every request asks for it, and none is made again. */
static void
test_keep_conn_set_and_connection_reused(void **state)
{
	struct result	r[3];
	char		text[16];
	int		i;

	(void)state;
	memset(r, 0, sizeof(r));
	new_pool(1);
	RUN_UNTIL(pool_idle(tp) == 1);
	for (i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "n%d", i);
		assert_int_equal(submit(text, &r[i]), 0);
		RUN_UNTIL(r[i].calls > 0);
		assert_string_equal(r[i].errstr, "");
	}
	assert_string_equal(r[2].body, "pong:n2");
	assert_int_equal(fw.requests, 3);
	assert_int_equal(fw.no_keep_conn, 0);
	assert_int_equal(fw.accepted, 1);
	assert_int_equal(fw.greetings, 1);
}

static void
test_worker_closing_mid_request_fails_it_and_reconnects(void **state)
{
	struct result	r = { 0 }, r2 = { 0 };

	(void)state;
	new_pool(1);
	RUN_UNTIL(pool_idle(tp) == 1);
	fw.mode = FW_CLOSE;
	assert_int_equal(submit("doomed", &r), 0);
	RUN_UNTIL(r.calls > 0);
	assert_int_equal(r.calls, 1);
	assert_false(r.got_body);
	assert_string_equal(r.errstr, "worker closed the connection");
	/* Made again, greeting first, then as good as new. */
	fw.mode = FW_ANSWER;
	RUN_UNTIL(pool_idle(tp) == 1);
	assert_int_equal(fw.accepted, 2);
	assert_int_equal(fw.greetings, 2);
	assert_int_equal(fw.not_greeting_first, 0);
	assert_int_equal(submit("again", &r2), 0);
	RUN_UNTIL(r2.calls > 0);
	assert_string_equal(r2.body, "pong:again");
	assert_int_equal(r.calls, 1);
	/* Half an answer is no answer either. */
	memset(&r, 0, sizeof(r));
	fw.mode = FW_CLOSE_HALFWAY;
	assert_int_equal(submit("half", &r), 0);
	RUN_UNTIL(r.calls > 0);
	assert_false(r.got_body);
	assert_string_equal(r.errstr, "worker closed the connection");
	fw.mode = FW_ANSWER;
	RUN_UNTIL(pool_idle(tp) == 1);
	assert_int_equal(fw.accepted, 3);
	assert_int_equal(fw.greetings, 3);
}

static void
test_error_status_fails_the_request(void **state)
{
	struct result	r = { 0 };

	(void)state;
	new_pool(1);
	RUN_UNTIL(pool_idle(tp) == 1);
	fw.mode = FW_STATUS_500;
	assert_int_equal(submit("x", &r), 0);
	RUN_UNTIL(r.calls > 0);
	assert_false(r.got_body);
	assert_string_equal(r.errstr, "worker answered with an error status");
}

static void
test_idle_counts_free_connections(void **state)
{
	struct result	r[2];

	(void)state;
	memset(r, 0, sizeof(r));
	new_pool(3);
	RUN_UNTIL(pool_idle(tp) == 3);
	assert_int_equal(submit("a", &r[0]), 0);
	assert_int_equal(pool_idle(tp), 2);
	assert_int_equal(submit("b", &r[1]), 0);
	assert_int_equal(pool_idle(tp), 1);
	RUN_UNTIL(r[0].calls > 0 && r[1].calls > 0);
	assert_int_equal(pool_idle(tp), 3);
	assert_string_equal(r[0].body, "pong:a");
	assert_string_equal(r[1].body, "pong:b");
}

static void
test_second_request_waits_for_a_free_connection(void **state)
{
	struct result	r1 = { 0 }, r2 = { 0 };
	u_int		before;

	(void)state;
	new_pool(1);
	RUN_UNTIL(pool_idle(tp) == 1);
	assert_int_equal(submit("first", &r1), 0);
	/* None free: refused at once, and done is not called for it. */
	assert_int_equal(submit("second", &r2), -1);
	before = readies;
	RUN_UNTIL(r1.calls > 0);
	assert_int_equal(r2.calls, 0);
	/* The connection is free again and says so. */
	assert_int_equal(readies, before + 1);
	assert_int_equal(submit("second", &r2), 0);
	RUN_UNTIL(r2.calls > 0);
	assert_string_equal(r2.body, "pong:second");
	assert_int_equal(fw.requests, 2);
}

static void
test_free_ends_a_request_in_flight_with_stopping(void **state)
{
	struct result	r = { 0 };

	(void)state;
	new_pool(2);
	RUN_UNTIL(pool_idle(tp) == 2);
	fw.mode = FW_HOLD;
	assert_int_equal(submit("never answered", &r), 0);
	RUN_UNTIL(fw.held == 1);
	assert_int_equal(r.calls, 0);
	pool_free(tp);
	tp = NULL;
	assert_int_equal(r.calls, 1);
	assert_false(r.got_body);
	assert_string_equal(r.errstr, "stopping");
	pool_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_greeting_first_on_each_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_request_answered_with_the_cgi_body, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_keep_conn_set_and_connection_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_worker_closing_mid_request_fails_it_and_reconnects,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_error_status_fails_the_request, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_idle_counts_free_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_second_request_waits_for_a_free_connection, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_free_ends_a_request_in_flight_with_stopping, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
