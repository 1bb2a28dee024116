// Two chat nodes on one Galera cluster and one Redis: alice on node 1 and
// bob on node 2 chat both ways on both transports, live; a friend request
// and its confirmation cross too, and so do presence and receipts; an
// account connected to both nodes gets everything on every connection,
// the carbons of what it sends included.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { closeAll } from '../lib/client.mjs';

import { assertSuccess } from '../lib/expect.mjs';
import { newUsers } from '../lib/friends.mjs';
import { HAVE_CLUSTER, collect, connectAt, loggedInAt, useNode } from
    '../lib/cluster.mjs';
import { login, drain } from '../lib/users.mjs';

const skip = HAVE_CLUSTER ? false : 'no cluster (tests/cluster/run.sh)';

async function nextWhere(c, pred, timeout = 10000) {
	for (;;) {
		const p = await c.next(timeout);
		if (pred(p))
			return p;
	}
}

// a on node 1 and b on node 2 become friends through both nodes.
async function befriendAcross(a, b, ta = 'ws', tb = 'tcp') {
	const ca = await loggedInAt(1, ta, a);
	const cb = await loggedInAt(2, tb, b);
	const about = (cmd) => (p) => p.command === cmd && p.src === a.id &&
	    p.dst === b.id;
	assertSuccess(await ca.request({ command: 'add_friend', src: a.id,
	    dst: b.id, status: '0' }), 'add_friend_return');
	// Stored on node 1's Galera node, relayed live to node 2.
	await nextWhere(cb, about('add_friend'));
	cb.send({ command: 'add_friend_confirm', src: a.id, dst: b.id,
	    status: '0', message: 'confirm_two_way' });
	for (const c of [cb, ca])
		assertSuccess(await nextWhere(c, about('add_friend_confirm_return')),
		    'add_friend_confirm_return');
	return [ca, cb];
}

describe('across nodes', { skip }, () => {
	useNode(1);
	afterEach(closeAll);
	for (const [ta, tb] of [['ws', 'ws'], ['tcp', 'tcp'], ['ws', 'tcp']]) {
		test(`alice on node 1 (${ta}) and bob on node 2 (${tb}) chat ` +
		    'both ways, live, in order', async () => {
			const [a, b] = await newUsers(2);
			const [ca, cb] = await befriendAcross(a, b, ta, tb);
			const n = 20;
			const aToB = [], bToA = [];
			for (let i = 0; i < n; i++) {
				aToB.push(`a->b ${ta}/${tb} ${i}`);
				bToA.push(`b->a ${ta}/${tb} ${i}`);
				ca.send({ command: 'send_message', src: a.id,
				    dst: b.id, message: aToB[i] });
				cb.send({ command: 'send_message', src: b.id,
				    dst: a.id, message: bToA[i] });
			}
			const gotB = await collect(cb, a, aToB);
			const gotA = await collect(ca, b, bToA);
			assert.deepEqual(gotB, aToB, 'bob got alice\'s, in order');
			assert.deepEqual(gotA, bToA, 'alice got bob\'s, in order');
			ca.close();
			cb.close();
		});
	}

	test('presence and receipts cross nodes', async () => {
		const [a, b] = await newUsers(2);
		const [ca0, cb0] = await befriendAcross(a, b);
		ca0.close();
		cb0.close();
		const ca = await connectAt(1, 'ws', { notices: true });
		await login(ca, a);
		await drain(ca, a);
		// bob comes online on node 2: alice, on node 1, is told.
		const cb = await connectAt(2, 'tcp', { notices: true });
		await login(cb, b);
		await nextWhere(ca, (p) => p.command === 'presence' &&
		    p.id === b.id && p.online === true);
		await drain(cb, b);
		const r = await ca.request({ command: 'send_message', src: a.id,
		    dst: b.id, message: 'tick' });
		assertSuccess(r, 'send_message_return');
		const m = await nextWhere(cb, (p) => p.command === 'send_message');
		assert.equal(m.message, 'tick');
		// bob's node wrote it and marked it: the receipt crosses back.
		const rc = await nextWhere(ca, (p) => p.command === 'receipt');
		assert.equal(rc.status, 'delivered');
		assert.ok(rc.msg_ids.map(String).includes(String(m.msg_id)),
		    JSON.stringify(rc));
		// bob leaves node 2: alice is told he is offline.
		cb.close();
		await nextWhere(ca, (p) => p.command === 'presence' &&
		    p.id === b.id && p.online === false);
		ca.close();
	});

	test('an account on both nodes gets everything on every connection, ' +
	    'carbons included', async () => {
		const [a, b] = await newUsers(2);
		const [ca0, cb0] = await befriendAcross(a, b);
		ca0.close();
		cb0.close();
		const ca = await loggedInAt(1, 'tcp', a);
		const b1 = await loggedInAt(1, 'ws', b, { notices: true });
		const b2 = await loggedInAt(2, 'tcp', b, { notices: true });
		const texts = Array.from({ length: 15 }, (_, i) => `both ${i}`);
		for (const t of texts)
			ca.send({ command: 'send_message', src: a.id, dst: b.id,
			    message: t });
		assert.deepEqual(await collect(b1, a, texts), texts, 'node 1');
		assert.deepEqual(await collect(b2, a, texts), texts, 'node 2');
		// bob sends from node 2: alice gets it on node 1, and bob's
		// node 1 connection gets the carbon.
		const r = await b2.request({ command: 'send_message', src: b.id,
		    dst: a.id, message: 'from node 2' });
		assertSuccess(r, 'send_message_return');
		const got = await collect(ca, b, ['from node 2']);
		assert.deepEqual(got, ['from node 2']);
		const carbon = await nextWhere(b1, (p) => p.command === 'sent');
		assert.equal(carbon.message, 'from node 2');
		assert.equal(carbon.dst, a.id);
		for (const c of [ca, b1, b2])
			c.close();
	});
});
