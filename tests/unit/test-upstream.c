/*
 * push_daemon/upstream.c over a stub pool: what a batch carries and how
 * its answer is handed back.  The stub takes each request's body and done
 * callback; a test then answers it as a worker would, or with nonsense, and
 * checks every event's done: its own actions, or NULL for each event of a
 * batch whose answer is not one entry per event (a worker died, answered
 * garbage, answered too few).  The daemon turns NULL into a refusal, so
 * this is where an unparsable answer becomes a client's "server error".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cJSON.h>
#include <event2/event.h>

#include "../../common/envelope.h"
#include "../../push_daemon/push_daemon.h"

struct event_base	*base;
struct config		 conf;

/* The stub pool: one connection, one request at a time. */
static struct {
	void		(*ready)(void *);
	void		*ready_arg;
	int		 busy;
	pool_done_fn	 done;
	void		*arg;
	char		 body[65536];
	size_t		 body_len;
	int		 requests;
} P[LANE_COUNT];
static int	npools;

struct pool *
pool_new(const char *name, const char *path, int size,
    const struct fcgi_param *greeting, size_t ngreeting,
    void (*ready)(void *), void *ready_arg)
{
	int	i = npools++;

	(void)name;
	(void)path;
	(void)size;
	(void)greeting;
	(void)ngreeting;
	assert_true(i < LANE_COUNT);
	P[i].ready = ready;
	P[i].ready_arg = ready_arg;
	return (struct pool *)(uintptr_t)(i + 1);
}

void
pool_free(struct pool *p)
{
	int	i = (int)(uintptr_t)p - 1;

	if (P[i].busy && P[i].done != NULL)
		P[i].done(P[i].arg, NULL, 0, "stopping");
	P[i].busy = 0;
}

int
pool_idle(const struct pool *p)
{
	return !P[(int)(uintptr_t)p - 1].busy;
}

int
pool_submit(struct pool *p, const struct fcgi_param *params, size_t n,
    const uint8_t *body, size_t len, pool_done_fn done, void *arg)
{
	int	i = (int)(uintptr_t)p - 1;

	(void)params;
	(void)n;
	if (P[i].busy)
		return -1;
	assert_true(len < sizeof(P[i].body));
	memcpy(P[i].body, body, len);
	P[i].body[len] = '\0';
	P[i].body_len = len;
	P[i].busy = 1;
	P[i].done = done;
	P[i].arg = arg;
	P[i].requests++;
	return 0;
}

void
pool_counts(const struct pool *p, struct pool_counts *pc)
{
	memset(pc, 0, sizeof(*pc));
	(void)p;
}

uint64_t
conn_new_id(void)
{
	static uint64_t	id = 1000;

	return ++id;
}

/* The answers each event got, in the order done was called. */
static struct {
	uint64_t	conn_id;
	int		had_actions;
	char		first_op[16];
} got[64];
static int	ngot;

static void
record_done(struct upstream_event *ev, const cJSON *actions)
{
	const cJSON	*op;

	assert_true(ngot < 64);
	got[ngot].conn_id = ev->conn_id;
	got[ngot].had_actions = actions != NULL;
	got[ngot].first_op[0] = '\0';
	if (actions != NULL && (op = cJSON_GetObjectItem(actions->child,
	    "op")) != NULL)
		snprintf(got[ngot].first_op, sizeof(got[ngot].first_op), "%s",
		    op->valuestring);
	ngot++;
}

static void
submit(uint64_t conn_id, const char *data)
{
	struct upstream_event	*ev;
	struct packet		*p;

	assert_non_null(p = packet_new(PACKET_DATA, data, strlen(data)));
	assert_non_null(ev = upstream_event_new(ENV_EVENT_PACKET, conn_id,
	    "10000", 0, "ws", "127.0.0.1", p, record_done));
	upstream_submit(LANE_MAIN, ev);
}

/* The loop's turn in which deferred runs happen. */
static void
turn(void)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
}

/* The worker answers the main lane's request with body. */
static void
answer(const char *body)
{
	pool_done_fn	 done = P[LANE_MAIN].done;

	assert_true(P[LANE_MAIN].busy);
	P[LANE_MAIN].busy = 0;
	done(P[LANE_MAIN].arg, body, body != NULL ? strlen(body) : 0,
	    body != NULL ? NULL : "worker closed the connection");
	/* As pool.c: the connection is free again once done has run. */
	P[LANE_MAIN].ready(P[LANE_MAIN].ready_arg);
}

static int
setup(void **state)
{
	(void)state;
	memset(P, 0, sizeof(P));
	memset(&conf, 0, sizeof(conf));
	npools = 0;
	ngot = 0;
	conf.workers = 1;
	conf.login_workers = 1;
	conf.batch_max = 256;
	snprintf(conf.node_name, sizeof(conf.node_name), "node1");
	assert_non_null(base = event_base_new());
	upstream_init();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	upstream_shutdown();
	event_base_free(base);
	return 0;
}

/* Count the events (header lines) in the last request's body. */
static int
events_in_body(void)
{
	const char	*s = P[LANE_MAIN].body;
	int		 n = 0;

	while ((s = strstr(s, "{\"event\":")) != NULL) {
		n++;
		s++;
	}
	return n;
}

/* What waits when the connection is free goes in one batch, in order. */
static void
test_waiting_events_share_a_batch(void **state)
{
	(void)state;
	submit(1, "{\"command\":\"a\"}");
	turn();
	assert_int_equal(P[LANE_MAIN].requests, 1);
	assert_int_equal(events_in_body(), 1);
	submit(2, "{\"command\":\"b\"}");
	submit(3, "{\"command\":\"c\"}");
	submit(4, "{\"command\":\"d\"}");
	turn();
	/* The connection is busy: they wait, together. */
	assert_int_equal(P[LANE_MAIN].requests, 1);
	answer("{\"answers\":[{\"actions\":[{\"op\":\"send\",\"data\":\"x\"}]}]}");
	turn();
	assert_int_equal(P[LANE_MAIN].requests, 2);
	assert_int_equal(events_in_body(), 3);
	assert_non_null(strstr(P[LANE_MAIN].body, "\"conn\":\"2\""));
	assert_true(strstr(P[LANE_MAIN].body, "\"conn\":\"2\"") <
	    strstr(P[LANE_MAIN].body, "\"conn\":\"4\""));
	answer("{\"answers\":[{\"actions\":[{\"op\":\"unbind\"}]},"
	    "{\"failed\":true},{\"actions\":[{\"op\":\"close\"}]}]}");
	assert_int_equal(ngot, 4);
	assert_int_equal(got[0].conn_id, 1);
	assert_string_equal(got[0].first_op, "send");
	assert_string_equal(got[1].first_op, "unbind");
	assert_false(got[2].had_actions);	/* failed */
	assert_string_equal(got[3].first_op, "close");
}

/*
 * An answer that is not JSON, not an answer list, or not one entry per
 * event, and a worker that closes: every event of the batch gets NULL.
 */
static void
test_bad_answers_fail_every_event(void **state)
{
	static const char *const bad[] = {
		"not json at all",
		"{\"actions\":[]}",
		"{\"answers\":[{\"actions\":[]}]}",	/* one for two */
		"{\"answers\":{}}",
		NULL,					/* connection closed */
	};
	size_t	i;
	int	base_got;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		base_got = ngot;
		submit(10 + i, "{\"command\":\"x\"}");
		turn();
		submit(20 + i, "{\"command\":\"y\"}");
		submit(30 + i, "{\"command\":\"z\"}");
		/* The first goes alone; answer it well. */
		answer("{\"answers\":[{\"actions\":[]}]}");
		turn();
		assert_int_equal(events_in_body(), 2);
		answer(bad[i]);
		assert_int_equal(ngot, base_got + 3);
		assert_true(got[base_got].had_actions);
		assert_false(got[base_got + 1].had_actions);
		assert_false(got[base_got + 2].had_actions);
	}
}

/* A group is never split across batches, whatever the cap. */
static void
test_a_group_stays_whole(void **state)
{
	struct upstream_event	*ev;
	struct packet		*p;
	int			 i;

	(void)state;
	/* The lanes again, with a cap of four events a batch. */
	teardown(NULL);
	memset(P, 0, sizeof(P));
	npools = 0;
	conf.batch_max = 4;
	assert_non_null(base = event_base_new());
	upstream_init();
	submit(1, "{\"command\":\"plug\"}");
	turn();
	submit(2, "{\"command\":\"a\"}");
	submit(3, "{\"command\":\"b\"}");
	/* A group of three from connection 9: it does not fit after 2. */
	for (i = 0; i < 3; i++) {
		assert_non_null(p = packet_new(PACKET_DATA, "{}", 2));
		assert_non_null(ev = upstream_event_new(ENV_EVENT_PACKET, 9,
		    "10000", 0, "ws", "", p, record_done));
		ev->group_rest = 2 - i;
		upstream_submit(LANE_MAIN, ev);
	}
	answer("{\"answers\":[{\"actions\":[]}]}");
	turn();
	assert_int_equal(events_in_body(), 2);
	assert_null(strstr(P[LANE_MAIN].body, "\"conn\":\"9\""));
	answer("{\"answers\":[{\"actions\":[]},{\"actions\":[]}]}");
	turn();
	assert_int_equal(events_in_body(), 3);
	answer("{\"answers\":[{\"actions\":[]},{\"actions\":[]},"
	    "{\"actions\":[]}]}");
	assert_int_equal(ngot, 6);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test_setup_teardown(test_waiting_events_share_a_batch,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_answers_fail_every_event,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_group_stays_whole, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
