// Galera gives each node its own auto-increment offset, so message ids
// interleave between nodes and a lower id may commit after a higher one.
// A login's fetch pages by id (100 a page): what two senders on two nodes
// store while the recipient logs in, and before, must all arrive, by the
// fetch or live, none left for a later login.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { closeAll } from '../lib/client.mjs';
import { befriend, newUsers } from '../lib/friends.mjs';
import { HAVE_CLUSTER, chatSql, collect, galeraSql, loggedInAt, tally,
    useNode } from '../lib/cluster.mjs';

const skip = HAVE_CLUSTER ? false : 'no cluster (tests/cluster/run.sh)';

// Sends texts from u on c without waiting; resolves with those answered
// success, in order.
async function pipeline(c, u, to, texts) {
	for (const t of texts)
		c.send({ command: 'send_message', src: u.id, dst: to.id,
		    message: t });
	const acked = [];
	for (const t of texts) {
		const p = await c.next(20000);
		if (p.command === 'send_message_return' && p.status === 'success')
			acked.push(t);
	}
	return acked;
}

describe('ids interleaved between nodes', { skip }, () => {
	useNode(1);
	afterEach(closeAll);

	test('each Galera node has its own offset', async () => {
		const rows = [];
		for (const n of [1, 2, 3])
			rows.push((await galeraSql(n, 'SELECT ' +
			    '@@auto_increment_increment, @@auto_increment_offset'))[0]);
		assert.deepEqual(rows.map((r) => r[0]), ['3', '3', '3']);
		assert.equal(new Set(rows.map((r) => r[1])).size, 3);
	});

	test('a login paging through interleaved ids misses nothing, what ' +
	    'commits during it included', { timeout: 120000 }, async () => {
		const [a, c, b] = await newUsers(3);
		await befriend(a, b);
		await befriend(c, b);
		const ca = await loggedInAt(1, 'tcp', a);
		const cc = await loggedInAt(2, 'ws', c);
		const mk = (who, n) => Array.from({ length: n },
		    (_, i) => `${who} ${i}`);
		// 2 x 120 waiting: more than two pages, ids of two offsets.
		const [ackA, ackC] = await Promise.all([
			pipeline(ca, a, b, mk('a', 120)),
			pipeline(cc, c, b, mk('c', 120)),
		]);
		// (After 03's kill, node 1's workers may write through
		// Galera node 2 as node 2's do: then the offsets are one.)
		const ids = await chatSql(1, 'SELECT DISTINCT id % 3 FROM ' +
		    `messages WHERE recipient_id = ${b.id}`);
		console.log(`# counts interleaved-ids: offsets=${ids.length}`);
		// More from both while bob logs in on node 1.
		const lateA = mk('a late', 60), lateC = mk('c late', 60);
		const sending = Promise.all([pipeline(ca, a, b, lateA),
		    pipeline(cc, c, b, lateC)]);
		const cb = await loggedInAt(1, 'ws', b);
		const [ackLA, ackLC] = await sending;
		const fromBacklog = (u) => cb.backlog.filter((p) =>
		    p.command === 'send_message' && p.src === u.id)
		    .map((p) => p.message);
		const gotA = await collect(cb, a, ackA.concat(ackLA), 8000,
		    fromBacklog(a));
		const gotC = await collect(cb, c, ackC.concat(ackLC), 8000,
		    fromBacklog(c));
		const t = tally('interleaved-ids', {
			sent: 360, acked: [...ackA, ...ackLA, ...ackC, ...ackLC],
			received: [...gotA, ...gotC],
		});
		assert.equal(t.acknowledged, 360);
		assert.equal(t.lost, 0, `lost: ${t.lostTexts.slice(0, 10)}`);
		// Each sender's messages in the order sent.
		const order = (got, want) => got.filter((x) => want.includes(x));
		assert.deepEqual(order(gotA, [...ackA, ...ackLA]),
		    [...ackA, ...ackLA]);
		assert.deepEqual(order(gotC, [...ackC, ...ackLC]),
		    [...ackC, ...ackLC]);
	});
});
