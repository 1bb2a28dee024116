/*
 * fcgi_app/packet.c: packet_parse()'s error details and their order, the
 * typed field readers, and the username rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../fcgi_app/fcgi_app.h"

/* The detail packet_parse() gives for s, or NULL when it parses. */
static const char *
parse_detail(const char *s)
{
	const char	*detail = NULL;
	cJSON		*root;

	root = packet_parse(s, strlen(s), &detail);
	if (root != NULL) {
		cJSON_Delete(root);
		return NULL;
	}
	return detail;
}

static void
test_parse_order(void **state)
{
	(void)state;
	assert_null(parse_detail("{\"command\":\"login\"}"));
	assert_string_equal(parse_detail("{\"command\":\"\xc0\xaf\"}"),
	    "bad encoding");
	/* Encoding is checked before the JSON: broken JSON, bad escape. */
	assert_string_equal(parse_detail("{\"a\":\"\\u0000\""),
	    "bad encoding");
	assert_string_equal(parse_detail("{\"a\":\"\\ud800\"}"),
	    "bad encoding");
	assert_string_equal(parse_detail("{\"command\":"), "bad json");
	assert_string_equal(parse_detail(""), "bad json");
	assert_string_equal(parse_detail("[]"), "bad json");
	assert_string_equal(parse_detail("\"command\""), "bad json");
	assert_string_equal(parse_detail("null"), "bad json");
	assert_string_equal(parse_detail("{\"command\":\"x\"} {}"),
	    "bad json");
	assert_string_equal(parse_detail("{}"), "no command");
	assert_string_equal(parse_detail("{\"command\":1}"), "no command");
	assert_string_equal(parse_detail("{\"command\":null}"), "no command");
	assert_string_equal(parse_detail("{\"Command\":\"login\"}"),
	    "no command");
}

static void
test_parse_size(void **state)
{
	char	buf[PACKET_MAX + 2];
	size_t	len;

	(void)state;
	/* Exactly PACKET_MAX bytes parse; one more does not. */
	len = (size_t)snprintf(buf, sizeof(buf), "{\"command\":\"x\",\"p\":\"");
	memset(buf + len, 'a', PACKET_MAX - len - 2);
	memcpy(buf + PACKET_MAX - 2, "\"}", 3);
	assert_null(parse_detail(buf));
	memcpy(buf + PACKET_MAX - 2, "a\"}", 4);
	assert_string_equal(parse_detail(buf), "packet too large");
}

static void
test_parse_keeps_surrogate_pair(void **state)
{
	const char	*detail;
	cJSON		*root;
	const char	*s = "{\"command\":\"x\",\"m\":\"\\ud83d\\ude00\"}";

	(void)state;
	root = packet_parse(s, strlen(s), &detail);
	assert_non_null(root);
	assert_string_equal(packet_get_str(root, "m"), "\xf0\x9f\x98\x80");
	cJSON_Delete(root);
}

static enum packet_id
id_of(const char *json, uint64_t *id)
{
	cJSON		*root;
	enum packet_id	 rv;

	root = cJSON_Parse(json);
	assert_non_null(root);
	*id = 0;
	rv = packet_get_id(root, "id", id);
	cJSON_Delete(root);
	return rv;
}

static void
test_id_string_and_number(void **state)
{
	uint64_t	id;

	(void)state;
	assert_int_equal(id_of("{\"id\":\"10000\"}", &id), PACKET_ID_OK);
	assert_int_equal(id, 10000);
	assert_int_equal(id_of("{\"id\":10000}", &id), PACKET_ID_OK);
	assert_int_equal(id, 10000);
	assert_int_equal(id_of("{\"id\":1e4}", &id), PACKET_ID_OK);
	assert_int_equal(id, 10000);
	assert_int_equal(id_of("{\"id\":\"18446744073709551615\"}", &id),
	    PACKET_ID_OK);
	assert_true(id == UINT64_MAX);
}

static void
test_id_bad_values(void **state)
{
	uint64_t	id;

	(void)state;
	assert_int_equal(id_of("{\"id\":\"010000\"}", &id),
	    PACKET_ID_BAD_VALUE);
	assert_int_equal(id_of("{\"id\":\"0\"}", &id), PACKET_ID_BAD_VALUE);
	assert_int_equal(id_of("{\"id\":\"\"}", &id), PACKET_ID_BAD_VALUE);
	assert_int_equal(id_of("{\"id\":\"+10000\"}", &id),
	    PACKET_ID_BAD_VALUE);
	assert_int_equal(id_of("{\"id\":\"-1\"}", &id), PACKET_ID_BAD_VALUE);
	assert_int_equal(id_of("{\"id\":\" 10000\"}", &id),
	    PACKET_ID_BAD_VALUE);
	assert_int_equal(id_of("{\"id\":\"10000 \"}", &id),
	    PACKET_ID_BAD_VALUE);
	assert_int_equal(id_of("{\"id\":\"1x\"}", &id), PACKET_ID_BAD_VALUE);
	assert_int_equal(id_of("{\"id\":\"18446744073709551616\"}", &id),
	    PACKET_ID_BAD_VALUE);
	assert_int_equal(id_of("{\"id\":10000.5}", &id), PACKET_ID_BAD_VALUE);
	assert_int_equal(id_of("{\"id\":0}", &id), PACKET_ID_BAD_VALUE);
	assert_int_equal(id_of("{\"id\":-10000}", &id), PACKET_ID_BAD_VALUE);
	assert_int_equal(id_of("{\"id\":1e300}", &id), PACKET_ID_BAD_VALUE);
}

static void
test_id_wrong_types(void **state)
{
	uint64_t	id;

	(void)state;
	assert_int_equal(id_of("{}", &id), PACKET_ID_BAD_TYPE);
	assert_int_equal(id_of("{\"id\":null}", &id), PACKET_ID_BAD_TYPE);
	assert_int_equal(id_of("{\"id\":true}", &id), PACKET_ID_BAD_TYPE);
	assert_int_equal(id_of("{\"id\":[\"10000\"]}", &id),
	    PACKET_ID_BAD_TYPE);
	assert_int_equal(id_of("{\"id\":{}}", &id), PACKET_ID_BAD_TYPE);
	assert_int_equal(id_of("{\"ID\":\"10000\"}", &id), PACKET_ID_BAD_TYPE);
}

static void
test_str_and_bool(void **state)
{
	cJSON	*root;
	int	 b = -1;

	(void)state;
	root = cJSON_Parse("{\"s\":\"x\",\"n\":1,\"t\":true,\"f\":false,"
	    "\"z\":null,\"o\":{}}");
	assert_non_null(root);
	assert_string_equal(packet_get_str(root, "s"), "x");
	assert_null(packet_get_str(root, "n"));
	assert_null(packet_get_str(root, "z"));
	assert_null(packet_get_str(root, "o"));
	assert_null(packet_get_str(root, "missing"));
	assert_int_equal(packet_get_bool(root, "t", &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(packet_get_bool(root, "f", &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(packet_get_bool(root, "n", &b), -1);
	assert_int_equal(packet_get_bool(root, "s", &b), -1);
	assert_int_equal(packet_get_bool(root, "missing", &b), -1);
	cJSON_Delete(root);
}

static void
test_username(void **state)
{
	char	name[32 * 3 + 4];
	int	i;

	(void)state;
	assert_null(packet_check_username("alice"));
	assert_null(packet_check_username("a"));
	assert_string_equal(packet_check_username(""), "bad username");
	/* 32 Chinese characters (96 bytes) fit; 33 do not. */
	name[0] = '\0';
	for (i = 0; i < 32; i++)
		strcat(name, "\xe4\xb8\xad");
	assert_null(packet_check_username(name));
	strcat(name, "\xe4\xb8\xad");
	assert_string_equal(packet_check_username(name), "bad username");
	memset(name, 'x', 32);
	name[32] = '\0';
	assert_null(packet_check_username(name));
	name[32] = 'x';
	name[33] = '\0';
	assert_string_equal(packet_check_username(name), "bad username");
	assert_string_equal(packet_check_username("a\tb"), "bad username");
	assert_string_equal(packet_check_username("a\nb"), "bad username");
	assert_string_equal(packet_check_username("a\x7f"), "bad username");
	assert_string_equal(packet_check_username("a\xc2\x85"),
	    "bad username");
	assert_null(packet_check_username("J\xc3\xbcrgen M\xc3\xbcller"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_order),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_keeps_surrogate_pair),
		cmocka_unit_test(test_id_string_and_number),
		cmocka_unit_test(test_id_bad_values),
		cmocka_unit_test(test_id_wrong_types),
		cmocka_unit_test(test_str_and_bool),
		cmocka_unit_test(test_username),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
