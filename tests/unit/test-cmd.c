/*
 * fcgi_app/cmd.c, the gate, with logon, login and logout over a stub
 * database: what each packet is answered, as the daemon receives it.
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
#include "log.h"

/* The stub database: one account, one failure counter, a down switch. */
static struct {
	int		down;
	char		hash[AUTH_HASH_MAX];
	int		disabled;
	uint64_t	next_id;
	uint64_t	failed_id;
	int		failures;
	int		registrations;
} stub;

static struct config	cf;
static struct app	app = { &cf, NULL };

int
db_ping(struct db *db)
{
	(void)db;
	return stub.down ? -1 : 0;
}

int
db_account_create(struct db *db, const char *username, const char *hash,
    uint64_t *id)
{
	(void)db;
	(void)username;
	(void)hash;
	if (stub.down)
		return -1;
	*id = stub.next_id++;
	return 0;
}

int
db_account_get(struct db *db, uint64_t id, struct account *a)
{
	(void)db;
	if (stub.down)
		return -1;
	if (id != 10000)
		return 0;
	a->id = id;
	snprintf(a->username, sizeof(a->username), "alice");
	snprintf(a->hash, sizeof(a->hash), "%s", stub.hash);
	a->disabled = stub.disabled;
	return 1;
}

int
db_login_failures(struct db *db, uint64_t id, int *count)
{
	(void)db;
	if (stub.down)
		return -1;
	*count = id == stub.failed_id ? stub.failures : 0;
	return 0;
}

int
db_login_failure_add(struct db *db, uint64_t id)
{
	(void)db;
	if (id != stub.failed_id)
		stub.failures = 0;
	stub.failed_id = id;
	stub.failures++;
	return 0;
}

int
db_login_failures_clear(struct db *db, uint64_t id)
{
	(void)db;
	if (id == stub.failed_id)
		stub.failures = 0;
	return 0;
}

int
db_registrations(struct db *db, const char *addr, int *count)
{
	(void)db;
	(void)addr;
	*count = stub.registrations;
	return 0;
}

int
db_registration_add(struct db *db, const char *addr)
{
	(void)db;
	(void)addr;
	stub.registrations++;
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	config_defaults(&cf);
	cf.pwhash_opslimit = 1;
	cf.pwhash_memlimit_kib = 8;
	memset(&stub, 0, sizeof(stub));
	stub.next_id = 10001;
	if (auth_init(&cf) == -1 ||
	    auth_hash(&cf, "correct horse", stub.hash) == -1)
		return -1;
	return 0;
}

/*
 * Runs body on a connection bound to account (0: none) and checks the
 * daemon's answer and the gate's verdict.
 */
static void
check(uint64_t account, const char *body, enum cmd_retval want_rv,
    const char *want)
{
	struct session	 s;
	struct reply	*r;
	enum cmd_retval	 rv;
	char		*out;

	memset(&s, 0, sizeof(s));
	s.conn_id = 1;
	s.account = account;
	snprintf(s.remote_addr, sizeof(s.remote_addr), "192.0.2.1");
	r = reply_new();
	assert_non_null(r);
	rv = cmd_dispatch(&app, &s, body, strlen(body), r);
	out = reply_render(r);
	assert_non_null(out);
	assert_string_equal(out, want);
	assert_int_equal(rv, want_rv);
	free(out);
	reply_free(r);
}

#define SEND(p)		"{\"actions\":[{\"op\":\"send\",\"data\":\"" p "\"}]}"
#define ERROR(d)	SEND("{\\\"command\\\":\\\"error\\\"," \
			    "\\\"status\\\":\\\"fail\\\",\\\"detail\\\":\\\"" d "\\\"}")
#define FAIL(c, d)	SEND("{\\\"command\\\":\\\"" c "_return\\\"," \
			    "\\\"status\\\":\\\"fail\\\",\\\"detail\\\":\\\"" d "\\\"}")

static void
test_error_packets(void **state)
{
	(void)state;
	check(0, "{\"command\":", CMD_REJECT, ERROR("bad json"));
	check(0, "{\"x\":1}", CMD_REJECT, ERROR("no command"));
	check(0, "{\"command\":\"fly\"}", CMD_REJECT, ERROR("unknown command"));
	check(0, "{\"command\":\"a\\u0000\"}", CMD_REJECT,
	    ERROR("bad encoding"));
	check(0, "{\"command\":\"logon\",\"username\":\"a\",\"password\":7}",
	    CMD_REJECT, ERROR("bad request"));
	check(0, "{\"command\":\"login\",\"id\":\"10000\",\"password\":\"x\","
	    "\"ack\":\"yes\"}", CMD_REJECT, ERROR("bad request"));
}

static void
test_login_gate(void **state)
{
	(void)state;
	check(0, "{\"command\":\"logout\",\"id\":\"10000\"}", CMD_FAIL,
	    FAIL("logout", "not logged in"));
	/* Not logged in wins over a malformed packet of a gated command. */
	check(0, "{\"command\":\"logout\"}", CMD_FAIL,
	    FAIL("logout", "not logged in"));
	check(10000, "{\"command\":\"logout\"}", CMD_REJECT,
	    ERROR("bad request"));
	check(10000, "{\"command\":\"logout\",\"id\":[10000]}", CMD_REJECT,
	    ERROR("bad request"));
	check(10000, "{\"command\":\"logout\",\"id\":\"10001\"}", CMD_FAIL,
	    FAIL("logout", "src is not you"));
	check(10000, "{\"command\":\"logout\",\"id\":\"010000\"}", CMD_FAIL,
	    FAIL("logout", "src is not you"));
	check(10000, "{\"command\":\"logout\",\"id\":10000.5}", CMD_FAIL,
	    FAIL("logout", "src is not you"));
	check(10000, "{\"command\":\"logout\",\"id\":10000}", CMD_OK,
	    "{\"actions\":[{\"op\":\"unbind\"},{\"op\":\"send\",\"data\":"
	    "\"{\\\"command\\\":\\\"logout_return\\\","
	    "\\\"status\\\":\\\"success\\\"}\"}]}");
}

static void
test_login(void **state)
{
	(void)state;
	check(0, "{\"command\":\"login\",\"id\":\"10000\","
	    "\"password\":\"correct horse\",\"ack\":true}", CMD_OK,
	    "{\"actions\":[{\"op\":\"bind\",\"account\":\"10000\",\"ack\":true},"
	    "{\"op\":\"send\",\"data\":\"{\\\"command\\\":\\\"login_return\\\","
	    "\\\"status\\\":\\\"success\\\",\\\"username\\\":\\\"alice\\\"}\"}]}");
	check(10000, "{\"command\":\"login\",\"id\":\"10000\","
	    "\"password\":\"correct horse\"}", CMD_FAIL,
	    FAIL("login", "already logged in"));
	check(0, "{\"command\":\"login\",\"id\":\"10000\","
	    "\"password\":\"wrong horse\"}", CMD_FAIL,
	    FAIL("login", "wrong id or password"));
	check(0, "{\"command\":\"login\",\"id\":\"20000\","
	    "\"password\":\"correct horse\"}", CMD_FAIL,
	    FAIL("login", "wrong id or password"));
	stub.disabled = 1;
	check(0, "{\"command\":\"login\",\"id\":10000,"
	    "\"password\":\"wrong horse\"}", CMD_FAIL,
	    FAIL("login", "wrong id or password"));
	check(0, "{\"command\":\"login\",\"id\":10000,"
	    "\"password\":\"correct horse\"}", CMD_FAIL,
	    FAIL("login", "account disabled"));
}

static void
test_login_throttle(void **state)
{
	int	i;

	(void)state;
	for (i = 0; i < cf.login_failures_per_minute; i++)
		check(0, "{\"command\":\"login\",\"id\":\"10000\","
		    "\"password\":\"wrong horse\"}", CMD_FAIL,
		    FAIL("login", "wrong id or password"));
	/* Even the right password is refused now, before any hashing. */
	check(0, "{\"command\":\"login\",\"id\":\"10000\","
	    "\"password\":\"correct horse\"}", CMD_FAIL,
	    FAIL("login", "too many attempts"));
}

static void
test_logon(void **state)
{
	(void)state;
	check(0, "{\"command\":\"logon\",\"username\":\"\xe5\xbc\xa0\","
	    "\"password\":\"12345678\"}", CMD_OK,
	    SEND("{\\\"command\\\":\\\"logon_return\\\","
	    "\\\"status\\\":\\\"success\\\",\\\"id\\\":\\\"10001\\\"}"));
	check(0, "{\"command\":\"logon\",\"username\":\"a\\tb\","
	    "\"password\":\"12345678\"}", CMD_FAIL,
	    FAIL("logon", "bad username"));
	check(0, "{\"command\":\"logon\",\"username\":\"ab\","
	    "\"password\":\"1234567\"}", CMD_FAIL,
	    FAIL("logon", "bad password"));
	cf.registrations_per_hour = 1;
	check(0, "{\"command\":\"logon\",\"username\":\"ab\","
	    "\"password\":\"12345678\"}", CMD_OK,
	    SEND("{\\\"command\\\":\\\"logon_return\\\","
	    "\\\"status\\\":\\\"success\\\",\\\"id\\\":\\\"10002\\\"}"));
	check(0, "{\"command\":\"logon\",\"username\":\"ab\","
	    "\"password\":\"12345678\"}", CMD_FAIL,
	    FAIL("logon", "too many attempts"));
	cf.registrations_per_hour = 0;
}

static void
test_server_error(void **state)
{
	(void)state;
	stub.down = 1;
	check(0, "{\"command\":\"login\",\"id\":\"10000\","
	    "\"password\":\"correct horse\"}", CMD_ERROR,
	    FAIL("login", "server error"));
	check(0, "{\"command\":\"logon\",\"username\":\"ab\","
	    "\"password\":\"12345678\"}", CMD_ERROR,
	    FAIL("logon", "server error"));
	/* Commands that need no database still work. */
	check(10000, "{\"command\":\"logout\",\"id\":\"10000\"}", CMD_OK,
	    "{\"actions\":[{\"op\":\"unbind\"},{\"op\":\"send\",\"data\":"
	    "\"{\\\"command\\\":\\\"logout_return\\\","
	    "\\\"status\\\":\\\"success\\\"}\"}]}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_error_packets, setup),
		cmocka_unit_test_setup(test_login_gate, setup),
		cmocka_unit_test_setup(test_login, setup),
		cmocka_unit_test_setup(test_login_throttle, setup),
		cmocka_unit_test_setup(test_logon, setup),
		cmocka_unit_test_setup(test_server_error, setup),
	};

	log_init("test-cmd", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
