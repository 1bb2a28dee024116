/*
 * Byte-level checks on client text that cJSON does not make (STACK-NOTES:
 * it passes invalid UTF-8 through, ends strings at \u0000 and accepts raw
 * control bytes).  A packet passes utf8_valid() and utf8_escapes_valid()
 * before it is parsed, so every string a handler sees is clean UTF-8
 * without NUL and may be forwarded to any client as is.
 */
#include <stddef.h>
#include <stdint.h>

#include "fcgi_app.h"

/*
 * Length of the sequence starting with lead byte c, and the smallest code
 * point it may encode (anything below is an overlong form); 0 for a byte
 * that cannot start a sequence.
 */
static int
utf8_lead(unsigned char c, uint32_t *cp, uint32_t *min)
{
	if (c < 0x80) {
		*cp = c;
		*min = 0;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		*cp = c & 0x1f;
		*min = 0x80;
		return 2;
	}
	if (c >= 0xe0 && c <= 0xef) {
		*cp = c & 0x0f;
		*min = 0x800;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		*cp = c & 0x07;
		*min = 0x10000;
		return 4;
	}
	return 0;	/* continuation byte, 0xc0/0xc1 overlongs, > U+10FFFF */
}

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no encoded surrogates,
 * nothing above U+10FFFF, no truncated sequence.  A NUL byte also fails:
 * PROTOCOL.md refuses NUL in any form, and cJSON would stop reading there.
 */
int
utf8_valid(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0;
	uint32_t		 cp, min;
	int			 n, k;

	while (i < len) {
		if (p[i] == 0)
			return 0;
		if ((n = utf8_lead(p[i], &cp, &min)) == 0)
			return 0;
		if (len - i < (size_t)n)
			return 0;
		for (k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n;
	}
	return 1;
}

/* The value of four hex digits at s, or -1. */
static long
utf8_hex4(const char *s, size_t left)
{
	long	v = 0;
	int	i;
	char	c;

	if (left < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * Scans the raw JSON text for \u escapes that would decode to NUL or to an
 * unpaired surrogate.  Every backslash in valid JSON starts a two-byte
 * escape, so taking backslashes in pairs is enough to tell "\\u0000" (an
 * escaped backslash, then text) from "\u0000".  Malformed escapes are left
 * for the JSON parser to refuse.
 */
int
utf8_escapes_valid(const char *s, size_t len)
{
	size_t	i = 0;
	long	v, lo;

	while (i < len) {
		if (s[i] != '\\') {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return 1;	/* the parser refuses it */
		if (s[i + 1] != 'u') {
			i += 2;
			continue;
		}
		if ((v = utf8_hex4(s + i + 2, len - i - 2)) == -1) {
			i += 2;
			continue;
		}
		i += 6;
		if (v == 0 || (v >= 0xdc00 && v <= 0xdfff))
			return 0;
		if (v < 0xd800 || v > 0xdbff)
			continue;
		/* A high surrogate must be followed by a low one. */
		if (len - i < 6 || s[i] != '\\' || s[i + 1] != 'u')
			return 0;
		lo = utf8_hex4(s + i + 2, len - i - 2);
		if (lo < 0xdc00 || lo > 0xdfff)
			return 0;
		i += 6;
	}
	return 1;
}

/* Code points in a valid, NUL-ended UTF-8 string. */
size_t
utf8_count(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/*
 * Whether a valid UTF-8 string holds a control character: C0, DEL, or C1
 * (U+0080-U+009F, encoded as 0xc2 0x80-0x9f).
 */
int
utf8_has_control(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 1;
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return 1;
	}
	return 0;
}
