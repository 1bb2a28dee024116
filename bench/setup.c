/*
 * Getting many connections ready: each connects, registers a new account
 * (logon) or takes a given one, and logs in.  At most `concurrency`
 * connections are on their way at once, so that none waits past the
 * server's login_timeout behind the others' password hashes.  Failures are
 * counted by reason; after SETUP_GIVE_UP of them no new connection is
 * tried (a limit has been reached, which is what the idle workload wants
 * to find).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define SETUP_GIVE_UP	200
#define SETUP_REASONS	8

enum {
	SETUP_CONNECT,
	SETUP_LOGON,
	SETUP_LOGIN,
	SETUP_READY,
	SETUP_FAILED
};

static const char *const setup_phase_names[] = {
	"connecting", "logon", "login", "ready", "failed"
};

struct setup_reason {
	char	text[96];
	int	count;
};

struct setup {
	struct bconn		**conns;	/* the caller's array */
	const uint64_t		 *login_as;	/* 0: register first */
	int			  n;
	int			  concurrency;
	int			  next;		/* next to open */
	int			  active;	/* on their way */
	int			  ready;
	int			  failed;
	int			  logons;
	int			  finished;	/* done has been called */
	double			  t_start;
	double			  t_end;
	double			  t_logons;	/* when the last logon came */
	struct setup_reason	  reasons[SETUP_REASONS];
	void			(*done)(void *);
	void			 *arg;
};

static void	setup_open(struct bconn *);
static void	setup_packet(struct bconn *, cJSON *, const char *);
static void	setup_closed(struct bconn *, const char *);

static const struct bconn_ops setup_ops = {
	setup_open, setup_packet, setup_closed
};

static void
setup_reason(struct setup *s, const char *why, int phase)
{
	char	text[96];
	int	i;

	snprintf(text, sizeof(text), "%s (%s)", why, setup_phase_names[phase]);
	for (i = 0; i < SETUP_REASONS; i++) {
		if (s->reasons[i].count == 0)
			snprintf(s->reasons[i].text,
			    sizeof(s->reasons[i].text), "%s", text);
		if (strcmp(s->reasons[i].text, text) == 0) {
			s->reasons[i].count++;
			return;
		}
	}
}

/* Opens connections until the window is full; calls done at the end. */
static void
setup_fill(struct setup *s)
{
	struct bconn	*c;

	while (s->active < s->concurrency && s->next < s->n &&
	    s->failed < SETUP_GIVE_UP) {
		c = bconn_new(s->next, &setup_ops, s);
		if (c == NULL) {
			setup_reason(s, strerror(errno), SETUP_CONNECT);
			s->failed++;
			s->next++;
			continue;
		}
		c->phase = SETUP_CONNECT;
		s->conns[s->next++] = c;
		s->active++;
	}
	if (s->active == 0 && !s->finished) {
		s->finished = 1;
		s->t_end = now_s();
		s->done(s->arg);
	}
}

/* Bookkeeping for c, which will never be ready. */
static void
setup_lost(struct bconn *c, const char *why)
{
	struct setup	*s = c->arg;
	int		 phase = c->phase;

	c->phase = SETUP_FAILED;
	setup_reason(s, why, phase);
	s->failed++;
	s->active--;
	setup_fill(s);
}

static void
setup_fail(struct bconn *c, const char *why)
{
	int	phase = c->phase;

	c->phase = SETUP_FAILED;	/* setup_closed ignores it */
	bconn_close(c, NULL);
	c->phase = phase;
	setup_lost(c, why);
}

static void
setup_open(struct bconn *c)
{
	struct setup	*s = c->arg;
	uint64_t	 as = s->login_as != NULL ? s->login_as[c->idx] : 0;
	char		 name[32];
	int		 rc;

	if (as == 0) {
		snprintf(name, sizeof(name), "bench%d", c->idx);
		c->phase = SETUP_LOGON;
		rc = session_logon(c, name);
	} else {
		c->phase = SETUP_LOGIN;
		rc = session_login(c, as);
	}
	if (rc == -1)
		setup_fail(c, "send failed");
}

static void
setup_packet(struct bconn *c, cJSON *p, const char *command)
{
	struct setup	*s = c->arg;

	if (c->phase == SETUP_LOGON && strcmp(command, "logon_return") == 0) {
		if (!session_ok(p) || session_id(p, "id", &c->account) == -1) {
			setup_fail(c, session_detail(p));
			return;
		}
		s->logons++;
		s->t_logons = now_s();
		c->phase = SETUP_LOGIN;
		if (session_login(c, c->account) == -1)
			setup_fail(c, "send failed");
	} else if (c->phase == SETUP_LOGIN &&
	    strcmp(command, "login_return") == 0) {
		if (!session_ok(p)) {
			setup_fail(c, session_detail(p));
			return;
		}
		if (c->account == 0)
			c->account = s->login_as[c->idx];
		c->phase = SETUP_READY;
		s->ready++;
		s->active--;
		setup_fill(s);
	}
}

static void
setup_closed(struct bconn *c, const char *why)
{
	struct setup	*s = c->arg;

	if (c->phase == SETUP_FAILED)
		return;
	if (c->phase == SETUP_READY) {
		/* Lost after it was ready: no longer counted. */
		s->ready--;
		setup_reason(s, why, SETUP_READY);
		s->failed++;
		return;
	}
	setup_lost(c, why);
}

/*
 * Makes conns[0..n) ready (NULL where that failed) and calls done(arg)
 * once every one is ready or has failed.  login_as[i], if not 0, is the
 * account conns[i] logs in as without registering.
 */
struct setup *
setup_start(struct bconn **conns, int n, const uint64_t *login_as,
    void (*done)(void *), void *arg)
{
	struct setup	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->conns = conns;
	s->n = n;
	s->login_as = login_as;
	s->concurrency = opts.concurrency;
	s->done = done;
	s->arg = arg;
	s->t_start = now_s();
	bench_progress("setup: %d connections, %d at a time", n,
	    s->concurrency);
	setup_fill(s);
	return s;
}

int
setup_ready(const struct setup *s)
{
	return s->ready;
}

/*
 * Hands the ready connections to ops/arg.  The failed ones are closed and
 * stay in the array for the owner to free (this runs inside a
 * connection's callback, where none may be freed).
 */
void
setup_handover(struct setup *s, const struct bconn_ops *ops, void *arg)
{
	int	i;

	for (i = 0; i < s->n; i++) {
		if (s->conns[i] == NULL || s->conns[i]->phase != SETUP_READY)
			continue;
		s->conns[i]->ops = ops;
		s->conns[i]->arg = arg;
		s->conns[i]->phase = 0;
	}
}

cJSON *
setup_json(const struct setup *s)
{
	cJSON	*o, *r;
	double	 t = s->t_end - s->t_start;
	int	 i;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddNumberToObject(o, "connections", s->n);
	cJSON_AddNumberToObject(o, "ready", s->ready);
	cJSON_AddNumberToObject(o, "failed", s->failed);
	cJSON_AddNumberToObject(o, "seconds", t);
	cJSON_AddNumberToObject(o, "logons", s->logons);
	cJSON_AddNumberToObject(o, "ready_per_s", t > 0 ? s->ready / t : 0);
	r = cJSON_AddObjectToObject(o, "failures");
	for (i = 0; r != NULL && i < SETUP_REASONS; i++)
		if (s->reasons[i].count > 0)
			cJSON_AddNumberToObject(r, s->reasons[i].text,
			    s->reasons[i].count);
	return o;
}

void
setup_free(struct setup *s)
{
	free(s);
}

/* Why setup stopped, for the idle report: the most common failure. */
const char *
setup_worst(const struct setup *s)
{
	int	i, best = -1;

	for (i = 0; i < SETUP_REASONS; i++)
		if (s->reasons[i].count > 0 &&
		    (best == -1 || s->reasons[i].count > s->reasons[best].count))
			best = i;
	return best == -1 ? NULL : s->reasons[best].text;
}
