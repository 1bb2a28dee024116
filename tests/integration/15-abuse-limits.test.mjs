// The limits that stop a hostile user without stopping honest ones
// (issue 11, items 2 and 3), at their defaults: failed logins per (id,
// client address), per address and the per-id backoff; registrations,
// friend requests and connections per address or account; messages per
// account across all its connections.
//
// tests/run.sh lifts the volume limits on its shared stack (most tests come
// from 127.0.0.1 by the hundred), so this file starts a stack of its own
// with every limit at its default.  Each test that counts per address
// comes from loopback addresses of its own (client.mjs freshAddress()):
// nginx sees them as client addresses and passes them on, X-Real-IP on
// WebSocket and the PROXY line on TCP, as it would a real client's.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';

import {
	TRANSPORTS, closeAll, connect, freshAddress, http,
} from '../lib/client.mjs';
import { assertError, assertFail, assertSuccess } from '../lib/expect.mjs';
import { befriend, pool } from '../lib/friends.mjs';
import { canStartOwnStack, startOwnStack } from '../lib/own-stack.mjs';
import {
	drain, login, loggedIn, logon, newUser, randomPassword, uniqueName,
	unknownId,
} from '../lib/users.mjs';

// The defaults (common/config.c) this file checks.
const PER_ID_ADDRESS = 5;	// login_failures_per_minute
const PER_ADDRESS = 20;		// login_failures_per_address
const PER_ID = 20;		// login_failures_per_id
const REGISTRATIONS = 10;	// registrations_per_hour
const ASKS_PER_MINUTE = 20;	// friend_requests_per_minute
const ASKS_PER_DAY = 200;	// friend_requests_per_day
const CONNECTIONS = 100;	// connections_per_address
const RATE = 50;		// account_packet_rate = packet_rate
const BURST = 100;		// account_packet_burst = packet_burst

const other = (t) => (t === 'ws' ? 'tcp' : 'ws');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let stack;

// Registers an account from an address of its own, so that registrations
// per address never get in the way of a test that is not about them.
const user = (transport = 'ws') => newUser({ transport,
    from: freshAddress() });
const users = (count) => pool(Array.from({ length: count }), 8,
    (_, i) => user(i % 2 ? 'tcp' : 'ws'));

function login_(c, id, password) {
	return c.request({ command: 'login', id, password });
}

// One statement on the stack's database, as root; its rows, tab-separated.
function sql(query) {
	return execFileSync('mariadb', [
	    `--defaults-file=${path.join(stack.dir, 'my.cnf')}`, '--batch',
	    '--skip-column-names', 'chat', '-e', query], { encoding: 'utf8' });
}

// Everything that waited for u on c, up to the answer of a probe.
const rest = (c, u) => drain(c, u);

describe('abuse limits at their defaults', { skip: !canStartOwnStack() &&
    'fcgi_app and push_daemon are not built' }, () => {
	before(async () => {
		stack = await startOwnStack();
	});
	after(async () => {
		closeAll();
		if (stack)
			await stack.remove();
	});
	afterEach(closeAll);

	for (const transport of TRANSPORTS) {
		describe(`${transport}: logins`, () => {
			test('the owner logs in from another address after 10 ' +
			    'failures for its id from one address', async () => {
				const u = await user(transport);
				const c = await connect(transport,
				    { from: freshAddress() });
				for (let i = 1; i <= 10; i++) {
					const p = await login_(c, u.id, `wrong ${i}`);
					assertFail(p, 'login_return', i <= PER_ID_ADDRESS ?
					    'wrong id or password' : 'too many attempts',
					    `attempt ${i}`);
				}
				// The attacker's address is refused even the password...
				assertFail(await login_(c, u.id, u.password),
				    'login_return', 'too many attempts');
				// ...and the owner, elsewhere, on either transport, is not.
				for (const t of TRANSPORTS) {
					const d = await connect(t, { from: freshAddress() });
					await login(d, u);
				}
			});

			// Three rounds, each on an id and address of its own: one
			// round of a racy counter may still come out right by luck.
			test('20 parallel wrong logins for one id from one address ' +
			    'get exactly 5 tries, three times over', async () => {
				for (let round = 0; round < 3; round++) {
					const u = await user(transport);
					const from = freshAddress();
					const conns = await Promise.all(Array.from(
					    { length: 20 }, (_, i) => connect(i % 2 ?
					    transport : other(transport), { from })));
					for (const [i, c] of conns.entries())
						c.send({ command: 'login', id: u.id,
						    password: `wrong ${i}` });
					const answers = await Promise.all(conns.map((c) =>
					    c.next()));
					const details = answers.map((p) => p.detail).sort();
					assert.deepEqual(details, [
					    ...Array(20 - PER_ID_ADDRESS)
						.fill('too many attempts'),
					    ...Array(PER_ID_ADDRESS)
						.fill('wrong id or password'),
					], `round ${round}`);
					for (const c of conns)
						c.close();
				}
			});

			test('spraying many ids from one address is cut off per ' +
			    'address; another address is not', async () => {
				const c = await connect(transport,
				    { from: freshAddress() });
				const got = [];
				for (let i = 0; i < 2 * PER_ADDRESS; i++)
					got.push((await login_(c, unknownId(),
					    'a guessed password')).detail);
				assert.deepEqual(got, [
				    ...Array(PER_ADDRESS).fill('wrong id or password'),
				    ...Array(PER_ADDRESS).fill('too many attempts'),
				]);
				// Ids that are not ids count too.
				assertFail(await login_(c, 'abc', 'xxxxxxxx'),
				    'login_return', 'too many attempts');
				const u = await user(transport);
				const d = await connect(transport,
				    { from: freshAddress() });
				assertFail(await login_(d, unknownId(), 'guess'),
				    'login_return', 'wrong id or password');
				await login(d, u);
			});
		});
	}

	test('past 20 failures for an id, an address that failed for it ' +
	    'waits a doubling delay, even with the right password; an ' +
	    'address that did not is never held back', async () => {
		const u = await user();
		// Four addresses, five failures each: the id is at its limit.
		for (let a = 0; a < PER_ID / PER_ID_ADDRESS; a++) {
			const c = await connect(a % 2 ? 'tcp' : 'ws',
			    { from: freshAddress() });
			for (let i = 0; i < PER_ID_ADDRESS; i++)
				assertFail(await login_(c, u.id, 'wrong'),
				    'login_return', 'wrong id or password');
		}
		// A fifth address fails once: the id's 21st, a 2 s delay.
		const from = freshAddress();
		const c = await connect('tcp', { from });
		assertFail(await login_(c, u.id, 'wrong'), 'login_return',
		    'wrong id or password');
		const failedAt = Date.now();
		assertFail(await login_(c, u.id, u.password), 'login_return',
		    'too many attempts');
		// The owner from an address with no failure gets in at once.
		const owner = await connect('ws', { from: freshAddress() });
		await login(owner, u);
		assert.ok(Date.now() - failedAt < 1500, 'the owner waited');
		// The delay ends: the address that failed may try again.
		await sleep(failedAt + 2300 - Date.now());
		const d = await connect('ws', { from });
		await login(d, u);
		const rows = sql(`SELECT failures FROM login_backoff ` +
		    `WHERE account_id = ${Number(u.id)}`);
		assert.equal(rows.trim(), String(PER_ID + 1));
	});

	for (const transport of TRANSPORTS) {
		describe(`${transport}: registrations`, () => {
			test('the 11th registration from one address in an hour ' +
			    'is refused with "too many attempts"; another address ' +
			    'still registers', async () => {
				const from = freshAddress();
				const c = await connect(transport, { from });
				for (let i = 0; i < REGISTRATIONS; i++)
					await logon(c, uniqueName(), randomPassword());
				assertFail(await c.request({ command: 'logon',
				    username: uniqueName(), password: randomPassword() }),
				    'logon_return', 'too many attempts');
				// A new connection from the same address is no way out.
				const d = await connect(other(transport), { from });
				assertFail(await d.request({ command: 'logon',
				    username: uniqueName(), password: randomPassword() }),
				    'logon_return', 'too many attempts');
				const e = await connect(transport,
				    { from: freshAddress() });
				await logon(e, uniqueName(), randomPassword());
			});
		});
	}

	test('of 20 parallel registrations from one address exactly 10 ' +
	    'succeed', async () => {
		const from = freshAddress();
		const conns = await Promise.all(Array.from({ length: 20 },
		    (_, i) => connect(i % 2 ? 'ws' : 'tcp', { from })));
		for (const c of conns)
			c.send({ command: 'logon', username: uniqueName(),
			    password: randomPassword() });
		const answers = await Promise.all(conns.map((c) => c.next()));
		const ok = answers.filter((p) => p.status === 'success');
		assert.equal(ok.length, REGISTRATIONS, JSON.stringify(answers));
		for (const p of answers.filter((q) => q.status !== 'success'))
			assertFail(p, 'logon_return', 'too many attempts');
		assert.equal(new Set(ok.map((p) => p.id)).size, REGISTRATIONS);
	});

	// The only test here that registers from 127.0.0.1: node's fetch
	// cannot pick its source address.
	test('POST /api/logon counts against the address as a packet does: ' +
	    'the 11th answers 200 with "too many attempts", and so does a ' +
	    'WebSocket logon from the same address', async () => {
		const post = () => http('POST', '/api/logon', {
		    headers: { 'Content-Type': 'application/json' },
		    body: JSON.stringify({ command: 'logon',
			username: uniqueName(), password: randomPassword() }) });
		for (let i = 0; i < REGISTRATIONS; i++) {
			const r = await post();
			assert.equal(r.status, 200);
			assertSuccess(r.json, 'logon_return');
		}
		const r = await post();
		assert.equal(r.status, 200);
		assertFail(r.json, 'logon_return', 'too many attempts');
		const c = await connect('ws', { from: '127.0.0.1' });
		assertFail(await c.request({ command: 'logon',
		    username: uniqueName(), password: randomPassword() }),
		    'logon_return', 'too many attempts');
	});

	test('a forged X-Real-IP header does not give a WebSocket client ' +
	    'another address', async () => {
		const from = freshAddress();
		const c = await connect('ws', { from });
		for (let i = 0; i < REGISTRATIONS; i++)
			await logon(c, uniqueName(), randomPassword());
		const d = await connect('ws', { from,
		    headers: { 'X-Real-IP': freshAddress() } });
		assertFail(await d.request({ command: 'logon',
		    username: uniqueName(), password: randomPassword() }),
		    'logon_return', 'too many attempts');
	});

	for (const transport of TRANSPORTS) {
		describe(`${transport}: friend requests`, () => {
			test('friend-request spam to strangers is stopped after 20 ' +
			    'a minute, and the refused ones reach nobody', async () => {
				const [a, ...strangers] = await users(1 + ASKS_PER_MINUTE + 3);
				const ca = await loggedIn(transport, a);
				const got = [];
				for (const s of strangers)
					got.push((await ca.request({ command: 'add_friend',
					    src: a.id, dst: s.id, status: '0' })).status);
				assert.deepEqual(got, [
				    ...Array(ASKS_PER_MINUTE).fill('success'),
				    ...Array(3).fill('fail')]);
				assertFail(await ca.request({ command: 'add_friend',
				    src: a.id, dst: strangers[0].id, status: '1' }),
				    'add_friend_return', 'rate limited');
				// The last asked got it at login, the first refused not.
				const asked = await loggedIn(other(transport),
				    strangers[ASKS_PER_MINUTE - 1]);
				assert.deepEqual(asked.backlog.map((p) => [p.command,
				    p.src]), [['add_friend', a.id]]);
				const spared = await loggedIn(other(transport),
				    strangers[ASKS_PER_MINUTE]);
				assert.deepEqual(spared.backlog, []);
			});

			test('asking one account again and again counts each time',
			    async () => {
				const [a, b] = await users(2);
				const ca = await loggedIn(transport, a);
				const cb = await loggedIn(other(transport), b);
				for (let i = 0; i < ASKS_PER_MINUTE + 5; i++)
					ca.send({ command: 'add_friend', src: a.id,
					    dst: b.id, status: String(i % 2) });
				const answers = [];
				for (let i = 0; i < ASKS_PER_MINUTE + 5; i++)
					answers.push(await ca.next());
				assert.equal(answers.filter((p) => p.status ===
				    'success').length, ASKS_PER_MINUTE);
				for (const p of answers.slice(ASKS_PER_MINUTE))
					assertFail(p, 'add_friend_return', 'rate limited');
				// B was sent each accepted ask once, and nothing else.
				const seen = await rest(cb, b);
				assert.equal(seen.filter((p) => p.command ===
				    'add_friend').length, ASKS_PER_MINUTE);
				// Confirming is an answer, not a request: it works.
				assertSuccess(await cb.request({
				    command: 'add_friend_confirm', src: a.id, dst: b.id,
				    status: '0', message: 'confirm_two_way' }),
				    'add_friend_confirm_return');
			});
		});
	}

	test('an account at its 200th friend request of the day is refused ' +
	    'the next, whatever the minute', async () => {
		const [a, b, c] = await users(3);
		// The day's count as 199 asks spread over the day would leave it.
		sql(`INSERT INTO friend_asks VALUES (${Number(a.id)}, NOW(), 0, ` +
		    `NOW() - INTERVAL 23 HOUR, ${ASKS_PER_DAY - 1})`);
		const ca = await loggedIn('ws', a);
		assertSuccess(await ca.request({ command: 'add_friend', src: a.id,
		    dst: b.id, status: '0' }), 'add_friend_return');
		assertFail(await ca.request({ command: 'add_friend', src: a.id,
		    dst: c.id, status: '0' }), 'add_friend_return', 'rate limited');
	});

	test('an account on 20 connections, both transports, is held to ' +
	    'its rate together; nothing it was told was accepted is lost',
	    { timeout: 60000 }, async () => {
		const [a, b, x, y] = await users(4);
		await befriend(a, b);
		await befriend(x, y);
		const cb = await loggedIn('ws', b);
		const conns = await pool(Array.from({ length: 20 }), 5,
		    (_, i) => loggedIn(i % 2 ? 'tcp' : 'ws', a));
		const each = 40;	// under the per-connection burst
		const start = Date.now();
		for (let k = 0; k < each; k++)
			for (const [i, c] of conns.entries())
				c.send({ command: 'send_message', src: a.id, dst: b.id,
				    message: `${i}.${k}` });
		// Another account sends meanwhile: its rate is its own.
		const cx = await loggedIn('tcp', x);
		assertSuccess(await cx.request({ command: 'send_message',
		    src: x.id, dst: y.id, message: 'not limited' }),
		    'send_message_return');
		let ok = 0;
		for (const c of conns)
			for (let k = 0; k < each; k++) {
				let p;
				do
					p = await c.next(30000);
				while (p.command !== 'send_message_return');
				if (p.status === 'success') {
					assertSuccess(p, 'send_message_return');
					ok++;
				} else {
					assertFail(p, 'send_message_return', 'rate limited');
				}
			}
		const seconds = (Date.now() - start) / 1000;
		const most = BURST + RATE * (seconds + 1);
		assert.ok(ok <= most, `${ok} accepted in ${seconds} s, at most ` +
		    `${most} allowed`);
		assert.ok(ok >= BURST / 2, `only ${ok} accepted`);
		// Every accepted message reaches b, once.
		const got = (await rest(cb, b)).filter((p) => p.command ===
		    'send_message');
		assert.equal(got.length, ok);
		assert.equal(new Set(got.map((p) => p.msg_id)).size, ok);
	});

	for (const transport of TRANSPORTS) {
		test(`${transport}: the 101st connection from one address gets ` +
		    '"too many connections" and is closed; once one closes ' +
		    'another may come; other addresses are not counted',
		    { timeout: 60000 }, async () => {
			const from = freshAddress();
			// Both transports count together.
			const conns = await pool(Array.from({ length: CONNECTIONS }),
			    10, (_, i) => connect(i % 2 ? 'tcp' : 'ws', { from }));
			// Each is past its handshake: it answers (a packet that
			// costs no login attempt, which are limited per address).
			const probe = (c) => c.request({ command: 'logout', id: '1' });
			await pool(conns, 10, async (c) => assertFail(await probe(c),
			    'logout_return', 'not logged in'));
			const extra = await connect(transport, { from });
			assertError(await extra.next(), 'too many connections');
			await extra.closed();
			conns[0].close();
			// The daemon counts the close once it has seen it.
			let again;
			for (const end = Date.now() + 10000; ;) {
				again = await connect(transport, { from });
				const p = await probe(again).catch(() => null);
				if (p && p.command === 'logout_return')
					break;
				assert.ok(Date.now() < end, 'still refused');
				await sleep(100);
			}
			const elsewhere = await connect(transport,
			    { from: freshAddress() });
			assertFail(await probe(elsewhere), 'logout_return',
			    'not logged in');
		});
	}
});
