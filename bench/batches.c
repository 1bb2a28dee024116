/*
 * How many events each of the daemon's batches carried (one batch is one
 * commit), from the admin socket's "batches" answer (push_daemon/admin.c),
 * taken at both ends of a measured window.  Lanes and counts come as the
 * daemon words them; a stack without the socket gives no figures.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define BATCHES_HIST	9	/* push_daemon.h UPSTREAM_HIST */
#define BATCHES_ANSWER	4096

static const char *const batches_buckets[BATCHES_HIST] = {
	"1", "2-3", "4-7", "8-15", "16-31", "32-63", "64-127", "128-255", "256"
};

/* The daemon's answer to "batches", NUL-ended, or -1. */
static int
batches_ask(const char *stack_dir, char *buf, size_t size)
{
	struct sockaddr_un	sun;
	struct timeval		tv = { 2, 0 };
	size_t			len = 0;
	ssize_t			n;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path),
	    "%s/run/admin.sock", stack_dir) >= sizeof(sun.sun_path))
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    write(fd, "batches\n", 8) != 8)
		goto fail;
	while (len + 1 < size && (n = read(fd, buf + len,
	    size - 1 - len)) > 0) {
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "ok\n") != NULL)
			break;
	}
	close(fd);
	buf[len] = '\0';
	return strstr(buf, "ok\n") != NULL ? 0 : -1;
fail:
	close(fd);
	return -1;
}

/* {"LANE": [batches, events, failed, hist...], ...} now, or NULL. */
cJSON *
batches_take(const char *stack_dir)
{
	char			 buf[BATCHES_ANSWER], lane[32], *line, *save;
	unsigned long long	 v[3 + BATCHES_HIST];
	cJSON			*o, *a;
	int			 i;

	if (stack_dir == NULL || batches_ask(stack_dir, buf,
	    sizeof(buf)) == -1 || (o = cJSON_CreateObject()) == NULL)
		return NULL;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%31s batches %llu events %llu failed %llu hist"
		    " %llu %llu %llu %llu %llu %llu %llu %llu %llu", lane,
		    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
		    &v[8], &v[9], &v[10], &v[11]) != 4 + BATCHES_HIST)
			continue;
		if ((a = cJSON_AddArrayToObject(o, lane)) == NULL)
			break;
		for (i = 0; i < 3 + BATCHES_HIST; i++)
			cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
	}
	return o;
}

/* What happened between two takes: per lane, counts and a histogram. */
cJSON *
batches_diff(const cJSON *before, const cJSON *after)
{
	const cJSON	*a, *b;
	cJSON		*o, *l, *h;
	double		 d[3 + BATCHES_HIST];
	int		 i;

	if (before == NULL || after == NULL ||
	    (o = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_ArrayForEach(a, after) {
		b = cJSON_GetObjectItemCaseSensitive(before, a->string);
		for (i = 0; i < 3 + BATCHES_HIST; i++)
			d[i] = cJSON_GetArrayItem(a, i)->valuedouble -
			    (b != NULL ? cJSON_GetArrayItem(b, i)->valuedouble :
			    0);
		if ((l = cJSON_AddObjectToObject(o, a->string)) == NULL)
			break;
		cJSON_AddNumberToObject(l, "batches", d[0]);
		cJSON_AddNumberToObject(l, "events", d[1]);
		cJSON_AddNumberToObject(l, "failed", d[2]);
		cJSON_AddNumberToObject(l, "mean_events", d[0] > 0 ?
		    d[1] / d[0] : 0);
		if ((h = cJSON_AddObjectToObject(l, "hist")) == NULL)
			break;
		for (i = 0; i < BATCHES_HIST; i++)
			cJSON_AddNumberToObject(h, batches_buckets[i], d[3 + i]);
	}
	return o;
}

/* The bucket names, for the report's columns. */
const char *
batches_bucket(int i)
{
	return i >= 0 && i < BATCHES_HIST ? batches_buckets[i] : NULL;
}
