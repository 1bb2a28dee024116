/*
 * Token buckets for the per-connection packet rate (config packet_rate,
 * packet_burst).  Time is passed in so that tests need no clock.
 */
#include "push_daemon.h"

void
ratelimit_init(struct ratelimit *rl, double rate, double burst, double now)
{
	rl->rate = rate;
	rl->burst = burst;
	rl->tokens = burst;
	rl->last = now;
}

/* Takes one token if there is one; returns 1 if the packet may go on. */
int
ratelimit_take(struct ratelimit *rl, double now)
{
	if (now > rl->last) {
		rl->tokens += (now - rl->last) * rl->rate;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
		rl->last = now;
	}
	if (rl->tokens < 1.0)
		return 0;
	rl->tokens -= 1.0;
	return 1;
}
