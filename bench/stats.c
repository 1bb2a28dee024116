/*
 * Latency samples: every one is kept (4 bytes each, microseconds) and
 * sorted once at the end, so the percentiles are exact, not bucketed.
 */
#include <stdlib.h>

#include "bench.h"

struct lat {
	uint32_t	*v;
	size_t		 n;
	size_t		 cap;
};

struct lat *
lat_new(void)
{
	return calloc(1, sizeof(struct lat));
}

void
lat_add(struct lat *l, uint64_t us)
{
	uint32_t	*nv;
	size_t		 ncap;

	if (l->n == l->cap) {
		ncap = l->cap == 0 ? 65536 : l->cap * 2;
		if ((nv = realloc(l->v, ncap * sizeof(*nv))) == NULL)
			return;	/* a sample dropped, never a crash */
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

size_t
lat_count(const struct lat *l)
{
	return l->n;
}

uint64_t
lat_sample(const struct lat *l, size_t i)
{
	return l->v[i];
}

static int
lat_cmp(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The sample at quantile q of the sorted samples, in milliseconds. */
static double
lat_at(const struct lat *l, double q)
{
	size_t	i = (size_t)(q * (double)(l->n - 1) + 0.5);

	return l->v[i] / 1000.0;
}

/* {"p50_ms":…,"p90_ms":…,"p99_ms":…,"p999_ms":…,"max_ms":…,"mean_ms":…} */
cJSON *
lat_json(struct lat *l)
{
	cJSON	*o;
	double	 sum = 0;
	size_t	 i;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	if (l->n == 0)
		return o;
	qsort(l->v, l->n, sizeof(*l->v), lat_cmp);
	for (i = 0; i < l->n; i++)
		sum += l->v[i];
	cJSON_AddNumberToObject(o, "p50_ms", lat_at(l, 0.50));
	cJSON_AddNumberToObject(o, "p90_ms", lat_at(l, 0.90));
	cJSON_AddNumberToObject(o, "p99_ms", lat_at(l, 0.99));
	cJSON_AddNumberToObject(o, "p999_ms", lat_at(l, 0.999));
	cJSON_AddNumberToObject(o, "max_ms", l->v[l->n - 1] / 1000.0);
	cJSON_AddNumberToObject(o, "mean_ms", sum / (double)l->n / 1000.0);
	return o;
}

void
lat_free(struct lat *l)
{
	if (l == NULL)
		return;
	free(l->v);
	free(l);
}
