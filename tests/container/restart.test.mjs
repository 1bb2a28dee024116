// What the pod must keep across restarts (tests/container/run.sh runs this
// against the pod it made): messages sent to an offline friend before the
// chat container restarts all arrive after it, in order; and when the
// whole pod is removed and made again, its data volume still holds the
// accounts, the friendships and what waits, under a new database password.
//
//   CHAT_TEST_HTTP, CHAT_TEST_TCP   the pod's ports, as for tests/integration
//   CHAT_TEST_RESTART               a shell command restarting the chat
//                                   container
//   CHAT_TEST_RECREATE              a shell command removing the pod (not
//                                   its data volume) and making it again
//                                   on the same ports
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { afterEach, describe, test } from 'node:test';

import { closeAll, http } from '../lib/client.mjs';
import { assertSuccess, pick } from '../lib/expect.mjs';
import { befriend, friendList, newUsers, untilOffline } from '../lib/friends.mjs';
import { loggedIn } from '../lib/users.mjs';

// Messages per check, half over each transport.
const COUNT = 40;

function run(variable) {
	const cmd = process.env[variable];
	if (!cmd)
		throw new Error(`${variable} is not set (tests/container/run.sh ` +
		    'sets it)');
	return new Promise((resolve, reject) => {
		execFile('/bin/sh', ['-c', cmd], { timeout: 180000 },
		    (err, stdout, stderr) => {
			if (err)
				reject(new Error(`${cmd}: ${err.message}\n` +
				    `${stdout}${stderr}`));
			else
				resolve();
		});
	});
}

// A restarted container listens again some time after podman returns.
async function untilHealthy(timeout = 90000) {
	const end = Date.now() + timeout;
	for (;;) {
		try {
			if ((await http('GET', '/api/health')).status === 200)
				return;
		} catch (e) {
			// nginx is not listening yet
		}
		assert.ok(Date.now() < end,
		    `no 200 from /api/health within ${timeout} ms`);
		await new Promise((r) => setTimeout(r, 200));
	}
}

// a, on one connection of each transport, sends COUNT messages to b, who
// is offline, each answered success (so committed) before the next.
async function sendWhileOffline(a, b, label) {
	const conns = { ws: await loggedIn('ws', a), tcp: await loggedIn('tcp', a) };
	await untilOffline(conns.ws, a, b);
	const texts = [];
	for (let i = 0; i < COUNT; i++) {
		const t = i % 2 ? 'tcp' : 'ws';
		const message = `${label} ${i} over ${t}`;
		assertSuccess(await conns[t].request({ command: 'send_message',
		    src: a.id, dst: b.id, message }), 'send_message_return');
		texts.push(message);
	}
	return { conns: Object.values(conns), texts };
}

// b's backlog at login is exactly a's messages, in the order sent.
function assertAllInOrder(backlog, a, b, texts) {
	assert.deepEqual(backlog.map((p) => pick(p, 'command', 'src', 'dst',
	    'message')), texts.map((message) => ({ command: 'send_message',
	    src: a.id, dst: b.id, message })));
	const ids = backlog.map((p) => BigInt(p.msg_id));
	for (let i = 1; i < ids.length; i++)
		assert.ok(ids[i] > ids[i - 1], `msg_ids out of order: ${ids}`);
}

async function assertFriends(u, f) {
	const c = await loggedIn('ws', u);
	const friends = await friendList(c, u);
	assert.ok(friends.some((x) => x.id === f.id),
	    `${f.id} is no longer a friend of ${u.id}: ${JSON.stringify(friends)}`);
	return c;
}

// The accounts of the first check, looked for again after the second.
let a, b;

describe('the chat container restarted', () => {
	afterEach(closeAll);
	let sent;

	test(`${COUNT} messages to an offline friend are answered success ` +
	    'before the restart', async () => {
		[a, b] = await newUsers(2);
		await befriend(a, b);
		sent = await sendWhileOffline(a, b, 'before the restart');
	});

	test('the restart closes the connections the old programs held, and ' +
	    '/api/health answers 200 again', async () => {
		assert.ok(sent, 'the messages were not sent');
		await run('CHAT_TEST_RESTART');
		await Promise.all(sent.conns.map((c) => c.closed()));
		await untilHealthy();
	});

	test('every message arrives at the next login, in the order sent',
	    async () => {
		assert.ok(sent, 'the messages were not sent');
		const cb = await loggedIn('tcp', b);
		assertAllInOrder(cb.backlog, a, b, sent.texts);
	});

	test('the two are still friends and talk live', async () => {
		const ca = await assertFriends(a, b);
		const cb = await loggedIn('tcp', b);
		assertSuccess(await ca.request({ command: 'send_message',
		    src: a.id, dst: b.id, message: 'after the restart' }),
		    'send_message_return');
		const p = await cb.next();
		assert.deepEqual(pick(p, 'command', 'src', 'message'),
		    { command: 'send_message', src: a.id,
		    message: 'after the restart' });
	});
});

describe('the pod removed and made again on its data volume', () => {
	afterEach(closeAll);
	let c, d, sent;

	test(`${COUNT} messages to an offline friend are answered success ` +
	    'before the pod goes', async () => {
		[c, d] = await newUsers(2);
		await befriend(c, d);
		sent = await sendWhileOffline(c, d, 'before the new pod');
		for (const conn of sent.conns)
			conn.close();
	});

	test('the new pod answers /api/health with 200', async () => {
		assert.ok(sent, 'the messages were not sent');
		await run('CHAT_TEST_RECREATE');
		await untilHealthy();
	});

	test('every message arrives at the next login, in the order sent',
	    async () => {
		assert.ok(sent, 'the messages were not sent');
		const cd = await loggedIn('ws', d);
		assertAllInOrder(cd.backlog, c, d, sent.texts);
	});

	test('accounts and friendships made before are still there', async () => {
		await assertFriends(c, d);
		assert.ok(a && b, 'the first check made no accounts');
		await assertFriends(b, a);
	});
});
