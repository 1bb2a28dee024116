// Friends: add_friend, add_friend_confirm (and its reject extension),
// list_friend, online and offline, across both transports (PROTOCOL.md
// section 4).
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { TRANSPORTS, closeAll, connect } from '../lib/client.mjs';
import { assertFail, assertSuccess, pick } from '../lib/expect.mjs';
import { watcher } from '../lib/friends.mjs';
import { loggedIn, newUser, unknownId } from '../lib/users.mjs';

// The other transport, so that every scenario crosses transports.
const other = (t) => (t === 'ws' ? 'tcp' : 'ws');

// A asks B; both online on the given connections; B has seen the request.
async function ask(ca, a, cb, b, status = '0') {
	assertSuccess(await ca.request({ command: 'add_friend', src: a.id,
	    dst: b.id, status }), 'add_friend_return');
	const p = await cb.next();
	assert.deepEqual(pick(p, 'command', 'src', 'dst', 'status'),
	    { command: 'add_friend', src: a.id, dst: b.id, status });
	return p;
}

// B confirms A's request; both get add_friend_confirm_return success.
async function confirm(ca, a, cb, b, status = '0') {
	cb.send({ command: 'add_friend_confirm', src: a.id, dst: b.id, status,
	    message: 'confirm_two_way' });
	for (const c of [cb, ca]) {
		const p = await c.next();
		assert.deepEqual(pick(p, 'command', 'status', 'src', 'dst'),
		    { command: 'add_friend_confirm_return', status: 'success',
		    src: a.id, dst: b.id }, JSON.stringify(p));
	}
}

async function friendList(c, u) {
	const p = await c.request({ command: 'list_friend', id: u.id });
	assertSuccess(p, 'list_friend_return');
	assert.equal(p.id, u.id);
	assert.ok(!p.more, 'one packet expected');
	return p.friends;
}

for (const transport of TRANSPORTS) {
	describe(`${transport}: add_friend`, () => {
		afterEach(closeAll);

		test('a request reaches the other account online with the ' +
		    'asker\'s username', async () => {
			const a = await newUser();
			const b = await newUser();
			const ca = await loggedIn(transport, a);
			const cb = await loggedIn(other(transport), b);
			const p = await ask(ca, a, cb, b);
			assert.equal(p.message, 'confirm_one_way');
			assert.equal(p.username, a.username);
		});

		test('a request to an offline account is shown at its next ' +
		    'login, right after login_return', async () => {
			const a = await newUser();
			const b = await newUser();
			const ca = await loggedIn(transport, a);
			assertSuccess(await ca.request({ command: 'add_friend',
			    src: a.id, dst: b.id, status: '1' }), 'add_friend_return');
			const cb = await connect(other(transport));
			cb.send({ command: 'login', id: b.id, password: b.password });
			assertSuccess(await cb.next(), 'login_return');
			const p = await cb.next();
			assert.deepEqual(pick(p, 'command', 'src', 'dst', 'status'),
			    { command: 'add_friend', src: a.id, dst: b.id,
			    status: '1' });
		});

		test('an unanswered request is shown again at every login',
		    async () => {
			const a = await newUser();
			const b = await newUser();
			const ca = await loggedIn(transport, a);
			assertSuccess(await ca.request({ command: 'add_friend',
			    src: a.id, dst: b.id, status: '0' }), 'add_friend_return');
			for (let i = 0; i < 2; i++) {
				const cb = await connect(transport);
				cb.send({ command: 'login', id: b.id,
				    password: b.password });
				assertSuccess(await cb.next(), 'login_return');
				assert.equal((await cb.next()).command, 'add_friend');
				cb.close();
			}
		});

		test('add_friend to yourself fails with "cannot add yourself"',
		    async () => {
			const a = await newUser();
			const ca = await loggedIn(transport, a);
			assertFail(await ca.request({ command: 'add_friend',
			    src: a.id, dst: a.id, status: '0' }), 'add_friend_return',
			    'cannot add yourself');
		});

		test('add_friend to an id that names nobody fails with ' +
		    '"no such user"', async () => {
			const a = await newUser();
			const ca = await loggedIn(transport, a);
			assertFail(await ca.request({ command: 'add_friend',
			    src: a.id, dst: unknownId(), status: '0' }),
			    'add_friend_return', 'no such user');
		});

		test('add_friend with a status other than "0" or "1" fails with ' +
		    '"bad status"', async () => {
			const a = await newUser();
			const b = await newUser();
			const ca = await loggedIn(transport, a);
			for (const status of ['7', '', '01']) {
				assertFail(await ca.request({ command: 'add_friend',
				    src: a.id, dst: b.id, status }), 'add_friend_return',
				    'bad status', `status ${JSON.stringify(status)}`);
			}
		});

		test('add_friend naming another account as src fails with ' +
		    '"src is not you"', async () => {
			const a = await newUser();
			const b = await newUser();
			const c = await newUser();
			const ca = await loggedIn(transport, a);
			assertFail(await ca.request({ command: 'add_friend',
			    src: c.id, dst: b.id, status: '0' }), 'add_friend_return',
			    'src is not you');
		});

		test('add_friend before login fails with "not logged in"',
		    async () => {
			const b = await newUser();
			const c = await connect(transport);
			assertFail(await c.request({ command: 'add_friend',
			    src: '10000', dst: b.id, status: '0' }),
			    'add_friend_return', 'not logged in');
		});

		test('add_friend with dst as an object is a bad request',
		    async () => {
			const a = await newUser();
			const ca = await loggedIn(transport, a);
			const p = await ca.request({ command: 'add_friend', src: a.id,
			    dst: { id: '10000' }, status: '0' });
			assertFail(p, 'error', 'bad request');
		});
	});

	describe(`${transport}: add_friend_confirm`, () => {
		afterEach(closeAll);

		test('a confirmed request makes both friends and both are told',
		    async () => {
			const a = await newUser();
			const b = await newUser();
			const ca = await loggedIn(transport, a);
			const cb = await loggedIn(other(transport), b);
			await ask(ca, a, cb, b, '1');
			await confirm(ca, a, cb, b, '0');
			const fa = await friendList(ca, a);
			assert.deepEqual(fa.map((f) => pick(f, 'id', 'username',
			    'status')), [{ id: b.id, username: b.username,
			    status: '1' }]);
			const fb = await friendList(cb, b);
			assert.deepEqual(fb.map((f) => pick(f, 'id', 'username',
			    'status')), [{ id: a.id, username: a.username,
			    status: '0' }]);
		});

		test('add_friend to a friend fails with "already friends"',
		    async () => {
			const a = await newUser();
			const b = await newUser();
			const ca = await loggedIn(transport, a);
			const cb = await loggedIn(transport, b);
			await ask(ca, a, cb, b);
			await confirm(ca, a, cb, b);
			for (const [c, x, y] of [[ca, a, b], [cb, b, a]]) {
				assertFail(await c.request({ command: 'add_friend',
				    src: x.id, dst: y.id, status: '0' }),
				    'add_friend_return', 'already friends');
			}
		});

		test('a confirm with no request pending fails with ' +
		    '"no pending request"', async () => {
			const a = await newUser();
			const b = await newUser();
			const cb = await loggedIn(transport, b);
			assertFail(await cb.request({ command: 'add_friend_confirm',
			    src: a.id, dst: b.id, status: '0',
			    message: 'confirm_two_way' }),
			    'add_friend_confirm_return', 'no pending request');
		});

		test('a confirm whose dst is not the connection\'s account ' +
		    'fails with "src is not you"', async () => {
			const a = await newUser();
			const b = await newUser();
			const c = await newUser();
			const ca = await loggedIn(transport, a);
			const cb = await loggedIn(transport, b);
			await ask(ca, a, cb, b);
			const cc = await loggedIn(transport, c);
			assertFail(await cc.request({ command: 'add_friend_confirm',
			    src: a.id, dst: b.id, status: '0',
			    message: 'confirm_two_way' }),
			    'add_friend_confirm_return', 'src is not you');
		});

		test('a reject drops the request: B gets success, A gets fail ' +
		    '"rejected"', async () => {
			const a = await newUser();
			const b = await newUser();
			const ca = await loggedIn(transport, a);
			const cb = await loggedIn(other(transport), b);
			await ask(ca, a, cb, b);
			cb.send({ command: 'add_friend_confirm', src: a.id,
			    dst: b.id, status: '0', message: 'reject' });
			assert.deepEqual(pick(await cb.next(), 'command', 'status'),
			    { command: 'add_friend_confirm_return',
			    status: 'success' });
			const p = await ca.next();
			assert.deepEqual(pick(p, 'command', 'status', 'detail', 'src',
			    'dst'), { command: 'add_friend_confirm_return',
			    status: 'fail', detail: 'rejected', src: a.id,
			    dst: b.id });
			assert.deepEqual(await friendList(ca, a), []);
			assertFail(await cb.request({ command: 'add_friend_confirm',
			    src: a.id, dst: b.id, status: '0',
			    message: 'confirm_two_way' }),
			    'add_friend_confirm_return', 'no pending request');
		});

		test('a confirm while the asker is offline reaches it at its ' +
		    'next login', async () => {
			const a = await newUser();
			const b = await newUser();
			const w = await watcher(a);
			let ca = await loggedIn(transport, a);
			const cb = await loggedIn(transport, b);
			await ask(ca, a, cb, b);
			ca.close();
			// Confirmed before the server has seen ca end, the answer
			// would be written to ca, not kept for a's next login.
			await w.offline();
			cb.send({ command: 'add_friend_confirm', src: a.id,
			    dst: b.id, status: '0', message: 'confirm_two_way' });
			assertSuccess(await cb.next(), 'add_friend_confirm_return');
			ca = await connect(other(transport));
			ca.send({ command: 'login', id: a.id, password: a.password });
			assertSuccess(await ca.next(), 'login_return');
			const p = await ca.next();
			assert.deepEqual(pick(p, 'command', 'status', 'src', 'dst'),
			    { command: 'add_friend_confirm_return', status: 'success',
			    src: a.id, dst: b.id });
		});

		test('asking someone who has already asked you makes you ' +
		    'friends at once', async () => {
			const a = await newUser();
			const b = await newUser();
			const ca = await loggedIn(transport, a);
			const cb = await loggedIn(other(transport), b);
			await ask(ca, a, cb, b);
			cb.send({ command: 'add_friend', src: b.id, dst: a.id,
			    status: '0' });
			// B's add_friend succeeds and, as if B had confirmed A's
			// request, both get its add_friend_confirm_return (src is
			// still A, who asked first); B's two in either order.
			const confirmed = { command: 'add_friend_confirm_return',
			    status: 'success', src: a.id, dst: b.id };
			const fields = (p) => pick(p, 'command', 'status', 'detail',
			    'src', 'dst');
			const toB = [fields(await cb.next()), fields(await cb.next())];
			toB.sort((x, y) => x.command.localeCompare(y.command));
			assert.deepEqual(toB, [confirmed,
			    { command: 'add_friend_return', status: 'success' }]);
			assert.deepEqual(fields(await ca.next()), confirmed);
			assert.equal((await friendList(ca, a))[0]?.id, b.id);
			assert.equal((await friendList(cb, b))[0]?.id, a.id);
		});
	});

	describe(`${transport}: list_friend`, () => {
		afterEach(closeAll);

		test('list_friend of a new account is empty', async () => {
			const a = await newUser();
			const ca = await loggedIn(transport, a);
			assert.deepEqual(await friendList(ca, a), []);
		});

		test('friends are sorted by id and show who is online',
		    async () => {
			const a = await newUser();
			const friends = [];
			for (let i = 0; i < 3; i++)
				friends.push(await newUser());
			const ca = await loggedIn(transport, a);
			const conns = [];
			for (const f of friends.slice().reverse()) {
				const cf = await loggedIn(other(transport), f);
				await ask(ca, a, cf, f);
				await confirm(ca, a, cf, f);
				conns.push(cf);
			}
			conns[0].close();	// the last friend goes offline
			const last = friends[2];
			let list;
			const end = Date.now() + 5000;
			do {
				list = await friendList(ca, a);
			} while (list.find((f) => f.id === last.id)?.online &&
			    Date.now() < end);
			assert.deepEqual(list.map((f) => f.id),
			    friends.map((f) => f.id));
			assert.deepEqual(list.map((f) => f.online),
			    [true, true, false]);
		});

		test('list_friend of another account fails with ' +
		    '"src is not you"', async () => {
			const a = await newUser();
			const b = await newUser();
			const ca = await loggedIn(transport, a);
			assertFail(await ca.request({ command: 'list_friend',
			    id: b.id }), 'list_friend_return', 'src is not you');
		});

		test('list_friend before login fails with "not logged in"',
		    async () => {
			const c = await connect(transport);
			assertFail(await c.request({ command: 'list_friend',
			    id: '10000' }), 'list_friend_return', 'not logged in');
		});
	});
}
