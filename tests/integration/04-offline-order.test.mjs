// What waits for an offline account comes right after its login_return, in
// the order PROTOCOL.md (login) gives: friend requests, then confirm
// results, then messages in the order sent; and, outside ack mode, only the
// unanswered requests come again at the next login.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { TRANSPORTS, closeAll, connect } from '../lib/client.mjs';
import { assertSuccess, pick } from '../lib/expect.mjs';
import { befriend, newUsers, untilOffline } from '../lib/friends.mjs';
import { drain, login, loggedIn } from '../lib/users.mjs';

const other = (t) => (t === 'ws' ? 'tcp' : 'ws');

async function send(c, a, b, message) {
	assertSuccess(await c.request({ command: 'send_message', src: a.id,
	    dst: b.id, message }), 'send_message_return');
}

// B (a friend of A) has asked D and gone offline.  Then, in this order:
// A sends two messages, C asks B, D confirms B's request, A sends three
// more.  The others use the transport B will not log in on.
async function offlineBacklog(transport) {
	const [a, b, c, d] = await newUsers(4);
	await befriend(a, b);
	const cb = await loggedIn(transport, b);
	assertSuccess(await cb.request({ command: 'add_friend', src: b.id,
	    dst: d.id, status: '1' }), 'add_friend_return');
	cb.close();
	const ca = await loggedIn(other(transport), a);
	await untilOffline(ca, a, b);

	await send(ca, a, b, 'offline 1');
	await send(ca, a, b, 'offline 2');
	const cc = await loggedIn(other(transport), c);
	assertSuccess(await cc.request({ command: 'add_friend', src: c.id,
	    dst: b.id, status: '1' }), 'add_friend_return');
	const cd = await loggedIn(other(transport), d);
	assert.deepEqual(cd.backlog.map((p) => pick(p, 'command', 'src')),
	    [{ command: 'add_friend', src: b.id }]);
	assertSuccess(await cd.request({ command: 'add_friend_confirm',
	    src: b.id, dst: d.id, status: '0', message: 'confirm_two_way' }),
	    'add_friend_confirm_return');
	for (let i = 3; i <= 5; i++)
		await send(ca, a, b, `offline ${i}`);
	return { a, b, c, d };
}

// The request from C, the result of B's request to D, A's five messages.
function assertBacklog(got, { a, b, c, d }) {
	assert.equal(got.length, 7, JSON.stringify(got));
	assert.deepEqual(pick(got[0], 'command', 'src', 'dst', 'status',
	    'username'), { command: 'add_friend', src: c.id, dst: b.id,
	    status: '1', username: c.username });
	assert.deepEqual(pick(got[1], 'command', 'status', 'src', 'dst'),
	    { command: 'add_friend_confirm_return', status: 'success',
	    src: b.id, dst: d.id });
	const messages = got.slice(2);
	assert.deepEqual(messages.map((p) => pick(p, 'command', 'src', 'dst',
	    'message')), [1, 2, 3, 4, 5].map((i) => ({ command: 'send_message',
	    src: a.id, dst: b.id, message: `offline ${i}` })));
	const ids = messages.map((p) => BigInt(p.msg_id));
	for (let i = 1; i < ids.length; i++)
		assert.ok(ids[i] > ids[i - 1], `msg_ids out of order: ${ids}`);
}

for (const transport of TRANSPORTS) {
	describe(`${transport}: what waited while offline`, () => {
		afterEach(closeAll);

		test('a friend request, a confirm result and five messages come ' +
		    'right after login_return: the request first, then the ' +
		    'result, then the messages in the order sent', async () => {
			const u = await offlineBacklog(transport);
			const cb = await connect(transport);
			await login(cb, u.b);
			// drain() stops at the answer to a packet sent after
			// login_return: all of this came before it.
			assertBacklog(await drain(cb, u.b), u);
		});

		test('at the following login only the unanswered friend ' +
		    'request comes again', async () => {
			const u = await offlineBacklog(transport);
			const cb = await loggedIn(transport, u.b);
			assertBacklog(cb.backlog, u);
			cb.close();
			const again = await loggedIn(other(transport), u.b);
			assert.deepEqual(again.backlog.map((p) => pick(p, 'command',
			    'src')), [{ command: 'add_friend', src: u.c.id }]);
		});
	});
}
