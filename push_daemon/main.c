/*
 * push_daemon: options, configuration, signals and the event loop.
 *
 *	push_daemon -f CONFIG [-d] [-n]
 *
 * -d logs every packet and state change; -n checks CONFIG and exits.
 * Runs in the foreground and logs to stderr; SIGTERM or SIGINT stops it
 * cleanly, removing its socket files.
 */
#include <sys/resource.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "push_daemon.h"

struct event_base	*base;
struct config		 conf;

/* What the daemon needs beyond what the config table checks. */
static int
main_config_check(const char *path)
{
	if (conf.ws_socket[0] == '\0' || conf.tcp_socket[0] == '\0' ||
	    conf.fcgi_socket[0] == '\0') {
		fprintf(stderr, "%s: ws_socket, tcp_socket and fcgi_socket "
		    "must be set\n", path);
		return -1;
	}
	return 0;
}

/* One descriptor per client: take all the hard limit allows. */
static void
main_rlimit(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit");
	}
	if (rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)conf.max_connections + 64)
		log_warnx("open files limit %llu is below max_connections %d",
		    (unsigned long long)rl.rlim_cur, conf.max_connections);
}

static void
main_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(base);
}

static void
main_run(void)
{
	struct event	*sigterm, *sigint;

	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	conn_init(conf.max_connections);
	online_init(conf.max_connections);
	addrlimit_init(conf.max_connections);
	upstream_init();
	deliver_set_route(route_report);
	sigterm = evsignal_new(base, SIGTERM, main_signal, NULL);
	sigint = evsignal_new(base, SIGINT, main_signal, NULL);
	if (sigterm == NULL || sigint == NULL ||
	    evsignal_add(sigterm, NULL) == -1 || evsignal_add(sigint, NULL) == -1)
		fatalx("cannot catch signals");
	if (listen_open(conf.ws_socket, &transport_ws) == -1 ||
	    listen_open(conf.tcp_socket, &transport_tcp) == -1 ||
	    admin_open() == -1) {
		listen_close_all();
		admin_close();
		fatalx("cannot listen");
	}
	log_info("started: node %s, workers at %s", conf.node_name,
	    conf.fcgi_socket);
	upstream_started();
	if (relay_init() == -1)
		fatalx("cannot start the relay");
	event_base_dispatch(base);

	relay_shutdown();

	listen_close_all();
	admin_close();
	conn_shutdown();
	upstream_shutdown();
	linger_shutdown();
	online_shutdown();
	addrlimit_shutdown();
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	log_info("stopped");
}

int
main(int argc, char *argv[])
{
	const char	*path;
	int		 check;

	check = config_from_args(&conf, argc, argv, "push_daemon", &path);
	if (main_config_check(path) == -1)
		return 1;
	if (check) {
		fprintf(stderr, "%s: configuration OK\n", path);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	main_rlimit();
	main_run();
	return 0;
}
