/*
 * Logging for both programs.  Everything goes to stderr, one line per event,
 * prefixed with the program name and pid so the lines of forked workers can
 * be told apart in one log file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void __attribute__((format(printf, 2, 0)))
log_vwrite(const char *level, const char *fmt, va_list ap, const char *suffix)
{
	char	line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "%s[%ld]: %s%s%s%s\n", log_progname, (long)getpid(),
	    level, line, suffix ? ": " : "", suffix ? suffix : "");
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
	log_vwrite("", fmt, ap, NULL);
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
