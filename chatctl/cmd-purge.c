/*
 * purge --delivered-before DATE: deletes the messages delivered before
 * DATE (UTC).  A message still waiting is never touched, however old, so
 * that nothing acknowledged to its sender is lost (docs/ARCHITECTURE.md):
 * "delivered" is what the service itself goes by, delivered_at, which a
 * connection without acks sets as well as an ack.
 */
#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "chatctl.h"

/* Rows per DELETE: each is its own short transaction. */
#define PURGE_BATCH	10000

static const char	purge_option[] = "--delivered-before";

/* DATE from "--delivered-before DATE" or "--delivered-before=DATE". */
static const char *
purge_args(int argc, char **argv)
{
	size_t	len = sizeof(purge_option) - 1;

	if (argc == 2 && strcmp(argv[0], purge_option) == 0)
		return argv[1];
	if (argc == 1 && strncmp(argv[0], purge_option, len) == 0 &&
	    argv[0][len] == '=')
		return argv[0] + len + 1;
	return NULL;
}

int
cmd_purge(struct ctl *ctl, int argc, char **argv)
{
	const char	*date;
	uint64_t	 n, total = 0;
	int		 t[6];

	if ((date = purge_args(argc, argv)) == NULL) {
		warnx("purge wants --delivered-before DATE");
		return CTL_USAGE;
	}
	if (date_parse(date, t) == -1) {
		warnx("bad date: %s (YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS], "
		    "UTC)", date);
		return CTL_FAIL;
	}
	do {
		if (db_messages_purge(ctl->db, t, PURGE_BATCH, &n) == -1) {
			warnx("database error after %" PRIu64 " deleted (see "
			    "above)", total);
			return CTL_FAIL;
		}
		total += n;
	} while (n == PURGE_BATCH);
	printf("%" PRIu64 " message%s delivered before %04d-%02d-%02d "
	    "%02d:%02d:%02d UTC deleted\n", total, total == 1 ? "" : "s",
	    t[0], t[1], t[2], t[3], t[4], t[5]);
	return CTL_OK;
}
