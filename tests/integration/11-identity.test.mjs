// Identity is the session's (DESIGN.md section 3): every command naming
// another account in src, id or (add_friend_confirm) dst fails with
// "src is not you" and changes nothing.  Each test checks that nothing
// reached the victim or a third party with a positive control: a real
// packet the attacker's connection sends afterwards, along the same path,
// must be the first thing they get.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { TRANSPORTS, closeAll } from '../lib/client.mjs';
import { assertFail, assertSuccess, pick } from '../lib/expect.mjs';
import { befriend, friendList, newUsers } from '../lib/friends.mjs';
import { loggedIn } from '../lib/users.mjs';

const other = (t) => (t === 'ws' ? 'tcp' : 'ws');

// The same id, as a string and as a JSON number (both are accepted).
const forms = (id) => [id, Number(id)];

async function refused(c, packet, command) {
	assertFail(await c.request(packet), command, 'src is not you',
	    JSON.stringify(packet));
}

// x's next packet is an add_friend from u.
async function askedBy(c, u) {
	const p = await c.next();
	assert.deepEqual(pick(p, 'command', 'src'), { command: 'add_friend',
	    src: u.id }, JSON.stringify(p));
}

for (const transport of TRANSPORTS) {
	describe(`${transport}: another account's identity`, () => {
		afterEach(closeAll);

		test('add_friend with the victim as src fails with "src is not ' +
		    'you", and nobody is asked', async () => {
			const [m, v, x] = await newUsers(3);
			const cv = await loggedIn(other(transport), v);
			const cx = await loggedIn(other(transport), x);
			const cm = await loggedIn(transport, m);
			for (const src of forms(v.id)) {
				await refused(cm, { command: 'add_friend', src,
				    dst: x.id, status: '0' }, 'add_friend_return');
				await refused(cm, { command: 'add_friend', src,
				    dst: m.id, status: '1' }, 'add_friend_return');
			}
			// Positive controls: m's real requests come first.
			for (const [c, u] of [[cx, x], [cv, v]]) {
				assertSuccess(await cm.request({ command: 'add_friend',
				    src: m.id, dst: u.id, status: '0' }),
				    'add_friend_return');
				await askedBy(c, m);
			}
			// No request from v to m was stored, nor one to x.
			assertFail(await cm.request({ command: 'add_friend_confirm',
			    src: v.id, dst: m.id, status: '0',
			    message: 'confirm_two_way' }),
			    'add_friend_confirm_return', 'no pending request');
			const again = await loggedIn(other(transport), x);
			assert.deepEqual(again.backlog.map((p) => p.src), [m.id]);
		});

		test('add_friend_confirm with the victim as dst fails with "src ' +
		    'is not you", and the request stays pending', async () => {
			const [m, v, q] = await newUsers(3);
			const cq = await loggedIn(other(transport), q);
			assertSuccess(await cq.request({ command: 'add_friend',
			    src: q.id, dst: v.id, status: '1' }), 'add_friend_return');
			const cm = await loggedIn(transport, m);
			for (const dst of forms(v.id)) {
				for (const message of ['confirm_two_way', 'reject']) {
					await refused(cm, { command: 'add_friend_confirm',
					    src: q.id, dst, status: '0', message },
					    'add_friend_confirm_return');
				}
			}
			// The asker was told nothing: m's request comes first.
			assertSuccess(await cm.request({ command: 'add_friend',
			    src: m.id, dst: q.id, status: '0' }), 'add_friend_return');
			await askedBy(cq, m);
			assert.deepEqual(await friendList(cq, q), []);
			// The victim still has the request, and can answer it.
			const cv = await loggedIn(other(transport), v);
			assert.deepEqual(cv.backlog.map((p) => pick(p, 'command',
			    'src', 'status')), [{ command: 'add_friend', src: q.id,
			    status: '1' }]);
			assertSuccess(await cv.request({ command: 'add_friend_confirm',
			    src: q.id, dst: v.id, status: '0',
			    message: 'confirm_two_way' }), 'add_friend_confirm_return');
		});

		test('list_friend of the victim fails with "src is not you" and ' +
		    'shows none of its friends', async () => {
			const [m, v, w] = await newUsers(3);
			await befriend(v, w);
			const cm = await loggedIn(transport, m);
			for (const id of forms(v.id)) {
				const p = await cm.request({ command: 'list_friend', id });
				assertFail(p, 'list_friend_return', 'src is not you');
				assert.ok(!('friends' in p), JSON.stringify(p));
			}
			assert.deepEqual(await friendList(cm, m), []);
		});

		test('send_message with the victim as src fails with "src is not ' +
		    'you", and nothing is delivered', async () => {
			const [m, v, w] = await newUsers(3);
			await befriend(v, w);
			await befriend(m, w);
			await befriend(m, v);
			const cv = await loggedIn(other(transport), v);
			const cw = await loggedIn(other(transport), w);
			const cm = await loggedIn(transport, m);
			for (const src of forms(v.id)) {
				await refused(cm, { command: 'send_message', src,
				    dst: w.id, message: 'forged from v' },
				    'send_message_return');
			}
			// w's name, to v and to m itself: nothing comes back to cm
			// either (each answer so far was its next packet).
			for (const dst of [v.id, m.id]) {
				await refused(cm, { command: 'send_message', src: w.id,
				    dst, message: 'forged from w' },
				    'send_message_return');
			}
			for (const [c, u] of [[cw, w], [cv, v]]) {
				assertSuccess(await cm.request({ command: 'send_message',
				    src: m.id, dst: u.id, message: 'marker' }),
				    'send_message_return');
				const p = await c.next();
				assert.deepEqual(pick(p, 'command', 'src', 'message'),
				    { command: 'send_message', src: m.id,
				    message: 'marker' }, JSON.stringify(p));
			}
		});

		test('logout naming the victim fails with "src is not you", and ' +
		    'both stay logged in', async () => {
			const [m, v] = await newUsers(2);
			const cv = await loggedIn(other(transport), v);
			const cm = await loggedIn(transport, m);
			for (const id of forms(v.id))
				await refused(cm, { command: 'logout', id },
				    'logout_return');
			assertFail(await cv.request({ command: 'login', id: v.id,
			    password: v.password }), 'login_return',
			    'already logged in');
			assert.deepEqual(await friendList(cv, v), []);
			assert.deepEqual(await friendList(cm, m), []);
			assertSuccess(await cm.request({ command: 'logout', id: m.id }),
			    'logout_return');
		});
	});
}
