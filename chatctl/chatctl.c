/*
 * chatctl: the administrator's tool (chatctl.8).
 *
 *	chatctl [-f CONFIG] COMMAND [ARGUMENT ...]
 *
 * One command per run, looked up in ctl_table (tmux's command table).  It
 * reads the same chat.conf as the two programs, and so finds the same
 * database, the same argon2id cost and the push daemon's admin socket.
 * Every command checks what it was given before it changes anything.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mysql.h>
#include <sodium.h>

#include "chatctl.h"
#include "log.h"

#define CTL_DEFAULT_CONF	"/etc/chat/chat.conf"

static const struct ctl_cmd ctl_table[] = {
	{ "adduser", "NAME", 1, 1, cmd_adduser },
	{ "passwd", "ID", 1, 1, cmd_passwd },
	{ "disable", "ID", 1, 1, cmd_disable },
	{ "enable", "ID", 1, 1, cmd_enable },
	{ "deluser", "ID", 1, 1, cmd_deluser },
	{ "kick", "ID", 1, 1, cmd_kick },
	{ "online", "", 0, 0, cmd_online },
	{ "friends", "ID", 1, 1, cmd_friends },
	{ "purge", "--delivered-before DATE", 1, 2, cmd_purge },
	{ "stats", "", 0, 0, cmd_stats },
	{ NULL, NULL, 0, 0, NULL }
};

static void __attribute__((noreturn))
ctl_usage(void)
{
	const struct ctl_cmd	*c;

	fprintf(stderr, "usage: chatctl [-f config] command [argument ...]\n");
	for (c = ctl_table; c->name != NULL; c++)
		fprintf(stderr, "       chatctl [-f config] %s%s%s\n", c->name,
		    c->args[0] != '\0' ? " " : "", c->args);
	exit(CTL_USAGE);
}

void
ctl_usage_of(const struct ctl_cmd *c)
{
	fprintf(stderr, "usage: chatctl [-f config] %s%s%s\n", c->name,
	    c->args[0] != '\0' ? " " : "", c->args);
}

static const struct ctl_cmd *
ctl_find(const char *name)
{
	const struct ctl_cmd	*c;

	for (c = ctl_table; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* An account id as clients write it; a bad one is reported here. */
int
ctl_parse_id(const char *s, uint64_t *id)
{
	if (packet_id_parse(s, id) == 0)
		return 0;
	warnx("bad id: %s (an account id is a positive decimal number)", s);
	return -1;
}

/*
 * The account named by the argument s: 0 and *a, or -1 after saying why
 * (a bad id, no such account, the database failed).
 */
int
ctl_account(struct ctl *ctl, const char *s, struct account *a)
{
	uint64_t	id;
	int		found;

	if (ctl_parse_id(s, &id) == -1)
		return -1;
	memset(a, 0, sizeof(*a));
	if ((found = db_account_get(ctl->db, id, a)) == -1) {
		warnx("database error (see above)");
		return -1;
	}
	/* The hash is not needed by any command that looks an account up. */
	sodium_memzero(a->hash, sizeof(a->hash));
	if (found == 0) {
		warnx("no account %s", s);
		return -1;
	}
	return 0;
}

static void
ctl_load(struct config *cf, const char *path)
{
	const char	*errstr;
	int		 line;

	config_defaults(cf);
	if (config_load(cf, path, &errstr, &line) == 0)
		return;
	if (line == 0)
		errx(CTL_FAIL, "%s: %s", path, errstr);
	errx(CTL_FAIL, "%s:%d: %s", path, line, errstr);
}

int
main(int argc, char *argv[])
{
	const struct ctl_cmd	*c;
	struct config		 cf;
	struct ctl		 ctl;
	int			 ch, nargs, rc;

	memset(&ctl, 0, sizeof(ctl));
	ctl.conf_path = CTL_DEFAULT_CONF;
	/* "+": the command's own options are not ours. */
	while ((ch = getopt(argc, argv, "+f:")) != -1) {
		switch (ch) {
		case 'f':
			ctl.conf_path = optarg;
			break;
		default:
			ctl_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		ctl_usage();
	if ((c = ctl_find(argv[0])) == NULL) {
		warnx("unknown command: %s", argv[0]);
		ctl_usage();
	}
	nargs = argc - 1;
	if (nargs < c->min_args || nargs > c->max_args) {
		ctl_usage_of(c);
		return CTL_USAGE;
	}

	log_init("chatctl", 0);
	ctl_load(&cf, ctl.conf_path);
	ctl.cf = &cf;
	if (sodium_init() < 0)
		errx(CTL_FAIL, "libsodium cannot start");
	if ((ctl.db = db_open(&cf)) == NULL)
		errx(CTL_FAIL, "out of memory");
	if (db_ping(ctl.db) == -1) {
		warnx("cannot reach the database named in %s (see above)",
		    ctl.conf_path);
		rc = CTL_FAIL;
	} else
		rc = c->exec(&ctl, nargs, argv + 1);
	db_close(ctl.db);
	mysql_library_end();
	return rc;
}
