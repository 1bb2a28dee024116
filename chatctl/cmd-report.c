/*
 * The commands that only look: online, friends, stats.  Tables are one
 * header line, then one tab-separated line per row, for people and for
 * cut(1) and awk(1) alike.
 *
 * Who is online comes from two places.  The presence table covers every
 * node, but a row is made only by a login's first fetch and outlives a
 * daemon that crashed until it starts again; this node's daemon knows its
 * own connections exactly.  So this node's rows come from the daemon when
 * it answers, the other nodes' from the table.
 */
#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatctl.h"

struct online_list {
	struct presence_row	*rows;		/* owned */
	size_t			 n;
	size_t			 cap;
	const char		*skip_node;	/* rows of it are not taken */
	const char		*node;		/* for rows from the daemon */
};

static int
online_add(struct online_list *l, const struct presence_row *r)
{
	struct presence_row	*p;
	size_t			 ncap;

	if (l->skip_node != NULL && strcmp(r->node, l->skip_node) == 0)
		return 0;
	if (l->n == l->cap) {
		ncap = l->cap == 0 ? 64 : l->cap * 2;
		if ((p = reallocarray(l->rows, ncap, sizeof(*p))) == NULL)
			return -1;
		l->rows = p;
		l->cap = ncap;
	}
	l->rows[l->n++] = *r;
	return 0;
}

static int
online_table_cb(void *arg, const struct presence_row *r)
{
	return online_add(arg, r);
}

/* One "ACCOUNT N" line of the daemon's answer. */
static int
online_daemon_cb(void *arg, const char *line)
{
	struct online_list	*l = arg;
	struct presence_row	 r;
	char			 account[ID_STR_MAX], *end;
	unsigned long long	 n;
	const char		*sp;

	memset(&r, 0, sizeof(r));
	if ((sp = strchr(line, ' ')) == NULL ||
	    (size_t)(sp - line) >= sizeof(account))
		return -1;
	memcpy(account, line, (size_t)(sp - line));
	account[sp - line] = '\0';
	n = strtoull(sp + 1, &end, 10);
	if (packet_id_parse(account, &r.account) == -1 || *end != '\0')
		return -1;
	r.conns = n;
	snprintf(r.node, sizeof(r.node), "%s", l->node);
	return online_add(l, &r);
}

static int
online_cmp(const void *a, const void *b)
{
	const struct presence_row	*x = a, *y = b;
	int				 c;

	if ((c = strcmp(x->node, y->node)) != 0)
		return c;
	return x->account < y->account ? -1 : x->account > y->account;
}

/* This node from its daemon; 0 when it answered, -1 to use the table. */
static int
online_local(struct ctl *ctl, struct online_list *l)
{
	const char	*errstr;
	char		 ok[64], path[SOCKET_PATH_MAX];

	switch (daemon_request(ctl->cf, "online", online_daemon_cb, l, ok,
	    sizeof(ok), &errstr)) {
	case DAEMON_OK:
		return 0;
	case DAEMON_DOWN:
		(void)config_admin_socket(ctl->cf, path, sizeof(path));
		warnx("no push daemon listens on %s (%s): node %s from the "
		    "presence table, which a daemon that died leaves behind",
		    path, errstr, ctl->cf->node_name);
		break;
	case DAEMON_ERROR:
		(void)config_admin_socket(ctl->cf, path, sizeof(path));
		warnx("%s: %s: node %s from the presence table", path, errstr,
		    ctl->cf->node_name);
		break;
	}
	/* What the daemon said before failing is dropped with the rest. */
	l->n = 0;
	return -1;
}

int
cmd_online(struct ctl *ctl, int argc, char **argv)
{
	struct online_list	 l;
	struct account		 a;
	size_t			 i;
	int			 rc = CTL_FAIL;

	(void)argc;
	(void)argv;
	memset(&l, 0, sizeof(l));
	l.node = ctl->cf->node_name;
	if (online_local(ctl, &l) == 0)
		l.skip_node = ctl->cf->node_name;
	if (db_admin_presence(ctl->db, 0, online_table_cb, &l) == -1) {
		warnx("database error (see above)");
		goto fail;
	}
	if (l.n > 0)
		qsort(l.rows, l.n, sizeof(*l.rows), online_cmp);
	printf("NODE\tACCOUNT\tCONNECTIONS\tUSERNAME\n");
	for (i = 0; i < l.n; i++) {
		/* Gone since (deluser): the row is still true of its node. */
		if (db_account_get(ctl->db, l.rows[i].account, &a) != 1)
			snprintf(a.username, sizeof(a.username), "-");
		printf("%s\t%" PRIu64 "\t%" PRIu64 "\t%s\n", l.rows[i].node,
		    l.rows[i].account, l.rows[i].conns, a.username);
	}
	rc = CTL_OK;
fail:
	free(l.rows);
	return rc;
}

int
cmd_friends(struct ctl *ctl, int argc, char **argv)
{
	struct account	 a;
	struct friend	*list;
	size_t		 n, i;

	(void)argc;
	if (ctl_account(ctl, argv[0], &a) == -1)
		return CTL_FAIL;
	if (db_friends_list(ctl->db, a.id, &list, &n) == -1) {
		warnx("database error (see above)");
		return CTL_FAIL;
	}
	printf("FRIEND\tSTATUS\tONLINE\tUSERNAME\n");
	for (i = 0; i < n; i++)
		printf("%" PRIu64 "\t%s\t%s\t%s\n", list[i].id,
		    list[i].status == 1 ? "special" : "normal",
		    list[i].online ? "yes" : "no", list[i].username);
	free(list);
	return CTL_OK;
}

int
cmd_stats(struct ctl *ctl, int argc, char **argv)
{
	struct stats	 s;
	const char	*errstr = "the daemon's answer makes no sense";
	char		 ok[64], path[SOCKET_PATH_MAX];
	unsigned	 conns, accounts;

	(void)argc;
	(void)argv;
	if (db_admin_stats(ctl->db, &s) == -1) {
		warnx("database error (see above)");
		return CTL_FAIL;
	}
	printf("accounts: %" PRIu64 "\n", s.accounts);
	printf("accounts_disabled: %" PRIu64 "\n", s.disabled);
	printf("friendships: %" PRIu64 "\n", s.friendships);
	printf("friend_requests: %" PRIu64 "\n", s.requests);
	printf("messages_stored: %" PRIu64 "\n", s.messages);
	printf("messages_waiting: %" PRIu64 "\n", s.waiting);
	printf("online_accounts: %" PRIu64 "\n", s.online_accounts);
	printf("online_connections: %" PRIu64 "\n", s.online_conns);
	/* The daemon counts connections not logged in too. */
	if (daemon_request(ctl->cf, "stats", NULL, NULL, ok, sizeof(ok),
	    &errstr) == DAEMON_OK && sscanf(ok, "connections %u accounts %u",
	    &conns, &accounts) == 2) {
		printf("node_connections: %u\n", conns);
		printf("node_accounts: %u\n", accounts);
	} else {
		(void)config_admin_socket(ctl->cf, path, sizeof(path));
		warnx("%s: %s: node_ lines left out", path, errstr);
	}
	return CTL_OK;
}
