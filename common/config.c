/*
 * The configuration table and its reader.  A file holds "name = value"
 * lines; '#' starts a comment.  A bad line stops start-up with file:line:
 * reason (the caller prints it), so a typo never runs with a silent default.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define INT_ENTRY(n, lo, hi, def, h) \
	{ #n, CONFIG_INT, lo, hi, def, NULL, \
	    offsetof(struct config, n), sizeof(int), h, NULL }
#define STR_ENTRY(n, def, h) STR_HOST(n, def, NULL, h)
/* host: the value etc/chat.conf.example sets on a production host. */
#define STR_HOST(n, def, host, h) \
	{ #n, CONFIG_STRING, 0, sizeof(((struct config *)0)->n) - 1, 0, def, \
	    offsetof(struct config, n), sizeof(((struct config *)0)->n), h, \
	    host }

const struct config_entry config_table[] = {
	STR_HOST(fcgi_socket, "var/run/fcgi.sock", "/run/chat/fcgi.sock",
	    "Unix socket the workers take the push daemon's batches on; it "
	    "carries identities, so only the service's user may reach it"),
	STR_HOST(login_socket, "var/run/login.sock", "/run/chat/login.sock",
	    "Unix socket the login workers take the daemon's logins on; "
	    "the service's user's alone, like fcgi_socket"),
	STR_HOST(api_socket, "var/run/api.sock", "/run/chat/api.sock",
	    "Unix socket the workers take nginx's /api/ requests on"),
	STR_HOST(ws_socket, "var/run/ws.sock", "/run/chat/ws.sock",
	    "Unix socket the daemon takes nginx's WebSocket proxy on"),
	STR_HOST(tcp_socket, "var/run/tcp.sock", "/run/chat/tcp.sock",
	    "Unix socket the daemon takes nginx's stream proxy on"),
	STR_HOST(socket_group, "", "chat-web",
	    "group that may connect to ws_socket, tcp_socket and api_socket "
	    "(nginx's, e.g. www-data); empty: the service's own group. "
	    "fcgi_socket is the service's user's alone"),
	STR_ENTRY(admin_socket, "",
	    "Unix socket (mode 0600) the daemon takes chatctl on; empty: "
	    "admin.sock beside ws_socket"),
	STR_ENTRY(node_name, "node1",
	    "name of this node in presence rows"),

	STR_HOST(db_socket, "", "/run/mysqld/mysqld.sock",
	    "MariaDB Unix socket; empty to use db_host and db_port"),
	STR_ENTRY(db_host, "127.0.0.1", "MariaDB host"),
	INT_ENTRY(db_port, 1, 65535, 3306, "MariaDB port"),
	STR_ENTRY(db_user, "chat", "MariaDB user"),
	STR_HOST(db_password, "", CONFIG_PLACEHOLDER,
	    "MariaDB password; put one holding '#' or spaces in quotes "
	    "(\\\" for a quote inside)"),
	STR_ENTRY(db_name, "chat", "MariaDB database"),
	STR_ENTRY(db_fallback, "",
	    "further MariaDB servers of the same Galera cluster, each a Unix "
	    "socket path or host:port, separated by spaces: a worker whose "
	    "server is gone connects to the next; empty: none"),
	INT_ENTRY(db_sync_wait, 0, 15, 3,
	    "wsrep_sync_wait of the workers' sessions when the server is a "
	    "Galera node (3: reads and updates see every commit the cluster "
	    "made before them); ignored by a server without wsrep"),

	STR_ENTRY(redis_host, "",
	    "Redis server carrying live deliveries between nodes (host, or "
	    "a Unix socket path starting with /); empty: this node is alone"),
	INT_ENTRY(redis_port, 1, 65535, 6379, "Redis port"),
	STR_ENTRY(redis_password, "",
	    "Redis requirepass; any local user can reach a Redis port on "
	    "loopback, and what it publishes would reach clients"),
	INT_ENTRY(node_heartbeat, 1, 3600, 5,
	    "seconds between this node's heartbeats in the database"),
	INT_ENTRY(node_timeout, 2, 86400, 30,
	    "seconds without a heartbeat after which a node counts as dead: "
	    "its presence rows go and its accounts show offline"),

	INT_ENTRY(workers, 1, 128, 4,
	    "workers running the batches of logged-in connections; the "
	    "daemon keeps one connection open to each"),
	INT_ENTRY(login_workers, 1, 64, 2,
	    "workers running the packets of logged-out connections (login "
	    "and logon hash passwords), so hashing never delays messages"),
	INT_ENTRY(api_workers, 1, 64, 2,
	    "workers answering nginx's /api/ requests"),
	INT_ENTRY(fcgi_backlog, 16, 65535, 1024,
	    "listen backlog of the worker socket"),
	INT_ENTRY(pwhash_opslimit, 1, 64, 2,
	    "argon2id passes (libsodium interactive: 2)"),
	INT_ENTRY(pwhash_memlimit_kib, 8, 4194304, 65536,
	    "argon2id memory in KiB (libsodium interactive: 65536)"),
	INT_ENTRY(login_failures_per_minute, 1, 1000000, 5,
	    "login attempts per id from one client address per minute, "
	    "before 'too many attempts' for that id from that address"),
	INT_ENTRY(login_failures_per_address, 1, 1000000, 20,
	    "login attempts from one client address per minute, any ids, "
	    "before 'too many attempts' (password spraying)"),
	INT_ENTRY(login_failures_per_id, 1, 1000000, 20,
	    "failed logins per id per hour, from all addresses, past which "
	    "addresses that failed for it wait a doubling delay"),
	INT_ENTRY(login_backoff_max, 1, 86400, 600,
	    "seconds: the longest such delay"),
	INT_ENTRY(registrations_per_hour, 0, 1000000, 10,
	    "registrations per client address per hour; 0 is no limit"),
	INT_ENTRY(pending_requests_max, 1, 1000000, 100,
	    "unanswered friend requests one account may have sent"),
	INT_ENTRY(friend_requests_per_minute, 1, 1000000, 20,
	    "friend requests one account may send per minute, repeats "
	    "included, before 'rate limited'"),
	INT_ENTRY(friend_requests_per_day, 1, 1000000, 200,
	    "friend requests one account may send per day, repeats included"),
	INT_ENTRY(blocked_max, 1, 1000000, 1000,
	    "accounts one account may block, before 'too many blocked'"),
	INT_ENTRY(message_retention_days, 0, 36500, 0,
	    "days a delivered message is kept, then deleted by the workers' "
	    "master (at start and hourly); 0 keeps every message.  A message "
	    "still waiting for its recipient is never deleted"),

	INT_ENTRY(batch_max, 1, 256, 256,
	    "events one batch (one FastCGI request, one commit) may carry"),
	INT_ENTRY(login_timeout, 1, 86400, 30,
	    "seconds a connection may stay without login"),
	INT_ENTRY(ping_interval, 1, 86400, 30,
	    "seconds of WebSocket silence before a ping"),
	INT_ENTRY(packet_rate, 1, 1000000, 50,
	    "packets per second per connection"),
	INT_ENTRY(packet_burst, 1, 1000000, 100,
	    "packets a connection may send in a burst"),
	INT_ENTRY(account_packet_rate, 0, 1000000, 0,
	    "packets per second per account, all its connections on this "
	    "node together; 0 is packet_rate"),
	INT_ENTRY(account_packet_burst, 0, 1000000, 0,
	    "packets an account may send in a burst; 0 is packet_burst"),
	INT_ENTRY(connections_per_address, 0, 1000000, 100,
	    "client connections from one address at once; 0 is no limit"),
	INT_ENTRY(output_max_kib, 16, 1048576, 1024,
	    "output a slow client may have queued before it is closed"),
	INT_ENTRY(max_connections, 1, 1000000, 19000,
	    "client connections the daemon holds at once"),
	INT_ENTRY(proxy_protocol, 0, 1, 1,
	    "1: connections on tcp_socket start with a PROXY v1 line (nginx "
	    "proxy_protocol on) naming the client address"),

	{ NULL, CONFIG_INT, 0, 0, 0, NULL, 0, 0, NULL, NULL }
};

static const struct config_entry *
config_find(const char *name)
{
	const struct config_entry	*e;

	for (e = config_table; e->name != NULL; e++)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

void
config_defaults(struct config *cf)
{
	const struct config_entry	*e;
	char				*field;

	memset(cf, 0, sizeof(*cf));
	for (e = config_table; e->name != NULL; e++) {
		field = (char *)cf + e->offset;
		if (e->type == CONFIG_INT)
			*(int *)field = (int)e->default_int;
		else
			snprintf(field, e->size, "%s", e->default_str);
	}
}

int
config_set(struct config *cf, const char *name, const char *value,
    const char **errstr)
{
	const struct config_entry	*e;
	char				*field, *end;
	long				 n;

	if ((e = config_find(name)) == NULL) {
		*errstr = "unknown setting";
		return -1;
	}
	field = (char *)cf + e->offset;
	if (e->type == CONFIG_STRING) {
		if (strlen(value) > (size_t)e->max) {
			*errstr = "value too long";
			return -1;
		}
		snprintf(field, e->size, "%s", value);
		return 0;
	}
	errno = 0;
	n = strtol(value, &end, 10);
	if (*value == '\0' || *end != '\0' || errno != 0) {
		*errstr = "not a number";
		return -1;
	}
	if (n < e->min || n > e->max) {
		*errstr = "out of range";
		return -1;
	}
	*(int *)field = (int)n;
	return 0;
}

static char *
config_trim(char *s)
{
	char	*end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/*
 * The value after "=": either "quoted" (a password may hold a '#' or
 * spaces; inside the quotes \" is a quote and \\ a backslash; after them
 * only a comment may follow), or bare up to a '#' comment, trimmed.  In
 * place; NULL with *errstr for a broken quote.
 */
static char *
config_value(char *s, const char **errstr)
{
	char	*in, *out, *rest;

	while (isspace((unsigned char)*s))
		s++;
	if (*s != '"') {
		if ((rest = strchr(s, '#')) != NULL)
			*rest = '\0';
		return config_trim(s);
	}
	for (in = out = s + 1; *in != '"'; in++, out++) {
		if (*in == '\\' && (in[1] == '"' || in[1] == '\\'))
			in++;
		else if (*in == '\0' || *in == '\n') {
			*errstr = "unterminated quote";
			return NULL;
		}
		*out = *in;
	}
	rest = config_trim(in + 1);
	if (*rest != '\0' && *rest != '#') {
		*errstr = "text after the closing quote";
		return NULL;
	}
	*out = '\0';
	return s + 1;
}

/*
 * Reads the lines of fp over the values already in cf.  On failure
 * *errstr says why and *line says where.  Apart from config_load() so
 * that the fuzz target can feed it a buffer through fmemopen().
 */
int
config_read(struct config *cf, FILE *fp, const char **errstr, int *line)
{
	char	 buf[1024], *name, *value, *eq, *hash;

	*line = 0;
	while (fgets(buf, sizeof(buf), fp) != NULL) {
		(*line)++;
		if (strchr(buf, '\n') == NULL && !feof(fp)) {
			*errstr = "line too long";
			return -1;
		}
		eq = strchr(buf, '=');
		hash = strchr(buf, '#');
		if (hash != NULL && (eq == NULL || hash < eq))
			*hash = '\0';
		name = config_trim(buf);
		if (*name == '\0')
			continue;
		if ((eq = strchr(name, '=')) == NULL) {
			*errstr = "expected name = value";
			return -1;
		}
		*eq = '\0';
		name = config_trim(name);
		if ((value = config_value(eq + 1, errstr)) == NULL)
			return -1;
		if (strcmp(name, "db_password") == 0 &&
		    strcmp(value, CONFIG_PLACEHOLDER) == 0) {
			*errstr = "db_password is still the example's placeholder";
			return -1;
		}
		if (config_set(cf, name, value, errstr) == -1)
			return -1;
	}
	if (ferror(fp)) {
		*errstr = "read error";
		return -1;
	}
	return 0;
}

/*
 * Reads path over the values already in cf.  On failure *errstr says why
 * and *line says where (0 when the file could not be opened).
 */
int
config_load(struct config *cf, const char *path, const char **errstr,
    int *line)
{
	FILE	*fp;
	int	 rc;

	*line = 0;
	if ((fp = fopen(path, "r")) == NULL) {
		*errstr = strerror(errno);
		return -1;
	}
	rc = config_read(cf, fp, errstr, line);
	fclose(fp);
	return rc;
}

/*
 * The admin socket's path: admin_socket, or admin.sock in ws_socket's
 * folder, so that a file written before the setting existed puts it in the
 * daemon's run directory.  The daemon and chatctl both ask here, so they
 * cannot disagree.  -1 when the path does not fit a Unix socket.
 */
int
config_admin_socket(const struct config *cf, char *buf, size_t size)
{
	const char	*slash;
	int		 n;

	if (cf->admin_socket[0] != '\0')
		n = snprintf(buf, size, "%s", cf->admin_socket);
	else if ((slash = strrchr(cf->ws_socket, '/')) == NULL)
		n = snprintf(buf, size, "admin.sock");
	else
		n = snprintf(buf, size, "%.*s/admin.sock",
		    (int)(slash - cf->ws_socket), cf->ws_socket);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

void
config_print(const struct config *cf, FILE *fp)
{
	const struct config_entry	*e;
	const char			*field;

	for (e = config_table; e->name != NULL; e++) {
		field = (const char *)cf + e->offset;
		fprintf(fp, "# %s\n", e->help);
		if (e->type == CONFIG_INT)
			fprintf(fp, "%s = %d\n", e->name, *(const int *)field);
		else if (strcmp(e->name, "db_password") == 0)
			fprintf(fp, "%s = %s\n", e->name, *field ? "..." : "");
		else
			fprintf(fp, "%s = %s\n", e->name, field);
	}
}

static void __attribute__((noreturn))
config_usage(const char *progname)
{
	fprintf(stderr, "usage: %s -f config [-d] [-n] | -e\n", progname);
	exit(1);
}

/*
 * The start of both programs' main(): parses -f FILE [-d] [-n], starts
 * logging, and loads FILE over the defaults.  A bad file ends the program
 * with "file:line: reason".  Returns 1 when -n asked only for a check.
 * -e prints the example configuration (config-example.c) and exits.
 */
int
config_from_args(struct config *cf, int argc, char **argv,
    const char *progname, const char **path)
{
	const char	*errstr;
	int		 ch, debug = 0, check = 0, line;

	*path = NULL;
	while ((ch = getopt(argc, argv, "def:n")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'e':
			config_example(stdout);
			exit(fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1);
		case 'f':
			*path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		default:
			config_usage(progname);
		}
	}
	if (*path == NULL || optind != argc)
		config_usage(progname);
	log_init(progname, debug);
	config_defaults(cf);
	if (config_load(cf, *path, &errstr, &line) == -1) {
		if (line == 0)
			fprintf(stderr, "%s: %s\n", *path, errstr);
		else
			fprintf(stderr, "%s:%d: %s\n", *path, line, errstr);
		exit(1);
	}
	return check;
}
