/*
 * The commands that change one account: adduser, passwd, disable, enable,
 * deluser, kick.  Those that must end the account's sessions (disable,
 * deluser, kick) change the database first, so that no new login gets in,
 * then ask the push daemon of this node to close what is open.
 */
#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "chatctl.h"

/* Connections of an account on other nodes, which this node cannot close. */
struct elsewhere {
	const char	*node;		/* ours */
	const char	*advice;	/* what the operator may do */
};

static int
cmd_elsewhere_cb(void *arg, const struct presence_row *r)
{
	struct elsewhere	*e = arg;

	if (strcmp(r->node, e->node) != 0)
		warnx("account %" PRIu64 " has %" PRIu64 " connection%s on "
		    "node %s: %s", r->account, r->conns, r->conns == 1 ? "" :
		    "s", r->node, e->advice);
	return 0;
}

/* Warns of the account's connections that other nodes' daemons hold. */
static void
cmd_elsewhere(struct ctl *ctl, const struct account *a, const char *advice)
{
	struct elsewhere	e = { ctl->cf->node_name, advice };

	if (db_admin_presence(ctl->db, a->id, cmd_elsewhere_cb, &e) == -1)
		warnx("database error: other nodes not checked");
}

/*
 * Has this node's daemon verb ("kick" or "disable") account a, closing its
 * connections, and prints what was done (what names the change already
 * made).  A daemon that does not run holds nothing: only a warning.
 */
static int
cmd_close_sessions(struct ctl *ctl, const struct account *a,
    const char *verb, const char *what)
{
	const char		*errstr;
	char			 path[SOCKET_PATH_MAX];
	unsigned		 n = 0;

	switch (daemon_account(ctl->cf, verb, a->id, &n, &errstr)) {
	case DAEMON_OK:
		break;
	case DAEMON_DOWN:
		(void)config_admin_socket(ctl->cf, path, sizeof(path));
		warnx("no push daemon listens on %s (%s): no connection to "
		    "close on this node", path, errstr);
		break;
	case DAEMON_ERROR:
		(void)config_admin_socket(ctl->cf, path, sizeof(path));
		printf("account %" PRIu64 " (%s) %s\n", a->id, a->username,
		    what);
		warnx("%s: %s: its connections stay open", path, errstr);
		return CTL_FAIL;
	}
	printf("account %" PRIu64 " (%s) %s; %u connection%s closed\n",
	    a->id, a->username, what, n, n == 1 ? "" : "s");
	return CTL_OK;
}

int
cmd_adduser(struct ctl *ctl, int argc, char **argv)
{
	const char	*name = argv[0], *errstr;
	char		 password[PASSWORD_MAX + 2], hash[AUTH_HASH_MAX];
	uint64_t	 id;
	int		 rc = CTL_FAIL;

	(void)argc;
	if (!utf8_valid(name, strlen(name)) ||
	    packet_check_username(name) != NULL) {
		warnx("bad username: 1 to 32 characters of UTF-8, "
		    "no control characters");
		return CTL_FAIL;
	}
	if (password_read(password, sizeof(password), &errstr) == -1) {
		warnx("%s", errstr);
		goto fail;
	}
	if (auth_hash(ctl->cf, password, hash) == -1 ||
	    db_account_create(ctl->db, name, hash, &id) == -1) {
		warnx("the account was not made (see above)");
		goto fail;
	}
	printf("%" PRIu64 "\n", id);
	rc = CTL_OK;
fail:
	sodium_memzero(password, sizeof(password));
	return rc;
}

int
cmd_passwd(struct ctl *ctl, int argc, char **argv)
{
	struct account	 a;
	const char	*errstr;
	char		 password[PASSWORD_MAX + 2], hash[AUTH_HASH_MAX];
	int		 rc = CTL_FAIL;

	(void)argc;
	if (ctl_account(ctl, argv[0], &a) == -1)
		return CTL_FAIL;
	if (password_read(password, sizeof(password), &errstr) == -1) {
		warnx("%s", errstr);
		goto fail;
	}
	if (auth_hash(ctl->cf, password, hash) == -1 ||
	    db_admin_password(ctl->db, a.id, hash) == -1) {
		warnx("the password was not changed (see above)");
		goto fail;
	}
	/* Its owner, locked out by failed tries, may log in at once. */
	if (db_login_failures_clear(ctl->db, a.id) == -1)
		warnx("failed logins of %" PRIu64 " not cleared", a.id);
	printf("password of account %" PRIu64 " (%s) changed\n", a.id,
	    a.username);
	rc = CTL_OK;
fail:
	sodium_memzero(password, sizeof(password));
	return rc;
}

int
cmd_disable(struct ctl *ctl, int argc, char **argv)
{
	struct account	a;

	(void)argc;
	if (ctl_account(ctl, argv[0], &a) == -1)
		return CTL_FAIL;
	if (db_admin_disabled(ctl->db, a.id, 1) == -1) {
		warnx("database error: account %" PRIu64 " not disabled", a.id);
		return CTL_FAIL;
	}
	cmd_elsewhere(ctl, &a, "run chatctl kick there");
	/* Even when it already was: a session may predate the flag. */
	return cmd_close_sessions(ctl, &a, "disable", a.disabled ?
	    "was already disabled" : "disabled");
}

/* The daemon, told too, lets in at once a login it would still refuse. */
int
cmd_enable(struct ctl *ctl, int argc, char **argv)
{
	struct account	 a;
	const char	*errstr;
	char		 path[SOCKET_PATH_MAX];
	unsigned	 n;

	(void)argc;
	if (ctl_account(ctl, argv[0], &a) == -1)
		return CTL_FAIL;
	if (db_admin_disabled(ctl->db, a.id, 0) == -1) {
		warnx("database error: account %" PRIu64 " not enabled", a.id);
		return CTL_FAIL;
	}
	printf("account %" PRIu64 " (%s) %s\n", a.id, a.username,
	    a.disabled ? "enabled" : "was not disabled");
	if (daemon_account(ctl->cf, "enable", a.id, &n, &errstr) ==
	    DAEMON_ERROR) {
		(void)config_admin_socket(ctl->cf, path, sizeof(path));
		warnx("%s: %s: logins may be refused for up to a minute",
		    path, errstr);
	}
	return CTL_OK;
}

/*
 * One transaction: the row is locked, then the account and every row that
 * names it go.  Its open sessions are closed after the commit; until then
 * they can do nothing, every statement they run finding the account gone.
 */
int
cmd_deluser(struct ctl *ctl, int argc, char **argv)
{
	struct account	a;
	struct deleted	d;
	char		what[160];
	int		found;

	(void)argc;
	if (ctl_account(ctl, argv[0], &a) == -1)
		return CTL_FAIL;
	/* Asked first: the presence rows go with the account. */
	cmd_elsewhere(ctl, &a, "they stay open until they end, able to do "
	    "nothing");
	memset(&d, 0, sizeof(d));
	if (db_begin(ctl->db) == -1)
		goto fail;
	if ((found = db_account_lock(ctl->db, a.id, NULL)) != 1 ||
	    db_admin_delete(ctl->db, a.id, &d) == -1) {
		db_rollback(ctl->db);
		if (found == 0) {
			warnx("account %" PRIu64 " is already gone", a.id);
			return CTL_FAIL;
		}
		goto fail;
	}
	if (db_commit(ctl->db) == -1)
		goto fail;
	snprintf(what, sizeof(what), "deleted with %" PRIu64 " friend%s, %"
	    PRIu64 " friend request%s, %" PRIu64 " message%s", d.friends,
	    d.friends == 1 ? "" : "s", d.requests, d.requests == 1 ? "" : "s",
	    d.messages, d.messages == 1 ? "" : "s");
	/* "disable": a login that read the account before the delete. */
	return cmd_close_sessions(ctl, &a, "disable", what);
fail:
	warnx("database error: nothing was deleted");
	return CTL_FAIL;
}

int
cmd_kick(struct ctl *ctl, int argc, char **argv)
{
	struct account	a;

	(void)argc;
	if (ctl_account(ctl, argv[0], &a) == -1)
		return CTL_FAIL;
	cmd_elsewhere(ctl, &a, "run chatctl kick there");
	return cmd_close_sessions(ctl, &a, "kick", "kicked");
}
