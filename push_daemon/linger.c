/*
 * The last moments of a socket.  close() on a socket with unread client
 * bytes makes the kernel send RST, and the client may then lose the
 * replies we just wrote.  So the write side is shut down (the client sees
 * EOF after our last byte) and what the client still sends is read and
 * dropped until it closes too, or LINGER_SECONDS pass.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "push_daemon.h"

#define LINGER_SECONDS	2

struct linger_sock {
	int			fd;
	double			until;
	struct event		*ev;	/* owned */
	LIST_ENTRY(linger_sock)	entry;
};

static LIST_HEAD(, linger_sock)	lingers = LIST_HEAD_INITIALIZER(lingers);

static void
linger_free(struct linger_sock *l)
{
	LIST_REMOVE(l, entry);
	event_free(l->ev);
	close(l->fd);
	free(l);
}

static void
linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct linger_sock	*l = arg;
	char		 buf[4096];
	ssize_t		 n;

	if ((what & EV_READ) && conn_now() < l->until) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0 || (n == -1 && (errno == EAGAIN || errno == EINTR)))
			return;
	}
	linger_free(l);
}

/* Takes fd and closes it gracefully, a little later. */
void
linger_fd(int fd)
{
	struct timeval	 tv = { LINGER_SECONDS, 0 };
	struct linger_sock	*l;

	if (shutdown(fd, SHUT_WR) == -1 || (l = malloc(sizeof(*l))) == NULL) {
		close(fd);
		return;
	}
	l->fd = fd;
	l->until = conn_now() + LINGER_SECONDS;
	if ((l->ev = event_new(base, fd, EV_READ | EV_PERSIST, linger_cb,
	    l)) == NULL || event_add(l->ev, &tv) == -1) {
		if (l->ev != NULL)
			event_free(l->ev);
		free(l);
		close(fd);
		return;
	}
	LIST_INSERT_HEAD(&lingers, l, entry);
}

void
linger_shutdown(void)
{
	while (!LIST_EMPTY(&lingers))
		linger_free(LIST_FIRST(&lingers));
}
