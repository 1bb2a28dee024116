/*
 * Logging for both programs.  Everything goes to stderr, one line per event,
 * prefixed with the time, the program name and pid (so the lines of forked
 * workers can be told apart in one log file) and the level.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char	*log_progname = "chat";
static int		 log_debug_on;

void
log_init(const char *progname, int debug)
{
	log_progname = progname;
	log_debug_on = debug;
}

int
log_debug_enabled(void)
{
	return log_debug_on;
}

/*
 * Every line starts with the time (UTC, to the millisecond) and its level,
 * wherever stderr goes: a log file of make run has no journald to add them.
 */
static void __attribute__((format(printf, 2, 0)))
log_vwrite(const char *level, const char *fmt, va_list ap, const char *suffix)
{
	char		line[1024], when[32];
	struct timespec	ts;
	struct tm	tm;

	vsnprintf(line, sizeof(line), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s[%ld]: %s%s%s%s\n", when,
	    ts.tv_nsec / 1000000, log_progname, (long)getpid(), level, line,
	    suffix ? ": " : "", suffix ? suffix : "");
}

void
log_warn(const char *fmt, ...)
{
	const char	*reason = strerror(errno);
	va_list		 ap;

	va_start(ap, fmt);
	log_vwrite("warning: ", fmt, ap, reason);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite("warning: ", fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite("info: ", fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	log_vwrite("debug: ", fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	const char	*reason = strerror(errno);
	va_list		 ap;

	va_start(ap, fmt);
	log_vwrite("fatal: ", fmt, ap, reason);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite("fatal: ", fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
