/*
 * fcgi_app/history.c: a page of history as history_return packets, each
 * at most PACKET_MAX bytes, newest first as given, "more" on all but the
 * last, "oldest" on the last only when asked; the ticks on the asker's own
 * messages only; and history_fits(), send_message's promise that every
 * stored message fits a packet of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fcgi_app.h"

#define PAGE	40

static char	*got[PAGE + 1];
static int	 ngot;

static int
collect(void *arg, cJSON *p)
{
	(void)arg;
	assert_true(ngot < PAGE + 1);
	assert_non_null(got[ngot] = cJSON_PrintUnformatted(p));
	ngot++;
	return 0;
}

static void
reset(void)
{
	int	i;

	for (i = 0; i < ngot; i++)
		free(got[i]);
	ngot = 0;
}

static void
test_pages(void **state)
{
	struct history_item	 h[PAGE];
	char			 body[PAGE][400];
	cJSON			*p, *m;
	uint64_t		 last = UINT64_MAX, id;
	int			 i, seen = 0;

	(void)state;
	memset(h, 0, sizeof(h));
	for (i = 0; i < PAGE; i++) {
		memset(body[i], 'a' + i % 26, 300);
		body[i][300] = '\0';
		h[i].m.id = 1000 - (uint64_t)i;
		h[i].m.src = i % 2 ? 10001 : 10000;
		h[i].m.dst = i % 2 ? 10000 : 10001;
		h[i].m.body = body[i];
		snprintf(h[i].m.time, sizeof(h[i].m.time),
		    "2026-12-02T05:00:00Z");
		h[i].delivered = i % 3 == 0;
	}
	assert_int_equal(history_packets(10000, 10001, h, PAGE, 1, collect,
	    NULL), 0);
	assert_true(ngot > 1);
	for (i = 0; i < ngot; i++) {
		assert_true(strlen(got[i]) <= PACKET_MAX);
		assert_non_null(p = cJSON_Parse(got[i]));
		assert_string_equal(cJSON_GetObjectItem(p, "with")->valuestring,
		    "10001");
		assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(p, "more")),
		    i < ngot - 1);
		assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(p, "oldest")),
		    i == ngot - 1);
		cJSON_ArrayForEach(m, cJSON_GetObjectItem(p, "messages")) {
			id = strtoull(cJSON_GetObjectItem(m, "msg_id")->valuestring,
			    NULL, 10);
			assert_true(id < last);
			last = id;
			/* Ticks on 10000's own messages only. */
			assert_int_equal(cJSON_GetObjectItem(m, "delivered") !=
			    NULL, seen % 2 == 0);
			seen++;
		}
		cJSON_Delete(p);
	}
	assert_int_equal(seen, PAGE);
	reset();

	/* Not the oldest: no "oldest" anywhere. */
	assert_int_equal(history_packets(10000, 10001, h, 3, 0, collect, NULL),
	    0);
	assert_int_equal(ngot, 1);
	assert_null(strstr(got[0], "oldest"));
	assert_null(strstr(got[0], "more"));
	reset();

	/* Nothing at all: one empty packet, the oldest. */
	assert_int_equal(history_packets(10000, 10001, h, 0, 1, collect, NULL),
	    0);
	assert_int_equal(ngot, 1);
	assert_string_equal(got[0], "{\"command\":\"history_return\","
	    "\"status\":\"success\",\"with\":\"10001\",\"messages\":[],"
	    "\"oldest\":true}");
	reset();
}

/* The longest body that fits, and one byte more. */
static void
test_fits(void **state)
{
	char	body[PACKET_MAX + 1];
	size_t	n;

	(void)state;
	for (n = 1; n < PACKET_MAX; n++) {
		memset(body, 'x', n);
		body[n] = '\0';
		if (history_fits(10000, 10001, body) != 1)
			break;
	}
	/* 2048 less the packet around it with five-digit ids. */
	assert_int_equal(n - 1, 1823);
	/* A quote costs two bytes. */
	memset(body, 'x', 1822);
	body[1822] = '"';
	body[1823] = '\0';
	assert_int_equal(history_fits(10000, 10001, body), 0);
	body[1822] = '\0';
	assert_int_equal(history_fits(10000, 10001, body), 1);
	/* Longer ids leave less room. */
	memset(body, 'x', 1823);
	body[1823] = '\0';
	assert_int_equal(history_fits(18446744073709551615ULL, 10001, body), 0);
}

/*
 * A message stored before history_fits() (1919 bytes were taken then)
 * goes out alone, cut at a character boundary and marked "truncated";
 * the one after it is whole.
 */
static void
test_legacy_cut(void **state)
{
	struct history_item	 h[2];
	char			 big[1920], small[] = "whole";
	cJSON			*p, *m;
	const char		*text;
	size_t			 i;

	(void)state;
	/* "é" is two bytes; a quote costs two when escaped. */
	for (i = 0; i + 2 <= 1900; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	memcpy(big + i, "\"\"\"", 3);
	big[i + 3] = '\0';
	memset(h, 0, sizeof(h));
	h[0].m.id = 7;
	h[0].m.src = 10000;
	h[0].m.dst = 10001;
	h[0].m.body = big;
	h[1] = h[0];
	h[1].m.id = 6;
	h[1].m.body = small;
	assert_int_equal(history_fits(10000, 10001, big), 0);
	assert_int_equal(history_packets(10000, 10001, h, 2, 1, collect, NULL),
	    0);
	assert_int_equal(ngot, 2);
	assert_true(strlen(got[0]) <= PACKET_MAX);
	assert_non_null(p = cJSON_Parse(got[0]));
	m = cJSON_GetArrayItem(cJSON_GetObjectItem(p, "messages"), 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(m, "truncated")));
	text = cJSON_GetObjectItem(m, "message")->valuestring;
	assert_true(strlen(text) > 1500 && strlen(text) % 2 == 0);
	assert_int_equal(strncmp(text, big, strlen(text)), 0);
	cJSON_Delete(p);
	assert_non_null(strstr(got[1], "\"message\":\"whole\""));
	assert_null(strstr(got[1], "truncated"));
	reset();
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_pages),
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_legacy_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
