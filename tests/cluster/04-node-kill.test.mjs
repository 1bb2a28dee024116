// kill -9 of a whole chat node (nginx, daemon, workers): its accounts
// stop showing online once its heartbeat is older than node_timeout, and
// its clients, reconnecting to the other node, miss nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { afterEach, describe, test } from 'node:test';

import { closeAll } from '../lib/client.mjs';

import { assertSuccess } from '../lib/expect.mjs';
import { befriend, friendList, newUsers } from '../lib/friends.mjs';
import { HAVE_CLUSTER, cluster, clusterCmd, collect, connectAt,
    loggedInAt, sendSeries, tally, until, useNode } from
    '../lib/cluster.mjs';
import { login, drain } from '../lib/users.mjs';

const skip = HAVE_CLUSTER ? false : 'no cluster (tests/cluster/run.sh)';

// A setting of chat node n, from its chat.conf (the last line wins).
function confValue(n, name) {
	const text = fs.readFileSync(cluster.nodes[n - 1].chat_conf, 'utf8');
	let v = NaN;
	for (const line of text.split('\n')) {
		const m = /^\s*([a-z_]+)\s*=\s*(\S+)/.exec(line);
		if (m && m[1] === name)
			v = Number(m[2]);
	}
	return v;
}

describe('a chat node killed', { skip }, () => {
	useNode(1);
	afterEach(closeAll);
	test('its accounts go offline within the heartbeat window and its ' +
	    'clients miss nothing on the other node', { timeout: 240000 },
	    async () => {
		const [a, b, c] = await newUsers(3);
		await befriend(a, b);
		await befriend(a, c);
		// Its presence notices are set aside in ca.notices.
		const ca = await loggedInAt(1, 'ws', a);
		const cb = await loggedInAt(2, 'tcp', b);
		const cc = await loggedInAt(2, 'ws', c);
		const online = async (u) => (await friendList(ca, a))
		    .find((f) => f.id === u.id).online;
		await until('bob and carol online', async () =>
		    await online(b) && await online(c));
		// Some messages in flight to node 2 as it dies.
		const before = await sendSeries(ca, a, b, 'node', 10, 0);
		const got = await collect(cb, a, before.acked, 3000);
		await clusterCmd('kill-node', 2);
		const killed = Date.now();
		// bob's client reconnects to node 1 at once, as a client
		// behind a balancer would; carol's stays away.
		await cb.closed();
		const cb1 = await connectAt(1, 'tcp');
		await login(cb1, b);
		const bobBack = Date.now() - killed;
		const backlog = await drain(cb1, b);
		const during = await sendSeries(ca, a, b, 'node dead', 30, 20);
		const toCarol = await sendSeries(ca, a, c, 'carol', 10, 0);
		const live = await collect(cb1, a, during.acked, 5000);
		// carol shows offline within node_timeout plus a heartbeat or
		// two, and alice is told; bob, on node 1, stays online.
		await until('carol offline', async () => !(await online(c)),
		    60000, 200);
		const offlineMs = Date.now() - killed;
		assert.ok(ca.notices.find((p) => p.command === 'presence' &&
		    p.id === c.id && p.online === false),
		    'alice was told carol is offline');
		assert.equal(await online(b), true, 'bob is online on node 1');
		const received = got.concat(backlog.filter((p) =>
		    p.command === 'send_message' && p.src === a.id)
		    .map((p) => p.message), live);
		const t = tally('chat-node-kill', {
			sent: before.sent + during.sent,
			acked: before.acked.concat(during.acked),
			received, unavailableMs: bobBack,
		});
		console.log('# counts chat-node-kill: ' +
		    `reconnected_ms=${bobBack} offline_after_ms=${offlineMs}`);
		assert.equal(t.acknowledged, 40, 'node 1 answered throughout');
		assert.equal(t.lost, 0, `lost: ${t.lostTexts.join(', ')}`);
		// Another node reaps at its next heartbeat past the timeout.
		const timeout = confValue(1, 'node_timeout');
		const beat = confValue(1, 'node_heartbeat');
		assert.ok(offlineMs < (timeout + 2 * beat + 5) * 1000,
		    `offline after ${offlineMs} ms (node_timeout ${timeout})`);
		// carol comes back on node 1 and gets what waited.
		const cc1 = await loggedInAt(1, 'ws', c);
		const tc = tally('chat-node-kill-offline', {
			sent: toCarol.sent, acked: toCarol.acked,
			received: cc1.backlog.filter((p) =>
			    p.command === 'send_message').map((p) => p.message),
		});
		assert.equal(tc.lost, 0, `lost: ${tc.lostTexts.join(', ')}`);
		// The node comes back and serves again.
		await clusterCmd('start-node', 2);
		const c2 = await loggedInAt(2, 'ws', b);
		assertSuccess(await c2.request({ command: 'send_message',
		    src: b.id, dst: a.id, message: 'node 2 back' }),
		    'send_message_return');
		assert.deepEqual(await collect(ca, b, ['node 2 back']),
		    ['node 2 back']);
	});
});
