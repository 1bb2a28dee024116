// Messages between friends: live and stored delivery, order, limits, and
// the ack extension (PROTOCOL.md section 4, send_message and ack), across
// both transports.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { TRANSPORTS, closeAll, connect } from '../lib/client.mjs';
import { assertFail, assertSuccess, pick } from '../lib/expect.mjs';
import { untilOffline } from '../lib/friends.mjs';
import { drain, login, loggedIn, newUser } from '../lib/users.mjs';

const other = (t) => (t === 'ws' ? 'tcp' : 'ws');

// A packet every logged-in connection is answered the same way: what
// arrives before its answer is everything the server had queued.
const probe = (u) => ({ command: 'login', id: u.id, password: u.password });

// Two new accounts that are friends, B offline: the server has seen its
// connection end, so a message sent to B afterwards is stored for its
// next login, never written to that connection.  (A's connection may
// still be closing: the tests send to B.)
async function friends(transport) {
	const a = await newUser();
	const b = await newUser();
	const ca = await loggedIn(transport, a);
	const cb = await loggedIn(transport, b);
	assertSuccess(await ca.request({ command: 'add_friend', src: a.id,
	    dst: b.id, status: '0' }), 'add_friend_return');
	assert.equal((await cb.next()).command, 'add_friend');
	cb.send({ command: 'add_friend_confirm', src: a.id, dst: b.id,
	    status: '0', message: 'confirm_two_way' });
	assertSuccess(await cb.next(), 'add_friend_confirm_return');
	assertSuccess(await ca.next(), 'add_friend_confirm_return');
	cb.close();
	await untilOffline(ca, a, b);
	ca.close();
	return [a, b];
}

function assertMessage(p, a, b, message) {
	assert.deepEqual(pick(p, 'command', 'src', 'dst', 'message'),
	    { command: 'send_message', src: a.id, dst: b.id, message },
	    JSON.stringify(p));
	assert.match(p.msg_id, /^[1-9][0-9]*$/);
	assert.match(p.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
}

// Logs u in on a new connection; returns it and every packet that came
// before the answer to a probe.
async function loginAndDrain(transport, u, extra = {}) {
	const c = await connect(transport);
	await login(c, u, extra);
	return { c, got: await drain(c, u) };
}

async function send(c, a, b, message) {
	assertSuccess(await c.request({ command: 'send_message', src: a.id,
	    dst: b.id, message }), 'send_message_return');
}

for (const transport of TRANSPORTS) {
	describe(`${transport}: send_message`, () => {
		afterEach(closeAll);

		test('a message to an online friend arrives on the other ' +
		    'transport with msg_id and time', async () => {
			const [a, b] = await friends(transport);
			const ca = await loggedIn(transport, a);
			const cb = await loggedIn(other(transport), b);
			await send(ca, a, b, '你好, bob');
			assertMessage(await cb.next(), a, b, '你好, bob');
		});

		test('a message reaches every connection of the recipient',
		    async () => {
			const [a, b] = await friends(transport);
			const ca = await loggedIn(transport, a);
			const cb1 = await loggedIn('ws', b);
			const cb2 = await loggedIn('tcp', b);
			await send(ca, a, b, 'to both');
			const p1 = await cb1.next();
			const p2 = await cb2.next();
			assertMessage(p1, a, b, 'to both');
			assertMessage(p2, a, b, 'to both');
			assert.equal(p1.msg_id, p2.msg_id);
		});

		test('messages to an offline friend arrive in order at its next ' +
		    'login, and only once', async () => {
			const [a, b] = await friends(transport);
			const ca = await loggedIn(transport, a);
			for (let i = 1; i <= 3; i++)
				await send(ca, a, b, `stored ${i}`);
			const { c, got } = await loginAndDrain(other(transport), b);
			assert.deepEqual(got.map((p) => p.message),
			    ['stored 1', 'stored 2', 'stored 3']);
			got.forEach((p, i) => assertMessage(p, a, b, `stored ${i + 1}`));
			c.close();
			const again = await loginAndDrain(transport, b);
			assert.deepEqual(again.got, []);
		});

		test('messages sent back to back arrive in the order sent',
		    async () => {
			const [a, b] = await friends(transport);
			const ca = await loggedIn(transport, a);
			const cb = await loggedIn(other(transport), b);
			const n = 30;
			for (let i = 0; i < n; i++)
				ca.send({ command: 'send_message', src: a.id, dst: b.id,
				    message: `m${i}` });
			for (let i = 0; i < n; i++)
				assertSuccess(await ca.next(), 'send_message_return');
			for (let i = 0; i < n; i++)
				assertMessage(await cb.next(), a, b, `m${i}`);
		});

		test('a message keeps newlines, tabs, quotes and emoji',
		    async () => {
			const [a, b] = await friends(transport);
			const ca = await loggedIn(transport, a);
			const cb = await loggedIn(other(transport), b);
			const text = 'line 1\nline\t2 "quoted" \\ \u{1F600}';
			await send(ca, a, b, text);
			assertMessage(await cb.next(), a, b, text);
		});

		test('a message to someone who is not a friend fails with ' +
		    '"not friends"', async () => {
			const a = await newUser();
			const b = await newUser();
			const ca = await loggedIn(transport, a);
			assertFail(await ca.request({ command: 'send_message',
			    src: a.id, dst: b.id, message: 'hi' }),
			    'send_message_return', 'not friends');
		});

		test('an empty message fails with "empty message"', async () => {
			const [a, b] = await friends(transport);
			const ca = await loggedIn(transport, a);
			assertFail(await ca.request({ command: 'send_message',
			    src: a.id, dst: b.id, message: '' }),
			    'send_message_return', 'empty message');
		});

		test('a message whose delivered packet would pass 2048 bytes ' +
		    'fails with "message too long"', async () => {
			const [a, b] = await friends(transport);
			const ca = await loggedIn(transport, a);
			// 650 three-byte characters: 1950 bytes, whose request
			// (about 2015 bytes) fits, but whose delivered packet,
			// with msg_id and time, does not.
			const p = await ca.request({ command: 'send_message',
			    src: a.id, dst: b.id, message: '字'.repeat(650) });
			assertFail(p, 'send_message_return', 'message too long');
		});

		test('a message that fits is delivered whole', async () => {
			const [a, b] = await friends(transport);
			const ca = await loggedIn(transport, a);
			const cb = await loggedIn(other(transport), b);
			const text = '字'.repeat(500);
			await send(ca, a, b, text);
			assertMessage(await cb.next(), a, b, text);
		});

		test('send_message with another src fails with "src is not you"',
		    async () => {
			const [a, b] = await friends(transport);
			const cb = await loggedIn(transport, b);
			assertFail(await cb.request({ command: 'send_message',
			    src: a.id, dst: b.id, message: 'forged' }),
			    'send_message_return', 'src is not you');
		});

		test('send_message before login fails with "not logged in"',
		    async () => {
			const c = await connect(transport);
			assertFail(await c.request({ command: 'send_message',
			    src: '10000', dst: '10001', message: 'hi' }),
			    'send_message_return', 'not logged in');
		});

		test('send_message with the message as a number is a bad request',
		    async () => {
			const [a, b] = await friends(transport);
			const ca = await loggedIn(transport, a);
			assertFail(await ca.request({ command: 'send_message',
			    src: a.id, dst: b.id, message: 5 }), 'error',
			    'bad request');
		});
	});

	describe(`${transport}: ack mode`, () => {
		afterEach(closeAll);

		test('a message not acked is delivered again at the next login ' +
		    'with the same msg_id, and not after an ack', async () => {
			const [a, b] = await friends(transport);
			const ca = await loggedIn(transport, a);
			await send(ca, a, b, 'ack me');
			let r = await loginAndDrain(transport, b, { ack: true });
			assert.equal(r.got.length, 1);
			assertMessage(r.got[0], a, b, 'ack me');
			const msgId = r.got[0].msg_id;
			r.c.close();

			r = await loginAndDrain(other(transport), b, { ack: true });
			assert.deepEqual(r.got.map((p) => p.msg_id), [msgId]);
			r.c.send({ command: 'ack', msg_ids: [msgId] });
			// An ack is never answered: the probe's answer comes next.
			r.c.send(probe(b));
			assertFail(await r.c.next(), 'login_return',
			    'already logged in');
			r.c.close();

			r = await loginAndDrain(transport, b, { ack: true });
			assert.deepEqual(r.got, []);
		});

		test('an ack before login, or of unknown ids, is ignored',
		    async () => {
			const [a, b] = await friends(transport);
			const ca = await loggedIn(transport, a);
			await send(ca, a, b, 'not acked');
			let r = await loginAndDrain(transport, b, { ack: true });
			assert.equal(r.got.length, 1);
			const msgId = r.got[0].msg_id;
			r.c.close();

			// Before login, even the right id acks nothing; the answer
			// to the logout after it says the ack has been handled.
			const c = await connect(transport);
			c.send({ command: 'ack', msg_ids: [msgId] });
			assertFail(await c.request({ command: 'logout', id: b.id }),
			    'logout_return', 'not logged in');
			const cb = await loggedIn(transport, b, { ack: true });
			assert.deepEqual(cb.backlog.map((p) => p.msg_id), [msgId]);
			cb.send({ command: 'ack', msg_ids: ['999999999', 3] });
			cb.send(probe(b));
			assertFail(await cb.next(), 'login_return',
			    'already logged in');
			cb.close();

			// Nothing was acked: the message comes again.
			r = await loginAndDrain(other(transport), b, { ack: true });
			assert.deepEqual(r.got.map((p) => p.msg_id), [msgId]);
			// The ack did not log c in.
			assertSuccess(await c.request({ ...probe(b), ack: true }),
			    'login_return');
		});
	});
}
