/*
 * The one configuration file both programs read.  Every setting is a row of
 * config_table in config.c (name, type, bounds, default, help); each program
 * uses the settings it needs and ignores the others, so one file describes a
 * whole node.
 */
#ifndef COMMON_CONFIG_H
#define COMMON_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "limits.h"

struct config {
	/* sockets */
	char	fcgi_socket[SOCKET_PATH_MAX];	/* workers: daemon batches */
	char	login_socket[SOCKET_PATH_MAX];	/* workers: daemon logins */
	char	api_socket[SOCKET_PATH_MAX];	/* workers: nginx /api/ */
	char	ws_socket[SOCKET_PATH_MAX];	/* daemon: nginx /ws proxy */
	char	tcp_socket[SOCKET_PATH_MAX];	/* daemon: nginx stream proxy */
	char	socket_group[64];		/* nginx's, for its sockets */
	char	admin_socket[SOCKET_PATH_MAX];	/* daemon: chatctl; "": beside ws */
	char	node_name[64];			/* names this node's rows */

	/* database */
	char	db_socket[SOCKET_PATH_MAX];	/* empty: use db_host */
	char	db_host[256];
	int	db_port;
	char	db_user[64];
	char	db_password[256];
	char	db_name[64];
	char	db_fallback[512];		/* other Galera nodes */
	int	db_sync_wait;			/* when wsrep is on */

	/* nodes */
	char	redis_host[SOCKET_PATH_MAX];	/* empty: a single node */
	int	redis_port;
	char	redis_password[256];
	int	node_heartbeat;			/* seconds */
	int	node_timeout;			/* seconds, then dead */

	/* fcgi_app */
	int	workers;			/* batches of logged-in conns */
	int	login_workers;			/* packets of logged-out conns */
	int	api_workers;			/* nginx /api/ requests */
	int	fcgi_backlog;			/* listen(2) backlog */
	int	pwhash_opslimit;		/* argon2id passes */
	int	pwhash_memlimit_kib;		/* argon2id memory */
	int	login_failures_per_minute;	/* per (id, address) */
	int	login_failures_per_address;	/* per minute, any ids */
	int	login_failures_per_id;		/* per hour, then backoff */
	int	login_backoff_max;		/* seconds */
	int	registrations_per_hour;		/* per client address; 0 off */
	int	pending_requests_max;		/* friend requests per sender */
	int	friend_requests_per_minute;	/* per sender, repeats count */
	int	friend_requests_per_day;
	int	blocked_max;			/* blocks per account */
	int	message_retention_days;		/* 0: keep every message */

	/* push_daemon */
	int	batch_max;			/* events per batch */
	int	login_timeout;			/* seconds before an idle close */
	int	ping_interval;			/* seconds of silence before ping */
	int	packet_rate;			/* packets/s per connection */
	int	packet_burst;			/* bucket size */
	int	account_packet_rate;		/* per account; 0: packet_rate */
	int	account_packet_burst;		/* 0: packet_burst */
	int	connections_per_address;	/* at once; 0 no limit */
	int	output_max_kib;			/* slow-client output cap */
	int	max_connections;		/* daemon-wide */
	int	proxy_protocol;			/* tcp_socket expects PROXY v1 */
};

enum config_type {
	CONFIG_INT,
	CONFIG_STRING,
};

struct config_entry {
	const char		*name;
	enum config_type	 type;
	long			 min;		/* CONFIG_INT: bounds; */
	long			 max;		/* CONFIG_STRING: max length */
	long			 default_int;
	const char		*default_str;
	size_t			 offset;	/* into struct config */
	size_t			 size;		/* CONFIG_STRING: buffer */
	const char		*help;
	const char		*example;	/* for a host; NULL: default */
};

extern const struct config_entry config_table[];

void	config_defaults(struct config *);
/* etc/chat.conf.example's db_password, which no service may run with. */
#define CONFIG_PLACEHOLDER	"change-me"

int	config_load(struct config *, const char *path, const char **errstr,
	    int *line);
int	config_read(struct config *, FILE *, const char **errstr, int *line);
int	config_set(struct config *, const char *name, const char *value,
	    const char **errstr);
void	config_print(const struct config *, FILE *);
void	config_example(FILE *);
int	config_admin_socket(const struct config *, char *, size_t);
int	config_from_args(struct config *, int argc, char **argv,
	    const char *progname, const char **path);

#endif
