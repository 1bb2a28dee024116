/*
 * The DATE of purge --delivered-before: a UTC date, optionally with a
 * time, in the ISO 8601 forms an operator types and date(1) prints:
 *
 *	2026-11-01	2026-11-01T12:30	2026-11-01 12:30:00	...Z
 *
 * Apart from the file it is pure, so that a unit test can link it alone.
 */
#include <string.h>
#include <time.h>

#include "chatctl.h"

/* Whether t names a real moment: timegm() would move 2026-02-30 on. */
static int
date_real(const int t[6])
{
	struct tm	tm, back;
	time_t		s;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = t[0] - 1900;
	tm.tm_mon = t[1] - 1;
	tm.tm_mday = t[2];
	tm.tm_hour = t[3];
	tm.tm_min = t[4];
	tm.tm_sec = t[5];
	if ((s = timegm(&tm)) == (time_t)-1 || gmtime_r(&s, &back) == NULL)
		return 0;
	return back.tm_year == t[0] - 1900 && back.tm_mon == t[1] - 1 &&
	    back.tm_mday == t[2] && back.tm_hour == t[3] &&
	    back.tm_min == t[4] && back.tm_sec == t[5];
}

/* n decimal digits at s into *v; -1 if any is not a digit. */
static int
date_digits(const char *s, int n, int *v)
{
	int	i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/*
 * Parses s into t (year, month, day, hour, minute, second); 0, or -1 when
 * s is not one of the forms above or names no real moment.
 */
int
date_parse(const char *s, int t[6])
{
	memset(t, 0, 6 * sizeof(*t));
	if (strlen(s) < 10 || date_digits(s, 4, &t[0]) == -1 ||
	    s[4] != '-' || date_digits(s + 5, 2, &t[1]) == -1 ||
	    s[7] != '-' || date_digits(s + 8, 2, &t[2]) == -1)
		return -1;
	s += 10;
	if (*s == 'T' || *s == ' ') {
		if (strlen(s) < 6 || date_digits(s + 1, 2, &t[3]) == -1 ||
		    s[3] != ':' || date_digits(s + 4, 2, &t[4]) == -1)
			return -1;
		s += 6;
		if (*s == ':') {
			if (strlen(s) < 3 || date_digits(s + 1, 2, &t[5]) == -1)
				return -1;
			s += 3;
		}
		/* "Z" or nothing: the times are UTC either way. */
		if (*s == 'Z')
			s++;
	}
	if (*s != '\0' || t[0] < 1000)
		return -1;
	return date_real(t) ? 0 : -1;
}
