/*
 * fcgi_app/cmd.c, the gate, with every command over a stub database: what
 * each packet is answered, as the daemon receives it.
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
#include "log.h"

/*
 * The stub database: accounts 10000 (alice, who can log in), 10001 and
 * 10002; login attempts per (id, address) and per address, and the ids'
 * backoff, as the real counters count them within one window; friend
 * requests sent; friendships and requests in small tables; a down switch.
 */
#define STUB_ROWS	16
static struct {
	int		down;
	char		hash[AUTH_HASH_MAX];
	int		disabled;
	uint64_t	next_id;
	struct stub_attempt { uint64_t id; char addr[64]; int attempts,
			    failed; } attempts[STUB_ROWS];
	size_t		nattempts;
	struct stub_addr { char addr[64]; int attempts; } addrs[STUB_ROWS];
	size_t		naddrs;
	int		delayed;	/* every id is in its backoff */
	int		registrations;
	int		asks_minute, asks_day;

	/* friendships, requests: (a, b, status) rows */
	struct stub_row { uint64_t a, b; int status; } friends[STUB_ROWS],
			requests[STUB_ROWS], blocks[STUB_ROWS];
	size_t		nfriends, nrequests, nblocks;
	uint64_t	next_result;
	uint64_t	next_request;
	uint64_t	next_message;
	uint64_t	acked[STUB_ROWS];
	size_t		nacked;
	int		in_tx, commits, rollbacks;
	int		deadlocks;	/* commits still to fail so */
	int		deadlocked;	/* the last one did */
} stub;

static struct config	cf;
static struct app	app = { .cf = &cf };
static const char	*check_addr;	/* check()'s client address */

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

static struct stub_attempt *
stub_attempt(uint64_t id, const char *addr)
{
	size_t	i;

	for (i = 0; i < stub.nattempts; i++)
		if (stub.attempts[i].id == id &&
		    strcmp(stub.attempts[i].addr, addr) == 0)
			return &stub.attempts[i];
	assert_true(stub.nattempts < STUB_ROWS);
	stub.attempts[stub.nattempts].id = id;
	snprintf(stub.attempts[stub.nattempts].addr, 64, "%s", addr);
	return &stub.attempts[stub.nattempts++];
}

static struct stub_addr *
stub_addr(const char *addr)
{
	size_t	i;

	for (i = 0; i < stub.naddrs; i++)
		if (strcmp(stub.addrs[i].addr, addr) == 0)
			return &stub.addrs[i];
	assert_true(stub.naddrs < STUB_ROWS);
	snprintf(stub.addrs[stub.naddrs].addr, 64, "%s", addr);
	return &stub.addrs[stub.naddrs++];
}

int
db_login_attempt(struct db *db, uint64_t id, const char *addr,
    struct login_count *lc)
{
	struct stub_attempt	*a;

	(void)db;
	if (stub.down)
		return -1;
	a = stub_attempt(id, addr);
	lc->id_addr = ++a->attempts;
	lc->addr = *addr == '\0' ? 0 : ++stub_addr(addr)->attempts;
	lc->delayed = stub.delayed && a->failed;
	return 0;
}

int
db_login_failed(struct db *db, uint64_t id, const char *addr)
{
	(void)db;
	stub_attempt(id, addr)->failed = 1;
	return 0;
}

int
db_login_succeeded(struct db *db, uint64_t id, const char *addr)
{
	struct stub_attempt	*a = stub_attempt(id, addr);

	(void)db;
	a->attempts = a->failed = 0;
	if (*addr != '\0')
		stub_addr(addr)->attempts--;
	return 0;
}

int
db_registration_add(struct db *db, const char *addr, int *count)
{
	(void)db;
	(void)addr;
	if (stub.down)
		return -1;
	*count = ++stub.registrations;
	return 0;
}

int
db_friend_asks(struct db *db, uint64_t from, int *minute, int *day)
{
	(void)db;
	(void)from;
	assert_true(stub.in_tx);
	*minute = stub.asks_minute;
	*day = stub.asks_day;
	return 0;
}

int
db_friend_ask_add(struct db *db, uint64_t from)
{
	(void)db;
	(void)from;
	assert_true(stub.in_tx);
	stub.asks_minute++;
	stub.asks_day++;
	return 0;
}

int
db_presence_delete(struct db *db, const char *node, uint64_t conn_id)
{
	(void)db;
	(void)node;
	(void)conn_id;
	return stub.down ? -1 : 0;
}

/* A login's row: new, so presence counts it (nobody is told: below). */
int
db_presence_put(struct db *db, const struct presence *p)
{
	(void)db;
	(void)p;
	return stub.down ? -1 : 1;
}

/* Nobody is online: presence tells nobody. */
int
db_presence_count(struct db *db, uint64_t account, int *count)
{
	(void)db;
	(void)account;
	*count = 0;
	return 0;
}

int
db_begin(struct db *db)
{
	(void)db;
	if (stub.down)
		return -1;
	assert_false(stub.in_tx);
	stub.in_tx = 1;
	return 0;
}

int
db_commit(struct db *db)
{
	(void)db;
	assert_true(stub.in_tx);
	stub.in_tx = 0;
	stub.deadlocked = stub.deadlocks > 0;
	if (stub.deadlocked) {
		stub.deadlocks--;
		stub.rollbacks++;
		return -1;
	}
	stub.commits++;
	return 0;
}

int
db_tx_deadlocked(const struct db *db)
{
	(void)db;
	return stub.deadlocked;
}

void
db_rollback(struct db *db)
{
	(void)db;
	if (stub.in_tx)
		stub.rollbacks++;
	stub.in_tx = 0;
}

int
db_account_lock(struct db *db, uint64_t id, char *username)
{
	(void)db;
	/* A login's runs inside its batch, which these tests do not open. */
	assert_true(stub.in_tx || username == NULL);
	if (id < 10000 || id > 10002)
		return 0;
	if (username != NULL)
		snprintf(username, USERNAME_SIZE, "%s",
		    id == 10000 ? "alice" : id == 10001 ? "bob" : "carol");
	return 1;
}

static struct stub_row *
stub_find(struct stub_row *rows, size_t n, uint64_t a, uint64_t b)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (rows[i].a == a && rows[i].b == b)
			return &rows[i];
	return NULL;
}

static void
stub_put(struct stub_row *rows, size_t *n, uint64_t a, uint64_t b,
    int status)
{
	struct stub_row	*r;

	if ((r = stub_find(rows, *n, a, b)) == NULL) {
		assert_true(*n < STUB_ROWS);
		r = &rows[(*n)++];
	}
	r->a = a;
	r->b = b;
	r->status = status;
}

int
db_friendship_get(struct db *db, uint64_t a, uint64_t b, int *status)
{
	struct stub_row	*r;

	(void)db;
	if (stub.down)
		return -1;
	if ((r = stub_find(stub.friends, stub.nfriends, a, b)) == NULL)
		return 0;
	*status = r->status;
	return 1;
}

int
db_friendship_put(struct db *db, uint64_t a, uint64_t b, int status)
{
	(void)db;
	stub_put(stub.friends, &stub.nfriends, a, b, status);
	return 0;
}

int
db_friendship_delete(struct db *db, uint64_t a, uint64_t b)
{
	struct stub_row	*r;

	(void)db;
	if ((r = stub_find(stub.friends, stub.nfriends, a, b)) != NULL)
		*r = stub.friends[--stub.nfriends];
	if ((r = stub_find(stub.friends, stub.nfriends, b, a)) != NULL)
		*r = stub.friends[--stub.nfriends];
	return 0;
}

int
db_block_get(struct db *db, uint64_t a, uint64_t b)
{
	(void)db;
	if (stub.down)
		return -1;
	return stub_find(stub.blocks, stub.nblocks, a, b) != NULL;
}

int
db_block_put(struct db *db, uint64_t a, uint64_t b)
{
	(void)db;
	stub_put(stub.blocks, &stub.nblocks, a, b, 0);
	return 0;
}

int
db_block_delete(struct db *db, uint64_t a, uint64_t b)
{
	struct stub_row	*r;

	(void)db;
	if ((r = stub_find(stub.blocks, stub.nblocks, a, b)) == NULL)
		return 0;
	*r = stub.blocks[--stub.nblocks];
	return 1;
}

int
db_blocks_count(struct db *db, uint64_t a, int *count)
{
	size_t	i;

	(void)db;
	for (*count = 0, i = 0; i < stub.nblocks; i++)
		*count += stub.blocks[i].a == a;
	return 0;
}

int
db_blocks_list(struct db *db, uint64_t a, struct friend **list, size_t *n)
{
	size_t	i;

	(void)db;
	*n = 0;
	assert_non_null(*list = calloc(STUB_ROWS, sizeof(**list)));
	for (i = 0; i < stub.nblocks; i++) {
		if (stub.blocks[i].a != a)
			continue;
		(*list)[*n].id = stub.blocks[i].b;
		snprintf((*list)[*n].username, USERNAME_SIZE, "%s",
		    stub.blocks[i].b == 10001 ? "bob" : "carol");
		(*n)++;
	}
	return 0;
}

/* No stored conversation: history answers an empty, oldest page. */
int
db_history(struct db *db, uint64_t account, uint64_t with, uint64_t before,
    int limit, struct history_item *h, char *bodies, int *n)
{
	(void)db;
	(void)account;
	(void)with;
	(void)before;
	(void)limit;
	(void)h;
	(void)bodies;
	*n = 0;
	return stub.down ? -1 : 0;
}

int
db_friends_list(struct db *db, uint64_t a, struct friend **list, size_t *n)
{
	size_t	i;

	(void)db;
	if (stub.down)
		return -1;
	*n = 0;
	assert_non_null(*list = calloc(STUB_ROWS, sizeof(**list)));
	for (i = 0; i < stub.nfriends; i++) {
		if (stub.friends[i].a != a)
			continue;
		(*list)[*n].id = stub.friends[i].b;
		snprintf((*list)[*n].username, USERNAME_SIZE, "%s",
		    stub.friends[i].b == 10001 ? "bob" : "carol");
		(*list)[*n].status = stub.friends[i].status;
		(*list)[*n].online = stub.friends[i].b == 10001;
		(*n)++;
	}
	return 0;
}

int
db_request_get(struct db *db, uint64_t from, uint64_t to, int *status)
{
	struct stub_row	*r;

	(void)db;
	if ((r = stub_find(stub.requests, stub.nrequests, from, to)) == NULL)
		return 0;
	*status = r->status;
	return 1;
}

int
db_request_put(struct db *db, struct friend_request *q)
{
	(void)db;
	stub_put(stub.requests, &stub.nrequests, q->from, q->to, q->status);
	q->id = ++stub.next_request;
	return 0;
}

int
db_request_delete(struct db *db, uint64_t from, uint64_t to)
{
	struct stub_row	*r;

	(void)db;
	if ((r = stub_find(stub.requests, stub.nrequests, from, to)) != NULL)
		*r = stub.requests[--stub.nrequests];
	return 0;
}

int
db_requests_sent(struct db *db, uint64_t from, int *count)
{
	size_t	i;

	(void)db;
	*count = 0;
	for (i = 0; i < stub.nrequests; i++)
		*count += stub.requests[i].a == from;
	return 0;
}

int
db_result_add(struct db *db, uint64_t to, const struct friend_result *res,
    uint64_t *id)
{
	(void)db;
	assert_true(stub.in_tx);
	assert_int_equal(to, res->src);
	*id = ++stub.next_result;
	return 0;
}

int
db_message_add(struct db *db, struct message *m)
{
	(void)db;
	if (stub.down)
		return -1;
	if (stub_find(stub.friends, stub.nfriends, m->src, m->dst) == NULL)
		return 0;
	m->id = ++stub.next_message;
	snprintf(m->time, sizeof(m->time), "2026-11-26T22:01:31Z");
	return 1;
}

/* The batch path (msgqueue.c): the same table, many at once. */
int
db_messages_add(struct db *db, struct message *ms, int *stored, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if ((stored[i] = db_message_add(db, &ms[i])) == -1)
			return -1;
	return 0;
}

/* Every message to 10001 is from 10000; an id acked twice changes once. */
int
db_message_ack(struct db *db, uint64_t to, uint64_t id, uint64_t *src)
{
	size_t	i;

	(void)db;
	if (stub.down)
		return -1;
	assert_int_equal(to, 10001);
	for (i = 0; i < stub.nacked; i++)
		if (stub.acked[i] == id)
			return 0;
	assert_true(stub.nacked < STUB_ROWS);
	stub.acked[stub.nacked++] = id;
	*src = 10000;
	return 1;
}

int
db_message_read(struct db *db, uint64_t to, uint64_t id, uint64_t *src)
{
	return db_message_ack(db, to, id, src);
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
	check_addr = "192.0.2.1";
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
	snprintf(s.remote_addr, sizeof(s.remote_addr), "%s", check_addr);
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
/* alice's login: bind, login_return, fetch. */
#define LOGIN_OK	"{\"actions\":[{\"op\":\"bind\",\"account\":\"10000\"," \
			    "\"ack\":false},{\"op\":\"send\",\"data\":" \
			    "\"{\\\"command\\\":\\\"login_return\\\"," \
			    "\\\"status\\\":\\\"success\\\"," \
			    "\\\"username\\\":\\\"alice\\\"}\"}," \
			    "{\"op\":\"fetch\"}]}"
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
	    "\\\"status\\\":\\\"success\\\",\\\"username\\\":\\\"alice\\\"}\"},"
	    "{\"op\":\"fetch\"}]}");
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
	/* The owner, from another address, is not. */
	check_addr = "198.51.100.7";
	check(0, "{\"command\":\"login\",\"id\":\"10000\","
	    "\"password\":\"correct horse\"}", CMD_OK, LOGIN_OK);
}

/* Many ids from one address: the address runs out, not each id. */
static void
test_login_spraying(void **state)
{
	char	body[128];
	int	i;

	(void)state;
	cf.login_failures_per_address = 4;
	for (i = 0; i < cf.login_failures_per_address; i++) {
		snprintf(body, sizeof(body), "{\"command\":\"login\","
		    "\"id\":\"%d\",\"password\":\"guess\"}", 20000 + i);
		check(0, body, CMD_FAIL, FAIL("login", "wrong id or password"));
	}
	check(0, "{\"command\":\"login\",\"id\":\"30000\","
	    "\"password\":\"guess\"}", CMD_FAIL,
	    FAIL("login", "too many attempts"));
	/* A success gives its slot back; another address has its own. */
	check_addr = "198.51.100.7";
	check(0, "{\"command\":\"login\",\"id\":\"30000\","
	    "\"password\":\"guess\"}", CMD_FAIL,
	    FAIL("login", "wrong id or password"));
}

/*
 * An id in its backoff holds back the addresses that failed for it, even
 * with the right password, and only those.
 */
static void
test_login_backoff(void **state)
{
	(void)state;
	stub.delayed = 1;
	check(0, "{\"command\":\"login\",\"id\":\"10000\","
	    "\"password\":\"wrong horse\"}", CMD_FAIL,
	    FAIL("login", "wrong id or password"));
	check(0, "{\"command\":\"login\",\"id\":\"10000\","
	    "\"password\":\"correct horse\"}", CMD_FAIL,
	    FAIL("login", "too many attempts"));
	check_addr = "198.51.100.7";
	check(0, "{\"command\":\"login\",\"id\":\"10000\","
	    "\"password\":\"correct horse\"}", CMD_OK, LOGIN_OK);
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
	cf.registrations_per_hour = 2;
	check(0, "{\"command\":\"logon\",\"username\":\"ab\","
	    "\"password\":\"12345678\"}", CMD_OK,
	    SEND("{\\\"command\\\":\\\"logon_return\\\","
	    "\\\"status\\\":\\\"success\\\",\\\"id\\\":\\\"10002\\\"}"));
	check(0, "{\"command\":\"logon\",\"username\":\"ab\","
	    "\"password\":\"12345678\"}", CMD_FAIL,
	    FAIL("logon", "too many attempts"));
	/* No address known: not one address, so not limited. */
	check_addr = "";
	check(0, "{\"command\":\"logon\",\"username\":\"ab\","
	    "\"password\":\"12345678\"}", CMD_OK,
	    SEND("{\\\"command\\\":\\\"logon_return\\\","
	    "\\\"status\\\":\\\"success\\\",\\\"id\\\":\\\"10003\\\"}"));
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

/*
 * Runs body on a connection bound to account (0: none), checks the gate's
 * verdict and returns the daemon's answer parsed: {"actions":[...]}.
 */
static cJSON *
run(uint64_t account, const char *body, enum cmd_retval want_rv)
{
	struct session	 s;
	struct reply	*r;
	cJSON		*root;
	char		*out;

	memset(&s, 0, sizeof(s));
	s.conn_id = 1;
	s.account = account;
	assert_non_null(r = reply_new());
	assert_int_equal(cmd_dispatch(&app, &s, body, strlen(body), r),
	    want_rv);
	assert_non_null(out = reply_render(r));
	assert_non_null(root = cJSON_Parse(out));
	free(out);
	reply_free(r);
	assert_false(stub.in_tx);
	return root;
}

static int
actions(const cJSON *root)
{
	return cJSON_GetArraySize(cJSON_GetObjectItem(root, "actions"));
}

/* Action i is a send to account (NULL: this connection) of data. */
static void
want_send(const cJSON *root, int i, const char *account, const char *track,
    const char *data)
{
	const cJSON	*a, *v;

	a = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "actions"), i);
	assert_non_null(a);
	assert_string_equal(cJSON_GetObjectItem(a, "op")->valuestring, "send");
	v = cJSON_GetObjectItem(a, "account");
	if (account == NULL)
		assert_null(v);
	else
		assert_string_equal(v->valuestring, account);
	v = cJSON_GetObjectItem(a, "track");
	if (track == NULL)
		assert_null(v);
	else
		assert_string_equal(v->valuestring, track);
	if (data != NULL)
		assert_string_equal(cJSON_GetObjectItem(a, "data")->valuestring,
		    data);
}

/* The one answer is a fail (or error, cmd "error") with detail. */
static void
want_fail(uint64_t account, const char *body, const char *cmd,
    const char *detail)
{
	char	 want[256];
	cJSON	*root;
	int	 err = strcmp(cmd, "error") == 0;

	snprintf(want, sizeof(want), "{\"command\":\"%s%s\",\"status\":"
	    "\"fail\",\"detail\":\"%s\"}", cmd, err ? "" : "_return", detail);
	root = run(account, body, err ? CMD_REJECT : CMD_FAIL);
	assert_int_equal(actions(root), 1);
	want_send(root, 0, NULL, NULL, want);
	cJSON_Delete(root);
}

#define ADD(src, dst, st)	"{\"command\":\"add_friend\",\"src\":" src \
				",\"dst\":" dst ",\"status\":" st "}"
#define OK_RETURN(c)		"{\"command\":\"" c "_return\"," \
				"\"status\":\"success\"}"
#define CONFIRMED(a, b)		"{\"command\":\"add_friend_confirm_return\"," \
				"\"status\":\"success\",\"src\":\"" a "\"," \
				"\"dst\":\"" b "\"}"

static void
test_add_friend(void **state)
{
	cJSON	*root;

	(void)state;
	root = run(10000, ADD("\"10000\"", "10001", "\"0\""), CMD_OK);
	assert_int_equal(actions(root), 2);
	want_send(root, 0, NULL, NULL, OK_RETURN("add_friend"));
	want_send(root, 1, "10001", "q1", "{\"command\":\"add_friend\","
	    "\"src\":\"10000\",\"dst\":\"10001\",\"status\":\"0\","
	    "\"message\":\"confirm_one_way\",\"username\":\"alice\"}");
	cJSON_Delete(root);
	/* Asking again replaces the status and forwards it again. */
	root = run(10000, ADD("10000", "\"10001\"", "\"1\""), CMD_OK);
	assert_int_equal(actions(root), 2);
	assert_int_equal(stub.nrequests, 1);
	assert_int_equal(stub.requests[0].status, 1);
	assert_int_equal(stub.commits, 2);
	cJSON_Delete(root);
}

/*
 * A deadlock's victim runs again and the client sees one answer; after
 * CMD_TX_TRIES deadlocks in a row it gets "server error".
 */
static void
test_add_friend_deadlock(void **state)
{
	cJSON	*root;

	(void)state;
	stub.deadlocks = 2;
	root = run(10000, ADD("\"10000\"", "10001", "\"0\""), CMD_OK);
	assert_int_equal(actions(root), 2);
	want_send(root, 0, NULL, NULL, OK_RETURN("add_friend"));
	assert_int_equal(stub.commits, 1);
	assert_int_equal(stub.rollbacks, 2);
	cJSON_Delete(root);

	stub.deadlocks = 3;
	root = run(10000, ADD("\"10000\"", "10002", "\"0\""), CMD_ERROR);
	assert_int_equal(actions(root), 1);
	want_send(root, 0, NULL, NULL, "{\"command\":\"add_friend_return\","
	    "\"status\":\"fail\",\"detail\":\"server error\"}");
	assert_int_equal(stub.commits, 1);
	cJSON_Delete(root);
}

static void
test_add_friend_details(void **state)
{
	(void)state;
	want_fail(0, ADD("\"10000\"", "\"10001\"", "\"0\""), "add_friend",
	    "not logged in");
	want_fail(10000, ADD("\"10001\"", "\"10001\"", "\"7\""), "add_friend",
	    "src is not you");
	want_fail(10000, ADD("\"10000\"", "\"bob\"", "\"7\""), "add_friend",
	    "no such user");
	want_fail(10000, ADD("\"10000\"", "\"20000\"", "\"7\""), "add_friend",
	    "no such user");
	want_fail(10000, ADD("\"10000\"", "\"10000\"", "\"7\""), "add_friend",
	    "cannot add yourself");
	want_fail(10000, ADD("\"10000\"", "\"10001\"", "\"7\""), "add_friend",
	    "bad status");
	want_fail(10000, ADD("\"10000\"", "\"10001\"", "0"), "error",
	    "bad request");
	stub_put(stub.friends, &stub.nfriends, 10000, 10001, 0);
	want_fail(10000, ADD("\"10000\"", "\"10001\"", "\"7\""), "add_friend",
	    "already friends");
	/* One pending (to 10001) is the limit: a second is refused... */
	stub.nfriends = 0;
	cf.pending_requests_max = 1;
	stub_put(stub.requests, &stub.nrequests, 10000, 10001, 0);
	want_fail(10000, ADD("\"10000\"", "\"10002\"", "\"0\""), "add_friend",
	    "too many pending requests");
	/* ...but asking 10001 again replaces the pending one. */
	cJSON_Delete(run(10000, ADD("\"10000\"", "\"10001\"", "\"1\""),
	    CMD_OK));
	assert_int_equal(stub.nrequests, 1);
	assert_true(stub.rollbacks >= 3);
}

/*
 * Past friend_requests_per_minute or _per_day, an ask is "rate limited",
 * repeats to one account included, and nothing is stored or sent; a
 * mutual ask is an answer, not a request, and still works.
 */
static void
test_add_friend_volume(void **state)
{
	(void)state;
	stub.asks_minute = cf.friend_requests_per_minute - 1;
	cJSON_Delete(run(10000, ADD("\"10000\"", "\"10001\"", "\"0\""),
	    CMD_OK));
	assert_int_equal(stub.asks_minute, cf.friend_requests_per_minute);
	want_fail(10000, ADD("\"10000\"", "\"10001\"", "\"0\""),
	    "add_friend", "rate limited");
	want_fail(10000, ADD("\"10000\"", "\"10002\"", "\"0\""),
	    "add_friend", "rate limited");
	assert_int_equal(stub.nrequests, 1);
	stub.asks_minute = 0;
	stub.asks_day = cf.friend_requests_per_day;
	want_fail(10000, ADD("\"10000\"", "\"10002\"", "\"0\""),
	    "add_friend", "rate limited");
	stub_put(stub.requests, &stub.nrequests, 10002, 10000, 1);
	cJSON_Delete(run(10000, ADD("\"10000\"", "\"10002\"", "\"0\""),
	    CMD_OK));
	assert_int_equal(stub.asks_day, cf.friend_requests_per_day);
}

/* B had asked A: A's add_friend makes them friends at once. */
static void
test_add_friend_mutual(void **state)
{
	cJSON	*root;

	(void)state;
	stub_put(stub.requests, &stub.nrequests, 10001, 10000, 1);
	root = run(10000, ADD("\"10000\"", "\"10001\"", "\"0\""), CMD_OK);
	assert_int_equal(actions(root), 3);
	want_send(root, 0, NULL, NULL, OK_RETURN("add_friend"));
	want_send(root, 1, "10001", "c1", CONFIRMED("10001", "10000"));
	want_send(root, 2, "10000", NULL, CONFIRMED("10001", "10000"));
	cJSON_Delete(root);
	assert_int_equal(stub.nrequests, 0);
	assert_int_equal(stub.nfriends, 2);
	assert_int_equal(stub_find(stub.friends, 2, 10001, 10000)->status, 1);
	assert_int_equal(stub_find(stub.friends, 2, 10000, 10001)->status, 0);
}

#define CONFIRM(src, dst, rest)	"{\"command\":\"add_friend_confirm\"," \
				"\"src\":" src ",\"dst\":" dst rest "}"

static void
test_add_friend_confirm(void **state)
{
	cJSON	*root;

	(void)state;
	stub_put(stub.requests, &stub.nrequests, 10000, 10001, 1);
	root = run(10001, CONFIRM("\"10000\"", "\"10001\"", ",\"status\":\"0\","
	    "\"message\":\"confirm_two_way\""), CMD_OK);
	/* B's own connection gets its one copy through the account send. */
	assert_int_equal(actions(root), 2);
	want_send(root, 0, "10000", "c1", CONFIRMED("10000", "10001"));
	want_send(root, 1, "10001", NULL, CONFIRMED("10000", "10001"));
	cJSON_Delete(root);
	assert_int_equal(stub.nrequests, 0);
	assert_int_equal(stub_find(stub.friends, 2, 10000, 10001)->status, 1);
	assert_int_equal(stub_find(stub.friends, 2, 10001, 10000)->status, 0);
}

static void
test_add_friend_confirm_details(void **state)
{
	(void)state;
	want_fail(0, CONFIRM("\"10000\"", "\"10001\"", ",\"status\":\"0\""),
	    "add_friend_confirm", "not logged in");
	/* The self field here is dst: src naming this account is no help. */
	want_fail(10000, CONFIRM("\"10000\"", "\"10001\"", ",\"status\":\"0\""),
	    "add_friend_confirm", "src is not you");
	want_fail(10001, CONFIRM("\"10001\"", "10000", ",\"status\":\"0\""),
	    "add_friend_confirm", "src is not you");
	want_fail(10001, CONFIRM("\"10000\"", "10001", ",\"status\":\"0\""),
	    "add_friend_confirm", "no pending request");
	want_fail(10001, CONFIRM("\"10001\"", "10001", ",\"status\":\"0\""),
	    "add_friend_confirm", "no pending request");
	want_fail(10001, CONFIRM("\"x\"", "10001", ",\"status\":\"0\""),
	    "add_friend_confirm", "no pending request");
	want_fail(10001, CONFIRM("\"10000\"", "10001", ",\"status\":0"),
	    "error", "bad request");
	stub_put(stub.requests, &stub.nrequests, 10000, 10001, 1);
	want_fail(10001, CONFIRM("\"10000\"", "10001", ",\"status\":\"2\""),
	    "add_friend_confirm", "bad status");
	want_fail(10001, CONFIRM("\"10000\"", "10001", ""),
	    "add_friend_confirm", "bad status");
	stub_put(stub.friends, &stub.nfriends, 10001, 10000, 0);
	want_fail(10001, CONFIRM("\"10000\"", "10001", ",\"status\":\"2\""),
	    "add_friend_confirm", "already friends");
	assert_int_equal(stub.nrequests, 1);
}

static void
test_add_friend_reject(void **state)
{
	cJSON	*root;

	(void)state;
	stub_put(stub.requests, &stub.nrequests, 10000, 10001, 1);
	root = run(10001, CONFIRM("\"10000\"", "10001",
	    ",\"message\":\"reject\""), CMD_OK);
	assert_int_equal(actions(root), 2);
	want_send(root, 0, "10000", "c1", "{\"command\":"
	    "\"add_friend_confirm_return\",\"status\":\"fail\",\"detail\":"
	    "\"rejected\",\"src\":\"10000\",\"dst\":\"10001\"}");
	want_send(root, 1, "10001", NULL, CONFIRMED("10000", "10001"));
	cJSON_Delete(root);
	assert_int_equal(stub.nrequests, 0);
	assert_int_equal(stub.nfriends, 0);
}

static void
test_list_friend(void **state)
{
	cJSON	*root;

	(void)state;
	want_fail(0, "{\"command\":\"list_friend\",\"id\":\"10000\"}",
	    "list_friend", "not logged in");
	want_fail(10000, "{\"command\":\"list_friend\",\"id\":\"10001\"}",
	    "list_friend", "src is not you");
	stub_put(stub.friends, &stub.nfriends, 10000, 10001, 1);
	stub_put(stub.friends, &stub.nfriends, 10000, 10002, 0);
	root = run(10000, "{\"command\":\"list_friend\",\"id\":10000}",
	    CMD_OK);
	assert_int_equal(actions(root), 1);
	want_send(root, 0, NULL, NULL, "{\"command\":\"list_friend_return\","
	    "\"id\":\"10000\",\"status\":\"success\",\"friends\":["
	    "{\"id\":\"10001\",\"username\":\"bob\",\"status\":\"1\","
	    "\"online\":true},{\"id\":\"10002\",\"username\":\"carol\","
	    "\"status\":\"0\",\"online\":false}]}");
	cJSON_Delete(root);
}

#define SENDMSG(src, dst, m)	"{\"command\":\"send_message\",\"src\":" src \
				",\"dst\":" dst ",\"message\":" m "}"

static void
test_send_message(void **state)
{
	cJSON	*root;

	(void)state;
	want_fail(0, SENDMSG("\"10000\"", "\"10001\"", "\"hi\""),
	    "send_message", "not logged in");
	want_fail(10000, SENDMSG("\"10001\"", "\"10001\"", "\"hi\""),
	    "send_message", "src is not you");
	want_fail(10000, SENDMSG("\"10000\"", "\"10001\"", "\"\""),
	    "send_message", "not friends");
	want_fail(10000, SENDMSG("\"10000\"", "\"10001\"", "7"),
	    "error", "bad request");
	stub_put(stub.friends, &stub.nfriends, 10000, 10001, 0);
	want_fail(10000, SENDMSG("\"10000\"", "\"10001\"", "\"\""),
	    "send_message", "empty message");
	root = run(10000, SENDMSG("\"10000\"", "10001",
	    "\"\xe4\xbd\xa0\xe5\xa5\xbd\""), CMD_OK);
	assert_int_equal(actions(root), 3);
	/* The success names the stored message (an extension). */
	want_send(root, 0, NULL, NULL, "{\"command\":\"send_message_return\","
	    "\"status\":\"success\",\"msg_id\":\"1\","
	    "\"time\":\"2026-11-26T22:01:31Z\"}");
	/* Raw UTF-8, not \u escapes. */
	want_send(root, 1, "10001", "m1.10000", "{\"command\":\"send_message\","
	    "\"src\":\"10000\",\"dst\":\"10001\",\"message\":"
	    "\"\xe4\xbd\xa0\xe5\xa5\xbd\",\"msg_id\":\"1\","
	    "\"time\":\"2026-11-26T22:01:31Z\"}");
	/* The carbon, to the sender's other connections only. */
	want_send(root, 2, "10000", NULL, "{\"command\":\"sent\","
	    "\"src\":\"10000\",\"dst\":\"10001\",\"message\":"
	    "\"\xe4\xbd\xa0\xe5\xa5\xbd\",\"msg_id\":\"1\","
	    "\"time\":\"2026-11-26T22:01:31Z\"}");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(root, "actions"), 2), "others")));
	cJSON_Delete(root);
	stub.down = 1;
	root = run(10000, SENDMSG("\"10000\"", "\"10001\"", "\"hi\""),
	    CMD_ERROR);
	assert_int_equal(actions(root), 1);
	want_send(root, 0, NULL, NULL, "{\"command\":\"send_message_return\","
	    "\"status\":\"fail\",\"detail\":\"server error\"}");
	cJSON_Delete(root);
}

/*
 * Sends a message of head (escaped as JSON already), padded with 'a' in
 * front so that the longer of the packets that carry it, a history_return
 * holding it alone (with a 20-digit msg_id, both flags false and
 * "oldest"), is PACKET_MAX + over bytes; checks the answer.  The packet
 * 10001 is sent live is shorter, so this is the limit.
 */
static void
send_sized(const char *head, size_t head_bytes, int over)
{
	const char	*delivered = "{\"command\":\"history_return\","
			    "\"status\":\"success\",\"with\":\"10001\","
			    "\"messages\":[{\"msg_id\":\"18446744073709551615\","
			    "\"src\":\"10000\",\"dst\":\"10001\",\"message\":"
			    "\"\",\"time\":\"2026-11-26T22:01:31Z\","
			    "\"delivered\":false,\"read\":false}],"
			    "\"oldest\":true}";
	char		 body[2 * PACKET_MAX], pad[PACKET_MAX], track[32];
	size_t		 n;
	cJSON		*root;

	n = PACKET_MAX + (size_t)over - strlen(delivered) - head_bytes;
	memset(pad, 'a', n);
	pad[n] = '\0';
	snprintf(body, sizeof(body), SENDMSG("\"10000\"", "\"10001\"",
	    "\"%s%s\""), pad, head);
	if (over > 0) {
		want_fail(10000, body, "send_message", "message too long");
		return;
	}
	assert_true(strlen(body) <= PACKET_MAX);
	root = run(10000, body, CMD_OK);
	assert_int_equal(actions(root), 3);
	snprintf(track, sizeof(track), "m%" PRIu64 ".10000", stub.next_message);
	want_send(root, 1, "10001", track, NULL);
	cJSON_Delete(root);
}

/* Runs body in "a batch": its message waits in app.messages. */
static struct reply *
run_queued(uint64_t account, const char *body)
{
	struct session	 s;
	struct reply	*r;

	memset(&s, 0, sizeof(s));
	s.conn_id = 1;
	s.account = account;
	assert_non_null(r = reply_new());
	assert_int_equal(cmd_dispatch(&app, &s, body, strlen(body), r), CMD_OK);
	/* Nothing is answered before the batch stores it. */
	assert_int_equal(reply_count(r), 0);
	return r;
}

static cJSON *
rendered(struct reply *r)
{
	char	*out;
	cJSON	*root;

	assert_non_null(out = reply_render(r));
	assert_non_null(root = cJSON_Parse(out));
	free(out);
	reply_free(r);
	return root;
}

/*
 * In a batch, messages wait for the batch's end and are answered in their
 * own replies once stored: a friend's with success and the live send, a
 * stranger's with not friends, all with the database down as server error.
 */
static void
test_send_message_queued(void **state)
{
	struct reply	*r1, *r2;
	cJSON		*root;

	(void)state;
	assert_non_null(app.messages = msgqueue_new());
	stub_put(stub.friends, &stub.nfriends, 10000, 10001, 0);
	r1 = run_queued(10000, SENDMSG("\"10000\"", "\"10001\"", "\"one\""));
	r2 = run_queued(10000, SENDMSG("\"10000\"", "\"10002\"", "\"two\""));
	assert_int_equal(msgqueue_flush(app.messages, NULL), 0);
	root = rendered(r1);
	assert_int_equal(actions(root), 3);
	want_send(root, 0, NULL, NULL, NULL);
	want_send(root, 1, "10001", "m1.10000", NULL);
	want_send(root, 2, "10000", NULL, NULL);
	cJSON_Delete(root);
	root = rendered(r2);
	assert_int_equal(actions(root), 1);
	want_send(root, 0, NULL, NULL, "{\"command\":\"send_message_return\","
	    "\"status\":\"fail\",\"detail\":\"not friends\"}");
	cJSON_Delete(root);

	r1 = run_queued(10000, SENDMSG("\"10000\"", "\"10001\"", "\"three\""));
	stub.down = 1;
	assert_int_equal(msgqueue_flush(app.messages, NULL), -1);
	root = rendered(r1);
	assert_int_equal(actions(root), 1);
	want_send(root, 0, NULL, NULL, "{\"command\":\"send_message_return\","
	    "\"status\":\"fail\",\"detail\":\"server error\"}");
	cJSON_Delete(root);
	msgqueue_free(app.messages);
	app.messages = NULL;
}

static void
test_send_message_size(void **state)
{
	(void)state;
	stub_put(stub.friends, &stub.nfriends, 10000, 10001, 0);
	send_sized("", 0, 0);
	send_sized("", 0, 1);
	/* A three-byte character counts three. */
	send_sized("\xe4\xbd\xa0", 3, 0);
	send_sized("\xe4\xbd\xa0", 3, 1);
	/* A four-byte one, four; "\u00e9" arrives as two raw bytes. */
	send_sized("\xf0\x9f\x98\x80", 4, 0);
	send_sized("\\u00e9", 2, 1);
	/* A quote is sent escaped: two bytes; a newline too. */
	send_sized("\\\"", 2, 0);
	send_sized("\\n", 2, 1);
}

static void
test_ack_silent(void **state)
{
	cJSON	*root;

	(void)state;
	root = run(0, "{\"command\":\"ack\",\"msg_ids\":[\"1\"]}", CMD_OK);
	assert_int_equal(actions(root), 0);
	cJSON_Delete(root);
	root = run(10001, "{\"command\":\"ack\",\"msg_ids\":\"1\"}", CMD_OK);
	assert_int_equal(actions(root), 0);
	cJSON_Delete(root);
	root = run(10001, "{\"command\":\"ack\"}", CMD_OK);
	assert_int_equal(actions(root), 0);
	cJSON_Delete(root);
	assert_int_equal(stub.nacked, 0);
	/* The sender is told once, of the three ids, in their order. */
	root = run(10001, "{\"command\":\"ack\",\"msg_ids\":[\"42\",43,\"x\","
	    "null,0,\"044\",[1],1.5,\"7\",\"42\"]}", CMD_OK);
	assert_int_equal(actions(root), 1);
	want_send(root, 0, "10000", NULL, "{\"command\":\"receipt\","
	    "\"dst\":\"10001\",\"msg_ids\":[\"42\",\"43\",\"7\"],"
	    "\"status\":\"delivered\"}");
	cJSON_Delete(root);
	assert_int_equal(stub.nacked, 3);
	assert_int_equal(stub.acked[0], 42);
	assert_int_equal(stub.acked[1], 43);
	assert_int_equal(stub.acked[2], 7);
	/* Not even a server error is answered. */
	stub.down = 1;
	root = run(10001, "{\"command\":\"ack\",\"msg_ids\":[\"1\"]}",
	    CMD_ERROR);
	assert_int_equal(actions(root), 0);
	cJSON_Delete(root);
	/* An unknown command is still an error, as is bad JSON. */
	want_fail(0, "{\"command\":\"ack\",", "error", "bad json");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_error_packets, setup),
		cmocka_unit_test_setup(test_login_gate, setup),
		cmocka_unit_test_setup(test_login, setup),
		cmocka_unit_test_setup(test_login_throttle, setup),
		cmocka_unit_test_setup(test_login_spraying, setup),
		cmocka_unit_test_setup(test_login_backoff, setup),
		cmocka_unit_test_setup(test_logon, setup),
		cmocka_unit_test_setup(test_server_error, setup),
		cmocka_unit_test_setup(test_add_friend, setup),
		cmocka_unit_test_setup(test_add_friend_deadlock, setup),
		cmocka_unit_test_setup(test_add_friend_details, setup),
		cmocka_unit_test_setup(test_add_friend_volume, setup),
		cmocka_unit_test_setup(test_add_friend_mutual, setup),
		cmocka_unit_test_setup(test_add_friend_confirm, setup),
		cmocka_unit_test_setup(test_add_friend_confirm_details, setup),
		cmocka_unit_test_setup(test_add_friend_reject, setup),
		cmocka_unit_test_setup(test_list_friend, setup),
		cmocka_unit_test_setup(test_send_message, setup),
		cmocka_unit_test_setup(test_send_message_queued, setup),
		cmocka_unit_test_setup(test_send_message_size, setup),
		cmocka_unit_test_setup(test_ack_silent, setup),
	};

	log_init("test-cmd", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
