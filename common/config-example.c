/*
 * etc/chat.conf.example, written from config_table: every setting with its
 * help, bounds and default, so that the example a host starts from cannot
 * drift from what the programs accept (scripts/check-deploy.sh compares the
 * committed file with `fcgi_app -e`).  Settings a production host sets are
 * written out with their host value; the others are commented out at their
 * default, ready to be tuned.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"

#define WRAP	72	/* columns of a comment line */

/* A heading before the setting that starts each group of the table. */
static const struct {
	const char	*first;
	const char	*title;
} config_sections[] = {
	{ "fcgi_socket", "Sockets and this node" },
	{ "db_socket", "The database" },
	{ "workers", "fcgi_app: workers, hashing, limits, retention" },
	{ "batch_max", "push_daemon: batches, timeouts, connections" },
};

/* text as "# " comment lines of at most WRAP columns, broken at spaces. */
static void
comment(FILE *fp, const char *text)
{
	const char	*p = text, *end, *space;
	size_t		 room = WRAP - 2;

	while (*p != '\0') {
		end = p + strlen(p);
		if ((size_t)(end - p) > room) {
			for (space = p + room; space > p && *space != ' ';
			    space--)
				;
			end = space > p ? space : p + room;
		}
		fprintf(fp, "# %.*s\n", (int)(end - p), p);
		p = end;
		while (*p == ' ')
			p++;
	}
}

/* A value the reader takes back as it is: quoted when it must be. */
static void
value(FILE *fp, const char *v)
{
	const char	*c;

	if (v[0] != '\0' && strpbrk(v, "#\" \t\\") == NULL) {
		fputs(v, fp);
		return;
	}
	fputc('"', fp);
	for (c = v; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\')
			fputc('\\', fp);
		fputc(*c, fp);
	}
	fputc('"', fp);
}

static void
entry(FILE *fp, const struct config_entry *e)
{
	char	bounds[160];

	comment(fp, e->help);
	if (e->type == CONFIG_INT)
		snprintf(bounds, sizeof(bounds), "%ld to %ld; default %ld",
		    e->min, e->max, e->default_int);
	else
		snprintf(bounds, sizeof(bounds), "at most %ld bytes; default %s",
		    e->max, e->default_str[0] != '\0' ? e->default_str : "empty");
	fprintf(fp, "# (%s)\n", bounds);
	if (e->example != NULL) {
		fprintf(fp, "%s = ", e->name);
		value(fp, e->example);
	} else if (e->type == CONFIG_INT) {
		fprintf(fp, "#%s = %ld", e->name, e->default_int);
	} else {
		fprintf(fp, "#%s =", e->name);
		if (e->default_str[0] != '\0') {
			fputc(' ', fp);
			value(fp, e->default_str);
		}
	}
	fputc('\n', fp);
}

void
config_example(FILE *fp)
{
	const struct config_entry	*e;
	size_t				 i;

	fputs("# /etc/chat/chat.conf: read by fcgi_app, push_daemon and "
	    "chatctl.\n", fp);
	comment(fp, "Written by `fcgi_app -e` from the programs' own table of "
	    "settings (common/config.c): every setting, its bounds and its "
	    "default.  \"name = value\" lines; \"#\" starts a comment.  The "
	    "settings a production host needs are set; a line \"#name = "
	    "value\" shows a default, to be tuned by removing the \"#\".  "
	    "`fcgi_app -n -f FILE` checks a file and names a bad line.");
	for (e = config_table; e->name != NULL; e++) {
		for (i = 0; i < sizeof(config_sections) /
		    sizeof(config_sections[0]); i++)
			if (strcmp(config_sections[i].first, e->name) == 0)
				fprintf(fp, "\n# ==== %s\n",
				    config_sections[i].title);
		fputc('\n', fp);
		entry(fp, e);
	}
}
