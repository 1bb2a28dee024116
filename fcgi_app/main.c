/*
 * fcgi_app -f CONFIG [-d] [-n]
 *
 * The master: reads the configuration, opens the two FastCGI sockets, forks
 * the workers (worker.c) and keeps their number up.  fcgi_socket takes the
 * push daemon's batches and carries identities, so it is the service
 * user's alone (0600); the daemon keeps one connection open to each of its
 * workers there, and to each of the login_workers on login_socket (0600
 * too), which hash passwords at a lower CPU priority.  api_socket takes nginx's /api/
 * requests, which can never name a session, from its own api_workers
 * (0660, socket_group: nginx's), so a busy daemon never starves /api/ and
 * the other way round.  It never serves a request itself.  Signals are
 * taken synchronously with sigtimedwait(), so there is no handler and no
 * race between "a child died" and "stop".  Children are signalled by PID,
 * never by process group: the master may share its group with the script
 * that started it.  With message_retention_days set, it also forks a
 * short-lived child each RETENTION_INTERVAL that deletes old delivered
 * messages (retention.c).
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "fcgi_app.h"
#include "log.h"
#include "sockperm.h"

#define WORKERS_MAX		256	/* config.c's bound */
#define RESTART_DELAY		1	/* s, after a worker died young */
#define STOP_TIMEOUT		10	/* s before SIGKILL at shutdown */
#define LOGIN_NICE		10	/* login workers' nice(2) */

struct slot {
	enum worker_role role;
	enum stats_role	stats_role;	/* what /metrics counts it as */
	int	fd;			/* the socket it serves */
	int	nice;			/* its CPU priority (nice(2)) */
	pid_t	pid;			/* 0: no worker running */
	time_t	started;
	time_t	restart_at;		/* when an empty slot may fork */
};

static struct slot	slots[WORKERS_MAX];
static int		nslots;
static struct stats	*stats;		/* shared with every worker */
static pid_t		purge_pid;	/* retention's child; 0: none */
static time_t		purge_at;	/* when the next one may fork */

/*
 * Refuses to take the socket from a running instance; removes a socket
 * file left by one that died.
 */
static void
socket_clear(const char *path)
{
	struct sockaddr_un	sun;
	struct stat		sb;
	int			fd;

	if (lstat(path, &sb) == -1)
		return;
	if (!S_ISSOCK(sb.st_mode))
		fatalx("%s exists and is not a socket", path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		fatal("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		fatalx("%s is in use by a running server", path);
	close(fd);
	if (unlink(path) == -1)
		fatal("unlink %s", path);
}

/* group: who besides us may connect ("" for nobody); see sockperm.c. */
static int
socket_open(const struct config *cf, const char *path, mode_t mode,
    const char *group)
{
	struct sockaddr_un	 sun;
	const char		*errstr;
	mode_t			 old;
	int			 fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		fatalx("%s is too long for a Unix socket", path);
	socket_clear(path);
	old = sockperm_umask();
	fd = FCGX_OpenSocket(path, cf->fcgi_backlog);
	umask(old);
	if (fd < 0)
		fatalx("cannot listen on %s", path);
	if (sockperm_set(path, mode, group, &errstr) == -1)
		fatalx("%s: %s", path, errstr);
	return fd;
}

/*
 * The slots: the daemon's batch workers, its login workers, the /api/
 * ones.  Login workers hash passwords at a lower CPU priority (LOGIN_NICE),
 * so that on a busy box a flood of logins slows logins first, not the
 * commits that messages wait for.
 */
static void
slots_init(const struct config *cf, int batch_fd, int login_fd, int api_fd)
{
	int	i;

	nslots = cf->workers + cf->login_workers + cf->api_workers;
	if (nslots > WORKERS_MAX)
		fatalx("workers + login_workers + api_workers is over %d",
		    WORKERS_MAX);
	for (i = 0; i < nslots; i++) {
		slots[i].role = i < cf->workers + cf->login_workers ?
		    WORKER_BATCH : WORKER_API;
		if (i < cf->workers) {
			slots[i].fd = batch_fd;
			slots[i].stats_role = STATS_MAIN;
		} else if (i < cf->workers + cf->login_workers) {
			slots[i].fd = login_fd;
			slots[i].nice = LOGIN_NICE;
			slots[i].stats_role = STATS_LOGIN;
		} else {
			slots[i].fd = api_fd;
			slots[i].stats_role = STATS_API;
		}
	}
}

/*
 * fork() for a worker (keep_fd: the socket it serves) or the retention
 * child (-1: none); in the child, the master's signal set is undone.
 */
static pid_t
child_fork(const sigset_t *oldmask, int keep_fd)
{
	pid_t	pid;
	int	i;

	if ((pid = fork()) != 0)
		return pid;
	sigprocmask(SIG_SETMASK, oldmask, NULL);
	/* Ctrl-C is the master's to handle; it stops us by PID. */
	signal(SIGINT, SIG_IGN);
	/* Do not outlive a master killed with SIGKILL. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		_exit(0);
	/* The other sockets are not this child's to serve. */
	for (i = 0; i < nslots; i++)
		if (slots[i].fd != keep_fd)
			close(slots[i].fd);
	return 0;
}

static void
worker_start(const struct config *cf, struct slot *s, const sigset_t *oldmask)
{
	pid_t	pid;

	if ((pid = child_fork(oldmask, s->fd)) == -1) {
		log_warn("fork");
		s->restart_at = time(NULL) + RESTART_DELAY;
		return;
	}
	if (pid == 0) {
		if (s->nice != 0 && setpriority(PRIO_PROCESS, 0, s->nice) == -1)
			log_warn("setpriority");
		worker_main(cf, stats, s->fd, s->role);
	}
	s->pid = pid;
	s->started = time(NULL);
	log_debug("worker %ld started", (long)pid);
}

/*
 * A purge at start and then each RETENTION_INTERVAL, one at a time, at the
 * login workers' CPU priority: it is never urgent.
 */
static void
purge_start(const struct config *cf, const sigset_t *oldmask)
{
	pid_t	pid;
	time_t	now = time(NULL);

	if (cf->message_retention_days == 0 || purge_pid != 0 || now < purge_at)
		return;
	purge_at = now + RETENTION_INTERVAL;
	if ((pid = child_fork(oldmask, -1)) == -1) {
		log_warn("fork");
		return;
	}
	if (pid == 0) {
		if (setpriority(PRIO_PROCESS, 0, LOGIN_NICE) == -1)
			log_warn("setpriority");
		_exit(retention_purge(cf, now) == 0 ? 0 : 1);
	}
	purge_pid = pid;
}

/* Notes a dead worker; one that died young restarts after a pause. */
static void
worker_reaped(pid_t pid, int status, int stopping)
{
	time_t	now = time(NULL);
	int	i;

	if (pid == purge_pid) {
		/* retention.c logged what went wrong; the next try is due. */
		purge_pid = 0;
		if (WIFSIGNALED(status) && !stopping)
			log_warnx("retention purge %ld killed by signal %d",
			    (long)pid, WTERMSIG(status));
		return;
	}
	for (i = 0; i < nslots; i++) {
		if (slots[i].pid != pid)
			continue;
		slots[i].pid = 0;
		if (!stopping)
			stats_restart(stats, slots[i].stats_role);
		slots[i].restart_at = now - slots[i].started <= RESTART_DELAY ?
		    now + RESTART_DELAY : now;
		break;
	}
	if (stopping)
		return;
	if (WIFSIGNALED(status))
		log_info("worker %ld killed by signal %d; restarting",
		    (long)pid, WTERMSIG(status));
	else
		log_info("worker %ld exited with status %d; restarting",
		    (long)pid, WEXITSTATUS(status));
}

static int
workers_reap(int stopping)
{
	pid_t	pid;
	int	status, n = 0;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		worker_reaped(pid, status, stopping);
		n++;
	}
	return n;
}

static int
workers_running(void)
{
	int	i, n = 0;

	for (i = 0; i < nslots; i++)
		if (slots[i].pid != 0)
			n++;
	return n + (purge_pid != 0);
}

/* SIGTERM to every worker by PID, then wait; SIGKILL the late ones. */
static void
workers_stop(const sigset_t *set)
{
	struct timespec	ts = { 1, 0 };
	time_t		deadline = time(NULL) + STOP_TIMEOUT;
	int		i;

	for (i = 0; i < nslots; i++)
		if (slots[i].pid != 0)
			kill(slots[i].pid, SIGTERM);
	if (purge_pid != 0)
		kill(purge_pid, SIGTERM);
	while (workers_running() > 0) {
		if (time(NULL) >= deadline) {
			for (i = 0; i < nslots; i++)
				if (slots[i].pid != 0)
					kill(slots[i].pid, SIGKILL);
			if (purge_pid != 0)
				kill(purge_pid, SIGKILL);
			deadline += STOP_TIMEOUT;
		}
		(void)sigtimedwait(set, NULL, &ts);
		workers_reap(1);
	}
}

static void
master_run(const struct config *cf)
{
	struct timespec	ts = { 1, 0 };
	sigset_t	set, oldmask;
	int		i, sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &oldmask);

	log_info("listening on %s with %d workers, %s with %d, %s with %d",
	    cf->fcgi_socket, cf->workers, cf->login_socket, cf->login_workers,
	    cf->api_socket, cf->api_workers);
	if (cf->message_retention_days > 0)
		log_info("retention: delivered messages are kept %d days",
		    cf->message_retention_days);
	for (;;) {
		for (i = 0; i < nslots; i++)
			if (slots[i].pid == 0 && slots[i].restart_at <= time(NULL))
				worker_start(cf, &slots[i], &oldmask);
		purge_start(cf, &oldmask);
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		workers_reap(0);
	}
	log_info("stopping on signal %d", sig);
	workers_stop(&set);
	if (unlink(cf->fcgi_socket) == -1)
		log_warn("unlink %s", cf->fcgi_socket);
	if (unlink(cf->login_socket) == -1)
		log_warn("unlink %s", cf->login_socket);
	if (unlink(cf->api_socket) == -1)
		log_warn("unlink %s", cf->api_socket);
	log_info("stopped");
}

int
main(int argc, char **argv)
{
	struct config	 cf;
	const char	*path;
	int		 batch_fd, login_fd, api_fd;

	if (config_from_args(&cf, argc, argv, "fcgi_app", &path)) {
		fprintf(stderr, "%s: configuration OK\n", path);
		return 0;
	}

	signal(SIGPIPE, SIG_IGN);
	if (db_library_init() == -1)
		fatalx("cannot initialise the database client library");
	if (auth_init(&cf) == -1)
		fatalx("cannot initialise password hashing");
	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	batch_fd = socket_open(&cf, cf.fcgi_socket, SOCKPERM_PRIVATE, "");
	login_fd = socket_open(&cf, cf.login_socket, SOCKPERM_PRIVATE, "");
	/* nginx's workers may run as another user, in socket_group. */
	api_fd = socket_open(&cf, cf.api_socket, SOCKPERM_NGINX,
	    cf.socket_group);
	slots_init(&cf, batch_fd, login_fd, api_fd);
	/* /metrics goes without the shared counts rather than not start. */
	stats = stats_new();
	master_run(&cf);
	stats_free(stats);
	close(batch_fd);
	close(login_fd);
	close(api_fd);
	db_library_end();
	return 0;
}
