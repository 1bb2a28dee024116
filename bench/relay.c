/*
 * The relay workload: P pairs of fresh accounts become friends, then the
 * first of each pair sends the second one-to-one messages, either at a
 * fixed total rate (open loop: each message is stamped with the time it
 * was due, so a stall shows in the latency instead of hiding) or
 * saturated, with W messages per sender between send and delivery.
 * Every message's text is "pair:seq:time_us:" padded to SIZE bytes, so
 * the receiver matches it to its send: latency, lost, reordered,
 * duplicated.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define RELAY_TICK_US		1000	/* rate mode's timer */
#define RELAY_DRAIN_IDLE_S	3	/* drain ends after this long quiet */
#define RELAY_DRAIN_MAX_S	60.0	/* and in any case after this */
#define RELAY_SETUP_S		300.0	/* give up on a stuck set-up */
#define RELAY_FAILS		8	/* fail details counted */
#define RELAY_FRIEND_RETRIES	10

enum {
	RELAY_SETUP,
	RELAY_FRIENDS,
	RELAY_RUN,
	RELAY_DRAIN,
	RELAY_DONE
};

struct pair {
	struct bconn	*a;		/* sends */
	struct bconn	*b;		/* receives */
	int		 friends;	/* 1 once confirmed */
	int		 retries;	/* friend packets sent again */
	uint64_t	 sent;		/* next seq */
	int		 inflight;	/* saturated: sent, not yet seen */
	uint64_t	 max_seen;	/* highest seq received + 1 */
	uint8_t		*seen;		/* bitmap of seqs received */
	size_t		 seen_len;	/* bytes */
	uint64_t	 received;	/* unique */
	uint64_t	 in_window;	/* unique, in the measured window */
};

struct relay_fail {
	char		 detail[48];
	uint64_t	 count;
};

struct relay {
	int		 phase;
	int		 npairs;
	struct pair	*pairs;
	struct bconn	**conns;
	struct setup	*setup;
	int		 friends;	/* pairs confirmed */
	int		 friend_fails;
	int		 friend_retries;
	double		 t0, t_end;	/* the window as planned */
	double		 t_stop;	/* the run ended: t0..t_stop measured */
	double		 t_done;	/* the drain ended */
	uint64_t	 t0_us;
	struct event	*tick;
	struct event	*watchdog;
	struct lat	*lat;
	uint64_t	 sent;
	uint64_t	 send_errors;	/* the generator could not send */
	uint64_t	 returns_ok;
	uint64_t	 failed;
	uint64_t	 received;	/* unique */
	uint64_t	 in_window;	/* unique, received t0..t_stop */
	uint64_t	 reordered;
	uint64_t	 duplicated;
	uint64_t	 closed;
	uint64_t	 drain_seen;	/* received + failed, last check */
	int		 drain_quiet;	/* seconds without progress */
	double		 drain_t;	/* the drain began */
	const char	*closed_why;
	struct relay_fail fails[RELAY_FAILS];
	struct procstat	*ps0;
	struct procstat	*ps1;
	cJSON		*bs0;		/* batches at the window's ends */
	cJSON		*bs1;
	char		 pad[BENCH_PACKET_MAX];
};

static struct relay	R;

static void	relay_packet(struct bconn *, cJSON *, const char *);
static void	relay_closed(struct bconn *, const char *);
static void	relay_finish(void);

static const struct bconn_ops relay_ops = {
	NULL, relay_packet, relay_closed
};

/* Sends message seq of pair p, stamped t_us; -1 if it could not. */
static int
relay_send(struct pair *p, uint64_t t_us)
{
	char		 text[BENCH_PACKET_MAX], id[24];
	cJSON		*m;
	int		 n, rc;

	n = snprintf(text, sizeof(text), "%d:%" PRIu64 ":%" PRIu64 ":",
	    (int)(p - R.pairs), p->sent, t_us);
	if (n < opts.size)
		memcpy(text + n, R.pad, (size_t)(opts.size - n));
	text[n < opts.size ? opts.size : n] = '\0';
	if ((m = cJSON_CreateObject()) == NULL)
		return -1;
	cJSON_AddStringToObject(m, "command", "send_message");
	snprintf(id, sizeof(id), "%" PRIu64, p->a->account);
	cJSON_AddStringToObject(m, "src", id);
	snprintf(id, sizeof(id), "%" PRIu64, p->b->account);
	cJSON_AddStringToObject(m, "dst", id);
	cJSON_AddStringToObject(m, "message", text);
	rc = bconn_send_json(p->a, m);
	cJSON_Delete(m);
	if (rc == -1) {
		R.send_errors++;
		return -1;
	}
	p->sent++;
	p->inflight++;
	R.sent++;
	return 0;
}

/* Saturated: keeps W messages of p on their way. */
static void
relay_refill(struct pair *p)
{
	while (R.phase == RELAY_RUN && p->inflight < opts.inflight &&
	    p->a->state == BCONN_OPEN)
		if (relay_send(p, now_us()) == -1)
			break;
}

/* Rate mode: sends what is due; pair i is offset by i/P of a period. */
static void
relay_tick(evutil_socket_t fd, short what, void *arg)
{
	struct pair	*p;
	double		 per_pair = opts.rate / R.npairs, el, due;
	uint64_t	 k;
	int		 i;

	(void)fd;
	(void)what;
	(void)arg;
	/* Saturated: this is the end timer (libevent may fire it early). */
	if (opts.rate == 0 || now_s() >= R.t_end) {
		relay_finish();
		return;
	}
	el = (double)(now_us() - R.t0_us) / 1e6;
	for (i = 0; i < R.npairs; i++) {
		p = &R.pairs[i];
		if (!p->friends || p->a->state != BCONN_OPEN)
			continue;
		due = floor(el * per_pair - (double)i / R.npairs) + 1;
		for (k = p->sent; (double)k < due; k = p->sent)
			if (relay_send(p, R.t0_us + (uint64_t)(((double)k +
			    (double)i / R.npairs) / per_pair * 1e6)) == -1)
				break;
	}
}

static void
relay_fail_count(const char *detail)
{
	int	i;

	R.failed++;
	for (i = 0; i < RELAY_FAILS; i++) {
		if (R.fails[i].count == 0)
			snprintf(R.fails[i].detail, sizeof(R.fails[i].detail),
			    "%s", detail);
		if (strcmp(R.fails[i].detail, detail) == 0) {
			R.fails[i].count++;
			return;
		}
	}
}

/* Marks seq seen in p; returns 1 if it was already. */
static int
relay_seen(struct pair *p, uint64_t seq)
{
	size_t	 need = (size_t)(seq / 8) + 1, len;
	uint8_t	*ns;
	int	 was;

	if (need > p->seen_len) {
		len = p->seen_len == 0 ? 1024 : p->seen_len;
		while (len < need)
			len *= 2;
		if ((ns = realloc(p->seen, len)) == NULL)
			return 0;
		memset(ns + p->seen_len, 0, len - p->seen_len);
		p->seen = ns;
		p->seen_len = len;
	}
	was = p->seen[seq / 8] & (1u << (seq % 8));
	p->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	return was != 0;
}

/* A message has reached its receiver. */
static void
relay_received(cJSON *pkt)
{
	const cJSON	*m = cJSON_GetObjectItemCaseSensitive(pkt, "message");
	struct pair	*p;
	uint64_t	 seq, t_us, now = now_us();
	char		*s;
	long		 i;

	if (!cJSON_IsString(m))
		return;
	i = strtol(m->valuestring, &s, 10);
	if (i < 0 || i >= R.npairs || *s != ':')
		return;
	seq = strtoull(s + 1, &s, 10);
	if (*s != ':')
		return;
	t_us = strtoull(s + 1, &s, 10);
	p = &R.pairs[i];
	if (relay_seen(p, seq)) {
		R.duplicated++;
		return;
	}
	R.received++;
	p->received++;
	if (R.phase == RELAY_RUN) {
		R.in_window++;
		p->in_window++;
	}
	if (seq + 1 < p->max_seen)
		R.reordered++;
	else
		p->max_seen = seq + 1;
	lat_add(R.lat, now > t_us ? now - t_us : 0);
	p->inflight--;
	if (opts.rate == 0)
		relay_refill(p);
}

/*
 * A "server error" (concurrent friend requests of unrelated accounts
 * can deadlock in InnoDB; the protocol says nothing was done and the
 * client may retry) is retried a few times and counted.
 */
static int
relay_friend_retry(struct pair *p, cJSON *pkt, int confirm)
{
	if (strcmp(session_detail(pkt), "server error") != 0 ||
	    p->retries >= RELAY_FRIEND_RETRIES)
		return -1;
	p->retries++;
	R.friend_retries++;
	return confirm ? session_confirm(p->b, p->a->account) :
	    session_add_friend(p->a, p->b->account);
}

static void
relay_friend_packet(struct bconn *c, cJSON *pkt, const char *command)
{
	struct pair	*p = &R.pairs[c->idx / 2];
	int		 confirm;

	if (c == p->a && strcmp(command, "add_friend_return") == 0)
		confirm = 0;
	else if (c == p->b && !p->friends &&
	    strcmp(command, "add_friend_confirm_return") == 0)
		confirm = 1;
	else
		return;
	if (!session_ok(pkt)) {
		if (relay_friend_retry(p, pkt, confirm) == 0)
			return;
		bench_progress("%s: %s", command, session_detail(pkt));
		R.friend_fails++;
	} else if (!confirm) {
		if (session_confirm(p->b, p->a->account) == -1)
			R.friend_fails++;
		return;
	} else {
		p->friends = 1;
		R.friends++;
	}
	if (R.friends + R.friend_fails == R.npairs)
		relay_finish();
}

static void
relay_packet(struct bconn *c, cJSON *pkt, const char *command)
{
	if (R.phase == RELAY_FRIENDS) {
		relay_friend_packet(c, pkt, command);
		return;
	}
	if (R.phase != RELAY_RUN && R.phase != RELAY_DRAIN)
		return;
	if (c->idx % 2 == 1 && strcmp(command, "send_message") == 0)
		relay_received(pkt);
	else if (c->idx % 2 == 0 &&
	    strcmp(command, "send_message_return") == 0) {
		if (session_ok(pkt))
			R.returns_ok++;
		else {
			relay_fail_count(session_detail(pkt));
			R.pairs[c->idx / 2].inflight--;
			if (opts.rate == 0)
				relay_refill(&R.pairs[c->idx / 2]);
		}
	} else
		return;
	if (R.phase == RELAY_DRAIN && R.received + R.failed >= R.sent)
		relay_finish();
}

static void
relay_closed(struct bconn *c, const char *why)
{
	(void)c;
	R.closed++;
	if (R.closed_why == NULL)
		R.closed_why = why;
}

static void
relay_start_run(void)
{
	struct timeval	tv = { 0, RELAY_TICK_US };
	int		i;

	bench_progress("%d pairs are friends (%d failed); running %.1f s",
	    R.friends, R.friend_fails, opts.duration);
	R.phase = RELAY_RUN;
	R.ps0 = procstat_take(opts.stack_dir);
	R.bs0 = batches_take(opts.stack_dir);
	bench_cpu_start();
	R.t0 = now_s();
	R.t0_us = now_us();
	R.t_end = R.t0 + opts.duration;
	if (opts.rate > 0) {
		R.tick = event_new(base, -1, EV_PERSIST, relay_tick, NULL);
		event_add(R.tick, &tv);
		return;
	}
	for (i = 0; i < R.npairs; i++)
		if (R.pairs[i].friends)
			relay_refill(&R.pairs[i]);
	tv.tv_sec = (time_t)opts.duration;
	tv.tv_usec = (suseconds_t)((opts.duration - (double)tv.tv_sec) * 1e6);
	R.tick = event_new(base, -1, 0, relay_tick, NULL);
	event_add(R.tick, &tv);
}

static void
relay_start_friends(void)
{
	struct pair	*p;
	int		 i;

	R.phase = RELAY_FRIENDS;
	setup_handover(R.setup, &relay_ops, NULL);
	for (i = 0; i < R.npairs; i++) {
		p = &R.pairs[i];
		p->a = R.conns[2 * i];
		p->b = R.conns[2 * i + 1];
		if (p->a == NULL || p->b == NULL ||
		    p->a->state != BCONN_OPEN || p->b->state != BCONN_OPEN ||
		    session_add_friend(p->a, p->b->account) == -1)
			R.friend_fails++;
	}
	bench_progress("setup done; making %d friend pairs", R.npairs);
	if (R.friend_fails == R.npairs)
		relay_finish();
}

/*
 * During the drain, once a second: the drain ends when nothing has come
 * for RELAY_DRAIN_IDLE_S seconds (what is missing then is lost), or after
 * RELAY_DRAIN_MAX_S.  Before the run, the watchdog of a stuck set-up.
 */
static void
relay_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	tv = { 1, 0 };

	(void)fd;
	(void)what;
	(void)arg;
	if (R.phase != RELAY_DRAIN) {
		bench_progress("set-up stuck in phase %d: giving up", R.phase);
		R.phase = RELAY_DONE;
		event_base_loopbreak(base);
		return;
	}
	if (R.received + R.failed == R.drain_seen)
		R.drain_quiet++;
	else
		R.drain_quiet = 0;
	R.drain_seen = R.received + R.failed;
	if (R.drain_quiet >= RELAY_DRAIN_IDLE_S ||
	    now_s() - R.drain_t >= RELAY_DRAIN_MAX_S)
		relay_finish();
	else
		evtimer_add(R.watchdog, &tv);
}

/* Moves to the next phase. */
static void
relay_finish(void)
{
	struct timeval	tv = { 1, 0 };

	switch (R.phase) {
	case RELAY_SETUP:
		relay_start_friends();
		break;
	case RELAY_FRIENDS:
		relay_start_run();
		break;
	case RELAY_RUN:
		/*
		 * The run ends at the first tick past t_end, or when the
		 * saturated mode's timer fires, early or late: the rates
		 * count what was sent and received up to here.
		 */
		R.t_stop = now_s();
		bench_cpu_stop();
		R.ps1 = procstat_take(opts.stack_dir);
		R.bs1 = batches_take(opts.stack_dir);
		event_del(R.tick);
		R.phase = RELAY_DRAIN;
		R.drain_t = now_s();
		evtimer_del(R.watchdog);
		evtimer_add(R.watchdog, &tv);
		if (R.received + R.failed >= R.sent)
			relay_finish();
		break;
	case RELAY_DRAIN:
		R.t_done = now_s();
		R.phase = RELAY_DONE;
		event_base_loopbreak(base);
		break;
	}
}

static void
relay_setup_done(void *arg)
{
	(void)arg;
	relay_finish();
}

/* Fairness: the fewest and most messages one pair got through. */
static void
relay_fairness(cJSON *o)
{
	uint64_t	lo = UINT64_MAX, hi = 0;
	int		i, starved = 0;

	for (i = 0; i < R.npairs; i++) {
		if (!R.pairs[i].friends)
			continue;
		if (R.pairs[i].received < lo)
			lo = R.pairs[i].received;
		if (R.pairs[i].received > hi)
			hi = R.pairs[i].received;
	}
	if (hi == 0)
		return;
	for (i = 0; i < R.npairs; i++)
		if (R.pairs[i].friends && R.pairs[i].in_window == 0 &&
		    starved++ == 0)
			bench_progress("pair %d (accounts %llu -> %llu) had "
			    "nothing delivered in the window", i,
			    (unsigned long long)R.pairs[i].a->account,
			    (unsigned long long)R.pairs[i].b->account);
	cJSON_AddNumberToObject(o, "pairs_starved", starved);
	cJSON_AddNumberToObject(o, "pair_delivered_min", (double)lo);
	cJSON_AddNumberToObject(o, "pair_delivered_max", (double)hi);
}

/* The measured window, in seconds (0 if the run never started). */
static double
relay_window(void)
{
	return R.t_stop > R.t0 ? R.t_stop - R.t0 : 0;
}

/* n per second of the measured window. */
static double
relay_per_s(uint64_t n)
{
	double	w = relay_window();

	return w > 0 ? (double)n / w : 0;
}

static cJSON *
relay_result(void)
{
	cJSON		*o, *f;
	uint64_t	 lost;
	int		 i;

	o = bench_result_new();
	cJSON_AddStringToObject(o, "mode", opts.rate > 0 ? "rate" :
	    "saturated");
	cJSON_AddNumberToObject(o, "pairs", R.npairs);
	cJSON_AddNumberToObject(o, "rate", opts.rate);
	cJSON_AddNumberToObject(o, "inflight", opts.rate > 0 ? 0 :
	    opts.inflight);
	cJSON_AddNumberToObject(o, "size", opts.size);
	cJSON_AddNumberToObject(o, "duration", opts.duration);
	cJSON_AddNumberToObject(o, "window_seconds", relay_window());
	cJSON_AddItemToObject(o, "setup", setup_json(R.setup));
	cJSON_AddNumberToObject(o, "friend_pairs", R.friends);
	cJSON_AddNumberToObject(o, "friend_retries", R.friend_retries);
	cJSON_AddNumberToObject(o, "sent", (double)R.sent);
	cJSON_AddNumberToObject(o, "sent_per_s", relay_per_s(R.sent));
	cJSON_AddNumberToObject(o, "send_errors", (double)R.send_errors);
	cJSON_AddNumberToObject(o, "failed", (double)R.failed);
	f = cJSON_AddObjectToObject(o, "fail_details");
	for (i = 0; i < RELAY_FAILS; i++)
		if (R.fails[i].count > 0)
			cJSON_AddNumberToObject(f, R.fails[i].detail,
			    (double)R.fails[i].count);
	cJSON_AddNumberToObject(o, "delivered", (double)R.received);
	cJSON_AddNumberToObject(o, "delivered_per_s", relay_per_s(R.in_window));
	lost = R.sent - R.failed > R.received ? R.sent - R.failed -
	    R.received : 0;
	cJSON_AddNumberToObject(o, "lost", (double)lost);
	cJSON_AddNumberToObject(o, "drain_seconds", R.t_done > R.t_stop ?
	    R.t_done - R.t_stop : 0);
	relay_fairness(o);
	cJSON_AddNumberToObject(o, "reordered", (double)R.reordered);
	cJSON_AddNumberToObject(o, "duplicated", (double)R.duplicated);
	cJSON_AddNumberToObject(o, "connections_closed", (double)R.closed);
	if (R.closed_why != NULL)
		cJSON_AddStringToObject(o, "closed_reason", R.closed_why);
	cJSON_AddItemToObject(o, "latency", lat_json(R.lat));
	if (R.bs0 != NULL && R.bs1 != NULL)
		cJSON_AddItemToObject(o, "batches", batches_diff(R.bs0, R.bs1));
	if (R.ps0 != NULL && R.ps1 != NULL)
		cJSON_AddItemToObject(o, "processes",
		    procstat_diff(R.ps0, R.ps1, 0));
	bench_cpu_report(o);
	return o;
}

int
relay_run(void)
{
	struct timeval	 tv = { (time_t)RELAY_SETUP_S, 0 };
	cJSON		*o;
	int		 i, n = 2 * opts.pairs;

	memset(R.pad, 'x', sizeof(R.pad));
	R.npairs = opts.pairs;
	R.lat = lat_new();
	R.pairs = calloc((size_t)R.npairs, sizeof(*R.pairs));
	R.conns = calloc((size_t)n, sizeof(*R.conns));
	if (R.lat == NULL || R.pairs == NULL || R.conns == NULL)
		return -1;
	R.watchdog = evtimer_new(base, relay_drain_timeout, NULL);
	evtimer_add(R.watchdog, &tv);
	R.setup = setup_start(R.conns, n, NULL, relay_setup_done, NULL);
	if (R.setup == NULL)
		return -1;
	event_base_dispatch(base);
	bench_progress("sent %" PRIu64 ", delivered %" PRIu64
	    " (%.0f/s), failed %" PRIu64, R.sent, R.received,
	    relay_per_s(R.in_window), R.failed);
	o = relay_result();
	bench_result_print(o);
	cJSON_Delete(o);
	for (i = 0; i < n; i++)
		bconn_free(R.conns[i]);
	for (i = 0; i < R.npairs; i++)
		free(R.pairs[i].seen);
	if (R.tick != NULL)
		event_free(R.tick);
	event_free(R.watchdog);
	procstat_free(R.ps0);
	procstat_free(R.ps1);
	cJSON_Delete(R.bs0);
	cJSON_Delete(R.bs1);
	lat_free(R.lat);
	setup_free(R.setup);
	free(R.pairs);
	free(R.conns);
	return R.sent > 0 ? 0 : -1;
}
