// Sessions: logon (registration), login, logout and the failed-login
// throttle, on both transports (PROTOCOL.md sections 2 and 4).
import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';

import { TRANSPORTS, closeAll, connect, freshAddress } from '../lib/client.mjs';
import { assertFail, assertSuccess, pick } from '../lib/expect.mjs';
import {
	logon, login, loggedIn, newUser, randomPassword, uniqueName, unknownId,
} from '../lib/users.mjs';

after(closeAll);

for (const transport of TRANSPORTS) {
	describe(`${transport}: logon`, () => {
		afterEach(closeAll);

		test('logon returns a numeric string id of at least 10000',
		    async () => {
			const c = await connect(transport);
			const p = await c.request({ command: 'logon',
			    username: uniqueName(), password: randomPassword() });
			assert.equal(p.command, 'logon_return');
			assert.equal(p.status, 'success');
			assert.equal(typeof p.id, 'string');
			assert.match(p.id, /^[1-9][0-9]*$/);
			assert.ok(Number(p.id) >= 10000, `id ${p.id}`);
		});

		test('two logons get two different ids', async () => {
			const c = await connect(transport);
			const name = uniqueName();
			const a = await logon(c, name, randomPassword());
			const b = await logon(c, name, randomPassword());
			assert.notEqual(a, b);
		});

		const badUsernames = {
			'an empty username': '',
			'a 33-character username': 'a'.repeat(33),
			'a username with a control character': 'bad\u0007name',
			'a username with a newline': 'bad\nname',
		};
		for (const [what, username] of Object.entries(badUsernames)) {
			test(`logon with ${what} fails with "bad username"`,
			    async () => {
				const c = await connect(transport);
				const p = await c.request({ command: 'logon',
				    username, password: randomPassword() });
				assertFail(p, 'logon_return', 'bad username');
			});
		}

		const badPasswords = {
			'a 7-byte password': '1234567',
			'a 129-byte password': 'p'.repeat(129),
			'an empty password': '',
		};
		for (const [what, password] of Object.entries(badPasswords)) {
			test(`logon with ${what} fails with "bad password"`,
			    async () => {
				const c = await connect(transport);
				const p = await c.request({ command: 'logon',
				    username: uniqueName(), password });
				assertFail(p, 'logon_return', 'bad password');
			});
		}

		test('passwords of 8 and of 128 bytes are accepted', async () => {
			for (const password of ['12345678', 'p'.repeat(128)]) {
				const u = await newUser({ transport, password });
				const c = await loggedIn(transport, u);
				c.close();
			}
		});

		test('a password of 43 three-byte characters (129 bytes) fails ' +
		    'with "bad password"', async () => {
			const c = await connect(transport);
			const p = await c.request({ command: 'logon',
			    username: uniqueName(), password: '密'.repeat(43) });
			assertFail(p, 'logon_return', 'bad password');
		});

		test('a 32-character Chinese username works and comes back ' +
		    'unchanged at login', async () => {
			const username = '张'.repeat(16) + '伟'.repeat(16);
			const u = await newUser({ transport, username });
			const c = await connect(transport);
			const p = await login(c, u);
			assert.equal(p.username, username);
		});

		test('a 1-character username and one with an emoji work',
		    async () => {
			for (const username of ['x', 'smile \u{1F600}']) {
				const u = await newUser({ transport, username });
				const c = await connect(transport);
				const p = await login(c, u);
				assert.equal(p.username, username);
			}
		});
	});

	describe(`${transport}: login and logout`, () => {
		afterEach(closeAll);

		test('login with the right password returns the username',
		    async () => {
			const u = await newUser({ transport });
			const c = await connect(transport);
			const p = await c.request({ command: 'login', id: u.id,
			    password: u.password });
			assert.deepEqual(pick(p, 'command', 'status', 'username'),
			    { command: 'login_return', status: 'success',
			    username: u.username });
		});

		test('login accepts the id as a JSON number', async () => {
			const u = await newUser({ transport });
			const c = await connect(transport);
			const p = await c.request({ command: 'login',
			    id: Number(u.id), password: u.password });
			assert.deepEqual(pick(p, 'command', 'status', 'username'),
			    { command: 'login_return', status: 'success',
			    username: u.username });
		});

		test('logout before login fails with "not logged in"', async () => {
			const c = await connect(transport);
			const p = await c.request({ command: 'logout', id: '10000' });
			assertFail(p, 'logout_return', 'not logged in');
		});

		test('login, then logout, then commands fail with "not logged in"',
		    async () => {
			const u = await newUser({ transport });
			const c = await loggedIn(transport, u);
			let p = await c.request({ command: 'logout', id: u.id });
			assert.deepEqual(pick(p, 'command', 'status'),
			    { command: 'logout_return', status: 'success' });
			p = await c.request({ command: 'logout', id: u.id });
			assertFail(p, 'logout_return', 'not logged in');
		});

		test('after logout the connection can log in again', async () => {
			const u = await newUser({ transport });
			const c = await loggedIn(transport, u);
			assertSuccess(await c.request({ command: 'logout', id: u.id }),
			    'logout_return');
			await login(c, u);
		});

		test('logout naming another account fails with "src is not you"',
		    async () => {
			const u = await newUser({ transport });
			const other = await newUser({ transport });
			const c = await loggedIn(transport, u);
			const p = await c.request({ command: 'logout', id: other.id });
			assertFail(p, 'logout_return', 'src is not you');
		});

		test('a second login on the same connection fails with ' +
		    '"already logged in", for the same or another account',
		    async () => {
			const u = await newUser({ transport });
			const other = await newUser({ transport });
			const c = await loggedIn(transport, u);
			for (const who of [u, other]) {
				const p = await c.request({ command: 'login',
				    id: who.id, password: who.password });
				assertFail(p, 'login_return', 'already logged in');
			}
		});

		test('a wrong password and an unknown id get the same answer',
		    async () => {
			const u = await newUser({ transport });
			const c = await connect(transport, { from: freshAddress() });
			const wrong = await c.request({ command: 'login', id: u.id,
			    password: 'not the password' });
			const unknown = await c.request({ command: 'login',
			    id: unknownId(), password: 'not the password' });
			assertFail(wrong, 'login_return',
			    'wrong id or password');
			assert.deepEqual(unknown, wrong);
		});

		test('login with an id that is not a decimal number fails like ' +
		    'a wrong password', async () => {
			// Such ids name nobody; the server may count their failures
			// together (as one id), so the throttle may answer instead.
			const c = await connect(transport, { from: freshAddress() });
			for (const id of ['abc', '-1', '007']) {
				const p = await c.request({ command: 'login', id,
				    password: 'whatever1' });
				assert.equal(p.command, 'login_return', `id ${id}`);
				assert.equal(p.status, 'fail', `id ${id}`);
				assert.ok(['wrong id or password', 'too many attempts']
				    .includes(p.detail), `id ${id}: ${p.detail}`);
			}
		});

		test('the same account may be logged in on several connections ' +
		    'and both transports at once', async () => {
			const u = await newUser({ transport });
			const conns = [];
			for (const t of ['ws', 'tcp', transport])
				conns.push(await loggedIn(t, u));
			// Each connection, the earlier ones too, is still logged in
			// as u: its own command is answered as u's, and a login on
			// it is refused.
			for (const [i, c] of conns.entries()) {
				const p = await c.request({ command: 'list_friend',
				    id: u.id });
				assertSuccess(p, 'list_friend_return',
				    `connection ${i}: ${JSON.stringify(p)}`);
				assert.equal(p.id, u.id, `connection ${i}`);
				assertFail(await c.request({ command: 'login',
				    id: u.id, password: u.password }), 'login_return',
				    'already logged in', `connection ${i}`);
			}
		});
	});

	// Each test comes from an address of its own (nginx passes it on as
	// for any client): the counters are per id and address, and per
	// address; 15-abuse-limits has the rest (spraying, the backoff, races).
	describe(`${transport}: failed-login throttle`, () => {
		afterEach(closeAll);

		test('the 6th login within a minute for a known id from one ' +
		    'address fails with "too many attempts", even with the right ' +
		    'password', async () => {
			const u = await newUser({ transport });
			const c = await connect(transport, { from: freshAddress() });
			for (let i = 1; i <= 5; i++) {
				const p = await c.request({ command: 'login', id: u.id,
				    password: `wrong password ${i}` });
				assertFail(p, 'login_return',
				    'wrong id or password', `attempt ${i}`);
			}
			let p = await c.request({ command: 'login', id: u.id,
			    password: 'wrong password 6' });
			assertFail(p, 'login_return', 'too many attempts');
			p = await c.request({ command: 'login', id: u.id,
			    password: u.password });
			assertFail(p, 'login_return', 'too many attempts');
		});

		test('the 6th login within a minute for an unknown id from one ' +
		    'address fails with "too many attempts"', async () => {
			const id = unknownId();
			const c = await connect(transport, { from: freshAddress() });
			for (let i = 1; i <= 5; i++) {
				const p = await c.request({ command: 'login', id,
				    password: `wrong password ${i}` });
				assertFail(p, 'login_return',
				    'wrong id or password', `attempt ${i}`);
			}
			const p = await c.request({ command: 'login', id,
			    password: 'wrong password 6' });
			assertFail(p, 'login_return', 'too many attempts');
		});

		test('failures from one address on several connections and both ' +
		    'transports add up', async () => {
			const u = await newUser({ transport });
			const from = freshAddress();
			for (let i = 1; i <= 5; i++) {
				const c = await connect(i % 2 ? 'ws' : 'tcp', { from });
				const p = await c.request({ command: 'login', id: u.id,
				    password: `wrong password ${i}` });
				assert.equal(p.detail, 'wrong id or password');
				c.close();
			}
			const c = await connect(transport, { from });
			const p = await c.request({ command: 'login', id: u.id,
			    password: 'wrong password 6' });
			assertFail(p, 'login_return', 'too many attempts');
		});

		test('an id throttled from one address still logs in from ' +
		    'another', async () => {
			const u = await newUser({ transport });
			const c = await connect(transport, { from: freshAddress() });
			for (let i = 1; i <= 6; i++)
				await c.request({ command: 'login', id: u.id,
				    password: `wrong password ${i}` });
			assertFail(await c.request({ command: 'login', id: u.id,
			    password: u.password }), 'login_return',
			    'too many attempts');
			const d = await connect(transport, { from: freshAddress() });
			await login(d, u);
		});

		test('a success from an address forgets its failures there',
		    async () => {
			const u = await newUser({ transport });
			const from = freshAddress();
			for (let round = 0; round < 2; round++) {
				const c = await connect(transport, { from });
				for (let i = 1; i <= 4; i++)
					assertFail(await c.request({ command: 'login',
					    id: u.id, password: `wrong password ${i}` }),
					    'login_return', 'wrong id or password',
					    `round ${round}, attempt ${i}`);
				await login(c, u);
				c.close();
			}
		});

		test('a throttled id does not slow down another id', async () => {
			const u = await newUser({ transport });
			const other = await newUser({ transport });
			const from = freshAddress();
			// How long a login of other takes before any throttle.
			const before = await connect(transport, { from });
			let start = Date.now();
			await login(before, other);
			const base = Date.now() - start;
			before.close();
			const c = await connect(transport, { from });
			for (let i = 1; i <= 6; i++)
				await c.request({ command: 'login', id: u.id,
				    password: `wrong password ${i}` });
			assertFail(await c.request({ command: 'login', id: u.id,
			    password: 'wrong password 7' }), 'login_return',
			    'too many attempts');
			start = Date.now();
			await login(c, other);
			const took = Date.now() - start;
			// The margin is for a machine shared with other jobs; a
			// delay of a second put on u's failures that reached other
			// still shows.
			assert.ok(took < 3 * base + 500, `other's login took ` +
			    `${took} ms while u is throttled, ${base} ms before`);
		});
	});
}
