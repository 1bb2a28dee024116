/*
 * chatctl: the administrator's tool (chatctl.8).  It reads the service's
 * chat.conf, works on the database through the workers' own db code, and
 * reaches the running push daemon through its admin socket.  All types and
 * prototypes, grouped by the file that defines them.
 */
#ifndef CHATCTL_H
#define CHATCTL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "fcgi_app.h"

/* Exit statuses: 1 for a refused or failed command, 2 for bad usage. */
#define CTL_OK		0
#define CTL_FAIL	1
#define CTL_USAGE	2

/* What every command gets; owned by main(). */
struct ctl {
	const struct config	*cf;
	const char		*conf_path;
	struct db		*db;		/* opened before the command */
};

/* chatctl.c: the command table */
struct ctl_cmd {
	const char	*name;
	const char	*args;		/* for the usage line */
	int		 min_args;
	int		 max_args;
	int		(*exec)(struct ctl *, int, char **);
};

void	ctl_usage_of(const struct ctl_cmd *);
int	ctl_parse_id(const char *, uint64_t *);
int	ctl_account(struct ctl *, const char *, struct account *);

/* cmd-account.c */
int	cmd_adduser(struct ctl *, int, char **);
int	cmd_passwd(struct ctl *, int, char **);
int	cmd_disable(struct ctl *, int, char **);
int	cmd_enable(struct ctl *, int, char **);
int	cmd_deluser(struct ctl *, int, char **);
int	cmd_kick(struct ctl *, int, char **);

/* cmd-report.c */
int	cmd_online(struct ctl *, int, char **);
int	cmd_friends(struct ctl *, int, char **);
int	cmd_stats(struct ctl *, int, char **);

/* cmd-purge.c */
int	cmd_purge(struct ctl *, int, char **);

/* date.c */
int	date_parse(const char *, int [6]);

/* password.c: a new password from a terminal or one line of stdin */
int	password_read(char *, size_t, const char **errstr);

/* daemon.c: the push daemon's admin socket (push_daemon/admin.c) */
enum daemon_status {
	DAEMON_OK,			/* answered "ok ..." */
	DAEMON_DOWN,			/* no daemon listens: nothing is open */
	DAEMON_ERROR,			/* any other failure; *errstr says */
};
enum daemon_status daemon_request(const struct config *, const char *line,
	    int (*)(void *, const char *), void *, char *ok, size_t,
	    const char **errstr);
enum daemon_status daemon_account(const struct config *, const char *verb,
	    uint64_t, unsigned *, const char **errstr);

/* db-admin.c: the statements only chatctl runs */
struct deleted {
	uint64_t	friends;
	uint64_t	requests;
	uint64_t	messages;
};

struct stats {
	uint64_t	accounts;
	uint64_t	disabled;
	uint64_t	friendships;
	uint64_t	requests;
	uint64_t	messages;
	uint64_t	waiting;
	uint64_t	online_accounts;
	uint64_t	online_conns;
};

/* One row of the presence table, grouped: account's connections at node. */
struct presence_row {
	char		node[64];
	uint64_t	account;
	uint64_t	conns;
};

int	db_admin_password(struct db *, uint64_t, const char *hash);
int	db_admin_disabled(struct db *, uint64_t, int);
int	db_admin_delete(struct db *, uint64_t, struct deleted *);
int	db_admin_presence(struct db *, uint64_t account,
	    int (*)(void *, const struct presence_row *), void *);
int	db_admin_stats(struct db *, struct stats *);

#endif
