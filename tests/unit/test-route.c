/*
 * push_daemon/route.c over stubs of conn.c, online.c and deliver.c: each
 * action of a worker's answer reaches the call it names, in order, for
 * the connection it names or, with "account", for every connection of
 * that account; a connection that has gone has its own sends dropped and
 * its bind or unbind noted for its closed event; a bad action is skipped
 * and the rest still applied.
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

#include "../../push_daemon/push_daemon.h"

struct config	conf;

static struct conn	conns[3];	/* ids 1, 2, 3 */
static int		conn1_gone;

/* What the stubs were asked, in order: "send 2 data track flags" ... */
static char	calls[16][160];
static int	ncalls;

static void	note(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
note(const char *fmt, ...)
{
	va_list	ap;

	assert_true(ncalls < 16);
	va_start(ap, fmt);
	vsnprintf(calls[ncalls++], sizeof(calls[0]), fmt, ap);
	va_end(ap);
}

struct conn *
conn_find(uint64_t id)
{
	if (id < 1 || id > 3 || (id == 1 && conn1_gone))
		return NULL;
	return &conns[id - 1];
}

/* Account 10001 is online on connections 2 and 3. */
struct conn *
online_first(const char *account)
{
	return strcmp(account, "10001") == 0 ? &conns[1] : NULL;
}

void
deliver_send(struct conn *c, const char *data, size_t len, const char *track,
    int flags)
{
	note("send %llu %.*s %s %d", (unsigned long long)c->id, (int)len, data,
	    track != NULL ? track : "-", flags);
}

void
deliver_fetch(struct conn *c, const char *body, size_t len)
{
	note("fetch %llu %.*s", (unsigned long long)c->id, (int)len, body);
}

void
conn_bind(struct conn *c, const char *account, int ack)
{
	note("bind %llu %s %d", (unsigned long long)c->id, account, ack);
}

void
conn_unbind(struct conn *c)
{
	note("unbind %llu", (unsigned long long)c->id);
}

void
conn_close(struct conn *c, const char *reason)
{
	note("close-now %llu %s", (unsigned long long)c->id, reason);
}

void
conn_close_after_write(struct conn *c, const char *reason)
{
	note("close %llu %s", (unsigned long long)c->id, reason);
}

static int
setup(void **state)
{
	int	i;

	(void)state;
	memset(conns, 0, sizeof(conns));
	for (i = 0; i < 3; i++)
		conns[i].id = (uint64_t)i + 1;
	LIST_NEXT(&conns[1], online_entry) = &conns[2];
	conn1_gone = 0;
	ncalls = 0;
	return 0;
}

/* Applies the actions in json for connection id; route_answer's result. */
static int
apply(uint64_t id, const char *json, char *gone, size_t gonesz, int fetch)
{
	cJSON	*actions;
	int	 rc;

	assert_non_null(actions = cJSON_Parse(json));
	rc = route_answer(id, actions, gone, gonesz, fetch);
	cJSON_Delete(actions);
	return rc;
}

static void
test_each_action_in_order(void **state)
{
	char	gone[ACCOUNT_MAX] = "";

	(void)state;
	assert_int_equal(apply(1, "["
	    "{\"op\":\"bind\",\"account\":\"10000\",\"ack\":true},"
	    "{\"op\":\"send\",\"data\":\"mine\"},"
	    "{\"op\":\"send\",\"account\":\"10001\",\"data\":\"theirs\","
	    "\"track\":\"m7\"},"
	    "{\"op\":\"fetch\",\"after\":\"42\"},"
	    "{\"op\":\"unbind\"},"
	    "{\"op\":\"close\"}]", gone, sizeof(gone), 0), 0);
	assert_int_equal(ncalls, 7);
	assert_string_equal(calls[0], "bind 1 10000 1");
	assert_string_equal(calls[1], "send 1 mine - 0");
	/* An account's send reaches each of its connections. */
	assert_string_equal(calls[2], "send 2 theirs m7 1");
	assert_string_equal(calls[3], "send 3 theirs m7 1");
	assert_string_equal(calls[4], "fetch 1 {\"after\":\"42\"}");
	assert_string_equal(calls[5], "unbind 1");
	assert_string_equal(calls[6], "close 1 closed by worker");
}

/* A fetch's own packets are marked so, for the track memory. */
static void
test_fetch_answers_are_marked(void **state)
{
	char	gone[ACCOUNT_MAX] = "";

	(void)state;
	assert_int_equal(apply(2, "[{\"op\":\"send\",\"data\":\"old\","
	    "\"track\":\"m1\"},{\"op\":\"fetch\"}]", gone, sizeof(gone), 1), 0);
	assert_int_equal(ncalls, 2);
	assert_string_equal(calls[0], "send 2 old m1 2");
	assert_string_equal(calls[1], "fetch 2 ");
}

/*
 * The connection has gone: its own sends and fetch are dropped, an
 * account's send still goes, bind and unbind are noted in gone.
 */
static void
test_gone_connection(void **state)
{
	char	gone[ACCOUNT_MAX] = "10000";

	(void)state;
	conn1_gone = 1;
	assert_int_equal(apply(1, "[{\"op\":\"send\",\"data\":\"lost\"},"
	    "{\"op\":\"unbind\"},"
	    "{\"op\":\"send\",\"account\":\"10001\",\"data\":\"goes\"},"
	    "{\"op\":\"fetch\"}]", gone, sizeof(gone), 0), 0);
	assert_string_equal(gone, "");
	assert_int_equal(ncalls, 2);
	assert_string_equal(calls[0], "send 2 goes - 1");
	assert_string_equal(calls[1], "send 3 goes - 1");
	assert_int_equal(apply(1, "[{\"op\":\"bind\",\"account\":\"10005\"}]",
	    gone, sizeof(gone), 0), 0);
	assert_string_equal(gone, "10005");
	assert_int_equal(ncalls, 2);
}

/*
 * "others": a carbon skips the connection of the event, only it; without
 * the flag (or with false) every connection gets it.  route_report() of a
 * written report or closed event sends to accounts the same way.
 */
static void
test_others(void **state)
{
	char	gone[ACCOUNT_MAX] = "";
	cJSON	*a;

	(void)state;
	assert_int_equal(apply(2, "["
	    "{\"op\":\"send\",\"account\":\"10001\",\"others\":true,"
	    "\"data\":\"carbon\"},"
	    "{\"op\":\"send\",\"account\":\"10001\",\"others\":false,"
	    "\"data\":\"all\"}]", gone, sizeof(gone), 0), 0);
	assert_int_equal(ncalls, 3);
	assert_string_equal(calls[0], "send 3 carbon - 1");
	assert_string_equal(calls[1], "send 2 all - 1");
	assert_string_equal(calls[2], "send 3 all - 1");
	/* From a connection that is not the account's, it reaches all. */
	ncalls = 0;
	assert_non_null(a = cJSON_Parse("[{\"op\":\"send\",\"account\":"
	    "\"10001\",\"others\":true,\"data\":\"receipt\"}]"));
	route_report(1, a);
	cJSON_Delete(a);
	assert_int_equal(ncalls, 2);
	assert_string_equal(calls[0], "send 2 receipt - 1");
	assert_string_equal(calls[1], "send 3 receipt - 1");
}

/* Bad actions are skipped, the others applied; a non-list is refused. */
static void
test_bad_actions(void **state)
{
	char	gone[ACCOUNT_MAX] = "";
	cJSON	*o;

	(void)state;
	assert_int_equal(apply(2, "["
	    "{\"op\":\"nonsense\"},"
	    "{\"op\":7},"
	    "{\"op\":\"send\"},"
	    "{\"op\":\"send\",\"data\":1},"
	    "{\"op\":\"send\",\"account\":7,\"data\":\"x\"},"
	    "{\"op\":\"bind\"},"
	    "{\"op\":\"bind\",\"account\":\"\"},"
	    "{\"op\":\"send\",\"data\":\"kept\",\"track\":\"\"},"
	    "3]", gone, sizeof(gone), 0), 0);
	assert_int_equal(ncalls, 1);
	/* An empty track is no track. */
	assert_string_equal(calls[0], "send 2 kept - 0");
	assert_non_null(o = cJSON_Parse("{\"op\":\"send\"}"));
	assert_int_equal(route_answer(2, o, gone, sizeof(gone), 0), -1);
	cJSON_Delete(o);
	assert_int_equal(route_answer(2, NULL, gone, sizeof(gone), 0), -1);
}

/*
 * What another node's worker relays through Redis: only sends to an
 * account, to every connection of it here ("others" means nothing
 * here), in order, tracks kept; anything a hostile publisher could put
 * there (a bind, a send to a connection, a packet past PACKET_MAX, a
 * huge account) is dropped and the rest still goes out.
 */
static void
test_remote(void **state)
{
	char	 big[PACKET_MAX + 64];
	cJSON	*a;
	size_t	 n;

	(void)state;
	assert_non_null(a = cJSON_Parse("["
	    "{\"op\":\"send\",\"account\":\"10001\",\"data\":\"m1\","
	    "\"track\":\"m7.10000\"},"
	    "{\"op\":\"bind\",\"account\":\"10001\"},"
	    "{\"op\":\"send\",\"data\":\"to a conn\"},"
	    "{\"op\":\"close\"},"
	    "{\"op\":\"send\",\"account\":\"10002\",\"data\":\"nobody\"},"
	    "{\"op\":\"send\",\"account\":\"10001\",\"data\":\"\"},"
	    "{\"op\":\"send\",\"account\":\"10001\",\"others\":true,"
	    "\"data\":\"m2\"}]"));
	assert_int_equal(route_remote(a), 0);
	cJSON_Delete(a);
	assert_int_equal(ncalls, 4);
	assert_string_equal(calls[0], "send 2 m1 m7.10000 1");
	assert_string_equal(calls[1], "send 3 m1 m7.10000 1");
	assert_string_equal(calls[2], "send 2 m2 - 1");
	assert_string_equal(calls[3], "send 3 m2 - 1");

	/* One byte past PACKET_MAX is dropped, as a worker would refuse it. */
	ncalls = 0;
	n = (size_t)snprintf(big, sizeof(big), "[{\"op\":\"send\","
	    "\"account\":\"10001\",\"data\":\"");
	memset(big + n, 'x', PACKET_MAX + 1);
	snprintf(big + n + PACKET_MAX + 1, sizeof(big) - n - PACKET_MAX - 1,
	    "\"}]");
	assert_non_null(a = cJSON_Parse(big));
	assert_int_equal(route_remote(a), 0);
	cJSON_Delete(a);
	assert_int_equal(ncalls, 0);

	/* Not a list: refused whole. */
	assert_non_null(a = cJSON_Parse("{\"op\":\"send\"}"));
	assert_int_equal(route_remote(a), -1);
	cJSON_Delete(a);
	assert_int_equal(route_remote(NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test_setup(test_each_action_in_order, setup),
		cmocka_unit_test_setup(test_fetch_answers_are_marked, setup),
		cmocka_unit_test_setup(test_gone_connection, setup),
		cmocka_unit_test_setup(test_bad_actions, setup),
		cmocka_unit_test_setup(test_others, setup),
		cmocka_unit_test_setup(test_remote, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
