/*
 * fcgi_app/utf8.c: the strict UTF-8 check, the \u escape scan and the
 * username helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../fcgi_app/fcgi_app.h"

#define VALID(s)	utf8_valid((s), sizeof(s) - 1)
#define ESC_OK(s)	utf8_escapes_valid((s), sizeof(s) - 1)

static void
test_valid_text(void **state)
{
	(void)state;
	assert_true(VALID(""));
	assert_true(VALID("plain ascii {\"a\":1}"));
	assert_true(VALID("\xc2\xa9"));			/* U+00A9 */
	assert_true(VALID("\xe4\xbd\xa0\xe5\xa5\xbd"));	/* 你好 */
	assert_true(VALID("\xf0\x9f\x98\x80"));		/* U+1F600 */
	assert_true(VALID("\xf4\x8f\xbf\xbf"));		/* U+10FFFF */
	assert_true(VALID("\xef\xbf\xbf"));		/* U+FFFF */
}

static void
test_overlong(void **state)
{
	(void)state;
	assert_false(VALID("\xc0\xaf"));		/* '/' in 2 bytes */
	assert_false(VALID("\xc1\xbf"));
	assert_false(VALID("\xe0\x80\xaf"));		/* '/' in 3 bytes */
	assert_false(VALID("\xe0\x9f\xbf"));		/* U+07FF in 3 */
	assert_false(VALID("\xf0\x80\x80\xaf"));	/* '/' in 4 bytes */
	assert_false(VALID("\xf0\x8f\xbf\xbf"));	/* U+FFFF in 4 */
}

static void
test_surrogates(void **state)
{
	(void)state;
	assert_false(VALID("\xed\xa0\x80"));		/* U+D800 */
	assert_false(VALID("\xed\xbf\xbf"));		/* U+DFFF */
	assert_false(VALID("\xed\xa0\xbd\xed\xb8\x80"));	/* CESU pair */
	assert_true(VALID("\xed\x9f\xbf"));		/* U+D7FF */
	assert_true(VALID("\xee\x80\x80"));		/* U+E000 */
}

static void
test_truncated_and_stray(void **state)
{
	(void)state;
	assert_false(VALID("\xc2"));
	assert_false(VALID("\xe4\xbd"));
	assert_false(VALID("\xf0\x9f\x98"));
	assert_false(VALID("a\xe4\xbd" "b"));		/* cut by ASCII */
	assert_false(VALID("\x80"));			/* lone continuation */
	assert_false(VALID("\xbf\xbf"));
	assert_false(VALID("\xfe"));
	assert_false(VALID("\xff"));
}

static void
test_too_large(void **state)
{
	(void)state;
	assert_false(VALID("\xf4\x90\x80\x80"));	/* U+110000 */
	assert_false(VALID("\xf5\x80\x80\x80"));
	assert_false(VALID("\xf7\xbf\xbf\xbf"));
	assert_false(VALID("\xf8\x88\x80\x80\x80"));	/* old 5-byte form */
}

static void
test_nul_byte(void **state)
{
	(void)state;
	assert_false(utf8_valid("a\0b", 3));
	assert_false(utf8_valid("\0", 1));
}

static void
test_escape_nul(void **state)
{
	(void)state;
	assert_false(ESC_OK("{\"a\":\"x\\u0000y\"}"));
	assert_false(ESC_OK("{\"a\\u0000\":1}"));	/* in a key too */
	assert_true(ESC_OK("{\"a\":\"x\\\\u0000y\"}"));	/* escaped \ */
	assert_false(ESC_OK("{\"a\":\"\\\\\\u0000\"}"));	/* \\ then \u0000 */
	assert_true(ESC_OK("{\"a\":\"\\u0001\\n\\t\\\"\"}"));
}

static void
test_escape_surrogates(void **state)
{
	(void)state;
	assert_true(ESC_OK("\"\\ud83d\\ude00\""));	/* a pair */
	assert_true(ESC_OK("\"\\uD83D\\uDE00\""));
	assert_false(ESC_OK("\"\\ud83d\""));		/* high, then end */
	assert_false(ESC_OK("\"\\ud83dx\""));		/* high, then text */
	assert_false(ESC_OK("\"\\ud83d\\u0041\""));	/* high, then BMP */
	assert_false(ESC_OK("\"\\ud83d\\ud83d\""));	/* high, high */
	assert_false(ESC_OK("\"\\ude00\""));		/* lone low */
	assert_false(ESC_OK("\"\\ude00\\ud83d\""));	/* reversed */
	assert_true(ESC_OK("\"\\\\ud83d\""));		/* escaped \ */
	assert_true(ESC_OK("\"\\ud7ff\\ue000\""));	/* just outside */
}

static void
test_escape_malformed_left_to_parser(void **state)
{
	(void)state;
	assert_true(ESC_OK("\"\\u12\""));
	assert_true(ESC_OK("\"\\uzzzz\""));
	assert_true(ESC_OK("\"\\"));
}

static void
test_count_and_control(void **state)
{
	(void)state;
	assert_int_equal(utf8_count(""), 0);
	assert_int_equal(utf8_count("abc"), 3);
	assert_int_equal(utf8_count("\xe4\xbd\xa0\xe5\xa5\xbd"), 2);
	assert_int_equal(utf8_count("\xf0\x9f\x98\x80" "a"), 2);
	assert_false(utf8_has_control("alice \xe4\xbd\xa0"));
	assert_true(utf8_has_control("a\tb"));
	assert_true(utf8_has_control("a\nb"));
	assert_true(utf8_has_control("\x1f"));
	assert_true(utf8_has_control("a\x7f"));
	assert_true(utf8_has_control("a\xc2\x80"));	/* U+0080 */
	assert_true(utf8_has_control("a\xc2\x9f"));	/* U+009F */
	assert_false(utf8_has_control("a\xc2\xa0"));	/* U+00A0 */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_text),
		cmocka_unit_test(test_overlong),
		cmocka_unit_test(test_surrogates),
		cmocka_unit_test(test_truncated_and_stray),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_escape_nul),
		cmocka_unit_test(test_escape_surrogates),
		cmocka_unit_test(test_escape_malformed_left_to_parser),
		cmocka_unit_test(test_count_and_control),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
