// The friend lifecycle of PROTOCOL.md section 7: remove_friend,
// cancel_friend, block, unblock and list_blocked, on both transports, each
// command's success and every fail detail, and the cases that matter to a
// person: a removal with messages in flight, a block during a pending
// request either way, and a blocked account that cannot tell its block from
// an ignored request.
//
// "Nothing arrived" is checked with drain(): it sends a second login, whose
// "already logged in" answer comes after everything the server wrote to
// the connection before it, notices of other connections' commands
// included (they are routed before those commands' own answers).
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { TRANSPORTS, closeAll, connect } from '../lib/client.mjs';
import { assertError, assertFail, assertSuccess } from '../lib/expect.mjs';
import { befriend, friendList, pool } from '../lib/friends.mjs';
import { canStartOwnStack, startOwnStack } from '../lib/own-stack.mjs';
import { drain, loggedIn, login, newUser, unknownId } from '../lib/users.mjs';

const other = (t) => (t === 'ws' ? 'tcp' : 'ws');

// The next packet on c that is command, past others (notices racing).
async function nextOf(c, command) {
	for (;;) {
		const p = await c.next();
		if (p.command === command)
			return p;
	}
}

// What reached c before a barrier, minus the presence notices of friends
// logging in and out, which these tests do not look at.
async function arrived(c, u) {
	return (await drain(c, u)).filter((p) => p.command !== 'presence');
}

function send(c, src, dst, message) {
	return c.request({ command: 'send_message', src: src.id, dst: dst.id,
	    message });
}

// a asks b on ca and b sees it live on cb.
async function ask(ca, cb, a, b) {
	assertSuccess(await ca.request({ command: 'add_friend', src: a.id,
	    dst: b.id, status: '0' }), 'add_friend_return');
	const q = await nextOf(cb, 'add_friend');
	assert.equal(q.src, a.id);
}

afterEach(closeAll);

for (const t of TRANSPORTS) {
	describe(`remove_friend (${t})`, () => {
		test('ends the friendship both ways: both are told, lists ' +
		    'and messages follow', async () => {
			const a = await newUser();
			const b = await newUser();
			await befriend(a, b);
			const ca = await loggedIn(t, a);
			const cb = await loggedIn(other(t), b);
			const ca2 = await loggedIn(other(t), a);
			const p = await ca.request({ command: 'remove_friend',
			    src: a.id, dst: b.id });
			assertSuccess(p, 'remove_friend_return');
			const notice = { command: 'remove_friend', src: a.id,
			    dst: b.id };
			for (const c of [ca, ca2, cb])
				assert.deepEqual(await nextOf(c, 'remove_friend'),
				    notice);
			assert.deepEqual(await friendList(ca, a), []);
			assert.deepEqual(await friendList(cb, b), []);
			assertFail(await send(ca, a, b, 'after'),
			    'send_message_return', 'not friends');
			assertFail(await send(cb, b, a, 'after'),
			    'send_message_return', 'not friends');
			// They may become friends again (the notices of which
			// reach ca: a fresh connection asks).
			await befriend(b, a);
			assert.deepEqual((await friendList(await loggedIn(t, a), a))
			    .map((f) => f.id), [b.id]);
		});

		test('an offline friend finds it in list_friend; nothing is ' +
		    'queued for it', async () => {
			const a = await newUser();
			const b = await newUser();
			await befriend(a, b);
			const ca = await loggedIn(t, a);
			assertSuccess(await ca.request({ command: 'remove_friend',
			    src: a.id, dst: b.id }), 'remove_friend_return');
			const cb = await loggedIn(other(t), b);
			assert.deepEqual(cb.backlog.filter((x) =>
			    x.command === 'remove_friend'), []);
			assert.deepEqual(await friendList(cb, b), []);
		});

		test('messages in flight: what was sent before the removal ' +
		    'is delivered, what comes after fails', async () => {
			const a = await newUser();
			const b = await newUser();
			await befriend(a, b);
			const ca = await loggedIn(t, a);
			const cb = await loggedIn(other(t), b);
			// One pipelined run: the daemon may put it in one batch.
			for (let i = 0; i < 20; i++)
				ca.send({ command: 'send_message', src: a.id,
				    dst: b.id, message: `before ${i}` });
			ca.send({ command: 'remove_friend', src: a.id, dst: b.id });
			for (let i = 0; i < 5; i++)
				ca.send({ command: 'send_message', src: a.id,
				    dst: b.id, message: `after ${i}` });
			const answers = [];
			while (answers.length < 26) {
				const p = await ca.next();
				if (p.command !== 'remove_friend')
					answers.push(p);
			}
			for (let i = 0; i < 20; i++)
				assertSuccess(answers[i], 'send_message_return');
			assertSuccess(answers[20], 'remove_friend_return');
			for (let i = 21; i < 26; i++)
				assertFail(answers[i], 'send_message_return',
				    'not friends');
			const got = [];
			while (got.length < 20) {
				const p = await cb.next();
				if (p.command === 'send_message')
					got.push(p.message);
			}
			assert.deepEqual(got, Array.from({ length: 20 },
			    (_, i) => `before ${i}`));
			assert.deepEqual((await arrived(cb, b)).filter((p) =>
			    p.command === 'send_message'), []);
		});

		test('fails: not logged in, src is not you, not friends',
		    async () => {
			const a = await newUser();
			const b = await newUser();
			const c0 = await connect(t);
			assertFail(await c0.request({ command: 'remove_friend',
			    src: a.id, dst: b.id }), 'remove_friend_return',
			    'not logged in');
			const ca = await loggedIn(t, a);
			assertFail(await ca.request({ command: 'remove_friend',
			    src: b.id, dst: a.id }), 'remove_friend_return',
			    'src is not you');
			for (const dst of [b.id, unknownId(), a.id, 'bob'])
				assertFail(await ca.request({ command:
				    'remove_friend', src: a.id, dst }),
				    'remove_friend_return', 'not friends', dst);
			assertError(await ca.request({ command: 'remove_friend',
			    src: a.id }), 'bad request');
			assertError(await ca.request({ command: 'remove_friend',
			    src: a.id, dst: [b.id] }), 'bad request');
			// A number is an id too; twice is "not friends".
			await befriend(a, b);
			const ca2 = await loggedIn(t, a);
			assertSuccess(await ca2.request({ command: 'remove_friend',
			    src: Number(a.id), dst: Number(b.id) }),
			    'remove_friend_return');
			await nextOf(ca2, 'remove_friend');
			assertFail(await ca2.request({ command: 'remove_friend',
			    src: a.id, dst: b.id }), 'remove_friend_return',
			    'not friends');
		});
	});

	describe(`cancel_friend (${t})`, () => {
		test('withdraws a pending request: B is told, cannot confirm ' +
		    'it, and does not get it at login', async () => {
			const a = await newUser();
			const b = await newUser();
			const ca = await loggedIn(t, a);
			const cb = await loggedIn(other(t), b);
			await ask(ca, cb, a, b);
			assertSuccess(await ca.request({ command: 'cancel_friend',
			    src: a.id, dst: b.id }), 'cancel_friend_return');
			assert.deepEqual(await nextOf(cb, 'cancel_friend'),
			    { command: 'cancel_friend', src: a.id, dst: b.id });
			assertFail(await cb.request({ command:
			    'add_friend_confirm', src: a.id, dst: b.id,
			    status: '0', message: 'confirm_two_way' }),
			    'add_friend_confirm_return', 'no pending request');
			cb.close();
			const cb2 = await loggedIn(t, b);
			assert.deepEqual(cb2.backlog.filter((p) =>
			    p.command === 'add_friend'), []);
			// A's own connection hears nothing but its answer.
			assert.deepEqual((await arrived(ca, a)).filter((p) =>
			    p.command === 'cancel_friend'), []);
		});

		test('fails: not logged in, src is not you, no pending request',
		    async () => {
			const a = await newUser();
			const b = await newUser();
			const c0 = await connect(t);
			assertFail(await c0.request({ command: 'cancel_friend',
			    src: a.id, dst: b.id }), 'cancel_friend_return',
			    'not logged in');
			const ca = await loggedIn(t, a);
			assertFail(await ca.request({ command: 'cancel_friend',
			    src: b.id, dst: a.id }), 'cancel_friend_return',
			    'src is not you');
			for (const dst of [b.id, unknownId(), a.id, 'x'])
				assertFail(await ca.request({ command:
				    'cancel_friend', src: a.id, dst }),
				    'cancel_friend_return', 'no pending request', dst);
			assertError(await ca.request({ command: 'cancel_friend',
			    src: a.id, dst: {} }), 'bad request');
			// B's request to A is not A's to cancel.
			const cb = await loggedIn(other(t), b);
			await ask(cb, ca, b, a);
			assertFail(await ca.request({ command: 'cancel_friend',
			    src: a.id, dst: b.id }), 'cancel_friend_return',
			    'no pending request');
			assertSuccess(await cb.request({ command: 'cancel_friend',
			    src: b.id, dst: a.id }), 'cancel_friend_return');
			assertFail(await cb.request({ command: 'cancel_friend',
			    src: b.id, dst: a.id }), 'cancel_friend_return',
			    'no pending request');
		});
	});

	describe(`block (${t})`, () => {
		test('a friend blocked: both see a removal, B\'s messages ' +
		    'fail not friends, B\'s requests vanish, A cannot ask B',
		async () => {
			const a = await newUser();
			const b = await newUser();
			await befriend(a, b);
			const ca = await loggedIn(t, a);
			const cb = await loggedIn(other(t), b);
			assertSuccess(await ca.request({ command: 'block',
			    src: a.id, dst: b.id }), 'block_return');
			const removal = { command: 'remove_friend', src: a.id,
			    dst: b.id };
			assert.deepEqual(await nextOf(ca, 'remove_friend'), removal);
			assert.deepEqual(await nextOf(cb, 'remove_friend'), removal);
			// B sees a removal and nothing else.
			assert.deepEqual(await arrived(cb, b), []);
			assertFail(await send(cb, b, a, 'hello?'),
			    'send_message_return', 'not friends');
			assertSuccess(await cb.request({ command: 'add_friend',
			    src: b.id, dst: a.id, status: '0' }),
			    'add_friend_return');
			assert.deepEqual((await arrived(ca, a)).filter((p) =>
			    p.command === 'add_friend'), []);
			ca.close();
			const ca2 = await loggedIn(t, a);
			assert.deepEqual(ca2.backlog.filter((p) =>
			    p.command === 'add_friend'), []);
			// A's confirm of the unseen request finds none.
			assertFail(await ca2.request({ command:
			    'add_friend_confirm', src: b.id, dst: a.id,
			    status: '0', message: 'confirm_two_way' }),
			    'add_friend_confirm_return', 'no pending request');
			assertFail(await ca2.request({ command: 'add_friend',
			    src: a.id, dst: b.id, status: '0' }),
			    'add_friend_return', 'blocked');
			assertSuccess(await cb.request({ command: 'cancel_friend',
			    src: b.id, dst: a.id }), 'cancel_friend_return');
			assert.deepEqual((await arrived(ca2, a)).filter((p) =>
			    p.command === 'cancel_friend'), []);
			const list = await ca2.request({ command: 'list_blocked',
			    id: a.id });
			assert.deepEqual(list, { command: 'list_blocked_return',
			    id: a.id, status: 'success',
			    blocked: [{ id: b.id, username: b.username }] });
		});

		test('during A\'s pending request to B: withdrawn as by ' +
		    'cancel_friend', async () => {
			const a = await newUser();
			const b = await newUser();
			const ca = await loggedIn(t, a);
			const cb = await loggedIn(other(t), b);
			await ask(ca, cb, a, b);
			assertSuccess(await ca.request({ command: 'block',
			    src: a.id, dst: b.id }), 'block_return');
			assert.deepEqual(await nextOf(cb, 'cancel_friend'),
			    { command: 'cancel_friend', src: a.id, dst: b.id });
			assertFail(await cb.request({ command:
			    'add_friend_confirm', src: a.id, dst: b.id,
			    status: '0', message: 'confirm_two_way' }),
			    'add_friend_confirm_return', 'no pending request');
			assert.deepEqual(await arrived(cb, b), []);
		});

		test('during B\'s pending request to A: dropped without a word ' +
		    'to B, whose cancel still answers success', async () => {
			const a = await newUser();
			const b = await newUser();
			const ca = await loggedIn(t, a);
			const cb = await loggedIn(other(t), b);
			await ask(cb, ca, b, a);
			assertSuccess(await ca.request({ command: 'block',
			    src: a.id, dst: b.id }), 'block_return');
			assert.deepEqual(await arrived(cb, b), []);
			ca.close();
			const ca2 = await loggedIn(t, a);
			assert.deepEqual(ca2.backlog.filter((p) =>
			    p.command === 'add_friend'), []);
			assertFail(await ca2.request({ command:
			    'add_friend_confirm', src: b.id, dst: a.id,
			    status: '0', message: 'confirm_two_way' }),
			    'add_friend_confirm_return', 'no pending request');
		});

		test('fails: not logged in, src is not you, no such user, ' +
		    'cannot block yourself, already blocked', async () => {
			const a = await newUser();
			const b = await newUser();
			const c0 = await connect(t);
			assertFail(await c0.request({ command: 'block', src: a.id,
			    dst: b.id }), 'block_return', 'not logged in');
			const ca = await loggedIn(t, a);
			assertFail(await ca.request({ command: 'block', src: b.id,
			    dst: a.id }), 'block_return', 'src is not you');
			for (const dst of [unknownId(), 'bob', '0'])
				assertFail(await ca.request({ command: 'block',
				    src: a.id, dst }), 'block_return',
				    'no such user', dst);
			assertFail(await ca.request({ command: 'block', src: a.id,
			    dst: a.id }), 'block_return', 'cannot block yourself');
			assertError(await ca.request({ command: 'block',
			    src: a.id }), 'bad request');
			assertSuccess(await ca.request({ command: 'block',
			    src: a.id, dst: Number(b.id) }), 'block_return');
			assertFail(await ca.request({ command: 'block', src: a.id,
			    dst: b.id }), 'block_return', 'already blocked');
		});
	});

	describe(`unblock and list_blocked (${t})`, () => {
		test('unblock lifts it: B can ask again and A sees it; what B ' +
		    'sent while blocked stays unseen', async () => {
			const a = await newUser();
			const b = await newUser();
			const ca = await loggedIn(t, a);
			const cb = await loggedIn(other(t), b);
			assertSuccess(await ca.request({ command: 'block',
			    src: a.id, dst: b.id }), 'block_return');
			assertSuccess(await cb.request({ command: 'add_friend',
			    src: b.id, dst: a.id, status: '0' }),
			    'add_friend_return');
			assertSuccess(await ca.request({ command: 'unblock',
			    src: a.id, dst: b.id }), 'unblock_return');
			assert.deepEqual((await ca.request({ command:
			    'list_blocked', id: a.id })).blocked, []);
			ca.close();
			const ca2 = await loggedIn(t, a);
			assert.deepEqual(ca2.backlog.filter((p) =>
			    p.command === 'add_friend'), []);
			assertFail(await cb.request({ command: 'cancel_friend',
			    src: b.id, dst: a.id }), 'cancel_friend_return',
			    'no pending request');
			await ask(cb, ca2, b, a);
			assertSuccess(await ca2.request({ command:
			    'add_friend_confirm', src: b.id, dst: a.id,
			    status: '0', message: 'confirm_two_way' }),
			    'add_friend_confirm_return');
			assertSuccess(await send(ca2, a, b, 'friends again'),
			    'send_message_return');
			assert.equal((await nextOf(cb, 'send_message')).message,
			    'friends again');
		});

		test('fails: not logged in, src is not you, not blocked; ' +
		    'list_blocked: not logged in, src is not you', async () => {
			const a = await newUser();
			const b = await newUser();
			const c0 = await connect(t);
			assertFail(await c0.request({ command: 'unblock', src: a.id,
			    dst: b.id }), 'unblock_return', 'not logged in');
			assertFail(await c0.request({ command: 'list_blocked',
			    id: a.id }), 'list_blocked_return', 'not logged in');
			const ca = await loggedIn(t, a);
			assertFail(await ca.request({ command: 'unblock', src: b.id,
			    dst: a.id }), 'unblock_return', 'src is not you');
			assertFail(await ca.request({ command: 'list_blocked',
			    id: b.id }), 'list_blocked_return', 'src is not you');
			for (const dst of [b.id, unknownId(), a.id, 'bob'])
				assertFail(await ca.request({ command: 'unblock',
				    src: a.id, dst }), 'unblock_return',
				    'not blocked', dst);
			assertError(await ca.request({ command: 'list_blocked' }),
			    'bad request');
		});
	});
}

describe('block: what the blocked account sees', () => {
	test('is the same as for a request that is ignored', async () => {
		// b asks two accounts the same way; one ignores it, one blocks
		// b.  Every answer b gets, and everything else that reaches
		// it, must be the same for both.
		const b = await newUser();
		const ignorer = await newUser();
		const blocker = await newUser();
		const cBlocker = await loggedIn('ws', blocker);
		assertSuccess(await cBlocker.request({ command: 'block',
		    src: blocker.id, dst: b.id }), 'block_return');
		async function script(target) {
			const cb = await loggedIn('tcp', b);
			const seen = [];
			const q = (p) => { const { dst, src, ...rest } = p;
				return rest; };
			for (const packet of [
			    { command: 'add_friend', src: b.id, dst: target.id,
				status: '0' },
			    { command: 'add_friend', src: b.id, dst: target.id,
				status: '1' },
			    { command: 'send_message', src: b.id, dst: target.id,
				message: 'hi' },
			    { command: 'cancel_friend', src: b.id, dst: target.id },
			    { command: 'cancel_friend', src: b.id, dst: target.id },
			    { command: 'add_friend', src: b.id, dst: target.id,
				status: '0' }])
				seen.push(q(await cb.request(packet)));
			seen.push(...(await arrived(cb, b)).map(q));
			cb.close();
			const again = await loggedIn('ws', b);
			seen.push(...again.backlog.map(q));
			again.close();
			return seen;
		}
		const ignored = await script(ignorer);
		const blocked = await script(blocker);
		assert.deepEqual(blocked, ignored);
		assert.deepEqual(ignored.map((p) => `${p.command} ${p.status}` +
		    `${p.detail ? ` ${p.detail}` : ''}`), [
		    'add_friend_return success', 'add_friend_return success',
		    'send_message_return fail not friends',
		    'cancel_friend_return success',
		    'cancel_friend_return fail no pending request',
		    'add_friend_return success']);
	});
});

describe('list_blocked pages a long list', () => {
	test('several packets, "more" on all but the last, sorted by id',
	    async () => {
		const a = await newUser();
		const many = [];
		await pool(Array.from({ length: 70 }), 8, async () => {
			many.push(await newUser());
		});
		const ca = await loggedIn('tcp', a);
		for (const u of many)
			assertSuccess(await ca.request({ command: 'block', src: a.id,
			    dst: u.id }), 'block_return');
		const packets = [await ca.request({ command: 'list_blocked',
		    id: a.id })];
		while (packets.at(-1).more)
			packets.push(await ca.next());
		assert.ok(packets.length >= 2, `${packets.length} packet(s)`);
		for (const p of packets) {
			assertSuccess(p, 'list_blocked_return');
			assert.ok(JSON.stringify(p).length <= 2048);
		}
		assert.equal(packets.at(-1).more, undefined);
		const ids = packets.flatMap((p) => p.blocked.map((x) => x.id));
		assert.deepEqual(ids, many.map((u) => u.id)
		    .sort((x, y) => Number(x) - Number(y)));
	});
});

describe('block: too many blocked', { skip: canStartOwnStack() ? false :
    'fcgi_app and push_daemon not built' }, () => {
	test('past blocked_max, block fails "too many blocked"; an unblock ' +
	    'makes room', async () => {
		const s = await startOwnStack({ sets: ['blocked_max=2'] });
		try {
			const [a, b, c, d] = [await newUser(), await newUser(),
			    await newUser(), await newUser()];
			const ca = await connect('ws');
			await login(ca, a);
			for (const u of [b, c])
				assertSuccess(await ca.request({ command: 'block',
				    src: a.id, dst: u.id }), 'block_return');
			assertFail(await ca.request({ command: 'block', src: a.id,
			    dst: d.id }), 'block_return', 'too many blocked');
			// Already blocked comes first.
			assertFail(await ca.request({ command: 'block', src: a.id,
			    dst: b.id }), 'block_return', 'already blocked');
			assertSuccess(await ca.request({ command: 'unblock',
			    src: a.id, dst: b.id }), 'unblock_return');
			assertSuccess(await ca.request({ command: 'block',
			    src: a.id, dst: d.id }), 'block_return');
			ca.close();
		} finally {
			closeAll();
			await s.remove();
		}
	});
});
