/*
 * A new password for adduser and passwd: typed twice on the terminal with
 * echo off when stdin is one, else the first line of stdin (a script's
 * pipe).  Never an argument, which any local user could read in ps.  The
 * rules are logon's: PASSWORD_MIN..PASSWORD_MAX bytes of valid UTF-8, so
 * that the password can be typed into any client.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "chatctl.h"

/* The terminal while echo is off, so that a signal can turn it on again. */
static int		password_tty_fd = -1;
static struct termios	password_tty_saved;

static void
password_signal(int sig)
{
	if (password_tty_fd != -1)
		tcsetattr(password_tty_fd, TCSAFLUSH, &password_tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * One line from fd into buf (size > PASSWORD_MAX): its end and a CR before
 * it are dropped.  A line too long is read to its end and refused.
 */
static int
password_line(int fd, char *buf, size_t size, const char **errstr)
{
	size_t	len = 0;
	ssize_t	n;
	char	ch;
	int	toolong = 0, nul = 0, any = 0;

	for (;;) {
		if ((n = read(fd, &ch, 1)) == -1) {
			*errstr = "cannot read the password";
			return -1;
		}
		if (n == 0 || ch == '\n')
			break;
		any = 1;
		if (ch == '\0')
			nul = 1;
		if (len + 1 < size)
			buf[len++] = ch;
		else
			toolong = 1;
	}
	if (!any && n == 0 && fd == STDIN_FILENO) {
		*errstr = "no password on stdin";
		return -1;
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	if (nul) {
		*errstr = "password holds a NUL byte";
		return -1;
	}
	if (toolong) {
		*errstr = "password too long (at most 128 bytes)";
		return -1;
	}
	return 0;
}

/* Asks on the terminal with echo off; the line typed is in buf. */
static int
password_prompt(int fd, const char *prompt, char *buf, size_t size,
    const char **errstr)
{
	struct termios	t;
	ssize_t		nl;
	int		rc;

	if (tcgetattr(fd, &password_tty_saved) == -1) {
		*errstr = "cannot read the terminal's settings";
		return -1;
	}
	t = password_tty_saved;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	password_tty_fd = fd;
	signal(SIGINT, password_signal);
	signal(SIGTERM, password_signal);
	signal(SIGHUP, password_signal);
	if (write(fd, prompt, strlen(prompt)) == -1 ||
	    tcsetattr(fd, TCSAFLUSH, &t) == -1) {
		*errstr = "cannot turn the terminal's echo off";
		return -1;
	}
	rc = password_line(fd, buf, size, errstr);
	tcsetattr(fd, TCSAFLUSH, &password_tty_saved);
	password_tty_fd = -1;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	/* The Enter typed was not echoed; a lost newline is only cosmetic. */
	nl = write(fd, "\n", 1);
	(void)nl;
	return rc;
}

static int
password_tty(char *buf, size_t size, const char **errstr)
{
	char	again[PASSWORD_MAX + 2];
	int	fd, rc = -1;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) == -1) {
		*errstr = "cannot open the terminal";
		return -1;
	}
	if (password_prompt(fd, "New password: ", buf, size, errstr) == -1 ||
	    password_prompt(fd, "Retype it: ", again, sizeof(again),
	    errstr) == -1)
		goto fail;
	if (strcmp(buf, again) != 0) {
		*errstr = "the two passwords differ";
		goto fail;
	}
	rc = 0;
fail:
	sodium_memzero(again, sizeof(again));
	close(fd);
	return rc;
}

/*
 * Reads a new password into buf (at least PASSWORD_MAX + 2 bytes) and
 * checks it; -1 and *errstr when there is none or it breaks a rule.
 */
int
password_read(char *buf, size_t size, const char **errstr)
{
	size_t	len;
	int	rc;

	if (isatty(STDIN_FILENO))
		rc = password_tty(buf, size, errstr);
	else
		rc = password_line(STDIN_FILENO, buf, size, errstr);
	if (rc == -1)
		return -1;
	len = strlen(buf);
	if (len == 0)
		*errstr = "empty password";
	else if (len < PASSWORD_MIN)
		*errstr = "password too short (at least 8 bytes)";
	else if (len > PASSWORD_MAX)
		*errstr = "password too long (at most 128 bytes)";
	else if (!utf8_valid(buf, len))
		*errstr = "password is not valid UTF-8";
	else
		return 0;
	return -1;
}
