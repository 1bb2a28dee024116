/*
 * fcgi_app/metrics.c and stats.c: the body of /metrics.  The daemon's
 * samples get their HELP and TYPE once per family (a histogram's _bucket,
 * _sum and _count are one), a name the worker does not know is left out,
 * and a part that does not answer says so in its chat_*_up gauge instead
 * of leaving its series out silently.  stats.c's histogram is cumulative
 * and its count is the +Inf bucket's.  daemon_ask() and
 * db_message_counts() are stubs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../fcgi_app/fcgi_app.h"

static const char	*daemon_answer;		/* NULL: not running */
static int		 db_fails;

char *
daemon_ask(const struct config *cf, const char *line, size_t max,
    const char **errstr)
{
	(void)cf;
	(void)max;
	assert_string_equal(line, "metrics");
	if (daemon_answer == NULL) {
		*errstr = "not running";
		return NULL;
	}
	return strdup(daemon_answer);
}

int
db_message_counts(struct db *db, uint64_t *stored, uint64_t *waiting)
{
	(void)db;
	if (db_fails)
		return -1;
	*stored = 10;
	*waiting = 3;
	return 0;
}

static char *
render(struct stats *st)
{
	struct config	cf;
	struct app	app;
	size_t		len;
	char		*body;

	memset(&cf, 0, sizeof(cf));
	memset(&app, 0, sizeof(app));
	app.cf = &cf;
	app.stats = st;
	body = metrics_render(&app, &len);
	assert_non_null(body);
	assert_int_equal(strlen(body), len);
	return body;
}

static int
count(const char *s, const char *needle)
{
	int	n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

static void
test_daemon_samples(void **state)
{
	char	*body;

	(void)state;
	daemon_answer = "chat_connections{transport=\"ws\"} 2\n"
	    "chat_connections{transport=\"tcp\"} 1\n"
	    "chat_from_a_newer_daemon 7\n"
	    "chat_batch_size_bucket{lane=\"main\",le=\"1\"} 4\n"
	    "chat_batch_size_bucket{lane=\"main\",le=\"+Inf\"} 5\n"
	    "chat_batch_size_sum{lane=\"main\"} 9\n"
	    "chat_batch_size_count{lane=\"main\"} 5\n"
	    "ok\n";
	db_fails = 0;
	body = render(NULL);
	assert_non_null(strstr(body, "chat_push_daemon_up 1\n"));
	assert_int_equal(count(body, "# TYPE chat_connections gauge\n"), 1);
	assert_non_null(strstr(body, "chat_connections{transport=\"tcp\"} 1\n"));
	assert_int_equal(count(body, "# TYPE chat_batch_size histogram\n"), 1);
	assert_non_null(strstr(body, "chat_batch_size_count{lane=\"main\"} 5\n"));
	assert_null(strstr(body, "newer"));
	assert_null(strstr(body, "\nok"));
	assert_non_null(strstr(body, "chat_messages_stored 10\n"));
	assert_non_null(strstr(body, "chat_messages_delivered 7\n"));
	assert_non_null(strstr(body, "chat_messages_waiting 3\n"));
	free(body);
}

static void
test_parts_down(void **state)
{
	char	*body;

	(void)state;
	daemon_answer = NULL;
	db_fails = 1;
	body = render(NULL);
	assert_non_null(strstr(body, "chat_push_daemon_up 0\n"));
	assert_non_null(strstr(body, "chat_database_up 0\n"));
	assert_null(strstr(body, "chat_messages_stored"));
	assert_null(strstr(body, "chat_connections"));
	free(body);
}

static void
test_db_histogram(void **state)
{
	struct stats	*st;
	char		*body;

	(void)state;
	daemon_answer = "ok\n";
	db_fails = 0;
	assert_non_null(st = stats_new());
	stats_db_time(st, DB_TIME_STATEMENT, 0.0001);
	stats_db_time(st, DB_TIME_STATEMENT, 0.003);
	stats_db_time(st, DB_TIME_STATEMENT, 60);
	stats_db_time(st, DB_TIME_COMMIT, 0.002);
	stats_restart(st, STATS_API);
	body = render(st);
	assert_non_null(strstr(body, "chat_db_query_duration_seconds_bucket"
	    "{kind=\"statement\",le=\"0.0005\"} 1\n"));
	assert_non_null(strstr(body, "chat_db_query_duration_seconds_bucket"
	    "{kind=\"statement\",le=\"0.005\"} 2\n"));
	assert_non_null(strstr(body, "chat_db_query_duration_seconds_bucket"
	    "{kind=\"statement\",le=\"5\"} 2\n"));
	assert_non_null(strstr(body, "chat_db_query_duration_seconds_bucket"
	    "{kind=\"statement\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(body, "chat_db_query_duration_seconds_count"
	    "{kind=\"statement\"} 3\n"));
	assert_non_null(strstr(body, "chat_db_query_duration_seconds_count"
	    "{kind=\"commit\"} 1\n"));
	assert_non_null(strstr(body,
	    "chat_worker_restarts_total{role=\"api\"} 1\n"));
	assert_non_null(strstr(body,
	    "chat_worker_restarts_total{role=\"main\"} 0\n"));
	free(body);
	stats_free(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_samples),
		cmocka_unit_test(test_parts_down),
		cmocka_unit_test(test_db_histogram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
