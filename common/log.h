/*
 * One-line-per-event logging to stderr, shaped like OpenBSD's log.c.
 * log_warn appends strerror(errno); fatal/fatalx exit(1).
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdarg.h>

void	log_init(const char *progname, int debug);
int	log_debug_enabled(void);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
