/*
 * libFuzzer target for common/config.c: any file, read through
 * config_read() as config_load() reads one, either fails with a reason and
 * a line number inside the file, or leaves every setting inside its
 * table's bounds with every string NUL-ended in its field.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const struct config *cf)
{
	const struct config_entry	*e;
	const char			*field;
	int				 v;

	for (e = config_table; e->name != NULL; e++) {
		field = (const char *)cf + e->offset;
		if (e->type == CONFIG_INT) {
			memcpy(&v, field, sizeof(v));
			if (v < e->min || v > e->max)
				abort();
		} else if (memchr(field, '\0', e->size) == NULL ||
		    strlen(field) > (size_t)e->max)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 cf;
	const char	*errstr = NULL;
	FILE		*fp;
	size_t		 i;
	int		 line, lines = 1;

	if (size == 0)
		return 0;
	/* fmemopen() takes a non-const buffer but "r" never writes it. */
	if ((fp = fmemopen((void *)(uintptr_t)data, size, "r")) == NULL)
		return 0;
	for (i = 0; i < size; i++)
		if (data[i] == '\n')
			lines++;
	config_defaults(&cf);
	if (config_read(&cf, fp, &errstr, &line) == -1) {
		if (errstr == NULL || line < 1 || line > lines)
			abort();
	}
	fclose(fp);
	check(&cf);
	return 0;
}
