/*
 * push_daemon/deliver.c: the hold-back during fetches, the ring of fetched
 * tracks, written reports and fetch retries, over stubs of what it calls
 * in conn.c and upstream.c.  The connection's output is a real
 * bufferevent whose loop never runs: what deliver.c writes piles up in its
 * output buffer, and a test drains it to play the socket taking bytes.
 */
#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <cJSON.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "../../common/envelope.h"
#include "../../push_daemon/push_daemon.h"

#define WIRE_MAX	2048

struct config	conf;

static const struct transport	fake_tp = { .name = ENV_TRANSPORT_WS };

static struct event_base	*tbase;
static int			 peer = -1;	/* the socket's other end */
static struct conn		 tc;		/* the one connection */

/* What the stubs saw. */
static struct {
	char	 wire[WIRE_MAX][64];	/* packets written, in order */
	u_int	 nwire;
	u_int	 fetches;		/* conn_fetch() calls */
	char	 fetch_body[64];	/* the last one's */
	char	 reason[64];		/* the close's */
} seen;

/* Events submitted to upstream.c and not answered yet. */
static TAILQ_HEAD(, upstream_event) submitted =
    TAILQ_HEAD_INITIALIZER(submitted);

void
conn_write(struct conn *c, const char *data, size_t len)
{
	if (c->state >= CONN_CLOSING)
		return;
	assert_int_equal(evbuffer_add(bufferevent_get_output(c->bev), data,
	    len), 0);
	assert_true(seen.nwire < WIRE_MAX);
	snprintf(seen.wire[seen.nwire++], sizeof(seen.wire[0]), "%.*s",
	    (int)len, data);
}

/* As conn.c's: the conn leaves the table, so conn_find() fails. */
void
conn_close(struct conn *c, const char *reason)
{
	if (c->state == CONN_CLOSED)
		return;
	snprintf(seen.reason, sizeof(seen.reason), "%s", reason);
	deliver_close(c, 1);
	c->state = CONN_CLOSED;
}

struct conn *
conn_find(uint64_t id)
{
	return id == tc.id && tc.state != CONN_CLOSED ? &tc : NULL;
}

int
conn_fetch(struct conn *c, const char *body, size_t len)
{
	if (c->state >= CONN_CLOSING)
		return -1;
	seen.fetches++;
	snprintf(seen.fetch_body, sizeof(seen.fetch_body), "%.*s", (int)len,
	    body);
	return 0;
}

struct upstream_event *
upstream_event_new(const char *name, uint64_t conn_id, const char *account,
    int ack, const char *transport, const char *remote, struct packet *body,
    upstream_done_fn done)
{
	struct upstream_event	*ev;

	ev = calloc(1, sizeof(*ev));
	assert_non_null(ev);
	ev->name = name;
	ev->conn_id = conn_id;
	snprintf(ev->account, sizeof(ev->account), "%s", account);
	ev->ack = ack;
	ev->transport = transport;
	snprintf(ev->remote, sizeof(ev->remote), "%s", remote);
	ev->body = body;
	ev->done = done;
	return ev;
}

void
upstream_submit(enum upstream_lane lane, struct upstream_event *ev)
{
	assert_int_equal(lane, LANE_MAIN);
	TAILQ_INSERT_TAIL(&submitted, ev, entry);
}

static u_int
nsubmitted(void)
{
	struct upstream_event	*ev;
	u_int			 n = 0;

	TAILQ_FOREACH(ev, &submitted, entry)
		n++;
	return n;
}

/*
 * Answers the oldest report, which must carry tracks (a JSON array), as
 * upstream.c does: done with an empty action list, or NULL if failed.
 */
static void
answer_report(const char *tracks, int failed)
{
	struct upstream_event	*ev = TAILQ_FIRST(&submitted);
	char			 body[512];
	cJSON			*actions;

	assert_non_null(ev);
	TAILQ_REMOVE(&submitted, ev, entry);
	assert_string_equal(ev->name, ENV_EVENT_WRITTEN);
	assert_int_equal(ev->conn_id, tc.id);
	assert_string_equal(ev->account, "10001");
	assert_string_equal(ev->transport, ENV_TRANSPORT_WS);
	assert_string_equal(ev->remote, "192.0.2.7");
	snprintf(body, sizeof(body), "{\"tracks\":%s}", tracks);
	assert_non_null(ev->body);
	assert_string_equal(ev->body->data, body);
	actions = failed ? NULL : cJSON_CreateArray();
	ev->done(ev, actions);
	cJSON_Delete(actions);
	packet_free(ev->body);
	free(ev);
}

/*
 * The socket takes n more bytes of the output.  A socket bufferevent
 * keeps the front of its output frozen to all but its own writes.
 */
static void
sock_takes(size_t n)
{
	struct evbuffer	*out = bufferevent_get_output(tc.bev);

	assert_true(evbuffer_get_length(out) >= n);
	assert_int_equal(evbuffer_unfreeze(out, 1), 0);
	assert_int_equal(evbuffer_drain(out, n), 0);
	assert_int_equal(evbuffer_freeze(out, 1), 0);
}

static void
assert_wire(u_int n, ...)
{
	va_list	ap;
	u_int	i;

	assert_int_equal(seen.nwire, n);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		assert_string_equal(seen.wire[i], va_arg(ap, const char *));
	va_end(ap);
}

static void
send_str(const char *data, const char *track, int flags)
{
	deliver_send(&tc, data, strlen(data), track, flags);
}

static int
setup(void **state)
{
	int	fds[2];

	(void)state;
	memset(&conf, 0, sizeof(conf));
	memset(&seen, 0, sizeof(seen));
	memset(&tc, 0, sizeof(tc));
	conf.output_max_kib = 64;
	assert_non_null(tbase = event_base_new());
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	peer = fds[1];
	tc.bev = bufferevent_socket_new(tbase, fds[0], BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(tc.bev);
	tc.id = 7;
	tc.tp = &fake_tp;
	tc.state = CONN_LOGGED_IN;
	snprintf(tc.account, sizeof(tc.account), "10001");
	snprintf(tc.remote, sizeof(tc.remote), "192.0.2.7");
	assert_int_equal(deliver_init(&tc), 0);
	return 0;
}

static int
teardown(void **state)
{
	struct upstream_event	*ev;

	(void)state;
	conn_close(&tc, "test over");
	while ((ev = TAILQ_FIRST(&submitted)) != NULL) {
		TAILQ_REMOVE(&submitted, ev, entry);
		packet_free(ev->body);
		free(ev);
	}
	bufferevent_free(tc.bev);
	close(peer);
	event_base_free(tbase);
	return 0;
}

static void
test_hold_back_during_fetch_then_release_in_order(void **state)
{
	(void)state;
	deliver_fetch(&tc, "", 0);
	assert_int_equal(seen.fetches, 1);
	send_str("a", NULL, DELIVER_ACCOUNT);
	send_str("b", "m2", DELIVER_ACCOUNT);
	/* The connection's own answers and the fetch's are not held. */
	send_str("own", NULL, 0);
	send_str("f1", "m1", DELIVER_FETCHED);
	assert_wire(2, "own", "f1");
	/* The fetch's answer asks for the next page: still held. */
	deliver_fetch(&tc, "{\"after\":\"1\"}", 13);
	assert_int_equal(seen.fetches, 2);
	send_str("c", NULL, DELIVER_ACCOUNT);
	deliver_fetch_end(&tc, NULL, 0);
	assert_wire(2, "own", "f1");
	deliver_fetch_end(&tc, NULL, 0);
	assert_wire(5, "own", "f1", "a", "b", "c");
	/* Over: sends go straight out. */
	send_str("d", NULL, DELIVER_ACCOUNT);
	assert_wire(6, "own", "f1", "a", "b", "c", "d");
}

static void
test_held_packet_the_fetch_wrote_is_dropped(void **state)
{
	(void)state;
	deliver_fetch(&tc, "", 0);
	send_str("live m5", "m5", DELIVER_ACCOUNT);
	send_str("live m6", "m6", DELIVER_ACCOUNT);
	send_str("fetched m5", "m5", DELIVER_FETCHED);
	deliver_fetch_end(&tc, NULL, 0);
	assert_wire(2, "fetched m5", "live m6");
	/* A sender's worker that answers after the fetch ran: dropped too. */
	send_str("late m5", "m5", DELIVER_ACCOUNT);
	assert_wire(2, "fetched m5", "live m6");
	/* Only sends to the account are checked, and only by track. */
	send_str("own m5", "m5", 0);
	send_str("untracked", NULL, DELIVER_ACCOUNT);
	assert_wire(4, "fetched m5", "live m6", "own m5", "untracked");
}

static void
test_ring_remembers_1024_forgets_the_oldest(void **state)
{
	char	track[16];
	u_int	i;

	(void)state;
	for (i = 0; i < FETCHED_MAX; i++) {
		snprintf(track, sizeof(track), "m%u", i);
		send_str("fetched", track, DELIVER_FETCHED);
	}
	assert_int_equal(seen.nwire, FETCHED_MAX);
	for (i = 0; i < FETCHED_MAX; i++) {
		snprintf(track, sizeof(track), "m%u", i);
		send_str("late", track, DELIVER_ACCOUNT);
	}
	assert_int_equal(seen.nwire, FETCHED_MAX);
	/* The 1025th pushes the oldest out, and only it. */
	send_str("fetched", "m1024", DELIVER_FETCHED);
	for (i = 1; i <= FETCHED_MAX; i++) {
		snprintf(track, sizeof(track), "m%u", i);
		send_str("late", track, DELIVER_ACCOUNT);
	}
	assert_int_equal(seen.nwire, FETCHED_MAX + 1);
	send_str("late m0", "m0", DELIVER_ACCOUNT);
	assert_int_equal(seen.nwire, FETCHED_MAX + 2);
	assert_string_equal(seen.wire[FETCHED_MAX + 1], "late m0");
}

static void
test_reported_once_its_last_byte_left(void **state)
{
	(void)state;
	send_str("abc", NULL, 0);
	send_str("0123456789", "m7", 0);
	send_str("xy", "m8", 0);
	/* Queued is not written. */
	assert_int_equal(nsubmitted(), 0);
	sock_takes(12);
	assert_int_equal(nsubmitted(), 0);
	sock_takes(1);
	assert_int_equal(nsubmitted(), 1);
	answer_report("[\"m7\"]", 0);
	assert_int_equal(nsubmitted(), 0);
	sock_takes(1);
	assert_int_equal(nsubmitted(), 0);
	sock_takes(1);
	answer_report("[\"m8\"]", 0);
	assert_int_equal(nsubmitted(), 0);
}

static void
test_reports_batched_while_one_is_in_flight(void **state)
{
	(void)state;
	send_str("p1", "m1", 0);
	sock_takes(2);
	assert_int_equal(nsubmitted(), 1);
	send_str("p2", "m2", 0);
	send_str("p3", "c3", 0);
	sock_takes(4);
	assert_int_equal(nsubmitted(), 1);
	answer_report("[\"m1\"]", 0);
	assert_int_equal(nsubmitted(), 1);
	send_str("p4", "m4", 0);
	sock_takes(2);
	assert_int_equal(nsubmitted(), 1);
	/* A failed report still lets the next go: the marks are only late. */
	answer_report("[\"m2\",\"c3\"]", 1);
	assert_int_equal(nsubmitted(), 1);
	answer_report("[\"m4\"]", 0);
	assert_int_equal(nsubmitted(), 0);
}

/* Before an unbind, what went out is reported at once, in flight or not. */
static void
test_flush_reports_before_unbind(void **state)
{
	(void)state;
	deliver_flush(&tc);
	assert_int_equal(nsubmitted(), 0);
	send_str("p1", "m1", 0);
	sock_takes(2);
	send_str("p2", "m2", 0);
	sock_takes(2);
	assert_int_equal(nsubmitted(), 1);
	deliver_flush(&tc);
	assert_int_equal(nsubmitted(), 2);
	answer_report("[\"m1\"]", 0);
	answer_report("[\"m2\"]", 0);
	assert_int_equal(nsubmitted(), 0);
}

static void
test_failed_fetch_runs_again_then_hold_back_ends(void **state)
{
	const char	*after = "{\"after\":\"41\"}";
	struct packet	*p;
	int		 run;

	(void)state;
	assert_non_null(p = packet_new(PACKET_FETCH, after, strlen(after)));
	deliver_fetch(&tc, p->data, p->len);
	send_str("held", NULL, DELIVER_ACCOUNT);
	for (run = 1; run < FETCH_TRIES; run++) {
		deliver_fetch_end(&tc, p, 1);
		/* The same fetch again, same cursor, still holding back. */
		assert_int_equal(seen.fetches, run + 1);
		assert_string_equal(seen.fetch_body, after);
		assert_int_equal(seen.nwire, 0);
	}
	/* The last run failed too: no more, and what was held goes out. */
	deliver_fetch_end(&tc, p, 1);
	assert_int_equal(seen.fetches, FETCH_TRIES);
	assert_wire(1, "held");
	packet_free(p);
}

/* Failures are counted in a row: one that works starts the count again. */
static void
test_fetch_failures_reset_by_a_success(void **state)
{
	(void)state;
	deliver_fetch(&tc, "", 0);
	deliver_fetch_end(&tc, NULL, 1);
	assert_int_equal(seen.fetches, 2);
	deliver_fetch_end(&tc, NULL, 0);
	deliver_fetch(&tc, "", 0);
	deliver_fetch_end(&tc, NULL, 1);
	deliver_fetch_end(&tc, NULL, 1);
	assert_int_equal(seen.fetches, 5);
	send_str("held", NULL, DELIVER_ACCOUNT);
	deliver_fetch_end(&tc, NULL, 1);
	assert_int_equal(seen.fetches, 5);
	assert_wire(1, "held");
}

static void
test_held_too_much_is_a_slow_client(void **state)
{
	char	big[700];

	(void)state;
	conf.output_max_kib = 1;
	memset(big, 'x', sizeof(big));
	deliver_fetch(&tc, "", 0);
	deliver_send(&tc, big, sizeof(big), NULL, DELIVER_ACCOUNT);
	assert_int_equal(tc.state, CONN_LOGGED_IN);
	deliver_send(&tc, big, sizeof(big), "m1", DELIVER_ACCOUNT);
	assert_int_equal(tc.state, CONN_CLOSED);
	assert_string_equal(seen.reason, "slow client");
	deliver_fetch_end(&tc, NULL, 0);
	assert_int_equal(seen.nwire, 0);
}

/*
 * A close reports what went out and frees the rest: held packets, tracks
 * still queued, the ring; LeakSanitizer checks nothing is left.
 */
static void
test_close_reports_and_frees_everything(void **state)
{
	char	track[16];
	u_int	i;

	(void)state;
	for (i = 0; i < 100; i++) {
		snprintf(track, sizeof(track), "m%u", i);
		send_str("fetched", track, DELIVER_FETCHED);
	}
	sock_takes(7);
	assert_int_equal(nsubmitted(), 1);
	sock_takes(7);
	deliver_fetch(&tc, "", 0);
	send_str("held", "m200", DELIVER_ACCOUNT);
	conn_close(&tc, "client closed");
	assert_int_equal(nsubmitted(), 2);
	answer_report("[\"m0\"]", 0);
	answer_report("[\"m1\"]", 0);
	/* Nothing more: the conn is gone, and so is its output counting. */
	assert_int_equal(nsubmitted(), 0);
	sock_takes(7);
	send_str("after", NULL, 0);
	deliver_fetch_end(&tc, NULL, 0);
	assert_int_equal(nsubmitted(), 0);
	assert_int_equal(seen.nwire, 100);
}

/* Stopping: nothing is told to the workers, everything is freed. */
static void
test_close_when_stopping_reports_nothing(void **state)
{
	(void)state;
	send_str("p1", "m1", 0);
	sock_takes(2);
	send_str("p2", "m2", 0);
	sock_takes(2);
	deliver_fetch(&tc, "", 0);
	send_str("held", NULL, DELIVER_ACCOUNT);
	deliver_close(&tc, 0);
	tc.state = CONN_CLOSED;
	answer_report("[\"m1\"]", 0);
	assert_int_equal(nsubmitted(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_hold_back_during_fetch_then_release_in_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_held_packet_the_fetch_wrote_is_dropped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_ring_remembers_1024_forgets_the_oldest, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_reported_once_its_last_byte_left, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_reports_batched_while_one_is_in_flight, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_flush_reports_before_unbind, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_failed_fetch_runs_again_then_hold_back_ends, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_fetch_failures_reset_by_a_success, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_held_too_much_is_a_slow_client, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_close_reports_and_frees_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_close_when_stopping_reports_nothing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
