/*
 * The push daemon's admin socket (push_daemon/admin.c) from an /api/
 * worker's side: /api/health asks "health", /metrics asks "metrics".
 * One request per connection; the answer is whole once a line starts
 * with "ok" or "error".  Everything together takes at most
 * DAEMON_TIMEOUT_MS: a stopped or stuck daemon must make health answer
 * promptly that it is unavailable, not hold an /api/ worker (and nginx's
 * client) waiting.
 *
 * The socket is 0600 and the daemon checks our uid: the workers run as the
 * service's user, as the daemon does.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcgi_app.h"
#include "shared.h"

#define DAEMON_TIMEOUT_MS	1000

static int
daemon_connect(const struct config *cf, const char **errstr)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (config_admin_socket(cf, sun.sun_path, sizeof(sun.sun_path)) ==
	    -1) {
		*errstr = "admin_socket: path too long";
		return -1;
	}
	/* Blocking: a Unix connect() completes or fails at once. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		*errstr = strerror(errno);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		*errstr = errno == ENOENT || errno == ECONNREFUSED ?
		    "not running" : strerror(errno);
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether buf (NUL-ended) holds a whole answer: its last line is ok/error. */
static int
daemon_complete(const char *buf, size_t len)
{
	const char	*line;

	if (len == 0 || buf[len - 1] != '\n')
		return 0;
	for (line = buf + len - 1; line > buf && line[-1] != '\n'; line--)
		;
	return strncmp(line, "ok", 2) == 0 || strncmp(line, "error", 5) == 0;
}

/* Waits for fd to be ready for events before deadline; -1 past it. */
static int
daemon_wait(int fd, short events, double deadline)
{
	struct pollfd	pfd = { fd, events, 0 };
	int		ms;

	ms = (int)((deadline - clock_now()) * 1000);
	if (ms <= 0)
		return -1;
	return poll(&pfd, 1, ms) == 1 ? 0 : -1;
}

/*
 * Sends line and returns the daemon's whole answer, NUL-ended, at most max
 * bytes (malloc'd), or NULL with *errstr: not running, timed out, an
 * "error" answer, or one too long.
 */
char *
daemon_ask(const struct config *cf, const char *line, size_t max,
    const char **errstr)
{
	double	 deadline = clock_now() + DAEMON_TIMEOUT_MS / 1000.0;
	char	*buf = NULL;
	size_t	 len = 0;
	ssize_t	 n;
	int	 fd;

	if ((fd = daemon_connect(cf, errstr)) == -1)
		return NULL;
	if ((buf = malloc(max + 1)) == NULL) {
		*errstr = "out of memory";
		goto fail;
	}
	/* A request line is far smaller than any socket buffer. */
	if (daemon_wait(fd, POLLOUT, deadline) == -1 ||
	    send(fd, line, strlen(line), MSG_NOSIGNAL) == -1 ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) == -1) {
		*errstr = "cannot send the request";
		goto fail;
	}
	buf[0] = '\0';
	while (!daemon_complete(buf, len)) {
		if (len == max) {
			*errstr = "answer too long";
			goto fail;
		}
		if (daemon_wait(fd, POLLIN, deadline) == -1) {
			*errstr = "timed out";
			goto fail;
		}
		if ((n = recv(fd, buf + len, max - len, MSG_DONTWAIT)) <= 0) {
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				continue;
			*errstr = "closed before the answer's end";
			goto fail;
		}
		len += (size_t)n;
		buf[len] = '\0';
	}
	close(fd);
	if (strncmp(buf, "error", 5) == 0 || strstr(buf, "\nerror") != NULL) {
		*errstr = "the daemon answered an error";
		free(buf);
		return NULL;
	}
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}
