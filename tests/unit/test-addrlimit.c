/*
 * push_daemon/addrlimit.c: connections per client address.  The table is
 * driven directly; addrlimit_admit() and addrlimit_release() over stubs of
 * the conn.c functions they call, which record what a client would see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../push_daemon/push_daemon.h"

struct config	conf;

/* What the stubs saw. */
static struct {
	char	detail[64];	/* the last conn_fail() */
	char	reason[64];	/* the last close */
	int	fails, closes;
} seen;

void
conn_fail(struct conn *c, const struct packet *p, const char *detail)
{
	(void)c;
	(void)p;
	snprintf(seen.detail, sizeof(seen.detail), "%s", detail);
	seen.fails++;
}

void
conn_close_after_write(struct conn *c, const char *reason)
{
	c->state = CONN_CLOSING;
	snprintf(seen.reason, sizeof(seen.reason), "%s", reason);
	seen.closes++;
}

void
conn_close(struct conn *c, const char *reason)
{
	conn_close_after_write(c, reason);
}

static int
setup(void **state)
{
	(void)state;
	memset(&conf, 0, sizeof(conf));
	memset(&seen, 0, sizeof(seen));
	conf.connections_per_address = 3;
	addrlimit_init(16);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	addrlimit_shutdown();
	return 0;
}

static void
test_add_up_to_the_limit(void **state)
{
	int	i;

	(void)state;
	for (i = 0; i < 3; i++)
		assert_int_equal(addrlimit_add("192.0.2.1", 3), 1);
	assert_int_equal(addrlimit_count("192.0.2.1"), 3);
	/* The fourth is refused and not counted. */
	assert_int_equal(addrlimit_add("192.0.2.1", 3), 0);
	assert_int_equal(addrlimit_count("192.0.2.1"), 3);
	/* Another address has its own count. */
	assert_int_equal(addrlimit_add("192.0.2.2", 3), 1);
	assert_int_equal(addrlimit_count("192.0.2.2"), 1);
	/* One closes: one more may come. */
	addrlimit_remove("192.0.2.1");
	assert_int_equal(addrlimit_count("192.0.2.1"), 2);
	assert_int_equal(addrlimit_add("192.0.2.1", 3), 1);
	assert_int_equal(addrlimit_add("192.0.2.1", 3), 0);
}

static void
test_no_limit(void **state)
{
	int	i;

	(void)state;
	for (i = 0; i < 1000; i++)
		assert_int_equal(addrlimit_add("2001:db8::1", 0), 1);
	assert_int_equal(addrlimit_count("2001:db8::1"), 1000);
}

static void
test_remove_frees_and_ignores_unknown(void **state)
{
	(void)state;
	addrlimit_remove("198.51.100.9");	/* never added: nothing */
	assert_int_equal(addrlimit_add("198.51.100.9", 1), 1);
	addrlimit_remove("198.51.100.9");
	assert_int_equal(addrlimit_count("198.51.100.9"), 0);
	addrlimit_remove("198.51.100.9");	/* gone: still nothing */
	assert_int_equal(addrlimit_count("198.51.100.9"), 0);
	assert_int_equal(addrlimit_add("198.51.100.9", 1), 1);
}

/* More addresses than buckets: chains must keep them apart. */
static void
test_many_addresses(void **state)
{
	char	addr[REMOTE_MAX];
	int	i;

	(void)state;
	for (i = 0; i < 5000; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16,
		    (i >> 8) & 0xff, i & 0xff);
		assert_int_equal(addrlimit_add(addr, 2), 1);
		assert_int_equal(addrlimit_add(addr, 2), 1);
	}
	for (i = 0; i < 5000; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16,
		    (i >> 8) & 0xff, i & 0xff);
		assert_int_equal(addrlimit_count(addr), 2);
		assert_int_equal(addrlimit_add(addr, 2), 0);
		addrlimit_remove(addr);
		addrlimit_remove(addr);
		assert_int_equal(addrlimit_count(addr), 0);
	}
}

static void
test_admit_refuses_with_a_packet(void **state)
{
	struct conn	c[4];
	int		i;

	(void)state;
	memset(c, 0, sizeof(c));
	for (i = 0; i < 4; i++) {
		c[i].state = CONN_LOGGED_OUT;
		snprintf(c[i].remote, sizeof(c[i].remote), "203.0.113.5");
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(addrlimit_admit(&c[i]), 0);
		assert_int_equal(c[i].addr_counted, 1);
	}
	assert_int_equal(seen.fails, 0);
	assert_int_equal(addrlimit_admit(&c[3]), -1);
	assert_int_equal(c[3].addr_counted, 0);
	assert_string_equal(seen.detail, "too many connections");
	assert_string_equal(seen.reason, "too many connections");
	assert_int_equal(seen.closes, 1);
	/* The refused one is not counted, so releasing it changes nothing. */
	addrlimit_release(&c[3]);
	assert_int_equal(addrlimit_count("203.0.113.5"), 3);
	/* Released twice (a close after a close) counts once. */
	addrlimit_release(&c[0]);
	addrlimit_release(&c[0]);
	assert_int_equal(addrlimit_count("203.0.113.5"), 2);
	c[3].state = CONN_LOGGED_OUT;
	assert_int_equal(addrlimit_admit(&c[3]), 0);
}

/* An unknown address, or a limit of 0, is never counted or refused. */
static void
test_admit_unknown_address_or_off(void **state)
{
	struct conn	c;
	int		i;

	(void)state;
	memset(&c, 0, sizeof(c));
	for (i = 0; i < 10; i++) {
		assert_int_equal(addrlimit_admit(&c), 0);
		assert_int_equal(c.addr_counted, 0);
	}
	assert_int_equal(addrlimit_count(""), 0);
	conf.connections_per_address = 0;
	snprintf(c.remote, sizeof(c.remote), "203.0.113.6");
	for (i = 0; i < 10; i++)
		assert_int_equal(addrlimit_admit(&c), 0);
	assert_int_equal(addrlimit_count("203.0.113.6"), 0);
	assert_int_equal(seen.fails, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_up_to_the_limit,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_remove_frees_and_ignores_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_addresses, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_admit_refuses_with_a_packet, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_admit_unknown_address_or_off, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
