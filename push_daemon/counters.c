/*
 * What the daemon counts for the admin socket's "metrics" (admin.c): open
 * connections and packets per transport, and the fails it words itself
 * per detail.  Counters only grow from the daemon's start, as Prometheus
 * expects of a counter; a restart shows as a reset, which it handles.
 *
 * The command of a packet is not counted: finding it means parsing the
 * JSON, which the daemon otherwise never does on the way in.  Details are
 * a fixed list, so that nothing a client sends can add a label value.
 */
#include <inttypes.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "push_daemon.h"

enum counters_tp {
	COUNTERS_WS,
	COUNTERS_TCP,
	COUNTERS_TP_COUNT
};

/* The fails the daemon answers without a worker; "other" for the rest. */
static const char *const counters_details[] = {
	"rate limited", "packet too large", "bad length", "server error",
	"too many connections", "other",
};
#define COUNTERS_DETAILS	(sizeof(counters_details) / \
				    sizeof(counters_details[0]))

static const char *const counters_tp_names[COUNTERS_TP_COUNT] = {
	"ws", "tcp",
};

static struct {
	uint64_t	conns[COUNTERS_TP_COUNT];	/* open now */
	uint64_t	opened[COUNTERS_TP_COUNT];	/* since start */
	uint64_t	in[COUNTERS_TP_COUNT];		/* packets from clients */
	uint64_t	out[COUNTERS_TP_COUNT];		/* packets to them */
	uint64_t	fails[COUNTERS_DETAILS];
} counters;

static enum counters_tp
counters_tp(const struct transport *tp)
{
	return tp == &transport_ws ? COUNTERS_WS : COUNTERS_TCP;
}

/* A connection of transport tp opened (delta 1) or ended (-1). */
void
counters_conn(const struct transport *tp, int delta)
{
	enum counters_tp	t = counters_tp(tp);

	if (delta > 0) {
		counters.conns[t]++;
		counters.opened[t]++;
	} else if (counters.conns[t] > 0)
		counters.conns[t]--;
}

void
counters_packet_in(const struct transport *tp)
{
	counters.in[counters_tp(tp)]++;
}

void
counters_packet_out(const struct transport *tp)
{
	counters.out[counters_tp(tp)]++;
}

void
counters_fail(const char *detail)
{
	size_t	i;

	for (i = 0; i < COUNTERS_DETAILS - 1; i++)
		if (strcmp(counters_details[i], detail) == 0)
			break;
	counters.fails[i]++;
}

/* One "NAME{LABELS} VALUE" line per sample, families together. */
void
counters_print(struct evbuffer *out)
{
	size_t	i;

	for (i = 0; i < COUNTERS_TP_COUNT; i++)
		evbuffer_add_printf(out, "chat_connections{transport=\"%s\"} %"
		    PRIu64 "\n", counters_tp_names[i], counters.conns[i]);
	for (i = 0; i < COUNTERS_TP_COUNT; i++)
		evbuffer_add_printf(out, "chat_connections_opened_total{"
		    "transport=\"%s\"} %" PRIu64 "\n", counters_tp_names[i],
		    counters.opened[i]);
	for (i = 0; i < COUNTERS_TP_COUNT; i++)
		evbuffer_add_printf(out, "chat_packets_received_total{"
		    "transport=\"%s\"} %" PRIu64 "\n", counters_tp_names[i],
		    counters.in[i]);
	for (i = 0; i < COUNTERS_TP_COUNT; i++)
		evbuffer_add_printf(out, "chat_packets_sent_total{"
		    "transport=\"%s\"} %" PRIu64 "\n", counters_tp_names[i],
		    counters.out[i]);
	for (i = 0; i < COUNTERS_DETAILS; i++)
		evbuffer_add_printf(out, "chat_daemon_fails_total{"
		    "detail=\"%s\"} %" PRIu64 "\n", counters_details[i],
		    counters.fails[i]);
}
