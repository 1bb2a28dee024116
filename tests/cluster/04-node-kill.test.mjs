// kill -9 of a whole chat node (nginx, daemon, workers): its accounts
// stop showing online once its heartbeat is older than node_timeout, and
// its clients, reconnecting to the other node, miss nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';

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
	test('its accounts go offline within the heartbeat window and its ' +
	    'clients miss nothing on the other node', { timeout: 240000 },
	    async () => {
		const [a, b] = await newUsers(2);
		await befriend(a, b);
		const ca = await connectAt(1, 'ws', { notices: true });
		await login(ca, a);
		await drain(ca, a);
		const cb = await loggedInAt(2, 'tcp', b);
		const online = async () => (await friendList(ca, a))
		    .find((f) => f.id === b.id).online;
		await until('bob online', online);
		// Some messages in flight to node 2 as it dies.
		const before = await sendSeries(ca, a, b, 'node', 10, 0);
		const got = await collect(cb, a, before.acked, 3000);
		await clusterCmd('kill-node', 2);
		const killed = Date.now();
		const during = await sendSeries(ca, a, b, 'node dead', 30, 20);
		// Offline within node_timeout (plus a heartbeat or two).
		await until('bob offline', async () => !(await online()),
		    60000, 200);
		const offlineMs = Date.now() - killed;
		const notice = ca.notices.find((p) => p.command === 'presence' &&
		    p.id === b.id && p.online === false);
		assert.ok(notice, 'alice was told bob is offline');
		// bob's client reconnects to node 1.
		const cb1 = await connectAt(1, 'tcp');
		await login(cb1, b);
		const back = Date.now();
		const backlog = await drain(cb1, b);
		const received = got.concat(backlog.filter((p) =>
		    p.command === 'send_message' && p.src === a.id)
		    .map((p) => p.message));
		const t = tally('chat-node-kill', {
			sent: before.sent + during.sent,
			acked: before.acked.concat(during.acked),
			received, unavailableMs: back - killed,
		});
		console.log(`# counts chat-node-kill: offline_after_ms=${offlineMs}`);
		assert.equal(t.acknowledged, 40, 'node 1 answered throughout');
		assert.equal(t.lost, 0, `lost: ${t.lostTexts.join(', ')}`);
		// Another node reaps at its next heartbeat past the timeout.
		const timeout = confValue(1, 'node_timeout');
		const beat = confValue(1, 'node_heartbeat');
		assert.ok(offlineMs < (timeout + 2 * beat + 5) * 1000,
		    `offline after ${offlineMs} ms (node_timeout ${timeout})`);
		// The node comes back and serves again.
		await clusterCmd('start-node', 2);
		const c2 = await loggedInAt(2, 'ws', b);
		assertSuccess(await c2.request({ command: 'send_message',
		    src: b.id, dst: a.id, message: 'node 2 back' }),
		    'send_message_return');
		assert.deepEqual(await collect(ca, b, ['node 2 back']),
		    ['node 2 back']);
		for (const c of [ca, cb1, c2])
			c.close();
	});
});
