/*
 * common/config.c: the table's defaults and the file reader, every error
 * it names (with the line), comments and whitespace.  Files are written
 * to an anonymous memory file and read back through /proc/self/fd, so a
 * test leaves nothing behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

/* One loaded file: its result, and the reason and line when it failed. */
struct load {
	int		 rc;
	const char	*errstr;
	int		 line;
};

/* Loads text over cf as config_load reads a file. */
static struct load
load_text(struct config *cf, const char *text)
{
	struct load	 l = { 0, NULL, -1 };
	char		 path[64];
	size_t		 len = strlen(text);
	int		 fd;

	fd = memfd_create("test-config", 0);
	assert_true(fd != -1);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	l.rc = config_load(cf, path, &l.errstr, &l.line);
	close(fd);
	return l;
}

/* text fails to load with reason at line. */
static void
assert_load_fails(const char *text, const char *reason, int line)
{
	struct config	cf;
	struct load	l;

	config_defaults(&cf);
	l = load_text(&cf, text);
	assert_int_equal(l.rc, -1);
	assert_non_null(l.errstr);
	assert_string_equal(l.errstr, reason);
	assert_int_equal(l.line, line);
}

static const struct config_entry *
entry(const char *name)
{
	const struct config_entry	*e;

	for (e = config_table; e->name != NULL; e++)
		if (strcmp(e->name, name) == 0)
			return e;
	fail_msg("no setting %s", name);
	return NULL;
}

static void
test_defaults(void **state)
{
	const struct config_entry	*e;
	struct config			 cf;
	const char			*field;

	(void)state;
	memset(&cf, 0xa5, sizeof(cf));
	config_defaults(&cf);
	assert_string_equal(cf.fcgi_socket, "var/run/fcgi.sock");
	assert_string_equal(cf.node_name, "node1");
	assert_string_equal(cf.db_socket, "");
	assert_string_equal(cf.db_host, "127.0.0.1");
	assert_int_equal(cf.db_port, 3306);
	assert_string_equal(cf.api_socket, "var/run/api.sock");
	assert_string_equal(cf.login_socket, "var/run/login.sock");
	assert_int_equal(cf.workers, 4);
	assert_int_equal(cf.login_workers, 2);
	assert_int_equal(cf.api_workers, 2);
	assert_int_equal(cf.login_timeout, 30);
	assert_int_equal(cf.ping_interval, 30);
	assert_int_equal(cf.batch_max, 256);
	assert_int_equal(cf.registrations_per_hour, 10);
	assert_int_equal(cf.proxy_protocol, 1);
	/* Every row: its default is the field's value and within bounds. */
	for (e = config_table; e->name != NULL; e++) {
		field = (const char *)&cf + e->offset;
		if (e->type == CONFIG_INT) {
			assert_int_equal(*(const int *)field, e->default_int);
			assert_in_range(e->default_int, e->min, e->max);
		} else {
			assert_string_equal(field, e->default_str);
			assert_true(strlen(e->default_str) <= (size_t)e->max);
			assert_int_equal(e->max + 1, e->size);
		}
		assert_non_null(e->help);
	}
}

static void
test_values(void **state)
{
	struct config	cf;
	struct load	l;

	(void)state;
	config_defaults(&cf);
	l = load_text(&cf,
	    "workers = 3\n"
	    "node_name = east\n"
	    "db_password = correct horse battery\n"
	    "db_socket =\n"
	    "login_timeout = 5\n"
	    "login_timeout = 7\n");
	assert_int_equal(l.rc, 0);
	assert_int_equal(cf.workers, 3);
	assert_string_equal(cf.node_name, "east");
	/* Spaces inside a value are kept; an empty value is allowed. */
	assert_string_equal(cf.db_password, "correct horse battery");
	assert_string_equal(cf.db_socket, "");
	/* The last line wins; the lines not named keep their defaults. */
	assert_int_equal(cf.login_timeout, 7);
	assert_int_equal(cf.ping_interval, 30);
	assert_string_equal(cf.db_host, "127.0.0.1");
}

/* A file is read over what cf holds, not over the defaults. */
static void
test_over_earlier_values(void **state)
{
	struct config	cf;

	(void)state;
	config_defaults(&cf);
	assert_int_equal(load_text(&cf, "workers = 2\n").rc, 0);
	assert_int_equal(load_text(&cf, "ping_interval = 9\n").rc, 0);
	assert_int_equal(cf.workers, 2);
	assert_int_equal(cf.ping_interval, 9);
}

static void
test_comments_and_blank_lines(void **state)
{
	struct config	cf;
	struct load	l;

	(void)state;
	config_defaults(&cf);
	l = load_text(&cf,
	    "# a whole-line comment\n"
	    "\n"
	    "   \t\n"
	    "\t# an indented comment = with an equals sign\n"
	    "workers = 4 # after the value\n"
	    "node_name = west#no space before it\n"
	    "db_password = a#b\n"
	    "#workers = 99\n");
	assert_int_equal(l.rc, 0);
	assert_int_equal(cf.workers, 4);
	assert_string_equal(cf.node_name, "west");
	/* '#' starts a comment even inside a value: a password cannot hold one. */
	assert_string_equal(cf.db_password, "a");
}

static void
test_whitespace(void **state)
{
	struct config	cf;
	struct load	l;

	(void)state;
	config_defaults(&cf);
	l = load_text(&cf,
	    "  workers\t=\t5  \n"
	    "node_name=tight\n"
	    "db_host =    db.example  \r\n"
	    "\tping_interval\t \t=   11\r\n"
	    "db_port = 3307");		/* the last line without a newline */
	assert_int_equal(l.rc, 0);
	assert_int_equal(cf.workers, 5);
	assert_string_equal(cf.node_name, "tight");
	assert_string_equal(cf.db_host, "db.example");
	assert_int_equal(cf.ping_interval, 11);
	assert_int_equal(cf.db_port, 3307);
}

static void
test_empty_file(void **state)
{
	struct config	cf, defaults;

	(void)state;
	config_defaults(&cf);
	config_defaults(&defaults);
	assert_int_equal(load_text(&cf, "").rc, 0);
	assert_memory_equal(&cf, &defaults, sizeof(cf));
}

static void
test_unknown_setting(void **state)
{
	(void)state;
	assert_load_fails("workers = 2\nworker = 2\n", "unknown setting", 2);
	assert_load_fails("Workers = 2\n", "unknown setting", 1);
	assert_load_fails("= 2\n", "unknown setting", 1);
	assert_load_fails("work ers = 2\n", "unknown setting", 1);
}

static void
test_not_a_number(void **state)
{
	(void)state;
	assert_load_fails("workers = four\n", "not a number", 1);
	assert_load_fails("workers =\n", "not a number", 1);
	assert_load_fails("workers = 4x\n", "not a number", 1);
	assert_load_fails("workers = 4 5\n", "not a number", 1);
	assert_load_fails("workers = 4.0\n", "not a number", 1);
	assert_load_fails("workers = 0x10\n", "not a number", 1);
	assert_load_fails("# one\n\nworkers = 99999999999999999999999\n",
	    "not a number", 3);
}

static void
test_out_of_range(void **state)
{
	const struct config_entry	*e = entry("workers");
	struct config			 cf;
	char				 line[64];

	(void)state;
	assert_load_fails("workers = 0\n", "out of range", 1);
	assert_load_fails("workers = -1\n", "out of range", 1);
	assert_load_fails("workers = 257\n", "out of range", 1);
	assert_load_fails("db_port = 65536\n", "out of range", 1);
	assert_load_fails("proxy_protocol = 2\n", "out of range", 1);
	/* Larger than an int, smaller than a long: the bound, not a wrap. */
	assert_load_fails("pwhash_memlimit_kib = 4294967304\n",
	    "out of range", 1);
	/* The bounds themselves are in range. */
	config_defaults(&cf);
	snprintf(line, sizeof(line), "workers = %ld\n", e->min);
	assert_int_equal(load_text(&cf, line).rc, 0);
	assert_int_equal(cf.workers, e->min);
	snprintf(line, sizeof(line), "workers = %ld\n", e->max);
	assert_int_equal(load_text(&cf, line).rc, 0);
	assert_int_equal(cf.workers, e->max);
	assert_int_equal(load_text(&cf, "registrations_per_hour = 0\n").rc, 0);
}

static void
test_value_too_long(void **state)
{
	const struct config_entry	*e = entry("node_name");
	struct config			 cf;
	char				 text[256];
	int				 n = (int)e->max;

	(void)state;
	config_defaults(&cf);
	/* The longest value that fits is taken whole. */
	snprintf(text, sizeof(text), "node_name = %.*s\n", n,
	    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
	    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn");
	assert_int_equal(load_text(&cf, text).rc, 0);
	assert_int_equal(strlen(cf.node_name), (size_t)n);
	/* One more is refused, not cut. */
	snprintf(text, sizeof(text), "workers = 2\nnode_name = x%.*s\n", n,
	    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
	    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn");
	assert_load_fails(text, "value too long", 2);
}

/*
 * A quoted value keeps a '#' and spaces (a password may hold them), with
 * \" and \\ inside; a bare one still ends at a comment.
 */
static void
test_quoted_values(void **state)
{
	struct config	cf;
	struct load	l;

	(void)state;
	config_defaults(&cf);
	l = load_text(&cf,
	    "db_password = \"Xy7#kQ9 two\"   # a comment after it\n"
	    "db_user = \"sa\\\"id\\\\\"\n"
	    "db_name = bare#cut\n");
	assert_int_equal(l.rc, 0);
	assert_string_equal(cf.db_password, "Xy7#kQ9 two");
	assert_string_equal(cf.db_user, "sa\"id\\");
	assert_string_equal(cf.db_name, "bare");
	assert_load_fails("db_password = \"open\n", "unterminated quote", 1);
	assert_load_fails("workers = 2\ndb_password = \"a\" b\n",
	    "text after the closing quote", 2);
}

/* The example's placeholder password is refused, quoted or not. */
static void
test_placeholder_password(void **state)
{
	(void)state;
	assert_load_fails("db_password = change-me\n",
	    "db_password is still the example's placeholder", 1);
	assert_load_fails("db_password = \"change-me\"\n",
	    "db_password is still the example's placeholder", 1);
}

static void
test_missing_equals(void **state)
{
	(void)state;
	assert_load_fails("workers 4\n", "expected name = value", 1);
	assert_load_fails("# fine\nworkers = 4\n\nworkers\n",
	    "expected name = value", 4);
	/* The '=' after a '#' is in the comment. */
	assert_load_fails("workers # = 4\n", "expected name = value", 1);
}

static void
test_line_too_long(void **state)
{
	char	*text;

	(void)state;
	text = malloc(4096);
	assert_non_null(text);
	memset(text, ' ', 4096);
	memcpy(text, "# long\ndb_host = h", 18);
	memcpy(text + 4094, "\n", 2);
	assert_load_fails(text, "line too long", 2);
	free(text);
}

static void
test_missing_file(void **state)
{
	struct config	 cf;
	const char	*errstr = NULL;
	int		 line = -1;

	(void)state;
	config_defaults(&cf);
	assert_int_equal(config_load(&cf, "no such directory/chat.conf",
	    &errstr, &line), -1);
	assert_non_null(errstr);
	assert_string_equal(errstr, "No such file or directory");
	assert_int_equal(line, 0);
}

/* config_set, which the programs' --set and the file share. */
static void
test_set(void **state)
{
	struct config	 cf;
	const char	*errstr = NULL;

	(void)state;
	config_defaults(&cf);
	assert_int_equal(config_set(&cf, "packet_rate", "1000", &errstr), 0);
	assert_int_equal(cf.packet_rate, 1000);
	assert_int_equal(config_set(&cf, "packet_rate", "0", &errstr), -1);
	assert_string_equal(errstr, "out of range");
	assert_int_equal(cf.packet_rate, 1000);
	assert_int_equal(config_set(&cf, "nope", "1", &errstr), -1);
	assert_string_equal(errstr, "unknown setting");
	assert_int_equal(config_set(&cf, "packet_rate", "", &errstr), -1);
	assert_string_equal(errstr, "not a number");
}

/* config_print writes a file config_load reads back to the same values. */
static void
test_print_reads_back(void **state)
{
	struct config	 cf, back;
	char		*text = NULL;
	size_t		 len = 0;
	FILE		*fp;

	(void)state;
	config_defaults(&cf);
	assert_int_equal(load_text(&cf, "workers = 3\nnode_name = n2\n").rc,
	    0);
	fp = open_memstream(&text, &len);
	assert_non_null(fp);
	config_print(&cf, fp);
	fclose(fp);
	config_defaults(&back);
	assert_int_equal(load_text(&back, text).rc, 0);
	assert_int_equal(back.workers, 3);
	assert_string_equal(back.node_name, "n2");
	assert_memory_equal(&cf, &back, sizeof(cf));
	free(text);
}

/*
 * The example (config_example) names every setting once, loads back to
 * the defaults but for its host values, and only its placeholder password
 * stops it: the file a host starts from is never refused for anything
 * else, and never silently runs with "change-me".
 */
static void
test_example(void **state)
{
	const struct config_entry	*e;
	struct config			 cf, want;
	struct load			 l;
	char				*text = NULL, *at, line[128];
	size_t				 len = 0;
	FILE				*fp;

	(void)state;
	fp = open_memstream(&text, &len);
	assert_non_null(fp);
	config_example(fp);
	fclose(fp);
	for (e = config_table; e->name != NULL; e++) {
		snprintf(line, sizeof(line), "\n%s%s =",
		    e->example != NULL ? "" : "#", e->name);
		assert_non_null(at = strstr(text, line));
		assert_null(strstr(at + 1, line));
	}

	config_defaults(&cf);
	l = load_text(&cf, text);
	assert_int_equal(l.rc, -1);
	assert_string_equal(l.errstr,
	    "db_password is still the example's placeholder");

	/* The same text with a real password loads whole. */
	at = strstr(text, "db_password = " CONFIG_PLACEHOLDER);
	assert_non_null(at);
	memcpy(at + strlen("db_password = "), "\"#a b\"  ", 9);
	config_defaults(&cf);
	l = load_text(&cf, text);
	assert_int_equal(l.rc, 0);
	config_defaults(&want);
	for (e = config_table; e->name != NULL; e++)
		if (e->example != NULL)
			snprintf((char *)&want + e->offset, e->size, "%s",
			    e->example);
	memset(want.db_password, 0, sizeof(want.db_password));
	snprintf(want.db_password, sizeof(want.db_password), "#a b");
	assert_memory_equal(&cf, &want, sizeof(cf));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_over_earlier_values),
		cmocka_unit_test(test_comments_and_blank_lines),
		cmocka_unit_test(test_whitespace),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_unknown_setting),
		cmocka_unit_test(test_not_a_number),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_value_too_long),
		cmocka_unit_test(test_quoted_values),
		cmocka_unit_test(test_placeholder_password),
		cmocka_unit_test(test_missing_equals),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_print_reads_back),
		cmocka_unit_test(test_example),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
