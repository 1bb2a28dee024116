// Timers of the push daemon: a connection that never logs in is closed
// after login_timeout, a logged-in one is kept, and an idle WebSocket is
// pinged after ping_interval.  tests/run.sh starts its stack with short
// values and passes them in CHAT_TEST_LOGIN_TIMEOUT and
// CHAT_TEST_PING_INTERVAL (seconds); without them these tests skip, since
// the defaults (30 s) would make them slow.
//
// Waiting for a timer to fire is what these tests are about, so they wait
// for events with deadlines; nothing is synchronised by sleeping.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { TRANSPORTS, closeAll, connect } from '../lib/client.mjs';
import { assertFail } from '../lib/expect.mjs';
import { login, loggedIn, newUser } from '../lib/users.mjs';

const loginTimeout = Number(process.env.CHAT_TEST_LOGIN_TIMEOUT) || 0;
const pingInterval = Number(process.env.CHAT_TEST_PING_INTERVAL) || 0;
const skipLogin = loginTimeout > 0 && loginTimeout <= 10 ? false :
    'needs CHAT_TEST_LOGIN_TIMEOUT (at most 10 s)';
const skipPing = pingInterval > 0 && pingInterval <= 10 ? false :
    'needs CHAT_TEST_PING_INTERVAL (at most 10 s)';

for (const transport of TRANSPORTS) {
	describe(`${transport}: login timeout`, () => {
		afterEach(closeAll);

		test('a connection that never logs in is closed after ' +
		    'login_timeout', { timeout: 30000, skip: skipLogin },
		    async () => {
			const start = Date.now();
			const c = await connect(transport);
			await c.closed((loginTimeout + 5) * 1000);
			const elapsed = (Date.now() - start) / 1000;
			assert.ok(elapsed >= loginTimeout - 0.5,
			    `closed after ${elapsed} s, login_timeout is ` +
			    `${loginTimeout} s`);
		});

		test('a connection that only registers is still closed after ' +
		    'login_timeout', { timeout: 30000, skip: skipLogin },
		    async () => {
			const start = Date.now();
			const c = await connect(transport);
			const p = await c.request({ command: 'logon',
			    username: 'timeout', password: 'password1' });
			assert.equal(p.status, 'success');
			await c.closed((loginTimeout + 5) * 1000);
			// A logon does not log in, nor does it end the wait early.
			const elapsed = (Date.now() - start) / 1000;
			assert.ok(elapsed >= loginTimeout - 0.5,
			    `closed after ${elapsed} s, login_timeout is ` +
			    `${loginTimeout} s`);
		});

		test('a logged-in connection outlives login_timeout',
		    { timeout: 30000, skip: skipLogin }, async () => {
			const u = await newUser({ transport });
			const c = await loggedIn(transport, u);
			// Not closed within login_timeout plus a margin...
			await assert.rejects(c.closed((loginTimeout + 2) * 1000),
			    /still open/);
			// ...and still served.
			const p = await c.request({ command: 'login', id: u.id,
			    password: u.password });
			assertFail(p, 'login_return', 'already logged in');
		});
	});
}

describe('ws: pings', () => {
	afterEach(closeAll);

	test('an idle WebSocket connection is pinged after ping_interval and ' +
	    'stays open when it answers', { timeout: 30000, skip: skipPing },
	    async () => {
		const u = await newUser();
		const c = await loggedIn('ws', u);
		// The last the server heard was the drain's probe, just before
		// loggedIn returned: no ping before ping_interval of silence.
		const start = Date.now();
		await c.ping((pingInterval + 5) * 1000);
		const elapsed = (Date.now() - start) / 1000;
		assert.ok(elapsed >= pingInterval - 0.5, `pinged after ` +
		    `${elapsed} s of silence, ping_interval is ${pingInterval} s`);
		await c.ping((pingInterval + 5) * 1000);
		assert.equal(c.closeInfo, null);
		const p = await c.request({ command: 'login', id: u.id,
		    password: u.password });
		assertFail(p, 'login_return', 'already logged in');
	});

	test('a WebSocket connection that does not answer a ping is closed ' +
	    'at the next ping_interval', { timeout: 30000, skip: skipPing },
	    async () => {
		const u = await newUser();
		const c = await connect('ws', undefined, { autoPong: false });
		await login(c, u);
		await c.ping((pingInterval + 5) * 1000);
		const start = Date.now();
		await c.closed((2 * pingInterval + 5) * 1000);
		const elapsed = (Date.now() - start) / 1000;
		assert.ok(elapsed >= pingInterval - 0.5, `closed ${elapsed} s ` +
		    `after the ping, ping_interval is ${pingInterval} s`);
		assert.ok(c.pings >= 1);
	});
});
