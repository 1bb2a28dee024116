/*
 * One of the idle workload's generator processes (idle.c forks them): its
 * share of the connections made ready and held, the conductor told in
 * lines on a socketpair.  It writes "ready N" once its setup is over, is
 * sent "hold" when every process is ready and "end" when the hold is,
 * then writes its report, one line of JSON, and returns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static struct {
	int		  fd;		/* to the conductor */
	struct bconn	**conns;	/* the caller's, its share */
	int		  n;
	struct event	 *cmd;		/* the conductor's lines */
	struct setup	 *setup;
	int		  closed;	/* lost while held */
	const char	 *closed_why;
	int		  fds;		/* its own, while held */
} P;

static void
idle_proc_packet(struct bconn *c, cJSON *p, const char *command)
{
	(void)c;
	(void)p;
	(void)command;
}

static void
idle_proc_closed(struct bconn *c, const char *why)
{
	(void)c;
	P.closed++;
	if (P.closed_why == NULL)
		P.closed_why = why;
}

static const struct bconn_ops idle_proc_ops = {
	NULL, idle_proc_packet, idle_proc_closed
};

/* One line to the other side; a socketpair takes these whole. */
void
idle_proc_tell(int fd, const char *line)
{
	size_t	len = strlen(line), off = 0;
	ssize_t	n;

	while (off < len) {
		if ((n = write(fd, line + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		off += (size_t)n;
	}
}

static void
idle_proc_ready(void *arg)
{
	char	line[64];

	(void)arg;
	setup_handover(P.setup, &idle_proc_ops, NULL);
	P.fds = bconn_open_fds();
	snprintf(line, sizeof(line), "ready %d\n", setup_ready(P.setup));
	idle_proc_tell(P.fd, line);
}

/* The hold is over: what this process saw goes to the conductor. */
static void
idle_proc_report(void)
{
	cJSON	*o;
	char	*s;

	bench_cpu_stop();
	if ((o = cJSON_CreateObject()) == NULL)
		exit(1);
	cJSON_AddNumberToObject(o, "ready", setup_ready(P.setup));
	cJSON_AddNumberToObject(o, "closed", P.closed);
	if (P.closed_why != NULL)
		cJSON_AddStringToObject(o, "closed_why", P.closed_why);
	cJSON_AddNumberToObject(o, "fds", P.fds);
	cJSON_AddItemToObject(o, "setup", setup_json(P.setup));
	bench_cpu_report(o);
	if ((s = cJSON_PrintUnformatted(o)) == NULL)
		exit(1);
	idle_proc_tell(P.fd, s);
	idle_proc_tell(P.fd, "\n");
	free(s);
	cJSON_Delete(o);
	event_base_loopbreak(base);
}

/* "hold", then "end"; the conductor gone ends it too. */
static void
idle_proc_cmd(evutil_socket_t fd, short what, void *arg)
{
	static char	buf[64];
	static size_t	len;
	ssize_t		n;

	(void)what;
	(void)arg;
	n = read(fd, buf + len, sizeof(buf) - 1 - len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		len += (size_t)n;
		buf[len] = '\0';
		if (strncmp(buf, "hold\n", 5) == 0) {
			bench_cpu_start();
			memmove(buf, buf + 5, len - 5 + 1);
			len -= 5;
		}
		if (strstr(buf, "end\n") == NULL && len < sizeof(buf) - 1)
			return;
	}
	event_del(P.cmd);
	idle_proc_report();
}

/*
 * Runs process k (from 1) after fork(), on fd: conns[0 .. n) are made
 * ready (logged in as login_as[i]), held, reported on and freed.  Until
 * event_reinit() the loop's backend is the parent's, so nothing may touch
 * the loop before it.
 */
int
idle_proc_run(int fd, int k, struct bconn **conns, const uint64_t *login_as,
    int n)
{
	char	label[256];
	int	i, rc = -1;

	P.fd = fd;
	P.conns = conns;
	P.n = n;
	if (event_reinit(base) == -1) {
		bench_progress("event_reinit failed");
		goto out;
	}
	snprintf(label, sizeof(label), "%s [%d]", opts.label, k);
	if ((opts.label = strdup(label)) == NULL ||
	    (P.cmd = event_new(base, fd, EV_READ | EV_PERSIST, idle_proc_cmd,
	    NULL)) == NULL || event_add(P.cmd, NULL) == -1)
		goto out;
	if ((P.setup = setup_start(conns, n, login_as, idle_proc_ready,
	    NULL)) == NULL)
		goto out;
	event_base_dispatch(base);
	rc = 0;
out:
	for (i = 0; i < n; i++)
		bconn_free(conns[i]);
	if (P.cmd != NULL)
		event_free(P.cmd);
	setup_free(P.setup);
	close(fd);
	return rc;
}
