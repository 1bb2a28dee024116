/*
 * The push daemon's admin socket (push_daemon/admin.c), from chatctl's
 * side: one request line, then the answer's lines up to the one that
 * starts with "ok" or "error".  A daemon that does not run (no socket file,
 * or nobody listening on it) is told apart from any other failure: it
 * holds no connection, so there is nothing to close.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chatctl.h"

/* Seconds; a daemon stuck in a loop must not hang the tool. */
#define DAEMON_TIMEOUT	10

/* The daemon's "error REASON", for *errstr. */
static char	daemon_reason[128];

static int
daemon_connect(const struct config *cf, enum daemon_status *down,
    const char **errstr)
{
	struct sockaddr_un	sun;
	struct timeval		tv = { DAEMON_TIMEOUT, 0 };
	int			fd;

	*down = DAEMON_ERROR;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (config_admin_socket(cf, sun.sun_path, sizeof(sun.sun_path)) ==
	    -1) {
		*errstr = "path too long for a Unix socket";
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		*errstr = strerror(errno);
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			*down = DAEMON_DOWN;
		*errstr = strerror(errno);
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads the answer; data lines go to cb, "ok REST" leaves REST in ok. */
static enum daemon_status
daemon_answer(FILE *fp, int (*cb)(void *, const char *), void *arg,
    char *ok, size_t oksize, const char **errstr)
{
	char	line[256], *nl;

	while (fgets(line, sizeof(line), fp) != NULL) {
		if ((nl = strchr(line, '\n')) == NULL) {
			*errstr = "the daemon's answer has a line too long";
			return DAEMON_ERROR;
		}
		*nl = '\0';
		if (strncmp(line, "ok", 2) == 0 &&
		    (line[2] == '\0' || line[2] == ' ')) {
			snprintf(ok, oksize, "%s", line[2] == ' ' ?
			    line + 3 : "");
			return DAEMON_OK;
		}
		if (strncmp(line, "error ", 6) == 0) {
			snprintf(daemon_reason, sizeof(daemon_reason),
			    "the daemon answered: %.100s", line + 6);
			*errstr = daemon_reason;
			return DAEMON_ERROR;
		}
		if (cb == NULL || cb(arg, line) == -1) {
			*errstr = "the daemon's answer makes no sense";
			return DAEMON_ERROR;
		}
	}
	*errstr = ferror(fp) ? "no answer from the daemon" :
	    "the daemon closed the connection";
	return DAEMON_ERROR;
}

/*
 * Sends line (no newline) and reads the answer: each line before the last
 * goes to cb (which returns -1 to refuse it), the rest of the "ok" line is
 * left in ok.  DAEMON_DOWN and DAEMON_ERROR set *errstr.
 */
enum daemon_status
daemon_request(const struct config *cf, const char *line,
    int (*cb)(void *, const char *), void *arg, char *ok, size_t oksize,
    const char **errstr)
{
	enum daemon_status	 rc;
	FILE			*fp;
	int			 fd;

	if ((fd = daemon_connect(cf, &rc, errstr)) == -1)
		return rc;
	if ((fp = fdopen(fd, "r+")) == NULL) {
		*errstr = strerror(errno);
		close(fd);
		return DAEMON_ERROR;
	}
	if (fprintf(fp, "%s\n", line) < 0 || fflush(fp) == EOF) {
		*errstr = "cannot write to the daemon";
		rc = DAEMON_ERROR;
	} else
		rc = daemon_answer(fp, cb, arg, ok, oksize, errstr);
	fclose(fp);
	return rc;
}

/*
 * verb ("kick", "disable" or "enable") account on this node: kick and
 * disable close its connections, *n says how many; disable also has the
 * daemon refuse the binds of logins already under way, enable stops that.
 */
enum daemon_status
daemon_account(const struct config *cf, const char *verb, uint64_t account,
    unsigned *n, const char **errstr)
{
	enum daemon_status	 rc;
	char			 line[64], ok[64], *end;
	unsigned long		 v;

	*n = 0;
	snprintf(line, sizeof(line), "%s %" PRIu64, verb, account);
	if ((rc = daemon_request(cf, line, NULL, NULL, ok, sizeof(ok),
	    errstr)) != DAEMON_OK)
		return rc;
	if (strcmp(verb, "enable") == 0 && ok[0] == '\0')
		return DAEMON_OK;
	v = strtoul(ok, &end, 10);
	if (ok[0] == '\0' || *end != '\0' || v > UINT32_MAX) {
		*errstr = "the daemon's answer makes no sense";
		return DAEMON_ERROR;
	}
	*n = (unsigned)v;
	return DAEMON_OK;
}
