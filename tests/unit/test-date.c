/*
 * chatctl/date.c: the DATE of purge --delivered-before, which decides what
 * is deleted, so a date read wrong must be refused rather than guessed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../chatctl/chatctl.h"

static void
expect_date(const char *s, int y, int mo, int d, int h, int mi, int sec)
{
	int	t[6], want[6] = { y, mo, d, h, mi, sec };

	assert_int_equal(date_parse(s, t), 0);
	assert_memory_equal(t, want, sizeof(want));
}

static void
test_forms(void **state)
{
	(void)state;
	expect_date("2026-11-01", 2026, 11, 1, 0, 0, 0);
	expect_date("2026-11-01T12:30", 2026, 11, 1, 12, 30, 0);
	expect_date("2026-11-01 12:30:59", 2026, 11, 1, 12, 30, 59);
	expect_date("2026-11-01T12:30:59Z", 2026, 11, 1, 12, 30, 59);
	expect_date("2024-02-29", 2024, 2, 29, 0, 0, 0);
	expect_date("1999-12-31T23:59:59", 1999, 12, 31, 23, 59, 59);
}

static void
test_no_real_moment(void **state)
{
	int	t[6];

	(void)state;
	assert_int_equal(date_parse("2026-02-29", t), -1);
	assert_int_equal(date_parse("2026-04-31", t), -1);
	assert_int_equal(date_parse("2026-13-01", t), -1);
	assert_int_equal(date_parse("2026-00-10", t), -1);
	assert_int_equal(date_parse("2026-01-00", t), -1);
	assert_int_equal(date_parse("2026-01-01T24:00", t), -1);
	assert_int_equal(date_parse("2026-01-01T23:60", t), -1);
	assert_int_equal(date_parse("2026-01-01T23:59:60", t), -1);
	assert_int_equal(date_parse("0999-01-01", t), -1);
}

static void
test_malformed(void **state)
{
	int	t[6];

	(void)state;
	assert_int_equal(date_parse("", t), -1);
	assert_int_equal(date_parse("yesterday", t), -1);
	assert_int_equal(date_parse("2026-1-01", t), -1);
	assert_int_equal(date_parse("2026- 1-01", t), -1);
	assert_int_equal(date_parse("2026-+1-01", t), -1);
	assert_int_equal(date_parse("2026/01/01", t), -1);
	assert_int_equal(date_parse("2026-01-01T", t), -1);
	assert_int_equal(date_parse("2026-01-01T1:00", t), -1);
	assert_int_equal(date_parse("2026-01-01T10:00:", t), -1);
	assert_int_equal(date_parse("2026-01-01T10:00+02", t), -1);
	assert_int_equal(date_parse("2026-01-01Z", t), -1);
	assert_int_equal(date_parse("2026-01-01 10:00 ", t), -1);
	assert_int_equal(date_parse("2026-01-01x", t), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_no_real_moment),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
