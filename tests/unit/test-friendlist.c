/*
 * fcgi_app/friendlist.c: a friend list cut into list_friend_return
 * packets of at most PACKET_MAX bytes, "more": true on all but the last,
 * friends kept in order, each packet as full as it can be.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../fcgi_app/fcgi_app.h"

#define MAX_PACKETS	256

/* What friendlist_packets() emitted, printed as the daemon gets it. */
static struct {
	char	*text[MAX_PACKETS];
	size_t	 n;
	int	 fail_at;	/* emit fails at packet n (from 1); 0: never */
} out;

static int
emit(void *arg, cJSON *p)
{
	(void)arg;
	if (out.n + 1 == (size_t)out.fail_at || out.n == MAX_PACKETS)
		return -1;
	out.text[out.n++] = cJSON_PrintUnformatted(p);
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	memset(&out, 0, sizeof(out));
	return 0;
}

static int
teardown(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < out.n; i++)
		cJSON_free(out.text[i]);
	return 0;
}

/* name: n copies of unit. */
static void
fill_name(struct friend *f, const char *unit, size_t n)
{
	size_t	i;

	f->username[0] = '\0';
	for (i = 0; i < n; i++)
		strcat(f->username, unit);
}

/*
 * Checks every packet: size, shape, the more flags, and that the ids run
 * from first up by one across all of them; returns how many friends.
 */
static size_t
check_packets(uint64_t first)
{
	cJSON		*p, *list, *more, *e;
	uint64_t	 want = first, id;
	size_t		 i, total = 0;

	assert_true(out.n >= 1);
	for (i = 0; i < out.n; i++) {
		assert_true(strlen(out.text[i]) <= PACKET_MAX);
		assert_non_null(p = cJSON_Parse(out.text[i]));
		assert_string_equal(cJSON_GetObjectItem(p, "command")->
		    valuestring, "list_friend_return");
		assert_string_equal(cJSON_GetObjectItem(p, "id")->valuestring,
		    "10000");
		assert_string_equal(cJSON_GetObjectItem(p, "status")->
		    valuestring, "success");
		more = cJSON_GetObjectItem(p, "more");
		if (i + 1 < out.n)
			assert_true(cJSON_IsTrue(more));
		else
			assert_true(more == NULL || cJSON_IsFalse(more));
		assert_true(cJSON_IsArray(list = cJSON_GetObjectItem(p,
		    "friends")));
		cJSON_ArrayForEach(e, list) {
			id = strtoull(cJSON_GetObjectItem(e, "id")->valuestring,
			    NULL, 10);
			assert_int_equal(id, want);
			want++;
			total++;
		}
		cJSON_Delete(p);
	}
	return total;
}

static void
test_empty(void **state)
{
	(void)state;
	assert_int_equal(friendlist_packets(10000, NULL, 0, emit, NULL), 0);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.text[0], "{\"command\":\"list_friend_return\","
	    "\"id\":\"10000\",\"status\":\"success\",\"friends\":[]}");
}

static void
test_one(void **state)
{
	struct friend	f = { 10001, "bob", 1, 1 };

	(void)state;
	assert_int_equal(friendlist_packets(10000, &f, 1, emit, NULL), 0);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.text[0], "{\"command\":\"list_friend_return\","
	    "\"id\":\"10000\",\"status\":\"success\",\"friends\":[{\"id\":"
	    "\"10001\",\"username\":\"bob\",\"status\":\"1\","
	    "\"online\":true}]}");
}

/* 1000 friends with 32-character Chinese names, and worst-case escapes. */
static void
test_many(void **state)
{
	struct friend	*f;
	size_t		 i, n = 1000;

	(void)state;
	assert_non_null(f = calloc(n, sizeof(*f)));
	for (i = 0; i < n; i++) {
		f[i].id = 10001 + i;
		f[i].status = i % 2;
		f[i].online = i % 3 == 0;
		fill_name(&f[i], i % 5 == 0 ? "\"" : "\xe5\xbc\xa0", 32);
	}
	assert_int_equal(friendlist_packets(10000, f, n, emit, NULL), 0);
	assert_true(out.n > 50);
	assert_int_equal(check_packets(10001), n);
	/* As full as can be: the next friend did not fit. */
	for (i = 0; i + 1 < out.n; i++)
		assert_true(strlen(out.text[i]) > PACKET_MAX - 200);
	free(f);
}

/*
 * Friends whose entries add up to exactly PACKET_MAX bytes in the first
 * packet ("more": true included) stay together; one byte more and the
 * last of them moves to the next packet.
 */
static void
exact_fit(int extra)
{
	struct friend	 f[64];
	cJSON		*second;
	const char	*base = "{\"command\":\"list_friend_return\",\"id\":"
			    "\"10000\",\"status\":\"success\",\"friends\":[],"
			    "\"more\":true}";
	const char	*entry = "{\"id\":\"10001\",\"username\":\"\","
			    "\"status\":\"0\",\"online\":false}";
	size_t		 n, i, names, each;

	memset(f, 0, sizeof(f));
	/* n entries, n - 1 commas, names adding up to the rest. */
	n = (PACKET_MAX - strlen(base) + 1) / (strlen(entry) + 33) + 1;
	names = PACKET_MAX - strlen(base) - n * strlen(entry) - (n - 1) +
	    (size_t)extra;
	assert_true(names >= n && names <= 32 * n);
	for (i = 0; i <= n; i++) {
		f[i].id = 10001 + i;
		each = i < n ? names / n + (i < names % n) : 1;
		fill_name(&f[i], "x", each);
	}
	assert_int_equal(friendlist_packets(10000, f, n + 1, emit, NULL), 0);
	assert_int_equal(out.n, 2);
	assert_int_equal(check_packets(10001), n + 1);
	if (extra == 0)
		assert_int_equal(strlen(out.text[0]), PACKET_MAX);
	else
		assert_true(strlen(out.text[0]) < PACKET_MAX);
	assert_non_null(second = cJSON_Parse(out.text[1]));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(second,
	    "friends")), extra == 0 ? 1 : 2);
	cJSON_Delete(second);
}

static void
test_exact_fit(void **state)
{
	(void)state;
	exact_fit(0);
}

static void
test_one_byte_over(void **state)
{
	(void)state;
	exact_fit(1);
}

static void
test_emit_fails(void **state)
{
	struct friend	f[100];
	size_t		i;

	(void)state;
	memset(f, 0, sizeof(f));
	for (i = 0; i < 100; i++) {
		f[i].id = 10001 + i;
		fill_name(&f[i], "\xe5\xbc\xa0", 32);
	}
	out.fail_at = 2;
	assert_int_equal(friendlist_packets(10000, f, 100, emit, NULL), -1);
	assert_int_equal(out.n, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exact_fit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_one_byte_over, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_emit_fails, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
