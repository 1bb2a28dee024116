/*
 * push_daemon/conn.c over stubs of upstream.c, deliver.c, online.c and
 * route.c, with a transport of its own on a socketpair: how a
 * connection's packets leave for the workers.  One group in flight at a
 * time; a logged-in connection's run of packets as one group, in order;
 * a logged-out one's one at a time on the login lane; a rate-limited
 * packet refused in its turn by the workers' gate; a packet whose batch
 * failed refused with "server error" in its place, and worded by the
 * daemon only when no refusal gets through; a closed event once an
 * orphaned request is answered.
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
#include <event2/event.h>

#include "../../common/envelope.h"
#include "../../push_daemon/push_daemon.h"

struct event_base	*base;
struct config		 conf;

/* upstream.c: the events submitted, in order, with their lane. */
static struct upstream_event	*sub[64];
static enum upstream_lane	 sub_lane[64];
static int			 nsub;

struct upstream_event *
upstream_event_new(const char *name, uint64_t conn_id, const char *account,
    int ack, const char *transport, const char *remote, struct packet *body,
    upstream_done_fn done)
{
	struct upstream_event	*ev;

	assert_non_null(ev = calloc(1, sizeof(*ev)));
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
	assert_true(nsub < 64);
	sub_lane[nsub] = lane;
	sub[nsub++] = ev;
}

/* The worker's answer to submitted event i (NULL: it failed), as
 * upstream.c gives it: done, then the event is freed. */
static void
answer(int i, const char *actions_json)
{
	struct upstream_event	*ev = sub[i];
	cJSON			*actions = NULL;

	assert_non_null(ev);
	if (actions_json != NULL)
		assert_non_null(actions = cJSON_Parse(actions_json));
	sub[i] = NULL;
	ev->done(ev, actions);
	cJSON_Delete(actions);
	packet_free(ev->body);
	free(ev);
}

/* route.c: an answer's actions are not this test's business. */
int
route_answer(uint64_t id, const struct cJSON *actions, char *account,
    size_t accountsz, int fetch)
{
	(void)id;
	(void)account;
	(void)accountsz;
	(void)fetch;
	return cJSON_IsArray(actions) ? 0 : -1;
}

void
route_report(uint64_t id, const struct cJSON *actions)
{
	(void)id;
	(void)actions;
}

/* deliver.c, online.c, addrlimit.c, admin.c, linger.c: nothing to do. */
int	deliver_init(struct conn *c) { (void)c; return 0; }
void	deliver_fetch_end(struct conn *c, const struct packet *p, int f)
	    { (void)c; (void)p; (void)f; }
void	deliver_flush(struct conn *c) { (void)c; }
void	deliver_close(struct conn *c, int r) { (void)c; (void)r; }
int	online_add(struct conn *c) { (void)c; return 0; }
void	online_remove(struct conn *c) { (void)c; }
int	online_take(const struct conn *c, double now)
	    { (void)c; (void)now; return 1; }
void	addrlimit_release(struct conn *c) { (void)c; }
int	admin_refuses(const char *a) { (void)a; return 0; }
void	linger_fd(int fd) { close(fd); }

/* A transport that only records what the daemon itself writes. */
static char	written[4096];
static size_t	nwritten;

static int
fake_start(struct conn *c)
{
	conn_set_state(c, CONN_LOGGED_OUT);
	return 0;
}

static void	fake_read(struct conn *c) { (void)c; }

static ssize_t
fake_write(struct conn *c, const char *data, size_t len)
{
	(void)c;
	assert_true(nwritten + len + 1 < sizeof(written));
	memcpy(written + nwritten, data, len);
	nwritten += len;
	written[nwritten++] = '\n';
	return 0;
}

static void	fake_finish(struct conn *c) { (void)c; }
static void	fake_free(struct conn *c) { (void)c; }

static const struct transport fake = {
	"tcp", fake_start, fake_read, fake_write, fake_finish, fake_free
};

/* counters.c tells the transports apart by this one. */
const struct transport transport_ws = {
	"ws", fake_start, fake_read, fake_write, fake_finish, fake_free
};

static struct conn	*c;
static int		 peer;

static int
setup(void **state)
{
	int	sv[2];

	(void)state;
	memset(&conf, 0, sizeof(conf));
	conf.login_timeout = 30;
	conf.packet_rate = 1000;
	conf.packet_burst = 1000;
	conf.output_max_kib = 64;
	conf.batch_max = 256;
	nsub = 0;
	nwritten = 0;
	assert_non_null(base = event_base_new());
	conn_init(64);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	peer = sv[1];
	assert_non_null(c = conn_new(sv[0], &fake, "127.0.0.1"));
	return 0;
}

static int
teardown(void **state)
{
	int	i;

	(void)state;
	conn_shutdown();
	for (i = 0; i < nsub; i++)
		if (sub[i] != NULL) {
			packet_free(sub[i]->body);
			free(sub[i]);
		}
	close(peer);
	event_base_free(base);
	return 0;
}

static void
packet(const char *json)
{
	conn_packet(c, PACKET_DATA, json, strlen(json));
}

static const char *
body(int i)
{
	return sub[i]->body != NULL ? sub[i]->body->data : "";
}

static void
test_logged_in_runs_travel_as_groups(void **state)
{
	(void)state;
	conn_bind(c, "10000", 0);
	packet("{\"command\":\"p1\"}");
	assert_int_equal(nsub, 1);
	assert_int_equal(sub_lane[0], LANE_MAIN);
	packet("{\"command\":\"p2\"}");
	packet("{\"command\":\"p3\"}");
	packet("{\"command\":\"p4\"}");
	/* One group in flight: the rest wait for its answer. */
	assert_int_equal(nsub, 1);
	answer(0, "[]");
	assert_int_equal(nsub, 4);
	assert_string_equal(body(1), "{\"command\":\"p2\"}");
	assert_string_equal(body(3), "{\"command\":\"p4\"}");
	assert_int_equal(sub[1]->group_rest, 2);
	assert_int_equal(sub[2]->group_rest, 1);
	assert_int_equal(sub[3]->group_rest, 0);
	/* Only the group's last answer lets the next packet go. */
	answer(1, "[]");
	answer(2, "[]");
	packet("{\"command\":\"p5\"}");
	assert_int_equal(nsub, 4);
	answer(3, "[]");
	assert_int_equal(nsub, 5);
	assert_int_equal(sub[4]->group_rest, 0);
}

static void
test_logged_out_packets_go_alone_on_the_login_lane(void **state)
{
	(void)state;
	packet("{\"command\":\"login\"}");
	packet("{\"command\":\"logon\"}");
	assert_int_equal(nsub, 1);
	assert_int_equal(sub_lane[0], LANE_LOGIN);
	answer(0, "[]");
	assert_int_equal(nsub, 2);
	assert_int_equal(sub_lane[1], LANE_LOGIN);
	assert_int_equal(sub[1]->group_rest, 0);
}

static void
test_rate_limited_is_refused_in_its_turn(void **state)
{
	(void)state;
	conn_bind(c, "10000", 0);
	packet("{\"command\":\"first\"}");
	conn_packet(c, PACKET_RATE_LIMITED, "{\"command\":\"ack\"}", 17);
	assert_int_equal(nsub, 1);
	answer(0, "[]");
	assert_int_equal(nsub, 2);
	assert_string_equal(sub[1]->name, ENV_EVENT_REFUSED);
	assert_string_equal(sub[1]->detail, "rate limited");
	/* The daemon said nothing itself. */
	assert_int_equal(nwritten, 0);
}

static void
test_failed_packet_is_refused_then_worded_by_the_daemon(void **state)
{
	int	i;

	(void)state;
	conn_bind(c, "10000", 0);
	packet("{\"command\":\"send_message\"}");
	packet("{\"command\":\"after\"}");
	answer(0, NULL);
	/* Its refusal took its place: the next packet still waits. */
	assert_int_equal(nsub, 2);
	assert_string_equal(sub[1]->name, ENV_EVENT_REFUSED);
	assert_string_equal(sub[1]->detail, "server error");
	assert_int_equal(nwritten, 0);
	/* Refusals that fail run again, then the daemon words it. */
	for (i = 1; i < 1 + REFUSAL_TRIES; i++)
		answer(i, NULL);
	assert_non_null(strstr(written, "\"command\":\"send_message_return\""));
	assert_non_null(strstr(written, "\"detail\":\"server error\""));
	/* Then the next packet goes. */
	assert_string_equal(body(nsub - 1), "{\"command\":\"after\"}");
}

static void
test_closed_follows_an_orphaned_answer(void **state)
{
	(void)state;
	conn_bind(c, "10000", 0);
	packet("{\"command\":\"slow\"}");
	conn_close(c, "client went");
	/* No closed event while the request is out. */
	assert_int_equal(nsub, 1);
	answer(0, "[]");
	assert_int_equal(nsub, 2);
	assert_string_equal(sub[1]->name, ENV_EVENT_CLOSED);
	assert_string_equal(sub[1]->account, "10000");
	answer(1, "[]");
	event_base_loop(base, EVLOOP_NONBLOCK);
	c = NULL;
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_logged_in_runs_travel_as_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_logged_out_packets_go_alone_on_the_login_lane, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_rate_limited_is_refused_in_its_turn, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_failed_packet_is_refused_then_worded_by_the_daemon,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_closed_follows_an_orphaned_answer, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
