// The limits of PROTOCOL.md section 6 as a logged-in user meets them: the
// packet rate, pending friend requests, friend lists longer than one
// packet; add_friend_confirm's status; and one account on both transports.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { TRANSPORTS, closeAll } from '../lib/client.mjs';
import { assertFail, assertSuccess, pick } from '../lib/expect.mjs';
import { befriend, newUsers, pool } from '../lib/friends.mjs';
import { loggedIn } from '../lib/users.mjs';

const other = (t) => (t === 'ws' ? 'tcp' : 'ws');

// PROTOCOL.md section 6 defaults, which tests/run.sh keeps; it lifts
// friend_requests_per_minute and _per_day (a test here asks 100 strangers
// at once), whose defaults 15-abuse-limits checks.  The per-account packet
// rate is the per-connection one, so one connection meets the same burst.
const PACKET_BURST = 100;
const PENDING_MAX = 100;
const PACKET_MAX = 2048;

// Nothing more is queued for c: the next packet answers a probe.
async function nothingMore(c, u) {
	assertFail(await c.request({ command: 'login', id: u.id,
	    password: u.password }), 'login_return', 'already logged in');
}

function ask(c, a, b, status = '0') {
	return c.request({ command: 'add_friend', src: a.id, dst: b.id,
	    status });
}

for (const transport of TRANSPORTS) {
	describe(`${transport}: limits`, () => {
		afterEach(closeAll);

		test('messages past the burst get "rate limited", are not ' +
		    'delivered, and the connection sends again once tokens ' +
		    'come back', async () => {
			const [a, b] = await newUsers(2);
			await befriend(a, b);
			const ca = await loggedIn(transport, a);
			const cb = await loggedIn(other(transport), b);
			const n = PACKET_BURST + 50;
			for (let i = 0; i < n; i++)
				ca.send({ command: 'send_message', src: a.id, dst: b.id,
				    message: `burst ${i}` });
			const sent = [];
			for (let i = 0; i < n; i++) {
				const p = await ca.next();
				if (p.status === 'success') {
					assertSuccess(p, 'send_message_return');
					sent.push(`burst ${i}`);
				} else {
					assertFail(p, 'send_message_return', 'rate limited');
				}
			}
			assert.ok(sent.length < n, 'nothing was rate limited');
			assert.ok(sent.length >= PACKET_BURST / 2,
			    `only ${sent.length} got through`);
			const got = [];
			for (let i = 0; i < sent.length; i++)
				got.push((await cb.next()).message);
			assert.deepEqual(got, sent);
			await nothingMore(cb, b);

			// 50 tokens a second: poll until a message goes through.
			const end = Date.now() + 10000;
			for (;;) {
				const p = await ca.request({ command: 'send_message',
				    src: a.id, dst: b.id, message: 'later' });
				if (p.detail !== 'rate limited') {
					assertSuccess(p, 'send_message_return');
					break;
				}
				assert.ok(Date.now() < end, 'still rate limited');
				await new Promise((r) => setTimeout(r, 200));
			}
			assert.equal((await cb.next()).message, 'later');
		});

		test('a friend list longer than one packet comes as several, ' +
		    'each at most 2048 bytes, "more": true on all but the last, ' +
		    'all friends sorted by id', { timeout: 120000 }, async () => {
			const count = 40;
			// 32 characters, 96 bytes: about 12 friends a packet.
			const name = (i) => '长'.repeat(29) + String(i).padStart(3, '0');
			const [x, ...fs] = await newUsers(1 + count, (i) =>
			    (i === 0 ? {} : { username: name(i) }));
			const cx = await loggedIn(transport, x);
			for (const f of fs)
				assertSuccess(await ask(cx, x, f), 'add_friend_return');
			await pool(fs, 5, async (f, i) => {
				const c = await loggedIn(i % 2 ? 'ws' : 'tcp', f);
				assertSuccess(await c.request({
				    command: 'add_friend_confirm', src: x.id, dst: f.id,
				    status: '1', message: 'confirm_two_way' }),
				    'add_friend_confirm_return');
				c.close();
			});
			for (let i = 0; i < count; i++)
				assertSuccess(await cx.next(), 'add_friend_confirm_return');

			const sizes = [];
			cx.onBytes = (buf) => sizes.push(buf.length);
			const packets = [await cx.request({ command: 'list_friend',
			    id: x.id })];
			while (packets.at(-1).more === true)
				packets.push(await cx.next());
			cx.onBytes = null;

			assert.ok(packets.length >= 3, `${packets.length} packets`);
			packets.forEach((p, i) => {
				assert.deepEqual(pick(p, 'command', 'status', 'id'),
				    { command: 'list_friend_return', status: 'success',
				    id: x.id });
				assert.ok(sizes[i] <= PACKET_MAX, `packet ${i}: ` +
				    `${sizes[i]} bytes`);
				assert.ok(p.friends.length > 0, `packet ${i} is empty`);
				if (i < packets.length - 1)
					assert.equal(p.more, true);
				else
					assert.ok(p.more === undefined || p.more === false,
					    `last packet: more is ${p.more}`);
			});
			const all = packets.flatMap((p) => p.friends);
			const want = fs.slice().sort((a, b) => Number(a.id) -
			    Number(b.id));
			assert.deepEqual(all.map((f) => pick(f, 'id', 'username',
			    'status')), want.map((f) => ({ id: f.id,
			    username: f.username, status: '0' })));
		});

		test('add_friend_confirm with a status other than "0" or "1" ' +
		    'fails with "bad status" and the request stays pending',
		    async () => {
			const [a, b] = await newUsers(2);
			const ca = await loggedIn(other(transport), a);
			const cb = await loggedIn(transport, b);
			assertSuccess(await ask(ca, a, b), 'add_friend_return');
			assert.equal((await cb.next()).command, 'add_friend');
			for (const status of ['7', '', '00', ' 1']) {
				assertFail(await cb.request({
				    command: 'add_friend_confirm', src: a.id, dst: b.id,
				    status, message: 'confirm_two_way' }),
				    'add_friend_confirm_return', 'bad status',
				    `status ${JSON.stringify(status)}`);
			}
			assertSuccess(await cb.request({ command: 'add_friend_confirm',
			    src: a.id, dst: b.id, status: '1',
			    message: 'confirm_two_way' }), 'add_friend_confirm_return');
			// A is told once, of the confirm that worked.
			assert.deepEqual(pick(await ca.next(), 'command', 'status'),
			    { command: 'add_friend_confirm_return',
			    status: 'success' });
			await nothingMore(ca, a);
		});

		test('a reject with a bad status succeeds: the status of a reject ' +
		    'is ignored', async () => {
			const [a, b] = await newUsers(2);
			const ca = await loggedIn(other(transport), a);
			const cb = await loggedIn(transport, b);
			assertSuccess(await ask(ca, a, b), 'add_friend_return');
			assert.equal((await cb.next()).command, 'add_friend');
			assertSuccess(await cb.request({ command: 'add_friend_confirm',
			    src: a.id, dst: b.id, status: '7', message: 'reject' }),
			    'add_friend_confirm_return');
			assertFail(await ca.next(), 'add_friend_confirm_return',
			    'rejected');
		});

		test('one account online on both transports gets a request, the ' +
		    'confirm result and a message on both', async () => {
			const [b, c] = await newUsers(2);
			const cc = await loggedIn(transport, c);
			const both = [await loggedIn('ws', b), await loggedIn('tcp', b)];
			assertSuccess(await ask(cc, c, b), 'add_friend_return');
			for (const cb of both)
				assert.deepEqual(pick(await cb.next(), 'command', 'src'),
				    { command: 'add_friend', src: c.id });
			both[0].send({ command: 'add_friend_confirm', src: c.id,
			    dst: b.id, status: '0', message: 'confirm_two_way' });
			for (const cb of [...both, cc])
				assert.deepEqual(pick(await cb.next(), 'command', 'status',
				    'src', 'dst'), { command: 'add_friend_confirm_return',
				    status: 'success', src: c.id, dst: b.id });
			assertSuccess(await cc.request({ command: 'send_message',
			    src: c.id, dst: b.id, message: 'to both' }),
			    'send_message_return');
			const got = [];
			for (const cb of both)
				got.push(await cb.next());
			assert.deepEqual(got.map((p) => p.message),
			    ['to both', 'to both']);
			assert.equal(got[0].msg_id, got[1].msg_id);
			for (const cb of both)
				await nothingMore(cb, b);
		});
	});
}

describe('pending friend requests', () => {
	afterEach(closeAll);

	test('an account with 100 requests pending gets "too many pending ' +
	    'requests" for a 101st; asking again, a mutual ask and an ask ' +
	    'after a reject still work', { timeout: 120000 }, async () => {
		const [a, c, extra, ...targets] = await newUsers(3 + PENDING_MAX);
		// c has asked a first: a's ask of c makes them friends.
		const cc = await loggedIn('tcp', c);
		assertSuccess(await ask(cc, c, a), 'add_friend_return');
		// The asks come from two connections, one per transport, so
		// that neither passes the packet burst.
		const half = PENDING_MAX / 2;
		const ca1 = await loggedIn('ws', a);
		for (const t of targets.slice(0, half))
			assertSuccess(await ask(ca1, a, t), 'add_friend_return');
		ca1.close();
		const ca = await loggedIn('tcp', a);
		for (const t of targets.slice(half))
			assertSuccess(await ask(ca, a, t), 'add_friend_return');

		assertFail(await ask(ca, a, extra), 'add_friend_return',
		    'too many pending requests');
		// Asking again replaces a pending request: not one more.
		assertSuccess(await ask(ca, a, targets[0], '1'),
		    'add_friend_return');
		// c's request was pending: this ask confirms it.
		assertSuccess(await ask(ca, a, c), 'add_friend_return');
		assert.equal((await ca.next()).command, 'add_friend_confirm_return');
		assert.equal((await cc.next()).command, 'add_friend_confirm_return');
		assertFail(await ask(ca, a, extra), 'add_friend_return',
		    'too many pending requests');

		// A reject frees a place.
		const ct = await loggedIn('ws', targets[1]);
		assertSuccess(await ct.request({ command: 'add_friend_confirm',
		    src: a.id, dst: targets[1].id, status: '0',
		    message: 'reject' }), 'add_friend_confirm_return');
		assertFail(await ca.next(), 'add_friend_confirm_return', 'rejected');
		assertSuccess(await ask(ca, a, extra), 'add_friend_return');
		assertFail(await ask(ca, a, targets[1]), 'add_friend_return',
		    'too many pending requests');
	});
});
