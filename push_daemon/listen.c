/*
 * The two Unix sockets nginx connects to: ws_socket (HTTP upgrade, then
 * WebSocket) and tcp_socket (stream proxy, PROXY line, then frames).  Each
 * accepted socket becomes a conn with its listener's transport.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "sockperm.h"
#include "push_daemon.h"

#define LISTEN_BACKLOG		1024
#define LISTEN_PAUSE_SECONDS	1	/* after EMFILE and the like */

struct listener {
	char			 path[SOCKET_PATH_MAX];
	const struct transport	*tp;
	struct evconnlistener	*lev;		/* owned, closes the socket */
	struct event		*resume;	/* owned */
	LIST_ENTRY(listener)	 entry;
};

static LIST_HEAD(, listener)	listeners = LIST_HEAD_INITIALIZER(listeners);

static void
listen_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener	*l = arg;

	(void)lev;
	(void)sa;
	(void)salen;
	if (conn_count() >= (u_int)conf.max_connections) {
		log_warnx("%s: refused: max_connections (%d) reached",
		    l->tp->name, conf.max_connections);
		close(fd);
		return;
	}
	conn_new(fd, l->tp, "");
}

static void
listen_resume(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*l = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(l->lev);
}

/* Out of descriptors: accepting again at once would spin, so wait. */
static void
listen_error(struct evconnlistener *lev, void *arg)
{
	struct listener	*l = arg;
	struct timeval	 tv = { LISTEN_PAUSE_SECONDS, 0 };

	log_warn("%s: accept", l->path);
	evconnlistener_disable(lev);
	evtimer_add(l->resume, &tv);
}

/*
 * A socket file left by a daemon that died is removed; one that a live
 * daemon still answers on is not ours to take.
 */
static int
listen_stale(const struct sockaddr_un *sun, const char **errstr)
{
	struct stat	st;
	int		fd, rc;

	if (lstat(sun->sun_path, &st) == -1)
		return errno == ENOENT ? 0 : (*errstr = strerror(errno), -1);
	if (!S_ISSOCK(st.st_mode)) {
		*errstr = "exists and is not a socket";
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1) {
		*errstr = strerror(errno);
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (rc == 0) {
		*errstr = "another process is listening on it";
		return -1;
	}
	if (unlink(sun->sun_path) == -1) {
		*errstr = strerror(errno);
		return -1;
	}
	return 0;
}

/*
 * A listening, non-blocking Unix socket at path whose file has mode and,
 * unless group is "", that group (sockperm.c).  It is bound under a umask
 * that leaves it 0600, so it is never, even for a moment, more open than
 * mode.  Used for admin.c's socket too.
 */
int
listen_unix(const char *path, mode_t mode, const char *group,
    const char **errstr)
{
	struct sockaddr_un	sun;
	mode_t			old;
	int			fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s",
	    path) >= sizeof(sun.sun_path)) {
		*errstr = "path too long for a Unix socket";
		return -1;
	}
	if (listen_stale(&sun, errstr) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	old = sockperm_umask();
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1)
		goto fail;
	if (sockperm_set(path, mode, group, errstr) == -1) {
		close(fd);
		return -1;
	}
	if (listen(fd, LISTEN_BACKLOG) == -1)
		goto fail;
	return fd;
fail:
	*errstr = strerror(errno);
	if (fd != -1)
		close(fd);
	return -1;
}

/* Listens on path for conns of transport tp; -1 after logging why. */
int
listen_open(const char *path, const struct transport *tp)
{
	struct listener	*l;
	const char	*errstr;
	int		 fd;

	/* nginx's workers may run as another user: anyone may connect. */
	/*
	 * nginx's user alone may connect (socket_group): a local user who
	 * could would write the PROXY line or X-Real-IP header itself.
	 */
	if ((fd = listen_unix(path, SOCKPERM_NGINX, conf.socket_group,
	    &errstr)) == -1) {
		log_warnx("%s: %s", path, errstr);
		return -1;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		close(fd);
		return -1;
	}
	snprintf(l->path, sizeof(l->path), "%s", path);
	l->tp = tp;
	l->resume = evtimer_new(base, listen_resume, l);
	/* Backlog 0: listen(2) was called above. */
	l->lev = evconnlistener_new(base, listen_accept, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	LIST_INSERT_HEAD(&listeners, l, entry);
	if (l->resume == NULL || l->lev == NULL) {
		if (l->lev == NULL)
			close(fd);
		log_warnx("%s: cannot listen", path);
		return -1;
	}
	evconnlistener_set_error_cb(l->lev, listen_error);
	log_info("listening on %s (%s)", path, tp->name);
	return 0;
}

/* Stops accepting and removes the socket files. */
void
listen_close_all(void)
{
	struct listener	*l;

	while ((l = LIST_FIRST(&listeners)) != NULL) {
		LIST_REMOVE(l, entry);
		if (l->lev != NULL) {
			evconnlistener_free(l->lev);
			unlink(l->path);
		}
		if (l->resume != NULL)
			event_free(l->resume);
		free(l);
	}
}
