// kill -9 of Redis in the middle of a conversation across nodes, then
// Redis started again: the messages acknowledged while it was away were
// committed, so the recipient's node fetches them once its subscription
// is back.  None is lost; the sender never sees an error.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { closeAll } from '../lib/client.mjs';

import { befriend, newUsers } from '../lib/friends.mjs';
import { HAVE_CLUSTER, clusterCmd, collect, loggedInAt, sendSeries, sleep,
    tally, useNode } from '../lib/cluster.mjs';

const skip = HAVE_CLUSTER ? false : 'no cluster (tests/cluster/run.sh)';

describe('Redis killed mid-conversation', { skip }, () => {
	useNode(1);
	afterEach(closeAll);
	test('0 acknowledged messages lost, delivered on the live ' +
	    'connection once Redis is back', { timeout: 180000 }, async () => {
		const [a, b] = await newUsers(2);
		await befriend(a, b);
		const ca = await loggedInAt(1, 'tcp', a);
		const cb = await loggedInAt(2, 'ws', b);
		const count = 150;
		const texts = Array.from({ length: count },
		    (_, i) => `redis ${i}`);
		const receiving = collect(cb, a, texts, 20000);
		let killedAt = 0;
		const res = await sendSeries(ca, a, b, 'redis', count, 20, [
			{ at: 40, fn: async () => {
				await clusterCmd('kill-redis');
				killedAt = Date.now();
			} },
			{ at: 90, fn: async () => {
				// Away for at least 2 s: the daemons' retries fail.
				await sleep(Math.max(0, 2000 -
				    (Date.now() - killedAt)));
				await clusterCmd('start-redis');
			} },
		]);
		const received = await receiving;
		const t = tally('redis-kill', { ...res, received });
		assert.equal(t.sent, count);
		assert.equal(t.acknowledged, count,
		    'sending never depends on Redis');
		assert.equal(t.lost, 0, `lost: ${t.lostTexts.join(', ')}`);
		ca.close();
		cb.close();
	});
});
